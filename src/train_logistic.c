/*
 * train_logistic.c -- logistic regression, binary and multinomial (softmax).
 *
 * Model: n_sets parameter sets over [1, x] (intercept first). Binary
 * models have one set, the logit of the second class. Multinomial models
 * have one set per class when penalised (the penalty makes the softmax
 * parameters unique, as in scikit-learn), and K - 1 sets when not, the
 * last class being the reference with logit 0.
 *
 * Training minimises  -loglik + l2/2 * ||w||^2  (intercepts unpenalised;
 * scikit-learn's C is 1 / l2) by Newton's method. The table is never held
 * in memory: each Newton iteration is one pass of the aggregate
 * ml_logreg_pass(label, x, coef, classes), which sums the negative
 * log-likelihood, its gradient and its Hessian at the given parameters,
 *
 *   g_s  = sum (p_s - [y = s]) x~,   H_st = sum p_s ([s = t] - p_t) x~ x~'
 *
 * over x~ = [1, x], in batches with BLAS-3 (dsyrk / dgemm). Partial sums
 * from parallel workers are simply added. ml_train (train.c) solves the
 * Newton steps; see LogregPassFromArray.
 */
#include "postgres.h"

#include <math.h>

#include <cblas.h>

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "model.h"
#include "pass_args.h"
#include "train_logistic.h"

#define LOGREG_BATCH_ROWS 256

/*
 * Newton's method keeps a dense Hessian of (sets x width)^2 doubles per
 * aggregate state: 4096 parameters make 128 MB, and each Newton step solves it.
 */
#define LOGREG_MAX_PARAMETERS 4096

typedef struct LogregState
{
	int			n_classes;
	int			n_sets;
	int			width;			/* 1 + design columns */
	int			dim;			/* n_sets * width */
	double	   *coef;			/* [dim] parameters of this pass */
	text	  **classes;		/* [n_classes] labels, to find a row's class */
	int64		n;
	double		loss;
	double	   *grad;			/* [dim] */
	double	   *hess;			/* [dim * dim], upper triangle */
	int			nbuf;
	double	   *xbuf;			/* [BATCH * width] rows [1, x] */
	double	   *pbuf;			/* [BATCH * n_sets] probability of each set's class */
	double	   *rbuf;			/* [n_sets * BATCH] residuals p - y, column-major */
	double	   *scratch;		/* [BATCH * width] */
	double	   *proba;			/* [n_classes] */
} LogregState;

PG_FUNCTION_INFO_V1(logreg_pass_accum);
PG_FUNCTION_INFO_V1(logreg_pass_combine);
PG_FUNCTION_INFO_V1(logreg_pass_serialize);
PG_FUNCTION_INFO_V1(logreg_pass_deserialize);
PG_FUNCTION_INFO_V1(logreg_pass_final);

/* Parameter sets for n_classes classes: see the header comment. */
int
LogisticSets(int n_classes, double l2)
{
	if (n_classes == 2)
		return 1;
	return l2 > 0 ? n_classes : n_classes - 1;
}

/* Refuse a model whose Hessian would not fit LOGREG_MAX_PARAMETERS. */
void
LogisticCheckSize(int n_sets, int width)
{
	if ((int64) n_sets * width > LOGREG_MAX_PARAMETERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("logistic regression would have %lld parameters, more than %d",
						(long long) n_sets * width, LOGREG_MAX_PARAMETERS),
				 errdetail("There is one parameter per class and design column, plus intercepts."),
				 errhint("Use fewer features or classes, or algorithm \"naive_bayes\".")));
}

/* The class a parameter set gives the logit of. */
static inline int
SetClass(int n_classes, int set)
{
	return n_classes == 2 ? 1 : set;
}

/* The parameter set of a class, or -1 for a class whose logit is 0. */
static inline int
ClassSet(int n_classes, int n_sets, int k)
{
	if (n_classes == 2)
		return k == 1 ? 0 : -1;
	return k < n_sets ? k : -1;
}

static double
Logit(const double *c, int width, const double *design)
{
	double		z = c[0];

	for (int j = 1; j < width; j++)
		z += c[j] * design[j - 1];
	return z;
}

