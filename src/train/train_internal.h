/* train_internal.h — the pieces of `terragrad train/test`: dataset, model, loss, trainer,
 * evaluation, run directory. */
#ifndef TG_TRAIN_INTERNAL_H
#define TG_TRAIN_INTERNAL_H

#include <stdio.h>

#include "terragrad.h"

extern const tg_cfg_key tg_train_schema[];
extern const int tg_train_schema_len;
/* The full schema: the base keys above plus the keys of every registered model kind and
 * loss extension (see tg_model_kind, tg_loss_extension). Built once, never freed. */
const tg_cfg_key *tg_train_schema_all(int *n);
/* <run_dir>/config.yaml loaded with the full schema; path (path_size bytes) receives the
 * file name for messages. NULL with the error set. */
tg_cfg *tg_train_load_run_config(const char *run_dir, char *path, size_t path_size);
/* The days of periods.<period>_start/_end (test, valid, train): TG_EINVAL naming the
 * config file and both keys when either is missing or they are out of order. */
int tg_train_period(const tg_cfg *cfg, const char *path, const char *period, int *first, int *last);

/* ---------------------------------------------------------------- run directory + log */
typedef struct tg_runlog {
    FILE *log;          /* <run>/train.log (or test.log) */
    int tty;            /* stderr is a terminal: progress line with \r */
} tg_runlog;
int tg_runlog_open(tg_runlog *rl, const char *dir, const char *name);
void tg_runlog_close(tg_runlog *rl);
/* A line to stdout and the log file. */
void tg_runlog_printf(tg_runlog *rl, const char *fmt, ...) TG_PRINTF(2, 3);
/* Into the log file only: errors, which the command line prints itself (once, on stderr). */
void tg_runlog_file(tg_runlog *rl, const char *fmt, ...) TG_PRINTF(2, 3);
/* Progress (epoch, iteration, loss, it/s, ETA): rewritten in place on a terminal,
 * a plain line every `every` iterations otherwise. */
void tg_runlog_progress(tg_runlog *rl, int epoch, int epochs, int it, int iters, double loss, double elapsed,
                        double total_done_frac);
int tg_mkdir_p(const char *path);
/* Copies a file via temp file + rename. */
int tg_copy_file(const char *src, const char *dst);

/* ---------------------------------------------------------------- dataset */
#define TG_MAX_INPUTS 16
typedef struct tg_dataset {
    int B;
    tg_basin *raw;          /* (B) physical units */
    tg_basin *norm;         /* (B) normalised inputs (same day axes as raw) */
    int F;                  /* dynamic inputs */
    int vars[TG_MAX_INPUTS];/* their TG_VAR_* */
    int S;                  /* static attributes */
    char (*static_names)[TG_NAME_MAX];
    tg_real *statics;       /* (B, S) normalised */
    double *q_std;          /* (B) std of observed Q in the training period (NSE* weights) */
    double q_mean_all, q_std_all; /* over all basins: LSTM output scaling */
    tg_norm nm;
} tg_dataset;
/* Reads basins, attributes, fits (fit = 1; saves to <dir>/normalisation.txt) or loads
 * (fit = 0) the normalisation, and normalises inputs. */
int tg_dataset_load(tg_dataset *d, const tg_cfg *cfg, const char *run_dir, int fit, tg_runlog *rl);
void tg_dataset_free(tg_dataset *d);
/* Basin ids of the config (list, file, or everything in the folder). */
int tg_dataset_basin_ids(const tg_cfg *cfg, tg_basin_list *ids);

/* ---------------------------------------------------------------- model */
/* Every model is  normalised inputs -> LSTM -> linear head  and then either streamflow
 * directly (model.type = lstm) or a PROCESS MODEL driven by the head's outputs. Each
 * process model is a tg_model_kind in its own file (model_dhbv.c, ...), registered in
 * model.c's table (weak symbols: a kind whose file is absent is skipped). */
