---------------------------------------------------------------- histograms

-- Histogram counts of several columns in one pass (ml_train's training
-- distribution): column j has bins[j] bins, its bins[j] + 1 increasing
-- edges taken in turn from edges.
CREATE FUNCTION bin_counts_accum(internal, float8[], float8[], int[]) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION bin_counts_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION bin_counts_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION bin_counts_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION bin_counts_final(internal) RETURNS int8[]
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE ml_bin_counts(x float8[], edges float8[], bins int[]) (
	SFUNC = bin_counts_accum,
	STYPE = internal,
	FINALFUNC = bin_counts_final,
	COMBINEFUNC = bin_counts_combine,
	SERIALFUNC = bin_counts_serialize,
	DESERIALFUNC = bin_counts_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_bin_counts(float8[], float8[], int[]) IS
	'histogram counts of several columns at once, for given bin edges';
