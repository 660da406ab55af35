/*
 * metrics.c -- evaluation metrics as parallel-safe SQL aggregates.
 *
 * Four families, each with the definitions of scikit-learn 1.2
 * (sklearn.metrics) so that results can be checked against it:
 *
 * Regression, (y_true float8, y_pred float8): ml_r2, ml_mse, ml_rmse,
 *   ml_mae, ml_mape, ml_regression_metrics. State: a float8[] of
 *   REG_NVALUES values (layout at RegIndex). The variance of y_true (the
 *   denominator of R^2) is kept as mean and centred sum of squares M2,
 *   updated per row with Welford's recurrence and merged with the pairwise
 *   formula of Chan, Golub & LeVeque (1979),
 *
 *     M2 = M2_a + M2_b + d^2 n_a n_b / n,  mean = mean_a + d n_b / n,
 *     d = mean_b - mean_a,
 *
 *   the idea of core's float8_regr_accum / float8_regr_combine. The mean is
 *   kept as an unevaluated sum of two doubles (hi + lo): a plain double mean
 *   is off by up to |mean| * DBL_EPSILON, and for data far from zero
 *   (|mean| >> stddev) that error in every deviation costs R^2 digits
 *   (1e6 +- 1: R^2 off by ~5e-12 relative, measured). The sums (M2 and the errors) are
 *   compensated (Neumaier's variant of Kahan summation), so a result does
 *   not depend on how rows were split between workers beyond the last bit.
 *
 * Log loss, (y_true boolean, p float8): ml_log_loss. State: a float8[]
 *   {n, sum, compensation} of per-row losses.
 *
 * Ranking, (y_true boolean, score float8): ml_roc_auc, ml_pr_auc. Both need
 *   all scores in order, so the internal state keeps every score, split by
 *   label (8 bytes per row); its size is capped by the GUC
 *   mlsys.metrics_memory_limit. The final function sorts both lists
 *   descending and walks the distinct thresholds once (ties: every row
 *   with the same score enters at the same threshold, as in sklearn's
 *   _binary_clf_curve).
 *
 * Classification, labels of any type with a default btree operator class:
 *   ml_accuracy, ml_confusion_matrix, ml_classification_metrics, and
 *   ml_precision / ml_recall / ml_f1 with a positive label. State: the
 *   distinct labels and a hash table of counts per (true, predicted)
 *   pair: bounded by the number of classes squared, never by rows.
 *   Labels cross between parallel workers in their type's binary (send /
 *   recv) or, lacking that, text form; deserialisation re-validates it all.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "jsonopt.h"
#include "mlsys.h"

/* Distinct labels one classification aggregate may see (true and predicted). */
#define METRICS_MAX_LABELS	10000

/* Serialised partial states: "MLMS" and a format version of their own. */
#define METRICS_STATE_MAGIC		0x4D4C4D53
#define METRICS_STATE_VERSION	1
#define STATE_KIND_SCORES		1
#define STATE_KIND_CONFUSION	2
#define CONFUSION_HAS_POSITIVE	0x0001	/* flag: the positive label follows */
#define CONFUSION_TEXT_IO		0x0002	/* flag: labels in text form, not binary */

/* mlsys.metrics_memory_limit, in kB: cap on one aggregate state. */
static int	metrics_memory_limit = 1024 * 1024;

/*
 * mlsys.metrics_memory_limit: ml_roc_auc / ml_pr_auc keep every score; this
 * caps what one aggregate state (one group) may hold, so a mistaken query
 * fails with a clear error instead of exhausting memory.
 */
void
MetricsInit(void)
{
	DefineCustomIntVariable("mlsys.metrics_memory_limit",
							"Maximum memory one metrics aggregate state may use.",
							"ml_roc_auc and ml_pr_auc keep 8 bytes per row; classification metrics "
							"keep their labels and label pairs.",
							&metrics_memory_limit, 1024 * 1024, 64, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
}

static Size
MetricsMemoryLimit(void)
{
	return (Size) metrics_memory_limit * 1024;
}

static pg_noreturn void
MetricsMemoryExceeded(const char *aggregates, const char *kept, int64 rows)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("state of %s exceeds \"mlsys.metrics_memory_limit\" (%dkB)",
					aggregates, metrics_memory_limit),
			 errdetail("The state keeps %s; it holds " INT64_FORMAT " rows so far.", kept, rows),
			 errhint("Raise \"mlsys.metrics_memory_limit\", or compute the metric on a sample "
					 "(e.g. TABLESAMPLE) or per group.")));
}

/* ---------------------------------------------------------------- helpers */

/* Neumaier's compensated summation: *sum + *comp is the running total. */
static inline void
SumAdd(double *sum, double *comp, double x)
{
	double		t = *sum + x;

	if (fabs(*sum) >= fabs(x))
		*comp += (*sum - t) + x;
	else
		*comp += (x - t) + *sum;
	*sum = t;
}

/*
 * *hi + *lo += x, keeping hi + lo a normalised double-double (|lo| at most
 * half an ulp of hi): Knuth's TwoSum, then Dekker's FastTwoSum.
 */
static inline void
DoubleDoubleAdd(double *hi, double *lo, double x)
{
	double		s = *hi + x;
	double		bp = s - *hi;
	double		err = (*hi - (s - bp)) + (x - bp) + *lo;

	*hi = s + err;
	*lo = err - (*hi - s);
}

static void
CheckFinite(double v, const char *what)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must be finite, got %g", what, v),
				 errhint("Filter out rows with NaN or infinite values.")));
}

/*
 * The values of a float8[] state of nvalues elements, or an error: such
 * states can be passed in by hand, so every function checks them.
 */
static double *
StateValues(ArrayType *arr, int nvalues, const char *what)
{
	double	   *v;

	if (ARR_NDIM(arr) != 1 || ARR_DIMS(arr)[0] != nvalues || ARR_HASNULL(arr) ||
		ARR_ELEMTYPE(arr) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("invalid %s state", what),
				 errdetail("Expected a float8[] of %d non-NULL elements.", nvalues)));
	v = (double *) ARR_DATA_PTR(arr);
	/* The first element is always the row count. */
	if (!(v[0] >= 0 && v[0] <= (double) PG_INT64_MAX && v[0] == floor(v[0])))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("invalid %s state", what),
				 errdetail("The row count %g is not a non-negative integer.", v[0])));
	return v;
}

/*
 * The state argument argno of a float8[] transition or combine function:
 * inside an aggregate it is updated in place (as core's float8_accum does),
 * otherwise a copy is returned.
 */
static ArrayType *
StateArg(FunctionCallInfo fcinfo, int argno)
{
	if (AggCheckCallContext(fcinfo, NULL))
		return PG_GETARG_ARRAYTYPE_P(argno);
	return PG_GETARG_ARRAYTYPE_P_COPY(argno);
}

/* A float8 result or SQL NULL for "undefined" (NaN). */
#define RETURN_FLOAT8_OR_NULL(v) \
	do { double v_ = (v); if (isnan(v_)) PG_RETURN_NULL(); PG_RETURN_FLOAT8(v_); } while (0)

