/*
 * preprocess.h -- from raw input values to the design vector a model uses.
 *
 * Training and serving both go through PreprocessRow, so a model sees the
 * same numbers at both times: imputation, scaling and level encoding are
 * learned once (by ml_train) and stored in the model's inputs.
 */
#ifndef MLSYS_PREPROCESS_H
#define MLSYS_PREPROCESS_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/array.h"

#include "model.h"

/* One raw input value: a number, a category in text form, or NULL. */
typedef struct RawValue
{
	bool		isnull;
	double		number;
	const char *category;
} RawValue;

/* How the columns of one row type map onto a model's inputs. */
typedef struct RowBinding
{
	uint64		model_tag;		/* the model this binding was made for */
	Oid			type_id;		/* and the row type */
	int32		type_mod;
	TupleDesc	desc;
	int		   *column;			/* [n_inputs] attribute index */
	FmgrInfo   *text_out;		/* [n_inputs] output functions, where needed */
	Datum	   *values;			/* [natts] scratch for deforming */
	bool	   *nulls;
	RawValue   *raw;			/* [n_inputs] */
} RowBinding;

extern bool ColumnTypeIsNumeric(Oid type);
extern void PreprocessRow(const Model *model, const RawValue *raw, double *design);
extern bool PreprocessRowIfValid(const Model *model, const RawValue *raw, double *design);
extern void PreprocessArray(const Model *model, const char *model_name, ArrayType *arr,
							RawValue *raw, double *design);
extern RowBinding *PreprocessBindRow(const Model *model, uint64 model_tag,
									 HeapTupleHeader row, RowBinding *previous,
									 MemoryContext cxt);
extern void PreprocessRecord(const Model *model, RowBinding *binding,
							 HeapTupleHeader row, double *design);
extern bool PreprocessRecordIfValid(const Model *model, RowBinding *binding,
									HeapTupleHeader row, double *design);

#endif							/* MLSYS_PREPROCESS_H */
