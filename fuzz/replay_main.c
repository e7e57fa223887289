/* replay_main.c — runs a fuzz target's LLVMFuzzerTestOneInput once over each file named on
 * the command line, without libFuzzer: the gcc builds (and the ASan/UBSan one) replay the
 * regression inputs of tests/fuzz_regressions/ through the same harness code as ctest
 * tests. Exit 0 when every input ran; a memory error or UB aborts under the sanitizers. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        size_t cap = 1 << 16, n = 0, got;
        unsigned char *buf = malloc(cap);
        while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
            if ((n += got) == cap) {
                unsigned char *nb = realloc(buf, cap *= 2);
                if (!nb) free(buf);
                buf = nb;
            }
        fclose(f);
        if (!buf) return 1;
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        printf("replayed %s (%zu bytes)\n", argv[i], n);
    }
    return 0;
}
