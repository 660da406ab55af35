/*
 * booster.c -- XGBoost boosters of tree models: loading, checking,
 * prediction, SHAP contributions, feature importance, and XGBoost's errors
 * as SQL errors.
 *
 * A booster is loaded from the bytes stored in the model (XGBoost's UBJSON
 * format) into a handle owned by a memory context: a reset callback frees
 * the handle with the context, so a cached model, a call site's model and
 * an aborted statement never leak one. Loading checks the booster against
 * the model around it (features, objective, classes), so a value that
 * passed its checksum but holds a foreign booster is an error, not a wrong
 * answer.
 *
 * XGBoost runs with mlsys.xgboost_threads threads (default 1: a backend is
 * one process among many; see TOOLCHAIN notes on OpenMP and fork). Nothing
 * here runs in the postmaster.
 */
#include "postgres.h"

#include <math.h>

#include <xgboost/c_api.h>

#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "booster.h"
#include "jsonopt.h"

int			booster_threads = 1;

struct Booster
{
	BoosterHandle handle;
	int			threads;		/* nthread last set on the handle */
	int			n_features;
	int			n_outputs;		/* 1, or the classes of a multi-class model */
	float	   *row;			/* [n_features] one row, NaN for missing */
	char	   *row_interface;	/* __array_interface__ of row, for XGBoost */
};

/* Inplace prediction of the values (probabilities for classifiers). */
static const char *const predict_config =
"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0,"
" \"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";

/* SHAP values: one per feature plus the bias, per output group. */
static const char *const contrib_config =
"{\"type\": 2, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0,"
" \"strict_shape\": true}";

void
BoosterInit(void)
{
	DefineCustomIntVariable("mlsys.xgboost_threads",
							"Number of XGBoost threads one backend may use for training and prediction.",
							"Parallelism normally comes from many backends; on few cores more threads are slower.",
							&booster_threads, 1, 1, 64, PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * XGBoost's last error message. It starts with a time stamp and a source
 * location, and may end in a stack trace: only the message itself is kept,
 * so that an error reads the same every time.
 */
static char *
LastError(void)
{
	char	   *msg = pstrdup(XGBGetLastError());
	char	   *p;

	if ((p = strstr(msg, "Stack trace:")) != NULL)
		*p = '\0';
	if (msg[0] == '[' && (p = strchr(msg, ']')) != NULL)
		msg = p + 1;
	/* "file.cc:123: message" */
	if ((p = strstr(msg, ": ")) != NULL && p > msg && strchr("0123456789", p[-1]) != NULL)
		msg = p + 2;
	while (*msg == ' ')
		msg++;
	for (p = msg + strlen(msg); p > msg && isspace((unsigned char) p[-1]); p--)
		p[-1] = '\0';
	return msg;
}

/* Raise XGBoost's last error, as having failed to do action. */
void
BoosterError(const char *action)
{
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("XGBoost could not %s", action),
			 errdetail("%s", LastError()),
			 errhint("Check the XGBoost parameters; the detail is XGBoost's own message.")));
}

/* Keep a handle's thread count at mlsys.xgboost_threads. */
void
BoosterApplyThreads(void *handle, int *applied)
{
	char		value[16];

	if (*applied == booster_threads)
		return;
	snprintf(value, sizeof(value), "%d", booster_threads);
	XGB_CHECK(XGBoosterSetParam(handle, "nthread", value), "set its thread count");
	*applied = booster_threads;
}

static void
FreeBooster(void *arg)
{
	Booster    *booster = (Booster *) arg;

	if (booster->handle != NULL)
		(void) XGBoosterFree(booster->handle);
	booster->handle = NULL;
}

static pg_noreturn void
ForeignBooster(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("invalid mlmodel value"),
			 errdetail("%s", detail),
			 errhint("Train the model again, or restore the value from a dump taken with the same mlsys.")));
}

/* A string member at a path of nested objects in a jsonb, or NULL. */
static char *
JsonPathString(Jsonb *jb, const char *const *path, int depth)
{
	JsonbContainer *c = &jb->root;
	JsonbValue	v;

	for (int i = 0; i < depth; i++)
	{
		if (getKeyJsonValueFromContainer(c, path[i], strlen(path[i]), &v) == NULL)
			return NULL;
		if (i == depth - 1)
			return v.type == jbvString ? pnstrdup(v.val.string.val, v.val.string.len) : NULL;
		if (v.type != jbvBinary)
			return NULL;
		c = v.val.binary.data;
	}
	return NULL;
}

/* Does the booster's objective and class count fit the model around it? */
static void
CheckObjective(const Model *model, BoosterHandle handle, int *n_outputs)
{
	static const char *const objective_path[] = {"learner", "objective", "name"};
	static const char *const classes_path[] = {"learner", "learner_model_param", "num_class"};
	bst_ulong	len;
	const char *config;
	Jsonb	   *jb;
	char	   *objective;
	char	   *num_class;
	int			classes;

	XGB_CHECK(XGBoosterSaveJsonConfig(handle, &len, &config), "read the booster's configuration");
	jb = JsonParse(pnstrdup(config, len));
	objective = JsonPathString(jb, objective_path, lengthof(objective_path));
	num_class = JsonPathString(jb, classes_path, lengthof(classes_path));
	if (objective == NULL || num_class == NULL)
		ForeignBooster("The booster's configuration has no objective or class count.");
	classes = atoi(num_class);
	if (model->n_classes == 0)
	{
		if (strncmp(objective, "binary:", 7) == 0 || strncmp(objective, "multi:", 6) == 0)
			ForeignBooster("A regression model holds a classifier's booster.");
		*n_outputs = 1;
	}
	else if (model->n_classes == 2)
	{
		if (strcmp(objective, "binary:logistic") != 0)
			ForeignBooster("A two-class model needs a booster with objective binary:logistic.");
		*n_outputs = 1;
	}
	else
	{
		if (strcmp(objective, "multi:softprob") != 0 || classes != model->n_classes)
			ForeignBooster("A multi-class model needs a booster with objective multi:softprob and one output per class.");
		*n_outputs = classes;
	}
}

