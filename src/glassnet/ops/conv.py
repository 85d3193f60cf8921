"""Convolution: one small feature matched against every patch of an image.

A convolution layer slides each of its kernels (the seeds' *features*) over
the input. At each position it multiplies the kernel with the patch under
it, pixel by pixel and channel by channel, and adds the products up, plus a
bias. Like every deep-learning library, the kernel is not flipped (strictly
this is cross-correlation).

How it is made fast
-------------------
Every patch is copied into one column of a *patch matrix* (im2col), so the
layer's work becomes a matrix product done by BLAS::

    weights (out_ch, in_ch·kh·kw)  @  patches (in_ch·kh·kw, samples·positions)

The patch matrix is built by one copy of a strided view of the input -- no
Python loop over pixels. Two refinements, both measured on the LeNet-sized
benchmark (``benchmarks/w3_lenet.py``):

* A batch whose patch matrix would exceed :data:`CHUNK_BYTES` (32 MB) is
  split into chunks of samples, one product each, to bound memory; the
  benchmark's layers (under 6 MB of patches each) run as one chunk per
  call. Smaller chunks keep the patches in the CPU cache and are faster
  with one BLAS thread (about 9% per training step at 4 MB), but slower
  with two (more, smaller products to share out); the default follows the
  two-thread measurement. Temporaries are reused from call to call
  (:func:`scratch`): fresh multi-megabyte arrays cost page faults.
* With stride 1 the images of a chunk are laid side by side in one wide
  zero-padded picture, so every row of the patch matrix is a single
  contiguous run of that picture (see ``_Plan``): copies, products and the
  way back all work on long contiguous rows. Where a kernel row holds at
  least :data:`STACK_DEPTH` weights per feature (in_ch·kw), the full patch
  matrix is not built: the picture is copied kw times, each copy shifted
  one pixel further (``_Plan.stacked``), and each kernel row is one
  product with a window of those copies -- kw copies instead of kh·kw.
  The kernel rows' products are summed into one output by the optional
  compiled GEMM of ``_native/conv.c``, which adds into its output (NumPy
  needs a temporary and an addition). When a weight gradient is wanted
  the copies are kept from forward for backward (``_Kept``).

Local derivatives (g = d(loss)/d(output), laid out like the output):

* weights → the patches:  dW = g @ patchesᵀ
* bias → 1:               db = g summed over batch and positions
* input → the weights:    d(patches) = Wᵀ @ g, and every patch's gradient
  is added back onto the pixels it was copied from (col2im, a loop over
  kernel offsets, not over pixels).

The seed's hand filtering, :func:`match`, lives in :mod:`.conv_match` and is
re-exported here: ``conv2d(image, feature)`` with no bias equals
``feature.size * match(image, feature)``.
"""

from __future__ import annotations

import ctypes
import numbers
import threading
from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .. import _native
from .._validate import shape_str
from ..errors import ConfigError, ShapeError
from ..tensor import Tensor, as_tensor, is_grad_enabled, make_result
from .conv_match import match

__all__ = ["CHUNK_BYTES", "STACK_DEPTH", "conv1d", "conv2d", "conv_output_size", "match",
           "resolve_padding", "scratch", "to_pair"]


# --- geometry -----------------------------------------------------------------

def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def to_pair(where: str, name: str, value, minimum: int = 1) -> tuple:
    """``value`` (an int or a pair of ints, each >= ``minimum``) as a 2-tuple."""
    pair = (value, value) if _is_int(value) else value
    ok = (isinstance(pair, (tuple, list)) and len(pair) == 2
          and all(_is_int(v) and v >= minimum for v in pair))
    if not ok:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ConfigError(
            f"{where}: {name} must be a {kind} integer or a pair of them; got {value!r}."
        )
    return int(pair[0]), int(pair[1])


