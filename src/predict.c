/*
 * predict.c -- ml_predict, ml_predict_proba, ml_predict_class, ml_transform
 * and the per-backend cache of deserialised models.
 *
 * Each function takes a model (by registry name or as an mlmodel value)
 * and the features (a float8[] in input order, or a row whose columns are
 * matched to the inputs by name). Two levels keep a scan from touching the
 * registry per row:
 *  - per call site (fn_extra): the model resolved for a name is pinned for
 *    as long as the statement's snapshot is the same, so a statement never
 *    mixes two versions, and a deploy committed meanwhile is seen by the
 *    next statement (or the next snapshot, inside a function);
 *  - per backend: deserialised models keyed by (registry, model id,
 *    version, xmin of the version's row). Versions are immutable, so
 *    entries never go stale; a new deployment is a new key, and so is a
 *    version number reused after an aborted transaction. Resolving a name is one indexed lookup.
 *    When the cache is full it is emptied at the end of the transaction,
 *    never while a statement may still hold one of its models.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "booster.h"
#include "jsonopt.h"
#include "model.h"
#include "predict.h"
#include "prediction_log.h"
#include "preprocess.h"
#include "registry.h"
#include "train_kmeans.h"
#include "train_logistic.h"
#include "train_naive_bayes.h"

/* The backend cache is emptied at transaction end once it holds this many. */
#define MODEL_CACHE_MAX_ENTRIES 64

/* A model ready to serve, with scratch space and derived data. */
struct ServedModel
{
	uint64		tag;			/* unique per decoded model in this backend */
	int64		model_id;		/* from the registry (0: a model value) */
	int32		version;
	Model	   *model;
	RawValue   *raw;			/* [n_inputs] scratch */
	double	   *design;			/* [n_design] */
	double	   *proba;			/* [n_classes] */
	double	   *class_number;	/* [n_classes] labels as numbers, or NULL */
	Booster    *booster;		/* tree models: loaded once, freed with the model */
	MemoryContext cxt;			/* where all of this lives */
	struct EntityPlan *entity;	/* serving by entity: the features query, or NULL */
};

/*
 * Serving by entity: the prepared query that reads a model's features of one
 * entity from the latest rows of its feature tables (see EntityFeatures).
 */
typedef struct EntityPlan
{
	Oid			entity_type;	/* of the query's parameter */
	SPIPlanPtr	plan;
	TupleDesc	desc;			/* blessed row type of its result, after a first run */
} EntityPlan;

typedef struct CachedModel
{
	ModelRef	key;
	MemoryContext cxt;			/* holds everything below */
	ServedModel served;
} CachedModel;

static HTAB *model_cache = NULL;
static bool model_cache_full = false;

/*
 * What a registry lookup depends on: the caller and the snapshot. While
 * no transaction has ended (the completion count), the snapshot's bounds
 * and command are the same and the user is too, the registry looks the
 * same, so an earlier lookup still holds.
 */
typedef struct LookupStamp
{
	bool		valid;			/* false: no active snapshot, never equal */
	Oid			userid;
	TransactionId xmin;
	TransactionId xmax;
	CommandId	curcid;
	uint64		completion;
} LookupStamp;

/* A split: the alias's version and its share of the keys (see ml_split). */
typedef struct SplitTarget
{
	ServedModel *served;		/* NULL: every key gets the deployed version */
	double		percent;
	uint64		seed;			/* the model id: each model splits keys its own way */
} SplitTarget;

/*
 * Backend-wide: what a model address resolved to, and under which stamp,
 * so that statements run with no transaction ending in between (prepared
 * single-row predictions, typically) skip the registry lookup. Emptied with
 * the model cache, whose entries it points to.
 */
#define RESOLVED_KEY_SIZE (2 * NAMEDATALEN)
typedef struct ResolvedName
{
	char		address[RESOLVED_KEY_SIZE];
	LookupStamp stamp;
	ServedModel *served;
	bool		split_known;	/* split looked up (for calls with a key) */
	SplitTarget split;
} ResolvedName;

static HTAB *resolved_names = NULL;

/* What one call site remembers between rows (in fn_mcxt). */
typedef struct CallCache
{
	bool		by_name;		/* model argument is text, not mlmodel */
	bool		by_row;			/* features argument is a record */
	ServedModel *served;
	/* by name: the name, and the stamp it was resolved under */
	char	   *name;
	LookupStamp stamp;
	/* by value: the bytes it was decoded from, and where they were last seen */
	struct varlena *value;
	const struct varlena *value_seen;
	MemoryContext value_cxt;
	ServedModel value_served;
	/* by row */
	RowBinding *binding;
	/* by name with a key: the traffic split (ml_split), if any */
	bool		with_key;
	SplitTarget split;
	RowBinding *split_binding;
	FmgrInfo   *key_hash;		/* the key type's extended hash function */
	FmgrInfo   *key_out;		/* and its output function, for the log */
	bool		by_entity;		/* serving by entity: argument 1 is the log's key */
	/* the raw input values of the current row (for a shadow) */
	const RawValue *raw;
	/* by name: the shadow (ml_shadow), looked up once per resolution */
	bool		shadow_known;
	ServedModel *shadow;
} CallCache;

