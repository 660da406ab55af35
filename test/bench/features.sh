#!/usr/bin/env bash
# test/bench/features.sh -- benchmark of feature tables: point-in-time training sets
# (ml_training_set) against the hand-written LATERAL query of Feast's PostgreSQL store
# and a hand-written set-based query, and online serving (ml_predict by entity) against
# a hand-written indexed SELECT of the same features.
#   bash test/bench/features.sh
#
# Server: see test/bench/lib/server.sh (a reachable server, else a throwaway cluster).
# The work itself (data, timing, pgbench runs, table) is test/bench/features.py. The
# data are large (3 x 5M feature rows: ~1.3 GB of tables and indexes; the set-based
# query hashes each feature table, ~380 MB): give the server shared_buffers = 2GB and
# work_mem = 256MB or so, or the times measure the disk, not the plans. A full run
# takes ~6 minutes on 2 cores (data ~1 minute, training sets ~4.5, serving ~1).
#
# Measured:
#   1. BENCH_LABELS label rows (entity, label_time) x 3 feature tables (ml_create_feature_table)
#      of BENCH_FEATURE_ROWS rows each over BENCH_ENTITIES entities (many versions per entity):
#      the time of the SQL of ml_training_set() against the Feast-style hand-written
#      LEFT JOIN LATERAL (... ORDER BY event_time DESC LIMIT 1) and a hand-written set-based
#      query (one sort of labels and feature rows, running max of the event time, equi-joins
#      back), each as SELECT count(*), sum(hashtext(row::text)) over the rows; the three must
#      agree (an error otherwise). Target: ml_training_set <= 1.05x the LATERAL query.
#   2. pgbench TPS of SELECT ml_predict(model, :id) (serving by entity) against the
#      hand-written indexed SELECT of the model's features from the 3 feature tables, and
#      against ml_predict(model, <that row>). Target: ratio >= 0.5.
#
# Environment (all optional):
#   BENCH_LABELS=1000000        label rows
#   BENCH_FEATURE_ROWS=5000000  rows of each of the 3 feature tables
#   BENCH_ENTITIES=100000       entities (feature rows / entities = versions per entity)
#   BENCH_REPS=3                timed runs per training-set query (after one warm-up run,
#                               EXPLAIN ANALYZE); median
#   BENCH_DIAG=1                also time the diagnostic queries (LATERAL over the labels
#                               ordered by entity; the labels alone); 0 skips them
#   BENCH_JIT=default           default | on | off: the jit setting of the training-set queries
#   BENCH_SECONDS=10            pgbench seconds per serving query, as rounds of BENCH_SLICE
#   BENCH_SLICE=1               pgbench -T of one run
#   BENCH_CLIENTS=2             pgbench -c
#   BENCH_THREADS=2             pgbench -j
#   BENCH_TRAIN_LABELS=20000    label rows the serving model is trained on
#   BENCH_KEEP_DB=0             1 keeps the benchmark database afterwards
set -Eeuo pipefail

# shellcheck source=test/bench/lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
bench_python features
