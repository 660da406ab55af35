/*
 * tune.c -- hyper-parameter search and cross-validation for ml_train.
 *
 * params may give a hyper-parameter (l1, l2, alpha, l1_ratio, var_smoothing,
 * and the tree parameters max_depth, learning_rate, n_estimators,
 * min_child_weight, subsample, colsample_bytree, reg_lambda, reg_alpha,
 * gamma) a list of values, or, for a random search, a range {"min": a, "max": b, "log": true}.
 * "search": "grid" tries every combination of the lists; "random" draws
 * "n_iter" combinations (default 10) from a generator seeded by "seed".
 *
 * Each trial is scored by k-fold cross-validation on the training rows
 * ("cv", default 5 in a search): rows are dealt to folds by the seeded row
 * hash of the holdout split, the preprocessing is learned anew on each
 * fold's training part (nothing leaks from the fold's test part), and the
 * fold metrics are averaged. The trial with the best "metric" (default r2
 * for regression, accuracy for classification) wins and its values stay in
 * the job for the final fit. Every trial is returned as JSON for
 * ml.training_trials. Without a search, "cv" alone reports the
 * cross-validated metrics of the one configuration.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/pg_prng.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "jsonopt.h"
#include "train.h"

#define MAX_TRIALS 1000
#define MAX_FOLDS 20

/* The hyper-parameters a search may vary, their defaults and bounds. */
static const struct
{
	const char *name;
	double		dflt;
	double		lo;
	double		hi;
}			hyper_params[] = {
	{"l1", 0, 0, DBL_MAX},
	{"l2", 0, 0, DBL_MAX},
	{"alpha", 1, 0, DBL_MAX},
	{"l1_ratio", 0.5, 0, 1},
	{"var_smoothing", 1e-9, 0, DBL_MAX},
	{"max_depth", 6, 1, 64},
	{"learning_rate", 0.3, 0, 1},
	{"n_estimators", 100, 1, 100000},
	{"min_child_weight", 1, 0, DBL_MAX},
	{"subsample", 1, DBL_MIN, 1},
	{"colsample_bytree", 1, DBL_MIN, 1},
	{"reg_lambda", 1, 0, DBL_MAX},
	{"reg_alpha", 0, 0, DBL_MAX},
	{"gamma", 0, 0, DBL_MAX},
};

/* Metrics a search can optimise; true when higher is better. */
static const struct
{
	const char *name;
	bool		higher_is_better;
	bool		classification;
}			metrics[] = {
	{"r2", true, false}, {"mse", false, false}, {"rmse", false, false},
	{"mae", false, false}, {"mape", false, false},
	{"accuracy", true, true}, {"precision_macro", true, true}, {"recall_macro", true, true},
	{"f1_macro", true, true}, {"log_loss", false, true}, {"roc_auc", true, true},
};

static double *
HyperField(TrainJob *job, int i)
{
	double	   *fields[] = {&job->l1, &job->l2, &job->alpha, &job->l1_ratio, &job->var_smoothing,
		&job->max_depth, &job->learning_rate, &job->n_estimators, &job->min_child_weight,
		&job->subsample, &job->colsample_bytree, &job->reg_lambda, &job->reg_alpha, &job->gamma};

	StaticAssertStmt(lengthof(fields) == lengthof(hyper_params), "a field per hyper-parameter");

	return fields[i];
}

static void
CheckRange(const char *name, double v, double lo, double hi)
{
	if (!(v >= lo && v <= hi))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 hi == DBL_MAX
				 ? errmsg("\"%s\" must be a finite number >= %g, got %g", name, lo, v)
				 : errmsg("\"%s\" must be between %g and %g, got %g", name, lo, hi, v),
				 errhint("docs/sql-reference.md lists the range of each parameter.")));
}

