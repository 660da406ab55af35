---------------------------------------------------------------- feature tables

-- A feature table is a named, versioned SQL query keyed by an entity column
-- and an event-time column, materialised into ml_features.<name>_v<version>.
-- The functions that run the defining query (create, refresh) are SECURITY
-- INVOKER, so the query never reads more than the caller may SELECT; the
-- materialised table belongs to the caller, like a materialised view to its
-- creator. Only the catalog rows are written as the extension owner, by
-- small SECURITY DEFINER helpers that run no SQL text of the caller's, read
-- no relation the caller controls, and take only values (measured by the
-- caller, for tables the caller owns) or what the system catalogs say.

CREATE SCHEMA ml_features;
COMMENT ON SCHEMA ml_features IS
	'mlsys feature tables: one table <name>_v<version> per feature table version, owned by the role that defined it';
GRANT USAGE ON SCHEMA ml_features TO PUBLIC;

CREATE TABLE ml.feature_tables (
	name text NOT NULL,
	version int NOT NULL CHECK (version > 0),
	-- the materialised table, in schema ml_features: name || '_v' || version
	table_name text NOT NULL,
	query text NOT NULL,
	-- the search_path the query was defined with; refreshes run it with the same
	search_path text NOT NULL,
	entity_column text NOT NULL,
	entity_type text NOT NULL,
	event_time_column text NOT NULL,
	event_time_type text NOT NULL
		CHECK (event_time_type IN ('timestamp with time zone', 'timestamp without time zone', 'date')),
	-- every other column of the query, in column order, with its type
	feature_names text[] NOT NULL,
	feature_types text[] NOT NULL CHECK (cardinality(feature_types) = cardinality(feature_names)),
	owner text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	description text,
	-- the latest event time materialised (NULL: no rows). For a timestamp or
	-- date event-time column, that local time read as UTC, so that no
	-- TimeZone setting can shift it.
	watermark timestamptz,
	last_refresh timestamptz NOT NULL DEFAULT now(),
	row_count bigint NOT NULL,
	-- per feature, at the last refresh: NULL rate, extremes and quartiles
	-- (numbers), number of distinct values (others)
	stats jsonb NOT NULL DEFAULT '{}',
	PRIMARY KEY (name, version)
);
COMMENT ON TABLE ml.feature_tables IS
	'one row per feature table version: defining query, entity and event-time columns, features, owner, watermark, row count';
SELECT pg_catalog.pg_extension_config_dump('ml.feature_tables', '');

-- Data checks: what the features of a feature table (any version) must
-- satisfy, and how each refresh went. Checks: "not_null": true, "min" and
-- "max" (numbers), "in": [allowed values].
CREATE TABLE ml.feature_checks (
	name text NOT NULL,
	feature text NOT NULL,
	checks jsonb NOT NULL CHECK (jsonb_typeof(checks) = 'object'),
	set_by text NOT NULL,
	set_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (name, feature)
);
COMMENT ON TABLE ml.feature_checks IS
	'declared expectations per feature of a feature table: not_null, min, max, in (allowed values)';
CREATE TABLE ml.feature_check_results (
	name text NOT NULL,
	version int NOT NULL,
	checked_at timestamptz NOT NULL DEFAULT now(),
	feature text NOT NULL,
	"check" text NOT NULL,
	rows bigint NOT NULL,
	violations bigint NOT NULL,
	passed boolean NOT NULL
);
CREATE INDEX ON ml.feature_check_results (name, version, checked_at);
COMMENT ON TABLE ml.feature_check_results IS
	'every data check at every refresh of a feature table: rows checked, violations, pass or fail';
SELECT pg_catalog.pg_extension_config_dump('ml.feature_checks', '');
SELECT pg_catalog.pg_extension_config_dump('ml.feature_check_results', '');

