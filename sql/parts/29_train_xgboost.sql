---------------------------------------------------------------- XGBoost trees

-- XGBoost needs every row at once: the transition function collects them
-- (bounded by mlsys.xgboost_memory_limit), the final function trains.
-- No combine function: the rows end in one buffer whatever the plan.
CREATE FUNCTION xgboost_fit_accum(internal, float8, float8[], jsonb) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION xgboost_fit_accum(internal, float8, float8[], jsonb, boolean) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION xgboost_fit_final(internal) RETURNS mlmodel
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE ml_xgboost_fit(y float8, x float8[], params jsonb) (
	SFUNC = xgboost_fit_accum,
	STYPE = internal,
	FINALFUNC = xgboost_fit_final,
	PARALLEL = SAFE
);
CREATE AGGREGATE ml_xgboost_fit(y float8, x float8[], params jsonb, holdout boolean) (
	SFUNC = xgboost_fit_accum,
	STYPE = internal,
	FINALFUNC = xgboost_fit_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_xgboost_fit(float8, float8[], jsonb) IS
	'gradient-boosted trees (XGBoost); NULL and NaN features are missing values; params: XGBoost''s, n_estimators, classes, features, target';
COMMENT ON AGGREGATE ml_xgboost_fit(float8, float8[], jsonb, boolean) IS
	'XGBoost trees; rows with holdout = true are only evaluated, for early_stopping_rounds';
