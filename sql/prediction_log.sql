-- Shadow mode and the prediction log's settings. The logging itself (the
-- worker, several sessions, a full queue) is tested in
-- test/t/007_prediction_log.pl: only predictions made in mlsys.database are
-- logged, and this database is not it.

SELECT active, rate FROM ml_prediction_log_status();
SET mlsys.prediction_log_rate = 1;
SELECT active, rate FROM ml_prediction_log_status();
SET mlsys.prediction_log_rate = 2;
RESET mlsys.prediction_log_rate;

CREATE TABLE visits AS
  SELECT i AS id, (i % 10)::float8 AS pages, (i % 3 = 0) AS returning, (i % 10) * 1.5 + 2 AS minutes
    FROM generate_series(1, 200) i;
SELECT version FROM ml_train('minutes', 'linear', 'visits', 'minutes', ARRAY['pages'], test_fraction => 0);
SELECT version FROM ml_train('minutes', 'xgboost', 'visits', 'minutes', ARRAY['pages'],
                             '{"n_estimators": 5}', 0);
SELECT version FROM ml_train('minutes', 'linear', 'visits', 'minutes', ARRAY['pages', 'returning'],
                             test_fraction => 0);

-- A shadow is an alias of a version that takes the same inputs.
SELECT ml_deploy('minutes', 2, 'challenger');
SELECT ml_shadow('minutes', 'challenger');
SELECT m.name, s.alias, s.set_by = current_user AS by_me
  FROM ml.shadows s JOIN ml.models m USING (model_id);
-- Serving is unchanged: the shadow is only computed for logged predictions.
SELECT ml_predict('minutes', v) = ml_predict('minutes@1', v) AS served_by_production
  FROM visits v WHERE id = 7;
SELECT ml_shadow('minutes', NULL);
SELECT count(*) AS shadows FROM ml.shadows;

-- Refused: another alias than an existing one, production itself, a version
-- with other inputs, an unknown model.
\set VERBOSITY default
SELECT ml_shadow('minutes', 'nobody');
SELECT ml_shadow('minutes', 'production');
SELECT ml_deploy('minutes', 3, 'wider');
SELECT ml_shadow('minutes', 'wider');
SELECT ml_shadow('no_such_model', 'challenger');
SELECT ml_shadow(NULL, 'challenger');

-- Only admins set shadows; trainers read the log.
CREATE ROLE shadow_trainer IN ROLE ml_trainer;
SET ROLE shadow_trainer;
SELECT ml_shadow('minutes', 'challenger');
SELECT count(*) >= 0 AS reads_log FROM ml.predictions;
RESET ROLE;
CREATE ROLE shadow_reader IN ROLE ml_reader;
SET ROLE shadow_reader;
SELECT count(*) FROM ml.prediction_log;
RESET ROLE;
DROP ROLE shadow_trainer, shadow_reader;

-- Leave the registry empty for the next test.
DELETE FROM ml.models;
