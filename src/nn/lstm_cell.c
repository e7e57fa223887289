/* lstm_cell.c — the elementwise part of one LSTM step (gates, cell, hidden), forward and
 * backward, on a block of batch rows.
 *
 * Why explicit vector code: per step the cell evaluates 5 transcendentals per hidden unit
 * and row (3 sigmoids, 2 tanh), B*H*5 = 330k at B = H = 256. glibc's scalar expf/tanhf do
 * not vectorise without -ffast-math (which we never use), and at ~5-10 ns each the cell
 * would cost as much as the recurrent GEMM. In the float build with AVX2 we call glibc's
 * vector math library (libmvec, linked through libm) explicitly: _ZGVdN8v_expf and
 * _ZGVdN8v_tanhf, documented max error 1-4 ulp. The double build (verification) and the
 * tail of each row use scalar libm. The column split is fixed by H, so the result never
 * depends on the thread count. */
#include <math.h>
#include <string.h>

#include "nn/nn_internal.h"

#if !defined(TG_DOUBLE) && defined(__AVX2__) && defined(__FMA__)
#define TG_CELL_AVX2 1
#include <immintrin.h>
/* glibc libmvec, AVX2 variants (vector function ABI names). */
__m256 _ZGVdN8v_expf(__m256 x);
__m256 _ZGVdN8v_tanhf(__m256 x);

