/*
 * train_xgboost.c -- the ml_xgboost_fit aggregate: gradient-boosted trees
 * and random forests through XGBoost's C API.
 *
 * XGBoost needs all rows at once, so the transition function collects them
 * (as float32, XGBoost's own precision) in a buffer bounded by
 * mlsys.xgboost_memory_limit, and the final function trains. Rows flagged
 * as holdout go to a second buffer that early stopping evaluates after
 * each boosting round. NULL (and NaN) features are missing values, which
 * trees route on their own. Training checks for interrupts between rounds, and
 * every XGBoost handle is freed on the way out, error or not.
 *
 * params: XGBoost's parameters (validated against the list below), plus
 *   n_estimators            boosting rounds (default 100)
 *   early_stopping_rounds   stop when the holdout metric has not improved
 *                           for this many rounds; keep the best round
 *   classes                 names of the classes 0..K-1 of a classifier
 *   features, target        names recorded in the model
 * The objective defaults to reg:squarederror, or with "classes" to
 * binary:logistic (2) or multi:softprob (more); tree_method defaults to
 * hist, XGBoost 2's default (1.7 picks approx on large inputs, an order of
 * magnitude slower: 100 s instead of 5 s on 1M rows x 10).
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include <xgboost/c_api.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "booster.h"
#include "jsonopt.h"
#include "model.h"

/* mlsys.xgboost_memory_limit, in kB: cap on the rows one fit collects. */
static int	xgboost_memory_limit = 1024 * 1024;

static const JsonContext xgboost_ctx = {
	ERRCODE_INVALID_PARAMETER_VALUE, "ml_xgboost_fit parameters"
};

/* XGBoost's parameters that pass through unchanged. */
static const char *const xgboost_param_names[] = {
	"objective", "eval_metric", "base_score", "seed",
	"eta", "learning_rate", "gamma", "min_split_loss", "max_depth", "min_child_weight",
	"max_delta_step", "subsample", "sampling_method", "colsample_bytree", "colsample_bylevel",
	"colsample_bynode", "lambda", "reg_lambda", "alpha", "reg_alpha", "tree_method",
	"scale_pos_weight", "grow_policy", "max_leaves", "max_bin", "num_parallel_tree",
	"huber_slope", "tweedie_variance_power", "max_cat_to_onehot", NULL
};

/* Objectives whose predictions ml_predict can serve. */
static const char *const objectives[] = {
	"reg:squarederror", "reg:squaredlogerror", "reg:pseudohubererror", "reg:absoluteerror",
	"reg:logistic", "reg:gamma", "reg:tweedie", "count:poisson",
	"binary:logistic", "multi:softprob", NULL
};

/* Rows collected for one DMatrix. */
typedef struct RowBuffer
{
	int64		n;
	int64		capacity;
	float	   *x;				/* [capacity][n_features] */
	float	   *y;				/* [capacity] */
} RowBuffer;

typedef struct XGBoostFitState
{
	int			n_features;
	Jsonb	   *params;
	RowBuffer	train;
	RowBuffer	holdout;
} XGBoostFitState;

PG_FUNCTION_INFO_V1(xgboost_fit_accum);
PG_FUNCTION_INFO_V1(xgboost_fit_final);

void
XGBoostInit(void)
{
	DefineCustomIntVariable("mlsys.xgboost_memory_limit",
							"Maximum memory the rows of one XGBoost fit may use.",
							"ml_xgboost_fit and ml_train collect every row as 4 bytes per feature "
							"plus 4 for the target; XGBoost's own copy comes on top.",
							&xgboost_memory_limit, 1024 * 1024, 1024, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
}

static void
AppendRow(XGBoostFitState *s, RowBuffer *buf, double y, ArrayType *x, MemoryContext agg)
{
	int			k = s->n_features;
	const double *values = (const double *) ARR_DATA_PTR(x);
	bits8	   *nulls = ARR_NULLBITMAP(x);
	float	   *row;
	int			v = 0;

	if (buf->n == buf->capacity)
	{
		int64		capacity = Max(1024, buf->capacity * 2);
		Size		bytes = (Size) (s->train.capacity + s->holdout.capacity - buf->capacity + capacity) *
			(k + 1) * sizeof(float);

		if (bytes > (Size) xgboost_memory_limit * 1024)
		{
			capacity = (Size) xgboost_memory_limit * 1024 / ((k + 1) * sizeof(float)) -
				(s->train.capacity + s->holdout.capacity - buf->capacity);
			if (capacity <= buf->n)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("the rows of this XGBoost fit exceed mlsys.xgboost_memory_limit (%d kB)",
								xgboost_memory_limit),
						 errdetail("%lld rows of %d features were collected.",
								   (long long) (s->train.n + s->holdout.n), k),
						 errhint("Raise mlsys.xgboost_memory_limit, or train on a sample of the rows (TABLESAMPLE).")));
		}
		if (buf->x == NULL)
		{
			buf->x = MemoryContextAllocHuge(agg, (Size) capacity * k * sizeof(float));
			buf->y = MemoryContextAllocHuge(agg, (Size) capacity * sizeof(float));
		}
		else
		{
			buf->x = repalloc_huge(buf->x, (Size) capacity * k * sizeof(float));
			buf->y = repalloc_huge(buf->y, (Size) capacity * sizeof(float));
		}
		buf->capacity = capacity;
	}
	row = buf->x + buf->n * k;
	for (int j = 0; j < k; j++)
	{
		if (nulls != NULL && !(nulls[j / 8] & (1 << (j % 8))))
		{
			row[j] = NAN;
			continue;
		}
		if (isinf(values[v]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("feature %d is %g, but features must be finite, NaN or NULL", j + 1, values[v]),
					 errhint("Trees treat NULL and NaN as missing: replace infinity with NULL or a large finite value.")));
		row[j] = (float) values[v++];
	}
	buf->y[buf->n++] = (float) y;
}

