-- Feature tables: definition, versions, refresh, point-in-time training sets.
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';

CREATE TABLE ft_orders (cust int, at timestamptz, amount numeric, channel text);
INSERT INTO ft_orders VALUES
	(1, '2024-01-01 10:00+00', 10, 'web'),
	(1, '2024-01-02 10:00+00', 20, 'web'),
	(1, '2024-01-05 10:00+00', 50, 'shop'),
	(2, '2024-01-03 00:00+00', 7, 'shop'),
	(3, NULL, 99, 'web'),            -- no event time: not materialised
	(NULL, '2024-01-01 00:00+00', 1, 'web');  -- no entity: not materialised

-- Define: version 1, materialised as the caller into ml_features.spend_v1.
SELECT ml_create_feature_table('spend',
	'SELECT cust, at, amount, sum(amount) OVER (PARTITION BY cust ORDER BY at) AS total, channel
	   FROM ft_orders;',
	'cust', 'at', 'spend per order and running total');
SELECT * FROM ml_features.spend_v1 ORDER BY cust, at;
SELECT name, version, table_name, entity_column, entity_type, event_time_column, event_time_type,
	   feature_names, feature_types, owner, description, watermark, row_count
  FROM ml.feature_tables;
SELECT indexdef FROM pg_indexes WHERE schemaname = 'ml_features' AND tablename = 'spend_v1';
SELECT name, version, latest, table_name, position, feature, type, row_count, latest_event_time,
	   since_refresh < '1 hour' AS fresh
  FROM ml.feature_catalog ORDER BY name, version, position;

-- A second feature table with a feature of the same name ("amount"), a
-- timestamp (without time zone) event time, compared with the labels'
-- timestamptz times in the session's TimeZone as PostgreSQL does.
CREATE TABLE ft_refunds (cust int, refunded_at timestamp, amount numeric);
INSERT INTO ft_refunds VALUES (1, '2024-01-02 12:00', 5), (2, '2024-01-01 00:00', 3);
SELECT ml_create_feature_table('refunds', 'SELECT cust, refunded_at, amount FROM ft_refunds',
							   'cust', 'refunded_at');

-- Labels: one row per (entity, time) with a target.
CREATE TABLE ft_labels (id int, cust int, t timestamptz, churned int);
INSERT INTO ft_labels VALUES
	(1, 1, '2024-01-02 10:00+00', 0),           -- exactly at a feature row: included
	(2, 1, '2024-01-02 09:59:59.999999+00', 0), -- 1 us before it: the previous row
	(3, 1, '2024-01-01 09:59:59.999999+00', 1), -- before every row of cust 1: NULLs
	(4, 4, '2024-01-09 00:00+00', 1),           -- an entity without features: NULLs
	(5, 1, '2024-01-02 12:00+02', 0),           -- = 10:00 UTC: the row at 10:00 UTC
	(6, 1, '2024-01-02 05:00-05', 1),           -- = 10:00 UTC too
	(7, 1, '2024-01-02 04:59:59.999999-05', 1), -- = 09:59:59.999999 UTC: excluded
	(8, 2, '2024-01-04 00:00+00', 0),
	(9, 1, '2024-01-06 00:00+00', 1);

-- The generated query: one LATERAL index probe per label and feature table.
SELECT ml_training_set('ft_labels', 'cust', 't', ARRAY['spend', 'refunds']);

SELECT ml_training_set('ft_labels', 'cust', 't', ARRAY['spend', 'refunds']) AS q \gset
SELECT id, cust, t, spend__amount, spend__total, spend__channel, refunds__amount
  FROM (:q) s ORDER BY id;

-- ttl: a feature row older than time - ttl is too old (the bound is inclusive).
-- Label 1's row is 0 old, label 8's 24 hours, label 9's 14 hours.
SELECT ml_training_set('SELECT id, cust, t FROM ft_labels WHERE id IN (1, 8, 9);', 'cust', 't',
					   ARRAY['spend'], '1 day') AS q \gset
SELECT id, spend__amount FROM (:q) s ORDER BY id;
SELECT ml_training_set('SELECT id, cust, t FROM ft_labels WHERE id IN (1, 8, 9)', 'cust', 't',
					   ARRAY['spend'], '23:59:59.999999') AS q \gset
