/* fuzz_common.h — helpers shared by the libFuzzer targets in this folder.
 * The parsers take paths, so each input is written to a file in a private temp folder
 * (under $TMPDIR, /dev/shm when it exists: no disk I/O) created once per process. */
#ifndef TG_FUZZ_COMMON_H
#define TG_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "terragrad.h"

/* The per-process temp folder (created on first use; removed at exit). */
const char *tg_fuzz_dir(void);
/* "<tg_fuzz_dir()>/<rel>", parent folders of rel created; static buffer per call site is
 * not needed: the result goes to out (size bytes). Aborts on failure (a harness bug). */
void tg_fuzz_path(char *out, size_t size, const char *rel);
/* Writes data[0..n) to path (truncating). Aborts on failure. */
void tg_fuzz_write(const char *path, const uint8_t *data, size_t n);
/* The same for a NUL-terminated string. */
void tg_fuzz_write_str(const char *path, const char *s);

/* End of one input: with TG_FUZZ_VERBOSE=1 prints the library's error message (to see
 * which seeds parse), then clears it. */
void tg_fuzz_done(void);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
