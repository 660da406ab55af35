-- Drift statistics: closed-form values on hand-made data, the extra cells
-- (out of range, unseen, NULL), NULL and empty input, bad bins, GROUP BY,
-- parallel aggregation, and the model helpers ml_drift_baseline / ml_drift.

---------------------------------------------------------------- identical distributions

-- 300 values spread evenly over 3 bins of 100 each, against a baseline of
-- 10 per bin: every statistic says "no drift".
CREATE TABLE even AS SELECT i, (i % 300) / 100.0 AS x FROM generate_series(0, 299) i;
SELECT ml_psi(x, '{0,1,2,3}', '{10,10,10}') AS psi,
       ml_js_divergence(x, '{0,1,2,3}', '{10,10,10}') AS js,
       ml_ks(x, '{0,1,2,3}', '{10,10,10}') AS ks,
       ml_chi_square(x, '{0,1,2,3}', '{10,10,10}') AS chi_square
  FROM even;

-- Bins are [e_i, e_i+1), the last one closed: 0 and 0.5 fall in the first
-- bin, 1, 1.5 and 2 (the last edge) in the second; so PSI is exactly 0.
SELECT ml_psi(x, '{0,1,2}', '{2,3}') AS psi, ml_ks(x, '{0,1,2}', '{2,3}') AS ks
  FROM unnest('{0,0.5,1,1.5,2}'::float8[]) x;

---------------------------------------------------------------- hand-computed values

-- PSI: p = (3/4, 1/4) against q = (1/2, 1/2):
-- (1/4) ln(3/2) + (-1/4) ln(1/2) = ln(3) / 4.
SELECT abs(ml_psi(x, '{0,1,2}', '{50,50}') - ln(3) / 4) < 1e-15 AS psi_ok
  FROM unnest('{0.1,0.2,0.3,1.5}'::float8[]) x;

-- Out of range: 2.5 is above the last edge, -1 below the first. Cells
-- [below, bin 1, bin 2, above, null] are p = (1/4, 1/4, 1/4, 1/4, 0) and
-- q = (0, 1/2, 1/2, 0, 0); empty proportions are floored at 1e-4.
SELECT abs(ml_psi(x, '{0,1,2}', '{50,50}')
           - (2 * (0.25 - 1e-4) * ln(0.25 / 1e-4) + 2 * (0.25 - 0.5) * ln(0.25 / 0.5))) < 1e-14
       AS psi_out_of_range_ok
  FROM unnest('{-1,0.5,1.5,2.5}'::float8[]) x;

-- -Infinity counts as below, +Infinity and NaN as above the edges (NaN sorts
-- above every number in PostgreSQL): KS sees 1/4 below and 1/2 above.
SELECT ml_ks(x, '{0,1,2}', '{50,50}') AS ks
  FROM unnest('{-Infinity,0.5,Infinity,NaN}'::float8[]) x;

-- NULL values are a cell of their own (baseline count 0, or the fourth
-- argument): p = (1/2, 1/4, 1/4) over [bin 1, bin 2, null]
-- against q = (1/2, 1/2, 0), or q = (1/4, 1/4, 1/2) with baseline_n_null 100.
SELECT abs(ml_psi(x, '{0,1,2}', '{50,50}')
           - ((0.25 - 0.5) * ln(0.25 / 0.5) + (0.25 - 1e-4) * ln(0.25 / 1e-4))) < 1e-15 AS psi_null_ok,
       abs(ml_psi(x, '{0,1,2}', '{50,50}', 100)
           - ((0.5 - 0.25) * ln(0.5 / 0.25) + (0.25 - 0.5) * ln(0.25 / 0.5))) < 1e-15 AS psi_n_null_ok,
       round(ml_ks(x, '{0,1,2}', '{50,50}')::numeric, 6) AS ks_ignores_nulls
  FROM unnest('{0.5,0.5,1.5,NULL}'::float8[]) x;

