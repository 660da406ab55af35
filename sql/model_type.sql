-- The mlmodel type: text form, round trips, validation of text and bytes.

CREATE TABLE hand_models (id int, m mlmodel);

-- A model written by hand (no checksum) is accepted; output adds the checksum.
-- Only names, types and parameters are required; preprocessing defaults to
-- none and statistics to zero.
INSERT INTO hand_models VALUES (1, '{"format": 1, "kind": "linear_regression",
  "target": "spend", "n_rows": 100,
  "inputs": [{"name": "age", "type": "numeric", "stats": {"mean": 40, "stddev": 10}},
             {"name": "tenure", "type": "numeric", "scale": "standard", "center": 12.5, "scale_by": 3}],
  "fit_intercept": true, "l2": 0, "intercept": 0.5, "coefficients": [0.25, -1.5]}');
SELECT m FROM hand_models;

-- Text round trip: output -> input -> output is the identity, checksum included.
SELECT m::text::mlmodel::text = m::text AS text_round_trip FROM hand_models;
-- Floats survive exactly (shortest exact printing), whatever extra_float_digits says.
SET extra_float_digits = -10;
INSERT INTO hand_models VALUES (2, '{"format": 1, "kind": "linear_regression",
  "target": "", "n_rows": 3, "fit_intercept": false, "l2": 0.1,
  "inputs": [{"name": "x", "type": "numeric",
              "stats": {"mean": 1e-300, "stddev": 1.7976931348623157e308}}],
  "intercept": 0, "coefficients": [0.30000000000000004]}');
-- A classifier with a categorical input.
INSERT INTO hand_models VALUES (3, '{"format": 1, "kind": "logistic_regression",
  "target": "churned", "n_rows": 10,
  "inputs": [{"name": "plan", "type": "categorical", "levels": ["basic", "plus", "pro"],
              "impute": "mode", "fill_level": 0, "stats": {"counts": [5, 3, 2]}},
             {"name": "calls", "type": "numeric", "impute": "mean", "fill": 1.5}],
  "classes": ["false", "true"], "fit_intercept": true, "l2": 1,
  "intercepts": [-1], "coefficients": [[0.5, 1.25, 0.75]]}');
SELECT ml_model_info(m)->'coefficients' AS coef, m::text::mlmodel::text = m::text AS exact
  FROM hand_models WHERE id = 2;
RESET extra_float_digits;

-- Binary round trip through the bytea casts and COPY BINARY.
SELECT (m::bytea)::mlmodel::text = m::text AS bytea_round_trip FROM hand_models;
SELECT length(m::bytea) AS stored_bytes, encode(substr(m::bytea, 1, 4), 'escape') AS magic
  FROM hand_models WHERE id = 1;
COPY hand_models TO '/tmp/mlsys_regress_models.bin' (FORMAT binary);
CREATE TABLE hand_models_copy (LIKE hand_models);
COPY hand_models_copy FROM '/tmp/mlsys_regress_models.bin' (FORMAT binary);
SELECT a.id, a.m::text = b.m::text AS binary_round_trip
  FROM hand_models a JOIN hand_models_copy b USING (id) ORDER BY id;

-- ml_model_info summarises, with the stored size.
SELECT jsonb_pretty(ml_model_info(m)) FROM hand_models WHERE id = 1;

-- Text that is not a valid model: each gives a clear error.
SELECT 'not json'::mlmodel;
SELECT '[1, 2]'::mlmodel;
SELECT '{"format": 2}'::mlmodel;
SELECT '{"format": 1, "kind": "forest"}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "inputs": [{"name": "a", "type": "numeric"}]}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": [1, 2]}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1,
  "inputs": [{"name": "a", "type": "numeric"}, {"name": "a", "type": "numeric"}],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": [1, 2]}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
  "fit_intercept": true, "l2": -1, "intercept": 0, "coefficients": [1]}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": ["1"]}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": [1e400]}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": []}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
  "fit_intercept": false, "l2": 0, "intercept": 2, "coefficients": [1]}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": [1], "colour": "red"}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1,
  "inputs": [{"name": "a", "type": "text"}],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": [1]}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1,
  "inputs": [{"name": "a", "type": "numeric", "scale_by": 0}],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": [1]}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1,
  "inputs": [{"name": "a", "type": "categorical", "levels": ["x"]}],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": []}'::mlmodel;
SELECT '{"format": 1, "kind": "linear_regression", "n_rows": 1,
  "inputs": [{"name": "a", "type": "categorical", "levels": ["x", "y"], "impute": "mode"}],
  "fit_intercept": true, "l2": 0, "intercept": 0, "coefficients": [1]}'::mlmodel;
SELECT '{"format": 1, "kind": "logistic_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
  "classes": ["a"], "fit_intercept": true, "l2": 0, "intercepts": [0], "coefficients": [[1]]}'::mlmodel;
SELECT '{"format": 1, "kind": "logistic_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
  "classes": ["a", "b", "c"], "fit_intercept": true, "l2": 1,
  "intercepts": [0, 0], "coefficients": [[1], [2]]}'::mlmodel;
-- An edited text is caught by its checksum; removing the checksum accepts the edit.
SELECT replace(m::text, '"intercept": 0.5', '"intercept": 0.6')::mlmodel
  FROM hand_models WHERE id = 1;
SELECT ml_model_info(regexp_replace(replace(m::text, '"intercept": 0.5', '"intercept": 0.6'),
                                    ', "checksum": "[0-9a-f]+"', '')::mlmodel)->'intercept'
  FROM hand_models WHERE id = 1;

-- Damaged or foreign bytes: every byte flip is caught, never a crash.
SELECT '\x00'::bytea::mlmodel;
SELECT 'plain text, not a model'::bytea::mlmodel;
SELECT substr(m::bytea, 1, 30)::mlmodel FROM hand_models WHERE id = 1;
SELECT (m::bytea || '\x00'::bytea)::mlmodel FROM hand_models WHERE id = 1;
SELECT set_byte(m::bytea, 4, 2)::mlmodel FROM hand_models WHERE id = 1;   -- format version
SELECT set_byte(m::bytea, 6, 9)::mlmodel FROM hand_models WHERE id = 1;   -- kind
SELECT set_byte(m::bytea, 12, 1)::mlmodel FROM hand_models WHERE id = 1;  -- reserved
SELECT set_byte(m::bytea, 50, get_byte(m::bytea, 50) # 1)::mlmodel FROM hand_models WHERE id = 1;
-- Flip each byte in turn, and cut the value at every length: all rejected.
DO $$
DECLARE
  raw bytea := (SELECT m::bytea FROM hand_models WHERE id = 1);
  flips int := 0;
  cuts int := 0;
BEGIN
  FOR i IN 0 .. length(raw) - 1 LOOP
    BEGIN
      PERFORM ml_model_info(set_byte(raw, i, get_byte(raw, i) # 255)::mlmodel);
    EXCEPTION WHEN data_exception THEN
      flips := flips + 1;
    END;
    BEGIN
      PERFORM ml_model_info(substr(raw, 1, i)::mlmodel);
    EXCEPTION WHEN data_exception THEN
      cuts := cuts + 1;
    END;
  END LOOP;
  RAISE NOTICE 'rejected % of % byte flips and % of % truncations',
    flips, length(raw), cuts, length(raw);
END
$$;

DROP TABLE hand_models, hand_models_copy;
