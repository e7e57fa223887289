/* internal.h — what the core and the built-in ops share and users never see:
 * the tape node, the context layout, and helpers for recording ops. */
#ifndef TG_CORE_INTERNAL_H
#define TG_CORE_INTERNAL_H

#include "terragrad/core.h"

/* Every built-in op, once: the gradient-check suite must cover each name (a test fails
 * if one is missing), and nodes carry these names for error messages. */
#define TG_BUILTIN_OPS(X)                                                                     \
    X(add) X(sub) X(mul) X(div) X(pow) X(minimum) X(maximum) X(adds) X(muls) X(rsubs)          \
    X(rdivs) X(pows) X(neg) X(exp) X(log) X(log1p) X(sqrt) X(abs) X(tanh) X(sigmoid) X(relu)   \
    X(softplus) X(sin) X(cos) X(clamp) X(step) X(where) X(sum) X(mean) X(sum_axis)             \
    X(mean_axis) X(matmul) X(transpose) X(reshape) X(slice) X(select) X(concat) X(stack)       \
    X(copy) X(custom)

typedef void (*tg_backward_fn)(tg_ctx *ctx, tg_node *node);

struct tg_node {
    tg_backward_fn backward;
    const char *name;
    int n_in, n_out;
    tg_tensor **in;   /* (n_in) */
    tg_tensor **out;  /* (n_out) */
    tg_real s[4];     /* op scalars (exponent, bounds, ...) */
    int i[8];         /* op integers (axes, offsets, ...) */
    void *saved;      /* op-specific saved data, in the arena */
    const tg_custom_op *custom;
    void *user_data;
};

/* ---------------------------------------------------------------- arena */
typedef struct tg_chunk {
    struct tg_chunk *next;
    size_t size, used;
    unsigned char *mem;     /* 64-byte aligned, inside raw */
    void *raw;              /* what the allocator returned: size + 63 bytes */
} tg_chunk;

/* The arena allocates through its context's allocator (tg__ctx_realloc): ctx is set by
 * tg_ctx_create and never changes. */
typedef struct tg_arena {
    tg_chunk *head, *cur;
    size_t reserved, used_total, peak;
    tg_ctx *ctx;
} tg_arena;

void tg_arena_init(tg_arena *a, tg_ctx *ctx);
void *tg_arena_alloc(tg_arena *a, size_t bytes);
void tg_arena_reset(tg_arena *a);
void tg_arena_free(tg_arena *a);

#include "core/scratch.h"

struct tg_ctx {
    tg_arena arena;
    tg_node **tape;
    size_t tape_len, tape_cap;
    int grad_enabled;
    int status;
    int swept; /* backward already ran on this tape */
    /* The context's allocator (tg_ctx_create_with_allocator); NULL: the process-wide hook
     * (tg_set_allocator) as it is at the time of each call. */
    tg_alloc_fn alloc;
    void *alloc_ud;
    /* Kernel scratch of the ops run on this context (scratch.h): grown to the largest size
     * asked for, kept across tg_ctx_reset, freed with the context. */
    struct { void *p; size_t cap; } scratch[TG__SCRATCH_COUNT];
};

/* Allocation through the context's allocator (Lua-style, as tg_realloc). */
void *tg__ctx_realloc(tg_ctx *ctx, void *p, size_t old_size, size_t new_size);

/* ---------------------------------------------------------------- recording helpers */
/* Sets the sticky status and the message; returns NULL for `return tg__fail(...)`. */
tg_tensor *tg__fail(tg_ctx *ctx, int code, const char *fmt, ...) TG_PRINTF(3, 4);
/* A fresh tensor of the given shape; data uninitialised unless zero != 0. */
tg_tensor *tg__tensor(tg_ctx *ctx, int ndim, const int *shape, int zero);
/* Records a node when gradient mode is on and an input requires a gradient; marks the
 * outputs requires_grad accordingly. Returns the node or NULL (nothing to record). */
tg_node *tg__record(tg_ctx *ctx, const char *name, tg_backward_fn bw, tg_tensor *const *in,
                    int n_in, tg_tensor *const *out, int n_out);
/* The gradient buffer of t, allocated zeroed on first use: for ops that add into only part
 * of it (slices, broadcast sums, conditional routes). */
