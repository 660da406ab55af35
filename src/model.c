/*
 * model.c -- the mlmodel type: stored format, validation, text and binary I/O.
 *
 * Stored format (a varlena; every integer little-endian, every float an
 * IEEE-754 double written through its 64-bit pattern, nothing memcpy'd
 * from a C struct), so a value is portable between machines:
 *
 *   header (24 bytes after the varlena header)
 *     u32 magic           "MLMD"
 *     u16 format_version  MODEL_FORMAT_VERSION; others are rejected
 *     u16 kind            ModelKind
 *     u32 flags           MODEL_FLAG_OUTPUTS, else 0
 *     u32 reserved        must be 0
 *     u32 payload_length  bytes after the header
 *     u32 checksum        CRC-32C of the header's first 20 bytes + payload
 *   payload
 *     str target, u64 n_rows, u32 n_inputs, then per input:
 *       str name, u8 type, u8 impute, u8 scale, u8 reserved (0),
 *       f64 fill, i32 fill_level, f64 center, f64 scale_by,
 *       u32 n_levels, n_levels x str level,
 *       stats: u64 n_null, f64 mean, f64 stddev, f64 min, f64 max,
 *              n_levels x u64 count, u32 n_bins, (n_bins + 1) x f64 edge,
 *              n_bins x u64 count
 *     u32 n_classes, n_classes x str class
 *     u8 fit_intercept, f64 l1, f64 l2, u32 n_sets, n_sets x ModelSetWidth() x f64,
 *     u32 n_std_errors, n_std_errors x f64
 *     kind xgboost only: u32 booster_length, booster_length bytes (XGBoost's
 *       UBJSON model format, which XGBoost reads across its releases)
 *     flag MODEL_FLAG_OUTPUTS only: u32 n_outputs, u8 has_edges,
 *       (has_edges: (n_outputs + 1) x f64 edge), n_outputs x u64 count
 *   str = u16 byte length + bytes (server encoding, no terminator)
 *
 * The binary send/recv form is the same bytes. The text form is a JSON
 * object with the same content plus the checksum, so it reads well and
 * round-trips exactly (floats are printed shortest-exact; a booster is
 * base64). Text and binary input both end in ModelValidate, and a booster
 * from outside is also loaded once to check it against the model.
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "common/base64.h"
#include "port/pg_crc32c.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "booster.h"
#include "jsonopt.h"
#include "model.h"

#define MODEL_MAGIC				0x444D4C4D	/* "MLMD" read little-endian */
#define MODEL_FORMAT_VERSION	1
#define MODEL_HEADER_SIZE		MODEL_HEADER_BYTES
#define MODEL_CHECKSUM_OFFSET	20

/* Header flag: the value ends with the distribution of the model's output. */
#define MODEL_FLAG_OUTPUTS		0x0001

/* Longest category level or class label, in bytes. */
#define MODEL_MAX_LABEL_LEN		1000

#define DatumGetModelRaw(d)		((struct varlena *) PG_DETOAST_DATUM_PACKED(d))

PG_FUNCTION_INFO_V1(mlmodel_in);
PG_FUNCTION_INFO_V1(mlmodel_out);
PG_FUNCTION_INFO_V1(mlmodel_recv);
PG_FUNCTION_INFO_V1(mlmodel_send);
PG_FUNCTION_INFO_V1(mlmodel_from_bytea);
PG_FUNCTION_INFO_V1(ml_model_info);

static const char *const kind_names[] = {NULL, "linear_regression", "logistic_regression",
"naive_bayes", "kmeans", "xgboost"};

/*
 * How a kind's parameter sets read in the text form: possibly one scalar
 * per set, then vectors of one value per design column (linear regression,
 * with a single set, is written flat as "intercept" and "coefficients").
 */
typedef struct SetLayout
{
	const char *scalar;			/* NULL: none */
	int			n_vectors;
	const char *vectors[2];
} SetLayout;

static const SetLayout set_layouts[] = {
	[MODEL_KIND_LINEAR_REGRESSION] = {"intercept", 1, {"coefficients"}},
	[MODEL_KIND_LOGISTIC_REGRESSION] = {"intercepts", 1, {"coefficients"}},
	[MODEL_KIND_NAIVE_BAYES] = {"class_log_priors", 2, {"means", "variances"}},
	[MODEL_KIND_KMEANS] = {NULL, 1, {"centroids"}},
	[MODEL_KIND_XGBOOST] = {NULL, 0, {NULL}},	/* all in the booster */
};
static const char *const input_type_names[] = {NULL, "numeric", "categorical"};
static const char *const impute_names[] = {"error", "mean", "median", "mode", "constant", "missing"};
static const char *const scale_names[] = {"none", "standard", "minmax"};

const char *
ModelKindName(ModelKind kind)
{
	return kind_names[kind];
}

const char *
ImputeName(ImputeStrategy s)
{
	return impute_names[s];
}

const char *
ScaleName(ScaleStrategy s)
{
	return scale_names[s];
}

/* Index of name in names[first..n-1], or -1. */
static int
NameIndex(const char *const *names, int first, int n, const char *name)
{
	for (int i = first; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* Values in one parameter set: a scalar and one or two vectors over the design. */
int
ModelSetWidth(const Model *model)
{
	const SetLayout *layout = &set_layouts[model->kind];

	return (layout->scalar ? 1 : 0) + layout->n_vectors * model->n_design;
}

/* Do two models read the same inputs: names and types, in the same order? */
bool
ModelsTakeSameInputs(const Model *a, const Model *b)
{
	if (a->n_inputs != b->n_inputs)
		return false;
	for (int i = 0; i < a->n_inputs; i++)
		if (strcmp(a->inputs[i].name, b->inputs[i].name) != 0 || a->inputs[i].type != b->inputs[i].type)
			return false;
	return true;
}

/* Set n_design from the inputs: one column per number, levels - 1 per category. */
void
ModelDeriveDesign(Model *model)
{
	model->n_design = 0;
	for (int i = 0; i < model->n_inputs; i++)
		model->n_design += model->inputs[i].type == INPUT_NUMERIC ? 1 : model->inputs[i].n_levels - 1;
}

/* ---------------------------------------------------------------- validation */

static void
InvalidModel(const char *detail, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("invalid mlmodel value"),
			 name ? errdetail(detail, name) : errdetail("%s", detail),
			 errhint("Train the model again, or restore the value from a dump taken with the same mlsys.")));
}

static void
ValidateName(const char *name, size_t maxlen, bool allow_empty)
{
	size_t		len = strlen(name);

	if (len == 0 && !allow_empty)
		InvalidModel("A name, level or class label is empty.", NULL);
	if (len > maxlen)
		InvalidModel("Name \"%s\" is too long.", name);
	if (!pg_verifymbstr(name, len, true))
		InvalidModel("A name is not valid in the server encoding.", NULL);
}

