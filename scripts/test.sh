#!/usr/bin/env bash
# scripts/test.sh -- install packages, build + install mlsys, run every test. As root:
#   bash scripts/test.sh
# Three kinds of tests, each counted:
#   pg_regress  `make installcheck` against a throwaway cluster with mlsys preloaded
#   reference   test/reference/*.py: numbers checked against independent libraries (1 per file)
#   tap         test/t/*.pl: PostgreSQL::Test::Cluster tests with their own clusters (1 per file)
# A PANIC or a crashed process in the cluster's server log counts as a failure too.
# A failure in one kind does not stop the others. The last line is always
# "N passed, N failed"; the exit status is non-zero if anything failed.
#
# Environment overrides (and those of scripts/lib.sh: MLSYS_SKIP_INSTALL, MLSYS_PGPORT,
# MLSYS_TEST_TIMEOUT = limit for the pg_regress run, one reference script, one TAP file):
#   MLSYS_REFERENCE_DIR   directory of reference scripts   (default test/reference)
#   MLSYS_TAP_DIR         directory of TAP tests            (default test/t)
set -Eeuo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MLSYS_ROOT"

REF_DIR=${MLSYS_REFERENCE_DIR:-$MLSYS_ROOT/test/reference}
TAP_DIR=${MLSYS_TAP_DIR:-$MLSYS_ROOT/test/t}
PASSED=0 FAILED=0 SUMMARY=() LOG_SHOWN=0

# record KIND NPASSED NFAILED [NOTE] -- add to the totals and to the summary.
record() {
  PASSED=$((PASSED + $2)) FAILED=$((FAILED + $3))
  SUMMARY+=("$(printf '%-11s %3d passed, %3d failed%s' "$1:" "$2" "$3" "${4:+   ($4)}")")
}

# One status line per test, in the style of pg_regress.
status() { printf '%-40s ... %s\n' "$1 $2" "$3"; }

run_regress() {
  local out=$MLSYS_TMP/installcheck.out rc=0 ok bad
  mlsys_log "pg_regress: make installcheck"
  # TAP_TESTS= : should the Makefile enable PGXS TAP tests, they must not run here as
  # root; run_tap runs them as postgres.
  # shellcheck disable=SC2016  # $1..$3 are expanded by the inner bash
  mlsys_limited bash -o pipefail -c 'make -C "$1" installcheck PG_CONFIG="$2" TAP_TESTS= 2>&1 | tee "$3"' \
    _ "$MLSYS_ROOT" "$PG_CONFIG" "$out" || rc=$?
  # pg_regress 15 prints "test foo ... ok 12 ms", "... FAILED ..." or "... failed (ignored)".
  ok=$(grep -Ec '\.\.\. +(ok|failed \(ignored\))' "$out" || true)
  bad=$(grep -Ec '\.\.\. +FAILED' "$out" || true)
  if [ "$rc" != 0 ]; then
    [ ! -f regression.diffs ] ||
      { echo "----- regression.diffs -----"; cat regression.diffs; echo "----- end of regression.diffs -----"; }
    # make failed without a failed test (could not connect, timed out, ...): still a failure.
    [ "$bad" -gt 0 ] || { record pg_regress "$ok" 1 "make installcheck exited with $rc"; return; }
  fi
  record pg_regress "$ok" "$bad"
}

run_reference() {
  local f name ok=0 bad=0 failed=() t0
  shopt -s nullglob; local files=("$REF_DIR"/*.py); shopt -u nullglob
  if [ ${#files[@]} -eq 0 ]; then record reference 0 0 "none in $REF_DIR"; return; fi
  for f in "${files[@]}"; do
    name=${f##*/} t0=$SECONDS
    mlsys_log "reference: $name"
    # /usr/bin/python3: Debian's python3-sklearn etc. are installed for it, and another
    # python3 (pyenv, venv) may come first on PATH. The PG* variables lead to the cluster.
    if mlsys_limited /usr/bin/python3 "$f"; then
      ok=$((ok + 1)); status reference "$name" "ok ($((SECONDS - t0)) s)"
    else
      bad=$((bad + 1)) failed+=("$name"); status reference "$name" "FAILED ($((SECONDS - t0)) s)"
    fi
  done
  record reference "$ok" "$bad" "${failed[*]:+failed: ${failed[*]}}"
}