/*
 * xgboost_fit_accum(state, y, x, params [, holdout]): collect one row.
 * Rows with a NULL target are skipped.
 */
Datum
xgboost_fit_accum(PG_FUNCTION_ARGS)
{
	MemoryContext agg;
	XGBoostFitState *s = PG_ARGISNULL(0) ? NULL : (XGBoostFitState *) PG_GETARG_POINTER(0);
	ArrayType  *x;
	double		y;
	bool		holdout = PG_NARGS() > 4 && !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	int			k;

	if (!AggCheckCallContext(fcinfo, &agg))
		elog(ERROR, "xgboost_fit_accum called in non-aggregate context");
	if (s == NULL)
	{
		s = MemoryContextAllocZero(agg, sizeof(XGBoostFitState));
		s->n_features = -1;
		s->params = PG_ARGISNULL(3) ? NULL
			: (Jsonb *) MemoryContextAllocHuge(agg, VARSIZE(PG_GETARG_JSONB_P(3)));
		if (s->params != NULL)
			memcpy(s->params, PG_GETARG_JSONB_P(3), VARSIZE(PG_GETARG_JSONB_P(3)));
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(s);
	y = PG_GETARG_FLOAT8(1);
	if (!isfinite(y))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("target value must be finite, got %g", y),
				 errhint("Filter out rows with NaN or infinite targets.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the feature array must not be NULL"),
				 errhint("Pass ARRAY[x1, x2, ...]; NULL elements are missing values.")));
	x = PG_GETARG_ARRAYTYPE_P(2);
	if (ARR_NDIM(x) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("feature array must be one-dimensional"),
				 errhint("Pass one row's features as ARRAY[x1, x2, ...].")));
	k = ArrayGetNItems(ARR_NDIM(x), ARR_DIMS(x));
	if (s->n_features < 0)
	{
		if (k < 1 || k > MLSYS_MAX_FEATURES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a row has %d features; a model needs 1 to %d", k, MLSYS_MAX_FEATURES),
					 errhint("Pass between 1 and %d features.", MLSYS_MAX_FEATURES)));
		s->n_features = k;
	}
	else if (k != s->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("a row has %d features where earlier rows have %d", k, s->n_features),
				 errhint("Every row must pass the same features in the same order.")));
	AppendRow(s, holdout ? &s->holdout : &s->train, y, x, agg);
	PG_RETURN_POINTER(s);
}

/* What params ask for, checked. */
typedef struct FitOptions
{
	int			rounds;
	int			early_stopping;	/* 0: none */
	int			n_classes;		/* 0: regression */
	char	  **classes;
	char	  **features;
	char	   *target;
	char	   *objective;
	int			n_pass;			/* parameters passed to XGBoost */
	char	  **pass_names;
	char	  **pass_values;
} FitOptions;

static int
WholeNumber(Jsonb *params, const char *key, int dflt, int lo, int hi)
{
	double		v;

	if (!JsonGetNumber(&xgboost_ctx, params, key, &v))
		return dflt;
	if (!(v >= lo && v <= hi && v == floor(v)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a whole number between %d and %d, got %g", key, lo, hi, v),
				 errhint("Use a whole number such as %d.", dflt > 0 ? dflt : 10)));
	return (int) v;
}

