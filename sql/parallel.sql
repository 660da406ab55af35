-- Parallel query: training and prediction split across workers give the
-- same results as a serial run.

CREATE TABLE wide AS
  SELECT i, i % 4 AS g, sin(i) AS a, cos(i * 3) AS b, (i % 17) / 17.0 AS c,
         2 + 0.5 * sin(i) - 1.25 * cos(i * 3) + 3 * ((i % 17) / 17.0) + 0.01 * sin(i * 11) AS y
    FROM generate_series(1, 60000) i;
ANALYZE wide;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

EXPLAIN (COSTS OFF) SELECT ml_linreg_fit(y, ARRAY[a, b, c]) FROM wide;
CREATE TEMP TABLE fits AS
  SELECT 'parallel' AS mode, ml_linreg_fit(y, ARRAY[a, b, c]) AS m FROM wide;
SET max_parallel_workers_per_gather = 0;
INSERT INTO fits SELECT 'serial', ml_linreg_fit(y, ARRAY[a, b, c]) FROM wide;

-- Same coefficients to 1e-10 relative, and the expected values.
SELECT bool_and(abs((p.c->>i)::float8 - (s.c->>i)::float8) <= 1e-10 * abs((s.c->>i)::float8)) AS equal
  FROM (SELECT ml_model_info(m)->'coefficients' AS c FROM fits WHERE mode = 'parallel') p,
       (SELECT ml_model_info(m)->'coefficients' AS c FROM fits WHERE mode = 'serial') s,
       generate_series(0, 2) i;
SELECT mode, ml_model_info(m)->'n_rows' AS n_rows,
       round((ml_model_info(m)->'coefficients'->>0)::numeric, 2) AS a,
       round((ml_model_info(m)->'coefficients'->>1)::numeric, 2) AS b,
       round((ml_model_info(m)->'coefficients'->>2)::numeric, 2) AS c
  FROM fits ORDER BY mode;

-- GROUP BY in parallel: partial states per group, combined.
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT g, ml_linreg_fit(y, ARRAY[a, b, c]) FROM wide GROUP BY g;
CREATE TEMP TABLE group_fits AS
  SELECT g, ml_model_info(ml_linreg_fit(y, ARRAY[a, b, c]))->'coefficients' AS c
    FROM wide GROUP BY g;
SET max_parallel_workers_per_gather = 0;
SELECT g, bool_and(abs((p.c->>k)::float8 - (s.c->>k)::float8) <= 1e-10 * abs((s.c->>k)::float8)) AS equal
  FROM group_fits p
  JOIN (SELECT g, ml_model_info(ml_linreg_fit(y, ARRAY[a, b, c]))->'coefficients' AS c
          FROM wide GROUP BY g) s USING (g),
       generate_series(0, 2) k
 GROUP BY g ORDER BY g;

-- Prediction by name runs in the workers too.
SELECT ml_register_model('wide', m) FROM fits WHERE mode = 'serial';
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT sum(ml_predict('wide', ARRAY[a, b, c])) FROM wide;
CREATE TEMP TABLE sums AS SELECT 'parallel' AS mode, sum(ml_predict('wide', ARRAY[a, b, c])) AS s FROM wide;
SET max_parallel_workers_per_gather = 0;
INSERT INTO sums SELECT 'serial', sum(ml_predict('wide', ARRAY[a, b, c])) FROM wide;
SELECT abs(max(s) - min(s)) <= 1e-9 * max(abs(s)) AS equal FROM sums;

-- Workers that see only NULL targets contribute nothing, and do not crash.
CREATE TABLE null_targets AS SELECT NULL::float8 AS y, sin(i) AS x FROM generate_series(1, 60000) i;
ANALYZE null_targets;
SET max_parallel_workers_per_gather = 2;
SELECT ml_linreg_fit(y, ARRAY[x]) IS NULL AS no_model FROM null_targets;
SELECT ml_logreg_pass(NULL::text, ARRAY[x], ARRAY[0, 0]::float8[], ARRAY['a', 'b']) IS NULL AS no_pass
  FROM null_targets;
