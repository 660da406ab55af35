/*
 * train_linear.c -- ml_linreg_fit(y, x[, params]): OLS / ridge regression as
 * one parallel-safe aggregate pass.
 *
 * State: the row count n, the mean vector and the centred cross-product
 * matrix ("co-moment" M = sum (z - mean)(z - mean)') of z = (x, y), p = k+1
 * values per row. Rows are buffered and folded in per batch: the batch is
 * centred on its own mean, added with one dsyrk, and merged with the
 * pairwise update of Chan, Golub & LeVeque (1979), the same formula core's
 * float8_regr_combine uses for two variables:
 *
 *   M = M_a + M_b + (n_a n_b / n) d d',   mean = mean_a + d n_b / n,
 *   d = mean_b - mean_a
 *
 * Centring keeps the accuracy that raw sums of x x' lose on data far from
 * zero. The same merge combines partial states of parallel workers.
 *
 * Fit: with intercept, (M_xx + l2 I) b = M_xy and intercept = mean_y -
 * mean_x . b: the intercept is not penalised (scikit-learn's Ridge
 * convention). Without intercept the raw cross-products
 * M + n mean mean' are used instead. The objective is
 *
 *   1/2 ||y - b0 - X b||^2 + l1 ||b||_1 + l2/2 ||b||^2
 *
 * so scikit-learn's Ridge(alpha) is l2 = alpha, Lasso(alpha) is
 * l1 = n alpha and ElasticNet(alpha, r) is l1 = n alpha r,
 * l2 = n alpha (1 - r). With l1 > 0 it is minimised by coordinate descent
 * on the same matrices (Friedman, Hastie & Tibshirani 2010, "covariance
 * updates"), so lasso and elastic net need no second pass either.
 * Ordinary least squares also gets the standard errors of its parameters,
 * sigma^2 (X'X)^-1 with sigma^2 = SSE / (n - parameters).
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "jsonopt.h"
#include "linalg.h"
#include "model.h"

/* Rows folded in per dsyrk call; the buffer grows up to this size. */
#define LINREG_BATCH_ROWS	256

/* A column whose R^2 on the others exceeds 1 - this is called collinear. */
#define LINREG_RANK_TOL		1e-10

/* Coordinate descent stops when no coefficient moves by more than this, relatively. */
#define LASSO_TOL			1e-13
#define LASSO_MAX_SWEEPS	100000

typedef struct LinregParams
{
	double		l1;
	double		l2;
	bool		fit_intercept;
	char	  **features;		/* [k] names, or NULL for x1..xk */
	char	   *target;
} LinregParams;

typedef struct LinregState
{
	int			k;				/* features */
	int			p;				/* k + 1: features, then y */
	int64		n;				/* rows merged into mean and gram */
	double	   *mean;			/* [p] */
	double	   *gram;			/* [p * p] centred cross-products, upper */
	double	   *min;			/* [p] */
	double	   *max;			/* [p] */
	double	   *scratch;		/* [p] batch mean / merge delta */
	int			nbuf;			/* rows waiting in buf */
	int			bufcap;
	double	   *buf;			/* [bufcap * p], row after row */
	Jsonb	   *params;			/* copy of the params argument, or NULL */
	bool		params_vary;	/* params is not a constant: check every row */
	LinregParams opts;
} LinregState;

PG_FUNCTION_INFO_V1(linreg_accum);
PG_FUNCTION_INFO_V1(linreg_combine);
PG_FUNCTION_INFO_V1(linreg_serialize);
PG_FUNCTION_INFO_V1(linreg_deserialize);
PG_FUNCTION_INFO_V1(linreg_final);

static const JsonContext linreg_ctx = {
	ERRCODE_INVALID_PARAMETER_VALUE, "linear regression parameters"
};

