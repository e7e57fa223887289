/* terragrad/stepper.h — a trained run (`terragrad train`, model.type lstm or dhbv) stepped
 * one day at a time for one basin: what a coupling framework (the BMI module, bmi/) needs
 * without the training internals.
 *
 *   tg_stepper_open    the run's config, normalisation, attributes and last.ckpt, for one of
 *                      the run's basins; optionally the warm-up from the run's data
 *   tg_stepper_step    one day from raw forcing (P mm d-1, T °C, PET mm d-1):
 *                        lstm: the day's streamflow;
 *                        dhbv: the HBV parameters of the day (static + dynamic) and the
 *                              routing parameters — the caller steps HBV and the routing
 *                              (the public tg_hbv_forward, tg_uh_gamma_forward)
 *   tg_stepper_state   the network's state, part by part, as double arrays the caller may
 *                      read and write (checkpoint / restart); tg_stepper_state_get/_set the
 *                      whole of it as one flat array
 *
 * A step computes what `terragrad test` computes for that day, with the same kernels in the
 * same order (docs/bmi.md, "Equality with terragrad test"): the LSTM kernel, the head and
 * the parameter transforms are the library's tape ops on a one-day, one-basin batch. */
#ifndef TG_STEPPER_H
#define TG_STEPPER_H

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_stepper tg_stepper;

typedef struct tg_stepper_options {
    const char *run_dir;   /* a trained run folder (config.yaml, normalisation.txt, last.ckpt) */
    const char *basin;     /* one of the run's basins */
    int start_day;         /* first day stepped (days since 1970-01-01, tg_date_from_ymd) */
    int end_day;           /* last day, or INT_MIN (none); dhbv with static_from_end needs it */
    int warmup_from_data;  /* 1: warm up over the training.warmup days before start_day from the
                            * run's data; 0: the state is zero (parameters NaN) until set */
    int static_from_end;   /* dhbv: 1 = static parameters from the head on end_day (as terragrad
                            * test: the LSTM runs over warm-up + period first); 0 = on the day
                            * before start_day (no future forcing needed) */
} tg_stepper_options;

/* The state parts (tg_stepper_state); a part a kind does not have has size 0. */
enum {
    TG_STEPPER_HIDDEN = 0,  /* (hidden) LSTM h */
    TG_STEPPER_CELL,        /* (hidden) LSTM c */
    TG_STEPPER_HISTORY,     /* lstm: (warmup, inputs) normalised inputs of the last days, oldest first */
    TG_STEPPER_WINDOW_DAY,  /* lstm: (1) day within the horizon block (0: reset before stepping) */
    TG_STEPPER_STATIC,      /* dhbv: (NPARAM, components) static HBV parameters, physical */
    TG_STEPPER_ROUTING,     /* dhbv: (2) a, theta (0, 0: no routing) */
    TG_STEPPER_NPARTS
};

typedef struct tg_stepper_info {
    int dhbv;              /* 0: lstm, 1: dhbv */
    int hidden, inputs, statics;
    int warmup, horizon;   /* training.warmup, training.horizon */
    /* dhbv */
    int components;        /* M */
    uint32_t dynamic;      /* hbv.dynamic mask */
    int n_dynamic;         /* dynamic parameters (bits of the mask) */
    int smooth_temp, smooth_store;
    int n_out;             /* values tg_stepper_step writes: lstm 1; dhbv NPARAM*M + n_dynamic*M + 2 */
} tg_stepper_info;

TG_API int tg_stepper_open(const tg_stepper_options *o, tg_stepper **out);
TG_API void tg_stepper_free(tg_stepper **s);
TG_API const tg_stepper_info *tg_stepper_get_info(const tg_stepper *s);
/* dhbv opened with warmup_from_data: the raw forcing (T, 3) of the HBV warm-up days before
 * start_day (missing values 0, as terragrad test), T = info->warmup; else NULL, T = 0. The
 * caller runs HBV over it with the static parameters (tg_hbv_forward, every parameter static). */
TG_API const tg_real *tg_stepper_warmup_forcing(const tg_stepper *s, int *T);
/* One day. forcing: P, T, PET in mm d-1, °C, mm d-1. out (info->n_out):
 *   lstm: streamflow, mm d-1;
 *   dhbv: static parameters (NPARAM, M), dynamic parameters of the day (n_dynamic, M), a,
 *         theta — physical; TG_EINVAL if a static parameter is NaN (not set) or outside its domain.
 * TG_EINVAL for a window day that is not a whole number in [0, horizon). */
TG_API int tg_stepper_step(tg_stepper *s, const tg_real *forcing, tg_real *out);
/* The storage of state part `part` (TG_STEPPER_*) and its size; NULL / 0 if the kind has none.
 * The storage lives as long as s; the next step reads what the caller wrote there. */
TG_API double *tg_stepper_state(tg_stepper *s, int part, int *size);
TG_API const char *tg_stepper_state_name(int part); /* "hidden", "cell", ... */
/* The whole state as one flat array, the parts in TG_STEPPER_* order (size: tg_stepper_state_size). */
TG_API int tg_stepper_state_size(const tg_stepper *s);
TG_API int tg_stepper_state_get(const tg_stepper *s, double *buf, int n);
TG_API int tg_stepper_state_set(tg_stepper *s, const double *buf, int n);

#ifdef __cplusplus
}
#endif
#endif
