/* blackbox.c — the black-box model object: construction for the three kinds (C function,
 * dlopen'ed shared library, executable), single runs and parallel batches, and the error
 * messages that name the model, the parameter set and the reason.
 * Why double throughout: legacy models compute in double (Fortran real(8)); the surrogate
 * converts to tg_real only when it builds tensors. */
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "surrogate/surrogate_internal.h"

static const char *const reason_names[TG_BB_NREASON] = {
    "ok", "return", "exit", "signal", "timeout", "malformed", "nonfinite", "system"};

const char *tg_bb_reason_name(int reason)
{
    return reason >= 0 && reason < TG_BB_NREASON ? reason_names[reason] : "unknown";
}

static const char *kind_name(tg_bb_kind k)
{
    return k == TG_BB_FUNCTION ? "function" : k == TG_BB_LIBRARY ? "library" : "exec";
}

double tg__bb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long tg__bb_first_nonfinite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return (long)i;
    return -1;
}

/* ---------------------------------------------------------------- messages */
size_t tg__bb_context(const tg_blackbox *bb, int sample, const double *params, char *buf, size_t size)
{
    size_t n = 0;
#define PUT(...)                                                                   \
    do {                                                                           \
        int k_ = snprintf(buf + n, n < size ? size - n : 0, __VA_ARGS__);          \
        if (k_ > 0) n += (size_t)k_;                                               \
    } while (0)
    if (bb->kind == TG_BB_FUNCTION)
        PUT("blackbox '%s' (function)", bb->name);
    else
        PUT("blackbox '%s' (%s %s)", bb->name, kind_name(bb->kind), bb->path);
    if (sample >= 0)
        PUT(": sample %d", sample);
    if (params) {
        PUT(", params [");
        for (int k = 0; k < bb->np; k++)
            PUT("%s%s=%.6g", k ? ", " : "", bb->pname[k], params[k]);
        PUT("]");
    }
    PUT(": ");
#undef PUT
    return n < size ? n : (size ? size - 1 : 0);
}

