/*
 * stats.c -- histograms of training columns, the baseline of drift checks.
 *
 * ml_bin_counts(x, edges, bins) counts, in one parallel-safe pass, how many
 * values of each column fall in each of its bins. Column j has bins[j]
 * bins, with bins[j] + 1 increasing edges taken in turn from edges; bin i
 * holds edge_i <= v < edge_{i+1}, the last one also v = its upper edge.
 * NULLs and values outside the edges are not counted. ml_train counts each
 * numeric input in equal-width cells and merges them into its quantile
 * bins (see LearnHistograms); it calls
 * ml.bin_counts(edges, bins, VARIADIC values), the same aggregate over
 * separate float8 arguments.
 *
 * ml.systematic_sample(total, wanted, seed) picks the rows of a training
 * sample as they stream past, for ml_train's baseline of the model's
 * output.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "model.h"

/* Most bins of one column. */
#define MAX_BINS_PER_COLUMN 65536

typedef struct BinState
{
	int			n_columns;
	int			total;			/* bins over all columns */
	int		   *bins;			/* [n_columns], transition states only */
	double	   *edges;			/* [total + n_columns] */
	int64	   *counts;			/* [total] */
} BinState;

PG_FUNCTION_INFO_V1(bin_counts_accum);
PG_FUNCTION_INFO_V1(bin_counts_accum_any);
PG_FUNCTION_INFO_V1(bin_counts_combine);
PG_FUNCTION_INFO_V1(bin_counts_serialize);
PG_FUNCTION_INFO_V1(bin_counts_deserialize);
PG_FUNCTION_INFO_V1(bin_counts_final);
PG_FUNCTION_INFO_V1(ml_systematic_sample);

/*
 * The bin of v among n bins with n + 1 increasing edges, or -1. The edges
 * ml_train passes are equally spaced, so the bin is first guessed from
 * v's place between the outer edges and checked against its two edges;
 * when that guess is not it (uneven edges, rounding), a binary search
 * written without a data-dependent branch finds it.
 */
static int
FindBin(const double *edges, int n, double v)
{
	int			lo = 0;
	int			guess;

	if (!(v >= edges[0] && v <= edges[n]))
		return -1;
	{
		/* in [0, n] for finite edges, NaN or out of it when their span overflows */
		double		place = (v - edges[0]) / (edges[n] - edges[0]) * n;

		guess = place >= 0 && place < n ? (int) place : n - 1;
		if (v >= edges[guess] && (v < edges[guess + 1] || guess == n - 1))
			return guess;
	}
	/* the last of edges[lo .. lo + n - 1] that is <= v */
	while (n > 1)
	{
		int			half = n / 2;

		lo = edges[lo + half] <= v ? lo + half : lo;
		n -= half;
	}
	return lo;
}

static BinState *
StateCreate(int n_columns, int total)
{
	BinState   *s = palloc0(sizeof(BinState));

	s->n_columns = n_columns;
	s->total = total;
	s->counts = palloc0(sizeof(int64) * Max(total, 1));
	return s;
}

/*
 * The state of the first row, in the aggregate's memory context: the bins
 * (argument edges_arg + 1) and edges (edges_arg) of n columns, validated.
 */
