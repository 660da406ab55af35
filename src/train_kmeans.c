/*
 * train_kmeans.c -- k-means clustering by Lloyd's algorithm, one
 * parallel-safe aggregate pass per iteration.
 *
 * ml_kmeans_pass(x, centers) assigns each row to its nearest centre and
 * sums, per cluster, the rows and their count, plus the squared distances
 * (the inertia) and each column's sum of squares (for the tolerance).
 * ml_train (train.c) turns the sums into new centres until they move by
 * less than tol times the mean column variance, as scikit-learn does.
 * Initial centres come from k-means++ (one ordered scan per centre, see
 * train.c) or from params.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "model.h"
#include "train_kmeans.h"

typedef struct KMeansState
{
	int			k;
	int			d;
	double	   *centers;		/* [k * d], transition states only */
	double		inertia;
	double	   *counts;			/* [k] */
	double	   *sums;			/* [k * d] */
	double	   *sumsq;			/* [d] */
} KMeansState;

PG_FUNCTION_INFO_V1(kmeans_accum);
PG_FUNCTION_INFO_V1(kmeans_combine);
PG_FUNCTION_INFO_V1(kmeans_serialize);
PG_FUNCTION_INFO_V1(kmeans_deserialize);
PG_FUNCTION_INFO_V1(kmeans_final);
PG_FUNCTION_INFO_V1(ml_kmeans_distance);

/* The nearest of k centres (the first on ties) and its squared distance. */
int
KMeansNearest(const double *centers, int k, int d, const double *x, double *dist2)
{
	int			best = 0;

	*dist2 = INFINITY;
	for (int c = 0; c < k; c++)
	{
		double		sum = 0;

		for (int j = 0; j < d; j++)
		{
			double		diff = x[j] - centers[c * d + j];

			sum += diff * diff;
		}
		if (sum < *dist2)
		{
			*dist2 = sum;
			best = c;
		}
	}
	return best;
}

/* A float8[] of n finite values without NULLs, or an error naming what. */
static const double *
CheckVector(ArrayType *arr, int *n, const char *what)
{
	*n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (ARR_NDIM(arr) != 1 || *n < 1 || ARR_HASNULL(arr) || ARR_ELEMTYPE(arr) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must be a non-empty one-dimensional float8[] without NULLs", what),
				 errhint("Impute missing values with params like '{\"impute\": \"mean\"}', or filter such rows.")));
	for (int j = 0; j < *n; j++)
		if (!isfinite(((const double *) ARR_DATA_PTR(arr))[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s must be finite", what),
					 errhint("Filter or impute rows with NaN or infinite values.")));
	return (const double *) ARR_DATA_PTR(arr);
}

/*
 * ml_kmeans_distance(x float8[], centers float8[]) -> float8: the squared
 * distance from x to the nearest of the centres (concatenated, each of
 * x's length). Used by k-means++ seeding.
 */
Datum
ml_kmeans_distance(PG_FUNCTION_ARGS)
{
	int			d,
				n;
	const double *x = CheckVector(PG_GETARG_ARRAYTYPE_P(0), &d, "point");
	const double *centers = CheckVector(PG_GETARG_ARRAYTYPE_P(1), &n, "centers");
	double		dist2;

	if (n % d != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("centers hold %d values, not a multiple of the point's %d", n, d),
				 errhint("Pass k centres of as many values as each point.")));
	(void) KMeansNearest(centers, n / d, d, x, &dist2);
	PG_RETURN_FLOAT8(dist2);
}

static KMeansState *
StateCreate(int k, int d)
{
	KMeansState *s = palloc0(sizeof(KMeansState));

	s->k = k;
	s->d = d;
	s->counts = palloc0(sizeof(double) * k);
	s->sums = palloc0(sizeof(double) * k * d);
	s->sumsq = palloc0(sizeof(double) * d);
	return s;
}

/* Transition: ml_kmeans_pass(x float8[], centers float8[]); NULL rows are skipped. */
Datum
kmeans_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	KMeansState *s = PG_ARGISNULL(0) ? NULL : (KMeansState *) PG_GETARG_POINTER(0);
	const double *x;
	double		dist2;
	int			d,
				c;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "kmeans_accum called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		/* a skipped row: the state stays as it is, possibly SQL NULL */
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("centers must not be NULL"),
				 errhint("Pass the current centres as one float8[].")));
	x = CheckVector(PG_GETARG_ARRAYTYPE_P(1), &d, "point");
	if (s == NULL)
	{
		int			n;
		const double *centers = CheckVector(PG_GETARG_ARRAYTYPE_P(2), &n, "centers");
		MemoryContext old;

		if (d > MLSYS_MAX_FEATURES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many design columns: %d, at most %d", d, MLSYS_MAX_FEATURES),
					 errhint("Use fewer features.")));
		if (n % d != 0 || n / d > MLSYS_MAX_CLASSES)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("centers hold %d values, not up to %d centres of %d values",
							n, MLSYS_MAX_CLASSES, d),
					 errhint("Pass at most that many centres, each of as many values as a point.")));
		old = MemoryContextSwitchTo(aggctx);
		s = StateCreate(n / d, d);
		s->centers = palloc(sizeof(double) * n);
		memcpy(s->centers, centers, sizeof(double) * n);
		MemoryContextSwitchTo(old);
	}
	if (d != s->d)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("point has %d elements, but earlier rows had %d", d, s->d),
				 errhint("Pass the same columns in every row.")));

	c = KMeansNearest(s->centers, s->k, d, x, &dist2);
	s->inertia += dist2;
	s->counts[c] += 1;
	for (int j = 0; j < d; j++)
	{
		s->sums[c * d + j] += x[j];
		s->sumsq[j] += x[j] * x[j];
	}
	PG_RETURN_POINTER(s);
}

