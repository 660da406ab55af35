/*
 * preprocess.c -- from raw input values to the design vector a model uses.
 *
 * A numeric input x becomes (x - center) / scale_by, with NULL replaced by
 * the learned fill value; a categorical input becomes one indicator per
 * level except the first (the reference level), with NULL and levels not
 * seen at training replaced by the fill level. With imputation "error" a
 * NULL or unseen level is an error instead; with "missing" (tree models)
 * it becomes NaN in every design column of the input, which XGBoost reads
 * as a missing value. Levels are kept in byte order
 * (as scikit-learn orders them), so a lookup is a binary search.
 *
 * Categories are compared in the text form SQL's ::text cast gives, so
 * that a value read from a row here equals what ml_train saw through SQL.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "preprocess.h"


bool
ColumnTypeIsNumeric(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID ||
		type == FLOAT4OID || type == FLOAT8OID || type == NUMERICOID;
}

static int
CompareLevel(const void *key, const void *level)
{
	return strcmp((const char *) key, *(char *const *) level);
}

/*
 * Fill the n_design values of one row from its raw input values. A value
 * the model cannot take (a NULL or an unseen level without imputation, a
 * non-finite number) raises an error, or with raise false makes the
 * function return false.
 */
static bool
DesignRow(const Model *model, const RawValue *raw, double *design, bool raise)
{
	double	   *out = design;

	for (int i = 0; i < model->n_inputs; i++)
	{
		const ModelInput *in = &model->inputs[i];
		const RawValue *v = &raw[i];

		if (in->type == INPUT_NUMERIC)
		{
			double		x = v->number;

			/* trees read NaN as missing, as in training */
			if (v->isnull || (isnan(x) && in->impute == IMPUTE_MISSING))
			{
				if (in->impute == IMPUTE_ERROR)
				{
					if (!raise)
						return false;
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("input \"%s\" is NULL", in->name),
							 errhint("The model was trained without imputation for it: replace NULLs with coalesce(), or retrain with params like '{\"impute\": \"mean\"}'.")));
				}
				x = in->impute == IMPUTE_MISSING ? NAN : in->fill;
			}
			else if (!isfinite(x))
			{
				if (!raise)
					return false;
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("input \"%s\" must be finite, got %g", in->name, x),
						 errhint("Filter out rows with NaN or infinite values.")));
			}
			*out++ = (x - in->center) / in->scale_by;
		}
		else
		{
			int			level = in->fill_level;
			bool		missing = v->isnull;

			if (!v->isnull)
			{
				char	  **hit = bsearch(v->category, in->levels, in->n_levels,
										  sizeof(char *), CompareLevel);

				if (hit != NULL)
					level = hit - in->levels;
				else
					missing = true;
			}
			if (missing && in->impute == IMPUTE_ERROR)
			{
				if (!raise)
					return false;
				if (v->isnull)
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("input \"%s\" is NULL", in->name),
							 errhint("The model was trained without imputation for it: replace NULLs with coalesce(), or retrain with params like '{\"impute\": \"mode\"}'.")));
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("input \"%s\" has level \"%s\", which the model did not see in training",
								in->name, v->category),
						 errhint("Retrain with params like '{\"impute\": \"mode\"}' to map unseen levels to the most frequent one.")));
			}
			for (int l = 1; l < in->n_levels; l++)
				*out++ = missing && in->impute == IMPUTE_MISSING ? NAN : level == l ? 1.0 : 0.0;
		}
	}
	return true;
}

/* Fill the n_design values of one row from its raw input values, or raise. */
void
PreprocessRow(const Model *model, const RawValue *raw, double *design)
{
	(void) DesignRow(model, raw, design, true);
}

/* The same without raising: false if the model cannot take the values. */
bool
PreprocessRowIfValid(const Model *model, const RawValue *raw, double *design)
{
	return DesignRow(model, raw, design, false);
}

/*
 * Design vector from a float8[] holding one value per input, in the
 * model's input order: only for models whose inputs are all numeric.
 * model_name (or NULL) is for messages; raw is scratch space for n_inputs values.
 */
void
PreprocessArray(const Model *model, const char *model_name, ArrayType *arr, RawValue *raw,
				double *design)
{
	int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	const double *x = (const double *) ARR_DATA_PTR(arr);
	bits8	   *nulls = ARR_NULLBITMAP(arr);

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("feature array must be one-dimensional"),
				 errhint("Pass one row's features as ARRAY[x1, x2, ...].")));
	if (ARR_ELEMTYPE(arr) != FLOAT8OID)
		elog(ERROR, "feature array must be float8[]");
	if (n != model->n_inputs)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 model_name
				 ? errmsg("model \"%s\" expects %d features, got %d", model_name, model->n_inputs, n)
				 : errmsg("model expects %d features, got %d", model->n_inputs, n),
				 errhint("Pass the features in the order of \"inputs\" in ml_model_info(), or pass a row.")));

	for (int i = 0; i < n; i++)
	{
		if (model->inputs[i].type != INPUT_NUMERIC)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("input \"%s\" of the model is categorical", model->inputs[i].name),
					 errhint("Pass a row instead of an array: ml_predict(model, t) for a row t.")));
		raw[i].isnull = nulls && !(nulls[i / 8] & (1 << (i % 8)));
		if (!raw[i].isnull)
			raw[i].number = *x++;	/* NULLs take no space in the data */
	}
	PreprocessRow(model, raw, design);
}

