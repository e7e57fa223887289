/* The synthetic twin: dPL through the fused HBV op recovers flows on a held-out period
 * (NSE > 0.9) and identifiable parameters. A broken gradient anywhere in the chain
 * (MLP, sigmoid, scaling, HBV backward) leaves the network near its random start. */
#include <math.h>

#include "testutil.h"
#include "train/train_internal.h"

int main(void)
{
    tg_twin_options o;
    tg_twin_defaults(&o);
    o.basins = 24;
    o.train_years = 2;
    o.test_years = 1;
    o.iters = 400;
    tg_twin_result r;
    int rc = tg_twin_run(&o, &r);
    CHECK(rc == 0, "%s", tg_error_message());
    printf("twin: test NSE median %.3f (min %.3f), train %.3f, %.1fs\n", r.nse_test_median, r.nse_test_min,
           r.nse_train_median, r.seconds);
    int good = 0;
    for (int p = 0; p < TG_HBV_NPARAM; p++) {
        printf("  %-7s r = %.3f\n", tg_hbv_param_names[p], r.corr[p]);
        good += r.corr[p] > 0.8;
    }
    CHECK(r.nse_test_median > 0.9, "held-out NSE %.3f", r.nse_test_median);
    CHECK(good >= 3, "only %d parameters recovered with r > 0.8", good);
    return tg_test_summary();
}