/*
 * Load the model's booster in the current memory context, checked against
 * the model: as many features as design columns, a matching objective.
 */
Booster *
BoosterLoad(const Model *model)
{
	Booster    *booster = palloc0(sizeof(Booster));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));
	bst_ulong	n_features;
	StringInfoData buf;

	Assert(model->kind == MODEL_KIND_XGBOOST);
	XGB_CHECK(XGBoosterCreate(NULL, 0, &booster->handle), "create a booster");
	cb->func = FreeBooster;
	cb->arg = booster;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);

	if (XGBoosterLoadModelFromBuffer(booster->handle, model->booster, model->booster_len) != 0)
		ForeignBooster(psprintf("XGBoost cannot read the stored booster: %s", LastError()));
	XGB_CHECK(XGBoosterGetNumFeature(booster->handle, &n_features), "count the booster's features");
	if (n_features != (bst_ulong) model->n_design)
		ForeignBooster(psprintf("The booster reads %lu features, but the inputs give %d design columns.",
								(unsigned long) n_features, model->n_design));
	CheckObjective(model, booster->handle, &booster->n_outputs);
	BoosterApplyThreads(booster->handle, &booster->threads);

	booster->n_features = model->n_design;
	booster->row = palloc(sizeof(float) * model->n_design);
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"data\": [%lu, false], \"shape\": [1, %d], \"typestr\": \"<f4\", \"version\": 3}",
					 (unsigned long) (uintptr_t) booster->row, model->n_design);
	booster->row_interface = buf.data;
	return booster;
}

int
BoosterOutputs(const Booster *booster)
{
	return booster->n_outputs;
}

static void
SetRow(Booster *booster, const double *design)
{
	for (int j = 0; j < booster->n_features; j++)
		booster->row[j] = (float) design[j];
}

/*
 * Predict one row: the value of a regression, the probability of the
 * second class of a binary classifier, or one probability per class.
 */
void
BoosterPredict(Booster *booster, const double *design, double *out)
{
	bst_ulong const *shape;
	bst_ulong	dim;
	const float *result;

	SetRow(booster, design);
	BoosterApplyThreads(booster->handle, &booster->threads);
	XGB_CHECK(XGBoosterPredictFromDense(booster->handle, booster->row_interface, predict_config,
										NULL, &shape, &dim, &result), "predict");
	for (int k = 0; k < booster->n_outputs; k++)
		out[k] = result[k];
}

/*
 * Exact SHAP contributions of one row (XGBoost's TreeSHAP): per output,
 * n_features values and the bias, which add up to the raw (margin)
 * prediction of that output.
 */
double *
BoosterContributions(Booster *booster, const double *design)
{
	int			n = booster->n_outputs * (booster->n_features + 1);
	double	   *out = palloc(sizeof(double) * n);
	DMatrixHandle dmat;
	bst_ulong const *shape;
	bst_ulong	dim;
	const float *result;
	int			rc;

	SetRow(booster, design);
	BoosterApplyThreads(booster->handle, &booster->threads);
	XGB_CHECK(XGDMatrixCreateFromMat(booster->row, 1, booster->n_features, NAN, &dmat),
			  "hold the row");
	rc = XGBoosterPredictFromDMatrix(booster->handle, dmat, contrib_config, &shape, &dim, &result);
	if (rc == 0)
		for (int i = 0; i < n; i++)
			out[i] = result[i];
	(void) XGDMatrixFree(dmat);
	if (rc != 0)
		BoosterError("compute contributions");
	return out;
}

/*
 * Importance of each feature of type "weight", "total_gain" or
 * "total_cover" (0 for features no tree splits on).
 */
double *
BoosterImportance(Booster *booster, const char *importance_type)
{
	double	   *scores = palloc0(sizeof(double) * booster->n_features);
	bst_ulong	n_used,
				dim;
	const char **names;
	bst_ulong const *shape;
	const float *values;

	XGB_CHECK(XGBoosterFeatureScore(booster->handle,
									psprintf("{\"importance_type\": \"%s\"}", importance_type),
									&n_used, &names, &dim, &shape, &values),
			  "compute feature importance");
	/* features are named f0, f1, ... when the booster has no names */
	for (bst_ulong i = 0; i < n_used; i++)
	{
		int			j = names[i][0] == 'f' ? atoi(names[i] + 1) : -1;

		if (j >= 0 && j < booster->n_features)
			scores[j] = values[i];
	}
	return scores;
}

/* Boosting rounds in the booster. */
int
BoosterRounds(Booster *booster)
{
	int			rounds;

	XGB_CHECK(XGBoosterBoostedRounds(booster->handle, &rounds), "count boosting rounds");
	return rounds;
}
