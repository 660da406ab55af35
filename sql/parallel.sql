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

RESET ALL;
DROP TABLE wide;
DELETE FROM ml.models;
