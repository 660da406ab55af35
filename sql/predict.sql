-- ml_predict by model name (registry, cache) and by value.

CREATE TABLE sales AS
  SELECT i, (i % 10)::float8 AS ads, (i % 7)::float8 AS price,
         10 + 3 * (i % 10) - 2 * (i % 7)::float8 AS units
    FROM generate_series(1, 300) i;
SELECT model_name, version FROM ml_train('units', 'linear', 'sales', 'units', ARRAY['ads', 'price']);

-- Prediction = intercept + coefficients . x, by name and by value.
SELECT round(ml_predict('units', ARRAY[2, 3])::numeric, 8) AS by_name,
       round(ml_predict(ml_model('units'), ARRAY[2, 3])::numeric, 8) AS by_value,
       round(ml_predict('{"format": 1, "kind": "linear_regression", "n_rows": 1,
                          "inputs": [{"name": "a", "type": "numeric"}, {"name": "b", "type": "numeric"}],
                          "fit_intercept": true, "l2": 0, "intercept": 1,
                          "coefficients": [2, -3]}'::mlmodel, ARRAY[10, 1])::numeric, 8) AS literal;
-- ml_explain: bias + coefficient x value per input = the prediction.
SELECT ml_explain('{"format": 1, "kind": "linear_regression", "n_rows": 1,
                    "inputs": [{"name": "a", "type": "numeric"}, {"name": "b", "type": "numeric"}],
                    "fit_intercept": true, "l2": 0, "intercept": 1,
                    "coefficients": [2, -3]}'::mlmodel, ARRAY[10, 1]);
SELECT count(*) FILTER (WHERE abs((e->>'bias')::float8 + (e->'contributions'->>'ads')::float8
                                  + (e->'contributions'->>'price')::float8 - ml_predict('units', s)) > 1e-9
                           OR (e->>'prediction')::float8 <> ml_predict('units', s)) AS wrong
  FROM sales s, LATERAL ml_explain('units', s) e;
-- Integer and numeric arrays are cast to float8[].
SELECT round(ml_predict('units', ARRAY[2, 3]::int[]::float8[])::numeric, 8) AS from_int;
-- A whole scan: the same as the formula, row by row.
SELECT count(*) FILTER (WHERE abs(ml_predict('units', ARRAY[ads, price]) - units) > 1e-9) AS wrong
  FROM sales;

-- One registry lookup per statement, not per row: count the scans of
-- ml.models and ml.model_versions this transaction makes for 10,000 rows
-- (the lookup joins the two: 2 scans; the model itself comes from the cache).
BEGIN;
CREATE TEMP VIEW registry_scans AS
  SELECT sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)) AS n
    FROM pg_stat_xact_user_tables WHERE relid IN ('ml.models'::regclass, 'ml.model_versions'::regclass);
CREATE TEMP TABLE before AS SELECT n FROM registry_scans;
SELECT count(ml_predict('units', ARRAY[i % 10, i % 7]::float8[])) FROM generate_series(1, 10000) i;
SELECT (SELECT n FROM registry_scans) - (SELECT n FROM before) AS registry_scans_for_10000_rows;
ROLLBACK;

-- ml_evaluate on any rows: a perfect fit.
SELECT e->'n' AS n, round((e->>'r2')::numeric, 9) AS r2, round((e->>'rmse')::numeric, 9) AS rmse
  FROM (SELECT ml_evaluate('units', 'sales', 'units') AS e) s;

-- NULL arguments give NULL (the function is strict).
SELECT ml_predict('units', NULL::float8[]) IS NULL AS null_features, ml_predict(NULL::text, ARRAY[1, 2]) IS NULL AS null_name;

-- A new deployment is seen by the next statement; an aborted one never.
SELECT model_name, version FROM ml_train('units', 'linear',
  'SELECT ads, price, units + 100 AS units FROM sales', 'units');
SELECT round(ml_predict('units', ARRAY[2, 3])::numeric, 6) AS v1;
BEGIN;
SELECT ml_deploy('units', 2);
SELECT round(ml_predict('units', ARRAY[2, 3])::numeric, 6) AS v2_inside;
ROLLBACK;
SELECT round(ml_predict('units', ARRAY[2, 3])::numeric, 6) AS v1_after_rollback;
SELECT ml_deploy('units', 2);
SELECT round(ml_predict('units', ARRAY[2, 3])::numeric, 6) AS v2;
-- Inside one function, each statement sees the deployment current at its start.
CREATE FUNCTION predict_around_deploy() RETURNS TABLE (step text, prediction numeric)
LANGUAGE plpgsql AS $$
BEGIN
  step := 'before'; prediction := round(ml_predict('units', ARRAY[2, 3])::numeric, 6); RETURN NEXT;
  PERFORM ml_deploy('units', 1);
  step := 'after'; prediction := round(ml_predict('units', ARRAY[2, 3])::numeric, 6); RETURN NEXT;
END
$$;
SELECT * FROM predict_around_deploy();
DROP FUNCTION predict_around_deploy();

-- Errors, with hints.
SELECT ml_predict('no_model', ARRAY[1, 2]);
SELECT ml_predict('units', ARRAY[1]);
SELECT ml_predict('units', ARRAY[1, 2, 3]);
SELECT ml_predict('units', ARRAY[[1, 2], [3, 4]]);
SELECT ml_predict('units', ARRAY[1, NULL]);
SELECT ml_predict('units', ARRAY[1, 'NaN'::float8]);
SELECT ml_predict('units', ARRAY['Infinity'::float8, 1]);
SELECT ml_predict(ml_model('units'), ARRAY[1]);
SELECT ml_predict('units', ARRAY[ads, CASE WHEN i = 50 THEN NULL ELSE price END]) FROM sales;
-- A model with nothing deployed.
SELECT ml_register_model('undeployed', ml_model('units'));
UPDATE ml.models SET deployed_version = NULL WHERE name = 'undeployed';
SELECT ml_predict('undeployed', ARRAY[1, 2]);

DROP TABLE sales;
DELETE FROM ml.models;
