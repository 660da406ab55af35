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

-- One scan for ml_drift: every input of the model, binned against its
-- training histogram, and the model's output on each row against its
-- holdout's (see src/drift_scan.c for the layout of the result).
CREATE FUNCTION ml.drift_scan_accum(internal, mlmodel, VARIADIC "any") RETURNS internal
	AS 'MODULE_PATHNAME', 'ml_drift_scan_accum' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION ml.drift_scan_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'ml_drift_scan_combine' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION ml.drift_scan_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME', 'ml_drift_scan_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ml.drift_scan_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'ml_drift_scan_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ml.drift_scan_final(internal) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_drift_scan_final' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE AGGREGATE ml.drift_scan(mlmodel, VARIADIC "any") (
	SFUNC = ml.drift_scan_accum, STYPE = internal, FINALFUNC = ml.drift_scan_final,
	COMBINEFUNC = ml.drift_scan_combine, SERIALFUNC = ml.drift_scan_serialize,
	DESERIALFUNC = ml.drift_scan_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml.drift_scan(mlmodel, VARIADIC "any") IS
	'for ml_drift: the model''s inputs (float8 or text, in its order) binned against their training histograms and its output against its holdout''s, in one pass: {rows, then per input and the prediction: null share, out-of-range or unseen share, psi, js_divergence, ks, chi_square, p-value}';

-- Drift of every input of a model at once, in one scan of the source (a
-- table or view name, or a query), as the caller. Runs without a pinned
-- search_path so that the source resolves as in the caller's own queries;
-- the extension's objects are schema-qualified.
CREATE FUNCTION ml_drift(model_name text, source text)
	RETURNS TABLE(feature text, metric text, value float8, p_value float8)
	LANGUAGE plpgsql AS $$
DECLARE
	model @extschema@.mlmodel := @extschema@.ml_model(model_name);
	b record;
	inputs text[] := '{}';
	rows_out text[] := ARRAY['(''*'', ''rows'', coalesce(r.m[1], 0), NULL::float8)'];
	at int;
BEGIN
	-- the result of ml.drift_scan has the row count, then 7 statistics per
	-- input in the model's order, then the prediction's: n is that position
	FOR b IN SELECT d.*, coalesce(x.n, (SELECT count(*) FROM jsonb_array_elements(info->'inputs')) + 1) AS n
			   FROM @extschema@.ml_drift_baseline(model) d,
					(SELECT @extschema@.ml_model_info(model) AS info) m
					LEFT JOIN LATERAL (SELECT o AS n FROM jsonb_array_elements(m.info->'inputs') WITH ORDINALITY AS e(i, o)
										WHERE e.i->>'name' = d.input) x ON true
			  ORDER BY n
	LOOP
		at := 2 + 7 * (b.n - 1);
		IF b.input <> '(prediction)' THEN
			inputs := inputs || format(CASE WHEN b.type = 'numeric' THEN 's.%I::pg_catalog.float8'
											ELSE 's.%I::pg_catalog.text' END,
									   b.input);
		END IF;
		rows_out := rows_out
			|| format('(%L, %L, r.m[%s], NULL::float8)', b.input,
					  CASE WHEN b.input = '(prediction)' THEN 'unpredictable' ELSE 'null_rate' END, at)
			|| format('(%L, %L, r.m[%s], NULL)', b.input,
					  CASE WHEN b.type = 'numeric' THEN 'out_of_range' ELSE 'unseen' END, at + 1);
		IF b.bin_edges IS NOT NULL OR b.type <> 'numeric' THEN
			rows_out := rows_out || format('(%L, ''psi'', r.m[%s], NULL)', b.input, at + 2)
								 || format('(%L, ''js_divergence'', r.m[%s], NULL)', b.input, at + 3);
			IF b.type = 'numeric' THEN
				rows_out := rows_out || format('(%L, ''ks'', r.m[%s], NULL)', b.input, at + 4);
			END IF;
			rows_out := rows_out || format('(%L, ''chi_square'', r.m[%s], r.m[%s])', b.input, at + 5, at + 6);
		END IF;
	END LOOP;
	RETURN QUERY EXECUTE format(
		'SELECT v.* FROM (SELECT ml.drift_scan($1%s) AS m FROM %s) r, LATERAL (VALUES %s) AS v(feature, metric, value, p_value)',
		(SELECT string_agg(', ' || i, '') FROM unnest(inputs) AS i),
		ml.from_item(source, 's'), array_to_string(rows_out, ', '))
		USING model;
END
$$;
COMMENT ON FUNCTION ml_drift(text, text) IS
	'drift of every input of a model (name or address) in the source (table, view or query) against its training baseline, in one scan: the row count (feature "*", metric rows); per input null_rate, out_of_range (numeric, outside the training [min, max]) or unseen (categorical, share of non-NULL values), psi, js_divergence, ks (numeric) and chi_square (with p_value); the same for the model''s output as feature "(prediction)" against its holdout''s, with the share of rows it cannot predict as "unpredictable"; runs the source as the caller';
