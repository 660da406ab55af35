/*
 * drift.c -- drift statistics as plain, parallel-safe SQL aggregates.
 *
 * Each aggregate compares the values of the current rows with a binned
 * baseline (a training histogram, as ml_train stores in every model) that
 * is passed on every row:
 *
 *   numeric      (value float8, bin_edges float8[], baseline_counts float8[]
 *                 [, baseline_n_null float8]): k bins from k + 1 strictly
 *                 increasing finite edges, bin i = [e_i, e_{i+1}), the last
 *                 one closed [e_{k-1}, e_k] (numpy.histogram's bins).
 *   categorical  (value text, levels text[], baseline_counts float8[]
 *                 [, baseline_n_null float8]): one bin per distinct level,
 *                 matched byte for byte.
 *
 * Every statistic works on the same k + 3 cells (DriftCells):
 *
 *   [below, bin_1 .. bin_k, above, null]
 *
 * "below" holds values < e_0 (and -Infinity), "above" values > e_k,
 * +Infinity and NaN (NaN sorts above every number in PostgreSQL); for a
 * categorical value, "below" is always empty and "above" holds the levels
 * not in the list ("unseen"). "null" counts NULL values. The baseline has
 * count 0 in below and above, and baseline_n_null (default 0) in null.
 *
 *   ml_psi            sum (p_i - q_i) ln(p_i / q_i), p_i = max(c_i / n, eps),
 *                     q_i = max(b_i / B, eps), eps = DRIFT_PSI_EPSILON, over
 *                     all cells (a cell empty on both sides adds 0)
 *   ml_js_divergence  Jensen-Shannon divergence in bits (base 2, in [0, 1])
 *                     of the unclipped proportions, 0 log 0 = 0
 *   ml_chi_square     Pearson's chi-square test of homogeneity of the 2 x m
 *                     table (baseline counts; current counts), cells empty
 *                     on both sides dropped, no continuity correction:
 *                     {statistic, p-value, degrees of freedom = m - 1}; as
 *                     scipy.stats.chi2_contingency(correction=False)
 *   ml_ks             binned two-sample Kolmogorov-Smirnov distance: the
 *                     largest absolute difference of the two cumulative
 *                     distributions over [below, bins, above], NULLs left
 *                     out, i.e. sup |F_cur(x) - F_base(x)| over x at the
 *                     bin edges (both sides seen only through the bins)
 *
 * State: internal (DriftState), the baseline and the counts of the cells:
 * bounded by the number of bins, never by rows. Every row must pass the
 * same bins: the transition function keeps the bytes of the first row's
 * arguments and compares each later row's with them (a byte comparison,
 * falling back to comparing the parsed values). Partial states cross
 * between parallel workers in a versioned binary form (DriftStateWrite)
 * that deserialisation validates as fully as user input.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "drift.h"
#include "mlsys.h"

/* Most bins (numeric) or levels (categorical) of one baseline. */
#define DRIFT_MAX_BINS			100000
/* Longest categorical level, in bytes. */
#define DRIFT_MAX_LEVEL_LEN		10000
/* PSI's floor of a proportion: 0.01 %, the customary value. */
#define DRIFT_PSI_EPSILON		1e-4
/* Iterations of the incomplete gamma series or continued fraction. */
#define GAMMA_MAX_ITER			1000000

/* Serialised partial states: "MLDS" and a format version of their own. */
#define DRIFT_STATE_MAGIC		0x4D4C4453
#define DRIFT_STATE_VERSION		1


PG_FUNCTION_INFO_V1(drift_numeric_accum);
PG_FUNCTION_INFO_V1(drift_categorical_accum);
PG_FUNCTION_INFO_V1(drift_combine);
PG_FUNCTION_INFO_V1(drift_serialize);
PG_FUNCTION_INFO_V1(drift_deserialize);
PG_FUNCTION_INFO_V1(drift_psi_final);
PG_FUNCTION_INFO_V1(drift_js_final);
PG_FUNCTION_INFO_V1(drift_chi_square_final);
PG_FUNCTION_INFO_V1(drift_ks_final);

#define BINS_HINT \
	"Pass the bin_edges and baseline_counts of the input's row of ml_drift_baseline(model) " \
	"(ml_model_info(model)->'inputs'->i->'stats'->'bin_edges' and 'bin_counts')."
#define LEVELS_HINT \
	"Pass the levels and baseline_counts of the input's row of ml_drift_baseline(model) " \
	"(ml_model_info(model)->'inputs'->i->'levels' and ->'stats'->'counts')."

/* ---------------------------------------------------------------- validation */

