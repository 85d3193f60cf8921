/* Shared by glassnet's compiled kernels: sizes, and a row-major GEMM.
 *
 * Every kernel file includes this once. Arrays are row-major and contiguous
 * unless a leading dimension says otherwise. Matrix products go to the BLAS
 * NumPy itself uses (its ILP64 cblas_?gemm, whose address Python hands over
 * through gn_set_blas) when they are big enough to pay for the call; small
 * ones, and every one when no BLAS address was given, run the loops below,
 * written so the compiler vectorises the innermost loop.
 */
#ifndef GLASSNET_COMMON_H
#define GLASSNET_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

typedef int64_t gn_int;

enum { GN_ROW_MAJOR = 101, GN_NO_TRANS = 111, GN_TRANS = 112 };

typedef void (*gn_sgemm_fn)(int order, int ta, int tb, gn_int m, gn_int n, gn_int k,
                            float alpha, const float *a, gn_int lda, const float *b,
                            gn_int ldb, float beta, float *c, gn_int ldc);
typedef void (*gn_dgemm_fn)(int order, int ta, int tb, gn_int m, gn_int n, gn_int k,
                            double alpha, const double *a, gn_int lda, const double *b,
                            gn_int ldb, double beta, double *c, gn_int ldc);

static gn_sgemm_fn gn_blas_sgemm = 0;
static gn_dgemm_fn gn_blas_dgemm = 0;
/* Products with m*n*k below this run the loops here, not BLAS (set by Python). */
static gn_int gn_small_gemm = 0;

/* Which library this is, for Python to check before it trusts one it loaded:
 * "glassnet NAME abi N", set by the build (-DGN_IDENTITY, glassnet/_native). */
#ifdef GN_IDENTITY
const char *gn_identity(void) { return GN_IDENTITY; }
#endif

/* Called once from Python with the addresses of NumPy's cblas_sgemm/dgemm
 * (or 0) and the size below which the own loops are used. */
void gn_set_blas(void *sgemm, void *dgemm, gn_int small) {
    gn_blas_sgemm = (gn_sgemm_fn)sgemm;
    gn_blas_dgemm = (gn_dgemm_fn)dgemm;
    gn_small_gemm = small;
}

/* C = op(A)·op(B) + beta·C (beta 0 or 1), C is m×n with leading dimension ldc.
 * op(A) is m×k: A stored m×k (ta = 0) or k×m (ta = 1); op(B) is k×n: B stored
 * k×n (tb = 0) or n×k (tb = 1). */
#define GN_DEFINE_GEMM(NAME, T, BLAS)                                                \
    static inline void NAME(int ta, int tb, gn_int m, gn_int n, gn_int k, const T *a,       \
                     gn_int lda, const T *b, gn_int ldb, T beta, T *c, gn_int ldc) {  \
        if (BLAS && m * n * k >= gn_small_gemm) {                                    \
            BLAS(GN_ROW_MAJOR, ta ? GN_TRANS : GN_NO_TRANS,                          \
                 tb ? GN_TRANS : GN_NO_TRANS, m, n, k, (T)1, a, lda, b, ldb, beta,  \
                 c, ldc);                                                            \
            return;                                                                  \
        }                                                                            \
        T *bt = 0;                                                                   \
        if (tb) { /* make B k×n so the inner loop runs along contiguous rows */      \
            bt = (T *)malloc(sizeof(T) * (size_t)(k * n));                           \
            for (gn_int j = 0; j < n; j++)                                           \
                for (gn_int p = 0; p < k; p++) bt[p * n + j] = b[j * ldb + p];       \
            b = bt;                                                                  \
            ldb = n;                                                                 \
        }                                                                            \
        for (gn_int i = 0; i < m; i++) {                                             \
            T *restrict ci = c + i * ldc;                                            \
            if (beta == (T)0)                                                        \
                for (gn_int j = 0; j < n; j++) ci[j] = 0;                            \
            for (gn_int p = 0; p < k; p++) {                                         \
                const T aip = ta ? a[p * lda + i] : a[i * lda + p];                  \
                const T *restrict bp = b + p * ldb;                                  \
                for (gn_int j = 0; j < n; j++) ci[j] += aip * bp[j];                 \
            }                                                                        \
        }                                                                            \
        free(bt);                                                                    \
    }

