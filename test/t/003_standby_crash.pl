# A streaming hot standby serves the registry read-only: ml_predict by name,
# by version and from a long-lived session follows the deployments replayed
# from the primary (at the next statement, also inside one transaction), and
# ml_train / ml_register_model / ml_deploy / ml_rollback fail there as
# read-only writes without disturbing it. A backend killed (SIGKILL) in the
# middle of an uncommitted train + deploy, whose changes a checkpoint has
# already written out, makes the primary go through crash recovery:
# afterwards the registry holds exactly what was committed before (deployed
# version, versions and their counter, aliases, deployment history),
# ml_predict serves the committed version, ml_train / ml_deploy / ml_rollback
# work again, and the standby, with its sessions, follows the recovered
# primary.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlsys'
# Cluster.pm turns this off; the crash test below needs the postmaster to
# reinitialise after a backend dies.
restart_after_crash = on
});
$primary->start;

# Two versions whose predictions for x = 1 are exactly 3 (v1) and 103 (v2);
# version 1, the first, is deployed.
$primary->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION mlsys;
	CREATE TABLE pts AS SELECT i::float8 AS x, 1 + 2 * i::float8 AS y FROM generate_series(1, 50) i;
	SELECT * FROM ml_train('m', 'linear', 'pts', 'y', test_fraction => 0);
	SELECT * FROM ml_train('m', 'linear', 'SELECT x, y + 100 AS y FROM pts', 'y', test_fraction => 0);
	-- ml_predict in a PL/pgSQL expression: its call site outlives a statement.
	CREATE FUNCTION predict1() RETURNS numeric LANGUAGE plpgsql AS $$
	BEGIN
		RETURN round(ml_predict('m', ARRAY[1.0]::float8[])::numeric, 6);
	END $$;
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# reconnect quickly to the primary after its crash
$standby->append_conf('postgresql.conf', "wal_retrieve_retry_interval = '100ms'");
$standby->start;
$primary->wait_for_catchup($standby);

sub predict
{
	my ($address) = @_;
	return "SELECT round(ml_predict('$address', ARRAY[1.0]::float8[])::numeric, 6);";
}

# Deploy on the primary and wait until the standby has replayed it.
sub deploy
{
	my ($version) = @_;
	$primary->safe_psql('postgres', "SELECT ml_deploy('m', $version)");
	$primary->wait_for_catchup($standby);
}

######################################################################
# Hot standby

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');
is($standby->safe_psql('postgres', predict('m')), '3.000000', 'standby serves the deployed version 1');
is($standby->safe_psql('postgres', predict('m@2')), '103.000000', 'standby serves m@2');

# A long-lived standby session; errors do not end it (they are checked).
my $sreader = $standby->background_psql('postgres', on_error_stop => 0);
is($sreader->query_safe(predict('m')), '3.000000', 'long-lived standby session serves version 1');

deploy(2);
is($standby->safe_psql('postgres', predict('m')), '103.000000',
	'a new standby session serves the newly deployed version 2');
is($standby->safe_psql('postgres', predict('m@1')), '3.000000', 'standby serves m@1');
is($sreader->query_safe(predict('m')), '103.000000',
	'long-lived standby session sees the replayed deployment at its next statement');
is($standby->safe_psql('postgres', 'SELECT deployed_version FROM ml.models WHERE name = $$m$$'),
	'2', 'standby registry shows version 2 deployed');

# Inside one READ COMMITTED transaction on the standby, the next statement
# sees a deployment replayed meanwhile, also from a PL/pgSQL call site.
$sreader->query_safe('BEGIN');
is($sreader->query_safe('SELECT predict1()'), '103.000000', 'PL/pgSQL on the standby serves version 2');
deploy(1);
is($sreader->query_safe('SELECT predict1()'), '3.000000',
	'next statement of the same standby transaction serves the replayed version 1');
is($sreader->query_safe(predict('m')), '3.000000', 'and so does a plain call');
$sreader->query_safe('COMMIT');
deploy(2);
is($sreader->query_safe('SELECT predict1()'), '103.000000', 'and back to version 2');

