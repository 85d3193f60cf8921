"""Direct convolution in C: variants of :mod:`glassnet.kernels.conv` (stride 1).

No patch matrix and no BLAS: ``_native/direct.c`` runs a register-blocked
micro-kernel over a channels-last copy of the padded input, its vector width
(8 floats with AVX2, 16 with AVX-512) chosen by the compiler's target
(``GLASSNET_TARGET``, :mod:`glassnet._native`). Its comment has the layout;
here are the three passes as calls:

* forward: pack x into xp (n, hp, wp, c) channels-last and padded, the
  filters into wt (kh, kw·c, opad) -- opad: the output channels rounded up to
  a whole vector, zero past o -- and convolve; the bias starts each sum, so
  it is added as the output is written;
* input gradient (stride 1): the same kernel on g padded by kh - 1 - top
  rows (and so on; a negative amount crops), with the filters flipped and
  their in/out channels swapped;
* filter gradient: its own micro-kernel, summing window × g over all output
  positions into (kh, kw·c, opad), from the xp the forward pass kept; the
  bias gradient (g summed over the positions) in the same call, from the
  same channels-last g.

Work is split over output rows between threads (how many:
:mod:`glassnet.kernels._threads`; the threads: ``_native/parallel.h``), as
BLAS splits the products of the other layouts. Measured on W3 (``benchmarks/conv_profile.py``): see
docs/benchmarks.md.
"""

from __future__ import annotations

import numpy as np

from .. import native, variant
from .._buffers import c_array, scratch
from .._threads import threads_for
from ..conv import conv_output_size

__all__ = ["threads"]

#: Multiply-adds per extra thread: below this a call runs on one thread (making
#: a thread costs tens of microseconds).
WORK_PER_THREAD = 1 << 20

# Sums over C·fh·fw (forward), O·fh·fw (input gradient) or the output positions
# (filter gradient) in another order than the reference's, with fused
# multiply-adds: equal to rounding, as the other layouts.
_AGREE = {"agreement": "rounding", "rtol": 2e-4, "atol": 2e-4}


def threads(work: int) -> int:
    """Threads for a call of ``work`` multiply-adds (see the module docstring)."""
    return threads_for(work, WORK_PER_THREAD)


def _fn(name, dtype):
    return native(name, np.dtype(dtype))