/*
 * Class probabilities for one design vector (n_design = width - 1 values);
 * returns log(sum(exp(logits))), so that -log p_y = result - logit_y.
 */
static double
Probabilities(const double *coef, int n_sets, int n_classes, int width,
			  const double *design, double *proba)
{
	double		zmax = 0;		/* classes without a set have logit 0 */
	double		sum = 0;

	for (int k = 0; k < n_classes; k++)
		proba[k] = 0;
	for (int s = 0; s < n_sets; s++)
		proba[SetClass(n_classes, s)] = Logit(coef + s * width, width, design);
	if (n_sets == n_classes)
		zmax = proba[0];
	for (int k = 0; k < n_classes; k++)
		zmax = Max(zmax, proba[k]);
	for (int k = 0; k < n_classes; k++)
	{
		double		z = proba[k];

		proba[k] = exp(z - zmax);
		sum += proba[k];
	}
	for (int k = 0; k < n_classes; k++)
		proba[k] /= sum;
	return zmax + log(sum);
}

void
LogisticProbabilities(const double *coef, int n_sets, int n_classes, int width,
					  const double *design, double *proba)
{
	(void) Probabilities(coef, n_sets, n_classes, width, design, proba);
}

static LogregState *
LogregStateCreate(int n_classes, int n_sets, int width)
{
	LogregState *s = palloc0(sizeof(LogregState));

	s->n_classes = n_classes;
	s->n_sets = n_sets;
	s->width = width;
	s->dim = n_sets * width;
	s->coef = palloc0(sizeof(double) * s->dim);
	s->grad = palloc0(sizeof(double) * s->dim);
	s->hess = palloc0(mul_size(sizeof(double), mul_size(s->dim, s->dim)));
	return s;
}

/* Add the buffered rows' gradient and Hessian terms. */
static void
LogregFlush(LogregState *s)
{
	int			nb = s->nbuf,
				w = s->width,
				dim = s->dim;

	if (nb == 0)
		return;
	/* G (w x S) += X (w x nb) R (nb x S) */
	cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, w, s->n_sets, nb,
				1.0, s->xbuf, w, s->rbuf, LOGREG_BATCH_ROWS, 1.0, s->grad, w);
	for (int a = 0; a < s->n_sets; a++)
	{
		double	   *block = s->hess + a * w + a * w * dim;

		/* diagonal block: weights p(1 - p) >= 0, so a rank-k update of scaled rows */
		for (int i = 0; i < nb; i++)
		{
			double		p = s->pbuf[i * s->n_sets + a];
			double		r = sqrt(p * (1 - p));

			for (int j = 0; j < w; j++)
				s->scratch[i * w + j] = r * s->xbuf[i * w + j];
		}
		cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, w, nb, 1.0, s->scratch, w,
					1.0, block, dim);

		/* off-diagonal blocks: weights -p_a p_b */
		for (int b = a + 1; b < s->n_sets; b++)
		{
			for (int i = 0; i < nb; i++)
			{
				double		c = -s->pbuf[i * s->n_sets + a] * s->pbuf[i * s->n_sets + b];

				for (int j = 0; j < w; j++)
					s->scratch[i * w + j] = c * s->xbuf[i * w + j];
			}
			cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, w, w, nb, 1.0, s->xbuf, w,
						s->scratch, w, 1.0, s->hess + a * w + b * w * dim, dim);
		}
	}
	s->nbuf = 0;
}

/*
 * Transition: ml_logreg_pass(label text, x float8[], coef float8[],
 * classes text[]). Rows with a NULL label or design are skipped.
 */
