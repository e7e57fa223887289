/* richards_ops.c — the soil water retention θ(ψ; p) as a tape op, so losses on water
 * content can follow tg_implicit_run (whose states are heads). */
#include <string.h>

#include "core/internal.h"
#include "terragrad/adjoint.h"

typedef struct {
    const tg_soil *soil;
    int B, N;
    size_t lead; /* product of the leading dimensions */
} theta_node;

static int theta_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    theta_node *t = ud;
    (void)n_in, (void)n_out;
    const int P = t->soil->P;
    for (size_t l = 0; l < t->lead; l++)
        for (int b = 0; b < t->B; b++) {
            size_t o = (l * (size_t)t->B + (size_t)b) * (size_t)t->N;
            t->soil->eval(in[1]->data + (size_t)b * P, t->N, in[0]->data + o, out[0]->data + o,
                          NULL, NULL, NULL);
        }
    return 0;
}

static int theta_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out,
                          int n_out, const tg_real *const *gout, tg_real *const *gin)
{
    theta_node *t = ud;
    (void)n_in, (void)out, (void)n_out;
    const int P = t->soil->P, N = t->N;
    size_t bytes = (size_t)N * (1 + (size_t)P) * sizeof(tg_real);
    tg_real *C = tg_malloc(bytes);
    if (!C)
        return TG_ENOMEM;
    tg_real *dp = C + N;
    for (size_t l = 0; l < t->lead; l++)
        for (int b = 0; b < t->B; b++) {
            const size_t o = (l * (size_t)t->B + (size_t)b) * (size_t)N;
            const tg_real *pb = in[1]->data + (size_t)b * P, *psi = in[0]->data + o;
            const tg_real *g = gout[0] + o;
            if (gin[0]) {
                t->soil->eval(pb, N, psi, NULL, C, NULL, NULL);
                for (int i = 0; i < N; i++)
                    gin[0][o + i] += C[i] * g[i];
            }
            if (gin[1]) {
                t->soil->eval_dp(pb, N, psi, dp, NULL);
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < P; j++)
                        gin[1][(size_t)b * P + j] += dp[(size_t)i * P + j] * g[i];
            }
        }
    tg_free(C, bytes);
    return 0;
}

static const tg_custom_op theta_op = {"richards_theta", theta_forward, theta_backward};

tg_tensor *tg_richards_theta(tg_ctx *ctx, const tg_soil *soil, tg_tensor *psi, tg_tensor *p)
{
    if (!ctx || tg_ctx_status(ctx) || !psi || !p)
        return NULL;
    if (!soil || psi->ndim < 2 || p->ndim != 2 || p->shape[1] != soil->P ||
        psi->shape[psi->ndim - 2] != p->shape[0])
        return tg__fail(ctx, TG_ESHAPE, "tg_richards_theta: need psi (..., B, N) and p (B, %d) "
                                        "with the same B", soil ? soil->P : -1);
    theta_node *t = tg_ctx_alloc(ctx, sizeof *t);
    if (!t)
        return NULL;
    t->soil = soil;
    t->B = p->shape[0];
    t->N = psi->shape[psi->ndim - 1];
    t->lead = psi->n / ((size_t)t->B * (size_t)t->N);
    int nd[1] = {psi->ndim}, sh[1][TG_MAX_DIMS];
    memcpy(sh[0], psi->shape, sizeof sh[0]);
    tg_tensor *in[2] = {psi, p}, *out = NULL;
    if (tg_custom(ctx, &theta_op, t, in, 2, 1, nd, (const int(*)[TG_MAX_DIMS])sh, &out))
        return NULL;
    return out;
}
