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

from .. import kernels
from .._validate import (
    check_conv_input,
    check_conv_weights,
    check_padding,
    is_int,
    to_pair,
)
from ..errors import ConfigError
from ..kernels.conv import conv_output_size
from ..tensor import Tensor, as_tensor, is_grad_enabled, make_result
from .conv_match import match

__all__ = [
    "check_padding",
    "conv1d",
    "conv2d",
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
    x: Tensor, weight: Tensor, bias, stride: tuple, padding, spatial: int, where: str
) -> Tensor:
    """The one graph node behind :func:`conv1d`, :func:`conv2d` and the layers.

    ``stride`` is a resolved pair; ``padding`` 'valid', 'same', an int or a
    pair, resolved here against the input size. 1-D runs as 2-D with height 1.
    """
    check_conv_weights(where, weight, bias, spatial)
    if x.ndim == spatial + 2:
        pad_in = padding if isinstance(padding, tuple) else (padding,) * spatial
        pads = tuple(
            resolve_padding(p, f, s, n)
            for p, f, s, n in zip(
                pad_in, weight.shape[2:], stride[-spatial:], x.shape[2:]
            )
        )
    else:
        pads = ((0, 0),) * spatial
    check_conv_input(where, x.shape, weight.shape, pads, spatial)
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
    out = kernels.call("conv2d", xd, wd, bd, stride, pads, saved=saved)

    def backward(g):
        # weights → the patches, bias → 1, input → the weights (kernels.conv)
        if spatial == 1:
            g = g[:, :, None, :]
        dx, dw, db = kernels.call(
            "conv2d_backward", g, xd, wd, stride, pads, need, saved=saved
        )
        if spatial == 1:
            dx = None if dx is None else dx[:, :, 0, :]
            dw = None if dw is None else dw[:, :, 0, :]
        return (dx, dw) if bias is None else (dx, dw, db)

    parents = (x, weight) if bias is None else (x, weight, bias)
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
    x = as_tensor(x)
    weight = as_tensor(weight, x)
    bias = None if bias is None else as_tensor(bias, x)
    return conv_nd(x, weight, bias, stride, padding, 2, where)


def conv1d(x, weight, bias=None, stride=1, padding=0) -> Tensor:
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
    if not (is_int(stride) and stride >= 1):
        raise ConfigError(
            f"{where}: stride must be a positive integer; got {stride!r}."
        )
    padding = check_padding(where, padding, 1)
    x = as_tensor(x)
    weight = as_tensor(weight, x)
    bias = None if bias is None else as_tensor(bias, x)
    return conv_nd(x, weight, bias, (1, int(stride)), padding, 1, where)