/* A one-dimensional array without NULLs of at most DRIFT_MAX_BINS(+1) elements. */
static int
CheckArrayShape(ArrayType *arr, const char *what, int max_len, const char *hint)
{
	int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what),
				 errdetail("The array has %d dimensions.", ARR_NDIM(arr)),
				 errhint("%s", hint)));
	if (array_contains_nulls(arr))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain NULLs", what),
				 errhint("%s", hint)));
	if (n > max_len)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has %d elements, more than the limit of %d", what, n, max_len),
				 errhint("Use fewer, wider bins.")));
	return n;
}

/* Bin edges: n >= 2 finite, strictly increasing values. */
static void
CheckEdges(const double *e, int n)
{
	if (n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("bin edges must have at least 2 elements, got %d", n),
				 errdetail("k bins need k + 1 edges."),
				 errhint(BINS_HINT)));
	for (int i = 0; i < n; i++)
	{
		if (!isfinite(e[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bin edges must be finite"),
					 errdetail("Edge %d is %g.", i + 1, e[i]),
					 errhint(BINS_HINT)));
		if (i > 0 && !(e[i] > e[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bin edges must be strictly increasing"),
					 errdetail("Edge %d (%.17g) is not greater than edge %d (%.17g).",
							   i + 1, e[i], i, e[i - 1]),
					 errhint(BINS_HINT)));
	}
}

/* The bin edges of a float8[] (not yet checked); sets *k, the bins. */
static double *
ParseEdges(ArrayType *arr, int *k)
{
	int			n = CheckArrayShape(arr, "bin edges", DRIFT_MAX_BINS + 1, BINS_HINT);

	if (ARR_ELEMTYPE(arr) != FLOAT8OID)
		elog(ERROR, "bin edges must be float8[]");
	*k = n - 1;
	return (double *) ARR_DATA_PTR(arr);
}

/* Total order of levels for the binary search: by length, then bytes. */
static int
LevelCmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/* Levels, for the sort of DriftState.sorted (qsort_arg's comparator). */
static int
LevelIndexCmp(const void *a, const void *b, void *arg)
{
	DriftState *s = (DriftState *) arg;
	int			i = *(const int *) a;
	int			j = *(const int *) b;

	return LevelCmp(s->levels[i], s->level_lens[i], s->levels[j], s->level_lens[j]);
}

/*
 * n levels (bytes and lengths) into s (levels, level_lens, k) in the
 * current memory context, plus the sorted index; distinct, at least one.
 */
static void
SetLevels(DriftState *s, int n, const char *const *bytes, const int *lens)
{
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("levels must have at least 1 element"),
				 errhint(LEVELS_HINT)));
	s->k = n;
	s->levels = palloc(sizeof(char *) * n);
	s->level_lens = palloc(sizeof(int) * n);
	s->sorted = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
	{
		if (lens[i] > DRIFT_MAX_LEVEL_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("level %d is %d bytes long, more than the limit of %d",
							i + 1, lens[i], DRIFT_MAX_LEVEL_LEN),
					 errhint("Shorten the level, or leave such values out of the comparison.")));
		s->levels[i] = palloc(Max(lens[i], 1));
		memcpy(s->levels[i], bytes[i], lens[i]);
		s->level_lens[i] = lens[i];
		s->sorted[i] = i;
	}
	qsort_arg(s->sorted, n, sizeof(int), LevelIndexCmp, s);
	for (int i = 1; i < n; i++)
	{
		int			a = s->sorted[i - 1],
					b = s->sorted[i];

		if (LevelIndexCmp(&a, &b, s) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("levels must be distinct"),
					 errdetail("Level \"%s\" appears twice.",
							   pnstrdup(s->levels[a], s->level_lens[a])),
					 errhint(LEVELS_HINT)));
	}
}

/* The levels of a text[] into s, as SetLevels. */
static void
ParseLevels(ArrayType *arr, DriftState *s)
{
	int			n = CheckArrayShape(arr, "levels", DRIFT_MAX_BINS, LEVELS_HINT);
	Datum	   *elems;
	bool	   *nulls;
	const char **bytes;
	int		   *lens;

	if (ARR_ELEMTYPE(arr) != TEXTOID)
		elog(ERROR, "levels must be text[]");
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	bytes = palloc(sizeof(char *) * Max(n, 1));
	lens = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		text	   *t = DatumGetTextPP(elems[i]);

		bytes[i] = VARDATA_ANY(t);
		lens[i] = VARSIZE_ANY_EXHDR(t);
	}
	SetLevels(s, n, bytes, lens);
}

