/* lstm_kernels.c — a single-layer LSTM over a whole sequence on flat arrays: forward and
 * hand-written backward (derivation: docs/lstm_backward.md).
 *
 * Work split, forward:  one GEMM for the input projection of all T steps, then per step
 *   one recurrent GEMM h_{t-1} W_hh^T (beta = 1 onto the projection) and one fused cell
 *   kernel. backward: per step one fused cell kernel producing dL/da_t (stored over the
 *   saved gates) and one GEMM dL/da_t W_hh for the recurrence; the weight gradients are
 *   three large GEMMs over all T*B rows at the end, never per step.
 * Threads: the batch is cut into `chunks` fixed row blocks; rows of different blocks never
 *   interact through time, so each block runs its whole sequence on one thread with
 *   single-threaded BLAS — no barrier per step, and the same bits on any thread count.
 *   On one thread the blocks advance in lock step with ONE recurrent GEMM over all rows per
 *   step when the BLAS gives each row the same bits either way (checked once per shape,
 *   below) — a 256-row product runs 8-15% faster than two 128-row ones. */
#include <omp.h>
#include <string.h>

#include "core/scratch.h"
#include "nn/nn_internal.h"

/* Below this many multiply-adds per sequence, waking a second thread costs more than it
 * saves (and on a loaded machine far more). Chunking itself is unaffected. */
#define TG_LSTM_PAR_MIN 4e6

int tg_lstm_auto_chunks(int B) { return B >= 32 ? 2 : 1; }

static int fix_chunks(int chunks, int B)
{
    if (chunks <= 0)
        chunks = tg_lstm_auto_chunks(B);
    return chunks > B ? B : chunks;
}

static inline int chunk_lo(int B, int chunks, int ch) { return (int)((long long)B * ch / chunks); }

/* ---------------------------------------------------------------- row invariance probe */
/* Does C = A op(B) + beta C computed in ONE call over M rows equal, bit for bit, the same
 * product computed in `chunks` row blocks? OpenBLAS's SkylakeX sgemm kernels: yes; its
 * Haswell kernels: no (measured). A kernel's arithmetic order depends on the shapes and
 * never on the values, so one probe with arbitrary data answers for this shape. Called
 * with OpenBLAS single-threaded (inside tg_nn_threads_enter). */
typedef struct probe_entry {
    int M, N, K, trans_b, beta_one, chunks, result;
} probe_entry;

static int probe_compute(int M, int N, int K, int trans_b, int beta_one, int chunks)
{
    const size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    tg_real *buf = tg_malloc(sizeof(tg_real) * (na + nb + 2 * nc));
    if (!buf)
        return 0;                          /* unknown: stay with per-block calls */
    tg_real *A = buf, *Bm = A + na, *C1 = Bm + nb, *C2 = C1 + nc;
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < na + nb + nc; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        buf[i] = (tg_real)((double)(s >> 11) * 0x1.0p-53 - 0.5);
    }
    memcpy(C2, C1, sizeof(tg_real) * nc);
    const int ldb = trans_b ? K : N;
    const tg_real beta = beta_one ? TG_R(1.0) : TG_R(0.0);
    tg_nn_blas(0, trans_b, M, N, K, TG_R(1.0), A, K, Bm, ldb, beta, C1, N);
    for (int ch = 0; ch < chunks; ch++) {
        const int m0 = chunk_lo(M, chunks, ch), m1 = chunk_lo(M, chunks, ch + 1);
        tg_nn_blas(0, trans_b, m1 - m0, N, K, TG_R(1.0), A + (size_t)m0 * K, K, Bm, ldb, beta,
                   C2 + (size_t)m0 * N, N);
    }
    int same = memcmp(C1, C2, sizeof(tg_real) * nc) == 0;
    tg_free(buf, sizeof(tg_real) * (na + nb + 2 * nc));
    return same;
}