static void
ValidateUnique(char **names, int n, size_t maxlen, const char *what)
{
	for (int i = 0; i < n; i++)
	{
		ValidateName(names[i], maxlen, false);
		for (int j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				InvalidModel(psprintf("%s \"%%s\" appears twice.", what), names[i]);
	}
}

static void
ValidateFinite(const double *v, int n, bool nonnegative, const char *what)
{
	for (int i = 0; i < n; i++)
		if (!isfinite(v[i]) || (nonnegative && v[i] < 0))
			InvalidModel("The model's %s has a non-finite or out-of-range value.", what);
}

static void
ValidateInput(const ModelInput *in, int64 n_rows)
{
	const InputStats *st = &in->stats;
	double		stats[5] = {st->mean, st->stddev, st->min, st->max, in->fill};

	if (in->type != INPUT_NUMERIC && in->type != INPUT_CATEGORICAL)
		InvalidModel("Input \"%s\" has an unknown type.", in->name);
	if (in->impute > IMPUTE_MISSING || in->scale > SCALE_MINMAX)
		InvalidModel("Input \"%s\" has an unknown preprocessing step.", in->name);
	ValidateFinite(stats, 5, false, "input statistics");
	ValidateFinite(&in->center, 1, false, "scaling");
	if (!(in->scale_by > 0 && isfinite(in->scale_by)) || st->stddev < 0 ||
		st->n_null < 0 || st->n_null > n_rows)
		InvalidModel("Input \"%s\" has out-of-range preprocessing or statistics.", in->name);

	if (st->n_bins < 0 || st->n_bins > MLSYS_MAX_BINS ||
		(st->n_bins > 0 && in->type != INPUT_NUMERIC))
		InvalidModel("Input \"%s\" has an invalid histogram.", in->name);
	for (int b = 0; b < st->n_bins; b++)
		if (!(st->bin_edges[b] < st->bin_edges[b + 1]) || !isfinite(st->bin_edges[b + 1]) ||
			!isfinite(st->bin_edges[b]) || st->bin_counts[b] < 0)
			InvalidModel("Input \"%s\" has an invalid histogram.", in->name);
	if (in->type == INPUT_NUMERIC)
	{
		if (in->n_levels != 0 || in->fill_level != -1)
			InvalidModel("Numeric input \"%s\" has category settings.", in->name);
		return;
	}
	if (in->n_levels < 2 || in->n_levels > MLSYS_MAX_CLASSES)
		InvalidModel("Categorical input \"%s\" must have 2 to 1000 levels.", in->name);
	ValidateUnique(in->levels, in->n_levels, MODEL_MAX_LABEL_LEN, "Level");
	if (in->impute == IMPUTE_MEAN || in->impute == IMPUTE_MEDIAN || in->scale != SCALE_NONE ||
		in->center != 0 || in->scale_by != 1)
		InvalidModel("Categorical input \"%s\" has numeric preprocessing.", in->name);
	if ((in->impute == IMPUTE_ERROR || in->impute == IMPUTE_MISSING) != (in->fill_level == -1) ||
		in->fill_level < -1 || in->fill_level >= in->n_levels)
		InvalidModel("Categorical input \"%s\" has an invalid fill level.", in->name);
	for (int i = 0; i < in->n_levels; i++)
		if (st->category_counts[i] < 0)
			InvalidModel("Categorical input \"%s\" has a negative count.", in->name);
}

/*
 * The output distribution: bins with increasing finite edges for a
 * regression, one count per class or cluster otherwise.
 */
static void
ValidateOutputs(const Model *model)
{
	bool		numeric = !ModelIsClassifier(model) && model->kind != MODEL_KIND_KMEANS;

	if (model->n_outputs == 0)
		return;
	if (numeric != (model->output_edges != NULL) ||
		model->n_outputs > (numeric ? MLSYS_MAX_BINS
							: ModelIsClassifier(model) ? model->n_classes : model->n_sets) ||
		(!numeric && model->n_outputs != (ModelIsClassifier(model) ? model->n_classes : model->n_sets)))
		InvalidModel("The output distribution does not match the model's outputs.", NULL);
	for (int i = 0; i < model->n_outputs; i++)
		if (model->output_counts[i] < 0 ||
			(numeric && !(model->output_edges[i] < model->output_edges[i + 1] &&
						  isfinite(model->output_edges[i]) && isfinite(model->output_edges[i + 1]))))
			InvalidModel("The output distribution has invalid bins or counts.", NULL);
}

/* Number of parameter sets the model's kind and classes call for. */
static int
ExpectedSets(const Model *model)
{
	if (model->kind == MODEL_KIND_NAIVE_BAYES)
		return model->n_classes;
	if (model->kind == MODEL_KIND_KMEANS)
		return Min(Max(model->n_sets, 1), MLSYS_MAX_CLASSES);	/* any cluster count */
	if (model->kind == MODEL_KIND_XGBOOST)
		return 0;
	if (model->kind == MODEL_KIND_LINEAR_REGRESSION || model->n_classes == 2)
		return 1;
	/* without a penalty the last class is the reference, as in R's multinom */
	return model->l2 > 0 ? model->n_classes : model->n_classes - 1;
}

/*
 * Check everything a Model must satisfy before it is stored or used:
 * counts in range, names present, unique and short, numbers finite.
 */
void
ModelValidate(const Model *model)
{
	int			width;
	char	  **names;

	if (model->kind < MODEL_KIND_LINEAR_REGRESSION || model->kind > MODEL_KIND_XGBOOST)
		InvalidModel("Unknown model kind.", NULL);
	if (model->n_inputs < 1 || model->n_inputs > MLSYS_MAX_FEATURES)
		InvalidModel("The number of inputs is out of range.", NULL);
	if (model->n_rows < 1)
		InvalidModel("The training row count must be positive.", NULL);
	ValidateName(model->target, MLSYS_MAX_NAME_LEN, true);

	names = palloc(sizeof(char *) * model->n_inputs);
	for (int i = 0; i < model->n_inputs; i++)
	{
		names[i] = model->inputs[i].name;
		ValidateInput(&model->inputs[i], model->n_rows);
	}
	ValidateUnique(names, model->n_inputs, MLSYS_MAX_NAME_LEN, "Input");
	if (model->n_design < 1 || model->n_design > MLSYS_MAX_FEATURES)
		InvalidModel("The number of design columns is out of range.", NULL);

	if (ModelIsClassifier(model))
	{
		if (model->n_classes < 2 || model->n_classes > MLSYS_MAX_CLASSES)
			InvalidModel("A classifier must have 2 to 1000 classes.", NULL);
		ValidateUnique(model->classes, model->n_classes, MODEL_MAX_LABEL_LEN, "Class");
	}
	else if (model->n_classes != 0)
		InvalidModel("Only classifiers have classes.", NULL);

	ValidateFinite(&model->l1, 1, true, "penalty");
	ValidateFinite(&model->l2, 1, true, "penalty");
	if (model->l1 != 0 && model->kind != MODEL_KIND_LINEAR_REGRESSION)
		InvalidModel("Only linear regression has a lasso penalty.", NULL);
	if (model->n_std_errors != 0 &&
		(model->n_std_errors != 1 + model->n_design ||
		 !(model->kind == MODEL_KIND_LINEAR_REGRESSION ||
		   (model->kind == MODEL_KIND_LOGISTIC_REGRESSION && model->n_sets == 1))))
		InvalidModel("The standard errors do not match the parameters.", NULL);
	ValidateFinite(model->std_errors, model->n_std_errors, true, "standard errors");
	if (model->n_sets != ExpectedSets(model))
		InvalidModel("The number of parameter sets does not match the classes.", NULL);
	width = ModelSetWidth(model);
	ValidateFinite(model->coef, model->n_sets * width, false, "coefficients");
	for (int s = 0; s < model->n_sets; s++)
	{
		const double *set = model->coef + s * width;

		if (model->kind == MODEL_KIND_NAIVE_BAYES)
		{
			/* a log prior, means, then variances that must be positive */
			if (set[0] > 0 || model->fit_intercept || model->l2 != 0)
				InvalidModel("A naive Bayes model has invalid priors or settings.", NULL);
			for (int j = 0; j < model->n_design; j++)
				if (!(set[1 + model->n_design + j] > 0))
					InvalidModel("A naive Bayes model has a variance that is not positive.", NULL);
		}
		else if (model->kind == MODEL_KIND_KMEANS)
		{
			if (model->fit_intercept || model->l2 != 0)
				InvalidModel("A k-means model has invalid settings.", NULL);
		}
		else if (!model->fit_intercept && set[0] != 0)
			InvalidModel("A model fitted without intercept has a non-zero intercept.", NULL);
	}
	ValidateOutputs(model);
	if ((model->kind == MODEL_KIND_XGBOOST) != (model->booster_len > 0) ||
		model->booster_len > MLSYS_MAX_BOOSTER_BYTES)
		InvalidModel("Only a tree model has a booster, and it must have one.", NULL);
	if (model->kind == MODEL_KIND_XGBOOST &&
		(model->fit_intercept || model->l1 != 0 || model->l2 != 0 || model->n_classes == 1))
		InvalidModel("A tree model has invalid settings.", NULL);
}

/* ---------------------------------------------------------------- writer */

static void
PutU8(StringInfo buf, uint8 v)
{
	appendStringInfoCharMacro(buf, (char) v);
}

static void
PutU16(StringInfo buf, uint16 v)
{
	PutU8(buf, v & 0xFF);
	PutU8(buf, v >> 8);
}

static void
PutU32(StringInfo buf, uint32 v)
{
	PutU16(buf, v & 0xFFFF);
	PutU16(buf, v >> 16);
}

static void
PutU64(StringInfo buf, uint64 v)
{
	PutU32(buf, (uint32) v);
	PutU32(buf, (uint32) (v >> 32));
}

static void
PutF64(StringInfo buf, double v)
{
	uint64		bits;

	memcpy(&bits, &v, sizeof(bits));
	PutU64(buf, bits);
}

static void
PutStr(StringInfo buf, const char *s)
{
	size_t		len = strlen(s);

	PutU16(buf, (uint16) len);
	appendBinaryStringInfo(buf, s, len);
}

static void
StoreU32At(char *p, uint32 v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char) ((v >> (8 * i)) & 0xFF);
}

