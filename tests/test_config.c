/* YAML configs: values, defaults, lists, and errors naming key and line. */
#include <string.h>

#include "testutil.h"

static const tg_cfg_key schema[] = {
    {"seed", TG_CFG_INT, 0, "1", "random seed", NULL},
    {"data.path", TG_CFG_STR, 1, NULL, "data folder", NULL},
    {"data.source", TG_CFG_STR, 0, "csv", "layout", "csv|caravan|camels_us"},
    {"data.basins", TG_CFG_LIST, 0, NULL, "basin ids", NULL},
    {"train.start", TG_CFG_DATE, 0, "1981-01-01", "first day", NULL},
    {"train.lr", TG_CFG_FLOAT, 0, "0.001", "learning rate", NULL},
    {"train.shuffle", TG_CFG_BOOL, 0, "true", "shuffle", NULL},
    {"model.inputs", TG_CFG_LIST, 0, "P,T,PET", "inputs", NULL},
};
#define NK (int)(sizeof schema / sizeof schema[0])

static void expect_error(const char *text, const char *needle1, const char *needle2)
{
    tg_cfg *c = tg_cfg_parse_string(text, "run.yaml", schema, NK);
    CHECK(c == NULL, "config should fail: %s", text);
    CHECK(strstr(tg_error_message(), needle1) && strstr(tg_error_message(), needle2), "message '%s' lacks '%s'/'%s'",
          tg_error_message(), needle1, needle2);
    tg_cfg_free(&c);
}

int main(void)
{
    const char *ok = "seed: 7\n"
                     "data:\n"
                     "  path: /tmp/x\n"
                     "  source: caravan\n"
                     "  basins: [01022500, '01031500']\n"
                     "train:\n"
                     "  lr: 3e-4\n"
                     "  shuffle: no\n";
    tg_cfg *c = tg_cfg_parse_string(ok, "run.yaml", schema, NK);
    CHECK(c != NULL, "%s", tg_error_message());
    if (c) {
        CHECK(tg_cfg_int(c, "seed") == 7, "seed");
        CHECK(!strcmp(tg_cfg_str(c, "data.source"), "caravan"), "source");
        CHECK(tg_cfg_list_len(c, "data.basins") == 2 && !strcmp(tg_cfg_list_item(c, "data.basins", 0), "01022500"),
              "leading zeros kept");
        CHECK_EXACT(tg_cfg_float(c, "train.lr"), 3e-4);
        CHECK(tg_cfg_bool(c, "train.shuffle") == 0, "bool");
        CHECK(tg_cfg_date(c, "train.start") == tg_date_from_ymd(1981, 1, 1), "default date");
        CHECK(tg_cfg_list_len(c, "model.inputs") == 3 && !strcmp(tg_cfg_list_item(c, "model.inputs", 2), "PET"),
              "default list");
        CHECK(tg_cfg_line(c, "train.lr") == 7, "line of train.lr: %d", tg_cfg_line(c, "train.lr"));
        tg_cfg_free(&c);
    }
    expect_error("data:\n  path: x\n  pth: y\n", "run.yaml:3", "unknown key 'data.pth'");
    expect_error("data:\n  path: x\n  pth: y\n", "run.yaml:3", "did you mean 'data.path'");
    expect_error("seed: ten\ndata:\n  path: x\n", "run.yaml:1", "'seed': expected an integer");
    expect_error("seed: 1\n", "missing required key", "data.path");
    expect_error("data:\n  path: x\n  source: netcdf4\n", "run.yaml:3", "not one of");
    expect_error("data:\n  path: x\ntrain:\n  start: 1981-13-01\n", "run.yaml:4", "date");
    expect_error("data:\n  path: [a, b]\n", "run.yaml:2", "got a list");
    expect_error("data:\n  path: x\n  path: y\n", "run.yaml:3", "twice");
    expect_error("data: [\n", "run.yaml", "YAML syntax error");
    /* integers that do not fit an int are refused, not wrapped (2^32 + 16 used to be 16) */
    expect_error("seed: 4294967312\ndata:\n  path: x\n", "run.yaml:1", "4294967312 is out of range");
    expect_error("seed: -2147483649\ndata:\n  path: x\n", "run.yaml:1", "out of range");
    c = tg_cfg_parse_string("seed: 2147483647\ndata:\n  path: x\n", "run.yaml", schema, NK);
    CHECK(c && tg_cfg_int(c, "seed") == 2147483647, "INT_MAX accepted: %s", tg_error_message());
    tg_cfg_free(&c);
    tg_cfg *missing = tg_cfg_load("/nonexistent/run.yaml", schema, NK);
    CHECK(!missing && tg_error_code() == TG_EIO && strstr(tg_error_message(), "/nonexistent/run.yaml"), "missing file");
    return tg_test_summary();
}