-- The watermark in the event-time column's own type, as a query expression
-- over the timestamptz "expr" (see ml.feature_tables.watermark).
CREATE FUNCTION ml.feature_watermark_expr(event_time_type text, expr text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
	RETURN CASE event_time_type
		WHEN 'timestamp with time zone' THEN expr
		WHEN 'date' THEN format('pg_catalog.timezone(''UTC'', %s)::pg_catalog.date', expr)
		ELSE format('pg_catalog.timezone(''UTC'', %s)', expr) END;

-- Whether the session's user is a member of the role owning a feature
-- table ("name_vN" in ml_features): false, never NULL, when it is gone.
CREATE FUNCTION ml.owns_feature_table(table_name text) RETURNS boolean
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
	RETURN coalesce((SELECT pg_has_role(session_user, c.relowner, 'MEMBER') FROM pg_class c
					  WHERE c.oid = to_regclass(format('ml_features.%I', table_name))), false);

-- Record a version's row count and watermark, as the extension owner:
-- values only, measured by the caller (ml.feature_table_measure), and only
-- for a version whose table the caller owns.
CREATE FUNCTION ml.feature_table_refreshed(ft_name text, ft_version int, row_count bigint, watermark timestamptz)
	RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ft ml.feature_tables;
BEGIN
	SELECT * INTO ft FROM ml.feature_tables WHERE name = ft_name AND version = ft_version FOR UPDATE;
	IF NOT FOUND OR NOT ml.owns_feature_table(ft.table_name) THEN
		RAISE EXCEPTION 'permission denied to record a refresh of feature table "%" version %', ft_name, ft_version
			USING ERRCODE = 'insufficient_privilege', HINT = 'Refreshes are recorded by refreshing as the owner.';
	END IF;
	UPDATE ml.feature_tables f SET row_count = feature_table_refreshed.row_count,
		   watermark = feature_table_refreshed.watermark, last_refresh = now()
	 WHERE f.name = ft_name AND f.version = ft_version;
END
$$;
COMMENT ON FUNCTION ml.feature_table_refreshed(text, int, bigint, timestamptz) IS
	'internal: record a feature table version''s row count, watermark and refresh time, measured by its owner';

-- Count a version's rows and find its watermark, as the caller (reading the
-- table runs nothing of anyone else's), and record them.
CREATE FUNCTION ml.feature_table_measure(ft_name text, ft_version int) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ft ml.feature_tables;
	n bigint;
	wm timestamptz;
BEGIN
	SELECT * INTO STRICT ft FROM ml.feature_tables WHERE name = ft_name AND version = ft_version;
	EXECUTE format('SELECT count(*), %s FROM ml_features.%I',
				   CASE ft.event_time_type
						WHEN 'timestamp with time zone' THEN format('max(%I)', ft.event_time_column)
						ELSE format('timezone(''UTC'', max(%I)::timestamp)', ft.event_time_column) END,
				   ft.table_name)
		INTO n, wm;
	PERFORM ml.feature_table_refreshed(ft_name, ft_version, n, wm);
END
$$;

-- Register the next version of a feature table, whose table the caller has
-- just created and loaded. Everything recorded about the table (owner,
-- columns, types) comes from the system catalogs, not from the arguments;
-- the query and search_path are stored as text, never run here.
CREATE FUNCTION ml.feature_table_register(ft_name text, query text, query_search_path text,
										  entity_column text, event_time_column text,
										  description text)
	RETURNS int
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	prev ml.feature_tables;
	prev_owner oid;
	ver int;
	tbl text;
	rel oid;
	rel_owner oid;
	ent_type text;
	et_type text;
	names text[];
	types text[];
BEGIN
	SELECT * INTO prev FROM ml.feature_tables WHERE name = ft_name ORDER BY version DESC LIMIT 1;
	ver := coalesce(prev.version, 0) + 1;
	tbl := ft_name || '_v' || ver;
	SELECT c.oid, c.relowner INTO rel, rel_owner
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'ml_features' AND c.relname = tbl AND c.relkind = 'r';
	IF rel IS NULL THEN
		RAISE EXCEPTION 'table ml_features.% does not exist', tbl
			USING ERRCODE = 'undefined_table',
				  HINT = 'Define feature tables with ml_create_feature_table().';
	END IF;
	IF prev.name IS NOT NULL THEN
		SELECT c.relowner INTO prev_owner
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = 'ml_features' AND c.relname = prev.table_name;
		prev_owner := coalesce(prev_owner, to_regrole(quote_ident(prev.owner)));
		IF prev_owner IS NOT NULL AND NOT pg_has_role(rel_owner, prev_owner, 'MEMBER') THEN
			RAISE EXCEPTION 'permission denied to define a new version of feature table "%"', ft_name
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = format('Version %s belongs to role %s.', prev.version, prev_owner::regrole),
					  HINT = 'Define it as that role (SET ROLE), or choose another name.';
		END IF;
	END IF;
	SELECT format_type(a.atttypid, a.atttypmod) INTO ent_type
	  FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = entity_column AND NOT a.attisdropped AND a.attnum > 0;
	SELECT format_type(a.atttypid, NULL) INTO et_type
	  FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = event_time_column AND NOT a.attisdropped AND a.attnum > 0;
	IF ent_type IS NULL OR et_type IS NULL
	   OR et_type NOT IN ('timestamp with time zone', 'timestamp without time zone', 'date') THEN
		RAISE EXCEPTION 'table ml_features.% has no entity column "%" and event-time column "%"',
			tbl, entity_column, event_time_column
			USING ERRCODE = 'undefined_column',
				  HINT = 'The event-time column must be a date or timestamp column of the table.';
	END IF;
	SELECT array_agg(a.attname::text ORDER BY a.attnum), array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
	  INTO names, types
	  FROM pg_attribute a
	 WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
	   AND a.attname NOT IN (entity_column, event_time_column);
	INSERT INTO ml.feature_tables (name, version, table_name, query, search_path, entity_column, entity_type,
								   event_time_column, event_time_type, feature_names, feature_types,
								   owner, description, row_count)
	VALUES (ft_name, ver, tbl, query, query_search_path, entity_column, ent_type,
			event_time_column, et_type, coalesce(names, '{}'), coalesce(types, '{}'),
			rel_owner::regrole::text, description, 0);
	RETURN ver;
END
$$;
COMMENT ON FUNCTION ml.feature_table_register(text, text, text, text, text, text) IS
	'internal: record the next version of a feature table whose table ml_features.<name>_v<version> exists';

-- A feature table version by address ("name": the latest version,
-- "name@3": version 3), read from the catalog as the caller.
CREATE FUNCTION ml.feature_table_resolve(address text) RETURNS ml.feature_tables
	LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ft ml.feature_tables;
	ft_name text := address;
	ver int;
BEGIN
	IF address IS NULL THEN
		RAISE EXCEPTION 'feature table name must not be NULL' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Pass a feature table name, or name@version.';
	END IF;
	IF NOT has_table_privilege('ml.feature_tables', 'SELECT') THEN
		RAISE EXCEPTION 'permission denied to read feature table "%" from the catalog', address
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('Grant the role ml_reader: GRANT ml_reader TO %I;', current_user);
	END IF;
	IF address ~ '@[0-9]{1,9}$' THEN
		ft_name := regexp_replace(address, '@[0-9]+$', '');
		ver := substring(address FROM '@([0-9]+)$')::int;
	END IF;
	SELECT * INTO ft FROM ml.feature_tables f
	 WHERE f.name = ft_name AND (ver IS NULL OR f.version = ver)
	 ORDER BY f.version DESC LIMIT 1;
	IF NOT FOUND THEN
		IF ver IS NOT NULL AND EXISTS (SELECT FROM ml.feature_tables f WHERE f.name = ft_name) THEN
			RAISE EXCEPTION 'feature table "%" has no version %', ft_name, ver
				USING ERRCODE = 'undefined_object',
					  HINT = 'ml.feature_catalog lists the versions of each feature table.';
		END IF;
		RAISE EXCEPTION 'feature table "%" does not exist', ft_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'ml.feature_catalog lists the feature tables; create one with ml_create_feature_table().';
	END IF;
	IF to_regclass(format('ml_features.%I', ft.table_name)) IS NULL THEN
		RAISE EXCEPTION 'table ml_features.% of feature table "%" version % does not exist',
			ft.table_name, ft.name, ft.version
			USING ERRCODE = 'undefined_table',
				  HINT = 'The table was dropped: define the feature table again, or delete its row from ml.feature_tables.';
	END IF;
	RETURN ft;
END
$$;
COMMENT ON FUNCTION ml.feature_table_resolve(text) IS
	'internal: the catalog row of a feature table address ("name" for the latest version, "name@3")';

-- The view ml_features.<name>_latest on the latest version's table, the
-- stable name online serving reads (a new version replaces the view, and so
-- invalidates plans on it; replaced in place while the columns allow, which
-- keeps its grants); NULL table: no version left, no view. Run as the
-- caller, who owns the tables.
CREATE FUNCTION ml.feature_table_point_latest(ft_name text, tbl text) RETURNS void
	LANGUAGE plpgsql AS $$
DECLARE
	latest text := ft_name || '_latest';
BEGIN
	IF tbl IS NOT NULL THEN
		BEGIN
			EXECUTE pg_catalog.format('CREATE OR REPLACE VIEW ml_features.%I AS SELECT * FROM ml_features.%I',
									  latest, tbl);
			RETURN;
		EXCEPTION WHEN invalid_table_definition OR datatype_mismatch OR feature_not_supported THEN
			NULL;	/* other columns: drop and create */
		END;
	END IF;
	IF pg_catalog.to_regclass(pg_catalog.format('ml_features.%I', latest)) IS NOT NULL THEN
		EXECUTE pg_catalog.format('DROP VIEW ml_features.%I', latest);
	END IF;
	IF tbl IS NOT NULL THEN
		EXECUTE pg_catalog.format('CREATE VIEW ml_features.%I AS SELECT * FROM ml_features.%I', latest, tbl);
	END IF;
END
$$;
COMMENT ON FUNCTION ml.feature_table_point_latest(text, text) IS
	'internal: point the view ml_features.<name>_latest at a feature table version''s table';

-- The defining query as a subquery: trailing semicolons and white space
-- removed, the closing parenthesis on its own line (a trailing -- comment).
CREATE FUNCTION ml.feature_subquery(query text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
	RETURN format(E'(%s\n)', regexp_replace(query, '[[:space:];]+$', ''));

-- Profile a feature table version as the caller (its owner), in one scan:
-- per feature the NULL rate, extremes and quartiles of numbers, the number
-- of distinct values of others, and the declared data checks; then
-- record them (ml.feature_table_record_profile). A failed check is a
-- WARNING and a row in ml.feature_check_results, its rows stay.
CREATE FUNCTION ml.feature_table_profile(ft ml.feature_tables) RETURNS void
	LANGUAGE plpgsql AS $$
DECLARE
	aggs text[] := ARRAY['pg_catalog.count(*)::text'];
	checks text[] := '{}';
	names text[] := '{}';
	c record;
	k text;
	v jsonb;
	col text;
	row_vals jsonb;
	stats jsonb := '{}';
	results jsonb := '[]';
	numeric_type boolean;
	n bigint;
BEGIN
	FOR i IN 1 .. pg_catalog.cardinality(ft.feature_names) LOOP
		col := pg_catalog.format('f.%I', ft.feature_names[i]);
		numeric_type := ft.feature_types[i] ~ '^(smallint|integer|bigint|numeric|real|double precision)';
		aggs := aggs || pg_catalog.format('pg_catalog.count(%s)::text', col);
		IF numeric_type THEN
			aggs := aggs || pg_catalog.format('pg_catalog.jsonb_build_object(''min'', pg_catalog.min(%1$s), ''max'', pg_catalog.max(%1$s),'
											  ' ''quartiles'', pg_catalog.percentile_cont(''{0.25,0.5,0.75}''::float8[])'
											  ' WITHIN GROUP (ORDER BY %1$s::float8))::text', col);
		ELSE
			aggs := aggs || pg_catalog.format('pg_catalog.jsonb_build_object(''distinct'', pg_catalog.count(DISTINCT %1$s::text))::text', col);
		END IF;
		FOR c IN SELECT * FROM ml.feature_checks fc WHERE fc.name = ft.name AND fc.feature = ft.feature_names[i] LOOP
			FOR k, v IN SELECT * FROM pg_catalog.jsonb_each(c.checks) LOOP
				checks := checks || pg_catalog.format('(pg_catalog.count(*) FILTER (WHERE %s))::text',
					CASE k WHEN 'not_null' THEN pg_catalog.format('%s IS NULL AND %L', col, v::text::boolean)
						   WHEN 'min' THEN pg_catalog.format('%s < %L', col, v #>> '{}')
						   WHEN 'max' THEN pg_catalog.format('%s > %L', col, v #>> '{}')
						   WHEN 'in' THEN pg_catalog.format('NOT %s::text = ANY (%L::text[])', col,
									ARRAY(SELECT pg_catalog.jsonb_array_elements_text(v))) END);
				names := names || ARRAY[ft.feature_names[i], k];
			END LOOP;
		END LOOP;
	END LOOP;
	EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(ARRAY[%s]::text[]) FROM ml_features.%I AS f',
							  pg_catalog.array_to_string(aggs || checks, ', '), ft.table_name)
		INTO row_vals;
	n := (row_vals->>0)::bigint;
	FOR i IN 1 .. pg_catalog.cardinality(ft.feature_names) LOOP
		stats := stats || pg_catalog.jsonb_build_object(ft.feature_names[i],
			(row_vals->>(2 * i))::jsonb || pg_catalog.jsonb_build_object(
				'null_rate', CASE WHEN n > 0 THEN 1 - (row_vals->>(2 * i - 1))::float8 / n END));
	END LOOP;
	FOR i IN 1 .. pg_catalog.cardinality(names) / 2 LOOP
		results := results || pg_catalog.jsonb_build_object(
			'feature', names[2 * i - 1], 'check', names[2 * i], 'rows', n,
			'violations', (row_vals->>(2 * pg_catalog.cardinality(ft.feature_names) + i))::bigint);
	END LOOP;
	PERFORM ml.feature_table_record_profile(ft.name, ft.version, stats, results);
END
$$;
COMMENT ON FUNCTION ml.feature_table_profile(ml.feature_tables) IS
	'internal: per-feature statistics and data checks of a feature table version, computed as the caller';

-- Record a profile: values only, and only for a feature table version the
-- caller owns (the data checks warn here).
CREATE FUNCTION ml.feature_table_record_profile(ft_name text, ft_version int, stats jsonb, results jsonb)
	RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ft ml.feature_tables;
	r record;
BEGIN
	SELECT * INTO ft FROM ml.feature_tables WHERE name = ft_name AND version = ft_version;
	IF NOT FOUND OR NOT ml.owns_feature_table(ft.table_name) THEN
		RAISE EXCEPTION 'permission denied to record the profile of feature table "%" version %', ft_name, ft_version
			USING ERRCODE = 'insufficient_privilege', HINT = 'Profiles are recorded by refreshing as the owner.';
	END IF;
	UPDATE ml.feature_tables SET stats = feature_table_record_profile.stats
	 WHERE name = ft_name AND version = ft_version;
	FOR r IN SELECT x->>'feature' AS feature, x->>'check' AS chk, (x->>'rows')::bigint AS n,
					(x->>'violations')::bigint AS bad
			   FROM jsonb_array_elements(results) x LOOP
		INSERT INTO ml.feature_check_results (name, version, feature, "check", rows, violations, passed)
		VALUES (ft_name, ft_version, r.feature, r.chk, r.n, r.bad, r.bad = 0);
		IF r.bad > 0 THEN
			RAISE WARNING 'feature table "%": % of % rows fail check "%" of feature "%"',
				ft_name, r.bad, r.n, r.chk, r.feature;
		END IF;
	END LOOP;
END
$$;

-- Declare the data checks of a feature table's features (replacing those
-- of each feature named), and run them on the latest version now.
CREATE FUNCTION ml_set_feature_checks(feature_table text, checks jsonb) RETURNS void
	LANGUAGE plpgsql AS $$
DECLARE
	ft ml.feature_tables := ml.feature_table_resolve(feature_table);
BEGIN
	PERFORM ml.feature_table_set_checks(ft.name, checks);
	PERFORM ml.feature_table_profile(ml.feature_table_resolve(feature_table));
END
$$;
COMMENT ON FUNCTION ml_set_feature_checks(text, jsonb) IS
	'declare data checks per feature (not_null, min, max, in), run at every refresh; runs them now';

-- (checked here, where they are written: the profile builds SQL from them)
CREATE FUNCTION ml.feature_table_set_checks(ft_name text, checks jsonb) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ft ml.feature_tables;
	f text;
	c jsonb;
	k text;
	v jsonb;
BEGIN
	SELECT * INTO ft FROM ml.feature_tables t WHERE t.name = ft_name ORDER BY t.version DESC LIMIT 1;
	IF NOT FOUND OR NOT ml.owns_feature_table(ft.table_name) THEN
		RAISE EXCEPTION 'permission denied to set the checks of feature table "%"', ft_name
			USING ERRCODE = 'insufficient_privilege', HINT = 'Only the owner of its latest version may.';
	END IF;
	IF checks IS NULL OR jsonb_typeof(checks) <> 'object' THEN
		RAISE EXCEPTION 'checks must be a JSON object of features'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass checks like ''{"amount": {"not_null": true, "min": 0}, "channel": {"in": ["web", "shop"]}}''.';
	END IF;
	FOR f, c IN SELECT * FROM jsonb_each(checks) LOOP
		IF NOT f = ANY (ft.feature_names) THEN
			RAISE EXCEPTION 'feature table "%" has no feature "%"', ft.name, f
				USING ERRCODE = 'undefined_column', HINT = 'ml.feature_catalog lists its features.';
		END IF;
		IF jsonb_typeof(c) <> 'object' THEN
			RAISE EXCEPTION 'the checks of feature "%" must be a JSON object', f
				USING ERRCODE = 'invalid_parameter_value', HINT = 'For example {"not_null": true, "max": 100}.';
		END IF;
		FOR k, v IN SELECT * FROM jsonb_each(c) LOOP
			IF NOT ((k = 'not_null' AND jsonb_typeof(v) = 'boolean')
					OR (k IN ('min', 'max') AND jsonb_typeof(v) = 'number'
						AND ft.feature_types[array_position(ft.feature_names, f)]
							~ '^(smallint|integer|bigint|numeric|real|double precision)')
					OR (k = 'in' AND jsonb_typeof(v) = 'array')) THEN
				RAISE EXCEPTION 'invalid check "%" of feature "%": %', k, f, v
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'Checks are "not_null": true|false, "min" and "max": a number (numeric features), "in": [values].';
			END IF;
		END LOOP;
	END LOOP;
	INSERT INTO ml.feature_checks (name, feature, checks, set_by)
	SELECT ft_name, e.key, e.value, session_user FROM jsonb_each(checks) e
	ON CONFLICT (name, feature) DO UPDATE SET checks = EXCLUDED.checks, set_by = EXCLUDED.set_by,
											  set_at = now();
END
$$;

-- No SET search_path: the caller's query resolves names as the caller
-- expects. Every name of ours below is schema-qualified.
CREATE FUNCTION ml_create_feature_table(name text, query text, entity_column text,
										event_time_column text, description text DEFAULT NULL)
	RETURNS int
	LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	prev ml.feature_tables;
	prev_owner oid;
	ver int;
	tbl text;
	rel oid;
	cols text;
	et_type text;
	n bigint;
BEGIN
	IF name IS NULL OR query IS NULL OR entity_column IS NULL OR event_time_column IS NULL THEN
		RAISE EXCEPTION 'feature table name, query, entity column and event-time column must not be NULL'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass all four; the description may be NULL.';
	END IF;
	IF name !~ '^[a-z][a-z0-9_]{0,39}$' THEN
		RAISE EXCEPTION 'invalid feature table name "%"', name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A feature table name is 1 to 40 lower-case ASCII letters, digits and underscores, starting with a letter.',
				  HINT = 'For example ''customer_spend''.';
	END IF;
	IF entity_column = event_time_column THEN
		RAISE EXCEPTION 'the entity column and the event-time column must differ'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Name the key column first, then the time column.';
	END IF;
	SELECT * INTO prev FROM ml.feature_tables f WHERE f.name = ml_create_feature_table.name
	 ORDER BY f.version DESC LIMIT 1;
	IF FOUND THEN
		prev_owner := (SELECT c.relowner FROM pg_catalog.pg_class c
						WHERE c.oid = pg_catalog.to_regclass(pg_catalog.format('ml_features.%I', prev.table_name)));
		IF prev_owner IS NOT NULL AND NOT pg_catalog.pg_has_role(prev_owner, 'MEMBER') THEN
			RAISE EXCEPTION 'permission denied to define a new version of feature table "%"', name
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = pg_catalog.format('Version %s belongs to role %s.', prev.version, prev_owner::pg_catalog.regrole),
					  HINT = 'Only members of the role that owns the latest version may define the next one.';
		END IF;
	END IF;
	ver := coalesce(prev.version, 0) + 1;
	tbl := name || '_v' || ver;

	-- The columns and types of the query's output, without running it.
	EXECUTE pg_catalog.format('CREATE TABLE ml_features.%I AS SELECT * FROM %s AS q WITH NO DATA',
							  tbl, ml.feature_subquery(query));
	rel := pg_catalog.to_regclass(pg_catalog.format('ml_features.%I', tbl));
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod),
								 ', ' ORDER BY a.attnum)
	  INTO cols FROM pg_catalog.pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = rel AND a.attname = entity_column AND a.attnum > 0 AND NOT a.attisdropped) THEN
		RAISE EXCEPTION 'entity column "%" does not exist in the query', entity_column
			USING ERRCODE = 'undefined_column',
				  DETAIL = pg_catalog.format('The query returns the columns %s.', cols),
				  HINT = 'Column names are matched exactly, including case.';
	END IF;
	SELECT pg_catalog.format_type(a.atttypid, NULL) INTO et_type FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = rel AND a.attname = event_time_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF et_type IS NULL THEN
		RAISE EXCEPTION 'event-time column "%" does not exist in the query', event_time_column
			USING ERRCODE = 'undefined_column',
				  DETAIL = pg_catalog.format('The query returns the columns %s.', cols),
				  HINT = 'Column names are matched exactly, including case.';
	END IF;
	IF et_type NOT IN ('timestamp with time zone', 'timestamp without time zone', 'date') THEN
		RAISE EXCEPTION 'event-time column "%" has type %, not a timestamp', event_time_column, et_type
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'The event-time column must be timestamptz, timestamp or date: convert it in the query, e.g. to_timestamp(epoch_seconds) AS event_time.';
	END IF;
	IF (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped) < 3 THEN
		RAISE EXCEPTION 'the query of feature table "%" has no feature columns', name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Return at least one column besides the entity and event-time columns.';
	END IF;

	-- Load it, as the caller. Rows without an entity or an event time could
	-- never be matched by a training set and are not kept.
	EXECUTE pg_catalog.format('INSERT INTO ml_features.%I SELECT * FROM %s AS q WHERE q.%I IS NOT NULL AND q.%I IS NOT NULL',
							  tbl, ml.feature_subquery(query), entity_column, event_time_column);
	GET DIAGNOSTICS n = ROW_COUNT;
	EXECUTE pg_catalog.format('CREATE INDEX ON ml_features.%I (%I, %I)', tbl, entity_column, event_time_column);
	EXECUTE pg_catalog.format('ANALYZE ml_features.%I', tbl);
	IF ml.feature_table_register(name, query, pg_catalog.current_setting('search_path'),
								 entity_column, event_time_column, description) <> ver THEN
		RAISE EXCEPTION 'feature table "%" was redefined concurrently', name
			USING ERRCODE = 'serialization_failure', HINT = 'Try again.';
	END IF;
	PERFORM ml.feature_table_measure(name, ver);
	PERFORM ml.feature_table_point_latest(name, tbl);
	PERFORM ml.feature_table_profile(ml.feature_table_resolve(name || '@' || ver));
	RETURN ver;
