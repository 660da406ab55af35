/*
 * registry.c -- the model registry in schema ml: lookups and writes.
 *
 * Reads run with the caller's privileges and snapshot, so they are
 * transactional: an uncommitted or aborted deploy is never seen by other
 * sessions. Writes run as the owner of schema ml with search_path pinned to
 * pg_catalog, executing only the fixed statements in this file, so callers
 * need no privileges on the registry tables and cannot redirect the
 * statements to objects of their own. The caller is recorded as the author.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "jsonopt.h"
#include "mlsys.h"
#include "model.h"
#include "registry.h"

PG_FUNCTION_INFO_V1(ml_register_model);
PG_FUNCTION_INFO_V1(ml_deploy);
PG_FUNCTION_INFO_V1(ml_rollback);
PG_FUNCTION_INFO_V1(ml_split);
PG_FUNCTION_INFO_V1(ml_shadow);
PG_FUNCTION_INFO_V1(ml_remove_alias);
PG_FUNCTION_INFO_V1(ml_delete_version);
PG_FUNCTION_INFO_V1(ml_archive_version);
PG_FUNCTION_INFO_V1(ml_model);

/* The alias ml_predict(name) follows: ml.models.deployed_version. */
#define DEFAULT_ALIAS "production"

/* Saved plans of the read path, prepared once per backend. */
static SPIPlanPtr resolve_plan = NULL;
static SPIPlanPtr split_plan = NULL;
static SPIPlanPtr fetch_plan = NULL;

/* Names of models and aliases: 1-63 bytes; '@' separates them in addresses. */
static void
CheckName(const char *what, const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > MLSYS_MAX_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("%s must be 1 to %d bytes long", what, MLSYS_MAX_NAME_LEN),
				 errhint("Use a shorter name.")));
	for (const char *c = name; *c; c++)
		if (*c == '@' || isspace((unsigned char) *c) || iscntrl((unsigned char) *c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid %s \"%s\"", what, name),
					 errhint("Use a name without spaces, control characters or \"@\".")));
}

void
RegistryCheckName(const char *name)
{
	CheckName("model name", name);
}

static SPIPlanPtr
PrepareSaved(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

static pg_noreturn void
UnknownModel(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" does not exist", name),
			 errhint("Train it with ml_train() or register it with ml_register_model(); ml.models lists existing models.")));
}

/*
 * Split a model address: "name" (the deployed version), "name@3" (version
 * 3) or "name@alias" (the version an alias points to). The name is
 * returned in place; *alias is NULL for the deployed version.
 */
static char *
SplitAddress(const char *address, char **alias, int32 *version)
{
	char	   *name = pstrdup(address);
	char	   *at = strrchr(name, '@');

	*alias = NULL;
	*version = 0;
	if (at == NULL)
		return name;
	*at++ = '\0';
	if (*at == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model address \"%s\" ends in \"@\"", address),
				 errhint("Write \"name@version\" or \"name@alias\", or just the name for the deployed version.")));
	if (strspn(at, "0123456789") == strlen(at))
	{
		long		v = strtol(at, NULL, 10);

		if (v < 1 || v > PG_INT32_MAX || strlen(at) > 10)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model version must be between 1 and %d, got %s", PG_INT32_MAX, at),
					 errhint("Versions are numbered from 1; ml.model_versions lists them.")));
		*version = (int32) v;
	}
	else if (strcmp(at, DEFAULT_ALIAS) != 0)
		*alias = at;
	return name;
}

/*
 * The lookups below read the registry as the caller: say plainly what is
 * missing rather than "permission denied for table models".
 */
