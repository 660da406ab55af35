-- Tree models through XGBoost: ml_train's xgboost and random_forest, the
-- ml_xgboost_fit aggregate, missing values, explanations, importance, and
-- the failure modes (parameters, damaged boosters, limits, cancellation).
-- Values computed by XGBoost are rounded: exact agreement with python3-xgboost
-- is checked by test/reference/xgboost_python.py.

CREATE TABLE houses AS
  SELECT i AS id,
         (i * 37 % 100) / 10.0 AS rooms,
         (i * 53 % 97)::float8 AS age,
         (ARRAY['north', 'south', 'east'])[1 + i % 3] AS area,
         CASE WHEN i % 9 = 0 THEN NULL ELSE (i * 11 % 13)::float8 END AS distance
    FROM generate_series(1, 400) i;
ALTER TABLE houses ADD COLUMN price float8;
-- a step in rooms, a bump for the south, a missing distance costs
UPDATE houses SET price = CASE WHEN rooms > 5 THEN 100 ELSE 60 END
                        + CASE area WHEN 'south' THEN 25 ELSE 0 END
                        - coalesce(distance, 20) - age / 10;

-- Regression with the usual preprocessing: the category becomes indicators,
-- NULLs reach XGBoost as missing values (the trees' default "impute").
SELECT model_name, version, (metrics->>'r2')::float8 > 0.9 AS fits
  FROM ml_train('price', 'xgboost', 'houses', 'price', ARRAY['rooms', 'age', 'area', 'distance'],
                '{"n_estimators": 60, "max_depth": 4}');
SELECT algorithm, params - 'impute' - 'scale' AS params, params->'impute' AS impute,
       (training_info->>'iterations')::int AS rounds
  FROM ml.model_versions JOIN ml.models USING (model_id) WHERE name = 'price';
SELECT m->>'kind' AS kind, m ? 'booster' AS has_booster, m ? 'coefficients' AS has_coefficients
  FROM ml_model_info((SELECT model FROM ml.model_versions)) m;

-- Predictions follow the price's steps; a NULL distance is a missing value.
SELECT id, round(price::numeric, 1) AS price, round(ml_predict('price', h)::numeric, 1) AS predicted
  FROM houses h WHERE id IN (1, 2, 9, 18) ORDER BY id;
SELECT round(ml_predict('price', ROW(1, 8.0, 10.0, 'south', NULL::float8, 0)::houses)::numeric, 0) AS far_south;

-- Explanations: exact SHAP values per input that, with the bias, add up to
-- the prediction (XGBoost computes in float32: equal to about 1e-4).
SELECT e->>'kind' AS kind,
       abs((e->>'bias')::float8 + (SELECT sum(value::float8) FROM jsonb_each_text(e->'contributions'))
           - ml_predict('price', h)) < 1e-3 AS adds_up,
       (SELECT array_agg(key ORDER BY key) FROM jsonb_object_keys(e->'contributions') key) AS inputs
  FROM houses h, ml_explain('price', h) e WHERE id = 7;

-- Importance: shares of the total gain over the inputs, stored with the
-- version and in the model card.
SELECT i->>'method' AS method,
       round((SELECT sum(value::numeric) FROM jsonb_each_text(i->'importance')), 6) AS total,
       (SELECT key FROM jsonb_each_text(i->'importance') ORDER BY value::float8 DESC LIMIT 1) AS top
  FROM ml.model_versions, ml_importance(model) i;
SELECT training_info->'importance' = ml_importance(model) AS stored FROM ml.model_versions;
SELECT line FROM regexp_split_to_table(ml_model_card('price'), E'\n') line
 WHERE line LIKE '| feature%' OR line LIKE 'Importance%' OR line LIKE '| rooms%';

-- Classification: a text target, three classes; probabilities sum to 1.
CREATE TABLE flowers AS
  SELECT i AS id, (i % 7)::float8 AS petal, (i * 3 % 11)::float8 AS sepal,
         CASE WHEN i % 7 < 2 THEN 'small' WHEN i % 7 < 5 THEN 'medium' ELSE 'large' END AS kind
    FROM generate_series(1, 300) i;
SELECT model_name, (metrics->>'accuracy')::float8 AS accuracy
  FROM ml_train('flower', 'xgboost', 'flowers', 'kind', ARRAY['petal', 'sepal'], '{"n_estimators": 20}');
SELECT petal, ml_predict_class('flower', ARRAY[petal, 5]) AS class,
       round((SELECT sum(p) FROM unnest(ml_predict_proba('flower', ARRAY[petal, 5])) p)::numeric, 6) AS total
  FROM generate_series(0, 6, 3) petal;
SELECT jsonb_array_length(e->'logits') AS logits, e->'logits'->0->>'class' AS first_class
  FROM ml_explain('flower', ARRAY[1.0, 5.0]) e;
-- A boolean target is binary: one probability per class, one logit.
SELECT model_name, (metrics->>'accuracy')::float8 AS accuracy
  FROM ml_train('big_flower', 'xgboost', 'SELECT petal, sepal, kind = ''large'' AS large FROM flowers',
                'large', NULL, '{"n_estimators": 10}');
SELECT ml_predict('big_flower', ARRAY[6.0, 1.0]) AS large, ml_predict('big_flower', ARRAY[0.0, 1.0]) AS small,
       array_length(ml_predict_proba('big_flower', ARRAY[6.0, 1.0]), 1) AS probabilities,
       jsonb_array_length(ml_explain('big_flower', ARRAY[6.0, 1.0])->'logits') AS logits;

-- Random forest: one round of many trees on row and column samples.
SELECT model_name, (metrics->>'r2')::float8 > 0.8 AS fits
  FROM ml_train('price_rf', 'random_forest', 'houses', 'price', ARRAY['rooms', 'age', 'area', 'distance'],
                '{"n_estimators": 30, "max_depth": 6}');
-- (recorded as ml_train takes them, so ml_retrain can train it again)
SELECT params->'n_estimators' AS trees, params->'learning_rate' AS learning_rate,
       params->'subsample' AS subsample, params->'colsample_bynode' AS colsample_bynode,
       (training_info->>'iterations')::int AS rounds
  FROM ml.model_versions JOIN ml.models USING (model_id) WHERE name = 'price_rf';
SET client_min_messages = warning;
SELECT ml_retrain('price_rf') AS retrained_version;
RESET client_min_messages;

-- Early stopping on the holdout rows keeps the best round.
SELECT model_name, (metrics->>'r2')::float8 > 0.9 AS fits
  FROM ml_train('price_es', 'xgboost', 'houses', 'price', ARRAY['rooms', 'age', 'area', 'distance'],
                '{"n_estimators": 2000, "learning_rate": 0.5, "early_stopping_rounds": 5}');
SELECT (training_info->>'iterations')::int < 2000 AS stopped_early
  FROM ml.model_versions JOIN ml.models USING (model_id) WHERE name = 'price_es';

-- A search over tree parameters, cross-validated.
SELECT model_name, metrics ? 'cv_r2' AS cross_validated
  FROM ml_train('price_cv', 'xgboost', 'houses', 'price', ARRAY['rooms', 'age'],
                '{"max_depth": [2, 4], "n_estimators": 20, "cv": 3}');
SELECT trial, params->'max_depth' AS max_depth
  FROM ml.training_trials JOIN ml.models USING (model_id) WHERE name = 'price_cv' ORDER BY trial;

-- The aggregate on its own: NULLs are missing values, names are recorded.
SELECT m->>'kind' AS kind, jsonb_path_query_array(m, '$.inputs[*].name') AS inputs,
       jsonb_path_query_array(m, '$.inputs[*].stats.n_null') AS nulls
  FROM (SELECT ml_model_info(ml_xgboost_fit(price, ARRAY[rooms, distance],
                                            '{"n_estimators": 5, "features": ["rooms", "distance"]}')) AS m
          FROM houses) s;
-- classes 0..K-1 and their names
SELECT ml_predict_class(m, ARRAY[1.0]) AS low, ml_predict_class(m, ARRAY[9.0]) AS high
  FROM (SELECT ml_xgboost_fit((rooms > 5)::int, ARRAY[rooms], '{"n_estimators": 5, "classes": ["cheap", "dear"]}') AS m
          FROM houses) s;
-- no rows: NULL
SELECT ml_xgboost_fit(price, ARRAY[rooms], '{}') IS NULL AS no_model FROM houses WHERE false;

-- The model value survives its text form and binary form.
SELECT ml_predict(m::text::mlmodel, ARRAY[3.0, 10.0]) = ml_predict(m, ARRAY[3.0, 10.0]) AS text_round_trip,
       ml_predict(m::bytea::mlmodel, ARRAY[3.0, 10.0]) = ml_predict(m, ARRAY[3.0, 10.0]) AS binary_round_trip
  FROM (SELECT ml_xgboost_fit(price, ARRAY[rooms, age], '{"n_estimators": 5}') AS m FROM houses) s;

-- Bad parameters: an unknown key lists the valid ones; a bad value is
-- XGBoost's error under a stable SQLSTATE; tree settings are checked.
\set VERBOSITY default
SELECT * FROM ml_train('bad', 'xgboost', 'houses', 'price', ARRAY['rooms'], '{"max_dept": 3}');
SELECT * FROM ml_train('bad', 'xgboost', 'houses', 'price', ARRAY['rooms'], '{"tree_method": "sideways"}');
SELECT * FROM ml_train('bad', 'xgboost', 'houses', 'price', ARRAY['rooms'], '{"max_depth": 0}');
SELECT * FROM ml_train('bad', 'xgboost', 'houses', 'price', ARRAY['rooms'], '{"objective": "rank:pairwise"}');
SELECT * FROM ml_train('bad', 'xgboost', 'houses', 'area', ARRAY['rooms'], '{"objective": "reg:squarederror"}');
SELECT * FROM ml_train('bad', 'random_forest', 'houses', 'price', ARRAY['rooms'], '{"early_stopping_rounds": 3}');
SELECT * FROM ml_train('bad', 'xgboost', 'houses', 'price', ARRAY['rooms'], '{"early_stopping_rounds": 3}', 0);
SELECT * FROM ml_train('bad', 'xgboost', 'houses', 'price', ARRAY['rooms'], '{"eval_metric": ["rmse"]}');
SELECT * FROM ml_train('bad', 'linear', 'houses', 'price', ARRAY['rooms'], '{"impute": "missing"}');
SELECT ml_xgboost_fit(price, ARRAY[rooms], '{"classes": ["a", "b"]}') FROM houses;
SELECT ml_xgboost_fit(price, ARRAY[rooms, 'Infinity'], '{}') FROM houses;
SELECT ml_xgboost_fit(price, CASE WHEN id = 5 THEN ARRAY[rooms] ELSE ARRAY[rooms, age] END, '{}') FROM houses;
SELECT ml_predict('price', ARRAY[1.0, 2.0]);

-- Too many rows for mlsys.xgboost_memory_limit: a clear error, not an OOM.
SET mlsys.xgboost_memory_limit = '1MB';
SELECT ml_xgboost_fit(i, ARRAY[i, i, i, i, i, i, i, i, i], '{}') FROM generate_series(1, 100000) i;
RESET mlsys.xgboost_memory_limit;

-- Training checks for cancellation between boosting rounds.
SET statement_timeout = '300ms';
SELECT ml_xgboost_fit(i % 1000, ARRAY[i % 7, i % 13, i % 101, i % 1009], '{"n_estimators": 100000, "max_depth": 10}')
  FROM generate_series(1, 20000) i;
RESET statement_timeout;

-- Damaged values: a booster that is not XGBoost's, a truncated one, one that
-- belongs to another model, and a flipped byte that the checksum catches.
-- (terse: XGBoost's own detail names byte offsets of this machine's booster)
\set VERBOSITY terse
SELECT jsonb_set(ml_model_info(model) - 'checksum' - 'size_bytes', '{booster}', '"AAAA"')::text::mlmodel
  FROM ml.model_versions JOIN ml.models USING (model_id) WHERE name = 'price';
SELECT jsonb_set(i - 'checksum' - 'size_bytes', '{booster}',
                 to_jsonb(translate(encode(substr(b, 1, length(b) / 2), 'base64'), E'\n', '')))::text::mlmodel
  FROM ml.model_versions JOIN ml.models USING (model_id), ml_model_info(model) i,
       decode(i->>'booster', 'base64') b
 WHERE name = 'price';
SELECT jsonb_set(ml_model_info(p.model) - 'checksum' - 'size_bytes', '{booster}',
                 ml_model_info(f.model)->'booster')::text::mlmodel
  FROM ml.model_versions p, ml.model_versions f
 WHERE p.model_id = (SELECT model_id FROM ml.models WHERE name = 'price')
   AND f.model_id = (SELECT model_id FROM ml.models WHERE name = 'flower');
SELECT set_byte(b, length(b) - 40, get_byte(b, length(b) - 40) # 255)::mlmodel IS NOT NULL AS accepted
  FROM ml.model_versions JOIN ml.models USING (model_id), CAST(model AS bytea) b WHERE name = 'price';
-- Trees that do not hold together are refused before XGBoost reads them
-- (it trusts them: a parent out of range crashes its loader, a child that
-- points back at the root makes its prediction loop for ever): node 1's
-- parent, root's left child, root's split feature. Each int32 array is
-- "[$l#L" and an 8-byte count after its key.
\set VERBOSITY default
CREATE FUNCTION pg_temp.damaged(key bytea, node int, bytes bytea) RETURNS mlmodel LANGUAGE sql AS $$
  SELECT jsonb_set(i - 'checksum' - 'size_bytes', '{booster}',
                   to_jsonb(translate(encode(overlay(b PLACING bytes FROM position(key IN b) + length(key) + 13 + node * 4),
                                             'base64'), E'\n', '')))::text::mlmodel
    FROM ml.model_versions JOIN ml.models USING (model_id), ml_model_info(model) i,
         decode(i->>'booster', 'base64') b
   WHERE name = 'price' $$;
SELECT pg_temp.damaged('parents', 1, '\x10000000') IS NOT NULL AS parent_out_of_range;
SELECT pg_temp.damaged('left_children', 0, '\x00000000') IS NOT NULL AS child_is_the_root;
SELECT pg_temp.damaged('split_indices', 0, '\x00000063') IS NOT NULL AS feature_out_of_range;
SELECT pg_temp.damaged('parents', 1, '\x00000000') IS NOT NULL AS unchanged_parent_accepted;

-- Leave the registry empty for the next test.
\set VERBOSITY default
DELETE FROM ml.models;