/* The baseline counts of k bins, as a float8[] (not yet checked). */
static double *
ParseBaseline(ArrayType *arr, int k, DriftKind kind)
{
	const char *hint = kind == DRIFT_NUMERIC ? BINS_HINT : LEVELS_HINT;
	int			n = CheckArrayShape(arr, "baseline counts", DRIFT_MAX_BINS, hint);
	double	   *b = (double *) ARR_DATA_PTR(arr);

	if (ARR_ELEMTYPE(arr) != FLOAT8OID)
		elog(ERROR, "baseline counts must be float8[]");
	if (n != k)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("baseline counts must have one element per %s", kind == DRIFT_NUMERIC ? "bin" : "level"),
				 kind == DRIFT_NUMERIC ?
				 errdetail("There are %d bins (%d edges) but %d baseline counts.", k, k + 1, n) :
				 errdetail("There are %d levels but %d baseline counts.", k, n),
				 errhint("%s", hint)));
	return b;
}

/*
 * The baseline counts of k bins: finite, non-negative; its NULL count too,
 * and the baseline is not empty.
 */
static void
CheckBaseline(const double *baseline, int k, double n_null, DriftKind kind)
{
	double		total = n_null;

	for (int i = 0; i < k; i++)
		if (!(isfinite(baseline[i]) && baseline[i] >= 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("baseline counts must be finite and non-negative"),
					 errdetail("Count %d is %g.", i + 1, baseline[i]),
					 errhint("%s", kind == DRIFT_NUMERIC ? BINS_HINT : LEVELS_HINT)));
	if (!(isfinite(n_null) && n_null >= 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("baseline NULL count must be finite and non-negative, got %g", n_null),
				 errhint("Pass ml_model_info(model)->'inputs'->i->'stats'->'n_null', or use the "
						 "form without it.")));
	for (int i = 0; i < k; i++)
		total += baseline[i];
	if (!(total > 0) || !isfinite(total))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("baseline counts must have a positive finite sum, got %g", total),
				 errhint("An empty baseline cannot be compared with; check the model's training "
						 "statistics.")));
}

/* The bin arguments must not be NULL. */
static void
CheckArgsNotNull(FunctionCallInfo fcinfo, DriftKind kind)
{
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || (PG_NARGS() > 4 && PG_ARGISNULL(4)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s, baseline counts and baseline NULL count must not be NULL",
						kind == DRIFT_NUMERIC ? "bin edges" : "levels"),
				 errhint("%s", kind == DRIFT_NUMERIC ? BINS_HINT : LEVELS_HINT)));
}

/* ---------------------------------------------------------------- state */

static DriftState *
StateCreate(DriftKind kind, int k)
{
	DriftState *s = palloc0(sizeof(DriftState));

	s->kind = kind;
	s->k = k;
	s->counts = palloc0(sizeof(int64) * N_CELLS(k));
	return s;
}

/* The baseline (validated) into a state whose bins or levels are set. */
static DriftState *
StateWithBaseline(DriftState *s, const double *baseline, double baseline_null)
{
	CheckBaseline(baseline, s->k, baseline_null, s->kind);
	s->baseline = palloc(sizeof(double) * s->k);
	memcpy(s->baseline, baseline, sizeof(double) * s->k);
	s->baseline_null = baseline_null;
	return s;
}

/* A numeric state of k bins between k + 1 edges, with its baseline. */
DriftState *
DriftNumericState(int k, const double *edges, const double *baseline, double baseline_null)
{
	DriftState *s;

	CheckEdges(edges, k + 1);
	s = StateCreate(DRIFT_NUMERIC, k);
	s->edges = palloc(sizeof(double) * (k + 1));
	memcpy(s->edges, edges, sizeof(double) * (k + 1));
	return StateWithBaseline(s, baseline, baseline_null);
}

/* A categorical state of k levels (NUL-terminated), with its baseline. */
DriftState *
DriftCategoricalState(int k, char *const *levels, const double *baseline, double baseline_null)
{
	DriftState	tmp = {0};
	DriftState *s;
	int		   *lens = palloc(sizeof(int) * Max(k, 1));

	for (int i = 0; i < k; i++)
		lens[i] = strlen(levels[i]);
	SetLevels(&tmp, k, (const char *const *) levels, lens);
	s = StateCreate(DRIFT_CATEGORICAL, k);
	s->levels = tmp.levels;
	s->level_lens = tmp.level_lens;
	s->sorted = tmp.sorted;
	return StateWithBaseline(s, baseline, baseline_null);
}

/*
 * The state of the first row, in the aggregate's memory context: the
 * parsed, validated bins and a copy of the argument bytes.
 */
