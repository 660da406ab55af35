# Drift monitor alerts reach listeners: a session LISTENing on ml_alerts
# receives one JSON payload per alert of a drifted run, and nothing for a
# run whose data matches the training data.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('monitor_alerts');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlsys'");
$node->start;

$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION mlsys;
	CREATE TABLE loans AS SELECT i, (i % 100)::float8 AS income, 2.0 * (i % 100) AS risk
	  FROM generate_series(1, 2000) i;
	SELECT version FROM ml_train('risk', 'linear', 'loans', 'risk', ARRAY['income'], test_fraction => 0);
	CREATE TABLE shifted AS SELECT i, (i % 100) * 3.0 AS income FROM generate_series(1, 500) i;
	SELECT ml_create_monitor('same', 'risk', 'loans');
	SELECT ml_create_monitor('moved', 'risk', 'shifted');
});

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN ml_alerts');

# An undrifted run raises nothing.
$node->safe_psql('postgres', q{SET client_min_messages = error; SELECT count(*) FROM ml_run_monitor('same')});
my $quiet = $listener->query_safe('SELECT 1');
unlike($quiet, qr/ml_alerts/, 'no notification for an undrifted run');

# A drifted run notifies once per alert, with the JSON payload.
$node->safe_psql('postgres', q{SET client_min_messages = error; SELECT count(*) FROM ml_run_monitor('moved')});
my $heard = $listener->query_safe('SELECT 1');
my @payloads = $heard =~ /Asynchronous notification "ml_alerts" with payload "(.*?)" received/g;
my $alerts = $node->safe_psql('postgres', 'SELECT count(*) FROM ml.alerts');
ok($alerts >= 2, "the drifted run raised alerts ($alerts)");
is(scalar(@payloads), $alerts, 'one notification per alert');
like($payloads[0], qr/"model": "risk"/, 'payload names the model');
like($heard, qr/"metric": "psi".*"level": "alert"|"level": "alert".*"metric": "psi"/,
	'the PSI alert is among them');
like($heard, qr/"monitor": "moved"/, 'payload names the monitor');

$listener->quit;
$node->stop;
done_testing();
