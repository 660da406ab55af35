/*
 * drift_scan.c -- ml.drift_scan(model, VARIADIC inputs): the drift of every
 * input of a model and of its output, in one aggregate over the source.
 *
 * ml_drift passes the model value and each of its inputs, in the model's
 * order, as float8 (numeric) or text (categorical). Per row, each value is
 * counted into the histogram of its input's training distribution (a
 * DriftState of drift.c, built from the statistics stored in the model),
 * and its NULLs and values outside the training range (numeric) or unseen
 * (categorical) are counted. The model predicts the row from the same
 * values, and its output is counted against the output distribution kept
 * at training, when the model has one. So a row costs one transition call,
 * not one aggregate per statistic and input plus a row value for the
 * prediction.
 *
 * The result is a float8[] of 1 + 7 x columns elements: the rows, then per
 * column (the inputs in the model's order, then the prediction) the NULL
 * share (for the prediction: the share of rows the model cannot take), the
 * share of non-NULL values out of range or unseen, PSI, Jensen-Shannon,
 * KS, the chi-square statistic and its p-value (drift.c defines them);
 * NULL where a statistic does not apply or has no values. NULL without
 * rows.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "drift.h"
#include "mlsys.h"
#include "model.h"
#include "predict.h"

/* Serialised partial states: "MLDC" and a format version of their own. */
#define SCAN_STATE_MAGIC	0x4D4C4443
#define SCAN_STATE_VERSION	1

/* Statistics per column in the result. */
#define SCAN_STATS_PER_COLUMN 7

typedef struct ScanColumn
{
	bool		numeric;
	bool		nan_is_null;	/* a tree's input: NaN is missing, as in training */
	double		min;			/* numeric: the training range */
	double		max;
	int64		n_null;
	int64		n_out;			/* numeric: outside [min, max]; categorical: unseen */
	DriftState *hist;			/* NULL: no histogram (a constant numeric input) */
} ScanColumn;

typedef struct ScanState
{
	int64		rows;
	int			n_columns;
	ScanColumn *columns;
	/* transition states only: the model served, and its first row's value */
	const Model *model;
	ServedModel *served;
	bool		predicts;
	RawValue   *raw;			/* [n_inputs] */
	Size		model_len;		/* the first row's model: its length and header */
	char		model_header[MODEL_HEADER_BYTES];
} ScanState;

PG_FUNCTION_INFO_V1(ml_drift_scan_accum);
PG_FUNCTION_INFO_V1(ml_drift_scan_combine);
PG_FUNCTION_INFO_V1(ml_drift_scan_serialize);
PG_FUNCTION_INFO_V1(ml_drift_scan_deserialize);
PG_FUNCTION_INFO_V1(ml_drift_scan_final);

