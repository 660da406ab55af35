---------------------------------------------------------------- inference
-- Every function takes the model by registry name (its deployed version;
-- STABLE, as deployments change) or as a value (IMMUTABLE), and the
-- features as a float8[] in input order or as a row matched by column name.

CREATE FUNCTION ml_predict(model_name text, features float8[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict(text, float8[]) IS
	'the prediction: a regression value, or a classifiers class as a number';

CREATE FUNCTION ml_predict(model_name text, features record) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict(text, record) IS
	'the prediction: a regression value, or a classifiers class as a number';

CREATE FUNCTION ml_predict(model mlmodel, features float8[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict(mlmodel, float8[]) IS
	'the prediction: a regression value, or a classifiers class as a number';

CREATE FUNCTION ml_predict(model mlmodel, features record) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict(mlmodel, record) IS
	'the prediction: a regression value, or a classifiers class as a number';

CREATE FUNCTION ml_predict_class(model_name text, features float8[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_class' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_class(text, float8[]) IS
	'the predicted class label of a classifier';

CREATE FUNCTION ml_predict_class(model_name text, features record) RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_class' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_class(text, record) IS
	'the predicted class label of a classifier';

CREATE FUNCTION ml_predict_class(model mlmodel, features float8[]) RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_class' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_class(mlmodel, float8[]) IS
	'the predicted class label of a classifier';

CREATE FUNCTION ml_predict_class(model mlmodel, features record) RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_class' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_class(mlmodel, record) IS
	'the predicted class label of a classifier';

CREATE FUNCTION ml_predict_proba(model_name text, features float8[]) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_proba(text, float8[]) IS
	'class probabilities of a classifier, in the order of its "classes"';

CREATE FUNCTION ml_predict_proba(model_name text, features record) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_proba(text, record) IS
	'class probabilities of a classifier, in the order of its "classes"';

CREATE FUNCTION ml_predict_proba(model mlmodel, features float8[]) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_proba(mlmodel, float8[]) IS
	'class probabilities of a classifier, in the order of its "classes"';

CREATE FUNCTION ml_predict_proba(model mlmodel, features record) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_proba(mlmodel, record) IS
	'class probabilities of a classifier, in the order of its "classes"';

CREATE FUNCTION ml_transform(model_name text, features float8[]) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_transform' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_transform(text, float8[]) IS
	'the design vector the model computes from the features (after imputation, scaling and encoding)';

CREATE FUNCTION ml_transform(model_name text, features record) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_transform' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_transform(text, record) IS
	'the design vector the model computes from the features (after imputation, scaling and encoding)';

CREATE FUNCTION ml_transform(model mlmodel, features float8[]) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_transform' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_transform(mlmodel, float8[]) IS
	'the design vector the model computes from the features (after imputation, scaling and encoding)';

CREATE FUNCTION ml_transform(model mlmodel, features record) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_transform' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_transform(mlmodel, record) IS
	'the design vector the model computes from the features (after imputation, scaling and encoding)';

CREATE FUNCTION ml_explain(model_name text, features float8[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ml_explain' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_explain(text, float8[]) IS
	'each input''s additive contribution to a linear model''s prediction or a logistic model''s logits, with the bias';

CREATE FUNCTION ml_explain(model_name text, features record) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ml_explain' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_explain(text, record) IS
	'each input''s additive contribution to a linear model''s prediction or a logistic model''s logits, with the bias';

CREATE FUNCTION ml_explain(model mlmodel, features float8[]) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ml_explain' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_explain(mlmodel, float8[]) IS
	'each input''s additive contribution to a linear model''s prediction or a logistic model''s logits, with the bias';

CREATE FUNCTION ml_explain(model mlmodel, features record) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'ml_explain' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_explain(mlmodel, record) IS
	'each input''s additive contribution to a linear model''s prediction or a logistic model''s logits, with the bias';

-- By name with a key: a traffic split (ml_split) routes the key's share to another
-- version; a NULL key, or no split, serves the deployed version.
CREATE FUNCTION ml_predict(model_name text, features float8[], key anyelement) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict(text, float8[], anyelement) IS
	'ml_predict with traffic splitting by a hash of key (see ml_split)';
CREATE FUNCTION ml_predict(model_name text, features record, key anyelement) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict(text, record, anyelement) IS
	'ml_predict with traffic splitting by a hash of key (see ml_split)';
CREATE FUNCTION ml_predict_class(model_name text, features float8[], key anyelement) RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_class' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_class(text, float8[], anyelement) IS
	'ml_predict_class with traffic splitting by a hash of key (see ml_split)';
CREATE FUNCTION ml_predict_class(model_name text, features record, key anyelement) RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_class' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_class(text, record, anyelement) IS
	'ml_predict_class with traffic splitting by a hash of key (see ml_split)';
CREATE FUNCTION ml_predict_proba(model_name text, features float8[], key anyelement) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_proba(text, float8[], anyelement) IS
	'ml_predict_proba with traffic splitting by a hash of key (see ml_split)';
CREATE FUNCTION ml_predict_proba(model_name text, features record, key anyelement) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_proba(text, record, anyelement) IS
	'ml_predict_proba with traffic splitting by a hash of key (see ml_split)';

-- By entity: the features of its latest rows in the model's feature tables
-- (the model's inputs are named <feature table>__<feature>, as
-- ml_training_set names them), one indexed look-up per feature table.
CREATE FUNCTION ml_predict(model_name text, entity bigint) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict_entity' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ml_predict(model_name text, entity text) RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict_entity' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict(text, bigint) IS
	'ml_predict of an entity''s latest features in the feature tables the model was trained on';
COMMENT ON FUNCTION ml_predict(text, text) IS
	'ml_predict of an entity''s latest features in the feature tables the model was trained on';
CREATE FUNCTION ml_predict_class(model_name text, entity bigint) RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_class_entity' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ml_predict_class(model_name text, entity text) RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_class_entity' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ml_predict_proba(model_name text, entity bigint) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba_entity' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION ml_predict_proba(model_name text, entity text) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba_entity' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ml_predict_class(text, bigint) IS
	'ml_predict_class of an entity''s latest features in the model''s feature tables';
COMMENT ON FUNCTION ml_predict_class(text, text) IS
	'ml_predict_class of an entity''s latest features in the model''s feature tables';
COMMENT ON FUNCTION ml_predict_proba(text, bigint) IS
	'ml_predict_proba of an entity''s latest features in the model''s feature tables';
COMMENT ON FUNCTION ml_predict_proba(text, text) IS
	'ml_predict_proba of an entity''s latest features in the model''s feature tables';
