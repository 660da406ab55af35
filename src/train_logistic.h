/*
 * train_logistic.h -- logistic regression: class probabilities and the
 * Newton solver driven by ml_train.
 */
#ifndef MLSYS_TRAIN_LOGISTIC_H
#define MLSYS_TRAIN_LOGISTIC_H

#include "postgres.h"

#include "utils/array.h"

/*
 * Result of one pass over the training rows at the current parameters:
 * the negative log-likelihood, its gradient and Hessian (upper triangle,
 * column-major, dim x dim where dim = n_sets * width).
 */
typedef struct LogregPass
{
	int64		n;
	double		loss;
	double	   *grad;
	double	   *hess;
} LogregPass;

extern void LogisticProbabilities(const double *coef, int n_sets, int n_classes,
								  int width, const double *design, double *proba);
extern int	LogisticSets(int n_classes, double l2);
extern void LogisticCheckSize(int n_sets, int width);
extern void LogregPassFromArray(ArrayType *arr, int dim, LogregPass *pass);

#endif							/* MLSYS_TRAIN_LOGISTIC_H */