/* Counts as the baselines drift.c takes. */
static double *
CountsAsDoubles(const int64 *counts, int n)
{
	double	   *d = palloc(sizeof(double) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = (double) counts[i];
	return d;
}

/* The column of one input: its range, and its training histogram if any. */
static void
InputColumn(const ModelInput *in, ScanColumn *col)
{
	const InputStats *st = &in->stats;

	col->numeric = in->type == INPUT_NUMERIC;
	col->nan_is_null = in->impute == IMPUTE_MISSING;
	col->min = st->min;
	col->max = st->max;
	if (!col->numeric)
		col->hist = DriftCategoricalState(in->n_levels, in->levels,
										  CountsAsDoubles(st->category_counts, in->n_levels),
										  (double) st->n_null);
	else if (st->n_bins > 0)
		col->hist = DriftNumericState(st->n_bins, st->bin_edges,
									  CountsAsDoubles(st->bin_counts, st->n_bins),
									  (double) st->n_null);
}

/*
 * The column of the prediction: a regression's bins (their outer edges its
 * range), or one level per class or k-means cluster.
 */
static void
OutputColumn(const Model *model, ScanColumn *col)
{
	double	   *counts = CountsAsDoubles(model->output_counts, model->n_outputs);

	col->numeric = model->output_edges != NULL;
	if (col->numeric)
	{
		col->min = model->output_edges[0];
		col->max = model->output_edges[model->n_outputs];
		col->hist = DriftNumericState(model->n_outputs, model->output_edges, counts, 0);
	}
	else
	{
		char	  **levels = model->classes;

		if (!ModelIsClassifier(model))
		{
			levels = palloc(sizeof(char *) * model->n_outputs);
			for (int i = 0; i < model->n_outputs; i++)
				levels[i] = psprintf("%d", i);
		}
		col->hist = DriftCategoricalState(model->n_outputs, levels, counts, 0);
	}
}

/*
 * The state of the first row, in the aggregate's memory context: the model
 * decoded for serving, a column per input and one for the prediction, and
 * the argument types checked against the inputs.
 */
static ScanState *
ScanStart(FunctionCallInfo fcinfo, MemoryContext aggctx)
{
	MemoryContext old = MemoryContextSwitchTo(aggctx);
	ScanState  *st = palloc0(sizeof(ScanState));
	const Model *model;
	struct varlena *value;

	value = PG_DETOAST_DATUM(PG_GETARG_DATUM(1));
	st->model_len = VARSIZE(value) - VARHDRSZ;
	memcpy(st->model_header, VARDATA(value), Min(st->model_len, MODEL_HEADER_BYTES));
	st->served = ServeModelValue(value, &model);
	st->model = model;
	if (get_fn_expr_variadic(fcinfo->flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ml.drift_scan takes the inputs as separate arguments, not as an array"),
				 errhint("Use ml_drift(model_name, source), which passes them.")));
	if (PG_NARGS() != 2 + model->n_inputs)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_plural("ml.drift_scan got %d input value, but the model has %d inputs",
							   "ml.drift_scan got %d input values, but the model has %d inputs",
							   PG_NARGS() - 2, PG_NARGS() - 2, model->n_inputs),
				 errhint("Use ml_drift(model_name, source), which passes them.")));
	for (int i = 0; i < model->n_inputs; i++)
	{
		const ModelInput *in = &model->inputs[i];
		Oid			want = in->type == INPUT_NUMERIC ? FLOAT8OID : TEXTOID;

		if (get_fn_expr_argtype(fcinfo->flinfo, 2 + i) != want)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("input \"%s\" must be passed to ml.drift_scan as %s", in->name,
							want == FLOAT8OID ? "float8" : "text"),
					 errhint("Use ml_drift(model_name, source), which passes them.")));
	}

	st->predicts = model->n_outputs > 0;
	st->n_columns = model->n_inputs + st->predicts;
	st->columns = palloc0(sizeof(ScanColumn) * st->n_columns);
	for (int i = 0; i < model->n_inputs; i++)
		InputColumn(&model->inputs[i], &st->columns[i]);
	if (st->predicts)
		OutputColumn(model, &st->columns[model->n_inputs]);
	st->raw = palloc(sizeof(RawValue) * Max(model->n_inputs, 1));
	MemoryContextSwitchTo(old);
	return st;
}

static pg_noreturn void
ModelsDiffer(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the model differs between rows of ml.drift_scan"),
			 errhint("Use ml_drift(model_name, source), which passes one model.")));
}

/*
 * Every row must pass the model of the first: the same length and header,
 * whose checksum covers the contents.
 */
static void
CheckSameModel(FunctionCallInfo fcinfo, ScanState *st)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1));
	size_t		len = VARSIZE_ANY_EXHDR(v);

	if (len != st->model_len || memcmp(VARDATA_ANY(v), st->model_header, Min(len, MODEL_HEADER_BYTES)) != 0)
		ModelsDiffer();
}

/* Count one value (NULL: isnull) into its column; numeric or categorical. */
static void
CountNumeric(ScanColumn *col, bool isnull, double v)
{
	int			cell;

	if (isnull)
	{
		col->n_null++;
		cell = col->hist ? CELL_NULL(col->hist->k) : -1;
	}
	else
	{
		/* NOT (v BETWEEN min AND max), NaN included; no range: none out */
		if (!(v >= col->min && v <= col->max) && !isnan(col->min) && !isnan(col->max))
			col->n_out++;
		cell = col->hist ? DriftNumericCell(col->hist, v) : -1;
	}
	if (col->hist)
	{
		col->hist->counts[cell]++;
		col->hist->n++;
	}
}

static void
CountCell(ScanColumn *col, int cell)
{
	if (cell == CELL_NULL(col->hist->k))
		col->n_null++;
	else if (cell == CELL_ABOVE(col->hist->k))
		col->n_out++;
	col->hist->counts[cell]++;
	col->hist->n++;
}

