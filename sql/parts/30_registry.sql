---------------------------------------------------------------- registry

CREATE SCHEMA ml;
COMMENT ON SCHEMA ml IS 'mlsys model registry';
GRANT USAGE ON SCHEMA ml TO PUBLIC;

CREATE SEQUENCE ml.models_model_id_seq;
CREATE TABLE ml.models (
	model_id bigint PRIMARY KEY DEFAULT nextval('ml.models_model_id_seq'),
	name text NOT NULL UNIQUE,
	-- The version ml_predict(name, ...) serves. Kept consistent by the
	-- registry functions, not by a foreign key: a key in each direction
	-- would make the tables impossible to reload from a dump.
	deployed_version int,
	-- Versions are numbered from this counter, never reused; updating it
	-- also serialises concurrent writers of one model.
	last_version int NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by text NOT NULL,
	description text,
	tags jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object')
);
ALTER SEQUENCE ml.models_model_id_seq OWNED BY ml.models.model_id;
COMMENT ON TABLE ml.models IS 'one row per model name, with its deployed version';

CREATE TABLE ml.model_versions (
	model_id bigint NOT NULL REFERENCES ml.models ON DELETE CASCADE,
	version int NOT NULL CHECK (version > 0),
	algorithm text NOT NULL,
	params jsonb NOT NULL,
	features text[] NOT NULL,
	target text,
	model mlmodel NOT NULL,
	source text,
	n_train_rows bigint NOT NULL,
	n_test_rows bigint NOT NULL,
	metrics jsonb NOT NULL,
	training_info jsonb NOT NULL DEFAULT '{}',
	trained_by text NOT NULL,
	trained_at timestamptz NOT NULL DEFAULT now(),
	-- the only columns that may change: notes about the version, and its
	-- archiving (ml_archive_version: kept, but not deployed again)
	description text,
	tags jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object'),
	archived_at timestamptz,
	PRIMARY KEY (model_id, version)
);
COMMENT ON TABLE ml.model_versions IS
	'one immutable row per trained version: algorithm, params, features, model, source, metrics (only description and tags change)';

CREATE TABLE ml.aliases (
	model_id bigint NOT NULL REFERENCES ml.models ON DELETE CASCADE,
	alias text NOT NULL,
	version int NOT NULL,
	PRIMARY KEY (model_id, alias),
	FOREIGN KEY (model_id, version) REFERENCES ml.model_versions
);
COMMENT ON TABLE ml.aliases IS
	'named pointers to versions (champion, challenger, ...); production, the deployed one, is ml.models.deployed_version';

CREATE TABLE ml.splits (
	model_id bigint PRIMARY KEY REFERENCES ml.models ON DELETE CASCADE,
	alias text NOT NULL,
	percent float8 NOT NULL CHECK (percent > 0 AND percent < 100),
	set_at timestamptz NOT NULL DEFAULT now(),
	set_by text NOT NULL
);
COMMENT ON TABLE ml.splits IS
	'traffic splits: ml_predict(name, features, key) sends percent % of the keys to the alias''s version';

CREATE TABLE ml.shadows (
	model_id bigint PRIMARY KEY REFERENCES ml.models ON DELETE CASCADE,
	alias text NOT NULL,
	set_at timestamptz NOT NULL DEFAULT now(),
	set_by text NOT NULL
);
COMMENT ON TABLE ml.shadows IS
	'shadow mode: logged predictions of the model are also made by the alias''s version and logged, not returned';

CREATE SEQUENCE ml.deployments_deployment_id_seq;
CREATE TABLE ml.deployments (
	deployment_id bigint PRIMARY KEY DEFAULT nextval('ml.deployments_deployment_id_seq'),
	model_id bigint NOT NULL,
	version int,				-- NULL: the alias was removed
	previous_version int,
	deployed_at timestamptz NOT NULL DEFAULT now(),
	deployed_by text NOT NULL,
	reason text NOT NULL,
	alias text NOT NULL DEFAULT 'production',
	-- (not to ml.model_versions: the history of a deleted version stays)
	FOREIGN KEY (model_id) REFERENCES ml.models ON DELETE CASCADE
);
ALTER SEQUENCE ml.deployments_deployment_id_seq OWNED BY ml.deployments.deployment_id;
COMMENT ON TABLE ml.deployments IS
	'append-only history of every move of an alias (production: the deployed version): who, when, from, to (NULL: removed), why';

CREATE TABLE ml.training_trials (
	model_id bigint NOT NULL,
	version int NOT NULL,
	trial int NOT NULL,
	params jsonb NOT NULL,
	metrics jsonb NOT NULL,
	seconds float8 NOT NULL,
	PRIMARY KEY (model_id, version, trial),
	FOREIGN KEY (model_id, version) REFERENCES ml.model_versions ON DELETE CASCADE
);
COMMENT ON TABLE ml.training_trials IS
	'every trial of a hyper-parameter search: its parameters and cross-validated metrics';

CREATE FUNCTION ml.forbid_version_update() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	IF to_jsonb(NEW) - 'description' - 'tags' - 'archived_at'
	   IS DISTINCT FROM to_jsonb(OLD) - 'description' - 'tags' - 'archived_at' THEN
		RAISE EXCEPTION 'model versions are immutable'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Train or register a new version instead; only description, tags and archiving change.';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER model_versions_immutable BEFORE UPDATE ON ml.model_versions
	FOR EACH ROW EXECUTE FUNCTION ml.forbid_version_update();

