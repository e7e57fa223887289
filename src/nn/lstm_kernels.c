/* lstm_kernels.c — a single-layer LSTM over a whole sequence on flat arrays: forward and
 * hand-written backward (derivation: docs/lstm_backward.md).
 *
 * Work split, forward: per step ONE GEMM [x_t, h_{t-1}] [W_ih^T; W_hh^T] (K = F + H) and
 *   one fused cell kernel. backward: per step one fused cell kernel producing dL/da_t
 *   (stored over the saved gates) and one GEMM for the recurrence, dL/da_t W_hh, or, when
 *   dx is wanted, dL/da_t [W_ih, W_hh] giving [dx_t, dh_{t-1}] at once; the weight
 *   gradients are one GEMM dA^T [X, H_prev] over all T*B rows at the end, never per step.
 *   Why the input projection is folded into the per-step products: with F = 32 inputs, the
 *   separate products over all steps (K = F forward, N = F for dX and dW_ih) ran at 45-70 %
 *   of OpenBLAS's large-matrix rate, the folded ones at the recurrent product's rate
 *   (bench/bench_lstm_fold.c); the copies into [x_t, h_{t-1}] rows cost ~1 % of that.
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
    tg_real *h, *c, *gates, *xh;
    const tg_real *x, *wT, *b_ih, *b_hh, *h0, *c0;
    int T, B, F, H;
} fwd_args;

/* Step t of rows [b0, b1): the rows [x_t, h_{t-1}] copied side by side, ONE product with
 * [W_ih^T; W_hh^T] (K = F + H; x_t alone, K = F, when there is no h_{t-1}), then the cell. */
static void fwd_step(const fwd_args *a, int t, int b0, int b1)
{
    const int F = a->F, H = a->H, G = 4 * H, K = F + H, R = b1 - b0;
    const size_t BH = (size_t)a->B * (size_t)H, ro = (size_t)b0 * (size_t)H;
    tg_real *g = a->gates + (size_t)t * (size_t)a->B * (size_t)G + (size_t)b0 * (size_t)G;   /* (R, 4H) */
    const tg_real *xt = a->x + ((size_t)t * (size_t)a->B + (size_t)b0) * (size_t)F;        /* (R, F) */
    const tg_real *hp = t ? a->h + (size_t)(t - 1) * BH : a->h0;                             /* (B, H) */
    const tg_real *cp = t ? a->c + (size_t)(t - 1) * BH : a->c0;
    if (hp) {
        tg_real *xh = a->xh + (size_t)b0 * (size_t)K;
        for (int r = 0; r < R; r++) {
            memcpy(xh + (size_t)r * K, xt + (size_t)r * F, sizeof(tg_real) * (size_t)F);
            memcpy(xh + (size_t)r * K + F, hp + ro + (size_t)r * H, sizeof(tg_real) * (size_t)H);
        }
        tg_nn_blas(0, 0, R, G, K, TG_R(1.0), xh, K, a->wT, G, TG_R(0.0), g, G);
    } else {
        tg_nn_blas(0, 0, R, G, F, TG_R(1.0), xt, F, a->wT, G, TG_R(0.0), g, G);
    }
    tg_lstm_cell_forward(g, a->c + (size_t)t * BH + ro, a->h + (size_t)t * BH + ro, cp ? cp + ro : NULL, a->b_ih,
                         a->b_hh, R, H);
}

