/* ude_mlp.c — the small network inside a UDE right-hand side: forward, reverse and
 * Jacobian for ONE lane at a time, in plain loops with a fixed summation order, so a lane
 * gives bit-identical results whatever batch it is solved in. */
#include <math.h>
#include <string.h>

#include "core/realmath.h"
#include "ude/ude_internal.h"

/* ------------------------------------------------------------------ setup */
void tg_ude_mlp_setup(tg_ude_mlp *m, int n, int U, int P, int inputs, int hidden, int width)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < TG_UDE_MAX_IN; i++)
        m->in_scale[i] = 1;
    for (int i = 0; i < TG_UDE_MAX_N; i++)
        m->out_scale[i] = 1;
    if (hidden < 0)
        return;
    m->use_u = (inputs & TG_UDE_IN_U) != 0;
    m->use_theta = (inputs & TG_UDE_IN_THETA) != 0;
    m->n_layers = hidden + 1;
    m->width[0] = n + (m->use_u ? U : 0) + (m->use_theta ? P : 0);
    for (int l = 1; l <= hidden; l++)
        m->width[l] = width;
    m->width[m->n_layers] = n;
}

size_t tg_ude_mlp_nweights(const tg_ude_mlp *m)
{
    size_t s = 0;
    for (int l = 1; l <= m->n_layers; l++)
        s += (size_t)m->width[l] * (size_t)(m->width[l - 1] + 1);
    return s;
}

int tg_ude_mlp_check(const tg_ude_mlp *m, int n, int U, int P)
{
    if (m->n_layers == 0)
        return 0;
    if (m->n_layers < 0 || m->n_layers > TG_UDE_MAX_LAYERS)
        return tg_error_set(TG_EINVAL, "ude mlp: n_layers = %d (0..%d)", m->n_layers, TG_UDE_MAX_LAYERS);
    int want_in = n + (m->use_u ? U : 0) + (m->use_theta ? P : 0);
    if (m->width[0] != want_in || want_in > TG_UDE_MAX_IN)
        return tg_error_set(TG_EINVAL, "ude mlp: width[0] = %d, the inputs are %d (n = %d%s%s, at most %d)",
                            m->width[0], want_in, n, m->use_u ? " + U" : "", m->use_theta ? " + P" : "",
                            TG_UDE_MAX_IN);
    if (m->width[m->n_layers] != n)
        return tg_error_set(TG_EINVAL, "ude mlp: width[%d] = %d, must be n = %d", m->n_layers,
                            m->width[m->n_layers], n);
    for (int l = 0; l <= m->n_layers; l++)
        if (m->width[l] < 1 || m->width[l] > TG_UDE_MAX_WIDTH)
            return tg_error_set(TG_EINVAL, "ude mlp: width[%d] = %d (1..%d)", l, m->width[l], TG_UDE_MAX_WIDTH);
    if ((m->act != TG_UDE_ACT_TANH && m->act != TG_UDE_ACT_SOFTPLUS) ||
        (m->out_act != TG_UDE_OUT_LINEAR && m->out_act != TG_UDE_OUT_SOFTPLUS))
        return tg_error_set(TG_EINVAL, "ude mlp: unknown activation (act %d, out_act %d)", m->act, m->out_act);
    return 0;
}

void tg_ude_mlp_init(const tg_ude_mlp *m, tg_real *W, tg_rng *rng)
{
    size_t off = 0;
    for (int l = 1; l <= m->n_layers; l++) {
        int o = m->width[l], i = m->width[l - 1];
        double a = sqrt(6.0 / (double)(i + o)) * (l == m->n_layers ? 0.1 : 1.0);
        for (int k = 0; k < o * i; k++)
            W[off + (size_t)k] = (tg_real)(a * (2.0 * tg_rng_uniform(rng) - 1.0));
        off += (size_t)(o * i);
        for (int k = 0; k < o; k++)
            W[off + (size_t)k] = 0;
        off += (size_t)o;
    }
}

