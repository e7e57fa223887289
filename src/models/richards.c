/* richards.c — one backward-Euler step of the mixed-form Richards equation as an implicit
 * step (residual, tridiagonal Jacobian, adjoint products), plus storage and boundary
 * inflow for the mass balance. Derivation: docs/richards.md.
 *
 * Cell i (0 = bottom) has head ψ_i; faces carry the upward Darcy flux
 *   q = −K̄ ((ψ_up − ψ_lo)/d + 1),  K̄ = ½ (K_lo + K_up)   (arithmetic mean),
 * with d = Δz between cell centres and Δz/2 from a centre to a boundary face (Dirichlet).
 *   F_i = Δz (θ(ψ⁺_i) − θ(ψ_i)) + Δt (q_{i+½} − q_{i−½})      [water depth]
 * Everything is evaluated at the new heads ψ⁺ except θ(ψ_i) of the old state. */
#include <string.h>

#include "terragrad/adjoint.h"

/* ------------------------------------------------------------------ faces */
/* A face between a lower and an upper head at distance d. */
typedef struct {
    tg_real q;      /* upward flux */
    tg_real g;      /* (ψ_up − ψ_lo)/d + 1 */
    tg_real Kf;     /* face conductivity */
    tg_real dq_lo;  /* ∂q/∂ψ_lo (through the gradient and K_lo) */
    tg_real dq_up;  /* ∂q/∂ψ_up */
} face;

static face face_eval(tg_real Klo, tg_real dKlo, tg_real Kup, tg_real dKup, tg_real plo,
                      tg_real pup, tg_real d)
{
    face f;
    f.g = (pup - plo) / d + 1;
    f.Kf = TG_R(0.5) * (Klo + Kup);
    f.q = -f.Kf * f.g;
    f.dq_lo = -TG_R(0.5) * dKlo * f.g + f.Kf / d;
    f.dq_up = -TG_R(0.5) * dKup * f.g - f.Kf / d;
    return f;
}

/* ------------------------------------------------------------------ scratch */
/* Per-lane arrays, one allocation per callback call (the pow calls dominate its cost). */
typedef struct {
    tg_real *th, *C, *K, *dK, *tho, *Co; /* (N) each */
    tg_real *dth, *dtho, *dKp;           /* (N, P) each, adjoint only */
    void *mem;
    size_t bytes;
} scratch;

static int scratch_alloc(scratch *s, int N, int P, int with_dp)
{
    size_t n = (size_t)N, np = with_dp ? n * (size_t)P : 0;
    s->bytes = (6 * n + 3 * np) * sizeof(tg_real);
    s->mem = tg_malloc(s->bytes);
    if (!s->mem)
        return TG_ENOMEM;
    tg_real *r = s->mem;
    s->th = r, r += n;
    s->C = r, r += n;
    s->K = r, r += n;
    s->dK = r, r += n;
    s->tho = r, r += n;
    s->Co = r, r += n;
    s->dth = r, r += np;
    s->dtho = r, r += np;
    s->dKp = r;
    return 0;
}

/* Boundary state of one lane and one face kind: K and dK/dψ at a Dirichlet head. */
typedef struct {
    tg_real psi, K, dK;
} bnd;

static bnd bnd_eval(const tg_soil *soil, const tg_real *p, int kind, tg_real value)
{
    bnd b = {value, 0, 0};
    if (kind == TG_BC_DIRICHLET)
        soil->eval(p, 1, &value, NULL, NULL, &b.K, &b.dK);
    return b;
}

/* Upward flux through the top face and its partials; Kc, dKc, pc: the top cell's K,
 * dK/dψ and head. */
static face top_face(int kind, tg_real Kc, tg_real dKc, tg_real pc, bnd b, tg_real dz)
{
    face f;
    memset(&f, 0, sizeof f);
    switch (kind) {
    case TG_BC_DIRICHLET:
        return face_eval(Kc, dKc, b.K, b.dK, pc, b.psi, dz / 2);
    case TG_BC_FLUX:
        f.q = -b.psi; /* value = infiltration, downward */
        break;
    default: /* free drainage */
        f.q = -Kc;
        f.dq_lo = -dKc;
        f.g = 1;
        break;
    }
    return f;
}