/* One hyper-parameter: a number, a list of numbers, or a range. */
static void
ParseHyper(TrainJob *job, int i)
{
	const char *name = hyper_params[i].name;
	double	   *field = HyperField(job, i);
	SearchParam *sp;
	JsonbValue	v;
	Jsonb	   *range;
	int			n;

	*field = hyper_params[i].dflt;
	if (!getKeyJsonValueFromContainer(&job->params->root, name, strlen(name), &v))
		return;
	if (v.type == jbvNumeric)
	{
		JsonGetNumber(&train_ctx, job->params, name, field);
		CheckRange(name, *field, hyper_params[i].lo, hyper_params[i].hi);
		return;
	}

	sp = &job->search[job->n_search++];
	sp->name = name;
	sp->field = field;
	if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
	{
		n = JsonGetNumberArray(&train_ctx, job->params, name, &sp->values);
		if (n < 1 || n > MAX_TRIALS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the list of values of \"%s\" must have 1 to %d elements", name, MAX_TRIALS),
					 errhint("Shorten the list, or use a range with a random search.")));
		for (int k = 0; k < n; k++)
			CheckRange(name, sp->values[k], hyper_params[i].lo, hyper_params[i].hi);
		sp->n_values = n;
		*field = sp->values[0];
		return;
	}

	if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
	{
		static const char *const keys[] = {"min", "max", "log", NULL};
		const JsonContext ctx = {ERRCODE_INVALID_PARAMETER_VALUE, psprintf("range of \"%s\"", name)};

		range = JsonGetObject(&train_ctx, job->params, name);
		JsonCheckKeys(&ctx, range, keys);
		if (!JsonGetNumber(&ctx, range, "min", &sp->lo))
			JsonMissingKey(&ctx, "min");
		if (!JsonGetNumber(&ctx, range, "max", &sp->hi))
			JsonMissingKey(&ctx, "max");
		JsonGetBool(&ctx, range, "log", &sp->log_scale);
		CheckRange(name, sp->lo, hyper_params[i].lo, hyper_params[i].hi);
		CheckRange(name, sp->hi, sp->lo, hyper_params[i].hi);
		if (sp->log_scale && sp->lo <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a log-scale range of \"%s\" must start above 0", name),
					 errhint("Start the range at a small positive number, or drop \"log\".")));
		*field = sp->lo;
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid ml_train parameters"),
			 errdetail("Key \"%s\" must be a number, a list of numbers or a range {\"min\": a, \"max\": b}.",
					   name),
			 errhint("Use 1, [0.1, 1, 10] or {\"min\": 0.1, \"max\": 10}.")));
}

/* Read the search-related params: hyper-parameter values, search, n_iter, cv, metric. */
void
TuneParseSearch(TrainJob *job)
{
	char	   *search = NULL;
	double		num;
	bool		has_range = false;
	double		grid = 1;

	job->n_search = 0;
	for (int i = 0; i < lengthof(hyper_params); i++)
		ParseHyper(job, i);
	for (int i = 0; i < job->n_search; i++)
	{
		has_range |= job->search[i].n_values == 0;
		grid *= Max(job->search[i].n_values, 1);
	}

	if (JsonGetString(&train_ctx, job->params, "search", &search) &&
		strcmp(search, "grid") != 0 && strcmp(search, "random") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown search \"%s\"", search),
				 errhint("Use \"grid\" or \"random\".")));
	if (search != NULL && job->n_search == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a search needs at least one hyper-parameter with a list of values or a range"),
				 errhint("For example '{\"l2\": [0.1, 1, 10]}'.")));
	job->random_search = search ? strcmp(search, "random") == 0 : has_range;
	if (!job->random_search && has_range)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a grid search needs lists of values, not ranges"),
				 errhint("Use \"search\": \"random\" to sample from ranges.")));
	if (!job->random_search && grid > MAX_TRIALS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the grid has %.0f combinations, more than %d", grid, MAX_TRIALS),
				 errhint("Use fewer values, or \"search\": \"random\" with \"n_iter\".")));

	job->n_iter = 10;
	if (JsonGetNumber(&train_ctx, job->params, "n_iter", &num))
	{
		CheckRange("n_iter", num, 1, MAX_TRIALS);
		if (!job->random_search || num != floor(num))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"n_iter\" must be a whole number, for a random search"),
					 errhint("Use a whole number such as 20.")));
		job->n_iter = (int) num;
	}

	job->cv = job->n_search > 0 ? 5 : 0;
	if (JsonGetNumber(&train_ctx, job->params, "cv", &num))
	{
		CheckRange("cv", num, 2, MAX_FOLDS);
		if (num != floor(num))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"cv\" must be a whole number of folds, got %g", num),
					 errhint("Use a whole number such as 5.")));
		job->cv = (int) num;
	}
}