int tg_lstm_forward(tg_real *h, tg_real *c, tg_real *gates, const tg_real *x, const tg_real *w_ih,
                    const tg_real *w_hh, const tg_real *b_ih, const tg_real *b_hh, const tg_real *h0,
                    const tg_real *c0, int T, int B, int F, int H, int chunks)
{
    const int G = 4 * H, K = F + H;
    chunks = fix_chunks(chunks, B);
    /* [W_ih^T; W_hh^T] (F + H, 4H) once per sequence: the per-step product then packs its
     * right factor without transposing (3-6% faster per step than the transposed call). */
    const size_t nw = (size_t)K * (size_t)G, nxh = (size_t)B * (size_t)K;
    tg_real *wT = tg__scratch_get(TG__SCRATCH_LSTM_WHHT, sizeof(tg_real) * nw);
    tg_real *xh = wT ? tg__scratch_get(TG__SCRATCH_LSTM_XH, sizeof(tg_real) * nxh) : NULL;
    if (!xh) {
        tg__scratch_put(TG__SCRATCH_LSTM_WHHT, wT, sizeof(tg_real) * nw);
        return TG_ENOMEM;
    }
    for (int k = 0; k < G; k++) {
        for (int j = 0; j < F; j++)
            wT[(size_t)j * (size_t)G + (size_t)k] = w_ih[(size_t)k * (size_t)F + (size_t)j];
        for (int j = 0; j < H; j++)
            wT[(size_t)(F + j) * (size_t)G + (size_t)k] = w_hh[(size_t)k * (size_t)H + (size_t)j];
    }
    const fwd_args a = {h, c, gates, xh, x, wT, b_ih, b_hh, h0, c0, T, B, F, H};
    tg_nn_threads th = tg_nn_threads_enter();
    const int par = chunks > 1 && th.omp > 1 && (double)T * B * G * K > TG_LSTM_PAR_MIN;
    if (!par && chunks > 1 && rows_invariant(B, G, K, 0, 0, chunks) && (h0 || rows_invariant(B, G, F, 0, 0, chunks))) {
        const unsigned csr = tg_nn_ftz_on();
        for (int t = 0; t < T; t++)
            fwd_step(&a, t, 0, B);
        tg_nn_ftz_off(csr);
    } else {
#pragma omp parallel for schedule(static, 1) num_threads(th.omp) if (par)
        for (int ch = 0; ch < chunks; ch++) {
            const unsigned csr = tg_nn_ftz_on();
            for (int t = 0; t < T; t++)
                fwd_step(&a, t, chunk_lo(B, chunks, ch), chunk_lo(B, chunks, ch + 1));
            tg_nn_ftz_off(csr);
        }
    }
    tg_nn_threads_leave(th);
    tg__scratch_put(TG__SCRATCH_LSTM_XH, xh, sizeof(tg_real) * nxh);
    tg__scratch_put(TG__SCRATCH_LSTM_WHHT, wT, sizeof(tg_real) * nw);
    return 0;
}

/* ---------------------------------------------------------------- backward */
typedef struct bwd_args {
    tg_real *gates, *rec, *dcar, *tmp, *dh0, *dx;
    double *dbias;
    const tg_real *dh, *c, *c0, *w;
    int T, B, F, H, chunks;
    int ldr;                /* rec's row length: F + H with dx ([dx_t, dh_{t-1}] side by side), else H */
    int store_dx;           /* dx is a fresh buffer: store dx_t instead of adding (tape's first write) */
} bwd_args;

/* The cell of step t for chunk ch: writes dL/da_t over the gates of its rows. */
static void bwd_cell(const bwd_args *a, int t, int ch, int have_rec)
{
    const int H = a->H, G = 4 * H, b0 = chunk_lo(a->B, a->chunks, ch), R = chunk_lo(a->B, a->chunks, ch + 1) - b0;
    const size_t BH = (size_t)a->B * (size_t)H, ro = (size_t)b0 * (size_t)H;
    tg_real *g = a->gates + (size_t)t * (size_t)a->B * (size_t)G + (size_t)b0 * (size_t)G;
    const tg_real *cp = t ? a->c + (size_t)(t - 1) * BH : a->c0;
    const tg_real *rec = a->rec + (size_t)b0 * (size_t)a->ldr + (size_t)(a->ldr - H);   /* the dh_{t} part */
    tg_lstm_cell_backward(g, a->dcar + ro, a->dh ? a->dh + (size_t)t * BH + ro : NULL, have_rec ? rec : NULL,
                          a->ldr, a->c + (size_t)t * BH + ro, cp ? cp + ro : NULL, R, H,
                          a->dbias + (size_t)ch * (size_t)G, a->tmp + (size_t)ch * (size_t)G);
}

/* Rows [b0, b1) of step t. Without dx: dL/dh_{t-1} = dL/da_t W_hh, (R, 4H) x (4H, H); at
 * t = 0 into dh0. With dx: ONE product with [W_ih, W_hh], (R, 4H) x (4H, F + H), gives
 * [dL/dx_t, dL/dh_{t-1}] side by side; the dx_t part is added to dx, the dh part stays in
 * rec for the cell of step t-1 (at t = 0 it is added to dh0).
 * Returns whether a recurrent gradient now exists. */
