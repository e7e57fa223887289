/* lstm.c — the LSTM layer (parameters, initialisation) and the fused sequence op that puts
 * tg_lstm_forward / tg_lstm_backward on the tape as ONE node. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "nn/nn_internal.h"

/* ---------------------------------------------------------------- tape op */
/* Two ways to keep what backward needs (the output h (T, B, H) is kept by the tape anyway):
 * - plain (ck = 0): the activated gates and cells of every step, 5 T B H scalars;
 * - checkpointed (ck = k > 0): only c at the end of every k-step segment but the last,
 *   ceil(T/k) B H scalars. Backward walks the segments from the last: it re-runs the
 *   forward of the segment from (h_{t0-1}, c_{t0-1}) into scratch of 6 k B H scalars
 *   (the same kernel call with the same sizes as the forward, hence the same bits), then
 *   the segment backward, carrying dL/dh_{t0-1} and dL/dc_{t0-1} to the segment before.
 *   Extra cost: one more forward (~1/3 of forward + backward). */
typedef struct lstm_saved {
    int T, B, F, H, chunks;
    int i_h0, i_c0;         /* input index of h0 / c0, -1 if absent */
    int ck;                 /* segment length (0 = plain) */
    tg_real *gates;         /* plain: (T, B, 4H) activated gates; backward turns them into dL/da */
    tg_real *c;             /* plain: (T, B, H); checkpointed: (nseg - 1, B, H) c at segment ends */
} lstm_saved;

int tg_lstm_ckpt_segment(int T, int checkpoint)
{
    if (checkpoint == 0 || T <= 1)
        return 0;
    int k = checkpoint;
    if (checkpoint < 0) {                       /* auto: ceil(sqrt(T)) */
        k = 1;
        while ((long long)k * k < T)
            k++;
    }
    return k >= T ? 0 : k;                      /* one segment = nothing to save */
}

static int nseg_of(int T, int k) { return (T + k - 1) / k; }

/* Checkpointed forward: segment by segment, h straight into the output; c at segment
 * ends into s->c (the last one into c_last). */
static int lstm_fwd_ckpt(lstm_saved *s, tg_tensor *const *in, tg_real *h, tg_real *c_last)
{
    const int B = s->B, F = s->F, H = s->H, k = s->ck, nseg = nseg_of(s->T, k);
    const size_t BH = (size_t)B * (size_t)H, nscr = 5 * (size_t)k * BH;
    tg_real *scr = tg__scratch_get(TG__SCRATCH_LSTM_SEG, sizeof(tg_real) * nscr);
    if (!scr)
        return TG_ENOMEM;
    tg_real *gates = scr, *cseg = scr + 4 * (size_t)k * BH;
    const tg_real *hp = s->i_h0 >= 0 ? in[s->i_h0]->data : NULL, *cp = s->i_c0 >= 0 ? in[s->i_c0]->data : NULL;
    int rc = 0;
    for (int g = 0; g < nseg && !rc; g++) {
        const int t0 = g * k, len = t0 + k <= s->T ? k : s->T - t0;
        rc = tg_lstm_forward(h + (size_t)t0 * BH, cseg, gates, in[0]->data + (size_t)t0 * B * F, in[1]->data,
                             in[2]->data, in[3]->data, in[4]->data, hp, cp, len, B, F, H, s->chunks);
        tg_real *cend = g < nseg - 1 ? s->c + (size_t)g * BH : c_last;
        memcpy(cend, cseg + (size_t)(len - 1) * BH, sizeof(tg_real) * BH);
        hp = h + (size_t)(t0 + len - 1) * BH, cp = cend;
    }
    tg__scratch_put(TG__SCRATCH_LSTM_SEG, scr, sizeof(tg_real) * nscr);
    return rc;
}

