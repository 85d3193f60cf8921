/* The body of direct.c, once per element type: included with T (float or
 * double), VT (its vector type), SUF (f32 or f64), GN_FMA and GN_SPLAT defined. Read
 * direct.c's comment first. */
#define GN_CAT2(a, b) a##_##b
#define GN_CAT(a, b) GN_CAT2(a, b)
#define GN_N(name) GN_CAT(name, SUF)
#define GN_V ((gn_int)(GN_VBYTES / sizeof(T)))

GN_INLINE VT GN_N(gn_ld)(const T *p) {
    VT v;
    memcpy(&v, p, sizeof v);
    return v;
}

GN_INLINE void GN_N(gn_st)(T *p, VT v) { memcpy(p, &v, sizeof v); }


/* x (n, c, h, w) -> out (n, hp, wp, cp) channels-last: out[n, y, x, ch] =
 * x[n, ch, y - top, x - left] where that is inside x and ch < c, else 0 (top or
 * left below 0 crops). Output rows are split between `threads`. */
typedef struct {
    const T *x;
    T *out;
    gn_int c, h, w, hp, wp, cp, top, left;
} GN_N(gn_pack_job);

static void GN_N(gn_pack_rows)(const void *arg, gn_int lo, gn_int hi, int t) {
    const GN_N(gn_pack_job) *J = (const GN_N(gn_pack_job) *)arg;
    const gn_int c = J->c, h = J->h, w = J->w, wp = J->wp, cp = J->cp, left = J->left;
    /* the columns x0..x1 of out's rows that come from x */
    const gn_int x0 = left > 0 ? left : 0, x1 = w + left < wp ? w + left : wp;
    (void)t;
    for (gn_int r = lo; r < hi; r++) {
        const gn_int s = r / J->hp, sy = r % J->hp - J->top;
        T *row = J->out + r * wp * cp;
        if (sy < 0 || sy >= h || x1 <= x0) {
            memset(row, 0, sizeof(T) * (size_t)(wp * cp));
            continue;
        }
        if (x0 > 0) memset(row, 0, sizeof(T) * (size_t)(x0 * cp));
        if (x1 < wp) memset(row + x1 * cp, 0, sizeof(T) * (size_t)((wp - x1) * cp));
        if (cp > c)
            for (gn_int xx = x0; xx < x1; xx++)
                for (gn_int ch = c; ch < cp; ch++) row[xx * cp + ch] = 0;
        /* eight channels at a time: eight contiguous rows of x in, runs of eight
         * numbers out (the compiler turns this transpose into shuffles) */
        const T *base = J->x + (s * c * h + sy) * w - left;
        gn_int ch = 0;
        for (; ch + 8 <= c; ch += 8) {
            const T *src = base + ch * h * w;
            T *dst = row + ch;
            for (gn_int xx = x0; xx < x1; xx++)
                _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)
                    dst[xx * cp + k] = src[k * h * w + xx];
        }
        for (; ch < c; ch++) {
            const T *src = base + ch * h * w;
            T *dst = row + ch;
            for (gn_int xx = x0; xx < x1; xx++) dst[xx * cp] = src[xx];
        }
    }
}

void GN_N(gn_direct_pack)(const T *x, T *out, gn_int n, gn_int c, gn_int h, gn_int w,
                          gn_int hp, gn_int wp, gn_int cp, gn_int top, gn_int left,
                          gn_int threads) {
    const GN_N(gn_pack_job) job = {x, out, c, h, w, hp, wp, cp, top, left};
    gn_parallel(GN_N(gn_pack_rows), &job, n * hp, (int)threads);
}

/* --- forward (and input gradient): JB positions x OB channel vectors --------- */
typedef struct {
    const T *xp, *wt, *bias;
    T *out;
    gn_int hp, wp, c, oh, ow, o, opad, kh, kw, sh, sw;
} GN_N(gn_fwd_job);

/* tile[jj·OB·V + k] = init[k] + Σ_a Σ_r x[a·xrow + jj·xs + r] · w[a·wrow + r·ldw + k]
 * for jj < JB, k < OB·V. */