static Jsonb *
JsonbFromBuf(StringInfo buf)
{
	return JsonParse(buf->data);
}

/* ---------------------------------------------------------------- regression */

/* float8[] regression state: every sum is a (sum, compensation) pair. */
typedef enum RegIndex
{
	REG_N,						/* rows */
	REG_MEAN, REG_MEAN_LO,		/* mean of y_true, as hi + lo */
	REG_M2, REG_M2_C,			/* sum (y_true - mean)^2 */
	REG_SSE, REG_SSE_C,			/* sum (y_true - y_pred)^2 */
	REG_SAE, REG_SAE_C,			/* sum |y_true - y_pred| */
	REG_SAPE, REG_SAPE_C,		/* sum |y_true - y_pred| / max(|y_true|, eps) */
	REG_NVALUES
} RegIndex;

PG_FUNCTION_INFO_V1(metrics_regression_accum);
PG_FUNCTION_INFO_V1(metrics_regression_combine);
PG_FUNCTION_INFO_V1(metrics_r2_final);
PG_FUNCTION_INFO_V1(metrics_mse_final);
PG_FUNCTION_INFO_V1(metrics_rmse_final);
PG_FUNCTION_INFO_V1(metrics_mae_final);
PG_FUNCTION_INFO_V1(metrics_mape_final);
PG_FUNCTION_INFO_V1(metrics_regression_final);

/*
 * Sums may legitimately overflow to infinity (errors near DBL_MAX), so
 * only the shape and the row count of a state are checked.
 */
static double *
RegState(ArrayType *arr)
{
	return StateValues(arr, REG_NVALUES, "regression metrics");
}

/* Transition (strict: rows with a NULL are skipped): add one (y, p) row. */
Datum
metrics_regression_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = StateArg(fcinfo, 0);
	double	   *s = RegState(arr);
	double		y = PG_GETARG_FLOAT8(1);
	double		p = PG_GETARG_FLOAT8(2);
	double		n = s[REG_N] + 1;
	double		d = (y - s[REG_MEAN]) - s[REG_MEAN_LO];
	double		err = y - p;

	CheckFinite(y, "y_true");
	CheckFinite(p, "y_pred");
	/* Welford: mean moves by d / n; M2 grows by d times the new deviation. */
	DoubleDoubleAdd(&s[REG_MEAN], &s[REG_MEAN_LO], d / n);
	SumAdd(&s[REG_M2], &s[REG_M2_C], d * ((y - s[REG_MEAN]) - s[REG_MEAN_LO]));
	s[REG_N] = n;
	SumAdd(&s[REG_SSE], &s[REG_SSE_C], err * err);
	SumAdd(&s[REG_SAE], &s[REG_SAE_C], fabs(err));
	/* scikit-learn: |y - p| / max(|y|, machine epsilon). */
	SumAdd(&s[REG_SAPE], &s[REG_SAPE_C], fabs(err) / Max(fabs(y), DBL_EPSILON));
	PG_RETURN_ARRAYTYPE_P(arr);
}

/* Combine: merge the second state into the first (Chan et al.). */
Datum
metrics_regression_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = StateArg(fcinfo, 0);
	double	   *a = RegState(arr);
	double	   *b = RegState(PG_GETARG_ARRAYTYPE_P(1));
	double		n;
	double		d;

	if (b[REG_N] == 0)
		PG_RETURN_ARRAYTYPE_P(arr);
	if (a[REG_N] == 0)
	{
		memcpy(a, b, sizeof(double) * REG_NVALUES);
		PG_RETURN_ARRAYTYPE_P(arr);
	}
	n = a[REG_N] + b[REG_N];
	d = (b[REG_MEAN] - a[REG_MEAN]) + (b[REG_MEAN_LO] - a[REG_MEAN_LO]);
	SumAdd(&a[REG_M2], &a[REG_M2_C], d * d * a[REG_N] * b[REG_N] / n);
	DoubleDoubleAdd(&a[REG_MEAN], &a[REG_MEAN_LO], d * b[REG_N] / n);
	a[REG_N] = n;
	for (int i = REG_M2; i < REG_NVALUES; i += 2)
	{
		SumAdd(&a[i], &a[i + 1], b[i]);
		a[i + 1] += b[i + 1];
	}
	PG_RETURN_ARRAYTYPE_P(arr);
}

typedef struct RegMetrics
{
	double		n,
				r2,				/* NaN when y_true is constant */
				mse,
				rmse,
				mae,
				mape;
} RegMetrics;

/* The metrics of a state; false when it holds no rows. */
static bool
RegCompute(FunctionCallInfo fcinfo, RegMetrics *m)
{
	double	   *s = RegState(PG_GETARG_ARRAYTYPE_P(0));
	double		n = s[REG_N];
	double		sse = s[REG_SSE] + s[REG_SSE_C];
	double		sst = s[REG_M2] + s[REG_M2_C];

	if (n == 0)
		return false;
	m->n = n;
	/* R^2 = 1 - SSE / SST is undefined for constant y_true (SST = 0). */
	m->r2 = sst > 0 ? 1.0 - sse / sst : NAN;
	m->mse = sse / n;
	m->rmse = sqrt(m->mse);
	m->mae = (s[REG_SAE] + s[REG_SAE_C]) / n;
	m->mape = (s[REG_SAPE] + s[REG_SAPE_C]) / n;
	return true;
}

/* Finals of the single metrics: NULL without rows, and for an undefined R^2. */
#define REG_FINAL(fn, field) \
Datum \
fn(PG_FUNCTION_ARGS) \
{ \
	RegMetrics	m; \
 \
	if (!RegCompute(fcinfo, &m)) \
		PG_RETURN_NULL(); \
	RETURN_FLOAT8_OR_NULL(m.field); \
}

REG_FINAL(metrics_r2_final, r2)
REG_FINAL(metrics_mse_final, mse)
REG_FINAL(metrics_rmse_final, rmse)
REG_FINAL(metrics_mae_final, mae)
REG_FINAL(metrics_mape_final, mape)

/* Final: all regression metrics and n as one jsonb object. */
Datum
metrics_regression_final(PG_FUNCTION_ARGS)
{
	RegMetrics	m;
	StringInfoData buf;

	if (!RegCompute(fcinfo, &m))
		PG_RETURN_NULL();
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"n\": %.0f, \"r2\": ", m.n);
	JsonAppendNumber(&buf, m.r2);	/* NaN -> null */
	appendStringInfoString(&buf, ", \"mse\": ");
	JsonAppendNumber(&buf, m.mse);
	appendStringInfoString(&buf, ", \"rmse\": ");
	JsonAppendNumber(&buf, m.rmse);
	appendStringInfoString(&buf, ", \"mae\": ");
	JsonAppendNumber(&buf, m.mae);
	appendStringInfoString(&buf, ", \"mape\": ");
	JsonAppendNumber(&buf, m.mape);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_JSONB_P(JsonbFromBuf(&buf));
}

/* ---------------------------------------------------------------- log loss */