/* Checkpointed backward, last segment first (see lstm_saved). */
static int lstm_bwd_ckpt(lstm_saved *s, tg_tensor *const *in, const tg_real *h, const tg_real *const *gout,
                         tg_real *const *gin, int store_dx)
{
    const int B = s->B, F = s->F, H = s->H, k = s->ck, nseg = nseg_of(s->T, k);
    const size_t BH = (size_t)B * (size_t)H, nscr = 7 * (size_t)k * BH + 4 * BH;
    tg_real *scr = tg__scratch_get(TG__SCRATCH_LSTM_SEG, sizeof(tg_real) * nscr);
    if (!scr)
        return TG_ENOMEM;
    tg_real *gates = scr, *cseg = gates + 4 * (size_t)k * BH, *hseg = cseg + (size_t)k * BH;
    tg_real *dhseg = hseg + (size_t)k * BH, *carry = dhseg + (size_t)k * BH;
    tg_real *dh_in = carry, *dc_in = carry + BH, *dh_out = carry + 2 * BH, *dc_out = carry + 3 * BH;
    const tg_real *x = in[0]->data;
    const tg_real *h0 = s->i_h0 >= 0 ? in[s->i_h0]->data : NULL, *c0 = s->i_c0 >= 0 ? in[s->i_c0]->data : NULL;
    int rc = 0;
    for (int g = nseg - 1; g >= 0 && !rc; g--) {
        const int t0 = g * k, len = t0 + k <= s->T ? k : s->T - t0;
        const size_t off = (size_t)t0 * BH;
        const tg_real *hp = g ? h + off - BH : h0, *cp = g ? s->c + (size_t)(g - 1) * BH : c0;
        rc = tg_lstm_forward(hseg, cseg, gates, x + (size_t)t0 * B * F, in[1]->data, in[2]->data, in[3]->data,
                             in[4]->data, hp, cp, len, B, F, H, s->chunks);
        if (rc)
            break;
        /* dL/dh of the segment: the output's gradient plus, on its last step, what the
         * segment after it sent back through the recurrence */
        if (gout[0])
            memcpy(dhseg, gout[0] + off, sizeof(tg_real) * (size_t)len * BH);
        else
            memset(dhseg, 0, sizeof(tg_real) * (size_t)len * BH);
        if (g < nseg - 1)
            for (size_t q = 0; q < BH; q++)
                dhseg[(size_t)(len - 1) * BH + q] += dh_in[q];
        tg_real *dh0 = g ? dh_out : (s->i_h0 >= 0 ? gin[s->i_h0] : NULL);
        tg_real *dc0 = g ? dc_out : (s->i_c0 >= 0 ? gin[s->i_c0] : NULL);
        if (g) {
            memset(dh_out, 0, sizeof(tg_real) * BH);
            memset(dc_out, 0, sizeof(tg_real) * BH);
        }
        rc = tg__lstm_backward_store(store_dx, gin[0] ? gin[0] + (size_t)t0 * B * F : NULL, gin[1], gin[2], gin[3],
                                     gin[4], dh0, dc0, gates, dhseg, g == nseg - 1 ? gout[1] : dc_in, h + off, cseg,
                                     x + (size_t)t0 * B * F, in[1]->data, in[2]->data, hp, cp, len, B, F, H,
                                     s->chunks);
        tg_real *t = dh_in;
        dh_in = dh_out, dh_out = t;
        t = dc_in, dc_in = dc_out, dc_out = t;
    }
    tg__scratch_put(TG__SCRATCH_LSTM_SEG, scr, sizeof(tg_real) * nscr);
    return rc;
}

static int lstm_fwd_cb(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    (void)n_in, (void)n_out;
    lstm_saved *s = ud;
    if (s->ck) {
        if (lstm_fwd_ckpt(s, in, out[0]->data, out[1]->data))
            return tg_error_set(TG_ENOMEM, "lstm: out of memory (checkpointed forward)");
        return 0;
    }
    const tg_real *h0 = s->i_h0 >= 0 ? in[s->i_h0]->data : NULL, *c0 = s->i_c0 >= 0 ? in[s->i_c0]->data : NULL;
    if (tg_lstm_forward(out[0]->data, s->c, s->gates, in[0]->data, in[1]->data, in[2]->data, in[3]->data,
                        in[4]->data, h0, c0, s->T, s->B, s->F, s->H, s->chunks))
        return tg_error_set(TG_ENOMEM, "lstm: out of memory");
    memcpy(out[1]->data, s->c + (size_t)(s->T - 1) * (size_t)s->B * (size_t)s->H,
           sizeof(tg_real) * (size_t)s->B * (size_t)s->H);
    return 0;
}

static int lstm_bwd_cb(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                       const tg_real *const *gout, tg_real *const *gin, const int *first)
{
    (void)n_out;
    lstm_saved *s = ud;
    /* dx (every element, by one product per segment) overwrites a fresh buffer; the
     * others are small and accumulated over steps: a fresh one is zeroed first */
    for (int k = 1; k < n_in; k++)
        if (gin[k] && first[k])
            memset(gin[k], 0, in[k]->n * sizeof(tg_real));
    const int store_dx = gin[0] && first[0];
    if (s->ck) {
        if (lstm_bwd_ckpt(s, in, out[0]->data, gout, gin, store_dx))
            return tg_error_set(TG_ENOMEM, "lstm: out of memory in checkpointed backward");
        return 0;
    }
    const tg_real *h0 = s->i_h0 >= 0 ? in[s->i_h0]->data : NULL, *c0 = s->i_c0 >= 0 ? in[s->i_c0]->data : NULL;
    tg_real *dh0 = s->i_h0 >= 0 ? gin[s->i_h0] : NULL, *dc0 = s->i_c0 >= 0 ? gin[s->i_c0] : NULL;
    if (tg__lstm_backward_store(store_dx, gin[0], gin[1], gin[2], gin[3], gin[4], dh0, dc0, s->gates, gout[0], gout[1],
                                out[0]->data, s->c, in[0]->data, in[1]->data, in[2]->data, h0, c0, s->T, s->B, s->F,
                                s->H, s->chunks))
        return tg_error_set(TG_ENOMEM, "lstm: out of memory in backward");
    return 0;
}

