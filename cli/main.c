/* main.c — the `terragrad` command: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "terragrad.h"

typedef struct {
    const char *name, *help;
    int (*run)(int, char **);
} command;

#define TG_ENTRY(n, h) {#n, h, tg_cmd_##n},
static const command commands[] = {TG_COMMANDS(TG_ENTRY)};
#undef TG_ENTRY
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "terragrad %s (%s build, %s) — differentiable modelling for the geosciences\n\n"
               "usage: terragrad <command> [options]   (terragrad <command> --help; terragrad --version)\n"
               "       terragrad --cpu   prints the vector kernels in use: %s (TG_CPU=baseline|avx2|auto)\n"
               "\ncommands:\n",
            TG_VERSION_STRING, TG_REAL_NAME,
#ifdef TG_MPI
            "MPI",
#else
            "no MPI",
#endif
            tg_cpu_level_name(tg_cpu_level()));
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].run)
            fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        return tg_cmd_demo(1, (char *[]){"demo", NULL});
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
        printf("terragrad %s (%s build, %s)\n", tg_version(), TG_REAL_NAME,
#ifdef TG_MPI
               "MPI"
#else
               "no MPI"
#endif
        );
        return 0;
    }
    if (!strcmp(argv[1], "--cpu")) {   /* one word, for scripts and tests */
        printf("%s\n", tg_cpu_level_name(tg_cpu_level()));
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name))
            continue;
        if (!commands[i].run) {
            fprintf(stderr, "terragrad: '%s' is not available in this build\n", argv[1]);
            return 2;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "terragrad: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (TG_CHECK_ABI()) {
        fprintf(stderr, "%s\n", tg_error_message());
        return 1;
    }
    if (tg_dist_init(&argc, &argv)) {
        fprintf(stderr, "terragrad: %s\n", tg_error_message());
        return 1;
    }
    if (tg_cpu_check_env()) {   /* a misspelt TG_CPU must not silently pick a path */
        fprintf(stderr, "terragrad: %s\n", tg_error_message());
        tg_dist_finalize();
        return 2;
    }
    int rc = dispatch(argc, argv);
    tg_dist_finalize();
    return rc;
}