static void
ParseFitOptions(Jsonb *params, int n_features, FitOptions *o)
{
	static const char *keys[64];
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	int			n_keys = 0;
	int			n_names;

	if (keys[0] == NULL)
	{
		for (const char *const *p = xgboost_param_names; *p != NULL; p++)
			keys[n_keys++] = *p;
		keys[n_keys++] = "n_estimators";
		keys[n_keys++] = "early_stopping_rounds";
		keys[n_keys++] = "classes";
		keys[n_keys++] = "features";
		keys[n_keys++] = "target";
		keys[n_keys] = NULL;
	}
	memset(o, 0, sizeof(*o));
	o->target = "";
	o->rounds = 100;
	if (params == NULL)
		params = JsonParse("{}");
	JsonCheckKeys(&xgboost_ctx, params, keys);
	o->rounds = WholeNumber(params, "n_estimators", 100, 1, 100000);
	o->early_stopping = WholeNumber(params, "early_stopping_rounds", 0, 1, 100000);
	o->n_classes = Max(JsonGetStringArray(&xgboost_ctx, params, "classes", &o->classes), 0);
	if (o->n_classes == 1 || o->n_classes > MLSYS_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"classes\" must name 2 to %d classes, got %d", MLSYS_MAX_CLASSES, o->n_classes),
				 errhint("List the class labels in the order of the target's values 0, 1, ...")));
	n_names = JsonGetStringArray(&xgboost_ctx, params, "features", &o->features);
	if (n_names >= 0 && n_names != n_features)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"features\" names %d features, but the rows have %d", n_names, n_features),
				 errhint("Give one name per element of the feature array.")));
	if (n_names < 0)
		o->features = NULL;
	JsonGetString(&xgboost_ctx, params, "target", &o->target);

	o->objective = o->n_classes == 0 ? "reg:squarederror"
		: o->n_classes == 2 ? "binary:logistic" : "multi:softprob";
	if (JsonGetString(&xgboost_ctx, params, "objective", &o->objective))
	{
		bool		known = false;
		bool		classifies = strncmp(o->objective, "binary:", 7) == 0 ||
			strncmp(o->objective, "multi:", 6) == 0;

		for (const char *const *p = objectives; *p != NULL; p++)
			known |= strcmp(*p, o->objective) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unsupported XGBoost objective \"%s\"", o->objective),
					 errhint("Use one of reg:squarederror, reg:squaredlogerror, reg:pseudohubererror, reg:absoluteerror, reg:logistic, reg:gamma, reg:tweedie, count:poisson, binary:logistic, multi:softprob.")));
		if (o->n_classes > 0 && !classifies)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("objective \"%s\" is a regression, but \"classes\" are given", o->objective),
					 errhint("Use binary:logistic or multi:softprob to classify.")));
		if (o->n_classes > 0 && (o->n_classes == 2) != (strcmp(o->objective, "binary:logistic") == 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("objective \"%s\" does not fit %d classes", o->objective, o->n_classes),
					 errhint("Use binary:logistic for two classes and multi:softprob for more.")));
	}

	/* everything else goes to XGBoost as text */
	o->pass_names = palloc(sizeof(char *) * 64);
	o->pass_values = palloc(sizeof(char *) * 64);
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		pass = false;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		for (const char *const *p = xgboost_param_names; *p != NULL; p++)
			pass |= strcmp(*p, key) == 0;
		if (!pass || strcmp(key, "objective") == 0)
			continue;
		if (v.type == jbvNumeric)
			o->pass_values[o->n_pass] = DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v.val.numeric)));
		else if (v.type == jbvString)
			o->pass_values[o->n_pass] = pnstrdup(v.val.string.val, v.val.string.len);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("XGBoost parameter \"%s\" must be a number or a string", key),
					 errhint("Pass one value, such as '{\"max_depth\": 6}' or '{\"tree_method\": \"hist\"}'.")));
		o->pass_names[o->n_pass++] = key;
	}
}

/* Class labels are the class numbers 0..K-1; K from "classes" or the labels. */
static void
CheckLabels(FitOptions *o, const RowBuffer *train)
{
	bool		classifies = strncmp(o->objective, "binary:", 7) == 0 ||
		strncmp(o->objective, "multi:", 6) == 0;
	int			max_label = 0;

	if (!classifies)
		return;
	for (int64 i = 0; i < train->n; i++)
	{
		float		y = train->y[i];

		if (!(y >= 0 && y == floorf(y) && y < MLSYS_MAX_CLASSES))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a class label is %g, but classifiers need the class numbers 0, 1, ...", y),
					 errhint("Map the classes to 0..K-1 and name them in \"classes\".")));
		max_label = Max(max_label, (int) y);
	}
	if (o->n_classes == 0)
	{
		o->n_classes = Max(max_label + 1, 2);
		o->classes = palloc(sizeof(char *) * o->n_classes);
		for (int c = 0; c < o->n_classes; c++)
			o->classes[c] = psprintf("%d", c);
	}
	if (max_label >= o->n_classes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("class number %d is beyond the %d classes named", max_label, o->n_classes),
				 errhint("Name every class in \"classes\".")));
	if (o->n_classes == 2 && strcmp(o->objective, "binary:logistic") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("two classes need objective binary:logistic"),
				 errhint("Leave \"objective\" out to get the right one.")));
	if (o->n_classes > 2)
		o->objective = "multi:softprob";
}

