/* One-pass optimizer updates: SGD (momentum, Nesterov, weight decay), Adam, AdamW.
 *
 * Each is the NumPy rule of glassnet.optim.gradient done per element in one
 * loop instead of up to 13 passes over the arrays. The operations, their
 * order and their precision are the NumPy code's (built with
 * -ffp-contract=off, so no fused multiply-add), so the results are the same
 * bit for bit on any number of threads; tests/test_native.py checks that.
 */
#include "common.h"
#include "parallel.h"

/* Each rule is a loop over elements lo..hi; the exported function runs it on
 * `threads` parts of 0..n (parallel.h). Every element is computed the same way
 * whichever part it falls in, so the result does not depend on the split. */
#define GN_DEFINE_SGD(NAME, T)                                                       \
    typedef struct {                                                                 \
        T *data;                                                                     \
        const T *grad;                                                               \
        T *buf;                                                                      \
        double lr_, momentum_, decay_;                                               \
        int nesterov;                                                                \
    } NAME##_job;                                                                    \
    static void NAME##_part(const void *job_, gn_int lo, gn_int hi, int part) {      \
        (void)part;                                                                  \
        const NAME##_job *job = (const NAME##_job *)job_;                            \
        T *restrict data = job->data, *restrict buf = job->buf;                      \
        const T *restrict grad = job->grad;                                          \
        const double momentum_ = job->momentum_, decay_ = job->decay_;               \
        const int nesterov = job->nesterov;                                          \
        const T lr = (T)job->lr_, momentum = (T)momentum_, decay = (T)decay_;        \
        for (gn_int i = lo; i < hi; i++) {                                           \
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
    }                                                                                \
    void NAME(T *data, const T *grad, T *buf, gn_int n, double lr_, double momentum_, \
              double decay_, int nesterov, int threads) {                            \
        const NAME##_job job = {data, grad, buf, lr_, momentum_, decay_, nesterov};  \
        gn_parallel(NAME##_part, &job, n, threads);                                  \
    }

GN_DEFINE_SGD(gn_sgd_f32, float)
GN_DEFINE_SGD(gn_sgd_f64, double)

/* mode 0: no weight decay; 1 (Adam's L2): g ← g + θ·decay; 2 (AdamW): θ ← θ·decay
 * first. step_size = −η/(1 − β1^t), root2 = √(1 − β2^t), rounded
 * to T by the caller exactly as the NumPy code rounds them. */
#define GN_DEFINE_ADAM(NAME, T, SQRT)                                                \
    typedef struct {                                                                 \
        T *data;                                                                     \
        const T *grad;                                                               \
        T *m, *v;                                                                    \
        T omb1, beta2, omb2, eps, decay, step_size, root2;                           \
        int mode;                                                                    \
    } NAME##_job;                                                                    \
    static void NAME##_part(const void *job_, gn_int lo, gn_int hi, int part) {      \
        (void)part;                                                                  \
        const NAME##_job *job = (const NAME##_job *)job_;                            \
        T *restrict data = job->data, *restrict m = job->m, *restrict v = job->v;    \
        const T *restrict grad = job->grad;                                          \
        const T omb1 = job->omb1, beta2 = job->beta2, omb2 = job->omb2,              \
                eps = job->eps, decay = job->decay, step_size = job->step_size,      \
                root2 = job->root2;                                                  \
        const int mode = job->mode;                                                  \
        for (gn_int i = lo; i < hi; i++) {                                           \
            T g = grad[i], theta = data[i];                                          \
            if (mode == 2) theta = theta * decay;                                    \
            else if (mode == 1) g = g + theta * decay;                               \
            T mi = m[i], vi = v[i];                                                  \
            mi = mi + (g - mi) * omb1;                                               \
            vi = vi * beta2 + (g * omb2) * g;                                        \
            m[i] = mi;                                                               \
            v[i] = vi;                                                               \
            const T denom = SQRT(vi) / root2 + eps;                                  \
            data[i] = theta + (mi * step_size) / denom;                              \
        }                                                                            \
    }                                                                                \
    void NAME(T *data, const T *grad, T *m, T *v, gn_int n, double one_minus_beta1_, \
              double beta2_, double one_minus_beta2_, double eps_, double decay_,    \
              int mode, double step_size_, double root2_, int threads) {             \
        const NAME##_job job = {data, grad, m, v, (T)one_minus_beta1_, (T)beta2_,    \
                                (T)one_minus_beta2_, (T)eps_, (T)decay_,             \
                                (T)step_size_, (T)root2_, mode};                     \
        gn_parallel(NAME##_part, &job, n, threads);                                  \
    }

GN_DEFINE_ADAM(gn_adam_f32, float, sqrtf)
GN_DEFINE_ADAM(gn_adam_f64, double, sqrt)
