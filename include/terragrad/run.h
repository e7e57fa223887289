/* terragrad/run.h — training runs as a library: the typed run configuration, the table of
 * model kinds, and train / evaluate / simulate / load on run folders.
 *
 * A run configuration is the typed form of a YAML run config (docs/config.md): read one
 * with tg_run_config_load, or fill one in C (tg_run_config_defaults, then set fields) and
 * train it with tg_train_config — no YAML needed. The defaults live in ONE place, the
 * schema table of src/train/schema.c (the same table docs/config.md is generated from);
 * tg_run_config_defaults reads them from there.
 *
 * A run folder holds what `terragrad train` writes: config.yaml (the config as trained),
 * normalisation.txt, last.ckpt (weights, optimizer, run state), loss.csv, train.log; and
 * what evaluation adds: metrics_<period>.csv, predictions_<period>/ and .nc,
 * params_<period>.csv (process models). Errors: a non-zero TG_E* code, the message in
 * tg_error_message(). */
#ifndef TERRAGRAD_RUN_H
#define TERRAGRAD_RUN_H

#include <stdio.h>

#include "terragrad/core.h"
#include "terragrad/eval.h"
#include "terragrad/models.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==================================================================== model kinds */
/* Every trainable model is  normalised inputs -> LSTM -> linear head,  then either
 * streamflow directly (model.type lstm) or a process model driven by the head's outputs.
 * Each kind is one entry of an explicit table (src/train/model.c) that declares what it
 * consumes and produces; the dataset, evaluation, NetCDF/CSV outputs, plots and config
 * validation read these declarations instead of testing the model.type string. */
typedef struct tg_model_kind_info {
    const char *name;                   /* the model.type value */
    const char *doc;                    /* one line */
    /* Raw daily forcing the process model reads besides the network inputs, in this order
     * (the forcing array handed to the kind is (L, nb, n_forcing)); 0 for lstm. */
    const char *const *forcing;
    int n_forcing;
    int uses_attributes;                /* static attributes enter the network (all kinds: 1) */
    /* Daily output variables written to predictions_<period>/<basin>.csv after Q_obs and Q,
     * with their units; outputs[0] is always "Q" (mm/day). */
    const char *const *outputs;
    const char *const *output_units;
    int n_outputs;
    int water_balance;                  /* outputs close a water balance (metrics column) */
    /* Learned per-basin parameters written to params_<period>.csv (0: none), with their
     * physical ranges [lo, hi]. */
    const char *const *params;
    const double (*param_range)[2];
    int n_params;
    int routing;                        /* may learn gamma routing (route_a, route_theta) */
    /* Config keys beyond the common ones the kind reads: "section." for a whole section,
     * or a full key. A key of another kind in a config is an error naming file and line. */
    const char *const *uses;
    int n_uses;
} tg_model_kind_info;

TG_API int tg_model_kind_count(void);
TG_API const tg_model_kind_info *tg_model_kind_at(int i);        /* 0 <= i < count */
TG_API const tg_model_kind_info *tg_model_kind_lookup(const char *name); /* NULL: unknown */
/* 1 if `key` (a dotted config path) is read for model kind k: the common keys, and the
 * kind-owned keys k declares in `uses`. */
TG_API int tg_model_kind_uses(const tg_model_kind_info *k, const char *key);

/* ==================================================================== run configuration */
/* A list of strings (basin ids, attribute names, variable names). Not owned when filled
 * by the caller; owned by the config when loaded from a file. */
typedef struct tg_run_list {
    int n;
    const char *const *items;
} tg_run_list;
typedef struct tg_run_numbers {
    int n;
    const double *v;
} tg_run_numbers;

