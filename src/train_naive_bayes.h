/*
 * train_naive_bayes.h -- Gaussian naive Bayes: probabilities and fitting.
 */
#ifndef MLSYS_TRAIN_NAIVE_BAYES_H
#define MLSYS_TRAIN_NAIVE_BAYES_H

#include "postgres.h"

#include "utils/array.h"

#include "model.h"

extern void NaiveBayesProbabilities(const Model *model, const double *design, double *proba);
extern void NaiveBayesFromPass(Model *model, ArrayType *arr, double var_smoothing);

#endif							/* MLSYS_TRAIN_NAIVE_BAYES_H */