-- The deployed version cannot be deleted (deleting the model deletes all).
CREATE FUNCTION ml.forbid_deployed_delete() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	-- (when the whole model is being deleted, its row is gone already)
	IF EXISTS (SELECT 1 FROM ml.models m
				WHERE m.model_id = OLD.model_id AND m.deployed_version = OLD.version)
	   OR EXISTS (SELECT 1 FROM ml.aliases a JOIN ml.models m USING (model_id)
				   WHERE a.model_id = OLD.model_id AND a.version = OLD.version) THEN
		RAISE EXCEPTION 'version % is deployed or has an alias', OLD.version
			USING ERRCODE = 'object_in_use',
				  HINT = 'Point the aliases at another version first, or delete the whole model from ml.models.';
	END IF;
	RETURN OLD;
END
$$;
CREATE TRIGGER model_versions_keep_deployed BEFORE DELETE ON ml.model_versions
	FOR EACH ROW EXECUTE FUNCTION ml.forbid_deployed_delete();

-- Registry rows are user data: pg_dump keeps them.
SELECT pg_catalog.pg_extension_config_dump('ml.models', '');
SELECT pg_catalog.pg_extension_config_dump('ml.models_model_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ml.model_versions', '');
SELECT pg_catalog.pg_extension_config_dump('ml.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('ml.aliases', '');
SELECT pg_catalog.pg_extension_config_dump('ml.splits', '');
SELECT pg_catalog.pg_extension_config_dump('ml.shadows', '');
SELECT pg_catalog.pg_extension_config_dump('ml.training_trials', '');
SELECT pg_catalog.pg_extension_config_dump('ml.deployments_deployment_id_seq', '');


CREATE VIEW ml.deployed_models AS
SELECT m.name, m.deployed_version AS version, v.algorithm, v.features, v.target,
	   v.metrics, v.n_train_rows, v.n_test_rows, v.trained_at, v.trained_by,
	   d.deployed_at, d.deployed_by
  FROM ml.models m
  LEFT JOIN ml.model_versions v ON v.model_id = m.model_id AND v.version = m.deployed_version
  LEFT JOIN LATERAL (SELECT dd.deployed_at, dd.deployed_by FROM ml.deployments dd
					  WHERE dd.model_id = m.model_id AND dd.alias = 'production'
					  ORDER BY dd.deployment_id DESC LIMIT 1) d ON true;
COMMENT ON VIEW ml.deployed_models IS
	'each model with its deployed version, holdout metrics and last deployment';

CREATE VIEW ml.version_metrics AS
SELECT m.name, v.version, v.version = m.deployed_version AS deployed, e.key AS metric,
	   CASE WHEN jsonb_typeof(e.value) = 'number' THEN (e.value #>> '{}')::float8 END AS value,
	   v.trained_at
  FROM ml.models m
  JOIN ml.model_versions v ON v.model_id = m.model_id
  CROSS JOIN LATERAL jsonb_each(v.metrics) e;
COMMENT ON VIEW ml.version_metrics IS
	'one row per model version and metric: the long format BI tools plot';

---------------------------------------------------------------- registry functions

CREATE FUNCTION ml_register_model(model_name text, model mlmodel,
								  source text DEFAULT NULL, metrics jsonb DEFAULT '{}')
	RETURNS int
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE CALLED ON NULL INPUT;
COMMENT ON FUNCTION ml_register_model(text, mlmodel, text, jsonb) IS
	'store a model value (e.g. from ml_linreg_fit) as the next version; returns the version';

CREATE FUNCTION ml_deploy(model_name text, version int, alias text DEFAULT 'production')
	RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE CALLED ON NULL INPUT;
COMMENT ON FUNCTION ml_deploy(text, int, text) IS
	'point an alias at a version (production: the one ml_predict(name) serves); recorded in ml.deployments';

CREATE FUNCTION ml_rollback(model_name text, alias text DEFAULT 'production') RETURNS int
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ml_rollback(text, text) IS
	'move an alias back to the version before its latest deployment still in effect; returns it';

CREATE FUNCTION ml_remove_alias(model_name text, alias text) RETURNS int
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ml_remove_alias(text, text) IS
	'remove an alias (production: serve no version until the next deploy), recorded in ml.deployments; returns the version it pointed to';

CREATE FUNCTION ml_archive_version(model_name text, version int, archived boolean DEFAULT true,
								   force boolean DEFAULT false) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ml_archive_version(text, int, boolean, boolean) IS
	'archive a version (kept and addressable, never deployed again; in use only with force, which removes its aliases first), or restore it (archived false)';

CREATE FUNCTION ml_delete_version(model_name text, version int, force boolean DEFAULT false) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ml_delete_version(text, int, boolean) IS
	'delete a version; one that is deployed or has an alias only with force, which removes those aliases first; its history stays';

CREATE FUNCTION ml_split(model_name text, alias text, percent float8) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE CALLED ON NULL INPUT;
COMMENT ON FUNCTION ml_split(text, text, float8) IS
	'send percent % of the keys of ml_predict(name, features, key) to an alias''s version; 0 ends the split';

CREATE FUNCTION ml_shadow(model_name text, alias text) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE CALLED ON NULL INPUT;
COMMENT ON FUNCTION ml_shadow(text, text) IS
	'shadow mode: logged predictions are also made by the alias''s version and logged beside, never returned; NULL ends it';

CREATE FUNCTION ml_model(model_name text) RETURNS mlmodel
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ml_model(model_name text, version int) RETURNS mlmodel
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_model(text) IS 'the deployed version''s model value';
COMMENT ON FUNCTION ml_model(text, int) IS 'a given version''s model value';

