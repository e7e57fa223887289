/* test_data_fileio.c — tg_file_read_all: the whole file, byte for byte, up to and
 * including the limit (across the reader's buffer growth); past the limit, or missing,
 * NULL with an error that names the file (and the limit). */
#define _POSIX_C_SOURCE 200809L
#include "test_data_util.h"

/* n bytes of a pattern that is not periodic in any buffer size, with NULs inside */
static char *make_file(const char *path, size_t n)
{
    char *want = malloc(n + 1);
    unsigned x = 12345u;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        want[i] = (char)(x >> 16);
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(want, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    return want;
}

static void check_exact(size_t n, size_t limit)
{
    const char *path = scratch_path("exact.bin");
    char *want = make_file(path, n);
    size_t len = 12345;
    char *got = tg_file_read_all(path, limit, &len);
    CHECK(got != NULL, "%zu bytes, limit %zu: %s", n, limit, tg_error_message());
    if (got) {
        CHECK(len == n, "length %zu, want %zu", len, n);
        CHECK(len == n && memcmp(got, want, n) == 0, "%zu bytes: content differs", n);
        CHECK(got[len] == '\0', "not NUL-terminated");
    }
    tg_mem_free(got);
    free(want);
}

static void check_too_long(size_t n, size_t limit)
{
    const char *path = scratch_path("long.bin");
    free(make_file(path, n));
    tg_error_clear();
    size_t len = 7;
    char *got = tg_file_read_all(path, limit, &len);
    CHECK(got == NULL, "%zu bytes read with limit %zu", n, limit);
    tg_mem_free(got);
    char lim[32];
    snprintf(lim, sizeof lim, "%zu", limit);
    CHECK(tg_error_code() == TG_EINVAL, "code %d", tg_error_code());
    CHECK(strstr(tg_error_message(), path) != NULL, "message does not name the file: %s", tg_error_message());
    CHECK(strstr(tg_error_message(), lim) != NULL, "message does not give the limit: %s", tg_error_message());
    CHECK(len == 0, "len %zu after a refusal", len);
}

int main(void)
{
    check_exact(0, 0);                  /* empty file */
    check_exact(100, 100);              /* exactly at the limit */
    check_exact(100, 1 << 20);
    check_exact(200000, 200000);        /* past the first 64 kB buffer, at the limit */
    check_exact(300001, (size_t)1 << 24);
    check_too_long(101, 100);
    check_too_long(1, 0);
    check_too_long(200001, 200000);     /* one byte over, after the buffer grew */

    const char *missing = scratch_path("no_such_file.yaml");
    tg_error_clear();
    char *got = tg_file_read_all(missing, 1 << 20, NULL);
    CHECK(got == NULL, "a missing file was read");
    CHECK(tg_error_code() == TG_EIO, "code %d", tg_error_code());
    CHECK(strstr(tg_error_message(), missing) != NULL, "message does not name the file: %s", tg_error_message());
    return tg_test_summary();
}