PG_FUNCTION_INFO_V1(ml_predict);
PG_FUNCTION_INFO_V1(ml_predict_proba);
PG_FUNCTION_INFO_V1(ml_predict_class);
PG_FUNCTION_INFO_V1(ml_transform);
PG_FUNCTION_INFO_V1(ml_explain);
PG_FUNCTION_INFO_V1(ml_predict_entity);
PG_FUNCTION_INFO_V1(ml_predict_class_entity);
PG_FUNCTION_INFO_V1(ml_predict_proba_entity);

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
	model_cache_full = false;

	if (resolved_names != NULL)
		hash_destroy(resolved_names);
	ctl.keysize = RESOLVED_KEY_SIZE;
	ctl.entrysize = sizeof(ResolvedName);
	resolved_names = hash_create("mlsys resolved model names", 16, &ctl,
								 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

static void
ModelCacheXactCallback(XactEvent event, void *arg)
{
	if (model_cache_full &&
		(event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		 event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT))
		ModelCacheReset();
}

/* Decode a model and derive what serving needs, in the current context. */
static void
ServeModel(const struct varlena *value, ServedModel *served)
{
	static uint64 last_tag = 0;
	Model	   *model = ModelDeserialize(value);

	served->tag = ++last_tag;
	served->model_id = 0;
	served->version = 0;
	served->model = model;
	served->raw = palloc(sizeof(RawValue) * model->n_inputs);
	served->design = palloc(sizeof(double) * model->n_design);
	served->proba = palloc(sizeof(double) * Max(model->n_classes, 1));
	served->class_number = NULL;
	served->booster = model->kind == MODEL_KIND_XGBOOST ? BoosterLoad(model) : NULL;
	served->cxt = CurrentMemoryContext;
	served->entity = NULL;
	if (ModelIsClassifier(model))
	{
		served->class_number = palloc(sizeof(double) * model->n_classes);
		for (int k = 0; k < model->n_classes; k++)
		{
			const char *label = model->classes[k];
			char	   *end;

			if (strcmp(label, "true") == 0 || strcmp(label, "false") == 0)
				served->class_number[k] = label[0] == 't' ? 1.0 : 0.0;
			else
			{
				served->class_number[k] = strtod(label, &end);
				if (*end != '\0' || end == label || !isfinite(served->class_number[k]))
				{
					pfree(served->class_number);
					served->class_number = NULL;
					break;
				}
			}
		}
	}
}

/* The served form of a resolved version, from the cache or the registry. */
static ServedModel *
ModelCacheGet(const char *name, const ModelRef *ref)
{
	static bool callback_registered = false;
	ModelRef	key;
	CachedModel *entry;
	MemoryContext cxt;
	MemoryContext old;
	ServedModel served;
	bool		found;

	memset(&key, 0, sizeof(key));	/* the key is hashed as bytes */
	key.registry = ref->registry;
	key.model_id = ref->model_id;
	key.version = ref->version;
	key.row_xmin = ref->row_xmin;

	if (model_cache == NULL)
		ModelCacheReset();
	if (!callback_registered)
	{
		RegisterXactCallback(ModelCacheXactCallback, NULL);
		callback_registered = true;
	}
	entry = hash_search(model_cache, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return &entry->served;

	/*
	 * Decode in a context of its own that only joins the cache once the
	 * model is complete: an error half-way leaves nothing behind.
	 */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "mlsys cached model",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	ServeModel(RegistryFetchModel(name, ref), &served);
	served.model_id = ref->model_id;
	served.version = ref->version;
	MemoryContextSwitchTo(old);

	MemoryContextSetParent(cxt, CacheMemoryContext);
	entry = hash_search(model_cache, &key, HASH_ENTER, &found);
	entry->cxt = cxt;
	entry->served = served;
	if (hash_get_num_entries(model_cache) >= MODEL_CACHE_MAX_ENTRIES)
		model_cache_full = true;
	return &entry->served;
}

static LookupStamp
CurrentStamp(void)
{
	LookupStamp stamp = {0};
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;

	if (snap != NULL)
	{
		stamp.valid = true;
		stamp.userid = GetUserId();
		stamp.xmin = snap->xmin;
		stamp.xmax = snap->xmax;
		stamp.curcid = snap->curcid;
		stamp.completion = snap->snapXactCompletionCount;
	}
	return stamp;
}

static bool
StampsEqual(const LookupStamp *a, const LookupStamp *b)
{
	return a->valid && b->valid && a->userid == b->userid && a->xmin == b->xmin &&
		a->xmax == b->xmax && a->curcid == b->curcid && a->completion == b->completion;
}

/*
 * The split of a model addressed by its bare name: the alias's version and
 * its share of the keys. An address with "@" names one version: no split.
 */
static SplitTarget
ResolveSplit(const char *name)
{
	SplitTarget split = {0};
	char	   *alias;
	int64		model_id;

	if (strchr(name, '@') == NULL &&
		RegistryResolveSplit(name, &alias, &split.percent, &model_id))
	{
		char	   *address = psprintf("%s@%s", name, alias);
		ModelRef	ref;

		RegistryResolve(address, 0, &ref);
		split.served = ModelCacheGet(address, &ref);
		split.seed = (uint64) model_id;
	}
	return split;
}

/*
 * The model (and, with a key, the split) a call site's name stands for
 * under the current stamp: from the backend-wide table when nothing it
 * depends on changed, else from the registry.
 */
static void
ResolveName(CallCache *cc, const LookupStamp *stamp)
{
	ResolvedName *entry = NULL;
	bool		found = false;

	if (model_cache == NULL)
		ModelCacheReset();
	if (stamp->valid && strlen(cc->name) < RESOLVED_KEY_SIZE)
		entry = hash_search(resolved_names, cc->name, HASH_ENTER, &found);
	if (!found || !StampsEqual(&entry->stamp, stamp))
	{
		ModelRef	ref;
		ServedModel *served;

		if (entry != NULL)
			entry->stamp.valid = false; /* until complete: an error leaves it stale */
		RegistryResolve(cc->name, 0, &ref);
		served = ModelCacheGet(cc->name, &ref);
		if (entry == NULL)
		{
			cc->served = served;
			cc->split = cc->with_key ? ResolveSplit(cc->name) : (SplitTarget) {0};
			return;
		}
		entry->served = served;
		entry->split_known = false;
		entry->split = (SplitTarget) {0};
		entry->stamp = *stamp;
	}
	if (cc->with_key && !entry->split_known)
	{
		entry->stamp.valid = false;
		entry->split = ResolveSplit(cc->name);
		entry->split_known = true;
		entry->stamp = *stamp;
	}
	cc->served = entry->served;
	cc->split = cc->with_key ? entry->split : (SplitTarget) {0};
}

/* The extended hash function of the key's type, or an error. */
static FmgrInfo *
KeyHashFunction(FunctionCallInfo fcinfo)
{
	Oid			key_type = get_fn_expr_argtype(fcinfo->flinfo, 2);
	TypeCacheEntry *typentry = lookup_type_cache(key_type, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
	FmgrInfo   *finfo;

	if (!OidIsValid(typentry->hash_extended_proc))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("a key of type %s cannot be hashed", format_type_be(key_type)),
				 errhint("Pass a key of a type with a hash function, such as the row's id or a text.")));
	finfo = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
	fmgr_info_copy(finfo, &typentry->hash_extended_proc_finfo, fcinfo->flinfo->fn_mcxt);
	return finfo;
}

/* Does the split send this key to the alias's version? */
static bool
KeyGoesToSplit(FunctionCallInfo fcinfo, CallCache *cc)
{
	Oid			collation = PG_GET_COLLATION();
	uint64		hash;

	if (!OidIsValid(collation))
		collation = DEFAULT_COLLATION_OID;
	hash = DatumGetUInt64(FunctionCall2Coll(cc->key_hash, collation, PG_GETARG_DATUM(2),
											UInt64GetDatum(cc->split.seed)));
	/* buckets of 1/100 percent */
	return (double) (hash % 10000) < cc->split.percent * 100;
}

/* The model of argument 0: a registry name (deployed version) or a value. */
static ServedModel *
ResolveModel(FunctionCallInfo fcinfo, CallCache *cc)
{
	if (cc->by_name)
	{
		text	   *name = PG_GETARG_TEXT_PP(0);
		size_t		len = VARSIZE_ANY_EXHDR(name);
		LookupStamp stamp = CurrentStamp();

		if (cc->served == NULL || !StampsEqual(&cc->stamp, &stamp) ||
			strlen(cc->name) != len || memcmp(VARDATA_ANY(name), cc->name, len) != 0)
		{
			cc->served = NULL;
			cc->stamp.valid = false;
			cc->shadow_known = false;
			if (cc->name != NULL)
				pfree(cc->name);
			cc->name = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, text_to_cstring(name));
			ResolveName(cc, &stamp);
			cc->stamp = stamp;
		}
	}
	else
	{
		struct varlena *value = (struct varlena *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
		size_t		len = VARSIZE_ANY_EXHDR(value);

		/*
		 * Decode once per distinct value; rows usually share one constant
		 * (a parameter, say), at one address: there the header, whose
		 * checksum covers the contents, stands for the whole value. Else
		 * compare every byte.
		 */
		if (cc->served != NULL && value == cc->value_seen && len == VARSIZE_ANY_EXHDR(cc->value) &&
			memcmp(VARDATA_ANY(value), VARDATA_ANY(cc->value), Min(len, MODEL_HEADER_BYTES)) == 0)
			return cc->served;
		cc->value_seen = NULL;
		if (cc->served == NULL || len != VARSIZE_ANY_EXHDR(cc->value) ||
			memcmp(VARDATA_ANY(value), VARDATA_ANY(cc->value), len) != 0)
		{
			MemoryContext old;

			if (cc->value_cxt == NULL)
				cc->value_cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
													  "mlsys call-site model",
													  ALLOCSET_SMALL_SIZES);
			cc->served = NULL;
			MemoryContextReset(cc->value_cxt);
			old = MemoryContextSwitchTo(cc->value_cxt);
			cc->value = palloc(VARHDRSZ + len);
			SET_VARSIZE(cc->value, VARHDRSZ + len);
			memcpy(VARDATA(cc->value), VARDATA_ANY(value), len);
			ServeModel(cc->value, &cc->value_served);
			MemoryContextSwitchTo(old);
			cc->served = &cc->value_served;
		}
		cc->value_seen = value;
	}
	return cc->served;
}

