/*
 * jsonopt.h -- typed, validated access to the keys of a jsonb object.
 *
 * Used for training parameters and for the text form of mlmodel. Every
 * error names the context (ctx->what) and the key, with the SQLSTATE the
 * caller chose.
 */
#ifndef MLSYS_JSONOPT_H
#define MLSYS_JSONOPT_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "mlsys.h"

typedef struct JsonContext
{
	int			errcode;		/* SQLSTATE for every error raised */
	const char *what;			/* e.g. "linear regression parameters" */
} JsonContext;

extern void JsonCheckKeys(const JsonContext *ctx, Jsonb *jb,
						  const char *const *allowed);
extern bool JsonHasKey(Jsonb *jb, const char *key);
extern bool JsonGetNumber(const JsonContext *ctx, Jsonb *jb, const char *key,
						  double *out);
extern bool JsonGetBool(const JsonContext *ctx, Jsonb *jb, const char *key,
						bool *out);
extern bool JsonGetString(const JsonContext *ctx, Jsonb *jb, const char *key,
						  char **out);
extern int	JsonGetNumberArray(const JsonContext *ctx, Jsonb *jb,
							   const char *key, double **out);
extern int	JsonNumbers(const JsonContext *ctx, Jsonb *jb, const char *what,
						double **out);
extern Jsonb *JsonGetObject(const JsonContext *ctx, Jsonb *jb, const char *key);
extern int	JsonGetArrayItems(const JsonContext *ctx, Jsonb *jb, const char *key,
							  Jsonb ***items);
extern int	JsonGetStringArray(const JsonContext *ctx, Jsonb *jb,
							   const char *key, char ***out);
extern pg_noreturn void JsonMissingKey(const JsonContext *ctx, const char *key);
extern Jsonb *JsonParse(const char *text);
extern void JsonAppendNumber(StringInfo buf, double v);

#endif							/* MLSYS_JSONOPT_H */
