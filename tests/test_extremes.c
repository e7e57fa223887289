/* test_extremes.c — tg_extremes_find (src/eval/extremes.c) on synthetic series whose
 * answers are known by construction:
 *   training 1981-1982: flow 1 with one peak of 10 (the training maximum), so 1982's mean
 *   (exactly 1) is the driest training year;
 *   test 1983-1985, flow 1 except:
 *     flood A: obs peak 15 (1.5 x the training max); sim peaks 10 % low one day late
 *       -> peak error -0.1, timing +1; a second obs peak of 11 four days later (closer than
 *       `distance`) is not an event of its own; event volume from the sums by hand;
 *     flood C: obs 20, sim 24 on the same day -> +0.2, timing 0;
 *     a peak of 9 (below the training max): no event;
 *     1984: flow 0.5 until day-of-year 200, then 1: below the driest training year; sim =
 *       obs + 0.1 -> low-flow error on the lowest 30 % of days (all 0.5) = 0.1 / 0.5 = 0.2;
 *   then 1984 made wet: no year below the record, the driest year (1985: 1 + 19/365, 1983
 *   has 1 + 32/365) with record 0. */
#include <math.h>
#include <stdlib.h>

#include "testutil.h"
#include "terragrad.h"

static void test_synthetic(void)
{
    const int t0 = tg_date_from_ymd(1981, 1, 1), t1 = tg_date_from_ymd(1982, 12, 31);
    const int s0 = tg_date_from_ymd(1983, 1, 1), s1 = tg_date_from_ymd(1985, 12, 31);
    const int nt = t1 - t0 + 1, n = s1 - s0 + 1;
    double *tr = malloc((size_t)nt * sizeof *tr), *obs = malloc((size_t)n * sizeof *obs);
    double *sim = malloc((size_t)n * sizeof *sim);
    for (int t = 0; t < nt; t++)
        tr[t] = 1;
    tr[100] = 10;
    tr[200] = NAN; /* a missing training day changes nothing */
    for (int t = 0; t < n; t++) {
        int y, m, d;
        tg_date_to_ymd(s0 + t, &y, &m, &d);
        obs[t] = y == 1984 ? (tg_date_doy(s0 + t) < 200 ? 0.5 : 1.0) : 1.0;
        sim[t] = y == 1984 ? obs[t] + 0.1 : 1.0;
    }
    const int a = 150, c = tg_date_from_ymd(1985, 6, 1) - s0, low = 250;
    obs[a] = 15, sim[a + 1] = 13.5;
    obs[a + 4] = 11, sim[a + 4] = 11;
    obs[c] = 20, sim[c] = 24;
    obs[low] = 9;
    obs[600] = NAN; /* a missing test day (1984) */
    tg_extreme ev[16];
    int k = tg_extremes_find(tr, nt, t0, obs, sim, n, s0, NULL, ev, 16);
    CHECK(k == 3, "events: %d (want floods A, C and the dry year 1984)", k);
    if (k != 3)
        goto done;
    CHECK(ev[0].kind == TG_EXTREME_PEAK && ev[0].day == a && ev[0].record == 1, "flood A at %d", ev[0].day);
    CHECK_CLOSE(ev[0].peak_error, -0.1, 1e-12, 0);
    CHECK_EXACT(ev[0].timing, 1);
    /* window a-3 .. a+7 (11 days): obs 9 x 1 + 15 + 11 = 35, sim 9 x 1 + 13.5 + 11 = 33.5 */
    CHECK_CLOSE(ev[0].volume_error, (33.5 - 35) / 35, 1e-12, 0);
    CHECK(ev[1].kind == TG_EXTREME_PEAK && ev[1].day == c, "flood C at %d (want %d)", ev[1].day, c);
    CHECK_CLOSE(ev[1].peak_error, 0.2, 1e-12, 0);
    CHECK_EXACT(ev[1].timing, 0);
    CHECK_CLOSE(ev[1].volume_error, 4.0 / 30, 1e-12, 0); /* obs 10 x 1 + 20, sim 10 x 1 + 24 */
    CHECK(ev[2].kind == TG_EXTREME_DRY_YEAR && ev[2].day == 1984 && ev[2].record == 1, "dry year %d record %d",
          ev[2].day, ev[2].record);
    CHECK_CLOSE(ev[2].low_flow_error, 0.2, 1e-12, 0);
    /* 1984: 198 days of 0.5 (doy 1..199, one missing: 600 - 365 = doy 236 is in the wet part) */
    CHECK_CLOSE(ev[2].obs, (199 * 0.5 + 166 * 1.0) / 365, 1e-12, 0);

    /* a wet 1984: no test year below 1982's mean of 1 -> the driest (1985), record 0 */
    for (int t = 0; t < n; t++) {
        int y, m, d;
        tg_date_to_ymd(s0 + t, &y, &m, &d);
        if (y == 1984 && t != 600)
            obs[t] = 1.2, sim[t] = 1.2;
    }
    k = tg_extremes_find(tr, nt, t0, obs, sim, n, s0, NULL, ev, 16);
    CHECK(k == 3 && ev[2].kind == TG_EXTREME_DRY_YEAR && ev[2].day == 1985 && ev[2].record == 0,
          "wet 1984: %d events, last year %d record %d", k, k > 2 ? ev[2].day : -1, k > 2 ? ev[2].record : -1);
    /* max = 1: the count is still returned, one event written */
    CHECK(tg_extremes_find(tr, nt, t0, obs, sim, n, s0, NULL, ev, 1) == 3, "count with max 1");
    tg_extremes_options o;
    tg_extremes_defaults(&o);
    o.distance = 0;
    CHECK(tg_extremes_find(tr, nt, t0, obs, sim, n, s0, &o, ev, 16) == -1 && tg_error_code() == TG_EINVAL,
          "distance 0 is an error");
    tg_error_clear();
done:
    free(tr), free(obs), free(sim);
}

int main(void)
{
    test_synthetic();
    return tg_test_summary();
}