/* The call-site cache, made at the first call. */
static CallCache *
GetCallCache(FunctionCallInfo fcinfo)
{
	CallCache  *cc = (CallCache *) fcinfo->flinfo->fn_extra;

	if (cc == NULL)
	{
		cc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CallCache));
		cc->by_name = get_fn_expr_argtype(fcinfo->flinfo, 0) == TEXTOID;
		cc->by_row = get_fn_expr_argtype(fcinfo->flinfo, 1) != FLOAT8ARRAYOID;
		cc->with_key = PG_NARGS() == 3;
		if (cc->with_key)
		{
			Oid			out_func;
			bool		varlena;

			cc->key_hash = KeyHashFunction(fcinfo);
			getTypeOutputInfo(get_fn_expr_argtype(fcinfo->flinfo, 2), &out_func, &varlena);
			cc->key_out = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
			fmgr_info_cxt(out_func, cc->key_out, fcinfo->flinfo->fn_mcxt);
		}
		fcinfo->flinfo->fn_extra = cc;
	}
	return cc;
}

/*
 * Common start of every function here: the call-site cache, the model
 * (with a key: the one the split chooses), and its design vector for
 * argument 1. NULL when the model or the features are NULL (the functions
 * with a key are not strict: a NULL key means the deployed version), and,
 * with lenient, also for a row the model cannot take instead of an error.
 */
