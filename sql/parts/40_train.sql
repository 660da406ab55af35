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

-- For ml_train: count, mean, standard deviation, min and max of its numeric
-- inputs in one pass (see src/column_stats.c).
CREATE FUNCTION ml.column_stats_accum(internal, VARIADIC "any") RETURNS internal
	AS 'MODULE_PATHNAME', 'ml_column_stats_accum' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION ml.column_stats_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'ml_column_stats_combine' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION ml.column_stats_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ml_column_stats_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ml.column_stats_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'ml_column_stats_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ml.column_stats_final(internal) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_column_stats_final' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE AGGREGATE ml.column_stats(VARIADIC "any") (
	SFUNC = ml.column_stats_accum, STYPE = internal, FINALFUNC = ml.column_stats_final,
	COMBINEFUNC = ml.column_stats_combine, SERIALFUNC = ml.column_stats_serialize,
	DESERIALFUNC = ml.column_stats_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml.column_stats(VARIADIC "any") IS
	'for ml_train: {rows, then per float8 column: non-NULL values, avg, stddev_samp, min, max} in one pass';

-- For ml_train: ml_bin_counts with the values as separate float8 arguments.
CREATE FUNCTION ml.bin_counts_accum(internal, float8[], int[], VARIADIC "any") RETURNS internal
	AS 'MODULE_PATHNAME', 'bin_counts_accum_any' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE AGGREGATE ml.bin_counts(edges float8[], bins int[], VARIADIC "any") (
	SFUNC = ml.bin_counts_accum, STYPE = internal, FINALFUNC = bin_counts_final,
	COMBINEFUNC = bin_counts_combine, SERIALFUNC = bin_counts_serialize,
	DESERIALFUNC = bin_counts_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml.bin_counts(float8[], int[], VARIADIC "any") IS
	'for ml_train: ml_bin_counts(ARRAY[values], edges, bins) with the values as separate float8 arguments';
