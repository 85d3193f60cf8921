/* A stack of Dense layers for inference, for glassnet.kernels.linear's
 * linear_stack (predict on W2: 784 -> 256 ReLU -> 256 ReLU -> 10):
 *
 *     h_0 = x,   h_l = act_l(h_{l-1}·W_l + b_l),   y = h_L,   act ReLU or none
 *
 * The batch is cut into blocks of `block` rows; each thread takes the next
 * block (an atomic counter: a thread whose core is busy with other work takes
 * fewer) and runs the whole stack on it: the product by gemm.h's kernel where
 * the layer takes it, else by single-threaded BLAS (Python sets NumPy's
 * OpenBLAS to one thread when it asks for more than one here), then the bias
 * and ReLU on the block while it is still in cache, the layers' activations
 * in the thread's two scratch buffers, the last layer straight into y. The
 * threads meet once per call, not once per product and again for each pass.
 *
 * gemm.h reads a layer's weights in place when every row of them starts on a
 * 64-byte line, and otherwise packs them first, once a block, into the
 * thread's part of scratch (`room` floats, on a line, kept between calls):
 * the tile's loads then never straddle two lines (gemm.h has the figures;
 * docs/speed.md, "The weights packed into memory kept between calls").
 *
 * The input check rides on the first product's pass: a row of x holding NaN or
 * infinity gives a row of x·W1 that is all NaN or infinity (each of its sums
 * has a NaN or infinite term: NaN·w = NaN, ±inf·0 = NaN, ±inf·w = ±inf, and
 * adding finite terms keeps it so); finite rows give finite sums unless they
 * overflow. *bad is set to the count of blocks whose product held NaN or
 * infinity (v - v is 0 only for finite v), so the caller looks for the rows
 * in x only then, and nothing else reads x a second time.
 *
 * Which rows share a product depends on `block` alone, not on which thread ran
 * the block (glassnet.kernels.variants.dense chooses `block`).
 */
#include "common.h"

#include <stdatomic.h>

#include "gemm.h"
#include "parallel.h"

/* Parts of an eager layer's columns: gemm.h's panels (float32), else single
 * columns (float64, BLAS). */
static gn_int gn_dense_parts_f32(gn_int n) {
#if GN_OWN_SGEMM
    return (n + GN_GEMM_NR - 1) / GN_GEMM_NR;
#else
    return n;
#endif
}
static gn_int gn_dense_parts_f64(gn_int n) { return n; }

#if GN_OWN_SGEMM
#define GN_DENSE_TILE GN_GEMM_MR /* rows per tile of gemm.h's kernel */
#define GN_DENSE_PANEL GN_GEMM_NR /* and columns per panel */
#else
#define GN_DENSE_TILE 1
#define GN_DENSE_PANEL 1
#endif

/* z[:, j0:j1] = h·w[:, j0:j1] (m rows, k inner; the rest of z untouched):
 * gemm.h's kernel where `own` says so and this build has it, else BLAS.
 * `pack`: w's panels copied first, to `buf` (gemm.h says when that pays). */
static void gn_dense_cols_f32(int own, int pack, float *buf, gn_int m, gn_int n,
                              gn_int k, const float *h, const float *w, float *z,
                              gn_int j0, gn_int j1) {
#if GN_OWN_SGEMM
    if (own && gn_own_sgemm(m, k, h, k, w, n, z, n, j0, j1, pack, buf) == 0) return;
#else
    (void)own, (void)pack, (void)buf;
#endif
    gn_sgemm(0, 0, m, j1 - j0, k, h, k, w + j0, n, 0.0f, z + j0, n);
}

static void gn_dense_cols_f64(int own, int pack, double *buf, gn_int m, gn_int n,
                              gn_int k, const double *h, const double *w, double *z,
                              gn_int j0, gn_int j1) {
    (void)own, (void)pack, (void)buf;
    gn_dgemm(0, 0, m, j1 - j0, k, h, k, w + j0, n, 0.0, z + j0, n);
}

/* Columns per panel of gemm.h's kernel when this build multiplies float32
 * matrices with it (a layer's packed weights take k times its columns rounded
 * up to this), else 0. */
gn_int gn_dense_own_gemm(void) {
#if GN_OWN_SGEMM
    return GN_GEMM_NR;
#else
    return 0;
#endif
}

