/*
 * train.c -- ml_train: source -> split -> statistics -> preprocessing ->
 * fit -> holdout metrics -> registry.
 *
 * The source (a table, view or query) is never pulled into memory: every
 * step is an aggregate pass over it, run as SQL through SPI with the
 * caller's privileges (so the caller never trains on rows it could not
 * SELECT, and the planner may use parallel workers), all under the
 * statement's snapshot, so every pass sees the same rows.
 *
 *   1. statistics of each input on the training rows (one pass, plus one
 *      GROUP BY per categorical input): NULL counts, mean, standard
 *      deviation, extremes, median or mode where imputation needs them,
 *      the levels of categories, the classes of a classifier;
 *   2. preprocessing learned from them (imputation, scaling, levels) and
 *      stored in the model's inputs; training rows then reach the fitting
 *      aggregate through ml_transform(), the very code ml_predict uses;
 *   3. the fit: one ml_linreg_fit pass, or one ml_logreg_pass per Newton
 *      iteration;
 *   4. metrics on the holdout rows through ml_predict.
 *
 * Split: a row is in the holdout set when a seeded hash of its target and
 * feature values (each type's own binary hash, so session settings such
 * as extra_float_digits cannot change it) falls below test_fraction. It
 * depends only on those values and the seed, not on scan order.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include <lapacke.h>

#include "access/tupdesc.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "booster.h"
#include "jsonopt.h"
#include "mlsys.h"
#include "model.h"
#include "preprocess.h"
#include "registry.h"
#include "train.h"
#include "train_kmeans.h"
#include "train_logistic.h"
#include "train_naive_bayes.h"

/* Alias of the source in generated SQL; unlikely to be a column name. */
#define SOURCE_ALIAS "_mlsys_src"

static const char *const algorithm_names[] = {
	"linear", "ridge", "lasso", "elastic_net", "logistic", "naive_bayes", "kmeans", "xgboost",
	"random_forest"
};

PG_FUNCTION_INFO_V1(ml_train);
PG_FUNCTION_INFO_V1(ml_evaluate);

const JsonContext train_ctx = {
	ERRCODE_INVALID_PARAMETER_VALUE, "ml_train parameters"
};

/* ---------------------------------------------------------------- source */

static bool
StartsWithKeyword(const char *s, const char *kw)
{
	size_t		len = strlen(kw);

	return pg_strncasecmp(s, kw, len) == 0 &&
		(s[len] == '\0' || isspace((unsigned char) s[len]) || s[len] == '(');
}

/*
 * SQL for the FROM clause: a query in parentheses, or the quoted name of
 * an existing table or view.
 */
static char *
SourceFromClause(const char *source)
{
	const char *s = source;
	char	   *query;
	size_t		len;
	List	   *names;
	Oid			relid;

	while (isspace((unsigned char) *s))
		s++;
	if (*s == '(' || StartsWithKeyword(s, "select") || StartsWithKeyword(s, "with") ||
		StartsWithKeyword(s, "values") || StartsWithKeyword(s, "table"))
	{
		query = pstrdup(s);
		len = strlen(query);
		while (len > 0 && (isspace((unsigned char) query[len - 1]) || query[len - 1] == ';'))
			query[--len] = '\0';
		/* the newline ends a trailing -- comment */
		return psprintf("(%s\n) AS " SOURCE_ALIAS, query);
	}

	if (!SplitIdentifierString(pstrdup(s), '.', &names) || list_length(names) > 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" is neither a table name nor a query", source),
				 errhint("Pass a table or view name, or a query starting with SELECT, WITH, VALUES or TABLE.")));
	names = textToQualifiedNameList(cstring_to_text(s));
	relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, false);
	return psprintf("%s AS " SOURCE_ALIAS,
					quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   get_rel_name(relid)));
}

static char *
Column(const char *name)
{
	return psprintf(SOURCE_ALIAS ".%s", quote_identifier(name));
}

static int
FindColumn(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	return -1;
}

/* Types read as categories: their ::text form is the level. */
static bool
IsCategoricalType(Oid type)
{
	return type == BOOLOID || type == TEXTOID || type == VARCHAROID || type == BPCHAROID ||
		type_is_enum(type);
}

/* ---------------------------------------------------------------- params */

/*
 * The params value of key for one input: a string applies to every input,
 * an object maps column names to values. False when nothing is set.
 */
static bool
SettingFor(Jsonb *params, const char *key, const char *column, bool *global, JsonbValue *out)
{
	JsonbValue	v;
	JsonbValue *hit;

	if (!getKeyJsonValueFromContainer(&params->root, key, strlen(key), &v))
		return false;
	*global = !(v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data));
	if (*global)
	{
		*out = v;
		return true;
	}
	hit = getKeyJsonValueFromContainer(v.val.binary.data, column, strlen(column), NULL);
	if (hit == NULL)
		return false;
	*out = *hit;
	return true;
}

static bool
JsonStringIs(const JsonbValue *v, const char *s)
{
	return v->type == jbvString && strlen(s) == (size_t) v->val.string.len &&
		memcmp(s, v->val.string.val, v->val.string.len) == 0;
}

static pg_noreturn void
BadSetting(const char *key, const char *column, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid \"%s\" for input \"%s\"", key, column),
			 errhint("%s", hint)));
}

/*
 * Imputation and scaling chosen for one input. A global "mean" or "median"
 * means "mode" for a categorical input, and a global scaling leaves
 * categorical inputs alone. A categorical constant is returned in
 * *constant_level, to be found among the levels later.
 */
static void
ChoosePreprocessing(TrainJob *job, ModelInput *in, char **constant_level)
{
	static const char *const impute_hint =
	"Use \"error\", \"mean\", \"median\", \"mode\", or {\"constant\": value} per column (a number for numeric inputs, a level for categorical ones); tree models also take \"missing\".";
	bool		categorical = in->type == INPUT_CATEGORICAL;
	bool		tree = AlgorithmIsTree(job->algorithm);
	bool		global;
	JsonbValue	v;
	JsonbValue *c;

	/* trees route missing values themselves */
	in->impute = tree ? IMPUTE_MISSING : IMPUTE_ERROR;
	in->scale = SCALE_NONE;
	*constant_level = NULL;

	if (SettingFor(job->params, "impute", in->name, &global, &v))
	{
		if (categorical && global && (JsonStringIs(&v, "mean") || JsonStringIs(&v, "median")))
			in->impute = IMPUTE_MODE;
		else if (JsonStringIs(&v, "error"))
			in->impute = IMPUTE_ERROR;
		else if (tree && JsonStringIs(&v, "missing"))
			in->impute = IMPUTE_MISSING;
		else if (JsonStringIs(&v, "mode"))
			in->impute = IMPUTE_MODE;
		else if (!categorical && JsonStringIs(&v, "mean"))
			in->impute = IMPUTE_MEAN;
		else if (!categorical && JsonStringIs(&v, "median"))
			in->impute = IMPUTE_MEDIAN;
		else if (!global && v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data) &&
				 JsonContainerSize(v.val.binary.data) == 1 &&
				 (c = getKeyJsonValueFromContainer(v.val.binary.data, "constant", 8, NULL)) != NULL &&
				 c->type == (categorical ? jbvString : jbvNumeric))
		{
			in->impute = IMPUTE_CONSTANT;
			if (categorical)
				*constant_level = pnstrdup(c->val.string.val, c->val.string.len);
			else
				in->fill = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
															  NumericGetDatum(c->val.numeric)));
		}
		else
			BadSetting("impute", in->name, impute_hint);
	}

	if (SettingFor(job->params, "scale", in->name, &global, &v) && !(categorical && global))
	{
		if (JsonStringIs(&v, "none"))
			in->scale = SCALE_NONE;
		else if (!categorical && JsonStringIs(&v, "standard"))
			in->scale = SCALE_STANDARD;
		else if (!categorical && JsonStringIs(&v, "minmax"))
			in->scale = SCALE_MINMAX;
		else
			BadSetting("scale", in->name, categorical
					   ? "Categorical inputs are not scaled."
					   : "Use \"none\", \"standard\" or \"minmax\".");
	}
}

/* Every column named in an object-valued "impute" or "scale" must be an input. */
static void
CheckSettingColumns(TrainJob *job, const char *key)
{
	JsonbValue	v;
	JsonbIterator *it;
	JsonbValue	k;
	JsonbIteratorToken tok;

	if (!getKeyJsonValueFromContainer(&job->params->root, key, strlen(key), &v))
		return;
	if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
	{
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" must be a string or an object of column names", key),
					 errhint("Use a strategy for every column, or an object like '{\"x\": \"mean\"}'.")));
		return;
	}
	it = JsonbIteratorInit(v.val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *column;
		bool		found = false;

		if (tok != WJB_KEY)
			continue;
		column = pnstrdup(k.val.string.val, k.val.string.len);
		for (int i = 0; i < job->model->n_inputs; i++)
			found |= strcmp(job->model->inputs[i].name, column) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" names column \"%s\", which is not a feature", key, column),
					 errhint("Name only columns among the features.")));
	}
}

/* Tree models: the tunable parameters (tune.c), and XGBoost's passed on as given. */
#define TREE_HYPER_KEYS "max_depth", "learning_rate", "n_estimators", "min_child_weight", "subsample", \
	"colsample_bytree", "reg_lambda", "reg_alpha", "gamma"
#define TREE_PASS_KEYS "objective", "eval_metric", "base_score", "max_delta_step", "sampling_method", \
	"colsample_bylevel", "colsample_bynode", "tree_method", "scale_pos_weight", "grow_policy", \
	"max_leaves", "max_bin", "huber_slope", "tweedie_variance_power"
static const char *const tree_pass_keys[] = {
	TREE_PASS_KEYS, "early_stopping_rounds", "num_parallel_tree", NULL
};