/*
 * Map the model's inputs onto the columns of a row by name. previous is
 * reused while the model (identified by model_tag, unique per decoded
 * model) and the row type stay the same.
 */
RowBinding *
PreprocessBindRow(const Model *model, uint64 model_tag, HeapTupleHeader row,
				  RowBinding *previous, MemoryContext cxt)
{
	Oid			type_id = HeapTupleHeaderGetTypeId(row);
	int32		type_mod = HeapTupleHeaderGetTypMod(row);
	MemoryContext old;
	RowBinding *b;
	TupleDesc	desc;

	if (previous != NULL && previous->model_tag == model_tag &&
		previous->type_id == type_id && previous->type_mod == type_mod)
		return previous;

	old = MemoryContextSwitchTo(cxt);
	b = palloc0(sizeof(RowBinding));
	b->model_tag = model_tag;
	b->type_id = type_id;
	b->type_mod = type_mod;
	desc = lookup_rowtype_tupdesc(type_id, type_mod);
	b->desc = CreateTupleDescCopy(desc);
	ReleaseTupleDesc(desc);
	b->column = palloc(sizeof(int) * model->n_inputs);
	b->text_out = palloc0(sizeof(FmgrInfo) * model->n_inputs);
	b->values = palloc(sizeof(Datum) * b->desc->natts);
	b->nulls = palloc(sizeof(bool) * b->desc->natts);
	b->raw = palloc(sizeof(RawValue) * model->n_inputs);

	for (int i = 0; i < model->n_inputs; i++)
	{
		const ModelInput *in = &model->inputs[i];
		Form_pg_attribute att = NULL;

		b->column[i] = -1;
		for (int c = 0; c < b->desc->natts; c++)
		{
			att = TupleDescAttr(b->desc, c);
			if (!att->attisdropped && strcmp(NameStr(att->attname), in->name) == 0)
			{
				b->column[i] = c;
				break;
			}
		}
		if (b->column[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the row has no column \"%s\", an input of the model", in->name),
					 errhint("Columns are matched to the model's inputs by name; rename or add the column in the query.")));
		if (in->type == INPUT_NUMERIC && !ColumnTypeIsNumeric(att->atttypid))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" has type %s, but the model's input is numeric",
							in->name, format_type_be(att->atttypid)),
					 errhint("Cast the column to a number in the query.")));
		if (in->type == INPUT_CATEGORICAL && att->atttypid != BOOLOID &&
			att->atttypid != TEXTOID && att->atttypid != VARCHAROID && att->atttypid != BPCHAROID)
		{
			Oid			func;
			bool		varlena;

			getTypeOutputInfo(att->atttypid, &func, &varlena);
			fmgr_info_cxt(func, &b->text_out[i], cxt);
		}
	}
	MemoryContextSwitchTo(old);
	return b;
}

/* A column value as a double (numeric types only; checked at binding). */
static double
NumberFromDatum(Oid type, Datum d)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
		default:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	}
}

/* A column value in the text form of SQL's value::text. */
static const char *
CategoryFromDatum(Oid type, Datum d, FmgrInfo *text_out)
{
	char	   *s;
	size_t		len;

	switch (type)
	{
		case BOOLOID:
			return DatumGetBool(d) ? "true" : "false";
		case TEXTOID:
		case VARCHAROID:
			return TextDatumGetCString(d);
		case BPCHAROID:
			/* bpchar::text drops the padding */
			s = TextDatumGetCString(d);
			len = strlen(s);
			while (len > 0 && s[len - 1] == ' ')
				s[--len] = '\0';
			return s;
		default:
			return OutputFunctionCall(text_out, d);
	}
}

/* The raw input values of a row into b->raw. */
static void
ExtractRecord(const Model *model, RowBinding *b, HeapTupleHeader row)
{
	HeapTupleData tuple;

	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	heap_deform_tuple(&tuple, b->desc, b->values, b->nulls);

	for (int i = 0; i < model->n_inputs; i++)
	{
		int			c = b->column[i];
		Oid			type = TupleDescAttr(b->desc, c)->atttypid;
		RawValue   *v = &b->raw[i];

		v->isnull = b->nulls[c];
		if (v->isnull)
			continue;
		if (model->inputs[i].type == INPUT_NUMERIC)
			v->number = NumberFromDatum(type, b->values[c]);
		else
			v->category = CategoryFromDatum(type, b->values[c], &b->text_out[i]);
	}
}

/* Design vector from a row bound by PreprocessBindRow, or raise. */
void
PreprocessRecord(const Model *model, RowBinding *b, HeapTupleHeader row, double *design)
{
	ExtractRecord(model, b, row);
	PreprocessRow(model, b->raw, design);
}

/* The same without raising: false if the model cannot take the row's values. */
bool
PreprocessRecordIfValid(const Model *model, RowBinding *b, HeapTupleHeader row, double *design)
{
	ExtractRecord(model, b, row);
	return PreprocessRowIfValid(model, b->raw, design);
}
