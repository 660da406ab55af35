/*
 * booster.h -- XGBoost boosters of tree models: loading, checking,
 * prediction, SHAP contributions, feature importance, and XGBoost's errors
 * as SQL errors.
 */
#ifndef MLSYS_BOOSTER_H
#define MLSYS_BOOSTER_H

#include "postgres.h"

#include "mlsys.h"
#include "model.h"

/* A loaded booster; freed with the memory context it was loaded in. */
typedef struct Booster Booster;

/* mlsys.xgboost_threads: XGBoost threads of one backend. */
extern int	booster_threads;

extern pg_noreturn void BoosterError(const char *action);

#define XGB_CHECK(call, action) \
	do { \
		if ((call) != 0) \
			BoosterError(action); \
	} while (0)

extern Booster *BoosterLoad(const Model *model);
extern void BoosterApplyThreads(void *handle, int *applied);
extern int	BoosterOutputs(const Booster *booster);
extern void BoosterPredict(Booster *booster, const double *design, double *out);
extern double *BoosterContributions(Booster *booster, const double *design);
extern double *BoosterImportance(Booster *booster, const char *importance_type);
extern int	BoosterRounds(Booster *booster);

#endif							/* MLSYS_BOOSTER_H */