/* Parse and check params for a model of k features. */
static void
LinregParseParams(Jsonb *params, int k, LinregParams *opts)
{
	static const char *const keys[] = {"l1", "l2", "intercept", "features", "target", NULL};
	int			nnames;

	opts->l1 = 0.0;
	opts->l2 = 0.0;
	opts->fit_intercept = true;
	opts->features = NULL;
	opts->target = "";
	if (params == NULL)
		return;

	JsonCheckKeys(&linreg_ctx, params, keys);
	if (JsonGetNumber(&linreg_ctx, params, "l2", &opts->l2) &&
		!(opts->l2 >= 0 && isfinite(opts->l2)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ridge penalty \"l2\" must be a finite number >= 0, got %g", opts->l2),
				 errhint("Use 0 for none, or a positive number such as 1.")));
	if (JsonGetNumber(&linreg_ctx, params, "l1", &opts->l1) &&
		!(opts->l1 >= 0 && isfinite(opts->l1)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lasso penalty \"l1\" must be a finite number >= 0, got %g", opts->l1),
				 errhint("Use 0 for none, or a positive number such as 1.")));
	JsonGetBool(&linreg_ctx, params, "intercept", &opts->fit_intercept);
	JsonGetString(&linreg_ctx, params, "target", &opts->target);

	nnames = JsonGetStringArray(&linreg_ctx, params, "features", &opts->features);
	if (nnames >= 0 && nnames != k)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"features\" names %d features, but the rows have %d", nnames, k),
				 errhint("Give one name per element of the feature array, in the same order.")));
	for (int i = 0; i < nnames; i++)
	{
		if (opts->features[i][0] == '\0' || strlen(opts->features[i]) > MLSYS_MAX_NAME_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature name \"%s\" is empty or too long", opts->features[i]),
					 errhint("Use names of 1 to %d bytes, like column names.", MLSYS_MAX_NAME_LEN)));
		for (int j = 0; j < i; j++)
			if (strcmp(opts->features[i], opts->features[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature name \"%s\" appears twice", opts->features[i]),
						 errhint("Name each feature once.")));
	}
	if (strlen(opts->target) > MLSYS_MAX_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target name \"%s\" is too long", opts->target),
				 errhint("Use a shorter name.")));
}

static char *
FeatureName(const LinregState *s, int j)
{
	return s->opts.features ? s->opts.features[j] : psprintf("x%d", j + 1);
}

/* A new empty state for k features, in the current memory context. */
static LinregState *
LinregStateCreate(int k, Jsonb *params)
{
	LinregState *s = palloc0(sizeof(LinregState));

	s->k = k;
	s->p = k + 1;
	s->mean = palloc0(sizeof(double) * s->p);
	s->gram = palloc0(mul_size(sizeof(double), mul_size(s->p, s->p)));
	s->min = palloc(sizeof(double) * s->p);
	s->max = palloc(sizeof(double) * s->p);
	for (int j = 0; j < s->p; j++)
	{
		s->min[j] = INFINITY;
		s->max[j] = -INFINITY;
	}
	s->scratch = palloc0(sizeof(double) * s->p);
	s->params = params ? (Jsonb *) PG_DETOAST_DATUM_COPY(PointerGetDatum(params)) : NULL;
	LinregParseParams(s->params, k, &s->opts);
	return s;
}

/*
 * Merge n_b rows with mean mean_b, co-moments gram_b (NULL when already
 * added) and extremes min_b / max_b into s.
 */
static void
LinregMerge(LinregState *s, int64 n_b, const double *mean_b, const double *gram_b,
			const double *min_b, const double *max_b)
{
	int			p = s->p;
	double		n = (double) s->n + (double) n_b;

	if (n_b == 0)
		return;
	for (int j = 0; j < p; j++)
	{
		s->min[j] = Min(s->min[j], min_b[j]);
		s->max[j] = Max(s->max[j], max_b[j]);
	}
	if (gram_b != NULL)
		for (int i = 0; i < p * p; i++)
			s->gram[i] += gram_b[i];
	if (s->n == 0)
		memcpy(s->mean, mean_b, sizeof(double) * p);
	else
	{
		for (int j = 0; j < p; j++)
			s->scratch[j] = mean_b[j] - s->mean[j];
		LinalgRank1Update(p, (double) s->n * (double) n_b / n, s->scratch, s->gram);
		for (int j = 0; j < p; j++)
			s->mean[j] += s->scratch[j] * (double) n_b / n;
	}
	s->n += n_b;
}