-- Jensen-Shannon in bits: disjoint distributions give 1; p = (1/2, 1/2)
-- against q = (1, 0), m = (3/4, 1/4): (1/2 log2(2/3) + 1/2 log2(2)
-- + log2(4/3)) / 2.
SELECT ml_js_divergence(x, '{0,1,2}', '{0,7}') AS js_disjoint FROM unnest('{0.5,0.7}'::float8[]) x;
SELECT abs(ml_js_divergence(x, '{0,1,2}', '{7,0}')
           - (0.5 * log(2, 2.0 / 3) + 0.5 * log(2, 2) + log(2, 4.0 / 3)) / 2) < 1e-15 AS js_ok
  FROM unnest('{0.5,1.5}'::float8[]) x;

-- KS: everything in the first of three equal bins: the CDFs at the edges
-- are (1, 1, 1) and (1/3, 2/3, 1), so the distance is 2/3.
SELECT abs(ml_ks(x, '{0,1,2,3}', '{5,5,5}') - 2.0 / 3) < 1e-15 AS ks_ok
  FROM unnest('{0.1,0.2,0.9}'::float8[]) x;

-- Chi-square test of homogeneity on the 2 x 3 table (10, 20, 30; 30, 20, 10):
-- per column (b n - c B)^2 / (B n C) with B = n = 60: 2 * 1200^2 /
-- (60 * 60 * 40) = 20, plus 0; dof 2, and for 2 degrees of freedom the
-- p-value is exp(-statistic / 2).
CREATE TABLE cats AS
  SELECT (ARRAY['a', 'b', 'c'])[g] AS v
    FROM generate_series(1, 3) g, generate_series(1, 40 - 10 * g) r;
SELECT c[1] AS statistic, abs(c[2] - exp(-c[1] / 2)) < 1e-15 AS p_value_ok, c[3] AS dof
  FROM (SELECT ml_chi_square(v, '{a,b,c}', '{10,20,30}') AS c FROM cats) s;
-- 4 degrees of freedom (two more columns: an unseen level and NULLs):
-- p = exp(-x/2) (1 + x/2).
SELECT c[3] AS dof, abs(c[2] - exp(-c[1] / 2) * (1 + c[1] / 2)) < 1e-15 AS p_value_ok
  FROM (SELECT ml_chi_square(v, '{a,b,c}', '{10,20,30}') AS c
          FROM (SELECT v FROM cats UNION ALL VALUES ('zzz'), (NULL)) s) s;
-- A single non-empty column: nothing to test, statistic 0 and p-value 1.
SELECT ml_chi_square(v, '{a,b}', '{5,0}') FROM (VALUES ('a'), ('a')) s(v);

---------------------------------------------------------------- categorical

-- Levels match byte for byte; unseen levels and NULLs are extra cells:
-- p = (1/4, 1/4, 1/4 unseen, 1/4 null) against q = (1/2, 1/2, 0, 0).
SELECT abs(ml_psi_categorical(v, '{a,b}', '{1,1}')
           - (2 * (0.25 - 0.5) * ln(0.5) + 2 * (0.25 - 1e-4) * ln(0.25 / 1e-4))) < 1e-15 AS psi_ok,
       ml_psi_categorical(v, '{a,b}', '{1,1}') = ml_psi(v, '{a,b}', '{1,1}') AS same_as_ml_psi,
       ml_psi_categorical(v, '{a,b}', '{1,1}', 1) < ml_psi_categorical(v, '{a,b}', '{1,1}') AS n_null_helps
  FROM (VALUES ('a'), ('b'), ('A'), (NULL)) s(v);
SELECT ml_psi(v, '{a,b,c}', '{10,20,30}') AS psi_same,
       ml_js_divergence(v, '{a,b,c}', '{1,2,3}') AS js_same
  FROM (SELECT (ARRAY['a', 'b', 'c'])[g] AS v FROM generate_series(1, 3) g, generate_series(1, g)) s;
-- A level may be the empty string, and any text type works.
SELECT ml_psi(v::varchar, '{"",x}', '{1,1}') AS psi FROM (VALUES (''), ('x')) s(v);

---------------------------------------------------------------- NULL and empty input