/* Read and check params: the keys allowed depend on the algorithm. */
static void
ParseParams(TrainJob *job)
{
#define SPLIT_KEYS "seed", "impute", "scale", "time_column", "search", "n_iter", "cv", "metric", "deploy"
#define COMMON_KEYS "intercept", SPLIT_KEYS
	static const char *const keys[][40] = {
		[ALGORITHM_LINEAR] = {"l1", "l2", COMMON_KEYS, NULL},
		[ALGORITHM_RIDGE] = {"alpha", COMMON_KEYS, NULL},
		[ALGORITHM_LASSO] = {"alpha", COMMON_KEYS, NULL},
		[ALGORITHM_ELASTIC_NET] = {"alpha", "l1_ratio", COMMON_KEYS, NULL},
		[ALGORITHM_LOGISTIC] = {"l2", "max_iter", "tol", COMMON_KEYS, NULL},
		[ALGORITHM_NAIVE_BAYES] = {"var_smoothing", "seed", "impute", "scale", "time_column", "search",
		"n_iter", "cv", "metric", "deploy", NULL},
		[ALGORITHM_KMEANS] = {"k", "init", "max_iter", "tol", "seed", "impute", "scale", "deploy", NULL},
		[ALGORITHM_XGBOOST] = {SPLIT_KEYS, TREE_HYPER_KEYS, TREE_PASS_KEYS, "early_stopping_rounds",
		"num_parallel_tree", NULL},
		[ALGORITHM_RANDOM_FOREST] = {SPLIT_KEYS, TREE_HYPER_KEYS, TREE_PASS_KEYS, NULL},
	};
	double		num;
	char	   *str;

	JsonCheckKeys(&train_ctx, job->params, keys[job->algorithm]);
	job->seed = 0;
	if (JsonGetNumber(&train_ctx, job->params, "seed", &num))
	{
		if (!(num == floor(num) && fabs(num) <= (double) PG_INT32_MAX))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"seed\" must be an integer, got %g", num),
					 errhint("Use a whole number such as 42.")));
		job->seed = (int) num;
	}
	JsonGetString(&train_ctx, job->params, "time_column", &job->time_column);
	TuneParseSearch(job);
	if (job->algorithm == ALGORITHM_RANDOM_FOREST)
	{
		/* a forest: n_estimators trees in one round, each on a sample */
		if (!JsonHasKey(job->params, "learning_rate"))
			job->learning_rate = 1;
		if (!JsonHasKey(job->params, "subsample"))
			job->subsample = 0.8;
	}
	if (JsonGetString(&train_ctx, job->params, "deploy", &str))
	{
		if (strcmp(str, "if_better") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown \"deploy\" policy \"%s\"", str),
					 errhint("Use \"if_better\", or leave \"deploy\" out and call ml_deploy().")));
		job->deploy_if_better = true;
	}
	if (job->algorithm == ALGORITHM_KMEANS)
	{
		if (!JsonGetNumber(&train_ctx, job->params, "k", &num))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k-means needs the number of clusters"),
					 errhint("Pass params like '{\"k\": 5}'.")));
		if (!(num >= 1 && num <= MLSYS_MAX_CLASSES && num == floor(num)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"k\" must be a whole number between 1 and %d, got %g",
							MLSYS_MAX_CLASSES, num),
					 errhint("Pass the number of clusters, such as '{\"k\": 5}'.")));
		job->k = (int) num;
		if (JsonHasKey(job->params, "init"))
		{
			JsonbValue	v;

			(void) getKeyJsonValueFromContainer(&job->params->root, "init", 4, &v);
			if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data) &&
				JsonContainerSize(v.val.binary.data) == (uint32) job->k)
				job->init = job->params;
			else if (!(v.type == jbvString && v.val.string.len == 9 &&
					   memcmp(v.val.string.val, "k-means++", 9) == 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("\"init\" must be \"k-means++\" or an array of k centres"),
						 errhint("Give k centres of as many values as design columns, or leave \"init\" out.")));
		}
	}
	job->fit_intercept = !AlgorithmIsTree(job->algorithm);
	JsonGetBool(&train_ctx, job->params, "intercept", &job->fit_intercept);
	job->max_iter = job->algorithm == ALGORITHM_KMEANS ? 300 : 100;
	if (JsonGetNumber(&train_ctx, job->params, "max_iter", &num))
	{
		if (!(num >= 1 && num <= 10000 && num == floor(num)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"max_iter\" must be an integer between 1 and 10000, got %g", num),
					 errhint("Use a whole number such as 100.")));
		job->max_iter = (int) num;
	}
	job->tol = job->algorithm == ALGORITHM_KMEANS ? 1e-4 : 1e-10;
	if (JsonGetNumber(&train_ctx, job->params, "tol", &job->tol) &&
		!(job->tol > 0 && job->tol < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"tol\" must be between 0 and 1, got %g", job->tol),
				 errhint("Use a small positive number such as 1e-8.")));
}

/* ---------------------------------------------------------------- columns */

/*
 * Check target and features against the source's columns and create the
 * model's inputs (names, types, chosen preprocessing). With features NULL
 * every other column is a feature.
 */
static void
ResolveColumns(TrainJob *job, TupleDesc desc, ArrayType *features, char **constant_levels)
{
	int			target_col = job->target ? FindColumn(desc, job->target) : -1;
	Oid			target_type;
	int			n = 0;
	char	  **names;
	Model	   *model = job->model;

	if (job->algorithm == ALGORITHM_KMEANS)
	{
		if (job->target != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k-means has no target"),
					 errhint("Pass NULL as the target.")));
	}
	else if (job->target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the target must not be NULL"),
				 errhint("Only k-means trains without a target.")));
	else if (target_col < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target column \"%s\" does not exist in the source", job->target),
				 errhint("Column names are matched exactly, including case.")));
	target_type = target_col >= 0 ? TupleDescAttr(desc, target_col)->atttypid : FLOAT8OID;
	job->classify = AlgorithmIsClassifier(job->algorithm);
	if (AlgorithmIsTree(job->algorithm))
	{
		/* trees classify a text or boolean target, or any with a classifying objective */
		char	   *objective = NULL;

		JsonGetString(&train_ctx, job->params, "objective", &objective);
		job->classify = objective ? strncmp(objective, "binary:", 7) == 0 ||
			strncmp(objective, "multi:", 6) == 0
			: !ColumnTypeIsNumeric(target_type);
	}
	if (!job->classify && !ColumnTypeIsNumeric(target_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("target column \"%s\" has type %s, but regression needs a number",
						job->target, format_type_be(target_type)),
				 errhint(AlgorithmIsTree(job->algorithm)
						 ? "Leave \"objective\" out, or use binary:logistic or multi:softprob, to predict classes."
						 : "Use algorithm 'logistic' to predict classes.")));
	if (job->classify &&
		!(IsCategoricalType(target_type) || target_type == INT2OID ||
		  target_type == INT4OID || target_type == INT8OID))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("target column \"%s\" has type %s, but classes must be integers, booleans or text",
						job->target, format_type_be(target_type)),
				 errhint("Use algorithm 'linear' for a numeric target, or cast the target.")));

	if (features == NULL)
	{
		names = palloc(sizeof(char *) * desc->natts);
		for (int i = 0; i < desc->natts; i++)
			if (!TupleDescAttr(desc, i)->attisdropped && i != target_col)
				names[n++] = pstrdup(NameStr(TupleDescAttr(desc, i)->attname));
	}
	else
	{
		Datum	   *elems;
		bool	   *nulls;

		deconstruct_array(features, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		names = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("feature names must not be NULL"),
						 errhint("Remove the NULL from the features array.")));
			names[i] = TextDatumGetCString(elems[i]);
		}
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no features to train on"),
				 errhint(features ? "List at least one feature column." :
						 "The source needs at least one column besides the target.")));
	if (n > MLSYS_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many features: %d", n),
				 errdetail("A model can have at most %d features.", MLSYS_MAX_FEATURES),
				 errhint("Select fewer features.")));

	model->n_inputs = n;
	model->inputs = palloc0(sizeof(ModelInput) * n);
	for (int i = 0; i < n; i++)
	{
		ModelInput *in = &model->inputs[i];
		int			col = FindColumn(desc, names[i]);
		Oid			type;

		if (col < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("feature column \"%s\" does not exist in the source", names[i]),
					 errhint("Column names are matched exactly, including case.")));
		if (col == target_col && col >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" cannot be both the target and a feature", job->target),
					 errhint("Remove the target from the features.")));
		for (int j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" is listed twice", names[i]),
						 errhint("List each feature once.")));
		type = TupleDescAttr(desc, col)->atttypid;
		if (!ColumnTypeIsNumeric(type) && !IsCategoricalType(type))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("feature column \"%s\" has type %s, which is neither a number nor a category",
							names[i], format_type_be(type)),
					 errhint("Cast it to a number or to text in the source query, or leave it out of the features.")));
		in->name = names[i];
		in->type = ColumnTypeIsNumeric(type) ? INPUT_NUMERIC : INPUT_CATEGORICAL;
		in->fill_level = -1;
		in->scale_by = 1;
		ChoosePreprocessing(job, in, &constant_levels[i]);
	}
	CheckSettingColumns(job, "impute");
	CheckSettingColumns(job, "scale");
}

/* ---------------------------------------------------------------- SPI passes */

/* Run a read-only query under the statement's snapshot; returns its row count. */
static uint64
RunQuery(const char *sql, int nargs, Oid *types, Datum *values)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, true, 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "training query failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

