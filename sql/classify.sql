-- Classification and preprocessing: logistic regression through ml_train,
-- imputation, scaling and level encoding stored in the model, prediction
-- from rows matched by column name.

CREATE TABLE customers AS
  SELECT i AS id,
         (ARRAY['basic', 'plus', 'pro'])[1 + i % 3] AS plan,
         CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 7) % 10 END AS support_calls,
         (i * 13) % 60 + 1 AS tenure_months,
         i % 5 = 0 AS promo,
         -- churn is likelier with many calls, short tenure and the basic plan
         (0.9 * coalesce((i * 7) % 10, 5) - 0.08 * ((i * 13) % 60 + 1)
          + CASE (ARRAY['basic', 'plus', 'pro'])[1 + i % 3] WHEN 'basic' THEN 1 ELSE -0.5 END
          + 3 * sin(i * 0.7)) > 1.5 AS churned
    FROM generate_series(1, 600) i;

-- Train: NULL calls imputed by the mean, numbers standardised, plan and
-- promo encoded with the first level as reference.
SELECT model_name, version, metrics ?& ARRAY['accuracy', 'log_loss'] AS has_metrics,
       round((metrics->>'accuracy')::numeric, 2) AS accuracy
  FROM ml_train('churn', 'logistic', 'customers', 'churned',
                ARRAY['plan', 'support_calls', 'tenure_months', 'promo'],
                '{"impute": "mean", "scale": "standard", "l2": 0.5}');
SELECT algorithm, features, params, n_train_rows + n_test_rows AS rows,
       training_info ? 'seconds' AS timed, (training_info->>'iterations')::int < 20 AS few_iterations
  FROM ml.model_versions JOIN ml.models USING (model_id) WHERE name = 'churn';

-- The model holds its classes and preprocessing.
SELECT m->'classes' AS classes,
       jsonb_path_query_array(m, '$.inputs[*].type') AS types,
       jsonb_path_query_array(m, '$.inputs[*].impute') AS impute,
       m->'inputs'->0->'levels' AS plan_levels, m->'inputs'->0->'fill_level' AS plan_fill,
       m->'inputs'->3->'levels' AS promo_levels,
       jsonb_array_length(m->'coefficients'->0) AS design_columns
  FROM (SELECT ml_model_info(ml_model('churn')) AS m) s;

-- Learned preprocessing against plain SQL on the training rows: the fill
-- value is the mean of the non-NULL values, and standardising uses the mean
-- and population standard deviation after imputation.
CREATE TEMP TABLE train_rows AS
  SELECT c.* FROM customers c
   WHERE NOT (hash_record_extended(ROW(churned, plan, support_calls, tenure_months, promo), 0)
              & 2147483647) < floor(0.2 * 2147483648);
