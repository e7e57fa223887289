/* terragrad/core.h — scalar type, errors, context and arena, parameters, tensors,
 * the tape and its ops, custom ops, gradient checking.
 * Included by <terragrad.h>; see the overview there. */
#ifndef TERRAGRAD_CORE_H
#define TERRAGRAD_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "terragrad/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TG_API __attribute__((visibility("default")))
#define TG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TG_API
#define TG_PRINTF(a, b)
#endif

/* ===================================================================== scalar type */
/* Chosen at build time: float (default, speed) or double (-DTG_DOUBLE=ON, verification). */
#ifdef TG_DOUBLE
typedef double tg_real;
#define TG_REAL_NAME "double"
#define TG_EPS 2.220446049250313e-16
#else
typedef float tg_real;
#define TG_REAL_NAME "float"
#define TG_EPS 1.1920929e-07f
#endif
/* printf format of a number written to a CSV output: enough significant digits that the
 * value read back (strtod) is the value written (float: 9, double: 17), so a double run
 * can be compared with another tool at 1e-12 and outputs round-trip exactly. */
#ifdef TG_DOUBLE
#define TG_REAL_FMT_CSV "%.17g"
#else
#define TG_REAL_FMT_CSV "%.9g"
#endif
/* Literal of type tg_real (keeps -Wdouble-promotion quiet in float builds). */
#define TG_R(x) ((tg_real)(x))

/* ===================================================================== errors */
/* Every call that can fail on input or environment returns a status (0 = ok) or NULL and
 * leaves a message with context in a thread-local buffer. Nothing in the library exits. */
enum {
    TG_OK = 0,
    TG_EINVAL = 1,   /* bad argument or malformed input (file, line and field in the message) */
    TG_ESHAPE = 2,   /* shapes do not fit the op */
    TG_ENOMEM = 3,   /* allocation failed */
    TG_EIO = 4,      /* file missing, unreadable or unwritable */
    TG_ESTATE = 5,   /* call out of order (e.g. backward twice on one tape) */
    TG_ECONVERGE = 6,/* an iterative solver did not converge */
    TG_EEXTERNAL = 7,/* an external model or user callback failed */
    TG_EVERSION = 8  /* program and library disagree on version or real type */
};
/* Sets the message (printf-style) and returns `code`, so `return tg_error_set(...)` works. */
TG_API int tg_error_set(int code, const char *fmt, ...) TG_PRINTF(2, 3);
/* Prepends context ("while reading X: ") to the current message; returns `code`. */
TG_API int tg_error_prefix(int code, const char *fmt, ...) TG_PRINTF(2, 3);
TG_API const char *tg_error_message(void);
TG_API int tg_error_code(void);
TG_API void tg_error_clear(void);

/* The process-wide allocator hook (Lua-style: fn(ud, ptr, old_size, new_size); new_size 0
 * frees, and every free passes the size the block was allocated with). NULL restores
 * malloc/free. It serves the engine, the data readers, config, metrics, surrogates,
 * calibration and simulation, and every context made by tg_ctx_create; a context can have
 * its own allocator (tg_ctx_create_with_allocator). Not through it (docs/autodiff.md,
 * "Allocation", has the exact list): the training layer (src/train) that still uses
 * malloc, tg_checkpoint_load_ex's `extra` (free() it), and what libc, BLAS, OpenMP,
 * NetCDF and libyaml allocate for themselves. After its first step a training step
 * allocates nothing (tests/test_alloc_steps.c). Set it before any allocation it must
 * free: a block is freed by the hook that is installed when it is freed. */
typedef void *(*tg_alloc_fn)(void *ud, void *ptr, size_t old_size, size_t new_size);
TG_API void tg_set_allocator(tg_alloc_fn fn, void *ud);
TG_API void *tg_malloc(size_t n);
TG_API void *tg_calloc(size_t count, size_t size);
TG_API void *tg_realloc(void *p, size_t old_size, size_t new_size);
TG_API void tg_free(void *p, size_t size);
/* malloc-shaped allocation through the same hook, for code that does not keep the size of
 * what it frees (grown buffers, tables filled line by line): the block carries its size in
 * a small header so that tg_mem_free can tell the hook how large it was. A block from
 * tg_mem_* is freed by tg_mem_free and by nothing else. */
TG_API void *tg_mem_alloc(size_t n);                 /* NULL with TG_ENOMEM set */
TG_API void *tg_mem_calloc(size_t count, size_t size);
TG_API void *tg_mem_realloc(void *p, size_t n);      /* p NULL: alloc; contents kept */
TG_API void tg_mem_free(void *p);                    /* p NULL: nothing */

