-- Hyper-parameter search, cross-validation and the time split of ml_train.

CREATE TABLE sales AS
  SELECT i, (i % 37)::float8 AS price, sin(i) AS promo, (i % 3)::text AS store,
         date '2024-01-01' + (i % 500) AS sold_on,
         3 * (i % 37) + 2 * sin(i) + (i % 3) + cos(i * 7) AS units
    FROM generate_series(1, 2000) i;

-- Grid search over ridge's alpha with 5-fold cross-validation (the default
-- in a search): every trial is recorded, the best cross-validated r2 wins,
-- and the final model is refitted on all training rows with that alpha.
SELECT model_name, version, metrics ?& ARRAY['r2', 'cv_r2', 'cv_rmse'] AS has_cv_metrics
  FROM ml_train('units', 'ridge', 'sales', 'units', ARRAY['price', 'promo', 'store'],
                '{"alpha": [0.01, 100, 100000]}');
SELECT t.trial, t.params, (t.metrics->>'r2')::float8 > 0.9 AS good,
       t.metrics ? 'n' AS has_n, t.seconds >= 0 AS timed
  FROM ml.training_trials t JOIN ml.models m USING (model_id)
 WHERE m.name = 'units' ORDER BY t.trial;
-- The winner is the trial with the best r2, and its metrics are the version's cv_ ones.
SELECT v.params->'alpha' AS chosen_alpha, v.params->'cv' AS cv, v.params->'search' AS search,
       v.params->>'alpha' = (SELECT t.params->>'alpha' FROM ml.training_trials t
                              WHERE t.model_id = v.model_id ORDER BY (t.metrics->>'r2')::float8 DESC LIMIT 1)
         AS best_chosen,
       v.metrics->'cv_r2' = (SELECT t.metrics->'r2' FROM ml.training_trials t
                              WHERE t.model_id = v.model_id AND t.params->>'alpha' = v.params->>'alpha')
         AS cv_metrics_of_winner
  FROM ml.model_versions v JOIN ml.models m USING (model_id) WHERE m.name = 'units';

-- Cross-validation of one configuration, by hand: 3 folds of the training
-- rows dealt by the row hash; the mean of the fold r2 values is cv_r2.
SELECT version FROM ml_train('units', 'linear', 'sales', 'units', ARRAY['price', 'promo', 'store'],
                             '{"cv": 3}');
CREATE TEMP TABLE folds AS
  SELECT s.*, (hash_record_extended(ROW(units, price, promo, store), 0) & 2147483647) % 3 AS fold
    FROM sales s
   WHERE (hash_record_extended(ROW(units, price, promo, store), 0) & 2147483647) >= floor(0.2 * 2147483648);
SELECT abs((v.metrics->>'cv_r2')::float8 - avg(f.r2)) < 1e-12 AS cv_r2_ok
  FROM ml.model_versions v JOIN ml.models m USING (model_id),
       LATERAL (SELECT k, ml_r2(units, ml_predict(
                       (SELECT ml_linreg_fit(units, ARRAY[price, promo, (store = '1')::int, (store = '2')::int])
                          FROM folds WHERE fold <> k),
                       ARRAY[price, promo, (store = '1')::int, (store = '2')::int])) AS r2
                  FROM generate_series(0, 2) k, folds WHERE fold = k GROUP BY k) f
 WHERE m.name = 'units' AND v.version = 2
 GROUP BY v.metrics;

-- Random search over a log-scale range, optimising rmse, and a classifier.
SELECT model_name, metrics ? 'cv_rmse' AS has_cv_rmse
  FROM ml_train('units_lasso', 'lasso', 'sales', 'units', ARRAY['price', 'promo', 'store'],
                '{"alpha": {"min": 0.001, "max": 10, "log": true}, "n_iter": 3, "cv": 3,
                  "metric": "rmse", "seed": 4}');
SELECT count(*) AS trials, bool_and((params->>'alpha')::float8 BETWEEN 0.001 AND 10) AS in_range
  FROM ml.training_trials t JOIN ml.models m USING (model_id) WHERE m.name = 'units_lasso';