static inline __m256 v_sigmoid(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = _ZGVdN8v_expf(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}
/* Pre-activation a + (b_ih + b_hh), in the same order as the scalar tail. */
static inline __m256 v_pre(const float *a, const float *b1, const float *b2, int j)
{
    return _mm256_add_ps(_mm256_loadu_ps(a + j), _mm256_add_ps(_mm256_loadu_ps(b1 + j), _mm256_loadu_ps(b2 + j)));
}
#endif

#ifdef TG_DOUBLE
static inline tg_real s_sigmoid(tg_real x) { return 1.0 / (1.0 + exp(-x)); }
static inline tg_real s_tanh(tg_real x) { return tanh(x); }
#else
static inline tg_real s_sigmoid(tg_real x) { return 1.0f / (1.0f + expf(-x)); }
static inline tg_real s_tanh(tg_real x) { return tanhf(x); }
#endif

void tg_lstm_cell_forward(tg_real *a, tg_real *c, tg_real *h, const tg_real *cprev, const tg_real *b_ih,
                          const tg_real *b_hh, int R, int H)
{
    const size_t G = 4 * (size_t)H;
    for (int r = 0; r < R; r++) {
        tg_real *ai = a + (size_t)r * G, *af = ai + H, *ag = ai + 2 * (size_t)H, *ao = ai + 3 * (size_t)H;
        const tg_real *bi = b_ih, *bf = b_ih + H, *bg = b_ih + 2 * (size_t)H, *bo = b_ih + 3 * (size_t)H;
        const tg_real *ci = b_hh, *cf = b_hh + H, *cg = b_hh + 2 * (size_t)H, *co = b_hh + 3 * (size_t)H;
        const tg_real *cp = cprev ? cprev + (size_t)r * (size_t)H : NULL;
        tg_real *cr = c + (size_t)r * (size_t)H, *hr = h + (size_t)r * (size_t)H;
        int j = 0;
#ifdef TG_CELL_AVX2
        for (; j + 8 <= H; j += 8) {
            __m256 vi = v_sigmoid(v_pre(ai, bi, ci, j));
            __m256 vf = v_sigmoid(v_pre(af, bf, cf, j));
            __m256 vg = _ZGVdN8v_tanhf(v_pre(ag, bg, cg, j));
            __m256 vo = v_sigmoid(v_pre(ao, bo, co, j));
            __m256 ig = _mm256_mul_ps(vi, vg);
            __m256 vc = cp ? _mm256_fmadd_ps(vf, _mm256_loadu_ps(cp + j), ig) : ig;
            __m256 vh = _mm256_mul_ps(vo, _ZGVdN8v_tanhf(vc));
            _mm256_storeu_ps(ai + j, vi);
            _mm256_storeu_ps(af + j, vf);
            _mm256_storeu_ps(ag + j, vg);
            _mm256_storeu_ps(ao + j, vo);
            _mm256_storeu_ps(cr + j, vc);
            _mm256_storeu_ps(hr + j, vh);
        }
#endif
        for (; j < H; j++) {
            tg_real vi = s_sigmoid(ai[j] + (bi[j] + ci[j])), vf = s_sigmoid(af[j] + (bf[j] + cf[j]));
            tg_real vg = s_tanh(ag[j] + (bg[j] + cg[j])), vo = s_sigmoid(ao[j] + (bo[j] + co[j]));
            tg_real vc = vi * vg;
            if (cp)
                vc += vf * cp[j];
            ai[j] = vi, af[j] = vf, ag[j] = vg, ao[j] = vo;
            cr[j] = vc;
            hr[j] = vo * s_tanh(vc);
        }
    }
}

/* d(pre-activation) from the activated gate values (see docs/lstm_backward.md):
 *   dh = dh_ext + dh_rec;  tc = tanh(c_t)
 *   dc = dc_carry + dh o (1 - tc^2)
 *   da_i = dc g i (1 - i);  da_f = dc c_{t-1} f (1 - f);  da_g = dc i (1 - g^2)
 *   da_o = dh tc o (1 - o);  dc_carry <- dc f */
void tg_lstm_cell_backward(tg_real *a, tg_real *dc, const tg_real *dh_ext, const tg_real *dh_rec,
                           const tg_real *c, const tg_real *cprev, int R, int H, double *dbias, tg_real *tmp4h)
{
    const size_t G = 4 * (size_t)H;
    /* Column sums in tg_real per step (at most a chunk of rows), then added to the double
     * accumulator once per step: cheap, and accurate over thousands of steps. */
    memset(tmp4h, 0, sizeof(tg_real) * G);
    for (int r = 0; r < R; r++) {
        tg_real *ai = a + (size_t)r * G, *af = ai + H, *ag = ai + 2 * (size_t)H, *ao = ai + 3 * (size_t)H;
        const size_t ro = (size_t)r * (size_t)H;
        const tg_real *de = dh_ext ? dh_ext + ro : NULL, *dr = dh_rec ? dh_rec + ro : NULL;
        const tg_real *cr = c + ro, *cp = cprev ? cprev + ro : NULL;
        tg_real *dcr = dc + ro;
        int j = 0;
#ifdef TG_CELL_AVX2
        const __m256 one = _mm256_set1_ps(1.0f);
        for (; j + 8 <= H; j += 8) {
            __m256 vi = _mm256_loadu_ps(ai + j), vf = _mm256_loadu_ps(af + j);
            __m256 vg = _mm256_loadu_ps(ag + j), vo = _mm256_loadu_ps(ao + j);
            __m256 dh = _mm256_setzero_ps();
            if (de)
                dh = _mm256_loadu_ps(de + j);
            if (dr)
                dh = _mm256_add_ps(dh, _mm256_loadu_ps(dr + j));
            __m256 tc = _ZGVdN8v_tanhf(_mm256_loadu_ps(cr + j));
            __m256 dct = _mm256_mul_ps(_mm256_mul_ps(dh, vo), _mm256_fnmadd_ps(tc, tc, one));
            dct = _mm256_add_ps(_mm256_loadu_ps(dcr + j), dct);
            __m256 cpv = cp ? _mm256_loadu_ps(cp + j) : _mm256_setzero_ps();
            __m256 dai = _mm256_mul_ps(_mm256_mul_ps(dct, vg), _mm256_mul_ps(vi, _mm256_sub_ps(one, vi)));
            __m256 daf = _mm256_mul_ps(_mm256_mul_ps(dct, cpv), _mm256_mul_ps(vf, _mm256_sub_ps(one, vf)));
            __m256 dag = _mm256_mul_ps(_mm256_mul_ps(dct, vi), _mm256_fnmadd_ps(vg, vg, one));
            __m256 dao = _mm256_mul_ps(_mm256_mul_ps(dh, tc), _mm256_mul_ps(vo, _mm256_sub_ps(one, vo)));
            _mm256_storeu_ps(dcr + j, _mm256_mul_ps(dct, vf));
            _mm256_storeu_ps(ai + j, dai);
            _mm256_storeu_ps(af + j, daf);
            _mm256_storeu_ps(ag + j, dag);
            _mm256_storeu_ps(ao + j, dao);
            _mm256_storeu_ps(tmp4h + j, _mm256_add_ps(_mm256_loadu_ps(tmp4h + j), dai));
            _mm256_storeu_ps(tmp4h + H + j, _mm256_add_ps(_mm256_loadu_ps(tmp4h + H + j), daf));
            _mm256_storeu_ps(tmp4h + 2 * H + j, _mm256_add_ps(_mm256_loadu_ps(tmp4h + 2 * H + j), dag));
            _mm256_storeu_ps(tmp4h + 3 * H + j, _mm256_add_ps(_mm256_loadu_ps(tmp4h + 3 * H + j), dao));
        }
#endif
        for (; j < H; j++) {
            tg_real vi = ai[j], vf = af[j], vg = ag[j], vo = ao[j];
            tg_real dh = (de ? de[j] : TG_R(0.0)) + (dr ? dr[j] : TG_R(0.0));
            tg_real tc = s_tanh(cr[j]);
            tg_real dct = dcr[j] + dh * vo * (TG_R(1.0) - tc * tc);
            tg_real cpv = cp ? cp[j] : TG_R(0.0);
            tg_real dai = dct * vg * (vi * (TG_R(1.0) - vi));
            tg_real daf = dct * cpv * (vf * (TG_R(1.0) - vf));
            tg_real dag = dct * vi * (TG_R(1.0) - vg * vg);
            tg_real dao = dh * tc * (vo * (TG_R(1.0) - vo));
            dcr[j] = dct * vf;
            ai[j] = dai, af[j] = daf, ag[j] = dag, ao[j] = dao;
            tmp4h[j] += dai, tmp4h[H + j] += daf, tmp4h[2 * H + j] += dag, tmp4h[3 * H + j] += dao;
        }
    }
    for (size_t k = 0; k < G; k++)
        dbias[k] += (double)tmp4h[k];
}