SELECT abs((m #>> '{inputs,1,fill}')::float8 - avg_calls) < 1e-9 AS fill_ok,
       abs((m #>> '{inputs,1,center}')::float8 - avg_calls) < 1e-9 AS center_ok,
       abs((m #>> '{inputs,1,scale_by}')::float8 - sd_imputed) < 1e-9 AS scale_ok,
       (m #>> '{inputs,1,stats,n_null}')::int = nulls AS n_null_ok,
       m #> '{inputs,0,stats,counts}' = plan_counts AS counts_ok
  FROM (SELECT ml_model_info(ml_model('churn')) AS m) s,
       (SELECT avg(support_calls) AS avg_calls, count(*) - count(support_calls) AS nulls FROM train_rows) a,
       (SELECT stddev_pop(coalesce(support_calls, (SELECT avg(support_calls) FROM train_rows))) AS sd_imputed
          FROM train_rows) b,
       (SELECT jsonb_agg(n ORDER BY plan) AS plan_counts
          FROM (SELECT plan, count(*) AS n FROM train_rows GROUP BY plan) p) c;
-- The training distribution of each numeric input (the drift baseline):
-- about ten bins of equal counts, counted exactly, checked here with SQL
-- on the training rows.
SELECT inp->>'name' AS input, jsonb_array_length(inp->'stats'->'bin_counts') AS bins,
       bool_and(cnt = (SELECT count(*) FROM train_rows r
                        WHERE CASE inp->>'name' WHEN 'support_calls' THEN r.support_calls
                                                ELSE r.tenure_months END
                              >= lo AND (CASE inp->>'name' WHEN 'support_calls' THEN r.support_calls
                                                           ELSE r.tenure_months END < hi OR (last AND
                                         CASE inp->>'name' WHEN 'support_calls' THEN r.support_calls
                                                           ELSE r.tenure_months END = hi)))) AS counts_exact
  FROM jsonb_array_elements(ml_model_info(ml_model('churn'))->'inputs') inp,
       LATERAL (SELECT (inp->'stats'->'bin_edges'->>b)::float8 AS lo,
                       (inp->'stats'->'bin_edges'->>(b + 1))::float8 AS hi,
                       (inp->'stats'->'bin_counts'->>b)::int8 AS cnt,
                       b = jsonb_array_length(inp->'stats'->'bin_counts') - 1 AS last
                  FROM generate_series(0, jsonb_array_length(inp->'stats'->'bin_counts') - 1) b) bins
 WHERE inp->>'type' = 'numeric'
 GROUP BY 1, 2 ORDER BY 1;

-- ml_transform shows the design vector: plan=plus, plan=pro, calls, tenure, promo=true.
SELECT id, plan, support_calls, promo, array_length(t, 1) AS width, t[1] AS plus, t[2] AS pro,
       round(t[3]::numeric, 9) = round(((coalesce(support_calls, a) - a) / sd)::numeric, 9) AS calls_ok,
       t[5] AS promo_true
  FROM customers,
       LATERAL (SELECT ml_transform('churn', customers) AS t) tr,
       (SELECT avg(support_calls) AS a,
               stddev_pop(coalesce(support_calls, (SELECT avg(support_calls) FROM train_rows))) AS sd
          FROM train_rows) st
 WHERE id IN (1, 2, 3, 5, 11) ORDER BY id;

-- The probability is the logistic function of the design vector.
SELECT bool_and(abs((ml_predict_proba('churn', c))[2]
                    - 1 / (1 + exp(-(b0 + (SELECT sum(w * x) FROM unnest(coef, ml_transform('churn', c)) AS u(w, x))))))
                < 1e-12) AS proba_ok
  FROM customers c,
       (SELECT (m->'intercepts'->>0)::float8 AS b0,
               ARRAY(SELECT jsonb_array_elements_text(m->'coefficients'->0)::float8) AS coef
          FROM (SELECT ml_model_info(ml_model('churn')) AS m) s) p;

-- Predict from rows: columns matched by name, in any order, extra columns ignored.
CREATE VIEW customers_reordered AS
  SELECT promo, id, tenure_months, 'extra' AS note, support_calls, plan FROM customers;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE ml_predict_class('churn', r) = ml_predict_class('churn', c)) AS same_class,
       count(*) FILTER (WHERE abs(ml_predict('churn', r) - (ml_predict_class('churn', c) = 'true')::int) = 0) AS numeric_label_ok,
       count(*) FILTER (WHERE abs((SELECT sum(p) FROM unnest(ml_predict_proba('churn', r)) p) - 1) < 1e-12) AS proba_sums_to_1
  FROM customers c JOIN customers_reordered r USING (id);
SELECT churned, ml_predict_class('churn', c) AS predicted, count(*)
  FROM customers c GROUP BY 1, 2 ORDER BY 1, 2;

-- Unpenalised binary logistic regression reports standard errors, Wald z
-- and normal p-values (checked against numpy in test/reference); they
-- survive the text form.
SELECT model_name FROM ml_train('churn_plain', 'logistic', 'customers', 'churned',
                                ARRAY['plan', 'support_calls', 'tenure_months', 'promo'],
                                '{"impute": "mean", "scale": "standard"}');
SELECT jsonb_array_length(m->'std_errors') AS std_errors, m ? 'z_values' AS z, m ? 't_values' AS t,
       ml_model('churn_plain')::text::mlmodel::text = ml_model('churn_plain')::text AS text_round_trip
  FROM (SELECT ml_model_info(ml_model('churn_plain')) AS m) s;
DELETE FROM ml.models WHERE name = 'churn_plain';

-- ml_explain on a binary model: one logit, of the second class; a scaled
-- input contributes coefficient x (x - mean) / sd, the plan its level's
-- coefficient ("coefficients" of set 0: plan=plus, plan=pro, support_calls,
-- tenure_months, promo).
SELECT bool_and(abs(1 / (1 + exp(-(e->'logits'->0->>'logit')::float8)) - (ml_predict_proba('churn', c))[2]) < 1e-12)
         AS sigmoid_of_logit,
       bool_and(abs((e->'logits'->0->'contributions'->>'tenure_months')::float8
                    - (m->'coefficients'->0->>3)::float8
                      * (c.tenure_months - (m->'inputs'->2->>'center')::float8)
                      / (m->'inputs'->2->>'scale_by')::float8) < 1e-12) AS scaled_input,
       bool_and((e->'logits'->0->'contributions'->>'plan')::float8
                = CASE c.plan WHEN 'basic' THEN 0 ELSE (m->'coefficients'->0->>(CASE c.plan WHEN 'plus' THEN 0 ELSE 1 END))::float8 END)
         AS categorical_input,
       min(e->'logits'->0->>'class') AS class
  FROM customers c, LATERAL ml_explain('churn', c) e, (SELECT ml_model_info(ml_model('churn')) AS m) mm;

-- ml_evaluate: the metrics of a model on any rows, against plain SQL.
SELECT e->'n' AS n, e ?& ARRAY['accuracy', 'precision_macro', 'recall_macro', 'f1_macro',
                              'log_loss', 'roc_auc'] AS has_metrics,
       abs((e->>'accuracy')::float8 - acc) < 1e-12 AS accuracy_ok,
       abs((e->>'log_loss')::float8 - ll) < 1e-9 AS log_loss_ok
  FROM (SELECT ml_evaluate('churn', 'customers', 'churned') AS e) s,
       (SELECT avg((churned::text = ml_predict_class('churn', c))::int) AS acc,
               avg(-ln((ml_predict_proba('churn', c))[1 + churned::int])) AS ll
          FROM customers c) r;
SELECT (ml_evaluate('churn', 1, 'SELECT * FROM customers WHERE plan = ''pro''', 'churned')->>'n')::int
       = (SELECT count(*) FROM customers WHERE plan = 'pro') AS n_ok;

-- Levels the model did not see, and NULLs, follow the imputation rule.
SELECT ml_predict_class('churn', c) IS NOT NULL AS imputed_mode
  FROM (SELECT 'enterprise' AS plan, NULL::int AS support_calls, 12 AS tenure_months, true AS promo) c;
SELECT model_name, version FROM ml_train('churn_strict', 'logistic', 'customers', 'churned',
                                         ARRAY['plan', 'tenure_months'], '{"l2": 1}');
SELECT ml_predict_class('churn_strict', c)
  FROM (SELECT 'enterprise' AS plan, 12 AS tenure_months) c;
SELECT ml_predict_class('churn_strict', c)
  FROM (SELECT NULL::text AS plan, 12 AS tenure_months) c;

-- Three classes with text labels: softmax over one parameter set per class.
CREATE TABLE flowers AS
  SELECT i, (i % 3) * 2.0 + sin(i) AS petal, (i % 3) * -1.0 + cos(i * 3) AS sepal,
         (ARRAY['setosa', 'versicolor', 'virginica'])[1 + i % 3] AS species
    FROM generate_series(1, 300) i;
SELECT model_name, (metrics->>'accuracy')::float8 > 0.9 AS accurate
  FROM ml_train('species', 'logistic', 'flowers', 'species', ARRAY['petal', 'sepal'], '{"l2": 1}');
SELECT m->'classes' AS classes, jsonb_array_length(m->'coefficients') AS parameter_sets
  FROM (SELECT ml_model_info(ml_model('species')) AS m) s;
SELECT species, ml_predict_class('species', f) AS predicted, count(*)
  FROM flowers f GROUP BY 1, 2 ORDER BY 1, 2;
SELECT array_length(ml_predict_proba('species', ARRAY[2.0, -1.0]), 1) AS n_proba;
SELECT jsonb_object_keys(ml_evaluate('species', 'flowers', 'species')) AS multiclass_metrics ORDER BY 1;
-- ml_explain: per input, coefficient x preprocessed value; with the bias
-- they add up to each class's logit, whose softmax is ml_predict_proba.
SELECT bool_and(abs(exp(z[1]) / (exp(z[1]) + exp(z[2]) + exp(z[3])) - p[1]) < 1e-12
                AND abs(exp(z[3]) / (exp(z[1]) + exp(z[2]) + exp(z[3])) - p[3]) < 1e-12) AS softmax_of_logits,
       bool_and(sums_ok) AS contributions_sum_to_logits
  FROM (SELECT ml_predict_proba('species', f) AS p,
               ARRAY(SELECT (l->>'logit')::float8 FROM jsonb_array_elements(e->'logits') l) AS z,
               (SELECT bool_and(abs((l->>'bias')::float8
                                    + (SELECT sum(value::float8) FROM jsonb_each_text(l->'contributions'))
                                    - (l->>'logit')::float8) < 1e-12)
                  FROM jsonb_array_elements(e->'logits') l) AS sums_ok
          FROM flowers f, LATERAL ml_explain('species', f) e) s;
SELECT jsonb_path_query_array(ml_explain('species', ARRAY[1.0, 0.5]), '$.logits[*].class') AS classes;

-- Without a penalty the last class is the reference: one set fewer.
SELECT model_name FROM ml_train('species_ols', 'logistic', 'flowers', 'species', ARRAY['petal', 'sepal']);
SELECT jsonb_array_length(ml_model_info(ml_model('species_ols'))->'coefficients') AS parameter_sets;

-- Gaussian naive Bayes: one pass; per class a log prior, means and variances.
SELECT model_name, (metrics->>'accuracy')::float8 > 0.85 AS accurate
  FROM ml_train('species_nb', 'naive_bayes', 'flowers', 'species', ARRAY['petal', 'sepal']);
-- Priors are class frequencies; the probability is the normalised Gaussian
-- likelihood, computed here in SQL from the stored means and variances.
SELECT abs((SELECT sum(exp(p::float8)) FROM jsonb_array_elements_text(m->'class_log_priors') p) - 1) < 1e-12
         AS priors_sum_to_1,
       (SELECT bool_and(abs((ml_predict_proba('species_nb', ARRAY[x, y]))[k] - num / den) < 1e-12)
          FROM (VALUES (2.0, -1.0), (0.5, 0.3), (4.0, -2.5)) AS pts(x, y),
               LATERAL (SELECT k, exp(lp - 0.5 * (ln(2 * pi() * v1) + (x - m1) ^ 2 / v1)
                                          - 0.5 * (ln(2 * pi() * v2) + (y - m2) ^ 2 / v2)) AS num
                          FROM (SELECT k, (m->'class_log_priors'->>(k - 1))::float8 AS lp,
                                       (m->'means'->(k - 1)->>0)::float8 AS m1, (m->'means'->(k - 1)->>1)::float8 AS m2,
                                       (m->'variances'->(k - 1)->>0)::float8 AS v1,
                                       (m->'variances'->(k - 1)->>1)::float8 AS v2
                                  FROM generate_series(1, 3) k) c) l,
               LATERAL (SELECT sum(exp(lp - 0.5 * (ln(2 * pi() * v1) + (x - m1) ^ 2 / v1)
                                          - 0.5 * (ln(2 * pi() * v2) + (y - m2) ^ 2 / v2))) AS den
                          FROM (SELECT (m->'class_log_priors'->>(k - 1))::float8 AS lp,
                                       (m->'means'->(k - 1)->>0)::float8 AS m1, (m->'means'->(k - 1)->>1)::float8 AS m2,
                                       (m->'variances'->(k - 1)->>0)::float8 AS v1,
                                       (m->'variances'->(k - 1)->>1)::float8 AS v2
                                  FROM generate_series(1, 3) k) c) d) AS proba_ok
  FROM (SELECT ml_model_info(ml_model('species_nb')) AS m) s;
SELECT ml_model('species_nb')::text::mlmodel::text = ml_model('species_nb')::text AS text_round_trip;
SELECT * FROM ml_train('x', 'naive_bayes', 'flowers', 'species', params => '{"var_smoothing": -1}');
SELECT ml_naive_bayes_pass('a', array_fill(0.0::float8, ARRAY[1001]), ARRAY['a', 'b']);
SELECT * FROM ml_train('x', 'naive_bayes', 'flowers', 'species', params => '{"l2": 1}');
SELECT * FROM ml_train('x', 'naive_bayes', 'SELECT species, 1.0 AS c FROM flowers', 'species',
                       params => '{"var_smoothing": 0}');
-- Newton's dense Hessian bounds a logistic model to 4096 parameters; naive Bayes has no such bound.
SELECT * FROM ml_train('x', 'logistic', 'SELECT (i % 100)::text AS c, (i % 50)::text AS f FROM generate_series(1, 400) i',
                       'c', params => '{"l2": 1}', test_fraction => 0);

-- Each Newton step is one parallel-safe pass.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
  SELECT ml_logreg_pass(species, ARRAY[petal, sepal], ARRAY[0, 0, 0, 0, 0, 0]::float8[],
                        ARRAY['setosa', 'versicolor', 'virginica'])
    FROM flowers;
RESET ALL;

-- Errors.
SELECT ml_predict('species', ARRAY[2.0, -1.0]);
SELECT ml_predict_class('churn', c) FROM (SELECT 'pro' AS plan, 1 AS support_calls) c;
SELECT ml_predict_class('churn', c)
  FROM (SELECT 'pro' AS plan, 'many' AS support_calls, 3 AS tenure_months, true AS promo) c;
SELECT ml_predict('churn', ARRAY[1, 2, 3, 4]::float8[]);
SELECT ml_predict_proba('units_missing', ARRAY[1.0]);
SELECT ml_evaluate('churn', 'customers', 'churn');
SELECT ml_evaluate('churn', 0, 'customers', 'churned');
SELECT ml_evaluate('churn', 'customers WHERE true', 'churned');
SELECT ml_evaluate('churn', NULL, 'churned');
SELECT ml_evaluate('churn', 'customers');
SELECT ml_explain('species_nb', ARRAY[1.0, 2.0]);
-- No rows to evaluate: empty metrics, also for a holdout whose rows all lack the target.
SELECT ml_evaluate('churn', 'SELECT * FROM customers WHERE false', 'churned') AS no_rows;
SELECT metrics FROM ml_train('few', 'logistic',
                             'SELECT i % 2 = 0 AS y, i::float8 AS x FROM generate_series(1, 6) i',
                             'y', params => '{"l2": 1}', test_fraction => 0.01);
DELETE FROM ml.models WHERE name = 'few';
SELECT * FROM ml_train('x', 'logistic', 'flowers', 'petal');
SELECT * FROM ml_train('x', 'logistic', 'SELECT petal, true AS label FROM flowers', 'label');
SELECT * FROM ml_train('x', 'logistic', 'flowers', 'species', params => '{"max_iter": 0}');
SELECT * FROM ml_train('x', 'logistic', 'flowers', 'species', params => '{"impute": "guess"}');
SELECT * FROM ml_train('x', 'logistic', 'flowers', 'species', params => '{"impute": {"colour": "mean"}}');
SELECT * FROM ml_train('x', 'logistic', 'flowers', 'species', params => '{"scale": {"species": "standard"}}');
SELECT * FROM ml_train('x', 'logistic', 'customers', 'churned', ARRAY['plan'],
                       '{"impute": {"plan": {"constant": "gold"}}}');
SELECT * FROM ml_train('x', 'linear', 'customers', 'tenure_months', ARRAY['support_calls']);
-- Perfectly separable classes have no finite unpenalised solution.
SELECT model_name, metrics->'accuracy' AS accuracy
  FROM ml_train('x', 'logistic', 'SELECT (i > 10)::int AS y, i AS x FROM generate_series(1, 20) i',
                'y', params => '{"max_iter": 5}');
SELECT * FROM ml_train('x', 'logistic', 'SELECT i % 2 AS y, NULL::int AS x FROM generate_series(1, 20) i', 'y');
SELECT * FROM ml_train('x', 'logistic', 'SELECT i % 2 AS y, ''a'' AS x FROM generate_series(1, 20) i', 'y');

DROP VIEW customers_reordered;
DROP TABLE customers, flowers;
DELETE FROM ml.models;
