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
 *     u32 flags           none defined in format 1: must be 0
 *     u32 reserved        must be 0
 *     u32 payload_length  bytes after the header
 *     u32 checksum        CRC-32C of the header's first 20 bytes + payload
 *   payload
 *     u32 n_features, str target, n_features x str feature name, u64 n_rows
 *     then the kind's own part; linear regression:
 *     u8 fit_intercept, f64 l2, f64 intercept,
 *     n_features x f64 coef, x f64 mean, x f64 stddev
 *   str = u16 byte length + bytes (server encoding, no terminator)
 *
 * The binary send/recv form is the same bytes. The text form is a JSON
 * object with the same content plus the checksum, so it reads well and
 * round-trips exactly (floats are printed shortest-exact). Text and binary
 * input both end in ModelValidate.
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "port/pg_crc32c.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "jsonopt.h"
#include "model.h"

#define MODEL_MAGIC				0x444D4C4D	/* "MLMD" read little-endian */
#define MODEL_FORMAT_VERSION	1
#define MODEL_HEADER_SIZE		24
#define MODEL_CHECKSUM_OFFSET	20

#define DatumGetModelRaw(d)		((struct varlena *) PG_DETOAST_DATUM_PACKED(d))

PG_FUNCTION_INFO_V1(mlmodel_in);
PG_FUNCTION_INFO_V1(mlmodel_out);
PG_FUNCTION_INFO_V1(mlmodel_recv);
PG_FUNCTION_INFO_V1(mlmodel_send);
PG_FUNCTION_INFO_V1(mlmodel_from_bytea);
PG_FUNCTION_INFO_V1(ml_model_info);

const char *
ModelKindName(ModelKind kind)
{
	switch (kind)
	{
		case MODEL_KIND_LINEAR_REGRESSION:
			return "linear_regression";
	}
	return "unknown";
}

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
ValidateName(const char *name, bool allow_empty)
{
	size_t		len = strlen(name);

	if (len == 0 && !allow_empty)
		InvalidModel("A feature name is empty.", NULL);
	if (len > MLSYS_MAX_NAME_LEN)
		InvalidModel("Name \"%s\" is longer than a column name can be.", name);
	if (!pg_verifymbstr(name, len, true))
		InvalidModel("A name is not valid in the server encoding.", NULL);
}

static void
ValidateFinite(const double *v, int n, bool nonnegative, const char *what)
{
	for (int i = 0; i < n; i++)
		if (!isfinite(v[i]) || (nonnegative && v[i] < 0))
			InvalidModel("The model's %s has a non-finite or out-of-range value.", what);
}

/*
 * Check everything a Model must satisfy before it is stored or used:
 * counts in range, names present, unique and short, numbers finite.
 */
