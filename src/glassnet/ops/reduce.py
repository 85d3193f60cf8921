"""Reductions (sum, mean, max, min) and the normalising softmax family.

``axis`` may be None (all axes), an int or a tuple of ints, negative counting
from the end, as in NumPy. The backward of a reduction spreads the output's
gradient back over the elements that were reduced.
"""

from __future__ import annotations

import numpy as np

from .._validate import shape_str
from ..errors import ShapeError
from ..kernels import activations as _act

# Sums as products with a vector of ones: written once, in the kernels layer.
from ..kernels.linear import column_sums, ones, row_sums  # noqa: F401
from ..tensor import Tensor, as_tensor, make_result

_ALL = tuple(tuple(range(n)) for n in range(8))


def normalize_axes(op: str, axis, ndim: int) -> tuple:
    """``axis`` as a sorted tuple of non-negative ints, checked against ``ndim``."""
    if axis is None:
        return _ALL[ndim] if ndim < len(_ALL) else tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not isinstance(ax, (int, np.integer)) or not -ndim <= ax < ndim:
            raise ShapeError(
                f"{op}: axis {ax!r} is out of range for a {ndim}-D tensor."
            )
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: axis {axis!r} repeats an axis.")
    return tuple(sorted(out))


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    """The output shape with reduced axes kept as size 1 (for broadcasting back)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(g: np.ndarray, kept: tuple, shape: tuple) -> np.ndarray:
    """Copy ``g`` (reduced shape) over every element of ``shape``, as a fresh array.

    ``np.empty`` plus a broadcasting assignment costs well under a
    microsecond for small arrays, where ``np.broadcast_to`` costs several.
    """
    out = np.empty(shape, dtype=g.dtype)
    out[...] = g.reshape(kept)
    return out


def sum(x, axis=None, keepdims=False) -> Tensor:
    """Sum over ``axis``.  Local derivative: sum → 1 for every element summed."""
    x = as_tensor(x)
    axes = normalize_axes("sum", axis, x.ndim)
    if axis is None and not keepdims:
        out = np.asarray(x.data.sum())
    else:
        out = np.asarray(np.sum(x.data, axis=axes, keepdims=keepdims))
    kept = _kept_shape(x.shape, axes)
    return make_result(out, (x,), lambda g: (_spread(g, kept, x.shape),))


def mean(x, axis=None, keepdims=False) -> Tensor:
    """Average over ``axis``.  Local derivative: 1/n for each of the n elements."""
    x = as_tensor(x)
    axes = normalize_axes("mean", axis, x.ndim)
    n = 1
    for ax in axes:
        n *= x.shape[ax]
    if n == 0:
        raise ShapeError(
            f"mean: cannot average over an empty axis of shape {shape_str(x.shape)}."
        )
    if axis is None and not keepdims:
        out = np.asarray(x.data.mean())
    else:
        out = np.asarray(np.mean(x.data, axis=axes, keepdims=keepdims))
    kept = _kept_shape(x.shape, axes)
    scale = 1.0 / n

    def backward(g):
        return (_spread(g * g.dtype.type(scale), kept, x.shape),)

    return make_result(out, (x,), backward)


def _extreme(op: str, pick, x, axis, keepdims) -> Tensor:
    x = as_tensor(x)
    axes = normalize_axes(op, axis, x.ndim)
    if x.size == 0:
        raise ShapeError(
            f"{op}: cannot reduce an empty tensor of shape {shape_str(x.shape)}."
        )
    kept = pick(x.data, axis=axes, keepdims=True)
    out = kept if keepdims else np.squeeze(kept, axis=axes)

    def backward(g):
        # Ties split the gradient evenly among every element equal to the extreme.
        winners = x.data == kept
        share = winners / winners.sum(axis=axes, keepdims=True)
        return (g.reshape(kept.shape) * share.astype(g.dtype, copy=False),)

    return make_result(np.asarray(out), (x,), backward)


def max(x, axis=None, keepdims=False) -> Tensor:
    """Largest value over ``axis``.

    Local derivative: 1 for the element that was largest, 0 for the rest.
    When several elements tie for the largest, each receives an equal share
    (1/k of the gradient for k tied elements), so the total is preserved.
    """
    return _extreme("max", np.max, x, axis, keepdims)


def min(x, axis=None, keepdims=False) -> Tensor:
    """Smallest value over ``axis``; ties share the gradient equally, as in :func:`max`."""
    return _extreme("min", np.min, x, axis, keepdims)


def _check_axis(op: str, x: Tensor, axis: int) -> int:
    if x.ndim == 0:
        raise ShapeError(f"{op}: needs at least a 1-D tensor; got a scalar.")
    return normalize_axes(op, axis, x.ndim)[0]


def softmax_array(v: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax of a NumPy array, stable: subtract the max before exponentiating."""
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


# log(softmax(v)) by log-sum-exp: the formula is kernels.activations.log_softmax.
log_softmax_array = _act.log_softmax


def softmax(x, axis=-1) -> Tensor:
    """exp(x) / Σ exp(x) along ``axis``: turns scores into probabilities.

    Local derivative (the Jacobian applied to g): y · (g − Σ g·y).
    """
    x = as_tensor(x)
    ax = _check_axis("softmax", x, axis)
    y = softmax_array(x.data, ax)

    def backward(g):
        return (y * (g - (g * y).sum(axis=ax, keepdims=True)),)

    return make_result(y, (x,), backward)


def log_softmax(x, axis=-1) -> Tensor:
    """log(softmax(x)) along ``axis``, computed stably by log-sum-exp.

    Local derivative applied to g: g − softmax(x) · Σ g.
    """
    x = as_tensor(x)
    ax = _check_axis("log_softmax", x, axis)
    y = log_softmax_array(x.data, ax)
    return make_result(y, (x,), lambda g: (_act.log_softmax_backward(g, y, ax),))
