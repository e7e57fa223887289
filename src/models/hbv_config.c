/* hbv_config.c — HBV parameter names and ranges, configuration checks, and the linear
 * map from [0,1] to physical parameter ranges (with its backward). */
#include "terragrad/models.h"

const char *const tg_hbv_param_names[TG_HBV_NPARAM_MAX] = {
    "BETA", "FC", "K0", "K1", "K2", "LP", "PERC", "UZL", "TT", "CFMAX", "CFR", "CWH", "BETAET", "C"};

/* δHBV 1.0 ranges (Feng et al. 2022), the same as the PyTorch peer; C as hydrodl2's
 * HBV_1_1p (δHBV 1.1p). */
const double tg_hbv_param_range[TG_HBV_NPARAM_MAX][2] = {
    {1.0, 6.0},     /* BETA   - */
    {50.0, 1000.0}, /* FC     mm */
    {0.05, 0.9},    /* K0     1/d */
    {0.01, 0.5},    /* K1     1/d */
    {0.001, 0.2},   /* K2     1/d */
    {0.2, 1.0},     /* LP     - */
    {0.0, 10.0},    /* PERC   mm/d */
    {0.0, 100.0},   /* UZL    mm */
    {-2.5, 2.5},    /* TT     °C */
    {0.5, 10.0},    /* CFMAX  mm/°C/d */
    {0.0, 0.1},     /* CFR    - */
    {0.0, 0.2},     /* CWH    - */
    {0.3, 5.0},     /* BETAET - */
    {0.0, 1.0},     /* C      1/d (1.1p only) */
};

/* Units for figure axes and file metadata; "-" is dimensionless. */
const char *const tg_hbv_param_units[TG_HBV_NPARAM_MAX] = {
    "-", "mm", "1/d", "1/d", "1/d", "-", "mm/d", "mm", "°C", "mm/(°C d)", "-", "-", "-", "-"};

const char *const tg_hbv_output_names[TG_HBV_NOUT_MAX] = {
    "Q", "Q0", "Q1", "Q2", "ET", "rain", "snow", "melt", "SWE", "MELTWATER", "SM", "SUZ",
    "SLZ", "recharge", "excess", "perc", "cap"};

/* Fluxes are daily rates, stores are depths (units as udunits spells them). */
const char *const tg_hbv_output_units[TG_HBV_NOUT_MAX] = {
    "mm/day", "mm/day", "mm/day", "mm/day", "mm/day", "mm/day", "mm/day", "mm/day", "mm", "mm", "mm", "mm",
    "mm", "mm/day", "mm/day", "mm/day", "mm/day"};

void tg_hbv_config_init(tg_hbv_config *c, int T, int warmup, int B, int M)
{
    c->T = T;
    c->warmup = warmup;
    c->B = B;
    c->M = M;
    c->dynamic = 0;
    c->warmup_grad = 0;
    c->smooth_temp = TG_R(0.0);
    c->smooth_store = TG_R(0.0);
    c->basin_outputs = 0;
    c->capillary = 0;
}

int tg_hbv_config_check(const tg_hbv_config *c)
{
    if (!c) return tg_error_set(TG_EINVAL, "hbv: config is NULL");
    if (c->T < 1) return tg_error_set(TG_EINVAL, "hbv: T = %d, need >= 1", c->T);
    if (c->warmup < 0 || c->warmup >= c->T)
        return tg_error_set(TG_EINVAL, "hbv: warmup = %d, need 0 <= warmup < T = %d", c->warmup, c->T);
    if (c->B < 1 || c->M < 1)
        return tg_error_set(TG_EINVAL, "hbv: B = %d, M = %d, need >= 1", c->B, c->M);
    if ((size_t)c->B * (size_t)c->M > (size_t)1 << 30)
        return tg_error_set(TG_EINVAL, "hbv: B*M = %zu lanes is too many", (size_t)c->B * (size_t)c->M);
    if (c->capillary != 0 && c->capillary != 1)
        return tg_error_set(TG_EINVAL, "hbv: capillary = %d, need 0 (δHBV 1.0) or 1 (δHBV 1.1p)", c->capillary);
    if (c->dynamic & ~tg_hbv_param_mask(c))
        return tg_error_set(TG_EINVAL, "hbv: dynamic mask 0x%x has bits beyond the %d parameters%s",
                            (unsigned)c->dynamic, tg_hbv_nparam(c),
                            c->capillary ? "" : " (C needs capillary = 1)");
    if (c->basin_outputs & ~((1u << tg_hbv_nout(c)) - 1u))
        return tg_error_set(TG_EINVAL, "hbv: basin_outputs mask 0x%x has bits beyond the %d outputs",
                            (unsigned)c->basin_outputs, tg_hbv_nout(c));
    if (!(c->smooth_temp >= TG_R(0.0)) || !(c->smooth_store >= TG_R(0.0)))
        return tg_error_set(TG_EINVAL, "hbv: smoothing widths must be >= 0 (smooth_temp = %g, smooth_store = %g)",
                            (double)c->smooth_temp, (double)c->smooth_store);
    return TG_OK;
}

