/* test_richards_adjoint.c — the discrete adjoint of the Richards solver against central
 * finite differences, for a water-content misfit, with respect to EVERY soil parameter,
 * every boundary value of every step and every cell of the initial state, in three set-ups
 * that cover all boundary kinds and both soil models:
 *   A: van Genuchten–Mualem, infiltration flux on top, free drainage below, 2 columns;
 *   B: Haverkamp (Celia), Dirichlet heads on both ends;
 *   C: van Genuchten–Mualem, ponded head on top, upward flux from below, free-drainage top
 *      variant swapped in for a second run.
 * Tolerance (double build): rel err < 1e-6 against a fourth-order central difference
 * (step 1e-4 relative), where a gradient more than 1e3 times smaller than the largest of
 * its group (parameters / boundary values / initial state) must agree to 1e-9 of that
 * largest one instead: the loss's own rounding (~1e-16 L) limits what FD can resolve.
 * Also: checkpointed and stored runs give identical gradients; the float build checks the
 * same gradients loosely (FD in float resolves ~1e-2, and only gradients within 10x of
 * the largest of their group). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifdef TG_DOUBLE
#define GTOL 1e-6
#define FDH 1e-4
#define FLOOR 1e-3
#else
#define GTOL 0.25 /* a smoke test: float FD noise reaches 10-20% on small gradients */
#define FDH 1e-2
#define FLOOR 1e-1
#endif

enum { MAXB = 2, MAXN = 24, MAXT = 30, MAXOBS = 32 };

typedef struct {
    const char *name;
    const tg_soil *soil;
    int B, N, T, bc_top, bc_bottom;
    double depth, dt;
    tg_real p[MAXB * 7];
    tg_real psi0[MAXB * MAXN];
    tg_real u[MAXT * MAXB * 2];
    int n_obs, ot[MAXOBS], olane[MAXOBS], ocell[MAXOBS];
    tg_real oval[MAXOBS];
    tg_real dts[MAXT];
} setup;

static tg_richards model_of(setup *s)
{
    for (int t = 0; t < s->T; t++)
        s->dts[t] = (tg_real)s->dt;
    tg_richards m = {s->soil, s->N, (tg_real)s->depth, s->bc_top, s->bc_bottom, s->T, s->dts};
    return m;
}

static double run_loss(setup *s, int ckpt, tg_real *g /* P, U, x0 or NULL */, double *mass)
{
    tg_richards m = model_of(s);
    tg_implicit_fns f;
    tg_richards_fns(&m, &f);
    tg_richards_obs obs = {&m, s->p, s->n_obs, s->ot, s->olane, s->ocell, s->oval, 1.0, 0};
    tg_implicit_traj *tr = NULL;
    int rc = tg_implicit_traj_forward(&f, &m, s->B, s->T, s->psi0, s->p, s->u, NULL, ckpt,
                                      tg_richards_obs_observe, &obs, g ? &tr : NULL, NULL);
    if (rc) {
        fprintf(stderr, "%s: %s\n", s->name, tg_error_message());
        return NAN;
    }
    if (g) {
        const int P = s->soil->P;
        rc = tg_implicit_traj_backward(tr, tg_richards_obs_grad, &obs, g + s->B * P + s->T * s->B * 2,
                                       g, g + s->B * P);
        CHECK(rc == 0, "%s backward: %s", s->name, tg_error_message());
        tg_implicit_traj_free(&tr);
    }
    if (mass) {
        double me[MAXB];
        rc = tg_richards_simulate(&m, s->B, s->psi0, s->p, s->u, NULL, NULL, me, NULL);
        CHECK(rc == 0, "%s simulate: %s", s->name, tg_error_message());
        *mass = 0;
        for (int b = 0; b < s->B; b++)
            *mass = fmax(*mass, fabs(me[b]));
    }
    return obs.loss;
}

static void check_setup(setup *s)
{
    const int P = s->soil->P, nP = s->B * P, nU = s->T * s->B * 2, nX = s->B * s->N;
    const int total = nP + nU + nX;
    tg_real *g = calloc((size_t)total, sizeof *g), *g2 = calloc((size_t)total, sizeof *g2);
    double mass = 1;
    double L = run_loss(s, 1, g, &mass);
    CHECK(isfinite(L) && L > 0, "%s: loss %g", s->name, L);
#ifdef TG_DOUBLE
    CHECK(mass < 1e-6, "%s: mass balance error %g", s->name, mass);
#else
    CHECK(mass < 1e-3, "%s: mass balance error %g", s->name, mass);
#endif
    /* checkpointing changes memory, not the answer */
    run_loss(s, -1, g2, NULL);
    double dmax = 0;
    for (int i = 0; i < total; i++)
        dmax = fmax(dmax, fabs((double)(g[i] - g2[i])));
    CHECK(dmax == 0, "%s: checkpointed gradient differs by %g", s->name, dmax);

    /* central differences, group by group */
    tg_real *vars[3] = {s->p, s->u, s->psi0};
    int sizes[3] = {nP, nU, nX}, off = 0;
    const char *gname[3] = {"parameter", "boundary value", "initial head"};
    for (int v = 0; v < 3; v++) {
        double gmax = 0, worst = 0;
        for (int i = 0; i < sizes[v]; i++)
            gmax = fmax(gmax, fabs((double)g[off + i]));
        for (int i = 0; i < sizes[v]; i++) {
            /* boundary values unused by a boundary kind have no effect: the adjoint must be 0 */
            tg_real keep = vars[v][i];
            double h = FDH * (keep != 0 ? fabs((double)keep) : 1e-2), l[4];
            const double k4[4] = {-2, -1, 1, 2};
            for (int j = 0; j < 4; j++) {
                vars[v][i] = (tg_real)((double)keep + k4[j] * h);
                l[j] = run_loss(s, 1, NULL, NULL);
            }
            vars[v][i] = keep;
            /* fourth-order stencil: truncation ~h⁴, so h can be large enough that the
             * loss's rounding (~1e-16 L) stays far below the differences */
            double fd = (l[0] - 8 * l[1] + 8 * l[2] - l[3]) / (12 * h), an = (double)g[off + i];
            double e = tg_rel_err(an, fd, FLOOR * gmax);
            worst = fmax(worst, e);
            if (v == 0)
                CHECK(e < GTOL, "%s: %s %s (lane %d): adjoint %.10g fd %.10g", s->name, gname[v],
                      s->soil->param_names[i % P], i / P, an, fd);
            else
                CHECK(e < GTOL, "%s: %s %d: adjoint %.10g fd %.10g", s->name, gname[v], i, an, fd);
        }
        printf("%s: %-14s gradients (%3d): worst rel err vs FD %.2e (max |g| %.3e)\n", s->name,
               gname[v], sizes[v], worst, gmax);
        off += sizes[v];
    }
    printf("%s: loss %.6e, mass balance error %.2e\n", s->name, L, mass);
    free(g);
    free(g2);
}

