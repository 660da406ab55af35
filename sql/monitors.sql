-- Drift monitors: runs against the training distribution stored in the
-- model, statuses against thresholds, alerts, recorded failures.

CREATE TABLE loans AS
  SELECT i, (i % 100)::float8 AS income, (ARRAY['a', 'b', 'c'])[1 + i % 3] AS region,
         2.0 * (i % 100) + i % 3 AS risk
    FROM generate_series(1, 3000) i;
SELECT version FROM ml_train('risk', 'linear', 'loans', 'risk', ARRAY['income', 'region'], test_fraction => 0);

-- Same rows as training: nothing moves.
SELECT ml_create_monitor('risk_same', 'risk', 'loans') > 0 AS created;
SELECT feature, metric, round(value::numeric, 6) AS value, status
  FROM ml_run_monitor('risk_same') WHERE metric IN ('psi', 'out_of_range', 'unseen', 'row_count_drop')
 ORDER BY feature, metric;
SELECT run_status, rows_seen, model_version, count(*) AS results
  FROM ml.monitor_status WHERE monitor = 'risk_same' GROUP BY 1, 2, 3;

-- Shifted incomes, a new region, NULLs: PSI and the shares cross their thresholds.
CREATE TABLE loans_today AS
  SELECT i, CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 100) * 1.5 END AS income,
         (ARRAY['a', 'b', 'z'])[1 + i % 3] AS region
    FROM generate_series(1, 1000) i;
SELECT ml_create_monitor('risk_today', 'risk', 'SELECT * FROM loans_today',
                         '{"features": {"region": {"psi": {"warn": 5, "alert": 10}}}}') > 0 AS created;
SELECT feature, metric, round(value::numeric, 4) AS value, threshold, status
  FROM ml_run_monitor('risk_today')
 WHERE metric IN ('psi', 'out_of_range', 'unseen', 'null_rate_increase', 'row_count_drop')
 ORDER BY feature, metric;
-- PSI of income against a closed form over the model's bins: sum (p - q) ln(p / q),
-- proportions floored at 1e-4, with below/above/NULL cells.
WITH b AS (SELECT * FROM ml_drift_baseline(ml_model('risk')) WHERE input = 'income'),
cells AS (
  SELECT k, (SELECT count(*) FROM loans_today t, b
              WHERE CASE WHEN k = 0 THEN t.income < b.bin_edges[1]
                         WHEN k = cardinality(b.bin_edges) THEN t.income > b.bin_edges[cardinality(b.bin_edges)]
                         WHEN k = cardinality(b.bin_edges) + 1 THEN t.income IS NULL
                         WHEN k = cardinality(b.bin_edges) - 1 THEN t.income BETWEEN b.bin_edges[k] AND b.bin_edges[k + 1]
                         ELSE t.income >= b.bin_edges[k] AND t.income < b.bin_edges[k + 1] END)::float8 / 1000 AS p,
         CASE WHEN k BETWEEN 1 AND cardinality(b.bin_edges) - 1 THEN b.baseline_counts[k] / 3000
              WHEN k = cardinality(b.bin_edges) + 1 THEN b.baseline_n_null / 3000 ELSE 0 END AS q
    FROM b, generate_series(0, cardinality(b.bin_edges) + 1) k)
SELECT abs(sum((greatest(p, 1e-4) - greatest(q, 1e-4)) * ln(greatest(p, 1e-4) / greatest(q, 1e-4)))
           FILTER (WHERE p > 0 OR q > 0)
           - (SELECT value FROM ml.monitor_status WHERE monitor = 'risk_today'
                AND feature = 'income' AND metric = 'psi')) < 1e-9 AS psi_matches_closed_form
  FROM cells;
SELECT run_status, rows_seen FROM ml.monitor_status WHERE monitor = 'risk_today' LIMIT 1;
SELECT feature, metric, level, threshold FROM ml.alerts ORDER BY alert_id;

-- Acknowledging an alert records who and when.
SELECT ml_acknowledge_alert(min(alert_id)) FROM ml.alerts;
SELECT count(*) FILTER (WHERE acknowledged_at IS NOT NULL) AS acknowledged,
       count(*) FILTER (WHERE acknowledged_by = current_user) AS by_me FROM ml.alerts;
SELECT ml_acknowledge_alert(min(alert_id)) FROM ml.alerts;

-- A run that fails (the source is gone) is recorded and reported, not raised.
DROP TABLE loans_today;
SELECT count(*) AS rows_returned FROM ml_run_monitor('risk_today');
SELECT status, error FROM ml.monitor_runs ORDER BY run_id DESC LIMIT 1;

-- Fewer rows than at the previous run: the row count's drop is rated.
DELETE FROM loans WHERE i > 1000;
SELECT feature, metric, round(value::numeric, 4) AS value, threshold, status
  FROM ml_run_monitor('risk_same') WHERE metric = 'row_count_drop';

-- No rows at all: nothing to measure (NULL), and the row count fell by 100%.
CREATE TABLE loans_window AS SELECT * FROM loans;
SELECT ml_create_monitor('risk_window', 'risk', 'loans_window') > 0 AS created;
SELECT count(*) AS results FROM ml_run_monitor('risk_window');
DELETE FROM loans_window;
SELECT count(*) FILTER (WHERE value IS NULL) AS undefined, count(*) FILTER (WHERE value IS NOT NULL) AS defined
  FROM ml_drift('risk', 'loans_window');