/* The same for the bottom face; the cell is the bottom one. */
static face bottom_face(int kind, tg_real Kc, tg_real dKc, tg_real pc, bnd b, tg_real dz)
{
    face f;
    memset(&f, 0, sizeof f);
    switch (kind) {
    case TG_BC_DIRICHLET:
        return face_eval(b.K, b.dK, Kc, dKc, b.psi, pc, dz / 2);
    case TG_BC_FLUX:
        f.q = b.psi; /* value = inflow from below, upward */
        break;
    default:
        f.q = -Kc;
        f.dq_up = -dKc;
        f.g = 1;
        break;
    }
    return f;
}

#define TOP(m, s, psi, bv, dz) \
    top_face((m)->bc_top, (s).K[(m)->N - 1], (s).dK[(m)->N - 1], (psi)[(m)->N - 1], bv, dz)
#define BOTTOM(m, s, psi, bv, dz) bottom_face((m)->bc_bottom, (s).K[0], (s).dK[0], (psi)[0], bv, dz)

/* ------------------------------------------------------------------ callbacks */
static int res_cb(void *ud, const tg_implicit_args *a, tg_real *F)
{
    const tg_richards *m = ud;
    const int N = m->N, P = m->soil->P;
    const tg_real dz = m->depth / (tg_real)N, dt = m->dt[a->step];
    scratch s;
    if (scratch_alloc(&s, N, P, 0))
        return -1;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real *p = a->theta + (size_t)b * P, *psi = a->xn + (size_t)b * N;
        const tg_real *u = a->u + 2 * (size_t)b;
        tg_real *Fb = F + (size_t)b * N;
        m->soil->eval(p, N, psi, s.th, NULL, s.K, s.dK);
        m->soil->eval(p, N, a->x + (size_t)b * N, s.tho, NULL, NULL, NULL);
        for (int i = 0; i < N; i++)
            Fb[i] = dz * (s.th[i] - s.tho[i]);
        for (int i = 0; i + 1 < N; i++) {
            tg_real g = (psi[i + 1] - psi[i]) / dz + 1;
            tg_real q = -TG_R(0.5) * (s.K[i] + s.K[i + 1]) * g;
            Fb[i] += dt * q;
            Fb[i + 1] -= dt * q;
        }
        face ft = TOP(m, s, psi, bnd_eval(m->soil, p, m->bc_top, u[0]), dz);
        face fb = BOTTOM(m, s, psi, bnd_eval(m->soil, p, m->bc_bottom, u[1]), dz);
        Fb[N - 1] += dt * ft.q;
        Fb[0] -= dt * fb.q;
    }
    tg_free(s.mem, s.bytes);
    return 0;
}

static int jac_cb(void *ud, const tg_implicit_args *a, tg_real *J)
{
    const tg_richards *m = ud;
    const int N = m->N, P = m->soil->P;
    const tg_real dz = m->depth / (tg_real)N, dt = m->dt[a->step];
    scratch s;
    if (scratch_alloc(&s, N, P, 0))
        return -1;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real *p = a->theta + (size_t)b * P, *psi = a->xn + (size_t)b * N;
        const tg_real *u = a->u + 2 * (size_t)b;
        tg_real *sub = J + (size_t)b * 3 * N, *dia = sub + N, *sup = dia + N;
        m->soil->eval(p, N, psi, NULL, s.C, s.K, s.dK);
        for (int i = 0; i < N; i++) {
            sub[i] = sup[i] = 0;
            dia[i] = dz * s.C[i];
        }
        for (int i = 0; i + 1 < N; i++) {
            face f = face_eval(s.K[i], s.dK[i], s.K[i + 1], s.dK[i + 1], psi[i], psi[i + 1], dz);
            dia[i] += dt * f.dq_lo;
            sup[i] += dt * f.dq_up;
            sub[i + 1] -= dt * f.dq_lo;
            dia[i + 1] -= dt * f.dq_up;
        }
        face ft = TOP(m, s, psi, bnd_eval(m->soil, p, m->bc_top, u[0]), dz);
        face fb = BOTTOM(m, s, psi, bnd_eval(m->soil, p, m->bc_bottom, u[1]), dz);
        dia[N - 1] += dt * ft.dq_lo;
        dia[0] -= dt * fb.dq_up;
    }
    tg_free(s.mem, s.bytes);
    return 0;
}

