/* test_hbv_balance.c — mass conservation over a long run with real forcing:
 *   sum P = sum ET + sum Q + (storage at the end - storage at the start)
 * per lane and per basin, to 1e-6 of sum P (double; the model has no other sink or
 * source), with all stores and fluxes non-negative at every step. Six years of Caravan
 * forcing for three basins (Maine coast, Yellowstone snowmelt, Virginia piedmont),
 * 8 components each with parameters drawn over the full ranges; hard and smooth
 * thresholds. The only non-conservative statement is the SM floor max(SM - ET, 1e-5),
 * which can add at most 1e-5 mm per step: with BETAET >= 1 and LP FC above the largest
 * PET it is provably never active (ET <= PET SM / (LP FC) < SM), and over the full ranges
 * the imbalance must be a gain of at most 1e-5 mm per step.
 * δHBV 1.1p (capillary rise SLZ -> SM, C over [0, 1]) moves water between two stores: the
 * balance closes the same way, and the cap flux is checked to be in [0, SLZ at the start of
 * the step] and to move a real share of the water (so the case tests something).
 * ERA5-Land PET is sometimes negative (dew): ET = min(SM, PET ef) is then negative too, as
 * the equations say; the balance counts it like any other ET. */
#include "test_hbv_common.h"

#ifdef TG_DOUBLE
#define TOL 1e-6
#else
#define TOL 2e-5
#endif

static const char *const basins[3] = {
    "caravan_camels_us/timeseries/01022500.csv",
    "caravan_camels_us/timeseries/06188000.csv",
    "caravan_camels_us/timeseries/02046000.csv",
};