SELECT feature, metric, value, status FROM ml_run_monitor('risk_window')
 WHERE metric IN ('null_rate', 'row_count_drop') ORDER BY feature, metric;
DROP TABLE loans_window;

-- Errors.
SELECT ml_create_monitor('risk_same', 'risk', 'loans');
SELECT ml_create_monitor('x', 'nothing', 'loans');
SELECT ml_create_monitor('x', 'risk', 'loans', '{"window": 7}');
SELECT ml_create_monitor('x', 'risk', NULL);
SELECT * FROM ml_run_monitor('nothing');

-- ml_reader sees monitors; running one is for ml_trainer.
CREATE ROLE regress_mlsys_viewer;
GRANT ml_reader TO regress_mlsys_viewer;
SET ROLE regress_mlsys_viewer;
SELECT count(DISTINCT monitor) AS monitors_visible FROM ml.monitor_status;
SELECT * FROM ml_run_monitor('risk_same');
SELECT ml_acknowledge_alert(2);
RESET ROLE;
REVOKE ml_reader FROM regress_mlsys_viewer;
DROP ROLE regress_mlsys_viewer;
-- A trainer cannot record runs of another role's monitor.
CREATE ROLE regress_mlsys_forger IN ROLE ml_trainer;
SET SESSION AUTHORIZATION regress_mlsys_forger;
SELECT ml.record_monitor_run((SELECT min(monitor_id) FROM ml.monitors), 1, 0, '[]', NULL, 'someone');
RESET SESSION AUTHORIZATION;
DROP ROLE regress_mlsys_forger;

-- Performance once labels arrive: logged predictions of the deployed version
-- (written here by hand; the logging worker is tested in TAP 007) matched by
-- key with a labels query, against the version's holdout metrics.
CREATE TABLE scores AS
  SELECT i, (i % 100) + i / 10000.0 AS x, (i % 100) + ((i * 7) % 5 - 2)::float8 AS y, i % 100 > 50 AS high
    FROM generate_series(1, 2000) i;
SELECT version FROM ml_train('score', 'linear', 'scores', 'y', ARRAY['x']);
SELECT version FROM ml_train('high', 'logistic', 'scores', 'high', ARRAY['x'], '{"l2": 1}');
-- 50 predictions of score (each exactly x) and, a day later, their labels x + d,
-- d cycling through -4, -2, 0, 2, 4: RMSE sqrt(8), MAE 2.4. Older ones are
-- outside the window.
INSERT INTO ml.prediction_log (logged_at, model_id, version, shadow, key, inputs_hash, prediction)
SELECT now() - CASE WHEN k > 50 THEN interval '30 days' ELSE interval '1 hour' END,
       (SELECT model_id FROM ml.models WHERE name = 'score'), 1, k % 7 = 0 AND k > 50, k::text, 0, k
  FROM generate_series(1, 60) k;
CREATE TABLE score_labels AS SELECT k AS key, k + (k % 5) * 2 - 4 AS label FROM generate_series(1, 60) k;
-- 10 predictions of high, 7 right
INSERT INTO ml.prediction_log (logged_at, model_id, version, shadow, key, inputs_hash, prediction, class)
SELECT now(), (SELECT model_id FROM ml.models WHERE name = 'high'), 1, false, k::text, 0, 0.9,
       CASE WHEN k <= 7 THEN 'true' ELSE 'false' END
  FROM generate_series(1, 10) k;
SELECT ml_create_monitor('score_perf', 'score', 'scores', '{"labels": "score_labels", "window": "7 days"}') > 0 AS created,
       ml_create_monitor('high_perf', 'high', 'scores',
                         '{"labels": "SELECT k AS key, true AS label FROM generate_series(1, 10) k"}') > 0 AS created;
SELECT p.metric, round(p.value::numeric, 6) AS value, p.status,
       CASE p.metric WHEN 'rmse' THEN round(sqrt(8)::numeric, 6)
                     WHEN 'mae' THEN 2.4
                     WHEN 'rmse_increase' THEN round((sqrt(8) / (v.metrics->>'rmse')::float8 - 1)::numeric, 6)
                     WHEN 'labeled' THEN 50 END AS expected
  FROM ml_run_monitor('score_perf') p, ml.model_versions v
 WHERE p.feature = '(performance)' AND v.model_id = (SELECT model_id FROM ml.models WHERE name = 'score')
 ORDER BY p.metric;
SELECT p.metric, round(p.value::numeric, 6) AS value, p.status,
       CASE p.metric WHEN 'accuracy' THEN 0.7
                     WHEN 'accuracy_drop' THEN round(((v.metrics->>'accuracy')::float8 - 0.7)::numeric, 6)
                     WHEN 'labeled' THEN 10 END AS expected
  FROM ml_run_monitor('high_perf') p, ml.model_versions v
 WHERE p.feature = '(performance)' AND v.model_id = (SELECT model_id FROM ml.models WHERE name = 'high')
 ORDER BY p.metric;
SELECT ml_create_monitor('bad', 'score', 'scores', '{"window": "1 day"}');
SELECT ml_create_monitor('bad', 'score', 'scores', '{"labels": "score_labels", "window": "soon"}');
DELETE FROM ml.prediction_log;
DROP TABLE scores, score_labels;

DELETE FROM ml.monitors;
DELETE FROM ml.models;
DROP TABLE loans;
