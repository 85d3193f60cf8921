/* One-pass optimizer updates: SGD (momentum, Nesterov, weight decay), Adam, AdamW.
 *
 * Each is the NumPy rule of glassnet.optim.gradient done per element in one
 * loop instead of up to 13 passes over the arrays. The operations, their
 * order and their precision are the NumPy code's (built with
 * -ffp-contract=off, so no fused multiply-add), so the results are the same
 * bit for bit on any number of threads, and NumPy's but for subnormal numbers
 * (below); tests/test_native.py checks that.
 */
#include "common.h"
#include "parallel.h"

/* Subnormal numbers (below 1.2e-38 in float32) are flushed to zero while a
 * rule runs, on x86 (MXCSR's flush-to-zero and denormals-are-zero bits, set
 * and put back in each thread's part): a running average of a gradient that
 * stays 0, a dead ReLU unit's, decays into them (Adam's m by 0.9 a step: some
 * 800 steps), and arithmetic on them costs some hundred cycles. W2's MLP at
 * batch 1 went from 460 to 850-960 µs a step once 8k of Adam's 1.08M state
 * numbers were subnormal (after ~900 steps). So the results are NumPy's bit for
 * bit except that where NumPy's would be subnormal, these are 0. */
#if defined(__SSE2__)
#include <xmmintrin.h>
#define GN_FLUSH_BEGIN                           \
    const unsigned gn_csr = _mm_getcsr();        \
    _mm_setcsr(gn_csr | 0x8040u); /* FTZ, DAZ */
#define GN_FLUSH_END _mm_setcsr(gn_csr);
#else
#define GN_FLUSH_BEGIN
#define GN_FLUSH_END
#endif

/* Each rule is a loop over the elements of one or more arrays, numbered as
 * if laid end to end: array k holds elements start[k] .. start[k+1] - 1 of
 * 0..n. A part lo..hi (parallel.h splits 0..n into `threads` of them) runs the
 * rule on the pieces of the arrays that fall in it. Every element is computed
 * the same way whichever part, and whichever call, it falls in, so the result
 * depends neither on the split nor on updating the arrays one call each
 * (gn_sgd, gn_adam) or all in one call (gn_sgd_foreach, gn_adam_foreach:
 * what an optimizer step uses, one call instead of one per parameter). */
#define GN_PIECES(job, lo, hi, k, a, b)                                              \
    for (gn_int k = 0, a, b; k < (job)->count; k++)                                  \
        if ((a = (lo) > (job)->start[k] ? (lo) : (job)->start[k]) <                  \
            (b = (hi) < (job)->start[k + 1] ? (hi) : (job)->start[k + 1]))

#define GN_DEFINE_SGD(SFX, T)                                                        \
    typedef struct {                                                                 \
        T *const *data;                                                              \
        const T *const *grad;                                                        \
        T *const *buf;                                                               \
        const gn_int *start;                                                         \
        gn_int count;                                                                \
        double lr_, momentum_, decay_;                                               \
        int nesterov;                                                                \
    } gn_sgd_job_##SFX;                                                              \
    static void gn_sgd_part_##SFX(const void *job_, gn_int lo, gn_int hi, int part) { \
        (void)part;                                                                  \
        const gn_sgd_job_##SFX *job = (const gn_sgd_job_##SFX *)job_;                \
        const double momentum_ = job->momentum_, decay_ = job->decay_;               \
        const int nesterov = job->nesterov;                                          \
        const T lr = (T)job->lr_, momentum = (T)momentum_, decay = (T)decay_;        \
        GN_FLUSH_BEGIN                                                               \
        GN_PIECES(job, lo, hi, k, a, b) {                                            \
            const gn_int s = job->start[k];                                          \
            T *restrict data = job->data[k];                                         \
            T *restrict buf = momentum_ != 0 ? job->buf[k] : 0;                      \
            const T *restrict grad = job->grad[k];                                   \
            for (gn_int i = a - s; i < b - s; i++) {                                 \
                T g = grad[i];                                                       \
                if (decay_ != 0) g = g + data[i] * decay;                            \
                if (momentum_ != 0) {                                                \
                    T m = buf[i] * momentum;                                         \
                    m = m + g;                                                       \
                    buf[i] = m;                                                      \
                    g = nesterov ? g + m * momentum : m;                             \
                }                                                                    \
                data[i] = data[i] - g * lr;                                          \
            }                                                                        \
        }                                                                            \
        GN_FLUSH_END                                                                 \
    }                                                                                \
    void gn_sgd_foreach_##SFX(T *const *data, const T *const *grad, T *const *buf,   \
                              const gn_int *start, gn_int count, double lr_,         \
                              double momentum_, double decay_, int nesterov,         \
                              int threads) {                                         \
        const gn_sgd_job_##SFX job = {data, grad, buf, start, count,                 \
                                      lr_, momentum_, decay_, nesterov};             \
        gn_parallel(gn_sgd_part_##SFX, &job, start[count], threads);                 \
    }                                                                                \
    void gn_sgd_##SFX(T *data, const T *grad, T *buf, gn_int n, double lr_,          \
                      double momentum_, double decay_, int nesterov, int threads) {  \
        const gn_int start[2] = {0, n};                                              \
        gn_sgd_foreach_##SFX(&data, &grad, &buf, start, 1, lr_, momentum_, decay_,   \
                             nesterov, threads);                                     \
    }

