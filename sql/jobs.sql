-- Scheduled jobs without the worker: scheduling, ml_run_job on demand,
-- the owner column, errors. (test/t/006_scheduler.pl covers the worker.)

CREATE TABLE loans AS
  SELECT i, (i % 100)::float8 AS income, 2.0 * (i % 100) AS risk,
         timestamptz '2026-01-01' + i * interval '1 hour' AS at
    FROM generate_series(1, 500) i;
SELECT version FROM ml_train('risk', 'linear', 'loans', 'risk', ARRAY['income'], test_fraction => 0);
SELECT ml_create_monitor('loans_monitor', 'risk', 'loans') > 0 AS monitor;
SELECT ml_create_feature_table('loan_income', 'SELECT i, at, income FROM loans', 'i', 'at') AS feature_version;

SELECT ml_schedule_monitor('loans_monitor', '1 hour') AS monitor_job,
       ml_schedule_refresh('loan_income', '10 minutes') AS refresh_job;
SELECT job_id, kind, target, schedule, owner = current_user AS mine, enabled, last_status
  FROM ml.jobs ORDER BY job_id;

-- On demand, as the caller: a monitor run and an incremental refresh.
SELECT ml_run_job(1);
INSERT INTO loans SELECT i, 1, 2, timestamptz '2026-01-01' + i * interval '1 hour' FROM generate_series(501, 520) i;
SELECT ml_run_job(2);
SELECT j.job_id, r.status, r.error, j.last_status, j.next_run_at > now() AS rescheduled
  FROM ml.jobs j JOIN ml.job_runs r USING (job_id) ORDER BY r.run_id;
SELECT count(*) AS monitor_runs FROM ml.monitor_runs;
SELECT row_count FROM ml.feature_tables WHERE name = 'loan_income';

-- A trainer schedules as itself; the owner column is not theirs to set.
CREATE ROLE regress_mlsys_scheduler;
GRANT ml_trainer TO regress_mlsys_scheduler;
SET ROLE regress_mlsys_scheduler;
SELECT ml_create_monitor('their_monitor', 'risk', 'loans') > 0 AS created;
SELECT ml_schedule_monitor('their_monitor', '1 day') AS job;
-- Someone else's monitor runs that role's SQL: not to be scheduled or run by others.
SELECT ml_schedule_monitor('loans_monitor', '1 day');
SELECT * FROM ml_run_monitor('loans_monitor');
SELECT ml_schedule_refresh('loan_income', '1 day');
INSERT INTO ml.jobs (kind, target, schedule, owner) VALUES ('monitor', 'loans_monitor', '1 day', 'postgres');
UPDATE ml.jobs SET enabled = false;
RESET ROLE;
-- Logged in as the trainer: other people's jobs can be neither run nor recorded.
SET SESSION AUTHORIZATION regress_mlsys_scheduler;
SELECT ml_run_job(1);
SELECT ml.job_started(1) AS run_recorded;
SELECT ml_run_job(3);
RESET SESSION AUTHORIZATION;
SELECT j.owner, m.created_by FROM ml.jobs j JOIN ml.monitors m ON m.name = j.target WHERE j.job_id = 3;
DELETE FROM ml.jobs WHERE job_id = 3;
DELETE FROM ml.monitors WHERE name = 'their_monitor';
REVOKE ml_trainer FROM regress_mlsys_scheduler;
DROP ROLE regress_mlsys_scheduler;

-- Retraining: the deployed version again on the source's current rows,
-- deployed only if better on the holdout. The first version learned from
-- noisy targets; once they are corrected, the retrained version wins.
CREATE TABLE prices AS
  SELECT i, (i % 50)::float8 AS size, 3.0 * (i % 50) + CASE WHEN i % 4 = 0 THEN 40 ELSE 0 END AS price
    FROM generate_series(1, 400) i;
SELECT version FROM ml_train('price', 'ridge', 'prices', 'price', ARRAY['size'], '{"alpha": 0.1, "seed": 5}');
SELECT ml_schedule_retrain('price', '1 day') AS retrain_job;
SELECT kind, target, schedule FROM ml.jobs WHERE kind LIKE 'retrain%';
SELECT ml_run_job(job_id) FROM ml.jobs WHERE kind = 'retrain';
SELECT version, algorithm, params - 'impute' - 'scale' AS params FROM ml.model_versions
 WHERE model_id = (SELECT model_id FROM ml.models WHERE name = 'price') ORDER BY version;
SELECT deployed_version FROM ml.models WHERE name = 'price';
UPDATE prices SET price = 3.0 * size;
SELECT ml_retrain('price') AS version;
SELECT deployed_version FROM ml.models WHERE name = 'price';
SELECT version, previous_version, reason LIKE '%r2%' AS by_r2 FROM ml.deployments
 WHERE model_id = (SELECT model_id FROM ml.models WHERE name = 'price') ORDER BY deployment_id;
