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
from .activations import log_softmax, sigmoid, softplus
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
    # The row maxima, as the maxima of zᵀ's columns: NumPy reduces across rows
    # with vector instructions and along each short row one number at a time,
    # so for a few classes a copy of zᵀ first is 1.6x (32x10) to 10x (1024x10)
    # faster. The same numbers: a maximum does not round.
    zt = z.T.copy() if c <= 32 else z.T
    out = getattr(shift, "T", None)  # a buffer (M, 1) seen as (1, M), or None
    shift = np.maximum.reduce(zt, axis=0, keepdims=True, out=out).T
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


# --- cross-entropy against target rows: soft labels, class weights, smoothing ----------


def _soft_args(draw):
    st = _draw._st()
    (z, labels), _ = _ce_args(draw)
    t = np.abs(_draw.like(draw, z, layout="contiguous"))
    return (z, t / draw(st.sampled_from([1.0, 3.0]))), {}


@register("soft_cross_entropy", args=_soft_args)
def soft_cross_entropy(z, t):
    """(losses (M,), log p, p): loss_i = −Σ_j t_ij log p_ij, p = softmax(z) by rows.

    ``t`` (M, C) holds target rows: one-hot, probabilities, or any weights
    (:func:`class_targets` builds them from labels). log p is
    :func:`glassnet.kernels.activations.log_softmax`.
    """
    logp = log_softmax(z, axis=1)
    return -row_sums(t * logp), logp, np.exp(logp)


def _soft_backward_args(draw):
    (z, t), _ = _soft_args(draw)
    return (soft_cross_entropy(z, t)[2], t, _draw.array(draw, (len(z), 1), z.dtype)), {}


@register("soft_cross_entropy_backward", args=_soft_backward_args)
def soft_cross_entropy_backward(p, t, dl):
    """dz = (p · Σ_j t_ij − t) · dl: the guess minus the truth when a row sums to 1.

    ``dl`` (M, 1) is d(loss)/d(each row's loss). (d loss_i / d t_ij = −log p_ij.)
    """
    return (p * row_sums(t)[:, None] - t) * dl


def _targets_args(draw):
    st = _draw._st()
    (z, labels), _ = _ce_args(draw)
    c = z.shape[1]
    weight = draw(st.sampled_from([None, np.abs(_draw.array(draw, (c,), z.dtype))]))
    keep = np.array(draw(st.lists(st.booleans(), min_size=len(z), max_size=len(z))))
    return (labels, c, z.dtype), {
        "weight": weight,
        "smoothing": draw(st.sampled_from([0.0, 0.1, 1.0])),
        "keep": draw(st.sampled_from([None, keep])),
    }


@register("class_targets", args=_targets_args)
def class_targets(labels, n_classes, dtype, weight=None, smoothing=0.0, keep=None):
    """Target rows (M, C) for labels (M,): ``t_ij = w_j ((1 − ε)[j = y_i] + ε / C)``.

    ε is the label smoothing (0: one-hot rows), w the class weights (None:
    all 1); rows where ``keep`` is False (ignored labels) are all 0. Each
    row's loss with :func:`soft_cross_entropy` is then PyTorch's:
    ``(1 − ε) w_y (−log p_y) + (ε / C) Σ_j w_j (−log p_j)``.
    """
    t = np.full((len(labels), n_classes), smoothing / n_classes, dtype)
    t[np.arange(len(labels)), labels] += dtype.type(1 - smoothing)
    if weight is not None:
        t *= weight
    if keep is not None:
        t[~keep] = 0
    return t


# --- binary cross-entropy from logits, with a weight on the positives -------------------


def _bce_args(draw):
    st = _draw._st()
    x = _draw.array(draw, _draw.shape(draw), scale=draw(st.sampled_from([1, 100])))
    t = np.round(np.abs(_draw.like(draw, x)) / 2).clip(0, 1).astype(x.dtype)
    pos_weight = draw(st.sampled_from([None, 0.5, 3.0]))
    return (x, t), {"pos_weight": pos_weight}


@register("bce_logits", args=_bce_args)
def bce_logits(x, t, pos_weight=None):
    """−w t log σ(x) − (1 − t) log(1 − σ(x)) for logits x, targets t in [0, 1].

    w is ``pos_weight`` (None: 1), the weight of the positive targets. With
    −log σ(x) = softplus(−x) and −log(1 − σ(x)) = x + softplus(−x) it is
    ``(1 − t) x + (1 + (w − 1) t) softplus(−x)``: stable for any x.
    """
    w = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
    return (1 - t) * x + w * softplus(-x, threshold=np.inf)  # exact: no cut-off


@register("bce_logits_backward", args=_bce_args)
def bce_logits_backward(x, t, pos_weight=None):
    """(d/dx, d/dt) of :func:`bce_logits`: ``(1 − t) − w σ(−x)`` (σ(x) − t for
    w = 1: the guess minus the truth), and ``−x + (w − 1) softplus(−x)``."""
    if pos_weight is None:
        return sigmoid(x) - t, -x
    w = 1 + (pos_weight - 1) * t
    dl_dt = (pos_weight - 1) * softplus(-x, threshold=np.inf) - x
    return (1 - t) - w * sigmoid(-x), dl_dt


# --- Kullback-Leibler divergence ------------------------------------------------------


def _kl_args(draw):
    st = _draw._st()
    x = _draw.array(draw, _draw.shape(draw), scale=draw(st.sampled_from([1, 100])))
    t = np.abs(_draw.like(draw, x))
    t[t < 0.3] = 0  # exact zeros: 0 · log 0 counts 0
    log_target = draw(st.booleans())
    return (x, np.log(t + 1e-3) if log_target else t), {"log_target": log_target}


@register("kl_div", args=_kl_args)
def kl_div(x, t, log_target=False):
    """Pointwise t (log t − x) for log-probabilities x and probabilities t
    (0 where t = 0); ``log_target``: t holds log-probabilities, e^t (t − x).

    Summed, it is KL(t ‖ e^x) = Σ t log(t / q). Local derivative d/dx:
    −t (−e^t with ``log_target``); see :func:`kl_div_backward`.
    """
    if log_target:
        return np.exp(t) * (t - x)
    positive = t > 0
    return np.where(positive, t * (np.log(np.where(positive, t, 1)) - x), 0 * x)


@register("kl_div_backward", args=_kl_args)
def kl_div_backward(x, t, log_target=False):
    """d/dx of :func:`kl_div`: −t, or −e^t with ``log_target``."""
    return -np.exp(t) if log_target else -t