static pg_crc32c
ModelChecksum(const char *data, size_t total)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, MODEL_CHECKSUM_OFFSET);
	COMP_CRC32C(crc, data + MODEL_HEADER_SIZE, total - MODEL_HEADER_SIZE);
	FIN_CRC32C(crc);
	return crc;
}

static void
PutInput(StringInfo buf, const ModelInput *in)
{
	PutStr(buf, in->name);
	PutU8(buf, in->type);
	PutU8(buf, in->impute);
	PutU8(buf, in->scale);
	PutU8(buf, 0);
	PutF64(buf, in->fill);
	PutU32(buf, (uint32) in->fill_level);
	PutF64(buf, in->center);
	PutF64(buf, in->scale_by);
	PutU32(buf, in->n_levels);
	for (int i = 0; i < in->n_levels; i++)
		PutStr(buf, in->levels[i]);
	PutU64(buf, in->stats.n_null);
	PutF64(buf, in->stats.mean);
	PutF64(buf, in->stats.stddev);
	PutF64(buf, in->stats.min);
	PutF64(buf, in->stats.max);
	for (int i = 0; i < in->n_levels; i++)
		PutU64(buf, in->stats.category_counts[i]);
	PutU32(buf, in->stats.n_bins);
	for (int b = 0; b <= in->stats.n_bins && in->stats.n_bins > 0; b++)
		PutF64(buf, in->stats.bin_edges[b]);
	for (int b = 0; b < in->stats.n_bins; b++)
		PutU64(buf, in->stats.bin_counts[b]);
}

/* Validate and encode a Model into a new varlena in CurrentMemoryContext. */
struct varlena *
ModelSerialize(const Model *model)
{
	StringInfoData buf;
	char	   *data;
	size_t		total;

	ModelValidate(model);

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);

	PutU32(&buf, MODEL_MAGIC);
	PutU16(&buf, MODEL_FORMAT_VERSION);
	PutU16(&buf, (uint16) model->kind);
	PutU32(&buf, model->n_outputs > 0 ? MODEL_FLAG_OUTPUTS : 0);
	PutU32(&buf, 0);			/* reserved */
	PutU32(&buf, 0);			/* payload length, patched below */
	PutU32(&buf, 0);			/* checksum, patched below */

	PutStr(&buf, model->target);
	PutU64(&buf, (uint64) model->n_rows);
	PutU32(&buf, (uint32) model->n_inputs);
	for (int i = 0; i < model->n_inputs; i++)
		PutInput(&buf, &model->inputs[i]);
	PutU32(&buf, (uint32) model->n_classes);
	for (int i = 0; i < model->n_classes; i++)
		PutStr(&buf, model->classes[i]);
	PutU8(&buf, model->fit_intercept ? 1 : 0);
	PutF64(&buf, model->l1);
	PutF64(&buf, model->l2);
	PutU32(&buf, (uint32) model->n_sets);
	for (int i = 0; i < model->n_sets * ModelSetWidth(model); i++)
		PutF64(&buf, model->coef[i]);
	PutU32(&buf, (uint32) model->n_std_errors);
	for (int i = 0; i < model->n_std_errors; i++)
		PutF64(&buf, model->std_errors[i]);
	if (model->kind == MODEL_KIND_XGBOOST)
	{
		PutU32(&buf, model->booster_len);
		appendBinaryStringInfo(&buf, model->booster, model->booster_len);
	}
	if (model->n_outputs > 0)
	{
		PutU32(&buf, (uint32) model->n_outputs);
		PutU8(&buf, model->output_edges != NULL);
		for (int i = 0; model->output_edges && i <= model->n_outputs; i++)
			PutF64(&buf, model->output_edges[i]);
		for (int i = 0; i < model->n_outputs; i++)
			PutU64(&buf, (uint64) model->output_counts[i]);
	}

	data = buf.data + VARHDRSZ;
	total = buf.len - VARHDRSZ;
	StoreU32At(data + 16, (uint32) (total - MODEL_HEADER_SIZE));
	StoreU32At(data + MODEL_CHECKSUM_OFFSET, ModelChecksum(data, total));
	SET_VARSIZE(buf.data, buf.len);
	return (struct varlena *) buf.data;
}