def check_padding(where: str, padding, ndim: int = 2):
    """Validate ``padding``: 'valid', 'same', or an int / ``ndim`` ints >= 0."""
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ConfigError(
                f"{where}: padding must be 'valid', 'same' or a number of pixels; "
                f"got {padding!r}."
            )
        return padding
    if ndim == 1:
        if not (_is_int(padding) and padding >= 0):
            raise ConfigError(
                f"{where}: padding must be 'valid', 'same' or a non-negative integer; "
                f"got {padding!r}."
            )
        return int(padding)
    return to_pair(where, "padding", padding, minimum=0)


def resolve_padding(padding, kernel: int, stride: int, size: int) -> tuple:
    """Zeros to add (before, after) along one axis.

    'valid' adds none. 'same' adds just enough that the output has
    ``ceil(size / stride)`` positions (``size`` itself for stride 1), the
    odd pixel, if any, going after; an int adds that many on both sides.
    """
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return total // 2, total - total // 2
    return padding, padding


def conv_output_size(size: int, kernel: int, stride: int, before: int, after: int) -> int:
    """Positions along one axis: ``floor((size + before + after - kernel) / stride) + 1``.
    """
    return (size + before + after - kernel) // stride + 1


# --- the fused op, on plain arrays ----------------------------------------------

#: Largest patch matrix built at once; bigger batches go through in chunks
#: of samples (see the module docstring for the measurements behind it).
CHUNK_BYTES = 32 << 20

#: Wide layout: kernel rows are multiplied one product each when a kernel
#: row holds at least this many weights per feature (in_ch·kw), else all at
#: once (a product this shallow runs far below BLAS speed).
STACK_DEPTH = 64

_workspace = threading.local()
_KEEP_BYTES = 2 * CHUNK_BYTES


