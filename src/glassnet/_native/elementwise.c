/* ReLU in one pass each way, for glassnet.ops.elementwise.relu.
 *
 * The NumPy code makes the mask x > 0 (one pass), then x · mask (a second
 * pass, converting the bool mask to float on the way); backward is g · mask.
 * Here forward writes the output and the mask in one loop and backward reads
 * them in one loop. The arithmetic is the NumPy code's -- x · 1 or x · 0, and
 * g · 1 or g · 0 -- so the results are the same bit for bit: -0.0 for
 * negative x, NaN for NaN (never "positive"), a NaN gradient kept as NaN.
 * tests/test_native_elementwise.py checks both paths against each other.
 * Large arrays are split between `threads` (_native/parallel.h; Python
 * decides how many): each number on its own, so the same bits.
 */
#include "common.h"
#include "parallel.h"

/* Arrays come at any address: a C-contiguous NumPy array need not be aligned
 * (np.frombuffer at an odd offset), and reading or writing a float through a
 * misaligned pointer is undefined behaviour. So every float goes through
 * memcpy, which the compiler turns into the same (unaligned) vector loads and
 * stores; the loops still vectorise. */
/* One ReLU call, for gn_parallel: the n numbers are split between threads in
 * blocks of GN_RELU_BLOCK (each number on its own, so the bits do not depend
 * on how). */
#define GN_RELU_BLOCK 64
typedef struct {
    const void *in; /* fwd: x; bwd: g */
    void *out;      /* fwd: y; bwd: dx */
    uint8_t *mask;  /* fwd: written */
    const uint8_t *cmask; /* bwd: read */
    gn_int n;
} gn_relu_job;

#define GN_DEFINE_RELU(T, SUFFIX)                                                      \
    static inline T gn_load_##SUFFIX(const unsigned char *p, gn_int i) {               \
        T v;                                                                           \
        memcpy(&v, p + (size_t)i * sizeof(T), sizeof(T));                              \
        return v;                                                                      \
    }                                                                                  \
    static inline void gn_store_##SUFFIX(unsigned char *p, gn_int i, T v) {            \
        memcpy(p + (size_t)i * sizeof(T), &v, sizeof(T));                              \
    }                                                                                  \
    static void gn_relu_fwd_part_##SUFFIX(const void *arg, gn_int lo, gn_int hi, int t) { \
        const gn_relu_job *J = (const gn_relu_job *)arg;                               \
        const gn_int i0 = lo * GN_RELU_BLOCK;                                          \
        const gn_int i1 = hi * GN_RELU_BLOCK < J->n ? hi * GN_RELU_BLOCK : J->n;       \
        const unsigned char *restrict xb = J->in;                                      \
        unsigned char *restrict ob = J->out;                                           \
        uint8_t *restrict mask = J->mask;                                              \
        (void)t;                                                                       \
        for (gn_int i = i0; i < i1; i++) {                                             \
            const T xi = gn_load_##SUFFIX(xb, i);                                      \
            const int positive = xi > (T)0;                                            \
            gn_store_##SUFFIX(ob, i, xi * (T)positive);                                \
            mask[i] = (uint8_t)positive;                                               \
        }                                                                              \
    }                                                                                  \
    static void gn_relu_bwd_part_##SUFFIX(const void *arg, gn_int lo, gn_int hi, int t) { \
        const gn_relu_job *J = (const gn_relu_job *)arg;                               \
        const gn_int i0 = lo * GN_RELU_BLOCK;                                          \
        const gn_int i1 = hi * GN_RELU_BLOCK < J->n ? hi * GN_RELU_BLOCK : J->n;       \
        const unsigned char *restrict gb = J->in;                                      \
        const uint8_t *restrict mask = J->cmask;                                       \
        unsigned char *restrict db = J->out;                                           \
        (void)t;                                                                       \
        for (gn_int i = i0; i < i1; i++)                                               \
            gn_store_##SUFFIX(db, i, gn_load_##SUFFIX(gb, i) * (T)mask[i]);            \
    }                                                                                  \
    void gn_relu_fwd_##SUFFIX(const void *x, void *out, uint8_t *mask, gn_int n,       \
                              gn_int threads) {                                        \
        const gn_relu_job job = {x, out, mask, 0, n};                                  \
        gn_parallel(gn_relu_fwd_part_##SUFFIX, &job,                                   \
                    (n + GN_RELU_BLOCK - 1) / GN_RELU_BLOCK, (int)threads);            \
    }                                                                                  \
    void gn_relu_bwd_##SUFFIX(const void *g, const uint8_t *mask, void *dx, gn_int n,  \
                              gn_int threads) {                                        \
        const gn_relu_job job = {g, dx, 0, mask, n};                                   \
        gn_parallel(gn_relu_bwd_part_##SUFFIX, &job,                                   \
                    (n + GN_RELU_BLOCK - 1) / GN_RELU_BLOCK, (int)threads);            \
    }

GN_DEFINE_RELU(float, f32)
GN_DEFINE_RELU(double, f64)

/* erf, which NumPy lacks, for glassnet.kernels.activations.erf (GELU): C's erf
 * in double for both dtypes, as Python's math.erf (the reference) computes it,
 * then rounded to T -- the same bits as the reference, 30x faster. */
#define GN_DEFINE_ERF(T, SUFFIX)                                                       \
    void gn_erf_##SUFFIX(const void *restrict x, void *restrict out, gn_int n) {      \
        const unsigned char *restrict xb = x;                                          \
        unsigned char *restrict ob = out;                                              \
        for (gn_int i = 0; i < n; i++)                                                 \
            gn_store_##SUFFIX(ob, i, (T)erf((double)gn_load_##SUFFIX(xb, i)));        \
    }

GN_DEFINE_ERF(float, f32)
GN_DEFINE_ERF(double, f64)

/* A layer's bias and ReLU after its product, for glassnet.kernels.linear's
 * linear_activation (inference): z[r, j] = z[r, j] + b[j], then z · [z > 0]
 * when relu is set, in place and in one pass over z (NumPy makes one pass for
 * the bias and two for ReLU). The same additions and products as the NumPy
 * code, so the same bits. */
#define GN_DEFINE_BIAS_RELU(T, SUFFIX)                                                 \
    void gn_bias_relu_##SUFFIX(void *restrict z, const void *restrict b, gn_int rows,  \
                               gn_int cols, int relu) {                                \
        unsigned char *restrict zb = z;                                                \
        const unsigned char *restrict bb = b;                                          \
        for (gn_int r = 0; r < rows; r++) {                                            \
            unsigned char *restrict row = zb + (size_t)r * (size_t)cols * sizeof(T);   \
            if (relu) {                                                                \
                for (gn_int j = 0; j < cols; j++) {                                    \
                    const T v = gn_load_##SUFFIX(row, j) + gn_load_##SUFFIX(bb, j);    \
                    gn_store_##SUFFIX(row, j, v * (T)(v > (T)0));                      \
                }                                                                      \
            } else {                                                                   \
                for (gn_int j = 0; j < cols; j++)                                      \
                    gn_store_##SUFFIX(row, j,                                          \
                                      gn_load_##SUFFIX(row, j) + gn_load_##SUFFIX(bb, j)); \
            }                                                                          \
        }                                                                              \
    }

GN_DEFINE_BIAS_RELU(float, f32)
GN_DEFINE_BIAS_RELU(double, f64)
