---------------------------------------------------------------- prediction log

-- Written by the "mlsys prediction log" background worker from a queue in
-- shared memory (ml_predict cannot write: it is STABLE and also serves
-- read-only transactions and standbys). mlsys.prediction_log_rate samples.
CREATE TABLE ml.prediction_log (
	logged_at timestamptz NOT NULL,
	model_id bigint NOT NULL,
	version int NOT NULL,
	shadow boolean NOT NULL,
	key text,
	inputs_hash bigint NOT NULL,
	prediction float8,
	class text
);
CREATE INDEX ON ml.prediction_log (model_id, logged_at);
COMMENT ON TABLE ml.prediction_log IS
	'sampled predictions by model name (mlsys.prediction_log_rate): version, shadow or served, the caller''s key, a hash of the inputs, the value (a classifier''s: the probability of its class) and class';
SELECT pg_catalog.pg_extension_config_dump('ml.prediction_log', '');

CREATE VIEW ml.predictions AS
SELECT p.logged_at, m.name AS model_name, p.version, p.shadow, p.key, p.inputs_hash,
	   p.prediction, p.class
  FROM ml.prediction_log p JOIN ml.models m USING (model_id);
COMMENT ON VIEW ml.predictions IS 'ml.prediction_log with model names';

CREATE FUNCTION ml_prediction_log_status(OUT active boolean, OUT rate float8, OUT queued bigint,
										 OUT logged bigint, OUT dropped bigint)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION ml_prediction_log_status() IS
	'whether predictions of this database are logged, the sampling rate, and the queue''s counts since start';