SELECT model_name, metrics ?& ARRAY['cv_accuracy', 'cv_log_loss'] AS has_cv_metrics
  FROM ml_train('store', 'logistic', 'sales', 'store', ARRAY['price', 'promo'],
                '{"l2": [0.1, 10], "cv": 2, "metric": "log_loss"}');
SELECT count(*) AS trials FROM ml.training_trials t JOIN ml.models m USING (model_id)
 WHERE m.name = 'store';

-- Time split: the latest 20% by sold_on are held out, the model learns from the past.
SELECT model_name FROM ml_train('units_time', 'linear', 'sales', 'units', ARRAY['price', 'promo'],
                                '{"time_column": "sold_on"}');
SELECT v.n_test_rows = (SELECT count(*) FROM sales
                         WHERE sold_on >= (SELECT percentile_disc(0.8) WITHIN GROUP (ORDER BY sold_on) FROM sales))
         AS holdout_is_latest,
       v.params->>'time_column' AS time_column
  FROM ml.model_versions v JOIN ml.models m USING (model_id) WHERE m.name = 'units_time';

-- A long search honours statement_timeout (and cancellation), and leaves nothing behind.
SET statement_timeout = '300ms';
\set VERBOSITY terse
SELECT * FROM ml_train('slow', 'ridge', 'sales', 'units', ARRAY['price', 'promo', 'store'],
                       jsonb_build_object('alpha', (SELECT jsonb_agg(i) FROM generate_series(1, 1000) i)));
\set VERBOSITY default
RESET statement_timeout;
SELECT count(*) AS models_named_slow FROM ml.models WHERE name = 'slow';

-- As many classes as rows: a penalised model still exists and predicts each row's class.
SELECT model_name FROM ml_train('few', 'logistic',
                                'SELECT i::text AS label, i::float8 AS x FROM generate_series(1, 3) i',
                                'label', params => '{"l2": 0.01}', test_fraction => 0);
SELECT i, ml_predict_class('few', ARRAY[i::float8]) AS predicted FROM generate_series(1, 3) i;

-- Errors.
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"search": "grid"}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"search": "bayes", "l2": [1]}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"l2": {"min": 1, "max": 2}, "search": "grid"}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"l2": {"min": 0, "max": 2, "log": true}}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"l2": {"min": 3, "max": 2}}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"l2": [1, -1]}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"l2": "big"}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"cv": 1}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"n_iter": 5, "l2": [1, 2]}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"metric": "accuracy", "cv": 2}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"time_column": "sold_on", "cv": 2}');
SELECT * FROM ml_train('x', 'ridge', 'sales', 'units', ARRAY['price'], '{"time_column": "sold_on", "alpha": [1, 2]}');
SELECT * FROM ml_train('x', 'linear', 'sales', 'units', ARRAY['price'], '{"time_column": "when"}');
-- No row has a time: nothing can be held out, all rows train.
SELECT version, metrics FROM ml_train('no_time', 'linear', 'SELECT price, units, NULL::date AS sold_on FROM sales',
                                      'units', ARRAY['price'], '{"time_column": "sold_on"}');
SELECT n_train_rows = (SELECT count(*) FROM sales) AS all_rows_train, n_test_rows
  FROM ml.model_versions JOIN ml.models USING (model_id) WHERE name = 'no_time';
DELETE FROM ml.models WHERE name = 'no_time';
SELECT * FROM ml_train('x', 'elastic_net', 'sales', 'units', ARRAY['price'],
                       jsonb_build_object('alpha', (SELECT jsonb_agg(i) FROM generate_series(1, 40) i),
                                          'l1_ratio', (SELECT jsonb_agg(i / 30.0) FROM generate_series(1, 30) i)));
SELECT * FROM ml_train('x', 'elastic_net', 'sales', 'units', ARRAY['price'], '{"l1": 1}');

DROP TABLE sales;
DELETE FROM ml.models;
