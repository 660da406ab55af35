-- The registry: ml_train from tables, views and queries; versions,
-- deployment, registration of aggregate results, privileges.

CREATE TABLE houses AS
  SELECT i AS id, (50 + i % 150)::float8 AS area, (1 + i % 5)::int AS rooms,
         (i % 30)::numeric AS age, 'district ' || (i % 4) AS district,
         date '2020-01-01' + i AS listed,
         (1000 + 12 * (50 + i % 150) + 300 * (1 + i % 5) - 20 * (i % 30) + 15 * sin(i))::float8 AS price
    FROM generate_series(1, 1000) i;

-- Version 1 is deployed; metrics are those of the holdout split.
SELECT model_name, version, metrics ?& ARRAY['r2', 'rmse', 'mae'] AS has_metrics,
       (metrics->>'r2')::float8 > 0.99 AS good_fit
  FROM ml_train('price', 'linear', 'houses', 'price', ARRAY['area', 'rooms', 'age']);
-- A query source, and features NULL = every other column.
SELECT model_name, version
  FROM ml_train('price', 'linear', 'SELECT area, rooms, age, price FROM houses WHERE id > 10',
                'price', params => '{"seed": 3, "l2": 0.5}', test_fraction => 0.3);
-- Lasso and elastic net, with scikit-learn's alpha and l1_ratio: l1 = n alpha.
SELECT version FROM ml_train('price_lasso', 'lasso', 'houses', 'price', ARRAY['area', 'rooms', 'age'],
                             '{"alpha": 2.5}');
SELECT version FROM ml_train('price_enet', 'elastic_net', 'houses', 'price', ARRAY['area', 'rooms', 'age'],
                             '{"alpha": 2.5, "l1_ratio": 0.3}');
SELECT version FROM ml_train('price_ridge', 'ridge', 'houses', 'price', ARRAY['area', 'rooms', 'age']);
SELECT m.name, v.algorithm, v.params->'alpha' AS alpha, v.params->'l1_ratio' AS l1_ratio,
       (v.params->>'l1')::float8 = CASE v.algorithm WHEN 'ridge' THEN 0
                                   ELSE v.n_train_rows * 2.5 * coalesce((v.params->>'l1_ratio')::float8, 1) END
         AS l1_ok,
       (v.params->>'l2')::float8 AS l2
  FROM ml.models m JOIN ml.model_versions v USING (model_id)
 WHERE m.name IN ('price_lasso', 'price_enet', 'price_ridge') ORDER BY m.name;
DELETE FROM ml.models WHERE name IN ('price_lasso', 'price_enet', 'price_ridge');

-- A view source, no holdout.
CREATE VIEW big_houses AS SELECT area, rooms, price FROM houses WHERE area > 100;
SELECT model_name, version, metrics FROM ml_train('price', 'linear', 'big_houses', 'price',
                                                   test_fraction => 0);

SELECT m.name, m.deployed_version, v.version, v.algorithm, v.params, v.features, v.target,
       v.source, v.n_train_rows + v.n_test_rows AS rows, v.trained_by
  FROM ml.models m JOIN ml.model_versions v USING (model_id) ORDER BY v.version;
-- The split is reproducible: the same seed gives the same rows and metrics.
SELECT (SELECT metrics FROM ml_train('price_again', 'linear', 'houses', 'price',
                                     ARRAY['area', 'rooms', 'age']))
       = (SELECT metrics FROM ml.model_versions WHERE version = 1
            AND model_id = (SELECT model_id FROM ml.models WHERE name = 'price')) AS same_metrics;
-- The holdout share is close to test_fraction.
SELECT n_test_rows BETWEEN 150 AND 250 AS about_20_percent FROM ml.model_versions
 WHERE version = 1 AND model_id = (SELECT model_id FROM ml.models WHERE name = 'price');

