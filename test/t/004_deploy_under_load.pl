# Deploys under load: while one session deploys version 2 and rolls back to
# version 1 every 100 ms, pgbench clients calling ml_predict by name (two over
# the simple protocol, two with prepared statements) get no error, and every
# result is the output of version 1 or of version 2 for that input. Every
# client sees both versions, switching many times over one connection (the
# per-backend cache follows deployments), and one statement that resolves the
# model 2000 times never mixes the two. The deployer gets no error either, and
# afterwards the history alternates deploy/rollback and its last row is the
# deployed version.
#
# MLSYS_LOAD_SECONDS (default 30, as the registry issue asks) sets how long
# the load runs.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $secs = $ENV{MLSYS_LOAD_SECONDS} || 30;
die "MLSYS_LOAD_SECONDS must be a whole number of seconds >= 2, got $secs"
  unless $secs =~ /^\d+$/ && $secs >= 2;

my $node = PostgreSQL::Test::Cluster->new('load');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlsys'");
# Cluster.pm logs every statement; under load that is most of the work.
$node->append_conf('postgresql.conf', "log_statement = none");
$node->start;

# Two versions whose predictions for x are exactly 1 + 2x (v1) and 101 + 2x
# (v2): 3 and 103 for x = 1. Version 1, the first, is deployed.
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION mlsys;
	CREATE TABLE pts AS SELECT i::float8 AS x, 1 + 2 * i::float8 AS y FROM generate_series(1, 50) i;
	SELECT * FROM ml_train('m', 'linear', 'pts', 'y', test_fraction => 0);
	SELECT * FROM ml_train('m', 'linear', 'SELECT x, y + 100 AS y FROM pts', 'y', test_fraction => 0);
	-- Raises an error (so pgbench aborts the client) unless ok is true. A
	-- function, not 1/0: the planner folds a constant 1/0 in a generic plan.
	CREATE FUNCTION assert_true(ok boolean, msg text) RETURNS int LANGUAGE plpgsql AS $$
	BEGIN
		IF ok IS NOT TRUE THEN
			RAISE EXCEPTION 'check failed: %', msg;
		END IF;
		RETURN 1;
	END $$;
	-- What the readers saw: per application_name (the protocol), client and
	-- value, how many times, and how often the client's value had changed
	-- from one call to the next.
	CREATE UNLOGGED TABLE seen (proto text, client int, value numeric, n bigint, switches bigint,
	                            PRIMARY KEY (proto, client, value));
	-- Each scan: its version (1 or 101) and when it started and ended.
	CREATE UNLOGGED TABLE scans (proto text, client int, b numeric, t0 numeric, t1 numeric);
});
is($node->safe_psql('postgres', q{
	SELECT round(ml_predict('m', ARRAY[1.0]::float8[])::numeric, 6) || ',' ||
	       round(ml_predict('m@2', ARRAY[1.0]::float8[])::numeric, 6) || ',' ||
	       round(ml_predict('m@production', ARRAY[1.0]::float8[])::numeric, 6)
}), '3.000000,103.000000,3.000000', 'version 1 predicts 3 and version 2 predicts 103 for x = 1');

my $dir = PostgreSQL::Test::Utils::tempdir;
sub script
{
	my ($name, $text) = @_;
	open my $fh, '>', "$dir/$name" or die "cannot write $dir/$name: $!";
	print $fh $text;
	close $fh;
	return "$dir/$name";
}

# The point check: one call by name, its value checked and counted.
my $point = script('point.sql', q{
SELECT round(ml_predict('m', ARRAY[1.0]::float8[])::numeric, 6) AS p \gset
SELECT assert_true(:p::numeric IN (3, 103), 'ml_predict(''m'', ARRAY[1.0]) returned ' || :p);
\if :p != :last
\set switches :switches + 1
\set last :p
\endif
INSERT INTO seen VALUES (current_setting('application_name'), :client_id, :p, 1, :switches)
    ON CONFLICT (proto, client, value) DO UPDATE SET n = seen.n + 1, switches = excluded.switches;
});

