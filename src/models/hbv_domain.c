/* hbv_domain.c — where HBV's equations (src/models/hbv_step.h) make sense: the valid
 * domain of every parameter (the forcing domains are the data layer's: src/data/var_domain.c). A value outside it is an input error (readers
 * and parameter tables refuse it, naming file, line, basin and field); a value inside it
 * but outside tg_hbv_param_range (the calibration range) is only unusual and stays a
 * warning. docs/hbv_domain.md prints this table (`terragrad simulate --domains`). */
#include <math.h>
#include <stdio.h>

#include "terragrad/models.h"

#define OPEN 1
#define SHUT 0

/* {lo, hi, lo_open, hi_open, why}; ±INFINITY = unbounded. The reasons refer to the
 * update numbers of hbv_step_forward. */
const tg_domain tg_hbv_param_domain[TG_HBV_NPARAM_MAX] = {
    {0.0, INFINITY, OPEN, SHUT,
     "shape exponent of recharge = infil (SM/FC)^BETA: 0 removes the soil-moisture dependence, "
     "< 0 makes wetter soil recharge less"},
    {0.0, INFINITY, OPEN, SHUT, "field capacity: SM/FC and LP*FC divide by it; <= 0 has no soil store"},
    {0.0, 1.0, SHUT, SHUT,
     "fraction of the upper store above UZL released per day: > 1 drains more than is there "
     "(negative SUZ), < 0 is inflow"},
    {0.0, 1.0, SHUT, SHUT, "fraction of the upper store released per day: > 1 makes SUZ negative"},
    {0.0, 1.0, SHUT, SHUT, "fraction of the lower store released per day: > 1 makes SLZ negative"},
    {0.0, 1.0, OPEN, SHUT,
     "ET reaches PET above SM = LP*FC: 0 divides by zero (NaN gradients), > 1 is above field capacity"},
    {0.0, INFINITY, SHUT, SHUT, "percolation capacity, mm/d: < 0 pumps water up from the lower store"},
    {0.0, INFINITY, SHUT, SHUT,
     "threshold of the fast outflow, mm: < 0 releases more than the store holds (negative SUZ)"},
    {-INFINITY, INFINITY, SHUT, SHUT, "rain/snow threshold, degC: any finite temperature"},
    {0.0, INFINITY, SHUT, SHUT, "degree-day melt factor: < 0 melts snow below TT"},
    {0.0, INFINITY, SHUT, SHUT, "refreezing coefficient: < 0 turns refreezing below TT into melt"},
    {0.0, INFINITY, SHUT, SHUT,
     "liquid water the snowpack holds (fraction of SWE): < 0 releases more melt water than there is"},
    {0.0, INFINITY, OPEN, SHUT,
     "shape exponent of ET = PET (SM/(LP FC))^BETAET: 0 removes the soil-moisture dependence, < 0 "
     "makes drier soil evaporate more"},
    {0.0, INFINITY, SHUT, SHUT,
     "capillary-rise coefficient (1.1p): cap = min(SLZ, C SLZ (1 - min(SM/FC, 1))) stays in [0, SLZ] "
     "for any C >= 0; < 0 drains the soil into the lower store"},
};

int tg_domain_contains(const tg_domain *d, double x)
{
    if (!isfinite(x)) return 0;
    if (d->lo_open ? !(x > d->lo) : !(x >= d->lo)) return 0;
    if (d->hi_open ? !(x < d->hi) : !(x <= d->hi)) return 0;
    return 1;
}

const char *tg_domain_format(const tg_domain *d, const char *name, char *buf, size_t n)
{
    int lo = isfinite(d->lo), hi = isfinite(d->hi);
    if (lo && hi)
        snprintf(buf, n, "%g %s %s %s %g", d->lo, d->lo_open ? "<" : "<=", name, d->hi_open ? "<" : "<=", d->hi);
    else if (lo)
        snprintf(buf, n, "%s %s %g", name, d->lo_open ? ">" : ">=", d->lo);
    else if (hi)
        snprintf(buf, n, "%s %s %g", name, d->hi_open ? "<" : "<=", d->hi);
    else
        snprintf(buf, n, "%s finite", name);
    return buf;
}
