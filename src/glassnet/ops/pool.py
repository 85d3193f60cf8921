"""Pooling: shrink each map by keeping one number per window.

A window of ``kh`` x ``kw`` pixels steps over every map (channel) of every
image; max pooling keeps the largest value in it, average pooling the mean.
Both are computed as a loop over the kh·kw offsets inside the window, each
step touching one strided slice of the whole batch at once -- never a loop
over pixels.

Edges
-----
* ``padding`` adds ``p`` pixels on each side that never win: -inf for max
  pooling, and for average pooling they are not counted in the mean.
* ``ceil_mode=True`` adds a last window where the map does not divide
  evenly; that ragged window takes the max (or mean) of the real pixels it
  covers, as the X-and-O story pools a 7x7 map to 4x4 -- even when the
  window is wider than the padded map (a 1x3 map pooled by a 1x4 window
  gives one output). A window is never started in the padding past the edge.

So every output is the max, or the mean, of the real pixels under its
window. Output size along an axis of length ``L``::

    out = floor_or_ceil((L + 2p - k) / s) + 1   (minus 1 if, with ceil_mode,
                                                 the last window would start
                                                 at or past L + p)

Local derivatives: max → 1 for the pixel that won its window, 0 for the
rest (if several tie, the first in reading order wins; a window holding a
NaN has a NaN max, and the first NaN wins); mean → 1/count for each of the
count pixels the window averaged.

Max pooling has an optional compiled kernel (``_native/conv.c``, see
:mod:`glassnet._native`): the same max, winner and gradient in one pass over
the maps instead of a NumPy pass per window offset, with the same results
bit for bit (where +0 and -0 tie for a max, NumPy's sign is its SIMD max
instruction's; the kernel follows x86's). Without a compiler, or with
``GLASSNET_NATIVE=0``, the NumPy loop below runs.
"""

from __future__ import annotations

import ctypes

import numpy as np

from .. import _native
from .._validate import shape_str
from ..errors import ConfigError, ShapeError
from ..tensor import Tensor, as_tensor, is_grad_enabled, make_result
from .conv import _c_array, scratch, to_pair

__all__ = ["avg_pool2d", "check_pool_args", "max_pool2d", "pool_output_size"]


def pool_output_size(size: int, kernel: int, stride: int, padding: int,
                     ceil_mode: bool) -> int:
    """Windows along one axis (see the module docstring); < 1 if none fits.

    With ``ceil_mode`` a window up to ``stride - 1`` pixels wider than the
    padded map still gives one output, as in PyTorch (``ceil`` of the small
    negative ``span / stride`` is 0).
    """
    span = size + 2 * padding - kernel
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def check_pool_args(where: str, kernel_size, stride, padding) -> tuple:
    """Validated (kernel, stride, padding) pairs; stride defaults to the kernel."""
    kernel = to_pair(where, "kernel_size", kernel_size)
    stride = kernel if stride is None else to_pair(where, "stride", stride)
    padding = to_pair(where, "padding", padding, minimum=0)
    if padding[0] >= kernel[0] or padding[1] >= kernel[1]:
        raise ConfigError(
            f"{where}: padding {padding} must be smaller than kernel_size {kernel}, so "
            "that every window covers at least one real pixel."
        )
    return kernel, stride, padding