static DriftState *
StateFromArgs(FunctionCallInfo fcinfo, DriftKind kind, MemoryContext aggctx)
{
	struct varlena *bins_raw = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(2));
	struct varlena *base_raw = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(3));
	ArrayType  *bins = PG_GETARG_ARRAYTYPE_P(2);
	ArrayType  *base = PG_GETARG_ARRAYTYPE_P(3);
	double		n_null = PG_NARGS() > 4 ? PG_GETARG_FLOAT8(4) : 0.0;
	MemoryContext old = MemoryContextSwitchTo(aggctx);
	DriftState *s;

	if (kind == DRIFT_NUMERIC)
	{
		int			k;
		double	   *e = ParseEdges(bins, &k);

		s = DriftNumericState(k, e, ParseBaseline(base, k, kind), n_null);
	}
	else
	{
		DriftState	tmp = {0};

		ParseLevels(bins, &tmp);
		s = StateCreate(kind, tmp.k);
		s->levels = tmp.levels;
		s->level_lens = tmp.level_lens;
		s->sorted = tmp.sorted;
		s = StateWithBaseline(s, ParseBaseline(base, s->k, kind), n_null);
	}
	s->arg_bins_len = VARSIZE_ANY_EXHDR(bins_raw);
	s->arg_bins = palloc(Max(s->arg_bins_len, 1));
	memcpy(s->arg_bins, VARDATA_ANY(bins_raw), s->arg_bins_len);
	s->arg_baseline_len = VARSIZE_ANY_EXHDR(base_raw);
	s->arg_baseline = palloc(Max(s->arg_baseline_len, 1));
	memcpy(s->arg_baseline, VARDATA_ANY(base_raw), s->arg_baseline_len);
	MemoryContextSwitchTo(old);
	return s;
}

static pg_noreturn void
BinsDiffer(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s differ between rows of the same aggregate", what),
			 errdetail("Every row of a group must be compared with the same baseline."),
			 errhint("Pass the baseline as constants, a scalar subquery or a one-row CTE, "
					 "or GROUP BY the input whose baseline it is.")));
}

/* Equal values of two double arrays (bitwise equal but for -0 = 0). */
static bool
DoublesEqual(const double *a, const double *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/*
 * A later row's bin arguments must equal the first row's: equal bytes
 * (the usual case: a constant or a parameter), or else equal values.
 */
static void
CheckSameArgs(FunctionCallInfo fcinfo, DriftState *s)
{
	struct varlena *bins_raw = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(2));
	struct varlena *base_raw = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(3));

	if (s->arg_bins == NULL)
		elog(ERROR, "drift aggregate state has no bins to compare with");
	if (VARSIZE_ANY_EXHDR(bins_raw) != s->arg_bins_len ||
		memcmp(VARDATA_ANY(bins_raw), s->arg_bins, s->arg_bins_len) != 0)
	{
		ArrayType  *bins = PG_GETARG_ARRAYTYPE_P(2);

		if (s->kind == DRIFT_NUMERIC)
		{
			int			k;
			double	   *e = ParseEdges(bins, &k);

			if (k != s->k || !DoublesEqual(e, s->edges, k + 1))
				BinsDiffer("bin edges");
		}
		else
		{
			DriftState	tmp = {0};

			ParseLevels(bins, &tmp);
			if (tmp.k != s->k)
				BinsDiffer("levels");
			for (int i = 0; i < s->k; i++)
				if (LevelCmp(tmp.levels[i], tmp.level_lens[i], s->levels[i], s->level_lens[i]) != 0)
					BinsDiffer("levels");
		}
	}
	if (VARSIZE_ANY_EXHDR(base_raw) != s->arg_baseline_len ||
		memcmp(VARDATA_ANY(base_raw), s->arg_baseline, s->arg_baseline_len) != 0)
	{
		double	   *b = ParseBaseline(PG_GETARG_ARRAYTYPE_P(3), s->k, s->kind);

		if (!DoublesEqual(b, s->baseline, s->k))
			BinsDiffer("baseline counts");
	}
	if (PG_NARGS() > 4 && PG_GETARG_FLOAT8(4) != s->baseline_null)
		BinsDiffer("baseline NULL counts");
}

/*
 * The cell of a number: a binary search among the edges (as stats.c's
 * FindBin) written without a data-dependent branch, which the compiler
 * turns into conditional moves: drift values fall in unpredictable bins,
 * and mispredicted branches were most of the cost of a row.
 */
int
DriftNumericCell(const DriftState *s, double v)
{
	const double *e = s->edges;
	int			lo = 0,
				n = s->k;

	if (v < e[0])				/* -Infinity too */
		return CELL_BELOW(s->k);
	if (!(v <= e[s->k]))		/* +Infinity and NaN */
		return CELL_ABOVE(s->k);
	/* the last of e[lo .. lo + n - 1] that is <= v; e[lo] <= v throughout */
	while (n > 1)
	{
		int			half = n / 2;

		lo = e[lo + half] <= v ? lo + half : lo;
		n -= half;
	}
	return lo;
}

