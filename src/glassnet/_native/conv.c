/* Convolution and max-pooling helpers: what NumPy cannot do in one pass.
 *
 * - gn_conv_gemm_*: a matrix product that may ADD into its output (beta = 1),
 *   on row-major operands with any leading dimension. The wide layout
 *   (glassnet.kernels.variants.conv) uses it to sum the products of a
 *   convolution's filter rows straight into one output, instead of a NumPy
 *   product into a temporary and an addition.
 * - gn_maxpool_fwd_*: the max of every window and which offset won it (as a
 *   uint8 index a·kw + b), in one pass over the maps.
 * - gn_maxpool_bwd_*: each window's gradient sent to the pixel that won it.
 *   For float32 2×2 windows with stride 2 on an AVX2 build, both go eight
 *   windows at a time (below), sixteen on an AVX-512 build; every other shape
 *   runs the general loops. Both split the maps (planes) between `threads`
 *   (_native/parallel.h); each map is pooled alone, so the bits do not
 *   depend on the thread count.
 *
 * Each computes what the NumPy code of glassnet.kernels.variants.conv /
 * glassnet.kernels.pool computes: pooling bit for bit (the same comparisons: a strictly larger
 * value takes the win, so the first in reading order keeps a tie, and so
 * does the first NaN, which is the max from then on; the max is
 * np.maximum(max so far, value) element for element, see below), the
 * products to float rounding (BLAS adds in its own order).
 * float32 and float64 variants. tests/test_native_conv.py and
 * tests/test_kernels.py check both against the NumPy code.
 */
#include "common.h"
#include "parallel.h"

/* --- 2×2 windows with stride 2, float32, AVX2 -------------------------------------
 * The commonest pooling (LeNet's, and most CNNs'), eight windows at a time.
 * GCC does not vectorise the scalar loops for this shape (two interleaved
 * input rows), and a pass per window offset over rows of 7 or 14 outputs is
 * mostly loop overhead. Same comparisons in the same offset order as the
 * general loop (so the same values, winners and NaN/±0 results); a scalar
 * tail takes the last ow % 8 windows. Built only where the compiler targets
 * AVX2 (-march=native on such a CPU); elsewhere the general loop runs. */
#if defined(__AVX512F__)
/* --- the same, sixteen windows at a time (AVX-512): the same comparisons in the
 * same order, lanes chosen by mask registers instead of blend vectors. */
#include <immintrin.h>
#define GN_POOL_AVX2 1 /* a vector path: this one */

/* The first n of 16 lanes (n may be <= 0 or > 16). */
static inline __mmask16 gn_lanes16(gn_int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* m, k <- the running max and winner after offset kc's value v (GN_POOL_STEP). */
#define GN_POOL_STEP16(m, k, v, kc)                                                    \
    do {                                                                              \
        const __mmask16 keep = _mm512_cmp_ps_mask((m), (v), _CMP_GT_OQ) |             \
                               _mm512_cmp_ps_mask((m), (m), _CMP_UNORD_Q);            \
        const __mmask16 stays = keep | _mm512_cmp_ps_mask((v), (m), _CMP_EQ_OQ);      \
        (k) = _mm512_mask_blend_epi32(stays, _mm512_set1_epi32(kc), (k));             \
        (m) = _mm512_mask_blend_ps(keep, (v), (m));                                   \
    } while (0)

/* Columns 0, 2, 4, ... (odd = 1: 1, 3, 5, ...) of the 2·n floats at p (n <= 16). */
static inline __m512 gn_deinterleave16(const float *p, gn_int n, int odd) {
    const __m512 a = _mm512_maskz_loadu_ps(gn_lanes16(2 * n), p);
    const __m512 b = _mm512_maskz_loadu_ps(gn_lanes16(2 * n - 16), p + 16);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
                                           24, 26, 28, 30);
    const __m512i idx = _mm512_add_epi32(even, _mm512_set1_epi32(odd));
    return _mm512_permutex2var_ps(a, idx, b);
}

