#!/usr/bin/env bash
# test/bench/logistic.sh -- benchmark of ml_train(..., 'logistic', ...) against a plain
# scan of the table and against exporting the table to Python + scikit-learn.
#   bash test/bench/logistic.sh
#
# Server: see test/bench/lib/server.sh (a reachable server, else a throwaway cluster).
# The work itself (data, timing, table) is test/bench/logistic.py.
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
# The Python process runs as bench_python_free (test/bench/lib/server.sh): without the
# OpenBLAS tuning variables and the one-thread limits scripts/lib.sh exports for the
# server; scikit-learn gets the threads a user would give it, and the script reports
# what threadpoolctl sees.
set -Eeuo pipefail

# shellcheck source=test/bench/lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
bench_python_free logistic
