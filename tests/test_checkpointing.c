/* test_checkpointing.c — gradient checkpointing of the fused LSTM and HBV ops.
 *  - LSTM (tg_lstm_op_ckpt): outputs and gradients of every input (x, weights, h0, c0, with
 *    the loss on all h and on c_T) equal those without checkpointing for segment lengths
 *    1, 7, 50, T-1 and auto (round-off of the per-segment GEMMs; bitwise where the BLAS
 *    allows, printed); finite differences of the checkpointed op (double).
 *  - HBV (tg_hbv_forward_ckpt / tg_hbv_backward_ckpt): gradients of static and dynamic
 *    parameters, forcing and initial stores BIT-IDENTICAL to the plain backward, with and
 *    without warm-up gradient, hard and smooth thresholds, every output seeded.
 *  - A small δHBV pipeline (LSTM layer with .checkpoint -> head -> sigmoid -> HBV op ->
 *    loss): parameter gradients agree.
 *  - Memory, measured on long windows (LSTM T = 1500, HBV T = 3650): the step arena's
 *    high-water mark (tg_ctx_arena_peak) plus the peak of the library's own heap
 *    allocations (an allocator hook counting live bytes) is lower with checkpointing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifdef TG_DOUBLE
#define GRAD_TOL 1e-11   /* relative to the largest gradient entry */
#else
#define GRAD_TOL 2e-4
#endif

static void fill(tg_real *v, size_t n, tg_rng *r, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (tg_real)(lo + (hi - lo) * tg_rng_uniform(r));
}

/* max |a - b| / max(max |a|, tiny) */
static double rel_diff(const tg_real *a, const tg_real *b, size_t n)
{
    double d = 0.0, m = 1e-300;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]), v = fabs((double)a[i]);
        if (e > d) d = e;
        if (v > m) m = v;
    }
    return d / m;
}

/* ---------------------------------------------------------------- counting allocator */
static size_t heap_live, heap_peak;
static void *count_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    if (new_size == 0) {
        free(ptr);
        heap_live -= old_size;
        return NULL;
    }
    void *p = realloc(ptr, new_size);
    if (p) {
        heap_live = heap_live - old_size + new_size;
        if (heap_live > heap_peak) heap_peak = heap_live;
    }
    return p;
}

/* ================================================================ LSTM */
enum { LT = 120, LB = 5, LF = 3, LH = 6, LG = 4 * LH };
static tg_real X[LT * LB * LF], WIH[LG * LF], WHH[LG * LH], BIH[LG], BHH[LG], H0[LB * LH], C0[LB * LH];
static tg_real WHS[LT * LB * LH], WCS[LB * LH];

typedef struct lstm_run {
    tg_real h[LT * LB * LH], cl[LB * LH];
    tg_real g[7][LT * LB * LF > LG * LH ? LT * LB * LF : LG * LH];
} lstm_run;
static const size_t lsz[7] = {LT * LB * LF, LG * LF, LG * LH, LG, LG, LB * LH, LB * LH};

static int lstm_run_once(int checkpoint, lstm_run *r)
{
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *in[7] = {tg_leaf(ctx, TG_SHAPE(LT, LB, LF), X), tg_leaf(ctx, TG_SHAPE(LG, LF), WIH),
                        tg_leaf(ctx, TG_SHAPE(LG, LH), WHH), tg_leaf(ctx, TG_SHAPE(LG), BIH),
                        tg_leaf(ctx, TG_SHAPE(LG), BHH), tg_leaf(ctx, TG_SHAPE(LB, LH), H0),
                        tg_leaf(ctx, TG_SHAPE(LB, LH), C0)};
    tg_tensor *cl = NULL;
    tg_tensor *h = tg_lstm_op_ckpt(ctx, in[0], in[1], in[2], in[3], in[4], in[5], in[6], 0, checkpoint, &cl);
    tg_tensor *loss = tg_add(ctx, tg_sum(ctx, tg_mul(ctx, h, tg_from(ctx, TG_SHAPE(LT, LB, LH), WHS))),
                             tg_sum(ctx, tg_mul(ctx, cl, tg_from(ctx, TG_SHAPE(LB, LH), WCS))));
    int rc = loss ? tg_backward(ctx, loss) : tg_ctx_status(ctx);
    if (!rc) {
        memcpy(r->h, h->data, sizeof r->h);
        memcpy(r->cl, cl->data, sizeof r->cl);
        for (int k = 0; k < 7; k++)
            memcpy(r->g[k], in[k]->grad, lsz[k] * sizeof(tg_real));
    }
    tg_ctx_free(&ctx);
    return rc;
}