-- No rows: NULL. Only NULL values: PSI compares the NULL cell; KS has no
-- values to compare and is NULL.
SELECT ml_psi(x, '{0,1}', '{1}') IS NULL AS psi, ml_ks(x, '{0,1}', '{1}') IS NULL AS ks,
       ml_chi_square(x, '{0,1}', '{1}') IS NULL AS chi, ml_js_divergence(x, '{0,1}', '{1}') IS NULL AS js
  FROM even WHERE false;
SELECT round(ml_psi(x, '{0,1}', '{1}')::numeric, 6) AS psi, ml_ks(x, '{0,1}', '{1}') AS ks,
       ml_js_divergence(x, '{0,1}', '{1}') AS js
  FROM (VALUES (NULL::float8), (NULL)) s(x);
-- With baseline_n_null: q = (1/2, 1/2) over [bin, null] against p = (0, 1).
SELECT abs(ml_psi(x, '{0,1}', '{1}', 1) - ((1e-4 - 0.5) * ln(1e-4 / 0.5) + 0.5 * ln(2))) < 1e-15
       AS psi_ok
  FROM (VALUES (NULL::float8), (NULL)) s(x);

---------------------------------------------------------------- GROUP BY and FILTER

SELECT i % 3 AS g, round(ml_psi(x, '{0,1,2,3}', '{10,10,10}')::numeric, 6) AS psi,
       round(ml_ks(x, '{0,1,2,3}', '{10,10,10}')::numeric, 6) AS ks
  FROM even GROUP BY 1 ORDER BY 1;
SELECT ml_psi(x, '{0,1,2,3}', '{10,10,10}') FILTER (WHERE i % 2 = 0) AS psi_even_rows FROM even;

-- The baseline may come from a table, per group.
CREATE TABLE baselines (g int, edges float8[], counts float8[]);
INSERT INTO baselines VALUES (0, '{0,1,2,3}', '{1,0,0}'), (1, '{0,1.5,3}', '{1,1}');
SELECT g, round(ml_ks(x, edges, counts)::numeric, 6) AS ks
  FROM even, baselines WHERE i % 2 = g GROUP BY g ORDER BY g;

-- Equal bins with a different array representation (lower bound 0) are
-- the same bins.
SELECT ml_psi(x, CASE WHEN i = 0 THEN '[0:3]={0,1,2,3}'::float8[] ELSE '{0,1,2,3}' END,
              '{10,10,10}') AS psi
  FROM even;

---------------------------------------------------------------- errors

SELECT ml_psi(x, '{0,1,1}', '{1,2}') FROM even;
SELECT ml_psi(x, '{0}', '{}') FROM even;
SELECT ml_psi(x, '{0,NaN}', '{1}') FROM even;
SELECT ml_psi(x, '{0,Infinity}', '{1}') FROM even;
SELECT ml_psi(x, '{0,1,NULL}', '{1,1}') FROM even;
SELECT ml_psi(x, '{{0,1},{2,3}}', '{1,1}') FROM even;
SELECT ml_psi(x, '{0,1,2}', '{1}') FROM even;
SELECT ml_psi(x, '{0,1,2}', '{1,-1}') FROM even;
SELECT ml_psi(x, '{0,1,2}', '{1,NaN}') FROM even;
SELECT ml_psi(x, '{0,1,2}', '{0,0}') FROM even;
SELECT ml_psi(x, '{0,1,2}', '{1,1}', -1) FROM even;
SELECT ml_psi(x, NULL, '{1,1}') FROM even;
SELECT ml_psi(x, '{0,1,2}', '{1,1}', NULL) FROM even;
SELECT ml_psi(v, '{a,b,a}', '{1,1,1}') FROM cats;
SELECT ml_psi(v, '{}', '{}') FROM cats;
SELECT ml_chi_square(v, '{a,b}', '{1,1,1}') FROM cats;
-- The bins must be the same on every row of an aggregate.
SELECT ml_psi(x, ARRAY[0, 1, 2 + i], '{1,1}') FROM even;
SELECT ml_psi(x, '{0,1,2}', ARRAY[1, i]) FROM even;
SELECT ml_psi(x, '{0,1,2}', '{1,1}', i) FROM even;
SELECT ml_psi(v, CASE WHEN v = 'c' THEN '{a,b,d}' ELSE '{a,b,c}' END::text[], '{1,1,1}') FROM cats;