/* ---------------------------------------------------------------- reader */

typedef struct ModelReader
{
	const uint8 *cur;
	const uint8 *end;
} ModelReader;

static void
Damaged(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("mlmodel value is damaged"),
			 errdetail("%s", detail),
			 errhint("The value was not written by mlsys or was corrupted; train the model again or restore it from a backup.")));
}

static const uint8 *
Take(ModelReader *r, size_t n)
{
	const uint8 *p = r->cur;

	if ((size_t) (r->end - r->cur) < n)
		Damaged("The value is truncated.");
	r->cur += n;
	return p;
}

static uint64
GetUInt(ModelReader *r, int nbytes)
{
	const uint8 *p = Take(r, nbytes);
	uint64		v = 0;

	for (int i = nbytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static double
GetF64(ModelReader *r)
{
	uint64		bits = GetUInt(r, 8);
	double		v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

/* n doubles; the length is checked before allocating. */
static double *
GetF64Array(ModelReader *r, int n)
{
	double	   *v;

	if ((size_t) (r->end - r->cur) / sizeof(double) < (size_t) n)
		Damaged("The value is truncated.");
	v = palloc(sizeof(double) * Max(n, 1));
	for (int i = 0; i < n; i++)
		v[i] = GetF64(r);
	return v;
}

/* A count read from the value, checked against a bound before any allocation. */
static int
GetCount(ModelReader *r, int max, const char *what)
{
	uint32		n = GetUInt(r, 4);

	if (n > (uint32) max)
		Damaged(psprintf("The number of %s is out of range.", what));
	return (int) n;
}

static char *
GetStr(ModelReader *r)
{
	size_t		len = GetUInt(r, 2);
	const uint8 *p = Take(r, len);

	if (memchr(p, '\0', len) != NULL)
		Damaged("A name contains a zero byte.");
	return pnstrdup((const char *) p, len);
}

static void
GetInput(ModelReader *r, ModelInput *in)
{
	in->name = GetStr(r);
	in->type = GetUInt(r, 1);
	in->impute = GetUInt(r, 1);
	in->scale = GetUInt(r, 1);
	if (GetUInt(r, 1) != 0)
		Damaged("Reserved bits of an input are set.");
	in->fill = GetF64(r);
	in->fill_level = (int32) (uint32) GetUInt(r, 4);
	in->center = GetF64(r);
	in->scale_by = GetF64(r);
	in->n_levels = GetCount(r, MLSYS_MAX_CLASSES, "levels");
	in->levels = palloc(sizeof(char *) * Max(in->n_levels, 1));
	for (int i = 0; i < in->n_levels; i++)
		in->levels[i] = GetStr(r);
	in->stats.n_null = (int64) GetUInt(r, 8);
	in->stats.mean = GetF64(r);
	in->stats.stddev = GetF64(r);
	in->stats.min = GetF64(r);
	in->stats.max = GetF64(r);
	in->stats.category_counts = palloc(sizeof(int64) * Max(in->n_levels, 1));
	for (int i = 0; i < in->n_levels; i++)
		in->stats.category_counts[i] = (int64) GetUInt(r, 8);
	in->stats.n_bins = GetCount(r, MLSYS_MAX_BINS, "bins");
	in->stats.bin_edges = GetF64Array(r, in->stats.n_bins > 0 ? in->stats.n_bins + 1 : 0);
	in->stats.bin_counts = palloc(sizeof(int64) * Max(in->stats.n_bins, 1));
	for (int b = 0; b < in->stats.n_bins; b++)
		in->stats.bin_counts[b] = (int64) GetUInt(r, 8);
}

/*
 * Decode and fully validate a stored mlmodel. Any inconsistency (foreign
 * bytes, truncation, wrong checksum, unknown version or kind, out-of-range
 * content) raises an error; the result is safe to predict with.
 */
Model *
ModelDeserialize(const struct varlena *value)
{
	const uint8 *data = (const uint8 *) VARDATA_ANY(value);
	size_t		total = VARSIZE_ANY_EXHDR(value);
	ModelReader r = {data, data + total};
	Model	   *model = palloc0(sizeof(Model));
	uint32		version,
				kind,
				flags;
	int			ncoef;

	if (total < MODEL_HEADER_SIZE)
		Damaged("The value is shorter than the mlmodel header.");
	if (GetUInt(&r, 4) != MODEL_MAGIC)
		Damaged("The value does not start with the mlmodel magic number.");
	version = GetUInt(&r, 2);
	if (version != MODEL_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("unsupported mlmodel format version %u", version),
				 errdetail("This build of mlsys reads format version %d.",
						   MODEL_FORMAT_VERSION),
				 errhint("Use an mlsys release that supports format version %u.", version)));
	kind = GetUInt(&r, 2);
	if (kind < MODEL_KIND_LINEAR_REGRESSION || kind > MODEL_KIND_XGBOOST)
		Damaged("The value has an unknown model kind.");
	flags = GetUInt(&r, 4);
	if ((flags & ~MODEL_FLAG_OUTPUTS) != 0 || GetUInt(&r, 4) != 0)
		Damaged("Undefined flag or reserved bits are set.");
	if (GetUInt(&r, 4) != total - MODEL_HEADER_SIZE)
		Damaged("The payload length does not match the value's size.");
	if (GetUInt(&r, 4) != ModelChecksum((const char *) data, total))
		Damaged("The checksum does not match the contents.");

	model->kind = (ModelKind) kind;
	model->target = GetStr(&r);
	model->n_rows = (int64) GetUInt(&r, 8);
	model->n_inputs = GetCount(&r, MLSYS_MAX_FEATURES, "inputs");
	model->inputs = palloc0(sizeof(ModelInput) * Max(model->n_inputs, 1));
	for (int i = 0; i < model->n_inputs; i++)
		GetInput(&r, &model->inputs[i]);
	ModelDeriveDesign(model);
	model->n_classes = GetCount(&r, MLSYS_MAX_CLASSES, "classes");
	model->classes = palloc(sizeof(char *) * Max(model->n_classes, 1));
	for (int i = 0; i < model->n_classes; i++)
		model->classes[i] = GetStr(&r);
	model->fit_intercept = GetUInt(&r, 1) != 0;
	model->l1 = GetF64(&r);
	model->l2 = GetF64(&r);
	model->n_sets = GetCount(&r, MLSYS_MAX_CLASSES, "parameter sets");
	if (model->n_design > MLSYS_MAX_FEATURES)
		Damaged("The number of design columns is out of range.");
	ncoef = model->n_sets * ModelSetWidth(model);
	model->coef = GetF64Array(&r, ncoef);
	model->n_std_errors = GetCount(&r, 1 + MLSYS_MAX_FEATURES, "standard errors");
	model->std_errors = GetF64Array(&r, model->n_std_errors);
	if (model->kind == MODEL_KIND_XGBOOST)
	{
		model->booster_len = GetCount(&r, MLSYS_MAX_BOOSTER_BYTES, "booster bytes");
		model->booster = palloc(Max(model->booster_len, 1));
		memcpy(model->booster, Take(&r, model->booster_len), model->booster_len);
	}
	if (flags & MODEL_FLAG_OUTPUTS)
	{
		model->n_outputs = GetCount(&r, MLSYS_MAX_CLASSES, "output bins");
		if (GetUInt(&r, 1) != 0)
			model->output_edges = GetF64Array(&r, model->n_outputs + 1);
		model->output_counts = palloc(sizeof(int64) * Max(model->n_outputs, 1));
		for (int i = 0; i < model->n_outputs; i++)
			model->output_counts[i] = (int64) GetUInt(&r, 8);
		if (model->n_outputs == 0)
			Damaged("The output distribution is empty.");
	}
	if (r.cur != r.end)
		Damaged("The value has trailing bytes.");

	ModelValidate(model);
	return model;
}

/* ---------------------------------------------------------------- text form */

/*
 * Append the hyper-parameters the model was fitted with, as JSON members
 * ("key": value, ...) without braces, for the registry's params column.
 */
void
ModelAppendParamsJson(StringInfo buf, const Model *model)
{
	appendStringInfoString(buf, "\"l1\": ");
	JsonAppendNumber(buf, model->l1);
	appendStringInfoString(buf, ", \"l2\": ");
	JsonAppendNumber(buf, model->l2);
	appendStringInfo(buf, ", \"intercept\": %s", model->fit_intercept ? "true" : "false");
}

static void
AppendStringArray(StringInfo buf, char **v, int n)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, v[i]);
	}
	appendStringInfoChar(buf, ']');
}