static void gn_maxpool2x2_fwd_f32(const float *x, float *out, uint8_t *win, gn_int planes,
                                  gn_int h, gn_int w, gn_int oh, gn_int ow) {
    for (gn_int p = 0; p < planes; p++)
        for (gn_int i = 0; i < oh; i++) {
            const float *r0 = x + p * h * w + 2 * i * w, *r1 = r0 + w;
            float *orow = out + (p * oh + i) * ow;
            uint8_t *wrow = win ? win + (p * oh + i) * ow : 0;
            for (gn_int j = 0; j < ow; j += 16) {
                const gn_int n = ow - j < 16 ? ow - j : 16;
                __m512 m = gn_deinterleave16(r0 + 2 * j, n, 0);
                __m512i k = _mm512_setzero_si512();
                const __m512 v1 = gn_deinterleave16(r0 + 2 * j, n, 1);
                const __m512 v2 = gn_deinterleave16(r1 + 2 * j, n, 0);
                const __m512 v3 = gn_deinterleave16(r1 + 2 * j, n, 1);
                GN_POOL_STEP16(m, k, v1, 1);
                GN_POOL_STEP16(m, k, v2, 2);
                GN_POOL_STEP16(m, k, v3, 3);
                _mm512_mask_storeu_ps(orow + j, gn_lanes16(n), m);
                if (wrow) {
                    uint8_t bytes[16];
                    _mm_storeu_si128((__m128i *)bytes, _mm512_cvtepi32_epi8(k));
                    memcpy(wrow + j, bytes, (size_t)n);
                }
            }
        }
}

/* dx rows 2i, 2i+1 from g and the winners: each window writes its 4 pixels
 * (g·[won], as the general loop: NaN and -0.0 kept). */
static void gn_maxpool2x2_bwd_f32(const float *g, const uint8_t *win, float *dx,
                                  gn_int planes, gn_int h, gn_int w, gn_int oh, gn_int ow) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6,
                                             22, 7, 23);
    const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
    for (gn_int p = 0; p < planes; p++)
        for (gn_int i = 0; i < oh; i++) {
            const float *grow = g + (p * oh + i) * ow;
            const uint8_t *wrow = win + (p * oh + i) * ow;
            float *d0 = dx + p * h * w + 2 * i * w, *d1 = d0 + w;
            for (gn_int j = 0; j < ow; j += 16) {
                const gn_int n = ow - j < 16 ? ow - j : 16;
                const __m512 gv = _mm512_maskz_loadu_ps(gn_lanes16(n), grow + j);
                uint8_t bytes[16] = {0};
                memcpy(bytes, wrow + j, (size_t)n);
                const __m512i k = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)bytes));
                __m512 e[4];
                for (int c = 0; c < 4; c++) {
                    const __mmask16 won = _mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(c));
                    e[c] = _mm512_mul_ps(gv, _mm512_maskz_mov_ps(won, one));
                }
                for (int r = 0; r < 2; r++) {
                    float *d = (r ? d1 : d0) + 2 * j;
                    _mm512_mask_storeu_ps(d, gn_lanes16(2 * n),
                                          _mm512_permutex2var_ps(e[2 * r], lo_idx, e[2 * r + 1]));
                    _mm512_mask_storeu_ps(d + 16, gn_lanes16(2 * n - 16),
                                          _mm512_permutex2var_ps(e[2 * r], hi_idx, e[2 * r + 1]));
                }
            }
        }
}
#define gn_maxpool2x2_fwd_T(x, out, win, planes, h, w, oh, ow) \
    gn_maxpool2x2_fwd_f32((const float *)(x), (float *)(out), win, planes, h, w, oh, ow)
#define gn_maxpool2x2_bwd_T(g, win, dx, planes, h, w, oh, ow) \
    gn_maxpool2x2_bwd_f32((const float *)(g), win, (float *)(dx), planes, h, w, oh, ow)

#elif defined(__AVX2__)
#include <immintrin.h>
#define GN_POOL_AVX2 1

/* m, k <- the running max and winner after offset kc's value v, exactly as
 * the scalar loop: m = m where m > v or m is NaN, else v; k = kc where v > m
 * or v is the first NaN, which is where m is not kept and v != m (a tie). */
#define GN_POOL_STEP(m, k, v, kc)                                                     \
    do {                                                                              \
        const __m256 keep = _mm256_or_ps(_mm256_cmp_ps((m), (v), _CMP_GT_OQ),         \
                                         _mm256_cmp_ps((m), (m), _CMP_UNORD_Q));      \
        const __m256 stays = _mm256_or_ps(keep, _mm256_cmp_ps((v), (m), _CMP_EQ_OQ)); \
        (k) = _mm256_blendv_ps(_mm256_castsi256_ps(_mm256_set1_epi32(kc)), (k), stays); \
        (m) = _mm256_blendv_ps((v), (m), keep);                                       \
    } while (0)

