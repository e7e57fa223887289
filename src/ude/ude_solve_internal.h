/* ude_solve_internal.h — the recorded step table shared by the solver and ude_steps.c. */
#ifndef TG_UDE_SOLVE_INTERNAL_H
#define TG_UDE_SOLVE_INTERNAL_H
#include "ude/ude_internal.h"

struct tg_ude_steps {
    int B, T, capT;  /* lanes, recorded intervals, capacity in intervals */
    int *maxcnt;     /* (T) most steps any lane took in the interval */
    size_t *hoff;    /* (T) offset of the interval's table in h */
    int *cnt;        /* (T, B) accepted steps per lane */
    tg_real *h;      /* per interval: (maxcnt, B) step sizes, step-major */
    size_t hlen, hcap;
};

void tg__ude_steps_reset(tg_ude_steps *s, int B);
int tg__ude_steps_append(tg_ude_steps *s, int maxcnt, const int *cnt, const tg_real *h);
#endif
