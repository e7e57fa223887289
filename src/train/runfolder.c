/* runfolder.c — a run folder as a unit of work: an exclusive lock while a process writes
 * it, knowing whether it already holds a run, removing exactly terragrad's outputs on
 * --overwrite, checking an output folder is writable before the work starts, and
 * recording which checkpoint test/plot outputs came from. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "train_internal.h"

int tg_run_lock_acquire(tg_run_lock *lk, const char *dir, const char *command)
{
    lk->fd = -1;
    int rc = tg_mkdir_p(dir);
    if (rc)
        return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return tg_error_set(TG_EIO, "%s: cannot create the run lock: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char holder[1024] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        for (char *p = holder; *p; p++)
            if (*p == '\n')
                *p = p[1] ? ';' : '\0';
        close(fd);
        if (err == EWOULDBLOCK)
            return tg_error_set(TG_EIO, "%s is in use by another terragrad process (%s); wait for it to end "
                                        "or choose another folder",
                                dir, holder[0] ? holder : "holder unknown");
        return tg_error_set(TG_EIO, "%s: cannot lock: %s", path, strerror(err));
    }
    char host[256] = "?";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    char text[2048], when[32] = "?";
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int len = snprintf(text, sizeof text, "pid %ld host %s started %s command %s\n", (long)getpid(), host, when,
                       command ? command : "terragrad");
    if (len < 0 || len >= (int)sizeof text)
        len = (int)strlen(text);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        close(fd);
        return tg_error_set(TG_EIO, "%s: cannot write the run lock: %s", path, strerror(errno));
    }
    lk->fd = fd;
    return 0;
}

void tg_run_lock_release(tg_run_lock *lk)
{
    if (lk->fd >= 0) {
        (void)ftruncate(lk->fd, 0); /* the holder's line is stale once it ends */
        close(lk->fd);
    }
    lk->fd = -1;
}

static int exists(const char *dir, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

int tg_run_has_training(const char *dir)
{
    static const char *const files[] = {"last.ckpt", "loss.csv", "config.yaml", "normalisation.txt", "train.log"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (exists(dir, files[i]))
            return 1;
    return 0;
}

/* Removes the entries of dir matching one of pats (files only); counts them in *n. */
static int remove_matching(const char *dir, const char *const *pats, size_t npat, int *n)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return errno == ENOENT ? 0 : tg_error_set(TG_EIO, "%s: cannot list: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(dp))) {
        for (size_t i = 0; i < npat; i++)
            if (!fnmatch(pats[i], e->d_name, 0)) {
                char path[4400];
                struct stat st;
                if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
                    break;
                if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                    if (unlink(path) != 0)
                        rc = tg_error_set(TG_EIO, "%s: cannot remove: %s", path, strerror(errno));
                    else
                        (*n)++;
                }
                break;
            }
    }
    closedir(dp);
    return rc;
}

int tg_run_remove_outputs(const char *dir)
{
    /* what train, test and plot write (runlog.c, trainer.c, evaluate.c, model_surrogate.c,
     * cli/cmd_plot.c); anything else in the folder is the user's */
    static const char *const top[] = {"config.yaml",       "config.yaml.tmp",    "normalisation.txt",
                                      "normalisation.txt.tmp", "train.log",      "loss.csv",
                                      "loss.csv.tmp",      "last.ckpt",          "last.ckpt.tmp",
                                      "test.log",          "eval_*.log",         "metrics_*.csv",
                                      "params_*.csv",      "predictions_*.nc",   "surrogate_params_*.csv",
                                      "surrogate_metrics_*.csv", "*.source", "*.csv.tmp", "*.nc.tmp"};
    static const char *const plots[] = {"*.png", "*.pdf", "*.svg", "*.dat", "plots.gp", "*_corr.csv", "fluxes_map.csv", "*.source"};
    static const char *const preds[] = {"*.csv", "*.csv.tmp"};
    int n = 0, rc = remove_matching(dir, top, sizeof top / sizeof top[0], &n);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/plots", dir);
    if (!rc && !(rc = remove_matching(sub, plots, sizeof plots / sizeof plots[0], &n)))
        (void)rmdir(sub); /* only if now empty */
    DIR *dp = rc ? NULL : opendir(dir);
    struct dirent *e;
    while (dp && !rc && (e = readdir(dp)))
        if (!fnmatch("predictions_*", e->d_name, 0) && !strstr(e->d_name, ".")) {
            struct stat st;
            if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) < (int)sizeof sub && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode) &&
                !(rc = remove_matching(sub, preds, sizeof preds / sizeof preds[0], &n)))
                (void)rmdir(sub);
        }
    if (dp)
        closedir(dp);
    return rc;
}

int tg_out_dir_prepare(const char *dir)
{
    int rc = tg_mkdir_p(dir);
    if (rc)
        return rc;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.terragrad-write-test.%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return tg_error_set(TG_EIO, "%s: cannot write in the output folder: %s", dir, strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

int tg_run_provenance_write(const char *dir, const char *name, const char *ckpt)
{
    uint64_t sum;
    int64_t epoch;
    int rc = tg_checkpoint_identify(ckpt, &sum, &epoch);
    if (rc)
        return rc;
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    fprintf(f, "# which checkpoint these outputs came from (terragrad plot refuses outputs of another one)\n"
               "checkpoint %s\nchecksum %016" PRIx64 "\nepoch %" PRId64 "\n",
            ckpt, sum, epoch);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return tg_error_set(TG_EIO, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

int tg_run_provenance_check(const char *dir, const char *name, const char *ckpt, const char *what)
{
    uint64_t sum;
    int64_t epoch;
    int rc = tg_checkpoint_identify(ckpt, &sum, &epoch);
    if (rc)
        return rc;
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return tg_error_set(TG_EINVAL, "%s: no record of which checkpoint %s came from (%s missing); run "
                                       "`terragrad test %s` again",
                            what, what, path, dir);
    unsigned long long rsum = 0;
    long long repoch = -1;
    int got = 0;
    while (fgets(line, sizeof line, f)) {
        got += sscanf(line, "checksum %llx", &rsum) == 1;
        got += sscanf(line, "epoch %lld", &repoch) == 1;
    }
    fclose(f);
    if (got != 2)
        return tg_error_set(TG_EINVAL, "%s: unreadable (expected 'checksum' and 'epoch' lines)", path);
    if ((uint64_t)rsum != sum)
        return tg_error_set(TG_EINVAL,
                            "%s came from another checkpoint (epoch %lld, checksum %016llx) than the run's %s "
                            "(epoch %" PRId64 ", checksum %016" PRIx64 "): they are stale; run `terragrad test %s` "
                            "again",
                            what, repoch, rsum, ckpt, epoch, sum, dir);
    return 0;
}
