/*
 * train_naive_bayes.c -- Gaussian naive Bayes: one parallel-safe pass.
 *
 * The aggregate ml_naive_bayes_pass(label, x, classes) keeps, per class,
 * the row count, the mean and the centred sum of squares of each design
 * column (Welford's update per row, Chan et al.'s pairwise merge between
 * parallel workers). ml_train turns them into a model as scikit-learn's
 * GaussianNB does: class priors are the class frequencies, variances are
 * population variances plus var_smoothing times the largest variance of
 * any column over all rows.
 *
 * Prediction: log P(k | x) = log prior_k - 1/2 sum_j (log(2 pi v_kj)
 * + (x_j - m_kj)^2 / v_kj) + const, normalised by a softmax.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "model.h"
#include "pass_args.h"
#include "train_naive_bayes.h"

typedef struct NaiveBayesState
{
	int			n_classes;
	int			d;				/* design columns */
	text	  **classes;		/* [n_classes], transition states only */
	double	   *count;			/* [n_classes] */
	double	   *mean;			/* [n_classes * d] */
	double	   *m2;				/* [n_classes * d] centred sums of squares */
} NaiveBayesState;

PG_FUNCTION_INFO_V1(naive_bayes_accum);
PG_FUNCTION_INFO_V1(naive_bayes_combine);
PG_FUNCTION_INFO_V1(naive_bayes_serialize);
PG_FUNCTION_INFO_V1(naive_bayes_deserialize);
PG_FUNCTION_INFO_V1(naive_bayes_final);

/* Class probabilities of one design vector. */
void
NaiveBayesProbabilities(const Model *model, const double *design, double *proba)
{
	int			d = model->n_design;
	int			width = ModelSetWidth(model);
	double		best = -INFINITY;
	double		sum = 0;

	for (int k = 0; k < model->n_classes; k++)
	{
		const double *set = model->coef + k * width;
		double		jll = set[0];

		for (int j = 0; j < d; j++)
		{
			double		v = set[1 + d + j];
			double		diff = design[j] - set[1 + j];

			jll -= 0.5 * (log(2 * M_PI * v) + diff * diff / v);
		}
		proba[k] = jll;
		best = Max(best, jll);
	}
	for (int k = 0; k < model->n_classes; k++)
	{
		proba[k] = exp(proba[k] - best);
		sum += proba[k];
	}
	for (int k = 0; k < model->n_classes; k++)
		proba[k] /= sum;
}

static NaiveBayesState *
StateCreate(int n_classes, int d)
{
	NaiveBayesState *s = palloc0(sizeof(NaiveBayesState));

	s->n_classes = n_classes;
	s->d = d;
	s->count = palloc0(sizeof(double) * n_classes);
	s->mean = palloc0(sizeof(double) * n_classes * d);
	s->m2 = palloc0(sizeof(double) * n_classes * d);
	return s;
}

/* Transition: ml_naive_bayes_pass(label text, x float8[], classes text[]). */
Datum
naive_bayes_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	NaiveBayesState *s = PG_ARGISNULL(0) ? NULL : (NaiveBayesState *) PG_GETARG_POINTER(0);
	ArrayType  *xarr;
	const double *x;
	int			d,
				k;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "naive_bayes_accum called in non-aggregate context");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		/* a skipped row: the state stays as it is, possibly SQL NULL */
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("classes must not be NULL"),
				 errhint("Pass the class list.")));
	xarr = PG_GETARG_ARRAYTYPE_P(2);
	d = PassDesignLength(xarr);

	if (s == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(aggctx);
		int			n_classes;
		text	  **classes = PassClassLabels(PG_GETARG_ARRAYTYPE_P(3), &n_classes);

		s = StateCreate(n_classes, d);
		s->classes = classes;
		MemoryContextSwitchTo(old);
	}
	if (d != s->d)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("design array has %d elements, but earlier rows had %d", d, s->d),
				 errhint("Pass the same columns in every row.")));

	k = PassClassIndex(s->classes, s->n_classes, PG_GETARG_TEXT_PP(1));

	/* Welford's update of class k */
	x = (const double *) ARR_DATA_PTR(xarr);
	s->count[k] += 1;
	for (int j = 0; j < d; j++)
	{
		double	   *mean = &s->mean[k * d + j];
		double		delta;

		if (!isfinite(x[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("design value must be finite, got %g", x[j]),
					 errhint("Filter or impute rows with NaN or infinite values.")));
		delta = x[j] - *mean;
		*mean += delta / s->count[k];
		s->m2[k * d + j] += delta * (x[j] - *mean);
	}
	PG_RETURN_POINTER(s);
}

/* Merge the per-class statistics of b into a (Chan, Golub & LeVeque). */
static void
StateMerge(NaiveBayesState *a, const NaiveBayesState *b)
{
	int			d = a->d;

	for (int k = 0; k < a->n_classes; k++)
	{
		double		na = a->count[k],
					nb = b->count[k],
					n = na + nb;

		if (nb == 0)
			continue;
		for (int j = 0; j < d; j++)
		{
			double		delta = b->mean[k * d + j] - a->mean[k * d + j];

			a->m2[k * d + j] += b->m2[k * d + j] + delta * delta * na * nb / n;
			a->mean[k * d + j] += delta * nb / n;
		}
		a->count[k] = n;
	}
}

