/* test_hbv_step.c — HBV forward against hand-computed single steps, plus the layout
 * contracts: basin outputs are component means, lanes are independent, results do not
 * depend on the thread count or on static-vs-dynamic storage of equal parameters, and
 * the smooth thresholds tend to the hard ones as the width shrinks. */
#include <omp.h>

#include "test_hbv_common.h"

#ifdef TG_DOUBLE
#define TOL 1e-12
#else
#define TOL 2e-6
#endif

/* Runs one step of one lane and returns the 16 outputs. */
static void one_step(tg_real *out, const double *par, const double *st, double P, double Ta, double PET)
{
    tg_hbv_config c;
    tg_hbv_config_init(&c, 1, 0, 1, 1);
    tg_real ps[TG_HBV_NPARAM], s0[TG_HBV_NSTATE], f[3] = {(tg_real)P, (tg_real)Ta, (tg_real)PET};
    for (int p = 0; p < TG_HBV_NPARAM; p++) ps[p] = (tg_real)par[p];
    for (int k = 0; k < TG_HBV_NSTATE; k++) s0[k] = (tg_real)st[k];
    CHECK(tg_hbv_forward(out, NULL, NULL, NULL, f, ps, NULL, s0, &c) == 0, "forward failed");
}

static void check_outputs(const char *name, const tg_real *o, const double *want)
{
    for (int k = 0; k < TG_HBV_NOUT; k++)
        CHECK(IS_CLOSE(o[k], want[k], TOL, 0), "%s: output %s = %.12g, expected %.12g", name,
              tg_hbv_output_names[k], (double)o[k], want[k]);
}

