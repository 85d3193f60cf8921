"""Reductions (sum, mean, max, min) and the normalising softmax family.

``axis`` may be None (all axes), an int or a tuple of ints, negative counting
from the end, as in NumPy. The backward of a reduction spreads the output's
gradient back over the elements that were reduced.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
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


def _moments(op, x, axis, ddof):
    """(x, x − mean, n − ddof, reduced axes) for var and std, checked."""
    x = as_tensor(x)
    axes = normalize_axes(op, axis, x.ndim)
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise ShapeError(f"{op}: ddof must be an integer >= 0; got {ddof!r}.")
    n = int(np.prod([x.shape[ax] for ax in axes]))
    if n - ddof <= 0:
        raise ShapeError(
            f"{op}: needs more than ddof={ddof} values over axis {axis!r}; "
            f"a tensor of shape {shape_str(x.shape)} has {n} there."
        )
    return x, x.data - x.data.mean(axis=axes, keepdims=True), n - int(ddof), axes


def var(x, axis=None, ddof=0, keepdims=False) -> Tensor:
    """Variance Σ(x − mean)² / (n − ddof) over ``axis`` (ddof=1: sample variance).

    Local derivative: 2(x − mean) / (n − ddof) (the mean's own dependence on
    x drops out, because the deviations sum to 0).
    """
    x, centred, dof, axes = _moments("var", x, axis, ddof)
    kept = np.square(centred).sum(axis=axes, keepdims=True) / dof
    out = kept if keepdims else np.squeeze(kept, axis=axes)
    return make_result(
        out, (x,), lambda g: (g.reshape(kept.shape) * centred * (2.0 / dof),)
    )


def std(x, axis=None, ddof=0, keepdims=False) -> Tensor:
    """Standard deviation √var over ``axis``.

    Local derivative: (x − mean) / ((n − ddof) · std); where std is 0 (all
    values equal, where √ has no derivative) it is taken as 0, not 0/0.
    """
    x, centred, dof, axes = _moments("std", x, axis, ddof)
    s = np.sqrt(np.square(centred).sum(axis=axes, keepdims=True) / dof)

    def backward(g):
        scale = np.zeros(s.shape, s.dtype)
        np.divide(g.reshape(s.shape), s * dof, out=scale, where=s > 0)
        return (centred * scale,)

    return make_result(s if keepdims else np.squeeze(s, axis=axes), (x,), backward)


def prod(x, axis=None, keepdims=False) -> Tensor:
    """Product of the values over ``axis``.

    Local derivative: the product of the *other* values in the slice. As y/x
    it would divide by zero, so zeros are counted: with none in the slice it
    is y/x; with one, that zero's slot gets the product of the rest and the
    other slots 0; with two or more, every slot gets 0.

    >>> import glassnet as gn
    >>> x = gn.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> x.prod().backward()
    >>> x.grad
    array([0., 6., 0.], dtype=float32)
    """
    x = as_tensor(x)
    axes = normalize_axes("prod", axis, x.ndim)
    kept = np.prod(x.data, axis=axes, keepdims=True)

    def backward(g):
        zero = x.data == 0
        zeros = zero.sum(axis=axes, keepdims=True)
        rest = np.prod(np.where(zero, 1, x.data), axis=axes, keepdims=True)
        others = np.zeros_like(x.data)
        np.divide(rest, x.data, out=others, where=~zero & (zeros == 0))
        others = np.where(zero & (zeros == 1), rest, others)
        return (g.reshape(kept.shape) * others,)

    out = kept if keepdims else np.squeeze(kept, axis=axes)
    return make_result(out, (x,), backward)


def cumsum(x, axis=-1) -> Tensor:
    """Running sum along ``axis``: y_i = x_0 + ... + x_i.

    Local derivative: x_i feeds every y_j with j >= i, so its gradient is
    the running sum of g taken from the end (reverse, cumsum, reverse).
    """
    x = as_tensor(x)
    ax = _check_axis("cumsum", x, axis)
    rev = (slice(None),) * ax + (slice(None, None, -1),)
    out = np.cumsum(x.data, axis=ax)
    return make_result(out, (x,), lambda g: (np.cumsum(g[rev], axis=ax)[rev],))


def logsumexp(x, axis=None, keepdims=False) -> Tensor:
    """y = log Σ e^x over ``axis``, stably: :func:`glassnet.kernels.reduce.logsumexp`.

    Local derivative: e^(x − y), the softmax of x over the same axes.
    """
    x = as_tensor(x)
    axes = normalize_axes("logsumexp", axis, x.ndim)
    if x.size == 0:
        raise ShapeError(
            f"logsumexp: cannot reduce an empty tensor of shape {shape_str(x.shape)}."
        )
    y = kernels.logsumexp(x.data, axes)
    out = y if keepdims else np.squeeze(y, axis=axes)
    return make_result(out, (x,), lambda g: (g.reshape(y.shape) * np.exp(x.data - y),))


def _arg(op, pick, x, axis, keepdims) -> Tensor:
    x = as_tensor(x)
    if x.size == 0:
        raise ShapeError(
            f"{op}: cannot search an empty tensor of shape {shape_str(x.shape)}."
        )
    if axis is not None:
        axis = _check_axis(op, x, axis)
    return Tensor(np.asarray(pick(x.data, axis=axis, keepdims=keepdims)))


def argmax(x, axis=None, keepdims=False) -> Tensor:
    """Index of the largest value along ``axis`` (in the flattened tensor for None).

    Returns an integer Tensor with ``requires_grad=False``: an index has no
    derivative, so no gradient flows back through it. Ties give the first.
    """
    return _arg("argmax", np.argmax, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False) -> Tensor:
    """Index of the smallest value along ``axis``; no gradient, as :func:`argmax`."""
    return _arg("argmin", np.argmin, x, axis, keepdims)