def _opad(channels: int, dtype) -> int:
    """``channels`` rounded up to whole vectors of the build's width."""
    lanes = native("gn_direct_width")() * 4 // np.dtype(dtype).itemsize
    return -(-channels // lanes) * lanes


def _pack(a, shape, top, left, out=None):
    """NCHW ``a`` as channels-last ``shape`` (n, h, w, c), moved by (top, left)."""
    a = c_array(a)
    out = np.empty(shape, a.dtype) if out is None else out.reshape(shape)
    n, c, h, w = a.shape
    _fn("gn_direct_pack", a.dtype)(
        a.ctypes.data,
        out.ctypes.data,
        n,
        c,
        h,
        w,
        *shape[1:],
        top,
        left,
        threads(out.size * 4),  # a copy: worth a thread from a quarter the work
    )
    return out


def _conv(xp, wt, bias, out, o, kh, kw, stride):
    """out (n, o, oh, ow) = bias + the convolution of packed xp with packed wt."""
    n, hp, wp, c = xp.shape
    _, _, oh, ow = out.shape
    work = n * oh * ow * wt.shape[-1] * kh * kw * c
    _fn("gn_direct_fwd", xp.dtype)(
        xp.ctypes.data,
        wt.ctypes.data,
        None if bias is None else bias.ctypes.data,
        out.ctypes.data,
        n,
        hp,
        wp,
        c,
        oh,
        ow,
        o,
        wt.shape[-1],
        kh,
        kw,
        *stride,
        threads(work),
    )
    return out


def _same_dtype(*arrays) -> bool:
    first = arrays[0].dtype
    return first in (np.float32, np.float64) and all(
        a is None or a.dtype == first for a in arrays
    )


def _applies(x, filters, bias=None, stride=(1, 1), *args, **kwargs) -> bool:
    # no dilation or groups: the ops pass those only when they are not 1
    plain = "dilation" not in kwargs and "groups" not in kwargs
    return plain and tuple(stride) == (1, 1) and _same_dtype(x, filters, bias)


def _applies_backward(g, x, filters, stride, *args, **kwargs) -> bool:
    plain = "dilation" not in kwargs and "groups" not in kwargs
    return plain and tuple(stride) == (1, 1) and _same_dtype(g, x, filters)


_USES = ("gn_direct_pack", "gn_direct_fwd", "gn_direct_wgrad")


@variant("conv2d", applies=_applies, uses=_USES, **_AGREE)
def conv2d_direct(
    x, filters, bias=None, stride=(1, 1), pads=((0, 0), (0, 0)), saved=None
):
    """The direct kernel; keeps its packed input in ``saved`` for the filter grad."""
    n, c, h, w = x.shape
    o, _, kh, kw = filters.shape
    (pt, pb), (pl, pr) = pads
    hp, wp = h + pt + pb, w + pl + pr
    oh = conv_output_size(h, kh, stride[0], pt, pb)
    ow = conv_output_size(w, kw, stride[1], pl, pr)
    keep = saved is not None and saved.get("filter_grad", False)
    shape = (n, hp, wp, c)
    if keep:  # imported here: importing .conv first would register its variants first
        from .conv import _Kept
    kept = _Kept(n * hp * wp * c, x.dtype) if keep else None
    buffer = kept.array if keep else scratch("direct_x", shape, x.dtype)
    xp = _pack(x, shape, pt, pl, buffer)
    opad = _opad(o, x.dtype)
    wt = np.zeros((kh, kw * c, opad), x.dtype)
    wt[..., :o] = filters.transpose(2, 3, 1, 0).reshape(kh, kw * c, o)
    bp = None
    if bias is not None:
        bp = np.zeros(opad, x.dtype)
        bp[:o] = bias
    out = np.empty((n, o, oh, ow), x.dtype)
    _conv(xp, wt, bp, out, o, kh, kw, stride)
    if keep:
        saved["direct"] = (kept, shape)
    return out


@variant("conv2d_backward", applies=_applies_backward, uses=_USES, **_AGREE)
def conv2d_backward_direct(
    g, x, filters, stride, pads, need=(True, True, True), saved=None
):
    """dx by the direct kernel on g and the flipped filters; dW by its own kernel."""
    n, c, h, w = x.shape
    o, _, kh, kw = filters.shape
    (pt, pb), (pl, pr) = pads
    _, _, oh, ow = g.shape
    dx = dw = db = gp = None
    opad = _opad(o, x.dtype)
    top, left = kh - 1 - pt, kw - 1 - pl
    if need[0]:  # input → the filters: g (padded) convolved with them flipped
        cpad = _opad(c, x.dtype)
        shape = (n, h + kh - 1, w + kw - 1, o)
        gp = _pack(g, shape, top, left, scratch("direct_g", shape, g.dtype))
        wt = np.zeros((kh, kw * o, cpad), x.dtype)
        wt[..., :c] = (
            filters[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(kh, kw * o, c)
        )
        dx = _conv(gp, wt, None, np.empty(x.shape, x.dtype), c, kh, kw, (1, 1))
    if need[1]:  # filters → the windows of the packed input
        kept = None if saved is None else saved.get("direct")
        shape = (n, h + pt + pb, w + pl + pr, c)
        if kept is not None and kept[1] == shape:
            xp = kept[0].array.reshape(shape)
        else:
            xp = _pack(x, shape, pt, pl, scratch("direct_x", shape, x.dtype))
        inside = min(top, left, kh - 1 - pb, kw - 1 - pr) >= 0
        if gp is not None and o == opad and inside:
            gt, rows = gp[:, top:, left:], gp.shape[1:3]  # g inside its padded copy
        else:
            gshape = (n, oh, ow, opad)
            gt = _pack(g, gshape, 0, 0, scratch("direct_gt", gshape, g.dtype))
            rows = (oh, ow)
        dwt = np.empty((kh, kw * c, opad), x.dtype)
        dbp = np.empty(opad, x.dtype) if need[2] else None  # summed with dwt
        work = n * oh * ow * opad * kh * kw * c
        _fn("gn_direct_wgrad", x.dtype)(
            xp.ctypes.data,
            gt.ctypes.data,
            dwt.ctypes.data,
            None if dbp is None else dbp.ctypes.data,
            n,
            *shape[1:],
            oh,
            ow,
            *rows,
            opad,
            kh,
            kw,
            *stride,
            threads(work),
        )
        dw = dwt[..., :o].reshape(kh, kw, c, o).transpose(3, 2, 0, 1)
        db = None if dbp is None else dbp[:o]
    elif need[2]:  # bias → 1
        db = g.sum(axis=(0, 2, 3))
    return dx, dw, db
