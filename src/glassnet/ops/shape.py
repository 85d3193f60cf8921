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


def squeeze(x, axis=None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``axis``).  Backward: reshape back."""
    x = as_tensor(x)
    axes = normalize_axes("squeeze", axis, x.ndim)
    if axis is None:
        axes = tuple(ax for ax in axes if x.shape[ax] == 1)
    wide = [ax for ax in axes if x.shape[ax] != 1]
    if wide:
        raise ShapeError(
            f"squeeze: axis {wide[0]} of a tensor of shape {shape_str(x.shape)} has "
            f"size {x.shape[wide[0]]}; only size-1 axes can be dropped."
        )
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x, axis) -> Tensor:
    """Insert a size-1 axis at ``axis`` of the result (-1: last).  Backward: reshape back."""
    x = as_tensor(x)
    ax = normalize_axes("unsqueeze", axis, x.ndim + 1)[0]
    return reshape(x, x.shape[:ax] + (1,) + x.shape[ax:])


def flip(x, axis=None) -> Tensor:
    """Reverse the order along ``axis`` (all axes for None).  Backward: flip back."""
    x = as_tensor(x)
    axes = normalize_axes("flip", axis, x.ndim)
    return make_result(np.flip(x.data, axes), (x,), lambda g: (np.flip(g, axes),))


def pad(x, pad_width, value=0.0) -> Tensor:
    """Surround x with ``value`` (constant padding), as ``np.pad(..., 'constant')``.

    ``pad_width`` is an int (every side of every axis), a ``(before, after)``
    pair (every axis), or one pair per axis. Backward: cut the padded
    border off the gradient (the border was a constant).
    """
    x = as_tensor(x)
    try:
        widths = np.broadcast_to(np.asarray(pad_width), (x.ndim, 2))
    except ValueError:
        widths = None
    if widths is None or widths.dtype.kind not in "iu" or np.any(widths < 0):
        raise ShapeError(
            f"pad: pad_width must be an int >= 0, a (before, after) pair or one pair "
            f"per axis of the {x.ndim}-D input; got {pad_width!r}."
        )
    out = np.pad(x.data, widths, constant_values=value)
    inner = tuple(slice(b, b + n) for (b, _), n in zip(widths, x.shape))
    return make_result(out, (x,), lambda g: (g[inner],))


def gather(x, axis, index) -> Tensor:
    """``out[i][j][k] = x[i][index[i][j][k]][k]`` for axis 1: ``torch.gather``.

    ``index`` is an integer array with x's number of axes; along every other
    axis it may be shorter than x (those slots of x are not read). Backward:
    add each gradient into the slot it was read from (``np.add.at``: a slot
    read twice gets both).
    """
    x = as_tensor(x)
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    ax = normalize_axes("gather", axis, max(x.ndim, 1))[0]
    bad = idx.dtype.kind not in "iu" or idx.ndim != x.ndim or x.ndim == 0
    if bad or any(i > n for d, (i, n) in enumerate(zip(idx.shape, x.shape)) if d != ax):
        raise ShapeError(
            f"gather: index must be an integer array with the input's {x.ndim} axes, no "
            f"longer than it except along axis {axis}; got {idx.dtype} "
            f"{shape_str(idx.shape)} for input {shape_str(x.shape)}."
        )
    if idx.size and (idx.min() < -x.shape[ax] or idx.max() >= x.shape[ax]):
        raise ShapeError(
            f"gather: index values must lie in [{-x.shape[ax]}, {x.shape[ax]}) for "
            f"axis {axis} of size {x.shape[ax]}; got {idx.min()} to {idx.max()}."
        )
    slots = list(np.indices(idx.shape, sparse=True))
    slots[ax] = idx
    slots = tuple(slots)

    def backward(g):
        grad = np.zeros(x.shape, g.dtype)
        np.add.at(grad, slots, g)
        return (grad,)

    return make_result(x.data[slots], (x,), backward)
