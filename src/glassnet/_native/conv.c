/* Convolution and max-pooling helpers: what NumPy cannot do in one pass.
 *
 * - gn_conv_gemm_*: a matrix product that may ADD into its output (beta = 1),
 *   on row-major operands with any leading dimension. glassnet.ops.conv uses
 *   it to sum the products of a convolution's kernel rows straight into one
 *   output, instead of a NumPy product into a temporary and an addition.
 * - gn_maxpool_fwd_*: the max of every window and which offset won it (as a
 *   uint8 index a·kw + b), in one pass over the maps.
 * - gn_maxpool_bwd_*: each window's gradient sent to the pixel that won it.
 *
 * Each computes what the NumPy code of glassnet.ops.conv / glassnet.ops.pool
 * computes: pooling bit for bit (the same comparisons: a strictly larger
 * value takes the win, so the first in reading order keeps a tie and a NaN
 * never wins; the max is np.maximum(max so far, value) element for element,
 * see below), the products to float rounding (BLAS adds in its own order).
 * float32 and float64 variants. tests/test_native_conv.py checks both
 * against the NumPy code.
 */
#include "common.h"

/* C = op(A)·op(B) + beta·C, beta 0 or 1 (see gn_sgemm in common.h). */
void gn_conv_gemm_f32(int ta, int tb, gn_int m, gn_int n, gn_int k, const float *a,
                      gn_int lda, const float *b, gn_int ldb, double beta, float *c,
                      gn_int ldc) {
    gn_sgemm(ta, tb, m, n, k, a, lda, b, ldb, (float)beta, c, ldc);
}

void gn_conv_gemm_f64(int ta, int tb, gn_int m, gn_int n, gn_int k, const double *a,
                      gn_int lda, const double *b, gn_int ldb, double beta, double *c,
                      gn_int ldc) {
    gn_dgemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

/* x: `planes` maps of h×w (already padded), out and win: planes × oh × ow.
 * win may be NULL (no gradient wanted). kh·kw <= 255. Windows start at
 * (i·sh, j·sw) and lie inside the map. The comparisons are branch-free so
 * the compiler vectorises the loop over j; the winners of a row go through
 * a small int buffer (a uint8 store may alias anything, which would stop
 * that). */
#define GN_POOL_ROW 256
#define GN_DEFINE_MAXPOOL_FWD(NAME, T)                                                 \
    static inline void NAME##_impl(const T *restrict x, T *restrict out,                \
                                   uint8_t *restrict win, gn_int planes, gn_int h,      \
                                   gn_int w, gn_int oh, gn_int ow, gn_int kh, gn_int kw,\
                                   gn_int sh, gn_int sw) {                              \
        int won[GN_POOL_ROW];                                                          \
        for (gn_int p = 0; p < planes; p++) {                                          \
            const T *xp = x + p * h * w;                                               \
            for (gn_int i = 0; i < oh; i++) {                                          \
                T *restrict orow = out + (p * oh + i) * ow;                            \
                for (gn_int j0 = 0; j0 < ow; j0 += GN_POOL_ROW) {                      \
                    const gn_int nj = ow - j0 < GN_POOL_ROW ? ow - j0 : GN_POOL_ROW;   \
                    const T *base = xp + i * sh * w + j0 * sw;                         \
                    for (gn_int j = 0; j < nj; j++) {                                  \
                        orow[j0 + j] = base[j * sw];                                   \
                        won[j] = 0;                                                    \
                    }                                                                  \
                    for (gn_int a = 0; a < kh; a++)                                    \
                        for (gn_int b = 0; b < kw; b++) {                              \
                            if (a == 0 && b == 0) continue;                            \
                            const int k = (int)(a * kw + b);                           \
                            const T *restrict src = base + a * w + b;                  \
                            T *restrict best = orow + j0;                              \
                            for (gn_int j = 0; j < nj; j++) {                          \
                                const T v = src[j * sw], m = best[j];                  \
                                won[j] = v > m ? k : won[j];                           \
                                /* np.maximum(m, v) exactly: a NaN already there */    \
                                /* stays (the first NaN), else v unless m is larger, */ \
                                /* so a NaN v, and v on a tie (the sign of a zero */  \
                                /* max: NumPy's SIMD max returns v there too) */       \
                                best[j] = ((m > v) | (m != m)) ? m : v;                \
                            }                                                          \
                        }                                                              \
                    if (win)                                                           \
                        for (gn_int j = 0; j < nj; j++)                                \
                            win[(p * oh + i) * ow + j0 + j] = (uint8_t)won[j];         \
                }                                                                      \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
    void NAME(const T *x, T *out, uint8_t *win, gn_int planes, gn_int h, gn_int w,      \
              gn_int oh, gn_int ow, gn_int kh, gn_int kw, gn_int sh, gn_int sw) {       \
        if (kh == 2 && kw == 2 && sh == 2 && sw == 2) /* LeNet's: constants inlined */  \
            NAME##_impl(x, out, win, planes, h, w, oh, ow, 2, 2, 2, 2);                 \
        else                                                                           \
            NAME##_impl(x, out, win, planes, h, w, oh, ow, kh, kw, sh, sw);             \
    }

GN_DEFINE_MAXPOOL_FWD(gn_maxpool_fwd_f32, float)
GN_DEFINE_MAXPOOL_FWD(gn_maxpool_fwd_f64, double)

/* dx (planes × h × w, the padded maps) from g and win (planes × oh × ow).
 * Every pixel of a window gets g·[it won] (g·0, as NumPy computes it, so a
 * NaN gradient spreads exactly as in the NumPy code, and -0.0 stays -0.0).
 * clear: set dx to 0 first (unless the windows tile the maps, covering every
 * pixel exactly once). add: add the shares (overlapping windows, whose shares
 * meet on a pixel) instead of writing them; NumPy writes when the windows do
 * not overlap, and 0 + (-0.0) would give +0.0 where it gives -0.0. */
#define GN_DEFINE_MAXPOOL_BWD(NAME, T)                                                 \
    void NAME(const T *restrict g, const uint8_t *restrict win, T *restrict dx,         \
              gn_int planes, gn_int h, gn_int w, gn_int oh, gn_int ow, gn_int kh,       \
              gn_int kw, gn_int sh, gn_int sw, int clear, int add) {                    \
        if (clear) memset(dx, 0, sizeof(T) * (size_t)(planes * h * w));                \
        /* offsets outermost, as in NumPy: a pixel in several windows receives */       \
        /* their shares in the same order, so the sums round the same way */            \
        for (gn_int a = 0; a < kh; a++)                                                \
            for (gn_int b = 0; b < kw; b++) {                                          \
                const int k = (int)(a * kw + b);                                       \
                for (gn_int p = 0; p < planes; p++)                                    \
                    for (gn_int i = 0; i < oh; i++) {                                  \
                        const T *restrict grow = g + (p * oh + i) * ow;                \
                        const uint8_t *restrict wrow = win + (p * oh + i) * ow;        \
                        T *drow = dx + p * h * w + (i * sh + a) * w + b;               \
                        if (add)                                                       \
                            for (gn_int j = 0; j < ow; j++)                            \
                                drow[j * sw] += grow[j] * (T)(wrow[j] == k);           \
                        else                                                           \
                            for (gn_int j = 0; j < ow; j++)                            \
                                drow[j * sw] = grow[j] * (T)(wrow[j] == k);            \
                    }                                                                  \
            }                                                                          \
    }

GN_DEFINE_MAXPOOL_BWD(gn_maxpool_bwd_f32, float)
GN_DEFINE_MAXPOOL_BWD(gn_maxpool_bwd_f64, double)