/* float8[] log-loss state: rows, then the sum of losses as (sum, compensation). */
#define LL_N		0
#define LL_SUM		1
#define LL_SUM_C	2
#define LL_NVALUES	3

PG_FUNCTION_INFO_V1(metrics_logloss_accum);
PG_FUNCTION_INFO_V1(metrics_logloss_combine);
PG_FUNCTION_INFO_V1(metrics_logloss_final);

/*
 * Transition (strict): add the loss of one row. This is scikit-learn
 * 1.2's log_loss for 1-D binary input, operation for operation: p is
 * clipped to [eps, 1 - eps] with eps the float64 machine epsilon, the
 * row's probabilities (1 - p, p) are renormalised by their (rounded) sum,
 * and the loss is -log of the true class's probability.
 */
Datum
metrics_logloss_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = StateArg(fcinfo, 0);
	double	   *s = StateValues(arr, LL_NVALUES, "log loss");
	bool		y = PG_GETARG_BOOL(1);
	double		p = PG_GETARG_FLOAT8(2);
	double		norm;

	if (!(p >= 0.0 && p <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("probability must be between 0 and 1, got %g", p),
				 errhint("Pass the predicted probability of the positive class, not a raw score.")));
	p = Min(Max(p, DBL_EPSILON), 1.0 - DBL_EPSILON);
	norm = (1.0 - p) + p;
	SumAdd(&s[LL_SUM], &s[LL_SUM_C], -log((y ? p : 1.0 - p) / norm));
	s[LL_N] += 1;
	PG_RETURN_ARRAYTYPE_P(arr);
}

Datum
metrics_logloss_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = StateArg(fcinfo, 0);
	double	   *a = StateValues(arr, LL_NVALUES, "log loss");
	double	   *b = StateValues(PG_GETARG_ARRAYTYPE_P(1), LL_NVALUES, "log loss");

	a[LL_N] += b[LL_N];
	SumAdd(&a[LL_SUM], &a[LL_SUM_C], b[LL_SUM]);
	a[LL_SUM_C] += b[LL_SUM_C];
	PG_RETURN_ARRAYTYPE_P(arr);
}

Datum
metrics_logloss_final(PG_FUNCTION_ARGS)
{
	double	   *s = StateValues(PG_GETARG_ARRAYTYPE_P(0), LL_NVALUES, "log loss");

	if (s[LL_N] == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8((s[LL_SUM] + s[LL_SUM_C]) / s[LL_N]);
}

/* ---------------------------------------------------------------- ROC AUC, average precision */

/*
 * Every score, split by label: pos[npos] of rows with y_true, neg[nneg] of
 * the others. Capacities count against mlsys.metrics_memory_limit.
 */
typedef struct ScoreState
{
	int64		npos,
				nneg;
	int64		cappos,
				capneg;
	double	   *pos;
	double	   *neg;
} ScoreState;

PG_FUNCTION_INFO_V1(metrics_scores_accum);
PG_FUNCTION_INFO_V1(metrics_scores_combine);
PG_FUNCTION_INFO_V1(metrics_scores_serialize);
PG_FUNCTION_INFO_V1(metrics_scores_deserialize);
PG_FUNCTION_INFO_V1(metrics_roc_auc_final);
PG_FUNCTION_INFO_V1(metrics_pr_auc_final);

/* Descending sort of doubles, interruptible. */
#define ST_SORT ScoreSortDesc
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) (*(a) > *(b) ? -1 : *(a) < *(b) ? 1 : 0)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Make room for `more` further scores of one label (pos or neg), in the
 * memory context cxt: capacities double, within the memory limit.
 */
static void
ScoreReserve(ScoreState *s, bool label, int64 more, MemoryContext cxt)
{
	int64	   *cap = label ? &s->cappos : &s->capneg;
	double	  **arr = label ? &s->pos : &s->neg;
	int64		used = label ? s->npos : s->nneg;
	int64		other = label ? s->capneg : s->cappos;
	int64		limit = (int64) (MetricsMemoryLimit() / sizeof(double)) - other;
	int64		need = used + more;
	int64		newcap;

	if (need <= *cap)
		return;
	if (need > limit)
		MetricsMemoryExceeded("ml_roc_auc / ml_pr_auc", "the score of every row, 8 bytes each",
							  s->npos + s->nneg);
	newcap = Max(Max(*cap * 2, 1024), need);
	newcap = Min(newcap, limit);
	*arr = *arr == NULL
		? MemoryContextAllocHuge(cxt, sizeof(double) * newcap)
		: repalloc_huge(*arr, sizeof(double) * newcap);
	*cap = newcap;
}

static ScoreState *
ScoreStateCreate(MemoryContext cxt)
{
	return MemoryContextAllocZero(cxt, sizeof(ScoreState));
}

/* Transition: remember one (label, score) row; rows with a NULL are skipped. */
Datum
metrics_scores_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ScoreState *s;
	bool		y;
	double		score;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "metrics_scores_accum called in non-aggregate context");
	s = PG_ARGISNULL(0) ? ScoreStateCreate(aggctx) : (ScoreState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(s);
	y = PG_GETARG_BOOL(1);
	score = PG_GETARG_FLOAT8(2);
	CheckFinite(score, "score");
	ScoreReserve(s, y, 1, aggctx);
	if (y)
		s->pos[s->npos++] = score;
	else
		s->neg[s->nneg++] = score;
	PG_RETURN_POINTER(s);
}

/* Combine: append the second state's scores to the first (copying them). */
Datum
metrics_scores_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ScoreState *s1 = PG_ARGISNULL(0) ? NULL : (ScoreState *) PG_GETARG_POINTER(0);
	ScoreState *s2 = PG_ARGISNULL(1) ? NULL : (ScoreState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "metrics_scores_combine called in non-aggregate context");
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
		s1 = ScoreStateCreate(aggctx);
	if (s2->npos > 0)
	{
		ScoreReserve(s1, true, s2->npos, aggctx);
		memcpy(s1->pos + s1->npos, s2->pos, sizeof(double) * s2->npos);
		s1->npos += s2->npos;
	}
	if (s2->nneg > 0)
	{
		ScoreReserve(s1, false, s2->nneg, aggctx);
		memcpy(s1->neg + s1->nneg, s2->neg, sizeof(double) * s2->nneg);
		s1->nneg += s2->nneg;
	}
	PG_RETURN_POINTER(s1);
}

/* Common header of serialised partial states; the reserved field must be 0. */
static void
StateHeaderSend(StringInfo buf, int kind, int flags)
{
	pq_sendint32(buf, METRICS_STATE_MAGIC);
	pq_sendint16(buf, METRICS_STATE_VERSION);
	pq_sendint16(buf, kind);
	pq_sendint32(buf, flags);
	pq_sendint32(buf, 0);
}

static pg_noreturn void
StateCorrupt(const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("invalid serialized %s state", what),
			 errdetail("%s", detail)));
}