tg_real *tg__grad(tg_ctx *ctx, tg_tensor *t);
/* Overwrite-on-first-write (the sweep's hot path; a fresh buffer is not zeroed): for an op
 * that writes EVERY element of t's gradient. *first = 1: the buffer is fresh and holds
 * garbage; the op must STORE every element (beta = 0 in a product) before anything else
 * asks for t's gradient. *first = 0: it holds valid data (another consumer's, or a
 * parameter's accumulated gradient); the op must ADD. So t->grad != NULL always means valid
 * data once the op that allocated it has returned. An op whose inputs may be the same
 * tensor twice must either finish storing the first before writing the second (the second
 * call returns *first = 0) or use tg__grad for both. NULL: out of memory. */
tg_real *tg__grad_write(tg_ctx *ctx, tg_tensor *t, int *first);
/* Normalises a possibly negative axis; -1 if out of range. */
/* gemm_stats.c: products check tg__gemm_stats_on and, when set, time themselves */
extern int tg__gemm_stats_on;
void tg__gemm_stats_add(double seconds, double flops);
double tg__gemm_stats_clock(void);
/* tg_custom for the library's own ops: zero_outputs = 0 when the forward writes every
 * element of every output (the layers' outputs are up to hundreds of MB: the memset shows
 * in a δHBV step's profile). */
int tg__custom(tg_ctx *ctx, const tg_custom_op *op, void *user_data, tg_tensor *const *in, int n_in, int n_out,
               const int *out_ndim, const int (*out_shape)[TG_MAX_DIMS], tg_tensor **out, int zero_outputs);
/* The library's own custom ops whose backward writes every element of each input gradient
 * it is given: backward_first gets first[i] = 1 when grad_in[i] is a fresh buffer (garbage)
 * that it must STORE into, 0 when it must ADD (tg__grad_write). An input passed twice gets
 * a zeroed buffer and first = 0 in both slots. base.backward is unused (may be NULL). */
typedef int (*tg__backward_first_fn)(void *user_data, tg_tensor *const *in, int n_in, tg_tensor *const *out,
                                     int n_out, const tg_real *const *grad_out, tg_real *const *grad_in,
                                     const int *first);
typedef struct tg__custom_op {
    tg_custom_op base;
    tg__backward_first_fn backward_first;
} tg__custom_op;
int tg__custom_first(tg_ctx *ctx, const tg__custom_op *op, void *user_data, tg_tensor *const *in, int n_in,
                     int n_out, const int *out_ndim, const int (*out_shape)[TG_MAX_DIMS], tg_tensor **out,
                     int zero_outputs);
int tg__axis(int axis, int ndim);
int tg__same_shape(const tg_tensor *a, const tg_tensor *b);
void tg__shape_str(const tg_tensor *t, char *buf, size_t n);
/* Elementwise loops go parallel above this many elements (below it threads cost more). */
#define TG_PAR_MIN 32768


/* ---------------------------------------------------------------- robust gradient check */
/* The op suite's check (gradcheck.c). An input whose bit is set in linear_mask must enter
 * the loss affinely (other inputs fixed): its reference is exact (one-hot probes of the
 * forward) and judged with rtol_exact. Other inputs use Richardson-extrapolated central
 * differences at h and h/2, judged with rtol plus twice the spread of the two differences.
 * An element passes when |tape - ref| <= rtol * (max(|tape|, |ref|) + floor_frac * S) + 2 est,
 * where S is the largest gradient magnitude of that input. */
typedef struct tg__gradcheck_opts {
    double h, rtol, rtol_exact, floor_frac;
    unsigned linear_mask;
} tg__gradcheck_opts;
typedef struct tg__gradcheck_report {
    double max_abs_err, max_rel_err, max_fd_est;
    double worst_ratio;          /* max over elements of error / allowed (pass: <= 1) */
    int worst_input;
    size_t worst_index;
    double worst_tape, worst_ref;
    size_t checked, failed;
    int exact_inputs;            /* inputs checked against the exact (affine) reference */
} tg__gradcheck_report;
int tg__gradcheck_robust(tg_loss_fn f, void *ud, int n, const int *ndims, const int (*shapes)[TG_MAX_DIMS],
                         tg_real *const *inputs, const tg__gradcheck_opts *opt, tg__gradcheck_report *rep);

#endif
