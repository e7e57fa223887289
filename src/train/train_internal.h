/* train_internal.h — the pieces of `terragrad train/test`: dataset, model, loss, trainer,
 * evaluation, run directory. */
#ifndef TG_TRAIN_INTERNAL_H
#define TG_TRAIN_INTERNAL_H

#include <stdio.h>

#include "terragrad.h"
#include "terragrad/run.h"

extern const tg_cfg_key tg_train_schema[];
extern const int tg_train_schema_len;
/* tg_train_schema_all (run.h): the base keys above plus the keys of every model kind of
 * the table in model.c and of the loss extension, in the table's order. Built once. */
/* <run_dir>/config.yaml loaded with the full schema; path (path_size bytes) receives the
 * file name for messages. NULL with the error set. A run folder's config is not checked
 * for keys its kind does not use (it was checked when the run was trained, and runs of
 * older versions stay readable). */
tg_cfg *tg_train_load_run_config(const char *run_dir, char *path, size_t path_size);
/* A training config's model.type names a kind of the table and every key given is used by
 * that kind (tg_model_kind_check_keys); frees cfg and returns NULL with the error set if
 * not. NULL in, NULL out. */
tg_cfg *tg_train_cfg_check(tg_cfg *cfg);
/* The days of periods.<period>_start/_end (test, valid, train): TG_EINVAL naming the
 * config file and both keys when either is missing or they are out of order. */
int tg_train_period(const tg_cfg *cfg, const char *path, const char *period, int *first, int *last);

/* ---------------------------------------------------------------- run directory + log
 * tg_runlog (train.log, test.log, ...): public, terragrad/run.h. */
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
    int n_forcing;          /* raw forcing the model kind reads (its declaration) */
    int forcing_vars[TG_MAX_INPUTS]; /* their TG_VAR_* */
    int S;                  /* static attributes */
    char (*static_names)[TG_NAME_MAX];
    tg_real *statics;       /* (B, S) normalised */
    tg_real *statics_raw;   /* (B, S) as read (NaN: missing) */
    double *q_std;          /* (B) std of observed Q in the training period (NSE* weights) */
    double q_mean_all, q_std_all; /* over all basins: LSTM output scaling */
    tg_norm nm;
} tg_dataset;
/* Reads basins, attributes, fits (fit = 1; saves to <dir>/normalisation.txt) or loads
 * (fit = 0) the normalisation, and normalises inputs. */
int tg_dataset_load(tg_dataset *d, const tg_cfg *cfg, const char *run_dir, int fit, tg_runlog *rl);
void tg_dataset_free(tg_dataset *d);
/* A trained run applied to other basins or dates (fit = 0, the run's normalisation): the
 * run's periods need not overlap these data; need_q = 0: basins without a Q column (or
 * all missing) load, their Q all NaN. */
int tg_dataset_load_apply(tg_dataset *d, const tg_cfg *cfg, const char *run_dir, int need_q, tg_runlog *rl);
/* Only the basin ids (d->raw[b].id, T = 0) and raw static attributes (d->statics_raw) of a
 * config: the training basins' attribute range. */
int tg_dataset_load_statics(tg_dataset *d, const tg_cfg *cfg);
/* Basin ids of the config (list, file, or everything in the folder). */
int tg_dataset_basin_ids(const tg_run_config *cfg, tg_basin_list *ids);

/* ---------------------------------------------------------------- model */
/* Every model is  normalised inputs -> LSTM -> linear head  and then either streamflow
 * directly (model.type = lstm) or a PROCESS MODEL driven by the head's outputs. Each kind
 * is an entry of model.c's explicit table: its declaration (tg_model_kind_info, run.h)
 * and, for process models, its implementation, a tg_model_kind in its own file
 * (model_dhbv.c, ...). */
