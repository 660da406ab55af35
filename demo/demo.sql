-- mlsys demo: a subscription business predicts each customer's revenue over
-- the next twelve months, entirely inside PostgreSQL.
\set ON_ERROR_STOP 1
\pset pager off
SET client_min_messages = notice;

DROP DATABASE IF EXISTS mlsys_demo;
CREATE DATABASE mlsys_demo;
\c mlsys_demo
CREATE EXTENSION mlsys;

-- 1. A customer table, generated in SQL: 50,000 customers with tenure,
--    plan price, usage, support contacts and contract length. The revenue
--    of the next twelve months depends on them (plus noise): customers on
--    long contracts with heavy usage stay and spend; frequent support
--    callers churn.
SELECT setseed(0.42);
CREATE TABLE customers AS
SELECT id,
       region,
       tenure_months,
       monthly_charges,
       logins_30d,
       support_calls_90d,
       contract_months,
       round((12 * monthly_charges * (0.35 + 0.004 * tenure_months + 0.02 * contract_months)
              + 9 * logins_30d - 55 * support_calls_90d + 80 * random() - 40)::numeric, 2)::float8
         AS revenue_next_12m
  FROM (SELECT id,
               (ARRAY['north', 'south', 'east', 'west'])[1 + id % 4] AS region,
               (1 + 71 * random())::int AS tenure_months,
               round((20 + 80 * random())::numeric, 2)::float8 AS monthly_charges,
               (random() * 40)::int AS logins_30d,
               floor(-ln(1 - random()) * 1.2)::int AS support_calls_90d,
               (ARRAY[1, 12, 24])[1 + floor(random() * 3)::int] AS contract_months
          FROM generate_series(1, 50000) id) c;
ANALYZE customers;
SELECT * FROM customers ORDER BY id LIMIT 5;

-- 2. Train: one call reads the table (with your privileges), holds out 20%
--    of the rows, fits, measures, and stores version 1 in the registry.
SELECT * FROM ml_train('revenue', 'linear',
                       source => 'customers',
                       target => 'revenue_next_12m',
                       features => ARRAY['tenure_months', 'monthly_charges', 'logins_30d',
                                         'support_calls_90d', 'contract_months']);

-- 3. The registry is plain tables and views: any SQL client or BI tool reads it.
SELECT name, version, algorithm, n_train_rows, n_test_rows, metrics, deployed_by
  FROM ml.deployed_models;
SELECT jsonb_pretty(ml_model_info(ml_model('revenue'))
                    - '{feature_means,feature_stddevs,checksum}'::text[]) AS deployed_model;

-- 4. Predict inside any query. The model is looked up once per statement and
--    cached per backend, so a scan of the whole table costs one lookup.
SELECT id, region, revenue_next_12m AS actual,
       round(ml_predict('revenue', ARRAY[tenure_months, monthly_charges, logins_30d,
                                          support_calls_90d, contract_months])::numeric, 2)
         AS predicted
  FROM customers ORDER BY id LIMIT 8;

-- Which customers are worth a retention call? The lowest predicted revenue
-- among those paying more than 80 a month.
SELECT id, tenure_months, monthly_charges, support_calls_90d, contract_months,
       round(ml_predict('revenue', ARRAY[tenure_months, monthly_charges, logins_30d,
                                          support_calls_90d, contract_months])::numeric, 2)
         AS predicted
  FROM customers WHERE monthly_charges > 80
 ORDER BY predicted LIMIT 5;

-- 5. A second version with a ridge penalty and another holdout seed. It is
--    recorded but not served until someone deploys it: deployment is an
--    explicit step, and every deployment is kept in ml.deployments.
SELECT * FROM ml_train('revenue', 'linear', 'customers', 'revenue_next_12m',
                       ARRAY['tenure_months', 'monthly_charges', 'logins_30d',
                             'support_calls_90d', 'contract_months'],
                       params => '{"l2": 1000, "seed": 7}');
SELECT name, version, deployed, metric, round(value::numeric, 4) AS value
  FROM ml.version_metrics WHERE name = 'revenue' ORDER BY metric, version;
SELECT ml_deploy('revenue', 2);
SELECT d.version, d.previous_version, d.reason, d.deployed_by
  FROM ml.deployments d JOIN ml.models m USING (model_id)
 WHERE m.name = 'revenue' ORDER BY d.deployment_id;

-- 6. Training is an aggregate too: one model per region in a single
--    GROUP BY query (parallel query can split the scan), then register one.
SELECT region, (ml_model_info(m)->>'n_rows')::int AS n_rows,
       round((ml_model_info(m)->>'intercept')::numeric, 2) AS intercept,
       round((ml_model_info(m)->'coefficients'->>4)::numeric, 2) AS per_contract_month
  FROM (SELECT region,
               ml_linreg_fit(revenue_next_12m,
                             ARRAY[tenure_months, monthly_charges, logins_30d,
                                   support_calls_90d, contract_months],
                             '{"features": ["tenure_months", "monthly_charges", "logins_30d",
                                            "support_calls_90d", "contract_months"],
                               "target": "revenue_next_12m"}') AS m
          FROM customers GROUP BY region) per_region
 ORDER BY region;
SELECT ml_register_model('revenue_north',
         (SELECT ml_linreg_fit(revenue_next_12m,
                               ARRAY[tenure_months, monthly_charges, logins_30d,
                                     support_calls_90d, contract_months])
            FROM customers WHERE region = 'north'),
         source => 'customers WHERE region = ''north''');

-- 7. Bad input is refused with a reason and a hint, never a crash.
\set ON_ERROR_STOP 0
SELECT ml_predict('revenue', ARRAY[12, 50.0]);
SELECT ml_predict('churn', ARRAY[1.0]);
\set ON_ERROR_STOP 1

SELECT name, version, algorithm, (metrics->>'r2')::numeric(6, 4) AS r2 FROM ml.deployed_models
 ORDER BY name;

\c postgres
DROP DATABASE mlsys_demo;
