/*
 * drift.h -- binned drift states and their statistics (drift.c), shared by
 * the per-column drift aggregates and the one-scan ml.drift_scan
 * (drift_scan.c).
 */
#ifndef MLSYS_DRIFT_H
#define MLSYS_DRIFT_H

#include "postgres.h"

#include "lib/stringinfo.h"

typedef enum DriftKind
{
	DRIFT_NUMERIC = 1,
	DRIFT_CATEGORICAL = 2
} DriftKind;

/* The extra cells after the k bins, in counts[]. */
#define CELL_BELOW(k)	(k)
#define CELL_ABOVE(k)	((k) + 1)	/* categorical: unseen levels */
#define CELL_NULL(k)	((k) + 2)
#define N_CELLS(k)		((k) + 3)

typedef struct DriftState
{
	DriftKind	kind;
	int			k;				/* bins, or levels */
	double	   *edges;			/* numeric: [k + 1] */
	char	  **levels;			/* categorical: [k], not terminated */
	int		   *level_lens;		/* categorical: [k] byte lengths */
	int		   *sorted;			/* categorical: level indexes in LevelCmp order */
	double	   *baseline;		/* [k] */
	double		baseline_null;
	int64		n;				/* rows, NULL values included */
	int64	   *counts;			/* [N_CELLS(k)], see CELL_* */
	/* The first row's arguments, to check later rows (transition states only). */
	char	   *arg_bins;
	int			arg_bins_len;
	char	   *arg_baseline;
	int			arg_baseline_len;
} DriftState;

/* New states with validated baselines, in the current memory context. */
extern DriftState *DriftNumericState(int k, const double *edges, const double *baseline,
									 double baseline_null);
extern DriftState *DriftCategoricalState(int k, char *const *levels, const double *baseline,
										 double baseline_null);
extern DriftState *DriftStateCopy(const DriftState *src);
extern void DriftStateAdd(DriftState *into, const DriftState *from);

/* The cell of a value: a bin or CELL_BELOW / CELL_ABOVE. */
extern int	DriftNumericCell(const DriftState *s, double v);
extern int	DriftCategoricalCell(const DriftState *s, const char *v, int len);

/* The versioned binary form of a state, for parallel aggregation. */
extern void DriftStateWrite(StringInfo buf, const DriftState *s);
extern DriftState *DriftStateRead(StringInfo buf);

/* Statistics of a state with rows (s->n > 0); see drift.c. */
extern double DriftPsi(const DriftState *s);
extern double DriftJsDivergence(const DriftState *s);
extern bool DriftKs(const DriftState *s, double *ks);
extern void DriftChiSquare(const DriftState *s, double *statistic, double *p_value, double *dof);

#endif							/* MLSYS_DRIFT_H */
