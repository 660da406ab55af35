/*
 * predict.c -- ml_predict and the per-backend cache of deserialised models.
 *
 * Two levels keep a scan from touching the registry per row:
 *  - per call site (fn_extra): the model resolved for a name is pinned for
 *    as long as the statement's snapshot is the same, so a statement never
 *    mixes two versions, and a deploy committed meanwhile is seen by the
 *    next statement (or the next snapshot, inside a function);
 *  - per backend: deserialised models keyed by (registry, model id,
 *    version). Versions are immutable, so entries never go stale; a new
 *    deployment is a new key. Resolving a name is one indexed lookup.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "model.h"
#include "registry.h"

/* The backend cache is emptied when it reaches this many models. */
#define MODEL_CACHE_MAX_ENTRIES 64

typedef struct CachedModel
{
	ModelRef	key;
	MemoryContext cxt;			/* holds model */
	Model	   *model;
} CachedModel;

static HTAB *model_cache = NULL;

/* What one ml_predict call site remembers between rows (in fn_mcxt). */
typedef struct PredictCallCache
{
	/* ml_predict(text, ...): the name and when it was resolved */
	char	   *name;
	TransactionId xmin;
	TransactionId xmax;
	CommandId	curcid;
	uint64		completion;
	/* ml_predict(mlmodel, ...): the value it was decoded from */
	struct varlena *value;
	MemoryContext value_cxt;
	Model	   *model;
} PredictCallCache;

PG_FUNCTION_INFO_V1(ml_predict_by_name);
PG_FUNCTION_INFO_V1(ml_predict_model);

static void
ModelCacheReset(void)
{
	HASHCTL		ctl = {0};
	HASH_SEQ_STATUS seq;
	CachedModel *entry;

	if (model_cache != NULL)
	{
		hash_seq_init(&seq, model_cache);
		while ((entry = hash_seq_search(&seq)) != NULL)
			MemoryContextDelete(entry->cxt);
		hash_destroy(model_cache);
	}
	ctl.keysize = sizeof(ModelRef);
	ctl.entrysize = sizeof(CachedModel);
	ctl.hcxt = CacheMemoryContext;
	model_cache = hash_create("mlsys model cache", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* The deserialised model of a resolved version, from cache or registry. */
static Model *
ModelCacheGet(const char *name, const ModelRef *ref)
{
	ModelRef	key;
	CachedModel *entry;
	MemoryContext cxt;
	MemoryContext old;
	Model	   *model;
	bool		found;

	memset(&key, 0, sizeof(key));	/* the key is hashed as bytes */
	key.registry = ref->registry;
	key.model_id = ref->model_id;
	key.version = ref->version;

	if (model_cache == NULL)
		ModelCacheReset();
	entry = hash_search(model_cache, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->model;

	/*
	 * Decode in a context of its own that only joins the cache once the
	 * model is complete: an error half-way leaves nothing behind.
	 */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "mlsys cached model",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	model = ModelDeserialize(RegistryFetchModel(name, ref));
	MemoryContextSwitchTo(old);

	if (hash_get_num_entries(model_cache) >= MODEL_CACHE_MAX_ENTRIES)
		ModelCacheReset();
	MemoryContextSetParent(cxt, CacheMemoryContext);
	entry = hash_search(model_cache, &key, HASH_ENTER, &found);
	entry->cxt = cxt;
	entry->model = model;
	return model;
}

static PredictCallCache *
GetCallCache(FunctionCallInfo fcinfo)
{
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
														  sizeof(PredictCallCache));
	return (PredictCallCache *) fcinfo->flinfo->fn_extra;
}

/*
 * Check a feature array against the model and return its values. The
 * array must be a one-dimensional float8[] of n_features finite values.
 */
static const double *
PredictFeatures(const Model *model, ArrayType *arr, const char *model_name)
{
	int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	const double *x = (const double *) ARR_DATA_PTR(arr);

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("feature array must be one-dimensional")));
	if (n != model->n_features)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 model_name
				 ? errmsg("model \"%s\" expects %d features, got %d",
						  model_name, model->n_features, n)
				 : errmsg("model expects %d features, got %d", model->n_features, n),
				 errhint("Pass the features in the order of \"features\" in ml_model_info().")));
	if (ARR_ELEMTYPE(arr) != FLOAT8OID)
		elog(ERROR, "feature array must be float8[]");
	if (ARR_HASNULL(arr))
	{
		bits8	   *nulls = ARR_NULLBITMAP(arr);

		for (int j = 0; j < n; j++)
			if (!(nulls[j / 8] & (1 << (j % 8))))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("feature \"%s\" is NULL", model->features[j]),
						 errhint("This model has no imputation: replace missing values with coalesce(), or filter such rows.")));
	}
	for (int j = 0; j < n; j++)
		if (!isfinite(x[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("feature \"%s\" must be finite, got %g", model->features[j], x[j]),
					 errhint("Filter out rows with NaN or infinite values.")));
	return x;
}

