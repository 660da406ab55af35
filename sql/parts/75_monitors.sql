---------------------------------------------------------------- drift monitors

-- A monitor compares recent rows (a table, view or query) with the training
-- distribution stored in the deployed model, using ml_drift, and keeps the
-- results: runs, per-feature metrics with a status, and alerts.
CREATE SEQUENCE ml.monitors_monitor_id_seq;
CREATE TABLE ml.monitors (
	monitor_id bigint PRIMARY KEY DEFAULT nextval('ml.monitors_monitor_id_seq'),
	name text NOT NULL UNIQUE,
	model_name text NOT NULL,
	source text NOT NULL,
	-- thresholds: {"thresholds": {metric: {"warn": w, "alert": a}}, "features": {input: {metric: ...}}}
	params jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
	-- the role whose privileges the source runs with (the column default,
	-- which the creating role may not override)
	created_by text NOT NULL DEFAULT current_user,
	created_at timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE ml.monitors_monitor_id_seq OWNED BY ml.monitors.monitor_id;
COMMENT ON TABLE ml.monitors IS 'drift monitors: a model, the recent rows to compare with its training data, thresholds';

CREATE SEQUENCE ml.monitor_runs_run_id_seq;
CREATE TABLE ml.monitor_runs (
	run_id bigint PRIMARY KEY DEFAULT nextval('ml.monitor_runs_run_id_seq'),
	monitor_id bigint NOT NULL REFERENCES ml.monitors ON DELETE CASCADE,
	run_at timestamptz NOT NULL DEFAULT now(),
	run_by text NOT NULL,
	model_version int,
	rows_seen bigint,
	status text NOT NULL CHECK (status IN ('ok', 'warn', 'alert', 'error')),
	error text
);
ALTER SEQUENCE ml.monitor_runs_run_id_seq OWNED BY ml.monitor_runs.run_id;
COMMENT ON TABLE ml.monitor_runs IS 'one row per monitor run: rows seen, the worst status, or the error';

CREATE TABLE ml.monitor_results (
	run_id bigint NOT NULL REFERENCES ml.monitor_runs ON DELETE CASCADE,
	feature text NOT NULL,
	metric text NOT NULL,
	value float8,
	p_value float8,
	threshold float8,
	status text NOT NULL CHECK (status IN ('ok', 'warn', 'alert')),
	PRIMARY KEY (run_id, feature, metric)
);
COMMENT ON TABLE ml.monitor_results IS 'per run, feature and metric: the value and its status against the thresholds';

CREATE SEQUENCE ml.alerts_alert_id_seq;
CREATE TABLE ml.alerts (
	alert_id bigint PRIMARY KEY DEFAULT nextval('ml.alerts_alert_id_seq'),
	run_id bigint NOT NULL REFERENCES ml.monitor_runs ON DELETE CASCADE,
	feature text NOT NULL,
	metric text NOT NULL,
	value float8,
	threshold float8 NOT NULL,
	level text NOT NULL CHECK (level IN ('warn', 'alert')),
	raised_at timestamptz NOT NULL DEFAULT now(),
	acknowledged_at timestamptz,
	acknowledged_by text
);
ALTER SEQUENCE ml.alerts_alert_id_seq OWNED BY ml.alerts.alert_id;
COMMENT ON TABLE ml.alerts IS 'every warn or alert of a monitor run, until acknowledged (ml_acknowledge_alert)';

SELECT pg_catalog.pg_extension_config_dump('ml.monitors', '');
SELECT pg_catalog.pg_extension_config_dump('ml.monitors_monitor_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ml.monitor_runs', '');
SELECT pg_catalog.pg_extension_config_dump('ml.monitor_runs_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ml.monitor_results', '');
SELECT pg_catalog.pg_extension_config_dump('ml.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('ml.alerts_alert_id_seq', '');

-- The latest run of every monitor and its results: what a dashboard plots.
CREATE VIEW ml.monitor_status AS
SELECT mo.name AS monitor, mo.model_name, r.run_id, r.run_at, r.model_version, r.rows_seen,
	   r.status AS run_status, r.error, res.feature, res.metric, res.value, res.p_value,
	   res.threshold, res.status
  FROM ml.monitors mo
  LEFT JOIN LATERAL (SELECT * FROM ml.monitor_runs rr WHERE rr.monitor_id = mo.monitor_id
					  ORDER BY rr.run_id DESC LIMIT 1) r ON true
  LEFT JOIN ml.monitor_results res ON res.run_id = r.run_id;
COMMENT ON VIEW ml.monitor_status IS 'the latest run of every monitor, one row per feature and metric';

-- Default thresholds: PSI as is customary (0.1 / 0.25); Jensen-Shannon
-- divergence (base 2: between 0 and 1) and the Kolmogorov-Smirnov
-- distance, which like PSI do not grow with the number of rows; for the
-- chi-square test, which does, its p-value at or below 0.01 / 0.001 (a
-- large window flags even small shifts: raise them or rely on PSI); shares
-- of values outside the training range or unseen levels, of rows the model
-- cannot predict (a NULL or unseen value without imputation); the rise of the
-- NULL rate over training's; the fall of the row count from the previous run;
-- with labels, the fall of accuracy from the holdout's (absolute) or the rise
-- of the RMSE over the holdout's (relative).
CREATE FUNCTION ml.default_thresholds() RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN
	'{"psi": {"warn": 0.1, "alert": 0.25},
	  "js_divergence": {"warn": 0.05, "alert": 0.1},
	  "ks": {"warn": 0.1, "alert": 0.2},
	  "chi_square": {"warn": 0.01, "alert": 0.001},
	  "out_of_range": {"warn": 0.01, "alert": 0.05},
	  "unpredictable": {"warn": 0.01, "alert": 0.05},
	  "unseen": {"warn": 0.01, "alert": 0.05},
	  "null_rate_increase": {"warn": 0.05, "alert": 0.2},
	  "accuracy_drop": {"warn": 0.05, "alert": 0.1},
	  "rmse_increase": {"warn": 0.1, "alert": 0.25},
	  "row_count_drop": {"warn": 0.5, "alert": 0.9}}'::jsonb;

CREATE FUNCTION ml_create_monitor(name text, model_name text, source text, params jsonb DEFAULT '{}')
	RETURNS bigint
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	id bigint;
	bad text;
BEGIN
	IF name IS NULL OR model_name IS NULL OR source IS NULL OR params IS NULL THEN
		RAISE EXCEPTION 'arguments of ml_create_monitor must not be NULL' USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a monitor name, a model name and a source table or query.';
	END IF;
	IF NOT EXISTS (SELECT FROM ml.models m WHERE m.name = ml_create_monitor.model_name) THEN
		RAISE EXCEPTION 'model "%" does not exist', model_name
			USING ERRCODE = 'undefined_object', HINT = 'ml.models lists existing models.';
	END IF;
	SELECT string_agg(format('"%s"', k), ', ') INTO bad
	  FROM jsonb_object_keys(params) k WHERE k NOT IN ('thresholds', 'features', 'labels', 'window');
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'unknown key % in monitor params', bad
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Valid keys are: thresholds, features, labels, window.';
	END IF;
	IF params ? 'window' AND NOT params ? 'labels' THEN
		RAISE EXCEPTION '"window" needs "labels"'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = '"window" is how far back logged predictions are matched with labels.';
	END IF;
	BEGIN
		PERFORM (params->>'window')::interval;
	EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
		RAISE EXCEPTION 'invalid "window" %', params->'window'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use an interval such as "7 days".';
	END;
	INSERT INTO ml.monitors (name, model_name, source, params)
	VALUES (name, model_name, source, params)
	RETURNING monitor_id INTO id;
	RETURN id;
EXCEPTION WHEN unique_violation THEN
	RAISE EXCEPTION 'monitor "%" already exists', name
		USING ERRCODE = 'duplicate_object', HINT = 'Delete it from ml.monitors first, or pick another name.';
END
$$;
COMMENT ON FUNCTION ml_create_monitor(text, text, text, jsonb) IS
	'register a monitor of a model''s deployed version over a table, view or query; params: thresholds, features (per-feature thresholds), labels (a table or query of key and label, for performance), window';

-- Writes a run computed by ml_run_monitor (values only, no SQL of the
-- caller's), raises its alerts: a row in ml.alerts, a WARNING, NOTIFY ml_alerts.
-- run_by is ml_run_monitor's current_user: inside this function it would be
-- the owner's, and session_user is the scheduler's when a job runs.
CREATE FUNCTION ml.record_monitor_run(monitor_id bigint, model_version int, rows_seen bigint,
									  results jsonb, error text, run_by text)
	RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	run bigint;
	mon ml.monitors;
	a record;
BEGIN
	SELECT * INTO mon FROM ml.monitors m WHERE m.monitor_id = record_monitor_run.monitor_id;
	-- only runs of one's own monitors (the worker's session is a superuser's)
	IF NOT FOUND OR NOT pg_has_role(session_user, mon.created_by, 'MEMBER') THEN
		RAISE EXCEPTION 'permission denied to record a run of monitor %', record_monitor_run.monitor_id
			USING ERRCODE = 'insufficient_privilege', HINT = 'Runs are recorded by ml_run_monitor, as the monitor''s creator.';
	END IF;
	INSERT INTO ml.monitor_runs (monitor_id, run_by, model_version, rows_seen, status, error)
	VALUES (monitor_id, run_by, model_version, rows_seen,
			CASE WHEN error IS NOT NULL THEN 'error'
				 ELSE coalesce((SELECT max(r->>'status') FILTER (WHERE r->>'status' = 'alert')
								  FROM jsonb_array_elements(results) r),
							   (SELECT max(r->>'status') FILTER (WHERE r->>'status' = 'warn')
								  FROM jsonb_array_elements(results) r),
							   'ok') END,
			error)
	RETURNING run_id INTO run;
	INSERT INTO ml.monitor_results (run_id, feature, metric, value, p_value, threshold, status)
	SELECT run, r->>'feature', r->>'metric', (r->>'value')::float8, (r->>'p_value')::float8,
		   (r->>'threshold')::float8, r->>'status'
	  FROM jsonb_array_elements(coalesce(results, '[]')) r;
	-- (a test's alert has its p-value as value, the number the threshold is for)
	FOR a IN SELECT mr.feature, mr.metric, mr.threshold, mr.status,
					CASE WHEN mr.metric = 'chi_square' THEN mr.p_value ELSE mr.value END AS value
			   FROM ml.monitor_results mr WHERE mr.run_id = run AND mr.status <> 'ok'
			  ORDER BY mr.feature, mr.metric
	LOOP
		INSERT INTO ml.alerts (run_id, feature, metric, value, threshold, level)
		VALUES (run, a.feature, a.metric, a.value, a.threshold, a.status);
		IF a.metric = 'chi_square' THEN
			RAISE WARNING 'monitor "%": chi_square p-value of "%" is %, at or below the % threshold %',
				mon.name, a.feature, btrim(to_char(a.value, '9.99EEEE')), a.status, a.threshold;
		ELSE
			RAISE WARNING 'monitor "%": % of "%" is %, at or above the % threshold %',
				mon.name, a.metric, a.feature, round(a.value::numeric, 4), a.status, a.threshold;
		END IF;
		PERFORM pg_notify('ml_alerts', jsonb_build_object(
			'monitor', mon.name, 'model', mon.model_name, 'version', model_version,
			'feature', a.feature, 'metric', a.metric, 'value', a.value,
			'threshold', a.threshold, 'level', a.status)::text);
	END LOOP;
	RETURN run;
END
$$;

-- One result rated against the thresholds: the feature's own, the
-- monitor's, or the defaults; a chi-square test by its p-value.
CREATE FUNCTION ml.rate(params jsonb, feature text, metric text, value float8, p_value float8)
	RETURNS jsonb
	LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	limits jsonb := coalesce(params->'features'->feature->metric, params->'thresholds'->metric,
							 ml.default_thresholds()->metric);
	rated float8 := CASE WHEN metric = 'chi_square' THEN p_value ELSE value END;
	below boolean := metric = 'chi_square';
	st text := 'ok';
	lim float8;
BEGIN
	IF limits IS NOT NULL AND rated IS NOT NULL THEN
		IF (below AND rated <= (limits->>'alert')::float8) OR (NOT below AND rated >= (limits->>'alert')::float8) THEN
			st := 'alert'; lim := (limits->>'alert')::float8;
		ELSIF (below AND rated <= (limits->>'warn')::float8) OR (NOT below AND rated >= (limits->>'warn')::float8) THEN
			st := 'warn'; lim := (limits->>'warn')::float8;
		END IF;
	END IF;
	RETURN jsonb_build_object('feature', feature, 'metric', metric, 'value', value, 'p_value', p_value,
							  'threshold', lim, 'status', st);
END
$$;

-- Performance once labels arrive ("labels": a table or query of key and
-- label): the deployed version's logged predictions of the last "window"
-- (default 7 days) matched by key, against the version's holdout metrics:
-- accuracy and its drop for a classifier, RMSE and MAE and the RMSE's
-- relative rise for a regression, and the number of labeled predictions.
-- Runs the labels query as the caller (the monitor's creator).
CREATE FUNCTION ml.performance(mon ml.monitors, version int)
	RETURNS TABLE(feature text, metric text, value float8, p_value float8)
	LANGUAGE plpgsql AS $$
DECLARE
	v ml.model_versions;
	classifier boolean;
	matched text;
	n bigint;
	accuracy float8;
	rmse float8;
	mae float8;
BEGIN
	IF NOT mon.params ? 'labels' THEN
		RETURN;
	END IF;
	v := ml.version_row(mon.model_name, version);
	classifier := @extschema@.ml_model_info(v.model) ? 'classes';
	matched := format('FROM ml.prediction_log p JOIN %s ON l.key::text = p.key'
					  ' WHERE p.model_id = $1 AND p.version = $2 AND NOT p.shadow AND p.logged_at >= now() - $3',
					  ml.from_item(mon.params->>'labels', 'l'));
	IF classifier THEN
		EXECUTE 'SELECT count(l.label), avg((p.class = l.label::text)::int) ' || matched
		   INTO n, accuracy USING v.model_id, version, coalesce((mon.params->>'window')::interval, '7 days');
	ELSE
		EXECUTE 'SELECT count(l.label), sqrt(avg((p.prediction - l.label::float8) ^ 2)),'
				' avg(abs(p.prediction - l.label::float8)) ' || matched
		   INTO n, rmse, mae USING v.model_id, version, coalesce((mon.params->>'window')::interval, '7 days');
	END IF;
	RETURN QUERY VALUES ('(performance)', 'labeled', n::float8, NULL::float8);
	IF classifier THEN
		RETURN QUERY VALUES ('(performance)', 'accuracy', accuracy, NULL::float8),
							('(performance)', 'accuracy_drop', (v.metrics->>'accuracy')::float8 - accuracy, NULL);
	ELSE
		RETURN QUERY VALUES ('(performance)', 'rmse', rmse, NULL::float8), ('(performance)', 'mae', mae, NULL),
							('(performance)', 'rmse_increase', rmse / NULLIF((v.metrics->>'rmse')::float8, 0) - 1, NULL);
	END IF;
END
$$;

-- Runs a monitor now: reads the source with the caller's privileges
-- (ml_drift), rates every value against the thresholds and records the run.
-- An error (a dropped source, say) is recorded as a failed run and reported
-- as a WARNING, so that a schedule of runs goes on.
CREATE FUNCTION ml_run_monitor(name text)
	RETURNS TABLE(feature text, metric text, value float8, threshold float8, status text)
	LANGUAGE plpgsql AS $$
DECLARE
	mon ml.monitors;
	version int;
	rows_seen bigint;
	previous bigint;
	baseline jsonb;
	results jsonb := '[]';
	d record;
BEGIN
	SELECT * INTO mon FROM ml.monitors m WHERE m.name = ml_run_monitor.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'monitor "%" does not exist', name
			USING ERRCODE = 'undefined_object', HINT = 'ml_create_monitor() creates one; ml.monitors lists them.';
	END IF;
	-- The source is SQL its creator wrote: run it with no one else's privileges.
	IF mon.created_by <> current_user THEN
		RAISE EXCEPTION 'monitor "%" belongs to %', name, mon.created_by
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('Its source runs with the privileges of whoever runs it: run it as %I (SET ROLE).',
								mon.created_by);
	END IF;
	BEGIN
		SELECT m.deployed_version INTO version FROM ml.models m WHERE m.name = mon.model_name;
		baseline := @extschema@.ml_model_info(@extschema@.ml_model(mon.model_name));
		SELECT r.rows_seen INTO previous FROM ml.monitor_runs r
		 WHERE r.monitor_id = mon.monitor_id AND r.status <> 'error' ORDER BY r.run_id DESC LIMIT 1;

		FOR d IN
			WITH drift AS MATERIALIZED (SELECT * FROM @extschema@.ml_drift(mon.model_name, mon.source))
			SELECT x.feature, x.metric, x.value, x.p_value FROM drift x
			UNION ALL
			-- the NULL rate's rise over training's (n_null / n_rows of the model)
			SELECT x.feature, 'null_rate_increase', x.value - (i->'stats'->>'n_null')::float8
														   / (baseline->>'n_rows')::float8, NULL
			  FROM drift x JOIN jsonb_array_elements(baseline->'inputs') i ON i->>'name' = x.feature
			 WHERE x.metric = 'null_rate'
			UNION ALL
			SELECT '*', 'row_count_drop', CASE WHEN previous > 0 THEN 1 - x.value / previous END, NULL
			  FROM drift x WHERE x.metric = 'rows'
			UNION ALL
			SELECT * FROM ml.performance(mon, version)
		LOOP
			IF d.metric = 'rows' THEN
				rows_seen := d.value;	/* recorded with the run */
				CONTINUE;
			END IF;
			results := results || ml.rate(mon.params, d.feature, d.metric, d.value, d.p_value);
		END LOOP;
		PERFORM ml.record_monitor_run(mon.monitor_id, version, rows_seen, results, NULL, current_user);
	EXCEPTION WHEN OTHERS THEN
		-- the block's partial work is undone; the failure itself is recorded
		DECLARE
			msg text := SQLERRM;
		BEGIN
			PERFORM ml.record_monitor_run(mon.monitor_id, version, NULL, NULL, msg, current_user);
			RAISE WARNING 'monitor "%" failed: %', mon.name, msg;
			RETURN;
		END;
	END;
	RETURN QUERY SELECT r->>'feature', r->>'metric', (r->>'value')::float8, (r->>'threshold')::float8,
						r->>'status'
				   FROM jsonb_array_elements(results) r;
END
$$;
COMMENT ON FUNCTION ml_run_monitor(text) IS
	'run a monitor now: rate the drift of every input and of the prediction (PSI, JS, KS, chi-square, out-of-range/unseen/unpredictable shares, NULL-rate rise), the row-count drop and, with labels, the accuracy drop or RMSE rise against the thresholds; record the run, raise alerts';

CREATE FUNCTION ml_acknowledge_alert(alert_id bigint) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE ml.alerts a SET acknowledged_at = now(), acknowledged_by = session_user
	 WHERE a.alert_id = ml_acknowledge_alert.alert_id AND a.acknowledged_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert % does not exist or is acknowledged already', alert_id
			USING ERRCODE = 'undefined_object', HINT = 'ml.alerts lists the alerts.';
	END IF;
END
$$;
COMMENT ON FUNCTION ml_acknowledge_alert(bigint) IS 'mark an alert as seen, with who and when';
