/* pinn_mlp_impl.h — the per-tile Taylor-mode kernels, compiled once per instruction set.
 *
 * Included by pinn_mlp.c with
 *   TG_PINN_SFX  suffix for every name (base, avx2, avx512)
 *   TG_PINN_VB   vector width in bytes (32: AVX2, 64: AVX-512)
 *   TG_PINN_NV   column vectors per register block of the layer GEMM (5 rows x NV)
 *   TG_PINN_MO, TG_PINN_MI  register block of the weight-gradient kernel (outputs x inputs)
 * No include guard on purpose. Layout inside a tile: a layer of width n is (n, K, T) —
 * feature-major, then channel, then point — so a dense layer over ALL channels is one GEMM
 * C (n_out, K*T) = W (n_out, n_in) · H (n_in, K*T), and activations stream over points.
 * GCC vector extensions give explicit register blocking without intrinsics; the same code
 * serves float and double. */

#define PJ_CAT2(a, b) a##_##b
#define PJ_CAT(a, b) PJ_CAT2(a, b)
#define FN(n) PJ_CAT(n, TG_PINN_SFX)
#define VL ((int)(TG_PINN_VB / sizeof(tg_real)))
#define VR FN(vr)
#define TT TG_PINN_TILE

typedef tg_real VR __attribute__((vector_size(TG_PINN_VB)));