/*
 * The metric a search and "deploy": "if_better" optimise: params' "metric",
 * which must suit the task, or r2 / accuracy. Known once the target is.
 */
void
TuneChooseMetric(TrainJob *job)
{
	job->metric = job->classify ? "accuracy" : "r2";
	if (JsonGetString(&train_ctx, job->params, "metric", &job->metric))
	{
		int			m;

		for (m = 0; m < lengthof(metrics); m++)
			if (strcmp(metrics[m].name, job->metric) == 0)
				break;
		if (m == lengthof(metrics) ||
			metrics[m].classification != job->classify)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metric \"%s\" does not apply to this algorithm", job->metric),
					 errhint(job->classify
							 ? "Use accuracy, precision_macro, recall_macro, f1_macro, log_loss or roc_auc."
							 : "Use r2, mse, rmse, mae or mape.")));
	}
}

/* Whether a larger value of a metric that a search can optimise is better. */
bool
TuneHigherIsBetter(const char *metric)
{
	for (int m = 0; m < lengthof(metrics); m++)
		if (strcmp(metrics[m].name, metric) == 0)
			return metrics[m].higher_is_better;
	elog(ERROR, "unknown metric \"%s\"", metric);
}

/* Mean of each numeric metric over the folds of k-fold cross-validation. */
static Jsonb *
CrossValidate(TrainJob *job)
{
	int			k = job->cv;
	int			n_keys = 0;
	char	   *keys[32];
	double		sums[32];
	int			counts[32];
	StringInfoData buf;

	for (int f = 0; f < k; f++)
	{
		int64		n;
		Jsonb	   *m;
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *key = NULL;

		TrainProgress(job, "cross-validation fold %d of %d", f + 1, k);
		TrainFit(job, psprintf("%s AND %s %% %d <> %d", job->train_rows, job->row_hash, k, f));
		m = TrainEvaluate(job, psprintf("%s AND %s %% %d = %d", job->train_rows, job->row_hash, k, f),
						  &n);
		it = JsonbIteratorInit(&m->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			int			i;

			if (tok == WJB_KEY)
				key = pnstrdup(v.val.string.val, v.val.string.len);
			if (tok != WJB_VALUE || v.type != jbvNumeric || strcmp(key, "n") == 0)
				continue;
			for (i = 0; i < n_keys && strcmp(keys[i], key) != 0; i++)
				;
			if (i == n_keys && n_keys < lengthof(keys))
			{
				keys[n_keys] = key;
				sums[n_keys] = 0;
				counts[n_keys++] = 0;
			}
			if (i < n_keys)
			{
				sums[i] += DatumGetFloat8(DirectFunctionCall1(numeric_float8,
															  NumericGetDatum(v.val.numeric)));
				counts[i]++;
			}
		}
	}

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < n_keys; i++)
	{
		appendStringInfo(&buf, "%s\"%s\": ", i > 0 ? ", " : "", keys[i]);
		JsonAppendNumber(&buf, sums[i] / counts[i]);
	}
	appendStringInfoChar(&buf, '}');
	return JsonParse(buf.data);
}

/* A metric's value in a metrics object, or NaN. */
static double
MetricValue(Jsonb *m, const char *metric)
{
	double		v;
	const JsonContext ctx = {ERRCODE_INTERNAL_ERROR, "metrics"};

	return JsonGetNumber(&ctx, m, metric, &v) ? v : NAN;
}