# The server must not have crashed, even where every test passed (the crash of a
# background worker is invisible to clients).
check_server_log() {
  if grep -Eq 'PANIC|terminated by signal' "$MLSYS_SERVER_LOG"; then
    echo "----- server log: PANIC or a process terminated by signal -----"
    cat "$MLSYS_SERVER_LOG"; echo "----- end of server log -----"; LOG_SHOWN=1
    record "server log" 0 1 "PANIC or crash"
  fi
}

run_tap() {
  local f name ok=0 bad=0 failed=() t0 log dir
  shopt -s nullglob; local files=("$TAP_DIR"/*.pl); shopt -u nullglob
  if [ ${#files[@]} -eq 0 ]; then record tap 0 0 "none in $TAP_DIR"; return; fi
  local pgxs_test  # PostgreSQL::Test::Cluster and pg_regress, from postgresql-server-dev-15
  pgxs_test=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test
  # PostgreSQL refuses to run as root, so prove runs as postgres, in a copy of the tests
  # that postgres can read and write (the checkout may not be readable by postgres).
  dir=$(mktemp -d /tmp/mlsys-tap.XXXXXX); MLSYS_CLEANUP+=("$dir")  # removed at exit
  cp -r "$TAP_DIR" "$dir/t"
  chown -R postgres:postgres "$dir"; chmod 755 "$dir"
  for f in "${files[@]}"; do
    name=${f##*/} t0=$SECONDS
    mlsys_log "tap: $name"
    # env -u: the tests' clusters choose their own socket and port, not ours. TMPDIR: their
    # socket dirs go into $dir as well (Cluster.pm keeps them when a test fails).
    if mlsys_limited runuser -u postgres -- env -C "$dir" -u PGHOST -u PGPORT -u PGDATA \
        -u PGDATABASE PGUSER=postgres PATH="$PGBIN:/usr/local/bin:/usr/bin:/bin" \
        PERL5LIB="$pgxs_test/perl" PG_REGRESS="$pgxs_test/regress/pg_regress" \
        TESTDIR="$dir" TMPDIR="$dir" prove -v "t/$name"; then
      ok=$((ok + 1)); status tap "$name" "ok ($((SECONDS - t0)) s)"
    else
      bad=$((bad + 1)) failed+=("$name"); status tap "$name" "FAILED ($((SECONDS - t0)) s)"
      # Cluster.pm logs every command of the test, with its output, here.
      log=$dir/tmp_check/log/regress_log_${name%.pl}
      [ ! -f "$log" ] || { echo "----- $log (last 100 lines) -----"; tail -n 100 "$log"; echo "----- end -----"; }
      # A killed test leaves its servers running (Cluster.pm stops them in an END block).
      mlsys_stop_servers_under "$dir"
    fi
  done
  record tap "$ok" "$bad" "${failed[*]:+failed: ${failed[*]}}"
}

mlsys_setup_packages
if ! mlsys_build_install; then
  record build 0 1 "build or install failed, no tests run"
else
  if mlsys_cluster_start; then
    run_regress
    run_reference
    check_server_log
    mlsys_cluster_stop $((FAILED > 0 && !LOG_SHOWN))   # non-zero: print the server log tail
  else
    record cluster 0 1 "cluster did not start, pg_regress and reference not run"
    mlsys_cluster_stop 1
  fi
  run_tap
fi

# A run that found no test at all is broken, not green.
[ $((PASSED + FAILED)) -gt 0 ] || record "no tests" 0 1 "nothing was run"

mlsys_log "summary"
printf '%s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
exit $((FAILED > 0))