---------------------------------------------------------------- parallel aggregation

CREATE TABLE big AS
  SELECT i, i % 4 AS g, (i * 7919 % 1000) / 100.0 + (i % 3) AS x,
         (ARRAY['red', 'green', 'blue', 'cyan'])[1 + (i * 31 % 7) % 4] AS c,
         CASE WHEN i % 97 = 0 THEN NULL ELSE i END AS maybe
    FROM generate_series(1, 60000) i;
ANALYZE big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
  SELECT ml_psi(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}'),
         ml_chi_square(c, '{red,green,blue}', '{1,2,3}', 1) FROM big;
CREATE TEMP TABLE results AS
  SELECT 'parallel' AS mode,
         ml_psi(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}') AS psi,
         ml_js_divergence(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}') AS js,
         ml_ks(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}') AS ks,
         ml_chi_square(c, '{red,green,blue}', '{1,2,3}', 1) AS chi,
         ml_psi(maybe::float8 / 6000, '{0,5,10}', '{1,1}') AS psi_nulls
    FROM big;
SET max_parallel_workers_per_gather = 0;
INSERT INTO results
  SELECT 'serial',
         ml_psi(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}'),
         ml_js_divergence(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}'),
         ml_ks(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}'),
         ml_chi_square(c, '{red,green,blue}', '{1,2,3}', 1),
         ml_psi(maybe::float8 / 6000, '{0,5,10}', '{1,1}')
    FROM big;
-- Counts are exact, so parallel and serial results agree to the last bit.
SELECT count(DISTINCT (psi, js, ks, chi, psi_nulls)) = 1 AS identical,
       round(min(psi)::numeric, 6) AS psi, round(min(ks)::numeric, 6) AS ks
  FROM results;
-- GROUP BY in parallel: partial states per group.
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
  SELECT g, ml_ks(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}') FROM big GROUP BY g;
CREATE TEMP TABLE group_results AS
  SELECT g, ml_ks(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}') AS ks,
         ml_psi(c, '{red,green,blue}', '{1,2,3}') AS psi
    FROM big GROUP BY g;
SET max_parallel_workers_per_gather = 0;
SELECT g, p.ks = s.ks AND p.psi = s.psi AS identical
  FROM group_results p
  JOIN (SELECT g, ml_ks(x, '{0,2,4,6,8,10,12}', '{5,5,5,5,5,5}') AS ks,
               ml_psi(c, '{red,green,blue}', '{1,2,3}') AS psi
          FROM big GROUP BY g) s USING (g)
 ORDER BY g;
RESET ALL;

---------------------------------------------------------------- a model's baseline

-- ml_train stores the training histograms; scoring the training rows
-- against them finds no drift, scoring shifted rows does.
SET client_min_messages = warning;
CREATE TABLE shop AS
  SELECT i AS id, (ARRAY['web', 'store', 'phone'])[1 + i % 3] AS channel,
         CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 37) % 100 END AS basket,
         (i * 37) % 100 * 0.5 + (i % 3) * 5 AS spend
    FROM generate_series(1, 300) i;
SELECT model_name, version
  FROM ml_train('shop_spend', 'linear', 'shop', 'spend', ARRAY['channel', 'basket'],
                '{"impute": "mean"}', 0);
RESET client_min_messages;
SELECT input, type, array_length(bin_edges, 1) AS edges, levels, baseline_counts IS NOT NULL AS counts,
       baseline_n_null
  FROM ml_drift_baseline(ml_model('shop_spend'));
SELECT b.input, ml_psi(s.basket, b.bin_edges, b.baseline_counts, b.baseline_n_null) AS psi,
       ml_ks(s.basket, b.bin_edges, b.baseline_counts) AS ks
  FROM shop s, ml_drift_baseline(ml_model('shop_spend')) b
 WHERE b.input = 'basket' GROUP BY b.input;
