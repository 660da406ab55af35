/*
 * linalg.h -- thin wrappers over OpenBLAS / LAPACKE.
 *
 * Matrices are dense, column-major, p x p, with only the upper triangle
 * maintained for symmetric ones (BLAS 'U').
 */
#ifndef MLSYS_LINALG_H
#define MLSYS_LINALG_H

#include "postgres.h"

extern void LinalgGramUpdate(int p, int nrows, const double *rows, double *gram);
extern void LinalgRank1Update(int p, double alpha, const double *x, double *gram);
extern int	LinalgSolveSpd(int p, double *a, double *b, double rank_tol);
extern bool LinalgInvertSpd(int p, double *a);

#endif							/* MLSYS_LINALG_H */
