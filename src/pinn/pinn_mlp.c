/* pinn_mlp.c — Taylor-mode MLP over flat arrays: tiling, threads, gathers/scatters and the
 * deterministic reduction of weight gradients. The per-tile math is in pinn_mlp_impl.h,
 * compiled here three times: for the build's baseline ISA and, on x86-64 GCC, for AVX2+FMA
 * and AVX-512, chosen at run time from tg_cpu_level() (src/core/cpu.c; TG_CPU=baseline
 * forces the baseline kernels).
 *
 * ISO C mode (-std=c11) turns off floating-point contraction, which halves the GEMM speed;
 * FMA contraction is not -ffast-math (no reassociation, no NaN/inf assumptions, one
 * rounding instead of two), so this file asks for it explicitly. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
/* builds without -mavx (Debug) warn that static helpers passing 32-byte vectors would have
 * another ABI than AVX code; they are file-local and inlined, so no ABI is involved */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/realmath.h"
#include "core/internal.h"
#include "pinn/pinn_internal.h"

#define TG_PINN_SFX base
#define TG_PINN_VB 32
#define TG_PINN_NV 2
#define TG_PINN_MO 3
#define TG_PINN_MI 3
#include "pinn/pinn_mlp_impl.h"
#undef TG_PINN_SFX
#undef TG_PINN_VB
#undef TG_PINN_NV
#undef TG_PINN_MO
#undef TG_PINN_MI

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TG_PINN_HAVE_X86 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define TG_PINN_SFX avx2
#define TG_PINN_VB 32
#define TG_PINN_NV 2
#define TG_PINN_MO 3
#define TG_PINN_MI 3
#include "pinn/pinn_mlp_impl.h"
#undef TG_PINN_SFX
#undef TG_PINN_VB
#undef TG_PINN_NV
#undef TG_PINN_MO
#undef TG_PINN_MI
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512dq,avx512vl,avx512bw")
#define TG_PINN_SFX avx512
#define TG_PINN_VB 64
#define TG_PINN_NV 4
#define TG_PINN_MO 4
#define TG_PINN_MI 5
#include "pinn/pinn_mlp_impl.h"
#undef TG_PINN_SFX
#undef TG_PINN_VB
#undef TG_PINN_NV
#undef TG_PINN_MO
#undef TG_PINN_MI
#pragma GCC pop_options
#endif

const tg_pinn_isa *tg_pinn_isa_base(void) { return &isa_base; }

const tg_pinn_isa *tg_pinn_isa_avx2(void)
{
#ifdef TG_PINN_HAVE_X86
    return &isa_avx2;
#else
    return NULL;
#endif
}

const tg_pinn_isa *tg_pinn_isa_avx512(void)
{
#ifdef TG_PINN_HAVE_X86
    return &isa_avx512;
#else
    return NULL;
#endif
}

const tg_pinn_isa *tg_pinn_isa_select(void)
{
#ifdef TG_PINN_HAVE_X86
    switch (tg_cpu_level()) {
    case TG_CPU_AVX512: return &isa_avx512;
    case TG_CPU_AVX2: return &isa_avx2;
    default: break;
    }
#endif
    return &isa_base;
}

/* ------------------------------------------------------------------ reference activation */
void tg_pinn_act_eval(int act, double a, double s[4])
{
    switch (act) {
    case TG_PINN_TANH: {
        double y = tanh(a), d = 1 - y * y;
        s[0] = y, s[1] = d, s[2] = -2 * y * d, s[3] = d * (6 * y * y - 2);
        break;
    }
    case TG_PINN_SIGMOID: {
        double y = 1 / (1 + exp(-a)), d = y * (1 - y), e = d * (1 - 2 * y);
        s[0] = y, s[1] = d, s[2] = e, s[3] = e * (1 - 2 * y) - 2 * d * d;
        break;
    }
    case TG_PINN_SIN:
        s[0] = sin(a), s[1] = cos(a), s[2] = -sin(a), s[3] = -cos(a);
        break;
    default: {
        double q = 1 / (1 + exp(-a)), d = q * (1 - q);
        s[0] = (a > 0 ? a : 0) + log1p(exp(-fabs(a))), s[1] = q, s[2] = d, s[3] = d * (1 - 2 * q);
        break;
    }
    }
}