def scratch(slot: str, shape, dtype, zero: bool = False) -> np.ndarray:
    """A temporary array reused from call to call (one set per thread).

    Fresh multi-megabyte temporaries cost a page fault per 4 KB every time
    they are allocated, which for the slabs here costs as much as the
    arithmetic. A scratch array is only ever used inside one op call and
    never returned; ``zero=True`` clears it first. The workspace holds a
    few megabytes per thread for the life of the process; arrays larger
    than ``_KEEP_BYTES`` (a single huge sample) are not kept.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes > _KEEP_BYTES:
        return (np.zeros if zero else np.empty)(shape, dtype)
    bufs = getattr(_workspace, "bufs", None)
    if bufs is None:
        bufs = _workspace.bufs = {}
    buf = bufs.get(slot)
    if buf is None or buf.size < nbytes:
        buf = bufs[slot] = np.empty(nbytes, np.uint8)
    out = buf[:nbytes].view(dtype).reshape(shape)
    if zero:
        out.fill(0)
    return out


class _Plan:
    """The geometry of one convolution call, and how its patches are laid out.

    The batch is processed in chunks of ``chunk`` samples (usually one chunk:
    the whole batch). For the samples ``lo:hi`` of a chunk the patches form
    a matrix (in_ch·kh·kw, positions) and the layer's work on them is one
    matrix product -- or, in the wide layout, one per group of ``rows``
    kernel rows (see :meth:`stacked`).

    Stride 1 ("wide" layout): the chunk's images are set side by side in one
    wide zero-padded picture, ``gap`` zero columns between neighbours, so
    with ``pitch`` = its width, the output position (i, t) sits at i·pitch
    + t and every row of the patch matrix is ONE contiguous run of the wide
    picture, shifted by the kernel offset: building the patches, adding
    their gradients back, and the products all work on long contiguous
    rows. The few positions whose window straddles two images (kw - 1 -
    pad per image row) are computed and thrown away.

    Other strides ("compact" layout): the padded batch is viewed as its
    windows and copied into (in_ch·kh·kw, m·oh·ow).
    """

    def __init__(self, x_shape, w_shape, stride, pads, dtype):
        self.n, self.c, self.h, self.w = x_shape
        self.o, _, self.kh, self.kw = w_shape
        self.sh, self.sw = stride
        (self.pt, self.pb), (self.pl, self.pr) = pads
        self.hp, self.wp = self.h + self.pt + self.pb, self.w + self.pl + self.pr
        self.oh = conv_output_size(self.h, self.kh, self.sh, self.pt, self.pb)
        self.ow = conv_output_size(self.w, self.kw, self.sw, self.pl, self.pr)
        self.ck = self.c * self.kh * self.kw
        self.dtype = dtype
        self.wide = self.sh == 1 and self.sw == 1
        # Zero columns between neighbouring images: at least each side's padding,
        # and enough that one image's ow output positions end before the next
        # image's begin (ow <= w + gap). A side padded by kw or more has output
        # positions whose window is all padding; with a narrower gap two images'
        # such positions would share a column of the product, and backward
        # (which writes g into those columns) would keep only one image's g.
        self.gap = max(self.pl, self.pr, self.ow - self.w)
        # wide layout: kernel rows stacked per product (see ``stacked``)
        self.rows = 1 if self.c * self.kw >= STACK_DEPTH else self.kh
        self.groups = self.kh // self.rows
        # bytes per sample of what one chunk builds: the stacked copies (their
        # length is ``stacked``'s, about oh + kh - rows picture rows) or patches
        depth = self.rows * self.kw * self.c if self.wide else self.ck
        per_sample = (self.oh + self.kh - self.rows) * (self.w + self.gap) if self.wide \
            else self.oh * self.ow
        self.chunk = max(1, min(self.n, CHUNK_BYTES // max(depth * per_sample
                                                          * dtype.itemsize, 1)))

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
        """The (m, out_ch, oh, ow) output positions inside an (out_ch, columns) matrix."""
        it = rows.itemsize
        if not self.wide:
            return as_strided(rows, (m, self.o, self.oh, self.ow),
                              (self.oh * self.ow * it, rows.strides[0], self.ow * it, it))
        pitch, _ = self._wide(m)
        first = rows[:, self.gap - self.pl:]
        return as_strided(first, (m, self.o, self.oh, self.ow),
                          ((self.w + self.gap) * it, rows.strides[0], pitch * it, it))

    def picture(self, x, lo, hi) -> np.ndarray:
        """Samples lo:hi as one wide zero-padded picture (in_ch, hp, pitch), in scratch."""
        m = hi - lo
        pitch, _ = self._wide(m)
        pic = scratch("picture", (self.c, self.hp, pitch), self.dtype, zero=True)
        body = pic[:, self.pt:self.pt + self.h, self.gap:]
        body = body.reshape(self.c, self.h, m, self.w + self.gap)[..., :self.w]
        np.copyto(body, x[lo:hi].transpose(1, 2, 0, 3))
        return pic

    def stacked(self, x, lo, hi, out=None) -> np.ndarray:
        """Wide layout: the kernel rows' shifted copies of samples lo:hi's picture.

        Row (a, b, ch) of this (rows·kw·in_ch, length) matrix is channel ch
        of the wide picture shifted by a·pitch + b (a < ``rows``). Columns
        g·rows·pitch .. + run of it are then the patch rows of kernel rows
        g·rows .. (g+1)·rows - 1, so each group of kernel rows is one
        product with a column window of this matrix, no copy: with ``rows``
        = 1 it is kw times the picture, not kh·kw times (the patch matrix).
        ``out``: where to put it (else a scratch array).
        """
        m, c, kw, a_rows = hi - lo, self.c, self.kw, self.rows
        pic = self.picture(x, lo, hi)
        pitch, run = self._wide(m)
        length = run + (self.kh - a_rows) * pitch
        it = pic.itemsize
        view = as_strided(pic, (a_rows, kw, c, length), (pitch * it, it, pic.strides[0], it))
        if out is None:
            out = scratch("patches", view.shape, self.dtype)
        out = out.reshape(view.shape)
        np.copyto(out, view)
        return out.reshape(a_rows * kw * c, length)

    def stacked_size(self, m) -> int:
        pitch, run = self._wide(m)
        return self.rows * self.kw * self.c * (run + (self.kh - self.rows) * pitch)

    def group_weights(self, w4) -> np.ndarray:
        """OIHW weights as (groups, out_ch, rows·kw·in_ch), rows ordered as ``stacked``."""
        o, c, g, r, kw = self.o, self.c, self.groups, self.rows, self.kw
        return _c_array(
            w4.reshape(o, c, g, r, kw).transpose(2, 0, 3, 4, 1)).reshape(g, o, r * kw * c)

    def group_window(self, stacked, group, m) -> np.ndarray:
        """The columns of ``stacked`` that kernel-row group ``group`` multiplies."""
        pitch, run = self._wide(m)
        start = group * self.rows * pitch
        return stacked[:, start:start + run]

    def patches(self, x, lo, hi) -> np.ndarray:
        """Compact layout: the patch matrix of samples lo:hi (in_ch·kh·kw, columns).

        ``x`` is the padded input; the result is a scratch array.
        """
        kh, kw = self.kh, self.kw
        windows = sliding_window_view(x[lo:hi], (kh, kw), axis=(2, 3))
        view = windows[:, :, ::self.sh, ::self.sw].transpose(1, 4, 5, 0, 2, 3)
        cols = scratch("patches", view.shape, self.dtype)
        np.copyto(cols, view)
        return cols.reshape(self.ck, -1)

    def grad_rows(self, g, lo, hi) -> np.ndarray:
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
        that, one kernel offset at a time. The wide layout folds the kw
        offsets of each kernel row into the product instead: g is stacked
        kw times, shifted by 0..kw-1 positions, so one product gives what
        each kernel row a sends back, and only kh shifted additions remain
        (instead of kh·kw, and on a kw times smaller matrix).
        """
        m, c, o, kh, kw = hi - lo, self.c, self.o, self.kh, self.kw
        if not self.wide:
            g2 = self.grad_rows(g, lo, hi)
            d6 = (w.reshape(o, self.ck).T @ g2).reshape(c, kh, kw, m, self.oh, self.ow)
            rows, cols = self.sh * (self.oh - 1) + 1, self.sw * (self.ow - 1) + 1
            for a in range(kh):
                for b in range(kw):
                    dx[lo:hi, :, a:a + rows:self.sh, b:b + cols:self.sw] += (
                        d6[:, a, b].transpose(1, 0, 2, 3))
            return
        pitch, run = self._wide(m)
        span = run + kw - 1
        it = np.dtype(self.dtype).itemsize
        inner = guarded[:, kw - 1:]
        # shifted[b, o, s] = g at position s - b (zero outside the computed run)
        view = as_strided(inner, (kw, o, span), (-it, guarded.strides[0], it))
        shifted = scratch("g_shifted", view.shape, self.dtype)
        np.copyto(shifted, view)
        w_rows = np.ascontiguousarray(w.transpose(2, 1, 3, 0)).reshape(kh * c, kw * o)
        back = scratch("back", (kh, c, span), self.dtype)
        np.matmul(w_rows, shifted.reshape(kw * o, span), out=back.reshape(kh * c, span))
        pic = scratch("picture_grad", (c, self.hp * pitch), self.dtype, zero=True)
        for a in range(kh):
            pic[:, a * pitch:a * pitch + span] += back[a]
        body = pic.reshape(c, self.hp, pitch)[:, self.pt:self.pt + self.h, self.gap:]
        body = body.reshape(c, self.h, m, self.w + self.gap)[..., :self.w]
        np.copyto(dx[lo:hi], body.transpose(2, 0, 1, 3))

    def guarded_grad(self, g, lo, hi) -> np.ndarray:
        """Wide layout: g of samples lo:hi as (out_ch, run + 2·(kw - 1)), in scratch.

        Columns kw - 1 .. kw - 1 + run are g laid out like the product (zero
        at the discarded positions), with kw - 1 zero columns on either side
        for :meth:`input_grad`, which shifts g by up to kw - 1 positions.
        """
        m, kw = hi - lo, self.kw
        pitch, run = self._wide(m)
        guard = _layout_kernel("guard", self.dtype)
        shape = (self.o, run + 2 * (kw - 1))
        if guard is None:
            guarded = scratch("g_guarded", shape, self.dtype, zero=True)
            np.copyto(self.positions(guarded[:, kw - 1:], m), g[lo:hi])
            return guarded
        guarded = scratch("g_guarded", shape, self.dtype)  # the kernel writes every column
        gc = _c_array(g[lo:hi], self.dtype)
        guard(_native.ptr(gc), _native.ptr(guarded), _rows(guarded), shape[1], kw - 1, m,
              self.o, self.oh, self.ow, self.gap - self.pl, self.w + self.gap, pitch)
        return guarded


