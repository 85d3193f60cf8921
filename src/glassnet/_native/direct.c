/* Direct convolution: register-blocked, no patch matrix, no BLAS.
 *
 * glassnet.kernels.variants.direct lays the input out channels-last and
 * padded, xp (n, hp, wp, c), and the filters as wt (kh, kw·c, opad): for one
 * filter row a, the kw·c numbers (b, ch) of a window row are ONE contiguous
 * run of xp, and the matching weights are kw·c rows of opad output channels.
 * The vector lanes run over output channels (opad: the channels rounded up
 * to a whole vector, zero filters past o), so no lane is wasted on a ragged
 * output row:
 *
 *   y[n, o, i, j] = bias[o] + Σ_a Σ_r xp[n, i·sh + a, j·sw, r] · wt[a, r, o]
 *
 * (r = b·c + ch over the run). The micro-kernel keeps a JB × OB block of
 * sums in registers -- JB output positions of one row, OB vectors of output
 * channels -- and per step loads OB weight vectors, broadcasts JB inputs and
 * does JB·OB fused multiply-adds; the block starts from the bias and is
 * written straight into the NCHW output. The vector width comes from the
 * compiler's target (GLASSNET_TARGET / -march): 16 floats with AVX-512, 8
 * with AVX2, 4 otherwise; the register budget (32 or 16 vector registers)
 * sets the largest JB for each OB.
 *
 * The input gradient (stride 1) is the same kernel: dx is g, padded by kh - 1
 * - top rows etc., convolved with the filters flipped and with in/out
 * channels swapped. The filter gradient has its own micro-kernel: a block of
 * RB run entries × OB channel vectors, summed over output positions; the bias
 * gradient (g summed over the positions) is added up in the same call, a
 * block of rows at a time while they are in the cache.
 *
 * Work is split over output rows (n, i) between `threads` POSIX threads
 * made for the call; each thread of the filter gradient sums its rows into
 * its own buffer, and the buffers are added in thread order at the end, so
 * the result depends only on the thread count. Sums run in another order
 * than the NumPy reference's and use fused multiply-adds: equal to rounding
 * (tests/test_kernels.py, tests/test_native_targets.py).
 */
#include "common.h"
#include "parallel.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#define GN_VBYTES 64
#define GN_VREGS 32
#elif defined(__AVX__)
#include <immintrin.h>
#define GN_VBYTES 32
#define GN_VREGS 16
#else
#define GN_VBYTES 16
#define GN_VREGS 16
#endif

/* Largest blocks: JB·OB + OB + 1 <= registers (sums, weights, a broadcast).
 * Under AddressSanitizer (make sanitize) small ones: the same code paths, but
 * each block size is a micro-kernel of its own, and instrumented they took
 * minutes to compile. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GN_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(GN_SANITIZED)
#define GN_JB1 4
#define GN_JB2 2
#elif GN_VREGS >= 32
#define GN_JB1 16
#define GN_JB2 14
#else
#define GN_JB1 12
#define GN_JB2 6
#endif

typedef float gn_vf __attribute__((vector_size(GN_VBYTES)));
typedef double gn_vd __attribute__((vector_size(GN_VBYTES)));

/* Floats per vector of this build (8 for AVX2, 16 for AVX-512). */
gn_int gn_direct_width(void) { return GN_VBYTES / (gn_int)sizeof(float); }

GN_INLINE gn_vf gn_fma_f32(gn_vf a, gn_vf b, gn_vf c) {
#if defined(__AVX512F__)
    return (gn_vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__)
    return (gn_vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}

GN_INLINE gn_vd gn_fma_f64(gn_vd a, gn_vd b, gn_vd c) {
#if defined(__AVX512F__)
    return (gn_vd)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#elif defined(__FMA__)
    return (gn_vd)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#else
    return a * b + c;
#endif
}

/* x in every lane: one broadcast instruction (a loop over lanes is not turned into one) */
GN_INLINE gn_vf gn_splat_f32(float x) {
#if defined(__AVX512F__)
    return (gn_vf)_mm512_set1_ps(x);
#elif defined(__AVX__)
    return (gn_vf)_mm256_set1_ps(x);
#else
    gn_vf v;
    for (int k = 0; k < (int)(GN_VBYTES / sizeof(float)); k++) v[k] = x;
    return v;
#endif
}

GN_INLINE gn_vd gn_splat_f64(double x) {
#if defined(__AVX512F__)
    return (gn_vd)_mm512_set1_pd(x);
#elif defined(__AVX__)
    return (gn_vd)_mm256_set1_pd(x);
#else
    gn_vd v;
    for (int k = 0; k < (int)(GN_VBYTES / sizeof(double)); k++) v[k] = x;
    return v;
#endif
}

/* The kernels, once per element type: direct_body.h with T, VT and SUF set. */
#define T float
#define VT gn_vf
#define SUF f32
#define GN_FMA gn_fma_f32
#define GN_SPLAT gn_splat_f32
#include "direct_body.h"
#undef T
#undef VT
#undef SUF
#undef GN_FMA
#undef GN_SPLAT

#define T double
#define VT gn_vd
#define SUF f64
#define GN_FMA gn_fma_f64
#define GN_SPLAT gn_splat_f64
#include "direct_body.h"
