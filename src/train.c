/*
 * train.c -- ml_train: source -> split -> fit -> holdout metrics -> registry.
 *
 * The source (a table, view or query) is never pulled into memory: the fit
 * is one run of the training aggregate over the source, and the metrics one
 * more pass, both as SQL through SPI with the caller's privileges, so the
 * caller can never train on rows it could not SELECT, and the planner may
 * use parallel workers.
 *
 * Split: a row is in the holdout set when a seeded hash of its text form
 * falls below test_fraction. The split therefore depends only on the row's
 * content and the seed, not on scan order, and is the same in both passes
 * and in every later run on the same data.
 */
#include "postgres.h"

#include <math.h>

#include "access/tupdesc.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "jsonopt.h"
#include "mlsys.h"
#include "model.h"
#include "registry.h"

/* Alias of the source in generated SQL; unlikely to be a column name. */
#define SOURCE_ALIAS "_mlsys_src"

PG_FUNCTION_INFO_V1(ml_train);

static const JsonContext train_ctx = {
	ERRCODE_INVALID_PARAMETER_VALUE, "ml_train parameters"
};

typedef struct TrainColumns
{
	char	   *target;
	int			n_features;
	char	  **features;
} TrainColumns;

static bool
StartsWithKeyword(const char *s, const char *kw)
{
	size_t		len = strlen(kw);

	return pg_strncasecmp(s, kw, len) == 0 &&
		(s[len] == '\0' || isspace((unsigned char) s[len]) || s[len] == '(');
}

/*
 * SQL for the FROM clause: a query in parentheses, or the quoted name of
 * an existing table or view.
 */
static char *
SourceFromClause(const char *source)
{
	const char *s = source;
	char	   *query;
	size_t		len;
	List	   *names;
	Oid			relid;

	while (isspace((unsigned char) *s))
		s++;
	if (StartsWithKeyword(s, "select") || StartsWithKeyword(s, "with") ||
		StartsWithKeyword(s, "values") || StartsWithKeyword(s, "table"))
	{
		query = pstrdup(s);
		len = strlen(query);
		while (len > 0 && (isspace((unsigned char) query[len - 1]) || query[len - 1] == ';'))
			query[--len] = '\0';
		return psprintf("(%s) AS " SOURCE_ALIAS, query);
	}

	names = textToQualifiedNameList(cstring_to_text(s));
	relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, false);
	return psprintf("%s AS " SOURCE_ALIAS,
					quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   get_rel_name(relid)));
}

static bool
IsNumericType(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID ||
		type == FLOAT4OID || type == FLOAT8OID || type == NUMERICOID;
}

static int
FindColumn(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	return -1;
}

static void
RequireNumeric(TupleDesc desc, int col, const char *role)
{
	Form_pg_attribute att = TupleDescAttr(desc, col);

	if (!IsNumericType(att->atttypid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" has type %s, but the linear algorithm needs a number",
						role, NameStr(att->attname), format_type_be(att->atttypid)),
				 errhint("Cast the column to a numeric type in the source query, or leave it out of the features.")));
}

/*
 * Check target and features against the source's columns. With features
 * NULL every other column is a feature.
 */
static void
ResolveColumns(TupleDesc desc, const char *target, ArrayType *features, TrainColumns *cols)
{
	int			target_col = FindColumn(desc, target);

	if (target_col < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target column \"%s\" does not exist in the source", target),
				 errhint("Column names are matched exactly, including case.")));
	RequireNumeric(desc, target_col, "target");
	cols->target = pstrdup(target);

	if (features == NULL)
	{
		cols->features = palloc(sizeof(char *) * desc->natts);
		cols->n_features = 0;
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (att->attisdropped || i == target_col)
				continue;
			RequireNumeric(desc, i, "feature");
			cols->features[cols->n_features++] = pstrdup(NameStr(att->attname));
		}
	}
	else
	{
		Datum	   *elems;
		bool	   *nulls;

		deconstruct_array(features, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls,
						  &cols->n_features);
		cols->features = palloc(sizeof(char *) * Max(cols->n_features, 1));
		for (int i = 0; i < cols->n_features; i++)
		{
			int			col;

			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("feature names must not be NULL")));
			cols->features[i] = TextDatumGetCString(elems[i]);
			col = FindColumn(desc, cols->features[i]);
			if (col < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("feature column \"%s\" does not exist in the source", cols->features[i]),
						 errhint("Column names are matched exactly, including case.")));
			if (col == target_col)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" cannot be both the target and a feature", target)));
			for (int j = 0; j < i; j++)
				if (strcmp(cols->features[i], cols->features[j]) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("feature \"%s\" is listed twice", cols->features[i])));
			RequireNumeric(desc, col, "feature");
		}
	}
	if (cols->n_features == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no features to train on"),
				 errhint("The source needs at least one column besides the target.")));
	if (cols->n_features > MLSYS_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many features: %d", cols->n_features),
				 errdetail("A model can have at most %d features.", MLSYS_MAX_FEATURES)));
}