static void
CheckCanRead(const char *name)
{
	Oid			models = get_relname_relid("models", get_namespace_oid("ml", false));

	if (pg_class_aclcheck(models, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read model \"%s\" from the registry", name),
				 errhint("Grant the role ml_reader: GRANT ml_reader TO %s;",
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

/*
 * Find the model version an address names (see SplitAddress); a version
 * given separately overrides none. One indexed lookup with the current
 * snapshot.
 */
void
RegistryResolve(const char *address, int32 version, ModelRef *ref)
{
	char	   *alias;
	int32		addressed;
	char	   *name = SplitAddress(address, &alias, &addressed);
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;
	int32		deployed,
				aliased;
	bool		no_alias;

	if (version != 0 && (addressed != 0 || alias != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" is given a version twice", address),
				 errhint("Pass either \"name@version\" or a version argument.")));
	version = Max(version, addressed);
	CheckCanRead(name);
	args[0] = CStringGetTextDatum(name);
	args[1] = alias ? CStringGetTextDatum(alias) : (Datum) 0;
	nulls[1] = alias ? ' ' : 'n';
	args[2] = Int32GetDatum(version);

	SPI_connect();
	if (resolve_plan == NULL)
	{
		Oid			argtypes[3] = {TEXTOID, TEXTOID, INT4OID};

		resolve_plan = PrepareSaved("SELECT m.tableoid, m.model_id, m.deployed_version, a.version, v.xmin"
									" FROM ml.models m LEFT JOIN ml.aliases a"
									" ON a.model_id = m.model_id AND a.alias = $2"
									" LEFT JOIN ml.model_versions v ON v.model_id = m.model_id"
									" AND v.version = coalesce(nullif($3, 0), a.version, m.deployed_version)"
									" WHERE m.name = $1",
									3, argtypes);
	}
	if (SPI_execute_plan(resolve_plan, args, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "registry lookup failed");
	if (SPI_processed == 0)
		UnknownModel(name);

	ref->registry = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ref->model_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	deployed = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (version == 0 && alias == NULL && isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no deployed version", name),
				 errhint("Deploy a version with ml_deploy('%s', version).", name)));
	aliased = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &no_alias));
	if (alias != NULL && no_alias)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no alias \"%s\"", name, alias),
				 errhint("ml.aliases lists the aliases; ml_deploy('%s', version, '%s') sets it.",
						 name, alias)));
	ref->version = version != 0 ? version : alias != NULL ? aliased : deployed;
	ref->row_xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
														5, &isnull));
	SPI_finish();
}

/* The stored mlmodel of a resolved version, copied into the caller's context. */
struct varlena *
RegistryFetchModel(const char *name, const ModelRef *ref)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		args[2] = {Int64GetDatum(ref->model_id), Int32GetDatum(ref->version)};
	struct varlena *value;
	bool		isnull;

	SPI_connect();
	if (fetch_plan == NULL)
	{
		Oid			argtypes[2] = {INT8OID, INT4OID};

		fetch_plan = PrepareSaved("SELECT v.model FROM ml.model_versions v"
								  " WHERE v.model_id = $1 AND v.version = $2",
								  2, argtypes);
	}
	if (SPI_execute_plan(fetch_plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "registry lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no version %d", name, ref->version),
				 errhint("ml.model_versions lists the versions of each model.")));
	MemoryContextSwitchTo(caller);
	value = (struct varlena *) PG_DETOAST_DATUM_COPY(SPI_getbinval(SPI_tuptable->vals[0],
																 SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return value;
}

/*
 * The traffic split of a model (ml_split), if any: the alias that serves
 * percent % of the keys. The caller resolves "name@alias" itself.
 */
bool
RegistryResolveSplit(const char *name, char **alias, double *percent, int64 *model_id)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		arg = CStringGetTextDatum(name);
	bool		isnull;
	bool		found;

	SPI_connect();
	if (split_plan == NULL)
	{
		Oid			argtype = TEXTOID;

		split_plan = PrepareSaved("SELECT s.alias, s.percent, s.model_id FROM ml.splits s"
								  " JOIN ml.models m USING (model_id) WHERE m.name = $1",
								  1, &argtype);
	}
	if (SPI_execute_plan(split_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "registry lookup failed");
	found = SPI_processed > 0;
	if (found)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		*alias = MemoryContextStrdup(caller, TextDatumGetCString(SPI_getbinval(row, desc, 1, &isnull)));
		*percent = DatumGetFloat8(SPI_getbinval(row, desc, 2, &isnull));
		*model_id = DatumGetInt64(SPI_getbinval(row, desc, 3, &isnull));
	}
	SPI_finish();
	return found;
}

/*
 * The shadow of a model addressed by its bare name (ml_shadow), if any: the
 * version its shadow alias points to now.
 */