/* Set the hyper-parameters of one trial. */
static void
SetTrial(TrainJob *job, int trial, pg_prng_state *prng)
{
	int			rest = trial;

	for (int i = 0; i < job->n_search; i++)
	{
		SearchParam *sp = &job->search[i];

		if (!job->random_search)
		{
			/* mixed-radix digits of the trial number pick the grid point */
			*sp->field = sp->values[rest % sp->n_values];
			rest /= sp->n_values;
		}
		else if (sp->n_values > 0)
			*sp->field = sp->values[pg_prng_uint64_range(prng, 0, sp->n_values - 1)];
		else if (sp->log_scale)
			*sp->field = exp(log(sp->lo) + pg_prng_double(prng) * (log(sp->hi) - log(sp->lo)));
		else
			*sp->field = sp->lo + pg_prng_double(prng) * (sp->hi - sp->lo);
	}
}

/*
 * Run the search (or plain cross-validation). Appends every trial to
 * trials as JSON objects, leaves the best values in the job and returns
 * the cross-validated metrics of that choice; NULL when there is no "cv".
 */
Jsonb *
TuneRun(TrainJob *job, StringInfo trials)
{
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext trial_cxt;
	pg_prng_state prng;
	int			n_trials = 1;
	int			best = -1;
	double		best_score = 0;
	double	   *best_values = palloc0(sizeof(double) * MAX_SEARCH_PARAMS);
	Jsonb	   *best_metrics = NULL;
	bool		higher;

	if (job->cv == 0)
		return NULL;
	if (job->n_search == 0)
		return CrossValidate(job);

	higher = TuneHigherIsBetter(job->metric);
	if (job->random_search)
		n_trials = job->n_iter;
	else
		for (int i = 0; i < job->n_search; i++)
			n_trials *= job->search[i].n_values;
	pg_prng_seed(&prng, (uint64) job->seed);
	trial_cxt = AllocSetContextCreate(CurrentMemoryContext, "mlsys search trial",
									  ALLOCSET_DEFAULT_SIZES);

	for (int t = 0; t < n_trials; t++)
	{
		instr_time	start,
					elapsed;
		Jsonb	   *m;
		double		score;

		SetTrial(job, t, &prng);
		TrainProgress(job, "search trial %d of %d", t + 1, n_trials);
		INSTR_TIME_SET_CURRENT(start);
		MemoryContextSwitchTo(trial_cxt);
		m = CrossValidate(job);
		MemoryContextSwitchTo(outer);
		m = (Jsonb *) PG_DETOAST_DATUM_COPY(JsonbPGetDatum(m));
		MemoryContextReset(trial_cxt);
		INSTR_TIME_SET_CURRENT(elapsed);
		INSTR_TIME_SUBTRACT(elapsed, start);

		appendStringInfo(trials, "%s{\"trial\": %d, \"params\": {", t > 0 ? ", " : "", t + 1);
		for (int i = 0; i < job->n_search; i++)
		{
			appendStringInfo(trials, "%s\"%s\": ", i > 0 ? ", " : "", job->search[i].name);
			JsonAppendNumber(trials, *job->search[i].field);
		}
		appendStringInfo(trials, "}, \"metrics\": %s, \"seconds\": %.3f}",
						 JsonbToCString(NULL, &m->root, VARSIZE(m)), INSTR_TIME_GET_DOUBLE(elapsed));

		/* a trial whose metric is undefined never wins */
		score = MetricValue(m, job->metric);
		if (!isnan(score) && (best < 0 || (higher ? score > best_score : score < best_score)))
		{
			best = t;
			best_score = score;
			best_metrics = m;
			for (int i = 0; i < job->n_search; i++)
				best_values[i] = *job->search[i].field;
		}
	}
	MemoryContextDelete(trial_cxt);
	if (best < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no search trial produced a value of \"%s\"", job->metric),
				 errhint("Choose another \"metric\", or check the training rows.")));
	for (int i = 0; i < job->n_search; i++)
		*job->search[i].field = best_values[i];
	return best_metrics;
}