typedef struct tg_run_config {
    long seed;                          /* seed: weights, minibatches, dropout */
    struct {
        const char *dir;                /* output.dir: run folder (NULL: runs/<config name>) */
        int plots;                      /* output.plots: PNG figures after test (CLI) */
        tg_run_list plot_basins;        /* output.plot_basins: hydrographs drawn (default first 3) */
    } output;
    struct {
        const char *source;             /* data.source: caravan | camels_us | csv | netcdf (required) */
        const char *path;               /* data.path: data folder, or the NetCDF file (required) */
        tg_run_list basins;             /* data.basins: basin ids (n = 0: basin_file or all) */
        const char *basin_file;         /* data.basin_file: one basin id per line, or NULL */
        long n_basins;                  /* data.n_basins: first N basins only (0 = all) */
        const char *product;            /* data.product: CAMELS forcing product (daymet, ...) */
        const char *attributes;         /* data.attributes: camels_attributes_v2.0 folder or a CSV, or NULL */
        tg_run_list attribute_names;    /* data.attribute_names: static inputs (n = 0: all) */
    } data;
    struct {                            /* day numbers (tg_date_parse); INT_MIN: not set */
        int train_start, train_end;     /* periods.train_*: required */
        int valid_start, valid_end;     /* periods.valid_*: optional */
        int test_start, test_end;       /* periods.test_*: required */
    } periods;
    struct {
        tg_run_list dynamic;            /* inputs.dynamic: daily network inputs (P, T, PET, ...) */
        tg_run_list log;                /* inputs.log: log(x + 0.1) before the z-score */
        int log_set;                    /* inputs.log given (0: the kind's default: P for process models) */
    } inputs;
    struct {
        const char *type;               /* model.type: a kind of tg_model_kind_at() */
        long hidden;                    /* model.hidden: LSTM hidden size */
        double dropout;                 /* model.dropout: before the head (lstm only) */
        long input_layer;               /* model.input_layer: linear+ReLU width before the LSTM (0 = none) */
        double forget_bias;             /* model.forget_bias: initial forget-gate bias */
        const char *static_head;        /* model.static_head: lstm | mlp (dhbv: static parameters from an MLP
                                         * on the attributes, δHBV 2.0 style) */
        long static_hidden;             /* model.static_hidden: width of that MLP */
        int precip_correction;          /* model.precip_correction: learned per-basin multiplier on HBV's P (dhbv) */
        tg_run_numbers precip_range;    /* model.precip_range: its [min, max] */
        int snow_correction;            /* model.snow_correction: learned per-basin snowfall factor SFCF (dhbv) */
        tg_run_numbers snow_range;      /* model.snow_range: its [min, max] */
    } model;
    struct {                            /* HBV-based kinds (dhbv, dhbv_adj, hybrid) */
        long components;                /* hbv.components: parallel HBV components per basin (M) */
        tg_run_list dynamic;            /* hbv.dynamic: parameters that vary per day */
        long warmup;                    /* hbv.warmup: (read by no kind: training.warmup is used) */
        int warmup_grad;                /* hbv.warmup_grad: gradient through the warm-up */
        int routing;                    /* hbv.routing: learned gamma unit hydrograph */
        int capillary;                  /* hbv.capillary: δHBV 1.1p capillary rise (parameter C, flux cap) */
        int smooth;                     /* hbv.smooth: smooth thresholds */
    } hbv;
    struct {
        const char *type;               /* loss.type: nse | mse | rmse | rmse_comb | kge */
        double log_weight;              /* loss.log_weight: rmse_comb's weight of the log term */
    } loss;
    struct {
        const char *type;               /* optim.type: adam | adamw | sgd | adadelta */
        double lr;                      /* optim.lr */
        double weight_decay;            /* optim.weight_decay */
        double clip;                    /* optim.clip: global gradient norm (0 = off) */
        const char *schedule;           /* optim.schedule: constant | step | exponential | cosine | table */
        double gamma;                   /* optim.gamma: step/exponential decay factor */
        long step_size;                 /* optim.step_size: epochs per step */
        double lr_min;                  /* optim.lr_min: cosine's final rate */
        tg_run_numbers table_epochs;    /* optim.table_epochs: table schedule */
        tg_run_numbers table_lrs;       /* optim.table_lrs */
    } optim;
    struct {
        long epochs;                    /* training.epochs */
        long iterations;                /* training.iterations: minibatches per epoch */
        long batch;                     /* training.batch: windows per minibatch */
        long warmup;                    /* training.warmup: spin-up days of each window (no loss) */
        long horizon;                   /* training.horizon: days of each window in the loss */
        long threads;                   /* training.threads: OpenMP threads (0 = the caller's setting) */
        long chunks;                    /* training.chunks: the batch is computed as this many chunks whose
                                         * gradients are summed in chunk order: any split over threads and
                                         * ranks gives the same bits */
        long checkpoint;                /* training.checkpoint: gradient checkpointing (0 off, -1 auto) */
    } training;
    /* Where the config came from (NULL when filled in C): messages name this file and line. */
    const char *file;
    void *priv;                         /* owned storage of a loaded config (tg_run_config_free) */
} tg_run_config;