-- Deployment: explicit, recorded, and visible in the views.
SELECT ml_deploy('price', 2);
SELECT ml_deploy('price', 2);
SELECT name, version, algorithm, features, deployed_by FROM ml.deployed_models ORDER BY name;
SELECT version, previous_version, reason FROM ml.deployments
 WHERE model_id = (SELECT model_id FROM ml.models WHERE name = 'price') ORDER BY deployment_id;
SELECT name, version, deployed, metric FROM ml.version_metrics
 WHERE name = 'price' ORDER BY version, metric;

-- Aliases: other named pointers, addressed as name@alias; name@N is version N.
SELECT ml_deploy('price', 3, 'challenger');
SELECT ml_deploy('price', 1, 'champion');
SELECT alias, version FROM ml.aliases a JOIN ml.models m USING (model_id)
 WHERE m.name = 'price' ORDER BY alias;
SELECT jsonb_path_query_array(ml_model_info(ml_model('price@challenger')), '$.inputs[*].name') AS challenger_inputs,
       ml_model('price@1')::text = ml_model('price', 1)::text AS at_version,
       ml_model('price@production')::text = ml_model('price')::text AS production_is_deployed;
-- Rollback undoes deployments one at a time, per alias, and is recorded.
SELECT ml_deploy('price', 3);
SELECT ml_rollback('price') AS back_to, (SELECT deployed_version FROM ml.models WHERE name = 'price') AS deployed;
SELECT ml_rollback('price') AS back_to;
SELECT ml_rollback('price');
SELECT ml_deploy('price', 2, 'challenger');
SELECT ml_rollback('price', 'challenger') AS challenger_back_to;
SELECT alias, version, previous_version, reason FROM ml.deployments
 WHERE model_id = (SELECT model_id FROM ml.models WHERE name = 'price') ORDER BY deployment_id;
SELECT ml_deploy('price', 2);

-- A traffic split: with a key, 30% of the keys (by a hash of the key seeded
-- with the model id, in buckets of 0.01%) get the challenger's version.
SELECT ml_split('price', 'challenger', 30);
SELECT alias, percent FROM ml.splits;
WITH routed AS (
  SELECT h.id, ml_predict('price', h, h.id) AS split_value,
         ml_predict('price@challenger', h) AS challenger_value, ml_predict('price', h) AS production_value,
         (SELECT CASE WHEN x < 0 THEN x::numeric + 18446744073709551616 ELSE x END % 10000 < 3000
            FROM (SELECT hashint4extended(h.id, (SELECT model_id FROM ml.models WHERE name = 'price')) AS x) s)
           AS expect_challenger
    FROM houses h)
SELECT count(*) FILTER (WHERE expect_challenger) BETWEEN 240 AND 360 AS about_30_percent,
       bool_and(split_value = CASE WHEN expect_challenger THEN challenger_value ELSE production_value END)
         AS routed_as_expected,
       bool_and(challenger_value <> production_value) AS versions_differ
  FROM routed;
SELECT ml_predict('price', h, NULL::int) = ml_predict('price', h) AS null_key_is_production,
       ml_predict('price@2', h, h.id) = ml_predict('price@2', h) AS address_is_not_split,
       ml_predict('price', NULL::record, 1) IS NULL AS null_row
  FROM houses h WHERE id = 1;
SELECT ml_split('price', 'challenger', 0);
SELECT count(*) FROM ml.splits;
SELECT count(*) FILTER (WHERE ml_predict('price', h, h.id) <> ml_predict('price', h)) AS split_after_end
  FROM houses h;
SELECT ml_split('price', 'challenger', 100);
SELECT ml_split('price', 'production', 10);
SELECT ml_split('price', 'nobody', 10);
SELECT ml_predict('price', h, point(1, 1)) FROM houses h LIMIT 1;

