---------------------------------------------------------------- evaluation metrics
-- Plain aggregates, usable in any query (GROUP BY, FILTER, parallel). The
-- definitions are scikit-learn's (sklearn.metrics); rows where an argument
-- is NULL are skipped; no rows give NULL.

-- Regression: a bounded float8[] state of 11 values (count, mean and centred
-- sum of squares of y_true, compensated sums of errors); parallel via combine.
CREATE FUNCTION metrics_regression_accum(float8[], float8, float8) RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_regression_combine(float8[], float8[]) RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_r2_final(float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_mse_final(float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_rmse_final(float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_mae_final(float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_mape_final(float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_regression_final(float8[]) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE ml_r2(y_true float8, y_pred float8) (
	SFUNC = metrics_regression_accum, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0,0,0}',
	FINALFUNC = metrics_r2_final, COMBINEFUNC = metrics_regression_combine, PARALLEL = SAFE
);
CREATE AGGREGATE ml_mse(y_true float8, y_pred float8) (
	SFUNC = metrics_regression_accum, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0,0,0}',
	FINALFUNC = metrics_mse_final, COMBINEFUNC = metrics_regression_combine, PARALLEL = SAFE
);
CREATE AGGREGATE ml_rmse(y_true float8, y_pred float8) (
	SFUNC = metrics_regression_accum, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0,0,0}',
	FINALFUNC = metrics_rmse_final, COMBINEFUNC = metrics_regression_combine, PARALLEL = SAFE
);
CREATE AGGREGATE ml_mae(y_true float8, y_pred float8) (
	SFUNC = metrics_regression_accum, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0,0,0}',
	FINALFUNC = metrics_mae_final, COMBINEFUNC = metrics_regression_combine, PARALLEL = SAFE
);
CREATE AGGREGATE ml_mape(y_true float8, y_pred float8) (
	SFUNC = metrics_regression_accum, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0,0,0}',
	FINALFUNC = metrics_mape_final, COMBINEFUNC = metrics_regression_combine, PARALLEL = SAFE
);
CREATE AGGREGATE ml_regression_metrics(y_true float8, y_pred float8) (
	SFUNC = metrics_regression_accum, STYPE = float8[], INITCOND = '{0,0,0,0,0,0,0,0,0,0,0}',
	FINALFUNC = metrics_regression_final, COMBINEFUNC = metrics_regression_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_r2(float8, float8) IS
	'coefficient of determination 1 - SSE/SST (sklearn r2_score); NULL when y_true is constant (sklearn returns 0 or 1 there)';
COMMENT ON AGGREGATE ml_mse(float8, float8) IS
	'mean squared error (sklearn mean_squared_error)';
COMMENT ON AGGREGATE ml_rmse(float8, float8) IS
	'root mean squared error (sklearn mean_squared_error, squared=False)';
COMMENT ON AGGREGATE ml_mae(float8, float8) IS
	'mean absolute error (sklearn mean_absolute_error)';
COMMENT ON AGGREGATE ml_mape(float8, float8) IS
	'mean absolute percentage error as a fraction, mean(|y - p| / max(|y|, DBL_EPSILON)) (sklearn mean_absolute_percentage_error)';
COMMENT ON AGGREGATE ml_regression_metrics(float8, float8) IS
	'jsonb {n, r2, mse, rmse, mae, mape}; r2 is null when y_true is constant';

-- Log loss: a bounded float8[] state {n, sum, compensation}.
CREATE FUNCTION metrics_logloss_accum(float8[], boolean, float8) RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_logloss_combine(float8[], float8[]) RETURNS float8[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_logloss_final(float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE ml_log_loss(y_true boolean, p float8) (
	SFUNC = metrics_logloss_accum, STYPE = float8[], INITCOND = '{0,0,0}',
	FINALFUNC = metrics_logloss_final, COMBINEFUNC = metrics_logloss_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_log_loss(boolean, float8) IS
	'binary cross-entropy of the probability p of true, p clipped to [DBL_EPSILON, 1 - DBL_EPSILON] (sklearn 1.2 log_loss with labels=[false, true]); p outside [0, 1] is an error';

-- ROC AUC and average precision: the state keeps every score (8 bytes per
-- row, up to mlsys.metrics_memory_limit per aggregate and group).
CREATE FUNCTION metrics_scores_accum(internal, boolean, float8) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_scores_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_scores_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_scores_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_roc_auc_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_pr_auc_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE AGGREGATE ml_roc_auc(y_true boolean, score float8) (
	SFUNC = metrics_scores_accum, STYPE = internal, FINALFUNC = metrics_roc_auc_final,
	COMBINEFUNC = metrics_scores_combine, SERIALFUNC = metrics_scores_serialize,
	DESERIALFUNC = metrics_scores_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_pr_auc(y_true boolean, score float8) (
	SFUNC = metrics_scores_accum, STYPE = internal, FINALFUNC = metrics_pr_auc_final,
	COMBINEFUNC = metrics_scores_combine, SERIALFUNC = metrics_scores_serialize,
	DESERIALFUNC = metrics_scores_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_roc_auc(boolean, float8) IS
	'area under the ROC curve, ties as sklearn roc_auc_score; NULL unless both labels occur; keeps 8 bytes per row (mlsys.metrics_memory_limit)';
COMMENT ON AGGREGATE ml_pr_auc(boolean, float8) IS
	'average precision, the step sum of sklearn average_precision_score; NULL without true rows (sklearn returns 0); keeps 8 bytes per row (mlsys.metrics_memory_limit)';

-- Classification on labels of any type with a default btree operator class:
-- counts per (true, predicted) pair, at most 10000 distinct labels. The jsonb
-- results write labels with their type's output function (STABLE: it may
-- depend on settings such as TimeZone).
CREATE FUNCTION metrics_confusion_accum(internal, anyelement, anyelement) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_confusion_pos_accum(internal, anyelement, anyelement, anyelement)
	RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_confusion_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_confusion_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_confusion_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION metrics_accuracy_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_confusion_matrix_final(internal) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_classification_final(internal) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_precision_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_recall_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION metrics_f1_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE ml_accuracy(y_true anyelement, y_pred anyelement) (
	SFUNC = metrics_confusion_accum, STYPE = internal, FINALFUNC = metrics_accuracy_final,
	COMBINEFUNC = metrics_confusion_combine, SERIALFUNC = metrics_confusion_serialize,
	DESERIALFUNC = metrics_confusion_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_confusion_matrix(y_true anyelement, y_pred anyelement) (
	SFUNC = metrics_confusion_accum, STYPE = internal, FINALFUNC = metrics_confusion_matrix_final,
	COMBINEFUNC = metrics_confusion_combine, SERIALFUNC = metrics_confusion_serialize,
	DESERIALFUNC = metrics_confusion_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_classification_metrics(y_true anyelement, y_pred anyelement) (
	SFUNC = metrics_confusion_accum, STYPE = internal, FINALFUNC = metrics_classification_final,
	COMBINEFUNC = metrics_confusion_combine, SERIALFUNC = metrics_confusion_serialize,
	DESERIALFUNC = metrics_confusion_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_precision(y_true anyelement, y_pred anyelement, positive anyelement) (
	SFUNC = metrics_confusion_pos_accum, STYPE = internal, FINALFUNC = metrics_precision_final,
	COMBINEFUNC = metrics_confusion_combine, SERIALFUNC = metrics_confusion_serialize,
	DESERIALFUNC = metrics_confusion_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_recall(y_true anyelement, y_pred anyelement, positive anyelement) (
	SFUNC = metrics_confusion_pos_accum, STYPE = internal, FINALFUNC = metrics_recall_final,
	COMBINEFUNC = metrics_confusion_combine, SERIALFUNC = metrics_confusion_serialize,
	DESERIALFUNC = metrics_confusion_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE ml_f1(y_true anyelement, y_pred anyelement, positive anyelement) (
	SFUNC = metrics_confusion_pos_accum, STYPE = internal, FINALFUNC = metrics_f1_final,
	COMBINEFUNC = metrics_confusion_combine, SERIALFUNC = metrics_confusion_serialize,
	DESERIALFUNC = metrics_confusion_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE ml_accuracy(anyelement, anyelement) IS
	'fraction of rows with y_pred = y_true (sklearn accuracy_score); labels of any type with a btree order';
COMMENT ON AGGREGATE ml_confusion_matrix(anyelement, anyelement) IS
	'jsonb {labels: the labels seen, sorted, matrix: [[rows with true = labels[i] and predicted = labels[j]]]} (sklearn confusion_matrix)';
COMMENT ON AGGREGATE ml_classification_metrics(anyelement, anyelement) IS
	'jsonb {n, accuracy, precision_macro, recall_macro, f1_macro, classes: [{label, precision, recall, f1, support}]}; macro averages over all labels seen, 0 for a zero denominator (sklearn average=''macro'', zero_division=0)';
COMMENT ON AGGREGATE ml_precision(anyelement, anyelement, anyelement) IS
	'precision of the positive label (sklearn precision_score, pos_label=positive; with more labels, that label against all others); 0 when it is never predicted';
COMMENT ON AGGREGATE ml_recall(anyelement, anyelement, anyelement) IS
	'recall of the positive label (sklearn recall_score, pos_label=positive; with more labels, that label against all others); 0 when it never occurs';
COMMENT ON AGGREGATE ml_f1(anyelement, anyelement, anyelement) IS
	'F1 score of the positive label (sklearn f1_score, pos_label=positive; with more labels, that label against all others); 0 when precision and recall are 0';
