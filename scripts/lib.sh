# shellcheck shell=bash
# scripts/lib.sh -- helpers shared by scripts/demo.sh and scripts/test.sh.
# Source it, don't run it. Debian 12 + PostgreSQL 15, run as root, non-interactive.
#
# Environment overrides:
#   MLSYS_SKIP_INSTALL=1   skip the apt package step (quick reruns)
#   MLSYS_PGPORT=N         port of the throwaway cluster (default 54329; unix socket only,
#                          in a private dir, so it cannot clash with another server)
#   MLSYS_TEST_TIMEOUT=S   time limit of one mlsys_limited command (default 1800 s)
#
# Sourcing installs an EXIT trap: whatever happens (error, Ctrl-C, TERM), the cluster is
# stopped and every temp dir is removed. The functions are written to work inside
# `if ! f; then` too, where bash ignores `set -e`: each step that can fail has `|| return 1`.

MLSYS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PGBIN/pg_config
MLSYS_PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR build-essential
  libopenblas-dev liblapacke-dev libxgboost-dev libipc-run-perl
  python3-numpy python3-scipy python3-sklearn python3-psycopg2 python3-xgboost python3-croniter"

export PATH=$PGBIN:$PATH:/usr/sbin  # PostgreSQL 15 first (psql, pg_config); runuser is in sbin
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8 LANG=C.UTF-8  # always present on Debian; initdb fails on a missing locale
# One BLAS/OpenMP thread per process: the postmaster must never start OpenMP threads
# (a fork after OpenMP hangs), and results stay reproducible. Inherited by all backends.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

MLSYS_TMP=       # the throwaway cluster's dir: data/, socket, server.log
MLSYS_CLEANUP=() # more temp dirs to remove at exit (servers found in them are stopped)
MLSYS_CHILD=     # pid of the command mlsys_limited is running

mlsys_log() { printf '\n=== [%(%T)T] %s\n' -1 "$*"; }

# Run a command as the postgres OS user (PostgreSQL refuses to run as root). cd / first:
# postgres may not be allowed to enter the checkout; no stdin (CI has none).
mlsys_as_pg() { (cd / && runuser -u postgres -- "$@" </dev/null); }

# Install whichever of MLSYS_PACKAGES is missing; apt is only touched when something is.
mlsys_setup_packages() {
  if [ "${MLSYS_SKIP_INSTALL:-0}" = 1 ]; then mlsys_log "packages: skipped (MLSYS_SKIP_INSTALL=1)"; return 0; fi
  [ "$(id -u)" = 0 ] || { echo "run as root (apt-get, make install, runuser)" >&2; return 1; }
  local p missing=()
  for p in $MLSYS_PACKAGES; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then mlsys_log "packages: all installed"; return 0; fi
  mlsys_log "packages: installing ${missing[*]}"
  # Stop postgresql-15's postinst from creating and starting a 'main' cluster we don't use.
  mkdir -p /etc/postgresql-common/createcluster.d || return 1
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/mlsys-no-main.conf || return 1
  apt-get update -qq </dev/null || return 1
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null || return 1
}

# Build with PGXS (the Makefile adds -Wall -Wextra -Werror) and install into PostgreSQL 15.
mlsys_build_install() {
  mlsys_log "build"
  make -C "$MLSYS_ROOT" PG_CONFIG="$PG_CONFIG" -j"$(nproc)" </dev/null || return 1
  mlsys_log "install into $("$PG_CONFIG" --pkglibdir)"
  make -C "$MLSYS_ROOT" PG_CONFIG="$PG_CONFIG" install </dev/null >/dev/null || return 1
}

# Start a throwaway cluster (mlsys preloaded) in a private temp dir, reachable only via a
# unix socket in that dir. Exports the libpq PG* variables, so that clients running as
# root (psql, pg_regress, python) reach it. MLSYS_SERVER_LOG is its log.
mlsys_cluster_start() {
  MLSYS_TMP=$(mktemp -d /tmp/mlsys.XXXXXX) || return 1
  chown postgres:postgres "$MLSYS_TMP" && chmod 755 "$MLSYS_TMP" || return 1
  export PGDATA=$MLSYS_TMP/data PGHOST=$MLSYS_TMP PGPORT=${MLSYS_PGPORT:-54329}
  export PGUSER=postgres PGDATABASE=postgres
  MLSYS_SERVER_LOG=$MLSYS_TMP/server.log
  mlsys_log "cluster: initdb + start in $MLSYS_TMP (port $PGPORT)"
  mlsys_as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust --no-sync \
    -E UTF8 --locale=C.UTF-8 >/dev/null || return 1
  cat >>"$PGDATA/postgresql.conf" <<CONF || return 1
# added by scripts/lib.sh
listen_addresses = ''
unix_socket_directories = '$MLSYS_TMP'
port = $PGPORT
shared_preload_libraries = 'mlsys'
fsync = off
max_worker_processes = 16
max_parallel_workers_per_gather = 2
CONF
  # If this fails (e.g. mlsys fails in _PG_init), the caller's exit prints the log tail.
  mlsys_as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$MLSYS_SERVER_LOG" -w -t 60 start >/dev/null || return 1
  psql -XAtq -c "select 'cluster: ' || version()" || return 1
}

# Stop every PostgreSQL server whose data directory lies under dir $1: fast, else immediate.
mlsys_stop_servers_under() {
  local pidfile
  find "$1" -name postmaster.pid 2>/dev/null | while read -r pidfile; do
    mlsys_as_pg "$PGBIN/pg_ctl" -D "${pidfile%/*}" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      mlsys_as_pg "$PGBIN/pg_ctl" -D "${pidfile%/*}" -m immediate -w -t 30 stop >/dev/null 2>&1
  done
  return 0
}

# Stop the cluster and remove its dir; a no-op if none is running. A non-zero argument
# (an exit status) prints the tail of the server log first.
mlsys_cluster_stop() {
  [ -n "$MLSYS_TMP" ] || return 0
  mlsys_stop_servers_under "$MLSYS_TMP"
  if [ "${1:-0}" != 0 ] && [ -s "$MLSYS_SERVER_LOG" ]; then
    echo "----- server log (last 100 lines) -----"; tail -n 100 "$MLSYS_SERVER_LOG"
    echo "----- end of server log -----"
  fi
  rm -rf "$MLSYS_TMP"; MLSYS_TMP=
}

# Run a command (no stdin) with a time limit of MLSYS_TEST_TIMEOUT seconds.
# It runs in the background and we `wait`, so that a Ctrl-C or TERM of this script is
# handled at once: timeout puts the command in its own process group, which a terminal's
# Ctrl-C does not reach, so the EXIT trap passes the signal on.
mlsys_limited() {
  local rc=0
  timeout -k 10 "${MLSYS_TEST_TIMEOUT:-1800}" "$@" </dev/null & MLSYS_CHILD=$!
  wait "$MLSYS_CHILD" || rc=$?
  MLSYS_CHILD=
  return "$rc"
}

mlsys_on_exit() {
  local rc=$? dir
  set +e
  # timeout passes the TERM on to its process group (and sends KILL 10 s later).
  [ -z "$MLSYS_CHILD" ] || { kill -TERM "$MLSYS_CHILD"; wait "$MLSYS_CHILD"; } 2>/dev/null
  mlsys_cluster_stop "$rc"
  for dir in "${MLSYS_CLEANUP[@]}"; do mlsys_stop_servers_under "$dir"; rm -rf "$dir"; done
  exit "$rc"
}
trap mlsys_on_exit EXIT
trap 'exit 130' INT    # signals become an exit, so that the EXIT trap runs
trap 'exit 143' TERM