bool
RegistryResolveShadow(const char *name, int32 *version)
{
	static SPIPlanPtr shadow_plan = NULL;
	Datum		arg = CStringGetTextDatum(name);
	bool		isnull;
	bool		found;

	SPI_connect();
	if (shadow_plan == NULL)
	{
		Oid			argtype = TEXTOID;

		shadow_plan = PrepareSaved("SELECT a.version FROM ml.shadows s JOIN ml.models m USING (model_id)"
								   " JOIN ml.aliases a ON a.model_id = s.model_id AND a.alias = s.alias"
								   " WHERE m.name = $1",
								   1, &argtype);
	}
	if (SPI_execute_plan(shadow_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "registry lookup failed");
	found = SPI_processed > 0;
	if (found)
		*version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return found;
}

/* ---------------------------------------------------------------- writes */

typedef struct RegistryWriteScope
{
	Oid			caller;
	Oid			save_userid;
	int			save_sec_context;
	int			guc_nestlevel;
} RegistryWriteScope;

/* Become the owner of schema ml, with a safe search_path, and connect SPI. */
static void
RegistryBeginWrite(RegistryWriteScope *scope)
{
	Oid			nsp = get_namespace_oid("ml", false);
	HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for schema %u", nsp);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&scope->save_userid, &scope->save_sec_context);
	scope->caller = scope->save_userid;
	SetUserIdAndSecContext(owner, scope->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	scope->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
}

/* Undo RegistryBeginWrite. On error, transaction abort does the same. */
static void
RegistryEndWrite(RegistryWriteScope *scope)
{
	SPI_finish();
	AtEOXact_GUC(true, scope->guc_nestlevel);
	SetUserIdAndSecContext(scope->save_userid, scope->save_sec_context);
}

static void
ExecWrite(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
		  int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "registry statement failed (%s): %s", SPI_result_code_string(rc), sql);
}

/* Lock the model's row; returns its id and deployed version (0 if none). */
static int64
LockModel(const char *name, int32 *deployed)
{
	Datum		arg = CStringGetTextDatum(name);
	Oid			type = TEXTOID;
	bool		isnull;
	int64		model_id;

	ExecWrite("SELECT model_id, deployed_version FROM ml.models WHERE name = $1 FOR UPDATE",
			  1, &type, &arg, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		UnknownModel(name);
	model_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*deployed = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull)
		*deployed = 0;
	return model_id;
}

/* The version an alias points to now (0 for none), under the model's row lock. */
static int32
AliasVersion(int64 model_id, const char *alias, int32 deployed)
{
	Datum		args[2] = {Int64GetDatum(model_id), CStringGetTextDatum(alias)};
	bool		isnull;

	if (strcmp(alias, DEFAULT_ALIAS) == 0)
		return deployed;
	ExecWrite("SELECT version FROM ml.aliases WHERE model_id = $1 AND alias = $2",
			  2, (Oid[]) {INT8OID, TEXTOID}, args, NULL, SPI_OK_SELECT);
	return SPI_processed == 0 ? 0
		: DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Point an alias of the model at version (0: remove the alias) and record
 * the move in ml.deployments (version NULL for a removal). The default
 * alias is ml.models.deployed_version.
 */
static void
Deploy(int64 model_id, const char *alias, int32 version, int32 previous, Oid caller,
	   const char *reason)
{
	Oid			types[6] = {INT8OID, INT4OID, INT4OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6] = {
		Int64GetDatum(model_id), Int32GetDatum(version), Int32GetDatum(previous),
		CStringGetTextDatum(GetUserNameFromId(caller, false)), CStringGetTextDatum(reason),
		CStringGetTextDatum(alias)
	};
	char		nulls[6] = {' ', version ? ' ' : 'n', previous ? ' ' : 'n', ' ', ' ', ' '};

	if (version != 0)
	{
		ExecWrite("SELECT m.name FROM ml.model_versions v JOIN ml.models m USING (model_id)"
				  " WHERE v.model_id = $1 AND v.version = $2 AND v.archived_at IS NOT NULL",
				  2, types, values, nulls, SPI_OK_SELECT);
		if (SPI_processed > 0)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("version %d of model \"%s\" is archived", version, name),
					 errhint("Restore it first with ml_archive_version(%s, %d, archived => false).",
							 quote_literal_cstr(name), version)));
		}
	}

	if (strcmp(alias, DEFAULT_ALIAS) == 0)
		ExecWrite("UPDATE ml.models SET deployed_version = $2 WHERE model_id = $1",
				  2, types, values, nulls, SPI_OK_UPDATE);
	else if (version == 0)
	{
		/* and the split and shadow that send traffic to it */
		ExecWrite("DELETE FROM ml.aliases WHERE model_id = $1 AND alias = $6",
				  6, types, values, nulls, SPI_OK_DELETE);
		ExecWrite("DELETE FROM ml.splits WHERE model_id = $1 AND alias = $6",
				  6, types, values, nulls, SPI_OK_DELETE);
		ExecWrite("DELETE FROM ml.shadows WHERE model_id = $1 AND alias = $6",
				  6, types, values, nulls, SPI_OK_DELETE);
	}
	else
		ExecWrite("INSERT INTO ml.aliases (model_id, alias, version) VALUES ($1, $6, $2)"
				  " ON CONFLICT (model_id, alias) DO UPDATE SET version = EXCLUDED.version",
				  6, types, values, nulls, SPI_OK_INSERT);
	ExecWrite("INSERT INTO ml.deployments (model_id, version, previous_version, deployed_by, reason, alias)"
			  " VALUES ($1, $2, $3, $4, $5, $6)",
			  6, types, values, nulls, SPI_OK_INSERT);
}

