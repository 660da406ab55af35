#!/usr/bin/env bash
# scripts/demo.sh -- install packages, build + install mlsys, start a throwaway cluster with
# mlsys preloaded, run demo/demo.sql in it (statements echoed before their results), and
# stop the cluster again. Run as root:   bash scripts/demo.sh
# Overrides (scripts/lib.sh): MLSYS_SKIP_INSTALL=1, MLSYS_PGPORT.
set -Eeuo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mlsys_setup_packages
mlsys_build_install
mlsys_cluster_start

mlsys_log "demo: psql -f demo/demo.sql"
# --echo-all prints the script itself, comments included, so the output reads as a
# transcript; no pager, stop at the first error.
psql -X --echo-all -v ON_ERROR_STOP=1 -P pager=off -f "$MLSYS_ROOT/demo/demo.sql" </dev/null

mlsys_cluster_stop
mlsys_log "demo finished"