static void test_hand_steps(void)
{
    /*            BETA FC   K0   K1   K2    LP   PERC UZL TT CFMAX CFR   CWH  BETAET */
    double par[] = {2, 200, 0.5, 0.1, 0.05, 0.5, 2,   10, 0, 3,    0.05, 0.1, 1};
    tg_real o[TG_HBV_NOUT];

    /* Case 1: warm and wet, melt below the snowpack, meltwater to soil, Q0 active.
     * stores SP=10 MW=1 SM=100 SUZ=20 SLZ=30; P=5, T=2, PET=3.
     * rain = 5 (2 >= TT), snow = 0, SP = 10
     * melt = min(relu(3*2), 10) = 6       -> MW = 7, SP = 4
     * refreeze = relu(0.15*(0-2)) = 0
     * tosoil = relu(7 - 0.1*4) = 6.6      -> MW = 0.4
     * wet = (100/200)^2 = 0.25, infil = 11.6, recharge = 2.9, SM = 108.7, excess = 0
     * ef = clamp((108.7/100)^1) = 1, ET = min(108.7, 3) = 3, SM = 105.7
     * SUZ = 20 + 2.9 = 22.9, perc = min(22.9, 2) = 2, SUZ = 20.9
     * Q0 = 0.5*(20.9-10) = 5.45, SUZ = 15.45, Q1 = 1.545, SUZ = 13.905
     * SLZ = 32, Q2 = 1.6, SLZ = 30.4; Q = 8.595
     * balance: P - ET - Q = 5 - 11.595 = -6.595 = dS = -6 - 0.6 + 5.7 - 6.095 + 0.4 */
    double st1[] = {10, 1, 100, 20, 30};
    /*               Q      Q0    Q1     Q2   ET rain snow melt SWE MW   SM     SUZ     SLZ   rech exc perc */
    double want1[] = {8.595, 5.45, 1.545, 1.6, 3, 5,   0,   6,   4,  0.4, 105.7, 13.905, 30.4, 2.9, 0,  2};
    one_step(o, par, st1, 5, 2, 3);
    check_outputs("case 1", o, want1);

    /* Case 2: cold: snow, refreeze limited by potential, ET limited by soil moisture,
     * perc limited by SUZ. BETAET = 2; stores SP=2 MW=0.5 SM=50 SUZ=1 SLZ=10; P=4, T=-3, PET=2.
     * rain = 0, snow = 4, SP = 6; melt = min(relu(-9), 6) = 0
     * refreeze = min(relu(0.15*3), 0.5) = 0.45 -> SP = 6.45, MW = 0.05
     * tosoil = relu(0.05 - 0.645) = 0
     * wet = (50/200)^2, infil = 0 -> recharge = 0, SM = 50, excess = 0
     * ef = (50/100)^2 = 0.25, ET = min(50, 2*0.25) = 0.5, SM = 49.5
     * SUZ = 1, perc = min(1, 2) = 1, SUZ = 0, Q0 = 0.5*relu(-10) = 0, Q1 = 0
     * SLZ = 11, Q2 = 0.55, SLZ = 10.45; Q = 0.55
     * balance: 4 - 1.05 = 2.95 = 4.45 - 0.45 - 0.5 - 1 + 0.45 */
    double par2[TG_HBV_NPARAM];
    memcpy(par2, par, sizeof par);
    par2[TG_HBV_BETAET] = 2;
    double st2[] = {2, 0.5, 50, 1, 10};
    double want2[] = {0.55, 0, 0, 0.55, 0.5, 0, 4, 0, 6.45, 0.05, 49.5, 0, 10.45, 0, 0, 1};
    one_step(o, par2, st2, 4, -3, 2);
    check_outputs("case 2", o, want2);

    /* Case 3: storm on a small snowpack: melt limited by the pack, FC overflow.
     * BETA = 1; stores SP=2 MW=0 SM=150 SUZ=5 SLZ=0; P=250, T=10, PET=4.
     * rain = 250; melt = min(30, 2) = 2 -> MW = 2, SP = 0; refreeze = 0
     * tosoil = relu(2 - 0) = 2, MW = 0; infil = 252
     * wet = 150/200 = 0.75, recharge = 189, SM = 150 + 252 - 189 = 213
     * excess = 13, SM = 200; ef = clamp(200/100) = 1, ET = 4, SM = 196
     * SUZ = 5 + 189 + 13 = 207, perc = 2, SUZ = 205, Q0 = 0.5*195 = 97.5, SUZ = 107.5
     * Q1 = 10.75, SUZ = 96.75; SLZ = 2, Q2 = 0.1, SLZ = 1.9; Q = 108.35
     * balance: 250 - 112.35 = 137.65 = -2 + 0 + 46 + 91.75 + 1.9 */
    double par3[TG_HBV_NPARAM];
    memcpy(par3, par, sizeof par);
    par3[TG_HBV_BETA] = 1;
    double st3[] = {2, 0, 150, 5, 0};
    double want3[] = {108.35, 97.5, 10.75, 0.1, 4, 250, 0, 2, 0, 0, 196, 96.75, 1.9, 189, 13, 2};
    one_step(o, par3, st3, 250, 10, 4);
    check_outputs("case 3", o, want3);

    /* Case 4: SM floor: a nearly empty soil with high PET: ET = min(SM, PET ef) takes all
     * of it, SM = max(0, 1e-5). BETAET = 0.3, LP = 0.2; stores SM = 0.001, others 0.
     * wet = (0.001/200)^2 ~ 2.5e-11, infil = 0; ef = clamp((0.001/40)^0.3) = 0.0395..,
     * PET = 100 -> PET ef = 3.95 > SM, ET = 0.001, SM = 1e-5 */
    double par4[TG_HBV_NPARAM];
    memcpy(par4, par, sizeof par);
    par4[TG_HBV_BETAET] = 0.3;
    par4[TG_HBV_LP] = 0.2;
    double st4[] = {0, 0, 0.001, 0, 0};
    one_step(o, par4, st4, 0, 5, 100);
    CHECK_CLOSE(o[TG_HBV_ET], 0.001, TOL, 0);
    CHECK_CLOSE(o[TG_HBV_SM], 1e-5, TOL, 0);
}