void
ModelValidate(const Model *model)
{
	const LinearModel *lin = &model->linear;

	if (model->kind != MODEL_KIND_LINEAR_REGRESSION)
		InvalidModel("Unknown model kind.", NULL);
	if (model->n_features < 1 || model->n_features > MLSYS_MAX_FEATURES)
		InvalidModel("The number of features is out of range.", NULL);
	if (model->n_rows < 1)
		InvalidModel("The training row count must be positive.", NULL);
	ValidateName(model->target, true);
	for (int i = 0; i < model->n_features; i++)
	{
		ValidateName(model->features[i], false);
		for (int j = 0; j < i; j++)
			if (strcmp(model->features[i], model->features[j]) == 0)
				InvalidModel("Feature name \"%s\" appears twice.", model->features[i]);
	}

	ValidateFinite(&lin->l2, 1, true, "ridge penalty");
	ValidateFinite(&lin->intercept, 1, false, "intercept");
	if (!lin->fit_intercept && lin->intercept != 0)
		InvalidModel("A model fitted without intercept has a non-zero intercept.", NULL);
	ValidateFinite(lin->coef, model->n_features, false, "coefficients");
	ValidateFinite(lin->feature_mean, model->n_features, false, "feature means");
	ValidateFinite(lin->feature_stddev, model->n_features, true, "feature standard deviations");
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
PutF64Array(StringInfo buf, const double *v, int n)
{
	for (int i = 0; i < n; i++)
		PutF64(buf, v[i]);
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

/* Validate and encode a Model into a new varlena in CurrentMemoryContext. */
struct varlena *
ModelSerialize(const Model *model)
{
	StringInfoData buf;
	const LinearModel *lin = &model->linear;
	char	   *data;
	size_t		total;

	ModelValidate(model);

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);

	PutU32(&buf, MODEL_MAGIC);
	PutU16(&buf, MODEL_FORMAT_VERSION);
	PutU16(&buf, (uint16) model->kind);
	PutU32(&buf, 0);			/* flags */
	PutU32(&buf, 0);			/* reserved */
	PutU32(&buf, 0);			/* payload length, patched below */
	PutU32(&buf, 0);			/* checksum, patched below */

	PutU32(&buf, (uint32) model->n_features);
	PutStr(&buf, model->target);
	for (int i = 0; i < model->n_features; i++)
		PutStr(&buf, model->features[i]);
	PutU64(&buf, (uint64) model->n_rows);

	PutU8(&buf, lin->fit_intercept ? 1 : 0);
	PutF64(&buf, lin->l2);
	PutF64(&buf, lin->intercept);
	PutF64Array(&buf, lin->coef, model->n_features);
	PutF64Array(&buf, lin->feature_mean, model->n_features);
	PutF64Array(&buf, lin->feature_stddev, model->n_features);

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

static double *
GetF64Array(ModelReader *r, int n)
{
	double	   *v;

	/* check the length before allocating: n comes from the value */
	if ((size_t) (r->end - r->cur) / sizeof(double) < (size_t) n)
		Damaged("The value is truncated.");
	v = palloc(sizeof(double) * n);
	for (int i = 0; i < n; i++)
		v[i] = GetF64(r);
	return v;
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
	LinearModel *lin = &model->linear;
	uint32		version,
				kind,
				n_features;

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
	if (kind != MODEL_KIND_LINEAR_REGRESSION)
		Damaged("The value has an unknown model kind.");
	if (GetUInt(&r, 4) != 0 || GetUInt(&r, 4) != 0)
		Damaged("Undefined flag or reserved bits are set.");
	if (GetUInt(&r, 4) != total - MODEL_HEADER_SIZE)
		Damaged("The payload length does not match the value's size.");
	if (GetUInt(&r, 4) != ModelChecksum((const char *) data, total))
		Damaged("The checksum does not match the contents.");

	model->kind = (ModelKind) kind;
	n_features = GetUInt(&r, 4);
	if (n_features < 1 || n_features > MLSYS_MAX_FEATURES)
		Damaged("The number of features is out of range.");
	model->n_features = n_features;
	model->target = GetStr(&r);
	model->features = palloc(sizeof(char *) * n_features);
	for (uint32 i = 0; i < n_features; i++)
		model->features[i] = GetStr(&r);
	model->n_rows = (int64) GetUInt(&r, 8);

	lin->fit_intercept = GetUInt(&r, 1) != 0;
	lin->l2 = GetF64(&r);
	lin->intercept = GetF64(&r);
	lin->coef = GetF64Array(&r, n_features);
	lin->feature_mean = GetF64Array(&r, n_features);
	lin->feature_stddev = GetF64Array(&r, n_features);

	if (r.cur != r.end)
		Damaged("The value has trailing bytes.");
	ModelValidate(model);
	return model;
}

/* The model's prediction for one feature vector of length n_features. */
double
ModelPredict(const Model *model, const double *x)
{
	const LinearModel *lin = &model->linear;
	double		sum = lin->intercept;

	for (int i = 0; i < model->n_features; i++)
		sum += lin->coef[i] * x[i];
	return sum;
}

/* ---------------------------------------------------------------- text form */

/*
 * Append the hyper-parameters the model was fitted with, as JSON members
 * ("key": value, ...) without braces, for the registry's params column.
 */
void
ModelAppendParamsJson(StringInfo buf, const Model *model)
{
	appendStringInfoString(buf, "\"l2\": ");
	JsonAppendNumber(buf, model->linear.l2);
	appendStringInfo(buf, ", \"intercept\": %s", model->linear.fit_intercept ? "true" : "false");
}

static void
AppendDoubleArray(StringInfo buf, const char *key, const double *v, int n)
{
	appendStringInfo(buf, ", \"%s\": [", key);
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		JsonAppendNumber(buf, v[i]);
	}
	appendStringInfoChar(buf, ']');
}

/* Append the model's JSON object body (without the closing brace). */
static void
ModelAppendJson(StringInfo buf, const Model *model)
{
	const LinearModel *lin = &model->linear;

	appendStringInfo(buf, "{\"format\": %d, \"kind\": \"%s\", \"target\": ",
					 MODEL_FORMAT_VERSION, ModelKindName(model->kind));
	escape_json(buf, model->target);
	appendStringInfoString(buf, ", \"features\": [");
	for (int i = 0; i < model->n_features; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, model->features[i]);
	}
	appendStringInfo(buf, "], \"n_rows\": " INT64_FORMAT ", \"fit_intercept\": %s, \"l2\": ",
					 model->n_rows, lin->fit_intercept ? "true" : "false");
	JsonAppendNumber(buf, lin->l2);
	appendStringInfoString(buf, ", \"intercept\": ");
	JsonAppendNumber(buf, lin->intercept);
	AppendDoubleArray(buf, "coefficients", lin->coef, model->n_features);
	AppendDoubleArray(buf, "feature_means", lin->feature_mean, model->n_features);
	AppendDoubleArray(buf, "feature_stddevs", lin->feature_stddev, model->n_features);
}

