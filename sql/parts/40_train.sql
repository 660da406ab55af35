---------------------------------------------------------------- training

CREATE FUNCTION ml_train(INOUT model_name text, algorithm text, source text, target text,
						 features text[] DEFAULT NULL, params jsonb DEFAULT '{}',
						 test_fraction float8 DEFAULT 0.2,
						 OUT version int, OUT metrics jsonb)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE CALLED ON NULL INPUT;
COMMENT ON FUNCTION ml_train(text, text, text, text, text[], jsonb, float8) IS
	'train a model on a table, view or query and add it to the registry as a new version';


CREATE FUNCTION ml_evaluate(model_name text, source text, target text DEFAULT NULL) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE CALLED ON NULL INPUT;
CREATE FUNCTION ml_evaluate(model_name text, version int, source text, target text DEFAULT NULL) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE CALLED ON NULL INPUT;
COMMENT ON FUNCTION ml_evaluate(text, text, text) IS
	'metrics of the deployed version on the rows of a table, view or query';
COMMENT ON FUNCTION ml_evaluate(text, int, text, text) IS
	'metrics of a given version on the rows of a table, view or query';

-- For ml_train: a systematic sample of a stream of rows (see src/stats.c).
CREATE FUNCTION ml.systematic_sample(total bigint, wanted bigint, seed int) RETURNS boolean
	AS 'MODULE_PATHNAME', 'ml_systematic_sample' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION ml.systematic_sample(bigint, bigint, int) IS
	'true for wanted of the next total calls, evenly spread from a start the seed gives: ml_train''s sample of rows for the output baseline';
