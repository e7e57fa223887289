/* train_typed.c — a δHBV model trained from a run configuration built in C (no YAML):
 * LSTM -> HBV parameters -> HBV -> routing on 2 Caravan basins, a few iterations, then
 * evaluated on its test period; the run folder is what `terragrad train` + `test` write.
 *
 *   cc train_typed.c $(pkg-config --cflags --libs terragrad) -o train_typed
 *   ./train_typed ../shared/data RUN_DIR
 * Exit 0 when training and evaluation succeeded and the loss fell. */
#include <stdio.h>
#include <stdlib.h>

#include <terragrad.h>

static int day(const char *s)
{
    int d = 0;
    tg_date_parse(s, &d);
    return d;
}

/* first and last epoch loss of RUN/loss.csv (epoch,loss,lr,seconds) */
static int losses(const char *run, double *first, double *last)
{
    char path[4200], line[256];
    snprintf(path, sizeof path, "%s/loss.csv", run);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    int n = 0;
    int epoch;
    double v;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%d,%lf", &epoch, &v) == 2) { /* the header does not match */
            if (n++ == 0)
                *first = v;
            *last = v;
        }
    fclose(f);
    return n < 2;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SHARED_DATA RUN_DIR\n", argv[0]);
        return 2;
    }
    if (TG_CHECK_ABI()) { /* the library's real type and version are the program's */
        fprintf(stderr, "train_typed: %s\n", tg_error_message());
        return 1;
    }
    char data[4096], attrs[4096];
    snprintf(data, sizeof data, "%s/caravan_camels_us", argv[1]);
    snprintf(attrs, sizeof attrs, "%s/camels_us/camels_attributes_v2.0", argv[1]);
    static const char *const basins[] = {"01022500", "01031500"};
    static const char *const attribute_names[] = {"p_mean", "pet_mean", "aridity", "frac_snow", "elev_mean"};
    static const char *const dynamic[] = {"BETA", "BETAET"};

    tg_run_config cfg;
    tg_run_config_defaults(&cfg); /* every default from the schema (docs/config.md) */
    cfg.seed = 2;
    cfg.data.source = "caravan";
    cfg.data.path = data;
    cfg.data.basins = (tg_run_list){2, basins};
    cfg.data.attributes = attrs;
    cfg.data.attribute_names = (tg_run_list){5, attribute_names};
    cfg.periods.train_start = day("1981-01-01");
    cfg.periods.train_end = day("1988-12-31");
    cfg.periods.test_start = day("1989-01-01");
    cfg.periods.test_end = day("1990-12-31");
    cfg.model.type = "dhbv";
    cfg.model.hidden = 8;
    cfg.hbv.components = 2;
    cfg.hbv.dynamic = (tg_run_list){2, dynamic};
    cfg.loss.type = "rmse_comb";
    cfg.optim.lr = 0.02;
    cfg.training.epochs = 3;
    cfg.training.iterations = 8;
    cfg.training.batch = 4;
    cfg.training.warmup = 180;
    cfg.training.horizon = 180;

    tg_train_options opt = {.overwrite = 1, .run_dir = argv[2], .command = "train_typed"};
    int rc = tg_train_config(&cfg, &opt);
    if (!rc)
        rc = tg_evaluate(argv[2], "test");
    tg_run_config_free(&cfg);
    if (rc) {
        fprintf(stderr, "train_typed: %s\n", tg_error_message());
        return 1;
    }
    /* the run folder reads back as a typed config */
    tg_run_config back;
    long epoch = 0;
    if (tg_run_load(argv[2], &back, &epoch)) {
        fprintf(stderr, "train_typed: %s\n", tg_error_message());
        return 1;
    }
    printf("run %s: model %s, %d basins, %ld epochs trained\n", argv[2], back.model.type, back.data.basins.n, epoch);
    tg_run_config_free(&back);
    double first = 0, last = 0;
    if (losses(argv[2], &first, &last) || !(last < first)) {
        fprintf(stderr, "train_typed: the loss did not fall (%g -> %g)\n", first, last);
        return 1;
    }
    printf("loss %.5f -> %.5f\n", first, last);
    return 0;
}