static Datum
Value(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

static double
Float8Value(int row, int col, double if_null)
{
	bool		isnull;
	Datum		d = Value(row, col, &isnull);

	return isnull ? if_null : DatumGetFloat8(d);
}

/* Show the training step in pg_stat_activity, and as NOTICE every 10 s. */
void
TrainProgress(TrainJob *job, const char *fmt,...)
{
	static instr_time last_notice;
	char		msg[256];
	va_list		args;
	instr_time	now;

	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	pgstat_report_activity(STATE_RUNNING, psprintf("ml_train('%s'): %s", job->model_name, msg));
	INSTR_TIME_SET_CURRENT(now);
	if (INSTR_TIME_IS_ZERO(last_notice))
		last_notice = now;
	INSTR_TIME_SUBTRACT(now, last_notice);
	if (INSTR_TIME_GET_DOUBLE(now) >= 10.0)
	{
		ereport(NOTICE, (errmsg("ml_train \"%s\": %s", job->model_name, msg)));
		INSTR_TIME_SET_CURRENT(last_notice);
	}
	CHECK_FOR_INTERRUPTS();
}

static int
CompareStrings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Levels of a categorical input on the training rows, in byte order. */
static void
LearnLevels(TrainJob *job, ModelInput *in, const char *constant_level)
{
	char	   *col = Column(in->name);
	uint64		n = RunQuery(psprintf("SELECT %s::pg_catalog.text, pg_catalog.count(*) FROM %s"
								   " WHERE %s AND %s IS NOT NULL GROUP BY 1",
								   col, job->from, job->fit_rows, col), 0, NULL, NULL);
	char	  **pairs;
	int64		total = 0;

	if (n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("input \"%s\" has %s in the training rows", in->name,
						n == 0 ? "no values" : "a single level"),
				 errhint("Leave the column out of the features.")));
	if (n > MLSYS_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("input \"%s\" has more than %d levels", in->name, MLSYS_MAX_CLASSES),
				 errhint("Group rare levels in the source query, or leave the column out.")));

	/* sort "level\0count" pairs by level */
	pairs = palloc(sizeof(char *) * n);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *level = TextDatumGetCString(Value(i, 1, &isnull));
		int64		count = DatumGetInt64(Value(i, 2, &isnull));

		if (strlen(level) > 1000)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("input \"%s\" has a level longer than 1000 bytes", in->name),
					 errhint("Shorten the values, or leave the column out of the features.")));
		pairs[i] = psprintf("%s%c" INT64_FORMAT, level, '\0', count);
	}
	qsort(pairs, n, sizeof(char *), CompareStrings);

	in->n_levels = n;
	in->levels = palloc(sizeof(char *) * n);
	in->stats.category_counts = palloc(sizeof(int64) * n);
	for (uint64 i = 0; i < n; i++)
	{
		in->levels[i] = pairs[i];
		in->stats.category_counts[i] = pg_strtoint64(pairs[i] + strlen(pairs[i]) + 1);
		total += in->stats.category_counts[i];
	}
	in->stats.n_null = job->model->n_rows - total;

	if (in->impute == IMPUTE_MODE)
	{
		in->fill_level = 0;
		for (int l = 1; l < in->n_levels; l++)
			if (in->stats.category_counts[l] > in->stats.category_counts[in->fill_level])
				in->fill_level = l;
	}
	else if (in->impute == IMPUTE_CONSTANT)
	{
		char	  **hit = bsearch(&constant_level, in->levels, n, sizeof(char *), CompareStrings);

		if (hit == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("constant \"%s\" for input \"%s\" is not a level of the training rows",
							constant_level, in->name),
					 errhint("Use a value that occurs in the column, or impute \"mode\".")));
		in->fill_level = hit - in->levels;
	}
}

/* A numeric input as float8 for the statistics; trees read NaN as missing. */
static char *
NumericInputSql(const ModelInput *in)
{
	return psprintf(in->impute == IMPUTE_MISSING ? "NULLIF(%s::pg_catalog.float8, 'NaN')"
					: "%s::pg_catalog.float8", Column(in->name));
}

/*
 * Statistics of the numeric inputs in one pass over the training rows,
 * then fill values and scaling. Scaling is learned on the imputed values
 * (as a scikit-learn imputer + scaler pipeline does), computed exactly
 * from the statistics of the non-NULL values and the fill value.
 */
static void
LearnNumericInputs(TrainJob *job)
{
	Model	   *model = job->model;
	StringInfoData stats_args,
				fills;
	int			n_numeric = 0,
				fill_col = 2;
	Datum		stats_array;
	Datum	   *stats;
	bool	   *stats_null;
	int			n_stats;
	bool		isnull;

	/* one ml.column_stats over the numeric inputs, and what their fills need */
	initStringInfo(&stats_args);
	initStringInfo(&fills);
	for (int i = 0; i < model->n_inputs; i++)
	{
		ModelInput *in = &model->inputs[i];
		char	   *x;

		if (in->type != INPUT_NUMERIC)
			continue;
		x = NumericInputSql(in);
		appendStringInfo(&stats_args, "%s%s", n_numeric++ > 0 ? ", " : "", x);
		if (in->impute == IMPUTE_MEDIAN)
			appendStringInfo(&fills, ", pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY %s)", x);
		else if (in->impute == IMPUTE_MODE)
			appendStringInfo(&fills, ", pg_catalog.mode() WITHIN GROUP (ORDER BY %s)", x);
	}
	RunQuery(psprintf("SELECT %s%s FROM %s WHERE %s",
					  n_numeric > 0 ? psprintf("ml.column_stats(%s)", stats_args.data)
					  : "ARRAY[pg_catalog.count(*)::pg_catalog.float8]",
					  fills.data, job->from, job->fit_rows),
			 0, NULL, NULL);
	stats_array = Value(0, 1, &isnull);
	if (!isnull)				/* (NULL: no rows at all) */
		deconstruct_array(DatumGetArrayTypeP(stats_array), FLOAT8OID, sizeof(double),
						  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &stats, &stats_null, &n_stats);
	model->n_rows = isnull ? 0 : (int64) DatumGetFloat8(stats[0]);
	if (model->n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no training rows: the source has no rows with a non-NULL target outside the holdout split"),
				 errhint("Check the source query, or lower test_fraction.")));

	for (int i = 0, j = 0; i < model->n_inputs; i++)
	{
		ModelInput *in = &model->inputs[i];
		InputStats *st = &in->stats;
		double		n = model->n_rows;
		double		nn,
					m,
					var,
					lo,
					hi;
		int			at = 1 + 5 * j;

		if (in->type != INPUT_NUMERIC)
			continue;
		j++;
		nn = DatumGetFloat8(stats[at]);
		if (nn == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("input \"%s\" is NULL in every training row", in->name),
					 errhint("Leave the column out of the features.")));
		st->n_null = (int64) (n - nn);
		st->mean = DatumGetFloat8(stats[at + 1]);
		st->stddev = stats_null[at + 2] ? 0 : DatumGetFloat8(stats[at + 2]);
		st->min = DatumGetFloat8(stats[at + 3]);
		st->max = DatumGetFloat8(stats[at + 4]);
		/* (NaN sorts above every number, so max shows it) */
		if (!isfinite(st->min) || !isfinite(st->max))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("input \"%s\" has NaN or infinite values in the training rows", in->name),
					 errhint(in->impute == IMPUTE_MISSING
							 ? "Replace infinite values with NULL or a finite value, or filter those rows."
							 : "Filter out those rows, or replace the values with NULL and impute them.")));
		if (in->impute == IMPUTE_MEAN)
			in->fill = st->mean;
		else if (in->impute == IMPUTE_MEDIAN || in->impute == IMPUTE_MODE)
			in->fill = Float8Value(0, fill_col++, 0);

		/* mean and population variance after imputation */
		m = st->mean;
		var = nn > 1 ? st->stddev * st->stddev * (nn - 1) / nn : 0;
		lo = st->min;
		hi = st->max;
		if (st->n_null > 0 && in->impute != IMPUTE_ERROR)
		{
			double		m2 = (nn * m + (n - nn) * in->fill) / n;

			var = (nn * var + nn * (m - m2) * (m - m2) + (n - nn) * (in->fill - m2) * (in->fill - m2)) / n;
			m = m2;
			lo = Min(lo, in->fill);
			hi = Max(hi, in->fill);
		}
		if (in->scale == SCALE_STANDARD)
		{
			in->center = m;
			in->scale_by = var > 0 ? sqrt(var) : 1.0;
		}
		else if (in->scale == SCALE_MINMAX)
		{
			in->center = lo;
			in->scale_by = hi > lo ? hi - lo : 1.0;
		}
	}
}

/* Fine cells per numeric input from which the quantile bins are merged. */
#define HISTOGRAM_CELLS 1024
#define HISTOGRAM_BINS 10

/*
 * The training distribution of each numeric input, the baseline of drift
 * checks: HISTOGRAM_BINS bins of about equal counts. One pass counts the
 * values in HISTOGRAM_CELLS equal-width cells between min and max; bins
 * are then merged from whole cells where the cumulative count reaches each
 * k/HISTOGRAM_BINS of the values, so the edges are quantiles to within a
 * cell and the counts are exact. A constant input gets no histogram.
 */
static void
LearnHistograms(TrainJob *job)
{
	Model	   *model = job->model;
	StringInfoData values;
	int			n_edges = 0,
				n_cols = 0;
	Datum	   *edges = palloc(sizeof(Datum) * model->n_inputs * (HISTOGRAM_CELLS + 1));
	Datum	   *bins = palloc(sizeof(Datum) * model->n_inputs);
	Oid			types[2] = {FLOAT8ARRAYOID, INT4ARRAYOID};
	Datum		args[2];
	ArrayType  *counts;
	const int64 *cell;
	bool		isnull;

	initStringInfo(&values);
	for (int i = 0; i < model->n_inputs; i++)
	{
		InputStats *st = &model->inputs[i].stats;
		bool		varies = st->max > st->min;

		if (model->inputs[i].type != INPUT_NUMERIC)
			continue;
		appendStringInfo(&values, "%s%s", n_cols > 0 ? ", " : "", NumericInputSql(&model->inputs[i]));
		bins[n_cols++] = Int32GetDatum(varies ? HISTOGRAM_CELLS : 0);
		for (int c = 0; varies && c <= HISTOGRAM_CELLS; c++)
			edges[n_edges++] = Float8GetDatum(c == HISTOGRAM_CELLS ? st->max
											  : st->min + (st->max - st->min) * c / HISTOGRAM_CELLS);
	}
	if (n_edges == 0)
		return;
	args[0] = PointerGetDatum(construct_array(edges, n_edges, FLOAT8OID, sizeof(double),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(bins, n_cols, INT4OID, sizeof(int32), true,
											  TYPALIGN_INT));
	RunQuery(psprintf("SELECT ml.bin_counts($1, $2, %s) FROM %s WHERE %s",
					  values.data, job->from, job->fit_rows),
			 2, types, args);
	counts = DatumGetArrayTypeP(Value(0, 1, &isnull));
	cell = (const int64 *) ARR_DATA_PTR(counts);

	for (int i = 0; i < model->n_inputs; i++)
	{
		InputStats *st = &model->inputs[i].stats;
		int64		total = model->n_rows - st->n_null;
		int64		cum = 0,
					bin_count = 0;
		int			next = 1;

		if (model->inputs[i].type != INPUT_NUMERIC || !(st->max > st->min))
			continue;
		st->bin_edges = palloc(sizeof(double) * (HISTOGRAM_BINS + 1));
		st->bin_counts = palloc(sizeof(int64) * HISTOGRAM_BINS);
		st->bin_edges[0] = st->min;
		st->n_bins = 0;
		for (int c = 0; c < HISTOGRAM_CELLS; c++)
		{
			cum += cell[c];
			bin_count += cell[c];
			/* close a bin at the first cell boundary past the next quantile */
			if (c == HISTOGRAM_CELLS - 1 ||
				(bin_count > 0 && cum * HISTOGRAM_BINS >= next * total))
			{
				if (bin_count == 0 && st->n_bins > 0)
				{
					/* empty cells up to max: the last bin reaches max */
					st->bin_edges[st->n_bins] = st->max;
					break;
				}
				st->bin_counts[st->n_bins] = bin_count;
				st->bin_edges[++st->n_bins] = c == HISTOGRAM_CELLS - 1 ? st->max
					: st->min + (st->max - st->min) * (c + 1) / HISTOGRAM_CELLS;
				bin_count = 0;
				while (next <= HISTOGRAM_BINS && cum * HISTOGRAM_BINS >= next * total)
					next++;
			}
		}
		cell += HISTOGRAM_CELLS;
	}
}

/* The classes of a classifier: the distinct targets, in the type's order. */
static void
LearnClasses(TrainJob *job)
{
	Model	   *model = job->model;
	uint64		n = RunQuery(psprintf("SELECT %s::pg_catalog.text FROM %s WHERE %s GROUP BY %s ORDER BY %s",
								   job->target_sql, job->from, job->fit_rows,
								   job->target_sql, job->target_sql), 0, NULL, NULL);

	if (n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the training rows have %s", n == 0 ? "no classes" : "a single class"),
				 errhint("A classifier needs rows of at least two classes.")));
	if (n > MLSYS_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the target has more than %d classes", MLSYS_MAX_CLASSES),
				 errhint("Use a regression algorithm, or group the classes.")));
	model->n_classes = n;
	model->classes = palloc(sizeof(char *) * n);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		model->classes[i] = TextDatumGetCString(Value(i, 1, &isnull));
		if (strlen(model->classes[i]) > 1000)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a class label is longer than 1000 bytes"),
					 errhint("Shorten the labels, or map them to codes.")));
	}
}

