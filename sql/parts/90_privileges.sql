---------------------------------------------------------------- privileges

-- Three roles, each a member of the one before: ml_reader reads the
-- registry and predicts by model name; ml_trainer also trains and registers
-- versions; ml_admin also deploys, rolls back and deletes. Roles belong to
-- the cluster, so a second database (or a re-created extension) reuses them.
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM (VALUES ('ml_reader', NULL), ('ml_trainer', 'ml_reader'),
								   ('ml_admin', 'ml_trainer')) AS t(role, member_of)
	LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r.role) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r.role);
		END IF;
		IF r.member_of IS NOT NULL
		   AND NOT pg_catalog.pg_has_role(r.role, r.member_of, 'MEMBER') THEN
			EXECUTE pg_catalog.format('GRANT %I TO %I', r.member_of, r.role);
		END IF;
	END LOOP;
END
$$;

-- Reading: name lookups of ml_predict and friends read these tables as the
-- caller. Functions on an mlmodel value, the training aggregates and the
-- metrics stay open to everyone: they touch no registry row.
GRANT SELECT ON ml.models, ml.model_versions, ml.deployments, ml.training_trials, ml.aliases, ml.splits,
	ml.shadows, ml.deployed_models, ml.version_metrics TO ml_reader;

-- Training and registering: the registry functions write as the schema
-- owner, so no table privilege is needed.
REVOKE EXECUTE ON FUNCTION ml_train(text, text, text, text, text[], jsonb, float8),
	ml_register_model(text, mlmodel, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ml_train(text, text, text, text, text[], jsonb, float8),
	ml_register_model(text, mlmodel, text, jsonb) TO ml_trainer;

-- Deploying, rolling back and deleting (the triggers still keep deployed
-- and aliased versions).
REVOKE EXECUTE ON FUNCTION ml_deploy(text, int, text), ml_rollback(text, text),
	ml_split(text, text, float8), ml_shadow(text, text), ml_remove_alias(text, text),
	ml_delete_version(text, int, boolean), ml_archive_version(text, int, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ml_deploy(text, int, text), ml_rollback(text, text),
	ml_split(text, text, float8), ml_shadow(text, text), ml_remove_alias(text, text),
	ml_delete_version(text, int, boolean), ml_archive_version(text, int, boolean, boolean) TO ml_admin;
GRANT DELETE ON ml.models, ml.model_versions TO ml_admin;

-- Notes on models and versions: for those who train them.
REVOKE EXECUTE ON FUNCTION ml_describe(text, text, int), ml_tag(text, jsonb, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ml_describe(text, text, int), ml_tag(text, jsonb, int) TO ml_trainer;

-- Monitors: everyone with ml_reader sees them; ml_trainer creates and runs
-- them (a run reads the source as the caller) and acknowledges alerts.
GRANT SELECT ON ml.monitors, ml.monitor_runs, ml.monitor_results, ml.alerts, ml.monitor_status
	TO ml_reader;
-- (monitors are created as the caller: created_by defaults to the creating role)
GRANT INSERT (name, model_name, source, params) ON ml.monitors TO ml_trainer;
GRANT USAGE ON SEQUENCE ml.monitors_monitor_id_seq TO ml_trainer;
REVOKE EXECUTE ON FUNCTION ml_create_monitor(text, text, text, jsonb), ml_run_monitor(text),
	ml.record_monitor_run(bigint, int, bigint, jsonb, text, text), ml_acknowledge_alert(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ml_create_monitor(text, text, text, jsonb), ml_run_monitor(text),
	ml.record_monitor_run(bigint, int, bigint, jsonb, text, text), ml_acknowledge_alert(bigint) TO ml_trainer;

-- Jobs: ml_trainer schedules (the owner column defaults to the caller and
-- cannot be set), ml_admin pauses, reschedules or deletes any job.
GRANT SELECT ON ml.jobs, ml.job_runs TO ml_reader;
GRANT INSERT (kind, target, schedule, cron, next_run_at) ON ml.jobs TO ml_trainer;
GRANT USAGE ON SEQUENCE ml.jobs_job_id_seq TO ml_trainer;
GRANT UPDATE (enabled, schedule, cron, time_zone, next_run_at), DELETE ON ml.jobs TO ml_admin;
REVOKE EXECUTE ON FUNCTION ml.job_started(bigint), ml.job_finished(bigint, text), ml.jobs_interrupted(),
	ml.schedule_job(text, text, text),
	ml_schedule_monitor(text, text), ml_schedule_refresh(text, text),
	ml_schedule_monitor(text, interval), ml_schedule_refresh(text, interval), ml_run_job(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ml.job_started(bigint), ml.job_finished(bigint, text),
	ml.schedule_job(text, text, text), ml_schedule_monitor(text, text), ml_schedule_refresh(text, text),
	ml_schedule_monitor(text, interval), ml_schedule_refresh(text, interval), ml_run_job(bigint) TO ml_trainer;
-- Retraining deploys a better version: for admins (as "deploy": "if_better").
REVOKE EXECUTE ON FUNCTION ml_retrain(text, boolean), ml_schedule_retrain(text, text, text),
	ml_schedule_retrain(text, interval, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ml_retrain(text, boolean), ml_schedule_retrain(text, text, text),
	ml_schedule_retrain(text, interval, text) TO ml_admin;

-- Feature tables (80_features.sql): readers list them; trainers define and
-- refresh them. The definitions run the caller's query as the caller and
-- create the table in ml_features as the caller (its owner), hence CREATE on
-- the schema; the catalog rows are written by the SECURITY DEFINER helpers.
GRANT SELECT ON ml.feature_tables, ml.feature_catalog, ml.feature_checks, ml.feature_check_results
	TO ml_reader;
GRANT CREATE ON SCHEMA ml_features TO ml_trainer;
REVOKE EXECUTE ON FUNCTION ml_create_feature_table(text, text, text, text, text),
	ml_refresh_feature_table(text, boolean),
	ml.feature_table_register(text, text, text, text, text, text),
	ml.feature_table_refreshed(text, int, bigint, timestamptz), ml.feature_table_forget(text),
	ml_drop_feature_table(text, int), ml.feature_table_record_profile(text, int, jsonb, jsonb),
	ml.feature_table_set_checks(text, jsonb), ml_set_feature_checks(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ml_create_feature_table(text, text, text, text, text),
	ml_refresh_feature_table(text, boolean),
	ml.feature_table_register(text, text, text, text, text, text),
	ml.feature_table_refreshed(text, int, bigint, timestamptz), ml.feature_table_forget(text),
	ml_drop_feature_table(text, int), ml.feature_table_record_profile(text, int, jsonb, jsonb),
	ml.feature_table_set_checks(text, jsonb), ml_set_feature_checks(text, jsonb) TO ml_trainer;

-- The prediction log: keys of callers can be personal data, so those who
-- train and monitor models read it (ml_trainer), admins prune it.
GRANT SELECT ON ml.prediction_log, ml.predictions TO ml_trainer;
GRANT DELETE ON ml.prediction_log TO ml_admin;
