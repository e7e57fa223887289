/* runlog.c — run directory helpers, the log file and the progress line. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train_internal.h"

int tg_mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST)
            return tg_error_set(TG_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return tg_error_set(TG_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
    return 0;
}

int tg_copy_file(const char *src, const char *dst)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    FILE *in = fopen(src, "rb");
    if (!in)
        return tg_error_set(TG_EIO, "%s: cannot open: %s", src, strerror(errno));
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        fclose(in);
        return tg_error_set(TG_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    }
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = tg_error_set(TG_EIO, "%s: write failed", tmp);
    fclose(in);
    if (fclose(out) && !rc)
        rc = tg_error_set(TG_EIO, "%s: write failed", tmp);
    if (!rc && rename(tmp, dst))
        rc = tg_error_set(TG_EIO, "%s: cannot rename to %s: %s", tmp, dst, strerror(errno));
    if (rc)
        remove(tmp);
    return rc;
}

int tg_runlog_open(tg_runlog *rl, const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rl->log = fopen(path, "a");
    if (!rl->log)
        return tg_error_set(TG_EIO, "%s: cannot open log: %s", path, strerror(errno));
    rl->tty = isatty(fileno(stderr));
    return 0;
}

void tg_runlog_close(tg_runlog *rl)
{
    if (rl->log)
        fclose(rl->log);
    rl->log = NULL;
}

void tg_runlog_printf(tg_runlog *rl, const char *fmt, ...)
{
    va_list ap;
    if (!tg_dist_is_root())
        return; /* rank 0 speaks for the run */
    if (rl && rl->tty)
        tg_log_message(TG_LOG_PROGRESS, "\r\033[K"); /* clear a pending progress line */
    va_start(ap, fmt);
    tg_log_vmessage(TG_LOG_INFO, fmt, ap);
    va_end(ap);
    if (rl && rl->log) {
        va_start(ap, fmt);
        vfprintf(rl->log, fmt, ap);
        va_end(ap);
        fflush(rl->log);
    }
}

void tg_runlog_file(tg_runlog *rl, const char *fmt, ...)
{
    va_list ap;
    if (!tg_dist_is_root() || !rl || !rl->log)
        return;
    va_start(ap, fmt);
    vfprintf(rl->log, fmt, ap);
    va_end(ap);
    fflush(rl->log);
}

static void fmt_duration(double s, char *buf, size_t n)
{
    if (s < 0 || s != s)
        snprintf(buf, n, "?");
    else if (s < 100)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 6000)
    {
        long m = (long)(s / 60);
        snprintf(buf, n, "%ldm%02lds", m, (long)(s - 60.0 * (double)m));
    }
    else
        snprintf(buf, n, "%.1fh", s / 3600);
}

void tg_runlog_progress(tg_runlog *rl, int epoch, int epochs, int it, int iters, double loss, double elapsed,
                        double frac)
{
    char eta[32];
    fmt_duration(frac > 0 ? elapsed * (1 - frac) / frac : -1, eta, sizeof eta);
    double rate = elapsed > 0 ? frac * (double)epochs * (double)iters / elapsed : 0;
    if (rl->tty) {
        tg_log_message(TG_LOG_PROGRESS, "\r\033[Kepoch %d/%d  iter %d/%d  loss %.4f  %.1f it/s  ETA %s", epoch, epochs, it, iters, loss,
                rate, eta);
    } else {
        int every = iters >= 10 ? iters / 5 : 1;
        if (it % every == 0 || it == iters)
            tg_log_message(TG_LOG_PROGRESS, "epoch %d/%d iter %d/%d loss %.4f %.1f it/s ETA %s\n", epoch, epochs, it, iters, loss, rate,
                    eta);
    }
}
