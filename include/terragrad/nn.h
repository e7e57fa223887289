/* terragrad/nn.h — layers (linear, MLP, dropout, fused LSTM), initialisation, optimizers,
 * learning-rate schedules, gradient clipping and checkpoints.
 * Included by <terragrad.h>.
 *
 * ============================================================== overview
 * Layers keep parameter IDS (not pointers) into a tg_params store, because adding
 * parameters may move the flat buffers. Build every layer first, then initialise, then
 * train:
 *
 *     tg_params *ps = tg_params_create();
 *     tg_lstm_layer lstm;  tg_linear_layer head;
 *     tg_lstm_layer_init(&lstm, ps, "lstm", 32, 256, 0);          // 32 inputs, hidden 256
 *     tg_linear_layer_init(&head, ps, "head", 256, 1, 1);
 *     tg_rng rng;  tg_rng_seed(&rng, 42);
 *     tg_lstm_reset(&lstm, ps, TG_INIT_TORCH, &rng);
 *     tg_lstm_set_forget_bias(&lstm, ps, 3.0);                    // as neuralhydrology
 *     tg_linear_reset(&head, ps, TG_INIT_TORCH, &rng);
 *     tg_optim *opt = tg_optim_create(&(tg_optim_config){0}, ps);  // {0} = Adam defaults
 *     for (...) {                                                   // one training step
 *         tg_tensor *h = tg_lstm(ctx, ps, &lstm, x, NULL, NULL, NULL);   // x (T, B, 32)
 *         tg_tensor *y = tg_linear(ctx, ps, &head, tg_dropout(ctx, h, 0.4, 1, &rng));
 *         tg_tensor *loss = ...;
 *         tg_backward(ctx, loss);
 *         tg_clip_grad_norm(ps, 1.0);
 *         tg_optim_step(opt, ps);                                   // also zeroes ps->grad
 *         tg_ctx_reset(ctx);
 *     }
 *     tg_checkpoint_save("run/last.tgck", ps, opt, &rng, epoch);
 *
 * Raw kernels (tg_linear_forward/backward, tg_lstm_forward/backward) work on flat arrays
 * and need no context; the tape functions (tg_linear, tg_mlp, tg_lstm, tg_dropout) wrap
 * them as ONE custom op each.
 *
 * Determinism: every parallel loop here uses a partition fixed by the problem size, never
 * by the thread count, and every BLAS call inside a parallel region is single-threaded; so
 * results are bit-identical for any OMP_NUM_THREADS / OPENBLAS_NUM_THREADS.
 */
#ifndef TERRAGRAD_NN_H
#define TERRAGRAD_NN_H

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== initialisation */
typedef enum tg_init {
    TG_INIT_TORCH = 0,      /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases,
                               as PyTorch's Linear and LSTM (LSTM: fan_in = hidden) */
    TG_INIT_XAVIER_UNIFORM, /* weights U(+-sqrt(6/(fan_in+fan_out))), biases 0 */
    TG_INIT_XAVIER_NORMAL,  /* weights N(0, 2/(fan_in+fan_out)), biases 0 */
    TG_INIT_ZEROS
} tg_init;
/* Fills parameter `id` (weight matrix of shape (fan_out, fan_in) or bias) by `scheme`. */
TG_API int tg_init_param(tg_params *ps, int id, tg_init scheme, int fan_in, int fan_out, int is_bias,
                         tg_rng *rng);
TG_API void tg_init_uniform(tg_real *w, size_t n, double lo, double hi, tg_rng *rng);
TG_API void tg_init_normal(tg_real *w, size_t n, double mean, double std, tg_rng *rng);

/* ===================================================================== activations */
typedef enum tg_act {
    TG_ACT_IDENTITY = 0, TG_ACT_TANH, TG_ACT_RELU, TG_ACT_SIGMOID, TG_ACT_SOFTPLUS, TG_ACT_SIN
} tg_act;
TG_API tg_tensor *tg_activation(tg_ctx *ctx, tg_tensor *x, tg_act act);
TG_API const char *tg_act_name(tg_act act);
/* "tanh", "relu", "sigmoid", "softplus", "sin", "identity"/"linear"/"none" → act. */
TG_API int tg_act_parse(const char *name, tg_act *act);

