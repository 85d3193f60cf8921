"""Pooling: shrink each map by keeping one number per window.

A window of ``wh`` x ``ww`` pixels steps over every map (channel) of every
image; max pooling keeps the largest value in it, average pooling the mean.
Both are a loop over the wh·ww offsets inside the window, each step touching
one strided slice of the whole batch at once -- never a loop over pixels.
Arguments: x (N, C, H, W); ``window``, ``stride``, ``padding``: pairs;
``ceil_mode``: keep a last, ragged window where the map does not divide
evenly (:func:`pool_output_size`). Padding pixels never win a max and are
not counted in a mean, so every output is the max, or the mean, of the real
pixels under its window -- unless ``count_include_pad`` (PyTorch's default,
an option here): then a mean divides by the window's pixels inside the
padded map, padding included (a ragged ``ceil_mode`` window's overhang past
the padding is still not counted, as in PyTorch).

Local derivatives: max → 1 for the pixel that won its window, 0 for the
rest (if several tie, the first in reading order wins; a window holding a
NaN has a NaN max, and the first NaN wins); mean → 1/count for each of the
count pixels the window averaged.

Max pooling has a compiled variant (``_native/conv.c``, with an AVX2 path
for LeNet's 2x2 windows): the same max, winner and gradient in one pass
over the maps, bit for bit (where +0 and -0 tie for a max, NumPy's sign is
its SIMD max instruction's; the C code follows x86's). It splits the maps
between threads (:mod:`glassnet.kernels._threads`) when there are enough
pixels; each map is pooled alone, so the bits do not depend on how.
"""

from __future__ import annotations

import numpy as np

from . import _draw, native, register, variant
from ._buffers import c_array, scratch
from ._threads import threads_for

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "pool_output_size",
]


def pool_output_size(
    size: int, window: int, stride: int, padding: int, ceil_mode: bool
) -> int:
    """Windows along one axis; < 1 if none fits.

    ``out = floor_or_ceil((size + 2·padding - window) / stride) + 1``, minus
    1 if, with ``ceil_mode``, the last window would start at or past
    ``size + padding`` (a window is never started in the padding past the
    edge). With ``ceil_mode`` a window up to ``stride - 1`` pixels wider
    than the padded map still gives one output, as in PyTorch (``ceil`` of
    the small negative ``span / stride`` is 0).
    """
    span = size + 2 * padding - window
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _out_hw(x_shape, window, stride, padding, ceil_mode) -> tuple:
    h, w = x_shape[2:]
    return (
        pool_output_size(h, window[0], stride[0], padding[0], ceil_mode),
        pool_output_size(w, window[1], stride[1], padding[1], ceil_mode),
    )


def _padded(x: np.ndarray, window, stride, padding, out_hw, fill) -> np.ndarray:
    """``x`` with ``padding`` before and enough ``fill`` after for every window."""
    shape = _padded_shape(x.shape, window, stride, padding, out_hw)
    if shape == x.shape:  # no padding (it is never negative), nothing to add
        return x
    xp = np.full(shape, fill, dtype=x.dtype)
    h, w = x.shape[2:]
    xp[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w] = x
    return xp


def _unpad(dxp: np.ndarray, x_shape, padding) -> np.ndarray:
    if dxp.shape == tuple(x_shape):
        return dxp
    h, w = x_shape[2:]
    return dxp[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w]


def _offsets(window, stride, out_hw):
    """(index, slice of the padded maps) for each of the wh·ww window offsets."""
    (wh, ww), (sh, sw), (oh, ow) = window, stride, out_hw
    for a in range(wh):
        for b in range(ww):
            yield (
                a * ww + b,
                (
                    Ellipsis,
                    slice(a, a + sh * (oh - 1) + 1, sh),
                    slice(b, b + sw * (ow - 1) + 1, sw),
                ),
            )


def _layout(x_shape, window, stride, padding, ceil_mode) -> tuple:
    """(out_hw, padded shape, tiles, overlap) for a backward pass: ``tiles`` when
    the windows tile the maps exactly (every pixel written once), ``overlap``
    when windows share pixels (their shares are added)."""
    out_hw = _out_hw(x_shape, window, stride, padding, ceil_mode)
    overlap = stride[0] < window[0] or stride[1] < window[1]
    tiles = (
        tuple(stride) == tuple(window)
        and tuple(padding) == (0, 0)
        and all(n * k == size for n, k, size in zip(out_hw, window, x_shape[2:]))
    )
    xp_shape = _padded_shape(x_shape, window, stride, padding, out_hw)
    return out_hw, xp_shape, tiles, overlap


# --- argument generators ----------------------------------------------------------