/* Fold the buffered rows into mean and gram. */
static void
LinregFlush(LinregState *s)
{
	int			p = s->p;
	int			nb = s->nbuf;
	double	   *bmean;
	double	   *bmin;
	double	   *bmax;

	if (nb == 0)
		return;
	bmean = palloc0(sizeof(double) * p * 3);
	bmin = bmean + p;
	bmax = bmin + p;
	memcpy(bmin, s->buf, sizeof(double) * p);
	memcpy(bmax, s->buf, sizeof(double) * p);
	for (int r = 0; r < nb; r++)
		for (int j = 0; j < p; j++)
		{
			double		v = s->buf[r * p + j];

			bmean[j] += v;
			bmin[j] = Min(bmin[j], v);
			bmax[j] = Max(bmax[j], v);
		}
	for (int j = 0; j < p; j++)
		bmean[j] /= nb;
	for (int r = 0; r < nb; r++)
		for (int j = 0; j < p; j++)
			s->buf[r * p + j] -= bmean[j];

	/* The batch's own co-moments go straight into gram; then merge means. */
	LinalgGramUpdate(p, nb, s->buf, s->gram);
	LinregMerge(s, nb, bmean, NULL, bmin, bmax);
	s->nbuf = 0;
	pfree(bmean);
}

static bool
ParamsEqual(Jsonb *a, Jsonb *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

/* Transition: buffer one (y, x) row; NULL y rows are skipped. */
Datum
linreg_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	MemoryContext old;
	LinregState *s = PG_ARGISNULL(0) ? NULL : (LinregState *) PG_GETARG_POINTER(0);
	ArrayType  *arr;
	int			k;
	double	   *row;
	const double *x;
	double		y;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "linreg_accum called in non-aggregate context");

	if (PG_ARGISNULL(1))
	{
		/* a skipped row: the state stays as it is, possibly SQL NULL */
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	y = PG_GETARG_FLOAT8(1);
	if (!isfinite(y))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("target value must be finite, got %g", y),
				 errhint("Filter out rows with NaN or infinite targets.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature array must not be NULL"),
				 errhint("Filter out such rows, or replace missing values with coalesce().")));

	arr = PG_GETARG_ARRAYTYPE_P(2);
	k = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (ARR_NDIM(arr) != 1 || k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("feature array must be one-dimensional and not empty"),
				 errhint("Pass one row's features as ARRAY[x1, x2, ...].")));
	if (k > MLSYS_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many features: %d", k),
				 errdetail("A model can have at most %d features.", MLSYS_MAX_FEATURES),
				 errhint("Use fewer features.")));

	if (s == NULL)
	{
		old = MemoryContextSwitchTo(aggctx);
		s = LinregStateCreate(k, PG_NARGS() > 3 && !PG_ARGISNULL(3) ? PG_GETARG_JSONB_P(3) : NULL);
		MemoryContextSwitchTo(old);
		s->params_vary = PG_NARGS() > 3 && !get_fn_expr_arg_stable(fcinfo->flinfo, 3);
	}
	else if (s->params_vary &&
			 !ParamsEqual(s->params, PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training parameters must be the same for every row"),
				 errhint("Pass the params as a constant.")));
	if (k != s->k)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("feature array has %d elements, but earlier rows had %d", k, s->k),
				 errhint("Every row must pass the same features in the same order.")));

	if (ARR_HASNULL(arr))
	{
		bits8	   *nulls = ARR_NULLBITMAP(arr);

		for (int j = 0; j < k; j++)
			if (!(nulls[j / 8] & (1 << (j % 8))))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("feature \"%s\" is NULL", FeatureName(s, j)),
						 errhint("Filter out such rows, replace missing values with coalesce(), or let ml_train impute them with params like '{\"impute\": \"mean\"}'.")));
	}
	if (ARR_ELEMTYPE(arr) != FLOAT8OID)
		elog(ERROR, "feature array must be float8[]");

	if (s->nbuf == s->bufcap)
	{
		if (s->bufcap == LINREG_BATCH_ROWS)
			LinregFlush(s);
		else
		{
			int			cap = s->bufcap == 0 ? 8 : s->bufcap * 2;

			s->buf = s->buf == NULL
				? MemoryContextAlloc(aggctx, sizeof(double) * cap * s->p)
				: repalloc(s->buf, sizeof(double) * cap * s->p);
			s->bufcap = cap;
		}
	}

	x = (const double *) ARR_DATA_PTR(arr);
	row = s->buf + (size_t) s->nbuf * s->p;
	for (int j = 0; j < k; j++)
	{
		if (!isfinite(x[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("feature \"%s\" must be finite, got %g", FeatureName(s, j), x[j]),
					 errhint("Filter out rows with NaN or infinite values.")));
		row[j] = x[j];
	}
	row[k] = y;
	s->nbuf++;
	PG_RETURN_POINTER(s);
}