/* Read and check the header; returns the flags. */
static int
StateHeaderRecv(StringInfo buf, int kind, int known_flags, const char *what)
{
	uint32		magic;
	int			version,
				got_kind,
				flags,
				reserved;

	if (buf->len - buf->cursor < 16)
		StateCorrupt(what, "The header is truncated.");
	magic = pq_getmsgint(buf, 4);
	version = pq_getmsgint(buf, 2);
	got_kind = pq_getmsgint(buf, 2);
	flags = pq_getmsgint(buf, 4);
	reserved = pq_getmsgint(buf, 4);
	if (magic != METRICS_STATE_MAGIC)
		StateCorrupt(what, "The magic number is wrong.");
	if (version != METRICS_STATE_VERSION)
		StateCorrupt(what, psprintf("Format version %d is not supported.", version));
	if (got_kind != kind)
		StateCorrupt(what, "The state belongs to another aggregate.");
	if ((flags & ~known_flags) != 0 || reserved != 0)
		StateCorrupt(what, "Unknown flags or a non-zero reserved field.");
	return flags;
}

static void
BufInit(StringInfo buf, bytea *bytes)
{
	buf->data = VARDATA_ANY(bytes);
	buf->len = VARSIZE_ANY_EXHDR(bytes);
	buf->maxlen = buf->len;
	buf->cursor = 0;
}

/* Serialised: header, int64 npos, int64 nneg, then the scores. */
Datum
metrics_scores_serialize(PG_FUNCTION_ARGS)
{
	ScoreState *s = (ScoreState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	Size		size = 32 + sizeof(double) * (Size) (s->npos + s->nneg);

	/* A partial state travels as one bytea, at most 1 GB. */
	if (size > MaxAllocSize - VARHDRSZ - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("partial state of ml_roc_auc / ml_pr_auc is too large to pass between parallel workers"),
				 errdetail("The state holds " INT64_FORMAT " rows.", s->npos + s->nneg),
				 errhint("Run the query without parallel workers (SET max_parallel_workers_per_gather = 0).")));
	pq_begintypsend(&buf);
	enlargeStringInfo(&buf, size);
	StateHeaderSend(&buf, STATE_KIND_SCORES, 0);
	pq_sendint64(&buf, s->npos);
	pq_sendint64(&buf, s->nneg);
	for (int64 i = 0; i < s->npos; i++)
		pq_sendfloat8(&buf, s->pos[i]);
	for (int64 i = 0; i < s->nneg; i++)
		pq_sendfloat8(&buf, s->neg[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
metrics_scores_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	ScoreState *s = ScoreStateCreate(CurrentMemoryContext);
	int64		npos,
				nneg;

	BufInit(&buf, bytes);
	StateHeaderRecv(&buf, STATE_KIND_SCORES, 0, "ml_roc_auc / ml_pr_auc");
	if (buf.len - buf.cursor < 16)
		StateCorrupt("ml_roc_auc / ml_pr_auc", "The counts are truncated.");
	npos = pq_getmsgint64(&buf);
	nneg = pq_getmsgint64(&buf);
	if (npos < 0 || nneg < 0 ||
		npos + nneg != (buf.len - buf.cursor) / (int64) sizeof(double) ||
		(buf.len - buf.cursor) % sizeof(double) != 0)
		StateCorrupt("ml_roc_auc / ml_pr_auc", "The counts do not match the length.");
	ScoreReserve(s, true, npos, CurrentMemoryContext);
	ScoreReserve(s, false, nneg, CurrentMemoryContext);
	for (int64 i = 0; i < npos; i++)
		s->pos[i] = pq_getmsgfloat8(&buf);
	for (int64 i = 0; i < nneg; i++)
		s->neg[i] = pq_getmsgfloat8(&buf);
	s->npos = npos;
	s->nneg = nneg;
	for (int64 i = 0; i < npos; i++)
		if (!isfinite(s->pos[i]))
			StateCorrupt("ml_roc_auc / ml_pr_auc", "A score is not finite.");
	for (int64 i = 0; i < nneg; i++)
		if (!isfinite(s->neg[i]))
			StateCorrupt("ml_roc_auc / ml_pr_auc", "A score is not finite.");
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/*
 * Walk the distinct thresholds from the highest score down. At each, all
 * rows with that score enter at once (dtp positives, dfp negatives):
 *
 *   ROC AUC = sum dfp (tp_before + tp_after) / 2 / (P N)   (trapezoids)
 *   AP      = sum (dtp / P) * tp_after / (tp_after + fp_after)  (steps)
 *
 * as sklearn's roc_auc_score (trapezoidal auc of roc_curve) and
 * average_precision_score (step sum over precision_recall_curve). The
 * trapezoid sum 2 * area is an integer: exact in double up to 2^53.
 */
static void
ScoreCurves(ScoreState *s, double *roc_auc, double *avg_precision)
{
	int64		i = 0,
				j = 0,
				tp = 0,
				fp = 0;
	double		area2 = 0,
				ap = 0,
				ap_c = 0;

	/* Sorting in place changes the layout, not the value of the state. */
	ScoreSortDesc(s->pos, s->npos);
	ScoreSortDesc(s->neg, s->nneg);
	while (i < s->npos || j < s->nneg)
	{
		double		v;
		int64		dtp = 0,
					dfp = 0;

		CHECK_FOR_INTERRUPTS();
		if (j >= s->nneg || (i < s->npos && s->pos[i] >= s->neg[j]))
			v = s->pos[i];
		else
			v = s->neg[j];
		while (i < s->npos && s->pos[i] == v)
			i++, dtp++;
		while (j < s->nneg && s->neg[j] == v)
			j++, dfp++;
		area2 += (double) dfp * (double) (2 * tp + dtp);
		tp += dtp;
		fp += dfp;
		if (dtp > 0)
			SumAdd(&ap, &ap_c, ((double) dtp / (double) s->npos) * ((double) tp / (double) (tp + fp)));
	}
	*roc_auc = area2 / 2.0 / ((double) s->npos * (double) s->nneg);
	*avg_precision = ap + ap_c;
}

/* Final: ROC AUC; NULL without rows of both labels (undefined). */
Datum
metrics_roc_auc_final(PG_FUNCTION_ARGS)
{
	ScoreState *s = PG_ARGISNULL(0) ? NULL : (ScoreState *) PG_GETARG_POINTER(0);
	double		roc,
				ap;

	if (s == NULL || s->npos == 0 || s->nneg == 0)
		PG_RETURN_NULL();
	ScoreCurves(s, &roc, &ap);
	PG_RETURN_FLOAT8(roc);
}

/* Final: average precision; NULL without positive rows (recall undefined). */
Datum
metrics_pr_auc_final(PG_FUNCTION_ARGS)
{
	ScoreState *s = PG_ARGISNULL(0) ? NULL : (ScoreState *) PG_GETARG_POINTER(0);
	double		roc,
				ap;

	if (s == NULL || s->npos == 0)
		PG_RETURN_NULL();
	ScoreCurves(s, &roc, &ap);
	PG_RETURN_FLOAT8(ap);
}

/* ---------------------------------------------------------------- classification */

/* How a label type is compared, shipped between workers and shown in JSON. */
typedef struct LabelType
{
	Oid			typid;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	char		json;			/* 'b' boolean, 'n' number, 'j' json, 'd' date/time,
								 * 's' string */
	bool		text_io;		/* no send/recv: ship the text form */
	FmgrInfo   *cmp;			/* default btree comparison (type cache) */
	FmgrInfo	send;			/* send, or output if text_io */
	FmgrInfo	recv;			/* receive, or input if text_io */
	Oid			ioparam;
	Oid			basetype;		/* typid, or the base type of a domain */
	FmgrInfo	out;			/* output function, for JSON */
} LabelType;

/* One count of the confusion matrix; key = true id << 32 | predicted id. */
typedef struct PairEntry
{
	uint64		key;
	int64		count;
	char		status;
} PairEntry;

#define SH_PREFIX pairs
#define SH_ELEMENT_TYPE PairEntry
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) hash_combine(murmurhash32((uint32) ((k) >> 32)), murmurhash32((uint32) (k)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

#define PAIR_KEY(t, p)	(((uint64) (uint32) (t) << 32) | (uint32) (p))
#define PAIR_TRUE(k)	((int) ((k) >> 32))
#define PAIR_PRED(k)	((int) ((k) & 0xFFFFFFFF))

/*
 * Confusion counts. Labels get ids 0..nlabels-1 in order of arrival;
 * order[] lists the ids sorted by label value, for binary search.
 */
typedef struct ConfusionState
{
	LabelType  *lt;
	MemoryContext cxt;			/* where labels and arrays live */
	int64		n;				/* rows counted */
	int			nlabels;
	int			caplabels;
	Datum	   *labels;			/* [caplabels] by id */
	int		   *order;			/* [caplabels] ids by value */
	Size		label_bytes;	/* memory of the label values */
	pairs_hash *pairs;
	bool		has_positive;	/* precision / recall / f1 */
	bool		positive_vary;	/* positive is not a constant: check every row */
	Datum		positive;
} ConfusionState;

PG_FUNCTION_INFO_V1(metrics_confusion_accum);
PG_FUNCTION_INFO_V1(metrics_confusion_pos_accum);
PG_FUNCTION_INFO_V1(metrics_confusion_combine);
PG_FUNCTION_INFO_V1(metrics_confusion_serialize);
PG_FUNCTION_INFO_V1(metrics_confusion_deserialize);
PG_FUNCTION_INFO_V1(metrics_accuracy_final);
PG_FUNCTION_INFO_V1(metrics_confusion_matrix_final);
PG_FUNCTION_INFO_V1(metrics_classification_final);
PG_FUNCTION_INFO_V1(metrics_precision_final);
PG_FUNCTION_INFO_V1(metrics_recall_final);
PG_FUNCTION_INFO_V1(metrics_f1_final);

/*
 * Look up how to handle labels of type typid, cached in flinfo->fn_extra
 * (which lives as long as the query, so states may point to it).
 */
static LabelType *
LabelTypeGet(FmgrInfo *flinfo, Oid typid, Oid collation)
{
	LabelType  *lt = (LabelType *) flinfo->fn_extra;
	TypeCacheEntry *tce;
	HeapTuple	tup;
	Form_pg_type typ;
	Oid			sendfn,
				recvfn;

	if (lt != NULL && lt->typid == typid && lt->collation == collation)
		return lt;

	if (!OidIsValid(typid))
		elog(ERROR, "could not determine the label type");
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("label type %u does not exist", typid),
				 errhint("Cast the labels to a built-in type such as text or integer.")));
	typ = (Form_pg_type) GETSTRUCT(tup);
	if (typ->typtype == TYPTYPE_PSEUDO || typid == RECORDOID)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("labels of type %s are not supported", format_type_be(typid)),
				 errhint("Cast the labels to a concrete type such as integer or text.")));
	tce = lookup_type_cache(typid, TYPECACHE_CMP_PROC_FINFO);
	if (!OidIsValid(tce->cmp_proc))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a comparison function for type %s",
						format_type_be(typid)),
				 errhint("Labels must have a default btree operator class, like integer, text or boolean.")));

	lt = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(LabelType));
	lt->typid = typid;
	lt->collation = collation;
	lt->typlen = typ->typlen;
	lt->typbyval = typ->typbyval;
	lt->cmp = &tce->cmp_proc_finfo;
	lt->ioparam = getTypeIOParam(tup);
	lt->basetype = getBaseType(typid);
	sendfn = typ->typsend;
	recvfn = typ->typreceive;
	lt->text_io = !OidIsValid(sendfn) || !OidIsValid(recvfn);
	fmgr_info_cxt(lt->text_io ? typ->typoutput : sendfn, &lt->send, flinfo->fn_mcxt);
	fmgr_info_cxt(lt->text_io ? typ->typinput : recvfn, &lt->recv, flinfo->fn_mcxt);
	fmgr_info_cxt(typ->typoutput, &lt->out, flinfo->fn_mcxt);
	ReleaseSysCache(tup);

	/* JSON form, as to_jsonb: booleans and numbers as such, the rest as strings. */
	switch (lt->basetype)
	{
		case BOOLOID:
			lt->json = 'b';
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			lt->json = 'n';
			break;
		case JSONOID:
		case JSONBOID:
			lt->json = 'j';
			break;
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			lt->json = 'd';
			break;
		default:
			lt->json = 's';
	}
	flinfo->fn_extra = lt;
	return lt;
}

