/* terragrad/dist.h — data-parallel training across processes (MPI) with one code path:
 * without MPI (or when not launched by mpirun) there is one rank and every collective is
 * the identity, so a config trains the same with `terragrad train` and
 * `mpirun -np N terragrad train`. */
#ifndef TERRAGRAD_DIST_H
#define TERRAGRAD_DIST_H

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Starts MPI when the process was launched by mpirun/srun (environment tells), else
 * stays single-process. A non-MPI build launched with several ranks is an error. */
TG_API int tg_dist_init(int *argc, char ***argv);
TG_API void tg_dist_finalize(void);
TG_API int tg_dist_rank(void);
TG_API int tg_dist_size(void);
TG_API int tg_dist_is_root(void);          /* rank 0: logs, checkpoints, summary files */
/* In-place sums over all ranks (every rank gets the same result). */
TG_API int tg_dist_sum_real(tg_real *x, size_t n);
TG_API int tg_dist_sum_double(double *x, size_t n);
TG_API int tg_dist_max_int(int *x, size_t n);
TG_API void tg_dist_barrier(void);
TG_API const char *tg_dist_backend(void);  /* "MPI" or "serial" */

#ifdef __cplusplus
}
#endif
#endif
