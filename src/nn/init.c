/* init.c — parameter initialisation schemes (PyTorch default, Xavier/Glorot). */
#include <math.h>

#include "terragrad/nn.h"

void tg_init_uniform(tg_real *w, size_t n, double lo, double hi, tg_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (tg_real)(lo + (hi - lo) * tg_rng_uniform(rng));
}

void tg_init_normal(tg_real *w, size_t n, double mean, double std, tg_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (tg_real)(mean + std * tg_rng_normal(rng));
}

int tg_init_param(tg_params *ps, int id, tg_init scheme, int fan_in, int fan_out, int is_bias, tg_rng *rng)
{
    if (!ps || id < 0 || id >= ps->count)
        return tg_error_set(TG_EINVAL, "tg_init_param: no parameter with id %d", id);
    if (fan_in <= 0 || fan_out <= 0)
        return tg_error_set(TG_EINVAL, "tg_init_param: parameter '%s': fan_in %d, fan_out %d", ps->name[id], fan_in,
                            fan_out);
    if (!rng && scheme != TG_INIT_ZEROS)
        return tg_error_set(TG_EINVAL, "tg_init_param: parameter '%s': no random generator", ps->name[id]);
    tg_real *w = tg_params_data(ps, id);
    size_t n = tg_params_numel(ps, id);
    switch (scheme) {
    case TG_INIT_TORCH: {
        /* PyTorch: kaiming_uniform(a = sqrt(5)) for weights reduces to U(+-1/sqrt(fan_in));
         * biases use the same bound. */
        double bound = 1.0 / sqrt((double)fan_in);
        tg_init_uniform(w, n, -bound, bound, rng);
        break;
    }
    case TG_INIT_XAVIER_UNIFORM:
    case TG_INIT_XAVIER_NORMAL:
        if (is_bias) {
            for (size_t i = 0; i < n; i++)
                w[i] = TG_R(0.0);
        } else if (scheme == TG_INIT_XAVIER_UNIFORM) {
            double bound = sqrt(6.0 / (double)(fan_in + fan_out));
            tg_init_uniform(w, n, -bound, bound, rng);
        } else {
            tg_init_normal(w, n, 0.0, sqrt(2.0 / (double)(fan_in + fan_out)), rng);
        }
        break;
    case TG_INIT_ZEROS:
        for (size_t i = 0; i < n; i++)
            w[i] = TG_R(0.0);
        break;
    default:
        return tg_error_set(TG_EINVAL, "tg_init_param: parameter '%s': unknown scheme %d", ps->name[id], (int)scheme);
    }
    return 0;
}