Datum
naive_bayes_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	NaiveBayesState *s1 = PG_ARGISNULL(0) ? NULL : (NaiveBayesState *) PG_GETARG_POINTER(0);
	NaiveBayesState *s2 = PG_ARGISNULL(1) ? NULL : (NaiveBayesState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "naive_bayes_combine called in non-aggregate context");
	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	if (s1 == NULL)
	{
		/* deserialised states live in short-lived memory: copy */
		MemoryContext old = MemoryContextSwitchTo(aggctx);

		s1 = StateCreate(s2->n_classes, s2->d);
		MemoryContextSwitchTo(old);
	}
	else if (s1->n_classes != s2->n_classes || s1->d != s2->d)
		elog(ERROR, "cannot combine naive Bayes states of different shapes");
	StateMerge(s1, s2);
	PG_RETURN_POINTER(s1);
}

/* int32 n_classes, d; then counts, means and sums of squares. */
Datum
naive_bayes_serialize(PG_FUNCTION_ARGS)
{
	NaiveBayesState *s = (NaiveBayesState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	int			kd = s->n_classes * s->d;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->n_classes);
	pq_sendint32(&buf, s->d);
	for (int k = 0; k < s->n_classes; k++)
		pq_sendfloat8(&buf, s->count[k]);
	for (int i = 0; i < kd; i++)
		pq_sendfloat8(&buf, s->mean[i]);
	for (int i = 0; i < kd; i++)
		pq_sendfloat8(&buf, s->m2[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
naive_bayes_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	NaiveBayesState *s;
	int			n_classes,
				d;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	n_classes = pq_getmsgint(&buf, 4);
	d = pq_getmsgint(&buf, 4);
	if (n_classes < 2 || n_classes > MLSYS_MAX_CLASSES || d < 1 || d > MLSYS_MAX_FEATURES ||
		(size_t) (buf.len - buf.cursor) != sizeof(double) * n_classes * (1 + 2 * (size_t) d))
		elog(ERROR, "invalid naive Bayes aggregate state");
	s = StateCreate(n_classes, d);
	for (int k = 0; k < n_classes; k++)
		s->count[k] = pq_getmsgfloat8(&buf);
	for (int i = 0; i < n_classes * d; i++)
		s->mean[i] = pq_getmsgfloat8(&buf);
	for (int i = 0; i < n_classes * d; i++)
		s->m2[i] = pq_getmsgfloat8(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* Final: per class, [count, means..., sums of squares...]. */
Datum
naive_bayes_final(PG_FUNCTION_ARGS)
{
	NaiveBayesState *s = PG_ARGISNULL(0) ? NULL : (NaiveBayesState *) PG_GETARG_POINTER(0);
	int			d,
				n = 0;
	Datum	   *out;

	if (s == NULL)
		PG_RETURN_NULL();
	d = s->d;
	out = palloc(sizeof(Datum) * s->n_classes * (1 + 2 * d));
	for (int k = 0; k < s->n_classes; k++)
	{
		out[n++] = Float8GetDatum(s->count[k]);
		for (int j = 0; j < d; j++)
			out[n++] = Float8GetDatum(s->mean[k * d + j]);
		for (int j = 0; j < d; j++)
			out[n++] = Float8GetDatum(s->m2[k * d + j]);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(out, n, FLOAT8OID, sizeof(double),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Fill model->coef from the result of ml_naive_bayes_pass: log priors,
 * means, and population variances widened by var_smoothing times the
 * largest column variance over all rows (scikit-learn's epsilon).
 */
void
NaiveBayesFromPass(Model *model, ArrayType *arr, double var_smoothing)
{
	int			K = model->n_classes,
				d = model->n_design,
				width = 1 + 2 * d;
	const double *v = (const double *) ARR_DATA_PTR(arr);
	NaiveBayesState *all = StateCreate(1, d);
	NaiveBayesState one = {1, d, NULL, NULL, NULL, NULL};
	double		total = 0,
				max_var = 0;

	if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr) ||
		ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) != K * width)
		elog(ERROR, "unexpected result of ml_naive_bayes_pass");

	/* variance of each column over all rows: merge the classes */
	for (int k = 0; k < K; k++)
	{
		one.count = (double *) &v[k * width];
		one.mean = (double *) &v[k * width + 1];
		one.m2 = (double *) &v[k * width + 1 + d];
		StateMerge(all, &one);
		total += v[k * width];
	}
	for (int j = 0; j < d; j++)
		max_var = Max(max_var, all->m2[j] / total);

	model->n_sets = K;
	model->coef = palloc(sizeof(double) * K * width);
	for (int k = 0; k < K; k++)
	{
		const double *src = &v[k * width];
		double	   *set = model->coef + k * width;

		set[0] = log(src[0] / total);
		for (int j = 0; j < d; j++)
		{
			set[1 + j] = src[1 + j];
			set[1 + d + j] = src[1 + d + j] / src[0] + var_smoothing * max_var;
			if (!(set[1 + d + j] > 0))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("design column %d has no variance within class \"%s\"",
								j + 1, model->classes[k]),
						 errhint("Set \"var_smoothing\" above 0, or leave constant features out.")));
		}
	}
}
