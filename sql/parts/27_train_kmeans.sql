---------------------------------------------------------------- k-means

-- One Lloyd iteration of k-means (ml_train drives them): rows assigned to
-- their nearest centre, packed as [inertia, counts (k), sums (k x d),
-- column sums of squares (d)].
CREATE FUNCTION kmeans_accum(internal, float8[], float8[]) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION kmeans_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION kmeans_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION kmeans_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION kmeans_final(internal) RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE ml_kmeans_pass(x float8[], centers float8[]) (
	SFUNC = kmeans_accum,
	STYPE = internal,
	FINALFUNC = kmeans_final,
	COMBINEFUNC = kmeans_combine,
	SERIALFUNC = kmeans_serialize,
	DESERIALFUNC = kmeans_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_kmeans_pass(float8[], float8[]) IS
	'one Lloyd iteration of k-means at the given centres: [inertia, counts, sums, column sums of squares]';

CREATE FUNCTION ml_kmeans_distance(x float8[], centers float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_kmeans_distance(float8[], float8[]) IS
	'squared distance from a point to the nearest of the concatenated centres';