/* ------------------------------------------------------------------ workspace */
static size_t ws_reals(const tg_pinn_plan *pl, int lanes)
{
    size_t KT = (size_t)pl->K * TG_PINN_TILE, r = 0;
    int nmax = 0;
    for (int l = 0; l <= pl->L; l++) {
        r += 2 * (size_t)pl->size[l] * KT; /* A_l and H_l (a few unused, simpler) */
        if (pl->size[l] > nmax)
            nmax = pl->size[l];
    }
    r += 2 * (size_t)nmax * KT;
    for (int l = 0; l < pl->L; l++)
        r += (size_t)pl->size[l + 1] * ((size_t)pl->size[l] + 1) * (size_t)lanes;
    return r + 16; /* slack for 64-byte alignment */
}

static void ws_carve(const tg_pinn_plan *pl, int lanes, tg_real *base, tg_pinn_ws *ws)
{
    size_t KT = (size_t)pl->K * TG_PINN_TILE;
    int nmax = 0;
    tg_real *p = (tg_real *)(((uintptr_t)base + 63) & ~(uintptr_t)63);
    for (int l = 0; l <= pl->L; l++) {
        ws->A[l] = p, p += (size_t)pl->size[l] * KT;
        ws->H[l] = p, p += (size_t)pl->size[l] * KT;
        if (pl->size[l] > nmax)
            nmax = pl->size[l];
    }
    ws->gH = p, p += (size_t)nmax * KT;
    ws->gA = p, p += (size_t)nmax * KT;
    for (int l = 0; l < pl->L; l++) {
        ws->accW[l] = p, p += (size_t)pl->size[l + 1] * pl->size[l] * lanes;
        ws->accb[l] = p, p += (size_t)pl->size[l + 1] * lanes;
    }
}

static int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* ------------------------------------------------------------------ gathers, scatters */
/* Input jet of points [p0, p0 + tn) into H0 (n_0, K, T); padding points get zeros. */
static void load_input(const tg_pinn_plan *pl, const tg_real *const *in, int p0, int tn, tg_real *H0)
{
    const int n0 = pl->size[0], K = pl->K, D = pl->D, T = TG_PINN_TILE;
    memset(H0, 0, (size_t)n0 * K * T * sizeof *H0);
    for (int i = 0; i < n0; i++) {
        tg_real *h = H0 + (size_t)i * K * T, sc = pl->in_scale[i], sh = pl->in_shift[i];
        for (int t = 0; t < tn; t++)
            h[t] = sc * in[0][(size_t)(p0 + t) * n0 + i] + sh;
        if (pl->coords) {
            if (i < D)
                for (int t = 0; t < T; t++)
                    h[(size_t)(1 + i) * T + t] = sc;
        } else {
            for (int c = 1; c < K; c++)
                for (int t = 0; t < tn; t++)
                    h[(size_t)c * T + t] = sc * in[c][(size_t)(p0 + t) * n0 + i];
        }
    }
}

static void store_output(const tg_pinn_plan *pl, const tg_real *AL, int p0, int tn, tg_real *const *out)
{
    const int nL = pl->size[pl->L], K = pl->K, T = TG_PINN_TILE;
    for (int o = 0; o < nL; o++)
        for (int c = 0; c < K; c++) {
            const tg_real *a = AL + ((size_t)o * K + c) * T;
            for (int t = 0; t < tn; t++)
                out[c][(size_t)(p0 + t) * nL + o] = a[t];
        }
}

static void load_gout(const tg_pinn_plan *pl, const tg_real *const *gout, int p0, int tn, tg_real *gA)
{
    const int nL = pl->size[pl->L], K = pl->K, T = TG_PINN_TILE;
    for (int o = 0; o < nL; o++)
        for (int c = 0; c < K; c++) {
            tg_real *g = gA + ((size_t)o * K + c) * T;
            for (int t = 0; t < tn; t++)
                g[t] = gout[c][(size_t)(p0 + t) * nL + o];
            for (int t = tn; t < T; t++)
                g[t] = 0;
        }
}

static void store_gin(const tg_pinn_plan *pl, const tg_real *gH0, int p0, int tn, tg_real *const *gin)
{
    const int n0 = pl->size[0], K = pl->K, T = TG_PINN_TILE;
    const int nc = pl->coords ? 1 : K; /* coordinate seeds are constants */
    for (int i = 0; i < n0; i++)
        for (int c = 0; c < nc; c++) {
            if (!gin[c])
                continue;
            const tg_real *g = gH0 + ((size_t)i * K + c) * T;
            tg_real sc = pl->in_scale[i];
            for (int t = 0; t < tn; t++)
                gin[c][(size_t)(p0 + t) * n0 + i] += sc * g[t];
        }
}

