"""Softmax cross-entropy with class labels, and its gradient: the one place written.

For logits z (M, C) and labels y (M,) the loss of row i is
``−log softmax(z_i)[y_i]``, computed by log-sum-exp with the row's maximum
subtracted first, so nothing that is exponentiated is positive (no overflow)::

    loss_i = log Σ_j e^(z_ij − m_i) − (z_iy − m_i),   m_i = max_j z_ij
    dz_i   = (softmax(z_i) − onehot(y_i)) · dl_i       (the guess minus the truth)

The labels must already be checked to lie in [0, C) (:mod:`glassnet.ops.loss`
does that and says which one is wrong).
"""

from __future__ import annotations

import numpy as np

from . import _draw, register
from .linear import row_sums

_STARTS: dict = {}


def _ce_args(draw):
    st = _draw._st()
    m, c = _draw.size(draw), _draw.size(draw, 1, 12)
    z = _draw.array(draw, (m, c), scale=draw(st.sampled_from([1.0, 1e3])))
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=m, max_size=m)))
    return (z, labels), {}


def _ce_scratch(a):
    z = a["z"]
    return {
        "shift": np.empty((len(z), 1), z.dtype),
        "picked": np.empty(len(z), z.dtype),
    }


@register(
    "cross_entropy",
    args=_ce_args,
    outs=("losses", "e", "total", "flat"),
    scratch=_ce_scratch,
)
def cross_entropy(
    z, labels, losses=None, e=None, total=None, shift=None, picked=None, flat=None
):
    """(losses (M,), e, total, flat): the per-row losses and what the gradient needs.

    ``e`` (M, C) is e^(z − max z) and ``total`` (M,) its row sums (softmax =
    e / total); ``flat`` is where each row's label sits in the flattened
    (M, C) array (picking by flat index is several times faster than by
    (row, column) pairs). The other arguments are optional buffers.
    """
    m, c = z.shape
    starts = _STARTS.get((m, c))
    if starts is None:
        if len(_STARTS) > 256:
            _STARTS.clear()
        starts = _STARTS[(m, c)] = np.arange(0, m * c, c)
    flat = starts + labels if flat is None else np.add(starts, labels, out=flat)
    shift = np.maximum.reduce(z, axis=1, keepdims=True, out=shift)
    e = np.subtract(z, shift, out=e)  # <= 0, so exp never overflows
    picked = e.take(flat, out=picked)
    np.exp(e, out=e)
    total = row_sums(e, out=total)
    losses = np.log(total, out=losses)
    np.subtract(losses, picked, out=losses)  # log Σ e^(z − m) − (z_y − m)
    return losses, e, total, flat


def _ce_backward_args(draw):
    st = _draw._st()
    (z, labels), _ = _ce_args(draw)
    _, e, total, flat = cross_entropy(z, labels)
    rows = draw(st.sampled_from([1, len(z)]))  # a mean's 1/M, or one per row
    dl = _draw.array(draw, (rows, 1), z.dtype, layout="contiguous")
    return (e, total, flat, dl), {}


@register(
    "cross_entropy_backward",
    args=_ce_backward_args,
    outs=("out",),
    scratch=lambda a: {"factor": np.empty((len(a["total"]), 1), a["total"].dtype)},
)
def cross_entropy_backward(e, total, flat, dl, out=None, factor=None):
    """dz = (softmax(z) − onehot(y)) · dl, given the forward's e, total, flat.

    ``dl`` (M, 1), or (1, 1) for a mean or sum, is d(loss)/d(each row's loss).
    """
    factor = np.divide(dl, total[:, None], out=factor)
    dz = np.multiply(e, factor, out=out)  # softmax and the chain-rule factor at once
    dz.reshape(-1)[flat] -= dl[:, 0]
    return dz


# --- the mean over a batch, and its derivative ---------------------------------------


def _mean_args(draw):
    return (_draw.array(draw, _draw.shape(draw, ndim=(1, 2))),), {}


@register("mean", args=_mean_args, outs=("out",))
def mean(x, out=None):
    """Σ x / n over every element, as a 0-d array: a batch's mean loss.

    ``np.add.reduce`` rather than ``ndarray.mean``, which is slow on small arrays.
    """
    m = np.add.reduce(x, axis=None) / x.dtype.type(x.size)  # NumPy scalars: fast
    if out is None:
        return np.asarray(m)
    out[...] = m
    return out


def _mean_backward_args(draw):
    st = _draw._st()
    g = _draw.array(draw, (), layout="contiguous")
    return (g, draw(st.integers(1, 100))), {}


@register("mean_backward", args=_mean_backward_args, outs=("out",))
def mean_backward(g, n, out=None):
    """d(mean)/d(each of its n elements) = g / n, for the upstream gradient g."""
    return np.divide(g, g.dtype.type(n), out=out)