SELECT * FROM ml_drift('shop_spend', 'shop');
-- (The numeric input's binned statistics depend on the training histogram's
-- edges, so only their sign is shown.)
SELECT feature, metric,
       CASE WHEN feature = 'channel' OR metric IN ('null_rate', 'out_of_range')
            THEN round(value::numeric, 4) END AS value,
       value > 0 AS drifted, p_value < 1e-6 AS significant
  FROM ml_drift('shop_spend@1', $$SELECT CASE WHEN id % 5 = 0 THEN 'app' ELSE channel END AS channel,
                                         basket * 2 AS basket FROM shop WHERE id % 2 = 0;$$)
 ORDER BY feature, metric;

-- Beyond 100,000 rows, ml_train predicts a systematic sample of exactly
-- 100,000 of them for the output baseline: rows spread evenly, every
-- (rows / 100,000)-th, from a start the seed gives.
SELECT count(*) AS kept, min(gap), max(gap)
  FROM (SELECT i - lag(i) OVER (ORDER BY i) AS gap
          FROM generate_series(1, 1000) i WHERE ml.systematic_sample(1000, 100, 7)) s;
SELECT count(*) AS kept, min(gap), max(gap)
  FROM (SELECT i - lag(i) OVER (ORDER BY i) AS gap
          FROM generate_series(1, 1000) i WHERE ml.systematic_sample(1000, 300, 7)) s;
SELECT ml.systematic_sample(10, 11, 1);
SET client_min_messages = warning;
CREATE TABLE many AS
  SELECT i, (i * 7919 % 1000) / 10.0 AS x, (i * 7919 % 1000) / 5.0 + i % 7 AS y
    FROM generate_series(1, 150000) i;
SELECT version FROM ml_train('many_y', 'linear', 'many', 'y', ARRAY['x'], '{"seed": 3}', 0);
RESET client_min_messages;
-- (its deciles are those of the predictions of every row, to within a step of x)
WITH o AS (SELECT ml_model_info(ml_model('many_y'))->'outputs' AS o),
     edges AS (SELECT e::float8 AS edge, k FROM o, jsonb_array_elements_text(o->'bin_edges') WITH ORDINALITY AS t(e, k)),
     everyone AS (SELECT percentile_disc(ARRAY[0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1])
                           WITHIN GROUP (ORDER BY ml_predict('many_y', m)) AS q FROM many m)
SELECT (SELECT sum(c::bigint) FROM o, jsonb_array_elements_text(o->'counts') c) AS sampled,
       (SELECT count(*) FROM edges) AS edges,
       (SELECT max(abs(edge - q[k])) FROM edges, everyone) < 0.21 AS deciles_close;

-- ml_drift scans once with ml.drift_scan, which predicts each row as it
-- bins it. Its prediction statistics equal the drift aggregates over
-- ml_predict_class (a classifier) and ml_predict (k-means clusters) against
-- the '(prediction)' row of ml_drift_baseline.
SET client_min_messages = warning;
SELECT version FROM ml_train('shop_channel', 'logistic', 'shop', 'channel', ARRAY['spend', 'basket'],
                             '{"impute": "mean", "l2": 1}', 0.3);
SELECT version FROM ml_train('shop_groups', 'kmeans', 'shop', NULL, ARRAY['spend', 'basket'],
                             '{"k": 3, "impute": "mean", "seed": 1}');
RESET client_min_messages;
CREATE TEMP VIEW later AS
  SELECT id, channel, basket, spend * (1 + (id % 4) / 2.0) AS spend FROM shop;
WITH d AS (SELECT metric, value, p_value FROM ml_drift('shop_channel', 'later') WHERE feature = '(prediction)'),
     b AS (SELECT * FROM ml_drift_baseline(ml_model('shop_channel')) WHERE input = '(prediction)'),
     r AS (SELECT ml_psi(ml_predict_class('shop_channel', s), b.levels, b.baseline_counts) AS psi,
                  ml_js_divergence(ml_predict_class('shop_channel', s), b.levels, b.baseline_counts) AS js,
                  ml_chi_square(ml_predict_class('shop_channel', s), b.levels, b.baseline_counts) AS chi
             FROM later s, b GROUP BY b.input)
SELECT d.metric, abs(d.value - CASE d.metric WHEN 'psi' THEN r.psi WHEN 'js_divergence' THEN r.js
                                            WHEN 'chi_square' THEN r.chi[1] ELSE 0 END) < 1e-12 AS equal,
       d.metric <> 'chi_square' OR abs(d.p_value - r.chi[2]) < 1e-12 AS p_equal
  FROM d, r ORDER BY d.metric;
