/*
 * mlsys.h -- extension-wide helpers: where the extension's objects live.
 */
#ifndef MLSYS_MLSYS_H
#define MLSYS_MLSYS_H

#include "postgres.h"

extern Oid	MlsysModelTypeOid(void);
extern char *MlsysQualify(const char *object_name);

/* Per-subsystem start-up, called from _PG_init. */
extern void LinalgInit(void);

#endif							/* MLSYS_MLSYS_H */
