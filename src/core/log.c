/* log.c — where the library's messages go. Library code never writes to stdout or stderr
 * itself: it hands every line (warnings, a run's report, progress) to one handler, which a
 * program replaces with tg_set_log_handler (a GUI, a Python logger, silence). The default
 * handler writes what the command-line tool has always printed: TG_LOG_INFO to stdout,
 * warnings and progress to stderr, each flushed at once. */
#include <stdarg.h>
#include <stdio.h>

#include "terragrad/core.h"

static void default_handler(void *user, int level, const char *msg)
{
    (void)user;
    FILE *f = level == TG_LOG_INFO ? stdout : stderr;
    fputs(msg, f);
    fflush(f);
}

static tg_log_fn log_fn = default_handler;
static void *log_user;

void tg_set_log_handler(tg_log_fn fn, void *user)
{
    log_fn = fn ? fn : default_handler;
    log_user = fn ? user : NULL;
}

void tg_log_vmessage(int level, const char *fmt, va_list ap)
{
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    log_fn(log_user, level, buf);
}

void tg_log_message(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tg_log_vmessage(level, fmt, ap);
    va_end(ap);
}