/* Many lanes in blocks: basin means, lane independence, thread count, dynamic storage. */
static void test_layout(void)
{
    const int T = 200, W = 50, B = 37, M = 5, L = B * M;   /* B, M odd: ragged blocks */
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, M);
    tg_real *forcing = hbvt_alloc((size_t)T * B * 3);
    for (int b = 0; b < B; b++)
        CHECK(hbvt_load_forcing("caravan_camels_us/timeseries/01022500.csv", 40 * b, T, forcing, B, b) == 0, "forcing");
    tg_real *ps = hbvt_alloc((size_t)TG_HBV_NPARAM * L);
    tg_rng r;
    tg_rng_seed(&r, 11);
    hbvt_random_params(ps, L, &r, 0.0, 1.0);
    size_t no = (size_t)(T - W) * TG_HBV_NOUT;
    tg_real *ob1 = hbvt_alloc(no * B), *ol1 = hbvt_alloc(no * L), *sf1 = hbvt_alloc(5 * (size_t)L);
    tg_real *ob2 = hbvt_alloc(no * B), *ol2 = hbvt_alloc(no * L), *sf2 = hbvt_alloc(5 * (size_t)L);

    omp_set_num_threads(1);
    CHECK(tg_hbv_forward(ob1, ol1, sf1, NULL, forcing, ps, NULL, NULL, &c) == 0, "forward");
    omp_set_num_threads(2);
    CHECK(tg_hbv_forward(ob2, ol2, sf2, NULL, forcing, ps, NULL, NULL, &c) == 0, "forward");
    CHECK(memcmp(ob1, ob2, no * B * sizeof(tg_real)) == 0, "basin outputs differ between 1 and 2 threads");
    CHECK(memcmp(ol1, ol2, no * L * sizeof(tg_real)) == 0, "lane outputs differ between 1 and 2 threads");
    CHECK(memcmp(sf1, sf2, 5 * (size_t)L * sizeof(tg_real)) == 0, "final states differ");
    /* the AVX2 loops (forced) give the same bits as the AVX-512 ones (where those run) */
    if (tg_cpu_level() == TG_CPU_AVX512) {
        setenv("TG_CPU", "avx2", 1);
        CHECK(tg_hbv_forward(ob2, ol2, sf2, NULL, forcing, ps, NULL, NULL, &c) == 0, "forward");
        unsetenv("TG_CPU");
        CHECK(memcmp(ol1, ol2, no * L * sizeof(tg_real)) == 0, "lane outputs differ between AVX2 and AVX-512 loops");
    }

    /* basin output = mean over its components; final states = last state outputs */
    double worst = 0;
    for (size_t t = 0; t < (size_t)(T - W); t++)
        for (int k = 0; k < TG_HBV_NOUT; k++)
            for (int b = 0; b < B; b++) {
                double s = 0;
                for (int m = 0; m < M; m++) s += (double)ol1[(t * TG_HBV_NOUT + (size_t)k) * L + (size_t)(b * M + m)];
                double e = fabs(s / M - (double)ob1[(t * TG_HBV_NOUT + (size_t)k) * B + (size_t)b]) / fmax(1.0, fabs(s / M));
                if (e > worst) worst = e;
            }
    CHECK(worst < TOL * 10, "basin means off by %g", worst);
    const int so[5] = {TG_HBV_SWE, TG_HBV_MELTWATER, TG_HBV_SM, TG_HBV_SUZ, TG_HBV_SLZ};
    for (int k = 0; k < 5; k++)
        CHECK(sf1[k * L + 7] == ol1[((size_t)(T - W - 1) * TG_HBV_NOUT + (size_t)so[k]) * L + 7], "final state %d", k);

    /* one lane run alone (B = M = 1) gives the same numbers as inside the big run */
    int lane = 3 * M + 2, b = lane / M;
    tg_hbv_config c1;
    tg_hbv_config_init(&c1, T, W, 1, 1);
    tg_real f1[3 * 200], p1[TG_HBV_NPARAM], *o1 = hbvt_alloc(no);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < 3; k++) f1[t * 3 + k] = forcing[((size_t)t * B + (size_t)b) * 3 + (size_t)k];
    for (int p = 0; p < TG_HBV_NPARAM; p++) p1[p] = ps[p * L + lane];
    CHECK(tg_hbv_forward(NULL, o1, NULL, NULL, f1, p1, NULL, NULL, &c1) == 0, "forward");
    int same = 1;
    for (size_t t = 0; t < (size_t)(T - W); t++)
        for (int k = 0; k < TG_HBV_NOUT; k++)
            same &= o1[t * TG_HBV_NOUT + (size_t)k] == ol1[(t * TG_HBV_NOUT + (size_t)k) * L + (size_t)lane];
    CHECK(same, "lane %d alone differs from lane %d in the block run", lane, lane);

    /* every parameter dynamic with the static values repeated: identical results */
    tg_hbv_config cd = c;
    cd.dynamic = TG_HBV_ALL_PARAMS;
    tg_real *pd = hbvt_alloc((size_t)(T - W) * TG_HBV_NPARAM * L), *obd = hbvt_alloc(no * B);
    for (int t = 0; t < T - W; t++)
        memcpy(pd + (size_t)t * TG_HBV_NPARAM * L, ps, sizeof(tg_real) * TG_HBV_NPARAM * L);
    CHECK(tg_hbv_forward(obd, NULL, NULL, NULL, forcing, ps, pd, NULL, &cd) == 0, "forward");
    CHECK(memcmp(obd, ob1, no * B * sizeof(tg_real)) == 0, "dynamic copy of static parameters changes results");
    /* a dynamic parameter changed only after step W+10 leaves the first 10 outputs alone */
    for (int t = 10; t < T - W; t++)
        for (int l = 0; l < L; l++) pd[((size_t)t * TG_HBV_NPARAM + TG_HBV_K2) * L + (size_t)l] *= TG_R(0.5);
    CHECK(tg_hbv_forward(obd, NULL, NULL, NULL, forcing, ps, pd, NULL, &cd) == 0, "forward");
    CHECK(memcmp(obd, ob1, 10 * TG_HBV_NOUT * (size_t)B * sizeof(tg_real)) == 0, "dynamic change leaked backwards");
    int changed = 0;
    for (int b2 = 0; b2 < B; b2++)
        changed += obd[(size_t)(12 * TG_HBV_NOUT + TG_HBV_Q2) * B + (size_t)b2] != ob1[(size_t)(12 * TG_HBV_NOUT + TG_HBV_Q2) * B + (size_t)b2];
    CHECK(changed > B / 2, "dynamic K2 changed Q2 in only %d of %d basins", changed, B);

    /* smooth thresholds with tiny widths approach the hard model */
    tg_hbv_config cs = c;
    cs.smooth_temp = TG_R(1e-4);
    cs.smooth_store = TG_R(1e-4);
    CHECK(tg_hbv_forward(ob2, NULL, NULL, NULL, forcing, ps, NULL, NULL, &cs) == 0, "forward");
    double worstq = 0, qsum = 0;
    for (size_t t = 0; t < (size_t)(T - W); t++)
        for (int bb = 0; bb < B; bb++) {
            size_t i = (t * TG_HBV_NOUT + TG_HBV_Q) * B + (size_t)bb;
            worstq = fmax(worstq, fabs((double)ob2[i] - (double)ob1[i]));
            qsum += (double)ob1[i];
        }
    CHECK(worstq < 1e-3 * qsum / ((T - W) * B) + 1e-6, "smooth(1e-4) vs hard: max |dQ| = %g (mean Q %g)", worstq, qsum / ((T - W) * B));
    /* the widths the docs suggest change Q, but not wildly */
    cs.smooth_temp = TG_R(0.5);
    cs.smooth_store = TG_R(1.0);
    CHECK(tg_hbv_forward(ob2, NULL, NULL, NULL, forcing, ps, NULL, NULL, &cs) == 0, "forward");
    double d = 0, s = 0;
    for (size_t t = 0; t < (size_t)(T - W); t++)
        for (int bb = 0; bb < B; bb++) {
            size_t i = (t * TG_HBV_NOUT + TG_HBV_Q) * B + (size_t)bb;
            d += fabs((double)ob2[i] - (double)ob1[i]);
            s += (double)ob1[i];
        }
    CHECK(d > 1e-6 * s && d < 0.2 * s, "smooth(0.5 C, 1 mm) changes Q by %g of %g", d, s);

    /* basin_outputs = Q only: the Q row as before, other rows untouched */
    tg_hbv_config cq = c;
    cq.basin_outputs = 1u << TG_HBV_Q;
    for (size_t i = 0; i < no * B; i++) ob2[i] = TG_R(-7.0);
    CHECK(tg_hbv_forward(ob2, NULL, NULL, NULL, forcing, ps, NULL, NULL, &cq) == 0, "forward");
    int qsame = 1, untouched = 1;
    for (size_t t = 0; t < (size_t)(T - W); t++)
        for (int k = 0; k < TG_HBV_NOUT; k++)
            for (int bb = 0; bb < B; bb++) {
                size_t i = (t * TG_HBV_NOUT + (size_t)k) * B + (size_t)bb;
                if (k == TG_HBV_Q) qsame &= ob2[i] == ob1[i];
                else untouched &= ob2[i] == TG_R(-7.0);
            }
    CHECK(qsame && untouched, "basin_outputs mask: Q same %d, others untouched %d", qsame, untouched);
    /* ... and the backward of a Q seed is the same with and without the mask */
    {
        tg_real *hist = hbvt_alloc(tg_hbv_hist_size(&c)), *g = hbvt_alloc(no * B);
        tg_real *gp1 = hbvt_alloc(TG_HBV_NPARAM * (size_t)L), *gp2 = hbvt_alloc(TG_HBV_NPARAM * (size_t)L);
        for (size_t t = 0; t < (size_t)(T - W); t++)
            for (int bb = 0; bb < B; bb++) g[(t * TG_HBV_NOUT + TG_HBV_Q) * B + (size_t)bb] = TG_R(1.0) + (tg_real)(bb % 3);
        CHECK(tg_hbv_forward(ob2, NULL, NULL, hist, forcing, ps, NULL, NULL, &c) == 0, "forward");
        CHECK(tg_hbv_backward(gp1, NULL, NULL, NULL, g, NULL, NULL, hist, forcing, ps, NULL, &c) == 0, "backward");
        CHECK(tg_hbv_backward(gp2, NULL, NULL, NULL, g, NULL, NULL, hist, forcing, ps, NULL, &cq) == 0, "backward");
        CHECK(memcmp(gp1, gp2, TG_HBV_NPARAM * (size_t)L * sizeof(tg_real)) == 0, "masked backward differs");
        memset(gp2, 0, TG_HBV_NPARAM * (size_t)L * sizeof(tg_real));
        if (tg_cpu_level() == TG_CPU_AVX512) {
            setenv("TG_CPU", "avx2", 1);   /* AVX2 loops: same bits */
            CHECK(tg_hbv_backward(gp2, NULL, NULL, NULL, g, NULL, NULL, hist, forcing, ps, NULL, &c) == 0, "backward");
            unsetenv("TG_CPU");
            CHECK(memcmp(gp1, gp2, TG_HBV_NPARAM * (size_t)L * sizeof(tg_real)) == 0, "AVX2 and AVX-512 backward differ");
        }
        double gabs = 0;
        for (int i = 0; i < TG_HBV_NPARAM * L; i++) gabs += fabs((double)gp1[i]);
        CHECK(gabs > 0, "zero gradient");
        free(hist); free(g); free(gp1); free(gp2);
    }

    /* config validation */
    tg_hbv_config bad = c;
    bad.warmup = T;
    CHECK(tg_hbv_config_check(&bad) == TG_EINVAL, "warmup = T must be rejected");
    bad = c;
    bad.dynamic = 1u << 13;
    CHECK(tg_hbv_config_check(&bad) == TG_EINVAL, "dynamic bit 13 must be rejected");
    CHECK(tg_hbv_config_check(&c) == 0, "valid config rejected: %s", tg_error_message());
    CHECK(tg_hbv_hist_size(&c) == (size_t)(T - W) * 5 * L, "hist size");

    free(forcing); free(ps); free(ob1); free(ol1); free(sf1); free(ob2); free(ol2); free(sf2);
    free(o1); free(pd); free(obd);
}

