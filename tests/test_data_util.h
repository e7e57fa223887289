/* test_data_util.h — shared by the tests/test_data_*.c files: a scratch directory for
 * broken input files, and a check that an error names its file, line and field. */
#ifndef TG_TEST_DATA_UTIL_H
#define TG_TEST_DATA_UTIL_H
/* every test_data_*.c defines _POSIX_C_SOURCE 200809L first (mkdtemp, mkdir) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

static char test_scratch[256];

static inline void scratch_remove(void)
{
    char cmd[300];
    if (!test_scratch[0] || getenv("TG_KEEP_SCRATCH")) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_scratch);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", test_scratch);
}

/* A fresh directory under /tmp for the files this test writes, removed at exit (set
 * TG_KEEP_SCRATCH to keep it for a look). */
static inline const char *scratch_dir(void)
{
    if (!test_scratch[0]) {
        snprintf(test_scratch, sizeof test_scratch, "/tmp/tg_test_data_XXXXXX");
        if (!mkdtemp(test_scratch)) {
            fprintf(stderr, "cannot create a scratch directory\n");
            exit(1);
        }
        atexit(scratch_remove);
    }
    return test_scratch;
}

static inline const char *scratch_path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", scratch_dir(), name);
    return buf[k];
}

static inline void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* Checks status == code and that the message holds each of the (non-NULL) pieces. */
#define CHECK_ERROR(rc, code, file, line, field)                                                \
    do {                                                                                        \
        int rc_ = (rc); /* evaluated once, before the message is read */                        \
        const char *msg_ = tg_error_message();                                                  \
        CHECK(rc_ == (code), "status %d, expected %d (%s)", rc_, (code), msg_);                 \
        const char *want_[3] = {(file), (line), (field)};                                       \
        for (int w_ = 0; w_ < 3; w_++)                                                          \
            if (want_[w_]) CHECK(strstr(msg_, want_[w_]) != NULL, "message '%s' lacks '%s'", msg_, want_[w_]); \
    } while (0)

static inline int days(int y, int m, int d) { return tg_date_from_ymd(y, m, d); }

#endif
