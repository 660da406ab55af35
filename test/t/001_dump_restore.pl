# pg_dump / restore keeps every model, version and deployment, and models
# stored in user tables; ml_predict works after restore and after a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mlsys'");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
	SET client_min_messages = warning;
	CREATE EXTENSION mlsys;
	CREATE TABLE visits AS
	  SELECT i, (i % 9)::float8 AS pages, (i % 4)::float8 AS ads,
	         2.5 + 0.75 * (i % 9) - 1.5 * (i % 4) + 0.1 * sin(i) AS minutes
	    FROM generate_series(1, 400) i;
	SELECT * FROM ml_train('minutes', 'linear', 'visits', 'minutes', ARRAY['pages', 'ads']);
	SELECT * FROM ml_train('minutes', 'linear', 'visits', 'minutes', ARRAY['pages', 'ads'],
	                       '{"l2": 5}');
	SELECT ml_deploy('minutes', 2);
	SELECT ml_deploy('minutes', 1, 'champion');
	CREATE TABLE saved (id int, m mlmodel);
	INSERT INTO saved SELECT 1, ml_model('minutes', 1);
	INSERT INTO saved VALUES (2, '{"format": 1, "kind": "linear_regression", "n_rows": 7,
	  "inputs": [{"name": "a", "type": "numeric", "stats": {"mean": 3, "stddev": 1.5}}],
	  "fit_intercept": false, "l2": 0.25, "intercept": 0, "coefficients": [0.1]}');
	CREATE TABLE churn AS SELECT i, (ARRAY['a', 'b', 'c'])[1 + i % 3] AS plan,
	  CASE WHEN i % 7 = 0 THEN NULL ELSE i % 10 END AS calls, (i % 10 + sin(i) * 4) > 5 AS churned
	  FROM generate_series(1, 300) i;
	SELECT * FROM ml_train('churn', 'logistic', 'churn', 'churned', ARRAY['plan', 'calls'],
	                       '{"impute": "mean", "scale": "standard", "l2": 1}');
});

# Everything a restore must reproduce exactly, as text.
my $snapshot = q{
	SELECT string_agg(format('%s|%s|%s|%s|%s|%s', m.name, m.deployed_version, v.version,
	                         v.model::text, v.metrics, v.params), E'\n' ORDER BY m.name, v.version)
	  FROM ml.models m JOIN ml.model_versions v USING (model_id);
	SELECT string_agg(format('%s|%s|%s|%s|%s', model_id, alias, version, previous_version, reason),
	                  E'\n' ORDER BY deployment_id) FROM ml.deployments;
	SELECT string_agg(format('%s|%s|%s', model_id, alias, version), E'\n' ORDER BY model_id, alias)
	  FROM ml.aliases;
	SELECT sum(ml_predict('minutes@champion', ARRAY[pages, ads])) FROM visits;
	SELECT string_agg(m::text, E'\n' ORDER BY id) FROM saved;
	SELECT sum(ml_predict('minutes', ARRAY[pages, ads])) FROM visits;
	SELECT string_agg(ml_predict_class('churn', c) || ':' || round((ml_predict_proba('churn', c))[2]::numeric, 12),
	                  ',' ORDER BY i) FROM churn c;
};
my $before = $node->safe_psql('src', $snapshot);

my $tmp = PostgreSQL::Test::Utils::tempdir;
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$tmp/src.dump", '-d', $node->connstr('src') ],
	'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE dst_custom');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst_custom'),
	"$tmp/src.dump" ], 'pg_restore');
is($node->safe_psql('dst_custom', $snapshot), $before, 'custom-format restore is identical');

$node->command_ok([ 'pg_dump', '-Fp', '-f', "$tmp/src.sql", '-d', $node->connstr('src') ],
	'pg_dump plain');
$node->safe_psql('postgres', 'CREATE DATABASE dst_plain');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', "$tmp/src.sql",
	'-d', $node->connstr('dst_plain') ], 'plain restore through psql');
is($node->safe_psql('dst_plain', $snapshot), $before, 'plain-format restore is identical');

# The restored registry goes on numbering where the original stopped.
is($node->safe_psql('dst_custom', q{
	SET client_min_messages = warning;
	SELECT version FROM ml_train('minutes', 'linear', 'visits', 'minutes');
}), '3', 'next version after restore is 3');
$node->safe_psql('dst_custom', q{
	SET client_min_messages = warning;
	SELECT ml_register_model('other', ml_model('minutes'));
});
is($node->safe_psql('dst_custom', q{
	SELECT model_id > (SELECT model_id FROM ml.models WHERE name = 'minutes')
	  FROM ml.models WHERE name = 'other';
}), 't', 'model ids continue after restore');

# A restart: the preloaded library and the registry serve the same answers.
$node->restart;
is($node->safe_psql('src', $snapshot), $before, 'identical after restart');

$node->stop;
ok(slurp_file($node->logfile) !~ /PANIC|terminated by signal/, 'no crash in the server log');
done_testing();
