# A feature-table refresh killed with SIGKILL half-way leaves nothing of
# itself: after crash recovery the next refresh loads exactly the rows the
# killed one would have, no duplicates, nothing missing; and a refresh
# after inserts and a late update, incremental then full, matches the
# defining query.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('feature_crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mlsys'
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION mlsys;
	CREATE TABLE src (e int, t timestamptz, v float8);
	INSERT INTO src SELECT i % 1000, timestamptz '2026-01-01' + i * interval '1 second', i
	  FROM generate_series(1, 20000) i;
	CREATE TABLE delay (seconds float8);
	INSERT INTO delay VALUES (0);
	-- the defining query waits as long as delay says, once per run
	SELECT ml_create_feature_table('f', 'SELECT e, t, v FROM src, (SELECT pg_sleep(seconds) FROM delay) d',
	                               'e', 't');
});
# The rows the feature table must hold: the defining query's.
my $same = q{SELECT (SELECT count(*) FROM ml_features.f_v1) = (SELECT count(*) FROM src)
	AND NOT EXISTS (SELECT e, t, v FROM src EXCEPT ALL SELECT e, t, v FROM ml_features.f_v1)
	AND NOT EXISTS (SELECT e, t, v FROM ml_features.f_v1 EXCEPT ALL SELECT e, t, v FROM src)};
is($node->safe_psql('postgres', $same), 't', 'created: the defining query\'s rows');

# New rows, then a refresh that is killed while it runs (it waits 30 s first).
$node->safe_psql('postgres', q{
	INSERT INTO src SELECT i % 1000, timestamptz '2026-01-01' + i * interval '1 second', i
	  FROM generate_series(20001, 50000) i;
	UPDATE delay SET seconds = 30;
});
my $refresh = $node->background_psql('postgres', on_error_stop => 0);
$refresh->query_until(qr/started/, q{
	\echo started
	SELECT ml_refresh_feature_table('f');
});
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%ml_refresh_feature_table(''f'')%'
	    AND wait_event = 'PgSleep'}),
	'the refresh runs, inside the defining query');
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query LIKE '%ml_refresh_feature_table(''f'')%' AND wait_event = 'PgSleep'});
kill 'KILL', $pid;
eval { $refresh->quit; };
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovers from the SIGKILL');
is($node->safe_psql('postgres', q{SELECT count(*) FROM ml_features.f_v1}), '20000',
	'the killed refresh left no rows');

# Refresh again: the 30000 new rows, once each.
$node->safe_psql('postgres', q{UPDATE delay SET seconds = 0});
is($node->safe_psql('postgres', q{SELECT ml_refresh_feature_table('f')}), '30000', 'the next refresh loads the new rows');
is($node->safe_psql('postgres', $same), 't', 'no duplicates, nothing missing');
is($node->safe_psql('postgres', q{SELECT ml_refresh_feature_table('f')}), '0', 'a second refresh adds nothing');

# Late rows and an update of an old row: an incremental refresh takes only
# what is newer than the watermark; a full one matches the query again.
$node->safe_psql('postgres', q{
	INSERT INTO src VALUES (1, '2025-12-31', -1), (2, '2026-02-01', -2);
	UPDATE src SET v = -v WHERE t = timestamptz '2026-01-01' + interval '7 seconds';
});
is($node->safe_psql('postgres', q{SELECT ml_refresh_feature_table('f')}), '1', 'incremental: the row after the watermark');
is($node->safe_psql('postgres', $same), 'f', 'the late row and the update are not in yet');
$node->safe_psql('postgres', q{SELECT ml_refresh_feature_table('f', true)});
is($node->safe_psql('postgres', $same), 't', 'a full refresh matches the defining query');

$node->stop;
done_testing();
