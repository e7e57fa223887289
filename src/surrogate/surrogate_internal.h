/* surrogate_internal.h — shared between the black-box files and the surrogate files of
 * src/surrogate (not public API). */
#ifndef TG_SURROGATE_INTERNAL_H
#define TG_SURROGATE_INTERNAL_H

#include <stddef.h>

#include "terragrad.h"
#include "terragrad/surrogate.h"

#define TG_BB_PATH_MAX 4096

struct tg_blackbox {
    tg_bb_kind kind;
    char name[128];
    char path[TG_BB_PATH_MAX];      /* library / executable, absolute */
    int np, nf, nout;
    char (*pname)[TG_NAME_MAX];     /* (np) parameter names for messages */
    double timeout;                 /* exec: seconds */
    int workers;                    /* > 0 after construction */
    int serial;
    int keep_failed;
    char workdir[TG_BB_PATH_MAX];   /* exec: parent of temp dirs */
    tg_blackbox_fn fn;              /* function kind */
    void *ud;
    void *dl;                       /* library kind: dlopen handle */
    tg_model_run_fn run;            /* library kind: the run symbol */
};

/* Formats "blackbox 'NAME' (KIND PATH): sample I, params [a=1, b=2]: " into buf (sample < 0
 * leaves the sample out). Returns the number of characters written. */
size_t tg__bb_context(const tg_blackbox *bb, int sample, const double *params, char *buf, size_t size);
/* Sets TG_EEXTERNAL with the context and a reason text; copies the message into msg (if
 * not NULL). Returns TG_EEXTERNAL. */
int tg__bb_fail(const tg_blackbox *bb, int sample, const double *params, char *msg, size_t msgsize,
                const char *fmt, ...) TG_PRINTF(6, 7);
/* Index of the first non-finite value of x (n), or -1. */
long tg__bb_first_nonfinite(const double *x, size_t n);
/* The exec kind's batch: a pool of up to bb->workers child processes. Same contract as
 * tg_blackbox_run_batch; single = 1 leaves the sample index out of messages. */
int tg__bb_exec_batch(tg_blackbox *bb, int N, int T, const double *forcing, size_t stride,
                      const double *params, double *out, int *reason, char (*message)[TG_BB_MSG_MAX],
                      int *n_failed, int single);
/* Monotonic wall clock, seconds. */
double tg__bb_now(void);

/* tg_blackbox_resolve_path and tg_surrogate_train_eval (defined in src/train/model_surrogate.c)
 * are public: terragrad/surrogate.h. */

#endif
