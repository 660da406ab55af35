---------------------------------------------------------------- inference

CREATE FUNCTION ml_predict(model_name text, features float8[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict_by_name' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict(text, float8[]) IS
	'prediction of the model''s deployed version for one feature vector';

CREATE FUNCTION ml_predict(model mlmodel, features float8[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict_model' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict(mlmodel, float8[]) IS
	'prediction of a model value for one feature vector';