static uint32
StoredChecksum(const struct varlena *value)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(value) + MODEL_CHECKSUM_OFFSET;

	return (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24);
}

/* The text form of a stored value, without the closing brace. */
static void
ModelAppendText(StringInfo buf, const struct varlena *value)
{
	ModelAppendJson(buf, ModelDeserialize(value));
	appendStringInfo(buf, ", \"checksum\": \"%08x\"", StoredChecksum(value));
}

Datum
mlmodel_out(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	initStringInfo(&buf);
	ModelAppendText(&buf, DatumGetModelRaw(PG_GETARG_DATUM(0)));
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

static const JsonContext model_text_ctx = {
	ERRCODE_INVALID_TEXT_REPRESENTATION, "input for type mlmodel"
};

/* Read a required array of exactly n numbers. */
static double *
RequireNumbers(Jsonb *jb, const char *key, int n)
{
	double	   *v;
	int			got = JsonGetNumberArray(&model_text_ctx, jb, key, &v);

	if (got < 0)
		JsonMissingKey(&model_text_ctx, key);
	if (got != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type mlmodel"),
				 errdetail("Key \"%s\" has %d elements, but the model has %d features.",
						   key, got, n)));
	return v;
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
		"format", "kind", "target", "features", "n_rows", "fit_intercept", "l2",
		"intercept", "coefficients", "feature_means", "feature_stddevs",
		"checksum", NULL
	};
	Jsonb	   *jb = JsonParse(PG_GETARG_CSTRING(0));
	Model	   *model = palloc0(sizeof(Model));
	LinearModel *lin = &model->linear;
	struct varlena *value;
	double		num;
	char	   *str;

	JsonCheckKeys(&model_text_ctx, jb, keys);

	if (!JsonGetNumber(&model_text_ctx, jb, "format", &num))
		JsonMissingKey(&model_text_ctx, "format");
	if (num != MODEL_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("unsupported mlmodel format version %g", num),
				 errhint("This build of mlsys reads format version %d.", MODEL_FORMAT_VERSION)));

	if (!JsonGetString(&model_text_ctx, jb, "kind", &str))
		JsonMissingKey(&model_text_ctx, "kind");
	if (strcmp(str, ModelKindName(MODEL_KIND_LINEAR_REGRESSION)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("unknown mlmodel kind \"%s\"", str),
				 errhint("Known kinds: %s.", ModelKindName(MODEL_KIND_LINEAR_REGRESSION))));
	model->kind = MODEL_KIND_LINEAR_REGRESSION;

	if (!JsonGetString(&model_text_ctx, jb, "target", &model->target))
		model->target = "";
	model->n_features = JsonGetStringArray(&model_text_ctx, jb, "features", &model->features);
	if (model->n_features < 0)
		JsonMissingKey(&model_text_ctx, "features");
	if (model->n_features < 1 || model->n_features > MLSYS_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type mlmodel"),
				 errdetail("A model has between 1 and %d features.", MLSYS_MAX_FEATURES)));
	if (!JsonGetNumber(&model_text_ctx, jb, "n_rows", &num))
		JsonMissingKey(&model_text_ctx, "n_rows");
	if (!(num >= 1 && num <= (double) PG_INT64_MAX) || num != floor(num))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type mlmodel"),
				 errdetail("Key \"n_rows\" must be a positive integer.")));
	model->n_rows = (int64) num;

	if (!JsonGetBool(&model_text_ctx, jb, "fit_intercept", &lin->fit_intercept))
		JsonMissingKey(&model_text_ctx, "fit_intercept");
	if (!JsonGetNumber(&model_text_ctx, jb, "l2", &lin->l2))
		JsonMissingKey(&model_text_ctx, "l2");
	if (!JsonGetNumber(&model_text_ctx, jb, "intercept", &lin->intercept))
		JsonMissingKey(&model_text_ctx, "intercept");
	lin->coef = RequireNumbers(jb, "coefficients", model->n_features);
	lin->feature_mean = RequireNumbers(jb, "feature_means", model->n_features);
	lin->feature_stddev = RequireNumbers(jb, "feature_stddevs", model->n_features);

	value = ModelSerialize(model);

	if (JsonGetString(&model_text_ctx, jb, "checksum", &str))
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
	(void) ModelDeserialize(value);
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

	(void) ModelDeserialize(value);
	PG_RETURN_POINTER(value);
}

/* ml_model_info(mlmodel) -> jsonb: the text form plus the stored size. */
Datum
ml_model_info(PG_FUNCTION_ARGS)
{
	struct varlena *value = DatumGetModelRaw(PG_GETARG_DATUM(0));
	StringInfoData buf;

	initStringInfo(&buf);
	ModelAppendText(&buf, value);
	appendStringInfo(&buf, ", \"size_bytes\": %zu}", VARSIZE_ANY_EXHDR(value));
	PG_RETURN_JSONB_P(JsonParse(buf.data));
}