/* The cell of a text value (its bytes): its level, or "unseen" (CELL_ABOVE). */
int
DriftCategoricalCell(const DriftState *s, const char *v, int len)
{
	int			lo = 0,
				hi = s->k - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			i = s->sorted[mid];
		int			c = LevelCmp(v, len, s->levels[i], s->level_lens[i]);

		if (c == 0)
			return i;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return CELL_ABOVE(s->k);
}

/* Transition: count one row's value (NULL too) into its cell. */
static Datum
DriftAccum(FunctionCallInfo fcinfo, DriftKind kind)
{
	MemoryContext aggctx;
	DriftState *s = PG_ARGISNULL(0) ? NULL : (DriftState *) PG_GETARG_POINTER(0);
	int			cell;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "drift transition function called in non-aggregate context");
	CheckArgsNotNull(fcinfo, kind);
	if (s == NULL)
		s = StateFromArgs(fcinfo, kind, aggctx);
	else
	{
		if (s->kind != kind)
			elog(ERROR, "drift aggregate state of the wrong kind");
		CheckSameArgs(fcinfo, s);
	}

	if (PG_ARGISNULL(1))
		cell = CELL_NULL(s->k);
	else if (kind == DRIFT_NUMERIC)
		cell = DriftNumericCell(s, PG_GETARG_FLOAT8(1));
	else
	{
		text	   *t = PG_GETARG_TEXT_PP(1);

		cell = DriftCategoricalCell(s, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	s->counts[cell]++;
	s->n++;
	PG_RETURN_POINTER(s);
}

/* Transition of the numeric aggregates (value float8, edges, counts [, n_null]). */
Datum
drift_numeric_accum(PG_FUNCTION_ARGS)
{
	return DriftAccum(fcinfo, DRIFT_NUMERIC);
}

/* Transition of the categorical aggregates (value text, levels, counts [, n_null]). */
Datum
drift_categorical_accum(PG_FUNCTION_ARGS)
{
	return DriftAccum(fcinfo, DRIFT_CATEGORICAL);
}

/* Whether two states have the same baseline (bins, levels and counts). */
static bool
SameBaseline(const DriftState *a, const DriftState *b)
{
	if (a->kind != b->kind || a->k != b->k || a->baseline_null != b->baseline_null ||
		!DoublesEqual(a->baseline, b->baseline, a->k))
		return false;
	if (a->kind == DRIFT_NUMERIC)
		return DoublesEqual(a->edges, b->edges, a->k + 1);
	for (int i = 0; i < a->k; i++)
		if (LevelCmp(a->levels[i], a->level_lens[i], b->levels[i], b->level_lens[i]) != 0)
			return false;
	return true;
}

/*
 * A deep copy of a state in the current context, without the argument bytes
 * and the levels' lookup index: for combining and final functions only.
 */
DriftState *
DriftStateCopy(const DriftState *src)
{
	DriftState *s = StateCreate(src->kind, src->k);

	if (src->kind == DRIFT_NUMERIC)
	{
		s->edges = palloc(sizeof(double) * (src->k + 1));
		memcpy(s->edges, src->edges, sizeof(double) * (src->k + 1));
	}
	else
	{
		s->levels = palloc(sizeof(char *) * src->k);
		s->level_lens = palloc(sizeof(int) * src->k);
		for (int i = 0; i < src->k; i++)
		{
			s->levels[i] = palloc(Max(src->level_lens[i], 1));
			memcpy(s->levels[i], src->levels[i], src->level_lens[i]);
			s->level_lens[i] = src->level_lens[i];
		}
	}
	s->baseline = palloc(sizeof(double) * src->k);
	memcpy(s->baseline, src->baseline, sizeof(double) * src->k);
	s->baseline_null = src->baseline_null;
	s->n = src->n;
	memcpy(s->counts, src->counts, sizeof(int64) * N_CELLS(src->k));
	return s;
}

/* Add a state's counts to another's; same baselines only. */
void
DriftStateAdd(DriftState *into, const DriftState *from)
{
	if (!SameBaseline(into, from))
		BinsDiffer("baselines");
	for (int i = 0; i < N_CELLS(into->k); i++)
		into->counts[i] += from->counts[i];
	into->n += from->n;
}

/* Combine: add the second state's counts to the first's. */
Datum
drift_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	DriftState *s1 = PG_ARGISNULL(0) ? NULL : (DriftState *) PG_GETARG_POINTER(0);
	DriftState *s2 = PG_ARGISNULL(1) ? NULL : (DriftState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "drift_combine called in non-aggregate context");
	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	if (s1 == NULL)
	{
		/* deserialised states live in short-lived memory: copy */
		MemoryContext old = MemoryContextSwitchTo(aggctx);

		s1 = DriftStateCopy(s2);
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(s1);
	}
	DriftStateAdd(s1, s2);
	PG_RETURN_POINTER(s1);
}

