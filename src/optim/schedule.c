/* schedule.c — learning rate as a function of the epoch (step, exponential, cosine,
 * epoch-keyed table). The caller sets it each epoch: tg_optim_set_lr(opt, tg_schedule_lr()). */
#include <math.h>
#include <string.h>

#include "terragrad/nn.h"

static const double pi = 3.14159265358979323846;

static tg_schedule base(tg_sched_kind kind, double lr)
{
    tg_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.base_lr = lr;
    s.gamma = 1.0;
    s.step_size = 1;
    s.t_max = 1;
    return s;
}

tg_schedule tg_schedule_constant(double lr) { return base(TG_SCHED_CONSTANT, lr); }

tg_schedule tg_schedule_step(double lr, int step_size, double gamma)
{
    tg_schedule s = base(TG_SCHED_STEP, lr);
    s.step_size = step_size > 0 ? step_size : 1;
    s.gamma = gamma;
    return s;
}

tg_schedule tg_schedule_exponential(double lr, double gamma)
{
    tg_schedule s = base(TG_SCHED_EXP, lr);
    s.gamma = gamma;
    return s;
}

tg_schedule tg_schedule_cosine(double lr, int t_max, double lr_min)
{
    tg_schedule s = base(TG_SCHED_COSINE, lr);
    s.t_max = t_max > 0 ? t_max : 1;
    s.lr_min = lr_min;
    return s;
}

int tg_schedule_table(tg_schedule *s, int n, const int *epochs, const double *lrs)
{
    if (n < 1 || n > TG_SCHED_MAX_TABLE)
        return tg_error_set(TG_EINVAL, "learning-rate table: %d entries (1..%d)", n, TG_SCHED_MAX_TABLE);
    for (int i = 0; i < n; i++) {
        if (i > 0 && epochs[i] <= epochs[i - 1])
            return tg_error_set(TG_EINVAL, "learning-rate table: epochs must increase (entry %d: %d after %d)", i,
                                epochs[i], epochs[i - 1]);
        if (!(lrs[i] > 0.0))
            return tg_error_set(TG_EINVAL, "learning-rate table: entry %d (epoch %d) has rate %g", i, epochs[i],
                                lrs[i]);
    }
    *s = base(TG_SCHED_TABLE, lrs[0]);
    s->n_table = n;
    memcpy(s->table_epoch, epochs, (size_t)n * sizeof *epochs);
    memcpy(s->table_lr, lrs, (size_t)n * sizeof *lrs);
    return 0;
}

double tg_schedule_lr(const tg_schedule *s, int epoch)
{
    if (epoch < 0)
        epoch = 0;
    switch (s->kind) {
    case TG_SCHED_CONSTANT: return s->base_lr;
    case TG_SCHED_STEP: return s->base_lr * pow(s->gamma, (double)(epoch / s->step_size));
    case TG_SCHED_EXP: return s->base_lr * pow(s->gamma, (double)epoch);
    case TG_SCHED_COSINE: {
        double e = epoch < s->t_max ? (double)epoch : (double)s->t_max;
        return s->lr_min + (s->base_lr - s->lr_min) * 0.5 * (1.0 + cos(pi * e / (double)s->t_max));
    }
    case TG_SCHED_TABLE: {
        double lr = s->base_lr;
        for (int i = 0; i < s->n_table && s->table_epoch[i] <= epoch; i++)
            lr = s->table_lr[i];
        return lr;
    }
    }
    return s->base_lr;
}