/* Transition: count one row's inputs, and its prediction. */
Datum
ml_drift_scan_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ScanState  *st = PG_ARGISNULL(0) ? NULL : (ScanState *) PG_GETARG_POINTER(0);
	const Model *model;
	double		output = 0;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "ml_drift_scan_accum called in non-aggregate context");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the model of ml.drift_scan must not be NULL"),
				 errhint("Use ml_drift(model_name, source), which passes the model.")));
	if (st == NULL)
		st = ScanStart(fcinfo, aggctx);
	else
		CheckSameModel(fcinfo, st);
	model = st->model;

	st->rows++;
	for (int i = 0; i < model->n_inputs; i++)
	{
		ScanColumn *col = &st->columns[i];
		RawValue   *raw = &st->raw[i];

		raw->isnull = PG_ARGISNULL(2 + i);
		if (col->numeric)
		{
			raw->number = raw->isnull ? 0 : PG_GETARG_FLOAT8(2 + i);
			CountNumeric(col, raw->isnull || (col->nan_is_null && isnan(raw->number)), raw->number);
		}
		else if (raw->isnull)
			CountCell(col, CELL_NULL(col->hist->k));
		else
		{
			text	   *t = PG_GETARG_TEXT_PP(2 + i);

			CountCell(col, DriftCategoricalCell(col->hist, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
			/* per-row memory: the transition runs in the input tuple's context */
			if (st->predicts)
				raw->category = text_to_cstring(t);
		}
	}
	if (st->predicts)
	{
		ScanColumn *col = &st->columns[model->n_inputs];
		bool		valid = PredictOutputIfValid(st->served, st->raw, &output);

		if (col->numeric)
			CountNumeric(col, !valid, output);
		else
			CountCell(col, valid ? (int) output : CELL_NULL(col->hist->k));
	}
	PG_RETURN_POINTER(st);
}

/* Two doubles equal, NaN equal to NaN. */
static bool
SameDouble(double a, double b)
{
	return a == b || (isnan(a) && isnan(b));
}

/* A deep copy of a state's columns and counts, in the current context. */
static ScanState *
ScanStateCopy(const ScanState *src)
{
	ScanState  *st = palloc0(sizeof(ScanState));

	st->rows = src->rows;
	st->n_columns = src->n_columns;
	st->columns = palloc(sizeof(ScanColumn) * src->n_columns);
	for (int c = 0; c < src->n_columns; c++)
	{
		st->columns[c] = src->columns[c];
		if (src->columns[c].hist)
			st->columns[c].hist = DriftStateCopy(src->columns[c].hist);
	}
	return st;
}

/* Combine: add the second state's counts to the first's; same model only. */
Datum
ml_drift_scan_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ScanState  *s1 = PG_ARGISNULL(0) ? NULL : (ScanState *) PG_GETARG_POINTER(0);
	ScanState  *s2 = PG_ARGISNULL(1) ? NULL : (ScanState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "ml_drift_scan_combine called in non-aggregate context");
	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	if (s1 == NULL)
	{
		/* deserialised states live in short-lived memory: copy */
		MemoryContext old = MemoryContextSwitchTo(aggctx);

		s1 = ScanStateCopy(s2);
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(s1);
	}
	if (s1->n_columns != s2->n_columns)
		ModelsDiffer();
	for (int c = 0; c < s1->n_columns; c++)
	{
		ScanColumn *a = &s1->columns[c];
		const ScanColumn *b = &s2->columns[c];

		if (a->numeric != b->numeric || (a->hist == NULL) != (b->hist == NULL) ||
			!SameDouble(a->min, b->min) || !SameDouble(a->max, b->max))
			ModelsDiffer();
		a->n_null += b->n_null;
		a->n_out += b->n_out;
		if (a->hist)
			DriftStateAdd(a->hist, b->hist);
	}
	s1->rows += s2->rows;
	PG_RETURN_POINTER(s1);
}

/*
 * Binary form of a partial state:
 *   u32 magic "MLDC", u16 version, u16 reserved (0), i64 rows, i32 columns,
 *   then per column: u8 numeric, u8 has histogram, f64 min, f64 max,
 *   i64 NULL count, i64 out-of-range count, and the histogram's own form
 *   (drift.c's DriftStateWrite).
 */
Datum
ml_drift_scan_serialize(PG_FUNCTION_ARGS)
{
	ScanState  *st = (ScanState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, SCAN_STATE_MAGIC);
	pq_sendint16(&buf, SCAN_STATE_VERSION);
	pq_sendint16(&buf, 0);
	pq_sendint64(&buf, st->rows);
	pq_sendint32(&buf, st->n_columns);
	for (int c = 0; c < st->n_columns; c++)
	{
		const ScanColumn *col = &st->columns[c];

		pq_sendbyte(&buf, col->numeric);
		pq_sendbyte(&buf, col->hist != NULL);
		pq_sendfloat8(&buf, col->min);
		pq_sendfloat8(&buf, col->max);
		pq_sendint64(&buf, col->n_null);
		pq_sendint64(&buf, col->n_out);
		if (col->hist)
			DriftStateWrite(&buf, col->hist);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static pg_noreturn void
InvalidScanState(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("invalid ml.drift_scan state"),
			 errdetail("%s", detail)));
}