static int
LabelCompare(LabelType *lt, Datum a, Datum b)
{
	return DatumGetInt32(FunctionCall2Coll(lt->cmp, lt->collation, a, b));
}

static ConfusionState *
ConfusionCreate(MemoryContext cxt, LabelType *lt)
{
	ConfusionState *s = MemoryContextAllocZero(cxt, sizeof(ConfusionState));

	s->lt = lt;
	s->cxt = cxt;
	s->pairs = pairs_create(cxt, 16, NULL);
	return s;
}

/* Bytes the state holds, for mlsys.metrics_memory_limit. */
static Size
ConfusionMemory(ConfusionState *s, Size pair_slots)
{
	return s->label_bytes + (Size) s->caplabels * (sizeof(Datum) + sizeof(int)) +
		pair_slots * sizeof(PairEntry);
}

/* A copy of a label value in the state's memory context. */
static Datum
LabelCopy(ConfusionState *s, Datum v)
{
	MemoryContext old;
	Datum		copy;

	if (s->lt->typbyval)
		return v;
	old = MemoryContextSwitchTo(s->cxt);
	copy = datumCopy(v, false, s->lt->typlen);
	MemoryContextSwitchTo(old);
	return copy;
}

/*
 * The id of a label, adding it (a copy in s->cxt) if new and add is true;
 * -1 if absent and not added. *added tells whether it was added.
 */
