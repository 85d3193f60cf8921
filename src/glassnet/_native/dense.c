/* A stack of Dense layers for inference, for glassnet.kernels.linear's
 * linear_stack (predict on W2: 784 -> 256 ReLU -> 256 ReLU -> 10):
 *
 *     h_0 = x,   h_l = act_l(h_{l-1}·W_l + b_l),   y = h_L,   act ReLU or none
 *
 * The batch is cut into blocks of `block` rows; each thread takes the next
 * block (an atomic counter: a thread whose core is busy with other work takes
 * fewer) and runs the whole stack on it: the product by single-threaded BLAS
 * (Python sets NumPy's OpenBLAS to one thread for the call), then the bias and
 * ReLU on the block while it is still in cache, the layers' activations in
 * the thread's two scratch buffers, the last layer straight into y. The
 * threads meet once per call, not once per product and again for each pass.
 *
 * While it reads a block of x, a thread checks that every number is finite
 * (x - x is 0 only for finite x); *bad is set to the count of blocks holding
 * NaN or infinity, so the caller can name the rows without another pass over x.
 *
 * Block boundaries depend on `block` alone, not on the thread count or on who
 * ran a block, so every row is computed the same way on any number of threads.
 */
#include "common.h"

#include <stdatomic.h>

#include "parallel.h"

#define GN_DEFINE_DENSE(T, SUFFIX, GEMM)                                               \
    typedef struct {                                                                   \
        const T *x;                                                                    \
        T *y, *scratch;                                                                \
        const int64_t *sizes, *params, *relu;                                          \
        gn_int rows, layers, block, stride;                                            \
        atomic_llong next, bad;                                                        \
    } gn_dense_job_##SUFFIX;                                                           \
                                                                                       \
    static void gn_dense_part_##SUFFIX(const void *arg, gn_int lo, gn_int hi, int t) { \
        gn_dense_job_##SUFFIX *job = (gn_dense_job_##SUFFIX *)arg;                     \
        (void)lo, (void)hi;                                                            \
        T *bufs[2] = {job->scratch + 2 * t * job->stride,                              \
                      job->scratch + (2 * t + 1) * job->stride};                       \
        for (;;) {                                                                     \
            const gn_int first = atomic_fetch_add(&job->next, 1) * job->block;         \
            if (first >= job->rows) break;                                             \
            const gn_int m = job->rows - first < job->block ? job->rows - first        \
                                                             : job->block;             \
            const T *h = job->x + first * job->sizes[0];                               \
            int bad = 0;                                                               \
            for (gn_int i = 0; i < m * job->sizes[0]; i++) bad |= h[i] - h[i] != (T)0; \
            if (bad) atomic_fetch_add(&job->bad, 1);                                   \
            for (gn_int l = 0; l < job->layers; l++) {                                 \
                const gn_int k = job->sizes[l], n = job->sizes[l + 1];                 \
                const T *w = (const T *)(intptr_t)job->params[2 * l];                  \
                const T *b = (const T *)(intptr_t)job->params[2 * l + 1];              \
                T *z = l == job->layers - 1 ? job->y + first * n : bufs[l % 2];        \
                GEMM(0, 0, m, n, k, h, k, w, n, (T)0, z, n);                           \
                if (b && job->relu[l]) {                                               \
                    for (gn_int r = 0; r < m; r++)                                     \
                        for (gn_int j = 0; j < n; j++) {                               \
                            const T v = z[r * n + j] + b[j];                           \
                            z[r * n + j] = v * (T)(v > (T)0);                          \
                        }                                                              \
                } else if (b) {                                                        \
                    for (gn_int r = 0; r < m; r++)                                     \
                        for (gn_int j = 0; j < n; j++) z[r * n + j] += b[j];           \
                } else if (job->relu[l]) {                                             \
                    for (gn_int i = 0; i < m * n; i++) z[i] *= (T)(z[i] > (T)0);       \
                }                                                                      \
                h = z;                                                                 \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
                                                                                       \
    void gn_dense_stack_##SUFFIX(const T *x, T *y, T *scratch, gn_int rows,            \
                                 gn_int layers, const int64_t *sizes,                  \
                                 const int64_t *params, const int64_t *relu,           \
                                 gn_int block, gn_int threads, int64_t *bad) {         \
        gn_int widest = 0;                                                             \
        for (gn_int l = 1; l < layers; l++)                                            \
            widest = sizes[l] > widest ? sizes[l] : widest;                            \
        gn_dense_job_##SUFFIX job = {x, y, scratch, sizes, params, relu,               \
                                     rows, layers, block, block * widest};             \
        atomic_init(&job.next, 0);                                                     \
        atomic_init(&job.bad, 0);                                                      \
        gn_parallel(gn_dense_part_##SUFFIX, &job, threads, (int)threads);              \
        *bad = (int64_t)atomic_load(&job.bad);                                         \
    }

GN_DEFINE_DENSE(float, f32, gn_sgemm)
GN_DEFINE_DENSE(double, f64, gn_dgemm)
