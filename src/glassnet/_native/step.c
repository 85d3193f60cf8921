/* A captured training step of a Dense/activation network, run as one C call.
 *
 * glassnet.train.capture_step writes the step down once as a little program:
 * a list of records, each an operation and the addresses and sizes of the
 * float32 buffers it reads and writes (allocated by NumPy, kept alive by
 * Python). gn_step_run executes the list in order: the forward pass, the
 * fused softmax cross-entropy with its gradient, and the backward pass. The
 * optimizer update is a separate call (optim.c), made by the optimizer.
 *
 * Each operation computes what the eager op of glassnet.ops computes; the
 * results agree to float32 rounding, not bit for bit (exp, σ and tanh are
 * common.h's gn_expf, gn_sigmoidf and gn_tanhf, log the C library's; not NumPy's).
 */
#include "common.h"

/* The opcodes (OP_LINEAR_FWD ...) and the record size GN_STEP_RECORD (an
 * opcode, six addresses, four sizes, a spare word) come from gn_abi.h, which
 * the build generates from glassnet/kernels/_abi.py: Python reads the same table. */
#define RECORD GN_STEP_RECORD

static void linear_fwd(const float *x, const float *w, const float *b, float *z,
                       gn_int batch, gn_int in, gn_int out) {
    gn_sgemm(0, 0, batch, out, in, x, in, w, out, 0.0f, z, out);
    if (b)
        for (gn_int i = 0; i < batch; i++) {
            float *restrict zi = z + i * out;
            for (gn_int j = 0; j < out; j++) zi[j] = zi[j] + b[j];
        }
}

static void linear_bwd(const float *x, const float *g, const float *w, float *dw,
                       float *db, float *dx, gn_int batch, gn_int in, gn_int out) {
    gn_sgemm(1, 0, in, out, batch, x, in, g, out, 0.0f, dw, out); /* xᵀ·g */
    if (db) {
        for (gn_int j = 0; j < out; j++) db[j] = 0.0f;
        for (gn_int i = 0; i < batch; i++) {
            const float *restrict gi = g + i * out;
            for (gn_int j = 0; j < out; j++) db[j] += gi[j];
        }
    }
    if (dx) gn_sgemm(0, 1, batch, in, out, g, out, w, out, 0.0f, dx, in); /* g·Wᵀ */
}

/* The elementwise operations. restrict (the buffers never overlap) and no
 * branches let the compiler vectorise them; ReLU as a multiply by the 0/1
 * mask is also how the eager op computes it (and a branch on random signs
 * would mispredict half the time: 8x slower, measured). */
static void tanh_fwd(const float *restrict v, float *restrict y, gn_int n) {
    for (gn_int i = 0; i < n; i++) y[i] = gn_tanhf(v[i]);
}
static void relu_fwd(const float *restrict v, float *restrict y, gn_int n) {
    for (gn_int i = 0; i < n; i++) y[i] = v[i] * (float)(v[i] > 0.0f);
}
static void tanh_bwd(const float *restrict g, const float *restrict y,
                     float *restrict out, gn_int n) {
    for (gn_int i = 0; i < n; i++) out[i] = g[i] * (1.0f - y[i] * y[i]);
}
static void relu_bwd(const float *restrict g, const float *restrict y,
                     float *restrict out, gn_int n) {
    for (gn_int i = 0; i < n; i++) out[i] = g[i] * (float)(y[i] > 0.0f);
}

/* gn_expf over an array: for tests/test_native.py, which measures its error. */
void gn_expf_array(const float *restrict x, float *restrict y, gn_int n) {
    for (gn_int i = 0; i < n; i++) y[i] = gn_expf(x[i]);
}

/* Mean softmax cross-entropy over the rows of z (batch × classes) and its
 * gradient. Returns −1 when all labels are in range, else the index of the
 * first bad one (nothing is then written to dz). */
static gn_int cross_entropy(const float *z, const int64_t *labels, float *dz,
                            gn_int batch, gn_int classes, double *loss) {
    for (gn_int i = 0; i < batch; i++)
        if ((uint64_t)labels[i] >= (uint64_t)classes) return i;
    const float inv_n = 1.0f / (float)batch;
    double total = 0.0;
    for (gn_int i = 0; i < batch; i++) {
        const float *restrict zi = z + i * classes;
        float *restrict di = dz + i * classes;
        float top, sum;
        gn_softmax_rows(zi, di, &top, &sum, 1, classes);
        const gn_int y = labels[i];
        total += (double)(logf(sum) - (zi[y] - top));
        const float factor = inv_n / sum;
        for (gn_int j = 0; j < classes; j++) di[j] = di[j] * factor;
        di[y] -= inv_n;
    }
    *loss = total / (double)batch;
    return -1;
}

/* Run the program (n records). Returns −1, or the index of the first label
 * outside [0, classes) if the cross-entropy found one (the step then stops
 * before the backward pass and nothing is changed). */
gn_int gn_step_run(const int64_t *program, gn_int n, double *loss) {
    for (gn_int r = 0; r < n; r++) {
        const int64_t *rec = program + r * RECORD;
        float *p1 = (float *)(intptr_t)rec[1], *p2 = (float *)(intptr_t)rec[2],
              *p3 = (float *)(intptr_t)rec[3], *p4 = (float *)(intptr_t)rec[4],
              *p5 = (float *)(intptr_t)rec[5], *p6 = (float *)(intptr_t)rec[6];
        const gn_int s1 = rec[7], s2 = rec[8], s3 = rec[9];
        switch (rec[0]) {
        case OP_LINEAR_FWD:
            linear_fwd(p1, p2, p3, p4, s1, s2, s3);
            break;
        case OP_SIGMOID_FWD:
            gn_sigmoid_fwd(p1, p2, s1);
            break;
        case OP_TANH_FWD:
            tanh_fwd(p1, p2, s1);
            break;
        case OP_RELU_FWD:
            relu_fwd(p1, p2, s1);
            break;
        case OP_CROSS_ENTROPY: {
            gn_int bad = cross_entropy(p1, (const int64_t *)p2, p3, s1, s2, loss);
            if (bad >= 0) return bad;
            break;
        }
        case OP_SIGMOID_BWD:
            gn_sigmoid_bwd(p1, p2, p3, s1);
            break;
        case OP_TANH_BWD:
            tanh_bwd(p1, p2, p3, s1);
            break;
        case OP_RELU_BWD:
            relu_bwd(p1, p2, p3, s1);
            break;
        case OP_LINEAR_BWD:
            linear_bwd(p1, p2, p3, p4, p5, p6, s1, s2, s3);
            break;
        default:
            return -2 - r; /* an unknown operation: a bug in the caller */
        }
    }
    return -1;
}
