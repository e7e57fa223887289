/* var_domain.c — the valid domain of every daily input variable (TG_VAR_*), next to the
 * parameter domains of src/models/hbv_domain.c, and both as one Markdown table
 * (docs/hbv_domain.md, `terragrad simulate --domains`). Here, not in the engine, because
 * the variables are the data layer's (terragrad/data.h). */
#include <math.h>
#include <stdio.h>

#include "terragrad/data.h"
#include "terragrad/models.h"

#define SHUT 0

/* Daily inputs by TG_VAR_*: every value read must be finite (or missing); these are the
 * extra sign constraints. PET is only finite: ERA5-Land (Caravan) reports condensation
 * (dew) as negative potential evaporation, 5025 days down to -2.4 mm/d in
 * caravan_camels_us; HBV then adds it to the soil (ET < 0), which is mass-conserving. */
static const tg_domain var_domain[TG_NVAR] = {
    [TG_VAR_P] = {0.0, INFINITY, SHUT, SHUT, "precipitation, mm/d: cannot be negative"},
    [TG_VAR_TEMP] = {-INFINITY, INFINITY, SHUT, SHUT, "mean air temperature, degC: finite"},
    [TG_VAR_PET] = {-INFINITY, INFINITY, SHUT, SHUT,
                    "potential evapotranspiration, mm/d: finite; negative = condensation (ERA5-Land)"},
    [TG_VAR_Q] = {-INFINITY, INFINITY, SHUT, SHUT, "observed streamflow, mm/d: finite"},
    [TG_VAR_TMAX] = {-INFINITY, INFINITY, SHUT, SHUT, "daily maximum temperature, degC: finite"},
    [TG_VAR_TMIN] = {-INFINITY, INFINITY, SHUT, SHUT, "daily minimum temperature, degC: finite"},
    [TG_VAR_SRAD] = {0.0, INFINITY, SHUT, SHUT, "shortwave radiation, W/m2: cannot be negative"},
    [TG_VAR_VP] = {0.0, INFINITY, SHUT, SHUT, "vapour pressure, Pa: cannot be negative"},
    [TG_VAR_DAYL] = {0.0, 86400.0, SHUT, SHUT, "day length, s: between 0 and 86400"},
    [TG_VAR_SWE] = {0.0, INFINITY, SHUT, SHUT, "snow water equivalent, mm: cannot be negative"},
};

const tg_domain *tg_var_domain(int var)
{
    static const tg_domain finite = {-INFINITY, INFINITY, SHUT, SHUT, "finite"};
    if (var < 0 || var >= TG_NVAR || !var_domain[var].why) return &finite;
    return &var_domain[var];
}

void tg_hbv_domain_table(FILE *f)
{
    char dom[96];
    fprintf(f, "| parameter | valid domain | usual (calibration) range | why |\n|---|---|---|---|\n");
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        fprintf(f, "| `%s` | %s | [%g, %g] | %s |\n", tg_hbv_param_names[p],
                tg_domain_format(&tg_hbv_param_domain[p], tg_hbv_param_names[p], dom, sizeof dom),
                tg_hbv_param_range[p][0], tg_hbv_param_range[p][1], tg_hbv_param_domain[p].why);
    fprintf(f, "\n| forcing | valid domain | why |\n|---|---|---|\n");
    for (int v = 0; v < TG_NVAR; v++)
        fprintf(f, "| `%s` | %s | %s |\n", tg_var_name(v), tg_domain_format(tg_var_domain(v), tg_var_name(v), dom, sizeof dom),
                tg_var_domain(v)->why);
}
