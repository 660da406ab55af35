/*
 * model.h -- the mlmodel value: in-memory form and its stored format.
 *
 * A Model is the deserialised, validated form used by training and
 * inference. The stored form (a varlena) is described in model.c.
 */
#ifndef MLSYS_MODEL_H
#define MLSYS_MODEL_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"

/* Upper bound on features per model; keeps X'X (8 * p^2 bytes) at a few MB. */
#define MLSYS_MAX_FEATURES 1000

/* Longest feature or target name: a column name. */
#define MLSYS_MAX_NAME_LEN (NAMEDATALEN - 1)

/* Stored in the value: never renumber, only append. */
typedef enum ModelKind
{
	MODEL_KIND_LINEAR_REGRESSION = 1
} ModelKind;

/* Linear regression: prediction = intercept + coef . x */
typedef struct LinearModel
{
	bool		fit_intercept;	/* false: intercept is 0 by construction */
	double		l2;				/* ridge penalty the model was fitted with */
	double		intercept;
	double	   *coef;			/* [n_features] */
	double	   *feature_mean;	/* [n_features] training mean */
	double	   *feature_stddev; /* [n_features] training sample stddev */
} LinearModel;

typedef struct Model
{
	ModelKind	kind;
	int			n_features;
	char	  **features;		/* [n_features] names, unique */
	char	   *target;			/* target name, may be "" */
	int64		n_rows;			/* training rows */
	LinearModel linear;
} Model;

extern const char *ModelKindName(ModelKind kind);
extern void ModelValidate(const Model *model);
extern struct varlena *ModelSerialize(const Model *model);
extern Model *ModelDeserialize(const struct varlena *value);
extern double ModelPredict(const Model *model, const double *x);
extern void ModelAppendParamsJson(StringInfo buf, const Model *model);

#endif							/* MLSYS_MODEL_H */