/* ===================================================================== messages */
/* Library code never prints: warnings (a parameter outside its usual range, a solver that
 * fell back to sub-steps), a training run's report and its progress line go to one
 * handler. msg is the complete text as the command-line tool prints it (newline included;
 * a TG_LOG_PROGRESS message may start with "\r\033[K" to rewrite a terminal line). The
 * default handler (also restored by fn = NULL) writes TG_LOG_INFO to stdout and the
 * others to stderr, flushing each. One handler per process: set it before starting work
 * on several threads. Errors are not logged: they are returned (tg_error_message). */
enum { TG_LOG_INFO = 0, TG_LOG_WARN = 1, TG_LOG_PROGRESS = 2 };
typedef void (*tg_log_fn)(void *user, int level, const char *msg);
TG_API void tg_set_log_handler(tg_log_fn fn, void *user);
TG_API void tg_log_message(int level, const char *fmt, ...) TG_PRINTF(2, 3);
TG_API void tg_log_vmessage(int level, const char *fmt, va_list ap);

/* ===================================================================== version and ABI */
/* The library's version (e.g. "0.3.0"), as a number (major*10000 + minor*100 + patch), and the
 * size of its tg_real (4: float build, 8: double build). */
TG_API const char *tg_version(void);
TG_API int tg_version_number(void);
TG_API int tg_real_size(void);
/* Compares what a program was compiled with (TG_VERSION_NUMBER, sizeof(tg_real)) with the
 * library it runs with: the same major.minor (0.x may change the ABI in every minor
 * version) and the same real type. Returns 0, or TG_EVERSION with a message saying which
 * differs. Call it once at start-up through TG_CHECK_ABI(), as Lua's luaL_checkversion:
 * a program compiled for float that loads libterragrad-double would otherwise read
 * every array with the wrong element size. */
TG_API int tg_check_abi(int version_number, size_t real_size);
#define TG_CHECK_ABI() tg_check_abi(TG_VERSION_NUMBER, sizeof(tg_real))

/* ===================================================================== tensors */
#define TG_MAX_DIMS 4
typedef struct tg_node tg_node;
typedef struct tg_tensor {
    int ndim;                    /* 0 (scalar) .. 4 */
    int shape[TG_MAX_DIMS];      /* unused dims are 1 */
    size_t n;                    /* number of elements */
    tg_real *data;               /* contiguous, row-major (last index fastest) */
    tg_real *grad;               /* NULL until the reverse sweep reaches this tensor */
    int requires_grad;           /* 1 if a gradient must flow to or through this tensor */
    int param_id;                /* >= 0 for a tensor that views a persistent parameter */
    tg_node *node;               /* the op that produced it (NULL for leaves) */
} tg_tensor;

/* ===================================================================== context */
/* A context owns the step arena (tensors, tape nodes, saved values of one step), the tape
 * and the scratch of the fused kernels run in its ops. Reset it at the end of every
 * training step: O(1), memory is kept for reuse, so steps after the first allocate nothing
 * while the shapes stay the same. A context is used by one thread at a time. */
typedef struct tg_ctx tg_ctx;
TG_API tg_ctx *tg_ctx_create(void);               /* allocates through the process-wide hook */
/* A context whose arena, tape and kernel scratch are allocated by fn(ud, ...) (Lua's
 * lua_newstate): two users of the library need not share one hook. fn NULL = tg_ctx_create. */
TG_API tg_ctx *tg_ctx_create_with_allocator(tg_alloc_fn fn, void *ud);
TG_API void tg_ctx_free(tg_ctx **ctx);           /* frees and sets *ctx = NULL */
TG_API void tg_ctx_reset(tg_ctx *ctx);           /* drops all tensors and the tape */
TG_API void *tg_ctx_alloc(tg_ctx *ctx, size_t bytes); /* 64-byte aligned, lives until reset */
TG_API size_t tg_ctx_arena_bytes(const tg_ctx *ctx);  /* bytes reserved by the arena */
TG_API size_t tg_ctx_arena_peak(const tg_ctx *ctx);   /* high-water mark since create */
/* Gradient mode: when off, ops compute but record nothing (evaluation, line searches). */
TG_API int tg_ctx_set_grad(tg_ctx *ctx, int enabled); /* returns the previous mode */
TG_API int tg_ctx_grad_enabled(const tg_ctx *ctx);
/* Sticky status: the first failed op stores its code here; later ops given NULL inputs
 * return NULL, so a whole forward pass can be checked once at the end. */