static BinState *
StateFromSpec(FunctionCallInfo fcinfo, int edges_arg, int n, MemoryContext aggctx)
{
	ArrayType  *earr;
	ArrayType  *barr;
	int			n_edges;
	const int32 *bins;
	int64		total = 0;
	MemoryContext old;
	BinState   *s;
	const double *e;

	if (PG_ARGISNULL(edges_arg) || PG_ARGISNULL(edges_arg + 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("edges and bins must not be NULL"),
				 errhint("Pass the bin edges and the number of bins of every column.")));
	earr = PG_GETARG_ARRAYTYPE_P(edges_arg);
	barr = PG_GETARG_ARRAYTYPE_P(edges_arg + 1);
	n_edges = ArrayGetNItems(ARR_NDIM(earr), ARR_DIMS(earr));
	bins = (const int32 *) ARR_DATA_PTR(barr);
	if (n > MLSYS_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%d columns are more than the limit of %d", n, MLSYS_MAX_FEATURES),
				 errhint("Count fewer columns at a time.")));
	if (ArrayGetNItems(ARR_NDIM(barr), ARR_DIMS(barr)) != n || ARR_HASNULL(barr) ||
		ARR_HASNULL(earr) || ARR_ELEMTYPE(earr) != FLOAT8OID || ARR_ELEMTYPE(barr) != INT4OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("bins must give one count per value, edges must be float8[] without NULLs"),
				 errhint("Pass one bin count per value and all the edges as float8[].")));
	for (int j = 0; j < n; j++)
	{
		if (bins[j] < 0 || bins[j] > MAX_BINS_PER_COLUMN)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("a column must have 0 to %d bins", MAX_BINS_PER_COLUMN),
					 errhint("Use fewer bins.")));
		total += bins[j];
	}
	if (n_edges != total + n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%lld bins need %lld edges, got %d", (long long) total, (long long) (total + n), n_edges),
				 errhint("Each column with b bins needs b + 1 edges.")));
	e = (const double *) ARR_DATA_PTR(earr);
	for (int j = 0; j < n; e += bins[j] + 1, j++)
		for (int i = 0; i <= bins[j] && bins[j] > 0; i++)
			if (!isfinite(e[i]) || (i > 0 && !(e[i] > e[i - 1])))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the edges of column %d must be finite and strictly increasing", j + 1),
						 errhint("Pass b + 1 increasing finite edges for a column of b bins.")));
	old = MemoryContextSwitchTo(aggctx);
	s = StateCreate(n, (int) total);
	s->bins = palloc(sizeof(int) * Max(n, 1));
	for (int j = 0; j < n; j++)
		s->bins[j] = bins[j];
	s->edges = palloc(sizeof(double) * Max(n_edges, 1));
	memcpy(s->edges, ARR_DATA_PTR(earr), sizeof(double) * n_edges);
	MemoryContextSwitchTo(old);
	return s;
}

/* Count v, a value of column j, whose edges and first bin are given. */
static inline void
CountValue(BinState *s, int j, const double *edges, int bin0, double v)
{
	int			b = s->bins[j] > 0 ? FindBin(edges, s->bins[j], v) : -1;

	if (b >= 0)
		s->counts[bin0 + b]++;
}

/* Transition: ml_bin_counts(x float8[], edges float8[], bins int[]). */
Datum
bin_counts_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	BinState   *s = PG_ARGISNULL(0) ? NULL : (BinState *) PG_GETARG_POINTER(0);
	ArrayType  *xarr;
	const double *x;
	bits8	   *nulls;
	const double *edges;
	int			n;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "bin_counts_accum called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	xarr = PG_GETARG_ARRAYTYPE_P(1);
	n = ArrayGetNItems(ARR_NDIM(xarr), ARR_DIMS(xarr));
	if (ARR_ELEMTYPE(xarr) != FLOAT8OID || ARR_NDIM(xarr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("values must be a one-dimensional float8[]"),
				 errhint("Pass one row's values as ARRAY[x1, x2, ...].")));
	if (s == NULL)
		s = StateFromSpec(fcinfo, 2, n, aggctx);
	if (n != s->n_columns)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("values array has %d elements, but earlier rows had %d", n, s->n_columns),
				 errhint("Pass the same columns in every row.")));

	x = (const double *) ARR_DATA_PTR(xarr);
	nulls = ARR_NULLBITMAP(xarr);
	edges = s->edges;
	for (int j = 0, bin0 = 0; j < n; j++)
	{
		if (!(nulls && !(nulls[j / 8] & (1 << (j % 8)))))
			CountValue(s, j, edges, bin0, *x++);	/* NULLs take no space */
		edges += s->bins[j] + 1;
		bin0 += s->bins[j];
	}
	PG_RETURN_POINTER(s);
}

/*
 * Transition: ml.bin_counts(edges float8[], bins int[], VARIADIC "any"),
 * ml_bin_counts with the values as float8 arguments rather than an array,
 * which costs building an array every row; for ml_train.
 */
Datum
bin_counts_accum_any(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	BinState   *s = PG_ARGISNULL(0) ? NULL : (BinState *) PG_GETARG_POINTER(0);
	const double *edges;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "bin_counts_accum_any called in non-aggregate context");
	if (s == NULL)
	{
		if (get_fn_expr_variadic(fcinfo->flinfo))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ml.bin_counts takes its values as separate arguments, not as an array"),
					 errhint("Use ml_bin_counts for an array of values.")));
		for (int i = 3; i < PG_NARGS(); i++)
			if (get_fn_expr_argtype(fcinfo->flinfo, i) != FLOAT8OID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("ml.bin_counts takes float8 values, value %d is %s",
								i - 2, format_type_be(get_fn_expr_argtype(fcinfo->flinfo, i))),
						 errhint("Cast the values to float8.")));
		s = StateFromSpec(fcinfo, 1, PG_NARGS() - 3, aggctx);
	}
	edges = s->edges;
	for (int j = 0, bin0 = 0; j < s->n_columns; j++)
	{
		if (!PG_ARGISNULL(3 + j))
			CountValue(s, j, edges, bin0, PG_GETARG_FLOAT8(3 + j));
		edges += s->bins[j] + 1;
		bin0 += s->bins[j];
	}
	PG_RETURN_POINTER(s);
}