/*
 * The holdout metric of the last round from XGBoost's evaluation line
 * "[3]\tholdout-rmse:12.5", and whether larger is better (by XGBoost's own
 * early-stopping rule: auc, aucpr, map and ndcg, but not mape).
 */
static double
HoldoutScore(const char *eval, bool *higher_is_better)
{
	static const char *const larger_better[] = {"auc", "aucpr", "map", "ndcg"};
	const char *name = strstr(eval, "\tholdout-");
	const char *colon = strrchr(eval, ':');
	size_t		len;

	if (name == NULL || colon == NULL || colon < name)
		elog(ERROR, "unexpected XGBoost evaluation output \"%s\"", eval);
	name += strlen("\tholdout-");
	len = colon - name;
	*higher_is_better = false;
	for (int i = 0; i < lengthof(larger_better); i++)
	{
		size_t		n = strlen(larger_better[i]);

		if (len >= n && strncmp(name, larger_better[i], n) == 0 && (len == n || name[n] == '@'))
			*higher_is_better = true;
	}
	return strtod(colon + 1, NULL);
}

static DMatrixHandle
MakeDMatrix(const RowBuffer *buf, int k)
{
	DMatrixHandle dmat;

	XGB_CHECK(XGDMatrixCreateFromMat(buf->x, buf->n, k, NAN, &dmat), "hold the training rows");
	if (XGDMatrixSetFloatInfo(dmat, "label", buf->y, buf->n) != 0)
	{
		(void) XGDMatrixFree(dmat);
		BoosterError("set the labels");
	}
	return dmat;
}

/*
 * XGBoost's handles of one fit. They are freed at the end, or, when an
 * error or a cancel comes first, with the memory context they were made
 * in (a reset callback), so that none outlives the statement.
 */
typedef struct FitHandles
{
	DMatrixHandle train;
	DMatrixHandle holdout;
	BoosterHandle booster;
	BoosterHandle best;			/* the booster cut at its best round */
} FitHandles;

static void
FreeFitHandles(void *arg)
{
	FitHandles *h = (FitHandles *) arg;

	if (h->best != NULL)
		(void) XGBoosterFree(h->best);
	if (h->booster != NULL)
		(void) XGBoosterFree(h->booster);
	if (h->holdout != NULL)
		(void) XGDMatrixFree(h->holdout);
	if (h->train != NULL)
		(void) XGDMatrixFree(h->train);
	memset(h, 0, sizeof(FitHandles));
}

/*
 * Boost rounds on the training rows; with early stopping, evaluate the
 * holdout rows after each round and keep the rounds up to the best one.
 * Returns the booster's bytes (UBJSON) in the current memory context.
 */