static const tg__custom_op lstm_op = {{"lstm", lstm_fwd_cb, NULL}, lstm_bwd_cb};

static int has_shape(const tg_tensor *t, int ndim, int d0, int d1)
{
    return t->ndim == ndim && t->shape[0] == d0 && (ndim < 2 || t->shape[1] == d1);
}

tg_tensor *tg_lstm_op(tg_ctx *ctx, tg_tensor *x, tg_tensor *w_ih, tg_tensor *w_hh, tg_tensor *b_ih,
                      tg_tensor *b_hh, tg_tensor *h0, tg_tensor *c0, int chunks, tg_tensor **out_c_last)
{
    return tg_lstm_op_ckpt(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, c0, chunks, 0, out_c_last);
}

tg_tensor *tg_lstm_op_ckpt(tg_ctx *ctx, tg_tensor *x, tg_tensor *w_ih, tg_tensor *w_hh, tg_tensor *b_ih,
                           tg_tensor *b_hh, tg_tensor *h0, tg_tensor *c0, int chunks, int checkpoint,
                           tg_tensor **out_c_last)
{
    if (out_c_last)
        *out_c_last = NULL;
    if (!ctx || !x || !w_ih || !w_hh || !b_ih || !b_hh)
        return NULL;
    if (tg_ctx_status(ctx))
        return NULL;
    char sx[64], sw[64];
    if (x->ndim != 3 || w_hh->ndim != 2 || w_hh->shape[0] != 4 * w_hh->shape[1]) {
        tg__shape_str(x, sx, sizeof sx);
        tg__shape_str(w_hh, sw, sizeof sw);
        return tg__fail(ctx, TG_ESHAPE, "lstm: x %s must be (T, B, F) and weight_hh %s (4H, H)", sx, sw);
    }
    const int T = x->shape[0], B = x->shape[1], F = x->shape[2], H = w_hh->shape[1];
    const struct { const tg_tensor *t; const char *name; int ndim, d0, d1; } want[] = {
        {w_ih, "weight_ih", 2, 4 * H, F}, {b_ih, "bias_ih", 1, 4 * H, 0}, {b_hh, "bias_hh", 1, 4 * H, 0},
        {h0, "h0", 2, B, H}, {c0, "c0", 2, B, H}};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++)
        if (want[k].t && !has_shape(want[k].t, want[k].ndim, want[k].d0, want[k].d1)) {
            tg__shape_str(want[k].t, sw, sizeof sw);
            if (want[k].ndim == 2)
                return tg__fail(ctx, TG_ESHAPE, "lstm: %s is %s, want (%d, %d) for T=%d B=%d F=%d H=%d",
                                want[k].name, sw, want[k].d0, want[k].d1, T, B, F, H);
            return tg__fail(ctx, TG_ESHAPE, "lstm: %s is %s, want (%d) for H=%d", want[k].name, sw, want[k].d0, H);
        }
    if (checkpoint < -1)
        return tg__fail(ctx, TG_EINVAL, "lstm: checkpoint = %d, want 0 (off), -1 (auto) or a segment length > 0",
                        checkpoint);
    const int ck = tg_lstm_ckpt_segment(T, checkpoint);   /* also saves memory without a tape */
    lstm_saved *s = tg_ctx_alloc(ctx, sizeof *s);
    const size_t TBH = (size_t)T * (size_t)B * (size_t)H, BH = (size_t)B * (size_t)H;
    const size_t n_gates = ck ? 0 : 4 * TBH, n_c = ck ? (size_t)(nseg_of(T, ck) - 1) * BH : TBH;
    tg_real *gates = n_gates ? tg_ctx_alloc(ctx, sizeof(tg_real) * n_gates) : NULL;
    tg_real *c = n_c ? tg_ctx_alloc(ctx, sizeof(tg_real) * n_c) : NULL;
    if (!s || (n_gates && !gates) || (n_c && !c))
        return tg__fail(ctx, TG_ENOMEM, "lstm: out of memory for saved gates (%zu scalars)", n_gates + n_c);
    *s = (lstm_saved){T, B, F, H, chunks, -1, -1, ck, gates, c};
    tg_tensor *in[7] = {x, w_ih, w_hh, b_ih, b_hh, NULL, NULL};
    int n_in = 5;
    if (h0)
        s->i_h0 = n_in, in[n_in++] = h0;
    if (c0)
        s->i_c0 = n_in, in[n_in++] = c0;
    const int ndim[2] = {3, 2};
    const int shape[2][TG_MAX_DIMS] = {{T, B, H, 1}, {B, H, 1, 1}};
    tg_tensor *out[2] = {NULL, NULL};
    if (tg__custom_first(ctx, &lstm_op, s, in, n_in, 2, ndim, shape, out, 0))
        return NULL;
    if (out_c_last)
        *out_c_last = out[1];
    return out[0];
}

