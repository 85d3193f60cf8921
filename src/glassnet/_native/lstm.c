/* Recurrent layers over a whole sequence: LSTM, GRU and plain RNN, forward and BPTT.
 *
 * They are the compiled variants of glassnet.kernels.recurrent's kernels,
 * used instead of its NumPy loops when they build. One call runs the whole forward pass and one the whole backward
 * pass, so a 64-step sequence costs two calls from Python rather than some
 * 1,100 small NumPy calls. Each time step is the recurrent matrix product
 * (gn_sgemm / gn_dgemm: NumPy's own BLAS) followed by one fused loop over
 * the batch's cells: the gate non-linearities and the cell and hidden state
 * update forward; the gate derivatives, dc and the bias and one-hot
 * input-weight gradients backward.
 *
 * The arrays and their meaning are the NumPy code's (see kernels/recurrent.py):
 * time-major, contiguous, row-major.
 *
 *   S    (T, B, 4H)  in: x_t·W_x + b (unscaled); out: the gate values f, i, g, o
 *   hs   (T+1, B, H) hs[0] = h0 (set by the caller), hs[t+1] = h_t
 *   cs   (T+1, B, H) cs[0] = c0 (set by the caller), cs[t+1] = c_t
 *   tc   (T, B, H)   tanh(c_t)
 *   g    (B, T, H)   gradient of the output sequence (batch-first)
 *   dZ   (T, B, 4H)  out: gradient of every step's weighted sums
 *
 * float32 uses its own exp (Cephes' expf polynomial, about 1 ulp, written
 * so the compiler vectorises it; the C library's expf is a call per
 * element); float64 uses the C library's exp and tanh. σ is computed as
 * 1/(1 + e^−|z|) (or e^−|z| times that for z < 0), which never overflows.
 * The results agree with the NumPy code to rounding, not bit for bit.
 */
/* Let GCC turn the selects below (x < a ? b : c on floats) into vector
 * blends: by default it keeps them as branches in case a comparison raises a
 * floating-point exception flag, which nothing here reads. (Clang does this
 * by default.) The arithmetic and its rounding are unchanged. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "common.h"
#include "gemm.h"
#include "parallel.h"

/* With AVX-512, GCC's default for recent Intel CPUs is still 256-bit vectors;
 * on 512-bit ones the cell loops (exp, division) take less: W4's forward pass
 * (64 steps, batch 32, 128 units) 5.0 -> 4.4 ms on one Sapphire Rapids core. */
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512")
#endif

/* σ and tanh (gn_sigmoidf, gn_tanhf, gn_sigmoid) are common.h's. */

/* The per-step product of a part of the batch, float32: its few rows (16 of
 * W4's 32 on two threads) times W_h, 16×128 · 128×512. BLAS packs W_h (256 KB)
 * again on every such call; this register-blocked loop reads it packed once
 * per call (gn_lstm_pack): tiles of 4 rows × GN_LCOLS columns (4 vectors with
 * AVX-512, 2 with AVX2) of sums held in registers, one column block of W_h at
 * a time (128 rows × 64 columns: 32 KB, contiguous, in L1 while every row
 * tile of the part passes over it).
 * Fused multiply-adds, summed over k in order: equal to BLAS's to rounding.
 * Used from W_h's size in W4 (64k entries) up; smaller ones (not measured to
 * gain), other widths, float64 and builds without FMA: gn_sgemm (BLAS). (A
 * demo's training at 16 units, tests/test_childrens_book_memory.py, turned on
 * that rounding.) */
#ifdef GN_TILE_FMA
#if defined(__AVX512F__)
#define GN_LNV 4
#else
#define GN_LNV 2
#endif
#define GN_LCOLS (GN_TV * GN_LNV)

/* gemm.h's tile: c (MR × GN_LCOLS) = a (MR × k) · b (k × GN_LCOLS) [+ c when add] */
GN_TILE(gn_lstm_tile4, 4, GN_LNV)
GN_TILE(gn_lstm_tile1, 1, GN_LNV)