/*
 * "deploy": "if_better": compare the new version's holdout metric with the
 * deployed version's, under the model's row lock. Returns the deployment
 * reason when the new one is strictly better, else NULL with a NOTICE why.
 */
static char *
BetterThanDeployed(const RegistryVersion *v, int64 model_id, int32 deployed)
{
	const char *metric = v->deploy_metric;
	Datum		args[4] = {Int64GetDatum(model_id), Int32GetDatum(deployed), CStringGetTextDatum(metric),
	JsonbPGetDatum(v->metrics)};
	double		new_value,
				old_value;
	bool		new_null,
				old_null;

	/* only a JSON number counts: null (undefined) or text is no value */
	ExecWrite("SELECT CASE WHEN jsonb_typeof($4->$3) = 'number' THEN ($4->>$3)::float8 END,"
			  " CASE WHEN jsonb_typeof(metrics->$3) = 'number' THEN (metrics->>$3)::float8 END"
			  " FROM ml.model_versions WHERE model_id = $1 AND version = $2",
			  4, (Oid[]) {INT8OID, INT4OID, TEXTOID, JSONBOID}, args, NULL, SPI_OK_SELECT);
	new_value = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &new_null));
	old_value = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &old_null));
	if (new_null)
	{
		ereport(NOTICE,
				(errmsg("model \"%s\": the new version has no holdout \"%s\", so version %d stays deployed",
						v->model_name, metric, deployed)));
		return NULL;
	}
	if (old_null)
	{
		ereport(NOTICE,
				(errmsg("model \"%s\": deployed version %d has no \"%s\" to compare with, so it stays deployed",
						v->model_name, deployed, metric),
				 errhint("Deploy the new version with ml_deploy() if it should serve.")));
		return NULL;
	}
	if (v->deploy_higher_is_better ? new_value > old_value : new_value < old_value)
		return psprintf("if_better: %s %.6g beats %.6g of version %d", metric, new_value, old_value, deployed);
	ereport(NOTICE,
			(errmsg("model \"%s\": %s %.6g does not beat %.6g of deployed version %d, which stays deployed",
					v->model_name, metric, new_value, old_value, deployed)));
	return NULL;
}

/*
 * Add version N+1 of v->model_name (creating the model on first use) and
 * return N+1. A model with no deployed version gets this one deployed;
 * otherwise it is deployed only under "deploy": "if_better" and if it wins.
 * Concurrent writers of one model are serialised by the model row's lock.
 */