/* ---------------------------------------------------------------- layer */
int tg_lstm_layer_init(tg_lstm_layer *l, tg_params *ps, const char *prefix, int in, int hidden, int in_width)
{
    char name[64];
    if (in <= 0 || hidden <= 0 || in_width < 0)
        return tg_error_set(TG_EINVAL, "lstm layer '%s': in %d, hidden %d, input layer width %d", prefix, in, hidden,
                            in_width);
    memset(l, 0, sizeof *l);
    l->in = in, l->hidden = hidden, l->in_width = in_width;
    if (in_width > 0) {
        snprintf(name, sizeof name, "%s.input", prefix);
        int rc = tg_linear_layer_init(&l->inp, ps, name, in, in_width, 1);
        if (rc)
            return rc;
    }
    const int F = in_width > 0 ? in_width : in, G = 4 * hidden;
    struct { int *id; const char *suffix; int ndim, d0, d1; } p[] = {
        {&l->w_ih, "weight_ih", 2, G, F}, {&l->w_hh, "weight_hh", 2, G, hidden},
        {&l->b_ih, "bias_ih", 1, G, 1}, {&l->b_hh, "bias_hh", 1, G, 1}};
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "%s.%s", prefix, p[k].suffix);
        const int shape[2] = {p[k].d0, p[k].d1};
        if ((*p[k].id = tg_params_add(ps, name, p[k].ndim, shape)) < 0)
            return tg_error_code();
    }
    return 0;
}

int tg_lstm_reset(const tg_lstm_layer *l, tg_params *ps, tg_init scheme, tg_rng *rng)
{
    const int H = l->hidden, F = l->in_width > 0 ? l->in_width : l->in;
    int rc = 0;
    if (l->in_width > 0)
        rc = tg_linear_reset(&l->inp, ps, scheme, rng);
    if (scheme == TG_INIT_TORCH) {
        /* PyTorch's LSTM: every parameter U(+-1/sqrt(H)), in registration order. */
        const int ids[4] = {l->w_ih, l->w_hh, l->b_ih, l->b_hh};
        for (int k = 0; k < 4 && !rc; k++)
            rc = tg_init_param(ps, ids[k], TG_INIT_TORCH, H, 4 * H, k >= 2, rng);
        return rc;
    }
    if (!rc)
        rc = tg_init_param(ps, l->w_ih, scheme, F, 4 * H, 0, rng);
    if (!rc)
        rc = tg_init_param(ps, l->w_hh, scheme, H, 4 * H, 0, rng);
    if (!rc)
        rc = tg_init_param(ps, l->b_ih, scheme, H, 4 * H, 1, rng);
    if (!rc)
        rc = tg_init_param(ps, l->b_hh, scheme, H, 4 * H, 1, rng);
    return rc;
}

int tg_lstm_set_forget_bias(const tg_lstm_layer *l, tg_params *ps, double value)
{
    if (!ps || l->b_hh < 0 || l->b_hh >= ps->count)
        return tg_error_set(TG_EINVAL, "tg_lstm_set_forget_bias: layer has no bias_hh");
    tg_real *b = tg_params_data(ps, l->b_hh);
    for (int j = 0; j < l->hidden; j++)
        b[l->hidden + j] = (tg_real)value;     /* gate order i, f, g, o: f is block 1 */
    return 0;
}

tg_tensor *tg_lstm(tg_ctx *ctx, tg_params *ps, const tg_lstm_layer *l, tg_tensor *x, tg_tensor *h0, tg_tensor *c0,
                   tg_tensor **c_last)
{
    if (l->in_width > 0)
        x = tg_relu(ctx, tg_linear(ctx, ps, &l->inp, x));
    return tg_lstm_op_ckpt(ctx, x, tg_param(ctx, ps, l->w_ih), tg_param(ctx, ps, l->w_hh), tg_param(ctx, ps, l->b_ih),
                           tg_param(ctx, ps, l->b_hh), h0, c0, l->chunks, l->checkpoint, c_last);
}