/* ===================================================================== linear */
/* y = x W^T + b, batched over all leading dimensions of x. W (out, in), b (out). */
typedef struct tg_linear_layer {
    int in, out;
    int w, b;               /* parameter ids; b = -1 without bias */
} tg_linear_layer;
/* Adds "<prefix>.weight" (out, in) and, if bias, "<prefix>.bias" (out) to ps. */
TG_API int tg_linear_layer_init(tg_linear_layer *l, tg_params *ps, const char *prefix, int in, int out,
                                int bias);
TG_API int tg_linear_reset(const tg_linear_layer *l, tg_params *ps, tg_init scheme, tg_rng *rng);
/* x (..., in) -> (..., out). One tape node. */
TG_API tg_tensor *tg_linear(tg_ctx *ctx, tg_params *ps, const tg_linear_layer *l, tg_tensor *x);
/* The same as an op on explicit tensors (w (out, in), b (out) or NULL). */
TG_API tg_tensor *tg_linear_op(tg_ctx *ctx, tg_tensor *x, tg_tensor *w, tg_tensor *b);
/* Raw kernels. forward: y = x W^T + b. backward ACCUMULATES into dx, dw, db (each may be NULL). */
TG_API void tg_linear_forward(tg_real *y /* (N, out) */, const tg_real *x /* (N, in) */,
                              const tg_real *w /* (out, in) */, const tg_real *b /* (out) or NULL */,
                              size_t N, int in, int out);
TG_API void tg_linear_backward(tg_real *dx /* (N, in) */, tg_real *dw /* (out, in) */, tg_real *db /* (out) */,
                               const tg_real *dy /* (N, out) */, const tg_real *x /* (N, in) */,
                               const tg_real *w /* (out, in) */, size_t N, int in, int out);

/* ===================================================================== MLP */
#define TG_MLP_MAX_LAYERS 16
/* widths[0] inputs -> widths[1] -> ... -> widths[n-1] outputs; act[i] after layer i. */
typedef struct tg_mlp_layer {
    int n_layers;
    tg_linear_layer lin[TG_MLP_MAX_LAYERS];
    tg_act act[TG_MLP_MAX_LAYERS];
} tg_mlp_layer;
/* n_widths >= 2 widths; hidden layers get hidden_act, the last layer out_act. Layer i's
 * parameters are "<prefix>.<i>.weight" / ".bias". Change m->act[i] for per-layer choices. */
TG_API int tg_mlp_init(tg_mlp_layer *m, tg_params *ps, const char *prefix, int n_widths, const int *widths,
                       tg_act hidden_act, tg_act out_act);
TG_API int tg_mlp_reset(const tg_mlp_layer *m, tg_params *ps, tg_init scheme, tg_rng *rng);
TG_API tg_tensor *tg_mlp(tg_ctx *ctx, tg_params *ps, const tg_mlp_layer *m, tg_tensor *x);

/* ===================================================================== dropout */
/* Inverted dropout: in training mode zeroes each element with probability p and scales the
 * rest by 1/(1-p); the mask is drawn from rng (one draw of rng per call, then a counter-based
 * stream, so the mask is the same on any thread count) and saved for backward. In
 * evaluation mode (train = 0) or with p = 0 it returns x unchanged. */
TG_API tg_tensor *tg_dropout(tg_ctx *ctx, tg_tensor *x, double p, int train, tg_rng *rng);

/* ===================================================================== LSTM */
/* A single-layer LSTM over a whole sequence as ONE tape node with a hand-written backward
 * (derivation in docs/lstm_backward.md). PyTorch gate order (i, f, g, o) and parameters
 * W_ih (4H, F), W_hh (4H, H), b_ih (4H), b_hh (4H), so weights load from / compare with
 * torch.nn.LSTM. Time-major: x (T, B, F), h (T, B, H).
 *   a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh;  i, f, o = sigmoid, g = tanh of blocks
 *   c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)
 * Optional input layer (linear + ReLU, as hydrology LSTMs) runs before the cell. */
typedef struct tg_lstm_layer {
    int in;                 /* features of x */
    int hidden;             /* H */
    int in_width;           /* width of the optional input layer; 0 = none */
    tg_linear_layer inp;    /* the input layer (if in_width > 0) */
    int w_ih, w_hh, b_ih, b_hh;  /* parameter ids */
    int chunks;             /* batch partition for threads (0 = auto); results depend on it,
                               never on the thread count */
    int checkpoint;         /* gradient checkpointing (tg_lstm_op_ckpt): 0 = off (default),
                               k > 0 = segments of k steps, -1 = auto (ceil(sqrt(T))) */
} tg_lstm_layer;
/* Adds "<prefix>.weight_ih" (4H, F'), ".weight_hh" (4H, H), ".bias_ih", ".bias_hh" (4H),
 * with F' = in_width if in_width > 0 (then also "<prefix>.input.weight"/".bias"). */