typedef struct tg_model tg_model;
typedef struct tg_model_out {
    tg_tensor *q;           /* (Lp, nb) streamflow, mm/day */
    tg_tensor *fluxes;      /* (Lp, TG_HBV_NOUT, nb) HBV-style outputs, or NULL */
    tg_tensor *par_static;  /* (NPARAM, nb*M) or NULL */
    tg_tensor *routing;     /* (2, nb): a, theta, or NULL */
    tg_tensor *penalty;     /* scalar physics-guided penalty already weighted, or NULL */
    int skip;               /* the first `skip` days of the window have no prediction */
} tg_model_out;
typedef struct tg_model_kind {
    const char *name;       /* the model.type value */
    /* Reads the kind's config keys (m->in, m->hidden are set; may register extra
     * parameters in ps); sets *n_out = network outputs per day the kind consumes. */
    int (*build)(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps, int *n_out);
    /* Optional: initialises extra parameters the kind registered (after the LSTM/head). */
    int (*init_weights)(const tg_model *m, tg_params *ps, tg_rng *rng, const tg_cfg *cfg);
    /* y (L, nb, n_out) raw head outputs — or, when takes_hidden is set, the LSTM's hidden
     * states (L, nb, hidden), so the kind evaluates only the head outputs it uses (a δHBV
     * needs its static columns on one day only); forcing (L, nb, 3) raw P, T, PET. */
    int (*forward)(const tg_model *m, tg_ctx *ctx, tg_params *ps, tg_tensor *y, tg_tensor *forcing, int L, int nb,
                   int train, tg_model_out *out);
    void (*free)(tg_model *m);  /* optional: releases m->impl */
    /* Optional: runs after `terragrad test` wrote its outputs (e.g. scores the learned
     * parameters with the real black-box model a surrogate stands for). Root rank only. */
    int (*after_test)(const char *run_dir, const char *period);
    int takes_hidden;       /* forward gets the LSTM's hidden states instead of y */
    const tg_cfg_key *keys; /* the kind's own config keys (may be NULL) */
    int n_keys;
} tg_model_kind;
struct tg_model {
    const tg_model_kind *kind; /* NULL: plain LSTM */
    int in;                 /* F + S */
    int hidden;
    double dropout;
    tg_lstm_layer lstm;
    tg_linear_layer head;
    /* dHBV (model_dhbv.c) */
    tg_hbv_config hbv;      /* T, B filled per call */
    int M, n_out_params, routing, hbv_warmup;
    double q_mean, q_std;   /* LSTM output scaling: q = mean + std * y */
    void *impl;             /* a kind's own state */
};
/* The kind named `name`, or NULL (lstm or unknown). */
const tg_model_kind *tg_model_kind_find(const char *name);
/* "lstm|dhbv|..." of the registered kinds, for messages. */
const char *tg_model_kind_names(void);
int tg_model_build(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps);
int tg_model_init_weights(const tg_model *m, tg_params *ps, tg_rng *rng, const tg_cfg *cfg);
void tg_model_free(tg_model *m);
/* Batch in, streamflow out. x (L, nb, F+S) normalised; forcing (L, nb, 3) raw P,T,PET.
 * The prediction covers the last L - out->skip days of the window (process models use
 * their own warm-up). */
int tg_model_forward(const tg_model *m, tg_ctx *ctx, tg_params *ps, const tg_real *x, const tg_real *forcing,
                     int L, int nb, int train, tg_rng *rng, tg_model_out *out);
/* Helpers for HBV-based kinds (model_dhbv.c): read the hbv.* keys into m; turn head outputs
 * (kinds with takes_hidden: LSTM hidden states h (L, nb, hidden)) into scaled static
 * (NP, nb, M) and dynamic (L-W, ndyn, nb, M) parameters (+ the last day's sigmoid outputs,
 * which carry the routing parameters); route fluxes' Q into out. */
int tg_model_dhbv_read_config(tg_model *m, const tg_cfg *cfg);
int tg_model_dhbv_params(const tg_model *m, tg_ctx *ctx, tg_params *ps, tg_tensor *h, int L, int nb,
                         tg_tensor **par_static, tg_tensor **par_dyn, tg_tensor **last);
int tg_model_dhbv_route(const tg_model *m, tg_ctx *ctx, tg_tensor *last, tg_tensor *fluxes, tg_model_out *out);

/* Loss extensions (physics-guided penalties etc.): config keys merged into the schema. */
typedef struct tg_loss_extension {
    const char *name;
    const tg_cfg_key *keys;
    int n_keys;
} tg_loss_extension;

/* ---------------------------------------------------------------- loss */
enum { TG_LOSS_NSE = 0, TG_LOSS_MSE, TG_LOSS_RMSE, TG_LOSS_RMSE_COMB, TG_LOSS_KGE };
int tg_loss_parse(const char *name);
/* Masked losses as L = f(S1, S2), with S_i sums over windows (so ranks can share a
 * batch): tg_loss_parts gives this rank's S_i as scalar tensors (S[1] NULL unless
 * rmse_comb), weighting each valid observation by 1/count (count = valid observations in
 * the GLOBAL batch) and, for NSE*, by 1/(basin std + 0.1)^2. For kge, S1 is the sum over
 * windows of (observed days / count) * (1 - KGE of the window's horizon). tg_loss_combine
 * returns f(S) for the global S and c_i = df/dS_i. */