GN_INLINE void GN_N(gn_fwd_tile)(const T *x, gn_int xs, gn_int xrow, const T *w,
                                 gn_int ldw, gn_int wrow, gn_int rows, gn_int nr,
                                 const T *init, T *tile, const int JB, const int OB) {
    VT acc[GN_JB1 > GN_JB2 ? GN_JB1 : GN_JB2][2], start[2];
    _Pragma("GCC unroll 2") for (int ob = 0; ob < OB; ob++) start[ob] =
        init ? GN_N(gn_ld)(init + ob * GN_V) : GN_SPLAT(0);
    _Pragma("GCC unroll 16") for (int jj = 0; jj < JB; jj++)
        _Pragma("GCC unroll 2") for (int ob = 0; ob < OB; ob++) acc[jj][ob] = start[ob];
    for (gn_int a = 0; a < rows; a++) {
        const T *xa = x + a * xrow, *wa = w + a * wrow;
        for (gn_int r = 0; r < nr; r++) {
            VT wv[2];
            _Pragma("GCC unroll 2") for (int ob = 0; ob < OB; ob++) wv[ob] =
                GN_N(gn_ld)(wa + r * ldw + ob * GN_V);
            _Pragma("GCC unroll 16") for (int jj = 0; jj < JB; jj++) {
                const VT s = GN_SPLAT(xa[jj * xs + r]);
                _Pragma("GCC unroll 2") for (int ob = 0; ob < OB; ob++) acc[jj][ob] =
                    GN_FMA(s, wv[ob], acc[jj][ob]);
            }
        }
    }
    _Pragma("GCC unroll 16") for (int jj = 0; jj < JB; jj++)
        _Pragma("GCC unroll 2") for (int ob = 0; ob < OB; ob++)
            GN_N(gn_st)(tile + (jj * OB + ob) * GN_V, acc[jj][ob]);
}

#define GN_FWD_ARGS x, xs, xrow, w, ldw, wrow, rows, nr, init, tile
#define GN_F1(J) case J: GN_N(gn_fwd_tile)(GN_FWD_ARGS, J, 1); break;
#define GN_F2(J) case J: GN_N(gn_fwd_tile)(GN_FWD_ARGS, J, 2); break;

static void GN_N(gn_fwd_block)(const T *x, gn_int xs, gn_int xrow, const T *w,
                               gn_int ldw, gn_int wrow, gn_int rows, gn_int nr,
                               const T *init, T *tile, int jb, int ob) {
    if (ob == 1) switch (jb) {
        GN_F1(1) GN_F1(2) GN_F1(3) GN_F1(4)
#if GN_JB1 > 4
        GN_F1(5) GN_F1(6) GN_F1(7) GN_F1(8) GN_F1(9) GN_F1(10) GN_F1(11) GN_F1(12)
#endif
#if GN_JB1 > 12
        GN_F1(13) GN_F1(14) GN_F1(15) GN_F1(16)
#endif
        default: break;
        }
    else switch (jb) {
        GN_F2(1) GN_F2(2)
#if GN_JB2 > 2
        GN_F2(3) GN_F2(4) GN_F2(5) GN_F2(6)
#endif
#if GN_JB2 > 6
        GN_F2(7) GN_F2(8) GN_F2(9) GN_F2(10) GN_F2(11) GN_F2(12) GN_F2(13) GN_F2(14)
#endif
        default: break;
        }
}

static void GN_N(gn_fwd_rows)(const void *arg, gn_int lo, gn_int hi, int t) {
    const GN_N(gn_fwd_job) *J = (const GN_N(gn_fwd_job) *)arg;
    (void)t;
    T tile[(GN_JB1 > 2 * GN_JB2 ? GN_JB1 : 2 * GN_JB2) * GN_V];
    const gn_int nr = J->kw * J->c, xrow = J->wp * J->c, wrow = nr * J->opad;
    for (gn_int row = lo; row < hi; row++) {
        const gn_int s = row / J->oh, i = row % J->oh;
        const T *xrow0 = J->xp + (s * J->hp + i * J->sh) * xrow;
        for (gn_int o0 = 0; o0 < J->opad; o0 += 2 * GN_V) {
            const int ob = J->opad - o0 >= 2 * GN_V ? 2 : 1;
            const gn_int most = ob == 2 ? GN_JB2 : GN_JB1;
            const gn_int blocks = (J->ow + most - 1) / most;
            const gn_int width = J->o - o0 < ob * GN_V ? J->o - o0 : ob * GN_V;
            for (gn_int blk = 0; blk < blocks; blk++) {
                const gn_int j0 = blk * J->ow / blocks, j1 = (blk + 1) * J->ow / blocks;
                const int jb = (int)(j1 - j0);
                GN_N(gn_fwd_block)(xrow0 + j0 * J->sw * J->c, J->sw * J->c, xrow,
                                   J->wt + o0, J->opad, wrow, J->kh, nr,
                                   J->bias ? J->bias + o0 : 0, tile, jb, ob);
                /* the block into the NCHW output, channel by channel */
                for (gn_int k = 0; k < width; k++) {
                    T *dst = J->out + ((s * J->o + o0 + k) * J->oh + i) * J->ow + j0;
                    for (int jj = 0; jj < jb; jj++) dst[jj] = tile[jj * ob * GN_V + k];
                }
            }
        }
    }
}