TG_API int tg_lstm_layer_init(tg_lstm_layer *l, tg_params *ps, const char *prefix, int in, int hidden,
                              int in_width);
/* TG_INIT_TORCH: everything U(+-1/sqrt(H)) (PyTorch). Xavier: per weight matrix, biases 0. */
TG_API int tg_lstm_reset(const tg_lstm_layer *l, tg_params *ps, tg_init scheme, tg_rng *rng);
/* Sets the forget-gate block of b_hh to `value` (b_ih's forget block left as is), as
 * neuralhydrology's initial_forget_bias. */
TG_API int tg_lstm_set_forget_bias(const tg_lstm_layer *l, tg_params *ps, double value);
/* x (T, B, in); h0, c0 (B, H) or NULL (zeros). Returns h (T, B, H); *c_last = c_T (B, H) if
 * c_last != NULL. Gradients flow to x, the weights, h0 and c0 (and from c_last). */
TG_API tg_tensor *tg_lstm(tg_ctx *ctx, tg_params *ps, const tg_lstm_layer *l, tg_tensor *x, tg_tensor *h0,
                          tg_tensor *c0, tg_tensor **c_last);
/* The fused op on explicit tensors (x (T, B, F), weights as above, h0/c0 may be NULL).
 * chunks: batch partition (0 = auto). out_c_last may be NULL. Returns h (T, B, H). */
TG_API tg_tensor *tg_lstm_op(tg_ctx *ctx, tg_tensor *x, tg_tensor *w_ih, tg_tensor *w_hh, tg_tensor *b_ih,
                             tg_tensor *b_hh, tg_tensor *h0, tg_tensor *c0, int chunks, tg_tensor **out_c_last);
/* The same with gradient checkpointing for long sequences. checkpoint = 0: as tg_lstm_op
 * (saves the gates and cells of every step: 5 T B H scalars). checkpoint = k > 0: saves
 * only the cell state at the end of every k-step segment (ceil(T/k) B H scalars); backward
 * re-runs each segment's forward (6 k B H scalars of scratch while it runs), one extra
 * forward in all. checkpoint = -1: k = ceil(sqrt(T)), memory O(sqrt(T) B H). The output h
 * (T, B, H) is kept either way (it is the op's output). The recomputation repeats the
 * forward's kernel calls, so the gradients are exactly those of the checkpointed forward;
 * against checkpoint = 0 they differ only by BLAS blocking round-off (the input projection
 * and weight-gradient GEMMs run per segment instead of over all T*B rows; bit-identical
 * where the BLAS gives rows and K blocks the same bits, see tests/test_checkpointing.c). */
TG_API tg_tensor *tg_lstm_op_ckpt(tg_ctx *ctx, tg_tensor *x, tg_tensor *w_ih, tg_tensor *w_hh, tg_tensor *b_ih,
                                  tg_tensor *b_hh, tg_tensor *h0, tg_tensor *c0, int chunks, int checkpoint,
                                  tg_tensor **out_c_last);
/* Segment length used for T steps and a checkpoint setting (0 = not checkpointed). */
TG_API int tg_lstm_ckpt_segment(int T, int checkpoint);
/* Default batch partition: 2 equal chunks for B >= 32 (two cores here), else 1. */
TG_API int tg_lstm_auto_chunks(int B);

/* Raw kernels on flat arrays (no context needed). Both return 0 or TG_ENOMEM.
 * forward: h, c (T, B, H) and gates (T, B, 4H) (the activated i, f, g, o: saved for
 *   backward) are outputs. h0, c0 may be NULL (zeros). chunks: batch partition (0 = auto).
 * backward: dh (T, B, H) = dL/dh (NULL = zeros); dc_last (B, H) = dL/dc_T or NULL.
 *   Overwrites `gates` with dL/da (the pre-activation gradients). ACCUMULATES into dx,
 *   dw_ih, dw_hh, db_ih, db_hh, dh0, dc0; any of them may be NULL (not needed). */
TG_API int tg_lstm_forward(tg_real *h /* (T, B, H) */, tg_real *c /* (T, B, H) */,
                           tg_real *gates /* (T, B, 4H) */, const tg_real *x /* (T, B, F) */,
                           const tg_real *w_ih /* (4H, F) */, const tg_real *w_hh /* (4H, H) */,
                           const tg_real *b_ih /* (4H) */, const tg_real *b_hh /* (4H) */,
                           const tg_real *h0 /* (B, H) */, const tg_real *c0 /* (B, H) */,
                           int T, int B, int F, int H, int chunks);
