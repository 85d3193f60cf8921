"""Activation functions and their local derivatives: the one place they are written.

Each forward takes the pre-activation ``x``; each ``*_backward`` takes the
incoming gradient ``g`` and what the forward kept (the output, or ReLU's mask)
and returns ``g`` times the local derivative. ``out=`` (and ``work=``) are
optional buffers of the result's shape and dtype.
"""

from __future__ import annotations

import numpy as np

from . import _draw, native, register, variant


def _one(draw):
    x = _draw.array(
        draw,
        _draw.shape(draw, ndim=(0, 3)),
        scale=draw(_draw._st().sampled_from([1, 30, 1e3])),
    )
    return (x,), {}


def _grad_and(output):
    def args(draw):
        (x,), _ = _one(draw)
        return (_draw.like(draw, x), output(x)), {}

    return args


# --- sigmoid -----------------------------------------------------------------------


@register("sigmoid", args=_one, outs=("out",))
def sigmoid(x, out=None):
    """s = 1 / (1 + e^−x), in 4 array operations.

    Where x < −88 (float32; −709 in float64) e^−x overflows to infinity and
    1 / (1 + ∞) = 0, which is the right answer: the overflow warning is
    silenced, so |x| up to 1e4 and beyond is quiet.
    """
    s = np.negative(
        x, out=np.empty_like(x) if out is None else out
    )  # 0-d stays an array
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    np.add(s, 1, out=s)
    return np.reciprocal(s, out=s)


@register(
    "sigmoid_backward",
    args=_grad_and(sigmoid),
    outs=("out",),
    scratch=lambda a: {"work": np.empty_like(a["s"])},
)
def sigmoid_backward(g, s, out=None, work=None):
    """g · s(1 − s), from the forward's output s."""
    d = np.multiply(g, s, out=out)
    return np.multiply(d, np.subtract(1, s, out=work), out=out)


# --- tanh --------------------------------------------------------------------------


@register("tanh", args=_one, outs=("out",))
def tanh(x, out=None):
    """y = tanh(x) = (e^x − e^−x) / (e^x + e^−x), squashing into (−1, 1)."""
    return np.tanh(x, out=out)


@register("tanh_backward", args=_grad_and(tanh), outs=("out",))
def tanh_backward(g, y, out=None):
    """g · (1 − y²), from the forward's output y."""
    d = np.subtract(1, np.multiply(y, y, out=out), out=out)
    return np.multiply(g, d, out=out)


# --- ReLU --------------------------------------------------------------------------


def _relu_args(draw):
    (x,), _ = _one(draw)
    if draw(_draw._st().booleans()):
        x[...] = np.round(x)  # exact zeros, and -0.0
    return (x,), {}


@register("relu", args=_relu_args, outs=("out", "mask"))
def relu(x, out=None, mask=None):
    """(y, mask): mask = [x > 0], y = x · mask.

    A negative x gives −0.0; NaN stays NaN (it is never positive).
    """
    mask = np.greater(x, 0, out=mask)
    return np.multiply(x, mask, out=out), mask


def _contiguous(*arrays) -> bool:
    return all(
        a is None or (isinstance(a, np.ndarray) and a.flags.c_contiguous)
        for a in arrays
    )


@variant(
    "relu",
    uses=("gn_relu_fwd",),
    applies=lambda x, out=None, mask=None: _contiguous(x, out, mask),
)
def relu_c(x, out=None, mask=None):
    """_native/elementwise.c: the output and the mask in one pass."""
    out = np.empty_like(x) if out is None else out
    mask = np.empty(x.shape, bool) if mask is None else mask  # C writes 0 or 1 bytes
    native("gn_relu_fwd", x.dtype)(
        x.ctypes.data, out.ctypes.data, mask.ctypes.data, x.size
    )
    return out, mask


def _relu_backward_args(draw):
    (x,), _ = _relu_args(draw)
    return (_draw.like(draw, x), relu(x)[1]), {}


@register("relu_backward", args=_relu_backward_args, outs=("out",))
def relu_backward(g, mask, out=None):
    """g · mask, with the forward's mask [x > 0]."""
    return np.multiply(g, mask, out=out)


@variant(
    "relu_backward",
    uses=("gn_relu_bwd",),
    applies=lambda g, mask, out=None: (
        _contiguous(g, mask, out) and mask.dtype == bool and mask.shape == g.shape
    ),
)
def relu_backward_c(g, mask, out=None):
    """_native/elementwise.c: one pass."""
    out = np.empty_like(g) if out is None else out
    native("gn_relu_bwd", g.dtype)(
        g.ctypes.data, mask.ctypes.data, out.ctypes.data, g.size
    )
    return out
