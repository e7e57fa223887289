/* test_nse.c — tg_nse is the library's one NSE: the value tg_metrics_compute reports (bit
 * for bit, real data with gaps), strides equal to contiguous copies, the pairwise
 * missing-data rule (a day with non-finite obs OR sim is left out, as if it were not
 * there), NaN for no valid day or constant observations. tg_median_finite ignores NaN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

int main(void)
{
    /* a year of one basin's observed flow; sim = a damped, shifted copy, with gaps */
    tg_basin b;
    char path[1024];
    snprintf(path, sizeof path, "%s/caravan_camels_us", TG_SHARED_DATA);
    int rc = tg_caravan_read(path, "01022500", &b);
    CHECK(rc == 0, "load: %s", tg_error_message());
    if (rc)
        return tg_test_summary();
    enum { T = 365 };
    double obs[T], sim[T], inter[2 * T];
    int s0 = b.T - T;
    for (int t = 0; t < T; t++) {
        obs[t] = b.var[TG_VAR_Q][s0 + t];
        sim[t] = 0.8 * (double)b.var[TG_VAR_Q][s0 + (t > 0 ? t - 1 : 0)] + 0.1;
    }
    obs[10] = NAN;  /* missing observation */
    sim[20] = NAN;  /* a model failure */
    sim[30] = INFINITY;
    tg_metrics m;
    tg_metrics_compute(obs, sim, T, &m);
    double nse = tg_nse(obs, sim, T, 1, 1);
    CHECK(isfinite(nse) && nse < 1, "nse %g", nse);
    CHECK(memcmp(&nse, &m.nse, sizeof nse) == 0, "tg_nse %.17g != tg_metrics_compute %.17g", nse, m.nse);

    /* pairwise rule: the same as the arrays without days 10, 20, 30 */
    double o2[T], s2[T];
    int n2 = 0;
    for (int t = 0; t < T; t++)
        if (t != 10 && t != 20 && t != 30) {
            o2[n2] = obs[t];
            s2[n2++] = sim[t];
        }
    double nse2 = tg_nse(o2, s2, n2, 1, 1);
    CHECK(memcmp(&nse, &nse2, sizeof nse) == 0, "gaps %.17g != removed days %.17g", nse, nse2);

    /* strides: obs and sim interleaved in one array */
    for (int t = 0; t < T; t++) {
        inter[2 * t] = obs[t];
        inter[2 * t + 1] = sim[t];
    }
    double nse3 = tg_nse(inter, inter + 1, T, 2, 2);
    CHECK(memcmp(&nse, &nse3, sizeof nse) == 0, "strided %.17g != contiguous %.17g", nse3, nse);

    /* perfect simulation, constant obs, nothing valid */
    CHECK(tg_nse(o2, o2, n2, 1, 1) == 1.0, "sim == obs gives %g", tg_nse(o2, o2, n2, 1, 1));
    double c[4] = {0.3, 0.3, NAN, 0.3}, s4[4] = {0.1, 0.2, 0.3, 0.4};
    CHECK(isnan(tg_nse(c, s4, 4, 1, 1)), "constant obs: %g", tg_nse(c, s4, 4, 1, 1));
    double nan4[4] = {NAN, NAN, NAN, NAN};
    CHECK(isnan(tg_nse(s4, nan4, 4, 1, 1)), "no valid day: %g", tg_nse(s4, nan4, 4, 1, 1));

    double med[6] = {3, NAN, 1, 2, INFINITY, 10};
    CHECK(tg_median_finite(med, 6) == 2.5, "median %g", tg_median_finite(med, 6));
    CHECK(isnan(tg_median_finite(nan4, 4)), "median of none");
    tg_basin_free(&b);
    return tg_test_summary();
}
