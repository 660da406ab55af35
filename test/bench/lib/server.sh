# shellcheck shell=bash
# test/bench/lib/server.sh -- the server of the benchmarks test/bench/*.sh. Source it,
# don't run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
#   bench_python NAME        # runs test/bench/NAME.py
#
# If PGHOST/PGPORT/... (libpq environment) already reach a running server
# (`psql -Xc 'select 1'` works), that server is used and must have mlsys installed
# (each benchmark creates a database of its own and drops it); otherwise
# scripts/lib.sh starts a throwaway cluster with mlsys preloaded and stops it at exit
# (MLSYS_PGPORT picks its port; MLSYS_SKIP_INSTALL=1 as there).
#
# A benchmark, not a test: PASS/MISS against the targets is printed, the exit status
# is 0 either way unless something errored (a failed sanity check is an error).
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_ROOT=$(cd "$BENCH_DIR/../.." && pwd)
export PATH=/usr/lib/postgresql/15/bin:$PATH

if psql -XAtq -c 'select 1' >/dev/null 2>&1; then
  echo "server: using the running server (PGHOST=${PGHOST:-default} PGPORT=${PGPORT:-default})"
else
  echo "server: none reachable, starting a throwaway cluster with scripts/lib.sh"
  # shellcheck source=scripts/lib.sh
  source "$BENCH_ROOT/scripts/lib.sh"   # installs an EXIT trap that stops the cluster
  mlsys_cluster_start
fi

# bench_python NAME: test/bench/NAME.py with Debian's python3 (psycopg2, numpy, ...).
bench_python() {
  /usr/bin/python3 "$BENCH_DIR/$1.py"
}

# bench_python_free NAME: the same without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on
# some machines here for old OpenBLAS builds; they slow a current numpy) and without
# the one-thread limits scripts/lib.sh exports for the server (OPENBLAS_NUM_THREADS,
# OMP_NUM_THREADS): the Python side gets the threads a user would give it. The server
# keeps its environment.
bench_python_free() {
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
    /usr/bin/python3 "$BENCH_DIR/$1.py"
}
