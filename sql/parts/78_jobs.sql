---------------------------------------------------------------- scheduled jobs

-- The next time a cron schedule matches, strictly after a time (src/cron.c).
CREATE FUNCTION ml_cron_next(expression text, after timestamptz DEFAULT now(), time_zone text DEFAULT NULL)
	RETURNS timestamptz
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION ml_cron_next(text, timestamptz, text) IS
	'the first minute after a time that a five-field cron expression matches, in a time zone (NULL: the session''s)';

-- Jobs the background worker runs (src/scheduler.c): monitor runs,
-- feature-table refreshes and retraining, every interval or on a cron
-- schedule.
-- The owner is whoever scheduled the job (the column default, which the
-- scheduling role may not override), and the job runs with its privileges.
CREATE SEQUENCE ml.jobs_job_id_seq;
CREATE TABLE ml.jobs (
	job_id bigint PRIMARY KEY DEFAULT nextval('ml.jobs_job_id_seq'),
	kind text NOT NULL CHECK (kind IN ('monitor', 'refresh', 'retrain', 'retrain_on_drift')),
	target text NOT NULL,
	schedule interval CHECK (schedule >= interval '1 second'),
	cron text,
	-- the time zone a cron schedule is read in: the scheduling session's
	time_zone text NOT NULL DEFAULT current_setting('TimeZone'),
	owner text NOT NULL DEFAULT current_user,
	enabled boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	next_run_at timestamptz NOT NULL DEFAULT now(),
	last_run_at timestamptz,
	last_status text,
	last_error text,
	CHECK ((schedule IS NULL) <> (cron IS NULL)),
	CHECK (cron IS NULL OR @extschema@.ml_cron_next(cron, now(), time_zone) IS NOT NULL)
);
ALTER SEQUENCE ml.jobs_job_id_seq OWNED BY ml.jobs.job_id;
COMMENT ON TABLE ml.jobs IS 'scheduled jobs: what, how often, as whom, and how the last run went';

CREATE SEQUENCE ml.job_runs_run_id_seq;
CREATE TABLE ml.job_runs (
	run_id bigint PRIMARY KEY DEFAULT nextval('ml.job_runs_run_id_seq'),
	job_id bigint NOT NULL REFERENCES ml.jobs ON DELETE CASCADE,
	started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	finished_at timestamptz,
	status text NOT NULL CHECK (status IN ('running', 'ok', 'error', 'interrupted')),
	error text
);
ALTER SEQUENCE ml.job_runs_run_id_seq OWNED BY ml.job_runs.run_id;
COMMENT ON TABLE ml.job_runs IS 'every run of a job; "interrupted" when a crash or restart ended it';

SELECT pg_catalog.pg_extension_config_dump('ml.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('ml.jobs_job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ml.job_runs', '');
SELECT pg_catalog.pg_extension_config_dump('ml.job_runs_run_id_seq', '');

-- Run bookkeeping, used by the worker and by ml_run_job: only for jobs
-- the session's user may act for (the owner, an admin, or the worker's
-- superuser), so that nobody records runs of other people's jobs.
CREATE FUNCTION ml.may_run_job(owner text) RETURNS boolean
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp RETURN
	CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN true
		 WHEN pg_has_role(session_user, 'ml_admin', 'MEMBER') THEN true
		 WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = owner) THEN pg_has_role(session_user, owner, 'MEMBER')
		 ELSE false END;

CREATE FUNCTION ml.job_started(job_id bigint) RETURNS bigint
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO ml.job_runs (job_id, status)
	SELECT j.job_id, 'running' FROM ml.jobs j
	 WHERE j.job_id = $1 AND j.enabled AND ml.may_run_job(j.owner)
	RETURNING run_id
$$;

CREATE FUNCTION ml.job_finished(run_id bigint, error text) RETURNS void
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	WITH run AS (
		UPDATE ml.job_runs r SET finished_at = clock_timestamp(),
			   status = CASE WHEN $2 IS NULL THEN 'ok' ELSE 'error' END, error = $2
		 WHERE r.run_id = $1 AND r.status = 'running'
		   AND ml.may_run_job((SELECT j.owner FROM ml.jobs j WHERE j.job_id = r.job_id))
		 RETURNING r.job_id, r.status)
	UPDATE ml.jobs j SET last_run_at = now(), last_status = run.status, last_error = $2,
		   next_run_at = coalesce(now() + j.schedule, @extschema@.ml_cron_next(j.cron, now(), j.time_zone))
	  FROM run WHERE j.job_id = run.job_id
