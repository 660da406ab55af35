/*
 * registry.h -- the model registry in schema ml: lookups and writes.
 */
#ifndef MLSYS_REGISTRY_H
#define MLSYS_REGISTRY_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * Identifies one immutable model version. The registry table's OID is part
 * of it because model ids start again after DROP/CREATE EXTENSION.
 */
typedef struct ModelRef
{
	Oid			registry;
	int64		model_id;
	int32		version;
	/*
	 * The version row's xmin: a version number freed by an aborted
	 * (sub)transaction is reused, and the new row is a different model.
	 */
	TransactionId row_xmin;
} ModelRef;

/* What ml_train and ml_register_model record for a new version. */
typedef struct RegistryVersion
{
	const char *model_name;
	const char *algorithm;
	Jsonb	   *params;
	struct varlena *model;
	const char *source;			/* NULL if unknown */
	int64		n_train;
	int64		n_test;
	Jsonb	   *metrics;
	Jsonb	   *info;			/* timings and iterations, or NULL */
	Jsonb	   *trials;			/* hyper-parameter search trials (array), or NULL */
	/* "deploy": "if_better": the holdout metric that must beat the deployed one's */
	const char *deploy_metric;	/* NULL: deploy only a first version */
	bool		deploy_higher_is_better;
} RegistryVersion;

extern void RegistryCheckName(const char *name);
extern void RegistryResolve(const char *name, int32 version, ModelRef *ref);
extern struct varlena *RegistryFetchModel(const char *name, const ModelRef *ref);
extern bool RegistryResolveSplit(const char *name, char **alias, double *percent, int64 *model_id);
extern bool RegistryResolveShadow(const char *name, int32 *version);
extern int32 RegistryAddVersion(const RegistryVersion *v, bool *deployed);

#endif							/* MLSYS_REGISTRY_H */
