/* fuzz_config.c — libFuzzer target: a training config (YAML through libyaml, checked
 * against the full training schema: tg_cfg_load with tg_train_schema_all), then every
 * key read back with the getter of its type and the three periods resolved. */
#include <limits.h>

#include "fuzz_common.h"
#include "train/train_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) tg_fuzz_path(path, sizeof path, "config.yaml");
    tg_fuzz_write(path, data, size);
    int n;
    const tg_cfg_key *schema = tg_train_schema_all(&n);
    tg_cfg *cfg = tg_cfg_load(path, schema, n);
    if (cfg) {
        for (int k = 0; k < n; k++) {
            const char *key = schema[k].path;
            (void)tg_cfg_has(cfg, key);
            (void)tg_cfg_line(cfg, key);
            switch (schema[k].type) {
            case TG_CFG_STR:
            case TG_CFG_PATH: (void)tg_cfg_str(cfg, key); break;
            case TG_CFG_INT: (void)tg_cfg_int(cfg, key); break;
            case TG_CFG_FLOAT: (void)tg_cfg_float(cfg, key); break;
            case TG_CFG_BOOL: (void)tg_cfg_bool(cfg, key); break;
            case TG_CFG_DATE: (void)tg_cfg_date(cfg, key); break;
            case TG_CFG_LIST:
            case TG_CFG_FLOATS:
                for (int i = 0, m = tg_cfg_list_len(cfg, key); i < m; i++) (void)tg_cfg_list_item(cfg, key, i);
                break;
            }
        }
        static const char *periods[3] = {"train", "valid", "test"};
        for (int p = 0; p < 3; p++) {
            int a, b;
            (void)tg_train_period(cfg, path, periods[p], &a, &b);
        }
        tg_cfg_free(&cfg);
    }
    tg_fuzz_done();
    return 0;
}