static ServedModel *
PrepareCallWith(FunctionCallInfo fcinfo, bool lenient)
{
	CallCache  *cc;
	ServedModel *served;
	RowBinding **binding;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return NULL;
	cc = GetCallCache(fcinfo);
	served = ResolveModel(fcinfo, cc);
	binding = &cc->binding;
	if (cc->with_key && cc->split.served != NULL && !PG_ARGISNULL(2) && KeyGoesToSplit(fcinfo, cc))
	{
		served = cc->split.served;
		binding = &cc->split_binding;
	}

	if (cc->by_row)
	{
		HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);

		*binding = PreprocessBindRow(served->model, served->tag, row, *binding,
									 fcinfo->flinfo->fn_mcxt);
		cc->raw = (*binding)->raw;
		if (!lenient)
			PreprocessRecord(served->model, *binding, row, served->design);
		else if (!PreprocessRecordIfValid(served->model, *binding, row, served->design))
			return NULL;
	}
	else
	{
		PreprocessArray(served->model, cc->by_name ? cc->name : NULL,
						PG_GETARG_ARRAYTYPE_P(1), served->raw, served->design);
		cc->raw = served->raw;
	}
	return served;
}

static ServedModel *
PrepareCall(FunctionCallInfo fcinfo)
{
	return PrepareCallWith(fcinfo, false);
}

static void
FreeEntityPlan(void *arg)
{
	EntityPlan *ep = (EntityPlan *) arg;

	if (ep->plan != NULL)
		SPI_freeplan(ep->plan);
	ep->plan = NULL;
}