-- "deploy": "if_better": a later version is deployed only if its holdout
-- metric (r2 here, or the "metric" param) beats the deployed version's.
SELECT version FROM ml_train('pick', 'linear', 'houses', 'price', ARRAY['age']);
SELECT version FROM ml_train('pick', 'linear', 'houses', 'price', ARRAY['area', 'rooms', 'age'],
                             '{"deploy": "if_better"}');
SELECT version FROM ml_train('pick', 'linear', 'houses', 'price', ARRAY['rooms'],
                             '{"deploy": "if_better", "metric": "mae"}');
SELECT m.deployed_version,
       (SELECT (metrics->>'r2')::float8 > 0.99 FROM ml.model_versions WHERE model_id = m.model_id AND version = 2)
         AS v2_good,
       (SELECT reason LIKE 'if\_better: r2 % beats % of version 1' FROM ml.deployments
         WHERE model_id = m.model_id AND version = 2) AS reason_ok,
       (SELECT params->>'deploy' || ' ' || (params->>'metric') FROM ml.model_versions
         WHERE model_id = m.model_id AND version = 3) AS v3_policy
  FROM ml.models m WHERE m.name = 'pick';
-- An undefined metric (r2 of a constant target is null) never wins.
SELECT version, metrics->'r2' AS r2 FROM ml_train('flat', 'linear', 'SELECT area, 5.0 AS price FROM houses', 'price');
SELECT version FROM ml_train('flat', 'linear', 'SELECT area, 5.0 AS price FROM houses', 'price',
                             params => '{"deploy": "if_better"}');
DELETE FROM ml.models WHERE name = 'flat';
SELECT * FROM ml_train('pick', 'linear', 'houses', 'price', ARRAY['age'], '{"deploy": "always"}');
SELECT * FROM ml_train('pick', 'linear', 'houses', 'price', ARRAY['age'], '{"deploy": "if_better"}', 0);
DELETE FROM ml.models WHERE name = 'pick';

-- ml_model returns the deployed or a given version.
SELECT jsonb_path_query_array(ml_model_info(ml_model('price')), '$.inputs[*].name') AS deployed_inputs,
       jsonb_path_query_array(ml_model_info(ml_model('price', 3)), '$.inputs[*].name') AS v3_inputs;

-- A model from the aggregate becomes a registered version.
SELECT ml_register_model('price_agg',
         (SELECT ml_linreg_fit(price, ARRAY[area, rooms], '{"features": ["area", "rooms"], "target": "price"}')
            FROM houses),
         'houses', '{"note": 1}');
SELECT ml_register_model('price_agg', (SELECT ml_linreg_fit(price, ARRAY[area]) FROM houses));
SELECT v.version, v.algorithm, v.params, v.features, v.target, v.source, v.metrics, v.n_train_rows
  FROM ml.model_versions v JOIN ml.models m USING (model_id)
 WHERE m.name = 'price_agg' ORDER BY version;

-- Versions are immutable.
UPDATE ml.model_versions SET metrics = '{}';