static void
AppendNumberArray(StringInfo buf, const double *v, int n)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		JsonAppendNumber(buf, v[i]);
	}
	appendStringInfoChar(buf, ']');
}

static void
AppendMember(StringInfo buf, const char *key, double v)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	JsonAppendNumber(buf, v);
}

/* The "inputs" array: names, types, preprocessing and training statistics. */
static void
ModelAppendInputsJson(StringInfo buf, const Model *model)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < model->n_inputs; i++)
	{
		const ModelInput *in = &model->inputs[i];

		appendStringInfoString(buf, i > 0 ? ", {\"name\": " : "{\"name\": ");
		escape_json(buf, in->name);
		appendStringInfo(buf, ", \"type\": \"%s\", \"impute\": \"%s\"",
						 input_type_names[in->type], impute_names[in->impute]);
		if (in->type == INPUT_NUMERIC)
		{
			AppendMember(buf, "fill", in->fill);
			appendStringInfo(buf, ", \"scale\": \"%s\"", scale_names[in->scale]);
			AppendMember(buf, "center", in->center);
			AppendMember(buf, "scale_by", in->scale_by);
			appendStringInfo(buf, ", \"stats\": {\"n_null\": " INT64_FORMAT, in->stats.n_null);
			AppendMember(buf, "mean", in->stats.mean);
			AppendMember(buf, "stddev", in->stats.stddev);
			AppendMember(buf, "min", in->stats.min);
			AppendMember(buf, "max", in->stats.max);
			if (in->stats.n_bins > 0)
			{
				appendStringInfoString(buf, ", \"bin_edges\": ");
				AppendNumberArray(buf, in->stats.bin_edges, in->stats.n_bins + 1);
				appendStringInfoString(buf, ", \"bin_counts\": [");
				for (int b = 0; b < in->stats.n_bins; b++)
					appendStringInfo(buf, "%s" INT64_FORMAT, b > 0 ? ", " : "",
									 in->stats.bin_counts[b]);
				appendStringInfoChar(buf, ']');
			}
		}
		else
		{
			appendStringInfoString(buf, ", \"levels\": ");
			AppendStringArray(buf, in->levels, in->n_levels);
			appendStringInfo(buf, ", \"fill_level\": %d", in->fill_level);
			appendStringInfo(buf, ", \"stats\": {\"n_null\": " INT64_FORMAT ", \"counts\": [",
							 in->stats.n_null);
			for (int l = 0; l < in->n_levels; l++)
				appendStringInfo(buf, "%s" INT64_FORMAT, l > 0 ? ", " : "",
								 in->stats.category_counts[l]);
			appendStringInfoChar(buf, ']');
		}
		appendStringInfoString(buf, "}}");
	}
	appendStringInfoChar(buf, ']');
}

