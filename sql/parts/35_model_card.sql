---------------------------------------------------------------- notes and model cards

-- The registry functions above write as the schema owner from C; these two
-- small writers do the same as SECURITY DEFINER with a pinned search_path,
-- and run no SQL text of the caller's.
CREATE FUNCTION ml.version_row(model_name text, version int)
	RETURNS ml.model_versions
	LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	m ml.models;
	v ml.model_versions;
BEGIN
	IF model_name IS NULL THEN
		RAISE EXCEPTION 'model name must not be NULL' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a model name or address such as ''churn'' or ''churn@2''.';
	END IF;
	IF NOT has_table_privilege('ml.models', 'SELECT') THEN
		RAISE EXCEPTION 'permission denied to read model "%" from the registry', model_name
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('Grant the role ml_reader: GRANT ml_reader TO %I;', current_user);
	END IF;
	SELECT * INTO m FROM ml.models WHERE name = model_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'ml.models lists existing models.';
	END IF;
	SELECT * INTO v FROM ml.model_versions mv
	 WHERE mv.model_id = m.model_id AND mv.version = coalesce(version_row.version, m.deployed_version);
	IF NOT FOUND AND version_row.version IS NULL THEN
		RAISE EXCEPTION 'model "%" has no deployed version', model_name
			USING ERRCODE = 'undefined_object',
				  HINT = format('Deploy a version with ml_deploy(%L, version).', model_name);
	ELSIF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" has no version %', model_name, version_row.version
			USING ERRCODE = 'undefined_object',
				  HINT = 'ml.model_versions lists the versions of each model.';
	END IF;
	RETURN v;
END
$$;