int32
RegistryAddVersion(const RegistryVersion *v, bool *deployed)
{
	RegistryWriteScope scope;
	Model	   *model = ModelDeserialize(v->model);
	Datum	   *names = palloc(sizeof(Datum) * model->n_inputs);
	Oid			types[13] = {INT8OID, INT4OID, TEXTOID, JSONBOID, TEXTARRAYOID,
		TEXTOID, MlsysModelTypeOid(), TEXTOID, INT8OID, INT8OID, JSONBOID, TEXTOID, JSONBOID};
	Datum		values[13];
	char		nulls[13];
	int64		model_id;
	int32		current;
	int32		version;
	bool		isnull;
	char	   *caller;

	RegistryCheckName(v->model_name);
	for (int i = 0; i < model->n_inputs; i++)
		names[i] = CStringGetTextDatum(model->inputs[i].name);

	RegistryBeginWrite(&scope);
	caller = GetUserNameFromId(scope.caller, false);

	values[0] = CStringGetTextDatum(v->model_name);
	values[1] = CStringGetTextDatum(caller);
	ExecWrite("INSERT INTO ml.models (name, created_by) VALUES ($1, $2)"
			  " ON CONFLICT (name) DO NOTHING",
			  2, (Oid[]) {TEXTOID, TEXTOID}, values, NULL, SPI_OK_INSERT);
	model_id = LockModel(v->model_name, &current);

	values[0] = Int64GetDatum(model_id);
	ExecWrite("UPDATE ml.models SET last_version = last_version + 1 WHERE model_id = $1"
			  " RETURNING last_version",
			  1, types, values, NULL, SPI_OK_UPDATE_RETURNING);
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	memset(nulls, ' ', sizeof(nulls));
	values[1] = Int32GetDatum(version);
	values[2] = CStringGetTextDatum(v->algorithm);
	values[3] = JsonbPGetDatum(v->params);
	values[4] = PointerGetDatum(construct_array(names, model->n_inputs, TEXTOID, -1, false, TYPALIGN_INT));
	values[5] = CStringGetTextDatum(model->target);
	values[6] = PointerGetDatum(v->model);
	values[7] = v->source ? CStringGetTextDatum(v->source) : (Datum) 0;
	nulls[7] = v->source ? ' ' : 'n';
	values[8] = Int64GetDatum(v->n_train);
	values[9] = Int64GetDatum(v->n_test);
	values[10] = JsonbPGetDatum(v->metrics);
	values[11] = CStringGetTextDatum(caller);
	values[12] = JsonbPGetDatum(v->info ? v->info : JsonParse("{}"));
	ExecWrite("INSERT INTO ml.model_versions (model_id, version, algorithm, params, features,"
			  " target, model, source, n_train_rows, n_test_rows, metrics, trained_by,"
			  " training_info)"
			  " VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7, $8, $9, $10, $11, $12, $13)",
			  13, types, values, nulls, SPI_OK_INSERT);

	if (v->trials != NULL)
	{
		Datum		targs[3] = {Int64GetDatum(model_id), Int32GetDatum(version),
		JsonbPGetDatum(v->trials)};

		ExecWrite("INSERT INTO ml.training_trials (model_id, version, trial, params, metrics, seconds)"
				  " SELECT $1, $2, (t->>'trial')::int, t->'params', t->'metrics', (t->>'seconds')::float8"
				  " FROM jsonb_array_elements($3) AS t",
				  3, (Oid[]) {INT8OID, INT4OID, JSONBOID}, targs, NULL, SPI_OK_INSERT);
	}
	*deployed = current == 0;
	if (*deployed)
		Deploy(model_id, DEFAULT_ALIAS, version, 0, scope.caller, "first version");
	else if (v->deploy_metric != NULL)
	{
		char	   *reason = BetterThanDeployed(v, model_id, current);

		*deployed = reason != NULL;
		if (*deployed)
			Deploy(model_id, DEFAULT_ALIAS, version, current, scope.caller, reason);
	}
	RegistryEndWrite(&scope);
	return version;
}

/* ---------------------------------------------------------------- SQL */

/*
 * ml_register_model(model_name, model, source DEFAULT NULL, metrics DEFAULT '{}')
 * -> int: a model built by an aggregate becomes the next version.
 */
Datum
ml_register_model(PG_FUNCTION_ARGS)
{
	RegistryVersion v = {0};
	Model	   *model;
	StringInfoData params;
	bool		deployed;
	int32		version;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name and model must not be NULL"),
				 errhint("A NULL model usually means the training aggregate saw no rows.")));
	v.model_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	v.model = (struct varlena *) PG_DETOAST_DATUM(PG_GETARG_DATUM(1));
	v.source = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	v.metrics = PG_ARGISNULL(3) ? JsonParse("{}") : PG_GETARG_JSONB_P(3);
	if (!JB_ROOT_IS_OBJECT(v.metrics))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metrics must be a JSON object"),
				 errhint("Pass metrics like '{\"r2\": 0.9}'.")));

	model = ModelDeserialize(v.model);
	/* the algorithm that ml_train names for the kind */
	v.algorithm = model->kind == MODEL_KIND_LINEAR_REGRESSION ? "linear"
		: model->kind == MODEL_KIND_LOGISTIC_REGRESSION ? "logistic"
		: ModelKindName(model->kind);
	initStringInfo(&params);
	appendStringInfoChar(&params, '{');
	ModelAppendParamsJson(&params, model);
	appendStringInfoChar(&params, '}');
	v.params = JsonParse(params.data);
	v.n_train = model->n_rows;
	v.n_test = 0;

	version = RegistryAddVersion(&v, &deployed);
	if (deployed)
		ereport(NOTICE,
				(errmsg("model \"%s\" version %d registered and deployed", v.model_name, version)));
	PG_RETURN_INT32(version);
}

/*
 * ml_deploy(model_name, version, alias DEFAULT 'production'): point an
 * alias at a version; the default alias is the one ml_predict(name) serves.
 */