def _geometry(where, x_shape, kernel, stride, padding, ceil_mode):
    if len(x_shape) != 4:
        hint = (" For a single image add a batch axis (x[None])."
                if len(x_shape) == 3 else "")
        raise ShapeError(
            f"{where} expected a 4-D input (batch, channels, height, width); got shape "
            f"{shape_str(x_shape)} ({len(x_shape)}-D).{hint}"
        )
    h, w = x_shape[2:]
    oh = pool_output_size(h, kernel[0], stride[0], padding[0], ceil_mode)
    ow = pool_output_size(w, kernel[1], stride[1], padding[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{where}: the {kernel[0]}x{kernel[1]} window does not fit in the "
            f"{h + 2 * padding[0]}x{w + 2 * padding[1]} padded input (input shape "
            f"{shape_str(x_shape)}, padding {padding}), so no output would be left. "
            "Use a smaller window or pool an earlier, larger map."
        )
    return oh, ow


def _padded(x: np.ndarray, kernel, stride, padding, out_hw, fill) -> np.ndarray:
    """``x`` with ``padding`` before and enough ``fill`` after for every window."""
    n, c, h, w = x.shape
    hp = max((out_hw[0] - 1) * stride[0] + kernel[0], h + padding[0])
    wp = max((out_hw[1] - 1) * stride[1] + kernel[1], w + padding[1])
    if padding == (0, 0) and (hp, wp) == (h, w):
        return x
    xp = np.full((n, c, hp, wp), fill, dtype=x.dtype)
    xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    return xp


def _offsets(kernel, stride, out_hw):
    """(index, slice of the padded maps) for each of the kh·kw window offsets."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    for a in range(kh):
        for b in range(kw):
            yield a * kw + b, (Ellipsis, slice(a, a + sh * (oh - 1) + 1, sh),
                               slice(b, b + sw * (ow - 1) + 1, sw))


_P, _N = ctypes.c_void_p, ctypes.c_int64
_POOL_SIGNATURES = {
    # x, out, win, planes, h, w, oh, ow, kh, kw, sh, sw
    "gn_maxpool_fwd": [_P, _P, _P] + [_N] * 9,
    # g, win, dx, planes, h, w, oh, ow, kh, kw, sh, sw, clear, add
    "gn_maxpool_bwd": [_P, _P, _P] + [_N] * 9 + [ctypes.c_int] * 2,
}


def _pool_kernels(dtype, kernel):
    """The compiled max-pool (forward, backward) for ``dtype``, or None (use NumPy).

    None for dtypes other than float32/float64, windows of over 255 pixels
    (the winner is kept as a uint8), ``GLASSNET_NATIVE=0``, or when the
    kernel cannot be built here (``glassnet._native.status()`` says why).
    """
    if kernel[0] * kernel[1] > 255:
        return None
    return _native.functions("conv", dtype, _POOL_SIGNATURES)


def _max_pool_native(kernels, xp, kernel, stride, out_hw, record):
    """Max pooling of the padded maps ``xp`` in one C pass: (out, winner or None)."""
    fwd, _ = kernels
    xp = _c_array(xp)
    n, c, hp, wp = xp.shape
    out = np.empty((n, c) + tuple(out_hw), xp.dtype)
    winner = np.empty(out.shape, np.uint8) if record else None
    fwd(_native.ptr(xp), _native.ptr(out), None if winner is None else _native.ptr(winner),
        n * c, hp, wp, out_hw[0], out_hw[1], kernel[0], kernel[1], stride[0], stride[1])
    return out, winner


def _unpad(dxp: np.ndarray, x_shape, padding) -> np.ndarray:
    if dxp.shape == tuple(x_shape):
        return dxp
    h, w = x_shape[2:]
    return dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


def _max_pool_numpy(xp, kernel, stride, out_hw, record):
    """Max pooling of the padded maps ``xp``, one NumPy pass per window offset.

    Returns (out, winner): when ``record`` (a gradient is wanted), note which
    offset won each window as the max is found (the data is hot in cache
    now): a strictly larger value takes over, so on a tie the first in
    reading order keeps the win; so does the first NaN, which is the max
    from then on (np.maximum keeps it), so a NaN window's gradient goes to
    that NaN. As offsets only grow, the winner is the max of the offsets
    that took over. ``winner`` is None otherwise.
    """
    winner = better = nan = None
    for k, sl in _offsets(kernel, stride, out_hw):
        if k == 0:
            out = xp[sl].copy()
            if record:
                wide = kernel[0] * kernel[1] > 255
                winner = np.zeros(out.shape, np.int32 if wide else np.uint8)
                better = scratch("pool_better", out.shape, bool)
                nan = scratch("pool_nan", out.shape, bool)
            continue
        if record:
            # took over = not (v <= max so far) and the max so far is no NaN: a
            # larger v, or the first NaN
            np.less_equal(xp[sl], out, out=better)
            np.logical_or(better, np.isnan(out, out=nan), out=better)
            np.logical_not(better, out=better)
            if winner.dtype == np.uint8:
                took = np.multiply(better.view(np.uint8), np.uint8(k))
            else:
                took = better * np.int32(k)
            np.maximum(winner, took, out=winner)
        np.maximum(out, xp[sl], out=out)
    return out, winner


def _max_pool_grad_numpy(g, winner, xp_shape, kernel, stride, out_hw, tiles, overlap):
    """d(loss)/d(padded maps): each window's g sent to the pixel that won it.

    Every pixel of a window gets g·[it won] (so a NaN in g reaches every
    pixel of its window). Windows that tile the maps write each pixel once;
    overlapping windows add their shares on the pixels they share.
    """
    dxp = (np.empty if tiles else np.zeros)(xp_shape, g.dtype)
    won = scratch("pool_won", winner.shape, bool)
    share = scratch("pool_share", winner.shape, g.dtype) if overlap else None
    for k, sl in _offsets(kernel, stride, out_hw):
        np.equal(winner, k, out=won)
        if overlap:
            dxp[sl] += np.multiply(g, won, out=share)
        else:
            np.multiply(g, won, out=dxp[sl])
    return dxp


def _max_pool_grad_native(kernels, g, winner, xp_shape, kernel, stride, out_hw, tiles,
                          overlap):
    """:func:`_max_pool_grad_numpy` in one C call, bit for bit.

    As there, the maps are cleared unless the windows tile them, and the
    shares are added where windows overlap but written where they do not:
    adding onto a cleared pixel would turn a -0.0 share into +0.0.
    """
    _, bwd = kernels
    dxp = np.empty(xp_shape, g.dtype)
    g = _c_array(g)
    n, c, hp, wp = xp_shape
    bwd(_native.ptr(g), _native.ptr(winner), _native.ptr(dxp), n * c, hp, wp,
        out_hw[0], out_hw[1], kernel[0], kernel[1], stride[0], stride[1],
        int(not tiles), int(overlap))
    return dxp


def pool2d(x: Tensor, mode: str, kernel, stride, padding, ceil_mode, where) -> Tensor:
    """The one graph node behind max/avg pooling; arguments already validated."""
    out_hw = _geometry(where, x.shape, kernel, stride, padding, ceil_mode)
    xd = x.data
    if xd.dtype.kind != "f":
        xd = xd.astype(np.float32)
    overlap = stride[0] < kernel[0] or stride[1] < kernel[1]
    # windows that tile the (padded) maps exactly: backward writes every pixel once
    tiles = stride == kernel and padding == (0, 0) and all(
        n * k == size for n, k, size in zip(out_hw, kernel, x.shape[2:]))

    if mode == "max":
        xp = _padded(xd, kernel, stride, padding, out_hw, -np.inf)
        record = x.requires_grad and is_grad_enabled()
        kernels = _pool_kernels(xp.dtype, kernel)
        if kernels is not None:
            out, winner = _max_pool_native(kernels, xp, kernel, stride, out_hw, record)
        else:
            out, winner = _max_pool_numpy(xp, kernel, stride, out_hw, record)

        def backward(g):
            # max → 1 for the pixel that won its window, 0 for the others
            if kernels is not None and g.dtype == xp.dtype:
                dxp = _max_pool_grad_native(kernels, g, winner, xp.shape, kernel, stride,
                                            out_hw, tiles, overlap)
            else:
                dxp = _max_pool_grad_numpy(g, winner, xp.shape, kernel, stride, out_hw,
                                           tiles, overlap)
            return (_unpad(dxp, x.shape, padding),)

        return make_result(out, (x,), backward)

    xp = _padded(xd, kernel, stride, padding, out_hw, 0.0)
    out = None
    for _, sl in _offsets(kernel, stride, out_hw):
        out = xp[sl].copy() if out is None else np.add(out, xp[sl], out=out)
    count = np.outer(*(_real_pixels(x.shape[2 + i], kernel[i], stride[i], padding[i],
                                    out_hw[i]) for i in range(2))).astype(out.dtype)
    out /= count

    def backward(g):
        # mean → 1/count for each real pixel the window averaged
        g_share = np.divide(g, count.astype(g.dtype, copy=False),
                            out=scratch("pool_share", g.shape, g.dtype))
        dxp = (np.empty if tiles else np.zeros)(xp.shape, g.dtype)
        for _, sl in _offsets(kernel, stride, out_hw):
            if overlap:
                dxp[sl] += g_share
            else:
                dxp[sl] = g_share
        return (_unpad(dxp, x.shape, padding),)

    return make_result(out, (x,), backward)


def _real_pixels(size, kernel, stride, padding, out) -> np.ndarray:
    """How many real (not padding) pixels each window covers along one axis."""
    start = np.arange(out) * stride - padding
    return np.minimum(start + kernel, size) - np.maximum(start, 0)


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False) -> Tensor:
    """Keep the largest value of each window of each map: (N, C, H, W) -> (N, C, H', W').

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, channels, height, width)
    kernel_size : int or (int, int)
        Window height and width.
    stride : int or (int, int), optional
        Step between windows; the window size when not given.
    padding : int or (int, int), default 0
        Pixels of -inf added on each side; must be smaller than the window.
    ceil_mode : bool, default False
        Keep a last, ragged window where the map does not divide evenly.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.ops.pool import max_pool2d
    >>> m = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> max_pool2d(m, 2, ceil_mode=True).data[0, 0]
    array([[ 6.,  8.,  9.],
           [16., 18., 19.],
           [21., 23., 24.]])
    """
    where = "max_pool2d"
    kernel, stride, padding = check_pool_args(where, kernel_size, stride, padding)
    return pool2d(as_tensor(x), "max", kernel, stride, padding, bool(ceil_mode), where)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False) -> Tensor:
    """Average each window of each map; padding and ragged edges are not counted.

    Arguments as in :func:`max_pool2d`; the padding pixels add nothing to
    the mean and are not counted, so each output is the mean of the real
    pixels under its window.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.ops.pool import avg_pool2d
    >>> m = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> avg_pool2d(m, 2, ceil_mode=True).data[0, 0]
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    where = "avg_pool2d"
    kernel, stride, padding = check_pool_args(where, kernel_size, stride, padding)
    return pool2d(as_tensor(x), "avg", kernel, stride, padding, bool(ceil_mode), where)