static int
ConfusionLabelId(ConfusionState *s, Datum v, bool add, bool *added)
{
	int			lo = 0,
				hi = s->nlabels;
	int			id;

	if (added)
		*added = false;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = LabelCompare(s->lt, v, s->labels[s->order[mid]]);

		if (c == 0)
			return s->order[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (!add)
		return -1;

	if (s->nlabels >= METRICS_MAX_LABELS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct labels: more than %d", METRICS_MAX_LABELS),
				 errdetail("Classification metrics count every pair of true and predicted labels."),
				 errhint("Check that the arguments are class labels, not continuous values such as scores.")));
	if (s->nlabels == s->caplabels)
	{
		int			cap = Min(Max(s->caplabels * 2, 8), METRICS_MAX_LABELS);

		s->labels = s->labels == NULL ? MemoryContextAlloc(s->cxt, sizeof(Datum) * cap)
			: repalloc(s->labels, sizeof(Datum) * cap);
		s->order = s->order == NULL ? MemoryContextAlloc(s->cxt, sizeof(int) * cap)
			: repalloc(s->order, sizeof(int) * cap);
		s->caplabels = cap;
	}
	id = s->nlabels++;
	s->label_bytes += s->lt->typbyval ? 0 : datumGetSize(v, false, s->lt->typlen);
	if (ConfusionMemory(s, s->pairs->size) > MetricsMemoryLimit())
		MetricsMemoryExceeded("classification metrics", "every label and label pair seen", s->n);
	s->labels[id] = LabelCopy(s, v);
	memmove(&s->order[lo + 1], &s->order[lo], sizeof(int) * (s->nlabels - 1 - lo));
	s->order[lo] = id;
	if (added)
		*added = true;
	return id;
}

/* Add count rows to the (true id, predicted id) cell. */
static void
ConfusionCount(ConfusionState *s, int t, int p, int64 count)
{
	uint64		key = PAIR_KEY(t, p);
	PairEntry  *e = pairs_lookup(s->pairs, key);

	if (e == NULL)
	{
		bool		found;

		/* The table doubles when full: check before it does. */
		if (s->pairs->members >= s->pairs->grow_threshold &&
			ConfusionMemory(s, (Size) s->pairs->size * 2) > MetricsMemoryLimit())
			MetricsMemoryExceeded("classification metrics", "every label and label pair seen", s->n);
		e = pairs_insert(s->pairs, key, &found);
		e->count = 0;
	}
	if (pg_add_s64_overflow(e->count, count, &e->count) ||
		pg_add_s64_overflow(s->n, count, &s->n))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("row count out of range"),
				 errhint("Aggregate fewer rows per group.")));
}

/* A label argument, detoasted once rather than in every comparison. */
static Datum
LabelArg(LabelType *lt, Datum v)
{
	if (lt->typlen == -1)
		return PointerGetDatum(PG_DETOAST_DATUM_PACKED(v));
	return v;
}

/* Shared transition: create the state on the first call, count one row. */
static ConfusionState *
ConfusionAccum(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggctx;
	ConfusionState *s;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "%s called in non-aggregate context", fname);
	if (PG_ARGISNULL(0))
		s = ConfusionCreate(aggctx,
							LabelTypeGet(fcinfo->flinfo,
										 get_fn_expr_argtype(fcinfo->flinfo, 1),
										 PG_GET_COLLATION()));
	else
		s = (ConfusionState *) PG_GETARG_POINTER(0);

	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2))
	{
		int			t = ConfusionLabelId(s, LabelArg(s->lt, PG_GETARG_DATUM(1)), true, NULL);
		int			p = ConfusionLabelId(s, LabelArg(s->lt, PG_GETARG_DATUM(2)), true, NULL);

		ConfusionCount(s, t, p, 1);
	}
	return s;
}

/* Transition of (y_true, y_pred): rows with a NULL are skipped. */
Datum
metrics_confusion_accum(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(ConfusionAccum(fcinfo, "metrics_confusion_accum"));
}

/* Transition of (y_true, y_pred, positive): positive is the same in every row. */
Datum
metrics_confusion_pos_accum(PG_FUNCTION_ARGS)
{
	ConfusionState *s = ConfusionAccum(fcinfo, "metrics_confusion_pos_accum");
	Datum		pos;

	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("positive label must not be NULL"),
				 errhint("Pass the label whose score you want, e.g. ml_precision(y_true, y_pred, true).")));
	pos = LabelArg(s->lt, PG_GETARG_DATUM(3));
	if (!s->has_positive)
	{
		s->positive = LabelCopy(s, pos);
		s->has_positive = true;
		s->positive_vary = !get_fn_expr_arg_stable(fcinfo->flinfo, 3);
	}
	else if (s->positive_vary && LabelCompare(s->lt, pos, s->positive) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("positive label must be the same for every row"),
				 errhint("Pass the positive label as a constant.")));
	PG_RETURN_POINTER(s);
}

/* Combine: add the second state's counts to the first (copying labels). */
Datum
metrics_confusion_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ConfusionState *s1 = PG_ARGISNULL(0) ? NULL : (ConfusionState *) PG_GETARG_POINTER(0);
	ConfusionState *s2 = PG_ARGISNULL(1) ? NULL : (ConfusionState *) PG_GETARG_POINTER(1);
	int		   *map;
	pairs_iterator it;
	PairEntry  *e;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "metrics_confusion_combine called in non-aggregate context");
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		s1 = ConfusionCreate(aggctx, s2->lt);
		if (s2->has_positive)
		{
			s1->positive = LabelCopy(s1, s2->positive);
			s1->has_positive = true;
		}
	}
	if (s1->lt->typid != s2->lt->typid || s1->lt->collation != s2->lt->collation)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot combine classification states of types %s and %s",
						format_type_be(s1->lt->typid), format_type_be(s2->lt->typid)),
				 errhint("Cast the labels to one type in every partial aggregate.")));
	if (s1->has_positive != s2->has_positive ||
		(s1->has_positive && LabelCompare(s1->lt, s1->positive, s2->positive) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("positive label must be the same for every row"),
				 errhint("Pass the positive label as a constant.")));

	map = palloc(sizeof(int) * Max(s2->nlabels, 1));
	for (int id = 0; id < s2->nlabels; id++)
		map[id] = ConfusionLabelId(s1, s2->labels[id], true, NULL);
	pairs_start_iterate(s2->pairs, &it);
	while ((e = pairs_iterate(s2->pairs, &it)) != NULL)
		ConfusionCount(s1, map[PAIR_TRUE(e->key)], map[PAIR_PRED(e->key)], e->count);
	pfree(map);
	PG_RETURN_POINTER(s1);
}

/* int32 length, then the label's binary (send) or text (output) form. */
static void
LabelSend(StringInfo buf, LabelType *lt, Datum v)
{
	if (lt->text_io)
	{
		char	   *str = OutputFunctionCall(&lt->send, v);
		int			len = strlen(str);

		pq_sendint32(buf, len);
		pq_sendbytes(buf, str, len);
	}
	else
	{
		bytea	   *b = SendFunctionCall(&lt->send, v);

		pq_sendint32(buf, VARSIZE(b) - VARHDRSZ);
		pq_sendbytes(buf, VARDATA(b), VARSIZE(b) - VARHDRSZ);
	}
}

