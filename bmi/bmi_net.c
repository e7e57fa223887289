/* bmi_net.c — trained network kinds (lstm, dhbv) of the BMI module. */
#include "tgbmi.h"

int tgbmi_net_setup(tgbmi *m)
{
    return tg_error_set(TG_EINVAL, "bmi: model kind %s is not implemented yet", m->cfg.kind == TGBMI_LSTM ? "lstm" : "dhbv");
}
int tgbmi_net_step(tgbmi *m, const tg_real *forcing)
{
    (void)forcing;
    return tg_error_set(TG_EINVAL, "bmi: model kind %d cannot step", m->cfg.kind);
}
void tgbmi_net_free(tgbmi *m)
{
    (void)m;
}
int tgbmi_net_state_size(const tgbmi *m)
{
    (void)m;
    return 0;
}
double *tgbmi_net_state(tgbmi *m, int which)
{
    (void)m;
    (void)which;
    return NULL;
}
