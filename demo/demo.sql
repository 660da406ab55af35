-- mlsys demo: a subscription business predicts which customers will churn and
-- how much revenue each will bring in the next twelve months, entirely
-- inside PostgreSQL.
\set ON_ERROR_STOP 1
\pset pager off
SET client_min_messages = notice;

DROP DATABASE IF EXISTS mlsys_demo;
CREATE DATABASE mlsys_demo;
\c mlsys_demo
CREATE EXTENSION mlsys;

-- 1. A customer table, generated in SQL: 50,000 customers with region, plan,
--    tenure, price, usage, support contacts (not always recorded) and
--    contract length. Churn is likelier for short tenures, month-to-month
--    contracts and frequent support calls; revenue follows price, tenure,
--    contract and usage.
SELECT setseed(0.42);
CREATE TABLE customers AS
SELECT id, region, plan, tenure_months, monthly_charges, logins_30d,
       CASE WHEN random() < 0.05 THEN NULL ELSE support_calls_90d END AS support_calls_90d,
       contract_months,
       random() < 1 / (1 + exp(-(-1.0 + 0.45 * support_calls_90d - 0.04 * tenure_months
                                 - 0.08 * contract_months - 0.03 * logins_30d
                                 + CASE plan WHEN 'basic' THEN 0.6 ELSE 0 END))) AS churned,
       round((12 * monthly_charges * (0.35 + 0.004 * tenure_months + 0.02 * contract_months)
              + 9 * logins_30d - 55 * support_calls_90d + 80 * random() - 40)::numeric, 2)::float8
         AS revenue_next_12m
  FROM (SELECT id,
               (ARRAY['north', 'south', 'east', 'west'])[1 + id % 4] AS region,
               (ARRAY['basic', 'standard', 'premium'])[1 + floor(random() * 3)::int] AS plan,
               (1 + 71 * random())::int AS tenure_months,
               round((20 + 80 * random())::numeric, 2)::float8 AS monthly_charges,
               (random() * 40)::int AS logins_30d,
               floor(-ln(1 - random()) * 1.2)::int AS support_calls_90d,
               (ARRAY[1, 12, 24])[1 + floor(random() * 3)::int] AS contract_months
          FROM generate_series(1, 50000) id) c;
ANALYZE customers;
SELECT * FROM customers ORDER BY id LIMIT 5;

-- 2. A churn classifier: one call reads the table (with your privileges),
--    holds out 20% of the rows, learns the preprocessing (missing support
--    calls filled with the mean, numbers standardised, plan and region
--    one-hot encoded), fits logistic regression by Newton passes over the
--    table, measures it on the holdout rows and stores version 1.
SELECT * FROM ml_train('churn', 'logistic', 'customers', 'churned',
                       ARRAY['region', 'plan', 'tenure_months', 'monthly_charges', 'logins_30d',
                             'support_calls_90d', 'contract_months'],
                       '{"impute": "mean", "scale": "standard", "l2": 1}');

-- 3. Score customers in any query: the row's columns are matched to the
--    model's inputs by name, and the preprocessing stored in the model is
--    applied exactly as in training. Who is most likely to leave?
SELECT id, plan, tenure_months, contract_months, support_calls_90d,
       round((ml_predict_proba('churn', c))[2]::numeric, 3) AS churn_risk
  FROM customers c
 ORDER BY churn_risk DESC, id LIMIT 5;

--    Why is the first one at risk? Each input's share of the logit
--    (coefficient x standardised value; plan and region by their level).
SELECT key AS input, round(value::numeric, 3) AS contribution
  FROM customers c, jsonb_each_text(ml_explain('churn', c)->'logits'->0->'contributions')
 WHERE c.id = (SELECT id FROM customers c2 ORDER BY (ml_predict_proba('churn', c2))[2] DESC, id LIMIT 1)
 ORDER BY abs(value::numeric) DESC;

