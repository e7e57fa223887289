/* pinn_sample.c — collocation points: uniform random, Latin hypercube, Sobol (<= 3 dims).
 *
 * Sobol (Bratley & Fox 1988; Joe & Kuo 2008 for the choice of polynomials). Coordinate j
 * uses a primitive polynomial over GF(2), x^s + a_1 x^(s-1) + ... + a_{s-1} x + 1, and
 * odd "direction integers" m_k < 2^k from the recurrence
 *     m_k = 2 a_1 m_{k-1} ^ 4 a_2 m_{k-2} ^ ... ^ 2^(s-1) a_{s-1} m_{k-s+1} ^ 2^s m_{k-s} ^ m_{k-s}
 * started from s free odd values. Direction numbers v_k = m_k / 2^k (here as 32-bit
 * integers m_k << (32 - k)), and point n is the XOR of the v_k over the set bits of the Gray
 * code of n, built incrementally: x_n = x_{n-1} ^ v_{c}, c = 1 + trailing ones of n - 1.
 *   j = 1: the van der Corput sequence, m_k = 1 for all k (no polynomial).
 *   j = 2: x + 1 (s = 1):        m_k = 2 m_{k-1} ^ m_{k-1}, m_1 = 1 → 1, 3, 5, 15, 17, 51, ...
 *   j = 3: x^2 + x + 1 (s = 2, a_1 = 1): m_k = 2 m_{k-1} ^ 4 m_{k-2} ^ m_{k-2}, m_1 = 1, m_2 = 3
 *          → 1, 3, 3, 9, 29, 23, ...  (the initial values of Joe & Kuo's table for these
 *          polynomials; any odd m_k < 2^k gives a valid sequence).
 * The first point (the origin) is skipped. With an rng, a random digital shift (XOR of one
 * random 32-bit word per coordinate) decorrelates runs while keeping the net structure. */
#include <string.h>

#include "pinn/pinn_internal.h"

#define SOBOL_BITS 32

static void sobol_directions(uint32_t v[3][SOBOL_BITS])
{
    uint32_t m[3][SOBOL_BITS + 1];
    for (int k = 1; k <= SOBOL_BITS; k++)
        m[0][k] = 1;
    m[1][1] = 1;
    for (int k = 2; k <= SOBOL_BITS; k++)
        m[1][k] = (2 * m[1][k - 1]) ^ m[1][k - 1];
    m[2][1] = 1, m[2][2] = 3;
    for (int k = 3; k <= SOBOL_BITS; k++)
        m[2][k] = (2 * m[2][k - 1]) ^ (4 * m[2][k - 2]) ^ m[2][k - 2];
    for (int j = 0; j < 3; j++)
        for (int k = 1; k <= SOBOL_BITS; k++)
            v[j][k - 1] = m[j][k] << (SOBOL_BITS - k);
}

int tg_sobol(double *x, int n, int dim, uint64_t skip, const uint32_t *shift)
{
    if (dim < 1 || dim > 3)
        return tg_error_set(TG_EINVAL, "sobol: %d dimensions (1..3 supported)", dim);
    if (skip + (uint64_t)n >= ((uint64_t)1 << SOBOL_BITS))
        return tg_error_set(TG_EINVAL, "sobol: more than 2^32 points");
    uint32_t v[3][SOBOL_BITS], cur[3] = {0, 0, 0};
    sobol_directions(v);
    /* jump to point `skip` directly: Gray code g = s ^ (s >> 1) */
    uint64_t g = skip ^ (skip >> 1);
    for (int k = 0; k < SOBOL_BITS; k++)
        if (g >> k & 1)
            for (int j = 0; j < dim; j++)
                cur[j] ^= v[j][k];
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < dim; j++)
            x[(size_t)i * dim + j] = (double)(cur[j] ^ (shift ? shift[j] : 0)) * (1.0 / 4294967296.0);
        uint64_t s = skip + (uint64_t)i; /* advance to s + 1: flip bit c = trailing ones of s */
        int c = 0;
        while (s >> c & 1)
            c++;
        for (int j = 0; j < dim; j++)
            cur[j] ^= v[j][c];
    }
    return 0;
}

static const char *const sample_names[] = {"uniform", "lhs", "sobol"};

int tg_sample_parse(const char *name)
{
    for (int k = 0; k < 3; k++)
        if (!strcmp(name, sample_names[k]))
            return k;
    return -1;
}

int tg_pinn_sample(tg_real *x, int n, int dim, const tg_real *lo, const tg_real *hi, int kind, tg_rng *rng)
{
    if (n < 0 || dim < 1 || dim > TG_PINN_MAX_IN || !rng)
        return tg_error_set(TG_EINVAL, "pinn sample: n = %d, dim = %d", n, dim);
    double *u = tg_malloc((size_t)(n > 0 ? n : 1) * dim * sizeof *u);
    if (!u)
        return tg_error_set(TG_ENOMEM, "pinn sample: out of memory");
    int rc = 0;
    switch (kind) {
    case TG_SAMPLE_UNIFORM:
        for (size_t k = 0; k < (size_t)n * dim; k++)
            u[k] = tg_rng_uniform(rng);
        break;
    case TG_SAMPLE_LHS: /* one point per stratum in every coordinate, strata paired at random */
        for (int j = 0; j < dim; j++) {
            for (int i = 0; i < n; i++)
                u[(size_t)i * dim + j] = i;
            for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
                int r = (int)tg_rng_below(rng, (uint64_t)i + 1);
                double t = u[(size_t)i * dim + j];
                u[(size_t)i * dim + j] = u[(size_t)r * dim + j];
                u[(size_t)r * dim + j] = t;
            }
            for (int i = 0; i < n; i++)
                u[(size_t)i * dim + j] = (u[(size_t)i * dim + j] + tg_rng_uniform(rng)) / n;
        }
        break;
    case TG_SAMPLE_SOBOL: {
        uint32_t shift[3];
        for (int j = 0; j < 3; j++)
            shift[j] = (uint32_t)(tg_rng_next(rng) >> 32);
        rc = tg_sobol(u, n, dim, 1, shift);
        break;
    }
    default:
        rc = tg_error_set(TG_EINVAL, "pinn sample: unknown method %d", kind);
    }
    if (!rc)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < dim; j++)
                x[(size_t)i * dim + j] = (tg_real)((double)lo[j] + ((double)hi[j] - (double)lo[j]) * u[(size_t)i * dim + j]);
    tg_free(u, (size_t)(n > 0 ? n : 1) * dim * sizeof *u);
    return rc;
}