/* Append the model's JSON object body (without the closing brace). */
static void
ModelAppendJson(StringInfo buf, const Model *model)
{
	appendStringInfo(buf, "{\"format\": %d, \"kind\": \"%s\", \"target\": ",
					 MODEL_FORMAT_VERSION, ModelKindName(model->kind));
	escape_json(buf, model->target);
	appendStringInfo(buf, ", \"n_rows\": " INT64_FORMAT ", \"inputs\": ", model->n_rows);
	ModelAppendInputsJson(buf, model);
	if (ModelIsClassifier(model))
	{
		appendStringInfoString(buf, ", \"classes\": ");
		AppendStringArray(buf, model->classes, model->n_classes);
	}
	if (model->kind != MODEL_KIND_XGBOOST)
	{
		appendStringInfo(buf, ", \"fit_intercept\": %s", model->fit_intercept ? "true" : "false");
		AppendMember(buf, "l1", model->l1);
		AppendMember(buf, "l2", model->l2);
	}
	if (model->kind == MODEL_KIND_LINEAR_REGRESSION)
	{
		AppendMember(buf, "intercept", model->coef[0]);
		appendStringInfoString(buf, ", \"coefficients\": ");
		AppendNumberArray(buf, model->coef + 1, model->n_design);
	}
	else
	{
		const SetLayout *layout = &set_layouts[model->kind];
		int			width = ModelSetWidth(model);
		int			base = layout->scalar ? 1 : 0;

		if (layout->scalar)
		{
			appendStringInfo(buf, ", \"%s\": [", layout->scalar);
			for (int s = 0; s < model->n_sets; s++)
			{
				if (s > 0)
					appendStringInfoString(buf, ", ");
				JsonAppendNumber(buf, model->coef[s * width]);
			}
			appendStringInfoChar(buf, ']');
		}
		for (int v = 0; v < layout->n_vectors; v++)
		{
			appendStringInfo(buf, ", \"%s\": [", layout->vectors[v]);
			for (int s = 0; s < model->n_sets; s++)
			{
				if (s > 0)
					appendStringInfoString(buf, ", ");
				AppendNumberArray(buf, model->coef + s * width + base + v * model->n_design,
								  model->n_design);
			}
			appendStringInfoChar(buf, ']');
		}
	}
	if (model->n_std_errors > 0)
	{
		appendStringInfoString(buf, ", \"std_errors\": ");
		AppendNumberArray(buf, model->std_errors, model->n_std_errors);
	}
	if (model->n_outputs > 0)
	{
		appendStringInfoString(buf, ", \"outputs\": {");
		if (model->output_edges)
		{
			appendStringInfoString(buf, "\"bin_edges\": ");
			AppendNumberArray(buf, model->output_edges, model->n_outputs + 1);
			appendStringInfoString(buf, ", ");
		}
		appendStringInfoString(buf, "\"counts\": [");
		for (int i = 0; i < model->n_outputs; i++)
			appendStringInfo(buf, "%s" INT64_FORMAT, i > 0 ? ", " : "", model->output_counts[i]);
		appendStringInfoString(buf, "]}");
	}
	if (model->kind == MODEL_KIND_XGBOOST)
	{
		int			len = pg_b64_enc_len(model->booster_len);
		char	   *b64 = palloc(len + 1);

		len = pg_b64_encode(model->booster, model->booster_len, b64, len);
		b64[len] = '\0';
		appendStringInfo(buf, ", \"booster\": \"%s\"", b64);
	}
}

/*
 * A value from outside (text or binary input, a cast from bytea): beyond
 * ModelValidate, a booster must load and fit the model around it.
 */
static void
CheckOutsideValue(const Model *model)
{
	MemoryContext cxt;
	MemoryContext old;

	if (model->kind != MODEL_KIND_XGBOOST)
		return;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "mlsys booster check", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	(void) BoosterLoad(model);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

static uint32
StoredChecksum(const struct varlena *value)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(value) + MODEL_CHECKSUM_OFFSET;

	return (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24);
}

/* The text form of a stored value, without the closing brace. */
static void
ModelAppendText(StringInfo buf, const Model *model, const struct varlena *value)
{
	ModelAppendJson(buf, model);
	appendStringInfo(buf, ", \"checksum\": \"%08x\"", StoredChecksum(value));
}

Datum
mlmodel_out(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	struct varlena *value = DatumGetModelRaw(PG_GETARG_DATUM(0));

	initStringInfo(&buf);
	ModelAppendText(&buf, ModelDeserialize(value), value);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

/* ---------------------------------------------------------------- text input */

static void
BadText(int sqlstate, const char *detail, const char *arg)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid input for type mlmodel"),
			 arg ? errdetail(detail, arg) : errdetail("%s", detail),
			 errhint("The text form is what ml_model(...)::text prints; ml_model_info() explains its keys.")));
}

static double
RequireNumber(const JsonContext *ctx, Jsonb *jb, const char *key)
{
	double		v;

	if (!JsonGetNumber(ctx, jb, key, &v))
		JsonMissingKey(ctx, key);
	return v;
}

static int64
RequireCount(const JsonContext *ctx, Jsonb *jb, const char *key)
{
	double		v = RequireNumber(ctx, jb, key);

	if (!(v >= 0 && v <= (double) PG_INT64_MAX) || v != floor(v))
		BadText(ctx->errcode, "Key \"%s\" must be a non-negative integer.", key);
	return (int64) v;
}

static int
RequireEnum(const JsonContext *ctx, Jsonb *jb, const char *key,
			const char *const *names, int first, int n)
{
	char	   *s;
	int			i;

	if (!JsonGetString(ctx, jb, key, &s))
		JsonMissingKey(ctx, key);
	i = NameIndex(names, first, n, s);
	if (i < 0)
		BadText(ctx->errcode, psprintf("Key \"%s\" has unknown value \"%%s\".", key), s);
	return i;
}

static int
OptionalEnum(const JsonContext *ctx, Jsonb *jb, const char *key,
			 const char *const *names, int n, int dflt)
{
	return JsonHasKey(jb, key) ? RequireEnum(ctx, jb, key, names, 0, n) : dflt;
}

static double
OptionalNumber(const JsonContext *ctx, Jsonb *jb, const char *key, double dflt)
{
	double		v;

	return jb && JsonGetNumber(ctx, jb, key, &v) ? v : dflt;
}

/*
 * One element of "inputs" (the output of ModelAppendInputsJson). Only
 * name, type and a category's levels are required, so that a model can
 * be written by hand; preprocessing defaults to none, statistics to zero.
 */
