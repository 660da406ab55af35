/*
 * train_kmeans.h -- k-means: nearest centres and Lloyd updates.
 */
#ifndef MLSYS_TRAIN_KMEANS_H
#define MLSYS_TRAIN_KMEANS_H

#include "postgres.h"

#include "utils/array.h"

extern int	KMeansNearest(const double *centers, int k, int d, const double *x, double *dist2);
extern double KMeansUpdate(ArrayType *arr, int k, int d, double *centers, double *inertia,
						   double *n, double *mean_var);

#endif							/* MLSYS_TRAIN_KMEANS_H */