/* x̄ += (∂F/∂ψ)ᵀ μ, θ̄ += (∂F/∂p)ᵀ μ, ū += (∂F/∂u)ᵀ μ. */
static int adj_cb(void *ud, const tg_implicit_args *a, const tg_real *mu, tg_real *xbar,
                  tg_real *pbar, tg_real *ubar)
{
    const tg_richards *m = ud;
    const tg_soil *soil = m->soil;
    const int N = m->N, P = soil->P;
    const tg_real dz = m->depth / (tg_real)N, dt = m->dt[a->step];
    scratch s;
    if (scratch_alloc(&s, N, P, pbar != NULL))
        return -1;
    for (int b = 0; b < a->B; b++) {
        if (a->active && !a->active[b])
            continue;
        const tg_real *p = a->theta + (size_t)b * P, *psi = a->xn + (size_t)b * N;
        const tg_real *psio = a->x + (size_t)b * N, *u = a->u + 2 * (size_t)b;
        const tg_real *mb = mu + (size_t)b * N;
        /* old state enters only through θ(ψ_i): ∂F_i/∂ψ_i = −Δz C(ψ_i) */
        if (xbar) {
            soil->eval(p, N, psio, NULL, s.Co, NULL, NULL);
            for (int i = 0; i < N; i++)
                xbar[(size_t)b * N + i] -= dz * s.Co[i] * mb[i];
        }
        if (!pbar && !ubar)
            continue;
        soil->eval(p, N, psi, NULL, NULL, s.K, s.dK);
        bnd bt = bnd_eval(soil, p, m->bc_top, u[0]), bb = bnd_eval(soil, p, m->bc_bottom, u[1]);
        face ft = TOP(m, s, psi, bt, dz), fb = BOTTOM(m, s, psi, bb, dz);
        if (ubar) {
            /* top: F_{N−1} += Δt q_top;  bottom: F_0 −= Δt q_bot */
            tg_real dqt = m->bc_top == TG_BC_DIRICHLET ? ft.dq_up
                        : m->bc_top == TG_BC_FLUX      ? TG_R(-1.0)
                                                       : 0;
            tg_real dqb = m->bc_bottom == TG_BC_DIRICHLET ? fb.dq_lo
                        : m->bc_bottom == TG_BC_FLUX      ? TG_R(1.0)
                                                          : 0;
            ubar[2 * (size_t)b] += dt * dqt * mb[N - 1];
            ubar[2 * (size_t)b + 1] -= dt * dqb * mb[0];
        }
        if (!pbar)
            continue;
        tg_real *pb = pbar + (size_t)b * P;
        soil->eval_dp(p, N, psi, s.dth, s.dKp);
        soil->eval_dp(p, N, psio, s.dtho, NULL);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < P; j++)
                pb[j] += mb[i] * dz * (s.dth[(size_t)i * P + j] - s.dtho[(size_t)i * P + j]);
        for (int i = 0; i + 1 < N; i++) {
            /* ∂q/∂p = −½ g (∂K_i/∂p + ∂K_{i+1}/∂p), entering F_i (+) and F_{i+1} (−) */
            tg_real g = (psi[i + 1] - psi[i]) / dz + 1;
            tg_real w = -TG_R(0.5) * g * dt * (mb[i] - mb[i + 1]);
            for (int j = 0; j < P; j++)
                pb[j] += w * (s.dKp[(size_t)i * P + j] + s.dKp[(size_t)(i + 1) * P + j]);
        }
        /* boundary faces: the adjacent cell's K, and K at a Dirichlet head */
        tg_real *kb = s.dtho; /* reuse: (P) parameter derivative of K at a boundary head */
        if (m->bc_top != TG_BC_FLUX) {
            tg_real w = m->bc_top == TG_BC_DIRICHLET ? -TG_R(0.5) * ft.g : -1;
            for (int j = 0; j < P; j++)
                pb[j] += dt * mb[N - 1] * w * s.dKp[(size_t)(N - 1) * P + j];
            if (m->bc_top == TG_BC_DIRICHLET) {
                soil->eval_dp(p, 1, &bt.psi, NULL, kb);
                for (int j = 0; j < P; j++)
                    pb[j] += dt * mb[N - 1] * w * kb[j];
            }
        }
        if (m->bc_bottom != TG_BC_FLUX) {
            tg_real w = m->bc_bottom == TG_BC_DIRICHLET ? -TG_R(0.5) * fb.g : -1;
            for (int j = 0; j < P; j++)
                pb[j] -= dt * mb[0] * w * s.dKp[j];
            if (m->bc_bottom == TG_BC_DIRICHLET) {
                soil->eval_dp(p, 1, &bb.psi, NULL, kb);
                for (int j = 0; j < P; j++)
                    pb[j] -= dt * mb[0] * w * kb[j];
            }
        }
    }
    tg_free(s.mem, s.bytes);
    return 0;
}

