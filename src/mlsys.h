/*
 * mlsys.h -- extension-wide helpers: where the extension's objects live.
 */
#ifndef MLSYS_MLSYS_H
#define MLSYS_MLSYS_H

#include "postgres.h"

/* PostgreSQL 18 has pg_noreturn, placed first; earlier majors do not. */
#ifndef pg_noreturn
#define pg_noreturn __attribute__((noreturn))
#endif

extern Oid	MlsysModelTypeOid(void);
extern char *MlsysQualify(const char *object_name);

/* Per-subsystem start-up, called from _PG_init. */
extern void LinalgInit(void);
extern void MetricsInit(void);
extern void SchedulerInit(void);
extern void BoosterInit(void);
extern void XGBoostInit(void);
extern void PredictionLogInit(void);

/* mlsys.database (set only when preloaded) */
extern const char *MlsysDatabase(void);

#endif							/* MLSYS_MLSYS_H */
