---------------------------------------------------------------- logistic regression

-- One Newton pass of logistic regression (ml_train drives the iterations):
-- negative log-likelihood, gradient and Hessian at the given parameters,
-- packed as [n, loss, gradient..., Hessian upper triangle by column].
CREATE FUNCTION logreg_pass_accum(internal, text, float8[], float8[], text[]) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION logreg_pass_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION logreg_pass_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION logreg_pass_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION logreg_pass_final(internal) RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE ml_logreg_pass(label text, x float8[], coef float8[], classes text[]) (
	SFUNC = logreg_pass_accum,
	STYPE = internal,
	FINALFUNC = logreg_pass_final,
	COMBINEFUNC = logreg_pass_combine,
	SERIALFUNC = logreg_pass_serialize,
	DESERIALFUNC = logreg_pass_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_logreg_pass(text, float8[], float8[], text[]) IS
	'one Newton pass of logistic regression at parameters coef: [n, loss, gradient, Hessian]';
