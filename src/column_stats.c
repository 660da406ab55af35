/*
 * column_stats.c -- ml.column_stats(VARIADIC "any"): count, mean, sample
 * standard deviation, min and max of every numeric input of ml_train, in
 * one transition call a row.
 *
 * ml_train passes each numeric input as float8. The result is a float8[]
 * of 1 + 5 x columns elements: the rows, then per column the non-NULL
 * values, their mean, sample standard deviation, min and max, with NULL
 * where count, avg, stddev_samp, min and max give NULL (no values; one
 * value for the deviation). Mean and deviation follow PostgreSQL's own
 * float8 aggregates (Youngs-Cramer sums, float8_accum and float8_combine),
 * so they equal avg() and stddev_samp() to the bit when serial; NaN sorts
 * above every number, as in max(). Five aggregates per input cost ml_train
 * about 0.6 s per million rows of ten inputs; this one a fraction of it.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "mlsys.h"
#include "model.h"

/* Serialised partial states: "MLCS" and a format version of their own. */
#define COLUMN_STATS_MAGIC		0x4D4C4353
#define COLUMN_STATS_VERSION	1

typedef struct ColumnSums
{
	double		n;				/* non-NULL values */
	double		sx;				/* their sum */
	double		sxx;			/* sum of squared deviations from the mean */
	double		n_nan;			/* NaN values among them */
	double		min;			/* of the values other than NaN */
	double		max;
} ColumnSums;

typedef struct ColumnStatsState
{
	int64		rows;
	int			n_columns;
	ColumnSums *columns;
} ColumnStatsState;

PG_FUNCTION_INFO_V1(ml_column_stats_accum);
PG_FUNCTION_INFO_V1(ml_column_stats_combine);
PG_FUNCTION_INFO_V1(ml_column_stats_serialize);
PG_FUNCTION_INFO_V1(ml_column_stats_deserialize);
PG_FUNCTION_INFO_V1(ml_column_stats_final);

static ColumnStatsState *
StateCreate(int n_columns)
{
	ColumnStatsState *s = palloc0(sizeof(ColumnStatsState));

	s->n_columns = n_columns;
	s->columns = palloc0(sizeof(ColumnSums) * Max(n_columns, 1));
	return s;
}

/* Add one value, as float8_accum does (without its overflow checks). */
static inline void
AddValue(ColumnSums *c, double x)
{
	c->n += 1.0;
	c->sx += x;
	if (c->n > 1.0)
	{
		double		tmp = x * c->n - c->sx;

		c->sxx += tmp * tmp / (c->n * (c->n - 1.0));
	}
	else
		c->sxx = isfinite(x) ? 0.0 : NAN;
	if (isnan(x))
		c->n_nan += 1.0;
	else if (c->n - c->n_nan == 1.0)
		c->min = c->max = x;	/* the first number */
	else
	{
		c->min = Min(c->min, x);
		c->max = Max(c->max, x);
	}
}

/* Transition: count one row, and each non-NULL value of its columns. */
Datum
ml_column_stats_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ColumnStatsState *s = PG_ARGISNULL(0) ? NULL : (ColumnStatsState *) PG_GETARG_POINTER(0);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "ml_column_stats_accum called in non-aggregate context");
	if (s == NULL)
	{
		MemoryContext old;

		if (get_fn_expr_variadic(fcinfo->flinfo))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ml.column_stats takes its columns as separate arguments, not as an array"),
					 errhint("Pass each column as a float8 argument.")));
		for (int i = 1; i < PG_NARGS(); i++)
			if (get_fn_expr_argtype(fcinfo->flinfo, i) != FLOAT8OID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("ml.column_stats takes float8 columns, argument %d is %s",
								i, format_type_be(get_fn_expr_argtype(fcinfo->flinfo, i))),
						 errhint("Cast the columns to float8.")));
		old = MemoryContextSwitchTo(aggctx);
		s = StateCreate(PG_NARGS() - 1);
		MemoryContextSwitchTo(old);
	}
	s->rows++;
	for (int i = 0; i < s->n_columns; i++)
		if (!PG_ARGISNULL(1 + i))
			AddValue(&s->columns[i], PG_GETARG_FLOAT8(1 + i));
	PG_RETURN_POINTER(s);
}

/* Add the second column's sums to the first's, as float8_combine does. */
static void
CombineColumn(ColumnSums *a, const ColumnSums *b)
{
	double		n;
	double		tmp;

	if (b->n == 0)
		return;
	if (a->n == 0)
	{
		*a = *b;
		return;
	}
	n = a->n + b->n;
	tmp = a->sx / a->n - b->sx / b->n;
	a->sxx = a->sxx + b->sxx + a->n * b->n * tmp * tmp / n;
	a->sx += b->sx;
	/* min and max over the values other than NaN, of either side */
	if (a->n == a->n_nan || (b->n > b->n_nan && b->min < a->min))
		a->min = b->min;
	if (a->n == a->n_nan || (b->n > b->n_nan && b->max > a->max))
		a->max = b->max;
	a->n = n;
	a->n_nan += b->n_nan;
}

