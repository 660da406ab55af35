# Several sessions: a deploy is seen by other sessions at their next
# statement after commit, never before, never when rolled back, and never
# half-way through a statement.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('sessions');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlsys'");
$node->start;

# Two versions whose predictions for x = 1 are exactly 3 (v1) and 103 (v2).
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION mlsys;
	CREATE TABLE pts AS SELECT i::float8 AS x, 1 + 2 * i::float8 AS y FROM generate_series(1, 50) i;
	SELECT * FROM ml_train('m', 'linear', 'pts', 'y', test_fraction => 0);
	SELECT * FROM ml_train('m', 'linear', 'SELECT x, y + 100 AS y FROM pts', 'y', test_fraction => 0);
});
my $predict = q{SELECT round(ml_predict('m', ARRAY[1.0]::float8[])::numeric, 6);};

my $reader = $node->background_psql('postgres');
my $admin = $node->background_psql('postgres');
$admin->query_safe('SET client_min_messages = warning');

is($reader->query_safe($predict), '3.000000', 'reader sees version 1');

$admin->query_safe('BEGIN');
$admin->query_safe(q{SELECT ml_deploy('m', 2)});
is($admin->query_safe($predict), '103.000000', 'deploying session sees its own deploy');
is($reader->query_safe($predict), '3.000000', 'uncommitted deploy is not seen');
$admin->query_safe('COMMIT');
is($reader->query_safe($predict), '103.000000', 'committed deploy is seen by the next statement');

$admin->query_safe('BEGIN');
$admin->query_safe(q{SELECT ml_deploy('m', 1)});
$admin->query_safe('ROLLBACK');
is($reader->query_safe($predict), '103.000000', 'rolled-back deploy is never seen');

# A slow scan in the reader while the admin deploys in the middle of it:
# every row of the statement uses the version of the statement's start.
$reader->query_until(qr/scan started/, q{
\echo scan started
SELECT string_agg(DISTINCT round(ml_predict('m', ARRAY[1.0]::float8[])::numeric, 6)::text, ',')
  FROM (SELECT i, pg_sleep(0.05) FROM generate_series(1, 40) i) s;
\echo scan done
});
sleep 1;
$admin->query_safe(q{SELECT ml_deploy('m', 1)});
my $scan = $reader->query_until(qr/scan done/, '');
like($scan, qr/^\s*103\.000000\s*$/m, 'a statement never mixes two versions');
is($reader->query_safe($predict), '3.000000', 'the next statement sees the new deploy');

# Several sessions training the same model at once get distinct versions.
my @trainers = map { $node->background_psql('postgres') } 1 .. 3;
$_->query_safe('SET client_min_messages = warning') for @trainers;
$_->query_until(qr/go/, "\\echo go\nSELECT version FROM ml_train('m', 'linear', 'pts', 'y');\n")
  for @trainers;
$_->quit for @trainers;
is($node->safe_psql('postgres', q{
	SELECT string_agg(version::text, ',' ORDER BY version) FROM ml.model_versions
	 WHERE model_id = (SELECT model_id FROM ml.models WHERE name = 'm');
}), '1,2,3,4,5', 'concurrent training gets versions 3, 4 and 5');

# Under REPEATABLE READ, a version added after the snapshot was taken makes
# the next write a serialization failure (retryable), never a duplicate.
# (psql stops at the error, so this session is not used afterwards.)
my $rr = $node->background_psql('postgres');
$rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$rr->query_safe('SELECT count(*) FROM ml.model_versions');
$admin->query_safe(q{SELECT version FROM ml_train('m', 'linear', 'pts', 'y')});
eval { $rr->query(q{SELECT version FROM ml_train('m', 'linear', 'pts', 'y')}); };
like($rr->{stderr}, qr/could not serialize access/,
	'a concurrent version under REPEATABLE READ is a serialization failure');

$reader->quit;
$admin->quit;
$node->stop;
ok(slurp_file($node->logfile) !~ /PANIC|terminated by signal/, 'no crash in the server log');
done_testing();
