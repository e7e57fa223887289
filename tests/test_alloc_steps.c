/* test_alloc_steps.c — the allocation contract of docs/autodiff.md: after the first step a
 * training loop allocates nothing.
 *
 * Ten training steps of (a) a δHBV model (LSTM -> head -> HBV op -> routing -> NSE loss ->
 * Adam) and (b) an LSTM model, on three real CAMELS basins, through the functions
 * `terragrad train` uses (tg_dataset_load, tg_model_build / tg_model_forward, tg_loss_parts /
 * tg_loss_combine, tg_backward, tg_clip_grad_norm, tg_optim_step, tg_ctx_reset — the loop
 * of src/train/trainer.c on one rank). A counting allocator installed with tg_set_allocator
 * sees every allocation of the library; the test asserts:
 *   - steps 2..10 make 0 allocations through the hook (the documented number);
 *   - steps 2..10 make 0 raw malloc/calloc/realloc calls from library code either (this
 *     executable links with --wrap=malloc,calloc,realloc, tests/CMakeLists.txt, so a
 *     library call that bypasses the hook is counted too);
 *   - step 1 does allocate through the hook (the counter works);
 *   - at the end of a run, with everything freed, allocations == frees through the hook
 *     and the bytes balance (the hook sees the whole life of every block it hands out);
 *   - a context made with tg_ctx_create_with_allocator allocates its arena, tape and
 *     scratch through its own allocator, not the process-wide one.
 * Mutation: a tg_malloc/tg_free pair per call in the HBV forward (instead of its context
 * scratch) makes steps 2..10 allocate once each and fails (a). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/train_internal.h"

/* ---------------------------------------------------------------- counting allocator */
typedef struct counter {
    long allocs, frees, reallocs;
    long long bytes;          /* currently held */
    size_t largest;           /* largest single block asked for */
} counter;

/* the real allocator behind both counters and the --wrap'ed symbols */
void *__real_malloc(size_t n);
void *__real_calloc(size_t c, size_t n);
void *__real_realloc(void *p, size_t n);

/* The hook is called from several threads at once (the dataset loads basins in an OpenMP
 * loop): the counts are updated under a lock, or lost updates make allocs != frees. */
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void *count_alloc(void *ud, void *p, size_t old, size_t n)
{
    counter *c = ud;
    if (n == 0) {
        if (p) {
            pthread_mutex_lock(&count_lock);
            c->frees++;
            c->bytes -= (long long)old;
            pthread_mutex_unlock(&count_lock);
        }
        free(p);
        return NULL;
    }
    void *q = __real_realloc(p, n);
    if (!q)
        return NULL;
    pthread_mutex_lock(&count_lock);
    if (p)
        c->reallocs++;
    else
        c->allocs++;
    c->bytes += (long long)n - (long long)(p ? old : 0);
    if (n > c->largest)
        c->largest = n;
    pthread_mutex_unlock(&count_lock);
    return q;
}

/* raw calls from anything linked statically (the library, this test): counted only while
 * `raw_on` is set, i.e. inside the measured steps, where the test itself allocates nothing */
static long raw_calls;
static int raw_on;
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t c, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
    raw_calls += raw_on;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t c, size_t n)
{
    raw_calls += raw_on;
    return __real_calloc(c, n);
}
void *__wrap_realloc(void *p, size_t n)
{
    raw_calls += raw_on;
    return __real_realloc(p, n);
}

/* ---------------------------------------------------------------- one training run */
static const char *config_text(const char *type, char *buf, size_t n)
{
    char data[1024], attrs[1024]; /* tg_test_data returns one static buffer */
    snprintf(data, sizeof data, "%s", tg_test_data("caravan_camels_us"));
    snprintf(attrs, sizeof attrs, "%s", tg_test_data("camels_us/camels_attributes_v2.0"));
    snprintf(buf, n,
             "seed: 5\n"
             "data:\n"
             "  source: caravan\n"
             "  path: %s\n"
             "  basins: ['01022500', '01031500', '01047000']\n"
             "  attributes: %s\n"
             "  attribute_names: [p_mean, pet_mean, aridity, frac_snow]\n"
             "periods:\n  train_start: 1981-01-01\n  train_end: 1985-12-31\n"
             "  test_start: 1991-01-01\n  test_end: 1992-12-31\n"
             "inputs:\n  dynamic: [P, T, PET]\n"
             "model:\n  type: %s\n  hidden: 16\n"
             "loss:\n  type: nse\n"
             "optim:\n  type: adam\n  lr: 0.01\n  clip: 1.0\n"
             "training:\n  iterations: 10\n  batch: 4\n  warmup: 60\n  horizon: 60\n"
             "hbv:\n  components: 2\n  dynamic: [BETA]\n  routing: true\n",
             data, attrs, type);
    return buf;
}