/* The first n of 8 lanes (n = 0..8) as a load/store mask. */
static inline __m256i gn_lanes(gn_int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Columns 0, 2, 4, ... (odd = 1: 1, 3, 5, ...) of the 2·n floats at p (n <= 8 windows),
 * in order; nothing past p[2n - 1] is read (masked loads), missing lanes are 0. */
static inline __m256 gn_deinterleave(const float *p, gn_int n, int odd) {
    const __m256 a = _mm256_maskload_ps(p, gn_lanes(2 * n));
    const __m256 b = _mm256_maskload_ps(p + 8, gn_lanes(2 * n - 8));
    const __m256 s = odd ? _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))
                         : _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s),
                                                  _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Windows j .. j + n - 1 (n <= 8) of output row (r0, r1): max and winner. A row of 7
 * or 14 windows is one or two such calls, the last one masked. */
static inline void gn_pool8(const float *r0, const float *r1, float *o, uint8_t *wrow,
                            gn_int n) {
    __m256 m = gn_deinterleave(r0, n, 0);
    __m256 k = _mm256_setzero_ps();
    const __m256 v1 = gn_deinterleave(r0, n, 1);
    const __m256 v2 = gn_deinterleave(r1, n, 0);
    const __m256 v3 = gn_deinterleave(r1, n, 1);
    GN_POOL_STEP(m, k, v1, 1);
    GN_POOL_STEP(m, k, v2, 2);
    GN_POOL_STEP(m, k, v3, 3);
    _mm256_maskstore_ps(o, gn_lanes(n), m);
    if (wrow) {
        const __m256i ki = _mm256_castps_si256(k);
        const __m128i k16 = _mm_packus_epi32(_mm256_castsi256_si128(ki),
                                             _mm256_extracti128_si256(ki, 1));
        uint8_t bytes[16];
        _mm_storeu_si128((__m128i *)bytes, _mm_packus_epi16(k16, k16));
        memcpy(wrow, bytes, (size_t)n);
    }
}

static void gn_maxpool2x2_fwd_f32(const float *x, float *out, uint8_t *win, gn_int planes,
                                  gn_int h, gn_int w, gn_int oh, gn_int ow) {
    for (gn_int p = 0; p < planes; p++)
        for (gn_int i = 0; i < oh; i++) {
            const float *r0 = x + p * h * w + 2 * i * w, *r1 = r0 + w;
            float *orow = out + (p * oh + i) * ow;
            uint8_t *wrow = win ? win + (p * oh + i) * ow : 0;
            for (gn_int j = 0; j < ow; j += 8)
                gn_pool8(r0 + 2 * j, r1 + 2 * j, orow + j, wrow ? wrow + j : 0,
                         ow - j < 8 ? ow - j : 8);
        }
}

/* dx rows 2i, 2i+1 from g and the winners: each window writes its 4 pixels
 * (g·[won], as the general loop: NaN and -0.0 kept). */
static void gn_maxpool2x2_bwd_f32(const float *g, const uint8_t *win, float *dx,
                                  gn_int planes, gn_int h, gn_int w, gn_int oh, gn_int ow) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (gn_int p = 0; p < planes; p++)
        for (gn_int i = 0; i < oh; i++) {
            const float *grow = g + (p * oh + i) * ow;
            const uint8_t *wrow = win + (p * oh + i) * ow;
            float *d0 = dx + p * h * w + 2 * i * w, *d1 = d0 + w;
            for (gn_int j = 0; j < ow; j += 8) {
                const gn_int n = ow - j < 8 ? ow - j : 8;
                const __m256 gv = _mm256_maskload_ps(grow + j, gn_lanes(n));
                uint8_t bytes[8] = {0};
                memcpy(bytes, wrow + j, (size_t)n);
                const __m256i k = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)bytes));
                __m256 e[4];
                for (int c = 0; c < 4; c++) {
                    const __m256 won =
                        _mm256_castsi256_ps(_mm256_cmpeq_epi32(k, _mm256_set1_epi32(c)));
                    e[c] = _mm256_mul_ps(gv, _mm256_and_ps(won, one));
                }
                for (int r = 0; r < 2; r++) {
                    const __m256 lo = _mm256_unpacklo_ps(e[2 * r], e[2 * r + 1]);
                    const __m256 hi = _mm256_unpackhi_ps(e[2 * r], e[2 * r + 1]);
                    float *d = (r ? d1 : d0) + 2 * j;
                    _mm256_maskstore_ps(d, gn_lanes(2 * n), _mm256_permute2f128_ps(lo, hi, 0x20));
                    _mm256_maskstore_ps(d + 8, gn_lanes(2 * n - 8),
                                        _mm256_permute2f128_ps(lo, hi, 0x31));
                }
            }
        }
}
#define gn_maxpool2x2_fwd_T(x, out, win, planes, h, w, oh, ow) \
    gn_maxpool2x2_fwd_f32((const float *)(x), (float *)(out), win, planes, h, w, oh, ow)