Datum
logreg_pass_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	LogregState *s = PG_ARGISNULL(0) ? NULL : (LogregState *) PG_GETARG_POINTER(0);
	ArrayType  *xarr,
			   *carr;
	int			y,
				d;
	const double *x;
	double	   *row;
	double		lse;
	int			yset;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "logreg_pass_accum called in non-aggregate context");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		/* a skipped row: the state stays as it is, possibly SQL NULL */
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	if (PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parameters and classes must not be NULL"),
				 errhint("Pass the current parameters and the class list.")));

	xarr = PG_GETARG_ARRAYTYPE_P(2);
	d = PassDesignLength(xarr);

	if (s == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(aggctx);
		int			n_classes;
		text	  **classes = PassClassLabels(PG_GETARG_ARRAYTYPE_P(4), &n_classes);
		int			ncoef;

		MemoryContextSwitchTo(old);
		carr = PG_GETARG_ARRAYTYPE_P(3);
		ncoef = ArrayGetNItems(ARR_NDIM(carr), ARR_DIMS(carr));
		if (ARR_NDIM(carr) != 1 || ARR_HASNULL(carr) || ncoef % (d + 1) != 0 ||
			(ncoef / (d + 1) != LogisticSets(n_classes, 0) &&
			 ncoef / (d + 1) != LogisticSets(n_classes, 1)))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("parameter array does not fit %d classes and %d design columns",
							n_classes, d),
					 errhint("Pass one intercept and one coefficient per design column for each parameter set.")));
		LogisticCheckSize(ncoef / (d + 1), d + 1);
		old = MemoryContextSwitchTo(aggctx);
		s = LogregStateCreate(n_classes, ncoef / (d + 1), d + 1);
		memcpy(s->coef, ARR_DATA_PTR(carr), sizeof(double) * s->dim);
		s->xbuf = palloc(sizeof(double) * LOGREG_BATCH_ROWS * s->width);
		s->scratch = palloc(sizeof(double) * LOGREG_BATCH_ROWS * s->width);
		s->pbuf = palloc(sizeof(double) * LOGREG_BATCH_ROWS * s->n_sets);
		s->rbuf = palloc(sizeof(double) * LOGREG_BATCH_ROWS * s->n_sets);
		s->proba = palloc(sizeof(double) * n_classes);
		s->classes = classes;
		MemoryContextSwitchTo(old);
	}
	y = PassClassIndex(s->classes, s->n_classes, PG_GETARG_TEXT_PP(1));
	if (d + 1 != s->width)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("design array has %d elements, but earlier rows had %d", d, s->width - 1),
				 errhint("Pass the same columns in every row.")));

	x = (const double *) ARR_DATA_PTR(xarr);
	row = s->xbuf + s->nbuf * s->width;
	row[0] = 1.0;
	for (int j = 0; j < d; j++)
	{
		if (!isfinite(x[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("design value must be finite, got %g", x[j]),
					 errhint("Filter or impute rows with NaN or infinite values.")));
		row[j + 1] = x[j];
	}
	/* -log p_y = log(sum(exp(logits))) - logit_y, exact even when p_y underflows */
	lse = Probabilities(s->coef, s->n_sets, s->n_classes, s->width, x, s->proba);
	yset = ClassSet(s->n_classes, s->n_sets, y);
	s->loss += lse - (yset < 0 ? 0.0 : Logit(s->coef + yset * s->width, s->width, x));
	for (int a = 0; a < s->n_sets; a++)
	{
		int			k = SetClass(s->n_classes, a);

		s->pbuf[s->nbuf * s->n_sets + a] = s->proba[k];
		s->rbuf[a * LOGREG_BATCH_ROWS + s->nbuf] = s->proba[k] - (y == k ? 1.0 : 0.0);
	}
	s->n++;
	if (++s->nbuf == LOGREG_BATCH_ROWS)
		LogregFlush(s);
	PG_RETURN_POINTER(s);
}

Datum
logreg_pass_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	LogregState *s1 = PG_ARGISNULL(0) ? NULL : (LogregState *) PG_GETARG_POINTER(0);
	LogregState *s2 = PG_ARGISNULL(1) ? NULL : (LogregState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "logreg_pass_combine called in non-aggregate context");
	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	LogregFlush(s2);
	if (s1 == NULL)
	{
		/* deserialised states live in short-lived memory: copy */
		MemoryContext old = MemoryContextSwitchTo(aggctx);

		s1 = LogregStateCreate(s2->n_classes, s2->n_sets, s2->width);
		MemoryContextSwitchTo(old);
	}
	else if (s1->n_classes != s2->n_classes || s1->dim != s2->dim)
		elog(ERROR, "cannot combine logistic regression passes of different shapes");
	LogregFlush(s1);
	s1->n += s2->n;
	s1->loss += s2->loss;
	for (int i = 0; i < s1->dim; i++)
		s1->grad[i] += s2->grad[i];
	for (int j = 0; j < s1->dim; j++)
		for (int i = 0; i <= j; i++)
			s1->hess[i + j * s1->dim] += s2->hess[i + j * s2->dim];
	PG_RETURN_POINTER(s1);
}