static void
InputFromJson(const JsonContext *ctx, Jsonb *jb, ModelInput *in)
{
	static const char *const keys[] = {"name", "type", "impute", "fill", "scale", "center",
	"scale_by", "levels", "fill_level", "stats", NULL};
	static const char *const stat_keys[] = {"n_null", "mean", "stddev", "min", "max", "counts",
	"bin_edges", "bin_counts", NULL};
	Jsonb	   *stats;
	double	   *counts = NULL;
	int			ncounts = -1;

	JsonCheckKeys(ctx, jb, keys);
	if (!JsonGetString(ctx, jb, "name", &in->name))
		JsonMissingKey(ctx, "name");
	in->type = RequireEnum(ctx, jb, "type", input_type_names, 1, lengthof(input_type_names));
	in->impute = OptionalEnum(ctx, jb, "impute", impute_names, lengthof(impute_names), IMPUTE_ERROR);
	in->scale = OptionalEnum(ctx, jb, "scale", scale_names, lengthof(scale_names), SCALE_NONE);
	in->fill = OptionalNumber(ctx, jb, "fill", 0);
	in->center = OptionalNumber(ctx, jb, "center", 0);
	in->scale_by = OptionalNumber(ctx, jb, "scale_by", 1);
	in->fill_level = (int) OptionalNumber(ctx, jb, "fill_level", -1);

	stats = JsonGetObject(ctx, jb, "stats");
	if (stats != NULL)
	{
		JsonCheckKeys(ctx, stats, stat_keys);
		if (JsonHasKey(stats, "n_null"))
			in->stats.n_null = RequireCount(ctx, stats, "n_null");
		ncounts = JsonGetNumberArray(ctx, stats, "counts", &counts);
	}
	if (stats != NULL && JsonHasKey(stats, "bin_edges"))
	{
		double	   *bin_counts;
		int			n_edges = JsonGetNumberArray(ctx, stats, "bin_edges", &in->stats.bin_edges);

		if (n_edges < 2 || n_edges > MLSYS_MAX_BINS + 1 ||
			JsonGetNumberArray(ctx, stats, "bin_counts", &bin_counts) != n_edges - 1)
			BadText(ctx->errcode, "Input \"%s\" needs 2 to 101 bin edges and one count per bin.",
					in->name);
		in->stats.n_bins = n_edges - 1;
		in->stats.bin_counts = palloc(sizeof(int64) * in->stats.n_bins);
		for (int b = 0; b < in->stats.n_bins; b++)
		{
			if (!(bin_counts[b] >= 0 && bin_counts[b] <= (double) PG_INT64_MAX) ||
				bin_counts[b] != floor(bin_counts[b]))
				BadText(ctx->errcode, "Input \"%s\" has an invalid bin count.", in->name);
			in->stats.bin_counts[b] = (int64) bin_counts[b];
		}
	}
	in->stats.mean = OptionalNumber(ctx, stats, "mean", 0);
	in->stats.stddev = OptionalNumber(ctx, stats, "stddev", 0);
	in->stats.min = OptionalNumber(ctx, stats, "min", 0);
	in->stats.max = OptionalNumber(ctx, stats, "max", 0);

	if (in->type == INPUT_NUMERIC)
		return;
	in->n_levels = JsonGetStringArray(ctx, jb, "levels", &in->levels);
	if (in->n_levels < 0)
		JsonMissingKey(ctx, "levels");
	if (in->n_levels > MLSYS_MAX_CLASSES)
		BadText(ctx->errcode, "Input \"%s\" has too many levels.", in->name);
	if (ncounts >= 0 && ncounts != in->n_levels)
		BadText(ctx->errcode, "Input \"%s\" needs one count per level.", in->name);
	in->stats.category_counts = palloc0(sizeof(int64) * Max(in->n_levels, 1));
	for (int l = 0; l < ncounts; l++)
	{
		if (!(counts[l] >= 0 && counts[l] <= (double) PG_INT64_MAX) || counts[l] != floor(counts[l]))
			BadText(ctx->errcode, "Input \"%s\" has an invalid count.", in->name);
		in->stats.category_counts[l] = (int64) counts[l];
	}
}

/* The "inputs" array of a text form. */
static void
ModelInputsFromJson(Jsonb *jb, Model *model, int sqlstate)
{
	JsonContext ctx = {sqlstate, "input for type mlmodel"};
	Jsonb	  **items;

	model->n_inputs = JsonGetArrayItems(&ctx, jb, "inputs", &items);
	if (model->n_inputs < 0)
		JsonMissingKey(&ctx, "inputs");
	if (model->n_inputs < 1 || model->n_inputs > MLSYS_MAX_FEATURES)
		BadText(sqlstate, "A model has between 1 and 1000 inputs.", NULL);
	model->inputs = palloc0(sizeof(ModelInput) * model->n_inputs);
	for (int i = 0; i < model->n_inputs; i++)
		InputFromJson(&ctx, items[i], &model->inputs[i]);
	ModelDeriveDesign(model);
	if (model->n_design < 1 || model->n_design > MLSYS_MAX_FEATURES)
		BadText(sqlstate, "A model has between 1 and 1000 design columns.", NULL);
}

/* Read one parameter set: n numbers under key (or the jsonb array itself). */
static void
ReadSet(const JsonContext *ctx, Jsonb *jb, const char *key, double *dst, int n)
{
	double	   *v;
	int			got = key ? JsonGetNumberArray(ctx, jb, key, &v) : JsonNumbers(ctx, jb, "coefficients", &v);

	if (got < 0)
		JsonMissingKey(ctx, key);
	if (got != n)
		BadText(ctx->errcode, psprintf("\"coefficients\" has %d values where the inputs give %d design columns.", got, n), NULL);
	memcpy(dst, v, sizeof(double) * n);
}

/* The "outputs" object of a text form (ValidateOutputs checks the rest). */
static void
OutputsFromJson(const JsonContext *ctx, Jsonb *jb, Model *model)
{
	static const char *const keys[] = {"bin_edges", "counts", NULL};
	double	   *counts;
	int			n_edges;

	if (jb == NULL)
		return;
	JsonCheckKeys(ctx, jb, keys);
	model->n_outputs = JsonGetNumberArray(ctx, jb, "counts", &counts);
	if (model->n_outputs < 1 || model->n_outputs > MLSYS_MAX_CLASSES)
		BadText(ctx->errcode, "Key \"outputs\" needs 1 to 1000 counts.", NULL);
	n_edges = JsonGetNumberArray(ctx, jb, "bin_edges", &model->output_edges);
	if (n_edges >= 0 && n_edges != model->n_outputs + 1)
		BadText(ctx->errcode, "The output bins need one edge more than counts.", NULL);
	if (n_edges < 0)
		model->output_edges = NULL;
	model->output_counts = palloc(sizeof(int64) * model->n_outputs);
	for (int i = 0; i < model->n_outputs; i++)
	{
		if (!(counts[i] >= 0 && counts[i] <= (double) PG_INT64_MAX) || counts[i] != floor(counts[i]))
			BadText(ctx->errcode, "An output count is not a non-negative integer.", NULL);
		model->output_counts[i] = (int64) counts[i];
	}
}

/*
 * Text input: the JSON object written by mlmodel_out. "checksum" is
 * optional (so a model can be written by hand), but when present it must
 * match the contents.
 */