/*
 * The query of a model's features of one entity ($1): its inputs are named
 * <feature table>__<feature> (the columns of ml_training_set), and each
 * feature table gives the features of its latest row for the entity, read
 * through the view ml_features.<name>_latest, so that a new version of a
 * feature table replaces the plan's table (plan invalidation) by itself.
 * Run inside SPI.
 */
static EntityPlan *
BuildEntityPlan(ServedModel *served, Oid entity_type)
{
	const Model *model = served->model;
	StringInfoData sel,
				joins;
	char	  **tables = palloc(sizeof(char *) * model->n_inputs);
	int			n_tables = 0;
	EntityPlan *ep;
	MemoryContextCallback *cb;

	initStringInfo(&sel);
	initStringInfo(&joins);
	for (int i = 0; i < model->n_inputs; i++)
	{
		const char *input = model->inputs[i].name;
		const char *sep = strstr(input, "__");
		char	   *table;
		int			t;

		if (sep == NULL || sep == input || sep[2] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("input \"%s\" of the model is not a feature of a feature table", input),
					 errhint("Serving by entity needs a model trained on ml_training_set(), whose columns are named <feature table>__<feature>.")));
		table = pnstrdup(input, sep - input);
		for (t = 0; t < n_tables && strcmp(tables[t], table) != 0; t++)
			;
		if (t == n_tables)
		{
			Datum		arg = CStringGetTextDatum(table);
			bool		isnull;
			char	   *entity_col,
					   *time_col,
					   *col_type;

			if (SPI_execute_with_args("SELECT entity_column, event_time_column, entity_type FROM ml.feature_tables"
									  " WHERE name = $1 ORDER BY version DESC LIMIT 1",
									  1, (Oid[]) {TEXTOID}, &arg, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "feature catalog lookup failed");
			if (SPI_processed == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("feature table \"%s\" of model input \"%s\" does not exist", table, input),
						 errhint("ml.feature_catalog lists the feature tables.")));
			entity_col = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			time_col = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
			col_type = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
			tables[n_tables++] = table;
			appendStringInfo(&joins,
							 " LEFT JOIN LATERAL (SELECT * FROM ml_features.%s f WHERE f.%s = $1::%s"
							 " ORDER BY f.%s DESC LIMIT 1) AS f%d ON true",
							 quote_identifier(psprintf("%s_latest", table)), quote_identifier(entity_col),
							 col_type, quote_identifier(time_col), t);
		}
		appendStringInfo(&sel, "%sf%d.%s AS %s", i > 0 ? ", " : "", t, quote_identifier(sep + 2),
						 quote_identifier(input));
	}

	ep = MemoryContextAllocZero(served->cxt, sizeof(EntityPlan));
	ep->entity_type = entity_type;
	ep->plan = SPI_prepare(psprintf("SELECT %s FROM (SELECT) AS d%s", sel.data, joins.data), 1, &entity_type);
	if (ep->plan == NULL)
		elog(ERROR, "could not prepare the features query: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(ep->plan);
	cb = MemoryContextAllocZero(served->cxt, sizeof(MemoryContextCallback));
	cb->func = FreeEntityPlan;
	cb->arg = ep;
	MemoryContextRegisterResetCallback(served->cxt, cb);
	return ep;
}

/*
 * The model's features of the entity in argument 1 as a row, in the current
 * memory context: one indexed look-up per feature table; NULLs for a
 * feature table without a row for the entity.
 */
static HeapTupleHeader
EntityFeatures(FunctionCallInfo fcinfo, ServedModel *served)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			entity_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
	Datum		entity = PG_GETARG_DATUM(1);
	HeapTupleHeader row;

	SPI_connect();
	if (served->entity == NULL || served->entity->entity_type != entity_type)
		served->entity = BuildEntityPlan(served, entity_type);
	if (SPI_execute_plan(served->entity->plan, &entity, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "the features query did not return one row");
	if (served->entity->desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(served->cxt);

		served->entity->desc = BlessTupleDesc(CreateTupleDescCopy(SPI_tuptable->tupdesc));
		MemoryContextSwitchTo(old);
	}
	MemoryContextSwitchTo(caller);
	row = DatumGetHeapTupleHeader(heap_copy_tuple_as_datum(SPI_tuptable->vals[0], served->entity->desc));
	SPI_finish();
	return row;
}

/*
 * Common start of the functions serving by entity: the model (by name) and
 * its design vector from the entity's features.
 */