/* Read a label written by LabelSend, through the type's receive or input function. */
static Datum
LabelRecv(StringInfo buf, LabelType *lt)
{
	int			len;
	char	   *bytes;
	Datum		v;

	if (buf->len - buf->cursor < 4)
		StateCorrupt("classification", "A label is truncated.");
	len = pq_getmsgint(buf, 4);
	if (len < 0 || len > buf->len - buf->cursor)
		StateCorrupt("classification", "A label length is out of range.");
	/* Both kinds of input function expect a terminating zero byte. */
	bytes = palloc(len + 1);
	pq_copymsgbytes(buf, bytes, len);
	bytes[len] = '\0';
	if (lt->text_io)
	{
		if (memchr(bytes, '\0', len) != NULL)
			StateCorrupt("classification", "A label's text contains a zero byte.");
		v = InputFunctionCall(&lt->recv, bytes, lt->ioparam, -1);
	}
	else
	{
		StringInfoData lb;

		lb.data = bytes;
		lb.len = len;
		lb.maxlen = len + 1;
		lb.cursor = 0;
		v = ReceiveFunctionCall(&lt->recv, &lb, lt->ioparam, -1);
		if (lb.cursor != lb.len)
			StateCorrupt("classification", "A label's binary form has trailing bytes.");
	}
	return v;
}

/*
 * Serialised: header (flags: positive present, text labels), uint32 label
 * type and collation, int64 n, int32 label count and the labels by id,
 * the positive label if any, int32 pair count and (int32 true id,
 * int32 predicted id, int64 count) per pair.
 */