TG_API int tg_ctx_status(const tg_ctx *ctx);
TG_API void tg_ctx_clear_status(tg_ctx *ctx);

/* ===================================================================== parameters */
/* Persistent, trainable tensors in ONE flat value buffer and ONE flat gradient buffer:
 * one loop for an optimizer, one fwrite for a checkpoint, one allreduce for MPI. */
typedef struct tg_params {
    int count;                   /* number of parameter tensors */
    size_t size;                 /* total number of scalars */
    tg_real *value;              /* (size) */
    tg_real *grad;               /* (size) — accumulated by backward until zeroed */
    /* per tensor */
    size_t *offset;
    int (*shape)[TG_MAX_DIMS];
    int *ndim;
    int *frozen;                 /* 1 = no gradient (e.g. a frozen surrogate) */
    char (*name)[64];
    int capacity;
    size_t capacity_scalars;
} tg_params;
TG_API tg_params *tg_params_create(void);
TG_API void tg_params_free(tg_params **ps);
/* Adds a zero-initialised parameter; returns its id (>= 0) or -1 on error. Growing the
 * store may move the buffers: take tensors with tg_param() after adding everything. */
TG_API int tg_params_add(tg_params *ps, const char *name, int ndim, const int *shape);
TG_API int tg_params_find(const tg_params *ps, const char *name);  /* -1 if absent */
TG_API tg_real *tg_params_data(tg_params *ps, int id);
TG_API size_t tg_params_numel(const tg_params *ps, int id);
TG_API void tg_params_zero_grad(tg_params *ps);
TG_API void tg_params_set_frozen(tg_params *ps, int id, int frozen);
/* A step-local tensor viewing parameter `id`: data and grad point into the flat buffers. */
TG_API tg_tensor *tg_param(tg_ctx *ctx, tg_params *ps, int id);

/* ===================================================================== creation */
TG_API tg_tensor *tg_new(tg_ctx *ctx, int ndim, const int *shape);  /* zeros, no grad */
TG_API tg_tensor *tg_from(tg_ctx *ctx, int ndim, const int *shape, const tg_real *data);
TG_API tg_tensor *tg_full(tg_ctx *ctx, int ndim, const int *shape, tg_real value);
TG_API tg_tensor *tg_scalar(tg_ctx *ctx, tg_real value);
/* A leaf that collects a gradient (an input we differentiate with respect to). */
TG_API tg_tensor *tg_leaf(tg_ctx *ctx, int ndim, const int *shape, const tg_real *data);
TG_API tg_tensor *tg_detach(tg_ctx *ctx, tg_tensor *x); /* shares data, no gradient */
TG_API tg_tensor *tg_copy(tg_ctx *ctx, tg_tensor *x);   /* differentiable copy */
/* Shape helpers: TG_SHAPE(2, 3) expands to `2, (const int[]){2, 3}` style arguments. */
#define TG_SHAPE(...) (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (const int[]){__VA_ARGS__}

/* ===================================================================== ops */
/* Every op runs its forward at once and records a tape node when any input requires a
 * gradient and gradient mode is on. NULL input → NULL output (status stays sticky).
 *
 * Broadcasting (binary elementwise ops, where, minimum/maximum): shapes are aligned at the
 * right, and a dimension of size 1 (or a missing leading one) stretches — a row (1, N) or a
 * column (M, 1) against (M, N), a scalar against anything. Gradients are summed back.
 *
 * Subgradient convention at kinks (documented in docs/autodiff.md, tested):
 *   relu'(0) = 0; abs'(0) = 0; step has zero gradient everywhere;
 *   minimum/maximum at ties: the gradient goes to the FIRST argument only;
 *   clamp(x, lo, hi): gradient 1 for lo <= x <= hi (bounds included), 0 outside;
 *   sqrt'(0) = +inf as in IEEE (avoid 0 or use a clamp).                            */