/* ---------------------------------------------------------------- fitting */

/* The model as a value. */
static Datum
ModelDatum(Model *model)
{
	return PointerGetDatum(ModelSerialize(model));
}

/*
 * The inputs and their learned preprocessing alone, as a value for
 * ml_transform() during fitting: a linear model with zero parameters, so
 * that no kind-specific parameter has to be valid yet.
 */
static Datum
InputsDatum(Model *model)
{
	Model		spec = *model;

	spec.kind = MODEL_KIND_LINEAR_REGRESSION;
	spec.n_classes = 0;
	spec.n_sets = 1;
	spec.coef = palloc0(sizeof(double) * (1 + model->n_design));
	spec.l1 = spec.l2 = 0;
	spec.n_std_errors = 0;
	spec.booster_len = 0;
	spec.booster = NULL;
	spec.n_outputs = 0;
	return ModelDatum(&spec);
}

/* Names of the design columns, for messages of the fitting aggregate. */
static char *
DesignNamesJson(const Model *model)
{
	StringInfoData buf;
	int			j = 0;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < model->n_inputs; i++)
	{
		const ModelInput *in = &model->inputs[i];

		for (int l = in->type == INPUT_NUMERIC ? 0 : 1; l < Max(in->n_levels, 1); l++, j++)
		{
			char	   *name = in->type == INPUT_NUMERIC ? pstrdup(in->name)
			: psprintf("%s=%s", in->name, in->levels[l]);

			/* names must be short and unique: shorten long ones, numbered */
			if (strlen(name) > MLSYS_MAX_NAME_LEN)
				name = psprintf("%.*s#%d", MLSYS_MAX_NAME_LEN - 8, name, j + 1);
			if (j > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, name);
		}
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * SQL for a row's design vector during fitting, where $1 is the inputs'
 * value (InputsDatum). With only numeric inputs and no imputation or
 * scaling the design is the columns themselves; with only numeric inputs
 * ml_transform reads a float8[] of them (cheaper than forming and deforming
 * each row); else it reads the whole row. All take the preprocessing path
 * of ml_predict or are equal to it.
 */
static char *
DesignSql(TrainJob *job)
{
	StringInfoData buf;
	bool		identity = true;

	for (int i = 0; i < job->model->n_inputs; i++)
	{
		ModelInput *in = &job->model->inputs[i];

		if (in->type != INPUT_NUMERIC)
			return psprintf("%s($1, " SOURCE_ALIAS ")", MlsysQualify("ml_transform"));
		/* (NULLs reach the tree aggregate as the missing values they stand for) */
		identity &= (in->impute == IMPUTE_ERROR || in->impute == IMPUTE_MISSING) &&
			in->scale == SCALE_NONE;
	}
	initStringInfo(&buf);
	appendStringInfoString(&buf, "ARRAY[");
	for (int i = 0; i < job->model->n_inputs; i++)
		appendStringInfo(&buf, "%s%s::pg_catalog.float8", i > 0 ? ", " : "",
						 Column(job->model->inputs[i].name));
	appendStringInfoChar(&buf, ']');
	return identity ? buf.data : psprintf("%s($1, %s)", MlsysQualify("ml_transform"), buf.data);
}

/* Linear regression: one pass of ml_linreg_fit over the design rows. */
static void
FitLinear(TrainJob *job)
{
	Model	   *model = job->model;
	Oid			types[2] = {MlsysModelTypeOid(), JSONBOID};
	Datum		args[2];
	StringInfoData params;
	Model	   *fitted;
	bool		isnull;

	/* scikit-learn's alpha scales a loss divided by the number of rows */
	switch (job->algorithm)
	{
		case ALGORITHM_RIDGE:
			job->l2 = job->alpha;
			break;
		case ALGORITHM_LASSO:
			job->l1 = model->n_rows * job->alpha;
			break;
		case ALGORITHM_ELASTIC_NET:
			job->l1 = model->n_rows * job->alpha * job->l1_ratio;
			job->l2 = model->n_rows * job->alpha * (1 - job->l1_ratio);
			break;
		default:
			break;
	}
	model->l1 = job->l1;
	model->l2 = job->l2;

	initStringInfo(&params);
	appendStringInfoString(&params, "{\"l1\": ");
	JsonAppendNumber(&params, job->l1);
	appendStringInfoString(&params, ", \"l2\": ");
	JsonAppendNumber(&params, job->l2);
	appendStringInfo(&params, ", \"intercept\": %s, \"features\": %s}",
					 job->fit_intercept ? "true" : "false", DesignNamesJson(model));
	args[0] = InputsDatum(model);
	args[1] = JsonbPGetDatum(JsonParse(params.data));
	RunQuery(psprintf("SELECT %s(%s::pg_catalog.float8, %s, $2) FROM %s WHERE %s",
					  MlsysQualify("ml_linreg_fit"), job->target_sql, DesignSql(job),
					  job->from, job->fit_rows),
		  2, types, args);
	fitted = ModelDeserialize((struct varlena *) PG_DETOAST_DATUM(Value(0, 1, &isnull)));
	memcpy(model->coef, fitted->coef, sizeof(double) * (1 + model->n_design));
	model->n_std_errors = fitted->n_std_errors;
	model->std_errors = fitted->std_errors;
	job->iterations = 1;
}

/* Loss, gradient and Hessian of the penalised objective at theta. */
static void
LogisticPass(TrainJob *job, const char *sql, Datum *args, const double *theta, int dim,
			 LogregPass *pass)
{
	Oid			types[3] = {MlsysModelTypeOid(), TEXTARRAYOID, FLOAT8ARRAYOID};
	int			width = 1 + job->model->n_design;
	Datum	   *elems = palloc(sizeof(Datum) * dim);
	bool		isnull;

	for (int i = 0; i < dim; i++)
		elems[i] = Float8GetDatum(theta[i]);
	args[2] = PointerGetDatum(construct_array(elems, dim, FLOAT8OID, sizeof(double),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	RunQuery(sql, 3, types, args);
	LogregPassFromArray(DatumGetArrayTypeP(Value(0, 1, &isnull)), dim, pass);

	for (int i = 0; i < dim; i++)
	{
		if (i % width == 0)
		{
			/* an intercept: unpenalised, or held at zero */
			if (!job->fit_intercept)
			{
				pass->grad[i] = 0;
				for (int j = 0; j < dim; j++)
					pass->hess[Min(i, j) + Max(i, j) * dim] = i == j ? 1.0 : 0.0;
			}
			continue;
		}
		pass->loss += 0.5 * job->l2 * theta[i] * theta[i];
		pass->grad[i] += job->l2 * theta[i];
		pass->hess[i + i * dim] += job->l2;
	}

	/*
	 * With one set per class, adding a constant to every intercept leaves
	 * the softmax unchanged: H u = 0 for u = 1 on the intercepts. Adding
	 * u u' makes H definite, and since u'g = 0 the steps keep the sum of
	 * intercepts at its start, 0 -- the solution scikit-learn reaches.
	 */
	if (job->fit_intercept && job->model->n_sets == job->model->n_classes)
		for (int a = 0; a < dim; a += width)
			for (int b = a; b < dim; b += width)
				pass->hess[a + b * dim] += 1.0;
	pfree(elems);
}

/* Passes hold a dim x dim Hessian: free each one once it is replaced. */
static void
FreePass(LogregPass *pass)
{
	pfree(pass->grad);
	pfree(pass->hess);
}

/*
 * Unpenalised binary logistic regression: standard errors of the fitted
 * parameters from the inverse of the Hessian (the observed information) at
 * the solution, as statistics packages report them; one more pass. None when
 * the Hessian is not positive definite.
 */
static void
LogisticStandardErrors(TrainJob *job, const char *sql, Datum *args, const double *theta, int dim)
{
	Model	   *model = job->model;
	LogregPass pass;

	LogisticPass(job, sql, args, theta, dim, &pass);
	if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', dim, pass.hess, dim) != 0 ||
		LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', dim, pass.hess, dim) != 0)
		return;
	model->std_errors = palloc(sizeof(double) * dim);
	for (int i = 0; i < dim; i++)
		model->std_errors[i] = sqrt(pass.hess[i + i * dim]);
	/* an intercept held at 0 is not estimated, as for least squares */
	if (!model->fit_intercept)
		model->std_errors[0] = 0;
	model->n_std_errors = dim;
}

/*
 * Logistic regression by Newton's method with backtracking line search
 * (Armijo): one ml_logreg_pass per evaluation. Converged when half the
 * squared Newton decrement, the predicted decrease of the loss, is below
 * tol per row.
 */
static void
FitLogistic(TrainJob *job)
{
	Model	   *model = job->model;
	int			width = 1 + model->n_design;
	int			dim;
	double	   *theta,
			   *trial,
			   *dir,
			   *factor;
	Datum		args[3];
	Datum	   *classes;
	char	   *sql;
	LogregPass pass,
				next;
	bool		converged = false;
	int			passes = 0;

	model->n_sets = LogisticSets(model->n_classes, job->l2);
	dim = model->n_sets * width;
	theta = palloc0(sizeof(double) * dim);
	trial = palloc(sizeof(double) * dim);
	dir = palloc(sizeof(double) * dim);
	factor = palloc(mul_size(sizeof(double), mul_size(dim, dim)));

	classes = palloc(sizeof(Datum) * model->n_classes);
	for (int k = 0; k < model->n_classes; k++)
		classes[k] = CStringGetTextDatum(model->classes[k]);
	args[0] = InputsDatum(model);
	args[1] = PointerGetDatum(construct_array(classes, model->n_classes, TEXTOID, -1, false,
											  TYPALIGN_INT));
	sql = psprintf("SELECT %s(%s::pg_catalog.text, %s, $3, $2) FROM %s WHERE %s",
				   MlsysQualify("ml_logreg_pass"), job->target_sql, DesignSql(job),
				   job->from, job->fit_rows);

	LogisticPass(job, sql, args, theta, dim, &pass);
	passes++;
	for (job->iterations = 1; job->iterations <= job->max_iter; job->iterations++)
	{
		double		slope = 0;
		double		step = 1;
		lapack_int	info;

		/* Newton direction: H dir = -g */
		memcpy(factor, pass.hess, sizeof(double) * dim * dim);
		for (int i = 0; i < dim; i++)
			dir[i] = -pass.grad[i];
		info = LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', dim, 1, factor, dim, dir, dim);
		if (info != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("logistic regression has no unique solution"),
					 errdetail("The Hessian is singular: the classes are perfectly separable, or features are collinear."),
					 errhint("Set a penalty such as '{\"l2\": 1}', or remove redundant features.")));
		for (int i = 0; i < dim; i++)
			slope += pass.grad[i] * dir[i];
		if (-slope / 2 <= job->tol * pass.n)
		{
			/*
			 * The loss is within tol of its minimum, but the parameters only
			 * within about its square root: take the last step, already
			 * solved for, which brings them to full accuracy.
			 */
			for (int i = 0; i < dim; i++)
				theta[i] += dir[i];
			converged = true;
			break;
		}

		/* backtrack until the loss decreases enough */
		for (;;)
		{
			for (int i = 0; i < dim; i++)
				trial[i] = theta[i] + step * dir[i];
			LogisticPass(job, sql, args, trial, dim, &next);
			passes++;
			TrainProgress(job, "logistic iteration %d, pass %d, loss %g",
						  job->iterations, passes, next.loss / Max(next.n, 1));
			if (next.loss <= pass.loss + 1e-4 * step * slope || step < 1e-10)
				break;
			FreePass(&next);
			step /= 2;
		}
		if (step < 1e-10)
		{
			/* no further decrease is possible in floating point */
			converged = true;
			break;
		}
		memcpy(theta, trial, sizeof(double) * dim);
		FreePass(&pass);
		pass = next;
	}
	if (!converged)
		ereport(WARNING,
				(errmsg("logistic regression did not converge in %d iterations", job->max_iter),
				 errhint("Raise \"max_iter\", scale the features, or set a penalty \"l2\".")));
	model->coef = theta;
	if (converged && model->n_sets == 1 && job->l2 == 0)
		LogisticStandardErrors(job, sql, args, theta, dim);
	job->iterations = Min(job->iterations, job->max_iter);
}

/* Gaussian naive Bayes: one pass of ml_naive_bayes_pass. */
static void
FitNaiveBayes(TrainJob *job)
{
	Model	   *model = job->model;
	Oid			types[2] = {MlsysModelTypeOid(), TEXTARRAYOID};
	Datum		args[2];
	Datum	   *classes = palloc(sizeof(Datum) * model->n_classes);
	bool		isnull;

	for (int k = 0; k < model->n_classes; k++)
		classes[k] = CStringGetTextDatum(model->classes[k]);
	model->fit_intercept = false;
	args[0] = InputsDatum(model);
	args[1] = PointerGetDatum(construct_array(classes, model->n_classes, TEXTOID, -1, false,
											  TYPALIGN_INT));
	RunQuery(psprintf("SELECT %s(%s::pg_catalog.text, %s, $2) FROM %s WHERE %s",
					  MlsysQualify("ml_naive_bayes_pass"), job->target_sql, DesignSql(job),
					  job->from, job->fit_rows),
			 2, types, args);
	NaiveBayesFromPass(model, DatumGetArrayTypeP(Value(0, 1, &isnull)), job->var_smoothing);
	job->iterations = 1;
}

/*
 * The parameters of a tree model as JSON members: the tunable ones from the
 * job, the others as params gave them. For XGBoost, a forest's trees are
 * num_parallel_tree; for the record, the n_estimators ml_train takes.
 */
static void
AppendTreeParams(StringInfo buf, TrainJob *job, bool for_xgboost)
{
	bool		forest = for_xgboost && job->algorithm == ALGORITHM_RANDOM_FOREST;
	const struct
	{
		const char *key;
		double		value;
	}			numbers[] = {
		{"max_depth", rint(job->max_depth)},
		{"learning_rate", job->learning_rate},
		{forest ? "num_parallel_tree" : "n_estimators", rint(job->n_estimators)},
		{"min_child_weight", job->min_child_weight},
		{"subsample", job->subsample},
		{"colsample_bytree", job->colsample_bytree},
		{"reg_lambda", job->reg_lambda},
		{"reg_alpha", job->reg_alpha},
		{"gamma", job->gamma},
	};

	for (int i = 0; i < lengthof(numbers); i++)
	{
		appendStringInfo(buf, ", \"%s\": ", numbers[i].key);
		JsonAppendNumber(buf, numbers[i].value);
	}
	if (job->algorithm == ALGORITHM_RANDOM_FOREST && !JsonHasKey(job->params, "colsample_bynode"))
		appendStringInfoString(buf, ", \"colsample_bynode\": 0.8");
	for (int i = 0; tree_pass_keys[i] != NULL; i++)
	{
		JsonbValue	v;

		if (getKeyJsonValueFromContainer(&job->params->root, tree_pass_keys[i],
										 strlen(tree_pass_keys[i]), &v) == NULL)
			continue;
		appendStringInfo(buf, ", \"%s\": ", tree_pass_keys[i]);
		if (v.type == jbvNumeric)
			appendStringInfoString(buf, DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v.val.numeric))));
		else if (v.type == jbvString)
			escape_json(buf, pnstrdup(v.val.string.val, v.val.string.len));
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("XGBoost parameter \"%s\" must be a number or a string", tree_pass_keys[i]),
					 errhint("Pass one value, such as '{\"max_bin\": 256}' or '{\"tree_method\": \"hist\"}'.")));
	}
}

