/* matmul.c — matrix products on the tape: (M,K)x(K,N), batched (B,M,K)x(B,K,N), and
 * (B,M,K)x(K,N) with a shared right factor (a weight applied to every batch item, done
 * as one (B*M,K)x(K,N) product). Backward: dA = dC B^T, dB = A^T dC. */
#include "core/internal.h"

static void matmul_backward(tg_ctx *ctx, tg_node *node)
{
    tg_tensor *a = node->in[0], *b = node->in[1], *c = node->out[0];
    int nb = node->i[0], M = node->i[1], K = node->i[2], N = node->i[3], shared = node->i[4];
    /* Each product writes all of its block: a fresh gradient takes beta = 0 (the kernels
     * then never read it), one that holds data beta = 1. matmul(x, x) adds into zeros. */
    int fa = 0, fb = 0;
    tg_real *ga = NULL, *gb = NULL;
    if (a->requires_grad)
        ga = a != b ? tg__grad_write(ctx, a, &fa) : tg__grad(ctx, a);
    if (b->requires_grad)
        gb = a != b ? tg__grad_write(ctx, b, &fb) : tg__grad(ctx, b);
    const tg_real beta_a = fa ? 0 : 1, beta_b = fb ? 0 : 1;
    if (shared) { /* one product over all B*M rows */
        if (ga) tg_gemm(0, 1, nb * M, K, N, 1, c->grad, N, b->data, N, beta_a, ga, K);
        if (gb) tg_gemm(1, 0, K, N, nb * M, 1, a->data, K, c->grad, N, beta_b, gb, N);
        return;
    }
    for (int bi = 0; bi < nb; bi++) {
        const tg_real *A = a->data + (size_t)bi * M * K, *B = b->data + (size_t)bi * K * N;
        const tg_real *G = c->grad + (size_t)bi * M * N;
        if (ga) tg_gemm(0, 1, M, K, N, 1, G, N, B, N, beta_a, ga + (size_t)bi * M * K, K);
        if (gb) tg_gemm(1, 0, K, N, M, 1, A, K, G, N, beta_b, gb + (size_t)bi * K * N, N);
    }
}

tg_tensor *tg_matmul(tg_ctx *ctx, tg_tensor *a, tg_tensor *b)
{
    if (!a || !b)
        return NULL;
    int nb, M, K, N, shared = 0;
    if (a->ndim == 2 && b->ndim == 2) {
        nb = 1; M = a->shape[0]; K = a->shape[1]; N = b->shape[1];
        if (b->shape[0] != K) goto mismatch;
    } else if (a->ndim == 3 && b->ndim == 3) {
        nb = a->shape[0]; M = a->shape[1]; K = a->shape[2]; N = b->shape[2];
        if (b->shape[0] != nb || b->shape[1] != K) goto mismatch;
    } else if (a->ndim == 3 && b->ndim == 2) {
        nb = a->shape[0]; M = a->shape[1]; K = a->shape[2]; N = b->shape[1]; shared = 1;
        if (b->shape[0] != K) goto mismatch;
    } else
        goto mismatch;
    int shape3[3] = {nb, M, N};
    tg_tensor *c = a->ndim == 2 ? tg__tensor(ctx, 2, (int[]){M, N}, 0) : tg__tensor(ctx, 3, shape3, 0);
    if (!c)
        return NULL;
    if (shared)
        tg_gemm(0, 0, nb * M, N, K, 1, a->data, K, b->data, N, 0, c->data, N);
    else
        for (int bi = 0; bi < nb; bi++)
            tg_gemm(0, 0, M, N, K, 1, a->data + (size_t)bi * M * K, K, b->data + (size_t)bi * K * N, N, 0,
                    c->data + (size_t)bi * M * N, N);
    tg_tensor *xs[2] = {a, b};
    tg_node *node = tg__record(ctx, "matmul", matmul_backward, xs, 2, &c, 1);
    if (node) {
        node->i[0] = nb; node->i[1] = M; node->i[2] = K; node->i[3] = N; node->i[4] = shared;
    }
    return ctx->status ? NULL : c;
mismatch:;
    char sa[64], sb[64];
    tg__shape_str(a, sa, sizeof sa);
    tg__shape_str(b, sb, sizeof sb);
    return tg__fail(ctx, TG_ESHAPE, "matmul: shapes %s and %s do not multiply "
                    "(expected (M,K)x(K,N), (B,M,K)x(B,K,N) or (B,M,K)x(K,N))", sa, sb);
}