TG_API tg_tensor *tg_add(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_sub(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_mul(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_div(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_pow(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);   /* a > 0 where b varies */
TG_API tg_tensor *tg_minimum(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_maximum(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_adds(tg_ctx *ctx, tg_tensor *a, tg_real s);     /* a + s */
TG_API tg_tensor *tg_muls(tg_ctx *ctx, tg_tensor *a, tg_real s);     /* a * s */
TG_API tg_tensor *tg_rsubs(tg_ctx *ctx, tg_tensor *a, tg_real s);    /* s - a */
TG_API tg_tensor *tg_rdivs(tg_ctx *ctx, tg_tensor *a, tg_real s);    /* s / a */
TG_API tg_tensor *tg_pows(tg_ctx *ctx, tg_tensor *a, tg_real p);     /* a ^ p */
TG_API tg_tensor *tg_neg(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_exp(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_log(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_log1p(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_sqrt(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_abs(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_tanh(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_sigmoid(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_relu(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_softplus(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_sin(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_cos(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_clamp(tg_ctx *ctx, tg_tensor *a, tg_real lo, tg_real hi);
TG_API tg_tensor *tg_step(tg_ctx *ctx, tg_tensor *a);                 /* 1 if a > 0 else 0 */
/* where(cond, a, b): a where cond > 0, else b; cond gets no gradient. */
TG_API tg_tensor *tg_where(tg_ctx *ctx, tg_tensor *cond, tg_tensor *a, tg_tensor *b);

/* Reductions. axis may be negative (counted from the end); keepdim keeps a size-1 axis. */
TG_API tg_tensor *tg_sum(tg_ctx *ctx, tg_tensor *a);                  /* -> scalar */
TG_API tg_tensor *tg_mean(tg_ctx *ctx, tg_tensor *a);
TG_API tg_tensor *tg_sum_axis(tg_ctx *ctx, tg_tensor *a, int axis, int keepdim);
TG_API tg_tensor *tg_mean_axis(tg_ctx *ctx, tg_tensor *a, int axis, int keepdim);

/* Linear algebra. matmul: (M,K)x(K,N); (B,M,K)x(B,K,N); (B,M,K)x(K,N) (shared right
 * factor). CBLAS above a size where it pays, own kernel below. */
TG_API tg_tensor *tg_matmul(tg_ctx *ctx, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_transpose(tg_ctx *ctx, tg_tensor *a, int axis0, int axis1);

/* Shape ops. */
TG_API tg_tensor *tg_reshape(tg_ctx *ctx, tg_tensor *a, int ndim, const int *shape);
TG_API tg_tensor *tg_slice(tg_ctx *ctx, tg_tensor *a, int axis, int start, int len);
TG_API tg_tensor *tg_select(tg_ctx *ctx, tg_tensor *a, int axis, int index); /* drops axis */
TG_API tg_tensor *tg_concat(tg_ctx *ctx, tg_tensor *const *xs, int count, int axis);
TG_API tg_tensor *tg_stack(tg_ctx *ctx, tg_tensor *const *xs, int count, int axis);

/* Dense product on raw row-major arrays, C = alpha*op(A)*op(B) + beta*C, op = transpose
 * when ta/tb is non-zero; OpenBLAS above a size where it pays, an own kernel below. For
 * kernels (LSTM, PINN, models) that work on flat arrays inside custom ops. */
TG_API void tg_gemm(int ta, int tb, int M, int N, int K, tg_real alpha, const tg_real *A, int lda,
                    const tg_real *B, int ldb, tg_real beta, tg_real *C, int ldc);

/* ===================================================================== custom ops */
/* A user op with a hand-written backward: a whole model run, an LSTM over a sequence or
 * a solver step becomes ONE tape node. Callbacks return 0 ok, >0 recoverable, <0 fatal
 * (as SUNDIALS); a forward returning a terragrad status (TG_EINVAL..TG_EEXTERNAL, e.g.
 * TG_ECONVERGE) keeps that code, any other non-zero return becomes TG_EEXTERNAL; the
 * message names the op and carries the callback's own tg_error_set message.
 *
 * forward: fill out[0..n_out) (already allocated with the requested shapes, zeroed).
 *          Save what backward needs in user_data (allocate with tg_ctx_alloc so it lives
 *          exactly as long as the tape).
 * backward: given grad_out[k] (dL/d out[k]; zeros for outputs the sweep never reached),
 *          ACCUMULATE (+=) into grad_in[i]; grad_in[i] is NULL when input i needs none.
 * Forward runs even in no-grad mode; backward is only recorded when some input requires
 * a gradient. */
typedef struct tg_custom_op {
    const char *name;
    int (*forward)(void *user_data, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out);
    int (*backward)(void *user_data, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                    const tg_real *const *grad_out, tg_real *const *grad_in);
} tg_custom_op;
/* Runs op->forward and records it. out_ndim[k]/out_shape[k] give output k's shape; the
 * created outputs are written to out[k]. Returns 0 or an error status. */
TG_API int tg_custom(tg_ctx *ctx, const tg_custom_op *op, void *user_data,
                     tg_tensor *const *in, int n_in,
                     int n_out, const int *out_ndim, const int (*out_shape)[TG_MAX_DIMS],
                     tg_tensor **out);

/* ===================================================================== reverse sweep */
/* Backward from a scalar loss (seed 1). One sweep, in reverse recording order, skipping
 * nodes no gradient reaches. Parameter gradients ACCUMULATE into tg_params.grad; other
 * tensors' .grad is set. A tape can be swept once: call tg_ctx_reset before the next. */
TG_API int tg_backward(tg_ctx *ctx, tg_tensor *loss);
/* Backward from any tensor with an explicit seed dL/dy (same size as y). */
TG_API int tg_backward_seed(tg_ctx *ctx, tg_tensor *y, const tg_real *seed);
TG_API size_t tg_ctx_tape_length(const tg_ctx *ctx);

/* ===================================================================== gradient check */
/* f builds a scalar loss from the inputs (fresh leaf tensors on every call). The check
 * compares the tape gradient with central finite differences, element by element, and
 * reports the worst absolute and relative error. Meaningful in the double build. */
typedef tg_tensor *(*tg_loss_fn)(tg_ctx *ctx, tg_tensor *const *inputs, int n, void *ud);
typedef struct tg_gradcheck_result {
    double max_abs_err;
    double max_rel_err;
    size_t checked;          /* number of scalar inputs compared */
} tg_gradcheck_result;
/* inputs[i] (host arrays, sizes given by ndims/shapes) are perturbed by +-h. */
TG_API int tg_gradcheck(tg_loss_fn f, void *ud, int n_inputs, const int *ndims,
                        const int (*shapes)[TG_MAX_DIMS], tg_real *const *inputs, double h,
                        tg_gradcheck_result *res);
/* The relative error used throughout: |a-b| / max(|a|, |b|, floor). */
TG_API double tg_rel_err(double a, double b, double floor);

/* ===================================================================== randomness */
/* Own seeded PRNG (xoshiro256**): same seed, same numbers, on any thread count. */
typedef struct tg_rng { uint64_t s[4]; } tg_rng;
TG_API void tg_rng_seed(tg_rng *r, uint64_t seed);
TG_API uint64_t tg_rng_next(tg_rng *r);
TG_API double tg_rng_uniform(tg_rng *r);             /* [0, 1) */
TG_API double tg_rng_normal(tg_rng *r);              /* N(0, 1) */
TG_API uint64_t tg_rng_below(tg_rng *r, uint64_t n); /* [0, n), unbiased */
TG_API void tg_rng_jump(tg_rng *r);                  /* 2^128 steps: independent streams */

/* ===================================================================== vector kernels */
/* The library is built for the baseline of its architecture; the hot kernels (HBV step
 * loops, LSTM cell, PINN MLP, small GEMM) also exist as AVX2+FMA and AVX-512 variants on
 * x86-64 and are picked at run time. TG_CPU=baseline (or scalar) in the environment
 * forces the baseline kernels, TG_CPU=avx2 caps at AVX2, auto/avx512/unset take the best
 * the CPU has. Results of the variants agree to rounding (HBV: 1e-6 relative, tested). */
enum { TG_CPU_BASELINE = 0, TG_CPU_AVX2 = 1, TG_CPU_AVX512 = 2 };
TG_API int tg_cpu_level(void);                  /* level the kernels use now (hardware, capped by TG_CPU) */
TG_API int tg_cpu_hw_level(void);               /* best level this CPU supports */
TG_API const char *tg_cpu_level_name(int level);/* "baseline", "avx2", "avx512" */
/* OpenBLAS's own thread count (its threads, not OpenMP's); returns the previous count. A
 * caller that runs library work from several threads of its own sets 1 meanwhile, so the
 * matrix products neither oversubscribe the cores nor contend for BLAS's thread pool. */
TG_API int tg_blas_set_threads(int n);
TG_API int tg_cpu_check_env(void);              /* TG_EINVAL (message) if TG_CPU is not understood */

/* Work accounting for benchmarks: while enabled, every matrix product of the engine (the
 * layers' BLAS calls, tg_gemm, the PINN MLP's fused products) adds its wall time (summed
 * over the threads that ran it), its 2 M N K FLOPs and one call to process-wide counters.
 * Enabling resets them. Off by default; not for concurrent enable/disable. */
TG_API void tg_gemm_stats_enable(int on);
TG_API void tg_gemm_stats_get(double *seconds, double *flops, long *calls);

#ifdef __cplusplus
}
#endif
#endif
