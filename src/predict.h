/*
 * predict.h -- serving a model value outside the prediction functions
 * (predict.c): for ml.drift_scan, which predicts each row it bins.
 */
#ifndef MLSYS_PREDICT_H
#define MLSYS_PREDICT_H

#include "postgres.h"

#include "model.h"
#include "preprocess.h"

typedef struct ServedModel ServedModel;

extern ServedModel *ServeModelValue(const struct varlena *value, const Model **model);
extern bool PredictOutputIfValid(ServedModel *served, const RawValue *raw, double *output);

#endif							/* MLSYS_PREDICT_H */