Datum
mlmodel_in(PG_FUNCTION_ARGS)
{
	static const char *const keys[] = {
		"format", "kind", "target", "n_rows", "inputs", "classes", "fit_intercept", "l1", "l2",
		"intercept", "intercepts", "coefficients", "std_errors", "class_log_priors", "means",
		"variances", "centroids", "booster", "outputs", "checksum", NULL
	};
	const JsonContext ctx = {ERRCODE_INVALID_TEXT_REPRESENTATION, "input for type mlmodel"};
	Jsonb	   *jb = JsonParse(PG_GETARG_CSTRING(0));
	Model	   *model = palloc0(sizeof(Model));
	struct varlena *value;
	double		num;
	char	   *str;
	int			width;

	JsonCheckKeys(&ctx, jb, keys);
	num = RequireNumber(&ctx, jb, "format");
	if (num != MODEL_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("unsupported mlmodel format version %g", num),
				 errhint("This build of mlsys reads format version %d.", MODEL_FORMAT_VERSION)));
	if (!JsonGetString(&ctx, jb, "kind", &str))
		JsonMissingKey(&ctx, "kind");
	model->kind = NameIndex(kind_names, 1, lengthof(kind_names), str);
	if ((int) model->kind < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("unknown mlmodel kind \"%s\"", str),
				 errhint("Known kinds: linear_regression, logistic_regression, naive_bayes, kmeans, xgboost.")));
	if (!JsonGetString(&ctx, jb, "target", &model->target))
		model->target = "";
	model->n_rows = RequireCount(&ctx, jb, "n_rows");
	ModelInputsFromJson(jb, model, ctx.errcode);
	model->n_classes = Max(JsonGetStringArray(&ctx, jb, "classes", &model->classes), 0);
	/* (tree models have none of these; if given, validation checks them) */
	if (!JsonGetBool(&ctx, jb, "fit_intercept", &model->fit_intercept) &&
		model->kind != MODEL_KIND_XGBOOST)
		JsonMissingKey(&ctx, "fit_intercept");
	model->l1 = OptionalNumber(&ctx, jb, "l1", 0);
	model->l2 = model->kind == MODEL_KIND_XGBOOST ? OptionalNumber(&ctx, jb, "l2", 0)
		: RequireNumber(&ctx, jb, "l2");

	width = 1 + model->n_design;
	if (model->kind == MODEL_KIND_XGBOOST)
	{
		int			len;

		if (!JsonGetString(&ctx, jb, "booster", &str))
			JsonMissingKey(&ctx, "booster");
		len = strlen(str);
		model->booster = palloc(pg_b64_dec_len(len) + 1);
		len = pg_b64_decode(str, len, model->booster, pg_b64_dec_len(len));
		if (len <= 0)
			BadText(ctx.errcode, "Key \"booster\" must be a non-empty base64 string.", NULL);
		model->booster_len = len;
	}
	else if (model->kind == MODEL_KIND_LINEAR_REGRESSION)
	{
		model->n_sets = 1;
		model->coef = palloc(sizeof(double) * width);
		model->coef[0] = RequireNumber(&ctx, jb, "intercept");
		ReadSet(&ctx, jb, "coefficients", model->coef + 1, model->n_design);
	}
	else
	{
		const SetLayout *layout = &set_layouts[model->kind];
		const char *first = layout->scalar ? layout->scalar : layout->vectors[0];
		int			base = layout->scalar ? 1 : 0;
		Jsonb	  **items;

		width = ModelSetWidth(model);
		model->n_sets = JsonGetArrayItems(&ctx, jb, first, &items);
		if (model->n_sets < 1 || model->n_sets > MLSYS_MAX_CLASSES)
			BadText(ctx.errcode, "Key \"%s\" needs one entry per parameter set.", first);
		model->coef = palloc(sizeof(double) * width * model->n_sets);
		if (layout->scalar)
		{
			double	   *scalars;

			if (JsonGetNumberArray(&ctx, jb, layout->scalar, &scalars) != model->n_sets)
				BadText(ctx.errcode, "Key \"%s\" must be an array of numbers.", layout->scalar);
			for (int s = 0; s < model->n_sets; s++)
				model->coef[s * width] = scalars[s];
		}
		for (int v = 0; v < layout->n_vectors; v++)
		{
			Jsonb	  **sets;

			if (JsonGetArrayItems(&ctx, jb, layout->vectors[v], &sets) != model->n_sets)
				BadText(ctx.errcode, "Key \"%s\" needs one entry per parameter set.",
						layout->vectors[v]);
			for (int s = 0; s < model->n_sets; s++)
				ReadSet(&ctx, sets[s], NULL, model->coef + s * width + base + v * model->n_design,
						model->n_design);
		}
	}
	model->n_std_errors = Max(JsonGetNumberArray(&ctx, jb, "std_errors", &model->std_errors), 0);
	OutputsFromJson(&ctx, JsonGetObject(&ctx, jb, "outputs"), model);

	value = ModelSerialize(model);
	CheckOutsideValue(model);

	if (JsonGetString(&ctx, jb, "checksum", &str))
	{
		char		expected[9];

		snprintf(expected, sizeof(expected), "%08x", StoredChecksum(value));
		if (strcmp(str, expected) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("mlmodel checksum mismatch"),
					 errdetail("The text says checksum \"%s\", but its contents give \"%s\".",
							   str, expected),
					 errhint("The text was altered after it was written. Remove \"checksum\" to accept an edited model deliberately.")));
	}
	PG_RETURN_POINTER(value);
}

/* Binary input: the stored bytes themselves, fully validated. */
Datum
mlmodel_recv(PG_FUNCTION_ARGS)
{
	StringInfo	msg = (StringInfo) PG_GETARG_POINTER(0);
	int			len = msg->len - msg->cursor;
	struct varlena *value = palloc(VARHDRSZ + len);

	SET_VARSIZE(value, VARHDRSZ + len);
	pq_copymsgbytes(msg, VARDATA(value), len);
	CheckOutsideValue(ModelDeserialize(value));
	PG_RETURN_POINTER(value);
}

Datum
mlmodel_send(PG_FUNCTION_ARGS)
{
	struct varlena *value = DatumGetModelRaw(PG_GETARG_DATUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Cast bytea -> mlmodel: the same bytes as the binary form, validated. */
Datum
mlmodel_from_bytea(PG_FUNCTION_ARGS)
{
	struct varlena *value = (struct varlena *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));

	CheckOutsideValue(ModelDeserialize(value));
	PG_RETURN_POINTER(value);
}

/*
 * ml_model_info(mlmodel) -> jsonb: the text form plus the stored size and,
 * for least squares, the t statistics and two-sided p-values of the
 * parameters (df = training rows - parameters).
 */
Datum
ml_model_info(PG_FUNCTION_ARGS)
{
	struct varlena *value = DatumGetModelRaw(PG_GETARG_DATUM(0));
	Model	   *model = ModelDeserialize(value);
	StringInfoData buf;

	initStringInfo(&buf);
	ModelAppendText(&buf, model, value);
	if (model->n_std_errors > 0)
	{
		/* least squares: Student's t; logistic regression: Wald z, normal */
		bool		wald = model->kind == MODEL_KIND_LOGISTIC_REGRESSION;
		int			n = model->n_std_errors;
		double		df = (double) model->n_rows - model->n_design - (model->fit_intercept ? 1 : 0);
		double	   *t = palloc(sizeof(double) * n);
		double	   *pv = palloc(sizeof(double) * n);

		for (int i = 0; i < n; i++)
		{
			t[i] = model->coef[i] / model->std_errors[i];
			pv[i] = wald ? erfc(fabs(t[i]) / M_SQRT2) : StudentTwoSidedP(t[i], df);
		}
		appendStringInfo(&buf, ", \"%s\": ", wald ? "z_values" : "t_values");
		AppendNumberArray(&buf, t, n);
		appendStringInfoString(&buf, ", \"p_values\": ");
		AppendNumberArray(&buf, pv, n);
	}
	appendStringInfo(&buf, ", \"size_bytes\": %zu}", VARSIZE_ANY_EXHDR(value));
	PG_RETURN_JSONB_P(JsonParse(buf.data));
}