-- Errors.
SELECT * FROM ml_train('x', 'forest', 'houses', 'price');
SELECT * FROM ml_train('x', 'linear', 'no_such_table', 'price');
SELECT * FROM ml_train('x', 'linear', 'houses', 'cost');
SELECT * FROM ml_train('x', 'linear', 'houses', 'price', ARRAY['area', 'floors']);
SELECT * FROM ml_train('x', 'linear', 'houses', 'price');                          -- date column
SELECT * FROM ml_train('x', 'linear', 'houses', 'district', ARRAY['area']);
SELECT * FROM ml_train('x', 'linear', 'houses', 'price', ARRAY['price']);
SELECT * FROM ml_train('x', 'linear', 'houses', 'price', ARRAY['area', 'area']);
SELECT * FROM ml_train('x', 'linear', 'houses', 'price', ARRAY['area'], '{"seed": 1.5}');
SELECT * FROM ml_train('x', 'linear', 'houses', 'price', ARRAY['area'], '{"epochs": 3}');
SELECT * FROM ml_train('x', 'linear', 'houses', 'price', ARRAY['area'], test_fraction => 1);
SELECT * FROM ml_train('x', 'lasso', 'houses', 'price', ARRAY['area'], '{"l1": 1}');
SELECT * FROM ml_train('x', 'elastic_net', 'houses', 'price', ARRAY['area'], '{"l1_ratio": 2}');
SELECT * FROM ml_train('x', 'ridge', 'houses', 'price', ARRAY['area'], '{"alpha": -1}');
SELECT * FROM ml_train('x', 'linear', 'SELECT * FROM houses WHERE false', 'price', ARRAY['area']);
SELECT * FROM ml_train('x', 'linear', 'SELECT 1 AS price', 'price');
SELECT * FROM ml_train('bad name', 'linear', 'houses', 'price', ARRAY['area']);
SELECT * FROM ml_train('a@b', 'linear', 'houses', 'price', ARRAY['area']);
SELECT * FROM ml_train(NULL, 'linear', 'houses', 'price');
SELECT ml_deploy('price', 9);
SELECT ml_deploy('price', NULL);
SELECT ml_deploy('price', 1, '42');
SELECT ml_deploy('price', 1, 'bad alias');
SELECT ml_model('price@nobody');
SELECT ml_model('price@0');
SELECT ml_model('price@99999999999');
SELECT ml_model('price@');
SELECT ml_model('price@2', 2);
SELECT ml_rollback('nothing');
-- The deployed version cannot be deleted; a deleted number is never reused.
DELETE FROM ml.model_versions WHERE version = 2
   AND model_id = (SELECT model_id FROM ml.models WHERE name = 'price');
DELETE FROM ml.model_versions WHERE version = 1
   AND model_id = (SELECT model_id FROM ml.models WHERE name = 'price');
SELECT ml_deploy('price', 2, 'challenger');
DELETE FROM ml.model_versions WHERE version = 3
   AND model_id = (SELECT model_id FROM ml.models WHERE name = 'price');
SELECT version FROM ml_train('price', 'linear', 'houses', 'price', ARRAY['area'], test_fraction => 0);
SELECT ml_deploy('nothing', 1);
SELECT ml_model('nothing');
SELECT ml_model('price', 0);
SELECT ml_model('price', 42);
-- A registered model records the algorithm ml_train would have named.
SELECT version FROM ml_train('zones', 'kmeans', 'houses', NULL, ARRAY['area'], '{"k": 2}');
SELECT ml_register_model('zones_copy', ml_model('zones'));
SELECT m.name, v.algorithm FROM ml.models m JOIN ml.model_versions v USING (model_id)
 WHERE m.name LIKE 'zones%' ORDER BY m.name;
DELETE FROM ml.models WHERE name LIKE 'zones%';
SELECT ml_register_model('x', NULL);
SELECT ml_register_model('x', (SELECT ml_linreg_fit(price, ARRAY[area]) FROM houses), metrics => '[]');
-- A failed training leaves nothing behind.
SELECT count(*) AS models_named_x FROM ml.models WHERE name = 'x';

-- Privileges: three roles, each including the one before. Without any,
-- a user can use model values but not read the registry or train.
CREATE ROLE regress_mlsys_analyst;
CREATE TABLE secret_houses AS SELECT * FROM houses;
CREATE TABLE shared_houses AS SELECT area, price FROM houses;
GRANT SELECT ON shared_houses TO regress_mlsys_analyst;
SELECT r.rolname, array_agg(m.rolname ORDER BY m.rolname) FILTER (WHERE m.rolname IS NOT NULL) AS member_of
  FROM pg_roles r LEFT JOIN pg_auth_members a ON a.member = r.oid LEFT JOIN pg_roles m ON m.oid = a.roleid
 WHERE r.rolname IN ('ml_reader', 'ml_trainer', 'ml_admin') GROUP BY r.rolname ORDER BY r.rolname;