static void test_lstm_same_gradients(void)
{
    static lstm_run ref, got;
    CHECK(lstm_run_once(0, &ref) == 0, "plain LSTM run: %s", tg_error_message());
    const int cks[] = {1, 7, 50, LT - 1, -1};
    for (size_t q = 0; q < sizeof cks / sizeof *cks; q++) {
        CHECK(lstm_run_once(cks[q], &got) == 0, "checkpointed LSTM run (k = %d): %s", cks[q], tg_error_message());
        const int bitwise_out = !memcmp(ref.h, got.h, sizeof ref.h) && !memcmp(ref.cl, got.cl, sizeof ref.cl);
        int bitwise = bitwise_out;
        double worst = fmax(rel_diff(ref.h, got.h, LT * LB * LH), rel_diff(ref.cl, got.cl, LB * LH));
        CHECK(worst <= GRAD_TOL, "k = %d: outputs differ by %.3g", cks[q], worst);
        for (int k = 0; k < 7; k++) {
            double d = rel_diff(ref.g[k], got.g[k], lsz[k]);
            bitwise &= !memcmp(ref.g[k], got.g[k], lsz[k] * sizeof(tg_real));
            CHECK(d <= GRAD_TOL, "k = %d: gradient of input %d differs by %.3g", cks[q], k, d);
            worst = fmax(worst, d);
        }
        printf("lstm k=%-4d (segment %d): max rel diff vs plain %.3g, outputs %s, gradients %s\n", cks[q],
               tg_lstm_ckpt_segment(LT, cks[q]), worst, bitwise_out ? "bit-identical" : "round-off",
               bitwise ? "bit-identical" : "round-off");
    }
    CHECK(tg_lstm_ckpt_segment(LT, -1) == 11, "auto segment for T = 120: %d", tg_lstm_ckpt_segment(LT, -1));
    CHECK(tg_lstm_ckpt_segment(LT, 0) == 0 && tg_lstm_ckpt_segment(LT, LT) == 0, "off cases");
    /* bad option: clear error */
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *x = tg_leaf(ctx, TG_SHAPE(LT, LB, LF), X);
    tg_tensor *h = tg_lstm_op_ckpt(ctx, x, tg_from(ctx, TG_SHAPE(LG, LF), WIH), tg_from(ctx, TG_SHAPE(LG, LH), WHH),
                                   tg_from(ctx, TG_SHAPE(LG), BIH), tg_from(ctx, TG_SHAPE(LG), BHH), NULL, NULL, 0,
                                   -2, NULL);
    CHECK(!h && tg_ctx_status(ctx) == TG_EINVAL && strstr(tg_error_message(), "checkpoint"), "checkpoint = -2: %s",
          tg_error_message());
    tg_ctx_free(&ctx);
}

#ifdef TG_DOUBLE
enum { ST = 9, SB = 2, SF = 2, SH = 3, SG = 4 * SH };
static tg_real SWH[ST * SB * SH], SWC[SB * SH];
static tg_tensor *small_loss(tg_ctx *ctx, tg_tensor *const *in, int n, void *ud)
{
    (void)n;
    tg_tensor *cl = NULL;
    tg_tensor *h = tg_lstm_op_ckpt(ctx, in[0], in[1], in[2], in[3], in[4], in[5], in[6], 0, *(int *)ud, &cl);
    if (!h) return NULL;
    return tg_add(ctx, tg_sum(ctx, tg_mul(ctx, h, tg_from(ctx, TG_SHAPE(ST, SB, SH), SWH))),
                  tg_sum(ctx, tg_mul(ctx, cl, tg_from(ctx, TG_SHAPE(SB, SH), SWC))));
}

