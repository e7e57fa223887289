/* test_hbv_peer.c — our HBV + routing forward against the PyTorch peer
 * (/work/shared/peer/hbv_torch.py, run in float64 by tests/fixtures/gen_hbv_fixture.py on
 * real forcing: two snowy basins, 3 components, 60 warm-up + 180 output days). Every
 * output (component means) and the routed Q must agree: to 1e-9 of the output's scale in
 * the double build (the two codes differ only in pow/exp/log rounding), 1e-3 in float. */
#include "test_hbv_common.h"

#ifdef TG_DOUBLE
#define TOL 1e-9
#else
#define TOL 1e-4
#endif

/* Reads a numeric CSV with one header line into rows x cols doubles; returns rows or -1. */
static int read_csv(const char *name, int cols, double *dst, int max_rows)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", TG_SOURCE_DIR, name);
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return -1; }
    char line[4096];
    int rows = 0;
    if (!fgets(line, sizeof line, f)) { fclose(f); return -1; }
    while (rows < max_rows && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        for (int c = 0; c < cols; c++) {
            dst[rows * cols + c] = strtod(p, &end);
            if (end == p) { fclose(f); fprintf(stderr, "%s: bad field %d on row %d\n", name, c, rows + 2); return -1; }
            p = *end == ',' ? end + 1 : end;
        }
        rows++;
    }
    fclose(f);
    return rows;
}

int main(void)
{
    enum { B = 2, M = 3, T = 240, W = 60, L = B * M, TW = T - W };
    static double fr[T * B * 5], pr[L * (2 + TG_HBV_NPARAM)], rr[B * 3], orow[TW * B * 19];
    CHECK(read_csv("hbv_peer_forcing.csv", 5, fr, T * B) == T * B, "forcing rows");
    CHECK(read_csv("hbv_peer_params.csv", 2 + TG_HBV_NPARAM, pr, L) == L, "param rows");
    CHECK(read_csv("hbv_peer_route.csv", 3, rr, B) == B, "route rows");
    CHECK(read_csv("hbv_peer_out.csv", 19, orow, TW * B) == TW * B, "output rows");
    if (tg_test_failed) return tg_test_summary();

    tg_real forcing[T * B * 3], ps[TG_HBV_NPARAM * L], a[B], th[B];
    for (int i = 0; i < T * B; i++) {
        int t = (int)fr[i * 5], b = (int)fr[i * 5 + 1];
        for (int k = 0; k < 3; k++) forcing[(t * B + b) * 3 + k] = (tg_real)fr[i * 5 + 2 + k];
    }
    for (int i = 0; i < L; i++) {
        int l = (int)pr[i * 15] * M + (int)pr[i * 15 + 1];
        for (int p = 0; p < TG_HBV_NPARAM; p++) ps[p * L + l] = (tg_real)pr[i * 15 + 2 + p];
    }
    for (int b = 0; b < B; b++) { a[(int)rr[b * 3]] = (tg_real)rr[b * 3 + 1]; th[(int)rr[b * 3]] = (tg_real)rr[b * 3 + 2]; }

    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, M);
    static tg_real ob[TW * TG_HBV_NOUT * B], qr[TW * B];
    tg_real w[B * TG_UH_LEN];
    CHECK(tg_hbv_forward(ob, NULL, NULL, NULL, forcing, ps, NULL, NULL, &c) == 0, "forward");
    tg_uh_gamma_forward(w, a, th, B);
    tg_uh_conv_forward(qr, B, ob + TG_HBV_Q * B, TG_HBV_NOUT * B, w, TW, B);

    /* fixture columns 3.. : Q_routed then our outputs in enum order (Q, Q0, ..., perc) */
    double worst = 0;
    const char *wname = "";
    int active[TG_HBV_NOUT + 1] = {0};
    for (int col = 0; col <= TG_HBV_NOUT; col++) {
        double scale = 0;
        for (int i = 0; i < TW * B; i++) scale = fmax(scale, fabs(orow[i * 19 + 2 + col]));
        for (int i = 0; i < TW * B; i++) {
            int t = (int)orow[i * 19], b = (int)orow[i * 19 + 1];
            double ref = orow[i * 19 + 2 + col];
            double got = col == 0 ? (double)qr[t * B + b] : (double)ob[(t * TG_HBV_NOUT + col - 1) * B + b];
            double e = fabs(got - ref) / fmax(scale, 1e-6);
            active[col] += ref != 0.0;
            if (e > worst) { worst = e; wname = col == 0 ? "Q_routed" : tg_hbv_output_names[col - 1]; }
        }
    }
    printf("worst deviation from the PyTorch peer: %.2e of the output's range (%s)\n", worst, wname);
    CHECK(worst < TOL, "peer mismatch %.3g in %s", worst, wname);
    /* the fixture exercises every process */
    for (int col = 0; col <= TG_HBV_NOUT; col++)
        CHECK(active[col] > 0, "fixture column %d is all zero", col);
    return tg_test_summary();
}