TG_API int tg_lstm_backward(tg_real *dx /* (T, B, F) */, tg_real *dw_ih /* (4H, F) */,
                            tg_real *dw_hh /* (4H, H) */, tg_real *db_ih /* (4H) */,
                            tg_real *db_hh /* (4H) */, tg_real *dh0 /* (B, H) */, tg_real *dc0 /* (B, H) */,
                            tg_real *gates /* (T, B, 4H) in: activated gates, out: dL/da */,
                            const tg_real *dh /* (T, B, H) */, const tg_real *dc_last /* (B, H) */,
                            const tg_real *h /* (T, B, H) */, const tg_real *c /* (T, B, H) */,
                            const tg_real *x /* (T, B, F) */, const tg_real *w_ih, const tg_real *w_hh,
                            const tg_real *h0, const tg_real *c0, int T, int B, int F, int H, int chunks);

/* ===================================================================== optimizers */
/* All state lives in flat buffers parallel to tg_params.value; frozen parameters are
 * skipped. tg_optim_step() consumes ps->grad and ZEROES it afterwards. */
typedef enum tg_optim_kind {
    TG_OPTIM_ADAM = 0,      /* default ({0} config) */
    TG_OPTIM_SGD,           /* momentum, optional Nesterov */
    TG_OPTIM_ADAMW,         /* decoupled weight decay */
    TG_OPTIM_ADADELTA,      /* the δHBV default */
    TG_OPTIM_LBFGS          /* needs tg_optim_step_closure */
} tg_optim_kind;
typedef struct tg_optim_config {
    tg_optim_kind kind;
    double lr;              /* 0 = default: Adam(W) 1e-3, SGD 1e-2, Adadelta 1, L-BFGS 1 */
    double weight_decay;    /* L2 added to the gradient; AdamW: p *= 1 - lr * wd. 0 = none
                               for every kind (PyTorch's AdamW default is 1e-2: set it) */
    double momentum;        /* SGD */
    int nesterov;           /* SGD */
    double beta1, beta2;    /* Adam(W); 0 = defaults 0.9, 0.999 */
    double eps;             /* Adam(W) 1e-8, Adadelta 1e-6 when 0 */
    double rho;             /* Adadelta; 0 = 0.9 */
    int history;            /* L-BFGS m; 0 = 100 */
    int max_iter;           /* L-BFGS iterations per step; 0 = 20 */
    int max_eval;           /* L-BFGS closure calls per step; 0 = max_iter * 5 / 4 */
    double tol_grad;        /* L-BFGS: stop when max |g| <= tol_grad; 0 = 1e-7 */
    double tol_change;      /* L-BFGS: stop on tiny step or loss change; 0 = 1e-9 */
    int no_line_search;     /* L-BFGS: 1 = fixed step lr (default: strong Wolfe) */
} tg_optim_config;
typedef struct tg_optim tg_optim;
/* The config with every 0 replaced by the kind's default (PyTorch defaults). */
TG_API tg_optim_config tg_optim_defaults(const tg_optim_config *cfg);
TG_API tg_optim *tg_optim_create(const tg_optim_config *cfg, const tg_params *ps);
TG_API void tg_optim_free(tg_optim **opt);
/* First-order step from ps->grad (not L-BFGS). Increments the step counter. */
TG_API int tg_optim_step(tg_optim *opt, tg_params *ps);
/* closure: evaluate the loss at ps->value into *loss and write the gradient into ps->grad
 * (zeroed before each call). Return 0 ok, non-zero error (becomes TG_EEXTERNAL). */
typedef int (*tg_closure_fn)(void *ud, tg_params *ps, double *loss);
/* L-BFGS: one step of up to max_iter iterations (as torch.optim.LBFGS.step(closure)).
 * Other kinds: one closure evaluation then tg_optim_step. *loss = loss at the START. */
TG_API int tg_optim_step_closure(tg_optim *opt, tg_params *ps, tg_closure_fn f, void *ud, double *loss);
TG_API void tg_optim_set_lr(tg_optim *opt, double lr);
TG_API double tg_optim_get_lr(const tg_optim *opt);
TG_API int64_t tg_optim_step_count(const tg_optim *opt);
TG_API tg_optim_kind tg_optim_get_kind(const tg_optim *opt);
TG_API const tg_optim_config *tg_optim_get_config(const tg_optim *opt);
TG_API void tg_optim_reset(tg_optim *opt);      /* zero state and step counter */
TG_API const char *tg_optim_name(tg_optim_kind kind);
TG_API int tg_optim_parse(const char *name, tg_optim_kind *kind);  /* "adam", "sgd", ... */

