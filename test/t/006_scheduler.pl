# The scheduler background worker: runs due jobs as their owners, records
# failures and goes on, follows a SIGHUP'd naptime and mlsys.enabled, comes
# back after being killed, and marks runs a restart interrupted.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('scheduler');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlsys'
mlsys.naptime = 1
restart_after_crash = on
});
$node->start;

ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mlsys scheduler'}),
	'the worker runs, visible in pg_stat_activity');

$node->safe_psql('postgres', q{
	SET client_min_messages = error;
	CREATE EXTENSION mlsys;
	CREATE TABLE loans AS SELECT i, (i % 100)::float8 AS income, 2.0 * (i % 100) AS risk
	  FROM generate_series(1, 2000) i;
	SELECT version FROM ml_train('risk', 'linear', 'loans', 'risk', ARRAY['income'], test_fraction => 0);
	CREATE ROLE trainer LOGIN IN ROLE ml_trainer;
	GRANT SELECT ON loans TO trainer;
	CREATE ROLE outsider LOGIN;
});
# Jobs scheduled by a trainer run as the trainer.
$node->safe_psql('postgres', q{
	SELECT ml_create_monitor('same', 'risk', 'loans');
	SELECT ml_schedule_monitor('same', '1 second');
}, extra_params => [ '-U', 'trainer' ]);
my $runs_of_1 = q{(SELECT count(*) FROM ml.job_runs WHERE job_id = 1 AND status = 'ok')};
ok($node->poll_query_until('postgres', "SELECT $runs_of_1 >= 2"), 'a scheduled job runs again and again');
is($node->safe_psql('postgres', q{SELECT DISTINCT run_by FROM ml.monitor_runs}), 'trainer',
	'as its owner');

# The owner column cannot be forged, and a job whose owner may not run it fails on record.
my ($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO ml.jobs (kind, target, schedule, owner) VALUES ('monitor', 'same', '1 s', 'postgres')},
	extra_params => [ '-U', 'trainer' ]);
like($err, qr/permission denied/, 'a trainer cannot set the owner of a job');
$node->safe_psql('postgres',
	q{INSERT INTO ml.jobs (kind, target, schedule, owner) VALUES ('monitor', 'same', '1 second', 'outsider')});
ok($node->poll_query_until('postgres',
	q{SELECT count(*) >= 2 FROM ml.job_runs WHERE job_id = 2 AND status = 'error'}),
	'a failing job is recorded each time');
like($node->safe_psql('postgres', q{SELECT last_error FROM ml.jobs WHERE job_id = 2}),
	qr/permission denied for function ml_run_monitor/, 'with its error');
my $before = $node->safe_psql('postgres', "SELECT $runs_of_1");
ok($node->poll_query_until('postgres', "SELECT $runs_of_1 > $before"), 'and the other job goes on');
$node->safe_psql('postgres', q{DELETE FROM ml.jobs WHERE job_id = 2});

# A job's session is its owner's, not the worker's superuser's: what the
# SECURITY DEFINER recorders check (session_user) sees the owner.
$node->safe_psql('postgres', q{
	SELECT ml_create_monitor('as_owner', 'risk', 'SELECT income FROM loans WHERE session_user = ''trainer''');
	SELECT ml_schedule_monitor('as_owner', '1 hour');
}, extra_params => [ '-U', 'trainer' ]);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM ml.monitor_runs r JOIN ml.monitors m USING (monitor_id)
	   WHERE m.name = 'as_owner' AND r.rows_seen = 2000}),
	'a job runs with its owner as the session user');
$node->safe_psql('postgres', q{DELETE FROM ml.jobs WHERE target = 'as_owner'});

# A job whose owner may no longer read its source fails with that permission
# error, and a job whose source was dropped records that; the others go on.
$node->safe_psql('postgres', q{
	CREATE TABLE loans_private AS SELECT * FROM loans;
	CREATE TABLE loans_copy AS SELECT * FROM loans;
	GRANT SELECT ON loans_private, loans_copy TO trainer;
});
$node->safe_psql('postgres', q{
	SELECT ml_create_monitor('private', 'risk', 'loans_private');
	SELECT ml_create_monitor('copied', 'risk', 'loans_copy');
	SELECT ml_schedule_monitor(m, '1 second') FROM unnest(ARRAY['private', 'copied']) m;
}, extra_params => [ '-U', 'trainer' ]);
$node->safe_psql('postgres', q{REVOKE SELECT ON loans_private FROM trainer; DROP TABLE loans_copy});
my $last_error = q{(SELECT r.error FROM ml.job_runs r JOIN ml.jobs j USING (job_id)
                     WHERE j.target = '%s' AND r.status = 'error' ORDER BY r.run_id DESC LIMIT 1)};