/*
 * Trees: one pass of ml_xgboost_fit over the design rows, which keeps the
 * booster. A classifier's target becomes its class number. With
 * "early_stopping_rounds" the holdout rows come along, flagged, to be
 * evaluated after each round (and so do not measure the model unbiasedly
 * any more: the number of rounds was chosen on them).
 */
static void
FitTrees(TrainJob *job)
{
	Model	   *model = job->model;
	Oid			types[3] = {MlsysModelTypeOid(), JSONBOID, TEXTARRAYOID};
	Datum		args[3];
	StringInfoData params;
	bool		early = JsonHasKey(job->params, "early_stopping_rounds");
	Model	   *fitted;
	Datum		value;
	bool		isnull;

	initStringInfo(&params);
	appendStringInfo(&params, "{\"seed\": %d, \"features\": %s, \"target\": ", job->seed,
					 DesignNamesJson(model));
	escape_json(&params, job->target);
	if (job->algorithm == ALGORITHM_RANDOM_FOREST)
		appendStringInfoString(&params, ", \"n_estimators\": 1");
	AppendTreeParams(&params, job, true);
	args[0] = InputsDatum(model);
	args[2] = (Datum) 0;
	if (job->classify)
	{
		Datum	   *classes = palloc(sizeof(Datum) * model->n_classes);

		appendStringInfoString(&params, ", \"classes\": [");
		for (int k = 0; k < model->n_classes; k++)
		{
			classes[k] = CStringGetTextDatum(model->classes[k]);
			appendStringInfo(&params, k > 0 ? ", \"%d\"" : "\"%d\"", k);
		}
		appendStringInfoChar(&params, ']');
		args[2] = PointerGetDatum(construct_array(classes, model->n_classes, TEXTOID, -1, false,
												  TYPALIGN_INT));
	}
	appendStringInfoChar(&params, '}');
	args[1] = JsonbPGetDatum(JsonParse(params.data));
	RunQuery(psprintf("SELECT %s(%s, %s, $2, %s) FROM %s WHERE (%s)%s",
					  MlsysQualify("ml_xgboost_fit"),
					  job->classify
					  ? psprintf("(pg_catalog.array_position($3, %s::pg_catalog.text) - 1)::pg_catalog.float8",
								 job->target_sql)
					  : psprintf("%s::pg_catalog.float8", job->target_sql),
					  DesignSql(job),
					  early ? psprintf("(%s)", job->test_rows) : "false",
					  job->from, job->fit_rows,
					  early ? psprintf(" OR (%s)", job->test_rows) : ""),
			 job->classify ? 3 : 2, types, args);
	value = Value(0, 1, &isnull);
	fitted = ModelDeserialize((struct varlena *) PG_DETOAST_DATUM(value));
	model->booster = fitted->booster;
	model->booster_len = fitted->booster_len;
	job->iterations = BoosterRounds(BoosterLoad(model));
}

/* The row hash of SplitRows with another seed: k-means++'s random draws. */
static char *
RowHashWithSeed(TrainJob *job, int seed)
{
	char	   *marker = psprintf("), %d) & 2147483647)", job->seed);
	char	   *at = strstr(job->row_hash, marker);

	return psprintf("%.*s), %d) & 2147483647)", (int) (at - job->row_hash), job->row_hash, seed);
}

/*
 * Initial centres by k-means++ (Arthur & Vassilvitskii 2007): the first is
 * the row of smallest seeded hash, each next one a row drawn with
 * probability proportional to its squared distance D^2 to the centres so
 * far -- by weighted sampling (Efraimidis & Spirakis), the row maximising
 * ln(u) / D^2 for a per-row uniform u from a hash with another seed. One
 * ordered scan per centre.
 */