DROP TABLE null_targets;

-- ml_train's column statistics (ml.column_stats) equal count, avg,
-- stddev_samp, min and max: to the bit serially, to 1e-12 (relative above 1) in
-- parallel, with the leader reading no rows (every state serialised).
-- NULLs are left out; a NaN shows in max, in min only without numbers.
CREATE TEMP VIEW stat_cols AS
  SELECT a, CASE WHEN i % 5 = 0 THEN NULL ELSE b END AS b,
         CASE WHEN i = 30000 THEN 'NaN'::float8 ELSE c END AS c,
         CASE WHEN i % 2 = 0 THEN 'NaN'::float8 END AS d, NULL::float8 AS e
    FROM wide;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE pg_stats_of AS
  SELECT count(*)::float8 AS n, ARRAY[count(a), avg(a), stddev_samp(a), min(a), max(a),
                count(b), avg(b), stddev_samp(b), min(b), max(b),
                count(c), avg(c), stddev_samp(c), min(c), max(c),
                count(d), avg(d), stddev_samp(d), min(d), max(d),
                count(e), avg(e), stddev_samp(e), min(e), max(e)]::float8[] AS s
    FROM stat_cols;
SELECT s.n || s.s IS NOT DISTINCT FROM ml.column_stats(a, b, c, d, e) AS serial_identical
  FROM stat_cols, pg_stats_of s GROUP BY s.n, s.s;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT ml.column_stats(a, b, c, d, e) FROM stat_cols;
SELECT bool_and(CASE WHEN x.p IS NULL OR x.p = 'NaN' OR x.q = 'NaN' THEN x.p IS NOT DISTINCT FROM x.q
                     ELSE abs(x.p - x.q) <= 1e-12 * greatest(abs(x.q), 1) END) AS parallel_equal,
       (array_agg(x.p ORDER BY x.k))[17:21] AS nan_column
  FROM (SELECT ml.column_stats(a, b, c, d, e) AS m FROM stat_cols) c, pg_stats_of s,
       unnest(c.m, s.n || s.s) WITH ORDINALITY AS x(p, q, k);
-- Its histograms (ml.bin_counts, values as arguments) equal ml_bin_counts
-- over an array of the same values (NULLs, NaN and values out of range
-- left out), in parallel as serially.
EXPLAIN (COSTS OFF) SELECT ml.bin_counts('{-1,0,1,0,0.3,0.6,1,-1,1}', '{2,3,1}', a, c, b) FROM stat_cols;
CREATE TEMP TABLE histograms AS
  SELECT 'parallel' AS mode, ml.bin_counts('{-1,0,1,0,0.3,0.6,1,-1,1}', '{2,3,1}', a, c, b) AS h FROM stat_cols;
SET max_parallel_workers_per_gather = 0;
INSERT INTO histograms
  SELECT 'serial', ml.bin_counts('{-1,0,1,0,0.3,0.6,1,-1,1}', '{2,3,1}', a, c, b) FROM stat_cols
  UNION ALL
  SELECT 'array', ml_bin_counts(ARRAY[a, c, b], '{-1,0,1,0,0.3,0.6,1,-1,1}', '{2,3,1}') FROM stat_cols;
SELECT count(DISTINCT h) = 1 AS identical, min(h) AS counts FROM histograms;
RESET parallel_leader_participation;
SELECT ml.column_stats(a, b::text) FROM stat_cols;
SELECT ml.bin_counts('{0,1}', '{1}', b::text) FROM stat_cols;
SELECT ml.bin_counts('{0,1}', '{1}', a, b) FROM stat_cols;
DROP VIEW stat_cols;

RESET ALL;
DROP TABLE wide;
DELETE FROM ml.models;