/* Copy of a state (deserialised states live in short-lived memory). */
static LinregState *
LinregStateCopy(const LinregState *src)
{
	LinregState *s = LinregStateCreate(src->k, src->params);

	LinregMerge(s, src->n, src->mean, src->gram, src->min, src->max);
	return s;
}

Datum
linreg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	MemoryContext old;
	LinregState *s1 = PG_ARGISNULL(0) ? NULL : (LinregState *) PG_GETARG_POINTER(0);
	LinregState *s2 = PG_ARGISNULL(1) ? NULL : (LinregState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "linreg_combine called in non-aggregate context");
	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	LinregFlush(s2);
	if (s1 == NULL)
	{
		old = MemoryContextSwitchTo(aggctx);
		s1 = LinregStateCopy(s2);
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(s1);
	}
	if (s1->k != s2->k)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot combine models of %d and %d features", s1->k, s2->k),
				 errhint("Pass the same features in every row.")));
	if (!ParamsEqual(s1->params, s2->params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training parameters must be the same for every row"),
				 errhint("Pass the params as a constant.")));
	LinregFlush(s1);
	LinregMerge(s1, s2->n, s2->mean, s2->gram, s2->min, s2->max);
	PG_RETURN_POINTER(s1);
}

/*
 * Serialised state: int32 k, int64 n, int32 params length (0 = none) and
 * bytes, p means, p minima, p maxima, then the upper triangle of gram
 * column by column.
 */