static int rows_invariant(int M, int N, int K, int trans_b, int beta_one, int chunks)
{
    enum { CACHE = 32 };
    static probe_entry cache[CACHE];
    static int n_cache;
    int result = -1;
#pragma omp critical(tg_lstm_probe)
    {
        for (int i = 0; i < n_cache && result < 0; i++) {
            const probe_entry *e = &cache[i];
            if (e->M == M && e->N == N && e->K == K && e->trans_b == trans_b && e->beta_one == beta_one &&
                e->chunks == chunks)
                result = e->result;
        }
        if (result < 0) {
            result = probe_compute(M, N, K, trans_b, beta_one, chunks);
            if (n_cache < CACHE)
                cache[n_cache++] = (probe_entry){M, N, K, trans_b, beta_one, chunks, result};
        }
    }
    return result;
}

/* ---------------------------------------------------------------- forward */
typedef struct fwd_args {
    tg_real *h, *c, *gates;
    const tg_real *whhT, *b_ih, *b_hh, *h0, *c0;
    int T, B, H;
} fwd_args;

/* Steps t of rows [b0, b1): recurrent GEMM (one call for these rows) then the cell. */
static void fwd_step(const fwd_args *a, int t, int b0, int b1)
{
    const int H = a->H, G = 4 * H, R = b1 - b0;
    const size_t BH = (size_t)a->B * (size_t)H, ro = (size_t)b0 * (size_t)H;
    tg_real *g = a->gates + (size_t)t * (size_t)a->B * (size_t)G + (size_t)b0 * (size_t)G;   /* (R, 4H) */
    const tg_real *hp = t ? a->h + (size_t)(t - 1) * BH : a->h0;                             /* (B, H) */
    const tg_real *cp = t ? a->c + (size_t)(t - 1) * BH : a->c0;
    if (hp)
        tg_nn_blas(0, 0, R, G, H, TG_R(1.0), hp + ro, H, a->whhT, G, TG_R(1.0), g, G);
    tg_lstm_cell_forward(g, a->c + (size_t)t * BH + ro, a->h + (size_t)t * BH + ro, cp ? cp + ro : NULL, a->b_ih,
                         a->b_hh, R, H);
}

int tg_lstm_forward(tg_real *h, tg_real *c, tg_real *gates, const tg_real *x, const tg_real *w_ih,
                    const tg_real *w_hh, const tg_real *b_ih, const tg_real *b_hh, const tg_real *h0,
                    const tg_real *c0, int T, int B, int F, int H, int chunks)
{
    const int G = 4 * H;
    chunks = fix_chunks(chunks, B);
    /* W_hh^T (H, 4H) once per sequence: the per-step product then packs its right factor
     * without transposing (3-6% faster per step than the transposed call, measured). */
    tg_real *whhT = tg__scratch_get(TG__SCRATCH_LSTM_WHHT, sizeof(tg_real) * (size_t)G * (size_t)H);
    if (!whhT)
        return TG_ENOMEM;
    for (int k = 0; k < G; k++)
        for (int j = 0; j < H; j++)
            whhT[(size_t)j * (size_t)G + (size_t)k] = w_hh[(size_t)k * (size_t)H + (size_t)j];
    const fwd_args a = {h, c, gates, whhT, b_ih, b_hh, h0, c0, T, B, H};
    tg_nn_threads th = tg_nn_threads_enter();
    /* (T*B, 4H) = (T*B, F) x (F, 4H): the input projection of every step at once. */
    int rc = tg_nn_gemm(th.omp, 0, 1, T * B, G, F, TG_R(1.0), x, F, w_ih, F, TG_R(0.0), gates, G);
    const int par = chunks > 1 && th.omp > 1 && (double)T * B * G * H > TG_LSTM_PAR_MIN;
    if (!rc && !par && chunks > 1 && rows_invariant(B, G, H, 0, 1, chunks)) {
        const unsigned csr = tg_nn_ftz_on();
        for (int t = 0; t < T; t++)
            fwd_step(&a, t, 0, B);
        tg_nn_ftz_off(csr);
    } else if (!rc) {
#pragma omp parallel for schedule(static, 1) num_threads(th.omp) if (par)
        for (int ch = 0; ch < chunks; ch++) {
            const unsigned csr = tg_nn_ftz_on();
            for (int t = 0; t < T; t++)
                fwd_step(&a, t, chunk_lo(B, chunks, ch), chunk_lo(B, chunks, ch + 1));
            tg_nn_ftz_off(csr);
        }
    }
    tg_nn_threads_leave(th);
    tg__scratch_put(TG__SCRATCH_LSTM_WHHT, whhT, sizeof(tg_real) * (size_t)G * (size_t)H);
    return rc;
}