static void test_lstm_gradcheck(void)
{
    static tg_real x[ST * SB * SF], wih[SG * SF], whh[SG * SH], bih[SG], bhh[SG], h0[SB * SH], c0[SB * SH];
    tg_rng r;
    tg_rng_seed(&r, 11);
    fill(x, ST * SB * SF, &r, -1, 1), fill(wih, SG * SF, &r, -0.6, 0.6), fill(whh, SG * SH, &r, -0.6, 0.6);
    fill(bih, SG, &r, -0.3, 0.3), fill(bhh, SG, &r, -0.3, 0.3), fill(h0, SB * SH, &r, -0.5, 0.5);
    fill(c0, SB * SH, &r, -0.5, 0.5), fill(SWH, ST * SB * SH, &r, -1, 1), fill(SWC, SB * SH, &r, -1, 1);
    tg_real *inputs[7] = {x, wih, whh, bih, bhh, h0, c0};
    const int nd[7] = {3, 2, 2, 1, 1, 2, 2};
    const int sh[7][TG_MAX_DIMS] = {{ST, SB, SF}, {SG, SF}, {SG, SH}, {SG}, {SG}, {SB, SH}, {SB, SH}};
    for (int k = 2; k <= 4; k++) {   /* 2: uneven last segment; 4: T = 9 -> 4 + 4 + 1 */
        tg_gradcheck_result res;
        int rc = tg_gradcheck(small_loss, &k, 7, nd, sh, inputs, 1e-5, &res);
        CHECK(rc == 0 && res.max_rel_err < 1e-6, "gradcheck of the checkpointed LSTM, k = %d: rel err %.3g (rc %d)", k,
              res.max_rel_err, rc);
    }
}
#endif

/* Peak bytes (arena high-water mark + live library heap) of one forward + backward. */
static size_t lstm_peak(int checkpoint, int T, int B, int F, int H, double *loss_out)
{
    tg_rng r;
    tg_rng_seed(&r, 5);
    const int G = 4 * H;
    size_t nx = (size_t)T * B * F;
    tg_real *x = malloc(nx * sizeof *x), *w = malloc((size_t)G * (F + H + 2) * sizeof *w);
    fill(x, nx, &r, -1, 1), fill(w, (size_t)G * (F + H + 2), &r, -0.3, 0.3);
    heap_live = heap_peak = 0;
    tg_set_allocator(count_alloc, NULL);
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *xt = tg_leaf(ctx, TG_SHAPE(T, B, F), x);
    tg_tensor *h = tg_lstm_op_ckpt(ctx, xt, tg_leaf(ctx, TG_SHAPE(G, F), w), tg_leaf(ctx, TG_SHAPE(G, H), w + G * F),
                                   tg_leaf(ctx, TG_SHAPE(G), w + G * (F + H)),
                                   tg_leaf(ctx, TG_SHAPE(G), w + G * (F + H + 1)), NULL, NULL, 0, checkpoint, NULL);
    tg_tensor *loss = tg_sum(ctx, tg_mul(ctx, h, h));
    int rc = loss ? tg_backward(ctx, loss) : -1;
    *loss_out = rc ? (double)NAN : (double)loss->data[0] + (double)xt->grad[nx - 1];
    size_t peak = tg_ctx_arena_peak(ctx);
    tg_ctx_free(&ctx);
    tg_set_allocator(NULL, NULL);
    peak += heap_peak;
    free(x), free(w);
    return rc ? 0 : peak;
}

static void test_lstm_memory(void)
{
    const int T = 1500, B = 16, F = 4, H = 32;
    double l0, l1;
    size_t p0 = lstm_peak(0, T, B, F, H, &l0), p1 = lstm_peak(-1, T, B, F, H, &l1);
    const double per = (double)sizeof(tg_real) * T * B * H;   /* one (T, B, H) array */
    printf("lstm T=%d B=%d H=%d: peak %.2f MB plain, %.2f MB checkpointed (%.2f / %.2f (T,B,H) arrays)\n", T, B, H,
           (double)p0 / 1e6, (double)p1 / 1e6, (double)p0 / per, (double)p1 / per);
    CHECK(p0 > 0 && p1 > 0, "runs failed");
    /* plain saves 5 (T,B,H) arrays more; everything else (x, h, grads) is the same */
    CHECK((double)p0 - (double)p1 > 4.0 * per, "checkpointing saved only %.0f bytes", (double)p0 - (double)p1);
    CHECK(p1 < p0 / 2, "checkpointed peak %zu not below half of %zu", p1, p0);
    CHECK(IS_CLOSE(l0, l1, GRAD_TOL, 0), "loss/gradient differ: %.15g vs %.15g", l0, l1);
}

