/* glassnet's own float32 matrix product for AVX-512 targets, for dense.c.
 *
 *     C (m x n) = A (m x k) · B (k x n), all row major
 *
 * A register-blocked kernel: 14 rows of A by 32 columns of B (two 16-float
 * vectors) in 28 accumulators, one row of A broadcast at a time. B is read in
 * panels (below) and k is never cut, so each number of C is one chain of
 * fused multiply-adds over k in order: its bits depend on its row of A and its
 * column of B alone, not on how the rows are cut into blocks or shared
 * between threads.
 *
 * Why: on W2's blocks (512 x 784 x 256, 512 x 256 x 256) OpenBLAS 0.3.31's
 * single-threaded sgemm ran at 140-145 GFLOP/s on one Sapphire Rapids core,
 * this kernel at 166-171 (the core's FMA peak, measured: 213). Without
 * AVX-512 GN_OWN_SGEMM is 0 and dense.c keeps BLAS (an AVX2 build of this
 * kernel reached 98.5 GFLOP/s, 93% of AVX2's peak there, but was never
 * measured against OpenBLAS on an AVX2 machine).
 */
#ifndef GLASSNET_GEMM_H
#define GLASSNET_GEMM_H

#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#define GN_OWN_SGEMM 1
#define GN_GEMM_V 16 /* floats per vector */
#define GN_GEMM_MR 14
#define GN_GEMM_NR (2 * GN_GEMM_V)

#include <immintrin.h>

/* C[0:mr, 0:cols] = A[0:mr, :] · P, P a k x NR panel with row stride ldp.
 * Explicit FMA intrinsics: the library is built with -ffp-contract=off. */
static inline __attribute__((always_inline)) void gn_gemm_tile(
    int mr, gn_int k, const float *restrict a, gn_int lda, const float *restrict p,
    gn_int ldp, float *restrict c, gn_int ldc, gn_int cols) {
    __m512 acc[GN_GEMM_MR][2];
    for (int r = 0; r < GN_GEMM_MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (gn_int q = 0; q < k; q++) {
        const __m512 b0 = _mm512_loadu_ps(p + q * ldp);
        const __m512 b1 = _mm512_loadu_ps(p + q * ldp + GN_GEMM_V);
        _Pragma("GCC unroll 14") for (int r = 0; r < GN_GEMM_MR; r++) {
            if (r < mr) {
                const __m512 s = _mm512_set1_ps(a[r * lda + q]);
                acc[r][0] = _mm512_fmadd_ps(s, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(s, b1, acc[r][1]);
            }
        }
    }
    /* the columns to write, as two 16-bit masks */
    const __mmask16 m0 = cols >= GN_GEMM_V ? 0xFFFF : (__mmask16)((1u << cols) - 1u);
    const __mmask16 m1 = cols >= GN_GEMM_NR  ? 0xFFFF
                         : cols > GN_GEMM_V ? (__mmask16)((1u << (cols - GN_GEMM_V)) - 1u)
                                            : 0;
    for (int r = 0; r < mr; r++) {
        _mm512_mask_storeu_ps(c + r * ldc, m0, acc[r][0]);
        _mm512_mask_storeu_ps(c + r * ldc + GN_GEMM_V, m1, acc[r][1]);
    }
}

/* gn_gemm_tile with mr a constant in each case, so the compiler unrolls it. */
static void gn_gemm_tile_any(int mr, gn_int k, const float *a, gn_int lda,
                             const float *p, gn_int ldp, float *c, gn_int ldc,
                             gn_int cols) {
    switch (mr) {
#define GN_GEMM_CASE(R) \
    case R: gn_gemm_tile(R, k, a, lda, p, ldp, c, ldc, cols); break;
        GN_GEMM_CASE(1) GN_GEMM_CASE(2) GN_GEMM_CASE(3) GN_GEMM_CASE(4)
        GN_GEMM_CASE(5) GN_GEMM_CASE(6) GN_GEMM_CASE(7) GN_GEMM_CASE(8)
        GN_GEMM_CASE(9) GN_GEMM_CASE(10) GN_GEMM_CASE(11) GN_GEMM_CASE(12)
        GN_GEMM_CASE(13) GN_GEMM_CASE(14)
#undef GN_GEMM_CASE
        default: break;
    }
}

/* Columns j0..j1 of C = A·B (see above); j0 a multiple of GN_GEMM_NR.
 *
 * With `pack`, those columns of B are first copied into panels of NR columns,
 * k rows each: B read once, row by row, in the order memory holds it. That
 * matters when B is fresh from an optimizer step on another core: read in
 * place, column slab by slab, W2's first layer took 319 us inside a training
 * step against 170 for the same call repeated at once, packed 261-267 (the
 * eager Dense layer packs). Without, B is read in place, with a zero-padded
 * copy only of a last panel narrower than NR: for predict's blocks of 512
 * rows, whose weights nobody is writing, packing them again for every block
 * cost more than it saved (2.26 against 1.82 ms for W2's batch of 1024).
 * Either way each number of C is the same chain of multiply-adds.
 * Returns 0, or -1 when a copy could not be allocated (C untouched). */
static int gn_own_sgemm(gn_int m, gn_int k, const float *a, gn_int lda, const float *b,
                        gn_int ldb, float *c, gn_int ldc, gn_int j0, gn_int j1,
                        int pack) {
    const gn_int panels = (j1 - j0 + GN_GEMM_NR - 1) / GN_GEMM_NR;
    if (panels <= 0 || m <= 0) return 0;
    const gn_int first = pack ? 0 : panels - ((j1 - j0) % GN_GEMM_NR != 0);
    float *bp = 0; /* the copied panels first..panels-1 */
    if (first < panels) {
        bp = malloc(sizeof(float) * (size_t)((panels - first) * k * GN_GEMM_NR));
        if (!bp) return -1;
        for (gn_int q = 0; q < k; q++)
            for (gn_int p = first; p < panels; p++) {
                const gn_int from = j0 + p * GN_GEMM_NR;
                const gn_int cols = j1 - from < GN_GEMM_NR ? j1 - from : GN_GEMM_NR;
                float *dst = bp + ((p - first) * k + q) * GN_GEMM_NR;
                memcpy(dst, b + q * ldb + from, sizeof(float) * (size_t)cols);
                if (cols < GN_GEMM_NR)
                    memset(dst + cols, 0, sizeof(float) * (size_t)(GN_GEMM_NR - cols));
            }
    }
    for (gn_int i = 0; i < m; i += GN_GEMM_MR) {
        const int mr = m - i < GN_GEMM_MR ? (int)(m - i) : GN_GEMM_MR;
        for (gn_int p = 0; p < panels; p++) {
            const gn_int from = j0 + p * GN_GEMM_NR;
            const gn_int cols = j1 - from < GN_GEMM_NR ? j1 - from : GN_GEMM_NR;
            if (p < first)
                gn_gemm_tile_any(mr, k, a + i * lda, lda, b + from, ldb,
                                 c + i * ldc + from, ldc, cols);
            else
                gn_gemm_tile_any(mr, k, a + i * lda, lda,
                                 bp + (p - first) * k * GN_GEMM_NR, GN_GEMM_NR,
                                 c + i * ldc + from, ldc, cols);
        }
    }
    free(bp);
    return 0;
}
#else
#define GN_OWN_SGEMM 0
#endif

#endif
