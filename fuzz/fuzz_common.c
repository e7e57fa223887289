/* fuzz_common.c — temp folder and file helpers for the fuzz targets (see fuzz_common.h). */
#define _XOPEN_SOURCE 700   /* nftw */
#include "fuzz_common.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void cleanup(void)
{
    if (dir[0]) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tg_fuzz_dir(void)
{
    if (dir[0]) return dir;
    const char *base = getenv("TMPDIR");
    struct stat st;
    if (!base || !*base) base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/tg_fuzz_XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(cleanup);
    return dir;
}

void tg_fuzz_path(char *out, size_t size, const char *rel)
{
    if ((size_t)snprintf(out, size, "%s/%s", tg_fuzz_dir(), rel) >= size) abort();
    /* create the parents of rel */
    for (char *p = out + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(out, 0700);
        *p = '/';
    }
}

void tg_fuzz_write(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) {
        perror(path);
        abort();
    }
}

void tg_fuzz_write_str(const char *path, const char *s) { tg_fuzz_write(path, (const uint8_t *)s, strlen(s)); }

void tg_fuzz_done(void)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("TG_FUZZ_VERBOSE") && !strcmp(getenv("TG_FUZZ_VERBOSE"), "1");
    if (verbose) fprintf(stderr, "tg_fuzz: %s\n", tg_error_code() ? tg_error_message() : "parsed");
    tg_error_clear();
}
