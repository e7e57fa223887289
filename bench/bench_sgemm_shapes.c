/* bench_sgemm_shapes.c — OpenBLAS sgemm at the shapes of the networks' products against its
 * 2048^3 rate, one thread: which products can reach the "sgemm peak" and which cannot.
 * Shapes (row-major C (M, N) += A (M, K) B (K, N)): the LSTM's recurrent product per day at
 * the neuralhydrology size (B = 256, H = 256: 256 x 1024 x 256) and at the δHBV size
 * (B = 100), and the LSTM's input projection over all days (365 x 256 rows, 32 inputs).
 *   bench_sgemm_shapes  -> one line per shape, best of 5 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cblas.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void run(const char *name, int M, int N, int K, int reps)
{
    float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N);
    float *C = calloc((size_t)M * N, sizeof(float));
    if (!A || !B || !C) {
        fprintf(stderr, "bench_sgemm_shapes: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)(i % 7) * 0.02f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 1.0f, C, N);
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        for (int i = 0; i < reps; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 1.0f, C, N);
        double t = (now() - t0) / reps;
        best = t < best ? t : best;
    }
    printf("%-34s M=%-6d N=%-5d K=%-5d %6.1f GFLOP/s (OpenBLAS %s)\n", name, M, N, K,
           2.0 * M * (double)N * K / best / 1e9, openblas_get_corename());
    free(A), free(B), free(C);
}

int main(void)
{
    openblas_set_num_threads(1);
    run("2048^3", 2048, 2048, 2048, 2);
    run("LSTM recurrent, B=256 H=256", 256, 1024, 256, 200);
    run("δHBV LSTM recurrent, B=100 H=256", 100, 1024, 256, 200);
    run("LSTM input projection, 32 inputs", 365 * 256, 1024, 32, 2);
    return 0;
}
