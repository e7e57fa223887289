/* run_hybrid.c — the learned function of a trained hybrid run (for `terragrad explain`):
 * the run's model rebuilt from its config and checkpoint, its MLP and weights handed out. */
#include <stdlib.h>
#include <string.h>

#include "model_hybrid.h"

int tg_run_hybrid_mlp(const char *run_dir, tg_runlog *rl, tg_hybrid_mlp *net, tg_real **weights)
{
    extern const tg_model_kind tg_model_kind_hybrid;
    *weights = NULL;
    char path[4400];
    tg_cfg *cfg = tg_train_load_run_config(run_dir, path, sizeof path);
    if (!cfg)
        return tg_error_code() ? tg_error_code() : TG_EINVAL;
    int rc = 0;
    if (tg_model_kind_find(tg_cfg_str(cfg, "model.type")) != &tg_model_kind_hybrid)
        rc = tg_error_set(TG_EINVAL, "%s:%d: model.type is '%s': explain needs a hybrid run (model.type: hybrid)", path,
                          tg_cfg_line(cfg, "model.type"), tg_cfg_str(cfg, "model.type"));
    tg_dataset d;
    memset(&d, 0, sizeof d);
    int have_data = 0, wid = -1;
    tg_model m = {0};
    tg_params *ps = tg_params_create();
    if (!rc && !(rc = tg_dataset_load(&d, cfg, run_dir, 0, rl)))
        have_data = 1;
    if (!rc)
        rc = tg_model_build(&m, cfg, &d, ps);
    snprintf(path, sizeof path, "%s/last.ckpt", run_dir);
    if (!rc)
        rc = tg_checkpoint_load(path, ps, NULL, NULL, NULL);
    if (!rc)
        rc = tg_model_hybrid_mlp(&m, net, &wid);
    if (!rc) {
        size_t n = tg_hybrid_mlp_size(net);
        if (!(*weights = malloc(n * sizeof(tg_real))))
            rc = tg_error_set(TG_ENOMEM, "out of memory");
        else
            memcpy(*weights, tg_params_data(ps, wid), n * sizeof(tg_real));
    }
    tg_model_free(&m);
    tg_params_free(&ps);
    if (have_data)
        tg_dataset_free(&d);
    tg_cfg_free(&cfg);
    return rc;
}