/*
 * Binary form of a partial state:
 *   u32 magic "MLDS", u16 version, u16 kind, u32 flags (0), u32 reserved (0),
 *   i32 k, then numeric: (k + 1) x f64 edge; categorical: k x (i32 length,
 *   bytes) level; then k x f64 baseline count, f64 baseline NULL count,
 *   i64 rows, (k + 3) x i64 cell count.
 */
void
DriftStateWrite(StringInfo buf, const DriftState *s)
{
	pq_sendint32(buf, DRIFT_STATE_MAGIC);
	pq_sendint16(buf, DRIFT_STATE_VERSION);
	pq_sendint16(buf, (uint16) s->kind);
	pq_sendint32(buf, 0);
	pq_sendint32(buf, 0);
	pq_sendint32(buf, s->k);
	if (s->kind == DRIFT_NUMERIC)
		for (int i = 0; i <= s->k; i++)
			pq_sendfloat8(buf, s->edges[i]);
	else
		for (int i = 0; i < s->k; i++)
		{
			pq_sendint32(buf, s->level_lens[i]);
			pq_sendbytes(buf, s->levels[i], s->level_lens[i]);
		}
	for (int i = 0; i < s->k; i++)
		pq_sendfloat8(buf, s->baseline[i]);
	pq_sendfloat8(buf, s->baseline_null);
	pq_sendint64(buf, s->n);
	for (int i = 0; i < N_CELLS(s->k); i++)
		pq_sendint64(buf, s->counts[i]);
}

Datum
drift_serialize(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	DriftStateWrite(&buf, (DriftState *) PG_GETARG_POINTER(0));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static pg_noreturn void
InvalidState(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("invalid drift aggregate state"),
			 errdetail("%s", detail)));
}

/* Bytes left in buf must be at least need. */
static void
NeedBytes(StringInfo buf, int64 need)
{
	if (need < 0 || (int64) (buf->len - buf->cursor) < need)
		InvalidState("The state is truncated.");
}

/*
 * A state from its binary form at buf's cursor; every length is checked
 * before it is read, every value validated.
 */
DriftState *
DriftStateRead(StringInfo buf)
{
	DriftState *s;
	int			kind,
				k;
	int64		total = 0;

	NeedBytes(buf, 20);
	if ((uint32) pq_getmsgint(buf, 4) != DRIFT_STATE_MAGIC)
		InvalidState("The magic number is wrong.");
	if (pq_getmsgint(buf, 2) != DRIFT_STATE_VERSION)
		InvalidState("The format version is unknown.");
	kind = pq_getmsgint(buf, 2);
	if (kind != DRIFT_NUMERIC && kind != DRIFT_CATEGORICAL)
		InvalidState("The kind is unknown.");
	if (pq_getmsgint(buf, 4) != 0 || pq_getmsgint(buf, 4) != 0)
		InvalidState("The flags or the reserved field are not zero.");
	k = (int32) pq_getmsgint(buf, 4);
	if (k < 1 || k > DRIFT_MAX_BINS)
		InvalidState("The number of bins is out of range.");
	s = StateCreate((DriftKind) kind, k);
	if (kind == DRIFT_NUMERIC)
	{
		NeedBytes(buf, (int64) sizeof(double) * (k + 1));
		s->edges = palloc(sizeof(double) * (k + 1));
		for (int i = 0; i <= k; i++)
		{
			s->edges[i] = pq_getmsgfloat8(buf);
			if (!isfinite(s->edges[i]) || (i > 0 && !(s->edges[i] > s->edges[i - 1])))
				InvalidState("The bin edges are not finite and strictly increasing.");
		}
	}
	else
	{
		s->levels = palloc(sizeof(char *) * k);
		s->level_lens = palloc(sizeof(int) * k);
		for (int i = 0; i < k; i++)
		{
			int			len;

			NeedBytes(buf, 4);
			len = (int32) pq_getmsgint(buf, 4);
			if (len < 0 || len > DRIFT_MAX_LEVEL_LEN)
				InvalidState("A level length is out of range.");
			NeedBytes(buf, len);
			s->levels[i] = palloc(Max(len, 1));
			pq_copymsgbytes(buf, s->levels[i], len);
			s->level_lens[i] = len;
		}
	}
	NeedBytes(buf, (int64) sizeof(double) * (k + 1) + sizeof(int64) * (N_CELLS(k) + 1));
	s->baseline = palloc(sizeof(double) * k);
	for (int i = 0; i < k; i++)
	{
		s->baseline[i] = pq_getmsgfloat8(buf);
		if (!(isfinite(s->baseline[i]) && s->baseline[i] >= 0))
			InvalidState("A baseline count is negative or not finite.");
	}
	s->baseline_null = pq_getmsgfloat8(buf);
	if (!(isfinite(s->baseline_null) && s->baseline_null >= 0))
		InvalidState("The baseline NULL count is negative or not finite.");
	s->n = pq_getmsgint64(buf);
	for (int i = 0; i < N_CELLS(k); i++)
	{
		s->counts[i] = pq_getmsgint64(buf);
		if (s->counts[i] < 0 || s->counts[i] > s->n)
			InvalidState("A count is out of range.");
		total += s->counts[i];
	}
	if (s->n < 0 || total != s->n || (kind == DRIFT_CATEGORICAL && s->counts[CELL_BELOW(k)] != 0))
		InvalidState("The counts do not add up.");
	return s;
}