ok($node->poll_query_until('postgres', sprintf("SELECT %s LIKE '%%permission denied for table loans_private%%'", sprintf($last_error, 'private'))),
	'a job whose owner lost SELECT on the source fails with the permission error');
ok($node->poll_query_until('postgres', sprintf(q{SELECT %s LIKE '%%relation "loans_copy" does not exist%%'}, sprintf($last_error, 'copied'))),
	'a job whose source was dropped records the error');
$before = $node->safe_psql('postgres', "SELECT $runs_of_1");
ok($node->poll_query_until('postgres', "SELECT $runs_of_1 > $before"), 'and the scheduler goes on');
$node->safe_psql('postgres', q{DELETE FROM ml.jobs WHERE target IN ('private', 'copied')});

# SIGHUP: a long naptime stops the runs, a short one resumes them.
$node->append_conf('postgresql.conf', 'mlsys.naptime = 3600');
$node->reload;
sleep 2;
$before = $node->safe_psql('postgres', "SELECT $runs_of_1");
sleep 3;
is($node->safe_psql('postgres', "SELECT $runs_of_1"), $before, 'a reloaded long naptime pauses the runs');
$node->append_conf('postgresql.conf', 'mlsys.naptime = 1');
$node->reload;
# (the reload wakes the worker from its long nap)
ok($node->poll_query_until('postgres', "SELECT $runs_of_1 > $before"),
	'a reloaded short naptime resumes them');
# mlsys.enabled = off pauses the scheduler the same way, on resumes it.
$node->append_conf('postgresql.conf', 'mlsys.enabled = off');
$node->reload;
sleep 2;
$before = $node->safe_psql('postgres', "SELECT $runs_of_1");
sleep 3;
is($node->safe_psql('postgres', "SELECT $runs_of_1"), $before, 'mlsys.enabled = off pauses the runs');
$node->append_conf('postgresql.conf', 'mlsys.enabled = on');
$node->reload;
ok($node->poll_query_until('postgres', "SELECT $runs_of_1 > $before"), 'mlsys.enabled = on resumes them');

# Jobs run side by side, each in its own worker, up to mlsys.max_concurrent_jobs
# (2 by default): two slow monitors (each source sleeps 3 s) overlap, and a
# third waits for a free worker.
$node->safe_psql('postgres', q{UPDATE ml.jobs SET enabled = false});
$node->safe_psql('postgres', q{
	SELECT ml_create_monitor('slow_a', 'risk', 'SELECT income FROM loans, pg_sleep(3)');
	SELECT ml_create_monitor('slow_b', 'risk', 'SELECT income FROM loans, pg_sleep(3)');
	SELECT ml_create_monitor('slow_c', 'risk', 'SELECT income FROM loans, pg_sleep(3)');
	SELECT ml_schedule_monitor(m, '1 hour') FROM unnest(ARRAY['slow_a', 'slow_b', 'slow_c']) m;
}, extra_params => [ '-U', 'trainer' ]);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 3 FROM ml.job_runs r JOIN ml.jobs j USING (job_id)
	   WHERE j.target LIKE 'slow_%' AND r.status = 'ok'}),
	'three slow jobs all run');
is($node->safe_psql('postgres', q{
	WITH slow AS (SELECT r.run_id, tstzrange(r.started_at, r.finished_at) AS span
	                FROM ml.job_runs r JOIN ml.jobs j USING (job_id) WHERE j.target LIKE 'slow_%')
	SELECT (SELECT count(*) > 0 FROM slow a, slow b WHERE a.run_id < b.run_id AND a.span && b.span),
	       (SELECT count(*) FROM slow a, slow b, slow c
	         WHERE a.run_id < b.run_id AND b.run_id < c.run_id
	           AND a.span * b.span * c.span <> 'empty')}),
	't|0', 'two at a time: runs overlap, but never three');
