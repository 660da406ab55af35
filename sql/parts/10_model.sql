---------------------------------------------------------------- mlmodel type

CREATE TYPE mlmodel;

CREATE FUNCTION mlmodel_in(cstring) RETURNS mlmodel
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION mlmodel_out(mlmodel) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION mlmodel_recv(internal) RETURNS mlmodel
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION mlmodel_send(mlmodel) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE mlmodel (
	INPUT = mlmodel_in,
	OUTPUT = mlmodel_out,
	RECEIVE = mlmodel_recv,
	SEND = mlmodel_send,
	INTERNALLENGTH = VARIABLE,
	STORAGE = extended
);
COMMENT ON TYPE mlmodel IS
	'a trained model: algorithm, feature names and parameters, in a versioned, checksummed format';

-- The raw bytes, for clients that store or ship models as bytea. Only the
-- direction into mlmodel needs a function: it validates the bytes.
CREATE FUNCTION mlmodel_from_bytea(bytea) RETURNS mlmodel
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (bytea AS mlmodel) WITH FUNCTION mlmodel_from_bytea(bytea);
CREATE CAST (mlmodel AS bytea) WITHOUT FUNCTION;

CREATE FUNCTION ml_model_info(mlmodel) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_model_info(mlmodel) IS
	'the model''s contents as jsonb: kind, features, coefficients, training statistics, size';


CREATE FUNCTION ml_importance(mlmodel) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_importance(mlmodel) IS
	'global importance of each input: share of total gain (trees), or |coefficient| x training standard deviation (linear, logistic)';