/* ================================================================ HBV */
typedef struct hbv_case {
    tg_hbv_config c;
    tg_real *forcing, *ps, *pd, *s0, *g_basin, *g_lane, *g_final;
    size_t nf, nps, npd, ns;
} hbv_case;

static void hbv_case_make(hbv_case *h, int T, int W, int B, int M, int warmup_grad, int smooth, uint64_t seed)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    tg_hbv_config_init(&h->c, T, W, B, M);
    h->c.dynamic = (1u << TG_HBV_BETA) | (1u << TG_HBV_BETAET) | (1u << TG_HBV_K0);
    h->c.warmup_grad = warmup_grad;
    if (smooth) h->c.smooth_temp = TG_R(0.5), h->c.smooth_store = TG_R(1.0);
    const size_t L = (size_t)B * M, nd = (size_t)tg_hbv_ndynamic(&h->c), TW = (size_t)(T - W);
    h->nf = (size_t)T * B * 3, h->nps = TG_HBV_NPARAM * L, h->npd = TW * nd * L, h->ns = TG_HBV_NSTATE * L;
    h->forcing = malloc(h->nf * sizeof(tg_real));
    h->ps = malloc(h->nps * sizeof(tg_real));
    h->pd = malloc(h->npd * sizeof(tg_real));
    h->s0 = malloc(h->ns * sizeof(tg_real));
    h->g_basin = malloc(TW * TG_HBV_NOUT * B * sizeof(tg_real));
    h->g_lane = malloc(TW * TG_HBV_NOUT * L * sizeof(tg_real));
    h->g_final = malloc(h->ns * sizeof(tg_real));
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            tg_real *f = h->forcing + ((size_t)t * B + b) * 3;
            f[0] = (tg_real)(tg_rng_uniform(&r) < 0.4 ? 20.0 * tg_rng_uniform(&r) : 0.0);
            f[1] = (tg_real)(8.0 * sin(6.2832 * t / 365.0) + 3.0 * (tg_rng_uniform(&r) - 0.5) + b * 0.5);
            f[2] = (tg_real)(2.0 + 1.5 * sin(6.2832 * t / 365.0) * tg_rng_uniform(&r));
        }
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        fill(h->ps + p * L, L, &r, tg_hbv_param_range[p][0], tg_hbv_param_range[p][1]);
    int k = 0;
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        if (h->c.dynamic & (1u << p)) {
            for (size_t t = 0; t < TW; t++)
                fill(h->pd + (t * nd + (size_t)k) * L, L, &r, tg_hbv_param_range[p][0], tg_hbv_param_range[p][1]);
            k++;
        }
    fill(h->s0, h->ns, &r, 0.0, 30.0);
    fill(h->g_basin, TW * TG_HBV_NOUT * B, &r, -1, 1);
    fill(h->g_lane, TW * TG_HBV_NOUT * L, &r, -0.1, 0.1);
    fill(h->g_final, h->ns, &r, -1, 1);
}

static void hbv_case_free(hbv_case *h)
{
    free(h->forcing), free(h->ps), free(h->pd), free(h->s0), free(h->g_basin), free(h->g_lane), free(h->g_final);
}

