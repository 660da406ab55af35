#!/usr/bin/env bash
# test/bench/linreg.sh -- benchmark of ml_linreg_fit and ml_predict against plain SQL.
#   bash test/bench/linreg.sh
#
# Server: see test/bench/lib/server.sh (a reachable server, else a throwaway cluster).
# The work itself (data, timing, table) is test/bench/linreg.py.
#
# Environment (all optional):
#   BENCH_ROWS=1000000   rows of the table
#   BENCH_REPS=5         timed runs per query and mode (after one warm-up run); median
#   BENCH_JIT=default    default | on | off: the jit setting for every query
#                        ("default" leaves the server's setting)
#   BENCH_DIAG=1         also time the diagnostic rows (array construction alone,
#                        ml_predict with a model value); 0 skips them
#   BENCH_KEEP_DB=0      1 keeps the benchmark database afterwards
set -Eeuo pipefail

# shellcheck source=test/bench/lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
bench_python linreg