END
$$;
COMMENT ON FUNCTION ml_create_feature_table(text, text, text, text, text) IS
	'define (or redefine: next version) a feature table and materialise its query, as the caller, into ml_features.<name>_v<version>; returns the version';

CREATE FUNCTION ml_refresh_feature_table(name text, "full" boolean DEFAULT false) RETURNS bigint
	LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	ft ml.feature_tables := ml.feature_table_resolve(name);
	caller_path text := pg_catalog.current_setting('search_path');
	n bigint;
BEGIN
	IF "full" IS NULL THEN
		RAISE EXCEPTION 'full must not be NULL' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Pass true to reload all rows, false (the default) for the new ones.';
	END IF;
	-- The query is SQL the table's owner wrote: run it with no one else's privileges.
	IF (SELECT c.relowner FROM pg_catalog.pg_class c
		 WHERE c.oid = pg_catalog.format('ml_features.%I', ft.table_name)::pg_catalog.regclass)
	   IS DISTINCT FROM (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
		RAISE EXCEPTION 'feature table "%" belongs to another role', ft.name
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Its query runs with the privileges of whoever refreshes it: refresh it as its owner (SET ROLE).';
	END IF;
	-- One refresh of a table at a time (readers are not blocked by an
	-- incremental refresh); then read the watermark the last one left.
	EXECUTE pg_catalog.format('LOCK TABLE ml_features.%I IN %s MODE', ft.table_name,
							  CASE WHEN "full" THEN 'ACCESS EXCLUSIVE' ELSE 'SHARE ROW EXCLUSIVE' END);
	ft := ml.feature_table_resolve(ft.name || '@' || ft.version);
	-- The query resolves names as when it was defined.
	PERFORM pg_catalog.set_config('search_path', ft.search_path, true);
	IF "full" THEN
		EXECUTE pg_catalog.format('TRUNCATE ml_features.%I', ft.table_name);
	END IF;
	EXECUTE pg_catalog.format('INSERT INTO ml_features.%I SELECT * FROM %s AS q WHERE q.%I IS NOT NULL AND q.%I IS NOT NULL%s',
							  ft.table_name, ml.feature_subquery(ft.query), ft.entity_column, ft.event_time_column,
							  CASE WHEN NOT "full" AND ft.watermark IS NOT NULL
								   THEN pg_catalog.format(' AND q.%I > %s', ft.event_time_column,
														  ml.feature_watermark_expr(ft.event_time_type, '$1')) END)
		USING ft.watermark;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	IF "full" THEN
		EXECUTE pg_catalog.format('ANALYZE ml_features.%I', ft.table_name);
	END IF;
	PERFORM ml.feature_table_measure(ft.name, ft.version);
	PERFORM ml.feature_table_profile(ml.feature_table_resolve(ft.name || '@' || ft.version));
	RETURN n;
END
$$;
COMMENT ON FUNCTION ml_refresh_feature_table(text, boolean) IS
	'load the rows of a feature table''s query newer than its watermark (full: reload all), as the caller; returns the rows added';

-- The SQL text of a point-in-time correct training set: every label row,
-- and for each feature table the features of the entity's latest row with
-- event time <= the label's time (and >= time - ttl), as
-- "<feature table>__<feature>". One index probe per label and table, the
-- labels taken in (entity, time) order.
CREATE FUNCTION ml_training_set(label_source text, entity_column text, time_column text,
								feature_tables text[], ttl interval DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql STABLE SET intervalstyle = 'postgres' AS $$
DECLARE
	src text;
	rel oid;
	label_time_type text;
	ft ml.feature_tables;
	seen text[] := '{}';
	sel text := 'l.*';
	joins text := '';
	alias text;
	i int := 0;
	sql text;
BEGIN
	IF label_source IS NULL OR entity_column IS NULL OR time_column IS NULL THEN
		RAISE EXCEPTION 'label source, entity column and time column must not be NULL'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the labels'' table or query and its entity and time columns.';
	END IF;
	IF feature_tables IS NULL OR pg_catalog.cardinality(feature_tables) = 0 THEN
		RAISE EXCEPTION 'no feature tables given'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass the feature tables as an array, e.g. ARRAY[''customer_spend''].';
	END IF;
	IF ttl < '0'::interval THEN
		RAISE EXCEPTION 'ttl must not be negative' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Pass how old a feature may be, such as ''30 days'', or NULL for no limit.';
	END IF;

	-- A query or a relation name, as for ml_train's source.
	IF label_source ~* '^\s*(\(|(select|with|values|table)\M)' THEN
		src := ml.feature_subquery(label_source);
	ELSE
		BEGIN
			rel := pg_catalog.to_regclass(label_source);
		EXCEPTION WHEN OTHERS THEN
			RAISE EXCEPTION 'label source "%" is neither a table name nor a query', label_source
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Pass a table or view name, or a query starting with SELECT, WITH, VALUES or TABLE.';
		END;
		IF rel IS NULL THEN
			RAISE EXCEPTION 'relation "%" does not exist', label_source
				USING ERRCODE = 'undefined_table', HINT = 'Check the name and the search_path, or pass a query.';
		END IF;
		SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO src
		  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
	END IF;
	-- The label columns' existence and types, without running the query.
	BEGIN
		EXECUTE pg_catalog.format('SELECT pg_catalog.pg_typeof((SELECT l.%I FROM %s AS l LIMIT 0))', entity_column, src);
	EXCEPTION WHEN undefined_column THEN
		RAISE EXCEPTION 'entity column "%" does not exist in the label source', entity_column
			USING ERRCODE = 'undefined_column', HINT = 'Column names are matched exactly, including case.';
	END;
	BEGIN
		EXECUTE pg_catalog.format('SELECT pg_catalog.format_type(pg_catalog.pg_typeof((SELECT l.%I FROM %s AS l LIMIT 0)), NULL)',
								  time_column, src)
			INTO label_time_type;
	EXCEPTION WHEN undefined_column THEN
		RAISE EXCEPTION 'time column "%" does not exist in the label source', time_column
			USING ERRCODE = 'undefined_column', HINT = 'Column names are matched exactly, including case.';
	END;
	IF label_time_type NOT IN ('timestamp with time zone', 'timestamp without time zone', 'date') THEN
		RAISE EXCEPTION 'time column "%" of the label source has type %, not a timestamp', time_column, label_time_type
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'The time column must be timestamptz, timestamp or date.';
	END IF;

	FOREACH alias IN ARRAY feature_tables LOOP
		ft := ml.feature_table_resolve(alias);
		IF ft.name = ANY (seen) THEN
			RAISE EXCEPTION 'feature table "%" is listed twice', ft.name
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Its features are named after the feature table, not the version: list each feature table once.';
		END IF;
		seen := seen || ft.name;
		i := i + 1;
		FOR j IN 1 .. pg_catalog.cardinality(ft.feature_names) LOOP
			IF pg_catalog.octet_length(ft.name || '__' || ft.feature_names[j]) > 63 THEN
				RAISE EXCEPTION 'column name "%" would be longer than 63 bytes', ft.name || '__' || ft.feature_names[j]
					USING ERRCODE = 'program_limit_exceeded',
						  HINT = 'Use shorter feature table or feature column names.';
			END IF;
			sel := sel || pg_catalog.format(E',\n       f%s.%I AS %I', i, ft.feature_names[j], ft.name || '__' || ft.feature_names[j]);
		END LOOP;
		joins := joins || pg_catalog.format(
			E'\n  LEFT JOIN LATERAL (SELECT %s\n                       FROM ml_features.%I AS f\n'
			 '                      WHERE f.%I = l.%I AND f.%I <= l.%I%s\n'
			 '                      ORDER BY f.%I DESC LIMIT 1) AS f%s ON true',
			(SELECT pg_catalog.string_agg(pg_catalog.format('f.%I', c), ', ') FROM pg_catalog.unnest(ft.feature_names) c),
			ft.table_name, ft.entity_column, entity_column, ft.event_time_column, time_column,
			CASE WHEN ttl IS NOT NULL
				 THEN pg_catalog.format(' AND f.%I >= l.%I - %L::interval', ft.event_time_column, time_column, ttl) END,
			ft.event_time_column, i);
	END LOOP;
	-- Labels in (entity, time) order: the index probes then walk each feature
	-- table's index in order (about 3x faster on 1M labels than in the
	-- labels' own order, test/bench/features.sh); rows come out in that order.
	sql := pg_catalog.format(E'SELECT %s\n  FROM (SELECT * FROM %s AS l0 ORDER BY l0.%I, l0.%I) AS l%s',
							 sel, src, entity_column, time_column, joins);
	-- Plan it once (running nothing) so that a type mismatch between the
	-- label and feature columns shows now.
	EXECUTE pg_catalog.format(E'SELECT FROM (%s\n) AS s LIMIT 0', sql);
	RETURN sql;
END
$$;
COMMENT ON FUNCTION ml_training_set(text, text, text, text[], interval) IS
	'the SQL of a point-in-time correct training set: each label row with the latest features at or before its time (within ttl), as <feature table>__<feature>';

-- Drop a version of a feature table, or all of them (version NULL): the
-- tables as the caller (their owner), then the catalog rows of versions whose
-- table is gone. Dropping the latest version moves the _latest view to the
-- one before.
CREATE FUNCTION ml_drop_feature_table(name text, version int DEFAULT NULL) RETURNS int
	LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	ft ml.feature_tables;
	dropped int := 0;
	latest ml.feature_tables;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'feature table name must not be NULL' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'ml.feature_catalog lists the feature tables.';
	END IF;
	-- (the catalog rows decide: a table dropped by hand is no obstacle)
	IF NOT EXISTS (SELECT FROM ml.feature_tables f WHERE f.name = ml_drop_feature_table.name
					 AND (ml_drop_feature_table.version IS NULL OR f.version = ml_drop_feature_table.version)) THEN
		PERFORM ml.feature_table_resolve(CASE WHEN version IS NULL THEN name ELSE name || '@' || version END);
	END IF;
	PERFORM ml.feature_table_point_latest(name, NULL);
	FOR ft IN SELECT * FROM ml.feature_tables f
			   WHERE f.name = ml_drop_feature_table.name
				 AND (ml_drop_feature_table.version IS NULL OR f.version = ml_drop_feature_table.version)
	LOOP
		EXECUTE pg_catalog.format('DROP TABLE IF EXISTS ml_features.%I', ft.table_name);
		dropped := dropped + 1;
	END LOOP;
	PERFORM ml.feature_table_forget(name);
	SELECT * INTO latest FROM ml.feature_tables f WHERE f.name = ml_drop_feature_table.name
	 ORDER BY f.version DESC LIMIT 1;
	IF FOUND THEN
		PERFORM ml.feature_table_point_latest(name, latest.table_name);
	END IF;
	RETURN dropped;
END
$$;
COMMENT ON FUNCTION ml_drop_feature_table(text, int) IS
	'drop a version of a feature table, or every version (NULL): its tables (as their owner) and catalog rows; returns how many';

-- Forget the catalog rows of a feature table's versions whose table is gone
-- (dropped by their owner): nothing of the caller's is run.
CREATE FUNCTION ml.feature_table_forget(ft_name text) RETURNS void
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	DELETE FROM ml.feature_tables f
	 WHERE f.name = ft_name AND to_regclass(format('ml_features.%I', f.table_name)) IS NULL
$$;

-- Online serving: the latest row of one entity, as jsonb (its event time
-- included), read as the caller with one indexed look-up; NULL if none.
CREATE FUNCTION ml_online_features(feature_table text, entity text) RETURNS jsonb
	LANGUAGE plpgsql STABLE AS $$
DECLARE
	ft ml.feature_tables := ml.feature_table_resolve(feature_table);
	result jsonb;
BEGIN
	EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(f) FROM ml_features.%I AS f WHERE f.%I = $1::%s'
							  ' ORDER BY f.%I DESC LIMIT 1',
							  ft.table_name, ft.entity_column, ft.entity_type, ft.event_time_column)
		INTO result USING entity;
	RETURN result;
END
$$;
CREATE FUNCTION ml_online_features(feature_table text, entity bigint) RETURNS jsonb
	LANGUAGE sql STABLE RETURN @extschema@.ml_online_features(feature_table, entity::text);
COMMENT ON FUNCTION ml_online_features(text, text) IS
	'the latest features of one entity in a feature table (name, or name@version) as jsonb';
COMMENT ON FUNCTION ml_online_features(text, bigint) IS
	'the latest features of one entity in a feature table (name, or name@version) as jsonb';

CREATE VIEW ml.feature_catalog AS
SELECT t.name, t.version, t.version = max(t.version) OVER (PARTITION BY t.name) AS latest,
	   'ml_features.' || quote_ident(t.table_name) AS table_name,
	   t.entity_column, t.event_time_column, f.ordinality::int AS position, f.feature, f.type,
	   t.row_count, (t.stats->f.feature->>'null_rate')::float8 AS null_rate,
	   t.stats->f.feature->>'min' AS min, t.stats->f.feature->>'max' AS max,
	   (SELECT pg_catalog.count(*) FILTER (WHERE NOT r.passed) FROM ml.feature_check_results r
		 WHERE r.name = t.name AND r.version = t.version AND r.feature = f.feature
		   AND r.checked_at = (SELECT max(rr.checked_at) FROM ml.feature_check_results rr
								WHERE rr.name = t.name AND rr.version = t.version)) AS failed_checks,
	   CASE t.event_time_type WHEN 'timestamp with time zone' THEN t.watermark::text
			WHEN 'date' THEN timezone('UTC', t.watermark)::date::text
			ELSE timezone('UTC', t.watermark)::text END AS latest_event_time,
	   CASE t.event_time_type WHEN 'timestamp with time zone' THEN now() - t.watermark
			ELSE localtimestamp - timezone('UTC', t.watermark) END AS event_time_lag,
	   t.last_refresh, now() - t.last_refresh AS since_refresh,
	   coalesce(pg_get_userbyid(c.relowner), t.owner) AS owner, t.created_at, t.description
  FROM ml.feature_tables t
  CROSS JOIN LATERAL unnest(t.feature_names, t.feature_types) WITH ORDINALITY AS f(feature, type, ordinality)
  LEFT JOIN pg_class c ON c.oid = to_regclass('ml_features.' || quote_ident(t.table_name));
COMMENT ON VIEW ml.feature_catalog IS
	'one row per feature of each feature table version: table, type, row count, latest event time, freshness, owner';
