/*
 * linalg.c -- thin wrappers over OpenBLAS / LAPACKE.
 *
 * Everything here works on caller-owned buffers; nothing allocates, so the
 * callers' memory contexts own all memory.
 */
#include "postgres.h"

#include <math.h>

#include <cblas.h>
#include <lapacke.h>

#include "utils/guc.h"

#include "linalg.h"
#include "mlsys.h"

static int	blas_threads = 1;

static void
AssignBlasThreads(int newval, void *extra)
{
	openblas_set_num_threads(newval);
}

/*
 * mlsys.blas_threads: OpenBLAS threads per backend. Default 1: a backend is
 * one process among many, and parallel query already uses the cores.
 */
void
LinalgInit(void)
{
	DefineCustomIntVariable("mlsys.blas_threads",
							"Number of OpenBLAS threads one backend may use.",
							"Parallelism normally comes from parallel query; raise this only for few, large fits.",
							&blas_threads, 1, 1, 64, PGC_USERSET, 0,
							NULL, AssignBlasThreads, NULL);
}

/*
 * gram += rows' * rows for nrows rows of p values stored row after row:
 * one BLAS-3 rank-k update (dsyrk) per batch instead of a rank-1 update
 * per row.
 */
void
LinalgGramUpdate(int p, int nrows, const double *rows, double *gram)
{
	/* Row-major nrows x p is column-major p x nrows: C += A A'. */
	cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, p, nrows,
				1.0, rows, p, 1.0, gram, p);
}

/* gram += alpha * x x' (upper triangle). */
void
LinalgRank1Update(int p, double alpha, const double *x, double *gram)
{
	cblas_dsyr(CblasColMajor, CblasUpper, p, alpha, x, 1, gram, p);
}

/*
 * Solve a x = b for symmetric positive semi-definite a (upper triangle),
 * overwriting b with x and a with its factor.
 *
 * a is first scaled to unit diagonal (a correlation-like matrix), so that
 * rank_tol is relative and independent of the columns' units; then a
 * Cholesky factorisation with complete pivoting (dpstrf) finds the
 * numerical rank. Returns -1 on success, or the 0-based index of a column
 * that is (numerically) a linear combination of others, in which case b
 * is left undefined. The diagonal of a must be positive.
 */
int
LinalgSolveSpd(int p, double *a, double *b, double rank_tol)
{
	double	   *scale = palloc(sizeof(double) * p);
	double	   *z = palloc(sizeof(double) * p);
	lapack_int *piv = palloc(sizeof(lapack_int) * p);
	lapack_int	rank;
	lapack_int	info;

	for (int j = 0; j < p; j++)
		scale[j] = 1.0 / sqrt(a[j + j * p]);
	for (int j = 0; j < p; j++)
		for (int i = 0; i <= j; i++)
			a[i + j * p] *= scale[i] * scale[j];

	info = LAPACKE_dpstrf(LAPACK_COL_MAJOR, 'U', p, a, p, piv, &rank, rank_tol);
	if (info < 0)
		elog(ERROR, "dpstrf: invalid argument %d", (int) -info);
	if (rank < p)
		return piv[rank] - 1;

	/* P' S P = U'U: solve with the permuted right-hand side, then undo P. */
	for (int j = 0; j < p; j++)
		z[j] = b[piv[j] - 1] * scale[piv[j] - 1];
	info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', p, 1, a, p, z, p);
	if (info != 0)
		elog(ERROR, "dpotrs failed: %d", (int) info);
	for (int j = 0; j < p; j++)
		b[piv[j] - 1] = z[j] * scale[piv[j] - 1];

	pfree(scale);
	pfree(z);
	pfree(piv);
	return -1;
}

/*
 * Invert symmetric positive definite a (upper triangle) in place, into the
 * upper triangle of its inverse. Returns false if a is not definite.
 */
bool
LinalgInvertSpd(int p, double *a)
{
	return LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', p, a, p) == 0 &&
		LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', p, a, p) == 0;
}