SELECT id, spend__amount FROM (:q) s ORDER BY id;
SELECT ml_training_set('SELECT id, cust, t FROM ft_labels WHERE id IN (1, 8, 9)', 'cust', 't',
					   ARRAY['spend'], '14 hours') AS q \gset
SELECT id, spend__amount FROM (:q) s ORDER BY id;
SELECT ml_training_set('SELECT id, cust, t FROM ft_labels WHERE id IN (1, 8, 9)', 'cust', 't',
					   ARRAY['spend'], '13 hours 59 minutes 59.999999 seconds') AS q \gset
SELECT id, spend__amount FROM (:q) s ORDER BY id;
SELECT ml_training_set('SELECT id, cust, t FROM ft_labels WHERE id IN (1, 8, 9)', 'cust', 't',
					   ARRAY['spend'], '0') AS q \gset
SELECT id, spend__amount FROM (:q) s ORDER BY id;

-- The training set is a source for ml_train, like any query.
SELECT model_name, version
  FROM ml_train('ft_churn', 'logistic',
				ml_training_set('SELECT cust, t, churned FROM ft_labels WHERE id IN (1, 2, 5, 6, 7, 8, 9)',
								'cust', 't', ARRAY['spend']),
				'churned', ARRAY['spend__amount', 'spend__total'], '{}', 0);
SELECT features, n_train_rows, source LIKE '%ml_features.spend_v1%' AS lineage
  FROM ml.model_versions JOIN ml.models USING (model_id) WHERE name = 'ft_churn';

-- Online serving: an entity's latest features, and a prediction from them,
-- equal to the prediction of the same values passed by hand.
SELECT ml_online_features('spend', 1) AS cust_1, ml_online_features('spend', '2') AS cust_2,
       ml_online_features('spend', 99) AS nobody;
SELECT ml_predict('ft_churn', 1) = ml_predict('ft_churn', ARRAY[50.0, 80.0]) AS from_features,
       ml_predict_class('ft_churn', 1) = ml_predict_class('ft_churn', ARRAY[50.0, 80.0]) AS class,
       ml_predict_proba('ft_churn', '1') = ml_predict_proba('ft_churn', ARRAY[50.0, 80.0]) AS proba;
-- an entity without features gets NULLs, which this model (no imputation) refuses
SELECT ml_predict('ft_churn', 99);
SELECT pg_get_viewdef('ml_features.spend_latest') LIKE '%spend_v1%' AS latest_view;
-- a model not trained on feature tables cannot be served by entity
CREATE TABLE ft_plain AS SELECT 1.0::float8 AS x, 0 AS y UNION ALL SELECT 2.0, 1;
SELECT version FROM ml_train('ft_plain', 'logistic', 'ft_plain', 'y', NULL, '{"l2": 1}', 0);
SELECT ml_predict('ft_plain', 1);
SELECT ml_online_features('nothing', 1);

-- Statistics per feature at each refresh, and declared data checks: a
-- violation is a WARNING and a recorded failure, the rows stay.
SELECT key AS feature, value FROM ml.feature_tables, jsonb_each(stats)
 WHERE name = 'spend' AND version = 1 ORDER BY key;
SELECT ml_set_feature_checks('spend', '{"amount": {"not_null": true, "min": 0, "max": 40},
                                        "channel": {"in": ["web"]}}');
SELECT feature, "check", rows, violations, passed FROM ml.feature_check_results
 WHERE name = 'spend' ORDER BY feature, "check";
SELECT feature, null_rate, min, max, failed_checks FROM ml.feature_catalog
 WHERE name = 'spend' ORDER BY position;
SELECT ml_set_feature_checks('spend', '{"nothing": {"not_null": true}}');
SELECT ml_set_feature_checks('spend', '{"channel": {"min": 0}}');
SELECT ml_set_feature_checks('spend', '{"amount": {"between": [0, 1]}}');
SELECT ml_set_feature_checks('spend', '[1]');
-- the catalog writer checks too: no text where a number goes into SQL
SELECT ml.feature_table_set_checks('spend', '{"amount": {"max": "5 OR true"}}');

