---------------------------------------------------------------- naive Bayes

-- The one pass of Gaussian naive Bayes (ml_train drives it): per class the
-- row count, and the mean and centred sum of squares of each design column,
-- packed per class as [count, means..., sums of squares...].
CREATE FUNCTION naive_bayes_accum(internal, text, float8[], text[]) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION naive_bayes_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION naive_bayes_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION naive_bayes_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION naive_bayes_final(internal) RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE ml_naive_bayes_pass(label text, x float8[], classes text[]) (
	SFUNC = naive_bayes_accum,
	STYPE = internal,
	FINALFUNC = naive_bayes_final,
	COMBINEFUNC = naive_bayes_combine,
	SERIALFUNC = naive_bayes_serialize,
	DESERIALFUNC = naive_bayes_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_naive_bayes_pass(text, float8[], text[]) IS
	'per-class counts, means and sums of squares of the design columns, for Gaussian naive Bayes';