/* ------------------------------------------------------------------ activations */
static tg_real softplus(tg_real z)
{
    return R_FMAX(z, 0) + R_LOG1P(R_EXP(-R_FABS(z)));
}
static tg_real sigmoid(tg_real z)
{
    if (z >= 0)
        return 1 / (1 + R_EXP(-z));
    tg_real e = R_EXP(z);
    return e / (1 + e);
}
static tg_real act_f(int k, tg_real z) { return k == TG_UDE_ACT_TANH ? R_TANH(z) : softplus(z); }
/* derivative from z and a = act(z) */
static tg_real act_d(int k, tg_real z, tg_real a) { return k == TG_UDE_ACT_TANH ? 1 - a * a : sigmoid(z); }

/* ------------------------------------------------------------------ one lane */
void tg__ude_mlp_input(const tg_ude_mlp *m, int n, int U, int P, const tg_real *S, const tg_real *u,
                       const tg_real *theta, tg_real *x)
{
    for (int i = 0; i < n; i++)
        x[i] = (S[i] - m->in_shift[i]) * m->in_scale[i];
    int o = n;
    if (m->use_u) {
        for (int k = 0; k < U; k++)
            x[o + k] = (u[k] - m->in_shift[o + k]) * m->in_scale[o + k];
        o += U;
    }
    if (m->use_theta)
        for (int k = 0; k < P; k++)
            x[o + k] = (theta[k] - m->in_shift[o + k]) * m->in_scale[o + k];
}

/* Forward keeping pre-activations z[l] and activations a[l] (a[0] = x). */
typedef struct {
    tg_real z[TG_UDE_MAX_LAYERS + 1][TG_UDE_MAX_WIDTH];
    tg_real a[TG_UDE_MAX_LAYERS + 1][TG_UDE_MAX_WIDTH];
} lane_acts;

static void forward_acts(const tg_ude_mlp *m, const tg_real *W, const tg_real *x, lane_acts *A)
{
    const int L = m->n_layers;
    memcpy(A->a[0], x, (size_t)m->width[0] * sizeof *x);
    const tg_real *p = W;
    for (int l = 1; l <= L; l++) {
        const int o = m->width[l], in = m->width[l - 1];
        const tg_real *Wl = p, *bl = p + (size_t)o * (size_t)in;
        for (int r = 0; r < o; r++) {
            tg_real s = bl[r];
            for (int c = 0; c < in; c++)
                s += Wl[r * in + c] * A->a[l - 1][c];
            A->z[l][r] = s;
            if (l < L)
                A->a[l][r] = act_f(m->act, s);
            else
                A->a[l][r] = m->out_act == TG_UDE_OUT_SOFTPLUS ? softplus(s) : s;
        }
        p += (size_t)o * (size_t)(in + 1);
    }
}

void tg__ude_mlp_lane(const tg_ude_mlp *m, const tg_real *W, int n, const tg_real *x, tg_real *out)
{
    lane_acts A;
    forward_acts(m, W, x, &A);
    for (int i = 0; i < n; i++)
        out[i] = m->out_scale[i] * A.a[m->n_layers][i];
}

