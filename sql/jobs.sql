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

-- Errors.
SELECT ml_schedule_monitor('nothing', '1 hour');
SELECT ml_schedule_refresh('nothing', '1 hour');
SELECT ml_schedule_monitor('loans_monitor', '500 milliseconds');
SELECT ml_schedule_monitor(NULL, '1 hour');
SELECT ml_run_job(99);
UPDATE ml.jobs SET enabled = false WHERE job_id = 1;
SELECT ml_run_job(1);

DELETE FROM ml.jobs;
DELETE FROM ml.monitors;
DELETE FROM ml.models;
DROP TABLE ml_features.loan_income_v1;
DELETE FROM ml.feature_tables;
DROP TABLE loans;
