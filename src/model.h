/*
 * model.h -- the mlmodel value: in-memory form and its stored format.
 *
 * A Model is the deserialised, validated form used by training and
 * inference. It holds the model's inputs (named columns with the
 * preprocessing learned at training), the classes of a classifier, and the
 * fitted parameters, which act on the design vector the inputs expand to.
 * The stored form (a varlena) is described in model.c.
 */
#ifndef MLSYS_MODEL_H
#define MLSYS_MODEL_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"

/* Upper bound on inputs and on design columns; keeps X'X at a few MB. */
#define MLSYS_MAX_FEATURES 1000

/* Bytes of the stored header (magic to checksum), see model.c. */
#define MODEL_HEADER_BYTES 24

/* Largest stored booster of a tree model, in bytes. */
#define MLSYS_MAX_BOOSTER_BYTES (512 * 1024 * 1024)

/* Most histogram bins of a numeric input's training distribution. */
#define MLSYS_MAX_BINS 100

/* Upper bound on classes of a classifier and on levels of a category. */
#define MLSYS_MAX_CLASSES 1000

/* Longest input, target or category name. */
#define MLSYS_MAX_NAME_LEN (NAMEDATALEN - 1)

/* Stored in the value: never renumber, only append. */
typedef enum ModelKind
{
	MODEL_KIND_LINEAR_REGRESSION = 1,
	MODEL_KIND_LOGISTIC_REGRESSION = 2,
	MODEL_KIND_NAIVE_BAYES = 3,
	MODEL_KIND_KMEANS = 4,
	MODEL_KIND_XGBOOST = 5		/* gradient-boosted trees or a random forest */
} ModelKind;

typedef enum InputType
{
	INPUT_NUMERIC = 1,			/* one design column */
	INPUT_CATEGORICAL = 2		/* levels 2..n become indicator columns */
} InputType;

/* What replaces a NULL (or, for a category, an unseen level). */
typedef enum ImputeStrategy
{
	IMPUTE_ERROR = 0,
	IMPUTE_MEAN = 1,
	IMPUTE_MEDIAN = 2,
	IMPUTE_MODE = 3,
	IMPUTE_CONSTANT = 4,
	IMPUTE_MISSING = 5			/* tree models: passed on as a missing value */
} ImputeStrategy;

typedef enum ScaleStrategy
{
	SCALE_NONE = 0,
	SCALE_STANDARD = 1,
	SCALE_MINMAX = 2
} ScaleStrategy;

/* Training statistics of one input, before preprocessing. */
typedef struct InputStats
{
	int64		n_null;
	double		mean;			/* numeric inputs: of the non-NULL values */
	double		stddev;			/* sample standard deviation */
	double		min;
	double		max;
	int64	   *category_counts;	/* categorical: [n_categories] */
	/* numeric: histogram over training quantiles (n_bins = 0: none) */
	int			n_bins;
	double	   *bin_edges;		/* [n_bins + 1], increasing */
	int64	   *bin_counts;		/* [n_bins] */
} InputStats;

/*
 * One input column and the preprocessing learned for it. A numeric value
 * x becomes (x - center) / scale; a category becomes indicators for all
 * levels but the first (the reference level).
 */
typedef struct ModelInput
{
	char	   *name;
	InputType	type;
	ImputeStrategy impute;
	ScaleStrategy scale;
	double		fill;			/* numeric: replaces NULL */
	int			fill_level;		/* categorical: level replacing NULL/unseen, -1 none */
	double		center;
	double		scale_by;		/* > 0 */
	int			n_levels;		/* categorical: sorted distinct levels */
	char	  **levels;
	InputStats	stats;
} ModelInput;

typedef struct Model
{
	ModelKind	kind;
	char	   *target;			/* may be "" */
	int64		n_rows;			/* training rows */
	int			n_inputs;
	ModelInput *inputs;
	int			n_design;		/* design vector length, derived from inputs */

	/* classifiers: class labels in text form, in the label type's order */
	int			n_classes;
	char	  **classes;

	bool		fit_intercept;
	double		l1;				/* lasso penalty (linear regression) */
	double		l2;

	/*
	 * Parameters: n_sets sets of ModelSetWidth() values. Regression sets are
	 * an intercept and one coefficient per design column; linear regression
	 * and binary logistic regression have one set (for the latter, of the
	 * second class), multinomial logistic regression one per class. Naive
	 * Bayes has one set per class: log prior, then a mean and a variance per
	 * design column.
	 */
	int			n_sets;
	double	   *coef;

	/*
	 * Ordinary least squares only: the standard error of each parameter
	 * (n_std_errors = 1 + n_design), else n_std_errors = 0.
	 */
	int			n_std_errors;
	double	   *std_errors;

	/*
	 * Tree models: XGBoost's booster in its own portable format (UBJSON), for
	 * regression or, with classes, classification by the class's index.
	 */
	uint32		booster_len;
	char	   *booster;

	/*
	 * The distribution of the model's output on its holdout (or training)
	 * rows, the baseline of prediction drift; n_outputs = 0: none. A
	 * regression's values in n_outputs bins between n_outputs + 1 edges
	 * (output_edges non-NULL), or the count of each class (classifiers) or
	 * cluster (k-means).
	 */
	int			n_outputs;
	double	   *output_edges;
	int64	   *output_counts;
} Model;

/* Names of the enums, as used in params and in the text form. */
extern const char *ModelKindName(ModelKind kind);
extern const char *ImputeName(ImputeStrategy s);
extern const char *ScaleName(ScaleStrategy s);

extern void ModelDeriveDesign(Model *model);
extern void ModelValidate(const Model *model);
extern struct varlena *ModelSerialize(const Model *model);
extern Model *ModelDeserialize(const struct varlena *value);
extern void ModelAppendParamsJson(StringInfo buf, const Model *model);
extern double StudentTwoSidedP(double t, double df);
extern char *ModelImportanceJson(const Model *model);	/* importance.c */

#define ModelIsClassifier(m) \
	((m)->kind == MODEL_KIND_LOGISTIC_REGRESSION || (m)->kind == MODEL_KIND_NAIVE_BAYES || \
	 ((m)->kind == MODEL_KIND_XGBOOST && (m)->n_classes > 0))

extern int	ModelSetWidth(const Model *model);
extern bool ModelsTakeSameInputs(const Model *a, const Model *b);

#endif							/* MLSYS_MODEL_H */