Datum
ml_column_stats_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ColumnStatsState *s1 = PG_ARGISNULL(0) ? NULL : (ColumnStatsState *) PG_GETARG_POINTER(0);
	ColumnStatsState *s2 = PG_ARGISNULL(1) ? NULL : (ColumnStatsState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "ml_column_stats_combine called in non-aggregate context");
	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	if (s1 == NULL)
	{
		/* deserialised states live in short-lived memory: copy */
		MemoryContext old = MemoryContextSwitchTo(aggctx);

		s1 = StateCreate(s2->n_columns);
		s1->rows = s2->rows;
		memcpy(s1->columns, s2->columns, sizeof(ColumnSums) * s2->n_columns);
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(s1);
	}
	if (s1->n_columns != s2->n_columns)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ml.column_stats got different numbers of columns in different rows"),
				 errhint("Pass the same columns in every row.")));
	for (int i = 0; i < s1->n_columns; i++)
		CombineColumn(&s1->columns[i], &s2->columns[i]);
	s1->rows += s2->rows;
	PG_RETURN_POINTER(s1);
}

/*
 * Binary form of a partial state: u32 magic "MLCS", u16 version, u16
 * reserved (0), i64 rows, i32 columns, then per column f64 n, sx, sxx,
 * n_nan, min and max.
 */
Datum
ml_column_stats_serialize(PG_FUNCTION_ARGS)
{
	ColumnStatsState *s = (ColumnStatsState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, COLUMN_STATS_MAGIC);
	pq_sendint16(&buf, COLUMN_STATS_VERSION);
	pq_sendint16(&buf, 0);
	pq_sendint64(&buf, s->rows);
	pq_sendint32(&buf, s->n_columns);
	for (int i = 0; i < s->n_columns; i++)
	{
		const ColumnSums *c = &s->columns[i];

		pq_sendfloat8(&buf, c->n);
		pq_sendfloat8(&buf, c->sx);
		pq_sendfloat8(&buf, c->sxx);
		pq_sendfloat8(&buf, c->n_nan);
		pq_sendfloat8(&buf, c->min);
		pq_sendfloat8(&buf, c->max);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static pg_noreturn void
InvalidColumnStats(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("invalid ml.column_stats state"),
			 errdetail("%s", detail)));
}

/* Deserialise: the length checked before anything is read, the counts validated. */
Datum
ml_column_stats_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	ColumnStatsState *s;
	int64		rows;
	int			n_columns;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (buf.len < 20)
		InvalidColumnStats("The state is truncated.");
	if ((uint32) pq_getmsgint(&buf, 4) != COLUMN_STATS_MAGIC)
		InvalidColumnStats("The magic number is wrong.");
	if (pq_getmsgint(&buf, 2) != COLUMN_STATS_VERSION || pq_getmsgint(&buf, 2) != 0)
		InvalidColumnStats("The format version is unknown.");
	rows = pq_getmsgint64(&buf);
	n_columns = (int32) pq_getmsgint(&buf, 4);
	if (rows < 0 || n_columns < 0 || n_columns > MLSYS_MAX_FEATURES ||
		buf.len - buf.cursor != (int64) n_columns * 6 * sizeof(double))
		InvalidColumnStats("The row or column count does not match the state's length.");
	s = StateCreate(n_columns);
	s->rows = rows;
	for (int i = 0; i < n_columns; i++)
	{
		ColumnSums *c = &s->columns[i];

		c->n = pq_getmsgfloat8(&buf);
		c->sx = pq_getmsgfloat8(&buf);
		c->sxx = pq_getmsgfloat8(&buf);
		c->n_nan = pq_getmsgfloat8(&buf);
		c->min = pq_getmsgfloat8(&buf);
		c->max = pq_getmsgfloat8(&buf);
		if (!(c->n >= 0 && c->n <= rows && c->n == floor(c->n)) ||
			!(c->n_nan >= 0 && c->n_nan <= c->n && c->n_nan == floor(c->n_nan)))
			InvalidColumnStats("A column's count is out of range.");
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* Final: {rows, then per column count, mean, stddev_samp, min, max}. */
Datum
ml_column_stats_final(PG_FUNCTION_ARGS)
{
	ColumnStatsState *s = PG_ARGISNULL(0) ? NULL : (ColumnStatsState *) PG_GETARG_POINTER(0);
	int			n,
				dims[1],
				lbs[1] = {1};
	Datum	   *values;
	bool	   *nulls;

	if (s == NULL)
		PG_RETURN_NULL();
	n = 1 + 5 * s->n_columns;
	values = palloc0(sizeof(Datum) * n);
	nulls = palloc0(sizeof(bool) * n);
	values[0] = Float8GetDatum((double) s->rows);
	for (int i = 0; i < s->n_columns; i++)
	{
		const ColumnSums *c = &s->columns[i];
		int			at = 1 + 5 * i;

		/* finite values whose sums overflow: as float8_accum would */
		if (c->n_nan == 0 && isfinite(c->min) && isfinite(c->max) &&
			!(isfinite(c->sx) && isfinite(c->sxx)))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow"),
					 errdetail("The sum of the squares of column %d overflows.", i + 1),
					 errhint("Rescale the column.")));

		values[at] = Float8GetDatum(c->n);
		values[at + 1] = Float8GetDatum(c->sx / c->n);
		nulls[at + 1] = c->n == 0;
		values[at + 2] = Float8GetDatum(sqrt(c->sxx / (c->n - 1.0)));
		nulls[at + 2] = c->n <= 1;
		values[at + 3] = Float8GetDatum(c->n > c->n_nan ? c->min : NAN);
		values[at + 4] = Float8GetDatum(c->n_nan > 0 ? NAN : c->max);
		nulls[at + 3] = nulls[at + 4] = c->n == 0;
	}
	dims[0] = n;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(values, nulls, 1, dims, lbs, FLOAT8OID,
											 sizeof(double), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