SET ROLE regress_mlsys_analyst;
SELECT ml_predict('price@1', ARRAY[100.0, 2.0, 5.0]);
SELECT ml_model('price@1');
SELECT ml_model_card('price');
SELECT count(*) FROM ml.models;
SELECT * FROM ml_train('analyst', 'linear', 'shared_houses', 'price');
SELECT ml_predict(m, ARRAY[100.0]) > 0 AS value_works
  FROM (SELECT ml_linreg_fit(price, ARRAY[area]) AS m FROM shared_houses) s;
RESET ROLE;
-- ml_reader: read and predict by name, nothing more.
GRANT ml_reader TO regress_mlsys_analyst;
SET ROLE regress_mlsys_analyst;
SELECT ml_predict('price@1', ARRAY[100.0, 2.0, 5.0]) = ml_predict(ml_model('price', 1), ARRAY[100.0, 2.0, 5.0])
         AS predicts,
       (SELECT count(*) FROM ml.deployed_models WHERE name = 'price') AS listed;
SELECT * FROM ml_train('analyst', 'linear', 'shared_houses', 'price');
SELECT ml_register_model('analyst', ml_model('price'));
SELECT ml_tag('price', '{"mine": true}');
SELECT length(ml_model_card('price')) > 0 AS card_readable;
RESET ROLE;
-- ml_trainer: training reads the source as the caller; writes only through
-- the registry functions; no deploying or deleting.
GRANT ml_trainer TO regress_mlsys_analyst;
SET ROLE regress_mlsys_analyst;
SELECT * FROM ml_train('spy', 'linear', 'secret_houses', 'price', ARRAY['area']);
SELECT * FROM ml_train('spy', 'linear', 'SELECT area, price FROM secret_houses', 'price');
SELECT model_name, version FROM ml_train('analyst', 'linear', 'shared_houses', 'price');
SELECT ml_register_model('analyst', ml_model('analyst'));
SELECT ml_deploy('analyst', 2);
SELECT ml_rollback('analyst');
SELECT ml_split('analyst', 'x', 1);
SELECT * FROM ml_train('analyst', 'linear', 'shared_houses', 'price', params => '{"deploy": "if_better"}');
INSERT INTO ml.models (name, created_by) VALUES ('forged', 'me');
UPDATE ml.models SET deployed_version = 2 WHERE name = 'analyst';
DELETE FROM ml.model_versions;
RESET ROLE;
SELECT name, created_by, (SELECT array_agg(trained_by) FROM ml.model_versions v WHERE v.model_id = m.model_id)
  FROM ml.models m WHERE name = 'analyst';
-- ml_admin: deploys, rolls back and deletes, but still not a deployed version.
GRANT ml_admin TO regress_mlsys_analyst;
SET ROLE regress_mlsys_analyst;
SELECT ml_deploy('analyst', 2);
SELECT ml_rollback('analyst');
DELETE FROM ml.model_versions WHERE version = 1
   AND model_id = (SELECT model_id FROM ml.models WHERE name = 'analyst');
DELETE FROM ml.model_versions WHERE version = 2
   AND model_id = (SELECT model_id FROM ml.models WHERE name = 'analyst');
UPDATE ml.models SET deployed_version = 2 WHERE name = 'analyst';
RESET ROLE;
SELECT m.deployed_version, array_agg(v.version) AS versions,
       (SELECT array_agg(deployed_by || ':' || reason ORDER BY deployment_id) FROM ml.deployments d
         WHERE d.model_id = m.model_id) AS history
  FROM ml.models m JOIN ml.model_versions v USING (model_id) WHERE m.name = 'analyst'
 GROUP BY m.model_id, m.deployed_version;

-- A version number freed by an aborted transaction is reused; the session
-- that served the aborted version must serve the new one.
SELECT ml_register_model('reuse', '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
    "fit_intercept": true, "l1": 0, "l2": 0, "intercept": 1, "coefficients": [0]}');