-- Incremental refresh: only rows newer than the watermark; re-running adds nothing.
INSERT INTO ft_orders VALUES (2, '2024-01-07 00:00+00', 3, 'web'), (5, '2024-01-08 00:00+00', 4, 'web');
SELECT ml_refresh_feature_table('spend');
SELECT ml_refresh_feature_table('spend');
SELECT watermark, row_count FROM ml.feature_tables WHERE name = 'spend';
SELECT count(DISTINCT checked_at) AS check_runs FROM ml.feature_check_results WHERE name = 'spend';
-- A late row (older than the watermark) and an update of an old row need a full refresh.
INSERT INTO ft_orders VALUES (4, '2024-01-01 00:00+00', 8, 'shop');
UPDATE ft_orders SET amount = 11 WHERE cust = 1 AND at = '2024-01-01 10:00+00';
SELECT ml_refresh_feature_table('spend');
SELECT ml_refresh_feature_table('spend', full => true);
SELECT ml_refresh_feature_table('spend');
SELECT cust, at, amount, total FROM ml_features.spend_v1 ORDER BY cust, at;
-- timestamp event times: the watermark is the local time read as UTC, in any TimeZone.
SET timezone = 'America/New_York';
INSERT INTO ft_refunds VALUES (1, '2024-01-02 12:00:00.000001', 1);
SELECT ml_refresh_feature_table('refunds');
SELECT ml_refresh_feature_table('refunds');
SELECT latest_event_time, row_count FROM ml.feature_catalog WHERE name = 'refunds';
RESET timezone;
SET timezone = 'UTC';

-- Redefine: version 2; version 1 stays readable and addressable as spend@1.
SELECT ml_create_feature_table('spend', 'SELECT cust, at, amount * 2 AS amount FROM ft_orders', 'cust', 'at');
SELECT name, version, latest, table_name, feature, row_count FROM ml.feature_catalog
 WHERE name = 'spend' ORDER BY version, position;
SELECT count(*) FROM ml_features.spend_v1;
SELECT ml_training_set('SELECT cust, t FROM ft_labels WHERE id = 9', 'cust', 't', ARRAY['spend']) AS q \gset
SELECT spend__amount FROM (:q) s;
SELECT ml_training_set('SELECT cust, t FROM ft_labels WHERE id = 9', 'cust', 't', ARRAY['spend@1']) AS q \gset
SELECT spend__amount, spend__total FROM (:q) s;
SELECT ml_refresh_feature_table('spend@1');

-- Errors.
\set SHOW_CONTEXT never
SELECT ml_training_set('ft_labels', 'cust', 't', ARRAY['nope']);
SELECT ml_training_set('ft_labels', 'cust', 't', ARRAY['spend@7']);
SELECT ml_training_set('ft_labels', 'cust', 't', ARRAY['spend', 'spend@1']);
SELECT ml_training_set('ft_labels', 'customer', 't', ARRAY['spend']);
SELECT ml_training_set('ft_labels', 'cust', 'id', ARRAY['spend']);
SELECT ml_training_set('ft_labels WHERE true', 'cust', 't', ARRAY['spend']);
SELECT ml_training_set('no_such_labels', 'cust', 't', ARRAY['spend']);
SELECT ml_training_set('ft_labels', 'cust', 't', '{}');
SELECT ml_training_set('ft_labels', 'cust', 't', ARRAY['spend'], '-1 day');
SELECT ml_training_set('SELECT cust::text AS cust, t FROM ft_labels', 'cust', 't', ARRAY['spend']);
SELECT ml_refresh_feature_table('nope');
SELECT ml_create_feature_table('Bad-Name', 'SELECT cust, at, amount FROM ft_orders', 'cust', 'at');
SELECT ml_create_feature_table('bad', 'SELECT cust, at, amount FROM ft_orders', 'customer', 'at');
SELECT ml_create_feature_table('bad', 'SELECT cust, at, amount FROM ft_orders', 'cust', 'amount');
SELECT ml_create_feature_table('bad', 'SELECT cust, extract(epoch FROM at)::bigint AS at, amount FROM ft_orders', 'cust', 'at');
SELECT ml_create_feature_table('bad', 'SELECT cust, at FROM ft_orders', 'cust', 'at');
SELECT ml_create_feature_table('bad', 'SELECT cust, at, amount FROM ft_orders', 'cust', 'cust');
SELECT ml_create_feature_table('bad', 'SELECT cust, at, amount FROM ft_orders', 'cust', NULL);
-- nothing of the failed definitions is left behind
SELECT count(*) FROM pg_tables WHERE schemaname = 'ml_features' AND tablename LIKE 'bad%';