# Writes on the standby fail as read-only, in a separate session and in the
# long-lived one, which keeps serving afterwards.
my $history = q{SELECT count(*) || ':' || max(deployment_id) FROM ml.deployments};
my $history_before = $primary->safe_psql('postgres', $history);
my %writes = (
	ml_train => q{SELECT version FROM ml_train('m', 'linear', 'pts', 'y', test_fraction => 0)},
	ml_deploy => q{SELECT ml_deploy('m', 1)},
	'ml_deploy with an alias' => q{SELECT ml_deploy('m', 1, 'champion')},
	ml_rollback => q{SELECT ml_rollback('m')},
	ml_register_model => q{SELECT ml_register_model('m', ml_model('m', 1))},
);
for my $what (sort keys %writes)
{
	my ($ret, $stdout, $stderr) = $standby->psql('postgres', $writes{$what});
	isnt($ret, 0, "$what fails on the standby");
	like($stderr, qr/read-only/, "$what on the standby is a read-only transaction error");

	my ($out, $failed) = $sreader->query($writes{$what});
	ok($failed && $sreader->{stderr} =~ /read-only/,
		"$what fails as read-only in the long-lived standby session")
	  or diag("stdout: $out\nstderr: $sreader->{stderr}");
	$sreader->{stderr} = '';
	is($sreader->query_safe(predict('m')), '103.000000',
		"long-lived standby session still serves version 2 after $what failed");
}
is($standby->safe_psql('postgres', predict('m')), '103.000000',
	'standby still serves version 2 after the failed writes');
is($standby->safe_psql('postgres', predict('m@1')), '3.000000', 'and m@1');
is($primary->safe_psql('postgres', $history), $history_before,
	'the failed standby writes left no trace in the deployment history');

######################################################################
# Crash in the middle of a deploy

# Everything the killed transaction must not change, as text.
my $registry = q{
	SELECT string_agg(format('%s|%s|%s|%s', m.name, m.deployed_version, m.last_version, v.version),
	                  E'\n' ORDER BY v.version)
	  FROM ml.models m JOIN ml.model_versions v USING (model_id);
	SELECT string_agg(format('%s|%s|%s|%s|%s', deployment_id, alias, version, previous_version, reason),
	                  E'\n' ORDER BY deployment_id) FROM ml.deployments;
	SELECT count(*) FROM ml.aliases;
};
my $registry_before = $primary->safe_psql('postgres', $registry);
like($registry_before, qr/^m\|2\|2\|1\nm\|2\|2\|2\n/,
	'before the crash: versions 1 and 2, version 2 deployed');

my $victim = $primary->background_psql('postgres');
$victim->query_safe('SET client_min_messages = warning');
my $pid = $victim->query_safe('SELECT pg_backend_pid()');
like($pid, qr/^\d+$/, 'backend pid of the session to kill');
$victim->query_safe('BEGIN');
is($victim->query_safe(q{SELECT version FROM ml_train('m', 'linear', 'SELECT x, y + 200 AS y FROM pts', 'y',
                                                        test_fraction => 0)}),
	'3', 'the killed transaction trains version 3');
$victim->query_safe(q{SELECT ml_deploy('m', 1)});
$victim->query_safe(q{SELECT ml_deploy('m', 3, 'champion')});
is($victim->query_safe(predict('m')), '3.000000', 'the killed transaction sees its own deploy of version 1');

# The uncommitted changes go to disk and to the standby before the crash.
$primary->safe_psql('postgres', 'CHECKPOINT');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($primary->safe_psql('postgres', predict('m')), '103.000000', 'others still see version 2 on the primary');
is($standby->safe_psql('postgres', predict('m')), '103.000000', 'and on the standby');

my $log_offset = -s $primary->logfile;
ok(kill('KILL', $pid), "SIGKILL to the backend in the middle of the deploy (pid $pid)");
# psql has not noticed yet that its backend is gone; it may or may not by the
# time it reads \q.
eval { $victim->quit; };

# The postmaster notices the death, ends the other backends, recovers and is ready.
my $recovered = join('.*',
	map { quotemeta } "server process (PID $pid) was terminated by signal 9",
	'all server processes terminated; reinitializing',
	'database system is ready to accept connections');