/* "ARRAY[_mlsys_src.a::float8, ...]" */
static char *
FeatureArraySql(const TrainColumns *cols)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "ARRAY[");
	for (int i = 0; i < cols->n_features; i++)
		appendStringInfo(&buf, "%s" SOURCE_ALIAS ".%s::pg_catalog.float8",
						 i > 0 ? ", " : "", quote_identifier(cols->features[i]));
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* Parameters for the aggregate: the user's, minus ours, plus the names. */
static Jsonb *
AggregateParams(Jsonb *params, const TrainColumns *cols)
{
	StringInfoData buf;
	Datum		names;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"target\": ");
	escape_json(&buf, cols->target);
	appendStringInfoString(&buf, ", \"features\": [");
	for (int i = 0; i < cols->n_features; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, cols->features[i]);
	}
	appendStringInfoString(&buf, "]}");
	names = JsonbPGetDatum(JsonParse(buf.data));
	params = DatumGetJsonbP(DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(params),
												CStringGetTextDatum("seed")));
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(params), names));
}

/* Run a one-row query with arguments under SPI; returns its tuple. */
static HeapTuple
QueryOneRow(const char *sql, int nargs, Oid *types, Datum *values)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "training query returned %s", SPI_result_code_string(rc));
	return SPI_tuptable->vals[0];
}

static double
GetFloat8(HeapTuple tup, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, col, isnull);

	return *isnull ? 0.0 : DatumGetFloat8(d);
}

/* Holdout r2, rmse and mae as a JSON object; n_test receives the row count. */
static char *
HoldoutMetrics(const char *from, const char *split, const TrainColumns *cols,
			   struct varlena *model, int64 *n_test)
{
	char	   *target = psprintf(SOURCE_ALIAS ".%s", quote_identifier(cols->target));
	char	   *sql = psprintf("SELECT count(*)::float8, sum((y - p) ^ 2), sum(abs(y - p)), var_pop(y)"
						   " FROM (SELECT %s::pg_catalog.float8 AS y, %s($1, %s) AS p FROM %s"
						   " WHERE %s AND %s IS NOT NULL) AS t",
						   target, MlsysQualify("ml_predict"), FeatureArraySql(cols), from,
						   split, target);
	Oid			type = MlsysModelTypeOid();
	Datum		arg = PointerGetDatum(model);
	HeapTuple	tup = QueryOneRow(sql, 1, &type, &arg);
	bool		isnull;
	double		n = GetFloat8(tup, 1, &isnull);
	double		sse = GetFloat8(tup, 2, &isnull);
	double		sae = GetFloat8(tup, 3, &isnull);
	double		var = GetFloat8(tup, 4, &isnull);
	StringInfoData buf;