-- 4. A revenue model: linear regression, same one-call training.
SELECT * FROM ml_train('revenue', 'linear', 'customers', 'revenue_next_12m',
                       ARRAY['tenure_months', 'monthly_charges', 'logins_30d',
                             'support_calls_90d', 'contract_months'],
                       '{"impute": "median"}');
SELECT id, revenue_next_12m AS actual, round(ml_predict('revenue', c)::numeric, 2) AS predicted
  FROM customers c ORDER BY id LIMIT 5;
-- Which high-value customers should get a retention call?
SELECT id, round(ml_predict('revenue', c)::numeric) AS revenue,
       round((ml_predict_proba('churn', c))[2]::numeric, 3) AS churn_risk,
       round(ml_predict('revenue', c)::numeric * (ml_predict_proba('churn', c))[2]::numeric) AS revenue_at_risk
  FROM customers c
 ORDER BY revenue_at_risk DESC LIMIT 5;

--    The same churn question with gradient-boosted trees (XGBoost, trained
--    in the backend): missing support calls stay missing, trees route them.
--    Each customer's explanation is exact SHAP values; the version records
--    which inputs the trees rely on.
SELECT model_name, version, round((metrics->>'roc_auc')::numeric, 3) AS roc_auc
  FROM ml_train('churn_trees', 'xgboost', 'customers', 'churned',
                ARRAY['region', 'plan', 'tenure_months', 'monthly_charges', 'logins_30d',
                      'support_calls_90d', 'contract_months'],
                '{"n_estimators": 100, "max_depth": 4, "learning_rate": 0.1}');
SELECT key AS input, round(value::numeric, 3) AS importance
  FROM ml.model_versions v JOIN ml.models m USING (model_id),
       jsonb_each_text(v.training_info->'importance'->'importance')
 WHERE m.name = 'churn_trees' ORDER BY value::numeric DESC;

-- 5. The registry is plain tables and views: any SQL client or BI tool reads it.
SELECT name, version, algorithm, n_train_rows, n_test_rows, metrics, deployed_by
  FROM ml.deployed_models ORDER BY name;
SELECT jsonb_path_query_array(m, '$.inputs[*] ? (@.type == "categorical").levels') AS levels,
       m->'classes' AS classes
  FROM (SELECT ml_model_info(ml_model('churn')) AS m) s;

-- 6. A second revenue version with a ridge penalty, on the same holdout
--    split. It is recorded but not served until someone deploys it:
--    deployment is an explicit step, and every deployment is kept.
SELECT * FROM ml_train('revenue', 'linear', 'customers', 'revenue_next_12m',
                       ARRAY['tenure_months', 'monthly_charges', 'logins_30d',
                             'support_calls_90d', 'contract_months'],
                       '{"impute": "median", "l2": 1000}');
SELECT name, version, deployed, metric, round(value::numeric, 4) AS value
  FROM ml.version_metrics WHERE name = 'revenue' ORDER BY metric, version;
SELECT ml_deploy('revenue', 2);
-- Version 1 stays addressable as revenue@1, or by an alias of your own;
-- ml_rollback undoes the last deployment, and every move is kept.
SELECT ml_deploy('revenue', 1, 'previous');
SELECT id, round(ml_predict('revenue', c)::numeric, 2) AS production,
       round(ml_predict('revenue@previous', c)::numeric, 2) AS previous
  FROM customers c ORDER BY id LIMIT 3;
SELECT ml_rollback('revenue') AS serving_again;
SELECT d.alias, d.version, d.previous_version, d.reason, d.deployed_by
  FROM ml.deployments d JOIN ml.models m USING (model_id)
 WHERE m.name = 'revenue' ORDER BY d.deployment_id;
-- A canary: 10% of customers, chosen by a hash of their id, get version 2;
-- the same customer always gets the same version.
SELECT ml_deploy('revenue', 2, 'canary');
SELECT ml_split('revenue', 'canary', 10);
SELECT count(*) FILTER (WHERE ml_predict('revenue', c, c.id) <> ml_predict('revenue', c)) AS canary_customers,
       count(*) AS customers
  FROM customers c;