static void
KMeansPlusPlus(TrainJob *job, Datum inputs, double *centers)
{
	Model	   *model = job->model;
	int			d = model->n_design;
	Oid			types[2] = {MlsysModelTypeOid(), FLOAT8ARRAYOID};
	Datum		args[2] = {inputs, 0};
	char	   *design = DesignSql(job);

	for (int c = 0; c < job->k; c++)
	{
		Datum	   *elems = palloc(sizeof(Datum) * Max(c * d, 1));
		ArrayType  *row;
		bool		isnull;

		for (int i = 0; i < c * d; i++)
			elems[i] = Float8GetDatum(centers[i]);
		args[1] = PointerGetDatum(construct_array(elems, c * d, FLOAT8OID, sizeof(double),
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		TrainProgress(job, "k-means++ centre %d of %d", c + 1, job->k);
		if (c == 0)
			RunQuery(psprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT 1",
							  design, job->from, job->fit_rows, job->row_hash), 2, types, args);
		else
			RunQuery(psprintf("SELECT x FROM (SELECT %s AS x, (%s + 1) / 2147483649.0 AS u FROM %s WHERE %s) AS t,"
							  " LATERAL (SELECT %s(x, $2) AS d2) AS dist WHERE d2 > 0"
							  " ORDER BY CASE WHEN d2 > 0 THEN pg_catalog.ln(u) / d2 END DESC NULLS LAST LIMIT 1",
							  design, RowHashWithSeed(job, job->seed + c), job->from, job->fit_rows,
							  MlsysQualify("ml_kmeans_distance")), 2, types, args);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the training rows have fewer than %d distinct points", job->k),
					 errhint("Use a smaller \"k\".")));
		row = DatumGetArrayTypeP(Value(0, 1, &isnull));
		memcpy(centers + c * d, ARR_DATA_PTR(row), sizeof(double) * d);
	}
}

/*
 * K-means by Lloyd's algorithm: one ml_kmeans_pass per iteration, until
 * the centres move by at most tol times the mean column variance in total
 * (scikit-learn's criterion), or max_iter iterations.
 */
static void
FitKMeans(TrainJob *job)
{
	Model	   *model = job->model;
	int			d = model->n_design;
	Oid			types[2] = {MlsysModelTypeOid(), FLOAT8ARRAYOID};
	Datum		args[2];
	double	   *centers = palloc(sizeof(double) * job->k * d);
	char	   *sql;

	model->fit_intercept = false;
	model->n_sets = job->k;
	args[0] = InputsDatum(model);
	if (job->init != NULL)
	{
		const JsonContext ctx = {ERRCODE_INVALID_PARAMETER_VALUE, "\"init\" centres"};
		Jsonb	  **rows;

		(void) JsonGetArrayItems(&ctx, job->init, "init", &rows);
		for (int c = 0; c < job->k; c++)
		{
			double	   *v;

			if (JsonNumbers(&ctx, rows[c], "init", &v) != d)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("each \"init\" centre must have one value per design column (%d)", d),
						 errhint("ml_transform() shows a row's design columns.")));
			memcpy(centers + c * d, v, sizeof(double) * d);
		}
	}
	else
		KMeansPlusPlus(job, args[0], centers);

	sql = psprintf("SELECT %s(%s, $2) FROM %s WHERE %s", MlsysQualify("ml_kmeans_pass"),
				   DesignSql(job), job->from, job->fit_rows);
	for (job->iterations = 1; job->iterations <= job->max_iter; job->iterations++)
	{
		Datum	   *elems = palloc(sizeof(Datum) * job->k * d);
		double		inertia,
					n,
					mean_var,
					shift;
		bool		isnull;

		for (int i = 0; i < job->k * d; i++)
			elems[i] = Float8GetDatum(centers[i]);
		args[1] = PointerGetDatum(construct_array(elems, job->k * d, FLOAT8OID, sizeof(double),
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		RunQuery(sql, 2, types, args);
		shift = KMeansUpdate(DatumGetArrayTypeP(Value(0, 1, &isnull)), job->k, d, centers,
							 &inertia, &n, &mean_var);
		SPI_freetuptable(SPI_tuptable);
		TrainProgress(job, "k-means iteration %d, inertia %g", job->iterations, inertia);
		if (shift <= job->tol * mean_var)
			break;
	}
	job->iterations = Min(job->iterations, job->max_iter);
	model->coef = centers;
}

/* ---------------------------------------------------------------- metrics */

/*
 * Metrics of a model on the rows of from matching where, through the
 * metric aggregates: regression r2, mse, rmse, mae, mape; classification
 * accuracy, macro precision / recall / f1, log_loss (probabilities clipped
 * below at DBL_EPSILON, as scikit-learn does) and, for two classes,
 * roc_auc of the second class. A class not seen in training counts as
 * mispredicted, with probability 0. Returns a JSON object without the row
 * count, which goes to *n.
 */
static Jsonb *
EvaluateRows(Model *model, const char *from, const char *where, const char *target_sql, int64 *n)
{
	Oid			types[2] = {MlsysModelTypeOid(), TEXTARRAYOID};
	Datum		args[2];
	bool		isnull;
	Datum		value;
	Jsonb	   *result;

	args[0] = ModelDatum(model);
	if (model->kind == MODEL_KIND_KMEANS)
	{
		int			k = model->n_sets,
					d = model->n_design;
		Datum	   *elems = palloc(sizeof(Datum) * k * d);
		double		inertia,
					rows,
					mean_var;
		double	   *centers = palloc(sizeof(double) * k * d);
		StringInfoData buf;

		for (int i = 0; i < k * d; i++)
			elems[i] = Float8GetDatum(model->coef[i]);
		memcpy(centers, model->coef, sizeof(double) * k * d);
		types[1] = FLOAT8ARRAYOID;
		args[1] = PointerGetDatum(construct_array(elems, k * d, FLOAT8OID, sizeof(double),
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		RunQuery(psprintf("SELECT %s(%s($1, " SOURCE_ALIAS "), $2) FROM %s WHERE %s",
						  MlsysQualify("ml_kmeans_pass"), MlsysQualify("ml_transform"), from, where),
				 2, types, args);
		(void) Value(0, 1, &isnull);
		if (isnull)
		{
			*n = 0;
			return JsonParse("{}");
		}
		/* (KMeansUpdate moves a copy of the centres; only its totals matter here) */
		(void) KMeansUpdate(DatumGetArrayTypeP(Value(0, 1, &isnull)), k, d, centers, &inertia,
							&rows, &mean_var);
		*n = (int64) rows;
		initStringInfo(&buf);
		appendStringInfo(&buf, "{\"n\": " INT64_FORMAT ", \"inertia\": ", *n);
		JsonAppendNumber(&buf, inertia);
		appendStringInfoString(&buf, ", \"mean_squared_distance\": ");
		JsonAppendNumber(&buf, inertia / rows);
		appendStringInfoChar(&buf, '}');
		return JsonParse(buf.data);
	}
	if (ModelIsClassifier(model))
	{
		Datum	   *classes = palloc(sizeof(Datum) * model->n_classes);

		for (int k = 0; k < model->n_classes; k++)
			classes[k] = CStringGetTextDatum(model->classes[k]);
		args[1] = PointerGetDatum(construct_array(classes, model->n_classes, TEXTOID, -1,
												  false, TYPALIGN_INT));
		RunQuery(psprintf("SELECT %s(y, $2[(SELECT u.i FROM pg_catalog.unnest(p) WITH ORDINALITY AS u(v, i)"
						  " ORDER BY u.v DESC, u.i LIMIT 1)])"
						  " || pg_catalog.jsonb_build_object('log_loss', pg_catalog.avg(-pg_catalog.ln("
						  "GREATEST(coalesce(p[pg_catalog.array_position($2, y)], 0), %.17g::pg_catalog.float8))))"
						  " || %s"
						  " FROM (SELECT %s::pg_catalog.text AS y, %s($1, " SOURCE_ALIAS ") AS p"
						  " FROM %s WHERE %s) AS t",
						  MlsysQualify("ml_classification_metrics"), DBL_EPSILON,
						  model->n_classes == 2
						  ? psprintf("pg_catalog.jsonb_build_object('roc_auc', %s(y = $2[2], p[2]))",
									 MlsysQualify("ml_roc_auc"))
						  : "'{}'::pg_catalog.jsonb",
						  target_sql, MlsysQualify("ml_predict_proba"), from, where),
				 2, types, args);
	}
	else
		RunQuery(psprintf("SELECT %s(%s::pg_catalog.float8, %s($1, " SOURCE_ALIAS ")) FROM %s WHERE %s",
						  MlsysQualify("ml_regression_metrics"), target_sql,
						  MlsysQualify("ml_predict"), from, where),
				 1, types, args);

	value = Value(0, 1, &isnull);
	if (isnull)
	{
		/* no rows */
		*n = 0;
		return JsonParse("{}");
	}
	result = DatumGetJsonbP(value);
	*n = pg_strtoint64(TextDatumGetCString(DirectFunctionCall2(jsonb_object_field_text,
															   JsonbPGetDatum(result),
															   CStringGetTextDatum("n"))));
	return result;
}

/* Most rows whose outputs make the baseline of prediction drift. */
#define OUTPUT_SAMPLE_ROWS 100000

static int
CompareDoubles(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/*
 * The distribution of the fitted model's output on the n rows matching rows
 * (the holdout, else the training rows; a systematic sample of
 * OUTPUT_SAMPLE_ROWS of them when more, its start given by the seed),
 * stored in the model as the
 * baseline of prediction drift, in one pass: a regression's values in bins
 * between their deciles (as percentile_disc takes them; bin i holds
 * edge_i <= v < edge_i+1, the last one also its upper edge), or the count
 * of each predicted class or cluster.
 */
static void
LearnOutputs(TrainJob *job, const char *rows, int64 n)
{
	Model	   *model = job->model;
	Oid			type = MlsysModelTypeOid();
	Datum		arg = ModelDatum(model);
	bool		numeric = !ModelIsClassifier(model) && model->kind != MODEL_KIND_KMEANS;
	char	   *outputs;
	bool		isnull;
	Datum		value;
	ArrayType  *arr;
	double	   *p;
	int			np;
	double		edges[11];
	int			n_edges = 0;

	/*
	 * (OFFSET 0: the rows first, then the sample of them, then the model; the
	 * sample counts only the rows that reach it)
	 */
	if (n > OUTPUT_SAMPLE_ROWS)
		outputs = psprintf("SELECT %s($1, " SOURCE_ALIAS ") AS p FROM (SELECT * FROM %s WHERE %s OFFSET 0) "
						   SOURCE_ALIAS " WHERE ml.systematic_sample(" INT64_FORMAT ", %d, %d) OFFSET 0",
						   MlsysQualify(ModelIsClassifier(model) ? "ml_predict_class" : "ml_predict"),
						   job->from, rows, n, OUTPUT_SAMPLE_ROWS, job->seed);
	else
		outputs = psprintf("SELECT %s($1, " SOURCE_ALIAS ") AS p FROM %s WHERE %s OFFSET 0",
						   MlsysQualify(ModelIsClassifier(model) ? "ml_predict_class" : "ml_predict"),
						   job->from, rows);
	model->n_outputs = 0;
	if (!numeric)
	{
		int			k = ModelIsClassifier(model) ? model->n_classes : model->n_sets;
		uint64		groups = RunQuery(psprintf("SELECT p::pg_catalog.text, pg_catalog.count(*) FROM (%s) t GROUP BY p",
											   outputs), 1, &type, &arg);

		model->output_counts = palloc0(sizeof(int64) * k);
		for (uint64 i = 0; i < groups; i++)
		{
			char	   *label = TextDatumGetCString(Value(i, 1, &isnull));
			int64		count = DatumGetInt64(Value(i, 2, &isnull));

			for (int c = 0; c < k; c++)
				if (strcmp(label, ModelIsClassifier(model) ? model->classes[c] : psprintf("%d", c)) == 0)
					model->output_counts[c] = count;
		}
		model->n_outputs = groups > 0 ? k : 0;
		return;
	}

	/* (NaN sorts above every number in PostgreSQL: NULL and NaN are left out) */
	RunQuery(psprintf("SELECT pg_catalog.array_agg(p) FROM (%s) t WHERE p < 'NaN'::pg_catalog.float8", outputs),
			 1, &type, &arg);
	value = Value(0, 1, &isnull);
	if (isnull)
		return;					/* no rows */
	arr = DatumGetArrayTypeP(value);
	p = (double *) ARR_DATA_PTR(arr);
	np = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	qsort(p, np, sizeof(double), CompareDoubles);
	/* deciles, distinct only: bins must not be empty intervals */
	for (int d = 0; d <= 10; d++)
	{
		double		q = p[Max((int) ceil(np * d / 10.0) - 1, 0)];

		if (isfinite(q) && (n_edges == 0 || q > edges[n_edges - 1]))
			edges[n_edges++] = q;
	}
	if (n_edges < 2)
		return;					/* a constant output */
	model->n_outputs = n_edges - 1;
	model->output_edges = palloc(sizeof(double) * n_edges);
	memcpy(model->output_edges, edges, sizeof(double) * n_edges);
	model->output_counts = palloc0(sizeof(int64) * model->n_outputs);
	for (int i = 0, b = 0; i < np; i++)
	{
		if (!(p[i] >= edges[0] && p[i] <= edges[n_edges - 1]))
			continue;
		while (b < model->n_outputs - 1 && p[i] >= edges[b + 1])
			b++;
		model->output_counts[b]++;
	}
}

/* Without the row count and the per-class details, for the registry. */
static char *
SummaryMetrics(Jsonb *metrics)
{
	Datum		d = JsonbPGetDatum(metrics);

	d = DirectFunctionCall2(jsonb_delete, d, CStringGetTextDatum("n"));
	d = DirectFunctionCall2(jsonb_delete, d, CStringGetTextDatum("classes"));
	return JsonbToCString(NULL, &DatumGetJsonbP(d)->root, VARSIZE(DatumGetPointer(d)));
}

/* ---------------------------------------------------------------- ml_train */

/* The params recorded with the version: everything, defaults included. */
static char *
RecordedParams(TrainJob *job)
{
	Model	   *model = job->model;
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	if (!AlgorithmIsTree(job->algorithm))
	{
		ModelAppendParamsJson(&buf, model);
		appendStringInfoString(&buf, ", ");
	}
	appendStringInfo(&buf, "\"seed\": %d, \"test_fraction\": ", job->seed);
	JsonAppendNumber(&buf, job->test_fraction);
	if (job->algorithm == ALGORITHM_LOGISTIC)
	{
		appendStringInfo(&buf, ", \"max_iter\": %d, \"tol\": ", job->max_iter);
		JsonAppendNumber(&buf, job->tol);
	}
	if (job->algorithm == ALGORITHM_NAIVE_BAYES)
	{
		appendStringInfoString(&buf, ", \"var_smoothing\": ");
		JsonAppendNumber(&buf, job->var_smoothing);
	}
	if (job->algorithm == ALGORITHM_KMEANS)
	{
		appendStringInfo(&buf, ", \"k\": %d, \"init\": \"%s\", \"max_iter\": %d, \"tol\": ",
						 job->k, job->init ? "given" : "k-means++", job->max_iter);
		JsonAppendNumber(&buf, job->tol);
	}
	if (job->algorithm == ALGORITHM_RIDGE || job->algorithm == ALGORITHM_LASSO ||
		job->algorithm == ALGORITHM_ELASTIC_NET)
	{
		appendStringInfoString(&buf, ", \"alpha\": ");
		JsonAppendNumber(&buf, job->alpha);
	}
	if (job->algorithm == ALGORITHM_ELASTIC_NET)
	{
		appendStringInfoString(&buf, ", \"l1_ratio\": ");
		JsonAppendNumber(&buf, job->l1_ratio);
	}
	if (AlgorithmIsTree(job->algorithm))
		AppendTreeParams(&buf, job, false);
	if (job->cv > 0)
		appendStringInfo(&buf, ", \"cv\": %d", job->cv);
	if (job->n_search > 0)
		appendStringInfo(&buf, ", \"search\": \"%s\"", job->random_search ? "random" : "grid");
	if (job->deploy_if_better)
		appendStringInfoString(&buf, ", \"deploy\": \"if_better\"");
	if (job->n_search > 0 || (job->deploy_if_better && job->algorithm != ALGORITHM_KMEANS))
		appendStringInfo(&buf, ", \"metric\": \"%s\"", job->metric);
	if (job->time_column)
	{
		appendStringInfoString(&buf, ", \"time_column\": ");
		escape_json(&buf, job->time_column);
	}
	appendStringInfoString(&buf, ", \"impute\": {");
	for (int i = 0; i < model->n_inputs; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, model->inputs[i].name);
		appendStringInfo(&buf, ": \"%s\"", ImputeName(model->inputs[i].impute));
	}
	appendStringInfoString(&buf, "}, \"scale\": {");
	for (int i = 0; i < model->n_inputs; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, model->inputs[i].name);
		appendStringInfo(&buf, ": \"%s\"", ScaleName(model->inputs[i].scale));
	}
	appendStringInfoString(&buf, "}}");
	return buf.data;
}

/*
 * Learn the preprocessing and fit the model on the rows of the source that
 * match rows: the whole of a training run but the metrics. Run again for
 * each cross-validation fold and each search trial.
 */
void
TrainFit(TrainJob *job, const char *rows)
{
	Model	   *model = job->model;

	job->fit_rows = pstrdup(rows);
	model->fit_intercept = job->fit_intercept;
	model->l1 = job->l1;
	model->l2 = job->l2;
	LearnNumericInputs(job);
	for (int i = 0; i < model->n_inputs; i++)
		if (model->inputs[i].type == INPUT_CATEGORICAL)
			LearnLevels(job, &model->inputs[i], job->constant_levels[i]);
	ModelDeriveDesign(model);
	if (model->n_design > MLSYS_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the features expand to %d design columns, more than %d",
						model->n_design, MLSYS_MAX_FEATURES),
				 errhint("Use fewer categorical features or group their rare levels.")));
	if (job->classify)
		LearnClasses(job);
	for (int i = 0; i < model->n_inputs; i++)
		model->inputs[i].stats.n_bins = 0;
	if (job->baseline)
		LearnHistograms(job);
	model->n_sets = job->algorithm == ALGORITHM_LOGISTIC ? LogisticSets(model->n_classes, job->l2)
		: AlgorithmIsTree(job->algorithm) ? 0 : 1;
	if (job->algorithm == ALGORITHM_LOGISTIC)
		LogisticCheckSize(model->n_sets, 1 + model->n_design);
	model->coef = palloc0(sizeof(double) * model->n_sets * (1 + model->n_design));
	model->n_std_errors = 0;
	/* (naive Bayes sets its own parameter sets from its pass) */

	if (job->algorithm == ALGORITHM_LOGISTIC)
		FitLogistic(job);
	else if (job->algorithm == ALGORITHM_NAIVE_BAYES)
		FitNaiveBayes(job);
	else if (job->algorithm == ALGORITHM_KMEANS)
		FitKMeans(job);
	else if (AlgorithmIsTree(job->algorithm))
		FitTrees(job);
	else
		FitLinear(job);
}