CREATE FUNCTION ml_describe(model_name text, description text, version int DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v ml.model_versions;
BEGIN
	IF version IS NULL THEN
		UPDATE ml.models SET description = ml_describe.description WHERE name = model_name;
		IF NOT FOUND THEN
			PERFORM ml.version_row(model_name, NULL);
		END IF;
	ELSE
		v := ml.version_row(model_name, version);
		UPDATE ml.model_versions mv SET description = ml_describe.description
		 WHERE mv.model_id = v.model_id AND mv.version = v.version;
	END IF;
END
$$;
COMMENT ON FUNCTION ml_describe(text, text, int) IS
	'set the description of a model, or of one of its versions; NULL clears it';

CREATE FUNCTION ml_tag(model_name text, tags jsonb, version int DEFAULT NULL)
	RETURNS jsonb
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v ml.model_versions;
	result jsonb;
BEGIN
	IF tags IS NULL OR jsonb_typeof(tags) <> 'object' THEN
		RAISE EXCEPTION 'tags must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass tags like ''{"team": "growth"}''; a null value removes a tag.';
	END IF;
	IF version IS NULL THEN
		UPDATE ml.models m SET tags = jsonb_strip_nulls(m.tags || ml_tag.tags)
		 WHERE name = model_name RETURNING m.tags INTO result;
		IF NOT FOUND THEN
			PERFORM ml.version_row(model_name, NULL);
		END IF;
	ELSE
		v := ml.version_row(model_name, version);
		UPDATE ml.model_versions mv SET tags = jsonb_strip_nulls(mv.tags || ml_tag.tags)
		 WHERE mv.model_id = v.model_id AND mv.version = v.version RETURNING mv.tags INTO result;
	END IF;
	RETURN result;
END
$$;
COMMENT ON FUNCTION ml_tag(text, jsonb, int) IS
	'merge tags into a model''s (or a version''s) tags; a null value removes a tag; returns the tags';

-- Text in a Markdown table cell: a "|" would end the cell, a line break the row.
CREATE FUNCTION ml.markdown_cell(t text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
	RETURN replace(replace(t, '|', '\|'), E'\n', ' ');

-- A model card from the registry, as Markdown: what the model is for, a
-- version's (by default the deployed one's) data, metrics and features, the
-- model's versions and deployment history. It reads the registry as the caller.
CREATE FUNCTION ml_model_card(model_name text, version int DEFAULT NULL) RETURNS text
	LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v ml.model_versions := ml.version_row(model_name, version);
	m ml.models;
	info jsonb := @extschema@.ml_model_info(v.model);
	importance jsonb := coalesce(v.training_info->'importance', @extschema@.ml_importance(v.model));
	aliases text;
BEGIN
	SELECT * INTO m FROM ml.models mm WHERE mm.model_id = v.model_id;
	SELECT string_agg(format('`%s` → %s', a.alias, a.version), ', ' ORDER BY a.alias) INTO aliases
	  FROM ml.aliases a WHERE a.model_id = m.model_id;
	RETURN concat_ws(E'\n',
	format('# Model card: %s', m.name),
	'',
	coalesce(m.description, '_No description: set one with ml_describe()._'),
	'',
	format('- **Owner**: %s, created %s', m.created_by, to_char(m.created_at, 'YYYY-MM-DD HH24:MI TZ')),
	format('- **Version**: %s of %s, %s (`%s`, model kind `%s`)', v.version, m.last_version,
		   CASE WHEN v.version = m.deployed_version THEN 'deployed'
				ELSE 'not deployed (' || coalesce('version ' || m.deployed_version, 'none') || ' is)' END,
		   v.algorithm, info->>'kind'),
	format('- **Aliases**: %s', coalesce(aliases, 'none besides production')),
	CASE WHEN m.tags <> '{}' THEN format('- **Tags**: `%s`', m.tags) END,
	CASE WHEN v.description IS NOT NULL THEN format('- **This version**: %s', v.description) END,
	CASE WHEN v.tags <> '{}' THEN format('- **Version tags**: `%s`', v.tags) END,
	'',
	'## Data',
	'',
	format('- **Source**: %s', coalesce('`' || v.source || '`', 'not recorded (registered model value)')),
	format('- **Target**: %s', coalesce('`' || v.target || '`', 'none')),
	format('- **Rows**: %s for training, %s held out', v.n_train_rows, v.n_test_rows),
	format('- **Trained** by %s on %s in %s s', v.trained_by,
		   to_char(v.trained_at, 'YYYY-MM-DD HH24:MI TZ'), coalesce(v.training_info->>'seconds', '?')),
	format('- **Parameters**: `%s`', v.params - 'impute' - 'scale'),
	'',
	'## Metrics',
	'',
	coalesce((SELECT string_agg(format('- %s: %s%s', e.key, e.value,
									   CASE WHEN e.key LIKE 'cv\_%' THEN ' (mean over cross-validation folds)'
											WHEN v.source IS NULL OR v.n_test_rows = 0 THEN ' (as registered)'
											ELSE ' (holdout)' END),
							   E'\n' ORDER BY e.key)
				FROM jsonb_each(v.metrics) e WHERE jsonb_typeof(e.value) IN ('number', 'null')),
			 '_None: trained without a holdout (test_fraction = 0) or registered without metrics._'),
	'',
	'## Features',
	'',
	CASE WHEN importance IS NOT NULL THEN
		format('Importance: %s.', CASE importance->>'method'
			WHEN 'total_gain' THEN 'share of the total gain of the splits on the feature'
			ELSE '|coefficient| x the training standard deviation' END) END,
	'',
	'| feature | type | importance | missing in training | preprocessing | training distribution |',
	'|---|---|---|---|---|---|',
	(SELECT string_agg(format('| %s | %s | %s | %s | %s | %s |', ml.markdown_cell(f->>'name'), f->>'type',
							  coalesce(round((importance->'importance'->>(f->>'name'))::numeric, 4)::text, ''),
							  coalesce(f->'stats'->>'n_null', '?'),
							  coalesce(nullif(concat_ws(', ',
														CASE WHEN f->>'impute' <> 'error'
															 THEN 'impute ' || (f->>'impute') END,
														CASE WHEN f->>'scale' IS NOT NULL AND f->>'scale' <> 'none'
															 THEN 'scale ' || (f->>'scale') END), ''),
									   'none'),
							  CASE WHEN f->>'type' = 'categorical'
								   THEN format('%s levels', jsonb_array_length(f->'levels'))
								   ELSE format('mean %s, sd %s, %s to %s',
											   round((f->'stats'->>'mean')::numeric, 4),
											   round((f->'stats'->>'stddev')::numeric, 4),
											   f->'stats'->>'min', f->'stats'->>'max') END),
					   E'\n' ORDER BY o)
	   FROM jsonb_array_elements(info->'inputs') WITH ORDINALITY AS x(f, o)),
	'',
	'## Versions',
	'',
	'| version | algorithm | trained | by | rows | metrics |',
	'|---|---|---|---|---|---|',
	(SELECT string_agg(format('| %s%s | %s | %s | %s | %s | `%s` |', mv.version,
							  CASE WHEN mv.version = m.deployed_version THEN ' (deployed)' ELSE '' END,
							  mv.algorithm, to_char(mv.trained_at, 'YYYY-MM-DD HH24:MI'), ml.markdown_cell(mv.trained_by),
							  mv.n_train_rows + mv.n_test_rows, mv.metrics),
					   E'\n' ORDER BY mv.version DESC)
	   FROM ml.model_versions mv WHERE mv.model_id = m.model_id),
	'',
	'## Deployment history',
	'',
	'| when | alias | version | from | by | reason |',
	'|---|---|---|---|---|---|',
	(SELECT string_agg(format('| %s | %s | %s | %s | %s | %s |', to_char(d.deployed_at, 'YYYY-MM-DD HH24:MI'),
							  ml.markdown_cell(d.alias), coalesce(d.version::text, 'removed'),
							  coalesce(d.previous_version::text, ''),
							  ml.markdown_cell(d.deployed_by), ml.markdown_cell(d.reason)),
					   E'\n' ORDER BY d.deployment_id DESC)
	   FROM ml.deployments d WHERE d.model_id = m.model_id));
END
$$;
COMMENT ON FUNCTION ml_model_card(text, int) IS
	'a Markdown model card of the deployed (or a given) version: purpose, data, metrics, features, versions, deployment history';
