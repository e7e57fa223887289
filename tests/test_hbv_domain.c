/* The valid-domain table of HBV (src/models/hbv_domain.c, docs/hbv_domain.md): it contains
 * the usual ranges, its bounds are open/closed as the equations need, and it is not
 * arbitrary: anywhere inside it (edges included, where min/max kinks tie) HBV keeps every
 * store >= 0 and gives finite outputs and gradients, while just outside a bound a store goes
 * negative. */
#include <math.h>
#include <string.h>

#include "testutil.h"

#define T_DAYS 400
#define WARM 30

static tg_real forcing[T_DAYS * 3];
static tg_real obs[T_DAYS];

static void make_forcing(void)
{
    /* a year with frost (snow, refreezing), storms (store overflow) and dry spells */
    for (int t = 0; t < T_DAYS; t++) {
        double season = sin(2 * M_PI * t / 365.0);
        forcing[t * 3 + 0] = (tg_real)((t % 11 == 0) ? 60.0 : (t % 3 == 0) ? 4.0 : 0.0);
        forcing[t * 3 + 1] = (tg_real)(12.0 * season + ((t * 7) % 5) - 2.0);
        forcing[t * 3 + 2] = (tg_real)(2.0 + 1.5 * season);
        obs[t] = (tg_real)(1.0 + 0.5 * season);
    }
}

/* min over the run of SWE, SM, SUZ, SLZ; -1e30 if anything is not finite */
static double min_store(const double *par)
{
    static tg_real out[T_DAYS * TG_SIM_NOUT];
    if (tg_hbv_simulate_basin(out, forcing, T_DAYS, WARM, par, 1, (double)NAN, (double)NAN)) return -1e30;
    double m = 1e30;
    const int st[4] = {TG_SIM_SWE, TG_SIM_SM, TG_SIM_SUZ, TG_SIM_SLZ};
    for (int t = 0; t < T_DAYS - WARM; t++) {
        for (int k = 0; k < TG_SIM_NOUT; k++)
            if (!isfinite((double)out[t * TG_SIM_NOUT + k])) return -1e30;
        for (int k = 0; k < 4; k++)
            if ((double)out[t * TG_SIM_NOUT + st[k]] < m) m = (double)out[t * TG_SIM_NOUT + st[k]];
    }
    return m;
}

static int grads_finite(const double *par)
{
    double loss = 0, g[TG_HBV_NPARAM];
    const tg_real *f = forcing, *o = obs;
    int T = T_DAYS;
    if (tg_hbv_sensitivity(&loss, g, NULL, 1, &f, &o, &T, WARM, par, 1, NULL, NULL, TG_SENS_MSE, 1)) return 0;
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        if (!isfinite(g[p])) return 0;
    return isfinite(loss);
}

int main(void)
{
    make_forcing();
    const tg_domain *d = tg_hbv_param_domain;
    /* 1. the usual (calibration) range lies inside the valid domain */
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        CHECK(tg_domain_contains(&d[p], tg_hbv_param_range[p][0]) && tg_domain_contains(&d[p], tg_hbv_param_range[p][1]),
              "%s: usual range [%g, %g] outside its domain", tg_hbv_param_names[p], tg_hbv_param_range[p][0],
              tg_hbv_param_range[p][1]);
    /* 2. open and closed bounds; non-finite never inside */
    CHECK(!tg_domain_contains(&d[TG_HBV_FC], 0.0) && tg_domain_contains(&d[TG_HBV_FC], 1e-3), "FC > 0");
    CHECK(!tg_domain_contains(&d[TG_HBV_LP], 0.0) && tg_domain_contains(&d[TG_HBV_LP], 1.0) &&
              !tg_domain_contains(&d[TG_HBV_LP], 1.0 + 1e-9), "0 < LP <= 1");
    CHECK(tg_domain_contains(&d[TG_HBV_K0], 0.0) && tg_domain_contains(&d[TG_HBV_K0], 1.0) &&
              !tg_domain_contains(&d[TG_HBV_K0], 1.7) && !tg_domain_contains(&d[TG_HBV_K0], -1e-9), "0 <= K0 <= 1");
    CHECK(tg_domain_contains(&d[TG_HBV_TT], -40.0) && !tg_domain_contains(&d[TG_HBV_TT], (double)INFINITY) &&
              !tg_domain_contains(&d[TG_HBV_TT], (double)NAN), "TT finite");
    CHECK(!tg_domain_contains(tg_var_domain(TG_VAR_P), -1e-12) && tg_domain_contains(tg_var_domain(TG_VAR_P), 0.0) &&
              tg_domain_contains(tg_var_domain(TG_VAR_PET), -1.0) && !tg_domain_contains(tg_var_domain(TG_VAR_PET), (double)INFINITY),
          "P >= 0, PET finite");
    char buf[96];
    CHECK(!strcmp(tg_domain_format(&d[TG_HBV_LP], "LP", buf, sizeof buf), "0 < LP <= 1"), "format '%s'", buf);

    /* 3. inside the domain: stores >= 0, outputs and gradients finite; typical values, and
     * every closed edge at once (K = 1, LP = 1, PERC = UZL = CFMAX = CFR = CWH = 0: min/max
     * ties on many days) */
    double typical[TG_HBV_NPARAM] = {2, 250, 0.3, 0.1, 0.01, 0.5, 1, 10, 0, 3, 0.05, 0.1, 1};
    double edges[TG_HBV_NPARAM] = {0.1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0.1};
    double *cases[2] = {typical, edges};
    for (int c = 0; c < 2; c++) {
        for (int p = 0; p < TG_HBV_NPARAM; p++)
            CHECK(tg_domain_contains(&d[p], cases[c][p]), "case %d: %s inside", c, tg_hbv_param_names[p]);
        double m = min_store(cases[c]);
        CHECK(m >= 0, "case %d: min store %g", c, m);
        CHECK(grads_finite(cases[c]), "case %d: gradients finite", c);
    }
    /* 4. just outside a bound the equations break: stores go negative */
    const int outp[4] = {TG_HBV_K0, TG_HBV_K1, TG_HBV_K2, TG_HBV_UZL};
    const double outv[4] = {1.7, 1.5, 1.5, -20};
    for (int i = 0; i < 4; i++) {
        double par[TG_HBV_NPARAM];
        memcpy(par, typical, sizeof par);
        par[outp[i]] = outv[i];
        CHECK(!tg_domain_contains(&d[outp[i]], outv[i]), "%s = %g outside", tg_hbv_param_names[outp[i]], outv[i]);
        double m = min_store(par);
        CHECK(m < 0, "%s = %g: min store %g should be negative", tg_hbv_param_names[outp[i]], outv[i], m);
    }
    return tg_test_summary();
}