/* Metrics of the fitted model on the rows matching rows (see EvaluateRows). */
Jsonb *
TrainEvaluate(TrainJob *job, const char *rows, int64 *n)
{
	return EvaluateRows(job->model, job->from, rows, job->target_sql, n);
}

/*
 * The train/holdout split. By default a row is held out when its seeded
 * hash falls below test_fraction * 2^31; with "time_column", the latest
 * test_fraction of the rows are held out (times at or after the cut-off),
 * so a model is trained on the past and measured on the future.
 */
static void
SplitRows(TrainJob *job, TupleDesc desc)
{
	char	   *known = job->target_sql ? psprintf("%s IS NOT NULL", job->target_sql) : "true";
	char	   *hashed = job->target_sql;
	int64		cut = (int64) floor(job->test_fraction * 2147483648.0);

	for (int i = 0; i < job->model->n_inputs; i++)
		hashed = hashed ? psprintf("%s, %s", hashed, Column(job->model->inputs[i].name))
			: Column(job->model->inputs[i].name);
	job->row_hash = psprintf("(pg_catalog.hash_record_extended(ROW(%s), %d) & 2147483647)",
							 hashed, job->seed);

	if (job->test_fraction == 0)
	{
		/* nothing held out: no per-row hash to compute */
		job->train_rows = known;
		job->test_rows = "false";
	}
	else if (job->time_column == NULL)
	{
		job->train_rows = psprintf("%s >= " INT64_FORMAT " AND %s", job->row_hash, cut, known);
		job->test_rows = psprintf("%s < " INT64_FORMAT " AND %s", job->row_hash, cut, known);
	}
	else
	{
		int			col = FindColumn(desc, job->time_column);
		char	   *time_sql;
		char	   *cutoff;
		Datum		value;
		bool		isnull;

		if (col < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("time column \"%s\" does not exist in the source", job->time_column),
					 errhint("Column names are matched exactly, including case.")));
		if (job->cv > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg(job->n_search > 0
							? "a search, which cross-validates its trials, cannot be combined with \"time_column\""
							: "\"cv\" cannot be combined with \"time_column\""),
					 errhint("Cross-validation folds are random; a time split holds out the latest rows.")));
		time_sql = Column(job->time_column);
		RunQuery(psprintf("SELECT pg_catalog.percentile_disc(%.17g) WITHIN GROUP (ORDER BY %s)::pg_catalog.text"
						  " FROM %s WHERE %s AND %s IS NOT NULL",
						  1 - job->test_fraction, time_sql, job->from, known, time_sql),
				 0, NULL, NULL);
		value = Value(0, 1, &isnull);
		if (isnull)
		{
			/* no row has a time: nothing to hold out */
			job->train_rows = known;
			job->test_rows = "false";
			return;
		}
		cutoff = psprintf("%s::%s", quote_literal_cstr(TextDatumGetCString(value)),
						  format_type_be(TupleDescAttr(desc, col)->atttypid));
		job->train_rows = psprintf("%s < %s AND %s", time_sql, cutoff, known);
		job->test_rows = psprintf("%s >= %s AND %s", time_sql, cutoff, known);
	}
}

