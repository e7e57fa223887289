/* ude_steps.c — a recorded sequence of accepted step sizes (per interval, per lane), so
 * an adaptive solve can be replayed with its steps frozen (finite-difference checks of
 * the discrete adjoint, or re-solving with the step sequence of a reference run). */
#include <string.h>

#include "ude/ude_solve_internal.h"

tg_ude_steps *tg_ude_steps_create(void)
{
    tg_ude_steps *s = tg_calloc(1, sizeof *s);
    if (!s)
        tg_error_set(TG_ENOMEM, "tg_ude_steps_create: out of memory");
    return s;
}

void tg_ude_steps_free(tg_ude_steps **ps)
{
    if (!ps || !*ps)
        return;
    tg_ude_steps *s = *ps;
    tg_free(s->maxcnt, (size_t)s->capT * sizeof *s->maxcnt);
    tg_free(s->hoff, (size_t)s->capT * sizeof *s->hoff);
    tg_free(s->cnt, (size_t)s->capT * (size_t)s->B * sizeof *s->cnt);
    tg_free(s->h, s->hcap * sizeof *s->h);
    tg_free(s, sizeof *s);
    *ps = NULL;
}

int tg_ude_steps_count(const tg_ude_steps *s, int d, int b)
{
    if (!s || d < 0 || d >= s->T || b < 0 || b >= s->B)
        return -1;
    return s->cnt[(size_t)d * (size_t)s->B + (size_t)b];
}

void tg__ude_steps_reset(tg_ude_steps *s, int B)
{
    if (s->B != B) { /* the per-day lane arrays change size */
        tg_free(s->cnt, (size_t)s->capT * (size_t)s->B * sizeof *s->cnt);
        tg_free(s->maxcnt, (size_t)s->capT * sizeof *s->maxcnt);
        tg_free(s->hoff, (size_t)s->capT * sizeof *s->hoff);
        s->cnt = NULL, s->maxcnt = NULL, s->hoff = NULL, s->capT = 0;
    }
    s->B = B, s->T = 0, s->hlen = 0;
}

int tg__ude_steps_append(tg_ude_steps *s, int maxcnt, const int *cnt, const tg_real *h)
{
    const size_t B = (size_t)s->B;
    if (s->T == s->capT) {
        /* new arrays first: a failure leaves the old ones and capT consistent */
        const int nc = s->capT ? 2 * s->capT : 64;
        int *m = tg_malloc((size_t)nc * sizeof *m);
        size_t *o = tg_malloc((size_t)nc * sizeof *o);
        int *c = tg_malloc((size_t)nc * B * sizeof *c);
        if (!m || !o || !c) {
            tg_free(m, (size_t)nc * sizeof *m);
            tg_free(o, (size_t)nc * sizeof *o);
            tg_free(c, (size_t)nc * B * sizeof *c);
            return tg_error_set(TG_ENOMEM, "ude steps: out of memory");
        }
        if (s->T) {
            memcpy(m, s->maxcnt, (size_t)s->T * sizeof *m);
            memcpy(o, s->hoff, (size_t)s->T * sizeof *o);
            memcpy(c, s->cnt, (size_t)s->T * B * sizeof *c);
        }
        tg_free(s->maxcnt, (size_t)s->capT * sizeof *m);
        tg_free(s->hoff, (size_t)s->capT * sizeof *o);
        tg_free(s->cnt, (size_t)s->capT * B * sizeof *c);
        s->maxcnt = m, s->hoff = o, s->cnt = c, s->capT = nc;
    }
    size_t need = s->hlen + (size_t)maxcnt * B;
    if (need > s->hcap) {
        size_t nc = s->hcap ? s->hcap : 1024;
        while (nc < need)
            nc *= 2;
        tg_real *p = tg_realloc(s->h, s->hcap * sizeof *p, nc * sizeof *p);
        if (!p)
            return tg_error_set(TG_ENOMEM, "ude steps: out of memory");
        s->h = p, s->hcap = nc;
    }
    s->maxcnt[s->T] = maxcnt;
    s->hoff[s->T] = s->hlen;
    memcpy(s->cnt + (size_t)s->T * B, cnt, B * sizeof *cnt);
    memcpy(s->h + s->hlen, h, (size_t)maxcnt * B * sizeof *h);
    s->hlen = need;
    s->T++;
    return 0;
}
