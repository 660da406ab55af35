/*
 * ubjson.h -- checks of a stored XGBoost booster (UBJSON) before XGBoost
 * reads it (ubjson.c).
 */
#ifndef MLSYS_UBJSON_H
#define MLSYS_UBJSON_H

#include "postgres.h"

/* What is wrong with the booster, for an error's detail, or NULL. */
extern const char *UbjBoosterProblem(const char *buf, uint32 len);

#endif							/* MLSYS_UBJSON_H */