Datum
bin_counts_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	BinState   *s1 = PG_ARGISNULL(0) ? NULL : (BinState *) PG_GETARG_POINTER(0);
	BinState   *s2 = PG_ARGISNULL(1) ? NULL : (BinState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "bin_counts_combine called in non-aggregate context");
	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	if (s1 == NULL)
	{
		/* deserialised states live in short-lived memory: copy */
		MemoryContext old = MemoryContextSwitchTo(aggctx);

		s1 = StateCreate(s2->n_columns, s2->total);
		MemoryContextSwitchTo(old);
	}
	else if (s1->total != s2->total)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins differ between rows of the same ml_bin_counts"),
				 errhint("Pass the same edges and bins in every row.")));
	for (int i = 0; i < s1->total; i++)
		s1->counts[i] += s2->counts[i];
	PG_RETURN_POINTER(s1);
}

/* int32 columns, total; then the counts. */
Datum
bin_counts_serialize(PG_FUNCTION_ARGS)
{
	BinState   *s = (BinState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->n_columns);
	pq_sendint32(&buf, s->total);
	for (int i = 0; i < s->total; i++)
		pq_sendint64(&buf, s->counts[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
bin_counts_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	BinState   *s;
	int			n_columns,
				total;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	n_columns = pq_getmsgint(&buf, 4);
	total = pq_getmsgint(&buf, 4);
	if (n_columns < 0 || n_columns > MLSYS_MAX_FEATURES || total < 0 ||
		total > MLSYS_MAX_FEATURES * MAX_BINS_PER_COLUMN ||
		(size_t) (buf.len - buf.cursor) != sizeof(int64) * total)
		elog(ERROR, "invalid histogram aggregate state");
	s = StateCreate(n_columns, total);
	for (int i = 0; i < total; i++)
		s->counts[i] = pq_getmsgint64(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* Final: the counts of all bins, column after column. */
Datum
bin_counts_final(PG_FUNCTION_ARGS)
{
	BinState   *s = PG_ARGISNULL(0) ? NULL : (BinState *) PG_GETARG_POINTER(0);
	Datum	   *out;

	if (s == NULL)
		PG_RETURN_NULL();
	out = palloc(sizeof(Datum) * Max(s->total, 1));
	for (int i = 0; i < s->total; i++)
		out[i] = Int64GetDatum(s->counts[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, s->total, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * ml.systematic_sample(total, wanted, seed) -> boolean: true for wanted of
 * the next total calls at a call site, spread evenly (a systematic sample
 * with a random start: the accumulator of Bresenham's line, started at a
 * point given by the seed). Called once per row of a scan whose rows are
 * already filtered, it keeps exactly wanted of total rows, the same ones
 * for the same rows in the same order, at the cost of a counter: a hash of
 * every row cost ml_train a third of a second per million rows. Volatile and parallel restricted: the rows must come in one
 * stream.
 */
Datum
ml_systematic_sample(PG_FUNCTION_ARGS)
{
	int64		total = PG_GETARG_INT64(0);
	int64		wanted = PG_GETARG_INT64(1);
	int64	   *acc = (int64 *) fcinfo->flinfo->fn_extra;

	if (total < 1 || wanted < 0 || wanted > total)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a sample of " INT64_FORMAT " of " INT64_FORMAT " rows is not possible",
						wanted, total),
				 errhint("Ask for at least 0 and at most all of at least 1 row.")));
	if (acc == NULL)
	{
		acc = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(int64));
		*acc = (int64) (hash_bytes_uint32((uint32) PG_GETARG_INT32(2)) % (uint64) total);
		fcinfo->flinfo->fn_extra = acc;
	}
	/* acc += wanted; keep and acc -= total once it reaches total (no overflow) */
	if (*acc < total - wanted)
	{
		*acc += wanted;
		PG_RETURN_BOOL(false);
	}
	*acc -= total - wanted;
	PG_RETURN_BOOL(true);
}