GN_DEFINE_SGD(f32, float)
GN_DEFINE_SGD(f64, double)

/* mode 0: no weight decay; 1 (Adam's L2): g ← g + θ·decay; 2 (AdamW): θ ← θ·decay
 * first. step_size = −η/(1 − β1^t), root2 = √(1 − β2^t), rounded
 * to T by the caller exactly as the NumPy code rounds them. */
#define GN_DEFINE_ADAM(SFX, T, SQRT)                                                 \
    typedef struct {                                                                 \
        T *const *data;                                                              \
        const T *const *grad;                                                        \
        T *const *m, *const *v;                                                      \
        const gn_int *start;                                                         \
        gn_int count;                                                                \
        T omb1, beta2, omb2, eps, decay, step_size, root2;                           \
        int mode;                                                                    \
    } gn_adam_job_##SFX;                                                             \
    static void gn_adam_part_##SFX(const void *job_, gn_int lo, gn_int hi, int part) { \
        (void)part;                                                                  \
        const gn_adam_job_##SFX *job = (const gn_adam_job_##SFX *)job_;              \
        const T omb1 = job->omb1, beta2 = job->beta2, omb2 = job->omb2,              \
                eps = job->eps, decay = job->decay, step_size = job->step_size,      \
                root2 = job->root2;                                                  \
        const int mode = job->mode;                                                  \
        GN_FLUSH_BEGIN                                                               \
        GN_PIECES(job, lo, hi, k, a, b) {                                            \
            const gn_int s = job->start[k];                                          \
            T *restrict data = job->data[k], *restrict m = job->m[k],                \
                        *restrict v = job->v[k];                                     \
            const T *restrict grad = job->grad[k];                                   \
            for (gn_int i = a - s; i < b - s; i++) {                                 \
                T g = grad[i], theta = data[i];                                      \
                if (mode == 2) theta = theta * decay;                                \
                else if (mode == 1) g = g + theta * decay;                           \
                T mi = m[i], vi = v[i];                                              \
                mi = mi + (g - mi) * omb1;                                           \
                vi = vi * beta2 + (g * omb2) * g;                                    \
                m[i] = mi;                                                           \
                v[i] = vi;                                                           \
                const T denom = SQRT(vi) / root2 + eps;                              \
                data[i] = theta + (mi * step_size) / denom;                          \
            }                                                                        \
        }                                                                            \
        GN_FLUSH_END                                                                 \
    }                                                                                \
    void gn_adam_foreach_##SFX(T *const *data, const T *const *grad, T *const *m,    \
                               T *const *v, const gn_int *start, gn_int count,       \
                               double one_minus_beta1_, double beta2_,               \
                               double one_minus_beta2_, double eps_, double decay_,  \
                               int mode, double step_size_, double root2_,           \
                               int threads) {                                        \
        const gn_adam_job_##SFX job = {data, grad, m, v, start, count,               \
                                       (T)one_minus_beta1_, (T)beta2_,               \
                                       (T)one_minus_beta2_, (T)eps_, (T)decay_,      \
                                       (T)step_size_, (T)root2_, mode};              \
        gn_parallel(gn_adam_part_##SFX, &job, start[count], threads);                \
    }                                                                                \
    void gn_adam_##SFX(T *data, const T *grad, T *m, T *v, gn_int n,                 \
                       double one_minus_beta1_, double beta2_,                       \
                       double one_minus_beta2_, double eps_, double decay_,          \
                       int mode, double step_size_, double root2_, int threads) {    \
        const gn_int start[2] = {0, n};                                              \
        gn_adam_foreach_##SFX(&data, &grad, &m, &v, start, 1, one_minus_beta1_,      \
                              beta2_, one_minus_beta2_, eps_, decay_, mode,          \
                              step_size_, root2_, threads);                          \
    }

GN_DEFINE_ADAM(f32, float, sqrtf)
GN_DEFINE_ADAM(f64, double, sqrt)
