"""Convolution: one small filter matched against every patch of an image.

A convolution slides each of its filters (the seeds' *features*) over the
input. At each position it multiplies the filter with the patch under it,
pixel by pixel and channel by channel, and adds the products up, plus a
bias. Like every deep-learning library, the filter is not flipped (strictly
this is cross-correlation). Shapes: input x (N, C, H, W), filters
(O, C/groups, fh, fw), bias (O,), output (N, O, oh, ow); ``stride`` (sh,
sw); ``pads`` ((top, bottom), (left, right)) zeros added around each map;
``dilation`` (dh, dw) the step between a filter's taps (a dilated filter
spans d·(f - 1) + 1 pixels); ``groups``: the channels are split into
``groups`` equal blocks and output block g sees only input block g
(``groups`` = C: a depthwise convolution, one filter per channel).

The reference, :func:`conv2d` and :func:`conv2d_backward`, is the textbook
im2col: every patch copied into one row of a patch matrix, then one matrix
product. Read it for the formula and its derivative. The transposed
convolution (:func:`glassnet.ops.conv.conv_transpose2d`) has no kernel of its
own: its forward pass is :func:`conv2d_backward`'s input gradient, and its
backward pass is :func:`conv2d` and the filter gradient.

The faster layouts (variants of these kernels, with their declared
agreement) are in :mod:`glassnet.kernels.variants.conv`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _draw, register

__all__ = [
    "conv2d",
    "conv2d_backward",
    "conv_output_size",
]


def conv_output_size(
    size: int, filt: int, stride: int, before: int, after: int, dilation: int = 1
) -> int:
    """Positions along one axis: floor((size + before + after - span) / stride) + 1,
    span = dilation·(filt - 1) + 1 the pixels a filter covers."""
    return (size + before + after - dilation * (filt - 1) - 1) // stride + 1


# --- the reference: im2col, one product ------------------------------------------


def _im2col(x, fh, fw, stride, pads, dilation=(1, 1)):
    """Patch matrix (N·oh·ow, C·fh·fw): row (n, i, j) is output (i, j)'s patch."""
    (pt, pb), (pl, pr), (dh, dw) = *pads, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    span = (dh * (fh - 1) + 1, dw * (fw - 1) + 1)
    windows = sliding_window_view(xp, span, axis=(2, 3))[..., ::dh, ::dw]
    windows = windows[:, :, :: stride[0], :: stride[1]]  # (N, C, oh, ow, fh, fw)
    n, c, oh, ow = windows.shape[:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * fh * fw)