-- On drift: nothing without an open alert of the model's monitors, a new
-- version after one.
SELECT ml_retrain('price', on_drift => true) AS without_alert;
SELECT ml_create_monitor('price_inputs', 'price', 'SELECT size + 100 AS size FROM prices') > 0 AS monitor;
SELECT count(*) > 0 AS alerted FROM ml_run_monitor('price_inputs') WHERE status = 'alert';
SELECT ml_retrain('price', on_drift => true) AS after_alert;
SELECT ml_schedule_retrain('price', '1 hour', 'on_drift') > 0 AS on_drift_job;
-- Refused: no holdout to compare with, unknown policy, not an admin.
SELECT version FROM ml_train('flat', 'linear', 'prices', 'price', ARRAY['size'], test_fraction => 0);
SELECT ml_retrain('flat');
SELECT ml_schedule_retrain('price', '1 day', 'sometimes');
SELECT ml_schedule_retrain('nothing', '1 day');
CREATE ROLE regress_mlsys_retrainer IN ROLE ml_trainer;
SET ROLE regress_mlsys_retrainer;
SELECT ml_schedule_retrain('price', '1 day');
RESET ROLE;
-- The source is its trainer's SQL: an admin other than the trainer neither
-- runs nor schedules it.
CREATE ROLE regress_mlsys_other_admin IN ROLE ml_admin;
SET ROLE regress_mlsys_other_admin;
SELECT ml_retrain('price');
SELECT ml_schedule_retrain('price', '1 day');
RESET ROLE;
DROP ROLE regress_mlsys_retrainer, regress_mlsys_other_admin;

-- Cron schedules: the next matching minute, in the session's time zone.
SET TimeZone = 'Europe/Berlin';
SELECT e AS expression, ml_cron_next(e, '2026-11-21 23:50+01') AS next_run
  FROM unnest(ARRAY['0 3 * * *', '*/15 * * * 1-5', '0 0 1 jan *', '0 12 13 * fri', '0 0 29 2 *',
                    '5/20 * * * *', '0 0 * * mon-fri,sun', '59 23 31 12 *']) e;
-- daylight saving: 3 a.m. exists on the day clocks skip 2-3 a.m., 2:30 does not
SELECT ml_cron_next('0 3 * * *', '2026-03-28 12:00+01') AS three, ml_cron_next('30 2 * * *', '2026-03-28 12:00+01') AS half_past_two;
-- Lord Howe Island moves by half an hour: its changes neither stall the
-- search nor skip a match; before 2000 (negative timestamps) too
SELECT ml_cron_next('0 3 * * *', '2025-04-06 00:30 Australia/Lord_Howe', 'Australia/Lord_Howe')
         AT TIME ZONE 'Australia/Lord_Howe' AS after_fall_back,
       ml_cron_next('0 3 * * *', '2025-10-05 02:45 Australia/Lord_Howe', 'Australia/Lord_Howe')
         AT TIME ZONE 'Australia/Lord_Howe' AS after_spring_forward,
       ml_cron_next('* * * * *', '1999-12-31 23:59:30+00', 'UTC') AT TIME ZONE 'UTC' AS next_minute_1999;
-- a job reads its cron schedule in the time zone it was scheduled in
SELECT ml_schedule_monitor('loans_monitor', '0 6 * * mon') AS cron_job;
RESET TimeZone;
SELECT kind, schedule, cron, time_zone, next_run_at = ml_cron_next('0 6 * * mon', now(), 'Europe/Berlin') AS first_run_at_match
  FROM ml.jobs WHERE cron IS NOT NULL;
SELECT ml_schedule_monitor('loans_monitor', interval '2 hours') AS interval_value_job;
SELECT ml_run_job(job_id) FROM ml.jobs WHERE cron IS NOT NULL;
SELECT next_run_at = ml_cron_next('0 6 * * mon', now(), 'Europe/Berlin') AS next_at_match, last_status
  FROM ml.jobs WHERE cron IS NOT NULL;
SELECT ml_cron_next('0 6 * * *', '2026-06-01 12:00+00', 'Asia/Tokyo') AS tokyo_6am;
SELECT ml_cron_next('0 6 * * *', '2026-06-01 12:00+00', 'Mars/Olympus');
SELECT ml_cron_next('0 0 30 2 *');
SELECT ml_cron_next('0 0 * *');
SELECT ml_cron_next('61 * * * *');
SELECT ml_cron_next('* * * * mon-xyz');
SELECT ml_schedule_monitor('loans_monitor', 'every tuesday');
UPDATE ml.jobs SET cron = '0 0 * *' WHERE cron IS NOT NULL;

-- Errors.
SELECT ml_schedule_monitor('nothing', '1 hour');
SELECT ml_schedule_refresh('nothing', '1 hour');
SELECT ml_schedule_monitor('loans_monitor', '500 milliseconds');
SELECT ml_schedule_monitor(NULL, '1 hour');
SELECT ml_run_job(99);
UPDATE ml.jobs SET enabled = false WHERE job_id = 1;
SELECT ml_run_job(1);

-- A monitor whose source fails keeps its failed run, and so does the job:
-- the job's run is an error with the monitor's message.
SELECT ml_create_monitor('gone_monitor', 'risk', 'loans_gone') > 0 AS monitor;
SELECT ml_schedule_monitor('gone_monitor', '1 hour') AS gone_job \gset
SELECT ml_run_job(:gone_job);
SELECT r.status, r.error, j.last_status FROM ml.jobs j JOIN ml.job_runs r USING (job_id) WHERE job_id = :gone_job;
SELECT status, error FROM ml.monitor_runs JOIN ml.monitors USING (monitor_id) WHERE name = 'gone_monitor';

DELETE FROM ml.jobs;
DELETE FROM ml.monitors;
-- (alert and monitor numbers as if this test had made none: the monitors
-- test shows them)
SELECT setval('ml.alerts_alert_id_seq', 1, false) AS alert_ids_reset,
       setval('ml.monitors_monitor_id_seq', 1, false) AS monitor_ids_reset;
DELETE FROM ml.models;
SELECT ml_drop_feature_table('loan_income');
DROP TABLE loans, prices;