static ServedModel *
PrepareEntityCall(FunctionCallInfo fcinfo)
{
	CallCache  *cc;
	ServedModel *served;
	HeapTupleHeader row;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return NULL;
	cc = GetCallCache(fcinfo);
	if (!cc->by_entity)
	{
		Oid			out_func;
		bool		varlena;

		getTypeOutputInfo(get_fn_expr_argtype(fcinfo->flinfo, 1), &out_func, &varlena);
		cc->key_out = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		fmgr_info_cxt(out_func, cc->key_out, fcinfo->flinfo->fn_mcxt);
		cc->by_entity = true;
	}
	served = ResolveModel(fcinfo, cc);
	row = EntityFeatures(fcinfo, served);
	cc->binding = PreprocessBindRow(served->model, served->tag, row, cc->binding, fcinfo->flinfo->fn_mcxt);
	PreprocessRecord(served->model, cc->binding, row, served->design);
	cc->raw = cc->binding->raw;
	return served;
}

/* One parameter set's linear value: intercept + coefficients . design. */
static double
LinearValue(const Model *model, const double *coef, const double *design)
{
	double		sum = coef[0];

	for (int j = 0; j < model->n_design; j++)
		sum += coef[1 + j] * design[j];
	return sum;
}

/* Index of the most probable class (the first one on ties). */
static int
PredictClass(ServedModel *served)
{
	const Model *model = served->model;
	int			best = 0;

	if (model->kind == MODEL_KIND_NAIVE_BAYES)
		NaiveBayesProbabilities(model, served->design, served->proba);
	else if (model->kind == MODEL_KIND_XGBOOST)
	{
		/* a binary booster gives the second class's probability */
		BoosterPredict(served->booster, served->design, served->proba + (model->n_classes == 2));
		if (model->n_classes == 2)
			served->proba[0] = 1 - served->proba[1];
	}
	else
		LogisticProbabilities(model->coef, model->n_sets, model->n_classes, 1 + model->n_design,
							  served->design, served->proba);
	for (int k = 1; k < model->n_classes; k++)
		if (served->proba[k] > served->proba[best])
			best = k;
	return best;
}

/* The value of a regression model, or the cluster of a k-means model. */
static double
PredictValue(ServedModel *served)
{
	const Model *model = served->model;
	double		value;

	if (model->kind == MODEL_KIND_KMEANS)
		return KMeansNearest(model->coef, model->n_sets, model->n_design, served->design, &value);
	if (model->kind == MODEL_KIND_XGBOOST)
	{
		BoosterPredict(served->booster, served->design, &value);
		return value;
	}
	return LinearValue(model, model->coef, served->design);
}

/*
 * What the log records of a prediction: the value, or for a classifier the
 * probability of the predicted class and the class.
 */
static double
Outcome(ServedModel *served, const char **class_label)
{
	int			best;

	*class_label = NULL;
	if (!ModelIsClassifier(served->model))
		return PredictValue(served);
	best = PredictClass(served);
	*class_label = served->model->classes[best];
	return served->proba[best];
}

/*
 * The shadow of a call by bare name (ml_shadow), while it takes the same
 * inputs as the model served; looked up when the name is resolved again.
 */
static ServedModel *
ShadowModel(CallCache *cc, ServedModel *served)
{
	int32		version;

	if (!cc->shadow_known)
	{
		cc->shadow = NULL;
		if (strchr(cc->name, '@') == NULL && RegistryResolveShadow(cc->name, &version))
		{
			char	   *address = psprintf("%s@%d", cc->name, version);
			ModelRef	ref;

			RegistryResolve(address, 0, &ref);
			cc->shadow = ModelCacheGet(address, &ref);
		}
		cc->shadow_known = true;
	}
	if (cc->shadow == NULL || cc->shadow == served ||
		!ModelsTakeSameInputs(cc->shadow->model, served->model))
		return NULL;
	return cc->shadow;
}

/*
 * Log a sampled prediction by name (mlsys.prediction_log_rate) and, with a
 * shadow, the shadow's prediction of the same inputs. A row the shadow
 * cannot take is not logged for it; the caller's result never depends on
 * the shadow.
 */
static void
LogPrediction(FunctionCallInfo fcinfo, ServedModel *served)
{
	CallCache  *cc = (CallCache *) fcinfo->flinfo->fn_extra;
	const char *class_label;
	char	   *key = NULL;
	double		value;
	ServedModel *shadow;

	if (!cc->by_name || served->model_id == 0 || !PredictionLogSampled())
		return;
	if (cc->with_key && !PG_ARGISNULL(2))
		key = OutputFunctionCall(cc->key_out, PG_GETARG_DATUM(2));
	else if (cc->by_entity)
		key = OutputFunctionCall(cc->key_out, PG_GETARG_DATUM(1));
	value = Outcome(served, &class_label);
	PredictionLogAdd(served->model_id, served->version, false, served->design,
					 served->model->n_design, value, class_label, key);
	shadow = ShadowModel(cc, served);
	if (shadow != NULL && PreprocessRowIfValid(shadow->model, cc->raw, shadow->design))
	{
		value = Outcome(shadow, &class_label);
		PredictionLogAdd(shadow->model_id, shadow->version, true, shadow->design,
						 shadow->model->n_design, value, class_label, key);
	}
}