static inline VR FN(ld)(const tg_real *p)
{
    VR v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void FN(st)(tg_real *p, VR v) { memcpy(p, &v, sizeof v); }
/* Broadcast. Not (VR){0} + s: without -ffast-math the compiler must keep that addition
 * (it turns -0 into +0), costing an add per broadcast in the GEMM's inner loop; s - 0 is s
 * for every s, so it folds away. */
static inline VR FN(bc)(tg_real s) { return s - (VR){0}; }

/* ------------------------------------------------------------------ dense layer GEMM */
/* C (no, Q) = W (no, ni) · H (ni, Q); Q a multiple of NV VL. Five output rows (a width of 20 splits evenly) times NV
 * vectors of columns live in registers; W entries are broadcast from memory. */
#define NV TG_PINN_NV
static void FN(mm)(tg_real *restrict C, const tg_real *restrict W, const tg_real *restrict H, int no, int ni, int Q)
{
    for (int q = 0; q < Q; q += NV * VL) {
        int o = 0;
        for (; o + 5 <= no; o += 5) {
            VR c[5][NV];
#pragma GCC unroll 5
            for (int r = 0; r < 5; r++)
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    c[r][v] = (VR){0};
            for (int i = 0; i < ni; i++) {
                const tg_real *h = H + (size_t)i * Q + q;
                VR hv[NV];
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    hv[v] = FN(ld)(h + v * VL);
#pragma GCC unroll 5
                for (int r = 0; r < 5; r++) {
                    VR w = FN(bc)(W[(size_t)(o + r) * ni + i]);
#pragma GCC unroll 4
                    for (int v = 0; v < NV; v++)
                        c[r][v] += w * hv[v];
                }
            }
#pragma GCC unroll 5
            for (int r = 0; r < 5; r++)
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    FN(st)(C + (size_t)(o + r) * Q + q + v * VL, c[r][v]);
        }
        for (; o < no; o++) {
            VR c[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                c[v] = (VR){0};
            for (int i = 0; i < ni; i++) {
                const tg_real *h = H + (size_t)i * Q + q;
                VR w = FN(bc)(W[(size_t)o * ni + i]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    c[v] += w * FN(ld)(h + v * VL);
            }
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                FN(st)(C + (size_t)o * Q + q + v * VL, c[v]);
        }
    }
}
#undef NV

/* G (no, ni, VL) += A (no, Q) · H (ni, Q)^T lane by lane: the horizontal sum over lanes is
 * done once per chunk of tiles, not per tile. */
static void FN(mmt)(tg_real *restrict G, const tg_real *restrict A, const tg_real *restrict H, int no, int ni, int Q)
{
    const size_t R = (size_t)ni * VL;
    int o = 0;
    for (; o + TG_PINN_MO <= no; o += TG_PINN_MO) {
        int i = 0;
        for (; i + TG_PINN_MI <= ni; i += TG_PINN_MI) {
            tg_real *gp = G + ((size_t)o * ni + i) * VL;
            VR g[TG_PINN_MO][TG_PINN_MI];
#pragma GCC unroll 8
            for (int r = 0; r < TG_PINN_MO; r++)
#pragma GCC unroll 8
                for (int s = 0; s < TG_PINN_MI; s++)
                    g[r][s] = FN(ld)(gp + r * R + (size_t)s * VL);
            for (int q = 0; q < Q; q += VL) {
                VR h[TG_PINN_MI];
#pragma GCC unroll 8
                for (int s = 0; s < TG_PINN_MI; s++)
                    h[s] = FN(ld)(H + (size_t)(i + s) * Q + q);
#pragma GCC unroll 8
                for (int r = 0; r < TG_PINN_MO; r++) {
                    VR a = FN(ld)(A + (size_t)(o + r) * Q + q);
#pragma GCC unroll 8
                    for (int s = 0; s < TG_PINN_MI; s++)
                        g[r][s] += a * h[s];
                }
            }
#pragma GCC unroll 8
            for (int r = 0; r < TG_PINN_MO; r++)
#pragma GCC unroll 8
                for (int s = 0; s < TG_PINN_MI; s++)
                    FN(st)(gp + r * R + (size_t)s * VL, g[r][s]);
        }
        for (; i < ni; i++)
            for (int r = o; r < o + TG_PINN_MO; r++) {
                tg_real *gp = G + ((size_t)r * ni + i) * VL;
                VR s = FN(ld)(gp);
                for (int q = 0; q < Q; q += VL)
                    s += FN(ld)(A + (size_t)r * Q + q) * FN(ld)(H + (size_t)i * Q + q);
                FN(st)(gp, s);
            }
    }
    for (; o < no; o++)
        for (int i = 0; i < ni; i++) {
            tg_real *gp = G + ((size_t)o * ni + i) * VL;
            VR s = FN(ld)(gp);
            for (int q = 0; q < Q; q += VL)
                s += FN(ld)(A + (size_t)o * Q + q) * FN(ld)(H + (size_t)i * Q + q);
            FN(st)(gp, s);
        }
}

/* ------------------------------------------------------------------ activations */
#ifndef TG_DOUBLE
/* e^(-2|x|) = s (1 + p) with s = 2^k and p = e^r - 1 (|r| <= ln2 / 2), |x| clamped at 20;
 * shared by tanh and its derivative below. */
static inline void FN(exp_m2)(tg_real x, tg_real *s_out, tg_real *p_out)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187045e-06f;
    float y = -2.0f * fabsf(x);
    y = y < -40.0f ? -40.0f : y;
    float kb = y * 1.44269504088896341f + magic;
    float k = kb - magic;
    float r = (y - k * ln2_hi) - k * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r;
    int32_t kbits, mbits, ki;
    memcpy(&kbits, &kb, 4);
    memcpy(&mbits, &magic, 4);
    ki = kbits - mbits;
    uint32_t sbits = (uint32_t)(ki + 127) << 23;
    float s;
    memcpy(&s, &sbits, 4);
    *s_out = s, *p_out = p;
}

/* tanh'(x) = 1 - tanh^2 x = 4 e / (1 + e)^2 with e = e^(-2|x|), to a few ulp of ITSELF.
 * 1 - y*y from the float y = tanh x carries an absolute error of up to ~1e-7 (y's
 * rounding): 0.4 % of the value at |x| = 7, 6 % at 8, 100 % at 9 and beyond, so the
 * derivatives of saturated units, and their share of a PINN's u_x and u_xx, were noise.
 * Float build only: in double that error is 1e-16 and the double build stays as it was. */
static inline tg_real FN(tanh_d)(tg_real x)
{
    tg_real s, p;
    FN(exp_m2)(x, &s, &p);
    float e = s * p + s, q = 1.0f + e;
    return 4.0f * e / (q * q);
}
#endif

/* tanh x = sign(x) * (-m / (2 + m)), m = expm1(-2|x|): one formula, accurate for small and
 * large |x| (no cancellation: m is computed as 2^k p(r) + (2^k - 1) with p(r) = e^r - 1 by
 * its Taylor series), branch-free so loops over points vectorise. Derivation and accuracy
 * in docs/pinn.md. */
static inline tg_real FN(tanh)(tg_real x)
{
#ifdef TG_DOUBLE
    const double magic = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double y = -2.0 * fabs(x);
    y = y < -80.0 ? -80.0 : y;                       /* keeps NaN */
    double kb = y * 1.44269504088896340736 + magic;  /* k in the low mantissa bits */
    double k = kb - magic;
    double r = (y - k * ln2_hi) - k * ln2_lo;
    double p = 1.0 / 87178291200.0;                  /* 1/14! */
    p = p * r + 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r;                                       /* e^r - 1 */
    int64_t kbits, mbits, ki;
    memcpy(&kbits, &kb, 8);
    memcpy(&mbits, &magic, 8);
    ki = kbits - mbits;
    uint64_t sbits = (uint64_t)(ki + 1023) << 52;
    double s;
    memcpy(&s, &sbits, 8);
    double m = s * p + (s - 1.0);
    double t = -m / (2.0 + m);
    return x < 0 ? -t : t;
#else
    tg_real s, p;
    FN(exp_m2)(x, &s, &p);
    float m = s * p + (s - 1.0f);
    float t = -m / (2.0f + m);
    return x < 0 ? -t : t;
#endif
}

/* s0 = act(a), s1 = act'(a), s2 = act''(a) over one row of T points. */
static void FN(act_s012)(int act, const tg_real *restrict a, tg_real *restrict s0, tg_real *restrict s1,
                         tg_real *restrict s2)
{
    switch (act) {
    case TG_PINN_TANH:
        for (int t = 0; t < TT; t++) {
#ifdef TG_DOUBLE
            tg_real y = FN(tanh)(a[t]), d = 1 - y * y;
#else
            tg_real y = FN(tanh)(a[t]), d = FN(tanh_d)(a[t]);
#endif
            s0[t] = y;
            s1[t] = d;
            s2[t] = -2 * y * d;
        }
        break;
    case TG_PINN_SIGMOID:
        for (int t = 0; t < TT; t++) {
            tg_real y = TG_R(0.5) + TG_R(0.5) * FN(tanh)(TG_R(0.5) * a[t]), d = y * (1 - y);
            s0[t] = y;
            s1[t] = d;
            s2[t] = d * (1 - 2 * y);
        }
        break;
    case TG_PINN_SIN:
        for (int t = 0; t < TT; t++) {
            tg_real sn = R_SIN(a[t]), cs = R_COS(a[t]);
            s0[t] = sn;
            s1[t] = cs;
            s2[t] = -sn;
        }
        break;
    default: /* softplus: log(1 + e^a) = max(a, 0) + log1p(e^-|a|) */
        for (int t = 0; t < TT; t++) {
            tg_real q = TG_R(0.5) + TG_R(0.5) * FN(tanh)(TG_R(0.5) * a[t]);
            s0[t] = (a[t] > 0 ? a[t] : 0) + R_LOG1P(R_EXP(-R_FABS(a[t])));
            s1[t] = q;
            s2[t] = q * (1 - q);
        }
        break;
    }
}

/* s1, s2, s3 for the backward, from the saved value row h0 = act(a) where that suffices. */
static void FN(act_s123)(int act, const tg_real *restrict a, const tg_real *restrict h0, tg_real *restrict s1,
                         tg_real *restrict s2, tg_real *restrict s3)
{
    switch (act) {
    case TG_PINN_TANH:
        for (int t = 0; t < TT; t++) {
#ifdef TG_DOUBLE
            tg_real y = h0[t], d = 1 - y * y;
#else
            tg_real y = h0[t], d = FN(tanh_d)(a[t]);
#endif
            s1[t] = d;
            s2[t] = -2 * y * d;
            s3[t] = d * (6 * y * y - 2);
        }
        break;
    case TG_PINN_SIGMOID:
        for (int t = 0; t < TT; t++) {
            tg_real y = h0[t], d = y * (1 - y), e = d * (1 - 2 * y);
            s1[t] = d;
            s2[t] = e;
            s3[t] = e * (1 - 2 * y) - 2 * d * d;
        }
        break;
    case TG_PINN_SIN:
        for (int t = 0; t < TT; t++) {
            tg_real cs = R_COS(a[t]);
            s1[t] = cs;
            s2[t] = -h0[t];
            s3[t] = -cs;
        }
        break;
    default:
        for (int t = 0; t < TT; t++) {
            tg_real q = TG_R(0.5) + TG_R(0.5) * FN(tanh)(TG_R(0.5) * a[t]), d = q * (1 - q);
            s1[t] = q;
            s2[t] = d;
            s3[t] = d * (1 - 2 * q);
        }
        break;
    }
}

/* Row kernels: one channel row of T points each. Separate functions with restrict
 * pointers so every loop vectorises (channel rows of one buffer would otherwise look like
 * possible aliases, and the pure pair (i, i) really does update one row twice). */
#define ROWFN static __attribute__((noinline))
ROWFN void FN(row_d_fwd)(tg_real *restrict hd, const tg_real *restrict ad, const tg_real *restrict s1)
{
    for (int t = 0; t < TT; t++)
        hd[t] = s1[t] * ad[t];
}
ROWFN void FN(row_p_fwd)(tg_real *restrict hp, const tg_real *restrict ai, const tg_real *restrict aj,
                         const tg_real *restrict ap, const tg_real *restrict s1, const tg_real *restrict s2)
{
    for (int t = 0; t < TT; t++)
        hp[t] = s2[t] * ai[t] * aj[t] + s1[t] * ap[t];
}
ROWFN void FN(row_v_bwd)(tg_real *restrict ga, const tg_real *restrict g, const tg_real *restrict s1)
{
    for (int t = 0; t < TT; t++)
        ga[t] = g[t] * s1[t];
}
ROWFN void FN(row_d_bwd)(tg_real *restrict gad, tg_real *restrict ga, const tg_real *restrict gd,
                         const tg_real *restrict ad, const tg_real *restrict s1, const tg_real *restrict s2)
{
    for (int t = 0; t < TT; t++) {
        gad[t] = gd[t] * s1[t];
        ga[t] += gd[t] * s2[t] * ad[t];
    }
}
/* mixed pair (i != j) */
ROWFN void FN(row_pm_bwd)(tg_real *restrict gap, tg_real *restrict ga, tg_real *restrict gai, tg_real *restrict gaj,
                          const tg_real *restrict gp, const tg_real *restrict ai, const tg_real *restrict aj,
                          const tg_real *restrict ap, const tg_real *restrict s1, const tg_real *restrict s2,
                          const tg_real *restrict s3)
{
    for (int t = 0; t < TT; t++) {
        tg_real gs2 = gp[t] * s2[t];
        gap[t] = gp[t] * s1[t];
        ga[t] += gp[t] * s3[t] * ai[t] * aj[t] + gs2 * ap[t];
        gai[t] += gs2 * aj[t];
        gaj[t] += gs2 * ai[t];
    }
}
/* pure pair (i, i): d(s2 a_i^2)/da_i = 2 s2 a_i */
ROWFN void FN(row_pp_bwd)(tg_real *restrict gap, tg_real *restrict ga, tg_real *restrict gai,
                          const tg_real *restrict gp, const tg_real *restrict ai, const tg_real *restrict ap,
                          const tg_real *restrict s1, const tg_real *restrict s2, const tg_real *restrict s3)
{
    for (int t = 0; t < TT; t++) {
        tg_real gs2 = gp[t] * s2[t];
        gap[t] = gp[t] * s1[t];
        ga[t] += gp[t] * s3[t] * ai[t] * ai[t] + gs2 * ap[t];
        gai[t] += 2 * gs2 * ai[t];
    }
}
#undef ROWFN

/* Jet through the activation, row by row (n rows of (K, T)):
 *   h = s0,  h_i = s1 a_i,  h_ij = s2 a_i a_j + s1 a_ij. */
static void FN(act_fwd)(const tg_pinn_plan *pl, tg_real *restrict Hl, const tg_real *restrict Al, int n)
{
    const int K = pl->K, D = pl->D, P = pl->P;
    for (int o = 0; o < n; o++) {
        const tg_real *a = Al + (size_t)o * K * TT;
        tg_real *h = Hl + (size_t)o * K * TT;
        tg_real s1[TT], s2[TT];
        FN(act_s012)(pl->act, a, h, s1, s2);
        for (int d = 0; d < D; d++)
            FN(row_d_fwd)(h + (size_t)(1 + d) * TT, a + (size_t)(1 + d) * TT, s1);
        for (int p = 0; p < P; p++)
            FN(row_p_fwd)(h + (size_t)(1 + D + p) * TT, a + (size_t)(1 + pl->pair[p][0]) * TT,
                          a + (size_t)(1 + pl->pair[p][1]) * TT, a + (size_t)(1 + D + p) * TT, s1, s2);
    }
}

/* Reverse of act_fwd: gA from gH (the transpose of the jet map's Jacobian):
 *   gA_ij = gH_ij s1
 *   gA_i  = gH_i s1 + sum over pairs (i, j) of gH_ij s2 a_j   (twice for i == j)
 *   gA    = gH s1 + sum_i gH_i s2 a_i + sum_ij gH_ij (s3 a_i a_j + s2 a_ij). */
static void FN(act_bwd)(const tg_pinn_plan *pl, tg_real *restrict gA, const tg_real *restrict gH,
                        const tg_real *restrict Al, const tg_real *restrict Hl, int n)
{
    const int K = pl->K, D = pl->D, P = pl->P;
    for (int o = 0; o < n; o++) {
        const size_t row = (size_t)o * K * TT;
        const tg_real *a = Al + row, *g = gH + row;
        tg_real *ga = gA + row;
        tg_real s1[TT], s2[TT], s3[TT];
        FN(act_s123)(pl->act, a, Hl + row, s1, s2, s3);
        FN(row_v_bwd)(ga, g, s1);
        for (int d = 0; d < D; d++) {
            const size_t c = (size_t)(1 + d) * TT;
            FN(row_d_bwd)(ga + c, ga, g + c, a + c, s1, s2);
        }
        for (int p = 0; p < P; p++) {
            const size_t ci = (size_t)(1 + pl->pair[p][0]) * TT, cj = (size_t)(1 + pl->pair[p][1]) * TT;
            const size_t cp = (size_t)(1 + D + p) * TT;
            if (ci == cj)
                FN(row_pp_bwd)(ga + cp, ga, ga + ci, g + cp, a + ci, a + cp, s1, s2, s3);
            else
                FN(row_pm_bwd)(ga + cp, ga, ga + ci, ga + cj, g + cp, a + ci, a + cj, a + cp, s1, s2, s3);
        }
    }
}

/* ------------------------------------------------------------------ tile passes */
/* ws->H[0] holds the input jet; fills A[1..L] and H[1..L-1]. */
static void FN(tile_forward)(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *b,
                             tg_pinn_ws *ws)
{
    const int Q = pl->K * TT;
    for (int l = 1; l <= pl->L; l++) {
        const int no = pl->size[l], ni = pl->size[l - 1];
        tg_real *A = ws->A[l];
        FN(mm)(A, W[l - 1], ws->H[l - 1], no, ni, Q);
        if (b[l - 1])
            for (int o = 0; o < no; o++) { /* the bias moves the value channel only */
                tg_real *a = A + (size_t)o * Q, bo = b[l - 1][o];
                for (int t = 0; t < TT; t++)
                    a[t] += bo;
            }
        if (l < pl->L)
            FN(act_fwd)(pl, ws->H[l], A, no);
    }
}

/* ws->gA holds dL/dA_L for the tile, after tile_forward. Accumulates lane-wise weight and
 * bias gradients; leaves dL/dH_0 in ws->gH when want_input_grad. */
static void FN(tile_backward)(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *Wt,
                              tg_pinn_ws *ws, int want_input_grad)
{
    (void)W;
    const int Q = pl->K * TT;
    for (int l = pl->L; l >= 1; l--) {
        const int no = pl->size[l], ni = pl->size[l - 1];
        FN(mmt)(ws->accW[l - 1], ws->gA, ws->H[l - 1], no, ni, Q);
        tg_real *ab = ws->accb[l - 1];
        for (int o = 0; o < no; o++) {
            VR s = FN(ld)(ab + (size_t)o * VL);
            for (int t = 0; t < TT; t += VL)
                s += FN(ld)(ws->gA + (size_t)o * Q + t);
            FN(st)(ab + (size_t)o * VL, s);
        }
        if (l == 1 && !want_input_grad)
            break;
        FN(mm)(ws->gH, Wt[l - 1], ws->gA, ni, no, Q);
        if (l > 1)
            FN(act_bwd)(pl, ws->gA, ws->gH, ws->A[l - 1], ws->H[l - 1], ni);
    }
}

static const tg_pinn_isa FN(isa) = {VL, FN(tile_forward), FN(tile_backward)};

#undef PJ_CAT2
#undef PJ_CAT
#undef FN
#undef VL
#undef VR
#undef TT