/* int32 n_classes, n_sets, width; int64 n; loss, grad, upper Hessian. */
Datum
logreg_pass_serialize(PG_FUNCTION_ARGS)
{
	LogregState *s = (LogregState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	LogregFlush(s);
	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->n_classes);
	pq_sendint32(&buf, s->n_sets);
	pq_sendint32(&buf, s->width);
	pq_sendint64(&buf, s->n);
	pq_sendfloat8(&buf, s->loss);
	for (int i = 0; i < s->dim; i++)
		pq_sendfloat8(&buf, s->grad[i]);
	for (int j = 0; j < s->dim; j++)
		for (int i = 0; i <= j; i++)
			pq_sendfloat8(&buf, s->hess[i + j * s->dim]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
logreg_pass_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	LogregState *s;
	int			n_classes,
				n_sets,
				width;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	n_classes = pq_getmsgint(&buf, 4);
	n_sets = pq_getmsgint(&buf, 4);
	width = pq_getmsgint(&buf, 4);
	if (n_classes < 2 || n_classes > MLSYS_MAX_CLASSES || n_sets < 1 || n_sets > n_classes ||
		width < 2 || width > MLSYS_MAX_FEATURES + 1 || n_sets * width > LOGREG_MAX_PARAMETERS ||
		(size_t) (buf.len - buf.cursor) != sizeof(double) *
		(1 + 1 + (size_t) n_sets * width + (size_t) n_sets * width * (n_sets * width + 1) / 2))
		elog(ERROR, "invalid logistic regression aggregate state");
	s = LogregStateCreate(n_classes, n_sets, width);
	s->n = pq_getmsgint64(&buf);
	s->loss = pq_getmsgfloat8(&buf);
	for (int i = 0; i < s->dim; i++)
		s->grad[i] = pq_getmsgfloat8(&buf);
	for (int j = 0; j < s->dim; j++)
		for (int i = 0; i <= j; i++)
			s->hess[i + j * s->dim] = pq_getmsgfloat8(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* Final: [n, loss, gradient..., Hessian upper triangle column by column]. */
Datum
logreg_pass_final(PG_FUNCTION_ARGS)
{
	LogregState *s = PG_ARGISNULL(0) ? NULL : (LogregState *) PG_GETARG_POINTER(0);
	size_t		len;
	Datum	   *out;
	int			k = 0;

	if (s == NULL)
		PG_RETURN_NULL();
	LogregFlush(s);
	len = 2 + s->dim + (size_t) s->dim * (s->dim + 1) / 2;
	out = palloc(sizeof(Datum) * len);
	out[k++] = Float8GetDatum((double) s->n);
	out[k++] = Float8GetDatum(s->loss);
	for (int i = 0; i < s->dim; i++)
		out[k++] = Float8GetDatum(s->grad[i]);
	for (int j = 0; j < s->dim; j++)
		for (int i = 0; i <= j; i++)
			out[k++] = Float8GetDatum(s->hess[i + j * s->dim]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, len, FLOAT8OID, sizeof(double),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Unpack the result of ml_logreg_pass for a problem of dim parameters. */
void
LogregPassFromArray(ArrayType *arr, int dim, LogregPass *pass)
{
	const double *v = (const double *) ARR_DATA_PTR(arr);
	size_t		len = 2 + dim + (size_t) dim * (dim + 1) / 2;

	if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr) ||
		(size_t) ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) != len)
		elog(ERROR, "unexpected result of ml_logreg_pass");
	pass->n = (int64) v[0];
	pass->loss = v[1];
	pass->grad = palloc(sizeof(double) * dim);
	memcpy(pass->grad, v + 2, sizeof(double) * dim);
	pass->hess = palloc0(mul_size(sizeof(double), mul_size(dim, dim)));
	v += 2 + dim;
	for (int j = 0; j < dim; j++)
		for (int i = 0; i <= j; i++)
			pass->hess[i + j * dim] = *v++;
}