$$;

-- Runs left 'running' whose job worker is gone (a crash, a restart, a
-- killed worker): each job worker names itself "mlsys job <id>".
CREATE FUNCTION ml.jobs_interrupted() RETURNS void
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	UPDATE ml.job_runs r SET status = 'interrupted', finished_at = clock_timestamp()
	 WHERE r.status = 'running'
	   AND NOT EXISTS (SELECT FROM pg_stat_activity a
					    WHERE a.backend_type = 'mlsys job' AND a.application_name = 'mlsys job ' || r.job_id)
$$;

-- A monitor's run as a job: ml_run_monitor records a failure (of the
-- source, say) as a run of the monitor and goes on; the job reports that
-- failure, so that its run is an error too. As the caller.
CREATE FUNCTION ml.run_monitor_job(monitor_name text) RETURNS text
	LANGUAGE plpgsql AS $$
BEGIN
	PERFORM count(*) FROM @extschema@.ml_run_monitor(monitor_name);
	RETURN (SELECT r.error FROM ml.monitor_runs r JOIN ml.monitors m USING (monitor_id)
			 WHERE m.name = monitor_name ORDER BY r.run_id DESC LIMIT 1);
END
$$;

-- The statement a job kind runs, with the target as $1: the same for the
-- worker and ml_run_job. It returns one row and one column, the failure
-- (NULL: none); a failure the statement raises rolls the job back instead.
CREATE FUNCTION ml.job_statement(kind text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp RETURN
	CASE kind WHEN 'monitor' THEN 'SELECT ml.run_monitor_job($1)'
			  WHEN 'refresh' THEN 'SELECT NULL::text FROM @extschema@.ml_refresh_feature_table($1)'
			  WHEN 'retrain' THEN 'SELECT NULL::text FROM @extschema@.ml_retrain($1)'
			  WHEN 'retrain_on_drift' THEN 'SELECT NULL::text FROM @extschema@.ml_retrain($1, on_drift => true)' END;

-- Schedules a job as the calling role (the owner column's default); the
-- public functions below check that the target exists. A schedule is an
-- interval ('1 hour': first run now) or a cron expression of five fields
-- ('0 3 * * *': first run at the next match).
CREATE FUNCTION ml.schedule_job(kind text, target text, schedule text) RETURNS bigint
	LANGUAGE plpgsql AS $$
DECLARE
	id bigint;
	every interval;
BEGIN
	IF target IS NULL OR schedule IS NULL THEN
		RAISE EXCEPTION 'the name and the schedule of a job must not be NULL'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass a name and an interval such as ''1 hour'' or a cron expression such as ''0 3 * * *''.';
	END IF;
	IF schedule ~ '^\s*[0-9*/,-]+\s+[0-9*/,-]+(\s+\S+){3}\s*$' THEN
		INSERT INTO ml.jobs (kind, target, cron, next_run_at)
		VALUES (kind, target, schedule, @extschema@.ml_cron_next(schedule, now())) RETURNING job_id INTO id;
		RETURN id;
	END IF;
	BEGIN
		every := schedule::interval;
	EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
		RAISE EXCEPTION 'invalid schedule "%"', schedule
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use an interval such as ''1 hour'', or a cron expression such as ''0 3 * * *''.';
	END;
	IF every < interval '1 second' THEN
		RAISE EXCEPTION 'a job runs at most every second, not every %', every
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use an interval of at least one second.';
	END IF;
	INSERT INTO ml.jobs (kind, target, schedule) VALUES (kind, target, every) RETURNING job_id INTO id;
	RETURN id;
END
$$;

CREATE FUNCTION ml_schedule_monitor(monitor_name text, schedule text) RETURNS bigint
	LANGUAGE plpgsql AS $$
BEGIN
	IF monitor_name IS NOT NULL AND NOT EXISTS (SELECT FROM ml.monitors m WHERE m.name = monitor_name) THEN
		RAISE EXCEPTION 'monitor "%" does not exist', monitor_name
			USING ERRCODE = 'undefined_object', HINT = 'ml_create_monitor() creates one; ml.monitors lists them.';
	END IF;
	IF EXISTS (SELECT FROM ml.monitors m WHERE m.name = monitor_name AND m.created_by <> current_user) THEN
		RAISE EXCEPTION 'monitor "%" belongs to another role', monitor_name
			USING ERRCODE = 'insufficient_privilege', HINT = 'Schedule your own monitors; a job runs as the role that schedules it.';
	END IF;
	RETURN ml.schedule_job('monitor', monitor_name, schedule);
END
$$;
COMMENT ON FUNCTION ml_schedule_monitor(text, text) IS
	'run a drift monitor every interval or on a cron schedule, as the calling role, from the background worker';

CREATE FUNCTION ml_schedule_refresh(feature_table text, schedule text) RETURNS bigint
	LANGUAGE plpgsql AS $$
BEGIN
	IF feature_table IS NOT NULL AND NOT EXISTS (SELECT FROM ml.feature_tables f WHERE f.name = feature_table) THEN
		RAISE EXCEPTION 'feature table "%" does not exist', feature_table
			USING ERRCODE = 'undefined_object', HINT = 'ml.feature_catalog lists the feature tables.';
	END IF;
	IF EXISTS (SELECT FROM ml.feature_catalog c WHERE c.name = feature_table AND c.latest
				 AND c.owner <> current_user) THEN
		RAISE EXCEPTION 'feature table "%" belongs to another role', feature_table
			USING ERRCODE = 'insufficient_privilege', HINT = 'Schedule refreshes of your own feature tables; a job runs as the role that schedules it.';
	END IF;
	RETURN ml.schedule_job('refresh', feature_table, schedule);
END
$$;
COMMENT ON FUNCTION ml_schedule_refresh(text, text) IS
	'refresh a feature table incrementally every interval or on a cron schedule, as the calling role, from the background worker';

-- Retraining: the deployed version again, on the current rows of its
-- source, with its recorded algorithm, target, features and parameters
-- (the hyper-parameters a search chose, not the search), deployed only if
-- it beats the deployed version on the holdout ("deploy": "if_better").
CREATE FUNCTION ml_retrain(model_name text, on_drift boolean DEFAULT false) RETURNS int
	LANGUAGE plpgsql AS $$
DECLARE
	v ml.model_versions := ml.version_row(model_name, NULL);
	params jsonb;
	result int;
BEGIN
	-- The source is SQL its trainer wrote: run it with no one else's privileges.
	IF v.trained_by <> current_user THEN
		RAISE EXCEPTION 'the deployed version % of model "%" was trained by %', v.version, model_name, v.trained_by
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('Its source runs with the privileges of whoever retrains it: retrain as %I (SET ROLE), '
								'or train a version from a source you have read.', v.trained_by);
	END IF;
	IF v.source IS NULL THEN
		RAISE EXCEPTION 'the deployed version % of model "%" was registered without a source', v.version, model_name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Only versions trained by ml_train() can be retrained; train one from a table or query.';
	END IF;
	IF coalesce((v.params->>'test_fraction')::float8, 0) = 0 THEN
		RAISE EXCEPTION 'the deployed version % of model "%" has no holdout to compare a retrained version with',
			v.version, model_name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Train and deploy a version with test_fraction above 0 first.';
	END IF;
	-- on drift: only after an unacknowledged alert of one of the model's
	-- monitors, raised since its latest version was trained (a retrained
	-- version that did not win waits for the next alert)
	IF on_drift AND NOT EXISTS (
		SELECT FROM ml.alerts a JOIN ml.monitor_runs r USING (run_id) JOIN ml.monitors mo USING (monitor_id)
		 WHERE mo.model_name = ml_retrain.model_name AND a.level = 'alert' AND a.acknowledged_at IS NULL
		   AND a.raised_at > (SELECT max(mv.trained_at) FROM ml.model_versions mv WHERE mv.model_id = v.model_id)) THEN
		RETURN NULL;
	END IF;
	-- the recorded parameters that ml_train takes for this algorithm
	params := v.params - ARRAY['test_fraction', 'search', 'n_iter', 'cv', 'deploy'];
	IF v.algorithm IN ('ridge', 'lasso', 'elastic_net', 'naive_bayes', 'kmeans') THEN
		params := params - ARRAY['l1', 'l2', 'intercept'];
	END IF;
	IF params->>'init' = 'given' THEN
		params := params - 'init';
	END IF;
	SELECT t.version INTO result
	  FROM @extschema@.ml_train(model_name, v.algorithm, v.source, v.target, v.features,
								params || '{"deploy": "if_better"}', (v.params->>'test_fraction')::float8) t;
	RETURN result;
END
$$;
COMMENT ON FUNCTION ml_retrain(text, boolean) IS
	'train the deployed version again on its source''s current rows, deploying only if better; with on_drift only after an open drift alert; returns the new version or NULL';

CREATE FUNCTION ml_schedule_retrain(model_name text, schedule text, "when" text DEFAULT 'always')
	RETURNS bigint
	LANGUAGE plpgsql AS $$
BEGIN
	IF "when" IS NULL OR "when" NOT IN ('always', 'on_drift') THEN
		RAISE EXCEPTION 'unknown retraining policy "%"', "when"
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ''always'' or ''on_drift''.';
	END IF;
	IF (ml.version_row(model_name, NULL)).trained_by <> current_user THEN
		RAISE EXCEPTION 'the deployed version of model "%" was trained by another role', model_name
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A retraining job runs its trainer''s source as the role that schedules it: schedule it as that role.';
	END IF;
	RETURN ml.schedule_job(CASE "when" WHEN 'always' THEN 'retrain' ELSE 'retrain_on_drift' END,
						   model_name, schedule);
END
$$;
COMMENT ON FUNCTION ml_schedule_retrain(text, text, text) IS
	'retrain a model every interval or on a cron schedule (when => ''on_drift'': only after an open drift alert), deploying only if better, as the calling role';

-- The same with an interval value (a literal like '1 hour' is taken as text).
CREATE FUNCTION ml_schedule_monitor(monitor_name text, every interval) RETURNS bigint
	LANGUAGE sql RETURN @extschema@.ml_schedule_monitor(monitor_name, every::text);
CREATE FUNCTION ml_schedule_refresh(feature_table text, every interval) RETURNS bigint
	LANGUAGE sql RETURN @extschema@.ml_schedule_refresh(feature_table, every::text);
CREATE FUNCTION ml_schedule_retrain(model_name text, every interval, "when" text DEFAULT 'always')
	RETURNS bigint
	LANGUAGE sql RETURN @extschema@.ml_schedule_retrain(model_name, every::text, "when");

-- A job on demand, as the caller, in the caller's transaction (no worker needed).
CREATE FUNCTION ml_run_job(job_id bigint) RETURNS void
	LANGUAGE plpgsql AS $$
DECLARE
	job ml.jobs;
	run bigint;
	failure text;
BEGIN
	SELECT * INTO job FROM ml.jobs j WHERE j.job_id = ml_run_job.job_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'job % does not exist', job_id
			USING ERRCODE = 'undefined_object', HINT = 'ml.jobs lists the jobs.';
	END IF;
	IF NOT ml.may_run_job(job.owner) THEN
		RAISE EXCEPTION 'job % belongs to %', job_id, job.owner
			USING ERRCODE = 'insufficient_privilege', HINT = 'Only its owner or an ml_admin may run it.';
	END IF;
	run := ml.job_started(job_id);
	IF run IS NULL THEN
		RAISE EXCEPTION 'job % is disabled', job_id USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Enable it first: UPDATE ml.jobs SET enabled = true (ml_admin).';
	END IF;
	EXECUTE ml.job_statement(job.kind) INTO failure USING job.target;
	PERFORM ml.job_finished(run, failure);
END
$$;
COMMENT ON FUNCTION ml_run_job(bigint) IS 'run a scheduled job now, as the caller';