/* Has the statement's snapshot changed since the call site resolved its name? */
static bool
SnapshotChanged(PredictCallCache *cc, bool remember)
{
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;
	bool		changed;

	if (snap == NULL)
		return true;
	changed = snap->xmin != cc->xmin || snap->xmax != cc->xmax ||
		snap->curcid != cc->curcid || snap->snapXactCompletionCount != cc->completion;
	if (remember)
	{
		cc->xmin = snap->xmin;
		cc->xmax = snap->xmax;
		cc->curcid = snap->curcid;
		cc->completion = snap->snapXactCompletionCount;
	}
	return changed;
}

/* ml_predict(model_name text, features float8[]) -> float8, deployed version. */
Datum
ml_predict_by_name(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(name);
	PredictCallCache *cc = GetCallCache(fcinfo);

	if (cc->model == NULL || SnapshotChanged(cc, false) ||
		strlen(cc->name) != len || memcmp(VARDATA_ANY(name), cc->name, len) != 0)
	{
		ModelRef	ref;

		cc->model = NULL;
		if (cc->name != NULL)
			pfree(cc->name);
		cc->name = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, text_to_cstring(name));
		RegistryResolve(cc->name, 0, &ref);
		cc->model = ModelCacheGet(cc->name, &ref);
		SnapshotChanged(cc, true);
	}
	PG_RETURN_FLOAT8(ModelPredict(cc->model,
								  PredictFeatures(cc->model, PG_GETARG_ARRAYTYPE_P(1), cc->name)));
}

/* ml_predict(model mlmodel, features float8[]) -> float8. */
Datum
ml_predict_model(PG_FUNCTION_ARGS)
{
	struct varlena *value = (struct varlena *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	size_t		len = VARSIZE_ANY_EXHDR(value);
	PredictCallCache *cc = GetCallCache(fcinfo);

	/* Decode once per distinct value; rows usually share one constant. */
	if (cc->model == NULL || len != VARSIZE_ANY_EXHDR(cc->value) ||
		memcmp(VARDATA_ANY(value), VARDATA_ANY(cc->value), len) != 0)
	{
		MemoryContext old;

		if (cc->value_cxt == NULL)
			cc->value_cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												  "mlsys ml_predict model",
												  ALLOCSET_SMALL_SIZES);
		cc->model = NULL;
		MemoryContextReset(cc->value_cxt);
		old = MemoryContextSwitchTo(cc->value_cxt);
		cc->value = palloc(VARHDRSZ + len);
		SET_VARSIZE(cc->value, VARHDRSZ + len);
		memcpy(VARDATA(cc->value), VARDATA_ANY(value), len);
		cc->model = ModelDeserialize(cc->value);
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_FLOAT8(ModelPredict(cc->model,
								  PredictFeatures(cc->model, PG_GETARG_ARRAYTYPE_P(1), NULL)));
}
