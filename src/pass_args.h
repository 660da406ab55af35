/*
 * pass_args.h -- argument checks shared by the classifier pass aggregates
 * (ml_logreg_pass, ml_naive_bayes_pass).
 */
#ifndef MLSYS_PASS_ARGS_H
#define MLSYS_PASS_ARGS_H

#include "postgres.h"

#include "utils/array.h"

extern int	PassDesignLength(ArrayType *design);
extern text **PassClassLabels(ArrayType *labels, int *n_classes);
extern int	PassClassIndex(text *const *classes, int n_classes, text *label);

#endif							/* MLSYS_PASS_ARGS_H */
