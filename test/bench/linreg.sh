#!/usr/bin/env bash
# test/bench/linreg.sh -- benchmark of ml_linreg_fit and ml_predict against plain SQL.
#   bash test/bench/linreg.sh
#
# Server: if PGHOST/PGPORT/... (libpq environment) already reach a running server
# (`psql -Xc 'select 1'` works), that server is used and must have mlsys installed;
# otherwise scripts/lib.sh starts a throwaway cluster with mlsys preloaded and stops it
# at exit. The work itself (data, timing, table) is test/bench/linreg.py.
#
# Environment (all optional):
#   BENCH_ROWS=1000000   rows of the table
#   BENCH_REPS=5         timed runs per query and mode (after one warm-up run); median
#   BENCH_JIT=default    default | on | off: the jit setting for every query
#                        ("default" leaves the server's setting)
#   BENCH_DIAG=1         also time the diagnostic rows (array construction alone,
#                        ml_predict with a model value); 0 skips them
#   BENCH_KEEP_DB=0      1 keeps the benchmark database afterwards
#
# A benchmark, not a test: PASS/MISS against the targets is printed, the exit status is
# 0 either way unless something errored (a failed sanity check is an error).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export PATH=/usr/lib/postgresql/15/bin:$PATH

if psql -XAtq -c 'select 1' >/dev/null 2>&1; then
  echo "server: using the running server (PGHOST=${PGHOST:-default} PGPORT=${PGPORT:-default})"
else
  echo "server: none reachable, starting a throwaway cluster with scripts/lib.sh"
  # shellcheck source=scripts/lib.sh
  source "$ROOT/scripts/lib.sh"   # installs an EXIT trap that stops the cluster
  mlsys_cluster_start
fi

/usr/bin/python3 "$HERE/linreg.py"
