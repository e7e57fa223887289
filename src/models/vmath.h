/* vmath.h — exp, log and pow that the compiler vectorises in loops over lanes.
 *
 * Why: physics loops (HBV: two pow per lane and step) are bound by transcendentals.
 * glibc's scalar powf costs ~30 ns and never vectorises without -ffast-math, which we
 * refuse (it breaks NaN handling and backward passes). These functions are branch-free
 * static inline code built from + * fma, integer bit moves and selects, so GCC turns a
 * loop calling them into vector code (check with -fopt-info-vec-optimized).
 *
 * Accuracy (measured by tests/test_hbv_vmath.c against glibc on dense grids):
 *   tg_vexpf  x in [-87.3, 88.7]              <= 1 ulp   (subnormal results: gradual,
 *             x < -103.9 -> 0, x > 88.72 -> +inf)           absolute error < 2^-149)
 *   tg_vlogf  x in [FLT_MIN, FLT_MAX]         <= 1 ulp   (x < FLT_MIN treated as FLT_MIN)
 *   tg_vexpd  x in [-708.3, 709.4]            <= 1 ulp   (below: 0, no subnormals; above: +inf)
 *   tg_vlogd  x in [DBL_MIN, DBL_MAX]         <= 1 ulp   (x < DBL_MIN treated as DBL_MIN)
 *   tg_vpow*(x, b) = exp(b log x), x > 0: relative error <= (1 + |b ln x|) * 2 ulp, because
 *             the rounding error of log x is multiplied by b; in the HBV range
 *             (|b ln x| < 15 wherever the result exceeds 1e-6) that is <= 16 ulp in float
 *             (measured: at most 0.9 of that bound).
 *   NaN in, NaN out; exp(+-inf) = inf, 0.
 *
 * Method. exp: x = k ln2 + r with k = rint(x / ln2) by the 1.5*2^p "magic number" trick
 * (no float->int conversion needed), Cody-Waite split of ln2 so r is exact, Taylor
 * polynomial for e^r on |r| <= ln2/2 (degree 7 float, 13 double; truncation < 0.1 ulp),
 * then scaling by 2^k built in the exponent bits. log: x = 2^e m with m in [sqrt(1/2),
 * sqrt(2)) from the bits, f = m - 1, s = f / (2 + f), log(1+f) = f - (f^2/2 - s (f^2/2 + R(s^2)))
 * (the fdlibm arrangement that keeps the large terms exact), R the atanh series
 * 2/3 z + 2/5 z^2 + ... (4 terms float, 10 double), plus e ln2 split in hi + lo.
 *
 * All functions are written from these textbook identities (no code copied). */
#ifndef TG_MODELS_VMATH_H
#define TG_MODELS_VMATH_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "terragrad/core.h"

#if defined(__GNUC__)
#define TG_VINLINE static inline __attribute__((always_inline))
#else
#define TG_VINLINE static inline
#endif

/* a*b + c: one rounding where the code is compiled with FMA (the AVX2 / AVX-512 kernel
 * files set it with #pragma GCC target before including this; aarch64 always has it),
 * plain otherwise (the x86-64 baseline: a libm fma() call would be slow and block
 * vectorisation). */
#if defined(__FMA__) || defined(__FP_FAST_FMAF)
#define TG_FMAF(a, b, c) fmaf((a), (b), (c))
#define TG_FMAD(a, b, c) fma((a), (b), (c))
#else
#define TG_FMAF(a, b, c) ((a) * (b) + (c))
#define TG_FMAD(a, b, c) ((a) * (b) + (c))
#endif