/* The defaults of every field (from the schema table); required fields empty. */
TG_API void tg_run_config_defaults(tg_run_config *cfg);
/* Parses a YAML run config: unknown keys, wrong types, missing required keys and keys the
 * chosen model kind does not use are errors naming the file and line. */
TG_API int tg_run_config_load(const char *path, tg_run_config *cfg);
TG_API void tg_run_config_free(tg_run_config *cfg);
/* The line of `key` in the file cfg was loaded from (0: not given, or filled in C). */
TG_API int tg_run_config_line(const tg_run_config *cfg, const char *key);
/* Writes cfg as YAML (the keys its kind uses): what tg_train_config saves as config.yaml.
 * TG_EINVAL when a field the kind does not use differs from its default. */
TG_API int tg_run_config_write(const tg_run_config *cfg, FILE *out);

/* ==================================================================== train / evaluate */
typedef struct tg_train_options {
    int resume;             /* continue from <run>/last.ckpt */
    int overwrite;          /* remove a previous run's outputs first */
    const char *run_dir;    /* override output.dir */
    const char *command;    /* the command line, for the lock file (NULL: "terragrad train") */
    const char *const *set; /* n_set overrides "key=value" (--set), checked against the schema */
    int n_set;
} tg_train_options;
/* Trains the model of a YAML config file. The run folder's config.yaml is the config as
 * run: the overrides applied, relative paths made absolute. */
TG_API int tg_train(const char *config_path, const tg_train_options *opt);
/* Trains a config built in C (or loaded): config.yaml of the run folder is
 * tg_run_config_write's YAML. opt may be NULL; without opt->run_dir and cfg->output.dir
 * the run folder is runs/run. */
TG_API int tg_train_config(const tg_run_config *cfg, const tg_train_options *opt);
/* Evaluates a trained run on one of its periods ("test", "valid" or "train"): metrics CSV,
 * predictions CSV + NetCDF, learned parameters, summary in the run's log. */
TG_API int tg_evaluate(const char *run_dir, const char *period);
/* A seed ensemble (a config with seeds: [...]) is a folder with config.yaml and one member
 * run per seed in seed_<n>/: tg_train trains the members one after the other, tg_evaluate
 * evaluates each and scores the mean of their predicted Q (metrics_<period>.csv,
 * predictions_<period>/ of the ensemble folder). The number of members of run_dir's
 * config (0: a single run; up to max seeds into seeds, may be NULL), or minus an error code
 * (message set) when its config.yaml does not load. */
TG_API int tg_run_ensemble_seeds(const char *run_dir, long *seeds, int max);
/* Extremes beyond the training record (`terragrad test --extremes`), after tg_evaluate of
 * the same period: per basin, floods above the training period's maximum observed flow and
 * dry years (tg_extremes_find, terragrad/eval.h) of predictions_<period>/, written to
 * extremes_<period>.csv with the medians in the period's log. opt NULL: the defaults. */