size_t tg_loss_count(const tg_real *obs, size_t n);
int tg_loss_parts(tg_ctx *ctx, int type, tg_tensor *q, const tg_real *obs, const double *basin_std, size_t count,
                  tg_tensor **S);
double tg_loss_combine(int type, const double *S, double log_weight, double *c);

/* ---------------------------------------------------------------- run state (runstate.c) */
/* The fingerprint of a run (config keys, basin list, data hashes; computed once) and the
 * run state text saved in last.ckpt (sampler position + fingerprint); both malloc'ed. */
int tg_runstate_fingerprint(const tg_cfg *cfg, const tg_dataset *d, char **fp);
int tg_runstate_format(const char *fp, const tg_sampler *s, uint64_t sampler_seed, char **text, size_t *len);
/* Resume checks against a saved run state, each naming what changed: config keys (before
 * loading data), basin list and training data, then the sampler is brought to its saved
 * position. */
int tg_runstate_check_config(const char *text, const char *ckpt, const tg_cfg *cfg);
int tg_runstate_check_data(const char *text, const char *ckpt, const tg_cfg *cfg, const tg_dataset *d);
int tg_runstate_restore_sampler(const char *text, const char *ckpt, tg_sampler *s, uint64_t sampler_seed);

/* ---------------------------------------------------------------- run folders (runfolder.c) */
/* A run folder is a unit of work: one process writes it at a time. tg_run_lock creates the
 * folder (and parents), takes flock(LOCK_EX) on DIR/.lock and writes the holder's pid, host
 * and command into it; a second process gets TG_EIO naming the holder. The
 * lock is released by tg_run_unlock or when the process ends (also by SIGKILL). */
typedef struct tg_run_lock {
    int fd;                 /* -1: not held */
} tg_run_lock;
int tg_run_lock_acquire(tg_run_lock *lk, const char *dir, const char *command);
void tg_run_lock_release(tg_run_lock *lk);
/* 1 if dir holds outputs of `terragrad train` (config.yaml, last.ckpt, loss.csv, ...). */
int tg_run_has_training(const char *dir);
/* Removes what terragrad train/test/plot write in dir (nothing else): --overwrite. */
int tg_run_remove_outputs(const char *dir);
/* Checks that dir exists or can be created and that a file can be written in it. */
int tg_out_dir_prepare(const char *dir);
/* Records in DIR/<name> which checkpoint outputs came from (checksum, epoch); checks such
 * a record against the current checkpoint (TG_EINVAL naming both when they differ). */
int tg_run_provenance_write(const char *dir, const char *name, const char *ckpt);
int tg_run_provenance_check(const char *dir, const char *name, const char *ckpt, const char *what);

/* ---------------------------------------------------------------- train / evaluate */
typedef struct tg_train_options {
    int resume;             /* continue from <run>/last.ckpt */
    int overwrite;          /* remove a previous run's outputs first */
    const char *run_dir;    /* override output.dir */
    const char *command;    /* the command line, for the lock file (NULL: "terragrad train") */
    const char *const *set; /* n_set config overrides "key=value" (--set), recorded in config.yaml */
    int n_set;
} tg_train_options;
int tg_train(const char *config_path, const tg_train_options *opt);
/* colmap[v] = data.variables.<name of v> if given ("" = leave v out), else defaults[v] (or
 * NULL); returns how many data.variables keys the config gives (variables.c). */
int tg_dataset_columns(const tg_cfg *cfg, const char *const *defaults, const char **colmap);
/* Evaluates a trained run on its test period (or [first, last] if given): metrics CSV,
 * predictions CSV + NetCDF, summary. period: "test" or "valid". */
int tg_evaluate(const char *run_dir, const char *period);

/* ---------------------------------------------------------------- synthetic twin */
typedef struct tg_twin_options {
    int basins, warmup, train_years, test_years, iters, hidden, verbose;
    uint64_t seed;
    double noise, lr;           /* multiplicative log-normal noise sd; Adam rate */
    const char *out_dir;        /* NULL: no files */
} tg_twin_options;
typedef struct tg_twin_result {
    double nse_train_median, nse_test_median, nse_test_min, final_loss, seconds;
    double corr[TG_HBV_NPARAM]; /* true vs learned parameter over basins */
} tg_twin_result;
void tg_twin_defaults(tg_twin_options *o);
int tg_twin_run(const tg_twin_options *o, tg_twin_result *res);

#endif