	*n_test = (int64) n;
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	if (n > 0)
	{
		appendStringInfoString(&buf, "\"r2\": ");
		JsonAppendNumber(&buf, var > 0 ? 1.0 - sse / (n * var) : NAN);
		appendStringInfoString(&buf, ", \"rmse\": ");
		JsonAppendNumber(&buf, sqrt(sse / n));
		appendStringInfoString(&buf, ", \"mae\": ");
		JsonAppendNumber(&buf, sae / n);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * ml_train(model_name, algorithm, source, target, features, params,
 *          test_fraction) -> TABLE(model_name, version, metrics)
 */
Datum
ml_train(PG_FUNCTION_ARGS)
{
	static const char *const keys[] = {"l2", "intercept", "seed", NULL};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *model_name,
			   *algorithm,
			   *source,
			   *from,
			   *split,
			   *sql,
			   *metrics;
	Jsonb	   *params;
	double		test_fraction;
	double		seed = 0;
	TrainColumns cols;
	RegistryVersion v = {0};
	Model	   *model;
	StringInfoData recorded;
	HeapTuple	tup;
	bool		isnull;
	bool		deployed;
	int32		version;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	Oid			jsonb_type = JSONBOID;
	Datum		arg;
	MemoryContext caller = CurrentMemoryContext;

	for (int i = 0; i < 7; i++)
		if (PG_ARGISNULL(i) && i != 4)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("only the features argument of ml_train may be NULL")));
	model_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	algorithm = text_to_cstring(PG_GETARG_TEXT_PP(1));
	source = text_to_cstring(PG_GETARG_TEXT_PP(2));
	params = PG_GETARG_JSONB_P(5);
	test_fraction = PG_GETARG_FLOAT8(6);

	RegistryCheckName(model_name);
	if (strcmp(algorithm, "linear") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown algorithm \"%s\"", algorithm),
				 errhint("Available algorithms: linear.")));
	JsonCheckKeys(&train_ctx, params, keys);
	if (JsonGetNumber(&train_ctx, params, "seed", &seed) &&
		!(seed == floor(seed) && fabs(seed) <= (double) PG_INT32_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"seed\" must be an integer, got %g", seed)));
	if (!(test_fraction >= 0 && test_fraction < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test_fraction must be at least 0 and less than 1, got %g", test_fraction),
				 errhint("Use 0 to train on every row without holdout metrics.")));

	InitMaterializedSRF(fcinfo, 0);
	from = SourceFromClause(source);

	SPI_connect();
	if (SPI_execute(psprintf("SELECT * FROM %s LIMIT 0", from), false, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training source must be a table, a view or a query returning rows")));
	ResolveColumns(SPI_tuptable->tupdesc, text_to_cstring(PG_GETARG_TEXT_PP(3)),
				   PG_ARGISNULL(4) ? NULL : PG_GETARG_ARRAYTYPE_P(4), &cols);

	/* Holdout rows: seeded hash of the row's text below test_fraction * 2^31. */
	split = psprintf("(pg_catalog.hashtextextended(" SOURCE_ALIAS "::pg_catalog.text, %d)"
					 " & 2147483647) < " INT64_FORMAT,
					 (int) seed, (int64) floor(test_fraction * 2147483648.0));

	sql = psprintf("SELECT %s(" SOURCE_ALIAS ".%s::pg_catalog.float8, %s, $1) FROM %s WHERE NOT %s",
				   MlsysQualify("ml_linreg_fit"), quote_identifier(cols.target),
				   FeatureArraySql(&cols), from, split);
	arg = JsonbPGetDatum(AggregateParams(params, &cols));
	tup = QueryOneRow(sql, 1, &jsonb_type, &arg);
	arg = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no training rows: the source has no rows with a non-NULL target outside the holdout split"),
				 errhint("Check the source query, or lower test_fraction.")));
	v.model = (struct varlena *) SPI_datumTransfer(arg, false, -1);
	metrics = MemoryContextStrdup(caller, test_fraction > 0
								  ? HoldoutMetrics(from, split, &cols, v.model, &v.n_test)
								  : "{}");
	SPI_finish();
	model = ModelDeserialize(v.model);

	initStringInfo(&recorded);
	appendStringInfoChar(&recorded, '{');
	ModelAppendParamsJson(&recorded, model);
	appendStringInfo(&recorded, ", \"seed\": %d, \"test_fraction\": ", (int) seed);
	JsonAppendNumber(&recorded, test_fraction);
	appendStringInfoChar(&recorded, '}');

	v.model_name = model_name;
	v.algorithm = algorithm;
	v.params = JsonParse(recorded.data);
	v.source = source;
	v.n_train = model->n_rows;
	v.metrics = JsonParse(metrics);
	version = RegistryAddVersion(&v, &deployed);
	if (deployed)
		ereport(NOTICE,
				(errmsg("model \"%s\" version %d trained and deployed", model_name, version)));

	values[0] = CStringGetTextDatum(model_name);
	values[1] = Int32GetDatum(version);
	values[2] = JsonbPGetDatum(v.metrics);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