SELECT ml_split('revenue', 'canary', 0);
-- With "deploy": "if_better", a retrained version replaces the deployed one
-- only if it beats it on the holdout (here on mae).
SELECT version FROM ml_train('revenue', 'linear', 'customers', 'revenue_next_12m',
                             ARRAY['tenure_months', 'monthly_charges'],
                             '{"impute": "median", "deploy": "if_better", "metric": "mae"}');

-- 7. Training is an aggregate too: one model per region in a single
--    GROUP BY query (parallel query can split the scan), then register one.
SELECT region, (ml_model_info(m)->>'n_rows')::int AS n_rows,
       round((ml_model_info(m)->>'intercept')::numeric, 2) AS intercept,
       round((ml_model_info(m)->'coefficients'->>1)::numeric, 2) AS per_contract_month
  FROM (SELECT region,
               ml_linreg_fit(revenue_next_12m, ARRAY[monthly_charges, contract_months],
                             '{"features": ["monthly_charges", "contract_months"],
                               "target": "revenue_next_12m"}') AS m
          FROM customers GROUP BY region) per_region
 ORDER BY region;
SELECT ml_register_model('revenue_north',
         (SELECT ml_linreg_fit(revenue_next_12m, ARRAY[monthly_charges, contract_months],
                               '{"features": ["monthly_charges", "contract_months"]}')
            FROM customers WHERE region = 'north'),
         source => 'customers WHERE region = ''north''');
SELECT round(ml_predict('revenue_north', c)::numeric, 2) AS north_model
  FROM customers c WHERE id = 4;

-- 8. Who may do what: applications get ml_reader (read the registry,
--    predict), data scientists ml_trainer, release managers ml_admin.
CREATE ROLE mlsys_demo_app LOGIN;
GRANT ml_reader TO mlsys_demo_app;
GRANT SELECT ON customers TO mlsys_demo_app;
SET ROLE mlsys_demo_app;
SELECT round((ml_predict_proba('churn', c))[2]::numeric, 3) AS churn_risk FROM customers c WHERE id = 1;
\set ON_ERROR_STOP 0
SELECT ml_deploy('churn', 1);
\set ON_ERROR_STOP 1
RESET ROLE;

-- 9. A model card, generated from the registry.
SELECT ml_describe('churn', 'Probability that a customer cancels within the next month; '
                            'used to plan retention calls.');
SELECT ml_tag('churn', '{"team": "customer success", "review": "2026-Q4"}');
\pset format unaligned
SELECT ml_model_card('churn');
\pset format aligned

-- 10. Drift: this month's sign-ups are on shorter contracts and call support
--     more often. A monitor compares them with the training data stored in
--     the model (PSI per input, out-of-range and unseen shares, NULL rates)
--     and raises alerts (a WARNING, a row in ml.alerts, NOTIFY ml_alerts).
--     With the worker, ml_schedule_monitor('churn_new_customers', '1 hour')
--     runs it on a schedule.
CREATE TABLE new_customers AS
SELECT id, region, plan, (1 + 5 * random())::int AS tenure_months, monthly_charges, logins_30d,
       support_calls_90d + 2 AS support_calls_90d, 1 AS contract_months
  FROM customers WHERE id % 10 = 0;
SELECT ml_create_monitor('churn_new_customers', 'churn', 'new_customers');
SELECT feature, metric, round(value::numeric, 3) AS value, status
  FROM ml_run_monitor('churn_new_customers') WHERE metric = 'psi' ORDER BY value DESC;

-- 11. Bad input is refused with a reason and a hint, never a crash.
\set ON_ERROR_STOP 0
SELECT ml_predict('revenue', ARRAY[12, 50.0]);
SELECT ml_predict('churn', c) FROM (SELECT 'gold' AS plan) c;
SELECT ml_predict('attrition', ARRAY[1.0]);
\set ON_ERROR_STOP 1

\c postgres
DROP DATABASE mlsys_demo;
DROP ROLE mlsys_demo_app;
