/* apply_cli.c — the command line of a trained run applied elsewhere, shared by
 * `terragrad test RUN --data ...` and `terragrad predict` (tg_evaluate_with). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_util.h"
#include "terragrad.h"

/* The last component of path without a trailing '/' or extension: "…/camels_other/" ->
 * "camels_other", "list.txt" -> "list". */
static void stem(const char *path, char *out, size_t size)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    size_t len = n - b;
    const char *dot = memchr(path + b, '.', len);
    if (dot && dot > path + b)
        len = (size_t)(dot - (path + b));
    if (len >= size)
        len = size - 1;
    memcpy(out, path + b, len);
    out[len] = '\0';
    for (char *p = out; *p; p++) /* it names a folder */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            *p = '_';
}

/* The output folder this command created, if it holds only the lock and the log. */
static void remove_new_dir(const char *dir, const char *label)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/.lock", dir);
    remove(path);
    if (strcmp(label, "test"))
        snprintf(path, sizeof path, "%s/eval_%s.log", dir, label);
    else
        snprintf(path, sizeof path, "%s/test.log", dir);
    remove(path);
    rmdir(dir); /* fails, harmlessly, when anything else is in it */
}

int tg_cli_apply(const char *cmd, const char *run, const tg_evaluate_options *opt, int argc, char **argv)
{
    struct stat st;
    if (stat(run, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "terragrad %s: %s: no such run folder\n", cmd, run);
        return 1;
    }
    tg_evaluate_options o = *opt;
    char out[4200], name[256], ckpt[4200], source[128], command[1024];
    if (!o.out_dir && (o.data_dir || o.basins_file || o.start)) {
        /* a subfolder of its own: never the run's own test outputs */
        if (o.data_dir)
            stem(o.data_dir, name, sizeof name);
        else if (o.basins_file)
            stem(o.basins_file, name, sizeof name);
        else
            snprintf(name, sizeof name, "%s_%s", o.start, o.end);
        snprintf(out, sizeof out, "%s/apply_%s", run, name);
        o.out_dir = out;
    }
    const char *dir = o.out_dir ? o.out_dir : run;
    const int existed = stat(dir, &st) == 0;
    tg_run_lock lock = {-1};
    tg_cli_command_line(command, sizeof command, argc, argv);
    int rc = tg_dist_is_root() ? tg_run_lock_acquire(&lock, dir, command) : 0, any = rc;
    tg_dist_max_int(&any, 1);
    if (!any)
        rc = tg_evaluate_with(run, &o);
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    snprintf(source, sizeof source, "outputs_%s.source",
             o.period ? o.period : o.start ? "apply" : "test");
    if (!rc && tg_dist_is_root())
        rc = tg_run_provenance_write(dir, source, ckpt);
    tg_run_lock_release(&lock);
    if (rc || any) {
        if (rc)
            fprintf(stderr, "terragrad %s: %s\n", cmd, tg_error_message());
        if (!existed && tg_dist_is_root()) /* a failed first attempt leaves no empty output folder */
            remove_new_dir(dir, o.period ? o.period : o.start ? "apply" : "test");
        return 1;
    }
    if (tg_dist_is_root() && dir != run)
        printf("outputs in %s\n", dir);
    return 0;
}
