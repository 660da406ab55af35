#!/usr/bin/env bash
# test/bench/logistic.sh -- benchmark of ml_train(..., 'logistic', ...) against a plain
# scan of the table and against exporting the table to Python + scikit-learn.
#   bash test/bench/logistic.sh
#
# Server: if PGHOST/PGPORT/... (libpq environment) already reach a running server
# (`psql -Xc 'select 1'` works), that server is used and must have mlsys installed;
# otherwise scripts/lib.sh starts a throwaway cluster with mlsys preloaded and stops it
# at exit (MLSYS_PGPORT picks its port). The work itself (data, timing, table) is
# test/bench/logistic.py.
#
# Environment (all optional):
#   BENCH_ROWS=1000000   rows of the table
#   BENCH_REPS=5         timed runs per query and mode (after one warm-up run); median
#   BENCH_TRAIN_REPS=3   timed ml_train runs per mode (after one untimed checked run
#                        and one warm-up run); median
#   BENCH_PY_REPS=3      timed exports and scikit-learn fits; median
#   BENCH_JIT=default    default | on | off: the jit setting for every query
#                        ("default" leaves the server's setting)
#   BENCH_DIAG=1         also time the diagnostic rows (parts of one pass, a
#                        one-thread scikit-learn fit, a plain cursor fetch); 0 skips them
#   BENCH_KEEP_DB=0      1 keeps the benchmark database afterwards
#
# The Python process runs without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some
# machines here for old OpenBLAS builds; they slow a current numpy) and without the
# one-thread limits scripts/lib.sh exports for the server (OPENBLAS_NUM_THREADS,
# OMP_NUM_THREADS): scikit-learn gets the threads a user would give it, and the
# script reports what threadpoolctl sees. The server keeps its environment.
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
  /usr/bin/python3 "$HERE/logistic.py"