/* Deserialise: one state, and nothing after it. */
Datum
drift_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	DriftState *s;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	s = DriftStateRead(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* ---------------------------------------------------------------- statistics */

/*
 * The k + 3 cells of current (cur) and baseline (base) counts, in the order
 * [below, bin_1 .. bin_k, above, null]; the totals go to *n_cur, *n_base.
 * Returns the number of cells.
 */
static int
DriftCells(const DriftState *s, double **cur, double **base, double *n_cur, double *n_base)
{
	int			m = N_CELLS(s->k);
	double	   *c = palloc(sizeof(double) * m);
	double	   *b = palloc0(sizeof(double) * m);
	double		tb = s->baseline_null;

	c[0] = (double) s->counts[CELL_BELOW(s->k)];
	for (int i = 0; i < s->k; i++)
	{
		c[i + 1] = (double) s->counts[i];
		b[i + 1] = s->baseline[i];
		tb += s->baseline[i];
	}
	c[s->k + 1] = (double) s->counts[CELL_ABOVE(s->k)];
	c[s->k + 2] = (double) s->counts[CELL_NULL(s->k)];
	b[s->k + 2] = s->baseline_null;
	*cur = c;
	*base = b;
	*n_cur = (double) s->n;
	*n_base = tb;
	return m;
}

/* The state of a final function, or NULL when there were no rows. */
static DriftState *
FinalState(FunctionCallInfo fcinfo)
{
	DriftState *s = PG_ARGISNULL(0) ? NULL : (DriftState *) PG_GETARG_POINTER(0);

	if (s == NULL || s->n == 0)
		return NULL;
	return s;
}

/*
 * Population stability index, with proportions floored at
 * DRIFT_PSI_EPSILON so that an empty cell on one side stays finite.
 */
double
DriftPsi(const DriftState *s)
{
	double	   *c,
			   *b,
				nc,
				nb,
				psi = 0;
	int			m = DriftCells(s, &c, &b, &nc, &nb);

	for (int i = 0; i < m; i++)
	{
		double		p = Max(c[i] / nc, DRIFT_PSI_EPSILON);
		double		q = Max(b[i] / nb, DRIFT_PSI_EPSILON);

		psi += (p - q) * log(p / q);
	}
	return psi;
}

Datum
drift_psi_final(PG_FUNCTION_ARGS)
{
	DriftState *s = FinalState(fcinfo);

	if (s == NULL)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(DriftPsi(s));
}

/*
 * Jensen-Shannon divergence: JS(P, Q) = (KL(P || M) + KL(Q || M)) / 2,
 * M = (P + Q) / 2, in bits; 0 log 0 = 0, so no smoothing is needed.
 */
double
DriftJsDivergence(const DriftState *s)
{
	double	   *c,
			   *b,
				nc,
				nb,
				js = 0;
	int			m = DriftCells(s, &c, &b, &nc, &nb);

	for (int i = 0; i < m; i++)
	{
		double		p = c[i] / nc;
		double		q = b[i] / nb;
		double		mid = (p + q) / 2;

		if (p > 0)
			js += p * log(p / mid);
		if (q > 0)
			js += q * log(q / mid);
	}
	/* rounding can leave -1e-17 for identical distributions */
	return Max(js / (2 * M_LN2), 0.0);
}

Datum
drift_js_final(PG_FUNCTION_ARGS)
{
	DriftState *s = FinalState(fcinfo);

	if (s == NULL)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(DriftJsDivergence(s));
}

/*
 * Q(a, x) = Gamma(a, x) / Gamma(a), the regularised upper incomplete gamma
 * function, for a > 0, x >= 0: for x < a + 1 the series of P = 1 - Q,
 * otherwise Legendre's continued fraction of Q evaluated by the modified
 * Lentz method (Press et al., Numerical Recipes, 3rd ed., 2007, 6.2). The
 * chi-square survival function is Q(dof / 2, statistic / 2). The common
 * factor x^a e^-x / Gamma(a) is formed in logarithms; for large a its
 * rounding error grows like a * DBL_EPSILON (relative).
 */
static double
DriftGammaQ(double a, double x)
{
	double		log_prefix;

	if (!(x > 0))
		return 1.0;
	log_prefix = a * log(x) - x - lgamma(a);
	if (x < a + 1.0)
	{
		double		ap = a,
					term = 1.0 / a,
					sum = term;

		for (int i = 0; i < GAMMA_MAX_ITER; i++)
		{
			ap += 1.0;
			term *= x / ap;
			sum += term;
			if (fabs(term) < fabs(sum) * DBL_EPSILON)
				return 1.0 - sum * exp(log_prefix);
		}
	}
	else
	{
		double		b = x + 1.0 - a,
					c = 1.0 / DBL_MIN,
					d = 1.0 / b,
					h = d;

		for (int i = 1; i < GAMMA_MAX_ITER; i++)
		{
			double		an = -i * (i - a);
			double		delta;

			b += 2.0;
			d = an * d + b;
			if (fabs(d) < DBL_MIN)
				d = DBL_MIN;
			c = b + an / c;
			if (fabs(c) < DBL_MIN)
				c = DBL_MIN;
			d = 1.0 / d;
			delta = d * c;
			h *= delta;
			if (fabs(delta - 1.0) < DBL_EPSILON)
				return exp(log_prefix) * h;
		}
	}
	elog(ERROR, "incomplete gamma function did not converge for a = %g, x = %g", a, x);
	return 0;					/* keep the compiler quiet */
}

/*
 * The chi-square test of homogeneity of the baseline and current counts:
 * statistic, p-value, degrees of freedom. Per column j with baseline b_j,
 * current c_j and total C_j = b_j + c_j, the two cells' (O - E)^2 / E add
 * up to (b_j n - c_j B)^2 / (B n C_j) (B, n the row totals); that form has
 * no cancellation between O and E.
 */
void
DriftChiSquare(const DriftState *s, double *statistic, double *p_value, double *dof)
{
	double	   *c,
			   *b,
				nc,
				nb,
				stat = 0;
	int			m = DriftCells(s, &c, &b, &nc, &nb),
				cols = 0;

	for (int i = 0; i < m; i++)
	{
		double		col = b[i] + c[i];
		double		d;

		if (!(col > 0))
			continue;
		cols++;
		d = b[i] * nc - c[i] * nb;
		stat += (d / (nb * nc)) * (d / col);
	}
	*statistic = stat;
	*p_value = cols > 1 ? DriftGammaQ((cols - 1) / 2.0, stat / 2.0) : 1.0;
	*dof = (double) Max(cols - 1, 0);
}

/* Final of ml_chi_square: {statistic, p-value, dof}. */
Datum
drift_chi_square_final(PG_FUNCTION_ARGS)
{
	DriftState *s = FinalState(fcinfo);
	double		stat,
				p,
				dof;
	Datum		out[3];

	if (s == NULL)
		PG_RETURN_NULL();
	DriftChiSquare(s, &stat, &p, &dof);
	out[0] = Float8GetDatum(stat);
	out[1] = Float8GetDatum(p);
	out[2] = Float8GetDatum(dof);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, 3, FLOAT8OID, sizeof(double),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Kolmogorov-Smirnov distance: max |F_cur - F_base| over the cumulative
 * proportions of the non-NULL cells [below, bins, above] of a numeric
 * state; false when either side has no non-NULL values.
 */
bool
DriftKs(const DriftState *s, double *ks)
{
	double	   *c,
			   *b,
				nc,
				nb,
				fc = 0,
				fb = 0;
	int			m;

	if (s->kind != DRIFT_NUMERIC)
		elog(ERROR, "ml_ks needs a numeric drift state");
	m = DriftCells(s, &c, &b, &nc, &nb);
	/* the last cell is NULL: leave it out of both distributions */
	nc -= c[m - 1];
	nb -= b[m - 1];
	if (!(nc > 0) || !(nb > 0))
		return false;
	*ks = 0;
	for (int i = 0; i < m - 1; i++)
	{
		fc += c[i];
		fb += b[i];
		*ks = Max(*ks, fabs(fc / nc - fb / nb));
	}
	return true;
}

Datum
drift_ks_final(PG_FUNCTION_ARGS)
{
	DriftState *s = FinalState(fcinfo);
	double		ks;

	if (s == NULL || !DriftKs(s, &ks))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(ks);
}