Datum
ml_deploy(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *alias;
	int32		version;
	RegistryWriteScope scope;
	int32		deployed,
				current;
	int64		model_id;
	Datum		args[2];
	Oid			types[2] = {INT8OID, INT4OID};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name, version and alias must not be NULL"),
				 errhint("Omit the alias to deploy to production.")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	version = PG_GETARG_INT32(1);
	alias = text_to_cstring(PG_GETARG_TEXT_PP(2));
	CheckName("alias", alias);
	if (strspn(alias, "0123456789") == strlen(alias))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("alias \"%s\" would read as a version number", alias),
				 errhint("Use an alias with at least one letter.")));
	RegistryBeginWrite(&scope);
	model_id = LockModel(name, &deployed);
	args[0] = Int64GetDatum(model_id);
	args[1] = Int32GetDatum(version);
	ExecWrite("SELECT 1 FROM ml.model_versions WHERE model_id = $1 AND version = $2",
			  2, types, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no version %d", name, version),
				 errhint("ml.model_versions lists the versions of each model.")));
	current = AliasVersion(model_id, alias, deployed);
	if (current == version)
		ereport(NOTICE,
				(errmsg("alias \"%s\" of model \"%s\" already points to version %d",
						alias, name, version)));
	else
		Deploy(model_id, alias, version, current, scope.caller, "ml_deploy");
	RegistryEndWrite(&scope);
	PG_RETURN_VOID();
}

/*
 * ml_split(model_name, alias, percent) -> void: route percent % of the keys
 * passed to ml_predict(name, features, key) to the version the alias points
 * to (at each statement), the rest to the deployed version; 0 ends the split.
 */
Datum
ml_split(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *alias;
	double		percent;
	RegistryWriteScope scope;
	int32		deployed;
	int64		model_id;
	Datum		args[4];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name, alias and percent must not be NULL"),
				 errhint("Use percent 0 to end a split.")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	alias = text_to_cstring(PG_GETARG_TEXT_PP(1));
	percent = PG_GETARG_FLOAT8(2);
	if (!(percent >= 0 && percent < 100))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("percent must be at least 0 and below 100, got %g", percent),
				 errhint("Use 0 to end the split; to send every key to the alias, deploy its version.")));
	if (strcmp(alias, DEFAULT_ALIAS) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a split sends keys away from \"%s\", not to it", DEFAULT_ALIAS),
				 errhint("Name another alias, set with ml_deploy(name, version, alias).")));
	RegistryBeginWrite(&scope);
	model_id = LockModel(name, &deployed);
	args[0] = Int64GetDatum(model_id);
	args[1] = CStringGetTextDatum(alias);
	args[2] = Float8GetDatum(percent);
	args[3] = CStringGetTextDatum(GetUserNameFromId(scope.caller, false));
	if (percent == 0)
		ExecWrite("DELETE FROM ml.splits WHERE model_id = $1",
				  1, (Oid[]) {INT8OID}, args, NULL, SPI_OK_DELETE);
	else
	{
		if (AliasVersion(model_id, alias, deployed) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" has no alias \"%s\"", name, alias),
					 errhint("Set it first with ml_deploy('%s', version, '%s').", name, alias)));
		ExecWrite("INSERT INTO ml.splits (model_id, alias, percent, set_by) VALUES ($1, $2, $3, $4)"
				  " ON CONFLICT (model_id) DO UPDATE SET alias = EXCLUDED.alias,"
				  " percent = EXCLUDED.percent, set_at = now(), set_by = EXCLUDED.set_by",
				  4, (Oid[]) {INT8OID, TEXTOID, FLOAT8OID, TEXTOID}, args, NULL, SPI_OK_INSERT);
	}
	RegistryEndWrite(&scope);
	PG_RETURN_VOID();
}

/*
 * ml_shadow(model_name, alias) -> void: with prediction logging on, each
 * logged prediction of the model by its bare name is also computed by the
 * version the alias points to (at each statement) and logged as a shadow
 * prediction, never returned; alias NULL ends it. The alias's version must
 * take the same inputs as the deployed one.
 */