typedef struct tg_model tg_model;
typedef struct tg_model_out {
    tg_tensor *q;           /* (Lp, nb) streamflow, mm/day */
    tg_tensor *fluxes;      /* (Lp, TG_HBV_NOUT, nb) HBV-style outputs, or NULL */
    tg_tensor *par_static;  /* (NPARAM, nb*M) or NULL */
    tg_tensor *routing;     /* (2, nb): a, theta, or NULL */
    tg_tensor *penalty;     /* scalar physics-guided penalty already weighted, or NULL */
    int skip;               /* the first `skip` days of the window have no prediction */
    tg_tensor *pcorr;       /* (nb) learned precipitation multiplier (model.precip_correction), or NULL */
    tg_tensor *sfcf;        /* (nb) learned snowfall correction factor (model.snow_correction), or NULL */
    /* INPUT, set by tg_model_forward before the kind's forward: the batch's normalised
     * static attributes (nb, S), or NULL without attributes */
    tg_tensor *attrs;
    tg_tensor *par_dyn;     /* (Lp, ndyn, nb, M) parameters of hbv.dynamic per day, or NULL */
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
    const tg_model_kind_info *info; /* the kind's declaration (never NULL after build) */
    const tg_model_kind *kind; /* its implementation; NULL: plain LSTM */
    int in;                 /* F + S */
    int n_attr;             /* S: the last S of the `in` inputs are the static attributes */
    int attrs_needed;       /* the kind reads tg_model_out.attrs (set by its build) */
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
/* The implementation of the kind named `name`, or NULL (lstm or unknown). */
const tg_model_kind *tg_model_kind_find(const char *name);
/* The implementation of a declared kind (NULL: lstm). */
const tg_model_kind *tg_model_kind_impl(const tg_model_kind_info *info);
/* TG_EINVAL naming file, line and key for the first key given in cfg that kind k does not
 * use (tg_model_kind_uses). */
int tg_model_kind_check_keys(const tg_cfg *cfg, const tg_model_kind_info *k);
/* "lstm|dhbv|..." of the registered kinds, for messages. */
const char *tg_model_kind_names(void);
int tg_model_build(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps);
int tg_model_init_weights(const tg_model *m, tg_params *ps, tg_rng *rng, const tg_cfg *cfg);
void tg_model_free(tg_model *m);
/* Daily output rows of a built model (the columns after Q_obs of its prediction files):
 * the kind's outputs, and with hbv.capillary (δHBV 1.1p) the capillary flux "cap" after
 * them. Ask this, not the count: 16 rows say nothing about the 1.1p option. */
int tg_model_nout(const tg_model *m);
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
/* The same with the static parameters and routing from stat (nb, K) in (0, 1) in the
 * head's layout (the static MLP, dhbv_static.h) instead of the LSTM's last day; stat NULL:
 * tg_model_dhbv_params. */
int tg_model_dhbv_params_from(const tg_model *m, tg_ctx *ctx, tg_params *ps, tg_tensor *h, tg_tensor *stat, int L,
                              int nb, tg_tensor **par_static, tg_tensor **par_dyn, tg_tensor **last);
int tg_model_dhbv_route(const tg_model *m, tg_ctx *ctx, tg_tensor *last, tg_tensor *fluxes, tg_model_out *out);

/* Loss extensions (physics-guided penalties etc.): config keys merged into the schema. */
typedef struct tg_loss_extension {
    const char *name;
    const tg_cfg_key *keys;
    int n_keys;
} tg_loss_extension;

/* ---------------------------------------------------------------- loss */
enum { TG_LOSS_NSE = 0, TG_LOSS_MSE, TG_LOSS_RMSE, TG_LOSS_RMSE_COMB, TG_LOSS_KGE, TG_LOSS_NSE_KGE };
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

/* loss.type nse_kge (loss_nsekge.c, where the design and its bias are explained):
 * w_nse NSE* + w_beta (beta - 1)^2 + w_alpha (alpha - 1)^2 + w_log RMSE of log(q + eps),
 * alpha and beta of each basin's whole training period from per-basin running estimates. */
typedef struct tg_nsekge_weights {
    double nse, beta, alpha, logrmse; /* loss.weights.* */
    double ema;                       /* loss.ema: weight of a new window in a basin's estimates */
    double log_eps;                   /* loss.log_eps: eps of log(q + eps), mm/d */
} tg_nsekge_weights;
typedef struct tg_nsekge_state {
    int B;
    double ema;
    double *mu_o, *sd_o;  /* (B) observed mean and population std over the training period */
    double *m1, *m2;      /* (B) running (uncorrected) averages of the windows' mean s and s^2 */
    long *visits;         /* (B) windows of the basin that entered them */
} tg_nsekge_state;
/* Reads the loss.weights.*, loss.ema, loss.log_eps keys; any of them given with another
 * loss.type is TG_EINVAL naming file and line. */
int tg_nsekge_read(const tg_cfg *cfg, int loss_type, tg_nsekge_weights *w);
/* Observed statistics of days first..last of every basin; running estimates empty. */
int tg_nsekge_state_init(tg_nsekge_state *s, const tg_basin *raw, int B, int first, int last, double ema);
void tg_nsekge_state_free(tg_nsekge_state *s);
/* The estimates as "nsekge B VISITS M1 M2" lines appended to a run state text (malloc'ed,
 * *len bytes, grown), and read back from one (TG_EINVAL naming ckpt unless every basin has
 * its line). */
int tg_nsekge_state_append(const tg_nsekge_state *s, char **text, size_t *len);
int tg_nsekge_state_restore(tg_nsekge_state *s, const char *text, const char *ckpt);
/* S[0] = NSE* (as tg_loss_parts), S[1] = sum over observed days of
 * (log(max(q,0) + eps) - log(obs + eps))^2 / count. */
int tg_nsekge_parts(tg_ctx *ctx, tg_tensor *q, const tg_real *obs, const double *basin_std, size_t count,
                    double eps, tg_tensor **S);
/* f(S) = w_nse S0 + w_log sqrt(S1) and c = df/dS (the alpha/beta terms are added apart). */
double tg_nsekge_combine(const double *S, const tg_nsekge_weights *w, double *c);
/* Per window (columns of q (Lp, nb)) over its observed days: m1 = mean q, m2 = mean q^2 as
 * (1, nb) tape tensors, and vals[3k..3k+2] = their values and the observed-day count. */
int tg_nsekge_moments(tg_ctx *ctx, tg_tensor *q, const tg_real *obs, tg_tensor **m1, tg_tensor **m2, double *vals);
/* After the forward of a batch of `got` windows (basins bi, moments vals from
 * tg_nsekge_moments): updates the basins' estimates in batch order, sets delta[2k..2k+1]
 * = estimate - window moments (NaN: the window has no alpha/beta terms) and the batch
 * means of (beta - 1)^2 in *vb and (alpha - 1)^2 in *va. */
void tg_nsekge_update(tg_nsekge_state *s, const int *bi, const double *vals, int got, double *delta, double *vb,
                      double *va);
/* The tape form of those terms for the windows of m1, m2 (1, nb) (basins bi, shifts delta):
 * sum_k (w_beta (beta_k - 1)^2 + w_alpha (alpha_k - 1)^2) / got. Its value is the part of
 * *vb, *va of these windows; its gradient flows through the windows' moments. */
tg_tensor *tg_nsekge_terms(tg_ctx *ctx, tg_tensor *m1, tg_tensor *m2, const double *delta, const int *bi,
                           const tg_nsekge_state *s, int got, double w_beta, double w_alpha);

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
/* Run folders: tg_run_lock, provenance, --overwrite: public, terragrad/run.h. */

/* ---------------------------------------------------------------- train / evaluate */
/* tg_train, tg_train_config, tg_evaluate: public, terragrad/run.h. */
/* The typed config of a loaded tg_cfg (training.c/run_config.c): fields point into cfg,
 * which must outlive rc; list storage in rc->priv (tg_run_config_free). */
int tg_run_config_from_cfg(const tg_cfg *cfg, tg_run_config *rc);
/* The parsed config behind a loaded typed config (NULL when filled in C). */
const tg_cfg *tg_run_config_cfg(const tg_run_config *rc);
/* colmap[v] = data.variables.<name of v> if given ("" = leave v out), else defaults[v] (or
 * NULL); returns how many data.variables keys the config gives (variables.c). cfg may be
 * NULL (a config built in C): the defaults. */
int tg_dataset_columns(const tg_cfg *cfg, const char *const *defaults, const char **colmap);

/* Seed ensembles (ensemble.c): a config with seeds: [...] trains one member run per seed
 * into <run_dir>/seed_<n>/ (tg_train calls tg_train_ensemble); tg_evaluate of such a folder
 * evaluates every member and scores the mean prediction (tg_evaluate_ensemble). */
int tg_train_ensemble(const tg_cfg *cfg, const char *config_path, const char *run_dir, const tg_train_options *opt);
int tg_evaluate_ensemble(const char *run_dir, const char *period);
/* A predictions_<period>/<id>.csv written by terragrad test: its first three columns
 * date,Q_obs,Q (NA: NaN); errors name file and line. tg_pred_free releases it. */
typedef struct tg_pred_series {
    int n, cap;
    char (*date)[16];
    double *obs, *q;
} tg_pred_series;
int tg_pred_read(const char *path, tg_pred_series *s);
void tg_pred_free(tg_pred_series *s);
/* One evaluation (evaluate.c): tg_evaluate is the run's own basins and period into the run
 * folder; tg_evaluate_with (apply.c) fills a plan for other basins, dates and folders. */
typedef struct tg_eval_plan {
    const char *label;      /* names the outputs (metrics_<label>.csv, ...) and the period when first is INT_MIN */
    int first, last;        /* the period's days; INT_MIN: periods.<label>_start/_end of the config */
    const char *out_dir;    /* NULL: the run folder */
    int apply;              /* other basins or dates: tg_dataset_load_apply, coverage check, attribute range */
    int predict_only;       /* no Q needed, no metrics */
} tg_eval_plan;
/* cfg (the run's config, overrides applied; cfg_path names it in messages) is taken and freed. */
int tg_evaluate_plan(const char *run_dir, tg_cfg *cfg, const char *cfg_path, const tg_eval_plan *p);
/* The log of an evaluation of `period`: test.log for the test period, eval_<period>.log for
 * the others ("train.log" is the training's own). */
void tg_eval_log_name(char *buf, size_t size, const char *period);
/* apply.c: every basin's record covers days first..last (the warm-up of `warm` days and the
 * period): TG_EINVAL naming the basin's file and the dates otherwise; predict_only: and no
 * input the model reads is missing on those days (naming file, field and date). */
int tg_apply_check_coverage(const tg_dataset *d, const tg_cfg *cfg, int first, int last, int warm, int predict_only);
/* apply.c: scoring needs observed streamflow. Each basin without one observed Q on days
 * first..last is named (its file, the period, and that `terragrad predict` is the command
 * for such basins) in the log and on stderr; its metrics stay NaN. No basin with Q at all:
 * TG_EINVAL naming the data folder, the period and `terragrad predict`. `label` names the
 * period. */
int tg_apply_check_observed(const tg_dataset *d, const tg_cfg *cfg, int first, int last, const char *label,
                            tg_runlog *rl);
/* apply.c: per applied basin, the static attributes outside the training basins' range
 * (the run's own config.yaml): <out_dir>/attributes_range_<label>.csv and the log. */
int tg_apply_attribute_report(const char *run_dir, const tg_dataset *d, const char *out_dir, const char *label,
                              tg_runlog *rl);
/* ---------------------------------------------------------------- results file (results_netcdf.c) */
/* Everything `terragrad test` scored, for predictions_<period>.nc (CF-1.8, NetCDF-4):
 * daily series (basin-major, n days each), learned parameters, metrics, provenance. */
typedef struct tg_results_nc {
    const char *path;           /* predictions_<period>.nc (temp file + rename) */
    const char *config_path;    /* the run's config.yaml: copied into a global attribute */
    const char *period;         /* "test", "valid", "train" */
    const tg_model_kind_info *kind;
    const tg_dataset *d;        /* basin ids, lat, lon */
    int B, n, first_day;        /* basins, days, first day of the period (tg_date) */
    const tg_real *q_obs, *q_sim; /* (B, n) mm/day; NaN: no observation */
    /* (B, nout, n) or NULL: row 0 PET, row k >= 1 the kind's output k (the predictions CSV
     * columns after Q_obs and Q) */
    const tg_real *series;
    int nout;
    const double *extra;        /* (B, extra_stride) parameters as evaluate.c keeps them, or NULL */
    int extra_stride, routing, capillary, pcorr; /* pcorr: PCORR at extra column TG_HBV_NPARAM + 3 */
    int sfcf;                   /* SFCF at extra column TG_HBV_NPARAM + 4 */
    const tg_metrics *met;      /* (B), or NULL (predict: no observations; metrics written as NaN) */
    const double *wb;           /* (B) water-balance error, or NULL */
    const double *dyn;          /* (B, n, ndyn) daily parameters of hbv.dynamic, or NULL */
    int ndyn;
    const int *dyn_par;         /* (ndyn) their tg_hbv_param indices */
} tg_results_nc;
int tg_results_netcdf_write(const tg_results_nc *r);

/* tg_twin_run (the synthetic-twin experiment of `terragrad demo`): public, terragrad/run.h. */

#endif