static int bwd_rec(const bwd_args *a, int t, int b0, int b1)
{
    const int F = a->F, H = a->H, G = 4 * H, R = b1 - b0;
    const tg_real *g = a->gates + (size_t)t * (size_t)a->B * (size_t)G + (size_t)b0 * (size_t)G;
    if (a->dx) {
        const int K = F + H;
        tg_real *d = a->rec + (size_t)b0 * (size_t)K;
        tg_nn_blas(0, 0, R, K, G, TG_R(1.0), g, G, a->w, K, TG_R(0.0), d, K);
        tg_real *dxt = a->dx + ((size_t)t * (size_t)a->B + (size_t)b0) * (size_t)F;
        if (a->store_dx)
            for (int r = 0; r < R; r++)
                memcpy(dxt + (size_t)r * F, d + (size_t)r * K, sizeof(tg_real) * (size_t)F);
        else
            for (int r = 0; r < R; r++)
                for (int j = 0; j < F; j++)
                    dxt[(size_t)r * F + j] += d[(size_t)r * K + j];
        if (t > 0)
            return 1;
        if (a->dh0)
            for (int r = 0; r < R; r++)
                for (int j = 0; j < H; j++)
                    a->dh0[(size_t)(b0 + r) * H + j] += d[(size_t)r * K + F + j];
        return 0;
    }
    if (t > 0) {
        tg_nn_blas(0, 0, R, H, G, TG_R(1.0), g, G, a->w, H, TG_R(0.0), a->rec + (size_t)b0 * H, H);
        return 1;
    }
    if (a->dh0)
        tg_nn_blas(0, 0, R, H, G, TG_R(1.0), g, G, a->w, H, TG_R(1.0), a->dh0 + (size_t)b0 * H, H);
    return 0;
}

/* Rows of [X, H_prev] per block of the weight-gradient product: fixed by the sizes only
 * (bits independent of the thread count); 8192 rows of 288 floats = 9.4 MB of scratch. */
#define TG_LSTM_DW_ROWS 8192

/* [dW_ih, dW_hh] += dA^T [X, H_prev] over all T*B rows (H_prev: h_{t-1}; at t = 0 h0 or
 * zeros): one product with N = F + H instead of a narrow one with N = F (OpenBLAS runs
 * N = 32 at half its rate) and one with N = H. Row blocks of [X, H_prev] are built in
 * scratch, their products summed into a (4H, F + H) buffer in block order. */
