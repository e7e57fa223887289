/* blackbox_exec.c — the executable kind: write input.txt into a fresh temp dir, fork/exec
 * `EXE input.txt output.txt` there, wait with a timeout, read output.txt, clean up.
 * A batch keeps up to `workers` children running at once from ONE thread (a process pool
 * polled with waitpid(pid, WNOHANG)), so no fork happens inside an OpenMP region and each
 * wait targets its own pid (other children of the process are never reaped here).
 * Every failure — exit status, signal, timeout, bad output — is per sample: the pool
 * records it and starts the next sample. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "surrogate/surrogate_internal.h"

typedef struct slot {
    pid_t pid;                    /* 0 = free */
    int sample;
    double t0;
    char dir[TG_BB_PATH_MAX];
} slot;

/* ---------------------------------------------------------------- files */
static int join(char *buf, size_t size, const char *dir, const char *file)
{
    int n = snprintf(buf, size, "%s/%s", dir, file);
    return n < 0 || (size_t)n >= size;
}

static int write_input(const char *dir, int T, int nf, const double *forcing, int np, const double *params,
                       int nout, char *err, size_t errsize)
{
    char path[TG_BB_PATH_MAX + 16];
    if (join(path, sizeof path, dir, "input.txt")) {
        snprintf(err, errsize, "temp dir path too long");
        return -1;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errsize, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    /* %.17g: every double reads back exactly, so file and library runs agree bit for bit. */
    fprintf(f, "tg_blackbox_input 1\n%d %d %d %d\n", T, nf, np, nout);
    for (int k = 0; k < np; k++)
        fprintf(f, "%s%.17g", k ? " " : "", params[k]);
    fputc('\n', f);
    for (int t = 0; t < T; t++) {
        for (int k = 0; k < nf; k++)
            fprintf(f, "%s%.17g", k ? " " : "", forcing[(size_t)t * (size_t)nf + (size_t)k]);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) || bad) {
        snprintf(err, errsize, "cannot write %s", path);
        return -1;
    }
    return 0;
}

