/*
 * mlsys.c -- module entry point and extension-wide helpers.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "mlsys.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	LinalgInit();
	MetricsInit();
	SchedulerInit();
	BoosterInit();
	XGBoostInit();
	PredictionLogInit();
	MarkGUCPrefixReserved("mlsys");
}

/*
 * The schema CREATE EXTENSION put mlsys's functions and types in (core's
 * get_extension_schema is not exported before PostgreSQL 16).
 */
static Oid
MlsysSchemaOid(void)
{
	Oid			ext = get_extension_oid("mlsys", false);
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			schema;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "could not find extension %u", ext);
	schema = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return schema;
}

Oid
MlsysModelTypeOid(void)
{
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum("mlmodel"),
						   ObjectIdGetDatum(MlsysSchemaOid()));
}

/* "schema"."object_name" for an object of the extension, for use in SQL. */
char *
MlsysQualify(const char *object_name)
{
	return quote_qualified_identifier(get_namespace_name(MlsysSchemaOid()), object_name);
}
