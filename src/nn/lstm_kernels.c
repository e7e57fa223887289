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
 *   single-threaded BLAS — no barrier per step, and the same bits on any thread count. */
#include <omp.h>
#include <string.h>

#include "nn/nn_internal.h"

int tg_lstm_auto_chunks(int B) { return B >= 32 ? 2 : 1; }

static int fix_chunks(int chunks, int B)
{
    if (chunks <= 0)
        chunks = tg_lstm_auto_chunks(B);
    return chunks > B ? B : chunks;
}

int tg_lstm_forward(tg_real *h, tg_real *c, tg_real *gates, const tg_real *x, const tg_real *w_ih,
                    const tg_real *w_hh, const tg_real *b_ih, const tg_real *b_hh, const tg_real *h0,
                    const tg_real *c0, int T, int B, int F, int H, int chunks)
{
    const int G = 4 * H;
    const size_t BH = (size_t)B * (size_t)H, BG = (size_t)B * (size_t)G;
    chunks = fix_chunks(chunks, B);
    tg_nn_threads th = tg_nn_threads_enter();
    /* (T*B, 4H) = (T*B, F) x (F, 4H): the input projection of every step at once. */
    int rc = tg_nn_gemm(th.omp, 0, 1, T * B, G, F, TG_R(1.0), x, F, w_ih, F, TG_R(0.0), gates, G);
    if (!rc) {
#pragma omp parallel for schedule(static, 1) num_threads(th.omp)
        for (int ch = 0; ch < chunks; ch++) {
            const int b0 = (int)((long long)B * ch / chunks), b1 = (int)((long long)B * (ch + 1) / chunks);
            const int R = b1 - b0;
            for (int t = 0; t < T; t++) {
                tg_real *a = gates + (size_t)t * BG + (size_t)b0 * (size_t)G;              /* (R, 4H) */
                const tg_real *hp = t ? h + (size_t)(t - 1) * BH : h0;                      /* (B, H) */
                const tg_real *cp = t ? c + (size_t)(t - 1) * BH : c0;
                if (hp)
                    tg_nn_blas(0, 1, R, G, H, TG_R(1.0), hp + (size_t)b0 * (size_t)H, H, w_hh, H, TG_R(1.0), a, G);
                tg_lstm_cell_forward(a, c + (size_t)t * BH + (size_t)b0 * (size_t)H,
                                     h + (size_t)t * BH + (size_t)b0 * (size_t)H,
                                     cp ? cp + (size_t)b0 * (size_t)H : NULL, b_ih, b_hh, R, H);
            }
        }
    }
    tg_nn_threads_leave(th);
    return rc;
}

int tg_lstm_backward(tg_real *dx, tg_real *dw_ih, tg_real *dw_hh, tg_real *db_ih, tg_real *db_hh, tg_real *dh0,
                     tg_real *dc0, tg_real *gates, const tg_real *dh, const tg_real *dc_last, const tg_real *h,
                     const tg_real *c, const tg_real *x, const tg_real *w_ih, const tg_real *w_hh,
                     const tg_real *h0, const tg_real *c0, int T, int B, int F, int H, int chunks)
{
    const int G = 4 * H;
    const size_t BH = (size_t)B * (size_t)H, BG = (size_t)B * (size_t)G;
    chunks = fix_chunks(chunks, B);
    /* Per row: the recurrent dL/dh_{t-1} and the carried dL/dc; per chunk: bias sums. */
    size_t n_rec = 2 * BH, n_tmp = (size_t)chunks * (size_t)G;
    tg_real *rec = tg_malloc(sizeof(tg_real) * (n_rec + n_tmp));
    double *dbias = tg_calloc(n_tmp, sizeof(double));
    if (!rec || !dbias) {
        tg_free(rec, sizeof(tg_real) * (n_rec + n_tmp));
        tg_free(dbias, sizeof(double) * n_tmp);
        return TG_ENOMEM;
    }
    tg_real *dhrec = rec, *dcar = rec + BH, *tmp = rec + 2 * BH;
    if (dc_last)
        memcpy(dcar, dc_last, sizeof(tg_real) * BH);
    else
        memset(dcar, 0, sizeof(tg_real) * BH);

    tg_nn_threads th = tg_nn_threads_enter();
#pragma omp parallel for schedule(static, 1) num_threads(th.omp)
    for (int ch = 0; ch < chunks; ch++) {
        const int b0 = (int)((long long)B * ch / chunks), b1 = (int)((long long)B * (ch + 1) / chunks);
        const int R = b1 - b0;
        const size_t ro = (size_t)b0 * (size_t)H;
        tg_real *dhr = dhrec + ro, *dcr = dcar + ro;
        int have_rec = 0;
        for (int t = T - 1; t >= 0; t--) {
            tg_real *a = gates + (size_t)t * BG + (size_t)b0 * (size_t)G;                   /* (R, 4H) */
            const tg_real *cp = t ? c + (size_t)(t - 1) * BH : c0;
            tg_lstm_cell_backward(a, dcr, dh ? dh + (size_t)t * BH + ro : NULL, have_rec ? dhr : NULL,
                                  c + (size_t)t * BH + ro, cp ? cp + ro : NULL, R, H, dbias + (size_t)ch * G,
                                  tmp + (size_t)ch * G);
            /* dL/dh_{t-1} = dL/da_t W_hh: (R, 4H) x (4H, H). At t = 0 it is dL/dh0. */
            if (t > 0) {
                tg_nn_blas(0, 0, R, H, G, TG_R(1.0), a, G, w_hh, H, TG_R(0.0), dhr, H);
                have_rec = 1;
            } else if (dh0) {
                tg_nn_blas(0, 0, R, H, G, TG_R(1.0), a, G, w_hh, H, TG_R(1.0), dh0 + ro, H);
            }
        }
        if (dc0)
            for (size_t k = 0; k < (size_t)R * (size_t)H; k++)
                dc0[ro + k] += dcr[k];
    }

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
    /* dX += dA W_ih: (T*B, 4H) x (4H, F). */
    if (dx && !rc)
        rc = tg_nn_gemm(th.omp, 0, 0, T * B, F, G, TG_R(1.0), gates, G, w_ih, F, TG_R(1.0), dx, F);
    tg_nn_threads_leave(th);
    tg_free(rec, sizeof(tg_real) * (n_rec + n_tmp));
    tg_free(dbias, sizeof(double) * n_tmp);
    return rc;
}