static void obs_grid(setup *s, const int *cells, int nc, const int *times, int nt, tg_real value)
{
    s->n_obs = 0;
    for (int b = 0; b < s->B; b++)
        for (int c = 0; c < nc; c++)
            for (int k = 0; k < nt; k++) {
                int o = s->n_obs++;
                s->ot[o] = times[k];
                s->olane[o] = b;
                s->ocell[o] = cells[c];
                s->oval[o] = value + TG_R(0.01) * (tg_real)(c - k);
            }
}

int main(void)
{
    static setup A, B, C;
    /* ---- A: loam and sandy loam (cm, s), 100 cm, rain pulse then drying */
    A.name = "A vgm flux/free";
    A.soil = &tg_soil_vgm;
    A.B = 2, A.N = 20, A.T = 24, A.depth = 100, A.dt = 600;
    A.bc_top = TG_BC_FLUX, A.bc_bottom = TG_BC_FREE_DRAINAGE;
    tg_real pa[10] = {0.036, 1.56, 2.89e-4, 0.078, 0.43, 0.075, 1.89, 1.228e-3, 0.065, 0.41};
    memcpy(A.p, pa, sizeof pa);
    for (int b = 0; b < A.B; b++)
        for (int i = 0; i < A.N; i++)
            A.psi0[b * A.N + i] = (tg_real)(-120.0 + 0.8 * (i + 0.5) * 5.0 - 15.0 * b);
    for (int t = 0; t < A.T; t++)
        for (int b = 0; b < A.B; b++) {
            A.u[(t * A.B + b) * 2] = t < 10 ? TG_R(4e-4) * (tg_real)(1 + b) : TG_R(1e-5);
            A.u[(t * A.B + b) * 2 + 1] = 0; /* unused by free drainage */
        }
    int ca[3] = {18, 14, 9}, ta[4] = {6, 12, 18, 24};
    obs_grid(&A, ca, 3, ta, 4, TG_R(0.25));
    check_setup(&A);

    /* ---- B: Celia's soil on a coarse grid, Dirichlet both ends, head varied in time */
    B.name = "B haverkamp dirichlet";
    B.soil = &tg_soil_haverkamp;
    B.B = 1, B.N = 16, B.T = 12, B.depth = 40, B.dt = 15;
    B.bc_top = TG_BC_DIRICHLET, B.bc_bottom = TG_BC_DIRICHLET;
    tg_real pb[7] = {1.611e6, 3.96, 0.00944, 0.075, 0.287, 1.175e6, 4.74};
    memcpy(B.p, pb, sizeof pb);
    for (int i = 0; i < B.N; i++)
        B.psi0[i] = TG_R(-61.5);
    for (int t = 0; t < B.T; t++) {
        B.u[2 * t] = TG_R(-20.7) - TG_R(0.5) * (tg_real)t;
        B.u[2 * t + 1] = TG_R(-61.5);
    }
    int cb[3] = {15, 12, 10}, tb[3] = {4, 8, 12};
    obs_grid(&B, cb, 3, tb, 3, TG_R(0.2));
    check_setup(&B);

    /* ---- C: ponding on top (Dirichlet), capillary rise from below (flux) */
    C.name = "C vgm dirichlet/flux";
    C.soil = &tg_soil_vgm;
    C.B = 1, C.N = 12, C.T = 10, C.depth = 60, C.dt = 120;
    C.bc_top = TG_BC_DIRICHLET, C.bc_bottom = TG_BC_FLUX;
    tg_real pc[5] = {0.02, 1.41, 1.2e-4, 0.09, 0.46};
    memcpy(C.p, pc, sizeof pc);
    for (int i = 0; i < C.N; i++)
        C.psi0[i] = TG_R(-200.0) + TG_R(3.0) * (tg_real)i;
    for (int t = 0; t < C.T; t++) {
        C.u[2 * t] = TG_R(-5.0);
        C.u[2 * t + 1] = TG_R(2e-5);
    }
    int cc[4] = {11, 9, 2, 0}, tc[3] = {3, 7, 10};
    obs_grid(&C, cc, 4, tc, 3, TG_R(0.3));
    check_setup(&C);
    /* and with a unit-gradient top (gravity inflow at rate K of the top cell) over a flux bottom */
    C.name = "C' vgm free/flux";
    C.bc_top = TG_BC_FREE_DRAINAGE;
    check_setup(&C);
    return tg_test_summary();
}