Datum
kmeans_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	KMeansState *s1 = PG_ARGISNULL(0) ? NULL : (KMeansState *) PG_GETARG_POINTER(0);
	KMeansState *s2 = PG_ARGISNULL(1) ? NULL : (KMeansState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "kmeans_combine called in non-aggregate context");
	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	if (s1 == NULL)
	{
		/* deserialised states live in short-lived memory: copy */
		MemoryContext old = MemoryContextSwitchTo(aggctx);

		s1 = StateCreate(s2->k, s2->d);
		MemoryContextSwitchTo(old);
	}
	else if (s1->k != s2->k || s1->d != s2->d)
		elog(ERROR, "cannot combine k-means states of different shapes");
	s1->inertia += s2->inertia;
	for (int c = 0; c < s1->k; c++)
		s1->counts[c] += s2->counts[c];
	for (int i = 0; i < s1->k * s1->d; i++)
		s1->sums[i] += s2->sums[i];
	for (int j = 0; j < s1->d; j++)
		s1->sumsq[j] += s2->sumsq[j];
	PG_RETURN_POINTER(s1);
}

/* int32 k, d; then inertia, counts, sums and column sums of squares. */
Datum
kmeans_serialize(PG_FUNCTION_ARGS)
{
	KMeansState *s = (KMeansState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->k);
	pq_sendint32(&buf, s->d);
	pq_sendfloat8(&buf, s->inertia);
	for (int c = 0; c < s->k; c++)
		pq_sendfloat8(&buf, s->counts[c]);
	for (int i = 0; i < s->k * s->d; i++)
		pq_sendfloat8(&buf, s->sums[i]);
	for (int j = 0; j < s->d; j++)
		pq_sendfloat8(&buf, s->sumsq[j]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
kmeans_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	KMeansState *s;
	int			k,
				d;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	k = pq_getmsgint(&buf, 4);
	d = pq_getmsgint(&buf, 4);
	if (k < 1 || k > MLSYS_MAX_CLASSES || d < 1 || d > MLSYS_MAX_FEATURES ||
		(size_t) (buf.len - buf.cursor) != sizeof(double) * (1 + k + (size_t) k * d + d))
		elog(ERROR, "invalid k-means aggregate state");
	s = StateCreate(k, d);
	s->inertia = pq_getmsgfloat8(&buf);
	for (int c = 0; c < k; c++)
		s->counts[c] = pq_getmsgfloat8(&buf);
	for (int i = 0; i < k * d; i++)
		s->sums[i] = pq_getmsgfloat8(&buf);
	for (int j = 0; j < d; j++)
		s->sumsq[j] = pq_getmsgfloat8(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* Final: [inertia, counts (k), sums (k x d), column sums of squares (d)]. */
Datum
kmeans_final(PG_FUNCTION_ARGS)
{
	KMeansState *s = PG_ARGISNULL(0) ? NULL : (KMeansState *) PG_GETARG_POINTER(0);
	int			n = 0;
	Datum	   *out;

	if (s == NULL)
		PG_RETURN_NULL();
	out = palloc(sizeof(Datum) * (1 + s->k + s->k * s->d + s->d));
	out[n++] = Float8GetDatum(s->inertia);
	for (int c = 0; c < s->k; c++)
		out[n++] = Float8GetDatum(s->counts[c]);
	for (int i = 0; i < s->k * s->d; i++)
		out[n++] = Float8GetDatum(s->sums[i]);
	for (int j = 0; j < s->d; j++)
		out[n++] = Float8GetDatum(s->sumsq[j]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, n, FLOAT8OID, sizeof(double),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * One Lloyd step from the result of ml_kmeans_pass: move each centre to
 * the mean of its rows (a cluster left empty keeps its centre). Returns
 * the total squared shift of the centres; *inertia, *n and *mean_var get
 * the pass's inertia, row count and mean column variance.
 */
double
KMeansUpdate(ArrayType *arr, int k, int d, double *centers, double *inertia, double *n,
			 double *mean_var)
{
	const double *v = (const double *) ARR_DATA_PTR(arr);
	const double *counts = v + 1;
	const double *sums = counts + k;
	const double *sumsq = sums + k * d;
	double		shift = 0;

	if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr) ||
		ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) != 1 + k + k * d + d)
		elog(ERROR, "unexpected result of ml_kmeans_pass");
	*inertia = v[0];
	*n = 0;
	for (int c = 0; c < k; c++)
		*n += counts[c];
	*mean_var = 0;
	for (int j = 0; j < d; j++)
	{
		double		sum = 0;

		for (int c = 0; c < k; c++)
			sum += sums[c * d + j];
		*mean_var += Max(sumsq[j] / *n - (sum / *n) * (sum / *n), 0) / d;
	}
	for (int c = 0; c < k; c++)
	{
		if (counts[c] == 0)
			continue;
		for (int j = 0; j < d; j++)
		{
			double		next = sums[c * d + j] / counts[c];

			shift += (next - centers[c * d + j]) * (next - centers[c * d + j]);
			centers[c * d + j] = next;
		}
	}
	return shift;
}
