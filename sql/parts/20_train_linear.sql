---------------------------------------------------------------- linear regression

CREATE FUNCTION linreg_accum(internal, float8, float8[]) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION linreg_accum(internal, float8, float8[], jsonb) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION linreg_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION linreg_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION linreg_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION linreg_final(internal) RETURNS mlmodel
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE ml_linreg_fit(y float8, x float8[]) (
	SFUNC = linreg_accum,
	STYPE = internal,
	FINALFUNC = linreg_final,
	COMBINEFUNC = linreg_combine,
	SERIALFUNC = linreg_serialize,
	DESERIALFUNC = linreg_deserialize,
	PARALLEL = SAFE
);
CREATE AGGREGATE ml_linreg_fit(y float8, x float8[], params jsonb) (
	SFUNC = linreg_accum,
	STYPE = internal,
	FINALFUNC = linreg_final,
	COMBINEFUNC = linreg_combine,
	SERIALFUNC = linreg_serialize,
	DESERIALFUNC = linreg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_linreg_fit(float8, float8[]) IS
	'ordinary least squares with intercept, in one parallel-safe pass';
COMMENT ON AGGREGATE ml_linreg_fit(float8, float8[], jsonb) IS
	'least squares / ridge regression; params: l2, intercept, features, target';

