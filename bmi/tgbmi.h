/* tgbmi.h — the terragrad BMI instance shared by the files of bmi/ (not installed).
 * bmi_config.c reads the per-basin YAML, bmi_hbv.c steps HBV + routing, bmi_net.c
 * steps a trained network, bmi_terragrad.c is the BMI surface (variables, time, grids).
 * The module uses the public headers only (scripts/layer_check.sh checks it). */
#ifndef TG_BMI_INTERNAL_H
#define TG_BMI_INTERNAL_H

#include "terragrad/config.h"
#include "terragrad/core.h"
#include "terragrad/data.h"
#include "terragrad/models.h"
#include "terragrad/simulate.h"

enum { TGBMI_HBV = 0, TGBMI_LSTM, TGBMI_DHBV };
enum { TGBMI_WARMUP_NONE = 0, TGBMI_WARMUP_DATA };

/* What the YAML config says (bmi_config.c). Paths are resolved against the config's folder. */
typedef struct tgbmi_config {
    int kind;
    char basin[TG_ID_MAX];
    int start_day, end_day;      /* end_day = INT_MIN: no end */
    int per_hour;                /* 1: rates in mm h-1 (converted), 0: mm d-1 */
    int warmup_policy, warmup_days;
    char data_file[4096];        /* generic CSV (date,P,T,PET) for the warm-up of kind hbv */
    char run_dir[4096];          /* trained run of kinds lstm / dhbv */
    int dhbv_static_end;         /* 1: static δHBV parameters from the head on the end day (as terragrad
                                  * test), 0: on the day before start */
    /* hbv: (NPARAM, M) physical parameters, routing a and theta (NaN: no routing) */
    int M;
    double *params;
    double route_a, route_theta;
} tgbmi_config;

int tgbmi_config_read(const char *path, tgbmi_config *c);
void tgbmi_config_free(tgbmi_config *c);

/* Basin outputs a step produces, in mm d-1 (fluxes) or mm (stores). */
enum { TGBMI_O_Q = 0, TGBMI_O_ET, TGBMI_O_SWE, TGBMI_O_SM, TGBMI_O_SUZ, TGBMI_O_SLZ, TGBMI_O_MELTWATER,
       TGBMI_O_QUNROUTED, TGBMI_O_Q0, TGBMI_O_Q1, TGBMI_O_Q2, TGBMI_NOUT };

typedef struct tgbmi tgbmi;
struct tgbmi {
    int initialized;
    tgbmi_config cfg;
    long step;                    /* days stepped since the start */
    double in[3];                 /* P, T, PET in the framework's units (per_hour: mm h-1) */
    double out[TGBMI_NOUT];       /* the framework's units (fluxes mm h-1 when per_hour) */
    /* HBV (kinds hbv and dhbv): stores (NSTATE, M) kept in double so that get_value_ptr
     * hands out the storage the next step reads */
    int M;
    double *store;
    tg_real *par;                 /* (NPARAM, M) of the next step (static parameters for dhbv) */
    tg_real *par_dyn;             /* dhbv: (ndyn, M) of the next step, or NULL */
    tg_real *step_buf;            /* (2, NSTATE, M) stores before and after a step */
    tg_hbv_config step_cfg;       /* one step: T = 1, no warm-up, M, dynamic mask, smoothing */
    int routed;
    tg_real uh[TG_UH_LEN];        /* unit-hydrograph ordinates */
    double qbuf[4][TG_UH_LEN];    /* unrouted Q, Q0, Q1, Q2 (mm d-1) of the last days, [.][0] = latest:
                                   * the routed outputs are Q and its three parts, as simulate writes */
    /* network kinds (bmi_net.c) */
    void *net;
};

int tgbmi_hbv_setup(tgbmi *m);                    /* parameters, routing, stores, warm-up */
/* One HBV step with m->par (and m->par_dyn) from the stores, then routing and m->out. */
int tgbmi_hbv_step(tgbmi *m, const tg_real *forcing /* P, T, PET in mm d-1, °C */);
/* Stores and routing buffers for M components, the stores at their initial value. */
int tgbmi_hbv_alloc(tgbmi *m, int M);
/* The stores after `T` warm-up days of forcing (T, 3) with m->par for every parameter. */
int tgbmi_hbv_warmup(tgbmi *m, const tg_real *forcing, int T);
/* Unit-hydrograph ordinates from a, theta (days); NaN or 0: no routing. */
void tgbmi_hbv_set_routing(tgbmi *m, double a, double theta);
void tgbmi_hbv_free(tgbmi *m);

/* Network kinds (bmi_net.c): lstm, dhbv. */
int tgbmi_net_setup(tgbmi *m);
int tgbmi_net_step(tgbmi *m, const tg_real *forcing);
void tgbmi_net_free(tgbmi *m);
/* Network state variables: TGBMI_NS_* storage and size (0 when the kind has none). */
enum { TGBMI_NS_H = 0, TGBMI_NS_C, TGBMI_NS_HISTORY, TGBMI_NS_WINDAY, TGBMI_NS_PARAMS, TGBMI_NS_ROUTING,
       TGBMI_NS_COUNT };
int tgbmi_net_state_size(const tgbmi *m, int which);
double *tgbmi_net_state(tgbmi *m, int which);

#endif
