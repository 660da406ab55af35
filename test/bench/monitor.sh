#!/usr/bin/env bash
# test/bench/monitor.sh -- benchmark of a drift monitor run (ml_run_monitor) against one
# plain scan of the monitored columns and against exporting them to Python + numpy.
#   bash test/bench/monitor.sh
#
# Server: if PGHOST/PGPORT/... (libpq environment) already reach a running server
# (`psql -Xc 'select 1'` works), that server is used and must have mlsys installed;
# otherwise scripts/lib.sh starts a throwaway cluster with mlsys preloaded and stops it
# at exit (MLSYS_PGPORT picks its port). The work itself (data, timing, table) is
# test/bench/monitor.py.
#
# Environment (all optional):
#   BENCH_ROWS=1000000   rows of the training table and of the monitored table
#   BENCH_REPS=3         timed runs per query and mode (after one warm-up run); median
#   BENCH_PY_REPS=3      timed exports and numpy computations; median
#   BENCH_PARALLEL=1     also time every query with 2 parallel workers; 0: serial only
#   BENCH_JIT=default    default | on | off: the jit setting for every query
#                        ("default" leaves the server's setting)
#   BENCH_DIAG=1         also time the diagnostic rows (parts of ml_drift's query, the
#                        same query with the prediction computed once per row, a CSV
#                        and a fetchall export); 0 skips them
#   BENCH_KEEP_DB=0      1 keeps the benchmark database afterwards
#
# The Python process runs without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some
# machines here for old OpenBLAS builds) and without the one-thread limits
# scripts/lib.sh exports for the server, as test/bench/logistic.sh does; the numpy
# work here (searchsorted, bincount) is single-threaded either way.
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

env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
  /usr/bin/python3 "$HERE/monitor.py"