static char *
Boost(XGBoostFitState *s, FitOptions *o, uint32 *len)
{
	FitHandles *h = palloc0(sizeof(FitHandles));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));
	DMatrixHandle dmats[2];
	BoosterHandle handle;
	int			threads = 0;
	int			best_round = -1;
	double		best_score = 0;
	bst_ulong	out_len;
	const char *out;
	char	   *bytes;

	cb->func = FreeFitHandles;
	cb->arg = h;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);

	h->train = dmats[0] = MakeDMatrix(&s->train, s->n_features);
	if (o->early_stopping > 0)
		h->holdout = dmats[1] = MakeDMatrix(&s->holdout, s->n_features);
	XGB_CHECK(XGBoosterCreate(dmats, o->early_stopping > 0 ? 2 : 1, &h->booster), "create a booster");
	handle = h->booster;
	BoosterApplyThreads(handle, &threads);
	XGB_CHECK(XGBoosterSetParam(handle, "objective", o->objective), "set the objective");
	XGB_CHECK(XGBoosterSetParam(handle, "tree_method", "hist"), "set the tree method");
	if (o->n_classes > 2)
		XGB_CHECK(XGBoosterSetParam(handle, "num_class", psprintf("%d", o->n_classes)),
				  "set the number of classes");
	for (int i = 0; i < o->n_pass; i++)
		XGB_CHECK(XGBoosterSetParam(handle, o->pass_names[i], o->pass_values[i]),
				  psprintf("set parameter \"%s\"", o->pass_names[i]));

	for (int round = 0; round < o->rounds; round++)
	{
		CHECK_FOR_INTERRUPTS();
		XGB_CHECK(XGBoosterUpdateOneIter(handle, round, h->train), "boost a round");
		if (o->early_stopping > 0)
		{
			const char *names[1] = {"holdout"};
			const char *eval;
			bool		higher;
			double		score;

			XGB_CHECK(XGBoosterEvalOneIter(handle, round, &dmats[1], names, 1, &eval),
					  "evaluate the holdout rows");
			score = HoldoutScore(eval, &higher);
			if (best_round < 0 || (higher ? score > best_score : score < best_score))
			{
				best_round = round;
				best_score = score;
			}
			else if (round - best_round >= o->early_stopping)
				break;
		}
	}
	if (o->early_stopping > 0)
	{
		XGB_CHECK(XGBoosterSlice(handle, 0, best_round + 1, 1, &h->best), "keep the best rounds");
		handle = h->best;
	}
	XGB_CHECK(XGBoosterSaveModelToBuffer(handle, "{\"format\": \"ubj\"}", &out_len, &out),
			  "save the booster");
	if (out_len > MLSYS_MAX_BOOSTER_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the trained booster takes %lu bytes, more than %d",
						(unsigned long) out_len, MLSYS_MAX_BOOSTER_BYTES),
				 errhint("Use fewer or shallower trees.")));
	bytes = palloc(out_len);
	memcpy(bytes, out, out_len);
	*len = (uint32) out_len;
	FreeFitHandles(h);
	return bytes;
}

/* Inputs of the model: one numeric input per feature, with statistics. */
static void
DescribeInputs(XGBoostFitState *s, FitOptions *o, Model *model)
{
	int			k = s->n_features;

	model->n_inputs = k;
	model->inputs = palloc0(sizeof(ModelInput) * k);
	for (int j = 0; j < k; j++)
	{
		ModelInput *in = &model->inputs[j];
		InputStats *st = &in->stats;
		double		sum = 0,
					sum2 = 0;
		int64		n = 0;

		in->name = o->features ? o->features[j] : psprintf("x%d", j + 1);
		in->type = INPUT_NUMERIC;
		in->impute = IMPUTE_MISSING;
		in->scale = SCALE_NONE;
		in->fill_level = -1;
		in->scale_by = 1;
		st->min = INFINITY;
		st->max = -INFINITY;
		for (int64 i = 0; i < s->train.n; i++)
		{
			double		x = s->train.x[i * k + j];

			if (isnan(x))
				continue;
			n++;
			sum += x;
			sum2 += x * x;
			st->min = Min(st->min, x);
			st->max = Max(st->max, x);
		}
		st->n_null = s->train.n - n;
		st->mean = n > 0 ? sum / n : 0;
		st->stddev = n > 1 ? sqrt(Max(sum2 - n * st->mean * st->mean, 0) / (n - 1)) : 0;
		if (n == 0)
			st->min = st->max = 0;
	}
}

/* Final: train, and return the model (NULL when no row had a target). */
Datum
xgboost_fit_final(PG_FUNCTION_ARGS)
{
	XGBoostFitState *s = PG_ARGISNULL(0) ? NULL : (XGBoostFitState *) PG_GETARG_POINTER(0);
	FitOptions	o;
	Model	   *model;

	if (s == NULL || s->train.n == 0)
		PG_RETURN_NULL();
	ParseFitOptions(s->params, s->n_features, &o);
	if (o.early_stopping > 0 && s->holdout.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"early_stopping_rounds\" needs holdout rows, and there are none"),
				 errhint("Flag holdout rows with the aggregate's fourth argument, or let ml_train hold out test_fraction of the rows.")));
	CheckLabels(&o, &s->train);

	model = palloc0(sizeof(Model));
	model->kind = MODEL_KIND_XGBOOST;
	model->target = o.target;
	model->n_rows = s->train.n;
	DescribeInputs(s, &o, model);
	ModelDeriveDesign(model);
	model->n_classes = strncmp(o.objective, "binary:", 7) == 0 ||
		strncmp(o.objective, "multi:", 6) == 0 ? o.n_classes : 0;
	model->classes = o.classes;
	model->booster = Boost(s, &o, &model->booster_len);
	PG_RETURN_POINTER(ModelSerialize(model));
}