def _pool_geometry(draw):
    """Batch 1, odd sizes, stride above and below the window, padding up to
    window - 1, ceil_mode, non-contiguous maps, NaN and ±0 in the windows."""
    st = _draw._st()
    window = (_draw.size(draw, 1, 4), _draw.size(draw, 1, 4))
    stride = (_draw.size(draw, 1, 3), _draw.size(draw, 1, 3))
    padding = tuple(_draw.size(draw, 0, k - 1) for k in window)
    ceil_mode = draw(st.booleans())
    h = _draw.size(draw, max(1, window[0] - 2 * padding[0]), 9)
    w = _draw.size(draw, max(1, window[1] - 2 * padding[1]), 9)
    x = _draw.array(draw, (_draw.size(draw, 1, 3), _draw.size(draw, 1, 3), h, w))
    if draw(st.booleans()):
        x[...] = np.round(x)  # ties, and -0.0 next to +0.0
    if draw(st.booleans()):
        x[(0,) * (x.ndim - 2) + (h // 2, w // 2)] = np.nan
    return x, window, stride, padding, ceil_mode


def _forward_args(draw):
    x, window, stride, padding, ceil_mode = _pool_geometry(draw)
    return (x, window, stride, padding, ceil_mode), {
        "record": draw(_draw._st().booleans())
    }


def _max_backward_args(draw):
    x, window, stride, padding, ceil_mode = _pool_geometry(draw)
    out, winner = max_pool2d(x, window, stride, padding, ceil_mode, record=True)
    g = _draw.like(draw, out)
    return (g, winner, x.shape, window, stride, padding, ceil_mode), {}


def _include(draw) -> dict:
    return {"count_include_pad": True} if draw(_draw._st().booleans()) else {}


def _avg_backward_args(draw):
    x, window, stride, padding, ceil_mode = _pool_geometry(draw)
    include = _include(draw)
    out = avg_pool2d(x, window, stride, padding, ceil_mode, **include)
    g = _draw.like(draw, out)
    return (g, x.shape, window, stride, padding, ceil_mode), include


def _avg_args(draw):
    return _pool_geometry(draw), _include(draw)


# --- max pooling ------------------------------------------------------------------


@register("max_pool2d", args=_forward_args)
def max_pool2d(x, window, stride, padding, ceil_mode=False, record=False):
    """(y, winner): y = the max of each window's real pixels.

    ``winner`` (when ``record``: a gradient will be wanted) is the offset
    a·ww + b inside each window of the pixel that won it, for
    :func:`max_pool2d_backward`; None otherwise.
    """
    out_hw = _out_hw(x.shape, window, stride, padding, ceil_mode)
    xp = _padded(x, window, stride, padding, out_hw, -np.inf)
    return _max_pool_numpy(xp, window, stride, out_hw, record)


def _max_pool_numpy(xp, window, stride, out_hw, record):
    """Max pooling of the padded maps ``xp``, one NumPy pass per window offset.

    Returns (out, winner): when ``record``, note which offset won each window
    as the max is found (the data is hot in cache now): a strictly larger
    value takes over, so on a tie the first in reading order keeps the win;
    so does the first NaN, which is the max from then on (np.maximum keeps
    it), so a NaN window's gradient goes to that NaN. As offsets only grow,
    the winner is the max of the offsets that took over.
    """
    winner = better = nan = out = None
    for k, sl in _offsets(window, stride, out_hw):
        if k == 0:
            out = xp[sl].copy()
            if record:
                wide = window[0] * window[1] > 255
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


def _small_window(x, window, *args, **kwargs) -> bool:
    return window[0] * window[1] <= 255  # the C code keeps the winner as a uint8


@variant("max_pool2d", uses=("gn_maxpool_fwd",), applies=_small_window)
def max_pool2d_c(x, window, stride, padding, ceil_mode=False, record=False):
    """_native/conv.c: the max and its winner in one pass over the maps."""
    out_hw = _out_hw(x.shape, window, stride, padding, ceil_mode)
    xp = _padded(x, window, stride, padding, out_hw, -np.inf)
    return _max_pool_native(xp, window, stride, out_hw, record)


#: Pixels of the maps per extra thread of the compiled max pooling: below
#: this a call runs on one thread (making a thread costs tens of microseconds).
PIXELS_PER_THREAD = 1 << 18


def _c_geometry(xp_shape, window, stride, out_hw) -> tuple:
    """planes, h, w, oh, ow, wh, ww, sh, sw: the padded maps' geometry, for C."""
    n, c, hp, wp = xp_shape
    return (n * c, hp, wp, *out_hw, *window, *stride)


def _max_pool_native(xp, window, stride, out_hw, record):
    """Max pooling of the padded maps ``xp`` in one C pass: (out, winner or None)."""
    xp = c_array(xp)
    out = np.empty((*xp.shape[:2], *out_hw), xp.dtype)
    winner = np.empty(out.shape, np.uint8) if record else None
    win = None if winner is None else winner.ctypes.data
    native("gn_maxpool_fwd", xp.dtype)(
        xp.ctypes.data,
        out.ctypes.data,
        win,
        *_c_geometry(xp.shape, window, stride, out_hw),
        threads_for(xp.size, PIXELS_PER_THREAD),  # maps split between threads
    )
    return out, winner


@register("max_pool2d_backward", args=_max_backward_args)
def max_pool2d_backward(g, winner, x_shape, window, stride, padding, ceil_mode=False):
    """dx: each window's g sent to the pixel that won it (max → 1 there, else 0)."""
    out_hw, xp_shape, tiles, overlap = _layout(
        x_shape, window, stride, padding, ceil_mode
    )
    dxp = _max_pool_grad_numpy(
        g, winner, xp_shape, window, stride, out_hw, tiles, overlap
    )
    return _unpad(dxp, x_shape, padding)


def _padded_shape(x_shape, window, stride, padding, out_hw) -> tuple:
    n, c, h, w = x_shape
    return (
        n,
        c,
        max((out_hw[0] - 1) * stride[0] + window[0], h + padding[0]),
        max((out_hw[1] - 1) * stride[1] + window[1], w + padding[1]),
    )


def _max_pool_grad_numpy(g, winner, xp_shape, window, stride, out_hw, tiles, overlap):
    """d(loss)/d(padded maps): each window's g sent to the pixel that won it.

    Every pixel of a window gets g·[it won] (so a NaN in g reaches every
    pixel of its window). Windows that tile the maps write each pixel once;
    overlapping windows add their shares on the pixels they share.
    """
    dxp = (np.empty if tiles else np.zeros)(xp_shape, g.dtype)
    won = scratch("pool_won", winner.shape, bool)
    share = scratch("pool_share", winner.shape, g.dtype) if overlap else None
    for k, sl in _offsets(window, stride, out_hw):
        np.equal(winner, k, out=won)
        if overlap:
            dxp[sl] += np.multiply(g, won, out=share)
        else:
            np.multiply(g, won, out=dxp[sl])
    return dxp


@variant(
    "max_pool2d_backward",
    uses=("gn_maxpool_bwd",),
    applies=lambda g, winner, *args, **kwargs: winner.dtype == np.uint8,
)
def max_pool2d_backward_c(g, winner, x_shape, window, stride, padding, ceil_mode=False):
    """_native/conv.c: the same in one pass, bit for bit."""
    out_hw, xp_shape, tiles, overlap = _layout(
        x_shape, window, stride, padding, ceil_mode
    )
    dxp = _max_pool_grad_native(
        g, winner, xp_shape, window, stride, out_hw, tiles, overlap
    )
    return _unpad(dxp, x_shape, padding)


def _max_pool_grad_native(g, winner, xp_shape, window, stride, out_hw, tiles, overlap):
    """:func:`_max_pool_grad_numpy` in one C call, bit for bit.

    As there, the maps are cleared unless the windows tile them, and the
    shares are added where windows overlap but written where they do not:
    adding onto a cleared pixel would turn a -0.0 share into +0.0.
    """
    dxp = np.empty(xp_shape, g.dtype)
    g = c_array(g)
    winner = c_array(winner)
    geometry = _c_geometry(xp_shape, window, stride, out_hw)
    native("gn_maxpool_bwd", g.dtype)(
        g.ctypes.data,
        winner.ctypes.data,
        dxp.ctypes.data,
        *geometry,
        not tiles,
        overlap,
        threads_for(dxp.size, PIXELS_PER_THREAD),
    )
    return dxp


# --- average pooling --------------------------------------------------------------


def _counts(x_shape, window, stride, padding, out_hw, dtype, include) -> np.ndarray:
    """(oh, ow): how many real (not padding) pixels each window covers; with
    ``include``, how many inside the padded map."""
    axes = []
    for i in range(2):
        start = np.arange(out_hw[i]) * stride[i] - padding[i]
        end = x_shape[2 + i] + (padding[i] if include else 0)
        lo = start if include else np.maximum(start, 0)
        axes.append(np.minimum(start + window[i], end) - lo)
    return np.outer(*axes).astype(dtype)


@register("avg_pool2d", args=_avg_args)
def avg_pool2d(x, window, stride, padding, ceil_mode=False, *, count_include_pad=False):
    """y = Σ (real pixels of the window) / count of them (or of the window's
    pixels in the padded map, with ``count_include_pad``)."""
    out_hw = _out_hw(x.shape, window, stride, padding, ceil_mode)
    xp = _padded(x, window, stride, padding, out_hw, 0.0)
    out = None
    for _, sl in _offsets(window, stride, out_hw):
        out = xp[sl].copy() if out is None else np.add(out, xp[sl], out=out)
    geometry = (x.shape, window, stride, padding, out_hw, out.dtype)
    out /= _counts(*geometry, count_include_pad)
    return out


@register("avg_pool2d_backward", args=_avg_backward_args)
def avg_pool2d_backward(
    g, x_shape, window, stride, padding, ceil_mode=False, *, count_include_pad=False
):
    """dx: mean → 1/count for each real pixel the window averaged."""
    out_hw, xp_shape, tiles, overlap = _layout(
        x_shape, window, stride, padding, ceil_mode
    )
    geometry = (x_shape, window, stride, padding, out_hw, g.dtype)
    count = _counts(*geometry, count_include_pad)
    g_share = np.divide(g, count, out=scratch("pool_share", g.shape, g.dtype))
    dxp = (np.empty if tiles else np.zeros)(xp_shape, g.dtype)
    for _, sl in _offsets(window, stride, out_hw):
        if overlap:
            dxp[sl] += g_share
        else:
            dxp[sl] = g_share
    return _unpad(dxp, x_shape, padding)
