-- Evaluation metrics: hand-computed cases, NULL and empty input, bad input,
-- labels of several types, GROUP BY, and parallel aggregation.

---------------------------------------------------------------- regression

-- scikit-learn's documentation example. By hand: errors 0.5, -0.5, 0, -1;
-- SSE = 1.5, MSE = 0.375, MAE = 0.5; mean(y) = 2.875, SST = 29.1875,
-- R^2 = 1 - 1.5 / 29.1875 = 0.94860814; MAPE = (0.5/3 + 0.5/0.5 + 0 + 1/7) / 4
-- = 0.32738095.
CREATE TABLE reg (i int, y float8, p float8);
INSERT INTO reg VALUES (1, 3, 2.5), (2, -0.5, 0), (3, 2, 2), (4, 7, 8);
SELECT round(ml_r2(y, p)::numeric, 8) AS r2, ml_mse(y, p) AS mse,
       round(ml_rmse(y, p)::numeric, 8) AS rmse, ml_mae(y, p) AS mae,
       round(ml_mape(y, p)::numeric, 8) AS mape
  FROM reg;
SELECT abs(ml_r2(y, p) - (1 - 1.5 / 29.1875)) < 1e-15 AS r2_ok,
       abs(ml_rmse(y, p) - sqrt(0.375)) < 1e-15 AS rmse_ok,
       abs(ml_mape(y, p) - (0.5 / 3 + 1 + 1.0 / 7) / 4) < 1e-15 AS mape_ok
  FROM reg;
SELECT ml_regression_metrics(y, p) - 'r2' - 'rmse' - 'mape' AS exact_part,
       round((ml_regression_metrics(y, p)->>'r2')::numeric, 8) AS r2
  FROM reg;

-- Perfect predictions.
SELECT ml_regression_metrics(y, y) FROM reg;

-- Constant y_true: R^2 is undefined (NULL); the other metrics are not.
SELECT ml_r2(5, p) IS NULL AS r2_null, ml_mse(5, p) AS mse,
       ml_regression_metrics(5, p)->'r2' AS json_r2
  FROM reg;

-- MAPE divides by max(|y|, DBL_EPSILON): y = 0 counts with a huge weight.
SELECT ml_mape(0, 1e-16) = 1e-16 / 2.220446049250313e-16 AS mape_zero;

-- NULLs in either column are skipped; no rows give NULL.
SELECT ml_regression_metrics(y, p)->'n' AS n, ml_mse(y, p) AS mse
  FROM (VALUES (1.0, 2.0), (NULL, 5.0), (4.0, NULL), (NULL, NULL), (3.0, 3.0)) v(y, p);
SELECT ml_r2(y, p) IS NULL AS r2, ml_mse(y, p) IS NULL AS mse, ml_mae(y, p) IS NULL AS mae,
       ml_regression_metrics(y, p) IS NULL AS json
  FROM reg WHERE false;
SELECT ml_rmse(NULL::float8, p) IS NULL AS only_nulls FROM reg;

-- Against plain SQL on 1000 rows.
CREATE TABLE reg2 AS
  SELECT i, 10 + 3 * sin(i) AS y, 10 + 3 * sin(i) + 0.5 * cos(i * 7) AS p
    FROM generate_series(1, 1000) i;
SELECT abs(ml_mse(y, p) - avg((y - p) ^ 2)) < 1e-12 AS mse_ok,
       abs(ml_mae(y, p) - avg(abs(y - p))) < 1e-12 AS mae_ok,
       abs(ml_mape(y, p) - avg(abs(y - p) / abs(y))) < 1e-12 AS mape_ok,
       abs(ml_r2(y, p) - (1 - sum((y - p) ^ 2) / (var_pop(y) * count(*)))) < 1e-12 AS r2_ok
  FROM reg2;