WITH d AS (SELECT metric, value FROM ml_drift('shop_groups', 'later') WHERE feature = '(prediction)'),
     b AS (SELECT * FROM ml_drift_baseline(ml_model('shop_groups')) WHERE input = '(prediction)'),
     r AS (SELECT ml_psi(ml_predict('shop_groups', s)::int::text, b.levels, b.baseline_counts) AS psi,
                  ml_chi_square(ml_predict('shop_groups', s)::int::text, b.levels, b.baseline_counts) AS chi
             FROM later s, b GROUP BY b.input)
SELECT d.metric, d.value = CASE d.metric WHEN 'psi' THEN r.psi WHEN 'chi_square' THEN r.chi[1] ELSE 0 END AS equal
  FROM d, r WHERE d.metric IN ('psi', 'chi_square', 'unseen', 'unpredictable') ORDER BY d.metric;

-- In parallel (the leader reading no rows: every state crosses from a
-- worker, serialised) the result is the serial one, bit for bit.
CREATE TABLE shop_big AS SELECT s.* FROM shop s, generate_series(1, 200);
ANALYZE shop_big;
CREATE TEMP TABLE scans AS
  SELECT 'serial' AS mode, array_agg(value ORDER BY feature, metric) AS v,
         array_agg(p_value ORDER BY feature, metric) AS p
    FROM ml_drift('shop_channel', 'shop_big');
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
  SELECT ml.drift_scan(m, spend::float8, basket::float8) FROM shop_big, (SELECT ml_model('shop_channel') AS m) x;
INSERT INTO scans
  SELECT 'parallel', array_agg(value ORDER BY feature, metric), array_agg(p_value ORDER BY feature, metric)
    FROM ml_drift('shop_channel', 'shop_big');
RESET ALL;
SELECT count(DISTINCT (v, p)) = 1 AS identical, count(*) FROM scans;

-- A tree model reads NaN as a missing value, in training as in drift: on
-- its own training rows NaN counts as NULL, not as out of range.
CREATE TABLE nan_rows AS
  SELECT spend, CASE WHEN id % 7 = 0 THEN 'NaN'::float8 ELSE basket END AS basket FROM shop;
SET client_min_messages = warning;
SELECT version FROM ml_train('nan_trees', 'xgboost', 'nan_rows', 'spend', ARRAY['basket'],
                             '{"n_estimators": 5}', 0);
RESET client_min_messages;
SELECT metric, round(value::numeric, 4) AS value,
       (SELECT round(avg((basket IS NULL OR basket = 'NaN')::int), 4) FROM nan_rows) AS missing_share
  FROM ml_drift('nan_trees', 'nan_rows')
 WHERE feature = 'basket' AND metric IN ('null_rate', 'out_of_range', 'psi') ORDER BY metric;

-- ml.drift_scan is ml_drift's: called by hand, it checks what it gets.
SELECT ml.drift_scan(ml_model('shop_spend'), channel) FROM shop;
SELECT ml.drift_scan(ml_model('shop_spend'), basket::float8, channel) FROM shop;
SELECT ml.drift_scan(ml_model('shop_spend'), VARIADIC ARRAY[channel, 'x']) FROM shop;
SELECT ml.drift_scan(NULL::mlmodel, channel, basket::float8) FROM shop;
SELECT ml.drift_scan(CASE WHEN id < 100 THEN ml_model('shop_spend') ELSE ml_model('shop_channel') END,
                     channel, basket::float8) FROM shop;
SELECT ml.drift_scan(ml_model('shop_spend'), channel, basket::float8) FROM shop WHERE false;
-- No rows: a row count of 0 and no statistics.
SELECT feature, metric, value FROM ml_drift('shop_spend', 'SELECT * FROM shop WHERE false')
 WHERE feature IN ('*', 'basket') ORDER BY feature, metric;

DROP VIEW later;
DROP TABLE even, cats, baselines, big, shop, shop_big, many, nan_rows;
DELETE FROM ml.models;