/* ------------------------------------------------------------------ forward */
static int raw_forward(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *b, int N,
                       const tg_real *const *in, tg_real *const *out)
{
    if (N <= 0)
        return 0;
    const tg_pinn_isa *isa = tg_pinn_isa_select();
    const int ntiles = (N + TG_PINN_TILE - 1) / TG_PINN_TILE;
    /* small calls stay on one thread: a parallel region costs more than 4 tiles of work,
     * and far more on a busy machine where a descheduled thread stalls the barrier */
    int nth = max_threads();
    if (nth > ntiles / 4)
        nth = ntiles / 4 > 1 ? ntiles / 4 : 1;
    const size_t wsr = ws_reals(pl, isa->lanes);
    tg_real *mem = tg_malloc((size_t)nth * wsr * sizeof *mem);
    if (!mem)
        return tg_error_set(TG_ENOMEM, "pinn: out of memory for the MLP workspace");
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
    for (int tile = 0; tile < ntiles; tile++) {
        tg_pinn_ws ws;
        ws_carve(pl, isa->lanes, mem + (size_t)thread_id() * wsr, &ws);
        int p0 = tile * TG_PINN_TILE, tn = N - p0 < TG_PINN_TILE ? N - p0 : TG_PINN_TILE;
        load_input(pl, in, p0, tn, ws.H[0]);
        isa->tile_forward(pl, W, b, &ws);
        store_output(pl, ws.A[pl->L], p0, tn, out);
    }
    tg_free(mem, (size_t)nth * wsr * sizeof *mem);
    return 0;
}