/* Forward + backward with `checkpoint`; gradients (static, dynamic, forcing, init) into g. */
static int hbv_grads(const hbv_case *h, int checkpoint, tg_real *g, tg_real *out)
{
    const tg_hbv_config *c = &h->c;
    const size_t nh = tg_hbv_hist_size_ckpt(c, checkpoint), TW = (size_t)(c->T - c->warmup);
    tg_real *hist = malloc(nh * sizeof(tg_real));
    memset(g, 0, (h->nps + h->npd + h->nf + h->ns) * sizeof(tg_real));
    int rc = tg_hbv_forward_ckpt(out, NULL, NULL, hist, h->forcing, h->ps, h->pd, h->s0, c, checkpoint);
    (void)TW;
    if (!rc)
        rc = tg_hbv_backward_ckpt(g, g + h->nps, g + h->nps + h->npd, g + h->nps + h->npd + h->nf, h->g_basin,
                                  h->g_lane, h->g_final, hist, h->forcing, h->ps, h->pd, c, checkpoint);
    free(hist);
    return rc;
}

static void test_hbv_same_gradients(void)
{
    const int setups[3][3] = {{0, 0, 1}, {1, 0, 2}, {0, 1, 3}};   /* warmup_grad, smooth, seed */
    for (int s = 0; s < 3; s++) {
        hbv_case h;
        hbv_case_make(&h, 300, 40, 5, 3, setups[s][0], setups[s][1], (uint64_t)setups[s][2]);
        const size_t ng = h.nps + h.npd + h.nf + h.ns, no = (size_t)(300 - 40) * TG_HBV_NOUT * 5;
        tg_real *ref = malloc(ng * sizeof(tg_real)), *got = malloc(ng * sizeof(tg_real));
        tg_real *o_ref = malloc(no * sizeof(tg_real)), *o_got = malloc(no * sizeof(tg_real));
        CHECK(hbv_grads(&h, 0, ref, o_ref) == 0, "plain hbv: %s", tg_error_message());
        double gmax = 0.0;
        for (size_t i = 0; i < ng; i++) gmax = fmax(gmax, fabs((double)ref[i]));
        CHECK(gmax > 1e-3 && isfinite(gmax), "reference gradient is trivial (%g)", gmax);
        const int cks[] = {1, 7, 60, 299, 1000, -1};
        for (size_t q = 0; q < sizeof cks / sizeof *cks; q++) {
            CHECK(hbv_grads(&h, cks[q], got, o_got) == 0, "checkpointed hbv: %s", tg_error_message());
            CHECK(!memcmp(o_ref, o_got, no * sizeof(tg_real)), "setup %d, k = %d: outputs differ", s, cks[q]);
            const int same = !memcmp(ref, got, ng * sizeof(tg_real));
            CHECK(same, "setup %d (warmup_grad %d, smooth %d), k = %d: gradients not bit-identical (rel %.3g)", s,
                  setups[s][0], setups[s][1], cks[q], rel_diff(ref, got, ng));
        }
        /* saved stores: ceil(n/k) instead of n */
        const size_t n = (size_t)(setups[s][0] ? 300 : 260);
        CHECK(tg_hbv_hist_size_ckpt(&h.c, 7) == (n + 6) / 7 * TG_HBV_NSTATE * 15, "hist size with k = 7");
        CHECK(tg_hbv_hist_size_ckpt(&h.c, 0) == tg_hbv_hist_size(&h.c), "hist size without checkpointing");
        free(ref), free(got), free(o_ref), free(o_got);
        hbv_case_free(&h);
    }
}

/* Through the tape op on a 10-year window: bitwise gradients and the measured peak. */
static size_t hbv_op_peak(const hbv_case *h, int checkpoint, tg_real *g_static, tg_real *g_dyn)
{
    const tg_hbv_config *c = &h->c;
    const int nd = tg_hbv_ndynamic(c), TW = c->T - c->warmup;
    heap_live = heap_peak = 0;
    tg_set_allocator(count_alloc, NULL);
    tg_ctx *ctx = tg_ctx_create();
    tg_tensor *ps = tg_leaf(ctx, TG_SHAPE(TG_HBV_NPARAM, c->B, c->M), h->ps);
    tg_tensor *pd = tg_leaf(ctx, TG_SHAPE(TW, nd, c->B, c->M), h->pd);
    tg_tensor *ob = NULL;
    int rc = tg_hbv_op_ckpt(ctx, c, checkpoint, tg_from(ctx, TG_SHAPE(c->T, c->B, 3), h->forcing), ps, pd, NULL,
                            &ob, NULL, NULL);
    if (!rc) {
        tg_tensor *q = tg_select(ctx, ob, 1, TG_HBV_Q);
        rc = tg_backward(ctx, tg_sum(ctx, tg_mul(ctx, q, q)));
    }
    if (!rc) {
        memcpy(g_static, ps->grad, h->nps * sizeof(tg_real));
        memcpy(g_dyn, pd->grad, h->npd * sizeof(tg_real));
    }
    size_t peak = tg_ctx_arena_peak(ctx);
    tg_ctx_free(&ctx);
    tg_set_allocator(NULL, NULL);
    return rc ? 0 : peak + heap_peak;
}

