/* glassnet's float32 register tile, and on AVX-512 its own matrix product.
 *
 * GN_TILE (AVX2 with FMA, or AVX-512) is the one multiply-add kernel both
 * compiled products use: lstm.c's per-step product (4 rows x 4 vectors,
 * W_h's blocks of 128 rows summed into C) and, on AVX-512, gn_own_sgemm below
 * (up to 14 rows x 2 vectors, k never cut), dense.c's.
 *
 * gn_own_sgemm: C (m x n) = A (m x k) · B (k x n), all row major. Tiles of 14
 * rows of A by 32 columns of B (two 16-float vectors) in 28 accumulators, one
 * row of A broadcast at a time. B is read in panels (below) and k is never
 * cut, so each number of C is one chain of fused multiply-adds over k in
 * order: its bits depend on its row of A and its column of B alone, not on
 * how the rows are cut into blocks or shared between threads.
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

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define GN_TILE_FMA 1
#include <immintrin.h>
#if defined(__AVX512F__)
#define GN_TV 16 /* floats per vector */
typedef float gn_tvf __attribute__((vector_size(64)));
#define GN_TFMA(a, b, c) (gn_tvf) _mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c))
#define GN_TSET1(x) (gn_tvf) _mm512_set1_ps(x)
#else
#define GN_TV 8
typedef float gn_tvf __attribute__((vector_size(32)));
#define GN_TFMA(a, b, c) (gn_tvf) _mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c))
#define GN_TSET1(x) (gn_tvf) _mm256_set1_ps(x)
#endif

static inline __attribute__((always_inline)) gn_tvf gn_tload(const float *p) {
    gn_tvf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void gn_tstore(float *p, gn_tvf v) {
    memcpy(p, &v, sizeof v);
}

/* NAME: C[0:MR, 0:cols] = A[0:MR, 0:k] · P, plus C's own values when `add`
 * (then cols must be all NV·GN_TV columns). P holds k rows of NV vectors,
 * ldp floats apart; cols <= NV·GN_TV. Each number of C is one chain of fused
 * multiply-adds over k in order, from 0 or from C's value: explicit FMA
 * intrinsics, as the library is built with -ffp-contract=off. */
#define GN_TILE(NAME, MR, NV)                                                          \
    static inline __attribute__((always_inline)) void NAME(                            \
        gn_int k, const float *restrict a, gn_int lda, const float *restrict p,         \
        gn_int ldp, int add, float *restrict c, gn_int ldc, gn_int cols) {             \
        gn_tvf acc[MR][NV];                                                            \
        _Pragma("GCC unroll 16") for (int r = 0; r < (MR); r++)                        \
            _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++)                     \
                acc[r][v] = add ? gn_tload(c + r * ldc + v * GN_TV) : GN_TSET1(0.0f);  \
        for (gn_int q = 0; q < k; q++) {                                               \
            gn_tvf w[NV];                                                              \
            _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++)                     \
                w[v] = gn_tload(p + q * ldp + v * GN_TV);                              \
            _Pragma("GCC unroll 16") for (int r = 0; r < (MR); r++) {                  \
                const gn_tvf x = GN_TSET1(a[r * lda + q]);                             \
                _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++)                 \
                    acc[r][v] = GN_TFMA(x, w[v], acc[r][v]);                           \
            }                                                                          \
        }                                                                              \
        if (cols >= (NV) * GN_TV) {                                                    \
            for (int r = 0; r < (MR); r++)                                             \
                for (int v = 0; v < (NV); v++)                                         \
                    gn_tstore(c + r * ldc + v * GN_TV, acc[r][v]);                     \
        } else { /* a last, narrower panel: its columns only */                        \
            for (int r = 0; r < (MR); r++) {                                           \
                float row[(NV) * GN_TV];                                               \
                for (int v = 0; v < (NV); v++) gn_tstore(row + v * GN_TV, acc[r][v]);  \
                memcpy(c + r * ldc, row, sizeof(float) * (size_t)cols);                \
            }                                                                          \
        }                                                                              \
    }
#endif

#if defined(__AVX512F__)
#define GN_OWN_SGEMM 1
#define GN_GEMM_MR 14
#define GN_GEMM_NR (2 * GN_TV)

#define GN_GEMM_ROWS(X)                                                                \
    X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14)
#define GN_GEMM_DEFINE(R) GN_TILE(gn_gemm_tile_##R, R, 2)
GN_GEMM_ROWS(GN_GEMM_DEFINE)
#undef GN_GEMM_DEFINE

/* The tile for mr (1-14) rows: C[0:mr, 0:cols] = A[0:mr, :] · P. */
static void gn_gemm_tile_any(int mr, gn_int k, const float *a, gn_int lda,
                             const float *p, gn_int ldp, float *c, gn_int ldc,
                             gn_int cols) {
    switch (mr) {
#define GN_GEMM_CASE(R) \
    case R: gn_gemm_tile_##R(k, a, lda, p, ldp, 0, c, ldc, cols); break;
        GN_GEMM_ROWS(GN_GEMM_CASE)
#undef GN_GEMM_CASE
        default: break;
    }
}

/* Columns j0..j1 of C = A·B (see above); j0 a multiple of GN_GEMM_NR.
 *
 * With `pack`, those columns of B are first copied into panels of NR columns,
 * k rows each, at `buf` (64-byte aligned, room for k·NR floats a panel): B
 * read once, row by row, in the order memory holds it, and the tile's loads
 * aligned and one stream. Without, B is read in place, with a zero-padded copy
 * only of a last panel narrower than NR (at `buf`, or malloc's when NULL).
 * Either way each number of C is the same chain of multiply-adds.
 *
 * Measured (one Sapphire Rapids core, 512 x 784 x 256, best of 30, six runs
 * of benchmarks/gemm_harness.c): B in place on a cache line 974-1,063 us,
 * 16 bytes off a line (where NumPy often puts arrays: each 64-byte load then
 * straddles two lines) 1,061-1,145, packed into memory kept between calls
 * 1,010-1,168, packed into memory malloc'd per call 1,076-1,174. Inside a
 * training step, with B fresh from an optimizer step on another core, read in
 * place W2's first layer took 319 us against 261-267 packed.
 * Returns 0, or -1 when a copy could not be allocated (C untouched). */
__attribute__((unused)) /* dense.c's; lstm.c includes this file for the tile */
static int gn_own_sgemm(gn_int m, gn_int k, const float *a, gn_int lda, const float *b,
                        gn_int ldb, float *c, gn_int ldc, gn_int j0, gn_int j1,
                        int pack, float *buf) {
    const gn_int panels = (j1 - j0 + GN_GEMM_NR - 1) / GN_GEMM_NR;
    if (panels <= 0 || m <= 0) return 0;
    const gn_int first = pack ? 0 : panels - ((j1 - j0) % GN_GEMM_NR != 0);
    float *bp = buf; /* the copied panels first..panels-1 */
    if (first < panels) {
        if (!bp) bp = malloc(sizeof(float) * (size_t)((panels - first) * k * GN_GEMM_NR));
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
    if (bp != buf) free(bp);
    return 0;
}
#else
#define GN_OWN_SGEMM 0
#endif

#endif
