/* _native/gemm.h's float32 product alone, outside Python: where its time goes.
 *
 *     gcc -O3 -march=native -ffp-contract=off -I src/glassnet/_native \
 *         -o /tmp/gemm_harness benchmarks/gemm_harness.c && /tmp/gemm_harness
 *
 * C = A·B for W2's first layer on one block of predict (512 x 784 x 256), one
 * thread, best of 30 calls, in five ways: B read in place on a 64-byte cache
 * line and 16 bytes past one (where NumPy often puts arrays); B packed into
 * panels first, into memory malloc'd for each call and into memory kept
 * between calls (what dense.c does since 2026-12-04); and the 14x32 tile
 * alone on the same 14 rows and panel over and over (as many multiply-adds),
 * the kernel's ceiling with A and B hot. Needs an AVX-512 machine (gemm.h has
 * no product without it). Not part of the tests; docs/speed.md quotes it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int64_t gn_int; /* as common.h */
#include "gemm.h"

#if !GN_OWN_SGEMM
int main(void) {
    puts("this machine has no AVX-512: gemm.h's product is not built");
    return 0;
}
#else
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

enum { M = 512, K = 784, N = 256, REPS = 30 };

int main(void) {
    float *a = aligned_alloc(64, sizeof(float) * M * K);
    float *b_raw = aligned_alloc(64, sizeof(float) * (K * N + 16));
    float *c = aligned_alloc(64, sizeof(float) * M * N);
    float *kept = aligned_alloc(64, sizeof(float) * K * N);
    srand(1);
    for (gn_int i = 0; i < M * K; i++) a[i] = rand() / (float)RAND_MAX;
    const char *names[] = {
        "B in place, on a cache line", "B in place, 16 bytes past a line",
        "B packed into malloc'd memory", "B packed into kept memory",
        "the 14x32 tile alone, hot"};
    for (int way = 0; way < 5; way++) {
        float *b = b_raw + (way == 1 ? 4 : 0);
        for (gn_int i = 0; i < K * N; i++) b[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
        double best = 1e9;
        for (int rep = 0; rep < REPS; rep++) {
            const double t = now();
            if (way <= 1)
                gn_own_sgemm(M, K, a, K, b, N, c, N, 0, N, 0, 0);
            else if (way == 2)
                gn_own_sgemm(M, K, a, K, b, N, c, N, 0, N, 1, 0);
            else if (way == 3)
                gn_own_sgemm(M, K, a, K, b, N, c, N, 0, N, 1, kept);
            else /* as many tiles as the product has */
                for (int i = 0; i < (M / GN_GEMM_MR + 1) * (N / GN_GEMM_NR); i++)
                    gn_gemm_tile_14(K, a, K, b, N, 0, c, N, GN_GEMM_NR);
            const double dt = now() - t;
            best = dt < best ? dt : best;
        }
        const double tiles = way == 4 ? (M / GN_GEMM_MR + 1) * GN_GEMM_MR : M;
        printf("%-34s %7.1f us  %6.1f GFLOP/s\n", names[way], best * 1e6,
               2.0 * tiles * K * N / best * 1e-9);
    }
    free(a), free(b_raw), free(c), free(kept);
    return 0;
}
#endif