/* The [0,1] -> physical map and its backward. */
static void test_scale(void)
{
    const int L = 3;
    tg_real u[TG_HBV_NPARAM * 3], ph[TG_HBV_NPARAM * 3], g[TG_HBV_NPARAM * 3], gu[TG_HBV_NPARAM * 3];
    for (int i = 0; i < TG_HBV_NPARAM * L; i++) { u[i] = TG_R(0.25) * (tg_real)(i % 5); g[i] = TG_R(1.0); gu[i] = TG_R(0.0); }
    tg_hbv_scale_forward(ph, u, 1, TG_HBV_ALL_PARAMS, L);
    CHECK_CLOSE(ph[TG_HBV_FC * L + 1], 50 + (double)u[TG_HBV_FC * L + 1] * 950, 4 * TG_TEST_EPS, 0);
    CHECK_CLOSE(ph[TG_HBV_TT * L + 0], -2.5 + (double)u[TG_HBV_TT * L] * 5, 4 * TG_TEST_EPS, 0);
    tg_hbv_scale_backward(gu, g, 1, TG_HBV_ALL_PARAMS, L);
    CHECK_CLOSE(gu[TG_HBV_FC * L + 2], 950, 4 * TG_TEST_EPS, 0);
    /* masked layout: BETA and BETAET rows only, two time rows */
    uint32_t mask = TG_HBV_DYNAMIC_DEFAULT;
    tg_hbv_scale_forward(ph, u, 2, mask, L);
    CHECK_CLOSE(ph[1 * L + 0], 0.3 + (double)u[L] * 4.7, 4 * TG_TEST_EPS, 0);          /* row 1 = BETAET */
    CHECK_CLOSE(ph[2 * L + 1], 1.0 + (double)u[2 * L + 1] * 5.0, 4 * TG_TEST_EPS, 0);  /* row 2 = BETA, t = 1 */
}

int main(void)
{
    test_hand_steps();
    test_layout();
    test_scale();
    return tg_test_summary();
}