-- The query runs with the caller's privileges: a trainer cannot materialise
-- what it cannot read, nor refresh or redefine another role's feature table.
CREATE ROLE regress_feat_trainer;
GRANT ml_trainer TO regress_feat_trainer;
CREATE TABLE ft_secret (cust int, at timestamptz, salary numeric);
CREATE TABLE ft_open (cust int, at timestamptz, visits int);
INSERT INTO ft_open VALUES (1, '2024-01-01', 3);
GRANT SELECT ON ft_open TO regress_feat_trainer;
SET ROLE regress_feat_trainer;
SELECT ml_create_feature_table('salary', 'SELECT cust, at, salary FROM ft_secret', 'cust', 'at');
SELECT ml_create_feature_table('visits', 'SELECT cust, at, visits FROM ft_open', 'cust', 'at');
SELECT ml_refresh_feature_table('spend');
SELECT ml_create_feature_table('spend', 'SELECT cust, at, visits FROM ft_open', 'cust', 'at');
SELECT count(*) FROM ml_features.spend_v2;
SELECT owner, row_count FROM ml.feature_catalog WHERE name = 'visits';
RESET ROLE;
-- the catalog cannot be written directly
SET SESSION AUTHORIZATION regress_feat_trainer;
UPDATE ml.feature_tables SET watermark = NULL;
-- the recorders take values only from the owner of the version's table (the
-- session's user), and refuse a name that has no table (no one owns it)
SELECT ml.feature_table_refreshed('spend', 1, 0, NULL);
SELECT ml.feature_table_record_profile('nothing', 1, '{}', '[]');
SELECT ml.feature_table_set_checks('nothing', '{"x": {"min": 5}}');
RESET SESSION AUTHORIZATION;
SELECT watermark, row_count FROM ml.feature_tables WHERE name = 'spend' AND version = 1;
-- a reader may list feature tables, not create them
CREATE ROLE regress_feat_reader;
GRANT ml_reader TO regress_feat_reader;
SET ROLE regress_feat_reader;
SELECT count(DISTINCT name) FROM ml.feature_catalog;
SELECT ml_create_feature_table('x', 'SELECT cust, at, visits FROM ft_open', 'cust', 'at');
RESET ROLE;

\set SHOW_CONTEXT errors
-- Clean up.
-- A new version with the same columns keeps the grants of the _latest view.
GRANT SELECT ON ml_features.refunds_latest TO regress_feat_reader;
SELECT ml_create_feature_table('refunds', 'SELECT cust, refunded_at, amount FROM ft_refunds',
                               'cust', 'refunded_at') AS version;
SELECT has_table_privilege('regress_feat_reader', 'ml_features.refunds_latest', 'SELECT') AS still_granted,
       pg_get_viewdef('ml_features.refunds_latest') LIKE '%refunds_v2%' AS latest_view;
SELECT ml_drop_feature_table('spend', 1) AS dropped;
SELECT name, version FROM ml.feature_tables WHERE name = 'spend';
SELECT pg_get_viewdef('ml_features.spend_latest') LIKE '%spend_v2%' AS latest_view;
SELECT ml_drop_feature_table('spend', 1);
SET ROLE regress_feat_reader;
SELECT ml_drop_feature_table('spend');
RESET ROLE;
SELECT ml_drop_feature_table(name) AS dropped FROM (SELECT DISTINCT name FROM ml.feature_tables) t ORDER BY name;
SELECT count(*) AS left FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'ml_features';
DELETE FROM ml.models WHERE name IN ('ft_churn', 'ft_plain');
DROP TABLE ft_orders, ft_refunds, ft_labels, ft_secret, ft_open, ft_plain;
DROP ROLE regress_feat_trainer, regress_feat_reader;
