/* ReLU in one pass each way, for glassnet.ops.elementwise.relu.
 *
 * The NumPy code makes the mask x > 0 (one pass), then x · mask (a second
 * pass, converting the bool mask to float on the way); backward is g · mask.
 * Here forward writes the output and the mask in one loop and backward reads
 * them in one loop. The arithmetic is the NumPy code's -- x · 1 or x · 0, and
 * g · 1 or g · 0 -- so the results are the same bit for bit: -0.0 for
 * negative x, NaN for NaN (never "positive"), a NaN gradient kept as NaN.
 * tests/test_native_elementwise.py checks both paths against each other.
 */
#include "common.h"

#define GN_DEFINE_RELU(T, SUFFIX)                                                     \
    void gn_relu_fwd_##SUFFIX(const T *restrict x, T *restrict out,                    \
                              uint8_t *restrict mask, gn_int n) {                     \
        for (gn_int i = 0; i < n; i++) {                                              \
            const int positive = x[i] > (T)0;                                         \
            out[i] = x[i] * (T)positive;                                              \
            mask[i] = (uint8_t)positive;                                              \
        }                                                                             \
    }                                                                                 \
    void gn_relu_bwd_##SUFFIX(const T *restrict g, const uint8_t *restrict mask,       \
                              T *restrict dx, gn_int n) {                             \
        for (gn_int i = 0; i < n; i++) dx[i] = g[i] * (T)mask[i];                     \
    }

GN_DEFINE_RELU(float, f32)
GN_DEFINE_RELU(double, f64)