def _conv_args(draw):
    """Batch 1 and odd sizes, strides 1-3, padding up to and past the filter
    (a window all padding), 16 channels (a filter row of 64+ weights: the wide
    layout's one-row-per-product case), non-contiguous inputs; sometimes
    dilation 1-3 and groups (up to depthwise), given only then (the keywords'
    presence is what the fast layouts decline)."""
    st = _draw._st()
    dt = _draw.dtype(draw)
    extra = {}
    if draw(st.booleans()):
        extra["dilation"] = (_draw.size(draw, 1, 3), _draw.size(draw, 1, 3))
        extra["groups"] = draw(st.sampled_from([1, 2, 3]))
    groups = extra.get("groups", 1)
    n, o = _draw.size(draw, 1, 3), groups * _draw.size(draw, 1, 4)
    c = groups * draw(st.sampled_from([1, 2, 3, 16]))
    fh, fw = _draw.size(draw, 1, 4), _draw.size(draw, 1, 5)
    stride = (draw(st.sampled_from([1, 1, 2, 3])), draw(st.sampled_from([1, 1, 2, 3])))
    pads = tuple(
        (_draw.size(draw, 0, f + 1), _draw.size(draw, 0, f + 1)) for f in (fh, fw)
    )
    span = [d * (f - 1) + 1 for d, f in zip(extra.get("dilation", (1, 1)), (fh, fw))]
    low = [max(1, s - p0 - p1) for s, (p0, p1) in zip(span, pads)]
    h, w = (_draw.size(draw, lo, max(lo, 8)) for lo in low)
    x = _draw.array(draw, (n, c, h, w), dt)
    filters = _draw.array(draw, (o, c // groups, fh, fw), dt)
    bias = _draw.array(draw, (o,), dt) if draw(st.booleans()) else None
    return (x, filters, bias, stride, pads), extra


def _forward_args(draw):
    return _conv_args(draw)


def _by_group(a, b, groups, a_t=False, b_t=False):
    """[a_g @ b_g for each group g], a and b split into ``groups`` column blocks
    (rows, when transposed by ``_t``), joined column-wise: a grouped product."""
    a_g, b_g = np.split(a, groups, axis=1), np.split(b, groups, axis=1)
    parts = [(p.T if a_t else p) @ (q.T if b_t else q) for p, q in zip(a_g, b_g)]
    return parts[0] if groups == 1 else np.concatenate(parts, axis=0 if a_t else 1)


@register("conv2d", args=_forward_args)
def conv2d(
    x,
    filters,
    bias=None,
    stride=(1, 1),
    pads=((0, 0), (0, 0)),
    saved=None,
    *,
    dilation=(1, 1),
    groups=1,
):
    """y[n, o, i, j] = b[o] + Σ_{c,a,b'} W[o, c, a, b'] · x_p[n, c, i', j'].

    i' = i·sh + a·dh and j' = j·sw + b'·dw; x_p is x with ``pads`` zeros
    around each map; c runs over the input channels of o's group. As one product: every patch of x_p is a row of the
    patch matrix P (N·oh·ow, C·fh·fw), and y = P @ W₂ᵀ + b with W₂ the filters
    as (O, C·fh·fw) -- per group, with P's and W₂'s columns of that group.
    ``saved``: a dict a faster variant may fill with what its backward
    reuses; ignored here.
    """
    o, _, fh, fw = filters.shape
    patches = _im2col(x, fh, fw, stride, pads, dilation)
    y = _by_group(patches, filters.reshape(o, -1).T, groups)  # (N·oh·ow, O)
    if bias is not None:
        y += bias
    n = x.shape[0]
    oh = conv_output_size(x.shape[2], fh, stride[0], *pads[0], dilation[0])
    ow = conv_output_size(x.shape[3], fw, stride[1], *pads[1], dilation[1])
    return np.ascontiguousarray(y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))


def _backward_args(draw):
    (x, filters, bias, stride, pads), extra = _conv_args(draw)
    y = conv2d(x, filters, bias, stride, pads, **extra)
    need = tuple(draw(_draw._st().booleans()) for _ in range(3))
    return (_draw.like(draw, y), x, filters, stride, pads, need), extra


@register("conv2d_backward", args=_backward_args)
def conv2d_backward(
    g,
    x,
    filters,
    stride,
    pads,
    need=(True, True, True),
    saved=None,
    *,
    dilation=(1, 1),
    groups=1,
):
    """(dx, dW, db) from g = d(loss)/d(y); None for what ``need`` leaves out.

    With g₂ = g as (N·oh·ow, O), the local derivatives of y = P @ W₂ᵀ + b
    (each product per group, as in :func:`conv2d`):

    * filters → the patches:  dW₂ = g₂ᵀ @ P
    * bias → 1:               db = Σ g₂ over samples and positions
    * input → the filters:    dP = g₂ @ W₂, and each patch's gradient is
      added back onto the pixels it was copied from (col2im: a loop over
      the fh·fw filter offsets, not over pixels); the padding's share is
      dropped. Only x's shape is read for dx: the transposed convolution
      passes a stand-in.
    """
    (o, _, fh, fw), c = filters.shape, x.shape[1]
    n, _, oh, ow = g.shape
    g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)
    w2 = filters.reshape(o, -1)
    dx = dw = db = None
    if need[1]:
        patches = _im2col(x, fh, fw, stride, pads, dilation)
        dw = _by_group(g2, patches, groups, a_t=True).reshape(filters.shape)
    if need[2]:
        db = g2.sum(axis=0)
    if need[0]:
        d_patches = _by_group(g2, w2.T, groups, b_t=True)
        d_patches = d_patches.reshape(n, oh, ow, c, fh, fw)
        (pt, pb), (pl, pr) = pads
        h, w = x.shape[2:]
        dxp = np.zeros((n, c, h + pt + pb, w + pl + pr), d_patches.dtype)
        (sh, sw), (dh, dw_) = stride, dilation
        for a in range(fh):
            for b in range(fw):
                rows_, cols_ = (
                    slice(a * dh, a * dh + sh * (oh - 1) + 1, sh),
                    slice(b * dw_, b * dw_ + sw * (ow - 1) + 1, sw),
                )
                dxp[:, :, rows_, cols_] += d_patches[..., a, b].transpose(0, 3, 1, 2)
        dx = dxp[:, :, pt : pt + h, pl : pl + w]
    return dx, dw, db