/* out (n, o, oh, ow) = bias + the convolution of xp (n, hp, wp, c) with wt
 * (kh, kw·c, opad); bias (opad) may be NULL. */
void GN_N(gn_direct_fwd)(const T *xp, const T *wt, const T *bias, T *out, gn_int n,
                         gn_int hp, gn_int wp, gn_int c, gn_int oh, gn_int ow, gn_int o,
                         gn_int opad, gn_int kh, gn_int kw, gn_int sh, gn_int sw,
                         gn_int threads) {
    const GN_N(gn_fwd_job) job = {xp, wt, bias, out, hp, wp, c, oh, ow, o, opad,
                                  kh, kw, sh, sw};
    gn_parallel(GN_N(gn_fwd_rows), &job, n * oh, (int)threads);
}

/* --- filter gradient: RB run entries x OB channel vectors -------------------- */
typedef struct {
    const T *xp, *g;
    T *dwt, *db, **bufs;
    gn_int hp, wp, c, oh, ow, gh, gw, opad, kh, kw, sh, sw;
} GN_N(gn_wg_job);

/* d[rr·ldd + k] += Σ over rows lo..hi and j < ow of
 *   xp[row's input row + a, j·sw, r0 + rr] · g[row, j, o0 + k]   (rr < RB, k < OB·V) */
GN_INLINE void GN_N(gn_wg_tile)(const GN_N(gn_wg_job) * J, gn_int lo, gn_int hi,
                                gn_int a, gn_int r0, gn_int o0, T *d, const int RB,
                                const int OB) {
    VT acc[GN_JB1 > GN_JB2 ? GN_JB1 : GN_JB2][2];
    const gn_int ldd = J->opad, xs = J->sw * J->c;
    _Pragma("GCC unroll 16") for (int rr = 0; rr < RB; rr++)
        _Pragma("GCC unroll 2") for (int ob = 0; ob < OB; ob++) acc[rr][ob] =
            GN_N(gn_ld)(d + rr * ldd + ob * GN_V);
    for (gn_int row = lo; row < hi; row++) {
        const gn_int s = row / J->oh, i = row % J->oh;
        const T *xr = J->xp + ((s * J->hp + i * J->sh + a) * J->wp) * J->c + r0;
        const T *gr = J->g + (s * J->gh + i) * J->gw * J->opad + o0;
        for (gn_int j = 0; j < J->ow; j++) {
            VT gv[2];
            _Pragma("GCC unroll 2") for (int ob = 0; ob < OB; ob++) gv[ob] =
                GN_N(gn_ld)(gr + j * J->opad + ob * GN_V);
            _Pragma("GCC unroll 16") for (int rr = 0; rr < RB; rr++) {
                const VT s = GN_SPLAT(xr[j * xs + rr]);
                _Pragma("GCC unroll 2") for (int ob = 0; ob < OB; ob++) acc[rr][ob] =
                    GN_FMA(s, gv[ob], acc[rr][ob]);
            }
        }
    }
    _Pragma("GCC unroll 16") for (int rr = 0; rr < RB; rr++)
        _Pragma("GCC unroll 2") for (int ob = 0; ob < OB; ob++)
            GN_N(gn_st)(d + rr * ldd + ob * GN_V, acc[rr][ob]);
}

#define GN_WG_ARGS J, lo, hi, a, r0, o0, d
#define GN_W1(R) case R: GN_N(gn_wg_tile)(GN_WG_ARGS, R, 1); break;
#define GN_W2(R) case R: GN_N(gn_wg_tile)(GN_WG_ARGS, R, 2); break;

static void GN_N(gn_wg_block)(const GN_N(gn_wg_job) * J, gn_int lo, gn_int hi, gn_int a,
                              gn_int r0, gn_int o0, T *d, int rb, int ob) {
    if (ob == 1) switch (rb) {
        GN_W1(1) GN_W1(2) GN_W1(3) GN_W1(4)
#if GN_JB1 > 4
        GN_W1(5) GN_W1(6) GN_W1(7) GN_W1(8) GN_W1(9) GN_W1(10) GN_W1(11) GN_W1(12)
#endif
#if GN_JB1 > 12
        GN_W1(13) GN_W1(14) GN_W1(15) GN_W1(16)
#endif
        default: break;
        }
    else switch (rb) {
        GN_W2(1) GN_W2(2)
#if GN_JB2 > 2
        GN_W2(3) GN_W2(4) GN_W2(5) GN_W2(6)
#endif
#if GN_JB2 > 6
        GN_W2(7) GN_W2(8) GN_W2(9) GN_W2(10) GN_W2(11) GN_W2(12) GN_W2(13) GN_W2(14)
#endif
        default: break;
        }
}