void tg__ude_mlp_lane_vjp(const tg_ude_mlp *m, const tg_real *W, int n, int U, int P, const tg_real *x,
                          const tg_real *w, tg_real *S_bar, tg_real *u_bar, tg_real *theta_bar,
                          tg_real *W_bar)
{
    lane_acts A;
    forward_acts(m, W, x, &A);
    const int L = m->n_layers;
    tg_real g[TG_UDE_MAX_WIDTH], gin[TG_UDE_MAX_WIDTH];
    /* dL/dz_L */
    for (int i = 0; i < n; i++) {
        tg_real d = m->out_act == TG_UDE_OUT_SOFTPLUS ? sigmoid(A.z[L][i]) : 1;
        g[i] = w[i] * m->out_scale[i] * d;
    }
    /* offsets of each layer in W */
    size_t off[TG_UDE_MAX_LAYERS + 2];
    off[1] = 0;
    for (int l = 1; l <= L; l++)
        off[l + 1] = off[l] + (size_t)m->width[l] * (size_t)(m->width[l - 1] + 1);
    for (int l = L; l >= 1; l--) {
        const int o = m->width[l], in = m->width[l - 1];
        const tg_real *Wl = W + off[l];
        if (W_bar) {
            tg_real *Wb = W_bar + off[l], *bb = Wb + (size_t)o * (size_t)in;
            for (int r = 0; r < o; r++) {
                for (int c = 0; c < in; c++)
                    Wb[r * in + c] += g[r] * A.a[l - 1][c];
                bb[r] += g[r];
            }
        }
        for (int c = 0; c < in; c++) {
            tg_real s = 0;
            for (int r = 0; r < o; r++)
                s += Wl[r * in + c] * g[r];
            gin[c] = s;
        }
        if (l > 1)
            for (int c = 0; c < in; c++)
                g[c] = gin[c] * act_d(m->act, A.z[l - 1][c], A.a[l - 1][c]);
    }
    /* gin = dL/dx */
    if (S_bar)
        for (int i = 0; i < n; i++)
            S_bar[i] += gin[i] * m->in_scale[i];
    const int ot = n + (m->use_u ? U : 0);
    if (u_bar && m->use_u)
        for (int k = 0; k < U; k++)
            u_bar[k] += gin[n + k] * m->in_scale[n + k];
    if (theta_bar && m->use_theta)
        for (int k = 0; k < P; k++)
            theta_bar[k] += gin[ot + k] * m->in_scale[ot + k];
}

void tg__ude_mlp_lane_jac(const tg_ude_mlp *m, const tg_real *W, int n, const tg_real *x, tg_real *J)
{
    lane_acts A;
    forward_acts(m, W, x, &A);
    const int L = m->n_layers;
    tg_real t[TG_UDE_MAX_WIDTH], tn[TG_UDE_MAX_WIDTH];
    for (int j = 0; j < n; j++) { /* tangent of input j */
        for (int c = 0; c < m->width[0]; c++)
            t[c] = 0;
        t[j] = m->in_scale[j];
        const tg_real *p = W;
        for (int l = 1; l <= L; l++) {
            const int o = m->width[l], in = m->width[l - 1];
            for (int r = 0; r < o; r++) {
                tg_real s = 0;
                for (int c = 0; c < in; c++)
                    s += p[r * in + c] * t[c];
                if (l < L)
                    s *= act_d(m->act, A.z[l][r], A.a[l][r]);
                else if (m->out_act == TG_UDE_OUT_SOFTPLUS)
                    s *= sigmoid(A.z[l][r]);
                tn[r] = s;
            }
            memcpy(t, tn, (size_t)o * sizeof *t);
            p += (size_t)o * (size_t)(in + 1);
        }
        for (int i = 0; i < n; i++)
            J[i * n + j] += m->out_scale[i] * t[i];
    }
}

void tg_ude_mlp_eval(const tg_ude_mlp *m, const tg_real *W, int B, int n, int U, int P,
                     const tg_real *S, const tg_real *u, const tg_real *theta, tg_real *out)
{
    tg_real x[TG_UDE_MAX_IN];
    for (int b = 0; b < B; b++) {
        if (m->n_layers == 0) {
            for (int i = 0; i < n; i++)
                out[(size_t)b * (size_t)n + (size_t)i] = 0;
            continue;
        }
        tg__ude_mlp_input(m, n, U, P, S + (size_t)b * (size_t)n, u ? u + (size_t)b * (size_t)U : NULL,
                          theta ? theta + (size_t)b * (size_t)P : NULL, x);
        tg__ude_mlp_lane(m, W, n, x, out + (size_t)b * (size_t)n);
    }
}