/* ---------------------------------------------------------------- backward */
typedef struct bwd_args {
    tg_real *gates, *dhrec, *dcar, *tmp, *dh0;
    double *dbias;
    const tg_real *dh, *c, *c0, *w_hh;
    int T, B, H, chunks;
} bwd_args;

/* The cell of step t for chunk ch: writes dL/da_t over the gates of its rows. */
static void bwd_cell(const bwd_args *a, int t, int ch, int have_rec)
{
    const int H = a->H, G = 4 * H, b0 = chunk_lo(a->B, a->chunks, ch), R = chunk_lo(a->B, a->chunks, ch + 1) - b0;
    const size_t BH = (size_t)a->B * (size_t)H, ro = (size_t)b0 * (size_t)H;
    tg_real *g = a->gates + (size_t)t * (size_t)a->B * (size_t)G + (size_t)b0 * (size_t)G;
    const tg_real *cp = t ? a->c + (size_t)(t - 1) * BH : a->c0;
    tg_lstm_cell_backward(g, a->dcar + ro, a->dh ? a->dh + (size_t)t * BH + ro : NULL,
                          have_rec ? a->dhrec + ro : NULL, a->c + (size_t)t * BH + ro, cp ? cp + ro : NULL, R, H,
                          a->dbias + (size_t)ch * (size_t)G, a->tmp + (size_t)ch * (size_t)G);
}

/* dL/dh_{t-1} = dL/da_t W_hh for rows [b0, b1): (R, 4H) x (4H, H); at t = 0 into dh0.
 * Returns whether a recurrent gradient now exists. */
static int bwd_rec(const bwd_args *a, int t, int b0, int b1)
{
    const int H = a->H, G = 4 * H;
    const tg_real *g = a->gates + (size_t)t * (size_t)a->B * (size_t)G + (size_t)b0 * (size_t)G;
    if (t > 0) {
        tg_nn_blas(0, 0, b1 - b0, H, G, TG_R(1.0), g, G, a->w_hh, H, TG_R(0.0), a->dhrec + (size_t)b0 * H, H);
        return 1;
    }
    if (a->dh0)
        tg_nn_blas(0, 0, b1 - b0, H, G, TG_R(1.0), g, G, a->w_hh, H, TG_R(1.0), a->dh0 + (size_t)b0 * H, H);
    return 0;
}

int tg_lstm_backward(tg_real *dx, tg_real *dw_ih, tg_real *dw_hh, tg_real *db_ih, tg_real *db_hh, tg_real *dh0,
                     tg_real *dc0, tg_real *gates, const tg_real *dh, const tg_real *dc_last, const tg_real *h,
                     const tg_real *c, const tg_real *x, const tg_real *w_ih, const tg_real *w_hh,
                     const tg_real *h0, const tg_real *c0, int T, int B, int F, int H, int chunks)
{
    return tg__lstm_backward_store(0, dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0, gates, dh, dc_last, h, c, x, w_ih,
                                   w_hh, h0, c0, T, B, F, H, chunks);
}