Datum
ml_shadow(PG_FUNCTION_ARGS)
{
	char	   *name;
	RegistryWriteScope scope;
	int32		deployed;
	int64		model_id;
	Datum		args[3];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be NULL"),
				 errhint("Pass the model's name, and the alias to shadow it with (NULL to stop).")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	RegistryBeginWrite(&scope);
	model_id = LockModel(name, &deployed);
	args[0] = Int64GetDatum(model_id);
	if (PG_ARGISNULL(1))
		ExecWrite("DELETE FROM ml.shadows WHERE model_id = $1",
				  1, (Oid[]) {INT8OID}, args, NULL, SPI_OK_DELETE);
	else
	{
		char	   *alias = text_to_cstring(PG_GETARG_TEXT_PP(1));
		int32		version = AliasVersion(model_id, alias, deployed);
		ModelRef	shadow_ref,
					served_ref;

		if (strcmp(alias, DEFAULT_ALIAS) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is what the model serves; it cannot shadow itself", DEFAULT_ALIAS),
					 errhint("Name another alias, set with ml_deploy(name, version, alias).")));
		if (version == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" has no alias \"%s\"", name, alias),
					 errhint("Set it first with ml_deploy('%s', version, '%s').", name, alias)));
		if (deployed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no deployed version to shadow", name),
					 errhint("Deploy a version first with ml_deploy('%s', version).", name)));
		RegistryResolve(psprintf("%s@%d", name, version), 0, &shadow_ref);
		RegistryResolve(psprintf("%s@%d", name, deployed), 0, &served_ref);
		if (!ModelsTakeSameInputs(ModelDeserialize(RegistryFetchModel(name, &shadow_ref)),
								  ModelDeserialize(RegistryFetchModel(name, &served_ref))))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("version %d of model \"%s\" does not take the same inputs as the deployed version %d",
							version, name, deployed),
					 errhint("A shadow gets the deployed version's inputs: the same names and types, in the same order.")));
		args[1] = CStringGetTextDatum(alias);
		args[2] = CStringGetTextDatum(GetUserNameFromId(scope.caller, false));
		ExecWrite("INSERT INTO ml.shadows (model_id, alias, set_by) VALUES ($1, $2, $3)"
				  " ON CONFLICT (model_id) DO UPDATE SET alias = EXCLUDED.alias,"
				  " set_at = now(), set_by = EXCLUDED.set_by",
				  3, (Oid[]) {INT8OID, TEXTOID, TEXTOID}, args, NULL, SPI_OK_INSERT);
	}
	RegistryEndWrite(&scope);
	PG_RETURN_VOID();
}

/*
 * ml_remove_alias(model_name, alias) -> int: remove an alias ("production":
 * the model then serves no version until the next ml_deploy), recorded in
 * ml.deployments; ml_rollback restores it. Returns the version it pointed to.
 */
Datum
ml_remove_alias(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *alias = text_to_cstring(PG_GETARG_TEXT_PP(1));
	RegistryWriteScope scope;
	int32		deployed,
				current;
	int64		model_id;

	RegistryBeginWrite(&scope);
	model_id = LockModel(name, &deployed);
	current = AliasVersion(model_id, alias, deployed);
	if (current == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no alias \"%s\"", name, alias),
				 errhint("ml.aliases lists the aliases; production is ml.models.deployed_version.")));
	Deploy(model_id, alias, 0, current, scope.caller, "removed");
	RegistryEndWrite(&scope);
	PG_RETURN_INT32(current);
}

/*
 * Under the model's row lock: check that the version exists and, unless
 * force, that no alias points to it; with force, remove those aliases
 * (recorded with reason). Returns the model id.
 */
static int64
ReleaseVersion(const char *name, int32 version, bool force, Oid caller, const char *reason)
{
	int32		deployed;
	int64		model_id = LockModel(name, &deployed);
	Datum		args[2] = {Int64GetDatum(model_id), Int32GetDatum(version)};
	char	  **aliases;
	uint64		n;

	ExecWrite("SELECT 1 FROM ml.model_versions WHERE model_id = $1 AND version = $2",
			  2, (Oid[]) {INT8OID, INT4OID}, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no version %d", name, version),
				 errhint("ml.model_versions lists the versions of each model.")));
	ExecWrite("SELECT alias FROM ml.aliases WHERE model_id = $1 AND version = $2"
			  " UNION ALL SELECT 'production' FROM ml.models WHERE model_id = $1 AND deployed_version = $2"
			  " ORDER BY 1",
			  2, (Oid[]) {INT8OID, INT4OID}, args, NULL, SPI_OK_SELECT);
	n = SPI_processed;
	aliases = palloc(sizeof(char *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
		aliases[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
	if (n > 0 && !force)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("version %d of model \"%s\" is in use by alias \"%s\"", version, name, aliases[0]),
				 errhint("Deploy another version first, or pass force => true to remove its aliases too.")));
	for (uint64 i = 0; i < n; i++)
		Deploy(model_id, aliases[i], 0, version, caller, reason);
	return model_id;
}

/*
 * ml_delete_version(model_name, version, force DEFAULT false) -> void:
 * delete a version. One that is deployed or has an alias is kept unless
 * force, which first removes those aliases (recorded in ml.deployments, so
 * that the model may then serve no version). The version's deployment
 * history stays.
 */