$node->safe_psql('postgres', q{DELETE FROM ml.jobs WHERE target LIKE 'slow_%'});

# The launcher terminated while a job runs: the job goes on, is not marked
# interrupted, and the new launcher does not start it a second time; it
# counts that job's worker among mlsys.max_concurrent_jobs, so of two more
# due jobs it starts one while that worker lives.
$node->safe_psql('postgres', q{
	SELECT ml_create_monitor('slow_long', 'risk', 'SELECT income FROM loans, pg_sleep(10)');
	SELECT ml_schedule_monitor('slow_long', '1 hour');
}, extra_params => [ '-U', 'trainer' ]);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM ml.job_runs r JOIN ml.jobs j USING (job_id)
	   WHERE j.target = 'slow_long' AND r.status = 'running'}),
	'a slow job runs');
$node->safe_psql('postgres',
	q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'mlsys scheduler'});
$node->safe_psql('postgres', q{SELECT ml_schedule_monitor(m, '1 hour') FROM unnest(ARRAY['slow_b', 'slow_c']) m},
	extra_params => [ '-U', 'trainer' ]);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 3 FROM ml.job_runs r JOIN ml.jobs j USING (job_id)
	   WHERE j.target IN ('slow_long', 'slow_b', 'slow_c') AND r.status = 'ok'}),
	'after the launcher was terminated, the run ends as it would have, and the new jobs run');
is($node->safe_psql('postgres',
	q{SELECT string_agg(r.status, ',') FROM ml.job_runs r JOIN ml.jobs j USING (job_id) WHERE j.target = 'slow_long'}),
	'ok', 'once: not interrupted, not started again');
is($node->safe_psql('postgres', q{
	WITH slow AS (SELECT r.run_id, tstzrange(r.started_at, r.finished_at) AS span
	                FROM ml.job_runs r JOIN ml.jobs j USING (job_id)
	               WHERE j.target IN ('slow_long', 'slow_b', 'slow_c'))
	SELECT count(*) FROM slow a, slow b, slow c
	 WHERE a.run_id < b.run_id AND b.run_id < c.run_id AND a.span * b.span * c.span <> 'empty'}),
	'0', "the new launcher counts the old launcher's job worker: never three at once");
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mlsys scheduler'}),
	'the launcher is back');
$node->safe_psql('postgres', q{DELETE FROM ml.jobs WHERE target LIKE 'slow_%'; UPDATE ml.jobs SET enabled = true});

# SIGKILL of the worker: the postmaster reinitialises, the worker comes back, the schedule goes on.
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'mlsys scheduler'});
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
	qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mlsys scheduler' AND pid <> $pid}),
	'a killed worker is started again');
$before = $node->safe_psql('postgres', "SELECT $runs_of_1");
ok($node->poll_query_until('postgres', "SELECT $runs_of_1 > $before"), 'and the schedule continues');

# A run left 'running' by a crash is marked interrupted when the worker starts.
$node->safe_psql('postgres', q{DELETE FROM ml.jobs});
$node->safe_psql('postgres', q{
	INSERT INTO ml.jobs (job_id, kind, target, schedule, enabled, owner)
	VALUES (9, 'monitor', 'same', '1 hour', false, 'trainer');
	INSERT INTO ml.job_runs (job_id, status) VALUES (9, 'running');
});
$node->restart;
ok($node->poll_query_until('postgres',
	q{SELECT status = 'interrupted' FROM ml.job_runs WHERE job_id = 9}),
	'an interrupted run is marked at start-up');

# Without the worker, a job runs on demand, as the caller (its owner here).
$node->safe_psql('postgres', q{UPDATE ml.jobs SET enabled = true WHERE job_id = 9});
$node->safe_psql('postgres', q{SELECT ml_run_job(9)}, extra_params => [ '-U', 'trainer' ]);
is($node->safe_psql('postgres', q{SELECT count(*) FROM ml.job_runs WHERE job_id = 9 AND status = 'ok'}),
	'1', 'ml_run_job runs a job now');

$node->stop;
done_testing();