/*
 * What ml_predict returns for a prepared call: the value of a regression
 * model, the predicted class of a classifier with numeric or boolean
 * labels, or the (0-based) cluster of a k-means model.
 */
static Datum
PredictResult(FunctionCallInfo fcinfo, ServedModel *served)
{
	double		result;

	if (served == NULL)
		PG_RETURN_NULL();

	if (!ModelIsClassifier(served->model))
		result = PredictValue(served);
	else if (served->class_number == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the model's class labels are not numbers"),
				 errhint("Use ml_predict_class() to get the label as text.")));
	else
		result = served->class_number[PredictClass(served)];
	LogPrediction(fcinfo, served);
	PG_RETURN_FLOAT8(result);
}

/* ml_predict(model, features) -> float8 */
Datum
ml_predict(PG_FUNCTION_ARGS)
{
	return PredictResult(fcinfo, PrepareCall(fcinfo));
}

/*
 * ml_predict(model_name, entity) -> float8: ml_predict of the entity's
 * latest features in the model's feature tables (see EntityFeatures).
 */
Datum
ml_predict_entity(PG_FUNCTION_ARGS)
{
	return PredictResult(fcinfo, PrepareEntityCall(fcinfo));
}

/* A model value decoded for serving, in the current memory context. */
ServedModel *
ServeModelValue(const struct varlena *value, const Model **model)
{
	ServedModel *served = palloc0(sizeof(ServedModel));

	ServeModel(value, served);
	*model = served->model;
	return served;
}

/*
 * The model's output for one row's raw inputs: the value of a regression,
 * the index of the predicted class of a classifier, the cluster of a
 * k-means model; false for a row the model cannot take (a NULL or an
 * unseen level without imputation, a non-finite number). Not logged.
 */
bool
PredictOutputIfValid(ServedModel *served, const RawValue *raw, double *output)
{
	if (!PreprocessRowIfValid(served->model, raw, served->design))
		return false;
	*output = ModelIsClassifier(served->model) ? PredictClass(served) : PredictValue(served);
	return true;
}

/* What ml_predict_class returns for a prepared call: the class label. */
static Datum
ClassResult(FunctionCallInfo fcinfo, ServedModel *served)
{
	text	   *result;

	if (served == NULL)
		PG_RETURN_NULL();

	if (!ModelIsClassifier(served->model))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("a %s model has no classes", ModelKindName(served->model->kind)),
				 errhint("Use ml_predict() for regression and clustering models.")));
	result = cstring_to_text(served->model->classes[PredictClass(served)]);
	LogPrediction(fcinfo, served);
	PG_RETURN_TEXT_P(result);
}

/* ml_predict_class(model, features) -> text */
Datum
ml_predict_class(PG_FUNCTION_ARGS)
{
	return ClassResult(fcinfo, PrepareCall(fcinfo));
}

/* ml_predict_class(model_name, entity) -> text, from the entity's features */
Datum
ml_predict_class_entity(PG_FUNCTION_ARGS)
{
	return ClassResult(fcinfo, PrepareEntityCall(fcinfo));
}

/*
 * What ml_predict_proba returns for a prepared call: the class
 * probabilities, in the order of "classes" in ml_model_info().
 */
static Datum
ProbaResult(FunctionCallInfo fcinfo, ServedModel *served)
{
	Datum	   *out;
	int			n;

	if (served == NULL)
		PG_RETURN_NULL();

	if (!ModelIsClassifier(served->model))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("a %s model has no class probabilities", ModelKindName(served->model->kind)),
				 errhint("Use ml_predict() for regression and clustering models.")));
	(void) PredictClass(served);
	n = served->model->n_classes;
	out = palloc(sizeof(Datum) * n);
	for (int k = 0; k < n; k++)
		out[k] = Float8GetDatum(served->proba[k]);
	LogPrediction(fcinfo, served);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, n, FLOAT8OID, sizeof(double),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* ml_predict_proba(model, features) -> float8[] */
Datum
ml_predict_proba(PG_FUNCTION_ARGS)
{
	return ProbaResult(fcinfo, PrepareCall(fcinfo));
}

/* ml_predict_proba(model_name, entity) -> float8[], from the entity's features */
Datum
ml_predict_proba_entity(PG_FUNCTION_ARGS)
{
	return ProbaResult(fcinfo, PrepareEntityCall(fcinfo));
}