Datum
ml_delete_version(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		version = PG_GETARG_INT32(1);
	RegistryWriteScope scope;
	Datum		args[2];

	RegistryBeginWrite(&scope);
	args[0] = Int64GetDatum(ReleaseVersion(name, version, PG_GETARG_BOOL(2), scope.caller,
										   psprintf("version %d deleted", version)));
	args[1] = Int32GetDatum(version);
	ExecWrite("DELETE FROM ml.model_versions WHERE model_id = $1 AND version = $2",
			  2, (Oid[]) {INT8OID, INT4OID}, args, NULL, SPI_OK_DELETE);
	RegistryEndWrite(&scope);
	PG_RETURN_VOID();
}

/*
 * ml_archive_version(model_name, version, archived DEFAULT true, force
 * DEFAULT false) -> void: archive a version: it stays, addressable as
 * name@version, but no alias may point to it again (one in use only with
 * force, as ml_delete_version); archived false restores it.
 */
Datum
ml_archive_version(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		version = PG_GETARG_INT32(1);
	bool		archive = PG_GETARG_BOOL(2);
	RegistryWriteScope scope;
	Datum		args[3];

	RegistryBeginWrite(&scope);
	if (archive)
		args[0] = Int64GetDatum(ReleaseVersion(name, version, PG_GETARG_BOOL(3), scope.caller,
											   psprintf("version %d archived", version)));
	else
	{
		int32		deployed;

		args[0] = Int64GetDatum(LockModel(name, &deployed));
	}
	args[1] = Int32GetDatum(version);
	args[2] = BoolGetDatum(archive);
	ExecWrite("UPDATE ml.model_versions SET archived_at = CASE WHEN $3 THEN now() END"
			  " WHERE model_id = $1 AND version = $2",
			  3, (Oid[]) {INT8OID, INT4OID, BOOLOID}, args, NULL, SPI_OK_UPDATE);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no version %d", name, version),
				 errhint("ml.model_versions lists the versions of each model.")));
	RegistryEndWrite(&scope);
	PG_RETURN_VOID();
}

/*
 * ml_rollback(model_name, alias DEFAULT 'production') -> int: move an alias
 * back to the version it pointed to before its latest deployment that is
 * still in effect, and return that version. The history is a stack:
 * each rollback undoes one deployment, so repeated rollbacks walk back.
 */
Datum
ml_rollback(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *alias = text_to_cstring(PG_GETARG_TEXT_PP(1));
	RegistryWriteScope scope;
	int32		deployed,
				target = 0;
	int64		model_id;
	int			undone = 0;
	Datum		args[2];

	RegistryBeginWrite(&scope);
	model_id = LockModel(name, &deployed);
	args[0] = Int64GetDatum(model_id);
	args[1] = CStringGetTextDatum(alias);
	ExecWrite("SELECT reason = 'rollback', previous_version FROM ml.deployments"
			  " WHERE model_id = $1 AND alias = $2 ORDER BY deployment_id DESC",
			  2, (Oid[]) {INT8OID, TEXTOID}, args, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bool		is_rollback = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc, 1, &isnull));
		Datum		previous = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

		/* each rollback cancels the most recent deployment not yet cancelled */
		if (is_rollback)
			undone++;
		else if (undone > 0)
			undone--;
		else
		{
			target = isnull ? 0 : DatumGetInt32(previous);
			break;
		}
	}
	if (target == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("alias \"%s\" of model \"%s\" has no earlier version to roll back to",
						alias, name),
				 errhint("ml.deployments shows the history of each alias.")));
	args[1] = Int32GetDatum(target);
	ExecWrite("SELECT FROM ml.model_versions WHERE model_id = $1 AND version = $2",
			  2, (Oid[]) {INT8OID, INT4OID}, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("alias \"%s\" of model \"%s\" would roll back to version %d, which was deleted",
						alias, name, target),
				 errhint("Deploy an existing version with ml_deploy().")));
	Deploy(model_id, alias, target, AliasVersion(model_id, alias, deployed), scope.caller,
		   "rollback");
	RegistryEndWrite(&scope);
	PG_RETURN_INT32(target);
}

/* ml_model(model_name [, version]) -> mlmodel: deployed or given version. */
Datum
ml_model(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		version = PG_NARGS() > 1 ? PG_GETARG_INT32(1) : 0;
	ModelRef	ref;

	if (PG_NARGS() > 1 && version < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model version must be positive, got %d", version),
				 errhint("Versions are numbered from 1; ml.model_versions lists them.")));
	RegistryResolve(name, version, &ref);
	PG_RETURN_POINTER(RegistryFetchModel(name, &ref));
}