TG_API int tg_extremes_run(const char *run_dir, const char *period, const tg_extremes_options *opt);
/* Applying a trained run elsewhere: other basins (a data folder and/or basin list), other
 * dates, another output folder, and prediction where no streamflow is observed. The run's
 * own normalisation (normalisation.txt) is always used, never refitted on the new basins.
 * A zeroed struct is tg_evaluate(run_dir, "test"). */
typedef struct tg_evaluate_options {
    const char *period;         /* "test" (NULL), "valid" or "train": the run's period; with
                                 * start/end only the name of the outputs (NULL: "apply") */
    const char *start, *end;    /* YYYY-MM-DD: an explicit period (both or neither) */
    const char *data_dir;       /* data.path override: basins of another folder (NULL: the run's) */
    const char *basins_file;    /* one basin id per line (NULL with data_dir: every basin there) */
    const char *out_dir;        /* where outputs go (NULL: the run folder) */
    int predict_only;           /* no observed Q needed and no metrics: the warm-up before start
                                 * must be covered by the forcing (error naming file and dates) */
    const char *const *set;     /* n_set "key=value" overrides of the run's config, checked
                                 * against the schema as train --set */
    int n_set;
} tg_evaluate_options;
/* Outputs in out_dir, named by the period p: metrics_<p>.csv (not with predict_only),
 * predictions_<p>/<basin>.csv (Q and every flux and state of the model), params_<p>.csv
 * (process models), log test.log (p = test) or eval_<p>.log; when basins other than the
 * run's are scored, attributes_range_<p>.csv: per basin, the static attributes outside the
 * training basins' range (min..max per attribute), also listed in the log. */
TG_API int tg_evaluate_with(const char *run_dir, const tg_evaluate_options *opt);
/* tg_evaluate_with as one transaction on its output folder, as `terragrad test RUN --data`,
 * `terragrad predict` and terragrad.evaluate run it: the folder is opt->out_dir or, when
 * other basins or dates are given, RUN/apply_<name of data_dir, of basins_file, or
 * start_end> (never the run's own test outputs; tg_apply_default_out); it is locked
 * (tg_run_lock_acquire with `command`), the outputs' checkpoint is recorded
 * (outputs_<period>.source, see tg_run_provenance_write), and a failed first attempt
 * leaves no new folder. out_used (may be NULL) receives the folder. */
TG_API int tg_apply_run(const char *run_dir, const tg_evaluate_options *opt, const char *command, char *out_used,
                        size_t out_size);
/* The folder tg_apply_run writes to (into out, size bytes). */
TG_API int tg_apply_default_out(const char *run_dir, const tg_evaluate_options *opt, char *out, size_t size);
/* Spatial k-fold cross-validation (`terragrad cv`): the basins of the config are split
 * into folds (deterministic from the config's seed; with by, each value of that static
 * attribute is spread over the folds in turn), fold k is trained in out_dir/fold_<k> on
 * the other folds and scores only its own held-out basins (tg_evaluate_with). Writes
 * out_dir/cv_metrics.csv (basin, fold, metrics of the test period) and cv_summary.csv
 * (median and mean per metric). Data-parallel under MPI as tg_train. */
typedef struct tg_cv_options {
    int folds;                  /* K >= 2 */
    const char *by;             /* stratify by this attribute (basins.csv column or static attribute), or NULL */
    const char *out_dir;        /* NULL: runs/cv_<config name> in the config's folder */
    const char *const *set;     /* overrides of the config (as train --set) */
    int n_set;
    int overwrite;              /* retrain folds that already hold a run */
    int folds_only;             /* write folds.csv and the fold lists, train nothing */
} tg_cv_options;
TG_API int tg_cross_validate(const char *config_path, const tg_cv_options *opt);
/* Simulation with a trained run: the run's model over its basins and `period`, the same
 * outputs as tg_evaluate (the CLI's `terragrad simulate RUN_DIR`). */
