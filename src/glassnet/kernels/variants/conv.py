"""The convolution's fast layouts: variants of :mod:`glassnet.kernels.conv`.

The same patch matrix is built by one copy of a strided view of the input
-- no Python loop over pixels -- and multiplied by BLAS::

    filters (O, C·fh·fw)  @  patches (C·fh·fw, samples·positions)

Two refinements, both measured on the LeNet-sized benchmark
(``benchmarks/w3_lenet.py``):

* A batch whose patch matrix would exceed :data:`CHUNK_BYTES` (32 MB) is
  split into chunks of samples, one product each, to bound memory; the
  benchmark's layers (under 6 MB of patches each) run as one chunk per
  call. Smaller chunks keep the patches in the CPU cache and are faster
  with one BLAS thread (about 9% per training step at 4 MB), but slower
  with two (more, smaller products to share out); the default follows the
  two-thread measurement. Temporaries are reused from call to call
  (:func:`glassnet.kernels._buffers.scratch`): fresh multi-megabyte arrays
  cost page faults.
* With stride 1 (:func:`conv2d_wide`) the images of a chunk are laid side
  by side in one wide zero-padded picture, so every row of the patch matrix
  is a single contiguous run of that picture (see ``_Plan``): copies,
  products and the way back all work on long contiguous rows. Where a
  filter row holds at least :data:`STACK_DEPTH` weights per output channel
  (C·fw), the full patch matrix is not built: the picture is copied fw
  times, each copy shifted one pixel further (``_Plan.stacked``), and each
  filter row is one product with a window of those copies -- fw copies
  instead of fh·fw. The filter rows' products are summed into one output
  by the optional compiled GEMM of ``_native/conv.c``, which adds into its
  output (NumPy needs a temporary and an addition). When a filter gradient
  is wanted the copies are kept from forward for backward (``_Kept``).

Other strides (:func:`conv2d_compact`): the padded batch is viewed as its
windows and copied into the patch matrix, a chunk at a time.
"""

from __future__ import annotations

import threading
from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .. import native, variant
from .._buffers import KEEP_BYTES, c_array, rows, scratch
from ..conv import conv2d_backward, conv_output_size

__all__ = ["CHUNK_BYTES", "STACK_DEPTH"]


# --- the fast layouts ----------------------------------------------------------------

#: Largest patch matrix built at once; bigger batches go through in chunks
#: of samples (see the module docstring for the measurements behind it).
CHUNK_BYTES = 32 << 20

#: Wide layout: filter rows are multiplied one product each when a filter
#: row holds at least this many weights per feature (in_ch·kw), else all at
#: once (a product this shallow runs far below BLAS speed).
STACK_DEPTH = 64