BEGIN;
SELECT ml_register_model('reuse', '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
    "fit_intercept": true, "l1": 0, "l2": 0, "intercept": 100, "coefficients": [0]}');
SELECT ml_predict('reuse@2', ARRAY[0.0]) AS aborted_version;
ROLLBACK;
SELECT ml_register_model('reuse', '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
    "fit_intercept": true, "l1": 0, "l2": 0, "intercept": 200, "coefficients": [0]}');
SELECT ml_predict('reuse@2', ARRAY[0.0]) AS new_version;
BEGIN;
SAVEPOINT s;
SELECT ml_register_model('reuse', '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
    "fit_intercept": true, "l1": 0, "l2": 0, "intercept": 300, "coefficients": [0]}');
SELECT ml_predict('reuse@3', ARRAY[0.0]) AS in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT ml_register_model('reuse', '{"format": 1, "kind": "linear_regression", "n_rows": 1, "inputs": [{"name": "a", "type": "numeric"}],
    "fit_intercept": true, "l1": 0, "l2": 0, "intercept": 400, "coefficients": [0]}');
SELECT ml_predict('reuse@3', ARRAY[0.0]) AS after_savepoint;
COMMIT;
DELETE FROM ml.models WHERE name = 'reuse';

-- Rolling back to a version deleted since gives a clear error.
SELECT count(*) FROM (SELECT ml_register_model('gone', ml_model('price')) FROM generate_series(1, 3)) s;
SELECT ml_deploy('gone', 2), ml_deploy('gone', 3);
DELETE FROM ml.model_versions WHERE version = 2 AND model_id = (SELECT model_id FROM ml.models WHERE name = 'gone');
SELECT ml_rollback('gone');
DELETE FROM ml.models WHERE name = 'gone';

-- Descriptions and tags (the only changes a version accepts) and the model card.
SELECT ml_register_model('card', '{"format": 1, "kind": "linear_regression", "n_rows": 40,
  "inputs": [{"name": "area", "type": "numeric", "impute": "mean", "fill": 100,
              "stats": {"mean": 100, "stddev": 20, "min": 50, "max": 150, "n_null": 2}}],
  "fit_intercept": true, "l1": 0, "l2": 0, "intercept": 5, "coefficients": [2]}', 'houses', '{"r2": 0.5}');
SELECT ml_register_model('card', ml_model('card'), 'houses again');
SELECT ml_deploy('card', 2, 'challenger');
SELECT ml_describe('card', 'Prices houses by area.');
SELECT ml_deploy('card', 1, 'a|b');
SELECT ml_describe('card', 'Same as version 1.', 2);
SELECT ml_tag('card', '{"team": "pricing", "pii": false}') AS tags,
       ml_tag('card', '{"pii": null, "tier": 1}') AS after_removal,
       ml_tag('card', '{"reviewed": "yes"}', 1) AS version_tags;
SELECT line FROM regexp_split_to_table(ml_model_card('card'), E'\n') AS line
 WHERE line !~ '\d{4}-\d\d-\d\d' AND line !~ 'Trained';
SELECT position('| a\|b | 1 |' IN ml_model_card('card')) > 0 AS pipe_escaped_in_table;
SELECT ml_model_card('card', 2) ~ 'Version\*\*: 2 of 2, not deployed \(version 1 is\)' AS other_version,
       ml_model_card('card', 2) ~ 'This version\*\*: Same as version 1.' AS its_description;
SELECT ml_tag('card', '["x"]');
SELECT ml_tag('card', '{}', 7);
SELECT ml_describe('nothing', 'x');
SELECT ml_model_card('nothing');
UPDATE ml.model_versions SET n_train_rows = 1 WHERE version = 1
   AND model_id = (SELECT model_id FROM ml.models WHERE name = 'card');
DELETE FROM ml.models WHERE name = 'card';

