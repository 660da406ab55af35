#!/usr/bin/env bash
# test/bench/monitor.sh -- benchmark of a drift monitor run (ml_run_monitor) against one
# plain scan of the monitored columns and against exporting them to Python + numpy.
#   bash test/bench/monitor.sh
#
# Server: see test/bench/lib/server.sh (a reachable server, else a throwaway cluster).
# The work itself (data, timing, table) is test/bench/monitor.py.
#
# Environment (all optional):
#   BENCH_ROWS=1000000   rows of the training table and of the monitored table
#   BENCH_REPS=3         timed runs per query and mode (after one warm-up run); median
#   BENCH_PY_REPS=3      timed exports and numpy computations; median
#   BENCH_PARALLEL=1     also time every query with 2 parallel workers; 0: serial only
#   BENCH_JIT=default    default | on | off: the jit setting for every query
#                        ("default" leaves the server's setting)
#   BENCH_DIAG=1         also time the diagnostic rows (ml_drift's ml.drift_scan aggregate
#                        alone, ml_bin_counts over the same bins, a CSV and a fetchall
#                        export); 0 skips them
#   BENCH_KEEP_DB=0      1 keeps the benchmark database afterwards
#
# The Python process runs as bench_python_free (test/bench/lib/server.sh), as
# test/bench/logistic.sh does; the numpy work here (searchsorted, bincount) is
# single-threaded either way.
set -Eeuo pipefail

# shellcheck source=test/bench/lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
bench_python_free monitor
