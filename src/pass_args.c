/*
 * pass_args.c -- argument checks shared by the classifier pass aggregates.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "model.h"
#include "pass_args.h"

/* The length of a row's design vector: one-dimensional, not empty, no NULLs. */
int
PassDesignLength(ArrayType *design)
{
	int			d = ArrayGetNItems(ARR_NDIM(design), ARR_DIMS(design));

	if (ARR_NDIM(design) != 1 || d < 1 || ARR_HASNULL(design))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("feature values must be a non-empty one-dimensional array without NULLs"),
				 errhint("Impute missing values with params like '{\"impute\": \"mean\"}', or filter such rows.")));
	if (d > MLSYS_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many design columns: %d, at most %d", d, MLSYS_MAX_FEATURES),
				 errhint("Use fewer features.")));
	return d;
}

/* The class labels, copied into the current memory context. */
text	  **
PassClassLabels(ArrayType *labels, int *n_classes)
{
	Datum	   *elems;
	bool	   *nulls;
	text	  **classes;

	deconstruct_array(labels, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n_classes);
	if (*n_classes < 2 || *n_classes > MLSYS_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of classes must be between 2 and %d, got %d",
						MLSYS_MAX_CLASSES, *n_classes),
				 errhint("Use 2 to 1000 classes.")));
	classes = palloc(sizeof(text *) * *n_classes);
	for (int k = 0; k < *n_classes; k++)
	{
		if (nulls[k])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("class labels must not be NULL"),
					 errhint("Remove the NULL from the class list.")));
		classes[k] = DatumGetTextPCopy(elems[k]);
	}
	return classes;
}

/* Index of a label among the classes (a short linear scan: few classes). */
int
PassClassIndex(text *const *classes, int n_classes, text *label)
{
	size_t		len = VARSIZE_ANY_EXHDR(label);

	for (int k = 0; k < n_classes; k++)
		if (VARSIZE_ANY_EXHDR(classes[k]) == len &&
			memcmp(VARDATA_ANY(classes[k]), VARDATA_ANY(label), len) == 0)
			return k;
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("label \"%s\" is not one of the classes", text_to_cstring(label)),
			 errhint("Pass every class of the training rows in classes.")));
	return -1;					/* not reached */
}
