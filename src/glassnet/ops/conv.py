"""Convolution ops: one small feature matched against every patch of an image.

Graph nodes only: the arguments are checked here (the checks shared with the
layers live in :mod:`glassnet._validate`), the formulas are the kernels of
:mod:`glassnet.kernels.conv` -- the textbook im2col reference, whose
docstring has the local derivatives, and the faster layouts beside it.

A convolution layer slides each of its filters (the seeds' *features*) over
the input; at each position it multiplies the filter with the patch under
it and adds the products up, plus a bias. The public argument is still
called ``kernel_size`` (the API contract, PyTorch's name); inside glassnet
a convolution's weights are its *filters*, and a "kernel" is a formula of
:mod:`glassnet.kernels`.

The seed's hand filtering, :func:`match`, lives in :mod:`.conv_match` and is
re-exported here: ``conv2d(image, feature)`` with no bias equals
``feature.size * match(image, feature)``.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validate import (
    check_conv_input,
    check_conv_weights,
    check_groups,
    check_output_padding,
    check_padding,
    is_int,
    shape_str,
    to_pair,
)
from ..errors import ConfigError, ShapeError
from ..kernels.conv import conv_output_size
from ..tensor import Tensor, as_tensor, is_grad_enabled, make_result
from .conv_match import match

__all__ = [
    "check_padding",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "conv_output_size",
    "match",
    "resolve_padding",
    "to_pair",
]


def resolve_padding(padding, filt: int, stride: int, size: int) -> tuple:
    """Zeros to add (before, after) along one axis.

    'valid' adds none. 'same' adds just enough that the output has
    ``ceil(size / stride)`` positions (``size`` itself for stride 1), the
    odd pixel, if any, going after; an int adds that many on both sides.
    """
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + filt - size, 0)
        return total // 2, total - total // 2
    return padding, padding


def conv_nd(
    x: Tensor,
    weight: Tensor,
    bias,
    stride: tuple,
    padding,
    spatial: int,
    where: str,
    dilation: tuple = (1, 1),
    groups: int = 1,
) -> Tensor:
    """The one graph node behind :func:`conv1d`, :func:`conv2d` and the layers.

    ``stride`` and ``dilation`` are resolved pairs; ``padding`` 'valid',
    'same', an int or a pair, resolved here against the input size. 1-D runs
    as 2-D with height 1.
    """
    check_conv_weights(where, weight, bias, spatial)
    groups = check_groups(where, groups, out_channels=weight.shape[0])
    spans = [d * (f - 1) + 1 for d, f in zip(dilation[-spatial:], weight.shape[2:])]
    if x.ndim == spatial + 2:
        pad_in = padding if isinstance(padding, tuple) else (padding,) * spatial
        pads = tuple(
            resolve_padding(p, f, s, n)
            for p, f, s, n in zip(pad_in, spans, stride[-spatial:], x.shape[2:])
        )
    else:
        pads = ((0, 0),) * spatial
    check_conv_input(where, x.shape, weight.shape, pads, spatial, dilation, groups)
    xd, wd = x.data, weight.data
    if spatial == 1:
        xd, wd = xd[:, :, None, :], wd[:, :, None, :]
        pads = ((0, 0), *pads)
    bd = None if bias is None else bias.data
    need = (
        x.requires_grad,
        weight.requires_grad,
        bias is not None and bias.requires_grad,
    )
    # what the forward's layout keeps for backward (its patches, when dW is wanted)
    saved = {"filter_grad": need[1]} if is_grad_enabled() and any(need) else None
    extra = _extra(dilation, groups)
    out = kernels.call("conv2d", xd, wd, bd, stride, pads, saved=saved, **extra)

    def backward(g):
        # weights → the patches, bias → 1, input → the weights (kernels.conv)
        if spatial == 1:
            g = g[:, :, None, :]
        dx, dw, db = kernels.call(
            "conv2d_backward", g, xd, wd, stride, pads, need, saved=saved, **extra
        )
        if spatial == 1:
            dx = None if dx is None else dx[:, :, 0, :]
            dw = None if dw is None else dw[:, :, 0, :]
        return (dx, dw) if bias is None else (dx, dw, db)

    parents = (x, weight) if bias is None else (x, weight, bias)
    return make_result(out[:, :, 0, :] if spatial == 1 else out, parents, backward)


def _extra(dilation, groups) -> dict:
    """The kernels' dilation/groups keywords, given only when not 1 (the fast
    layouts decline when they are given)."""
    extra = {} if tuple(dilation) == (1, 1) else {"dilation": tuple(dilation)}
    return extra if groups == 1 else {**extra, "groups": groups}


def conv_transpose_nd(
    x, weight, bias, stride, padding, output_padding, dilation, groups, where
) -> Tensor:
    """The graph node of the transposed convolution (2-D; see :func:`conv_transpose2d`).

    Forward is the input gradient of the convolution from the output's
    shape to x's (kernel ``conv2d_backward``); its local derivatives are
    that convolution's forward pass (for x) and filter gradient (for W).
    """
    groups = check_groups(where, groups, in_channels=weight.shape[0])
    c_out = weight.shape[1] * groups if weight.ndim == 4 else None
    if c_out is None or (bias is not None and bias.shape != (c_out,)):
        raise ShapeError(
            f"{where} expected a 4-D weight (in_channels, out_channels/groups, kh, "
            f"kw) and a bias (out_channels,); got {shape_str(weight.shape)} and "
            f"{None if bias is None else shape_str(bias.shape)}."
        )
    if x.ndim != 4 or x.shape[1] != weight.shape[0]:
        raise ShapeError(
            f"{where} expected a 4-D input (batch, {weight.shape[0]}, height, width); "
            f"got shape {shape_str(x.shape)}."
        )
    n, _, h, w = x.shape
    size = [
        (i - 1) * s - 2 * p + d * (f - 1) + q + 1
        for i, s, p, d, f, q in zip(
            (h, w), stride, padding, dilation, weight.shape[2:], output_padding
        )
    ]
    if min(size) < 1:
        raise ShapeError(
            f"{where}: input shape {shape_str(x.shape)} gives an output of "
            f"{size[0]}x{size[1]}; use less padding or a larger input."
        )
    xd, wd = x.data, weight.data
    pads, extra = tuple((p, p) for p in padding), _extra(dilation, groups)
    shape = (n, c_out, *size)
    stand_in = np.broadcast_to(np.zeros((), wd.dtype), shape)  # only its shape is read
    out, _, _ = kernels.call(
        "conv2d_backward", xd, stand_in, wd, stride, pads, (True, False, False), **extra
    )
    if bias is not None:
        out += bias.data.reshape(-1, 1, 1)

    def backward(g):
        # input → the convolution of g; weights → its filter gradient; bias → 1
        dx = dw = None
        if x.requires_grad:
            dx = kernels.call("conv2d", g, wd, None, stride, pads, **extra)
        if weight.requires_grad:
            need = (False, True, False)
            dw = kernels.call("conv2d_backward", xd, g, wd, stride, pads, need, **extra)
        dw = None if dw is None else dw[1]
        return (dx, dw) if bias is None else (dx, dw, g.sum(axis=(0, 2, 3)))

    parents = (x, weight) if bias is None else (x, weight, bias)
    return make_result(out, parents, backward)


# --- public ops ---------------------------------------------------------------------


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation) of a batch of images: one graph node.

    .. math::

        y[n, o, i, j] = b[o] + \\sum_{c, a, b'} W[o, c, a, b'] \\,
                        x_p[n, c, i s_h + a d_h, j s_w + b' d_w]

    where ``x_p`` is ``x`` with zero padding and ``c`` runs over the input
    channels of output ``o``'s group.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, in_channels, height, width)
    weight : Tensor or array_like, shape (out_channels, in_channels/groups, kh, kw)
    bias : Tensor or array_like, shape (out_channels,), optional
    stride : int or (int, int), default 1
    padding : 'valid', 'same', int or (int, int), default 0
        Zeros added around the image. 'same' keeps ``ceil(size / stride)``
        positions (for stride 1, the input's size).
    dilation : int or (int, int), default 1
        Step between a filter's taps: it spans ``d·(k - 1) + 1`` pixels.
    groups : int, default 1
        Split the channels into this many blocks, each convolved on its own
        (``groups = in_channels``: depthwise).

    Returns
    -------
    Tensor, shape (batch, out_channels, out_height, out_width)
        ``out = floor((size + pad_before + pad_after - d·(k-1) - 1) / stride) + 1``.

    Examples
    --------
    The seed's filtering is this op divided by the filter's pixel count:

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
    dilation = to_pair(where, "dilation", dilation)
    x = as_tensor(x)
    weight = as_tensor(weight, x)
    bias = None if bias is None else as_tensor(bias, x)
    return conv_nd(x, weight, bias, stride, padding, 2, where, dilation, groups)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution of a batch of sequences laid out (batch, channels, time).

    .. math:: y[n, o, t] = b[o] + \\sum_{c, a} W[o, c, a] \\, x_p[n, c, t s + a]

    A filter spans every channel, so with one-hot words as channels a
    window covers the whole column of the dictionary and slides along time.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, in_channels, time)
    weight : Tensor or array_like, shape (out_channels, in_channels, k)
    bias : Tensor or array_like, shape (out_channels,), optional
    stride : int, default 1
    padding : 'valid', 'same' or int, default 0
    dilation, groups : int, default 1
        As for :func:`conv2d`, along time.

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
    for name, value in (("stride", stride), ("dilation", dilation)):
        if not (is_int(value) and value >= 1):
            raise ConfigError(
                f"{where}: {name} must be a positive integer; got {value!r}."
            )
    padding = check_padding(where, padding, 1)
    x = as_tensor(x)
    weight = as_tensor(weight, x)
    bias = None if bias is None else as_tensor(bias, x)
    return conv_nd(
        x, weight, bias, (1, int(stride)), padding, 1, where, (1, int(dilation)), groups
    )


def conv_transpose2d(
    x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1
) -> Tensor:
    """Transposed convolution: each input pixel paints a weighted filter on the output.

    .. math::

        y[n, c, i s_h + a d_h - p_h, j s_w + b' d_w - p_w] \\mathrel{+}=
            x[n, o, i, j] \\, W[o, c, a, b']   \\quad (+\\, b[c])

    over the output channels ``c`` of input channel ``o``'s group: the
    adjoint of :func:`conv2d` (its input gradient), which is how it is
    computed. With stride s it enlarges a map about s times (a decoder's
    or U-Net's "up-convolution"); PyTorch's ``ConvTranspose2d``.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, in_channels, height, width)
    weight : Tensor or array_like, shape (in_channels, out_channels/groups, kh, kw)
    bias : Tensor or array_like, shape (out_channels,), optional
    stride, padding, dilation : int or (int, int)
        Those of the convolution it transposes: ``padding`` rows and
        columns are cut from each side of the output.
    output_padding : int or (int, int), default 0
        Extra rows/columns at the bottom/right, smaller than the stride:
        several output sizes convolve back to the same input size.
    groups : int, default 1

    Returns
    -------
    Tensor, shape (batch, out_channels, out_height, out_width)
        ``out = (size - 1)·s - 2p + d·(k - 1) + output_padding + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.ops.conv import conv_transpose2d
    >>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2).data
    array([[[[1., 1., 1., 1.],
             [1., 1., 1., 1.],
             [1., 1., 1., 1.],
             [1., 1., 1., 1.]]]])
    """
    where = "conv_transpose2d"
    stride, dilation = (
        to_pair(where, k, v) for k, v in (("stride", stride), ("dilation", dilation))
    )
    padding = to_pair(where, "padding", padding, minimum=0)
    output_padding = check_output_padding(where, output_padding, stride)
    x = as_tensor(x)
    weight = as_tensor(weight, x)
    bias = None if bias is None else as_tensor(bias, x)
    return conv_transpose_nd(
        x, weight, bias, stride, padding, output_padding, dilation, groups, where
    )
