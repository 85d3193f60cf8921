"""Ops that move values around without changing them.

Their local derivative is "put each gradient back where its value came
from": reshape it back, transpose it back, scatter it back into the slots
an index read from.
"""

from __future__ import annotations

import numpy as np

from .._validate import shape_str
from ..errors import ShapeError
from ..tensor import Tensor, as_tensor, make_result
from .reduce import normalize_axes


def reshape(x, *shape) -> Tensor:
    """The same values in a new shape (one axis may be -1).  Backward: reshape back."""
    x = as_tensor(x)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        out = x.data.reshape(shape)
    except (ValueError, TypeError):
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {shape_str(x.shape)} "
            f"({x.size} values) into {tuple(shape)}."
        ) from None
    return make_result(out, (x,), lambda g: (g.reshape(x.shape),))


def transpose(x, *axes) -> Tensor:
    """Reorder the axes (all reversed when none are given), as ``np.transpose``.

    Backward: apply the inverse permutation.
    """
    x = as_tensor(x)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(range(x.ndim))[::-1]
    norm = [normalize_axes("transpose", a, x.ndim)[0] for a in axes]
    if sorted(norm) != list(range(x.ndim)):
        raise ShapeError(
            f"transpose: axes {tuple(axes)} are not a permutation of the "
            f"{x.ndim} axes of a tensor of shape {shape_str(x.shape)}."
        )
    inverse = np.argsort(norm)
    return make_result(x.data.transpose(norm), (x,), lambda g: (g.transpose(inverse),))


permute = transpose


def _index_part(part):
    """One part of an index, with lists, tuples and Tensors made into arrays.

    NumPy reads a list or tuple inside an index key as an integer (or
    boolean) array; making that explicit lets backward see every part that
    can name a slot twice. An empty list is an empty integer index, as in NumPy.
    """
    if isinstance(part, Tensor):
        return part.data
    if isinstance(part, (list, tuple)):
        arr = np.asarray(part)
        return arr.astype(np.intp) if arr.size == 0 and arr.dtype.kind == "f" else arr
    return part


def _normalize_index(index):
    """``index`` with every advanced part an array; a tuple stays a tuple."""
    if isinstance(index, tuple):
        return tuple(_index_part(p) for p in index)
    return _index_part(index)


def _may_repeat(index) -> bool:
    """True unless ``index`` provably reads each slot of x at most once.

    Ints, slices, None, Ellipsis and one boolean mask read a slot at most
    once; an integer array can name a slot twice (``x[:, [0, 0]]``), and so
    can a boolean mask broadcast against another array part.
    """
    parts = index if isinstance(index, tuple) else (index,)
    arrays = [p for p in parts if isinstance(p, np.ndarray) and p.ndim > 0]
    return len(arrays) > 1 or any(p.dtype.kind != "b" for p in arrays)


def getitem(x, index) -> Tensor:
    """``x[index]`` with NumPy semantics: ints, slices, boolean masks, integer arrays.

    Integer indices may be arrays, lists or tuples, alone or inside a tuple
    key with slices, ``None`` and ``...``.

    Backward: scatter the gradient into a zero tensor of x's shape, at the
    slots the index read. An integer index may name the same slot twice
    (``x[[0, 0, 1]]``, ``x[:, [0, 0]]``); then that slot's gradients are
    added together (``np.add.at``).
    """
    x = as_tensor(x)
    index = _normalize_index(index)
    try:
        out = x.data[index]
    except IndexError as e:
        raise ShapeError(
            f"indexing a tensor of shape {shape_str(x.shape)}: {e}"
        ) from None
    repeats = _may_repeat(index)

    def backward(g):
        grad = np.zeros(x.shape, dtype=g.dtype)
        if repeats:
            np.add.at(grad, index, g)
        else:
            grad[index] = g  # each slot read once at most
        return (grad,)

    return make_result(np.asarray(out), (x,), backward)


def concatenate(tensors, axis=0) -> Tensor:
    """Join tensors along an existing axis.  Backward: cut the gradient into the same pieces."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ShapeError("concatenate: needs at least one tensor.")
    ax = normalize_axes("concatenate", axis, ts[0].ndim)[0]
    try:
        out = np.concatenate([t.data for t in ts], axis=ax)
    except ValueError:
        shapes = ", ".join(shape_str(t.shape) for t in ts)
        raise ShapeError(
            f"concatenate: along axis {axis}, all other axes must match; got {shapes}."
        ) from None
    ends = np.cumsum([t.shape[ax] for t in ts])

    def backward(g):
        return tuple(np.split(g, ends[:-1], axis=ax))

    return make_result(out, tuple(ts), backward)


def stack(tensors, axis=0) -> Tensor:
    """Join same-shaped tensors along a new axis.  Backward: take each slice back out."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ShapeError("stack: needs at least one tensor.")
    if any(t.shape != ts[0].shape for t in ts):
        shapes = ", ".join(shape_str(t.shape) for t in ts)
        raise ShapeError(f"stack: all tensors must have the same shape; got {shapes}.")
    ax = normalize_axes("stack", axis, ts[0].ndim + 1)[0]
    out = np.stack([t.data for t in ts], axis=ax)

    def backward(g):
        return tuple(np.moveaxis(g, ax, 0))

    return make_result(out, tuple(ts), backward)


def split(x, indices_or_sections, axis=0) -> list:
    """Cut a tensor into pieces along ``axis``, as ``np.split``.

    Each piece is a slice of x, so its gradient flows back into its place.
    """
    x = as_tensor(x)
    ax = normalize_axes("split", axis, x.ndim)[0]
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n == 0 or n % k:
            raise ShapeError(
                f"split: cannot cut axis {axis} of size {n} into {k} equal pieces."
            )
        bounds = list(range(0, n + 1, n // k))
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    pieces = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        index = (slice(None),) * ax + (slice(start, stop),)
        pieces.append(getitem(x, index))
    return pieces