$primary->wait_for_log(qr/$recovered/s, $log_offset);
ok($primary->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'primary accepts connections after crash recovery');
like(slurp_file($primary->logfile, $log_offset),
	qr/database system was not properly shut down; automatic recovery in progress/,
	'the primary went through crash recovery');

is($primary->safe_psql('postgres', $registry), $registry_before,
	'after crash recovery the registry is exactly as committed before the killed transaction');
is($primary->safe_psql('postgres', q{
	SELECT m.deployed_version = (SELECT d.version FROM ml.deployments d
	                              WHERE d.model_id = m.model_id AND d.alias = 'production'
	                              ORDER BY d.deployment_id DESC LIMIT 1)
	       AND NOT EXISTS (SELECT FROM ml.aliases a WHERE a.model_id = m.model_id)
	  FROM ml.models m WHERE m.name = 'm';
}), 't', 'deployed version agrees with the latest production deployment; no alias was left');
is($primary->safe_psql('postgres', predict('m')), '103.000000',
	'ml_predict serves the committed version 2 after the crash');
my ($ret, $stdout, $stderr) = $primary->psql('postgres', predict('m@champion'));
like($stderr, qr/has no alias "champion"/, 'the alias set by the killed transaction does not exist');
($ret, $stdout, $stderr) = $primary->psql('postgres', predict('m@3'));
like($stderr, qr/has no version 3/, 'the version trained by the killed transaction does not exist');

# The registry works again: the next version is 3, deploy and rollback.
is($primary->safe_psql('postgres', q{
	SET client_min_messages = warning;
	SELECT version FROM ml_train('m', 'linear', 'SELECT x, y + 300 AS y FROM pts', 'y', test_fraction => 0);
}), '3', 'the next trained version is 3');
is($primary->safe_psql('postgres', predict('m@3')), '303.000000', 'm@3 is the new version 3');
$primary->safe_psql('postgres', q{SELECT ml_deploy('m', 1)});
is($primary->safe_psql('postgres', predict('m')), '3.000000', 'ml_deploy after the crash');
is($primary->safe_psql('postgres', q{
	SELECT format('%s|%s|%s', version, previous_version, reason) FROM ml.deployments
	 ORDER BY deployment_id DESC LIMIT 1}), '1|2|ml_deploy', 'and it is recorded');
$primary->safe_psql('postgres', q{SELECT ml_deploy('m', 3, 'champion')});
is($primary->safe_psql('postgres', predict('m@champion')), '303.000000', 'an alias after the crash');
is($primary->safe_psql('postgres', q{SELECT ml_rollback('m')}), '2', 'ml_rollback after the crash');
is($primary->safe_psql('postgres', predict('m')), '103.000000', 'and version 2 is served again');
is($primary->safe_psql('postgres', q{
	SELECT format('%s|%s|%s', version, previous_version, reason) FROM ml.deployments
	 WHERE alias = 'production' ORDER BY deployment_id DESC LIMIT 1}), '2|1|rollback',
	'the rollback is recorded');

# The standby follows the recovered primary; its long-lived session survived.
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', predict('m')), '103.000000', 'standby serves version 2 after the crash');
is($standby->safe_psql('postgres', predict('m@3')), '303.000000', 'standby serves the new version 3');
is($standby->safe_psql('postgres', predict('m@champion')), '303.000000', 'and the new alias');
is($sreader->query_safe(predict('m@3')), '303.000000',
	'the long-lived standby session serves the new version 3');
is($sreader->query_safe(predict('m')), '103.000000', 'and the deployed version 2');
deploy(1);
is($sreader->query_safe(predict('m')), '3.000000', 'and follows a deployment after the crash');
$sreader->quit;

$standby->stop;
$primary->stop;
my @signals = slurp_file($primary->logfile) =~ /(terminated by signal.*)/g;
is_deeply(\@signals, ['terminated by signal 9: Killed'],
	'the killed backend is the only process terminated by a signal');
ok(slurp_file($primary->logfile) !~ /PANIC/, 'no PANIC in the primary log');
ok(slurp_file($standby->logfile) !~ /PANIC|terminated by signal/, 'no crash in the standby log');
done_testing();