# --- products, through the compiled kernel when there is one ----------------------

_GEMM_SIGNATURE = [ctypes.c_int, ctypes.c_int] + [ctypes.c_int64] * 3 + [
    ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_double,
    ctypes.c_void_p, ctypes.c_int64]


def _gemm_kernel(dtype):
    """``_native/conv.c``'s product that can add into its output, or None (NumPy)."""
    found = _native.functions("conv", np.dtype(dtype), {"gn_conv_gemm": _GEMM_SIGNATURE})
    return None if found is None else found[0]


_LAYOUT_SIGNATURES = {
    # prod, ld, out, bias, m, o, oh, ow, first, step, pitch
    "unwide": [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    + [ctypes.c_int64] * 7,
    # g, guarded, ld, len, lead, m, o, oh, ow, first, step, pitch
    "guard": [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_int64] * 10,
}


def _layout_kernel(name: str, dtype):
    """``_native/conv.c``'s copy into (``unwide``) or out of (``guard``) the wide
    layout, or None (NumPy's strided copy)."""
    found = _native.functions("conv", np.dtype(dtype),
                              {f"gn_conv_{name}": _LAYOUT_SIGNATURES[name]})
    return None if found is None else found[0]


def _c_array(a: np.ndarray, dtype=None) -> np.ndarray:
    """``a`` as a compiled kernel reads it: C-contiguous and aligned (else a copy;
    np.ascontiguousarray keeps a misaligned array, which C must not read)."""
    flags = a.flags
    if flags.c_contiguous and flags.aligned and (dtype is None or a.dtype == dtype):
        return a  # the usual case, without np.require's Python-level checks
    return np.require(a, dtype, requirements=("C", "A"))


def _rows(a: np.ndarray) -> int:
    """Leading dimension (in elements) of a 2-D array with contiguous rows."""
    return a.strides[0] // a.itemsize


def _sum_of_products(gemm, weights, windows, out) -> None:
    """out = Σ_g weights[g] @ windows[g]: one convolution's kernel-row groups.

    The compiled kernel adds each product straight into ``out``; NumPy
    writes each into a temporary and adds it.
    """
    if gemm is not None:
        m, n = out.shape
        for i, (wg, win) in enumerate(zip(weights, windows)):
            gemm(0, 0, m, n, wg.shape[1], _native.ptr(wg), _rows(wg), _native.ptr(win),
                 _rows(win), 1.0 if i else 0.0, _native.ptr(out), _rows(out))
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
    and ``_KEEP_BYTES`` in all, like :func:`scratch`.
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
                room = held + array.nbytes <= _KEEP_BYTES
                if room and len(self._pool.get(key, ())) < 2:
                    self._pool.setdefault(key, []).append(array)
        except Exception:  # noqa: BLE001, S110  interpreter shutdown: nothing to return
            pass


def _forward(x, w, b, stride, pads, keep=False):
    """Convolve NCHW ``x`` with OIHW ``w``; return the output and what backward needs.

    ``keep``: a weight gradient will be wanted, so keep the stacked patches
    (wide layout, batch in one chunk) for backward instead of rebuilding them.
    """
    dtype = np.result_type(x.dtype, w.dtype)
    plan = _Plan(x.shape, w.shape, stride, pads, dtype)
    bias = None if b is None else b.astype(dtype, copy=False).reshape(1, plan.o, 1, 1)
    out = np.empty((plan.n, plan.o, plan.oh, plan.ow), dtype)
    kept = None
    if plan.wide:
        src = x  # each chunk is padded while it is laid out
        w4 = np.asarray(w, dtype)
        weights = plan.group_weights(w4)
        gemm = _gemm_kernel(dtype)
        # only a batch that is one chunk, and never a single sample too big for it
        keep = keep and plan.chunk == plan.n and (
            plan.stacked_size(plan.n) * dtype.itemsize <= CHUNK_BYTES)
    else:
        src = np.zeros((plan.n, plan.c, plan.hp, plan.wp), dtype)
        src[:, :, plan.pt:plan.pt + plan.h, plan.pl:plan.pl + plan.w] = x
        w2 = np.ascontiguousarray(w.reshape(plan.o, plan.ck), dtype=dtype)
    for lo, hi in plan.chunks():
        m = hi - lo
        if plan.wide:
            if keep:
                kept = _Kept(plan.stacked_size(m), dtype)
            stacked = plan.stacked(src, lo, hi, None if kept is None else kept.array)
            prod = scratch("product", (plan.o, plan.columns(m)), dtype)
            # every feature against every patch: one product per group of kernel rows
            _sum_of_products(gemm, weights, [plan.group_window(stacked, k, m)
                                             for k in range(plan.groups)], prod)
        else:
            cols = plan.patches(src, lo, hi)
            prod = scratch("product", (plan.o, cols.shape[1]), dtype)
            np.matmul(w2, cols, out=prod)  # every feature against every patch: one product
        unwide = _layout_kernel("unwide", dtype) if plan.wide else None
        if unwide is not None:  # the same copy (and additions) row by row in C
            bias_c = None if bias is None else _c_array(bias.reshape(-1))
            unwide(_native.ptr(prod), _rows(prod), _native.ptr(out[lo:hi]),
                   None if bias_c is None else _native.ptr(bias_c), m, plan.o, plan.oh,
                   plan.ow, plan.gap - plan.pl, plan.w + plan.gap, plan._wide(m)[0])
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
    gemm = _gemm_kernel(dtype) if need_w else None
    dwg = np.zeros((plan.groups, o, depth), dtype) if need_w else None  # 0 if no samples
    db = np.zeros(o, dtype) if need_b else None
    dx = np.empty(src.shape, dtype) if need_x else None
    for lo, hi in plan.chunks():
        m = hi - lo
        run = plan.columns(m)
        guarded = plan.guarded_grad(g, lo, hi)
        g_rows = guarded[:, kw - 1:kw - 1 + run]  # g laid out like the product
        if need_w:
            # weights → the patches: one product per group of kernel rows
            if kept is not None:
                stacked = kept.array.reshape(depth, -1)
            else:
                stacked = plan.stacked(src, lo, hi)
            for k in range(plan.groups):
                window = plan.group_window(stacked, k, m)
                if gemm is not None:
                    gemm(0, 1, o, depth, run, _native.ptr(g_rows), _rows(g_rows),
                         _native.ptr(window), _rows(window), 1.0 if lo else 0.0,
                         _native.ptr(dwg[k]), depth)
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
            dw += plan.grad_rows(g, lo, hi) @ plan.patches(src, lo, hi).T
        if need_x:
            plan.input_grad(w4, g, dx, lo, hi)  # input → the weights
    db = g.sum(axis=(0, 2, 3)) if need_b else None  # bias → 1
    if need_x and dx.shape != (plan.n, plan.c, plan.h, plan.w):
        dx = dx[:, :, plan.pt:plan.pt + plan.h, plan.pl:plan.pl + plan.w]
    return dx, dw, db


# --- checks shared by the ops and the layers -------------------------------------

def check_conv_input(where: str, x_shape, w_shape, pads, spatial: int) -> None:
    """Raise ShapeError naming ``where`` when ``x`` cannot be convolved with ``w``."""
    layout = ("(batch, channels, height, width)" if spatial == 2
              else "(batch, channels, time)")
    if len(x_shape) != spatial + 2:
        hint = ""
        if len(x_shape) == spatial + 1:
            hint = (" For a single sample add a batch axis (x[None]); for a batch with "
                    "one channel add a channel axis (x[:, None]).")
        raise ShapeError(
            f"{where} expected a {spatial + 2}-D input {layout}; got shape "
            f"{shape_str(x_shape)} ({len(x_shape)}-D).{hint}"
        )
    if x_shape[1] != w_shape[1]:
        raise ShapeError(
            f"{where} expected input with {w_shape[1]} channel(s) on axis 1; got shape "
            f"{shape_str(x_shape)}, which has {x_shape[1]}."
        )
    sizes = x_shape[2:]
    kernel = w_shape[2:]
    padded = [s + p0 + p1 for s, (p0, p1) in zip(sizes, pads[-spatial:])]
    if any(k > p for k, p in zip(kernel, padded)):
        k_txt = "x".join(map(str, kernel))
        p_txt = "x".join(map(str, padded))
        raise ShapeError(
            f"{where}: the {k_txt} kernel does not fit in the padded input, which is "
            f"{p_txt} (input shape {shape_str(x_shape)}, padding "
            f"{tuple(tuple(p) for p in pads[-spatial:])}). Use a smaller kernel, more "
            "padding (e.g. padding='same') or a larger input."
        )


def _check_weights(where: str, w: Tensor, b, spatial: int) -> None:
    if w.ndim != spatial + 2:
        layout = "(out_channels, in_channels, kh, kw)" if spatial == 2 else \
            "(out_channels, in_channels, k)"
        raise ShapeError(f"{where} expected a {spatial + 2}-D weight {layout}; got shape "
                         f"{shape_str(w.shape)}.")
    if b is not None and b.shape != (w.shape[0],):
        raise ShapeError(f"{where} expected a bias of shape ({w.shape[0]},); got "
                         f"{shape_str(b.shape)}.")


def conv_nd(x: Tensor, weight: Tensor, bias, stride: tuple, padding, spatial: int,
            where: str) -> Tensor:
    """The one graph node behind :func:`conv1d`, :func:`conv2d` and the layers.

    ``stride`` is a resolved pair; ``padding`` 'valid', 'same', an int or a
    pair, resolved here against the input size. 1-D runs as 2-D with height 1.
    """
    _check_weights(where, weight, bias, spatial)
    if x.ndim == spatial + 2:
        sizes = x.shape[2:]
        kernel = weight.shape[2:]
        strides = stride[-spatial:]
        pad_in = padding if isinstance(padding, tuple) else (padding,) * spatial
        pads = tuple(resolve_padding(p, k, s, n)
                     for p, k, s, n in zip(pad_in, kernel, strides, sizes))
    else:
        pads = ((0, 0),) * spatial
    check_conv_input(where, x.shape, weight.shape, pads, spatial)
    xd, wd = x.data, weight.data
    if spatial == 1:
        xd, wd = xd[:, :, None, :], wd[:, :, None, :]
        pads = ((0, 0),) + pads
    keep = weight.requires_grad and is_grad_enabled()
    out, saved = _forward(xd, wd, None if bias is None else bias.data, stride, pads, keep)
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        if spatial == 1:
            g = g[:, :, None, :]
        dx, dw, db = _backward(g, saved, x.requires_grad, weight.requires_grad,
                               bias is not None and bias.requires_grad)
        dw = None if dw is None else dw.reshape(wd.shape)
        if spatial == 1:
            dx = None if dx is None else dx[:, :, 0, :]
            dw = None if dw is None else dw[:, :, 0, :]
        return (dx, dw) if bias is None else (dx, dw, db)

    return make_result(out[:, :, 0, :] if spatial == 1 else out, parents, backward)


# --- public ops ---------------------------------------------------------------------

def conv2d(x, weight, bias=None, stride=1, padding=0) -> Tensor:
    """2-D convolution (cross-correlation) of a batch of images: one graph node.

    .. math::

        y[n, o, i, j] = b[o] + \\sum_{c, a, b'} W[o, c, a, b'] \\,
                        x_p[n, c, i s_h + a, j s_w + b']

    where ``x_p`` is ``x`` with zero padding.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, in_channels, height, width)
    weight : Tensor or array_like, shape (out_channels, in_channels, kh, kw)
    bias : Tensor or array_like, shape (out_channels,), optional
    stride : int or (int, int), default 1
    padding : 'valid', 'same', int or (int, int), default 0
        Zeros added around the image. 'same' keeps ``ceil(size / stride)``
        positions (for stride 1, the input's size).

    Returns
    -------
    Tensor, shape (batch, out_channels, out_height, out_width)
        ``out = floor((size + pad_before + pad_after - k) / stride) + 1``.

    Examples
    --------
    The seed's filtering is this op divided by the kernel's pixel count:

    >>> import numpy as np
    >>> from glassnet.datasets.stories import canonical_x, x_features
    >>> from glassnet.ops.conv import conv2d, match
    >>> x, f = canonical_x(), x_features()[0]
    >>> y = conv2d(x[None, None], f[None, None])
    >>> y.shape
    (1, 1, 7, 7)
    >>> bool(np.allclose(y.data[0, 0], 9 * match(x, f)))
    True
    """
    where = "conv2d"
    stride = to_pair(where, "stride", stride)
    padding = check_padding(where, padding, 2)
    x = as_tensor(x)
    weight = as_tensor(weight, x)
    bias = None if bias is None else as_tensor(bias, x)
    return conv_nd(x, weight, bias, stride, padding, 2, where)


def conv1d(x, weight, bias=None, stride=1, padding=0) -> Tensor:
    """1-D convolution of a batch of sequences laid out (batch, channels, time).

    .. math:: y[n, o, t] = b[o] + \\sum_{c, a} W[o, c, a] \\, x_p[n, c, t s + a]

    A kernel spans every channel, so with one-hot words as channels a
    window covers the whole column of the dictionary and slides along time.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, in_channels, time)
    weight : Tensor or array_like, shape (out_channels, in_channels, k)
    bias : Tensor or array_like, shape (out_channels,), optional
    stride : int, default 1
    padding : 'valid', 'same' or int, default 0

    Returns
    -------
    Tensor, shape (batch, out_channels, out_time)

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.ops.conv import conv1d
    >>> conv1d(np.ones((2, 3, 10)), np.ones((4, 3, 5)), padding="same").shape
    (2, 4, 10)
    """
    where = "conv1d"
    if not (_is_int(stride) and stride >= 1):
        raise ConfigError(f"{where}: stride must be a positive integer; got {stride!r}.")
    padding = check_padding(where, padding, 1)
    x = as_tensor(x)
    weight = as_tensor(weight, x)
    bias = None if bias is None else as_tensor(bias, x)
    return conv_nd(x, weight, bias, (1, int(stride)), padding, 1, where)