/* ml_transform(model, features) -> float8[]: the preprocessed design vector. */
Datum
ml_transform(PG_FUNCTION_ARGS)
{
	ServedModel *served = PrepareCall(fcinfo);
	int			n = served->model->n_design;
	Datum	   *out = palloc(sizeof(Datum) * n);

	for (int j = 0; j < n; j++)
		out[j] = Float8GetDatum(served->design[j]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, n, FLOAT8OID, sizeof(double),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Append one output's explanation: "bias" and, per input, the sum of the
 * contributions of the input's design columns (contrib[0..n_design-1]).
 */
static void
AppendContributions(StringInfo buf, const Model *model, double bias, const double *contrib)
{
	int			j = 0;

	appendStringInfoString(buf, "\"bias\": ");
	JsonAppendNumber(buf, bias);
	appendStringInfoString(buf, ", \"contributions\": {");
	for (int i = 0; i < model->n_inputs; i++)
	{
		const ModelInput *input = &model->inputs[i];
		int			width = input->type == INPUT_CATEGORICAL ? input->n_levels - 1 : 1;
		double		sum = 0;

		for (int c = 0; c < width; c++, j++)
			sum += contrib[j];
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, input->name);
		appendStringInfoString(buf, ": ");
		JsonAppendNumber(buf, sum);
	}
	appendStringInfoChar(buf, '}');
}

/* One parameter set's contributions: coefficient x design value per column. */
static double *
LinearContributions(const Model *model, const double *coef, const double *design)
{
	double	   *contrib = palloc(sizeof(double) * model->n_design);

	for (int j = 0; j < model->n_design; j++)
		contrib[j] = coef[1 + j] * design[j];
	return contrib;
}

/*
 * ml_explain(model, features) -> jsonb: each input's additive contribution
 * to the model's raw output, with a bias, adding up to it. For linear and
 * logistic regression the contributions are coefficient x (preprocessed)
 * value, with the intercept as bias; for tree models they are XGBoost's
 * exact SHAP values. A regression explains its prediction (for a tree
 * model with a non-identity link, its margin); a classifier the logit of
 * each class that has an output (binary models: the second class's).
 */
Datum
ml_explain(PG_FUNCTION_ARGS)
{
	ServedModel *served = PrepareCall(fcinfo);
	const Model *model;
	int			n_outputs;
	double	   *tree = NULL;
	StringInfoData buf;

	if (served == NULL)
		PG_RETURN_NULL();
	model = served->model;
	if (model->kind != MODEL_KIND_LINEAR_REGRESSION && model->kind != MODEL_KIND_LOGISTIC_REGRESSION &&
		model->kind != MODEL_KIND_XGBOOST)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ml_explain does not explain %s models", ModelKindName(model->kind)),
				 errhint("Linear, logistic and tree (xgboost) models can be explained.")));
	if (model->kind == MODEL_KIND_XGBOOST)
	{
		tree = BoosterContributions(served->booster, served->design);
		n_outputs = BoosterOutputs(served->booster);
	}
	else
		n_outputs = model->n_sets;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"kind\": \"%s\", ", ModelKindName(model->kind));
	if (!ModelIsClassifier(model))
		appendStringInfoString(&buf, "\"prediction\": ");
	else
		appendStringInfoString(&buf, "\"logits\": [");
	for (int k = 0; k < n_outputs; k++)
	{
		double		bias;
		double		raw;
		double	   *contrib;

		if (tree != NULL)
		{
			contrib = tree + k * (model->n_design + 1);
			bias = contrib[model->n_design];
		}
		else
		{
			const double *coef = model->coef + k * (1 + model->n_design);

			contrib = LinearContributions(model, coef, served->design);
			bias = coef[0];
		}
		raw = bias;
		for (int j = 0; j < model->n_design; j++)
			raw += contrib[j];
		if (ModelIsClassifier(model))
		{
			/* binary models have one output, for the second class */
			appendStringInfoString(&buf, k > 0 ? ", {\"class\": " : "{\"class\": ");
			escape_json(&buf, model->classes[model->n_classes == 2 ? 1 : k]);
			appendStringInfoString(&buf, ", \"logit\": ");
		}
		JsonAppendNumber(&buf, raw);
		appendStringInfoString(&buf, ", ");
		AppendContributions(&buf, model, bias, contrib);
		if (ModelIsClassifier(model))
			appendStringInfoChar(&buf, '}');
	}
	if (ModelIsClassifier(model))
		appendStringInfoChar(&buf, ']');
	appendStringInfoChar(&buf, '}');
	PG_RETURN_JSONB_P(JsonParse(buf.data));
}