# One statement, 2000 rows, 2000 registry lookups (the name alternates
# between two addresses of the deployed version, so the call site resolves
# it again on each row; OFFSET 0 keeps it one call per row): every row must
# come from the same version. The value minus 2x is 1 for version 1, 101 for
# version 2. It takes some 15 ms (more under load), so many scans overlap a
# deploy's commit.
my $scan = script('scan.sql', q{
SELECT assert_true(count(DISTINCT b) = 1 AND min(b) IN (1, 101),
                   'one statement mixed versions: ' || string_agg(DISTINCT b::text, ',')) AS ok,
       min(b) AS b, extract(epoch FROM statement_timestamp()) AS t0, extract(epoch FROM clock_timestamp()) AS t1
  FROM (SELECT round(ml_predict(CASE WHEN i % 2 = 0 THEN 'm' ELSE 'm@production' END,
                                ARRAY[i::float8])::numeric - 2 * i, 6) AS b
          FROM generate_series(1, 2000) i OFFSET 0) s \gset
INSERT INTO scans VALUES (current_setting('application_name'), :client_id, :b, :t0, :t1);
});

my $deploy = script('deploy.sql', q{
SELECT ml_deploy('m', 2);
\sleep 100 ms
SELECT ml_rollback('m');
\sleep 100 ms
});

my %runs;
sub start_pgbench
{
	my ($name, @args) = @_;
	my $run = $runs{$name} = { out => '', err => '' };
	my @cmd = ('pgbench', '-n', @args, '-h', $node->host, '-p', $node->port,
		"dbname=postgres application_name=$name");
	note "starting $name: @cmd";
	$run->{h} = IPC::Run::start(\@cmd, '>', \$run->{out}, '2>', \$run->{err},
		IPC::Run::timeout($secs + $PostgreSQL::Test::Utils::timeout_default));
	return;
}

my $log_offset = -s $node->logfile;
# The deployer starts first and stops last, so the readers run under it all along.
start_pgbench('deployer', '-c', '1', '-T', $secs + 1, '-f', $deploy);
for my $proto ('simple', 'prepared')
{
	start_pgbench($proto, '-M', $proto, '-c', '2', '-j', '2', '-T', $secs,
		'-D', 'last=0', '-D', 'switches=0',
		'-f', "$point\@19", '-f', "$scan\@1");
}

