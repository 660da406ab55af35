/*
 * train.h -- one training run (ml_train) and its hyper-parameter search.
 */
#ifndef MLSYS_TRAIN_H
#define MLSYS_TRAIN_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "jsonopt.h"
#include "model.h"

/*
 * ridge, lasso and elastic_net are linear regression with scikit-learn's
 * parameters (alpha, l1_ratio), turned into l1 and l2 once the number of
 * training rows is known (see train_linear.c for the objective).
 */
typedef enum Algorithm
{
	ALGORITHM_LINEAR,
	ALGORITHM_RIDGE,
	ALGORITHM_LASSO,
	ALGORITHM_ELASTIC_NET,
	ALGORITHM_LOGISTIC,
	ALGORITHM_NAIVE_BAYES,
	ALGORITHM_KMEANS,			/* the one without a target */
	ALGORITHM_XGBOOST,			/* trees: regression or classification */
	ALGORITHM_RANDOM_FOREST
} Algorithm;

#define AlgorithmIsClassifier(a) ((a) == ALGORITHM_LOGISTIC || (a) == ALGORITHM_NAIVE_BAYES)
#define AlgorithmIsTree(a) ((a) == ALGORITHM_XGBOOST || (a) == ALGORITHM_RANDOM_FOREST)

/* The values a hyper-parameter takes in a search: a list, or a range. */
typedef struct SearchParam
{
	const char *name;
	double	   *field;			/* the TrainJob field it sets */
	int			n_values;		/* list: n_values > 0 */
	double	   *values;
	double		lo;				/* range (random search only) */
	double		hi;
	bool		log_scale;
} SearchParam;

#define MAX_SEARCH_PARAMS 14	/* every hyper-parameter of tune.c */

/* One training run: what was asked, and what has been learned so far. */
typedef struct TrainJob
{
	char	   *model_name;
	Algorithm	algorithm;
	bool		classify;		/* a classifier (trees: decided by the target) */
	char	   *source;
	char	   *from;			/* FROM clause item of the source */
	char	   *train_rows;		/* WHERE clause of the training rows */
	char	   *test_rows;		/* WHERE clause of the holdout rows */
	char	   *fit_rows;		/* WHERE clause of the rows being fitted now */
	char	   *row_hash;		/* SQL: a row's seeded hash in [0, 2^31) */
	char	   *target;			/* NULL for kmeans */
	char	   *target_sql;		/* qualified, quoted target column, or NULL */
	char	   *time_column;	/* split by time, or NULL */
	char	  **constant_levels;	/* per input: categorical constant fill */
	Jsonb	   *params;
	double		test_fraction;
	int			seed;
	double		l1;
	double		l2;
	double		alpha;			/* ridge, lasso, elastic_net */
	double		l1_ratio;		/* elastic_net */
	double		var_smoothing;	/* naive_bayes */
	int			k;				/* kmeans */
	/* trees (max_depth and n_estimators are whole numbers) */
	double		max_depth;
	double		learning_rate;
	double		n_estimators;
	double		min_child_weight;
	double		subsample;
	double		colsample_bytree;
	double		reg_lambda;
	double		reg_alpha;
	double		gamma;
	Jsonb	   *init;			/* kmeans: given initial centres, or NULL */
	bool		fit_intercept;
	int			max_iter;
	double		tol;
	/* hyper-parameter search and cross-validation */
	int			n_search;
	SearchParam search[MAX_SEARCH_PARAMS];
	bool		random_search;
	int			n_iter;
	int			cv;				/* folds, 0 for none */
	char	   *metric;			/* what the search and "deploy": "if_better" optimise */
	bool		deploy_if_better;
	bool		baseline;		/* this fit is the final one: record histograms */
	Model	   *model;			/* inputs and classes; parameters once fitted */
	int			iterations;
} TrainJob;

extern const JsonContext train_ctx;

extern void TrainFit(TrainJob *job, const char *rows);
extern Jsonb *TrainEvaluate(TrainJob *job, const char *rows, int64 *n);
extern void TrainProgress(TrainJob *job, const char *fmt,...) pg_attribute_printf(2, 3);

extern void TuneParseSearch(TrainJob *job);
extern void TuneChooseMetric(TrainJob *job);
extern Jsonb *TuneRun(TrainJob *job, StringInfo trials);
extern bool TuneHigherIsBetter(const char *metric);

#endif							/* MLSYS_TRAIN_H */