/* W_h for the per-step product, packed once per call: for each block of 128
 * rows (p) and GN_LCOLS columns (j), its kc × GN_LCOLS entries contiguous, at
 * p·n + j·kc. Read in place, W_h's rows are 2 KB apart (W4's 512 columns), so
 * a block's 128 rows fall on a few of L1's sets and do not stay in it. 0 when
 * the product is not this file's (then gn_lstm_sgemm calls BLAS with b). */
static float *gn_lstm_pack(gn_int k, gn_int n, const float *b) {
    if (n % GN_LCOLS || k * n < 65536) return 0;
    float *packed = (float *)aligned_alloc(64, sizeof(float) * (size_t)(k * n));
    if (!packed) return 0;
    for (gn_int p = 0; p < k; p += 128) {
        const gn_int kc = k - p < 128 ? k - p : 128;
        for (gn_int j = 0; j < n; j += GN_LCOLS)
            for (gn_int q = 0; q < kc; q++)
                memcpy(packed + p * n + j * kc + q * GN_LCOLS, b + (p + q) * n + j,
                       sizeof(float) * GN_LCOLS);
    }
    return packed;
}

/* c (m × n) = a (m × k) · b (k × n, ldb n) [+ c when beta is 1]; bp: b packed
 * by gn_lstm_pack, or 0 (then BLAS). */
static void gn_lstm_sgemm(gn_int m, gn_int n, gn_int k, const float *a, gn_int lda,
                          const float *b, const float *bp, float beta, float *c,
                          gn_int ldc) {
    if (!bp) {
        gn_sgemm(0, 0, m, n, k, a, lda, b, n, beta, c, ldc);
        return;
    }
    for (gn_int p = 0; p < k; p += 128) { /* 128 rows of b: a block fits L1 */
        const gn_int kc = k - p < 128 ? k - p : 128;
        const int add = p > 0 || beta != 0.0f;
        for (gn_int j = 0; j < n; j += GN_LCOLS) {
            const float *bj = bp + p * n + j * kc;
            gn_int i = 0;
            for (; i + 4 <= m; i += 4)
                gn_lstm_tile4(kc, a + i * lda + p, lda, bj, GN_LCOLS, add, c + i * ldc + j,
                              ldc, GN_LCOLS);
            for (; i < m; i++)
                gn_lstm_tile1(kc, a + i * lda + p, lda, bj, GN_LCOLS, add, c + i * ldc + j,
                              ldc, GN_LCOLS);
        }
    }
}
#else
#define gn_lstm_pack(k, n, b) ((float *)0)
static void gn_lstm_sgemm(gn_int m, gn_int n, gn_int k, const float *a, gn_int lda,
                          const float *b, const float *bp, float beta, float *c,
                          gn_int ldc) {
    (void)bp;
    gn_sgemm(0, 0, m, n, k, a, lda, b, n, beta, c, ldc);
}
#endif

/* The float64 step: BLAS, nothing packed. */
#define gn_lstm_dpack(k, n, b) ((double *)0)
static void gn_lstm_dgemm(gn_int m, gn_int n, gn_int k, const double *a, gn_int lda,
                          const double *b, const double *bp, double beta, double *c,
                          gn_int ldc) {
    (void)bp;
    gn_dgemm(0, 0, m, n, k, a, lda, b, n, beta, c, ldc);
}

/* One LSTM step's cells: S row block s (B, 4H) of weighted sums -> gate values,
 * c = f·c_prev + i·g, tc = tanh c, h = o·tc. */
#define GN_LSTM_CELLS(NAME, T, SIGMOID, TANH)                                          \
    static void NAME(gn_int B, gn_int H, T *restrict s, const T *restrict c_prev,       \
                     T *restrict c, T *restrict tc, T *restrict h) {                    \
        for (gn_int b = 0; b < B; b++) {                                               \
            T *restrict sf = s + b * 4 * H, *restrict si = sf + H,                     \
                        *restrict sg = sf + 2 * H, *restrict so = sf + 3 * H;          \
            const T *restrict cp = c_prev + b * H;                                     \
            T *restrict cb = c + b * H, *restrict tb = tc + b * H, *restrict hb = h + b * H; \
            for (gn_int j = 0; j < H; j++) {                                           \
                const T f = SIGMOID(sf[j]), i = SIGMOID(si[j]), g = TANH(sg[j]),       \
                        o = SIGMOID(so[j]);                                            \
                const T cj = f * cp[j] + i * g;                                        \
                const T tj = TANH(cj);                                                 \
                sf[j] = f;                                                             \
                si[j] = i;                                                             \
                sg[j] = g;                                                             \
                so[j] = o;                                                             \
                cb[j] = cj;                                                            \
                tb[j] = tj;                                                            \
                hb[j] = o * tj;                                                        \
            }                                                                          \
        }                                                                              \
    }

