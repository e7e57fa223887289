/* variables.c — data.variables: which file column is read as which model variable
 * (e.g. P: total_precipitation_sum), for every source that names its columns. */
#include <stdio.h>

#include "train_internal.h"

int tg_dataset_columns(const tg_cfg *cfg, const char *const *defaults, const char **colmap)
{
    int given = 0;
    for (int v = 0; v < TG_NVAR; v++) {
        char key[64];
        snprintf(key, sizeof key, "data.variables.%s", tg_var_name(v));
        colmap[v] = defaults ? defaults[v] : NULL;
        if (cfg && tg_cfg_has(cfg, key)) {
            const char *c = tg_cfg_str(cfg, key);
            colmap[v] = c && *c ? c : NULL;
            given++;
        }
    }
    return given;
}
