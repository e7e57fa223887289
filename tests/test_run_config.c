/* test_run_config.c — the typed run configuration (terragrad/run.h):
 *  - defaults come from the schema table: every field equals what the YAML getters give for
 *    a config that sets nothing but the required keys;
 *  - a config filled in C, written as YAML and loaded back, has every field unchanged
 *    (the YAML of the reloaded config is the same text);
 *  - a field the chosen model kind does not read, set away from its default, is refused by
 *    tg_run_config_write naming the key; in a YAML file, by tg_run_config_load naming file,
 *    line and key;
 *  - the kind table: every kind's declared outputs start with Q, process models declare
 *    P, T, PET forcing and HBV kinds the 13 HBV parameters with lo < hi. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/train_internal.h"

static char *yaml_of(const tg_run_config *c, int *rc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    *rc = tg_run_config_write(c, f);
    fclose(f);
    return text;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

int main(void)
{
    /* ---------------------------------------------------------------- defaults */
    tg_run_config d;
    tg_run_config_defaults(&d);
    CHECK(d.priv != NULL, "defaults: %s", tg_error_message());
    int n;
    const tg_cfg_key *schema = tg_train_schema_all(&n);
    tg_cfg *cfg = tg_cfg_parse_string("data:\n  source: csv\n  path: x\nperiods:\n  train_start: 2000-01-01\n"
                                      "  train_end: 2000-12-31\n  test_start: 2001-01-01\n  test_end: 2001-12-31\n",
                                      "min.yaml", schema, n);
    CHECK(cfg != NULL, "%s", tg_error_message());
    if (cfg) {
        CHECK(d.model.hidden == tg_cfg_int(cfg, "model.hidden"), "model.hidden %ld", d.model.hidden);
        CHECK(d.model.dropout == tg_cfg_float(cfg, "model.dropout"), "model.dropout %g", d.model.dropout);
        CHECK(d.optim.lr == tg_cfg_float(cfg, "optim.lr"), "optim.lr %g", d.optim.lr);
        CHECK(d.training.warmup == tg_cfg_int(cfg, "training.warmup"), "training.warmup");
        CHECK(d.hbv.routing == tg_cfg_bool(cfg, "hbv.routing"), "hbv.routing");
        CHECK(!strcmp(d.model.type, tg_cfg_str(cfg, "model.type")), "model.type %s", d.model.type);
        CHECK(!strcmp(d.loss.type, tg_cfg_str(cfg, "loss.type")), "loss.type %s", d.loss.type);
        CHECK(d.inputs.dynamic.n == tg_cfg_list_len(cfg, "inputs.dynamic"), "inputs.dynamic n %d", d.inputs.dynamic.n);
        for (int i = 0; i < d.inputs.dynamic.n; i++)
            CHECK(!strcmp(d.inputs.dynamic.items[i], tg_cfg_list_item(cfg, "inputs.dynamic", i)), "inputs.dynamic[%d]", i);
        CHECK(d.hbv.dynamic.n == tg_cfg_list_len(cfg, "hbv.dynamic"), "hbv.dynamic n");
        CHECK(d.periods.valid_start == INT_MIN && d.data.source == NULL, "unset fields");
        tg_cfg_free(&cfg);
    }

    /* ---------------------------------------------------------------- C -> YAML -> load */
    static const char *const basins[] = {"b1", "it's"}; /* a quote survives */
    static const char *const dyn[] = {"FC"};
    static const double ep[] = {1, 5}, lrs[] = {0.1, 0.01};
    d.data.source = "csv";
    d.data.path = "/some/where";
    d.data.basins = (tg_run_list){2, basins};
    tg_date_parse("1990-01-01", &d.periods.train_start);
    tg_date_parse("1995-12-31", &d.periods.train_end);
    tg_date_parse("1996-01-01", &d.periods.test_start);
    tg_date_parse("1999-12-31", &d.periods.test_end);
    d.model.type = "dhbv";
    d.model.hidden = 12;
    d.hbv.components = 3;
    d.hbv.dynamic = (tg_run_list){1, dyn};
    d.hbv.smooth = 1;
    d.optim.lr = 0.1; /* not exact in binary: must round-trip */
    d.optim.schedule = "table";
    d.optim.table_epochs = (tg_run_numbers){2, ep};
    d.optim.table_lrs = (tg_run_numbers){2, lrs};
    d.training.epochs = 7;
    int rc;
    char *text = yaml_of(&d, &rc);
    CHECK(rc == 0, "write: %s", tg_error_message());
    const char *path = TG_BINARY_DIR "/tests/test_run_config.yaml";
    write_file(path, text);
    tg_run_config back;
    rc = tg_run_config_load(path, &back);
    CHECK(rc == 0, "load: %s", tg_error_message());
    if (!rc) {
        CHECK(back.model.hidden == 12 && back.hbv.components == 3 && back.hbv.smooth && back.training.epochs == 7,
              "integers/bools");
        CHECK(back.optim.lr == 0.1 && back.optim.table_lrs.n == 2 && back.optim.table_lrs.v[1] == 0.01, "doubles");
        CHECK(back.data.basins.n == 2 && !strcmp(back.data.basins.items[1], "it's"), "lists");
        CHECK(back.periods.test_end == d.periods.test_end, "dates");
        int rc2;
        char *again = yaml_of(&back, &rc2);
        CHECK(rc2 == 0 && !strcmp(text, again), "the reloaded config writes the same YAML:\n%s---\n%s", text, again);
        free(again);
        tg_run_config_free(&back);
    }
    free(text);

    /* ---------------------------------------------------------------- keys of another kind */
    d.model.dropout = 0.2; /* read only by lstm */
    text = yaml_of(&d, &rc);
    CHECK(rc == TG_EINVAL && strstr(tg_error_message(), "model.dropout"), "dropout with dhbv written: %s",
          tg_error_message());
    free(text);
    d.model.type = "lstm"; /* now dropout is used, hbv.* are not (and differ from their defaults) */
    text = yaml_of(&d, &rc);
    CHECK(rc == TG_EINVAL && strstr(tg_error_message(), "hbv.components"), "hbv with lstm written: %s",
          tg_error_message());
    free(text);
    write_file(path, "data:\n  source: csv\n  path: x\nperiods:\n  train_start: 2000-01-01\n  train_end: 2000-12-31\n"
                     "  test_start: 2001-01-01\n  test_end: 2001-12-31\nmodel:\n  type: dhbv\n  dropout: 0.2\n");
    rc = tg_run_config_load(path, &back);
    CHECK(rc == TG_EINVAL && strstr(tg_error_message(), "test_run_config.yaml:11: key 'model.dropout'"),
          "load names file, line and key: %s", tg_error_message());
    tg_run_config_free(&d);

    /* ---------------------------------------------------------------- the kind table */
    CHECK(tg_model_kind_count() >= 2 && tg_model_kind_lookup("lstm") && !tg_model_kind_lookup("nope"), "lookup");
    for (int i = 0; i < tg_model_kind_count(); i++) {
        const tg_model_kind_info *k = tg_model_kind_at(i);
        CHECK(k->n_outputs >= 1 && !strcmp(k->outputs[0], "Q") && !strcmp(k->output_units[0], "mm/day"), "%s: Q first",
              k->name);
        CHECK(k->n_forcing == 0 || (k->n_forcing == 3 && !strcmp(k->forcing[0], "P") && !strcmp(k->forcing[2], "PET")),
              "%s: forcing", k->name);
        for (int p = 0; p < k->n_params; p++)
            CHECK(k->param_range[p][0] < k->param_range[p][1], "%s: %s range", k->name, k->params[p]);
        CHECK(tg_model_kind_uses(k, "training.epochs"), "%s: common keys are used", k->name);
        CHECK(!tg_model_kind_uses(k, "hbv.warmup"), "%s: hbv.warmup is read by no kind", k->name);
    }
    CHECK(tg_model_kind_uses(tg_model_kind_lookup("lstm"), "model.dropout") &&
              !tg_model_kind_uses(tg_model_kind_lookup("dhbv"), "model.dropout") &&
              tg_model_kind_uses(tg_model_kind_lookup("dhbv"), "physics.range") &&
              !tg_model_kind_uses(tg_model_kind_lookup("dhbv_adj"), "physics.range"),
          "per-kind keys");
    remove(path);
    return tg_test_summary();
}
