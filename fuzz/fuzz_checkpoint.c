/* fuzz_checkpoint.c — libFuzzer target: a training checkpoint (tg_checkpoint_load) into a
 * small fixed model (an LSTM layer and a linear head) with Adam and an RNG.
 *
 * The file carries an FNV-1a checksum of its payload, which almost every mutation would
 * break, so the parser behind it would never be reached: when the first input byte is
 * odd, the rest of the input gets its header's payload size and checksum rewritten to
 * match before it is written (bytes 16..31); when even, the input is written as is (the
 * header checks themselves). Bit 1 set: load the parameters only (no optimizer / RNG). TG_FUZZ_SEED_OUT=<dir>: write seed inputs there and exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static tg_params *ps;
static tg_optim *opt;
static tg_rng rng;

static void model_create(void)
{
    tg_lstm_layer lstm;
    tg_linear_layer head;
    ps = tg_params_create();
    if (!ps || tg_lstm_layer_init(&lstm, ps, "lstm", 3, 4, 0) || tg_linear_layer_init(&head, ps, "head", 4, 1, 1))
        abort();
    tg_rng_seed(&rng, 1);
    tg_lstm_reset(&lstm, ps, TG_INIT_TORCH, &rng);
    tg_linear_reset(&head, ps, TG_INIT_TORCH, &rng);
    opt = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = 1e-2}, ps);
    if (!opt) abort();
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void put_u64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* seeds: "\1" + a checkpoint with optimizer and RNG, "\1" + one without, "\0" + the first */
static void write_seeds(const char *dir)
{
    char path[700], seed[800];
    snprintf(path, sizeof path, "%s/ckpt.tmp", tg_fuzz_dir());
    for (int k = 0; k < 3; k++) {
        if (tg_checkpoint_save(path, ps, k == 1 ? NULL : opt, k == 1 ? NULL : &rng, 7 + k)) {
            fprintf(stderr, "fuzz_checkpoint: %s\n", tg_error_message());
            exit(1);
        }
        FILE *in = fopen(path, "rb");
        snprintf(seed, sizeof seed, "%s/seed_%d.bin", dir, k);
        FILE *out = fopen(seed, "wb");
        if (!in || !out) abort();
        fputc(k == 2 ? 0 : 1, out);
        int c;
        while ((c = fgetc(in)) != EOF) fputc(c, out);
        fclose(in);
        if (fclose(out)) abort();
    }
    exit(0);
}

static char path[600];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    model_create();
    tg_fuzz_path(path, sizeof path, "last.ckpt");
    if (getenv("TG_FUZZ_SEED_OUT")) write_seeds(getenv("TG_FUZZ_SEED_OUT"));   /* exits */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *buf;
    static size_t cap;
    if (size < 1) return 0;
    const int fix = data[0] & 1, full = !(data[0] & 2);   /* full: restore optimizer, RNG, epoch too */
    data++, size--;
    if (fix && size >= 48) {
        if (size > cap) {
            free(buf);
            buf = malloc(cap = size);
            if (!buf) abort();
        }
        memcpy(buf, data, size);
        put_u64(buf + 16, (uint64_t)(size - 48));
        put_u64(buf + 24, fnv1a64(buf + 48, size - 48));
        data = buf;
    }
    tg_fuzz_write(path, data, size);
    int64_t epoch = 0;
    (void)tg_checkpoint_load(path, ps, full ? opt : NULL, full ? &rng : NULL, full ? &epoch : NULL);
    tg_fuzz_done();
    return 0;
}