TG_API int tg_simulate_run(const char *run_dir, const char *period);
/* Opens a trained run folder: its config (into cfg; tg_run_config_free it) and a check
 * that last.ckpt exists and holds a checkpoint (*epoch: its last epoch, may be NULL). */
TG_API int tg_run_load(const char *run_dir, tg_run_config *cfg, long *epoch);

/* ==================================================================== run folders */
/* A run folder is written by one process at a time: tg_run_lock_acquire creates the folder
 * (and parents), takes flock(LOCK_EX) on DIR/.lock and writes the holder's pid, host and
 * command into it; a second process gets TG_EIO naming the holder. Released by
 * tg_run_lock_release or when the process ends. */
typedef struct tg_run_lock {
    int fd;                 /* -1: not held */
} tg_run_lock;
TG_API int tg_run_lock_acquire(tg_run_lock *lk, const char *dir, const char *command);
TG_API void tg_run_lock_release(tg_run_lock *lk);
/* 1 if dir holds outputs of `terragrad train` (config.yaml, last.ckpt, loss.csv, ...). */
TG_API int tg_run_has_training(const char *dir);
/* Removes what terragrad train/test/plot write in dir (nothing else): --overwrite. */
TG_API int tg_run_remove_outputs(const char *dir);
/* Checks that dir exists or can be created and that a file can be written in it. */
TG_API int tg_out_dir_prepare(const char *dir);
/* Records in DIR/<name> which checkpoint outputs came from (checksum, epoch); checks such
 * a record against the current checkpoint (TG_EINVAL naming both when they differ). */
TG_API int tg_run_provenance_write(const char *dir, const char *name, const char *ckpt);
TG_API int tg_run_provenance_check(const char *dir, const char *name, const char *ckpt, const char *what);
TG_API int tg_mkdir_p(const char *path);

/* The log of a run folder: <run>/train.log, test.log, eval_<period>.log, explain.log. */
typedef struct tg_runlog {
    FILE *log;          /* the log file (NULL: stdout only) */
    int tty;            /* stderr is a terminal: progress line with \r */
} tg_runlog;
TG_API int tg_runlog_open(tg_runlog *rl, const char *dir, const char *name);
TG_API void tg_runlog_close(tg_runlog *rl);
/* A line to stdout and the log file (root rank only). */
TG_API void tg_runlog_printf(tg_runlog *rl, const char *fmt, ...) TG_PRINTF(2, 3);
/* Into the log file only: errors, which the command line prints itself (once, on stderr). */
TG_API void tg_runlog_file(tg_runlog *rl, const char *fmt, ...) TG_PRINTF(2, 3);
/* Progress (epoch, iteration, loss, it/s, ETA): rewritten in place on a terminal,
 * a plain line every `every` iterations otherwise. */
TG_API void tg_runlog_progress(tg_runlog *rl, int epoch, int epochs, int it, int iters, double loss, double elapsed,
                               double total_done_frac);

/* The learned ET-limitation function g(SM/FC, T) of a trained hybrid run (model.type
 * hybrid): its shape in *net and a malloc'ed copy of its weights (free() it). The run's
 * data are read (their lines go to rl, which may be NULL). TG_EINVAL for another kind. */
struct tg_hybrid_mlp;
TG_API int tg_run_hybrid_mlp(const char *run_dir, tg_runlog *rl, struct tg_hybrid_mlp *net, tg_real **weights);

/* ==================================================================== synthetic twin
 * `terragrad demo`: δHBV trained on streamflow simulated by HBV with known parameters
 * (drawn per basin from synthetic attributes): how well the truth is recovered. */
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
TG_API void tg_twin_defaults(tg_twin_options *o);
TG_API int tg_twin_run(const tg_twin_options *o, tg_twin_result *res);

/* The schema of run configs (every key, type, default, doc; docs/config.md): the common
 * keys and those of every model kind and loss extension. */
struct tg_cfg_key;
TG_API const struct tg_cfg_key *tg_train_schema_all(int *n);

#ifdef __cplusplus
}
#endif
#endif