/*
 * "deploy": "if_better" changes what production serves: only for those who
 * may run ml_deploy (ml_admin), checked before any training work.
 */
static void
CheckMayDeploy(void)
{
	bool		isnull;

	RunQuery(psprintf("SELECT pg_catalog.has_function_privilege(%s, 'EXECUTE')",
					  quote_literal_cstr(psprintf("%s(pg_catalog.text, pg_catalog.int4, pg_catalog.text)",
												  MlsysQualify("ml_deploy")))),
			 0, NULL, NULL);
	if (!DatumGetBool(Value(0, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("\"deploy\": \"if_better\" may deploy, which needs permission to run ml_deploy"),
				 errhint("Grant the role ml_admin, or train without \"deploy\" and let an admin deploy.")));
}

/* Add "cv_<metric>" members of cross-validation to the holdout metrics. */
static Jsonb *
MergeMetrics(Jsonb *holdout, Jsonb *cv)
{
	StringInfoData buf;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	bool		first = true;

	if (cv == NULL)
		return holdout;
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	it = JsonbIteratorInit(&cv->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && v.type == jbvNumeric)
		{
			appendStringInfo(&buf, "%s\"cv_%s\": %s", first ? "" : ", ", key,
							 DatumGetCString(DirectFunctionCall1(numeric_out,
																 NumericGetDatum(v.val.numeric))));
			first = false;
		}
	}
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(holdout),
											  JsonbPGetDatum(JsonParse(buf.data))));
}

/*
 * ml_train(model_name, algorithm, source, target, features, params,
 *          test_fraction) -> TABLE(model_name, version, metrics)
 */
Datum
ml_train(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TrainJob   *job = palloc0(sizeof(TrainJob));
	Model	   *model = palloc0(sizeof(Model));
	RegistryVersion v = {0};
	StringInfoData trials;
	char	   *algorithm;
	char	   *importance;
	Jsonb	   *metrics,
			   *cv_metrics;
	instr_time	start,
				elapsed;
	bool		deployed;
	int32		version;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	INSTR_TIME_SET_CURRENT(start);
	for (int i = 0; i < 7; i++)
		if (PG_ARGISNULL(i) && i != 3 && i != 4)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("only the target and features arguments of ml_train may be NULL"),
					 errhint("Pass a model name, an algorithm, a source, params and test_fraction.")));
	job->model = model;
	job->model_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	algorithm = text_to_cstring(PG_GETARG_TEXT_PP(1));
	job->source = text_to_cstring(PG_GETARG_TEXT_PP(2));
	job->target = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	job->params = PG_GETARG_JSONB_P(5);
	job->test_fraction = PG_GETARG_FLOAT8(6);

	RegistryCheckName(job->model_name);
	for (job->algorithm = 0; job->algorithm < lengthof(algorithm_names); job->algorithm++)
		if (strcmp(algorithm, algorithm_names[job->algorithm]) == 0)
			break;
	if (job->algorithm == lengthof(algorithm_names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown algorithm \"%s\"", algorithm),
				 errhint("Available algorithms: linear, ridge, lasso, elastic_net, logistic, naive_bayes, kmeans, xgboost, random_forest.")));
	ParseParams(job);
	if (!(job->test_fraction >= 0 && job->test_fraction < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test_fraction must be at least 0 and less than 1, got %g", job->test_fraction),
				 errhint("Use 0 to train on every row without holdout metrics.")));
	if (job->deploy_if_better && job->test_fraction == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"deploy\": \"if_better\" compares holdout metrics, but test_fraction is 0"),
				 errhint("Set test_fraction above 0.")));

	InitMaterializedSRF(fcinfo, 0);
	job->from = SourceFromClause(job->source);
	model->kind = job->algorithm == ALGORITHM_LOGISTIC ? MODEL_KIND_LOGISTIC_REGRESSION
		: job->algorithm == ALGORITHM_NAIVE_BAYES ? MODEL_KIND_NAIVE_BAYES
		: job->algorithm == ALGORITHM_KMEANS ? MODEL_KIND_KMEANS
		: AlgorithmIsTree(job->algorithm) ? MODEL_KIND_XGBOOST
		: MODEL_KIND_LINEAR_REGRESSION;
	model->target = job->target ? job->target : "";

	SPI_connect();
	if (job->deploy_if_better)
		CheckMayDeploy();
	if (SPI_execute(psprintf("SELECT * FROM %s LIMIT 0", job->from), true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training source must be a table, a view or a query returning rows"),
				 errhint("Pass a table or view name, or a SELECT query.")));
	job->constant_levels = palloc0(sizeof(char *) * (SPI_tuptable->tupdesc->natts + 1));
	ResolveColumns(job, SPI_tuptable->tupdesc, PG_ARGISNULL(4) ? NULL : PG_GETARG_ARRAYTYPE_P(4),
				   job->constant_levels);
	TuneChooseMetric(job);
	job->target_sql = job->target ? Column(job->target) : NULL;
	SplitRows(job, CreateTupleDescCopy(SPI_tuptable->tupdesc));

	/* search and cross-validate on the training rows, then fit them all */
	initStringInfo(&trials);
	cv_metrics = TuneRun(job, &trials);
	job->baseline = true;
	TrainFit(job, job->train_rows);
	metrics = job->test_fraction > 0 ? TrainEvaluate(job, job->test_rows, &v.n_test)
		: JsonParse("{}");
	metrics = MergeMetrics(JsonParse(SummaryMetrics(metrics)), cv_metrics);
	if (job->test_fraction > 0 && v.n_test > 0)
		LearnOutputs(job, job->test_rows, v.n_test);
	else
		LearnOutputs(job, job->train_rows, model->n_rows);

	v.metrics = (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(metrics), false, -1);
	v.model = (struct varlena *) SPI_datumTransfer(ModelDatum(model), false, -1);
	v.params = (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(JsonParse(RecordedParams(job))), false, -1);
	v.trials = trials.len > 0
		? (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(JsonParse(psprintf("[%s]", trials.data))), false, -1)
		: NULL;
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	importance = ModelImportanceJson(model);
	v.info = (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(JsonParse(
		psprintf("{\"seconds\": %.3f, \"iterations\": %d%s%s}",
				 INSTR_TIME_GET_DOUBLE(elapsed), job->iterations,
				 importance ? ", \"importance\": " : "", importance ? importance : ""))), false, -1);
	v.n_train = model->n_rows;
	SPI_finish();
	pgstat_report_activity(STATE_RUNNING, debug_query_string);

	v.model_name = job->model_name;
	v.algorithm = algorithm;
	v.source = job->source;
	if (job->deploy_if_better)
	{
		/* k-means has no "metric" param: a closer fit to the holdout wins */
		v.deploy_metric = job->algorithm == ALGORITHM_KMEANS ? "mean_squared_distance" : job->metric;
		v.deploy_higher_is_better = job->algorithm != ALGORITHM_KMEANS &&
			TuneHigherIsBetter(job->metric);
	}
	version = RegistryAddVersion(&v, &deployed);
	if (deployed)
		ereport(NOTICE,
				(errmsg("model \"%s\" version %d trained and deployed", job->model_name, version)));

	values[0] = CStringGetTextDatum(job->model_name);
	values[1] = Int32GetDatum(version);
	values[2] = JsonbPGetDatum(v.metrics);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/*
 * ml_evaluate(model_name [, version], source, target) -> jsonb: the metrics
 * of the deployed (or given) version on the rows of a table, view or query
 * whose target is not NULL, with the row count "n".
 */
Datum
ml_evaluate(PG_FUNCTION_ARGS)
{
	bool		has_version = PG_NARGS() == 4;
	MemoryContext caller = CurrentMemoryContext;
	char	   *name,
			   *from,
			   *target_sql;
	int32		version = 0;
	ModelRef	ref;
	Model	   *model;
	Jsonb	   *metrics;
	int64		n;

	int			target_arg = has_version ? 3 : 2;
	const char *where = "true";

	/* the target may be NULL for k-means, which has none */
	for (int i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i) && i != target_arg)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("arguments of ml_evaluate must not be NULL"),
					 errhint("Pass the model name and the source.")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (has_version)
	{
		version = PG_GETARG_INT32(1);
		if (version < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model version must be positive, got %d", version),
					 errhint("Versions are numbered from 1; ml.model_versions lists them.")));
	}
	RegistryResolve(name, version, &ref);
	model = ModelDeserialize(RegistryFetchModel(name, &ref));
	if (PG_ARGISNULL(target_arg) && model->kind != MODEL_KIND_KMEANS)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the target column of ml_evaluate must not be NULL"),
				 errhint("Only a k-means model, which has no target, is evaluated with target NULL.")));
	from = SourceFromClause(text_to_cstring(PG_GETARG_TEXT_PP(has_version ? 2 : 1)));

	SPI_connect();
	if (SPI_execute(psprintf("SELECT * FROM %s LIMIT 0", from), true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("evaluation source must be a table, a view or a query returning rows"),
				 errhint("Pass a table or view name, or a SELECT query.")));
	target_sql = NULL;
	if (!PG_ARGISNULL(target_arg))
	{
		char	   *target = text_to_cstring(PG_GETARG_TEXT_PP(target_arg));

		if (FindColumn(SPI_tuptable->tupdesc, target) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target column \"%s\" does not exist in the source", target),
					 errhint("Column names are matched exactly, including case.")));
		target_sql = Column(target);
		where = psprintf("%s IS NOT NULL", target_sql);
	}
	metrics = EvaluateRows(model, from, where, target_sql, &n);
	metrics = (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(metrics), false, -1);
	SPI_finish();
	MemoryContextSwitchTo(caller);
	PG_RETURN_JSONB_P(metrics);
}