Datum
metrics_confusion_serialize(PG_FUNCTION_ARGS)
{
	ConfusionState *s = (ConfusionState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	pairs_iterator it;
	PairEntry  *e;

	pq_begintypsend(&buf);
	StateHeaderSend(&buf, STATE_KIND_CONFUSION,
					(s->has_positive ? CONFUSION_HAS_POSITIVE : 0) |
					(s->lt->text_io ? CONFUSION_TEXT_IO : 0));
	pq_sendint32(&buf, s->lt->typid);
	pq_sendint32(&buf, s->lt->collation);
	pq_sendint64(&buf, s->n);
	pq_sendint32(&buf, s->nlabels);
	for (int id = 0; id < s->nlabels; id++)
		LabelSend(&buf, s->lt, s->labels[id]);
	if (s->has_positive)
		LabelSend(&buf, s->lt, s->positive);
	pq_sendint32(&buf, s->pairs->members);
	pairs_start_iterate(s->pairs, &it);
	while ((e = pairs_iterate(s->pairs, &it)) != NULL)
	{
		pq_sendint32(&buf, PAIR_TRUE(e->key));
		pq_sendint32(&buf, PAIR_PRED(e->key));
		pq_sendint64(&buf, e->count);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
metrics_confusion_deserialize(PG_FUNCTION_ARGS)
{
	const char *what = "classification";
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	ConfusionState *s;
	LabelType  *lt;
	int			flags,
				nlabels,
				npairs;
	Oid			typid,
				collation;
	int64		n;

	BufInit(&buf, bytes);
	flags = StateHeaderRecv(&buf, STATE_KIND_CONFUSION,
							CONFUSION_HAS_POSITIVE | CONFUSION_TEXT_IO, what);
	if (buf.len - buf.cursor < 20)
		StateCorrupt(what, "The state is truncated.");
	typid = pq_getmsgint(&buf, 4);
	collation = pq_getmsgint(&buf, 4);
	n = pq_getmsgint64(&buf);
	nlabels = pq_getmsgint(&buf, 4);
	if (OidIsValid(collation) && !SearchSysCacheExists1(COLLOID, ObjectIdGetDatum(collation)))
		StateCorrupt(what, "The collation does not exist.");
	if (!OidIsValid(typid))
		StateCorrupt(what, "The label type is missing.");
	lt = LabelTypeGet(fcinfo->flinfo, typid, collation);
	if (lt->text_io != ((flags & CONFUSION_TEXT_IO) != 0))
		StateCorrupt(what, "The label form does not match the type.");
	if (n < 0 || nlabels < 0 || nlabels > METRICS_MAX_LABELS)
		StateCorrupt(what, "A count is out of range.");

	s = ConfusionCreate(CurrentMemoryContext, lt);
	for (int id = 0; id < nlabels; id++)
	{
		Datum		v = LabelRecv(&buf, lt);
		bool		added;

		if (ConfusionLabelId(s, v, true, &added) != id || !added)
			StateCorrupt(what, "A label appears twice.");
	}
	if (flags & CONFUSION_HAS_POSITIVE)
	{
		s->positive = LabelRecv(&buf, lt);
		s->has_positive = true;
	}

	if (buf.len - buf.cursor < 4)
		StateCorrupt(what, "The pair count is truncated.");
	npairs = pq_getmsgint(&buf, 4);
	if (npairs < 0 || (int64) npairs > (int64) nlabels * nlabels ||
		(int64) npairs * 16 != buf.len - buf.cursor)
		StateCorrupt(what, "The pair count does not match the length.");
	for (int i = 0; i < npairs; i++)
	{
		int			t = pq_getmsgint(&buf, 4);
		int			p = pq_getmsgint(&buf, 4);
		int64		count = pq_getmsgint64(&buf);

		if (t < 0 || t >= nlabels || p < 0 || p >= nlabels || count <= 0)
			StateCorrupt(what, "A pair is out of range.");
		if (pairs_lookup(s->pairs, PAIR_KEY(t, p)) != NULL)
			StateCorrupt(what, "A pair appears twice.");
		ConfusionCount(s, t, p, count);
	}
	if (s->n != n)
		StateCorrupt(what, "The pair counts do not add up to the row count.");
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* Per-label totals, by label id. */
typedef struct ConfusionTotals
{
	int64	   *tp;				/* true = predicted = label */
	int64	   *pred;			/* predicted = label */
	int64	   *support;		/* true = label */
	int64		correct;		/* sum of tp */
} ConfusionTotals;

static void
ConfusionSum(ConfusionState *s, ConfusionTotals *tot)
{
	pairs_iterator it;
	PairEntry  *e;
	int			k = Max(s->nlabels, 1);

	tot->tp = palloc0(sizeof(int64) * k);
	tot->pred = palloc0(sizeof(int64) * k);
	tot->support = palloc0(sizeof(int64) * k);
	tot->correct = 0;
	pairs_start_iterate(s->pairs, &it);
	while ((e = pairs_iterate(s->pairs, &it)) != NULL)
	{
		int			t = PAIR_TRUE(e->key);
		int			p = PAIR_PRED(e->key);

		tot->support[t] += e->count;
		tot->pred[p] += e->count;
		if (t == p)
		{
			tot->tp[t] += e->count;
			tot->correct += e->count;
		}
	}
}

/*
 * Precision, recall and F1 of one label from its counts, with sklearn's
 * zero_division=0: a ratio with a zero denominator is 0. F1 is computed
 * from precision and recall in sklearn's order of operations.
 */
static void
ClassScores(int64 tp, int64 pred, int64 support, double *precision, double *recall, double *f1)
{
	double		denom;

	*precision = pred > 0 ? (double) tp / (double) pred : 0.0;
	*recall = support > 0 ? (double) tp / (double) support : 0.0;
	denom = *precision + *recall;
	*f1 = denom > 0 ? 2.0 * *precision * *recall / denom : 0.0;
}

static ConfusionState *
ConfusionFinalState(FunctionCallInfo fcinfo)
{
	ConfusionState *s = PG_ARGISNULL(0) ? NULL : (ConfusionState *) PG_GETARG_POINTER(0);

	return s != NULL && s->n > 0 ? s : NULL;
}

/* Final: the fraction of rows with y_pred = y_true. */
Datum
metrics_accuracy_final(PG_FUNCTION_ARGS)
{
	ConfusionState *s = ConfusionFinalState(fcinfo);
	int64		correct = 0;

	if (s == NULL)
		PG_RETURN_NULL();
	for (int id = 0; id < s->nlabels; id++)
	{
		PairEntry  *e = pairs_lookup(s->pairs, PAIR_KEY(id, id));

		if (e != NULL)
			correct += e->count;
	}
	PG_RETURN_FLOAT8((double) correct / (double) s->n);
}

/*
 * Append a label as a JSON value, as to_jsonb would write it: booleans and
 * finite numbers as such, dates and times in ISO 8601 whatever DateStyle
 * says, json as is, anything else as its text form in a string.
 */
static void
LabelAppendJson(StringInfo buf, LabelType *lt, Datum v)
{
	char	   *str;
	char		dt[MAXDATELEN + 1];

	if (lt->json == 'b')
	{
		appendStringInfoString(buf, DatumGetBool(v) ? "true" : "false");
		return;
	}
	if (lt->json == 'd')
	{
		appendStringInfoChar(buf, '"');
		appendStringInfoString(buf, JsonEncodeDateTime(dt, v, lt->basetype, NULL));
		appendStringInfoChar(buf, '"');
		return;
	}
	str = OutputFunctionCall(&lt->out, v);
	if (lt->json == 'j' ||
		(lt->json == 'n' && strcmp(str, "NaN") != 0 && strcmp(str, "Infinity") != 0 &&
		 strcmp(str, "-Infinity") != 0))
		appendStringInfoString(buf, str);
	else
		escape_json(buf, str);
}

/* Final: {"labels": [sorted labels], "matrix": [[count of true i, predicted j]]}. */
Datum
metrics_confusion_matrix_final(PG_FUNCTION_ARGS)
{
	ConfusionState *s = ConfusionFinalState(fcinfo);
	StringInfoData buf;

	if (s == NULL)
		PG_RETURN_NULL();
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"labels\": [");
	for (int i = 0; i < s->nlabels; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		LabelAppendJson(&buf, s->lt, s->labels[s->order[i]]);
	}
	appendStringInfoString(&buf, "], \"matrix\": [");
	for (int i = 0; i < s->nlabels; i++)
	{
		CHECK_FOR_INTERRUPTS();
		appendStringInfoString(&buf, i > 0 ? ", [" : "[");
		for (int j = 0; j < s->nlabels; j++)
		{
			PairEntry  *e = pairs_lookup(s->pairs, PAIR_KEY(s->order[i], s->order[j]));

			appendStringInfo(&buf, "%s" INT64_FORMAT, j > 0 ? ", " : "", e ? e->count : 0);
		}
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_JSONB_P(JsonbFromBuf(&buf));
}

/*
 * Final: n, accuracy, macro-averaged precision / recall / F1 over the
 * union of true and predicted labels (sklearn average='macro',
 * zero_division=0), and per class (sorted by label) its precision,
 * recall, F1 and support.
 */
Datum
metrics_classification_final(PG_FUNCTION_ARGS)
{
	ConfusionState *s = ConfusionFinalState(fcinfo);
	ConfusionTotals tot;
	StringInfoData classes;
	StringInfoData buf;
	double		sum_p = 0,
				sum_r = 0,
				sum_f = 0;
	int			k;

	if (s == NULL)
		PG_RETURN_NULL();
	k = s->nlabels;
	ConfusionSum(s, &tot);
	initStringInfo(&classes);
	for (int i = 0; i < k; i++)
	{
		int			id = s->order[i];
		double		p,
					r,
					f;

		ClassScores(tot.tp[id], tot.pred[id], tot.support[id], &p, &r, &f);
		sum_p += p;
		sum_r += r;
		sum_f += f;
		appendStringInfoString(&classes, i > 0 ? ", {\"label\": " : "{\"label\": ");
		LabelAppendJson(&classes, s->lt, s->labels[id]);
		appendStringInfoString(&classes, ", \"precision\": ");
		JsonAppendNumber(&classes, p);
		appendStringInfoString(&classes, ", \"recall\": ");
		JsonAppendNumber(&classes, r);
		appendStringInfoString(&classes, ", \"f1\": ");
		JsonAppendNumber(&classes, f);
		appendStringInfo(&classes, ", \"support\": " INT64_FORMAT "}", tot.support[id]);
	}

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"n\": " INT64_FORMAT ", \"accuracy\": ", s->n);
	JsonAppendNumber(&buf, (double) tot.correct / (double) s->n);
	appendStringInfoString(&buf, ", \"precision_macro\": ");
	JsonAppendNumber(&buf, sum_p / k);
	appendStringInfoString(&buf, ", \"recall_macro\": ");
	JsonAppendNumber(&buf, sum_r / k);
	appendStringInfoString(&buf, ", \"f1_macro\": ");
	JsonAppendNumber(&buf, sum_f / k);
	appendStringInfo(&buf, ", \"classes\": [%s]}", classes.data);
	PG_RETURN_JSONB_P(JsonbFromBuf(&buf));
}

/*
 * Precision, recall and F1 of the positive label against all others
 * (sklearn average='binary', pos_label=positive); 0 if the label never
 * occurs.
 */
static bool
PositiveScores(FunctionCallInfo fcinfo, double *precision, double *recall, double *f1)
{
	ConfusionState *s = ConfusionFinalState(fcinfo);
	ConfusionTotals tot;
	int			id;

	if (s == NULL)
		return false;
	if (!s->has_positive)
		elog(ERROR, "classification state has no positive label");
	ConfusionSum(s, &tot);
	id = ConfusionLabelId(s, s->positive, false, NULL);
	if (id < 0)
		ClassScores(0, 0, 0, precision, recall, f1);
	else
		ClassScores(tot.tp[id], tot.pred[id], tot.support[id], precision, recall, f1);
	return true;
}

/* Finals of ml_precision, ml_recall, ml_f1: NULL without rows. */
#define POSITIVE_FINAL(fn, field) \
Datum \
fn(PG_FUNCTION_ARGS) \
{ \
	double		precision, \
				recall, \
				f1; \
 \
	if (!PositiveScores(fcinfo, &precision, &recall, &f1)) \
		PG_RETURN_NULL(); \
	PG_RETURN_FLOAT8(field); \
}

POSITIVE_FINAL(metrics_precision_final, precision)
POSITIVE_FINAL(metrics_recall_final, recall)
POSITIVE_FINAL(metrics_f1_final, f1)