/* e^x in float32 that the compiler can vectorise (the C library's expf is a
 * call per element). Cody-Waite reduction x = n·ln2 + r, |r| <= ln2/2, then
 * Cephes' degree-6 polynomial, then 2^n applied in two halves so that no
 * factor leaves the normal range (results down to subnormals come out right).
 * Within 2 ulp of the correctly rounded value: tests/test_native.py measures
 * it against NumPy's exp. Overflow gives +inf, x < -103.3 gives 0, NaN stays
 * NaN. */
static inline float gn_pow2i(int32_t n) { /* 2^n for -126 <= n <= 127 */
    const int32_t bits = (n + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
#if defined(__GNUC__)
#define GN_INLINE static inline __attribute__((always_inline))
#else
#define GN_INLINE static inline
#endif

/* The shared core: *n = round(x / ln2), and e^r for r = x - n·ln2 (ln2 in two
 * parts, so r is exact enough), by the polynomial. e^x = result · 2^n. */
GN_INLINE float gn_exp_core(float x, float *n) {
    const float k = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    *n = k;
    return p * (r * r) + r + 1.0f;
}

/* NaN never reaches the polynomial or the conversion to int (converting NaN,
 * or a float out of int's range, to int is undefined behaviour, and a NaN
 * there became INT_MIN, shifted left as a negative number in gn_pow2i): it is
 * replaced by a number first and returned as it came at the end. */
GN_INLINE float gn_expf(float x) {
    const float hi = 88.72283905206835f, lo = -103.278929903431851f;
    const int nan = x != x;
    float xc = x > hi ? hi : x;
    xc = (xc < lo) | nan ? lo : xc;
    float n;
    float y = gn_exp_core(xc, &n);
    const int32_t half = (int32_t)n / 2; /* n in [-149, 128]: both halves in range */
    y = (y * gn_pow2i(half)) * gn_pow2i((int32_t)n - half);
    y = x > hi ? INFINITY : y;
    y = x < lo ? 0.0f : y;
    return nan ? x : y;
}

/* e^x for x <= 0, for the LSTM's gates: 0 below -87.3, where e^x would be
 * subnormal, so one factor 2^n (n >= -126) is enough. x above 88 is taken
 * as 88 (e^x would overflow; the gates never ask). NaN stays NaN. */
GN_INLINE float gn_expf_neg(float x) {
    const int underflow = x < -87.3f; /* false for NaN */
    const int nan = x != x;
    float xc = x > 88.0f ? 88.0f : x;
    xc = underflow | nan ? -87.3f : xc;
    float n;
    const float y = gn_exp_core(xc, &n);
    const float e = underflow ? 0.0f : y * gn_pow2i((int32_t)n);
    return nan ? x : e;
}

/* The activations, once for every C file (glassnet.kernels.activations has the
 * NumPy reference). σ(z) = 1/(1 + e^−|z|), times e^−|z| for z < 0: never
 * overflows. tanh: Cephes' odd polynomial below 0.625, (1 − e^−2|x|)/(1 +
 * e^−2|x|) above. Both agree with NumPy's to rounding, not bit for bit. */
GN_INLINE float gn_sigmoidf(float z) {
    const float e = gn_expf_neg(-fabsf(z));
    const float r = 1.0f / (1.0f + e);
    return z >= 0.0f ? r : e * r;
}

GN_INLINE float gn_tanhf(float x) {
    const float a = fabsf(x);
    const float e = gn_expf_neg(-2.0f * a);
    const float big = (1.0f - e) / (1.0f + e);
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const float small = p * z * x + x;
    return a < 0.625f ? small : copysignf(big, x);
}

GN_INLINE double gn_sigmoid(double z) {
    const double e = exp(-fabs(z));
    const double r = 1.0 / (1.0 + e);
    return z >= 0.0 ? r : e * r;
}

GN_DEFINE_GEMM(gn_sgemm, float, gn_blas_sgemm)
GN_DEFINE_GEMM(gn_dgemm, double, gn_blas_dgemm)

#endif