#define gn_maxpool2x2_bwd_T(g, win, dx, planes, h, w, oh, ow) \
    gn_maxpool2x2_bwd_f32((const float *)(g), win, (float *)(dx), planes, h, w, oh, ow)
#else
#define GN_POOL_AVX2 0
#define gn_maxpool2x2_fwd_T(x, out, win, planes, h, w, oh, ow) ((void)0)
#define gn_maxpool2x2_bwd_T(g, win, dx, planes, h, w, oh, ow) ((void)0)
#endif

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
/* One pooling call, for gn_parallel: the planes are split between threads
 * (each plane is pooled on its own, so the result does not depend on how). */
typedef struct {
    const void *x; /* fwd: the maps; bwd: g */
    void *out;     /* fwd: the max; bwd: dx */
    uint8_t *win;
    const uint8_t *cwin;
    gn_int h, w, oh, ow, kh, kw, sh, sw;
    int clear, add;
} gn_pool_job;
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
                                /* a larger v, or the first NaN, takes the win */      \
                                won[j] = (!(v <= m) & (m == m)) ? k : won[j];          \
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
    static void NAME##_planes(const T *x, T *out, uint8_t *win, gn_int planes,          \
                              gn_int h, gn_int w, gn_int oh, gn_int ow, gn_int kh,      \
                              gn_int kw, gn_int sh, gn_int sw) {                        \
        if (kh == 2 && kw == 2 && sh == 2 && sw == 2) { /* LeNet's */                  \
            if (GN_POOL_AVX2 && sizeof(T) == 4)                                        \
                gn_maxpool2x2_fwd_T((const void *)x, (void *)out, win, planes, h, w,    \
                                    oh, ow);                                           \
            else /* constants inlined */                                               \
                NAME##_impl(x, out, win, planes, h, w, oh, ow, 2, 2, 2, 2);             \
        } else                                                                         \
            NAME##_impl(x, out, win, planes, h, w, oh, ow, kh, kw, sh, sw);             \
    }                                                                                  \
    static void NAME##_part(const void *arg, gn_int lo, gn_int hi, int t) {            \
        const gn_pool_job *J = (const gn_pool_job *)arg;                               \
        (void)t;                                                                       \
        NAME##_planes((const T *)J->x + lo * J->h * J->w, (T *)J->out + lo * J->oh * J->ow, \
                      J->win ? J->win + lo * J->oh * J->ow : 0, hi - lo, J->h, J->w,    \
                      J->oh, J->ow, J->kh, J->kw, J->sh, J->sw);                        \
    }                                                                                  \
    void NAME(const T *x, T *out, uint8_t *win, gn_int planes, gn_int h, gn_int w,      \
              gn_int oh, gn_int ow, gn_int kh, gn_int kw, gn_int sh, gn_int sw,         \
              gn_int threads) {                                                        \
        const gn_pool_job job = {x, out, win, 0, h, w, oh, ow, kh, kw, sh, sw, 0, 0};  \
        gn_parallel(NAME##_part, &job, planes, (int)threads);                          \
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
    static void NAME##_planes(const T *restrict g, const uint8_t *restrict win,         \
                              T *restrict dx, gn_int planes, gn_int h, gn_int w,        \
                              gn_int oh, gn_int ow, gn_int kh, gn_int kw, gn_int sh,    \
                              gn_int sw, int clear, int add) {                          \
        if (clear) memset(dx, 0, sizeof(T) * (size_t)(planes * h * w));                \
        if (GN_POOL_AVX2 && sizeof(T) == 4 && kh == 2 && kw == 2 && sh == 2 && sw == 2) { \
            /* disjoint windows: each pixel written once, in any order */              \
            gn_maxpool2x2_bwd_T((const void *)g, win, (void *)dx, planes, h, w, oh, ow); \
            return;                                                                    \
        }                                                                              \
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
    }                                                                                  \
    static void NAME##_part(const void *arg, gn_int lo, gn_int hi, int t) {            \
        const gn_pool_job *J = (const gn_pool_job *)arg;                               \
        (void)t;                                                                       \
        NAME##_planes((const T *)J->x + lo * J->oh * J->ow, J->cwin + lo * J->oh * J->ow, \
                      (T *)J->out + lo * J->h * J->w, hi - lo, J->h, J->w, J->oh,       \
                      J->ow, J->kh, J->kw, J->sh, J->sw, J->clear, J->add);             \
    }                                                                                  \
    void NAME(const T *g, const uint8_t *win, T *dx, gn_int planes, gn_int h, gn_int w, \
              gn_int oh, gn_int ow, gn_int kh, gn_int kw, gn_int sh, gn_int sw,         \
              int clear, int add, gn_int threads) {                                    \
        const gn_pool_job job = {g, dx, 0, win, h, w, oh, ow, kh, kw, sh, sw, clear, add}; \
        gn_parallel(NAME##_part, &job, planes, (int)threads);                          \
    }

GN_DEFINE_MAXPOOL_BWD(gn_maxpool_bwd_f32, float)
GN_DEFINE_MAXPOOL_BWD(gn_maxpool_bwd_f64, double)

/* --- the wide layout's two copies (kernels/variants/conv.py's _Plan) ----------------
 * A chunk's m samples lie side by side in rows of `pitch` columns; sample s's output
 * row i starts at column first + s·step + i·pitch of an (o, ld) product matrix.
 *
 * gn_conv_unwide_*: out (m, o, oh, ow) = those positions (+ bias[c], when given):
 *   what the NumPy code does with one strided np.add, row by row, the same
 *   additions (so the same bits).
 * gn_conv_guard_*: the reverse for the gradient: rows of `len` columns, ld apart,
 *   all zero except g (m, o, oh, ow) placed at those positions shifted by `lead`.
 *   The NumPy code zero-fills the matrix and then copies g in. */
#define GN_DEFINE_UNWIDE(NAME, T)                                                      \
    void NAME(const T *prod, gn_int ld, T *out, const T *bias, gn_int m, gn_int o,      \
              gn_int oh, gn_int ow, gn_int first, gn_int step, gn_int pitch) {          \
        for (gn_int s = 0; s < m; s++)                                                 \
            for (gn_int c = 0; c < o; c++) {                                           \
                const T *src = prod + c * ld + first + s * step;                       \
                T *restrict dst = out + (s * o + c) * oh * ow;                         \
                for (gn_int i = 0; i < oh; i++) {                                      \
                    const T *restrict row = src + i * pitch;                           \
                    T *restrict d = dst + i * ow;                                      \
                    if (bias) {                                                        \
                        const T bc = bias[c];                                          \
                        for (gn_int j = 0; j < ow; j++) d[j] = row[j] + bc;            \
                    } else                                                             \
                        memcpy(d, row, sizeof(T) * (size_t)ow);                        \
                }                                                                      \
            }                                                                          \
    }

#define GN_DEFINE_GUARD(NAME, T)                                                       \
    void NAME(const T *g, T *guarded, gn_int ld, gn_int len, gn_int lead, gn_int m,      \
              gn_int o, gn_int oh, gn_int ow, gn_int first, gn_int step, gn_int pitch) { \
        for (gn_int c = 0; c < o; c++) {                                               \
            T *restrict row = guarded + c * ld;                                        \
            memset(row, 0, sizeof(T) * (size_t)len);                                   \
            for (gn_int s = 0; s < m; s++)                                             \
                for (gn_int i = 0; i < oh; i++)                                        \
                    memcpy(row + lead + first + s * step + i * pitch,                  \
                           g + ((s * o + c) * oh + i) * ow, sizeof(T) * (size_t)ow);  \
        }                                                                              \
    }

GN_DEFINE_UNWIDE(gn_conv_unwide_f32, float)
GN_DEFINE_UNWIDE(gn_conv_unwide_f64, double)
GN_DEFINE_GUARD(gn_conv_guard_f32, float)
GN_DEFINE_GUARD(gn_conv_guard_f64, double)
