# The prediction log: sampled predictions by name, from several sessions and
# from read-only transactions, reach ml.prediction_log through the worker;
# a shadow version's predictions are logged beside the served ones and equal
# that version's own; a full queue drops and counts instead of waiting; the
# worker comes back after SIGKILL (which reinitialises shared memory: what
# was queued then is lost, the log is best-effort) and logs again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('prediction_log');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlsys'
mlsys.prediction_log_queue = 1024
restart_after_crash = on
});
$node->start;

ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mlsys prediction log'}),
	'the worker runs, visible in pg_stat_activity');

$node->safe_psql('postgres', q{
	SET client_min_messages = error;
	CREATE EXTENSION mlsys;
	CREATE TABLE loans AS SELECT i AS id, (i % 100)::float8 AS income, (i % 7)::float8 AS age,
	       2.0 * (i % 100) + (i % 7) AS risk
	  FROM generate_series(1, 300) i;
	SELECT version FROM ml_train('risk', 'linear', 'loans', 'risk', ARRAY['income', 'age'], test_fraction => 0);
	SELECT version FROM ml_train('risk', 'xgboost', 'loans', 'risk', ARRAY['income', 'age'],
	                             '{"n_estimators": 20}', 0);
	SELECT ml_deploy('risk', 2, 'challenger');
	SELECT ml_shadow('risk', 'challenger');
	CREATE ROLE app LOGIN IN ROLE ml_reader;
	GRANT SELECT ON loans TO app;
});
is($node->safe_psql('postgres', q{SELECT active, rate FROM ml_prediction_log_status()}), 't|0',
	'logging is possible here, and off by default');

# Nothing is logged at rate 0.
$node->safe_psql('postgres', q{SELECT sum(ml_predict('risk', l)) FROM loans l});

# Three sessions, one of them read-only, log every prediction (rate 1).
my @sessions;
for my $i (1 .. 3)
{
	my $ro = $i == 3 ? 'SET default_transaction_read_only = on;' : '';
	push @sessions, $node->background_psql('postgres', on_error_stop => 1,
		extra_params => [ '-U', 'app' ]);
	$sessions[-1]->query_safe("SET mlsys.prediction_log_rate = 1; $ro");
}
for my $i (0 .. 2)
{
	my $lo = 100 * $i + 1;
	my $hi = 100 * $i + 100;
	$sessions[$i]->query_safe(
		"SELECT sum(ml_predict('risk', l, id)) FROM loans l WHERE id BETWEEN $lo AND $hi");
}
$_->quit for @sessions;
ok($node->poll_query_until('postgres', q{SELECT count(*) = 600 FROM ml.prediction_log}),
	'every prediction of the three sessions is logged, served and shadow');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s %s', version, shadow, count, keys), ', ' ORDER BY version)
	  FROM (SELECT version, shadow, count(*), count(DISTINCT key) AS keys
	          FROM ml.predictions WHERE model_name = 'risk' GROUP BY 1, 2) s}),
	'1 f 300 300, 2 t 300 300', 'served by version 1, shadowed by version 2, one row per key');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM ml.prediction_log p JOIN loans l ON l.id = p.key::int
	 WHERE p.prediction IS DISTINCT FROM ml_predict('risk@' || p.version, l)}),
	'0', 'each logged value is what its version predicts for the row');
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT p.inputs_hash) = count(DISTINCT (l.income, l.age))
	  FROM ml.prediction_log p JOIN loans l ON l.id = p.key::int WHERE NOT p.shadow}),
	't', 'the inputs hash tells rows with the same inputs');

# Sampling: about a tenth at rate 0.1.
$node->safe_psql('postgres', q{TRUNCATE ml.prediction_log; SELECT ml_shadow('risk', NULL)});
$node->safe_psql('postgres', q{
	SET mlsys.prediction_log_rate = 0.1;
	SELECT sum(ml_predict('risk', l)) FROM loans l, generate_series(1, 10);});
ok($node->poll_query_until('postgres', q{SELECT queued = 0 FROM ml_prediction_log_status()}),
	'the queue drains');
my $sampled = $node->safe_psql('postgres', q{SELECT count(*) FROM ml.prediction_log});
ok($sampled > 200 && $sampled < 400, "rate 0.1 logs about 300 of 3000 predictions (got $sampled)");

# A full queue drops and counts, never waits: with the worker stopped, one
# statement makes 2000 predictions for a queue of 1024.
$node->safe_psql('postgres', q{TRUNCATE ml.prediction_log});
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'mlsys prediction log'});
my $dropped_before = $node->safe_psql('postgres', q{SELECT dropped FROM ml_prediction_log_status()});
kill 'STOP', $pid;
$node->safe_psql('postgres', q{
	SET mlsys.prediction_log_rate = 1;
	SELECT sum(ml_predict('risk', l)) FROM (SELECT * FROM loans LIMIT 200) l, generate_series(1, 10);});
is($node->safe_psql('postgres', q{SELECT queued, dropped FROM ml_prediction_log_status()}),
	'1024|' . ($dropped_before + 976), 'the queue holds 1024, the other 976 are counted as dropped');
kill 'CONT', $pid;
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1024 FROM ml.prediction_log}),
	'the queued ones are logged once the worker goes on');

# SIGKILL of the worker: the postmaster restarts everything; predictions
# queued after the restart are logged.
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mlsys prediction log'}),
	'the worker comes back after SIGKILL');
$node->safe_psql('postgres', q{TRUNCATE ml.prediction_log});
$node->safe_psql('postgres', q{
	SET mlsys.prediction_log_rate = 1;
	SELECT sum(ml_predict('risk', l)) FROM loans l WHERE id <= 100;});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 100 FROM ml.prediction_log}),
	'and logs again');

$node->stop;
done_testing();