static void test_hbv_memory(void)
{
    hbv_case h;
    hbv_case_make(&h, 3650, 365, 8, 16, 0, 0, 9);
    h.c.basin_outputs = 1u << TG_HBV_Q;
    tg_real *gs0 = malloc(h.nps * sizeof(tg_real)), *gd0 = malloc(h.npd * sizeof(tg_real));
    tg_real *gs1 = malloc(h.nps * sizeof(tg_real)), *gd1 = malloc(h.npd * sizeof(tg_real));
    size_t p0 = hbv_op_peak(&h, 0, gs0, gd0), p1 = hbv_op_peak(&h, -1, gs1, gd1);
    const double hist = (double)tg_hbv_hist_size(&h.c) * sizeof(tg_real);
    printf("hbv T=3650 W=365 B=8 M=16: peak %.2f MB plain, %.2f MB checkpointed (k = %d; plain saved stores %.2f MB)\n",
           (double)p0 / 1e6, (double)p1 / 1e6, tg_hbv_ckpt_segment(&h.c, -1), hist / 1e6);
    CHECK(p0 > 0 && p1 > 0, "hbv op runs failed: %s", tg_error_message());
    CHECK((double)p0 - (double)p1 > 0.9 * hist, "checkpointing saved %.0f of %.0f bytes", (double)p0 - (double)p1, hist);
    CHECK((double)p1 < 0.75 * (double)p0, "checkpointed peak %zu not below 3/4 of %zu", p1, p0);
    CHECK(!memcmp(gs0, gs1, h.nps * sizeof(tg_real)) && !memcmp(gd0, gd1, h.npd * sizeof(tg_real)),
          "op gradients not bit-identical (rel %.3g, %.3g)", rel_diff(gs0, gs1, h.nps), rel_diff(gd0, gd1, h.npd));
    tg_ctx *ctx = tg_ctx_create();
    int rc = tg_hbv_op_ckpt(ctx, &h.c, -3, tg_from(ctx, TG_SHAPE(3650, 8, 3), h.forcing),
                            tg_from(ctx, TG_SHAPE(TG_HBV_NPARAM, 8, 16), h.ps), tg_from(ctx, TG_SHAPE(3285, 3, 8, 16), h.pd),
                            NULL, NULL, NULL, NULL);
    CHECK(rc == TG_EINVAL && strstr(tg_error_message(), "checkpoint"), "checkpoint = -3: rc %d, %s", rc,
          tg_error_message());
    tg_ctx_free(&ctx);
    free(gs0), free(gd0), free(gs1), free(gd1);
    hbv_case_free(&h);
}

/* ================================================================ δHBV pipeline */
/* As model_dhbv: LSTM -> linear head -> sigmoid -> static HBV parameters of the last day
 * -> HBV (fused op) -> loss on Q. Both the LSTM (layer .checkpoint) and the HBV op
 * checkpointed. */