int tg__lstm_backward_store(int store_dx, tg_real *dx, tg_real *dw_ih, tg_real *dw_hh, tg_real *db_ih,
                            tg_real *db_hh, tg_real *dh0, tg_real *dc0, tg_real *gates, const tg_real *dh,
                            const tg_real *dc_last, const tg_real *h, const tg_real *c, const tg_real *x,
                            const tg_real *w_ih, const tg_real *w_hh, const tg_real *h0, const tg_real *c0, int T,
                            int B, int F, int H, int chunks)
{
    const int G = 4 * H;
    const size_t BH = (size_t)B * (size_t)H, BG = (size_t)B * (size_t)G;
    chunks = fix_chunks(chunks, B);
    /* Per row: the recurrent dL/dh_{t-1} and the carried dL/dc; per chunk: bias sums. */
    size_t n_rec = 2 * BH, n_tmp = (size_t)chunks * (size_t)G;
    tg_real *rec = tg__scratch_get(TG__SCRATCH_LSTM_REC, sizeof(tg_real) * (n_rec + n_tmp));
    double *dbias = tg__scratch_get(TG__SCRATCH_LSTM_DBIAS, sizeof(double) * n_tmp);
    if (!rec || !dbias) {
        tg__scratch_put(TG__SCRATCH_LSTM_REC, rec, sizeof(tg_real) * (n_rec + n_tmp));
        tg__scratch_put(TG__SCRATCH_LSTM_DBIAS, dbias, sizeof(double) * n_tmp);
        return TG_ENOMEM;
    }
    memset(dbias, 0, sizeof(double) * n_tmp);
    const bwd_args a = {gates, rec, rec + BH, rec + 2 * BH, dh0, dbias, dh, c, c0, w_hh, T, B, H, chunks};
    if (dc_last)
        memcpy(a.dcar, dc_last, sizeof(tg_real) * BH);
    else
        memset(a.dcar, 0, sizeof(tg_real) * BH);

    tg_nn_threads th = tg_nn_threads_enter();
    const int par = chunks > 1 && th.omp > 1 && (double)T * B * G * H > TG_LSTM_PAR_MIN;
    if (!par && chunks > 1 && rows_invariant(B, H, G, 0, 0, chunks) && (!dh0 || rows_invariant(B, H, G, 0, 1, chunks))) {
        const unsigned csr = tg_nn_ftz_on();
        int have_rec = 0;
        for (int t = T - 1; t >= 0; t--) {
            for (int ch = 0; ch < chunks; ch++)
                bwd_cell(&a, t, ch, have_rec);
            have_rec = bwd_rec(&a, t, 0, B);
        }
        tg_nn_ftz_off(csr);
    } else {
#pragma omp parallel for schedule(static, 1) num_threads(th.omp) if (par)
        for (int ch = 0; ch < chunks; ch++) {
            const unsigned csr = tg_nn_ftz_on();
            int have_rec = 0;
            for (int t = T - 1; t >= 0; t--) {
                bwd_cell(&a, t, ch, have_rec);
                have_rec = bwd_rec(&a, t, chunk_lo(B, chunks, ch), chunk_lo(B, chunks, ch + 1));
            }
            tg_nn_ftz_off(csr);
        }
    }
    if (dc0)
        for (size_t k = 0; k < BH; k++)
            dc0[k] += a.dcar[k];

    /* Biases: both receive sum over (t, b) of dL/da; chunk partials added in chunk order. */
    for (int k = 0; k < G; k++) {
        double s = 0.0;
        for (int ch = 0; ch < chunks; ch++)
            s += dbias[(size_t)ch * G + (size_t)k];
        if (db_ih)
            db_ih[k] += (tg_real)s;
        if (db_hh)
            db_hh[k] += (tg_real)s;
    }
    int rc = 0;
    /* dW_ih += dA^T X: (4H, T*B) x (T*B, F). */
    if (dw_ih && !rc)
        rc = tg_nn_gemm(th.omp, 1, 0, G, F, T * B, TG_R(1.0), gates, G, x, F, TG_R(1.0), dw_ih, F);
    /* dW_hh += sum_t dA_t^T h_{t-1}: steps 1..T-1 in one product, step 0 against h0. */
    if (dw_hh && T > 1 && !rc)
        rc = tg_nn_gemm(th.omp, 1, 0, G, H, (T - 1) * B, TG_R(1.0), gates + BG, G, h, H, TG_R(1.0), dw_hh, H);
    if (dw_hh && h0 && !rc)
        rc = tg_nn_gemm(th.omp, 1, 0, G, H, B, TG_R(1.0), gates, G, h0, H, TG_R(1.0), dw_hh, H);
    /* dX += dA W_ih: (T*B, 4H) x (4H, F); dX = ... into a fresh buffer (store_dx). */
    if (dx && !rc)
        rc = tg_nn_gemm(th.omp, 0, 0, T * B, F, G, TG_R(1.0), gates, G, w_ih, F, store_dx ? TG_R(0.0) : TG_R(1.0),
                        dx, F);
    tg_nn_threads_leave(th);
    tg__scratch_put(TG__SCRATCH_LSTM_REC, rec, sizeof(tg_real) * (n_rec + n_tmp));
    tg__scratch_put(TG__SCRATCH_LSTM_DBIAS, dbias, sizeof(double) * n_tmp);
    return rc;
}