#define GN_DEFINE_DENSE(T, SUFFIX)                                               \
    typedef struct {                                                                   \
        const T *x;                                                                    \
        T *y, *scratch;                                                                \
        const int64_t *sizes, *params, *relu;                                          \
        gn_int rows, layers, block, stride, room, threads;                             \
        atomic_llong next, bad;                                                        \
    } gn_dense_job_##SUFFIX;                                                           \
                                                                                       \
    /* The m x n product z (rows ldz apart) in place: the finiteness check      \
     * (check), + b (b not NULL), then ReLU (relu), in one pass. Returns 1 if z    \
     * held NaN or inf. */                                                         \
    static int gn_dense_finish_##SUFFIX(T *restrict z, gn_int ldz, const T *restrict b, \
                                        gn_int m, gn_int n, int check, int relu) {     \
        int bad = 0;                                                                   \
        for (gn_int r = 0; r < m; r++) {                                               \
            T *restrict row = z + r * ldz;                                             \
            for (gn_int j = 0; j < n; j++) {                                           \
                T v = row[j];                                                          \
                if (check) bad |= v - v != (T)0; /* 0 for finite v, else NaN */        \
                if (b) v = v + b[j];                                                   \
                if (relu) v = v * (T)(v > (T)0);                                       \
                row[j] = v;                                                            \
            }                                                                          \
        }                                                                              \
        return bad;                                                                    \
    }                                                                                  \
                                                                                       \
    static void gn_dense_part_##SUFFIX(const void *arg, gn_int lo, gn_int hi, int t) { \
        gn_dense_job_##SUFFIX *job = (gn_dense_job_##SUFFIX *)arg;                     \
        (void)lo, (void)hi;                                                            \
        /* the thread's packed weights (room floats, first: aligned), then its     \
         * two activations */                                                         \
        T *pack = job->room ? job->scratch + t * job->room : 0;                        \
        T *bufs[2] = {job->scratch + job->threads * job->room + 2 * t * job->stride,   \
                      job->scratch + job->threads * job->room + (2 * t + 1) * job->stride}; \
        for (;;) {                                                                     \
            const gn_int first = atomic_fetch_add(&job->next, 1) * job->block;         \
            if (first >= job->rows) break;                                             \
            const gn_int m = job->rows - first < job->block ? job->rows - first        \
                                                             : job->block;             \
            const T *h = job->x + first * job->sizes[0];                               \
            for (gn_int l = 0; l < job->layers; l++) {                                 \
                const gn_int k = job->sizes[l], n = job->sizes[l + 1];                 \
                const T *w = (const T *)(intptr_t)job->params[2 * l];                  \
                const T *b = (const T *)(intptr_t)job->params[2 * l + 1];              \
                T *z = l == job->layers - 1 ? job->y + first * n : bufs[l % 2];        \
                /* packed unless every row of w starts on a cache line already */      \
                const int copy = job->room > 0 && (((uintptr_t)w & 63) || n % 16);     \
                gn_dense_cols_##SUFFIX((int)(job->relu[l] & 2), copy, pack, m, n, k, h, \
                                       w, z, 0, n);                                    \
                if (gn_dense_finish_##SUFFIX(z, n, b, m, n, l == 0, (int)(job->relu[l] & 1))) \
                    atomic_fetch_add(&job->bad, 1);                                    \
                h = z;                                                                 \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
                                                                                       \
    void gn_dense_stack_##SUFFIX(const T *x, T *y, T *scratch, gn_int rows,            \
                                 gn_int layers, const int64_t *sizes,                  \
                                 const int64_t *params, const int64_t *relu,           \
                                 gn_int block, gn_int room, gn_int threads,            \
                                 int64_t *bad) {                                       \
        gn_int widest = 0;                                                             \
        for (gn_int l = 1; l < layers; l++)                                            \
            widest = sizes[l] > widest ? sizes[l] : widest;                            \
        gn_dense_job_##SUFFIX job = {.x = x, .y = y, .scratch = scratch,               \
                                     .sizes = sizes, .params = params, .relu = relu,   \
                                     .rows = rows, .layers = layers, .block = block,   \
                                     .stride = block * widest, .room = room,           \
                                     .threads = threads};                              \
        atomic_init(&job.next, 0);                                                     \
        atomic_init(&job.bad, 0);                                                      \
        gn_parallel(gn_dense_part_##SUFFIX, &job, threads, (int)threads);              \
        *bad = (int64_t)atomic_load(&job.bad);                                         \
    }                                                                                  \
                                                                                       \
    /* One layer, y = x·w (+ b) (then ReLU when relu): the eager Dense forward   \
     * and linear_activation where gemm.h's kernel is used, so that they give      \
     * predict's bits. Threads share the columns, in whole panels: each reads only  \
     * its part of w, which an optimizer step may just have written on another     \
     * core. */                                                                     \
    typedef struct {                                                                   \
        const T *x, *w, *b;                                                            \
        T *y, *scratch;                                                                \
        gn_int rows, k, n, per;                                                        \
        int relu;                                                                      \
    } gn_linear_job_##SUFFIX;                                                          \
                                                                                       \
    static void gn_linear_part_##SUFFIX(const void *arg, gn_int lo, gn_int hi, int t) { \
        const gn_linear_job_##SUFFIX *J = (const gn_linear_job_##SUFFIX *)arg;         \
        const gn_int j0 = lo * J->per, j1 = hi * J->per < J->n ? hi * J->per : J->n;   \
        (void)t;                                                                       \
        if (j1 <= j0) return;                                                          \
        /* w's panels copied first from four tiles of rows on: W2's first layer in \
         * a training step, 128 rows, 262 us copied against 291-309 read in place; \
         * for 8-32 rows the copy is most of the work (after an optimizer step,    \
         * read in place: 55-123 us, BLAS 135-214). The copy goes to scratch from \
         * lo·k·NR on: a part is at most one panel wide (parts = panels). */       \
        gn_dense_cols_##SUFFIX(1, J->rows >= 4 * GN_DENSE_TILE,                         \
                               J->scratch ? J->scratch + lo * J->k * GN_DENSE_PANEL : 0, \
                               J->rows, J->n,                                          \
                               J->k, J->x, J->w, J->y, j0, j1);                        \
        gn_dense_finish_##SUFFIX(J->y + j0, J->n, J->b ? J->b + j0 : 0, J->rows,        \
                                 j1 - j0, 0, J->relu);                                 \
    }                                                                                  \
                                                                                       \
    void gn_dense_linear_##SUFFIX(const T *x, const T *w, const T *b, T *y,            \
                                  T *scratch, gn_int rows, gn_int k, gn_int n,         \
                                  gn_int relu, gn_int threads) {                       \
        const gn_int parts = gn_dense_parts_##SUFFIX(n);                               \
        gn_linear_job_##SUFFIX job = {x, w, b, y, scratch, rows, k, n,                 \
                                      (n + parts - 1) / parts, (int)relu};             \
        if (rows <= 0 || n <= 0) return;                                               \
        gn_parallel(gn_linear_part_##SUFFIX, &job, parts, (int)threads);               \
    }

GN_DEFINE_DENSE(float, f32)
GN_DEFINE_DENSE(double, f64)