/* ------------------------------------------------------------------ backward */
static int raw_backward(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *b, int N,
                        const tg_real *const *in, const tg_real *const *gout, tg_real *const *gW,
                        tg_real *const *gb, tg_real *const *gin)
{
    if (N <= 0)
        return 0;
    const tg_pinn_isa *isa = tg_pinn_isa_select();
    const int L = pl->L, lanes = isa->lanes;
    const int ntiles = (N + TG_PINN_TILE - 1) / TG_PINN_TILE;
    const int nchunks = (ntiles + TG_PINN_CHUNK - 1) / TG_PINN_CHUNK;
    int want_in = 0;
    if (gin)
        for (int c = 0; c < (pl->coords ? 1 : pl->K); c++)
            want_in |= gin[c] != NULL;
    int nth = max_threads(); /* at least two chunks per thread (see the forward) */
    if (nth > nchunks / 2)
        nth = nchunks / 2 > 1 ? nchunks / 2 : 1;

    /* layout of one chunk's gradient: W_0, b_0, W_1, b_1, ... */
    size_t off[TG_PINN_MAX_LAYERS][2], ptot = 0, wt = 0;
    for (int l = 0; l < L; l++) {
        off[l][0] = ptot, ptot += (size_t)pl->size[l + 1] * pl->size[l];
        off[l][1] = ptot, ptot += (size_t)pl->size[l + 1];
        wt += (size_t)pl->size[l + 1] * pl->size[l];
    }
    const size_t wsr = ws_reals(pl, lanes);
    const size_t bytes = ((size_t)nth * wsr + (size_t)nchunks * ptot + wt) * sizeof(tg_real);
    tg_real *mem = tg_malloc(bytes);
    if (!mem)
        return tg_error_set(TG_ENOMEM, "pinn: out of memory for the MLP backward workspace");
    tg_real *cg = mem + (size_t)nth * wsr, *wtb = cg + (size_t)nchunks * ptot;
    const tg_real *Wt[TG_PINN_MAX_LAYERS];
    for (int l = 0; l < L; l++) { /* W_l^T for the input-gradient GEMM */
        const int no = pl->size[l + 1], ni = pl->size[l];
        tg_real *t = wtb;
        for (int o = 0; o < no; o++)
            for (int i = 0; i < ni; i++)
                t[(size_t)i * no + o] = W[l][(size_t)o * ni + i];
        Wt[l] = t;
        wtb += (size_t)no * ni;
    }

#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
    for (int chunk = 0; chunk < nchunks; chunk++) {
        tg_pinn_ws ws;
        ws_carve(pl, lanes, mem + (size_t)thread_id() * wsr, &ws);
        for (int l = 0; l < L; l++) {
            memset(ws.accW[l], 0, (size_t)pl->size[l + 1] * pl->size[l] * lanes * sizeof(tg_real));
            memset(ws.accb[l], 0, (size_t)pl->size[l + 1] * lanes * sizeof(tg_real));
        }
        int t_end = (chunk + 1) * TG_PINN_CHUNK < ntiles ? (chunk + 1) * TG_PINN_CHUNK : ntiles;
        for (int tile = chunk * TG_PINN_CHUNK; tile < t_end; tile++) {
            int p0 = tile * TG_PINN_TILE, tn = N - p0 < TG_PINN_TILE ? N - p0 : TG_PINN_TILE;
            load_input(pl, in, p0, tn, ws.H[0]);
            isa->tile_forward(pl, W, b, &ws);
            load_gout(pl, gout, p0, tn, ws.gA);
            isa->tile_backward(pl, W, Wt, &ws, want_in);
            if (want_in)
                store_gin(pl, ws.gH, p0, tn, gin);
        }
        tg_real *g = cg + (size_t)chunk * ptot; /* horizontal sums over lanes */
        for (int l = 0; l < L; l++) {
            size_t nw = (size_t)pl->size[l + 1] * pl->size[l], nb = (size_t)pl->size[l + 1];
            for (size_t k = 0; k < nw; k++) {
                tg_real s = 0;
                for (int v = 0; v < lanes; v++)
                    s += ws.accW[l][k * lanes + v];
                g[off[l][0] + k] = s;
            }
            for (size_t k = 0; k < nb; k++) {
                tg_real s = 0;
                for (int v = 0; v < lanes; v++)
                    s += ws.accb[l][k * lanes + v];
                g[off[l][1] + k] = s;
            }
        }
    }
    for (int l = 0; l < L; l++) { /* chunks in order: the same sum on any thread count */
        size_t nw = (size_t)pl->size[l + 1] * pl->size[l], nb = (size_t)pl->size[l + 1];
        if (gW && gW[l])
            for (size_t k = 0; k < nw; k++) {
                tg_real s = 0;
                for (int c = 0; c < nchunks; c++)
                    s += cg[(size_t)c * ptot + off[l][0] + k];
                gW[l][k] += s;
            }
        if (gb && gb[l])
            for (size_t k = 0; k < nb; k++) {
                tg_real s = 0;
                for (int c = 0; c < nchunks; c++)
                    s += cg[(size_t)c * ptot + off[l][1] + k];
                gb[l][k] += s;
            }
    }
    tg_free(mem, bytes);
    return 0;
}

/* ------------------------------------------------------------------ work accounting */
/* FLOPs of the layers' products over all K channels (value, directions, pairs): the fused
 * MLP's GEMM-equivalent work. The backward recomputes the forward and runs two products
 * per layer (input and weight gradients): three times the forward's. */
static double product_flops(const tg_pinn_plan *pl, int N)
{
    double f = 0.0;
    for (int l = 0; l < pl->L; l++)
        f += 2.0 * pl->size[l + 1] * (double)pl->size[l];
    return f * (double)N * (double)pl->K;
}

int tg_pinn_raw_forward(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *b, int N,
                        const tg_real *const *in, tg_real *const *out)
{
    if (!tg__gemm_stats_on)
        return raw_forward(pl, W, b, N, in, out);
    double t0 = tg__gemm_stats_clock();
    int rc = raw_forward(pl, W, b, N, in, out);
    tg__gemm_stats_add(tg__gemm_stats_clock() - t0, N > 0 ? product_flops(pl, N) : 0.0);
    return rc;
}

int tg_pinn_raw_backward(const tg_pinn_plan *pl, const tg_real *const *W, const tg_real *const *b, int N,
                         const tg_real *const *in, const tg_real *const *gout, tg_real *const *gW,
                         tg_real *const *gb, tg_real *const *gin)
{
    if (!tg__gemm_stats_on)
        return raw_backward(pl, W, b, N, in, gout, gW, gb, gin);
    double t0 = tg__gemm_stats_clock();
    int rc = raw_backward(pl, W, b, N, in, gout, gW, gb, gin);
    tg__gemm_stats_add(tg__gemm_stats_clock() - t0, N > 0 ? 3.0 * product_flops(pl, N) : 0.0);
    return rc;
}