static int bwd_wgrad_fold(int nthreads, tg_real *dw_ih, tg_real *dw_hh, const tg_real *gates, const tg_real *x,
                          const tg_real *h, const tg_real *h0, int T, int B, int F, int H)
{
    const int G = 4 * H, K = F + H;
    const long long TB = (long long)T * B;
    const int nr = TB < TG_LSTM_DW_ROWS ? (int)TB : TG_LSTM_DW_ROWS;
    const size_t nbuf = (size_t)nr * (size_t)K + (size_t)G * (size_t)K;
    tg_real *xh = tg__scratch_get(TG__SCRATCH_LSTM_XH, sizeof(tg_real) * nbuf);
    if (!xh)
        return TG_ENOMEM;
    tg_real *dw = xh + (size_t)nr * (size_t)K;
    int rc = 0;
    for (long long q0 = 0; q0 < TB && !rc; q0 += nr) {
        const int n = TB - q0 < nr ? (int)(TB - q0) : nr;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && (double)n * K > 1e5)
        for (int i = 0; i < n; i++) {
            const long long q = q0 + i;                     /* row t*B + b */
            tg_real *row = xh + (size_t)i * (size_t)K;
            memcpy(row, x + (size_t)q * (size_t)F, sizeof(tg_real) * (size_t)F);
            const tg_real *hp = q >= B ? h + (size_t)(q - B) * (size_t)H : h0 ? h0 + (size_t)q * (size_t)H : NULL;
            if (hp)
                memcpy(row + F, hp, sizeof(tg_real) * (size_t)H);
            else
                memset(row + F, 0, sizeof(tg_real) * (size_t)H);
        }
        rc = tg_nn_gemm(nthreads, 1, 0, G, K, n, TG_R(1.0), gates + (size_t)q0 * (size_t)G, G, xh, K,
                        q0 ? TG_R(1.0) : TG_R(0.0), dw, K);
    }
    if (!rc)
        for (int k = 0; k < G; k++) {
            const tg_real *dk = dw + (size_t)k * (size_t)K;
            for (int j = 0; j < F; j++)
                dw_ih[(size_t)k * F + j] += dk[j];
            for (int j = 0; j < H; j++)
                dw_hh[(size_t)k * H + j] += dk[F + j];
        }
    tg__scratch_put(TG__SCRATCH_LSTM_XH, xh, sizeof(tg_real) * nbuf);
    return rc;
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
    const int G = 4 * H, K = F + H, ldr = dx ? K : H;
    const size_t BH = (size_t)B * (size_t)H, BG = (size_t)B * (size_t)G;
    chunks = fix_chunks(chunks, B);
    /* Per row: the recurrent dL/dh_{t-1} (with dx: [dL/dx_t, dL/dh_{t-1}]) and the carried
     * dL/dc; per chunk: bias sums. With dx, [W_ih, W_hh] (4H, F + H) packed. */
    size_t n_rec = (size_t)B * (size_t)ldr + BH, n_tmp = (size_t)chunks * (size_t)G, nw = dx ? (size_t)G * K : 0;
    tg_real *rec = tg__scratch_get(TG__SCRATCH_LSTM_REC, sizeof(tg_real) * (n_rec + n_tmp));
    double *dbias = tg__scratch_get(TG__SCRATCH_LSTM_DBIAS, sizeof(double) * n_tmp);
    tg_real *wcat = nw ? tg__scratch_get(TG__SCRATCH_LSTM_WHHT, sizeof(tg_real) * nw) : NULL;
    if (!rec || !dbias || (nw && !wcat)) {
        tg__scratch_put(TG__SCRATCH_LSTM_REC, rec, sizeof(tg_real) * (n_rec + n_tmp));
        tg__scratch_put(TG__SCRATCH_LSTM_DBIAS, dbias, sizeof(double) * n_tmp);
        tg__scratch_put(TG__SCRATCH_LSTM_WHHT, wcat, sizeof(tg_real) * nw);
        return TG_ENOMEM;
    }
    if (wcat)
        for (int k = 0; k < G; k++) {
            memcpy(wcat + (size_t)k * K, w_ih + (size_t)k * F, sizeof(tg_real) * (size_t)F);
            memcpy(wcat + (size_t)k * K + F, w_hh + (size_t)k * H, sizeof(tg_real) * (size_t)H);
        }
    memset(dbias, 0, sizeof(double) * n_tmp);
    tg_real *dcar = rec + (size_t)B * (size_t)ldr;
    const bwd_args a = {gates, rec, dcar, dcar + BH, dh0, dx, dbias, dh, c, c0, wcat ? wcat : w_hh,
                        T, B, F, H, chunks, ldr, store_dx};
    if (dc_last)
        memcpy(a.dcar, dc_last, sizeof(tg_real) * BH);
    else
        memset(a.dcar, 0, sizeof(tg_real) * BH);

    tg_nn_threads th = tg_nn_threads_enter();
    const int par = chunks > 1 && th.omp > 1 && (double)T * B * G * H > TG_LSTM_PAR_MIN;
    const int lockstep = dx ? rows_invariant(B, K, G, 0, 0, chunks)
                            : rows_invariant(B, H, G, 0, 0, chunks) && (!dh0 || rows_invariant(B, H, G, 0, 1, chunks));
    if (!par && chunks > 1 && lockstep) {
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
    if (dw_ih && dw_hh)
        rc = bwd_wgrad_fold(th.omp, dw_ih, dw_hh, gates, x, h, h0, T, B, F, H);
    /* Only one of them wanted: dW_ih += dA^T X: (4H, T*B) x (T*B, F); or
     * dW_hh += sum_t dA_t^T h_{t-1}: steps 1..T-1 in one product, step 0 against h0. */
    else if (dw_ih)
        rc = tg_nn_gemm(th.omp, 1, 0, G, F, T * B, TG_R(1.0), gates, G, x, F, TG_R(1.0), dw_ih, F);
    else if (dw_hh) {
        if (T > 1)
            rc = tg_nn_gemm(th.omp, 1, 0, G, H, (T - 1) * B, TG_R(1.0), gates + BG, G, h, H, TG_R(1.0), dw_hh, H);
        if (h0 && !rc)
            rc = tg_nn_gemm(th.omp, 1, 0, G, H, B, TG_R(1.0), gates, G, h0, H, TG_R(1.0), dw_hh, H);
    }
    tg_nn_threads_leave(th);
    tg__scratch_put(TG__SCRATCH_LSTM_WHHT, wcat, sizeof(tg_real) * nw);
    tg__scratch_put(TG__SCRATCH_LSTM_REC, rec, sizeof(tg_real) * (n_rec + n_tmp));
    tg__scratch_put(TG__SCRATCH_LSTM_DBIAS, dbias, sizeof(double) * n_tmp);
    return rc;
}