GN_LSTM_CELLS(lstm_cells_f32, float, gn_sigmoidf, gn_tanhf)
GN_LSTM_CELLS(lstm_cells_f64, double, gn_sigmoid, tanh)

/* The LSTM's batch rows are independent until the weight gradients, so both
 * passes split the rows between threads (parallel.h): each part runs the whole
 * time loop for its rows, its per-step products on one BLAS thread, with no
 * meeting between steps. The weight gradients are computed after the loop,
 * by the calling thread (dW_h one product with BLAS's own threads; db and
 * the one-hot dW_x split by columns), so they do not depend on the split. */

/* The whole forward pass: for every step, S[t] += h_{t-1}·W_h, then the cells;
 * rows lo..hi of the batch in this part. */
#define GN_LSTM_FORWARD(NAME, T, GEMM, PACK, CELLS)                                    \
    typedef struct {                                                                   \
        gn_int steps, B, H;                                                            \
        T *S;                                                                          \
        const T *Wh, *Whp;                                                             \
        T *hs, *cs, *tc;                                                               \
    } NAME##_job;                                                                      \
    static void NAME##_rows(const void *arg, gn_int lo, gn_int hi, int part) {         \
        const NAME##_job *j = (const NAME##_job *)arg;                                 \
        const gn_int H = j->H, BH = j->B * H, B4H = 4 * BH, m = hi - lo;               \
        (void)part;                                                                    \
        for (gn_int t = 0; t < j->steps; t++) {                                        \
            T *s = j->S + t * B4H + lo * 4 * H;                                        \
            GEMM(m, 4 * H, H, j->hs + t * BH + lo * H, H, j->Wh, j->Whp, (T)1, s,      \
                 4 * H);                                                               \
            CELLS(m, H, s, j->cs + t * BH + lo * H, j->cs + (t + 1) * BH + lo * H,     \
                  j->tc + t * BH + lo * H, j->hs + (t + 1) * BH + lo * H);             \
        }                                                                              \
    }                                                                                  \
    void NAME(gn_int steps, gn_int B, gn_int H, T *S, const T *Wh, T *hs, T *cs,      \
              T *tc, gn_int threads) {                                                 \
        T *Whp = PACK(H, 4 * H, Wh);                                                   \
        NAME##_job job = {steps, B, H, S, Wh, Whp, hs, cs, tc};                        \
        gn_parallel(NAME##_rows, &job, B, (int)threads);                          \
        free(Whp);                                                                     \
    }

GN_LSTM_FORWARD(gn_lstm_forward_f32, float, gn_lstm_sgemm, gn_lstm_pack, lstm_cells_f32)
GN_LSTM_FORWARD(gn_lstm_forward_f64, double, gn_lstm_dgemm, gn_lstm_dpack, lstm_cells_f64)

/* The whole backward pass (BPTT). dh, dc (B, H) hold the gradients reaching the
 * final h and c on entry (zeros if none) and those of h0 and c0 on exit.
 * WhT is W_h transposed, (4H, H) contiguous. Optional (0 = not wanted):
 *   g      the output sequence's gradient (B, T, H); 0 when only final states
 *          carry a gradient;
 *   db     (4H) ← Σ dZ over all steps and rows;
 *   ids, dWx: one-hot input as symbol ids (T·B, time-major) and the input
 *          weights' gradient (V, 4H), zeroed by the caller: row ids[r] of dWx
 *          gets row r of dZ (the product Xᵀ·dZ with a one-hot X);
 *   dWh    (H, 4H) ← hs[:T]ᵀ·dZ, one product after the loop.
 * db and dWx sum the rows of dZ in the time loop's order (t from the last
 * step down, b up), each part of the threads its own columns: the same sums
 * on any number of threads, and the same as when they were added inside the
 * loop (a demo's training, tests/test_childrens_book_memory.py, turned on
 * that rounding). */
#define GN_LSTM_BACKWARD(NAME, T, GEMM, STEP, PACK)                                    \
    typedef struct {                                                                   \
        gn_int steps, B, H;                                                            \
        const T *S, *hs, *cs, *tc, *g, *WhT, *WhTp;                                    \
        T *dZ, *dh, *dc, *db;                                                          \
        const int64_t *ids;                                                            \
        T *dWx;                                                                        \
    } NAME##_job;                                                                      \
    static void NAME##_rows(const void *arg, gn_int lo, gn_int hi, int part) {         \
        const NAME##_job *j = (const NAME##_job *)arg;                                 \
        const gn_int steps = j->steps, H = j->H, BH = j->B * H, H4 = 4 * H,            \
                     B4H = 4 * BH;                                                     \
        (void)part;                                                                    \
        for (gn_int t = steps - 1; t >= 0; t--) {                                      \
            const T *st = j->S + t * B4H, *c_prev = j->cs + t * BH,                    \
                    *tct = j->tc + t * BH;                                             \
            T *dz = j->dZ + t * B4H;                                                   \
            for (gn_int b = lo; b < hi; b++) {                                         \
                const T *restrict sf = st + b * H4, *restrict si = sf + H,             \
                                  *restrict sg = sf + 2 * H, *restrict so = sf + 3 * H; \
                const T *restrict cp = c_prev + b * H, *restrict tb = tct + b * H;     \
                const T *restrict gb = j->g ? j->g + (b * steps + t) * H : 0;          \
                T *restrict dhb = j->dh + b * H, *restrict dcb = j->dc + b * H;        \
                T *restrict df = dz + b * H4, *restrict di = df + H,                   \
                            *restrict dg = df + 2 * H, *restrict dout = df + 3 * H;    \
                if (gb)                                                                \
                    for (gn_int k = 0; k < H; k++) dhb[k] = dhb[k] + gb[k];            \
                for (gn_int k = 0; k < H; k++) {                                       \
                    const T f = sf[k], i = si[k], gg = sg[k], o = so[k], tk = tb[k];   \
                    const T dhk = dhb[k];                                              \
                    /* gradient reaching c_t: from c_{t+1} and through h_t */          \
                    const T dck = dcb[k] + dhk * (o * ((T)1 - tk * tk));               \
                    df[k] = dck * (f * ((T)1 - f) * cp[k]);                            \
                    di[k] = dck * (i * ((T)1 - i) * gg);                               \
                    dg[k] = dck * (((T)1 - gg * gg) * i);                              \
                    dout[k] = dhk * (o * ((T)1 - o) * tk);                             \
                    dcb[k] = dck * f; /* back to c_{t-1}: through the forget gate */   \
                }                                                                      \
            }                                                                          \
            /* back to h_{t-1}: dh = dZ_t·W_hᵀ */                                      \
            STEP(hi - lo, H, H4, dz + lo * H4, H4, j->WhT, j->WhTp, (T)0, j->dh + lo * H, \
                 H);                                                                   \
        }                                                                              \
    }                                                                                  \
    /* db and dWx over columns lo..hi (a multiple of 16 apart): rows of dZ in order */ \
    static void NAME##_sums(const void *arg, gn_int lo, gn_int hi, int part) {         \
        const NAME##_job *j = (const NAME##_job *)arg;                                 \
        const gn_int H4 = 4 * j->H, B = j->B, c0 = lo * 16,                            \
                     c1 = hi * 16 < H4 ? hi * 16 : H4;                                 \
        (void)part;                                                                    \
        if (j->db)                                                                     \
            for (gn_int k = c0; k < c1; k++) j->db[k] = 0;                             \
        /* rows in the time loop's order: the last step first */                       \
        for (gn_int t = j->steps - 1; t >= 0; t--)                                     \
            for (gn_int r = t * B; r < (t + 1) * B; r++) {                             \
                const T *restrict d = j->dZ + r * H4;                                  \
                if (j->db) {                                                           \
                    T *restrict db = j->db;                                            \
                    for (gn_int k = c0; k < c1; k++) db[k] = db[k] + d[k];             \
                }                                                                      \
                if (j->dWx) {                                                          \
                    T *restrict w = j->dWx + j->ids[r] * H4;                           \
                    for (gn_int k = c0; k < c1; k++) w[k] = w[k] + d[k];               \
                }                                                                      \
            }                                                                          \
    }                                                                                  \
    void NAME(gn_int steps, gn_int B, gn_int H, const T *S, const T *hs, const T *cs,  \
              const T *tc, const T *g, const T *WhT, T *dZ, T *dh, T *dc, T *db,      \
              const int64_t *ids, T *dWx, T *dWh, gn_int threads) {                    \
        T *WhTp = PACK(4 * H, H, WhT);                                                 \
        NAME##_job job = {steps, B, H, S, hs, cs, tc, g, WhT, WhTp,                    \
                          dZ, dh, dc, db, ids, dWx};                                   \
        gn_parallel(NAME##_rows, &job, B, (int)threads);                          \
        free(WhTp);                                                                    \
        if (db || dWx) gn_parallel(NAME##_sums, &job, (4 * H + 15) / 16, (int)threads); \
        if (dWh) GEMM(1, 0, H, 4 * H, steps * B, hs, H, dZ, 4 * H, (T)0, dWh, 4 * H); \
    }

GN_LSTM_BACKWARD(gn_lstm_backward_f32, float, gn_sgemm, gn_lstm_sgemm, gn_lstm_pack)
GN_LSTM_BACKWARD(gn_lstm_backward_f64, double, gn_dgemm, gn_lstm_dgemm, gn_lstm_dpack)

/* --- plain (Elman) RNN: h_t = φ(z_t), z_t = x_t·W_x + b + h_{t-1}·W_h ------------ */

/* Z (T, B, H): in x_t·W_x + b, out the weighted sums z_t. hs as for the LSTM.
 * relu = 0: φ = tanh; relu = 1: φ = max(z, 0) (NaN stays NaN). */
#define GN_RNN_FORWARD(NAME, T, GEMM, TANH)                                            \
    void NAME(gn_int steps, gn_int B, gn_int H, int64_t relu, T *Z, const T *Wh,      \
              T *hs) {                                                                 \
        const gn_int BH = B * H;                                                       \
        for (gn_int t = 0; t < steps; t++) {                                           \
            T *restrict z = Z + t * BH;                                                \
            T *restrict h = hs + (t + 1) * BH;                                         \
            GEMM(0, 0, B, H, H, hs + t * BH, H, Wh, H, (T)1, z, H);                    \
            if (relu)                                                                  \
                for (gn_int j = 0; j < BH; j++) h[j] = z[j] < (T)0 ? (T)0 : z[j];      \
            else                                                                       \
                for (gn_int j = 0; j < BH; j++) h[j] = TANH(z[j]);                     \
        }                                                                              \
    }

GN_RNN_FORWARD(gn_rnn_forward_f32, float, gn_sgemm, gn_tanhf)
GN_RNN_FORWARD(gn_rnn_forward_f64, double, gn_dgemm, tanh)

/* BPTT for the RNN; the arguments mean what they mean for the LSTM (dZ and
 * W_hT are (T, B, H) and (H, H)). dh: final h's gradient in, h0's out. */
#define GN_RNN_BACKWARD(NAME, T, GEMM)                                                 \
    void NAME(gn_int steps, gn_int B, gn_int H, int64_t relu, const T *hs, const T *g, \
              const T *WhT, T *dZ, T *dh, T *db, const int64_t *ids, T *dWx, T *dWh) { \
        const gn_int BH = B * H;                                                       \
        if (db)                                                                        \
            for (gn_int j = 0; j < H; j++) db[j] = 0;                                  \
        for (gn_int t = steps - 1; t >= 0; t--) {                                      \
            const T *ht = hs + (t + 1) * BH;                                           \
            T *dz = dZ + t * BH;                                                       \
            for (gn_int b = 0; b < B; b++) {                                           \
                const T *restrict hb = ht + b * H;                                     \
                const T *restrict gb = g ? g + (b * steps + t) * H : 0;                \
                T *restrict dhb = dh + b * H, *restrict dzb = dz + b * H;              \
                if (gb)                                                                \
                    for (gn_int j = 0; j < H; j++) dhb[j] = dhb[j] + gb[j];            \
                if (relu) /* ReLU → 1 where h > 0 */                                   \
                    for (gn_int j = 0; j < H; j++)                                     \
                        dzb[j] = hb[j] > (T)0 ? dhb[j] : (T)0;                         \
                else /* tanh → 1 − h² */                                               \
                    for (gn_int j = 0; j < H; j++)                                     \
                        dzb[j] = ((T)1 - hb[j] * hb[j]) * dhb[j];                      \
                if (db)                                                                \
                    for (gn_int j = 0; j < H; j++) db[j] = db[j] + dzb[j];             \
                if (dWx) {                                                             \
                    T *restrict row = dWx + ids[t * B + b] * H;                        \
                    for (gn_int j = 0; j < H; j++) row[j] = row[j] + dzb[j];           \
                }                                                                      \
            }                                                                          \
            GEMM(0, 0, B, H, H, dz, H, WhT, H, (T)0, dh, H); /* back to h_{t-1} */     \
        }                                                                              \
        if (dWh) GEMM(1, 0, H, H, steps * B, hs, H, dZ, H, (T)0, dWh, H);              \
    }

GN_RNN_BACKWARD(gn_rnn_backward_f32, float, gn_sgemm)
GN_RNN_BACKWARD(gn_rnn_backward_f64, double, gn_dgemm)

/* --- gated recurrent unit (PyTorch's r, z, n) ------------------------------------ */

/* S (T, B, 3H): in x_t·W_x + b; out the gate values r, z, n. hn (T, B, H): out
 * q_n + b_hn, the factor the reset gate multiplied. q (B, 3H): scratch for
 * h_{t-1}·W_h. h_t = n + z·(h_{t-1} − n), the reference's order of operations. */
#define GN_GRU_FORWARD(NAME, T, GEMM, SIGMOID, TANH)                                   \
    void NAME(gn_int steps, gn_int B, gn_int H, T *S, const T *Wh, const T *bhn,      \
              T *hs, T *hn, T *q) {                                                    \
        const gn_int BH = B * H, H3 = 3 * H;                                           \
        for (gn_int t = 0; t < steps; t++) {                                           \
            GEMM(0, 0, B, H3, H, hs + t * BH, H, Wh, H3, (T)0, q, H3);                 \
            for (gn_int b = 0; b < B; b++) {                                           \
                T *restrict sr = S + t * B * H3 + b * H3, *restrict sz = sr + H,       \
                            *restrict sn = sr + 2 * H;                                 \
                const T *restrict qr = q + b * H3, *restrict qz = qr + H,              \
                                  *restrict qn = qr + 2 * H;                           \
                const T *restrict hp = hs + t * BH + b * H;                            \
                T *restrict hb = hs + (t + 1) * BH + b * H,                            \
                            *restrict nb = hn + t * BH + b * H;                        \
                for (gn_int j = 0; j < H; j++) {                                       \
                    const T r = SIGMOID(sr[j] + qr[j]), z = SIGMOID(sz[j] + qz[j]);    \
                    const T a = qn[j] + bhn[j];                                        \
                    const T n = TANH(r * a + sn[j]);                                   \
                    sr[j] = r;                                                         \
                    sz[j] = z;                                                         \
                    sn[j] = n;                                                         \
                    nb[j] = a;                                                         \
                    hb[j] = (hp[j] - n) * z + n;                                       \
                }                                                                      \
            }                                                                          \
        }                                                                              \
    }

GN_GRU_FORWARD(gn_gru_forward_f32, float, gn_sgemm, gn_sigmoidf, gn_tanhf)
GN_GRU_FORWARD(gn_gru_forward_f64, double, gn_dgemm, gn_sigmoid, tanh)

/* BPTT for the GRU. dZ (T, B, 3H): the input sums' gradient; dQ (T, B, 3H):
 * the recurrent products' (the candidate block scaled by r). dh: final h's
 * gradient in, h0's out. db (3H), dbhn (H), ids/dWx, dWh as for the LSTM
 * (0 = not wanted); dWh = hs[:T]ᵀ·dQ. */
#define GN_GRU_BACKWARD(NAME, T, GEMM)                                                 \
    void NAME(gn_int steps, gn_int B, gn_int H, const T *S, const T *hs, const T *hn,  \
              const T *g, const T *WhT, T *dZ, T *dQ, T *dh, T *db, T *dbhn,          \
              const int64_t *ids, T *dWx, T *dWh) {                                    \
        const gn_int BH = B * H, H3 = 3 * H;                                           \
        if (db)                                                                        \
            for (gn_int j = 0; j < H3; j++) db[j] = 0;                                 \
        if (dbhn)                                                                      \
            for (gn_int j = 0; j < H; j++) dbhn[j] = 0;                                \
        for (gn_int t = steps - 1; t >= 0; t--) {                                      \
            for (gn_int b = 0; b < B; b++) {                                           \
                const gn_int row = t * B * H3 + b * H3;                                \
                const T *restrict sr = S + row, *restrict sz = sr + H,                 \
                                  *restrict sn = sr + 2 * H;                           \
                const T *restrict hp = hs + t * BH + b * H,                            \
                                  *restrict ab = hn + t * BH + b * H;                  \
                const T *restrict gb = g ? g + (b * steps + t) * H : 0;                \
                T *restrict dhb = dh + b * H;                                          \
                T *restrict dr = dZ + row, *restrict dz = dr + H, *restrict dn = dr + 2 * H; \
                T *restrict qr = dQ + row, *restrict qz = qr + H, *restrict qn = qr + 2 * H; \
                if (gb)                                                                \
                    for (gn_int j = 0; j < H; j++) dhb[j] = dhb[j] + gb[j];            \
                for (gn_int j = 0; j < H; j++) {                                       \
                    const T r = sr[j], z = sz[j], n = sn[j], d = dhb[j];               \
                    const T dnj = d * (((T)1 - z) * ((T)1 - n * n));                   \
                    const T drj = dnj * (ab[j] * (r * ((T)1 - r)));                    \
                    const T dzj = d * ((hp[j] - n) * (z * ((T)1 - z)));                \
                    dr[j] = qr[j] = drj;                                               \
                    dz[j] = qz[j] = dzj;                                               \
                    dn[j] = dnj;                                                       \
                    qn[j] = dnj * r;                                                   \
                    dhb[j] = d * z; /* straight through the update gate */             \
                }                                                                      \
                if (db)                                                                \
                    for (gn_int j = 0; j < H3; j++) db[j] = db[j] + dr[j];             \
                if (dbhn)                                                              \
                    for (gn_int j = 0; j < H; j++) dbhn[j] = dbhn[j] + qn[j];          \
                if (dWx) {                                                             \
                    T *restrict w = dWx + ids[t * B + b] * H3;                         \
                    for (gn_int j = 0; j < H3; j++) w[j] = w[j] + dr[j];               \
                }                                                                      \
            }                                                                          \
            /* and back to h_{t-1} through W_h: dh += dQ_t·W_hᵀ */                     \
            GEMM(0, 0, B, H, H3, dQ + t * B * H3, H3, WhT, H, (T)1, dh, H);            \
        }                                                                              \
        if (dWh) GEMM(1, 0, H, H3, steps * B, hs, H, dQ, H3, (T)0, dWh, H3);           \
    }

GN_GRU_BACKWARD(gn_gru_backward_f32, float, gn_sgemm)
GN_GRU_BACKWARD(gn_gru_backward_f64, double, gn_dgemm)