-- Lifecycle: removing an alias (recorded, undone by ml_rollback), deleting a
-- version (one in use only with force, which removes its aliases first); the
-- history of a deleted version stays.
SELECT version FROM ml_train('cycle', 'linear', 'houses', 'price', ARRAY['area'], test_fraction => 0);
SELECT version FROM ml_train('cycle', 'linear', 'houses', 'price', ARRAY['area'], test_fraction => 0);
SELECT version FROM ml_train('cycle', 'linear', 'houses', 'price', ARRAY['area'], test_fraction => 0);
SELECT ml_deploy('cycle', 2), ml_deploy('cycle', 3, 'challenger');
SELECT ml_split('cycle', 'challenger', 10), ml_shadow('cycle', 'challenger');
SELECT ml_delete_version('cycle', 3);
SELECT ml_remove_alias('cycle', 'challenger') AS removed;
-- (the split and the shadow to the alias go with it)
SELECT (SELECT count(*) FROM ml.splits) AS splits, (SELECT count(*) FROM ml.shadows) AS shadows;
SELECT ml_rollback('cycle', 'challenger') AS restored;
SELECT ml_delete_version('cycle', 2, force => true);
SELECT ml_predict('cycle', ARRAY[100.0]);
SELECT deployed_version FROM ml.models WHERE name = 'cycle';
SELECT ml_delete_version('cycle', 1);
SELECT alias, version, previous_version, reason FROM ml.deployments
 WHERE model_id = (SELECT model_id FROM ml.models WHERE name = 'cycle') ORDER BY deployment_id;
SELECT array_agg(version) AS left FROM ml.model_versions
 WHERE model_id = (SELECT model_id FROM ml.models WHERE name = 'cycle');
SELECT ml_rollback('cycle');
SELECT ml_deploy('cycle', 3);
SELECT deployed_version AS redeployed FROM ml.models WHERE name = 'cycle';
-- Archiving keeps a version (addressable) but never deploys it again.
SELECT ml_archive_version('cycle', 3);
SELECT ml_archive_version('cycle', 3, force => true);
SELECT archived_at IS NOT NULL AS archived, ml_predict('cycle@3', ARRAY[100.0]) > 0 AS addressable
  FROM ml.model_versions WHERE model_id = (SELECT model_id FROM ml.models WHERE name = 'cycle');
SELECT ml_deploy('cycle', 3);
SELECT ml_rollback('cycle');
SELECT ml_archive_version('cycle', 3, archived => false);
SELECT ml_deploy('cycle', 3);
SELECT deployed_version, (SELECT archived_at FROM ml.model_versions v WHERE v.model_id = m.model_id) AS archived_at
  FROM ml.models m WHERE name = 'cycle';
UPDATE ml.model_versions SET n_train_rows = 0
 WHERE model_id = (SELECT model_id FROM ml.models WHERE name = 'cycle');
SELECT ml_remove_alias('cycle', 'nobody');
SELECT ml_delete_version('cycle', 9);
SELECT ml_delete_version('nothing', 1);
CREATE ROLE regress_mlsys_cycler IN ROLE ml_trainer;
SET ROLE regress_mlsys_cycler;
SELECT ml_delete_version('cycle', 3, true);
SELECT ml_remove_alias('cycle', 'production');
RESET ROLE;
DROP ROLE regress_mlsys_cycler;
DELETE FROM ml.models WHERE name = 'cycle';

-- Deleting a model removes its versions and history.
DELETE FROM ml.models WHERE name IN ('analyst', 'price_again');
SELECT count(*) FROM ml.deployments d
 WHERE NOT EXISTS (SELECT 1 FROM ml.models m WHERE m.model_id = d.model_id);

DROP TABLE secret_houses, shared_houses;
REVOKE ml_admin, ml_trainer, ml_reader FROM regress_mlsys_analyst;
DROP ROLE regress_mlsys_analyst;
DROP VIEW big_houses;
DROP TABLE houses;
DELETE FROM ml.models;
