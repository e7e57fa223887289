/* YAML configs: values, defaults, lists, and errors naming key and line; --set overrides,
 * ${VAR} expansion, paths relative to the config's folder, and the run copy read back. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    {"data.attributes", TG_CFG_PATH, 0, NULL, "attribute folder", NULL},
    {"out.dir", TG_CFG_PATH, 0, NULL, "run folder", NULL},
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

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* --set, ${VAR}, relative paths, and tg_cfg_save + reload giving the same values. */
static void test_travel(void)
{
    char dir[] = "/tmp/tg_cfg_XXXXXX", sub[64], cfgpath[96], saved[96], cwd[PATH_MAX];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(sub, sizeof sub, "%s/cfgs", dir);
    CHECK(mkdir(sub, 0700) == 0, "mkdir");
    snprintf(cfgpath, sizeof cfgpath, "%s/run.yaml", sub);
    write_text(cfgpath, "seed: 3\n"
                        "data:\n"
                        "  path: ${TG_TEST_CFG_ROOT}/basins   # not a TG_CFG_PATH: expanded, not resolved\n"
                        "  attributes: ${TG_TEST_CFG_UNSET:-../attrs}\n"
                        "  basins: ['01', \"a b\"]\n"
                        "out:\n"
                        "  dir: ./runs/x\n");
    setenv("TG_TEST_CFG_ROOT", "/data/root", 1);
    unsetenv("TG_TEST_CFG_UNSET");
    const char *sets[] = {"train.lr=0.5", "seed=9", "model.inputs=[P, T]", "out.dir=rel/out"};
    tg_cfg *c = tg_cfg_load_with(cfgpath, schema, NK, sets, 4);
    CHECK(c != NULL, "%s", tg_error_message());
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    char want_attr[96], want_out[PATH_MAX + 16];
    snprintf(want_attr, sizeof want_attr, "%s/attrs", dir); /* cfgs/../attrs, lexically */
    snprintf(want_out, sizeof want_out, "%s/rel/out", strcmp(cwd, "/") ? cwd : "");
    if (c) {
        CHECK(!strcmp(tg_cfg_str(c, "data.path"), "/data/root/basins"), "expanded: %s", tg_cfg_str(c, "data.path"));
        CHECK(!strcmp(tg_cfg_str(c, "data.attributes"), want_attr), "relative to the config's folder: %s vs %s",
              tg_cfg_str(c, "data.attributes"), want_attr);
        CHECK(!strcmp(tg_cfg_str(c, "out.dir"), want_out), "--set path relative to the cwd: %s vs %s",
              tg_cfg_str(c, "out.dir"), want_out);
        CHECK(tg_cfg_int(c, "seed") == 9 && tg_cfg_line(c, "seed") == 0, "--set replaces the file's seed");
        CHECK_EXACT(tg_cfg_float(c, "train.lr"), 0.5);
        CHECK(tg_cfg_list_len(c, "model.inputs") == 2 && !strcmp(tg_cfg_list_item(c, "model.inputs", 1), "T"),
              "--set list");
        snprintf(saved, sizeof saved, "%s/saved.yaml", dir);
        CHECK(tg_cfg_save(c, saved) == 0, "%s", tg_error_message());
        /* read back from another folder with the variables gone: same values, nothing to resolve */
        unsetenv("TG_TEST_CFG_ROOT");
        tg_cfg *r = tg_cfg_load(saved, schema, NK);
        CHECK(r != NULL, "saved config reads back: %s", tg_error_message());
        if (r) {
            const char *keys[] = {"seed", "data.path", "data.attributes", "out.dir", "train.lr"};
            for (int i = 0; i < 5; i++)
                CHECK(!strcmp(tg_cfg_str(r, keys[i]), tg_cfg_str(c, keys[i])), "%s: %s vs %s", keys[i],
                      tg_cfg_str(r, keys[i]), tg_cfg_str(c, keys[i]));
            CHECK(tg_cfg_list_len(r, "data.basins") == 2 && !strcmp(tg_cfg_list_item(r, "data.basins", 0), "01") &&
                      !strcmp(tg_cfg_list_item(r, "data.basins", 1), "a b"), "quoted list items");
            CHECK(tg_cfg_list_len(r, "model.inputs") == 2, "list override saved");
            tg_cfg_free(&r);
        }
        tg_cfg_free(&c);
    }
    /* errors name where the bad value came from */
    const char *bad_key[] = {"train.lrr=1"}, *bad_val[] = {"seed=ten"}, *no_eq[] = {"seed"};
    CHECK(!tg_cfg_load_with(cfgpath, schema, NK, bad_key, 1) &&
              strstr(tg_error_message(), "--set train.lrr=1: unknown key 'train.lrr' (did you mean 'train.lr'?)"),
          "bad --set key: %s", tg_error_message());
    setenv("TG_TEST_CFG_ROOT", "/data/root", 1);
    CHECK(!tg_cfg_load_with(cfgpath, schema, NK, bad_val, 1) &&
              strstr(tg_error_message(), "--set seed=ten: key 'seed': expected an integer"),
          "bad --set value: %s", tg_error_message());
    CHECK(!tg_cfg_load_with(cfgpath, schema, NK, no_eq, 1) && strstr(tg_error_message(), "KEY=VALUE"),
          "--set without '=': %s", tg_error_message());
    unsetenv("TG_TEST_CFG_ROOT");
    CHECK(!tg_cfg_load(cfgpath, schema, NK) && strstr(tg_error_message(), "run.yaml:3: key 'data.path'") &&
              strstr(tg_error_message(), "TG_TEST_CFG_ROOT is not set"),
          "unset variable: %s", tg_error_message());
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
    test_travel();
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
