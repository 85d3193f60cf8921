/* One-pass optimizer updates: SGD (momentum, Nesterov, weight decay), Adam, AdamW.
 *
 * Each is the NumPy rule of glassnet.optim.gradient done per element in one
 * loop instead of up to 13 passes over the arrays. The operations, their
 * order and their precision are the NumPy code's (built with
 * -ffp-contract=off, so no fused multiply-add), so the results are the same
 * bit for bit; tests/test_native.py checks that.
 */
#include "common.h"

#define GN_DEFINE_SGD(NAME, T)                                                       \
    void NAME(T *restrict data, const T *restrict grad, T *restrict buf, gn_int n,    \
              double lr_, double momentum_, double decay_, int nesterov) {            \
        const T lr = (T)lr_, momentum = (T)momentum_, decay = (T)decay_;              \
        for (gn_int i = 0; i < n; i++) {                                             \
            T g = grad[i];                                                           \
            if (decay_ != 0) g = g + data[i] * decay;                                \
            if (momentum_ != 0) {                                                    \
                T b = buf[i] * momentum;                                             \
                b = b + g;                                                           \
                buf[i] = b;                                                          \
                g = nesterov ? g + b * momentum : b;                                 \
            }                                                                        \
            data[i] = data[i] - g * lr;                                              \
        }                                                                            \
    }

GN_DEFINE_SGD(gn_sgd_f32, float)
GN_DEFINE_SGD(gn_sgd_f64, double)

/* mode 0: no weight decay; 1 (Adam's L2): g ← g + θ·decay; 2 (AdamW): θ ← θ·decay
 * first. step_size = −η/(1 − β1^t), root2 = √(1 − β2^t), rounded
 * to T by the caller exactly as the NumPy code rounds them. */
#define GN_DEFINE_ADAM(NAME, T, SQRT)                                                    \
    void NAME(T *restrict data, const T *restrict grad, T *restrict m, T *restrict v, \
              gn_int n, double one_minus_beta1_, double beta2_,                      \
              double one_minus_beta2_, double eps_, double decay_, int mode,           \
              double step_size_, double root2_) {                                    \
        const T omb1 = (T)one_minus_beta1_, beta2 = (T)beta2_,                       \
                omb2 = (T)one_minus_beta2_, eps = (T)eps_, decay = (T)decay_,        \
                step_size = (T)step_size_, root2 = (T)root2_;                        \
        for (gn_int i = 0; i < n; i++) {                                             \
            T g = grad[i], theta = data[i];                                          \
            if (mode == 2) theta = theta * decay;                                    \
            else if (mode == 1) g = g + theta * decay;                               \
            T mi = m[i], vi = v[i];                                                  \
            mi = mi + (g - mi) * omb1;                                               \
            vi = vi * beta2 + (g * omb2) * g;                                        \
            m[i] = mi;                                                               \
            v[i] = vi;                                                               \
            const T denom = SQRT(vi) / root2 + eps;                              \
            data[i] = theta + (mi * step_size) / denom;                              \
        }                                                                            \
    }

GN_DEFINE_ADAM(gn_adam_f32, float, sqrtf)
GN_DEFINE_ADAM(gn_adam_f64, double, sqrt)