static int dhbv_grads(int checkpoint, tg_real *grad_out, size_t *n_out)
{
    enum { T = 400, W = 100, NB = 6, M = 4, F = 5, HID = 12 };
    tg_rng r;
    tg_rng_seed(&r, 21);
    tg_params *ps = tg_params_create();
    tg_lstm_layer l;
    tg_linear_layer head;
    int rc = tg_lstm_layer_init(&l, ps, "lstm", F, HID, 0);
    if (!rc) rc = tg_linear_layer_init(&head, ps, "head", HID, TG_HBV_NPARAM * M, 1);
    if (!rc) rc = tg_lstm_reset(&l, ps, TG_INIT_TORCH, &r);
    if (!rc) rc = tg_linear_reset(&head, ps, TG_INIT_TORCH, &r);
    l.checkpoint = checkpoint;
    hbv_case h;
    hbv_case_make(&h, T, W, NB, M, 0, 1, 4);
    h.c.dynamic = 0;
    h.c.basin_outputs = 1u << TG_HBV_Q;
    tg_real *x = malloc((size_t)T * NB * F * sizeof(tg_real));
    fill(x, (size_t)T * NB * F, &r, -1, 1);
    tg_ctx *ctx = tg_ctx_create();
    if (!rc) {
        tg_tensor *hs = tg_lstm(ctx, ps, &l, tg_from(ctx, TG_SHAPE(T, NB, F), x), NULL, NULL, NULL);
        tg_tensor *u = tg_sigmoid(ctx, tg_linear(ctx, ps, &head, hs));
        tg_tensor *us = tg_reshape(ctx, tg_select(ctx, u, 0, T - 1), TG_SHAPE(NB, TG_HBV_NPARAM, M));
        tg_tensor *par = tg_hbv_scale_op(ctx, tg_transpose(ctx, us, 0, 1), TG_HBV_ALL_PARAMS);
        tg_tensor *ob = NULL;
        rc = par ? tg_hbv_op_ckpt(ctx, &h.c, checkpoint, tg_from(ctx, TG_SHAPE(T, NB, 3), h.forcing), par, NULL,
                                  NULL, &ob, NULL, NULL)
                 : tg_ctx_status(ctx);
        if (!rc) {
            tg_tensor *q = tg_select(ctx, ob, 1, TG_HBV_Q);
            rc = tg_backward(ctx, tg_sum(ctx, tg_mul(ctx, q, q)));
        }
    }
    if (!rc) {
        memcpy(grad_out, ps->grad, ps->size * sizeof(tg_real));
        *n_out = ps->size;
    }
    tg_ctx_free(&ctx);
    tg_params_free(&ps);
    free(x);
    hbv_case_free(&h);
    return rc;
}

static void test_dhbv_pipeline(void)
{
    static tg_real g0[20000], g1[20000];
    size_t n0 = 0, n1 = 0;
    CHECK(dhbv_grads(0, g0, &n0) == 0, "pipeline without checkpointing: %s", tg_error_message());
    CHECK(dhbv_grads(-1, g1, &n1) == 0, "pipeline with checkpointing: %s", tg_error_message());
    CHECK(n0 == n1 && n0 > 0 && n0 < 20000, "parameter counts %zu, %zu", n0, n1);
    double gmax = 0.0;
    for (size_t i = 0; i < n0; i++) gmax = fmax(gmax, fabs((double)g0[i]));
    const double d = rel_diff(g0, g1, n0);
    printf("dhbv pipeline: %zu parameters, max |grad| %.3g, max rel diff %.3g (%s)\n", n0, gmax, d,
           memcmp(g0, g1, n0 * sizeof(tg_real)) ? "round-off only" : "bit-identical");
    CHECK(gmax > 1e-6 && isfinite(gmax), "trivial pipeline gradient %g", gmax);
    CHECK(d <= GRAD_TOL, "pipeline gradients differ by %.3g", d);
}

int main(void)
{
    tg_rng r;
    tg_rng_seed(&r, 3);
    fill(X, sizeof X / sizeof *X, &r, -1, 1), fill(WIH, LG * LF, &r, -0.5, 0.5), fill(WHH, LG * LH, &r, -0.5, 0.5);
    fill(BIH, LG, &r, -0.2, 0.2), fill(BHH, LG, &r, -0.2, 0.2), fill(H0, LB * LH, &r, -0.5, 0.5);
    fill(C0, LB * LH, &r, -0.5, 0.5), fill(WHS, LT * LB * LH, &r, -1, 1), fill(WCS, LB * LH, &r, -1, 1);
    test_lstm_same_gradients();
#ifdef TG_DOUBLE
    test_lstm_gradcheck();
#endif
    test_lstm_memory();
    test_hbv_same_gradients();
    test_hbv_memory();
    test_dhbv_pipeline();
    return tg_test_summary();
}