/* ===================================================================== schedules */
typedef enum tg_sched_kind {
    TG_SCHED_CONSTANT = 0,
    TG_SCHED_STEP,          /* base * gamma^floor(epoch / step_size) */
    TG_SCHED_EXP,           /* base * gamma^epoch */
    TG_SCHED_COSINE,        /* lr_min + (base - lr_min) (1 + cos(pi min(epoch, t_max) / t_max)) / 2 */
    TG_SCHED_TABLE          /* lr of the largest table epoch <= epoch (base before the first) */
} tg_sched_kind;
#define TG_SCHED_MAX_TABLE 32
typedef struct tg_schedule {
    tg_sched_kind kind;
    double base_lr;
    int step_size;
    double gamma;
    int t_max;
    double lr_min;
    int n_table;
    int table_epoch[TG_SCHED_MAX_TABLE];
    double table_lr[TG_SCHED_MAX_TABLE];
} tg_schedule;
TG_API tg_schedule tg_schedule_constant(double lr);
TG_API tg_schedule tg_schedule_step(double lr, int step_size, double gamma);
TG_API tg_schedule tg_schedule_exponential(double lr, double gamma);
TG_API tg_schedule tg_schedule_cosine(double lr, int t_max, double lr_min);
/* Epoch-keyed table, e.g. {0: 1e-3, 10: 5e-4, 25: 1e-4} (neuralhydrology style); epochs
 * strictly increasing. */
TG_API int tg_schedule_table(tg_schedule *s, int n, const int *epochs, const double *lrs);
TG_API double tg_schedule_lr(const tg_schedule *s, int epoch);

/* ===================================================================== clipping */
/* Global L2 norm of ps->grad over non-frozen parameters (double, fixed order). */
TG_API double tg_grad_norm(const tg_params *ps);
/* Scales ps->grad by max_norm / (norm + 1e-6) when norm > max_norm (as PyTorch's
 * clip_grad_norm_); returns the norm before clipping. */
TG_API double tg_clip_grad_norm(tg_params *ps, double max_norm);

/* ===================================================================== checkpoints */
/* Binary, versioned, little-endian: magic "TGCKPT\r\n", version, precision, then a
 * payload with parameter names/shapes/frozen flags/values, optimizer kind, current
 * learning rate, state buffer and step counter (hyper-parameters come from the optimizer
 * you pass), RNG state and epoch, protected by an FNV-1a 64 checksum. Written to "<path>.tmp",
 * fsync'ed, then renamed over path: a crash never leaves a half-written checkpoint.
 * Load checks magic, version, precision, checksum and that names/shapes match `ps`
 * (create the model first); errors name the file and the mismatch. opt / rng / epoch may
 * be NULL (not saved / not restored). */
#define TG_CHECKPOINT_VERSION 2
TG_API int tg_checkpoint_save(const char *path, const tg_params *ps, const tg_optim *opt, const tg_rng *rng,
                              int64_t epoch);
TG_API int tg_checkpoint_load(const char *path, tg_params *ps, tg_optim *opt, tg_rng *rng, int64_t *epoch);
/* As above with an opaque `extra` section (the trainer's run state: sampler position,
 * config fingerprint; version >= 2). Load: *extra receives a malloc'ed, NUL-terminated
 * copy (free() it) or NULL when the file has none (version 1 files, or saved without).
 * ps may be NULL (with opt and rng NULL) to read only the epoch and run state. */
TG_API int tg_checkpoint_save_ex(const char *path, const tg_params *ps, const tg_optim *opt, const tg_rng *rng,
                                 int64_t epoch, const void *extra, size_t extra_len);
TG_API int tg_checkpoint_load_ex(const char *path, tg_params *ps, tg_optim *opt, tg_rng *rng, int64_t *epoch,
                                 void **extra, size_t *extra_len);
/* The payload checksum (the file's identity: outputs record which checkpoint they came
 * from) and epoch, from the first 56 bytes only. */
TG_API int tg_checkpoint_identify(const char *path, uint64_t *checksum, int64_t *epoch);

#ifdef __cplusplus
}
#endif
#endif
