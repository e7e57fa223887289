/* cli_util.h — shared argument handling of `terragrad simulate --model hbv` and
 * `terragrad sensitivity`: the basins of a generic-CSV folder with HBV parameters. */
#ifndef TG_CLI_UTIL_H
#define TG_CLI_UTIL_H
#include "terragrad.h"

typedef struct tg_hbv_cli {
    const char *data, *params_path, *route_path, *out, *loss;
    int warmup, warmup_grad;
    tg_hbv_param_table params;
    tg_route_table route;
    tg_basin *basins;        /* (params.B) read from data/<basin>.csv */
    tg_real **forcing;       /* (params.B) (T, 3) */
} tg_hbv_cli;
/* Parses argv; sensitivity = 1 also accepts --loss and --warmup-grad. Returns 0, or the
 * exit status to use (usage errors: 2). */
int tg_hbv_cli_parse(tg_hbv_cli *a, int argc, char **argv, const char *cmd, int sensitivity);
/* Reads the tables and every basin's forcing (P, T, PET; Q when present). */
int tg_hbv_cli_load(tg_hbv_cli *a);
/* Simulates basin b and writes out/<basin>.csv (temp file + rename). */
int tg_hbv_cli_simulate_write(const tg_hbv_cli *a, int b);
void tg_hbv_cli_free(tg_hbv_cli *a);
/* "terragrad ARGV..." into buf (truncated to size): the command a run folder's lock names. */
void tg_cli_command_line(char *buf, size_t size, int argc, char **argv);
/* --set KEY=VALUE options of every command: at most TG_CLI_MAX_SET; appends value to sets
 * (n entries so far). 0, or 2 after a message naming the command when the list is full. */
enum { TG_CLI_MAX_SET = 64 };
int tg_cli_add_set(const char *command, const char **sets, int *n, const char *value);
/* apply_cli.c: `terragrad test RUN --data ...` / `terragrad predict`: tg_apply_run (the output
 * folder, its lock, tg_evaluate_with, provenance) with the command line as the lock's holder;
 * prints the error or the folder. Returns the exit status. */
int tg_cli_apply(const char *cmd, const char *run, const tg_evaluate_options *opt, int argc, char **argv);
#endif
