---------------------------------------------------------------- drift statistics
-- Plain aggregates comparing current values with a binned baseline (a
-- training histogram), usable in any query (GROUP BY, FILTER, parallel).
-- Every row of a group passes the same baseline (checked). Cells: the k
-- bins (numeric: [e_i, e_{i+1}), the last one closed; categorical: the
-- levels), plus "below" (< e_0), "above" (> e_k, +Infinity, NaN; for
-- categorical values: unseen levels) and "null"; the baseline counts 0 in
-- below/above and baseline_n_null (default 0) in null. The state is bounded
-- by the number of bins (internal, with serial/deserial for parallel query).

CREATE FUNCTION drift_numeric_accum(internal, float8, float8[], float8[]) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION drift_numeric_accum(internal, float8, float8[], float8[], float8) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION drift_categorical_accum(internal, text, text[], float8[]) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION drift_categorical_accum(internal, text, text[], float8[], float8) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION drift_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION drift_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION drift_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION drift_psi_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION drift_js_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION drift_chi_square_final(internal) RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION drift_ks_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

-- PSI
CREATE AGGREGATE ml_psi(value float8, bin_edges float8[], baseline_counts float8[]) (
	SFUNC = drift_numeric_accum, STYPE = internal, FINALFUNC = drift_psi_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_psi(value float8, bin_edges float8[], baseline_counts float8[],
						baseline_n_null float8) (
	SFUNC = drift_numeric_accum, STYPE = internal, FINALFUNC = drift_psi_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_psi(value text, levels text[], baseline_counts float8[]) (
	SFUNC = drift_categorical_accum, STYPE = internal, FINALFUNC = drift_psi_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_psi(value text, levels text[], baseline_counts float8[],
						baseline_n_null float8) (
	SFUNC = drift_categorical_accum, STYPE = internal, FINALFUNC = drift_psi_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_psi_categorical(value text, levels text[], baseline_counts float8[]) (
	SFUNC = drift_categorical_accum, STYPE = internal, FINALFUNC = drift_psi_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_psi_categorical(value text, levels text[], baseline_counts float8[],
									baseline_n_null float8) (
	SFUNC = drift_categorical_accum, STYPE = internal, FINALFUNC = drift_psi_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_psi(float8, float8[], float8[]) IS
	'population stability index sum((p - q) ln(p / q)) of the values against a baseline histogram: bins [e_i, e_i+1) (last one closed) plus below-range, above-range (also +Infinity, NaN) and NULL cells with baseline count 0; proportions p (current) and q (baseline) floored at 1e-4; NULL without rows';
COMMENT ON AGGREGATE ml_psi(float8, float8[], float8[], float8) IS
	'ml_psi with the baseline''s NULL count (the NULL cell''s baseline count) as fourth argument';
COMMENT ON AGGREGATE ml_psi(text, text[], float8[]) IS
	'population stability index of categorical values against baseline level counts: one cell per level (matched byte for byte) plus unseen-level and NULL cells with baseline count 0; proportions floored at 1e-4; NULL without rows';
COMMENT ON AGGREGATE ml_psi(text, text[], float8[], float8) IS
	'categorical ml_psi with the baseline''s NULL count as fourth argument';
COMMENT ON AGGREGATE ml_psi_categorical(text, text[], float8[]) IS
	'the same as ml_psi(text, text[], float8[]): PSI of categorical values against baseline level counts, unseen levels and NULLs as extra cells with baseline count 0, proportions floored at 1e-4';
COMMENT ON AGGREGATE ml_psi_categorical(text, text[], float8[], float8) IS
	'the same as ml_psi(text, text[], float8[], float8): categorical PSI with the baseline''s NULL count';

-- Jensen-Shannon divergence
CREATE AGGREGATE ml_js_divergence(value float8, bin_edges float8[], baseline_counts float8[]) (
	SFUNC = drift_numeric_accum, STYPE = internal, FINALFUNC = drift_js_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_js_divergence(value float8, bin_edges float8[], baseline_counts float8[],
								  baseline_n_null float8) (
	SFUNC = drift_numeric_accum, STYPE = internal, FINALFUNC = drift_js_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_js_divergence(value text, levels text[], baseline_counts float8[]) (
	SFUNC = drift_categorical_accum, STYPE = internal, FINALFUNC = drift_js_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_js_divergence(value text, levels text[], baseline_counts float8[],
								  baseline_n_null float8) (
	SFUNC = drift_categorical_accum, STYPE = internal, FINALFUNC = drift_js_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_js_divergence(float8, float8[], float8[]) IS
	'Jensen-Shannon divergence in bits (base 2, between 0 and 1) of the values'' distribution over the cells of ml_psi and the baseline''s, without smoothing (0 log 0 = 0); the square of scipy''s jensenshannon(p, q, base=2); NULL without rows';
COMMENT ON AGGREGATE ml_js_divergence(float8, float8[], float8[], float8) IS
	'ml_js_divergence with the baseline''s NULL count as fourth argument';
COMMENT ON AGGREGATE ml_js_divergence(text, text[], float8[]) IS
	'Jensen-Shannon divergence in bits of categorical values against baseline level counts, cells as in ml_psi_categorical';
COMMENT ON AGGREGATE ml_js_divergence(text, text[], float8[], float8) IS
	'categorical ml_js_divergence with the baseline''s NULL count as fourth argument';

-- Chi-square test of homogeneity
CREATE AGGREGATE ml_chi_square(value float8, bin_edges float8[], baseline_counts float8[]) (
	SFUNC = drift_numeric_accum, STYPE = internal, FINALFUNC = drift_chi_square_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_chi_square(value float8, bin_edges float8[], baseline_counts float8[],
							   baseline_n_null float8) (
	SFUNC = drift_numeric_accum, STYPE = internal, FINALFUNC = drift_chi_square_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_chi_square(value text, levels text[], baseline_counts float8[]) (
	SFUNC = drift_categorical_accum, STYPE = internal, FINALFUNC = drift_chi_square_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_chi_square(value text, levels text[], baseline_counts float8[],
							   baseline_n_null float8) (
	SFUNC = drift_categorical_accum, STYPE = internal, FINALFUNC = drift_chi_square_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_chi_square(text, text[], float8[]) IS
	'{statistic, p_value, dof}: Pearson chi-square test of homogeneity of the 2 x m table (baseline level counts; current counts) over the cells of ml_psi_categorical, cells empty on both sides dropped, dof = m - 1, no continuity correction (scipy chi2_contingency, correction=False); NULL without rows';
COMMENT ON AGGREGATE ml_chi_square(text, text[], float8[], float8) IS
	'categorical ml_chi_square with the baseline''s NULL count as fourth argument';
COMMENT ON AGGREGATE ml_chi_square(float8, float8[], float8[]) IS
	'{statistic, p_value, dof}: Pearson chi-square test of homogeneity of the baseline histogram and the current values over the cells of ml_psi, cells empty on both sides dropped, dof = m - 1, no continuity correction; NULL without rows';
COMMENT ON AGGREGATE ml_chi_square(float8, float8[], float8[], float8) IS
	'numeric ml_chi_square with the baseline''s NULL count as fourth argument';

-- Binned Kolmogorov-Smirnov distance
CREATE AGGREGATE ml_ks(value float8, bin_edges float8[], baseline_counts float8[]) (
	SFUNC = drift_numeric_accum, STYPE = internal, FINALFUNC = drift_ks_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
-- (the baseline's NULL count plays no part in KS; with it, the aggregate
-- shares its state with ml_psi and the others called with the same arguments)
CREATE AGGREGATE ml_ks(value float8, bin_edges float8[], baseline_counts float8[], baseline_n_null float8) (
	SFUNC = drift_numeric_accum, STYPE = internal, FINALFUNC = drift_ks_final,
	COMBINEFUNC = drift_combine, SERIALFUNC = drift_serialize,
	DESERIALFUNC = drift_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_ks(float8, float8[], float8[], float8) IS
	'ml_ks taking the baseline''s NULL count too, which it leaves out like every NULL';
COMMENT ON AGGREGATE ml_ks(float8, float8[], float8[]) IS
	'binned two-sample Kolmogorov-Smirnov distance: max |F_current - F_baseline| of the cumulative proportions over the cells below-range, bin 1 .. bin k, above-range (the CDFs compared at the bin edges); NULLs ignored; NULL without non-NULL values';

-- The drift baselines a model stores, as the arrays the aggregates take.
CREATE FUNCTION ml_drift_baseline(model mlmodel)
	RETURNS TABLE(input text, type text, bin_edges float8[], levels text[],
				  baseline_counts float8[], baseline_n_null float8)
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT i->>'name', i->>'type',
		   CASE WHEN i->'stats' ? 'bin_edges' THEN
				ARRAY(SELECT e::float8 FROM jsonb_array_elements_text(i->'stats'->'bin_edges')
									 WITH ORDINALITY AS t(e, o) ORDER BY o) END,
		   CASE WHEN i ? 'levels' THEN
				ARRAY(SELECT e FROM jsonb_array_elements_text(i->'levels')
							   WITH ORDINALITY AS t(e, o) ORDER BY o) END,
		   ARRAY(SELECT e::float8
				   FROM jsonb_array_elements_text(COALESCE(i->'stats'->'bin_counts', i->'stats'->'counts'))
						WITH ORDINALITY AS t(e, o) ORDER BY o),
		   (i->'stats'->>'n_null')::float8
	  FROM jsonb_array_elements(@extschema@.ml_model_info(model)->'inputs') WITH ORDINALITY AS x(i, n)
	UNION ALL
	-- the model's output on its holdout rows: a regression's bins, else a
	-- count per class (or k-means cluster, numbered from 0)
	SELECT '(prediction)', CASE WHEN o ? 'bin_edges' THEN 'numeric' ELSE 'categorical' END,
		   CASE WHEN o ? 'bin_edges' THEN
				ARRAY(SELECT e::float8 FROM jsonb_array_elements_text(o->'bin_edges')
									 WITH ORDINALITY AS t(e, k) ORDER BY k) END,
		   CASE WHEN info ? 'classes' THEN
				ARRAY(SELECT e FROM jsonb_array_elements_text(info->'classes') WITH ORDINALITY AS t(e, k)
					   ORDER BY k)
				WHEN NOT o ? 'bin_edges' THEN
				ARRAY(SELECT c::text FROM generate_series(0, jsonb_array_length(o->'counts') - 1) c) END,
		   ARRAY(SELECT e::float8 FROM jsonb_array_elements_text(o->'counts') WITH ORDINALITY AS t(e, k)
				  ORDER BY k),
		   0
	  FROM (SELECT @extschema@.ml_model_info(model) AS info) m, LATERAL (SELECT m.info->'outputs' AS o) x
	 WHERE o IS NOT NULL
	$$;
COMMENT ON FUNCTION ml_drift_baseline(mlmodel) IS
	'one row per input of the model: its training histogram (numeric: bin_edges and baseline_counts; categorical: levels and baseline_counts) and NULL count, as the drift aggregates take them; a numeric input without a histogram (constant in training) has NULL bin_edges and an empty baseline_counts; last, input "(prediction)": the model''s output on its holdout rows';

-- A source (a table or view name, or a query) as a FROM item with an alias.
-- No pinned search_path: a name resolves as in the caller's own queries.
CREATE FUNCTION ml.from_item(source text, alias text) RETURNS text
	LANGUAGE plpgsql STABLE AS $$
DECLARE
	src text := btrim(source);
BEGIN
	IF src ~* '^(\(|(select|with|values|table)(\s|\(|$))' THEN
		RETURN format(E'(%s\n) AS %I', rtrim(src, E'; \t\n\r'), alias);
	END IF;
	RETURN format('%s AS %I', src::regclass, alias);
END
$$;

-- Drift of every input of a model at once, in one scan of the source (a
-- table or view name, or a query), as the caller. Runs without a pinned
-- search_path so that the source resolves as in the caller's own queries;
-- the extension's objects are schema-qualified. extra_float_digits = 3
-- makes the bin edges, written into the query as literals, exact.
CREATE FUNCTION ml_drift(model_name text, source text)
	RETURNS TABLE(feature text, metric text, value float8, p_value float8)
	LANGUAGE plpgsql SET extra_float_digits = 3 AS $$
DECLARE
	info jsonb := @extschema@.ml_model_info(@extschema@.ml_model(model_name));
	src text := ml.from_item(source, 's');
	b record;
	stats jsonb;
	col text;
	args text;
	aggs text[] := ARRAY['count(*)::float8'];
	rows_out text[] := ARRAY['(''*'', ''rows'', r.a1, NULL::float8)'];
	null_metric text;
	j int := 1;
BEGIN
	FOR b IN SELECT d.*, i.stats FROM @extschema@.ml_drift_baseline(@extschema@.ml_model(model_name)) d
			   LEFT JOIN LATERAL (SELECT x->'stats' AS stats FROM jsonb_array_elements(info->'inputs') x
								   WHERE x->>'name' = d.input) i ON true
	LOOP
		stats := b.stats;
		null_metric := 'null_rate';
		IF b.input = '(prediction)' THEN
			-- the model's output on each row of the source, against its holdout's
			-- (NULL for rows it cannot take: their share is "unpredictable");
			-- computed once per row, in a subquery around the source
			src := pg_catalog.format(E'(SELECT s.*, %s AS "(prediction)" FROM %s OFFSET 0) AS s',
				CASE WHEN b.type = 'numeric' THEN format('ml.prediction_if_valid(%L, s)', model_name)
					 WHEN info ? 'classes' THEN format('ml.class_if_valid(%L, s)', model_name)
					 ELSE format('ml.prediction_if_valid(%L, s)::int::text', model_name) END, src);
			col := format('s.%I', b.input);
			stats := jsonb_build_object('min', b.bin_edges[1], 'max', b.bin_edges[cardinality(b.bin_edges)]);
			null_metric := 'unpredictable';
		ELSIF b.type = 'numeric' THEN
			col := format('s.%I::float8', b.input);
		ELSE
			col := format('s.%I::text', b.input);
		END IF;
		IF b.type = 'numeric' THEN
			aggs := aggs || format('count(*) FILTER (WHERE %s IS NULL)::float8 / NULLIF(count(*), 0)', col)
						 || format('count(*) FILTER (WHERE NOT (%s BETWEEN %L AND %L))::float8'
								   ' / NULLIF(count(%s), 0)', col, stats->>'min', stats->>'max', col);
			rows_out := rows_out || format('(%L, %L, r.a%s, NULL::float8)', b.input, null_metric, j + 1)
								 || format('(%L, ''out_of_range'', r.a%s, NULL)', b.input, j + 2);
			j := j + 2;
			IF b.bin_edges IS NOT NULL THEN
				args := format('%s, %L::float8[], %L::float8[]', col, b.bin_edges, b.baseline_counts);
				aggs := aggs || format('@extschema@.ml_psi(%s, %L::float8)', args, b.baseline_n_null)
							 || format('@extschema@.ml_js_divergence(%s, %L::float8)', args, b.baseline_n_null)
							 || format('@extschema@.ml_ks(%s, %L::float8)', args, b.baseline_n_null)
							 || format('@extschema@.ml_chi_square(%s, %L::float8)', args, b.baseline_n_null);
			END IF;
		ELSE
			args := format('%s, %L::text[], %L::float8[]', col, b.levels, b.baseline_counts);
			aggs := aggs || format('count(*) FILTER (WHERE %s IS NULL)::float8 / NULLIF(count(*), 0)', col)
						 || format('count(*) FILTER (WHERE NOT (%s COLLATE "C" = ANY (%L::text[])))::float8'
								   ' / NULLIF(count(%s), 0)', col, b.levels, col)
						 || format('@extschema@.ml_psi(%s, %L::float8)', args, b.baseline_n_null)
						 || format('@extschema@.ml_js_divergence(%s, %L::float8)', args, b.baseline_n_null)
						 || NULL::text
						 || format('@extschema@.ml_chi_square(%s, %L::float8)', args, b.baseline_n_null);
			rows_out := rows_out || format('(%L, %L, r.a%s, NULL::float8)', b.input, null_metric, j + 1)
								 || format('(%L, ''unseen'', r.a%s, NULL)', b.input, j + 2);
			j := j + 2;
		END IF;
		IF b.bin_edges IS NOT NULL OR b.type <> 'numeric' THEN
			rows_out := rows_out || format('(%L, ''psi'', r.a%s, NULL)', b.input, j + 1)
								 || format('(%L, ''js_divergence'', r.a%s, NULL)', b.input, j + 2);
			IF b.type = 'numeric' THEN
				rows_out := rows_out || format('(%L, ''ks'', r.a%s, NULL)', b.input, j + 3);
			END IF;
			rows_out := rows_out || format('(%L, ''chi_square'', r.a%s[1], r.a%s[2])', b.input, j + 4, j + 4);
			j := j + 4;
		END IF;
	END LOOP;
	RETURN QUERY EXECUTE format(
		'SELECT v.* FROM (SELECT %s FROM %s) r, LATERAL (VALUES %s) AS v(feature, metric, value, p_value)',
		(SELECT string_agg(format('%s AS a%s', a, n), ', ' ORDER BY n)
		   FROM unnest(aggs) WITH ORDINALITY AS t(a, n) WHERE a IS NOT NULL),
		src, array_to_string(rows_out, ', '));
END
$$;
COMMENT ON FUNCTION ml_drift(text, text) IS
	'drift of every input of a model (name or address) in the source (table, view or query) against its training baseline, in one scan: the row count (feature "*", metric rows); per input null_rate, out_of_range (numeric, outside the training [min, max]) or unseen (categorical, share of non-NULL values), psi, js_divergence, ks (numeric) and chi_square (with p_value); the same for the model''s output as feature "(prediction)" against its holdout''s, with the share of rows it cannot predict as "unpredictable"; runs the source as the caller';