/* Rows per pass over the filter gradient's blocks: the inputs and gradients of
 * this many output rows stay in the cache while every block runs over them. */
#define GN_WG_ROWS 32

static void GN_N(gn_wg_rows)(const void *arg, gn_int lo, gn_int hi, int t) {
    const GN_N(gn_wg_job) *J = (const GN_N(gn_wg_job) *)arg;
    T *d = t == 0 ? J->dwt : J->bufs[t];
    const gn_int nr = J->kw * J->c, size = J->kh * nr * J->opad;
    T *db = !J->db ? 0 : t == 0 ? J->db : J->bufs[t] + size; /* this thread's Σ g */
    memset(d, 0, sizeof(T) * (size_t)size);
    if (db) memset(db, 0, sizeof(T) * (size_t)J->opad);
    for (gn_int r_lo = lo; r_lo < hi; r_lo += GN_WG_ROWS) {
        const gn_int r_hi = hi - r_lo < GN_WG_ROWS ? hi : r_lo + GN_WG_ROWS;
        if (db) /* the bias gradient: these rows' g, while they are in the cache */
            for (gn_int k = 0; k < J->opad; k += GN_V) {
                VT acc = GN_N(gn_ld)(db + k);
                for (gn_int row = r_lo; row < r_hi; row++) {
                    const gn_int s = row / J->oh, i = row % J->oh;
                    const T *gr = J->g + (s * J->gh + i) * J->gw * J->opad + k;
                    for (gn_int j = 0; j < J->ow; j++) acc += GN_N(gn_ld)(gr + j * J->opad);
                }
                GN_N(gn_st)(db + k, acc);
            }
        for (gn_int a = 0; a < J->kh; a++)
            for (gn_int o0 = 0; o0 < J->opad; o0 += 2 * GN_V) {
                const int ob = J->opad - o0 >= 2 * GN_V ? 2 : 1;
                const gn_int most = ob == 2 ? GN_JB2 : GN_JB1;
                const gn_int blocks = (nr + most - 1) / most;
                for (gn_int blk = 0; blk < blocks; blk++) {
                    const gn_int q0 = blk * nr / blocks, q1 = (blk + 1) * nr / blocks;
                    GN_N(gn_wg_block)(J, r_lo, r_hi, a, q0, o0,
                                      d + (a * nr + q0) * J->opad + o0, (int)(q1 - q0), ob);
                }
            }
    }
}

/* dwt (kh, kw·c, opad) = Σ over output positions of xp's window · g, with xp
 * (n, hp, wp, c) and g channels-last: g[s, i, j, :] at g + ((s·gh + i)·gw + j)·opad
 * (an (n, oh, ow, opad) array, or the inside of a padded one); db (opad), unless
 * NULL, = Σ over output positions of g (the bias gradient), summed as dwt is. */
void GN_N(gn_direct_wgrad)(const T *xp, const T *g, T *dwt, T *db, gn_int n, gn_int hp,
                           gn_int wp, gn_int c, gn_int oh, gn_int ow, gn_int gh,
                           gn_int gw, gn_int opad,
                           gn_int kh, gn_int kw, gn_int sh, gn_int sw, gn_int threads) {
    const gn_int rows = n * oh, size = kh * kw * c * opad;
    int parts = (int)(threads < rows ? threads : rows);
    if (parts > GN_MAX_THREADS) parts = GN_MAX_THREADS;
    if (parts < 1) parts = 1;
    T *bufs[GN_MAX_THREADS] = {0};
    for (int t = 1; t < parts; t++) {
        bufs[t] = (T *)malloc(sizeof(T) * (size_t)(size + opad)); /* dwt, db */
        if (!bufs[t]) { /* no memory for another sum: fewer threads */
            parts = t;
            break;
        }
    }
    const GN_N(gn_wg_job) job = {xp, g, dwt, db, bufs, hp, wp, c, oh, ow, gh, gw,
                                 opad, kh, kw, sh, sw};
    if (rows == 0) memset(dwt, 0, sizeof(T) * (size_t)size);
    if (rows == 0 && db) memset(db, 0, sizeof(T) * (size_t)opad);
    gn_parallel(GN_N(gn_wg_rows), &job, rows, parts);
    for (int t = 1; t < parts; t++) {
        for (gn_int k = 0; k < size; k++) dwt[k] += bufs[t][k];
        if (db)
            for (gn_int k = 0; k < opad; k++) db[k] += bufs[t][size + k];
        free(bufs[t]);
    }
}

#undef GN_V
#undef GN_N
#undef GN_CAT
#undef GN_CAT2
#undef GN_FWD_ARGS
#undef GN_F1
#undef GN_F2
#undef GN_WG_ARGS
#undef GN_W1
#undef GN_W2