for my $name ('simple', 'prepared', 'deployer')
{
	my $run = $runs{$name};
	$run->{h}->finish;
	my $rc = $run->{h}->result(0);
	my ($txns) = $run->{out} =~ /number of transactions actually processed: (\d+)/;
	my ($failed) = $run->{out} =~ /number of failed transactions: (\d+)/;
	is($rc, 0, "pgbench $name exits with 0")
	  or diag("stdout:\n$run->{out}\nstderr:\n$run->{err}");
	unlike($run->{err}, qr/aborted|error/i, "pgbench $name: no client aborted, no error");
	is($failed, 0, "pgbench $name: 0 failed transactions");
	my $min = $name eq 'deployer' ? 2 * $secs : 10 * $secs;
	cmp_ok($txns // 0, '>', $min, "pgbench $name: more than $min transactions");
	diag("pgbench $name: " . ($txns // '?') . " transactions in " . ($name eq 'deployer' ? $secs + 1 : $secs) . " s");
	if ($name ne 'deployer')
	{
		my ($npoint) = $run->{out} =~ /^SQL script \d+: \S*point\.sql\n.*?^ - (\d+) transactions/ms;
		my ($nscan) = $run->{out} =~ /^SQL script \d+: \S*scan\.sql\n.*?^ - (\d+) transactions/ms;
		diag("pgbench $name: " . ($npoint // '?') . " point checks, " . ($nscan // '?') . " 2000-row scans");
		cmp_ok($nscan // 0, ">", 2, "pgbench $name ran several 2000-row scans");
	}
}
unlike(substr(slurp_file($node->logfile), $log_offset), qr/ERROR|FATAL|PANIC/,
	'no error in the server log during the load');

# Every client saw both versions, over one connection, switching many times.
my $summary = $node->safe_psql('postgres', q{
	SELECT proto, client, string_agg(value || ':' || n, ' ' ORDER BY value), max(switches)
	  FROM seen GROUP BY proto, client ORDER BY 1, 2;
});
diag("seen (proto|client|value:count|switches):\n$summary");
for my $proto ('simple', 'prepared')
{
	for my $client (0, 1)
	{
		like($summary, qr/^$proto\|$client\|3\.000000:\d+ 103\.000000:\d+\|(\d+)$/m,
			"$proto client $client saw both 3 and 103");
		my ($switches) = $summary =~ /^$proto\|$client\|[^|]*\|(\d+)$/m;
		cmp_ok($switches // 0, '>', $secs,
			"$proto client $client followed the deployments (changes of value seen)");
	}
}

# The scans saw both versions (each one only, checked in pgbench), and many
# of them were running while a deploy or rollback was made.
my $scans = $node->safe_psql('postgres', q{
	SELECT proto, count(*), count(*) FILTER (WHERE b = 1), count(*) FILTER (WHERE b = 101),
	       count(*) FILTER (WHERE EXISTS (SELECT FROM ml.deployments d
	                                       WHERE d.reason IN ('ml_deploy', 'rollback')
	                                         AND d.deployed_at BETWEEN to_timestamp(t0) AND to_timestamp(t1)))
	  FROM scans GROUP BY proto ORDER BY 1;
});
diag("scans (proto|scans|of version 1|of version 2|with a deploy or rollback meanwhile):\n$scans");
for my $proto ('simple', 'prepared')
{
	my ($v1, $v2, $overlap) = $scans =~ /^$proto\|\d+\|(\d+)\|(\d+)\|(\d+)$/m;
	ok(($v1 // 0) > 0 && ($v2 // 0) > 0, "$proto scans saw both versions");
	cmp_ok($overlap // 0, '>', 0, "$proto: some scans ran while a deploy or rollback was made");
}

# The deployer did many cycles, the history alternates, and the model's
# deployed version is that of the last production row.
my ($deploys, $rollbacks, $odd, $last, $deployed) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE reason = 'ml_deploy'),
	       count(*) FILTER (WHERE reason = 'rollback'),
	       count(*) FILTER (WHERE NOT ((reason = 'ml_deploy' AND version = 2 AND previous_version = 1)
	                                OR (reason = 'rollback' AND version = 1 AND previous_version = 2)
	                                OR (reason = 'first version' AND version = 1))),
	       (SELECT version FROM ml.deployments WHERE alias = 'production' ORDER BY deployment_id DESC LIMIT 1),
	       (SELECT deployed_version FROM ml.models WHERE name = 'm')
	  FROM ml.deployments WHERE alias = 'production';
});
diag("deployer: $deploys deploys, $rollbacks rollbacks; deployed version $deployed");
cmp_ok($deploys, '>', 2 * $secs, "more than @{[2 * $secs]} deploys");
ok($deploys - $rollbacks == 0 || $deploys - $rollbacks == 1,
	'each deploy but maybe the last was rolled back');
is($odd, 0, 'every history row is a deploy 1 -> 2 or a rollback 2 -> 1');
ok($deployed == 1 || $deployed == 2, 'the deployed version is 1 or 2');
is($deployed, $last, 'the deployed version is that of the last history row');
is($node->safe_psql('postgres', q{SELECT round(ml_predict('m', ARRAY[1.0]::float8[])::numeric, 6)}),
	$deployed == 1 ? '3.000000' : '103.000000', 'a new session is served the deployed version');

$node->stop;
ok(slurp_file($node->logfile) !~ /PANIC|terminated by signal/, 'no crash in the server log');
done_testing();