typedef struct run_counts {
    long step1_allocs;        /* through the hook in step 1 */
    long later_allocs;        /* through the hook in steps 2..10 (allocs + reallocs) */
    long later_raw;           /* raw malloc/calloc/realloc calls in steps 2..10 */
    double first_loss, last_loss;
} run_counts;

/* The trainer's loop for `steps` iterations on one rank. ctx_alloc: the context's own
 * allocator (NULL: the process-wide hook). */
static int train_steps(const char *type, counter *hook, counter *ctx_counter, int steps, run_counts *rc_out)
{
    char text[4096], dir[] = "/tmp/tg_alloc_steps_XXXXXX";
    if (!mkdtemp(dir))
        return tg_error_set(TG_EIO, "mkdtemp failed");
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    tg_cfg *cfg = tg_cfg_parse_string(config_text(type, text, sizeof text), "alloc_steps.yaml", schema, n_schema);
    if (!cfg)
        return tg_error_code();
    tg_runlog rl = {0};
    tg_dataset d;
    memset(&d, 0, sizeof d);
    tg_model m = {0};
    tg_params *ps = tg_params_create();
    tg_optim *op = NULL;
    tg_ctx *ctx = ctx_counter ? tg_ctx_create_with_allocator(count_alloc, ctx_counter) : tg_ctx_create();
    tg_sampler smp;
    memset(&smp, 0, sizeof smp);
    tg_rng rng;
    tg_rng_seed(&rng, 5);
    int rc = !ps || !ctx ? TG_ENOMEM : 0;
    if (!rc)
        rc = tg_dataset_load(&d, cfg, dir, 1, &rl);
    if (!rc)
        rc = tg_model_build(&m, cfg, &d, ps);
    if (!rc)
        rc = tg_model_init_weights(&m, ps, &rng, cfg);
    tg_optim_config oc = {.kind = TG_OPTIM_ADAM, .lr = 0.01};
    if (!rc && !(op = tg_optim_create(&oc, ps)))
        rc = tg_error_code();
    const int warm = 60, hor = 60, L = warm + hor, nb = 4, loss_type = tg_loss_parse("nse");
    if (!rc)
        rc = tg_sampler_init(&smp, d.raw, d.B, d.vars, d.F, TG_VAR_Q, tg_cfg_date(cfg, "periods.train_start"),
                             tg_cfg_date(cfg, "periods.train_end"), warm, hor, 11);
    const size_t in = (size_t)(d.F + d.S);
    tg_real *x = calloc((size_t)L * nb * (in ? in : 1), sizeof *x), *forc = calloc((size_t)L * nb * 3, sizeof *forc);
    tg_real *obs = calloc((size_t)L * nb, sizeof *obs);
    int bi[4], off[4];
    double bstd[4];
    if (!rc && (!x || !forc || !obs))
        rc = TG_ENOMEM;
    for (int step = 1; step <= steps && !rc; step++) {
        const counter before = *hook;
        const counter cbefore = ctx_counter ? *ctx_counter : (counter){0};
        const long raw_before = raw_calls;
        raw_on = 1;
        int got = tg_sampler_next(&smp, nb, bi, off);
        if (got < nb)
            got += tg_sampler_next(&smp, nb - got, bi + got, off + got);
        for (int k = 0; k < got; k++)
            bstd[k] = d.q_std[bi[k]];
        tg_batch_gather(d.norm, bi, off, got, L, d.vars, d.F, d.statics, d.S, x);
        int qv = TG_VAR_Q, fv[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
        tg_batch_gather(d.raw, bi, off, got, L, &qv, 1, NULL, 0, obs);
        tg_batch_gather(d.raw, bi, off, got, L, fv, 3, NULL, 0, forc);
        size_t count = tg_loss_count(obs + (size_t)(L - hor) * got, (size_t)hor * got);
        tg_model_out mo;
        tg_tensor *St[2] = {NULL, NULL};
        double S[3] = {0, 0, 0}, cf[2];
        rc = tg_model_forward(&m, ctx, ps, x, forc, L, got, 1, &rng, &mo);
        tg_tensor *q = rc ? NULL : tg_slice(ctx, mo.q, 0, mo.q->shape[0] - hor, hor);
        if (!rc)
            rc = tg_loss_parts(ctx, loss_type, q, obs + (size_t)(L - hor) * got, bstd, count, St);
        if (!rc) {
            for (int i = 0; i < 2; i++)
                S[i] = St[i] ? (double)St[i]->data[0] : 0;
            double lv = tg_loss_combine(loss_type, S, 0, cf);
            if (step == 1)
                rc_out->first_loss = lv;
            rc_out->last_loss = lv;
            tg_tensor *lin = tg_muls(ctx, St[0], (tg_real)cf[0]);
            if (St[1])
                lin = tg_add(ctx, lin, tg_muls(ctx, St[1], (tg_real)cf[1]));
            rc = lin ? tg_backward(ctx, lin) : tg_ctx_status(ctx);
        }
        if (!rc) {
            tg_clip_grad_norm(ps, 1.0);
            rc = tg_optim_step(op, ps);
        }
        tg_ctx_reset(ctx);
        raw_on = 0;
        const long made = hook->allocs - before.allocs + hook->reallocs - before.reallocs +
                          (ctx_counter ? ctx_counter->allocs - cbefore.allocs + ctx_counter->reallocs - cbefore.reallocs
                                       : 0);
        if (step == 1)
            rc_out->step1_allocs = made;
        else {
            rc_out->later_allocs += made;
            rc_out->later_raw += raw_calls - raw_before;
            if (made)
                fprintf(stderr, "  %s step %d: %ld allocations through the hook\n", type, step, made);
        }
    }
    free(x);
    free(forc);
    free(obs);
    tg_sampler_free(&smp);
    tg_optim_free(&op);
    tg_model_free(&m);
    tg_ctx_free(&ctx);
    tg_params_free(&ps);
    if (d.raw || d.B)
        tg_dataset_free(&d);
    tg_cfg_free(&cfg);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}

static void check_run(const char *type, counter *ctx_counter)
{
    counter hook = {0};
    run_counts r = {0};
    tg_set_allocator(count_alloc, &hook);
    int rc = train_steps(type, &hook, ctx_counter, 10, &r);
    tg_set_allocator(NULL, NULL);
    CHECK(rc == 0, "%s: training failed: %s", type, tg_error_message());
    printf("%s%s: step 1 %ld allocations; steps 2..10: %ld through the hook, %ld raw; run: %ld allocs, %ld frees, "
           "%lld bytes left; loss %.4f -> %.4f\n", type, ctx_counter ? " (own context allocator)" : "",
           r.step1_allocs, r.later_allocs, r.later_raw, hook.allocs, hook.frees, hook.bytes, r.first_loss,
           r.last_loss);
    CHECK(r.step1_allocs > 0, "%s: step 1 allocated nothing through the hook: the counter does not see the library",
          type);
    CHECK(r.later_allocs == 0, "%s: steps 2..10 allocated %ld times through the hook (documented: 0)", type,
          r.later_allocs);
    CHECK(r.later_raw == 0, "%s: steps 2..10 made %ld raw malloc/calloc/realloc calls from the library", type,
          r.later_raw);
    CHECK(hook.allocs == hook.frees, "%s: %ld allocations but %ld frees through the hook", type, hook.allocs,
          hook.frees);
    CHECK(hook.bytes == 0, "%s: %lld bytes allocated through the hook were not freed through it", type, hook.bytes);
    CHECK(r.first_loss == r.first_loss && r.last_loss == r.last_loss, "%s: loss not finite", type);
}

int main(void)
{
    check_run("dhbv", NULL);
    check_run("lstm", NULL);
    /* a context with its own allocator: its arena (chunks of >= 1 MiB), tape and scratch go
     * there; everything else (parameters, optimizer, data) through the process-wide hook */
    counter own = {0};
    check_run("dhbv", &own);
    printf("dhbv context allocator: %ld allocs, %ld frees, largest block %zu bytes\n", own.allocs, own.frees,
           own.largest);
    CHECK(own.allocs > 0 && own.largest >= ((size_t)1 << 20), "the context's allocator did not get the arena");
    CHECK(own.allocs == own.frees && own.bytes == 0, "context allocator: %ld allocs, %ld frees, %lld bytes left",
          own.allocs, own.frees, own.bytes);
    return tg_test_summary();
}