int tg__bb_fail(const tg_blackbox *bb, int sample, const double *params, char *msg, size_t msgsize,
                const char *fmt, ...)
{
    char buf[TG_BB_MSG_MAX * 2];
    size_t n = tg__bb_context(bb, sample, params, buf, sizeof buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    if (msg && msgsize) {
        strncpy(msg, buf, msgsize - 1);
        msg[msgsize - 1] = '\0';
    }
    return tg_error_set(TG_EEXTERNAL, "%s", buf);
}

/* ---------------------------------------------------------------- construction */
static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* A config names the program terragrad runs (exec) or loads (dlopen), so anyone who can
 * replace that file can run code as the user. As ssh does for its key files, refuse a
 * black box that others can write, or that lives in a folder others can write without the
 * sticky bit (they could rename a file of their own into its place). `abs` is resolved
 * (realpath), so every folder from it up to / is checked. */
static int bb_path_safe(const char *what, const char *abs)
{
    struct stat st;
    if (stat(abs, &st) != 0)
        return tg_error_set(TG_EIO, "blackbox '%s': %s: cannot stat", what, abs);
    if (!S_ISREG(st.st_mode))
        return tg_error_set(TG_EINVAL, "blackbox '%s': %s is not a regular file", what, abs);
    if (st.st_mode & S_IWOTH)
        return tg_error_set(TG_EINVAL, "blackbox '%s': %s is world-writable (anyone could change the program "
                                       "terragrad runs); chmod o-w it", what, abs);
    char dir[TG_BB_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", abs);
    for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
        if (slash == dir)
            slash[1] = '\0'; /* the root itself */
        else
            *slash = '\0';
        if (stat(dir, &st) != 0)
            return tg_error_set(TG_EIO, "blackbox '%s': folder %s: cannot stat", what, dir);
        if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
            return tg_error_set(TG_EINVAL, "blackbox '%s': %s lives in %s, which is world-writable without the "
                                           "sticky bit (anyone could replace the program); move it or chmod o-w the folder",
                                what, abs, dir);
        if (slash == dir)
            break;
    }
    return 0;
}

static tg_blackbox *bb_new(tg_bb_kind kind, const char *path, const tg_blackbox_options *opt)
{
    if (!opt) {
        tg_error_set(TG_EINVAL, "blackbox: options are required (sizes np, nf, nout)");
        return NULL;
    }
    const char *what = opt->name ? opt->name : path ? path : "function";
    if (opt->np < 1 || opt->nf < 1 || opt->nout < 1 || opt->np > TG_BB_MAX_DIM || opt->nf > TG_BB_MAX_DIM ||
        opt->nout > TG_BB_MAX_DIM) {
        tg_error_set(TG_EINVAL, "blackbox '%s': sizes np=%d nf=%d nout=%d must be in 1..%d", what, opt->np,
                     opt->nf, opt->nout, TG_BB_MAX_DIM);
        return NULL;
    }
    if (opt->timeout < 0 || opt->workers < 0) {
        tg_error_set(TG_EINVAL, "blackbox '%s': timeout (%g) and workers (%d) must be >= 0", what, opt->timeout,
                     opt->workers);
        return NULL;
    }
    tg_blackbox *bb = tg_calloc(1, sizeof *bb);
    if (!bb || !(bb->pname = tg_calloc((size_t)opt->np, sizeof *bb->pname))) {
        if (bb)
            tg_free(bb, sizeof *bb);
        tg_error_set(TG_ENOMEM, "blackbox '%s': out of memory", what);
        return NULL;
    }
    bb->kind = kind;
    bb->np = opt->np;
    bb->nf = opt->nf;
    bb->nout = opt->nout;
    bb->timeout = opt->timeout > 0 ? opt->timeout : 60.0;
    bb->workers = opt->workers > 0 ? opt->workers : online_cpus();
    bb->serial = opt->serial != 0;
    bb->keep_failed = opt->keep_failed != 0;
    for (int k = 0; k < opt->np; k++) {
        if (opt->param_names && opt->param_names[k])
            snprintf(bb->pname[k], sizeof bb->pname[k], "%s", opt->param_names[k]);
        else
            snprintf(bb->pname[k], sizeof bb->pname[k], "p%d", k);
    }
    if (path) {
        /* Absolute path: the exec kind runs inside a temp dir, and messages should say
         * exactly which file was used. */
        char *abs = realpath(path, NULL);
        if (!abs) {
            tg_error_set(TG_EIO, "blackbox '%s': %s: no such file", what, path);
            tg_blackbox_free(&bb);
            return NULL;
        }
        snprintf(bb->path, sizeof bb->path, "%s", abs);
        free(abs);
        if (bb_path_safe(what, bb->path)) {
            tg_blackbox_free(&bb);
            return NULL;
        }
    }
    snprintf(bb->name, sizeof bb->name, "%s", opt->name ? opt->name : path ? base_name(path) : "function");
    const char *wd = opt->workdir ? opt->workdir : getenv("TMPDIR");
    snprintf(bb->workdir, sizeof bb->workdir, "%s", wd && *wd ? wd : "/tmp");
    return bb;
}

tg_blackbox *tg_blackbox_function(tg_blackbox_fn fn, void *ud, const tg_blackbox_options *opt)
{
    if (!fn) {
        tg_error_set(TG_EINVAL, "blackbox: the function is NULL");
        return NULL;
    }
    tg_blackbox *bb = bb_new(TG_BB_FUNCTION, NULL, opt);
    if (bb) {
        bb->fn = fn;
        bb->ud = ud;
    }
    return bb;
}

tg_blackbox *tg_blackbox_library(const char *path, const tg_blackbox_options *opt)
{
    if (!path) {
        tg_error_set(TG_EINVAL, "blackbox: library path is NULL");
        return NULL;
    }
    tg_blackbox *bb = bb_new(TG_BB_LIBRARY, path, opt);
    if (!bb)
        return NULL;
    /* RTLD_LOCAL: two models exporting the same tg_model_run symbol do not clash. */
    bb->dl = dlopen(bb->path, RTLD_NOW | RTLD_LOCAL);
    if (!bb->dl) {
        const char *e = dlerror();
        tg_error_set(TG_EIO, "blackbox '%s': cannot load library %s: %s", bb->name, bb->path, e ? e : "?");
        tg_blackbox_free(&bb);
        return NULL;
    }
    const char *sym = opt->symbol ? opt->symbol : TG_BB_RUN_SYMBOL;
    dlerror();
    void *p = dlsym(bb->dl, sym);
    if (!p) {
        tg_error_set(TG_EINVAL, "blackbox '%s': library %s has no symbol '%s' (the run function, see "
                                "terragrad/surrogate.h for its C ABI)",
                     bb->name, bb->path, sym);
        tg_blackbox_free(&bb);
        return NULL;
    }
    /* POSIX guarantees object and function pointers convert through dlsym; memcpy keeps
     * -Wpedantic quiet about the cast. */
    memcpy(&bb->run, &p, sizeof p);
    return bb;
}

tg_blackbox *tg_blackbox_exec(const char *path, const tg_blackbox_options *opt)
{
    if (!path) {
        tg_error_set(TG_EINVAL, "blackbox: executable path is NULL");
        return NULL;
    }
    tg_blackbox *bb = bb_new(TG_BB_EXEC, path, opt);
    if (!bb)
        return NULL;
    if (access(bb->path, X_OK) != 0) {
        tg_error_set(TG_EIO, "blackbox '%s': %s is not executable", bb->name, bb->path);
        tg_blackbox_free(&bb);
        return NULL;
    }
    if (access(bb->workdir, W_OK) != 0) {
        tg_error_set(TG_EIO, "blackbox '%s': work directory %s is not writable", bb->name, bb->workdir);
        tg_blackbox_free(&bb);
        return NULL;
    }
    return bb;
}

void tg_blackbox_free(tg_blackbox **pbb)
{
    if (!pbb || !*pbb)
        return;
    tg_blackbox *bb = *pbb;
    if (bb->dl)
        dlclose(bb->dl);
    if (bb->pname)
        tg_free(bb->pname, (size_t)bb->np * sizeof *bb->pname);
    tg_free(bb, sizeof *bb);
    *pbb = NULL;
}

const char *tg_blackbox_name(const tg_blackbox *bb) { return bb->name; }
const char *tg_blackbox_path(const tg_blackbox *bb) { return bb->path; }
tg_bb_kind tg_blackbox_kind(const tg_blackbox *bb) { return bb->kind; }
void tg_blackbox_dims(const tg_blackbox *bb, int *np, int *nf, int *nout)
{
    if (np) *np = bb->np;
    if (nf) *nf = bb->nf;
    if (nout) *nout = bb->nout;
}

/* ---------------------------------------------------------------- in-process runs */
static void fill_nan(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

/* One function/library run; out is NaN-prefilled so a model that "succeeds" without
 * writing every value is caught as non-finite. */
static int run_inprocess(tg_blackbox *bb, int sample, int T, const double *forcing, const double *params,
                         double *out, int *reason, char *msg, size_t msgsize)
{
    const size_t n = (size_t)T * (size_t)bb->nout;
    fill_nan(out, n);
    int rc = bb->kind == TG_BB_FUNCTION ? bb->fn(bb->ud, T, bb->nf, forcing, bb->np, params, bb->nout, out)
                                        : bb->run(T, bb->nf, forcing, bb->np, params, bb->nout, out);
    if (rc != 0) {
        fill_nan(out, n);
        *reason = TG_BB_RETURN;
        return tg__bb_fail(bb, sample, params, msg, msgsize, "the model returned error code %d", rc);
    }
    long bad = tg__bb_first_nonfinite(out, n);
    if (bad >= 0) {
        double v = out[bad];
        fill_nan(out, n);
        *reason = TG_BB_NONFINITE;
        return tg__bb_fail(bb, sample, params, msg, msgsize, "non-finite output %g at day %ld, output %ld", v,
                           bad / bb->nout, bad % bb->nout);
    }
    *reason = TG_BB_OK;
    return 0;
}

static int check_args(const tg_blackbox *bb, int N, int T, const void *forcing, const void *params,
                      const void *out)
{
    if (!bb)
        return tg_error_set(TG_EINVAL, "blackbox: NULL model");
    if (N < 0 || T < 1 || !forcing || !params || !out)
        return tg_error_set(TG_EINVAL, "blackbox '%s': bad arguments (N=%d, T=%d, NULL arrays?)", bb->name, N, T);
    return 0;
}

int tg_blackbox_run(tg_blackbox *bb, int T, const double *forcing, const double *params, double *out,
                    int *reason)
{
    int why = TG_BB_SYSTEM, rc = check_args(bb, 1, T, forcing, params, out);
    if (rc) {
        if (reason) *reason = TG_BB_SYSTEM;
        return rc;
    }
    if (bb->kind == TG_BB_EXEC) {
        int nf = 0;
        char msg[1][TG_BB_MSG_MAX];
        rc = tg__bb_exec_batch(bb, 1, T, forcing, 0, params, out, &why, msg, &nf, 1);
        if (!rc && nf)
            rc = tg_error_set(TG_EEXTERNAL, "%s", msg[0]);
    } else {
        rc = run_inprocess(bb, -1, T, forcing, params, out, &why, NULL, 0);
    }
    if (reason)
        *reason = why;
    return rc;
}

int tg_blackbox_run_batch(tg_blackbox *bb, int N, int T, const double *forcing, size_t forcing_stride,
                          const double *params, double *out, int *reason, char (*message)[TG_BB_MSG_MAX],
                          int *n_failed)
{
    int rc = check_args(bb, N, T, forcing, params, out);
    if (rc)
        return rc;
    if (n_failed)
        *n_failed = 0;
    if (N == 0)
        return 0;
    int *why = reason ? reason : tg_calloc((size_t)N, sizeof *why);
    /* Messages are kept even when the caller wants none: the first one becomes the
     * batch's error message. */
    char(*msg)[TG_BB_MSG_MAX] = message ? message : tg_calloc((size_t)N, sizeof *msg);
    if (!why || !msg) {
        if (!reason) tg_free(why, (size_t)N * sizeof *why);
        if (!message) tg_free(msg, (size_t)N * sizeof *msg);
        return tg_error_set(TG_ENOMEM, "blackbox '%s': out of memory for %d samples", bb->name, N);
    }
    const size_t tn = (size_t)T * (size_t)bb->nout;
    int failed = 0;
    if (bb->kind == TG_BB_EXEC) {
        rc = tg__bb_exec_batch(bb, N, T, forcing, forcing_stride, params, out, why, msg, &failed, 0);
    } else {
        const int workers = bb->serial ? 1 : bb->workers;
        /* Each sample is independent and writes only its own slice: the result does not
         * depend on the number of threads or the schedule. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(workers) reduction(+ : failed)
        for (int i = 0; i < N; i++) {
            msg[i][0] = '\0';
            if (run_inprocess(bb, i, T, forcing + (size_t)i * forcing_stride, params + (size_t)i * (size_t)bb->np,
                              out + (size_t)i * tn, &why[i], msg[i], TG_BB_MSG_MAX))
                failed++;
        }
    }
    if (!rc && failed) {
        /* The worker threads' messages are thread-local: rebuild the first one here. */
        int first = 0;
        while (first < N && why[first] == TG_BB_OK)
            first++;
        tg_error_set(TG_EEXTERNAL, "%d of %d samples failed; first: %s", failed, N, msg[first]);
    }
    if (!reason)
        tg_free(why, (size_t)N * sizeof *why);
    if (!message)
        tg_free(msg, (size_t)N * sizeof *msg);
    if (n_failed)
        *n_failed = failed;
    return rc;
}

int tg_blackbox_resolve_path(const char *key, const char *kind, const char *given, char *buf, size_t size)
{
    if (strcmp(given, "auto")) {
        snprintf(buf, size, "%s", given);
        return 0;
    }
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return tg_error_set(TG_EIO, "%s auto: cannot find the running binary", key);
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(buf, size, "%s/fortran/%s", exe, !strcmp(kind, "library") ? "libtg_bucket.so" : "bucket_model");
    if (access(buf, F_OK))
        return tg_error_set(TG_EIO, "%s auto: %s not found (built by cmake/fortran.cmake)", key, buf);
    return 0;
}
