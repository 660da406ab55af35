/*
 * jsonopt.c -- typed, validated access to the keys of a jsonb object.
 *
 * Getters return false when the key is absent (the caller applies its
 * default or calls JsonMissingKey) and raise an error when it is present
 * with the wrong type, so a typo or a wrong type never passes silently.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "jsonopt.h"

static void
JsonTypeError(const JsonContext *ctx, const char *key, const char *expected)
{
	ereport(ERROR,
			(errcode(ctx->errcode),
			 errmsg("invalid %s", ctx->what),
			 errdetail("Key \"%s\" must be %s.", key, expected),
			 errhint("docs/sql-reference.md lists the keys of %s and their types.", ctx->what)));
}

static bool
JsonLookup(Jsonb *jb, const char *key, JsonbValue *out)
{
	if (!JB_ROOT_IS_OBJECT(jb))
		return false;
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), out) != NULL;
}

/* A JSON number as a double; beyond double's range is an error. */
static double
JsonNumberToDouble(const JsonContext *ctx, const char *key, const JsonbValue *v)
{
	double		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													   NumericGetDatum(v->val.numeric)));

	if (!isfinite(d))
		JsonTypeError(ctx, key, "within the range of double precision");
	return d;
}

/* Parse text as jsonb; errors are jsonb's own input errors. */
Jsonb *
JsonParse(const char *text)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

/*
 * Append v as a JSON number, shortest form that reads back exactly;
 * non-finite values have no JSON form and become null.
 */
void
JsonAppendNumber(StringInfo buf, double v)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (!isfinite(v))
	{
		appendStringInfoString(buf, "null");
		return;
	}
	double_to_shortest_decimal_buf(v, tmp);
	appendStringInfoString(buf, tmp);
}

/* Reject a non-object and any key not in the NULL-terminated list allowed. */
void
JsonCheckKeys(const JsonContext *ctx, Jsonb *jb, const char *const *allowed)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ctx->errcode),
				 errmsg("invalid %s", ctx->what),
				 errdetail("A JSON object is required."),
				 errhint("Pass a JSON object such as '{\"key\": value}'.")));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const char *const *a;
		char	   *key;
		StringInfoData valid;

		if (tok != WJB_KEY)
			continue;
		for (a = allowed; *a != NULL; a++)
			if (strlen(*a) == (size_t) v.val.string.len &&
				memcmp(*a, v.val.string.val, v.val.string.len) == 0)
				break;
		if (*a != NULL)
			continue;

		key = pnstrdup(v.val.string.val, v.val.string.len);
		initStringInfo(&valid);
		for (a = allowed; *a != NULL; a++)
			appendStringInfo(&valid, "%s%s", a == allowed ? "" : ", ", *a);
		ereport(ERROR,
				(errcode(ctx->errcode),
				 errmsg("unknown key \"%s\" in %s", key, ctx->what),
				 errhint("Valid keys are: %s.", valid.data)));
	}
}

bool
JsonHasKey(Jsonb *jb, const char *key)
{
	JsonbValue	v;

	return JsonLookup(jb, key, &v);
}

void
JsonMissingKey(const JsonContext *ctx, const char *key)
{
	ereport(ERROR,
			(errcode(ctx->errcode),
			 errmsg("invalid %s", ctx->what),
			 errdetail("Key \"%s\" is required.", key),
			 errhint("Add the key; docs/sql-reference.md lists what %s needs.", ctx->what)));
}

bool
JsonGetNumber(const JsonContext *ctx, Jsonb *jb, const char *key, double *out)
{
	JsonbValue	v;

	if (!JsonLookup(jb, key, &v))
		return false;
	if (v.type != jbvNumeric)
		JsonTypeError(ctx, key, "a number");
	*out = JsonNumberToDouble(ctx, key, &v);
	return true;
}

bool
JsonGetBool(const JsonContext *ctx, Jsonb *jb, const char *key, bool *out)
{
	JsonbValue	v;

	if (!JsonLookup(jb, key, &v))
		return false;
	if (v.type != jbvBool)
		JsonTypeError(ctx, key, "true or false");
	*out = v.val.boolean;
	return true;
}

bool
JsonGetString(const JsonContext *ctx, Jsonb *jb, const char *key, char **out)
{
	JsonbValue	v;

	if (!JsonLookup(jb, key, &v))
		return false;
	if (v.type != jbvString)
		JsonTypeError(ctx, key, "a string");
	*out = pnstrdup(v.val.string.val, v.val.string.len);
	return true;
}

/*
 * Look up an array under key; return its container or NULL if absent.
 * Scalars and objects are rejected.
 */
static JsonbContainer *
JsonGetArray(const JsonContext *ctx, Jsonb *jb, const char *key,
			 const char *expected)
{
	JsonbValue	v;

	if (!JsonLookup(jb, key, &v))
		return NULL;
	if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data) ||
		JsonContainerIsScalar(v.val.binary.data))
		JsonTypeError(ctx, key, expected);
	return v.val.binary.data;
}

static int
ContainerNumbers(const JsonContext *ctx, const char *key, JsonbContainer *arr, double **out)
{
	int			n = JsonContainerSize(arr);

	*out = palloc(sizeof(double) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(arr, i);

		if (e->type != jbvNumeric)
			JsonTypeError(ctx, key, "an array of numbers");
		(*out)[i] = JsonNumberToDouble(ctx, key, e);
	}
	return n;
}

/* Returns the element count, or -1 if the key is absent. */
int
JsonGetNumberArray(const JsonContext *ctx, Jsonb *jb, const char *key,
				   double **out)
{
	JsonbContainer *arr = JsonGetArray(ctx, jb, key, "an array of numbers");

	return arr ? ContainerNumbers(ctx, key, arr, out) : -1;
}

/* The numbers of a jsonb array (not an object member); what names it. */
int
JsonNumbers(const JsonContext *ctx, Jsonb *jb, const char *what, double **out)
{
	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		JsonTypeError(ctx, what, "an array of numbers");
	return ContainerNumbers(ctx, what, &jb->root, out);
}

/* The object under key, or NULL if the key is absent. */
Jsonb *
JsonGetObject(const JsonContext *ctx, Jsonb *jb, const char *key)
{
	JsonbValue	v;

	if (!JsonLookup(jb, key, &v))
		return NULL;
	if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
		JsonTypeError(ctx, key, "an object");
	return JsonbValueToJsonb(&v);
}

/* The elements of the array under key, each as a Jsonb; -1 if absent. */
int
JsonGetArrayItems(const JsonContext *ctx, Jsonb *jb, const char *key, Jsonb ***items)
{
	JsonbContainer *arr = JsonGetArray(ctx, jb, key, "an array");
	int			n;

	if (arr == NULL)
		return -1;
	n = JsonContainerSize(arr);
	*items = palloc(sizeof(Jsonb *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*items)[i] = JsonbValueToJsonb(getIthJsonbValueFromContainer(arr, i));
	return n;
}

/* Returns the element count, or -1 if the key is absent. */
int
JsonGetStringArray(const JsonContext *ctx, Jsonb *jb, const char *key,
				   char ***out)
{
	JsonbContainer *arr = JsonGetArray(ctx, jb, key, "an array of strings");
	int			n;

	if (arr == NULL)
		return -1;
	n = JsonContainerSize(arr);
	*out = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(arr, i);

		if (e->type != jbvString)
			JsonTypeError(ctx, key, "an array of strings");
		(*out)[i] = pnstrdup(e->val.string.val, e->val.string.len);
	}
	return n;
}
