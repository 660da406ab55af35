/*
 * prediction_log.h -- sampled logging of served predictions (ml.prediction_log).
 */
#ifndef MLSYS_PREDICTION_LOG_H
#define MLSYS_PREDICTION_LOG_H

#include "postgres.h"

extern bool PredictionLogSampled(void);
extern void PredictionLogAdd(int64 model_id, int32 version, bool shadow, const double *design,
							 int n_design, double prediction, const char *class_label,
							 const char *key);

#endif							/* MLSYS_PREDICTION_LOG_H */
