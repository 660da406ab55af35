#!/usr/bin/env bash
# test/bench/xgboost.sh -- benchmark of tree models (XGBoost through mlsys) against
# python3-xgboost on the same data: in-database training (ml_xgboost_fit, ml_train)
# vs exporting the table to Python + xgb.train, and batch ml_predict vs xgboost's predict.
#   bash test/bench/xgboost.sh
#
# Server: if PGHOST/PGPORT/... (libpq environment) already reach a running server
# (`psql -Xc 'select 1'` works), that server is used and must have mlsys installed;
# otherwise scripts/lib.sh starts a throwaway cluster with mlsys preloaded and stops it
# at exit (MLSYS_PGPORT picks its port). The work itself (data, timing, table) is
# test/bench/xgboost.py.
#
# Environment (all optional):
#   BENCH_ROWS=1000000     rows of the table
#   BENCH_REPS=3           timed runs of each query and each Python step (export, fit,
#                          predict), after one warm-up run (not the exports); median.
#                          The SQL queries and the Python steps take turns, round-robin.
#   BENCH_PREDICT_BUDGET=60  seconds: the batch-prediction group of a mode (serial,
#                          parallel; SQL queries and Python predicts) runs round after
#                          round, up to BENCH_REPS rounds, but no further round starts
#                          that would end beyond this budget (at least one round; the
#                          table says how many ran). The ml_predict queries have no
#                          warm-up run: the training queries have read the table into
#                          shared_buffers already.
#   BENCH_JIT=default      default | on | off: the jit setting for every query
#                          ("default" leaves the server's setting)
#   BENCH_DIAG=1           also time the diagnostic rows (fits with 1 round, fits with
#                          2 threads, ml_predict with a model value, a cursor.fetchall
#                          export, one-row predict calls in Python); 0 skips them
#   BENCH_KEEP_DB=0        1 keeps the benchmark database afterwards
#
# The Python process runs without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE and without the
# one-thread limits scripts/lib.sh exports for the server (OPENBLAS_NUM_THREADS,
# OMP_NUM_THREADS): xgboost's threads are set explicitly with nthread (1, as
# mlsys.xgboost_threads' default, and 2 for information). The server keeps its
# environment.
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
  /usr/bin/python3 "$HERE/xgboost.py"