int tg_hbv_ndynamic(const tg_hbv_config *c)
{
    int n = 0;
    for (int p = 0; p < TG_HBV_NPARAM_MAX; p++) n += (int)((c->dynamic >> p) & 1u);
    return n;
}

int tg_hbv_nparam(const tg_hbv_config *c)
{
    return c->capillary ? TG_HBV_NPARAM_MAX : TG_HBV_NPARAM;
}

int tg_hbv_nout(const tg_hbv_config *c)
{
    return c->capillary ? TG_HBV_NOUT_MAX : TG_HBV_NOUT;
}

uint32_t tg_hbv_param_mask(const tg_hbv_config *c)
{
    return c->capillary ? TG_HBV_ALL_PARAMS_CAP : TG_HBV_ALL_PARAMS;
}

/* The parameter indices of mask in ascending order; returns their count. */
static int mask_params(uint32_t mask, int *idx)
{
    int n = 0;
    for (int p = 0; p < TG_HBV_NPARAM_MAX; p++)
        if ((mask >> p) & 1u)
            idx[n++] = p;
    return n;
}

void tg_hbv_scale_forward_bpm(tg_real *phys, const tg_real *u, int R, uint32_t mask, int B, int M)
{
    int idx[TG_HBV_NPARAM_MAX];
    const int np = mask_params(mask, idx);
    const size_t BM = (size_t)B * (size_t)M;
    for (int r = 0; r < R; r++)
        for (int k = 0; k < np; k++) {
            const tg_real lo = (tg_real)tg_hbv_param_range[idx[k]][0];
            const tg_real span = (tg_real)(tg_hbv_param_range[idx[k]][1] - tg_hbv_param_range[idx[k]][0]);
            tg_real *dst = phys + ((size_t)r * np + (size_t)k) * BM;
            for (int b = 0; b < B; b++) {
                const tg_real *src = u + (((size_t)r * B + (size_t)b) * np + (size_t)k) * (size_t)M;
                for (int m = 0; m < M; m++)
                    dst[(size_t)b * M + m] = lo + src[m] * span;
            }
        }
}

void tg_hbv_scale_backward_bpm(tg_real *g_u, const tg_real *g_phys, int R, uint32_t mask, int B, int M)
{
    int idx[TG_HBV_NPARAM_MAX];
    const int np = mask_params(mask, idx);
    const size_t BM = (size_t)B * (size_t)M;
    for (int r = 0; r < R; r++)
        for (int k = 0; k < np; k++) {
            const tg_real span = (tg_real)(tg_hbv_param_range[idx[k]][1] - tg_hbv_param_range[idx[k]][0]);
            const tg_real *src = g_phys + ((size_t)r * np + (size_t)k) * BM;
            for (int b = 0; b < B; b++) {
                tg_real *dst = g_u + (((size_t)r * B + (size_t)b) * np + (size_t)k) * (size_t)M;
                for (int m = 0; m < M; m++)
                    dst[m] = src[(size_t)b * M + m] * span;
            }
        }
}

size_t tg_hbv_hist_size(const tg_hbv_config *c)
{
    size_t steps = (size_t)(c->warmup_grad ? c->T : c->T - c->warmup);
    return steps * TG_HBV_NSTATE * (size_t)c->B * (size_t)c->M;
}

void tg_hbv_scale_forward(tg_real *phys, const tg_real *u, int R, uint32_t mask, int L)
{
    size_t i = 0;
    for (int r = 0; r < R; r++)
        for (int p = 0; p < TG_HBV_NPARAM_MAX; p++) {
            if (!((mask >> p) & 1u)) continue;
            tg_real lo = (tg_real)tg_hbv_param_range[p][0];
            tg_real span = (tg_real)(tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]);
            for (int l = 0; l < L; l++, i++) phys[i] = lo + u[i] * span;
        }
}

void tg_hbv_scale_backward(tg_real *g_u, const tg_real *g_phys, int R, uint32_t mask, int L)
{
    size_t i = 0;
    for (int r = 0; r < R; r++)
        for (int p = 0; p < TG_HBV_NPARAM_MAX; p++) {
            if (!((mask >> p) & 1u)) continue;
            tg_real span = (tg_real)(tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]);
            for (int l = 0; l < L; l++, i++) g_u[i] += g_phys[i] * span;
        }
}