/* Deserialise: every length checked before it is read, every count validated. */
Datum
ml_drift_scan_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	ScanState  *st = palloc0(sizeof(ScanState));

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (buf.len < 20)
		InvalidScanState("The state is truncated.");
	if ((uint32) pq_getmsgint(&buf, 4) != SCAN_STATE_MAGIC)
		InvalidScanState("The magic number is wrong.");
	if (pq_getmsgint(&buf, 2) != SCAN_STATE_VERSION || pq_getmsgint(&buf, 2) != 0)
		InvalidScanState("The format version is unknown.");
	st->rows = pq_getmsgint64(&buf);
	st->n_columns = (int32) pq_getmsgint(&buf, 4);
	if (st->rows < 0 || st->n_columns < 1 || st->n_columns > MLSYS_MAX_FEATURES + 1)
		InvalidScanState("The row or column count is out of range.");
	st->columns = palloc0(sizeof(ScanColumn) * st->n_columns);
	for (int c = 0; c < st->n_columns; c++)
	{
		ScanColumn *col = &st->columns[c];
		bool		has_hist;

		if (buf.len - buf.cursor < 34)
			InvalidScanState("The state is truncated.");
		col->numeric = pq_getmsgbyte(&buf) != 0;
		has_hist = pq_getmsgbyte(&buf) != 0;
		col->min = pq_getmsgfloat8(&buf);
		col->max = pq_getmsgfloat8(&buf);
		col->n_null = pq_getmsgint64(&buf);
		col->n_out = pq_getmsgint64(&buf);
		if (col->n_null < 0 || col->n_out < 0 || col->n_null > st->rows ||
			col->n_out > st->rows - col->n_null)
			InvalidScanState("A count is out of range.");
		if (has_hist)
		{
			col->hist = DriftStateRead(&buf);
			if (col->hist->n != st->rows ||
				(col->hist->kind == DRIFT_NUMERIC) != col->numeric ||
				col->hist->counts[CELL_NULL(col->hist->k)] != col->n_null)
				InvalidScanState("A histogram does not match its column.");
		}
		else if (!col->numeric)
			InvalidScanState("A categorical column has no levels.");
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(st);
}

/* Final: the statistics of every column, as the header describes. */
Datum
ml_drift_scan_final(PG_FUNCTION_ARGS)
{
	ScanState  *st = PG_ARGISNULL(0) ? NULL : (ScanState *) PG_GETARG_POINTER(0);
	int			n,
				dims[1],
				lbs[1] = {1};
	Datum	   *values;
	bool	   *nulls;

	if (st == NULL || st->rows == 0)
		PG_RETURN_NULL();
	n = 1 + SCAN_STATS_PER_COLUMN * st->n_columns;
	values = palloc0(sizeof(Datum) * n);
	nulls = palloc(sizeof(bool) * n);
	memset(nulls, true, sizeof(bool) * n);
	values[0] = Float8GetDatum((double) st->rows);
	nulls[0] = false;
	for (int c = 0; c < st->n_columns; c++)
	{
		const ScanColumn *col = &st->columns[c];
		int			at = 1 + SCAN_STATS_PER_COLUMN * c;
		int64		non_null = st->rows - col->n_null;
		double		ks,
					chi,
					p,
					dof;

		values[at] = Float8GetDatum((double) col->n_null / st->rows);
		nulls[at] = false;
		if (non_null > 0)
		{
			values[at + 1] = Float8GetDatum((double) col->n_out / non_null);
			nulls[at + 1] = false;
		}
		if (col->hist == NULL)
			continue;
		values[at + 2] = Float8GetDatum(DriftPsi(col->hist));
		values[at + 3] = Float8GetDatum(DriftJsDivergence(col->hist));
		nulls[at + 2] = nulls[at + 3] = false;
		if (col->numeric && DriftKs(col->hist, &ks))
		{
			values[at + 4] = Float8GetDatum(ks);
			nulls[at + 4] = false;
		}
		DriftChiSquare(col->hist, &chi, &p, &dof);
		values[at + 5] = Float8GetDatum(chi);
		values[at + 6] = Float8GetDatum(p);
		nulls[at + 5] = nulls[at + 6] = false;
	}
	dims[0] = n;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(values, nulls, 1, dims, lbs, FLOAT8OID,
											 sizeof(double), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