-- GROUP BY: one result per group.
SELECT i % 3 AS g, ml_regression_metrics(y, p)->'n' AS n,
       abs(ml_mse(y, p) - avg((y - p) ^ 2)) < 1e-12 AS mse_ok
  FROM reg2 GROUP BY 1 ORDER BY 1;

-- NaN and infinity are errors.
SELECT ml_mse(y, CASE WHEN i = 2 THEN 'NaN' ELSE p END) FROM reg;
SELECT ml_r2(CASE WHEN i = 3 THEN '-Infinity' ELSE y END, p) FROM reg;

-- Hand-made damaged states are rejected by the support functions.
SELECT metrics_regression_accum('{1,2}', 1, 2);
SELECT metrics_mse_final('{-1,0,0,0,0,0,0,0,0,0,0}');
SELECT metrics_regression_combine('{0,0,0,0,0,0,0,0,0,0,0}', '{1,0,0,0,0,0,0,0,0,0,NULL}');
SELECT metrics_logloss_final('{2.5,1,0}');
SELECT metrics_mae_final(metrics_regression_accum('{0,0,0,0,0,0,0,0,0,0,0}', 1, 3)) AS outside_aggregate;

---------------------------------------------------------------- classification

-- By hand (scikit-learn's confusion_matrix example), labels 0, 1, 2:
--   y_true 2 0 2 2 0 1
--   y_pred 0 0 2 2 0 2
--            pred 0  1  2
--   true 0      [ 2, 0, 0 ]
--   true 1      [ 0, 0, 1 ]
--   true 2      [ 1, 0, 2 ]
-- accuracy 4/6; precision 2/3, 0 (never predicted: zero_division=0), 2/3;
-- recall 1, 0, 2/3; F1 0.8, 0, 2/3; macro P 4/9, R 5/9, F1 22/45.
CREATE TABLE cls (i int, y int, p int);
INSERT INTO cls VALUES (1, 2, 0), (2, 0, 0), (3, 2, 2), (4, 2, 2), (5, 0, 0), (6, 1, 2);
SELECT ml_confusion_matrix(y, p) FROM cls;
SELECT round(ml_accuracy(y, p)::numeric, 8) AS accuracy FROM cls;
SELECT jsonb_pretty(ml_classification_metrics(y, p)) FROM cls;
SELECT abs((m->>'precision_macro')::float8 - 4.0 / 9) < 1e-15 AS p_ok,
       abs((m->>'recall_macro')::float8 - 5.0 / 9) < 1e-15 AS r_ok,
       abs((m->>'f1_macro')::float8 - 22.0 / 45) < 1e-15 AS f1_ok
  FROM (SELECT ml_classification_metrics(y, p) AS m FROM cls) s;
-- One label against the rest: label 2 has tp 2, fp 1, fn 1; label 1 is never
-- predicted; label 7 never occurs.
SELECT pos, round(ml_precision(y, p, pos)::numeric, 8) AS precision,
       round(ml_recall(y, p, pos)::numeric, 8) AS recall, round(ml_f1(y, p, pos)::numeric, 8) AS f1
  FROM cls, (VALUES (0), (1), (2), (7)) v(pos) GROUP BY pos ORDER BY pos;

-- The same with text labels; "dog" is only ever predicted. Labels are
-- sorted by the type's order: numbers numerically, text by collation.
SELECT ml_confusion_matrix(y, p)
  FROM (VALUES ('cat', 'cat'), ('ant', 'dog'), ('bee', 'ant'), ('cat', 'cat')) v(y, p);
SELECT ml_classification_metrics(y, p)->'classes'->3 AS dog
  FROM (VALUES ('cat', 'cat'), ('ant', 'dog'), ('bee', 'ant'), ('cat', 'cat')) v(y, p);
SELECT ml_confusion_matrix(y, p)->'labels' AS int_order,
       ml_confusion_matrix(y::text, p::text)->'labels' AS text_order
  FROM (VALUES (10, 9), (9, 100), (100, 10)) v(y, p);

-- Boolean labels. By hand: tp 2 (rows 1, 5), fp 1 (row 4), fn 1 (row 2),
-- tn 1: precision 2/3, recall 2/3, accuracy 3/5.
SELECT round(ml_precision(y, p, true)::numeric, 8) AS precision,
       round(ml_recall(y, p, true)::numeric, 8) AS recall,
       round(ml_f1(y, p, true)::numeric, 8) AS f1,
       ml_accuracy(y, p) AS accuracy, ml_confusion_matrix(y, p)
  FROM (VALUES (true, true), (true, false), (false, false), (false, true), (true, true)) v(y, p);
SELECT ml_precision(y, p, false) AS precision_false, ml_recall(y, p, false) AS recall_false
  FROM (VALUES (true, true), (true, false), (false, false), (false, true), (true, true)) v(y, p);

-- Other label types: numeric, float (NaN is a label like any other), date.
SELECT ml_confusion_matrix(y, p)->'labels' AS numeric_labels
  FROM (VALUES (1.50, 2.5), (2.5, 2.5)) v(y, p);
SELECT ml_confusion_matrix(y, p)->'labels' AS float_labels, ml_accuracy(y, p)
  FROM (VALUES ('NaN'::float8, 'NaN'::float8), (1, 'NaN')) v(y, p);
-- Dates in ISO 8601 whatever DateStyle says, as to_jsonb writes them.
SELECT ml_confusion_matrix(y, p) AS date_labels
  FROM (VALUES ('2024-01-02'::date, '2024-01-01'::date), ('2024-01-01', '2024-01-01')) v(y, p);
-- An enum sorts in the order of its declaration. F1 of 'high' by hand: tp 1,
-- predicted 2, true 2: precision = recall = F1 = 1/2.
CREATE TYPE severity AS ENUM ('low', 'medium', 'high');
SELECT ml_confusion_matrix(y, p) AS enum_labels,
       round(ml_f1(y, p, 'high')::numeric, 8) AS f1_high
  FROM (VALUES ('high'::severity, 'high'::severity), ('low', 'high'), ('medium', 'low'),
               ('high', 'medium')) v(y, p);

-- NULLs are skipped; no rows give NULL.
SELECT ml_accuracy(y, p) AS accuracy, ml_classification_metrics(y, p)->'n' AS n
  FROM (VALUES (1, 1), (NULL, 2), (2, NULL), (3, 1)) v(y, p);
SELECT ml_accuracy(y, p) IS NULL AS a, ml_confusion_matrix(y, p) IS NULL AS m,
       ml_classification_metrics(y, p) IS NULL AS c, ml_precision(y, p, 1) IS NULL AS p
  FROM cls WHERE false;

-- Several aggregates over the same arguments, and GROUP BY.
SELECT i % 2 AS g, ml_accuracy(y, p), ml_confusion_matrix(y, p)
  FROM cls GROUP BY 1 ORDER BY 1;
-- As a window function: a running accuracy.
SELECT i, y, p, round(ml_accuracy(y, p) OVER (ORDER BY i)::numeric, 4) AS running_accuracy
  FROM cls ORDER BY i;

-- Bad input.
SELECT ml_precision(y, p, NULL) FROM cls;
SELECT ml_precision(y, p, i % 2) FROM cls;
SELECT ml_accuracy(i, i + 1) FROM generate_series(1, 10001) i;
SELECT ml_accuracy(point(i, 0), point(i, 0)) FROM generate_series(1, 3) i;
SELECT ml_accuracy(y, p::text) FROM cls;

---------------------------------------------------------------- scores

-- scikit-learn's documentation example: ROC AUC 0.75; average precision
-- (1/2) * 1 + (1/2) * 2/3 = 0.8333.
SELECT ml_roc_auc(y, s) AS roc_auc, round(ml_pr_auc(y, s)::numeric, 8) AS pr_auc
  FROM (VALUES (false, 0.1), (false, 0.4), (true, 0.35), (true, 0.8)) v(y, s);

-- Ties enter at one threshold. By hand (P = 3, N = 2):
--   score 0.9: 1 pos, 1 neg -> (fpr, tpr) = (1/2, 1/3), precision 1/2
--   score 0.4: 2 pos        -> (1/2, 1),                precision 3/4
--   score 0.2: 1 neg        -> (1, 1)
-- ROC AUC = 1/2 * (0 + 1/3) / 2 + 1/2 * (1 + 1) / 2 = 7/12;
-- AP = 1/3 * 1/2 + 2/3 * 3/4 = 2/3.
CREATE TABLE sc (i int, y boolean, s float8);
INSERT INTO sc VALUES (1, true, 0.9), (2, false, 0.9), (3, true, 0.4), (4, false, 0.2), (5, true, 0.4);
SELECT abs(ml_roc_auc(y, s) - 7.0 / 12) < 1e-15 AS roc_ok,
       abs(ml_pr_auc(y, s) - 2.0 / 3) < 1e-15 AS ap_ok
  FROM sc;
-- All scores equal: the diagonal, and AP = the positive rate.
SELECT ml_roc_auc(y, 0.5) AS roc_auc, ml_pr_auc(y, 0.5) AS pr_auc FROM sc;
-- Perfect and reversed ranking (reversed AP: all 5 rows at the positives'
-- threshold, precision 3/5).
SELECT ml_roc_auc(y, y::int) AS perfect, ml_pr_auc(y, y::int) AS perfect_ap,
       ml_roc_auc(y, -y::int) AS reversed, ml_pr_auc(y, -y::int) AS reversed_ap
  FROM sc;

-- Undefined cases give NULL: one class only, or no positive rows for AP.
SELECT ml_roc_auc(true, s) IS NULL AS roc_one_class, ml_pr_auc(false, s) IS NULL AS ap_no_pos,
       ml_pr_auc(true, s) AS ap_all_pos
  FROM sc;
SELECT ml_roc_auc(y, s) IS NULL AS roc, ml_pr_auc(y, s) IS NULL AS ap FROM sc WHERE false;
SELECT ml_roc_auc(y, CASE WHEN i = 2 THEN NULL ELSE s END) AS skip_null_score,
       ml_roc_auc(CASE WHEN i = 2 THEN NULL ELSE y END, s) AS skip_null_label
  FROM sc;

-- Log loss: -(ln 0.9 + ln 0.8) / 2 = 0.16425203; p is clipped to
-- [DBL_EPSILON, 1 - DBL_EPSILON] (sklearn), so p = 0 for a true row costs
-- -ln(2^-52) = 36.04365339.
SELECT round(ml_log_loss(y, p)::numeric, 8) AS log_loss,
       abs(ml_log_loss(y, p) - (-(ln(0.9) + ln(0.8)) / 2)) < 1e-15 AS ok
  FROM (VALUES (true, 0.9), (false, 0.2)) v(y, p);
SELECT round(ml_log_loss(true, 0)::numeric, 8) AS clipped_low,
       round(ml_log_loss(false, 1)::numeric, 8) AS clipped_high,
       ml_log_loss(true, 1) < 1e-15 AS perfect;
SELECT ml_log_loss(y, p) IS NULL AS empty FROM sc, LATERAL (SELECT 0.5 AS p) x WHERE false;

-- Bad input.
SELECT ml_roc_auc(y, CASE WHEN i = 3 THEN 'NaN' ELSE s END) FROM sc;
SELECT ml_pr_auc(y, CASE WHEN i = 3 THEN 'Infinity' ELSE s END) FROM sc;
SELECT ml_log_loss(y, s + 0.5) FROM sc;
SELECT ml_log_loss(y, 'NaN') FROM sc;

-- The scores are kept in memory, up to mlsys.metrics_memory_limit.
SET mlsys.metrics_memory_limit = '64kB';
SELECT ml_roc_auc(i % 2 = 0, i) FROM generate_series(1, 5000) i;
SELECT ml_roc_auc(i % 2 = 0, i) FROM generate_series(1, 10000) i;
RESET mlsys.metrics_memory_limit;

-- Against plain SQL: ROC AUC as the Mann-Whitney statistic with average
-- ranks for ties; AP as the step sum over distinct thresholds.
CREATE TABLE sc2 AS
  SELECT i, (i % 7 < 3) <> (i % 11 = 0) AS y, round((sin(i) + (i % 7 < 3)::int)::numeric, 1)::float8 AS s
    FROM generate_series(1, 2000) i;
WITH ranked AS (
  SELECT y, rank() OVER (ORDER BY s) + (count(*) OVER (PARTITION BY s) - 1) / 2.0 AS r FROM sc2),
     mw AS (
  SELECT (sum(r) FILTER (WHERE y) - count(*) FILTER (WHERE y) * (count(*) FILTER (WHERE y) + 1) / 2.0)
         / (count(*) FILTER (WHERE y) * count(*) FILTER (WHERE NOT y)) AS auc FROM ranked),
     steps AS (
  SELECT s, count(*) FILTER (WHERE y) AS dtp, count(*) AS d FROM sc2 GROUP BY s),
     cum AS (
  SELECT dtp, sum(dtp) OVER w AS tp, sum(d) OVER w AS k FROM steps
  WINDOW w AS (ORDER BY s DESC)),
     ap AS (
  SELECT sum(dtp / (SELECT count(*) FROM sc2 WHERE y)::float8 * tp / k) AS ap FROM cum)
SELECT abs((SELECT ml_roc_auc(y, s) FROM sc2) - auc::float8) < 1e-12 AS roc_ok,
       abs((SELECT ml_pr_auc(y, s) FROM sc2) - ap) < 1e-12 AS ap_ok
  FROM mw, ap;

---------------------------------------------------------------- parallel

CREATE TABLE big AS
  SELECT i, i % 5 AS g,
         100 + 10 * sin(i) AS y, 100 + 10 * sin(i) + 3 * cos(i * 13) AS yp,
         (i * 7919) % 4 AS c, CASE WHEN i % 9 = 0 THEN (i / 9) % 4 ELSE (i * 7919) % 4 END AS cp,
         sin(i * 3) > 0.2 AS b, round((0.5 + 0.4 * sin(i * 3) + 0.3 * cos(i))::numeric, 2)::float8 AS score
    FROM generate_series(1, 50000) i;
ANALYZE big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

EXPLAIN (COSTS OFF)
SELECT ml_regression_metrics(y, yp), ml_classification_metrics(c::text, cp::text),
       ml_f1(c, cp, 2), ml_roc_auc(b, score), ml_pr_auc(b, score),
       ml_log_loss(b, least(greatest(score, 0), 1))
  FROM big;
CREATE TEMP TABLE runs AS
  SELECT 'parallel' AS mode, ml_regression_metrics(y, yp) AS reg,
         ml_classification_metrics(c::text, cp::text) AS cls, ml_f1(c, cp, 2) AS f1,
         ml_roc_auc(b, score) AS roc, ml_pr_auc(b, score) AS ap,
         ml_log_loss(b, least(greatest(score, 0), 1)) AS ll
    FROM big;
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT ml_roc_auc(b, score) FROM big;
INSERT INTO runs
  SELECT 'serial', ml_regression_metrics(y, yp), ml_classification_metrics(c::text, cp::text),
         ml_f1(c, cp, 2), ml_roc_auc(b, score), ml_pr_auc(b, score),
         ml_log_loss(b, least(greatest(score, 0), 1))
    FROM big;

-- Counts are exact; sums agree to 1e-12 relative.
SELECT p.cls = s.cls AS classification_equal, p.f1 = s.f1 AS f1_equal,
       p.roc = s.roc AS roc_equal, p.ap = s.ap AS ap_equal,
       abs(p.ll - s.ll) <= 1e-12 * s.ll AS log_loss_equal,
       p.reg->'n' = s.reg->'n' AS n_equal,
       bool_and(abs((p.reg->>k)::float8 - (s.reg->>k)::float8) <= 1e-12 * abs((s.reg->>k)::float8))
         AS regression_equal
  FROM runs p, runs s, unnest(ARRAY['r2', 'mse', 'rmse', 'mae', 'mape']) k
 WHERE p.mode = 'parallel' AND s.mode = 'serial'
 GROUP BY p.cls, s.cls, p.f1, s.f1, p.roc, s.roc, p.ap, s.ap, p.ll, s.ll, p.reg, s.reg;
SELECT mode, reg->'n' AS n, round((reg->>'r2')::numeric, 6) AS r2, cls->'n' AS cls_n,
       round((cls->>'accuracy')::numeric, 6) AS accuracy, round(roc::numeric, 6) AS roc_auc
  FROM runs ORDER BY mode;

-- GROUP BY in parallel.
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT g, ml_confusion_matrix(c, cp), ml_roc_auc(b, score), ml_r2(y, yp) FROM big GROUP BY g;
CREATE TEMP TABLE group_runs AS
  SELECT g, ml_confusion_matrix(c, cp) AS cm, ml_roc_auc(b, score) AS roc, ml_r2(y, yp) AS r2
    FROM big GROUP BY g;
SET max_parallel_workers_per_gather = 0;
SELECT g, p.cm = s.cm AS matrix_equal, p.roc = s.roc AS roc_equal,
       abs(p.r2 - s.r2) <= 1e-12 * abs(s.r2) AS r2_equal
  FROM group_runs p
  JOIN (SELECT g, ml_confusion_matrix(c, cp) AS cm, ml_roc_auc(b, score) AS roc, ml_r2(y, yp) AS r2
          FROM big GROUP BY g) s USING (g)
 ORDER BY g;
-- Workers that saw only NULLs pass empty states; so do workers that saw
-- none of the few non-NULL rows.
SET max_parallel_workers_per_gather = 2;
SELECT ml_roc_auc(b, CASE WHEN i < 0 THEN score END) IS NULL AS roc,
       ml_classification_metrics(c, CASE WHEN i < 0 THEN cp END) IS NULL AS cls,
       ml_f1(c, CASE WHEN i < 0 THEN cp END, 2) IS NULL AS f1,
       ml_regression_metrics(y, CASE WHEN i < 0 THEN yp END) IS NULL AS reg
  FROM big;
-- Rows 9, 27, 30000: (b, score) = (t, 0.61), (f, 0.16), (f, 0.19): ROC AUC 1;
-- (c, cp) = (3, 1), (1, 3), (0, 0); label 2 never occurs: F1 0.
SELECT ml_roc_auc(b, CASE WHEN i IN (9, 27, 30000) THEN score END) AS roc,
       ml_confusion_matrix(c, CASE WHEN i IN (9, 27, 30000) THEN cp END) AS cm,
       ml_f1(c, CASE WHEN i IN (9, 27, 30000) THEN cp END, 2) AS f1,
       ml_regression_metrics(y, CASE WHEN i IN (9, 27, 30000) THEN y END)->'n' AS reg_n
  FROM big;
SET max_parallel_workers_per_gather = 0;

-- The confusion counts against COUNT(*) per pair.
SELECT bool_and((m.cm->'matrix'->(t.c)->>(t.cp))::bigint = t.n) AS counts_ok, count(*) AS pairs
  FROM (SELECT ml_confusion_matrix(c, cp) AS cm FROM big) m,
       (SELECT c, cp, count(*) AS n FROM big GROUP BY c, cp) t;

RESET ALL;
DROP TABLE reg, reg2, cls, sc, sc2, big;
DROP TYPE severity;