/* ------------------------------------------------------------------ public */
void tg_richards_fns(const tg_richards *m, tg_implicit_fns *f)
{
    memset(f, 0, sizeof *f);
    f->name = "richards";
    f->n = m->N;
    f->P = m->soil->P;
    f->U = 2;
    f->jac = TG_JAC_TRIDIAG;
    f->residual = res_cb;
    f->jacobian = jac_cb;
    f->adjoint = adj_cb;
}

tg_real tg_richards_z(const tg_richards *m, int i)
{
    return m->depth * ((tg_real)i + TG_R(0.5)) / (tg_real)m->N;
}

int tg_richards_check(const tg_richards *m, int B, const tg_real *p)
{
    if (!m || !m->soil)
        return tg_error_set(TG_EINVAL, "richards: no soil model");
    if (m->N < 1 || !(m->depth > 0))
        return tg_error_set(TG_EINVAL, "richards: need cells >= 1 and depth > 0 (got %d, %g)",
                            m->N, (double)m->depth);
    if (m->bc_top < 0 || m->bc_top > 2 || m->bc_bottom < 0 || m->bc_bottom > 2)
        return tg_error_set(TG_EINVAL, "richards: unknown boundary kind (top %d, bottom %d)",
                            m->bc_top, m->bc_bottom);
    if (m->T < 0 || (m->T > 0 && !m->dt))
        return tg_error_set(TG_EINVAL, "richards: no time steps");
    for (int t = 0; t < m->T; t++)
        if (!(m->dt[t] > 0))
            return tg_error_set(TG_EINVAL, "richards: step %d has dt = %g (must be > 0)", t,
                                (double)m->dt[t]);
    for (int b = 0; b < B && p; b++) {
        int rc = m->soil->check(p + (size_t)b * m->soil->P);
        if (rc)
            return tg_error_prefix(rc, "richards, column %d: ", b);
    }
    return 0;
}

void tg_richards_storage(const tg_richards *m, int B, const tg_real *p, const tg_real *psi,
                         double *S)
{
    const int N = m->N, P = m->soil->P;
    const double dz = (double)m->depth / N;
    tg_real th[256];
    for (int b = 0; b < B; b++) {
        double sum = 0;
        for (int i0 = 0; i0 < N; i0 += 256) {
            int len = N - i0 < 256 ? N - i0 : 256;
            m->soil->eval(p + (size_t)b * P, len, psi + (size_t)b * N + i0, th, NULL, NULL, NULL);
            for (int i = 0; i < len; i++)
                sum += (double)th[i];
        }
        S[b] = dz * sum;
    }
}

void tg_richards_boundary_inflow(const tg_richards *m, int B, const tg_real *p, const tg_real *psi,
                                 const tg_real *u, double *q_top, double *q_bottom)
{
    const int N = m->N, P = m->soil->P;
    const tg_real dz = m->depth / (tg_real)N;
    for (int b = 0; b < B; b++) {
        const tg_real *pb = p + (size_t)b * P, *ps = psi + (size_t)b * N, *ub = u + 2 * (size_t)b;
        /* only the two boundary cells matter */
        tg_real two[2] = {ps[0], ps[N - 1]}, K[2], dK[2];
        m->soil->eval(pb, 2, two, NULL, NULL, K, dK);
        face ft = top_face(m->bc_top, K[1], dK[1], two[1], bnd_eval(m->soil, pb, m->bc_top, ub[0]), dz);
        face fb = bottom_face(m->bc_bottom, K[0], dK[0], two[0],
                              bnd_eval(m->soil, pb, m->bc_bottom, ub[1]), dz);
        if (q_top)
            q_top[b] = -(double)ft.q;
        if (q_bottom)
            q_bottom[b] = (double)fb.q;
    }
}