Datum
linreg_serialize(PG_FUNCTION_ARGS)
{
	LinregState *s = (LinregState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	LinregFlush(s);
	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->k);
	pq_sendint64(&buf, s->n);
	pq_sendint32(&buf, s->params ? VARSIZE(s->params) : 0);
	if (s->params)
		pq_sendbytes(&buf, (const char *) s->params, VARSIZE(s->params));
	for (int j = 0; j < s->p; j++)
		pq_sendfloat8(&buf, s->mean[j]);
	for (int j = 0; j < s->p; j++)
		pq_sendfloat8(&buf, s->min[j]);
	for (int j = 0; j < s->p; j++)
		pq_sendfloat8(&buf, s->max[j]);
	for (int j = 0; j < s->p; j++)
		for (int i = 0; i <= j; i++)
			pq_sendfloat8(&buf, s->gram[i + j * s->p]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
linreg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	LinregState *s;
	Jsonb	   *params = NULL;
	int			k,
				plen;
	int64		n;
	size_t		need;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;

	k = pq_getmsgint(&buf, 4);
	n = pq_getmsgint64(&buf);
	plen = pq_getmsgint(&buf, 4);
	if (k < 1 || k > MLSYS_MAX_FEATURES || n < 0 || plen < 0 || plen > buf.len - buf.cursor)
		elog(ERROR, "invalid linear regression aggregate state");
	if (plen > 0)
	{
		params = palloc(plen);
		pq_copymsgbytes(&buf, (char *) params, plen);
		if (VARSIZE(params) != (Size) plen)
			elog(ERROR, "invalid linear regression aggregate state");
	}

	s = LinregStateCreate(k, params);
	s->n = n;
	need = sizeof(double) * (3 * s->p + (size_t) s->p * (s->p + 1) / 2);
	if ((size_t) (buf.len - buf.cursor) != need)
		elog(ERROR, "invalid linear regression aggregate state");
	for (int j = 0; j < s->p; j++)
		s->mean[j] = pq_getmsgfloat8(&buf);
	for (int j = 0; j < s->p; j++)
		s->min[j] = pq_getmsgfloat8(&buf);
	for (int j = 0; j < s->p; j++)
		s->max[j] = pq_getmsgfloat8(&buf);
	for (int j = 0; j < s->p; j++)
		for (int i = 0; i <= j; i++)
			s->gram[i + j * s->p] = pq_getmsgfloat8(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* Element (i, j) of a symmetric matrix stored in its upper triangle. */
#define SYM(a, k, i, j) ((a)[Min(i, j) + Max(i, j) * (k)])

/*
 * Minimise 1/2 b'Ab - b'c + l1 ||b||_1 by cyclic coordinate descent, keeping
 * q = A b up to date so that each coordinate costs O(k). A (upper triangle)
 * already holds any ridge penalty on its diagonal.
 */
static void
LassoCoordinateDescent(int k, const double *a, const double *c, double l1, double *b)
{
	double	   *q = palloc0(sizeof(double) * k);
	int			sweep;

	memset(b, 0, sizeof(double) * k);
	for (sweep = 0; sweep < LASSO_MAX_SWEEPS; sweep++)
	{
		double		max_change = 0;
		double		max_coef = 0;

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < k; j++)
		{
			double		ajj = SYM(a, k, j, j);
			double		r,
						next,
						delta;

			if (ajj <= 0)
				continue;		/* a constant column without ridge stays at 0 */
			r = c[j] - (q[j] - ajj * b[j]);
			next = (r > l1 ? r - l1 : r < -l1 ? r + l1 : 0) / ajj;
			delta = next - b[j];
			if (delta != 0)
			{
				for (int i = 0; i < k; i++)
					q[i] += delta * SYM(a, k, i, j);
				b[j] = next;
			}
			max_change = Max(max_change, fabs(delta));
			max_coef = Max(max_coef, fabs(next));
		}
		if (max_change <= LASSO_TOL * max_coef)
			break;
	}
	if (sweep == LASSO_MAX_SWEEPS)
		ereport(WARNING,
				(errmsg("coordinate descent did not converge in %d sweeps", LASSO_MAX_SWEEPS),
				 errhint("Scale the features, or use a larger \"l2\".")));
	pfree(q);
}

/* The continued fraction of the regularised incomplete beta function I_x(a, b) (Lentz). */
static double
BetaContinuedFraction(double a, double b, double x)
{
	const double tiny = 1e-300;
	double		c = 1,
				d = 1 - (a + b) * x / (a + 1),
				h;

	d = 1 / (fabs(d) < tiny ? tiny : d);
	h = d;
	for (int m = 1; m <= 1000; m++)
	{
		double		even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
		double		odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
		double		step;

		d = 1 + even * d;
		c = 1 + even / c;
		d = 1 / (fabs(d) < tiny ? tiny : d);
		c = fabs(c) < tiny ? tiny : c;
		h *= d * c;
		d = 1 + odd * d;
		c = 1 + odd / c;
		d = 1 / (fabs(d) < tiny ? tiny : d);
		c = fabs(c) < tiny ? tiny : c;
		step = d * c;
		h *= step;
		if (fabs(step - 1) < 1e-16)
			break;
	}
	return h;
}

/*
 * log(Gamma(a + 1/2) / Gamma(a)). For large a the difference of lgamma()s
 * would lose about eps * a log a, so use its asymptotic series there.
 */
static double
LogGammaRatioHalf(double a)
{
	if (a < 100)
		return lgamma(a + 0.5) - lgamma(a);
	return 0.5 * log(a) - 1 / (8 * a) + 1 / (192 * a * a * a);
}

/*
 * Two-sided p-value of a t statistic with df degrees of freedom:
 * I_x(df/2, 1/2) with x = df / (df + t^2). Both x and 1 - x are formed
 * directly from t, so neither cancels when t is small or df large.
 */
double
StudentTwoSidedP(double t, double df)
{
	double		a = df / 2,
				b = 0.5,
				t2 = t * t,
				x,
				y,
				front;

	if (isnan(t) || df <= 0)
		return NAN;
	if (t2 == 0)
		return 1;
	if (isinf(t2))
		return 0;
	x = df / (df + t2);
	y = t2 / (df + t2);
	front = exp(LogGammaRatioHalf(a) - 0.5 * log(M_PI)
				- a * log1p(t2 / df) + b * (log(t2) - log(df + t2)));
	/* the continued fraction converges fast only on this side of the mean */
	if (x < (a + 1) / (a + b + 2))
		return front * BetaContinuedFraction(a, b, x) / a;
	return 1 - front * BetaContinuedFraction(b, a, y) / b;
}

/*
 * Standard errors of OLS parameters [intercept, b]: a is the k x k normal
 * matrix (upper), c the right-hand side, yy the target's sum of squares on
 * the same basis.
 */
static double *
StandardErrors(LinregState *s, const double *a, const double *c, double yy, const double *b)
{
	int			k = s->k;
	bool		intercept = s->opts.fit_intercept;
	double		df = (double) s->n - k - (intercept ? 1 : 0);
	double	   *inv = palloc(sizeof(double) * k * k);
	double	   *se = palloc0(sizeof(double) * (k + 1));
	double		sse = yy;
	double		sigma2;

	memcpy(inv, a, sizeof(double) * k * k);
	if (df <= 0 || !LinalgInvertSpd(k, inv))
		return NULL;
	for (int j = 0; j < k; j++)
		sse -= b[j] * c[j];
	sigma2 = Max(sse, 0) / df;
	for (int j = 0; j < k; j++)
		se[1 + j] = sqrt(sigma2 * inv[j + j * k]);
	if (intercept)
	{
		/* Var(b0) = sigma^2 (1/n + mean' inv mean) */
		double		quad = 0;

		for (int i = 0; i < k; i++)
			for (int j = 0; j < k; j++)
				quad += s->mean[i] * SYM(inv, k, i, j) * s->mean[j];
		se[0] = sqrt(sigma2 * (1.0 / s->n + quad));
	}
	pfree(inv);
	return se;
}

/* Solve the normal equations of a state into a Model. */
static Model *
LinregFit(LinregState *s)
{
	int			k = s->k,
				p = s->p;
	double		n = (double) s->n;
	bool		intercept = s->opts.fit_intercept;
	double		l1 = s->opts.l1;
	double		l2 = s->opts.l2;
	double	   *a = palloc(mul_size(sizeof(double), mul_size(k, k)));
	double	   *c = palloc(sizeof(double) * k);
	double	   *b = palloc(sizeof(double) * k);
	double		yy = s->gram[k + k * p] + (intercept ? 0 : n * s->mean[k] * s->mean[k]);
	Model	   *model = palloc0(sizeof(Model));

	if (l1 == 0 && l2 == 0 && s->n < k + (intercept ? 1 : 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("not enough rows to fit %d coefficients: got " INT64_FORMAT,
						k + (intercept ? 1 : 0), s->n),
				 errhint("Train on more rows, or set a ridge penalty such as '{\"l2\": 1}'.")));

	for (int j = 0; j < k; j++)
	{
		double		var = s->gram[j + j * p] / n;

		for (int i = 0; i <= j; i++)
			a[i + j * k] = s->gram[i + j * p] + (intercept ? 0 : n * s->mean[i] * s->mean[j]);
		c[j] = s->gram[j + k * p] + (intercept ? 0 : n * s->mean[j] * s->mean[k]);
		a[j + j * k] += l2;

		/*
		 * Without a penalty a constant column cannot be told apart from the
		 * intercept. Its variance is exactly zero, up to the rounding of
		 * its mean when the batch means were subtracted.
		 */
		if (l1 == 0 && l2 == 0 && (intercept ? var <= pow(64 * DBL_EPSILON * s->mean[j], 2)
								   : a[j + j * k] == 0))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("feature \"%s\" is constant", FeatureName(s, j)),
					 errhint("Remove the feature, or set a ridge penalty such as '{\"l2\": 1}'.")));
	}

	if (l1 > 0)
		LassoCoordinateDescent(k, a, c, l1, b);
	else
	{
		double	   *factor = palloc(sizeof(double) * k * k);
		int			dependent;

		memcpy(factor, a, sizeof(double) * k * k);
		memcpy(b, c, sizeof(double) * k);
		dependent = LinalgSolveSpd(k, factor, b, LINREG_RANK_TOL);
		if (dependent >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("features are collinear"),
					 errdetail("Feature \"%s\" is (almost) a linear combination of the other features.",
							   FeatureName(s, dependent)),
					 l2 > 0 ? errhint("Remove one of the dependent features, or increase \"l2\".")
					 : errhint("Remove one of the dependent features, or set a ridge penalty such as '{\"l2\": 1}'.")));
		if (l2 == 0)
			model->std_errors = StandardErrors(s, a, c, yy, b);
		model->n_std_errors = model->std_errors ? k + 1 : 0;
		pfree(factor);
	}

	model->kind = MODEL_KIND_LINEAR_REGRESSION;
	model->target = s->opts.target;
	model->n_rows = s->n;
	model->n_inputs = k;
	model->inputs = palloc0(sizeof(ModelInput) * k);
	model->fit_intercept = intercept;
	model->l1 = l1;
	model->l2 = l2;
	model->n_sets = 1;
	model->coef = palloc(sizeof(double) * (k + 1));
	model->coef[0] = intercept ? s->mean[k] : 0.0;
	for (int j = 0; j < k; j++)
	{
		ModelInput *in = &model->inputs[j];

		/* the rows were the design: each input is a number, used as is */
		in->name = FeatureName(s, j);
		in->type = INPUT_NUMERIC;
		in->fill_level = -1;
		in->scale_by = 1.0;
		in->stats.mean = s->mean[j];
		in->stats.stddev = s->n > 1 ? sqrt(s->gram[j + j * p] / (n - 1)) : 0.0;
		in->stats.min = s->min[j];
		in->stats.max = s->max[j];
		model->coef[1 + j] = b[j];
		if (intercept)
			model->coef[0] -= s->mean[j] * b[j];
	}
	ModelDeriveDesign(model);
	pfree(a);
	pfree(b);
	pfree(c);
	return model;
}

/* Final: the fitted model, or NULL when no row had a non-NULL target. */
Datum
linreg_final(PG_FUNCTION_ARGS)
{
	LinregState *s = PG_ARGISNULL(0) ? NULL : (LinregState *) PG_GETARG_POINTER(0);

	if (s == NULL)
		PG_RETURN_NULL();
	/* Folding the buffer changes the state's layout, not its value. */
	LinregFlush(s);
	if (s->n == 0)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(ModelSerialize(LinregFit(s)));
}