/* The last non-empty line of stderr.txt (trimmed to fit), or "" */
static void stderr_tail(const char *dir, char *tail, size_t size)
{
    char path[TG_BB_PATH_MAX + 16];
    size_t len = 0;
    tail[0] = '\0';
    if (join(path, sizeof path, dir, "stderr.txt"))
        return;
    /* only the last line is wanted: a program that floods stderr past 16 MB gets no tail */
    char *buf = tg_file_read_all(path, (size_t)16 << 20, &len);
    if (!buf) {
        tg_error_clear();
        return;
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    char *line = buf + len;
    while (line > buf && line[-1] != '\n')
        line--;
    snprintf(tail, size, "%s", line);
    tg_mem_free(buf);
}

static int is_blank(const char *s, const char *end)
{
    for (; s < end; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            return 0;
    return 1;
}

/* Parses output.txt strictly; returns TG_BB_OK, TG_BB_MALFORMED or TG_BB_NONFINITE. */
static int parse_output(const char *dir, int T, int nout, double *out, char *err, size_t errsize)
{
    char path[TG_BB_PATH_MAX + 16];
    size_t len = 0;
    if (join(path, sizeof path, dir, "output.txt")) {
        snprintf(err, errsize, "temp dir path too long");
        return TG_BB_MALFORMED;
    }
    /* T lines of nout numbers: 64 bytes a number (%.17g needs 24) and a line is generous;
     * a longer file is malformed, not a reason to allocate without bound */
    char *buf = tg_file_read_all(path, 4096 + (size_t)(T + 2) * ((size_t)nout + 1) * 64, &len);
    if (!buf) {
        if (tg_error_code() == TG_EIO)
            snprintf(err, errsize, "no output file output.txt (exit status 0)");
        else
            snprintf(err, errsize, "%s", tg_error_message());
        tg_error_clear();
        return TG_BB_MALFORMED;
    }
    int why = TG_BB_MALFORMED, line = 0, ver = 0, t_file = 0, n_file = 0;
    char *s = buf, *eol;
#define NEXT_LINE()                                                            \
    do {                                                                       \
        eol = strchr(s, '\n');                                                 \
        if (!eol) eol = s + strlen(s);                                         \
        line++;                                                                \
    } while (0)
    NEXT_LINE();
    if (strncmp(s, "tg_blackbox_output", 18) || sscanf(s + 18, "%d", &ver) != 1 || ver != 1) {
        snprintf(err, errsize, "output.txt line 1: expected 'tg_blackbox_output 1'");
        goto done;
    }
    s = *eol ? eol + 1 : eol;
    NEXT_LINE();
    if (sscanf(s, "%d %d", &t_file, &n_file) != 2 || t_file != T || n_file != nout) {
        snprintf(err, errsize, "output.txt line 2: expected sizes '%d %d'", T, nout);
        goto done;
    }
    for (int t = 0; t < T; t++) {
        s = *eol ? eol + 1 : eol;
        if (!*s) {
            snprintf(err, errsize, "output.txt: %d of %d days (truncated)", t, T);
            goto done;
        }
        NEXT_LINE();
        char *p = s;
        for (int k = 0; k < nout; k++) {
            char *q;
            errno = 0;
            double v = strtod(p, &q);
            if (q == p || q > eol) {
                snprintf(err, errsize, "output.txt line %d: expected %d numbers, value %d is missing or not a number",
                         line, nout, k + 1);
                goto done;
            }
            out[(size_t)t * (size_t)nout + (size_t)k] = v;
            p = q;
        }
        if (!is_blank(p, eol)) {
            snprintf(err, errsize, "output.txt line %d: more than %d values", line, nout);
            goto done;
        }
    }
    s = *eol ? eol + 1 : eol;
    if (strspn(s, " \t\r\n") != strlen(s)) {
        snprintf(err, errsize, "output.txt line %d: unexpected text after %d days", line + 1, T);
        goto done;
    }
    long bad = tg__bb_first_nonfinite(out, (size_t)T * (size_t)nout);
    if (bad >= 0) {
        snprintf(err, errsize, "non-finite output %g at day %ld, output %ld", out[bad], bad / nout, bad % nout);
        why = TG_BB_NONFINITE;
        goto done;
    }
    why = TG_BB_OK;
done:
#undef NEXT_LINE
    tg_mem_free(buf);
    return why;
}

/* Removes the temp dir and what the model left in it (one level: models write files). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[TG_BB_PATH_MAX + 300];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            if (!join(path, sizeof path, dir, e->d_name))
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---------------------------------------------------------------- processes */
/* Child side: only async-signal-safe calls between fork and exec. */
static void child(const char *dir, const char *exe)
{
    setpgid(0, 0);                 /* own process group: a timeout kills its children too */
    if (chdir(dir) != 0)
        _exit(126);
    int in = open("/dev/null", O_RDONLY);
    int o = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0)
        _exit(126);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    char *const argv[] = {(char *)exe, (char *)"input.txt", (char *)"output.txt", NULL};
    execv(exe, argv);
    static const char msg[] = "terragrad: exec of the model failed\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(127);
}

/* Starts sample i in slot s; on failure marks the sample and returns non-zero. */
static int start(tg_blackbox *bb, slot *s, int i, int T, const double *forcing, const double *params,
                 int *reason, char *msg, int single)
{
    char err[TG_BB_PATH_MAX + 1024];
    int n = snprintf(s->dir, sizeof s->dir, "%s/tgbb_%s_XXXXXX", bb->workdir, "run");
    if (n < 0 || (size_t)n >= sizeof s->dir || !mkdtemp(s->dir)) {
        *reason = TG_BB_SYSTEM;
        tg__bb_fail(bb, single ? -1 : i, params, msg, TG_BB_MSG_MAX, "cannot create a temp dir in %s: %s",
                    bb->workdir, strerror(errno));
        return 1;
    }
    if (write_input(s->dir, T, bb->nf, forcing, bb->np, params, bb->nout, err, sizeof err)) {
        *reason = TG_BB_SYSTEM;
        tg__bb_fail(bb, single ? -1 : i, params, msg, TG_BB_MSG_MAX, "%s", err);
        remove_dir(s->dir);
        return 1;
    }
    fflush(NULL);   /* the child must not flush the parent's stdio buffers again */
    pid_t pid = fork();
    if (pid < 0) {
        *reason = TG_BB_SYSTEM;
        tg__bb_fail(bb, single ? -1 : i, params, msg, TG_BB_MSG_MAX, "fork failed: %s", strerror(errno));
        remove_dir(s->dir);
        return 1;
    }
    if (pid == 0)
        child(s->dir, bb->path);
    setpgid(pid, pid);             /* also in the parent: no race with a fast kill */
    s->pid = pid;
    s->sample = i;
    s->t0 = tg__bb_now();
    return 0;
}

/* A child has ended (status from waitpid) or timed out: classify, read, clean up. */
static int finish(tg_blackbox *bb, slot *s, int status, int timed_out, int T, const double *params,
                  double *out, int *reason, char *msg, int single)
{
    char err[TG_BB_PATH_MAX + 1024], tail[256];
    const int label = single ? -1 : s->sample;
    int why;
    err[0] = '\0';
    stderr_tail(s->dir, tail, sizeof tail);
    const char *sep = tail[0] ? "; stderr: " : "";
    if (timed_out) {
        why = TG_BB_TIMEOUT;
        snprintf(err, sizeof err, "timed out after %g s (process group killed)%s%s", bb->timeout, sep, tail);
    } else if (WIFSIGNALED(status)) {
        why = TG_BB_SIGNAL;
        int sig = WTERMSIG(status);
        snprintf(err, sizeof err, "crashed: killed by signal %d (%s)%s%s", sig, strsignal(sig), sep, tail);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        why = TG_BB_EXIT;
        snprintf(err, sizeof err, "exit status %d%s%s", WEXITSTATUS(status), sep, tail);
    } else {
        why = parse_output(s->dir, T, bb->nout, out, err, sizeof err);
    }
    const size_t n = (size_t)T * (size_t)bb->nout;
    if (why != TG_BB_OK) {
        for (size_t k = 0; k < n; k++)
            out[k] = NAN;
        if (bb->keep_failed) {
            char kept[TG_BB_PATH_MAX + 32];
            snprintf(kept, sizeof kept, " (files kept in %s)", s->dir);
            strncat(err, kept, sizeof err - strlen(err) - 1);
        }
        tg__bb_fail(bb, label, params, msg, TG_BB_MSG_MAX, "%s", err);
    }
    if (why == TG_BB_OK || !bb->keep_failed)
        remove_dir(s->dir);
    *reason = why;
    s->pid = 0;
    return why != TG_BB_OK;
}

int tg__bb_exec_batch(tg_blackbox *bb, int N, int T, const double *forcing, size_t stride, const double *params,
                      double *out, int *reason, char (*message)[TG_BB_MSG_MAX], int *n_failed, int single)
{
    const int W = bb->workers < N ? bb->workers : N;
    slot *slots = tg_calloc((size_t)W, sizeof *slots);
    if (!slots)
        return tg_error_set(TG_ENOMEM, "blackbox '%s': out of memory", bb->name);
    const size_t tn = (size_t)T * (size_t)bb->nout;
    int next = 0, active = 0, failed = 0;
    char dummy[TG_BB_MSG_MAX];
    long sleep_ns = 100000;
    while (next < N || active > 0) {
        /* Fill free slots. */
        for (int w = 0; w < W && next < N; w++) {
            if (slots[w].pid)
                continue;
            int i = next++;
            char *msg = message ? message[i] : dummy;
            msg[0] = '\0';
            for (size_t k = 0; k < tn; k++)
                out[(size_t)i * tn + k] = NAN;
            if (start(bb, &slots[w], i, T, forcing + (size_t)i * stride, params + (size_t)i * (size_t)bb->np,
                      &reason[i], msg, single))
                failed++;
            else
                active++;
        }
        /* Reap finished children and kill overdue ones. */
        int progressed = 0;
        for (int w = 0; w < W; w++) {
            slot *s = &slots[w];
            if (!s->pid)
                continue;
            const int i = s->sample;
            const double *p = params + (size_t)i * (size_t)bb->np;
            char *msg = message ? message[i] : dummy;
            int status = 0, timed_out = 0;
            /* WNOWAIT: the finished leader stays a zombie, so its pid (= the group id) cannot
             * be reused while we kill what it left behind in its group; then reap it. */
            siginfo_t info;
            memset(&info, 0, sizeof info);
            int r = waitid(P_PID, (id_t)s->pid, &info, WEXITED | WNOHANG | WNOWAIT);
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0 && info.si_pid == 0) {
                if (tg__bb_now() - s->t0 <= bb->timeout)
                    continue;
                timed_out = 1;
            }
            pid_t w8 = -1;
            if (r == 0) {
                kill(-s->pid, SIGKILL);
                while ((w8 = waitpid(s->pid, &status, 0)) < 0 && errno == EINTR)
                    ;
            }
            if (r < 0 || w8 < 0) {
                /* The child vanished (reaped elsewhere): a system failure of this sample. */
                reason[i] = TG_BB_SYSTEM;
                tg__bb_fail(bb, single ? -1 : i, p, msg, TG_BB_MSG_MAX, "waitpid failed: %s", strerror(errno));
                remove_dir(s->dir);
                s->pid = 0;
                failed++;
            } else {
                failed += finish(bb, s, status, timed_out, T, p, out + (size_t)i * tn, &reason[i], msg, single);
            }
            active--;
            progressed = 1;
        }
        if (progressed) {
            sleep_ns = 100000;
        } else if (active > 0) {
            struct timespec ts = {0, sleep_ns};
            nanosleep(&ts, NULL);
            if (sleep_ns < 10000000)
                sleep_ns *= 2;
        }
    }
    tg_free(slots, (size_t)W * sizeof *slots);
    *n_failed = failed;
    return 0;
}