class _Plan:
    """The geometry of one convolution call, and how its patches are laid out.

    The batch is processed in chunks of ``chunk`` samples (usually one chunk:
    the whole batch). For the samples ``lo:hi`` of a chunk the patches form
    a matrix (in_ch·kh·kw, positions) and the layer's work on them is one
    matrix product -- or, in the wide layout, one per group of ``rows``
    filter rows (see :meth:`stacked`).

    Stride 1 ("wide" layout): the chunk's images are set side by side in one
    wide zero-padded picture, ``gap`` zero columns between neighbours, so
    with ``pitch`` = its width, the output position (i, t) sits at i·pitch
    + t and every row of the patch matrix is ONE contiguous run of the wide
    picture, shifted by the filter offset: building the patches, adding
    their gradients back, and the products all work on long contiguous
    rows. The few positions whose window straddles two images (kw - 1 -
    pad per image row) are computed and thrown away.

    Other strides ("compact" layout): the padded batch is viewed as its
    windows and copied into (in_ch·kh·kw, m·oh·ow).
    """

    def __init__(self, x_shape, w_shape, stride, pads, dtype, wide=True):
        self.n, self.c, self.h, self.w = x_shape
        self.o, _, self.kh, self.kw = w_shape
        self.sh, self.sw = stride
        (self.pt, self.pb), (self.pl, self.pr) = pads
        self.hp, self.wp = self.h + self.pt + self.pb, self.w + self.pl + self.pr
        self.oh = conv_output_size(self.h, self.kh, self.sh, self.pt, self.pb)
        self.ow = conv_output_size(self.w, self.kw, self.sw, self.pl, self.pr)
        self.ck = self.c * self.kh * self.kw
        self.dtype = dtype
        self.wide = wide and self.sh == 1 and self.sw == 1
        # Zero columns between neighbouring images: at least each side's padding,
        # and enough that one image's ow output positions end before the next
        # image's begin (ow <= w + gap). A side padded by kw or more has output
        # positions whose window is all padding; with a narrower gap two images'
        # such positions would share a column of the product, and backward
        # (which writes g into those columns) would keep only one image's g.
        self.gap = max(self.pl, self.pr, self.ow - self.w)
        # wide layout: filter rows stacked per product (see ``stacked``)
        self.rows = 1 if self.c * self.kw >= STACK_DEPTH else self.kh
        self.groups = self.kh // self.rows
        # bytes per sample of what one chunk builds: the stacked copies (their
        # length is ``stacked``'s, about oh + kh - rows picture rows) or patches
        depth = self.rows * self.kw * self.c if self.wide else self.ck
        per_sample = (
            (self.oh + self.kh - self.rows) * (self.w + self.gap)
            if self.wide
            else self.oh * self.ow
        )
        self.chunk = max(
            1, min(self.n, CHUNK_BYTES // max(depth * per_sample * dtype.itemsize, 1))
        )

    def chunks(self):
        for lo in range(0, self.n, self.chunk):
            yield lo, min(lo + self.chunk, self.n)

    # --- layout of one chunk ----------------------------------------------------
    def _wide(self, m):
        """(pitch, run): the wide picture's width, and the positions computed."""
        pitch = self.gap + m * (self.w + self.gap)
        run = (self.oh - 1) * pitch + m * (self.w + self.gap) + self.pr - self.kw + 1
        return pitch, run

    def columns(self, m) -> int:
        return self._wide(m)[1] if self.wide else m * self.oh * self.ow

    def positions(self, rows: np.ndarray, m: int) -> np.ndarray:
        """The (m, out_ch, oh, ow) output positions in an (out_ch, columns) matrix."""
        it = rows.itemsize
        if not self.wide:
            return as_strided(
                rows,
                (m, self.o, self.oh, self.ow),
                (self.oh * self.ow * it, rows.strides[0], self.ow * it, it),
            )
        pitch, _ = self._wide(m)
        first = rows[:, self.gap - self.pl :]
        return as_strided(
            first,
            (m, self.o, self.oh, self.ow),
            ((self.w + self.gap) * it, rows.strides[0], pitch * it, it),
        )

    def picture(self, x, lo, hi) -> np.ndarray:
        """Samples lo:hi as one wide zero-padded picture (in_ch, hp, pitch): scratch."""
        m = hi - lo
        pitch, _ = self._wide(m)
        pic = scratch("picture", (self.c, self.hp, pitch), self.dtype, zero=True)
        body = pic[:, self.pt : self.pt + self.h, self.gap :]
        body = body.reshape(self.c, self.h, m, self.w + self.gap)[..., : self.w]
        np.copyto(body, x[lo:hi].transpose(1, 2, 0, 3))
        return pic

    def stacked(self, x, lo, hi, out=None) -> np.ndarray:
        """Wide layout: the filter rows' shifted copies of samples lo:hi's picture.

        Row (a, b, ch) of this (rows·kw·in_ch, length) matrix is channel ch
        of the wide picture shifted by a·pitch + b (a < ``rows``). Columns
        g·rows·pitch .. + run of it are then the patch rows of filter rows
        g·rows .. (g+1)·rows - 1, so each group of filter rows is one
        product with a column window of this matrix, no copy: with ``rows``
        = 1 it is kw times the picture, not kh·kw times (the patch matrix).
        ``out``: where to put it (else a scratch array).
        """
        m, c, kw, a_rows = hi - lo, self.c, self.kw, self.rows
        pic = self.picture(x, lo, hi)
        pitch, run = self._wide(m)
        length = run + (self.kh - a_rows) * pitch
        it = pic.itemsize
        view = as_strided(
            pic, (a_rows, kw, c, length), (pitch * it, it, pic.strides[0], it)
        )
        if out is None:
            out = scratch("patches", view.shape, self.dtype)
        out = out.reshape(view.shape)
        np.copyto(out, view)
        return out.reshape(a_rows * kw * c, length)

    def stacked_size(self, m) -> int:
        pitch, run = self._wide(m)
        return self.rows * self.kw * self.c * (run + (self.kh - self.rows) * pitch)

    def group_weights(self, w4) -> np.ndarray:
        """OIHW weights as (groups, out_ch, rows·kw·in_ch), in ``stacked``'s order."""
        o, c, g, r, kw = self.o, self.c, self.groups, self.rows, self.kw
        return c_array(w4.reshape(o, c, g, r, kw).transpose(2, 0, 3, 4, 1)).reshape(
            g, o, r * kw * c
        )

    def group_window(self, stacked, group, m) -> np.ndarray:
        """The columns of ``stacked`` that filter-row group ``group`` multiplies."""
        pitch, run = self._wide(m)
        start = group * self.rows * pitch
        return stacked[:, start : start + run]

    def patches(self, x, lo, hi) -> np.ndarray:
        """Compact layout: the patch matrix of samples lo:hi (in_ch·kh·kw, columns).

        ``x`` is the padded input; the result is a scratch array.
        """
        kh, kw = self.kh, self.kw
        windows = sliding_window_view(x[lo:hi], (kh, kw), axis=(2, 3))
        view = windows[:, :, :: self.sh, :: self.sw].transpose(1, 4, 5, 0, 2, 3)
        cols = scratch("patches", view.shape, self.dtype)
        np.copyto(cols, view)
        return cols.reshape(self.ck, -1)

    def gradrows(self, g, lo, hi) -> np.ndarray:
        """g of samples lo:hi laid out like the product, zero at discarded positions."""
        m = hi - lo
        g2 = scratch("g_rows", (self.o, self.columns(m)), self.dtype, zero=self.wide)
        np.copyto(self.positions(g2, m), g[lo:hi])
        return g2

    def input_grad(self, w, g, dx, lo, hi, guarded=None) -> None:
        """Write (wide) or add (compact, into the padded ``dx``) d(loss)/d(input).

        Wide layout: ``guarded`` is :meth:`guarded_grad`'s array.

        Each patch's gradient is Wᵀ g, and it belongs on the pixels the
        patch was copied from (col2im). The compact layout does exactly
        that, one filter offset at a time. The wide layout folds the kw
        offsets of each filter row into the product instead: g is stacked
        kw times, shifted by 0..kw-1 positions, so one product gives what
        each filter row a sends back, and only kh shifted additions remain
        (instead of kh·kw, and on a kw times smaller matrix).
        """
        m, c, o, kh, kw = hi - lo, self.c, self.o, self.kh, self.kw
        if not self.wide:
            g2 = self.gradrows(g, lo, hi)
            d6 = (w.reshape(o, self.ck).T @ g2).reshape(c, kh, kw, m, self.oh, self.ow)
            rows, cols = self.sh * (self.oh - 1) + 1, self.sw * (self.ow - 1) + 1
            for a in range(kh):
                for b in range(kw):
                    dx[lo:hi, :, a : a + rows : self.sh, b : b + cols : self.sw] += d6[
                        :, a, b
                    ].transpose(1, 0, 2, 3)
            return
        pitch, run = self._wide(m)
        span = run + kw - 1
        it = np.dtype(self.dtype).itemsize
        inner = guarded[:, kw - 1 :]
        # shifted[b, o, s] = g at position s - b (zero outside the computed run)
        view = as_strided(inner, (kw, o, span), (-it, guarded.strides[0], it))
        shifted = scratch("g_shifted", view.shape, self.dtype)
        np.copyto(shifted, view)
        w_rows = np.ascontiguousarray(w.transpose(2, 1, 3, 0)).reshape(kh * c, kw * o)
        back = scratch("back", (kh, c, span), self.dtype)
        np.matmul(w_rows, shifted.reshape(kw * o, span), out=back.reshape(kh * c, span))
        pic = scratch("picture_grad", (c, self.hp * pitch), self.dtype, zero=True)
        for a in range(kh):
            pic[:, a * pitch : a * pitch + span] += back[a]
        body = pic.reshape(c, self.hp, pitch)[:, self.pt : self.pt + self.h, self.gap :]
        body = body.reshape(c, self.h, m, self.w + self.gap)[..., : self.w]
        np.copyto(dx[lo:hi], body.transpose(2, 0, 1, 3))

    def guarded_grad(self, g, lo, hi) -> np.ndarray:
        """Wide layout: g of samples lo:hi as (out_ch, run + 2·(kw - 1)), in scratch.

        Columns kw - 1 .. kw - 1 + run are g laid out like the product (zero
        at the discarded positions), with kw - 1 zero columns on either side
        for :meth:`input_grad`, which shifts g by up to kw - 1 positions.
        """
        m, kw = hi - lo, self.kw
        pitch, run = self._wide(m)
        guard = _compiled_layout("guard", self.dtype)
        shape = (self.o, run + 2 * (kw - 1))
        if guard is None:
            guarded = scratch("g_guarded", shape, self.dtype, zero=True)
            np.copyto(self.positions(guarded[:, kw - 1 :], m), g[lo:hi])
            return guarded
        guarded = scratch(
            "g_guarded", shape, self.dtype
        )  # the C function writes every column
        gc = c_array(g[lo:hi], self.dtype)
        guard(
            _ptr(gc),
            _ptr(guarded),
            rows(guarded),
            shape[1],
            kw - 1,
            m,
            self.o,
            self.oh,
            self.ow,
            self.gap - self.pl,
            self.w + self.gap,
            pitch,
        )
        return guarded


# --- products and layout copies, through compiled code when it builds -------------


def _compiled_gemm(dtype):
    """``_native/conv.c``'s product that can add into its output, or None (NumPy)."""
    return native("gn_conv_gemm", np.dtype(dtype))


def _compiled_layout(name: str, dtype):
    """``_native/conv.c``'s copy into (``unwide``) or out of (``guard``) the wide
    layout, or None (NumPy's strided copy)."""
    return native(f"gn_conv_{name}", np.dtype(dtype))


def _ptr(a):
    return a.ctypes.data


def _sum_of_products(gemm, weights, windows, out) -> None:
    """out = Σ_g weights[g] @ windows[g]: one convolution's filter-row groups.

    The compiled GEMM adds each product straight into ``out``; NumPy
    writes each into a temporary and adds it.
    """
    if gemm is not None:
        m, n = out.shape
        for i, (wg, win) in enumerate(zip(weights, windows)):
            gemm(
                0,
                0,
                m,
                n,
                wg.shape[1],
                _ptr(wg),
                rows(wg),
                _ptr(win),
                rows(win),
                1.0 if i else 0.0,
                _ptr(out),
                rows(out),
            )
        return
    np.matmul(weights[0], windows[0], out=out)
    if len(weights) > 1:
        part = scratch("product_part", out.shape, out.dtype)
        for wg, win in zip(weights[1:], windows[1:]):
            np.matmul(wg, win, out=part)
            out += part


class _Kept:
    """A forward pass's stacked patches, lent from a pool until the graph lets go.

    The stacked patches are what the weight gradient multiplies; keeping them
    from the forward pass saves building them again in backward. They are
    several megabytes, and a fresh array that size costs page faults every
    step, so the array goes back to a small pool when the last reference to
    it (the graph's backward closure) disappears -- after backward, or when
    an unused graph is dropped -- and the next forward pass of the same size
    takes it from there. Nothing else ever holds the array, so a graph that
    is still alive (two forward passes before their backwards) never sees
    its array lent to another. The pool keeps at most two arrays per size
    and ``KEEP_BYTES`` in all, like :func:`scratch`.
    """

    _pool: ClassVar[dict] = {}
    # re-entrant: a garbage collection that frees a graph may run __del__ in
    # this thread while __init__ holds the lock
    _lock = threading.RLock()
    __slots__ = ("array",)

    def __init__(self, size: int, dtype):
        key = (size, np.dtype(dtype).str)
        with self._lock:
            free = self._pool.get(key)
            array = free.pop() if free else None
        self.array = np.empty(size, dtype) if array is None else array

    def __del__(self):
        try:
            array = self.array
            key = (array.size, array.dtype.str)
            with self._lock:
                held = sum(a.nbytes for free in self._pool.values() for a in free)
                room = held + array.nbytes <= KEEP_BYTES
                if room and len(self._pool.get(key, ())) < 2:
                    self._pool.setdefault(key, []).append(array)
        except Exception:  # noqa: BLE001, S110  interpreter shutdown: nothing to return
            pass


def _forward(x, w, b, stride, pads, keep=False, wide=True):
    """Convolve NCHW ``x`` with OIHW ``w``; return the output and what backward needs.

    ``keep``: a weight gradient will be wanted, so keep the stacked patches
    (wide layout, batch in one chunk) for backward instead of rebuilding them.
    """
    dtype = np.result_type(x.dtype, w.dtype)
    plan = _Plan(x.shape, w.shape, stride, pads, dtype, wide)
    bias = None if b is None else b.astype(dtype, copy=False).reshape(1, plan.o, 1, 1)
    out = np.empty((plan.n, plan.o, plan.oh, plan.ow), dtype)
    kept = None
    if plan.wide:
        src = x  # each chunk is padded while it is laid out
        w4 = np.asarray(w, dtype)
        weights = plan.group_weights(w4)
        gemm = _compiled_gemm(dtype)
        # only a batch that is one chunk, and never a single sample too big for it
        keep = (
            keep
            and plan.chunk == plan.n
            and (plan.stacked_size(plan.n) * dtype.itemsize <= CHUNK_BYTES)
        )
    else:
        src = _padded(x, plan)
        w2 = np.ascontiguousarray(w.reshape(plan.o, plan.ck), dtype=dtype)
    for lo, hi in plan.chunks():
        m = hi - lo
        if plan.wide:
            if keep:
                kept = _Kept(plan.stacked_size(m), dtype)
            stacked = plan.stacked(src, lo, hi, None if kept is None else kept.array)
            prod = scratch("product", (plan.o, plan.columns(m)), dtype)
            # every feature against every patch: one product per group of filter rows
            _sum_of_products(
                gemm,
                weights,
                [plan.group_window(stacked, k, m) for k in range(plan.groups)],
                prod,
            )
        else:
            cols = plan.patches(src, lo, hi)
            prod = scratch("product", (plan.o, cols.shape[1]), dtype)
            np.matmul(
                w2, cols, out=prod
            )  # every feature against every patch: one product
        unwide = _compiled_layout("unwide", dtype) if plan.wide else None
        if unwide is not None:  # the same copy (and additions) row by row in C
            bias_c = None if bias is None else c_array(bias.reshape(-1))
            unwide(
                _ptr(prod),
                rows(prod),
                _ptr(out[lo:hi]),
                None if bias_c is None else _ptr(bias_c),
                m,
                plan.o,
                plan.oh,
                plan.ow,
                plan.gap - plan.pl,
                plan.w + plan.gap,
                plan._wide(m)[0],
            )
            continue
        valid = plan.positions(prod, m)
        if bias is None:
            np.copyto(out[lo:hi], valid)
        else:
            np.add(valid, bias, out=out[lo:hi])
    return out, (plan, src, w4 if plan.wide else w2, kept)


def _backward(g, saved, need_x, need_w, need_b):
    """d(loss)/d(input, weight, bias) from g = d(loss)/d(output).

    The patches are those kept by the forward pass, or rebuilt chunk by chunk.
    """
    plan, src, w_saved, kept = saved
    if not plan.wide:
        return _backward_compact(g, plan, src, w_saved, need_x, need_w, need_b)
    dtype = plan.dtype
    g = g.astype(dtype, copy=False)
    o, kw, depth = plan.o, plan.kw, plan.rows * plan.kw * plan.c
    gemm = _compiled_gemm(dtype) if need_w else None
    dwg = (
        np.zeros((plan.groups, o, depth), dtype) if need_w else None
    )  # 0 if no samples
    db = np.zeros(o, dtype) if need_b else None
    dx = np.empty(src.shape, dtype) if need_x else None
    for lo, hi in plan.chunks():
        m = hi - lo
        run = plan.columns(m)
        guarded = plan.guarded_grad(g, lo, hi)
        g_rows = guarded[:, kw - 1 : kw - 1 + run]  # g laid out like the product
        if need_w:
            # weights → the patches: one product per group of filter rows
            if kept is not None:
                stacked = kept.array.reshape(depth, -1)
            else:
                stacked = plan.stacked(src, lo, hi)
            for k in range(plan.groups):
                window = plan.group_window(stacked, k, m)
                if gemm is not None:
                    gemm(
                        0,
                        1,
                        o,
                        depth,
                        run,
                        _ptr(g_rows),
                        rows(g_rows),
                        _ptr(window),
                        rows(window),
                        1.0 if lo else 0.0,
                        _ptr(dwg[k]),
                        depth,
                    )
                elif lo == 0:
                    np.matmul(g_rows, window.T, out=dwg[k])
                else:
                    dwg[k] += g_rows @ window.T
        if need_b:
            db += g_rows.sum(axis=1)  # bias → 1 (the discarded positions hold 0)
        if need_x:
            plan.input_grad(w_saved, g, dx, lo, hi, guarded)  # input → the weights
    dw = None
    if need_w:
        dw = dwg.reshape(plan.groups, o, plan.rows, kw, plan.c).transpose(1, 4, 0, 2, 3)
        dw = dw.reshape(o, plan.ck)
    return dx, dw, db


def _backward_compact(g, plan, src, w2, need_x, need_w, need_b):
    """:func:`_backward` for strides above 1: the patches are rebuilt chunk by chunk."""
    dtype = plan.dtype
    g = g.astype(dtype, copy=False)
    dw = np.zeros((plan.o, plan.ck), dtype) if need_w else None
    dx = np.zeros(src.shape, dtype) if need_x else None
    w4 = w2.reshape(plan.o, plan.c, plan.kh, plan.kw)
    for lo, hi in plan.chunks():
        if need_w:
            # weights → the patches
            dw += plan.gradrows(g, lo, hi) @ plan.patches(src, lo, hi).T
        if need_x:
            plan.input_grad(w4, g, dx, lo, hi)  # input → the weights
    db = g.sum(axis=(0, 2, 3)) if need_b else None  # bias → 1
    if need_x and dx.shape != (plan.n, plan.c, plan.h, plan.w):
        dx = dx[:, :, plan.pt : plan.pt + plan.h, plan.pl : plan.pl + plan.w]
    return dx, dw, db


def _padded(x, plan) -> np.ndarray:
    """Compact layout: ``x`` with its zero padding, in the plan's dtype."""
    src = np.zeros((plan.n, plan.c, plan.hp, plan.wp), plan.dtype)
    src[:, :, plan.pt : plan.pt + plan.h, plan.pl : plan.pl + plan.w] = x
    return src


def _rebuilt(x, w, stride, pads, wide):
    """What :func:`_forward` hands to :func:`_backward`, without the forward pass."""
    dtype = np.result_type(x.dtype, w.dtype)
    plan = _Plan(x.shape, w.shape, stride, pads, dtype, wide)
    if plan.wide:
        return plan, x, np.asarray(w, dtype), None
    return (
        plan,
        _padded(x, plan),
        np.ascontiguousarray(w.reshape(plan.o, plan.ck), dtype),
        None,
    )


# --- the layouts as variants of the reference ---------------------------------------

# Sums of up to C·fh·fw (forward) or N·oh·ow (filter gradient) products, in
# another order than the reference's: equal to float32 rounding.
_AGREE = {"agreement": "rounding", "rtol": 2e-4, "atol": 2e-4}


def _plain(*args, **kwargs) -> bool:
    """The layouts know no ``dilation`` or ``groups`` (given only when not 1)."""
    return "dilation" not in kwargs and "groups" not in kwargs


def _stride_1(x, filters, bias=None, stride=(1, 1), *args, **kwargs) -> bool:
    return tuple(stride) == (1, 1) and _plain(**kwargs)


def _stride_1_backward(g, x, filters, stride, *args, **kwargs) -> bool:
    return tuple(stride) == (1, 1) and _plain(**kwargs)


def _keeps(saved) -> bool:
    """True when the caller will want the filter gradient (see :func:`conv2d`)."""
    return saved is not None and saved.get("filter_grad", False)


@variant("conv2d", applies=_stride_1, **_AGREE)
def conv2d_wide(
    x, filters, bias=None, stride=(1, 1), pads=((0, 0), (0, 0)), saved=None
):
    """Stride 1: the wide layout (module docstring); keeps its patches in ``saved``."""
    out, state = _forward(x, filters, bias, stride, pads, _keeps(saved), wide=True)
    if saved is not None:
        saved["layout"] = state
    return out


@variant("conv2d", applies=_plain, **_AGREE)
def conv2d_compact(
    x, filters, bias=None, stride=(1, 1), pads=((0, 0), (0, 0)), saved=None
):
    """Any stride: the patch matrix, chunk by chunk, in scratch memory."""
    out, state = _forward(x, filters, bias, stride, pads, wide=False)
    if saved is not None:
        saved["layout"] = state
    return out


def _backward_variant(wide):
    def backward(g, x, filters, stride, pads, need=(True, True, True), saved=None):
        state = None if saved is None else saved.get("layout")
        if state is None or state[0].wide != (wide and tuple(stride) == (1, 1)):
            state = _rebuilt(x, filters, stride, pads, wide)
        dx, dw, db = _backward(g, state, *need)
        return dx, None if dw is None else dw.reshape(filters.shape), db

    layout = "wide" if wide else "compact"
    backward.__name__ = f"conv2d_backward_{layout}"
    backward.__doc__ = f"{conv2d_backward.__name__} in the {layout} layout."
    return backward


conv2d_backward_wide = variant("conv2d_backward", applies=_stride_1_backward, **_AGREE)(
    _backward_variant(True)
)
conv2d_backward_compact = variant("conv2d_backward", applies=_plain, **_AGREE)(
    _backward_variant(False)
)
