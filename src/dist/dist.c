/* dist.c — the MPI backend of terragrad/dist.h, or the single-process one.
 * Why collectives on flat buffers: parameters and gradients live in one tg_params
 * buffer each, so a training step needs exactly one allreduce of the gradient. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad.h"

#ifdef TG_MPI
#include <mpi.h>
#endif

static int rank_, size_ = 1, active_;

static int launched_size(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0)
            return atoi(v);
    }
    return 0;
}

int tg_dist_init(int *argc, char ***argv)
{
    int launched = launched_size();
#ifdef TG_MPI
    if (launched > 0) {
        int provided;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return tg_error_set(TG_EEXTERNAL, "MPI_Init failed");
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        active_ = 1;
    }
#else
    (void)argc;
    (void)argv;
    if (launched > 1)
        return tg_error_set(TG_ESTATE, "launched with %d ranks, but this terragrad was built without MPI "
                                       "(configure with -DTG_WITH_MPI=ON)", launched);
#endif
    return 0;
}

void tg_dist_finalize(void)
{
#ifdef TG_MPI
    if (active_)
        MPI_Finalize();
#endif
    active_ = 0;
}

int tg_dist_rank(void) { return rank_; }
int tg_dist_size(void) { return size_; }
int tg_dist_is_root(void) { return rank_ == 0; }
const char *tg_dist_backend(void) { return active_ ? "MPI" : "serial"; }

#ifdef TG_MPI
/* In-place allreduce of n values, in chunks that keep MPI's int counts in range. */
static int allreduce(void *x, size_t n, size_t elem, MPI_Datatype type, MPI_Op op)
{
    if (!active_ || size_ < 2)
        return 0;
    const size_t chunk = (size_t)1 << 30;
    for (size_t off = 0; off < n; off += chunk) {
        int cnt = (int)(n - off < chunk ? n - off : chunk);
        if (MPI_Allreduce(MPI_IN_PLACE, (char *)x + off * elem, cnt, type, op, MPI_COMM_WORLD) != MPI_SUCCESS)
            return tg_error_set(TG_EEXTERNAL, "MPI_Allreduce of %zu values failed", n);
    }
    return 0;
}
#endif

int tg_dist_sum_real(tg_real *x, size_t n)
{
#ifdef TG_MPI
#ifdef TG_DOUBLE
    return allreduce(x, n, sizeof *x, MPI_DOUBLE, MPI_SUM);
#else
    return allreduce(x, n, sizeof *x, MPI_FLOAT, MPI_SUM);
#endif
#else
    (void)x;
    (void)n;
    return 0;
#endif
}

int tg_dist_sum_double(double *x, size_t n)
{
#ifdef TG_MPI
    return allreduce(x, n, sizeof *x, MPI_DOUBLE, MPI_SUM);
#else
    (void)x;
    (void)n;
    return 0;
#endif
}

int tg_dist_max_int(int *x, size_t n)
{
#ifdef TG_MPI
    return allreduce(x, n, sizeof *x, MPI_INT, MPI_MAX);
#else
    (void)x;
    (void)n;
    return 0;
#endif
}

void tg_dist_barrier(void)
{
#ifdef TG_MPI
    if (active_ && size_ > 1)
        MPI_Barrier(MPI_COMM_WORLD);
#endif
}