static void run_case(const char *name, tg_real wT, tg_real wS, int floor_free, int cap)
{
    const int T = 6 * 365, B = 3, M = 8, L = B * M;
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, 0, B, M);
    c.smooth_temp = wT;
    c.smooth_store = wS;
    c.capillary = cap;
    const int NO = tg_hbv_nout(&c);
    tg_real *forcing = hbvt_alloc((size_t)T * B * 3);
    for (int b = 0; b < B; b++)
        CHECK(hbvt_load_forcing(basins[b], 365 * 5, T, forcing, B, b) == 0, "forcing %s", basins[b]);
    tg_real *ps = hbvt_alloc((size_t)tg_hbv_nparam(&c) * (size_t)L);
    tg_rng r;
    tg_rng_seed(&r, 17);
    hbvt_random_params(ps, L, &r, 0.0, 1.0);
    if (cap)
        for (int l = 0; l < L; l++) ps[TG_HBV_C * L + l] = (tg_real)tg_rng_uniform(&r);   /* C over [0, 1] */
    for (int l = 0; l < L; l++) {
        if (!floor_free) break;
        if ((double)ps[TG_HBV_BETAET * L + l] < 1.0) ps[TG_HBV_BETAET * L + l] = TG_R(1.0);
        double pmax = 0;
        for (size_t t = 0; t < (size_t)T; t++) pmax = fmax(pmax, (double)forcing[(t * B + (size_t)(l / M)) * 3 + 2]);
        double lpfc = (double)ps[TG_HBV_LP * L + l] * (double)ps[TG_HBV_FC * L + l];
        if (lpfc < 1.5 * pmax) ps[TG_HBV_FC * L + l] = (tg_real)(1.5 * pmax / (double)ps[TG_HBV_LP * L + l]);
    }
    tg_real *ol = hbvt_alloc((size_t)T * (size_t)NO * L), *ob = hbvt_alloc((size_t)T * (size_t)NO * B);
    tg_real sf[TG_HBV_NSTATE * 24];
    CHECK(tg_hbv_forward(ob, ol, sf, NULL, forcing, ps, NULL, NULL, &c) == 0, "forward");

    const int fluxes[] = {TG_HBV_Q, TG_HBV_Q0, TG_HBV_Q1, TG_HBV_Q2, TG_HBV_ET, TG_HBV_RAIN, TG_HBV_SNOW,
                          TG_HBV_MELT, TG_HBV_SWE, TG_HBV_MELTWATER, TG_HBV_SM, TG_HBV_SUZ, TG_HBV_SLZ,
                          TG_HBV_RECHARGE, TG_HBV_EXCESS, TG_HBV_PERC_OUT};
    int negatives = 0, cap_bad = 0;
    double worst = 0, worst_gain = 0, psum_all = 0, qsum_all = 0, capsum_all = 0;
    for (int l = 0; l < L; l++) {
        int b = l / M;
        double P = 0, ET = 0, Q = 0, S0 = 5 * TG_HBV_INIT_STORE, S1 = 0;
        for (size_t t = 0; t < (size_t)T; t++) {
            const tg_real *o = ol + t * (size_t)NO * L;
            P += (double)forcing[(t * B + (size_t)b) * 3];
            if (cap) {   /* 0 <= cap <= SLZ at the start of the step (end of the previous one) */
                double slz0 = t ? (double)ol[((t - 1) * (size_t)NO + TG_HBV_SLZ) * L + l] : TG_HBV_INIT_STORE;
                double cp = (double)o[TG_HBV_CAP * L + l];
                cap_bad += !(cp >= 0.0 && cp <= slz0);
                capsum_all += cp;
            }
            ET += (double)o[TG_HBV_ET * L + l];
            Q += (double)o[TG_HBV_Q * L + l];
            for (size_t k = 0; k < sizeof fluxes / sizeof *fluxes; k++)
                if (fluxes[k] != TG_HBV_ET) negatives += o[fluxes[k] * L + l] < TG_R(0.0);
            /* ET has the sign of PET */
            negatives += (double)o[TG_HBV_ET * L + l] * (double)forcing[(t * B + (size_t)b) * 3 + 2] < 0.0;
            /* the rain/snow split and the three runoff parts add up */
            double split = fabs((double)o[TG_HBV_RAIN * L + l] + (double)o[TG_HBV_SNOW * L + l] -
                                (double)forcing[(t * B + (size_t)b) * 3]);
            double parts = fabs((double)o[TG_HBV_Q0 * L + l] + (double)o[TG_HBV_Q1 * L + l] +
                                (double)o[TG_HBV_Q2 * L + l] - (double)o[TG_HBV_Q * L + l]);
            if (split > 1e-5 * (1 + (double)forcing[(t * B + (size_t)b) * 3]) || parts > 1e-5 * (1 + (double)o[TG_HBV_Q * L + l]))
                negatives++;
        }
        for (int k = 0; k < TG_HBV_NSTATE; k++) S1 += (double)sf[k * L + l];
        double imb = P - ET - Q - (S1 - S0);   /* > 0: water lost, < 0: water created */
        psum_all += P;
        qsum_all += Q;
        if (floor_free) worst = fmax(worst, fabs(imb) / P);
        else {
            worst = fmax(worst, imb / P);            /* losing water is never allowed */
            worst_gain = fmax(worst_gain, -imb);     /* gains: SM floor, <= 1e-5 mm per step */
        }
    }
    /* basin level, from the component means */
    double wb = 0;
    for (int b = 0; b < B; b++) {
        double P = 0, out = 0;
        for (size_t t = 0; t < (size_t)T; t++) {
            const tg_real *o = ob + t * (size_t)NO * B;
            P += (double)forcing[(t * B + (size_t)b) * 3];
            out += (double)o[TG_HBV_ET * B + b] + (double)o[TG_HBV_Q * B + b];
        }
        const tg_real *o = ob + (size_t)(T - 1) * (size_t)NO * B;
        double S1 = (double)o[TG_HBV_SWE * B + b] + (double)o[TG_HBV_MELTWATER * B + b] + (double)o[TG_HBV_SM * B + b] +
                    (double)o[TG_HBV_SUZ * B + b] + (double)o[TG_HBV_SLZ * B + b];
        double imb = P - out - (S1 - 5 * TG_HBV_INIT_STORE);
        if (floor_free) wb = fmax(wb, fabs(imb) / P);
    }
    printf("%-28s sum P %.0f mm/lane, runoff ratio %.2f, worst |imbalance|/P: lanes %.2e basins %.2e, SM-floor gain %.2e mm",
           name, psum_all / L, qsum_all / psum_all, worst, wb, worst_gain);
    printf(cap ? ", capillary rise %.1f %% of P\n" : "\n", 100.0 * capsum_all / psum_all);
    if (cap) {
        CHECK(cap_bad == 0, "%s: %d capillary fluxes outside [0, SLZ]", name, cap_bad);
        CHECK(capsum_all > 0.01 * psum_all, "%s: capillary rise only %.3g of P: the case tests nothing", name,
              capsum_all / psum_all);
    }
    CHECK(negatives == 0, "%s: %d negative stores/fluxes or inconsistent splits", name, negatives);
    CHECK(worst < TOL, "%s: water balance off by %.3g of sum P", name, worst);
    CHECK(wb < TOL, "%s: basin water balance off by %.3g of sum P", name, wb);
    CHECK(worst_gain <= 1e-5 * T, "%s: SM floor created %.3g mm", name, worst_gain);
    CHECK(qsum_all > 0.01 * psum_all && qsum_all < psum_all, "%s: implausible runoff ratio %g", name, qsum_all / psum_all);
    free(forcing); free(ps); free(ol); free(ob);
}

int main(void)
{
    run_case("hard, floor never active", TG_R(0.0), TG_R(0.0), 1, 0);
    run_case("smooth (0.5 C, 1 mm), idem", TG_R(0.5), TG_R(1.0), 1, 0);
    run_case("hard, full parameter ranges", TG_R(0.0), TG_R(0.0), 0, 0);
    run_case("1.1p capillary, hard, idem 1", TG_R(0.0), TG_R(0.0), 1, 1);
    run_case("1.1p capillary, smooth", TG_R(0.5), TG_R(1.0), 1, 1);
    run_case("1.1p capillary, full ranges", TG_R(0.0), TG_R(0.0), 0, 1);
    return tg_test_summary();
}