TG_VINLINE uint32_t tg__f2u(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
TG_VINLINE float tg__u2f(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
TG_VINLINE uint64_t tg__d2u(double f) { uint64_t u; memcpy(&u, &f, sizeof u); return u; }
TG_VINLINE double tg__u2d(uint64_t u) { double f; memcpy(&f, &u, sizeof f); return f; }

/* ------------------------------------------------------------------ float */
TG_VINLINE float tg_vexpf(float x)
{
    const float magic = 12582912.0f;                 /* 1.5 * 2^23: adding it rounds to int */
    /* No clamp: for |x| beyond the finite range k and r are garbage, but the two selects at
     * the end replace every such result; NaN fails both tests and propagates. */
    float t = TG_FMAF(x, 1.44269504088896341f, magic);
    float kf = t - magic;                            /* rint(x / ln2), exact */
    int32_t k = (int32_t)(tg__f2u(t) - tg__f2u(magic)); /* the same integer, from the bits */
    float r = TG_FMAF(kf, -0.693359375f, x);         /* ln2 hi part: 9 bits, k*hi exact */
    r = TG_FMAF(kf, 2.12194440e-4f, r);              /* ln2 lo part */
    float p = 1.98412698e-4f;                        /* 1/7! */
    p = TG_FMAF(p, r, 1.38888889e-3f);               /* 1/6! */
    p = TG_FMAF(p, r, 8.33333333e-3f);               /* 1/5! */
    p = TG_FMAF(p, r, 4.16666667e-2f);               /* 1/4! */
    p = TG_FMAF(p, r, 1.66666667e-1f);               /* 1/3! */
    p = TG_FMAF(p, r, 0.5f);
    p = TG_FMAF(p, r, 1.0f);
    p = TG_FMAF(p, r, 1.0f);
    /* 2^k in two factors so k in [-151, 128] stays representable (gradual underflow). */
    int32_t k1 = k >> 1, k2 = k - k1;
    float s1 = tg__u2f((uint32_t)(k1 + 127) << 23), s2 = tg__u2f((uint32_t)(k2 + 127) << 23);
    float y = p * s1 * s2;
    y = x > 88.72283935546875f ? INFINITY : y;
    return x < -103.972084f ? 0.0f : y;
}

TG_VINLINE float tg_vlogf(float x)
{
    float xc = FLT_MIN > x ? FLT_MIN : x;
    /* Subtracting the bits of sqrt(1/2) puts m in [sqrt(1/2), sqrt(2)) and e in the top bits. */
    int32_t i = (int32_t)(tg__f2u(xc) - 0x3f3504f3u);
    int32_t e = i >> 23;
    float m = tg__u2f(((uint32_t)i & 0x007fffffu) + 0x3f3504f3u);
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float R = TG_FMAF(z, 0.222222222f, 0.285714286f); /* 2/9, 2/7 */
    R = TG_FMAF(R, z, 0.4f);                          /* 2/5 */
    R = TG_FMAF(R, z, 0.666666667f);                  /* 2/3 */
    R = R * z;
    float hfsq = 0.5f * f * f;
    float lm = f - (hfsq - s * (hfsq + R));
    float ef = (float)e;
    float y = TG_FMAF(ef, 0.693359375f, TG_FMAF(ef, -2.12194440e-4f, lm));
    return x != x ? x : y;                            /* the bit tricks would hide a NaN */
}

/* x^b for x > 0 (x below FLT_MIN is taken as FLT_MIN). */
TG_VINLINE float tg_vpowf(float x, float b) { return tg_vexpf(b * tg_vlogf(x)); }

/* ------------------------------------------------------------------ double */
TG_VINLINE double tg_vexpd(double x)
{
    const double magic = 6755399441055744.0;        /* 1.5 * 2^52 */
    /* no clamp: out-of-range results are replaced by the selects at the end */
    double t = TG_FMAD(x, 1.4426950408889634074, magic);
    double kf = t - magic;
    int64_t k = (int64_t)(tg__d2u(t) - tg__d2u(magic));
    double r = TG_FMAD(kf, -6.93147180369123816490e-01, x); /* ln2 hi: k*hi exact */
    r = TG_FMAD(kf, -1.90821492927058770002e-10, r);        /* ln2 lo */
    double p = 1.0 / 6227020800.0;                            /* 1/13! */
    p = TG_FMAD(p, r, 1.0 / 479001600.0);
    p = TG_FMAD(p, r, 1.0 / 39916800.0);
    p = TG_FMAD(p, r, 1.0 / 3628800.0);
    p = TG_FMAD(p, r, 1.0 / 362880.0);
    p = TG_FMAD(p, r, 1.0 / 40320.0);
    p = TG_FMAD(p, r, 1.0 / 5040.0);
    p = TG_FMAD(p, r, 1.0 / 720.0);
    p = TG_FMAD(p, r, 1.0 / 120.0);
    p = TG_FMAD(p, r, 1.0 / 24.0);
    p = TG_FMAD(p, r, 1.0 / 6.0);
    p = TG_FMAD(p, r, 0.5);
    p = TG_FMAD(p, r, 1.0);
    p = TG_FMAD(p, r, 1.0);
    double y = p * tg__u2d((uint64_t)(k + 1023) << 52);
    y = x > 709.43613930310391 ? (double)INFINITY : y;             /* k would be 1024 */
    return x < -708.39641853226408 ? 0.0 : y;              /* k would be -1023 */
}

TG_VINLINE double tg_vlogd(double x)
{
    double xc = DBL_MIN > x ? DBL_MIN : x;
    /* Offset so that the shifted value stays positive for every positive normal x: a
     * logical shift then gives e + 1023 (AVX2 has no 64-bit arithmetic shift). */
    uint64_t u = tg__d2u(xc) - 0x3fe6a09e667f3bcdull;
    uint64_t eb = (u + 0x3ff0000000000000ull) >> 52;        /* e + 1023 */
    double m = tg__u2d((u & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull);
    /* int -> double without cvtqq2pd: put the integer in the mantissa of 2^52. */
    double ed = tg__u2d(eb | 0x4330000000000000ull) - (4503599627370496.0 + 1023.0);
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double R = TG_FMAD(z, 2.0 / 23.0, 2.0 / 21.0);
    R = TG_FMAD(R, z, 2.0 / 19.0);
    R = TG_FMAD(R, z, 2.0 / 17.0);
    R = TG_FMAD(R, z, 2.0 / 15.0);
    R = TG_FMAD(R, z, 2.0 / 13.0);
    R = TG_FMAD(R, z, 2.0 / 11.0);
    R = TG_FMAD(R, z, 2.0 / 9.0);
    R = TG_FMAD(R, z, 2.0 / 7.0);
    R = TG_FMAD(R, z, 2.0 / 5.0);
    R = TG_FMAD(R, z, 2.0 / 3.0);
    R = R * z;
    double hfsq = 0.5 * f * f;
    double lm = f - (hfsq - s * (hfsq + R));
    double y = TG_FMAD(ed, 6.93147180369123816490e-01, TG_FMAD(ed, 1.90821492927058770002e-10, lm));
    return x != x ? x : y;
}

TG_VINLINE double tg_vpowd(double x, double b) { return tg_vexpd(b * tg_vlogd(x)); }

/* ------------------------------------------------------------------ tg_real */
#ifdef TG_DOUBLE
#define tg_vexp tg_vexpd
#define tg_vlog tg_vlogd
#define tg_vpow tg_vpowd
#else
#define tg_vexp tg_vexpf
#define tg_vlog tg_vlogf
#define tg_vpow tg_vpowf
#endif

/* log(1 + u) for u >= 0 accurate also for tiny u: where 1 + u rounds, the factor
 * u / ((1+u) - 1) corrects the rounding of the argument (Goldberg's trick). */
TG_VINLINE tg_real tg_vlog1p(tg_real u)
{
    tg_real v = TG_R(1.0) + u;
    tg_real d = v - TG_R(1.0);
    tg_real l = tg_vlog(v);
    return d == TG_R(0.0) ? u : l * (u / d);
}

/* Smooth step and smooth ramp of width w > 0, sharing one exp:
 *   sig = 1 / (1 + exp(-x/w)),  sp = w log(1 + exp(x/w)) = max(x,0) + w log1p(exp(-|x|/w)),
 * with d sp / dx = sig. Stable for any x. Returned by value (see hbv_step.h: by-value
 * results keep `omp simd` loops vectorisable). */
typedef struct tg_softstep { tg_real sig, sp; } tg_softstep;
TG_VINLINE tg_softstep tg_vsoftstep(tg_real x, tg_real w)
{
    tg_softstep r;
    tg_real z = x / w;
    tg_real az = z < TG_R(0.0) ? -z : z;
    tg_real e = tg_vexp(-az);                      /* in (0, 1] */
    tg_real inv = TG_R(1.0) / (TG_R(1.0) + e);
    r.sig = z >= TG_R(0.0) ? inv : e * inv;
    r.sp = (x > TG_R(0.0) ? x : TG_R(0.0)) + w * tg_vlog1p(e);
    return r;
}

#endif
