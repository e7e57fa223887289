/* apply_run.c — tg_apply_run: a trained run applied elsewhere (tg_evaluate_with) as one
 * transaction on its output folder, the same for the CLI (`terragrad test RUN --data ...`,
 * `terragrad predict`) and the Python package (terragrad.evaluate): the default folder, the
 * folder's lock, the outputs' provenance, and no empty folder left by a failed first try. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train_internal.h"

/* The last component of path without a trailing '/' or extension: "…/camels_other/" ->
 * "camels_other", "list.txt" -> "list"; characters other than letters, digits and '-' as
 * '_' (it names a folder). */
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
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            *p = '_';
}

/* What the outputs are named by: the period, "apply" for explicit dates, else "test". */
static const char *label_of(const tg_evaluate_options *o)
{
    return o->period ? o->period : o->start ? "apply" : "test";
}

/* The output folder this call created, if it holds only the lock and the log. */
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

int tg_apply_default_out(const char *run_dir, const tg_evaluate_options *opt, char *out, size_t size)
{
    char name[256];
    if (opt->out_dir)
        snprintf(out, size, "%s", opt->out_dir);
    else if (opt->data_dir || opt->basins_file || opt->start) { /* never the run's own test outputs */
        if (opt->data_dir)
            stem(opt->data_dir, name, sizeof name);
        else if (opt->basins_file)
            stem(opt->basins_file, name, sizeof name);
        else
            snprintf(name, sizeof name, "%s_%s", opt->start, opt->end ? opt->end : "");
        snprintf(out, size, "%s/apply_%s", run_dir, name);
    } else
        snprintf(out, size, "%s", run_dir);
    if (strlen(out) + 1 >= size)
        return tg_error_set(TG_EINVAL, "%s: output folder name too long", out);
    return 0;
}

int tg_apply_run(const char *run_dir, const tg_evaluate_options *opt, const char *command, char *out_used,
                 size_t out_size)
{
    struct stat st;
    if (stat(run_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tg_error_set(TG_EINVAL, "%s: no such run folder", run_dir);
    tg_evaluate_options o = *opt;
    char dir[4200], ckpt[4300], source[128];
    int rc = tg_apply_default_out(run_dir, &o, dir, sizeof dir);
    if (rc)
        return rc;
    if (o.data_dir || o.basins_file || o.start || o.out_dir)
        o.out_dir = dir;
    const int existed = stat(dir, &st) == 0;
    tg_run_lock lock = {-1};
    rc = tg_dist_is_root() ? tg_run_lock_acquire(&lock, dir, command) : 0;
    int any = rc != 0;
    tg_dist_max_int(&any, 1); /* every rank stops when the root could not lock */
    if (!rc && any)
        rc = tg_error_set(TG_EIO, "%s: the output folder could not be locked (see the root rank's message)", dir);
    if (!rc)
        rc = tg_evaluate_with(run_dir, &o);
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run_dir);
    snprintf(source, sizeof source, "outputs_%s.source", label_of(&o));
    if (!rc && tg_dist_is_root())
        rc = tg_run_provenance_write(dir, source, ckpt);
    tg_run_lock_release(&lock);
    if (rc && !existed && tg_dist_is_root()) /* a failed first attempt leaves no empty output folder */
        remove_new_dir(dir, label_of(&o));
    if (out_used && out_size)
        snprintf(out_used, out_size, "%s", dir);
    return rc;
}
