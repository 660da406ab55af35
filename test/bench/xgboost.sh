#!/usr/bin/env bash
# test/bench/xgboost.sh -- benchmark of tree models (XGBoost through mlsys) against
# python3-xgboost on the same data: in-database training (ml_xgboost_fit, ml_train)
# vs exporting the table to Python + xgb.train, and batch ml_predict vs xgboost's predict.
#   bash test/bench/xgboost.sh
#
# Server: see test/bench/lib/server.sh (a reachable server, else a throwaway cluster).
# The work itself (data, timing, table) is test/bench/xgboost.py.
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
# The Python process runs as bench_python_free (test/bench/lib/server.sh): xgboost's
# threads are set explicitly with nthread (1, as mlsys.xgboost_threads' default, and 2
# for information).
set -Eeuo pipefail

# shellcheck source=test/bench/lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
bench_python_free xgboost
