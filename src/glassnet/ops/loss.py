"""Fused losses: each one graph node whose backward is written out by hand.

Cross-entropy could be built from ``log_softmax``, indexing and ``mean``, but
it runs on every training step, and as one node its backward collapses to a
famous short formula: the predicted probabilities minus the true ones,
``(softmax(z) − onehot(y)) / N``. Binary cross-entropy from logits collapses
the same way to ``sigmoid(x) − t``.

Both ops keep the dtype of the prediction (float32 stays float32 throughout)
and are quiet for logits in the thousands: nothing is exponentiated that
could overflow, and no log is taken of an underflowed 0.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validate import shape_str
from ..errors import DataError, DTypeError, ShapeError
from ..tensor import Tensor, as_tensor, make_result
from .reduce import row_sums

__all__ = ["cross_entropy", "binary_cross_entropy", "BCE_EPS"]

#: Probabilities are clipped to [BCE_EPS, 1 − BCE_EPS] before their log is
#: taken, so a confident wrong answer of exactly 0 or 1 costs about 16
#: (−log 1e-7), not infinity. In float32, 1 − 1e-7 rounds to 1 − 1.19e-7,
#: still below 1.
BCE_EPS = 1e-7

_REDUCTIONS = ("mean", "sum", "none")


def _float_prediction(where: str, x, what: str) -> Tensor:
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        raise DTypeError(
            f"{where}: {what} must be floats (float32 or float64); got dtype "
            f"{x.dtype}. Cast with .astype(np.float32)."
        )
    return x


def _check_reduction(where: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{where}: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}; "
            f"got {reduction!r}."
        )


def _reduce(where, losses: np.ndarray, reduction: str, dtype) -> np.ndarray:
    if reduction == "none":
        return losses
    if losses.size == 0:
        raise ShapeError(f"{where}: cannot reduce the loss of an empty batch.")
    if reduction == "mean":
        return kernels.mean(losses)
    return np.asarray(np.add.reduce(losses, axis=None), dtype=dtype)


def _scale(g: np.ndarray, reduction: str, n: int) -> np.ndarray:
    """d(reduced loss)/d(each sample's loss), shaped to multiply per-sample rows."""
    if reduction == "none":
        return g
    return kernels.mean_backward(g, n) if reduction == "mean" else g


# --- cross-entropy ---------------------------------------------------------------


def _row_sums(a: np.ndarray) -> np.ndarray:
    """Σ over the last axis of a 2-D array, as a column (M, 1): see ``reduce.row_sums``."""
    return row_sums(a)[:, None]


def _labels(where: str, target: np.ndarray, n_classes: int) -> np.ndarray:
    """Class labels as an integer array, each checked to lie in [0, n_classes)."""
    if target.dtype.kind == "f":
        whole = np.isfinite(target) & (target == np.round(target))
        if not whole.all():
            i = int(np.flatnonzero(~whole.reshape(-1))[0])
            raise DataError(
                f"{where}: class labels must be whole numbers; got "
                f"{target.reshape(-1)[i]} at flat index {i}. For probability targets "
                "give one row per sample with one entry per class."
            )
    elif target.dtype.kind not in "iub":
        raise DTypeError(
            f"{where}: class labels must be integers; got dtype {target.dtype}."
        )
    labels = target.reshape(-1).astype(np.intp, copy=False)
    # One check for both ends: seen as unsigned, a negative label is huge. And
    # ufunc.reduce directly: the ndarray.max wrapper doubles the cost here.
    if labels.size and np.maximum.reduce(labels.view(np.uintp)) >= n_classes:
        bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
        i = int(bad[0])
        raise DataError(
            f"{where}: label {labels[i]} (at flat index {i}) is outside [0, C) for the "
            f"C = {n_classes} classes the logits' last axis holds ({bad.size} bad "
            f"label(s) in all). Check the labels, or the size of the last layer."
        )
    return labels


def _cross_entropy(
    logits, target, reduction: str = "mean", where: str = "cross_entropy"
) -> Tensor:
    _check_reduction(where, reduction)
    logits = _float_prediction(where, logits, "logits")
    z = logits.data
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ShapeError(
            f"{where}: logits need a last axis of classes, e.g. shape (N, C); "
            f"got shape {shape_str(z.shape)}."
        )
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    n_classes = z.shape[-1]
    batch_shape = z.shape[:-1]
    if t.shape == z.shape:
        return _cross_entropy_soft(logits, target, reduction, where)
    if t.shape != batch_shape:
        hint = ""
        if t.shape == batch_shape + (1,):
            hint = " For class labels drop the last axis: target.reshape(-1)."
        raise ShapeError(
            f"{where}: logits of shape {shape_str(z.shape)} need targets of shape "
            f"{shape_str(batch_shape)} (class labels) or {shape_str(z.shape)} (one-hot "
            f"rows or probabilities); got {shape_str(t.shape)}.{hint}"
        )

    labels = _labels(where, t, n_classes)
    losses, e, total, flat = kernels.cross_entropy(z.reshape(-1, n_classes), labels)
    out = _reduce(where, losses.reshape(batch_shape), reduction, z.dtype)
    n = losses.size

    def backward(g):
        # Local derivative: softmax(z) − onehot(y), the guess minus the truth.
        de_dl = _scale(g, reduction, n).reshape(-1, 1)  # (M, 1), or (1, 1) if reduced
        return (kernels.cross_entropy_backward(e, total, flat, de_dl).reshape(z.shape),)

    return make_result(out, (logits,), backward)


def _cross_entropy_soft(logits: Tensor, target, reduction: str, where: str) -> Tensor:
    """Cross-entropy against one-hot rows or probability rows t: −Σ t·log softmax(z)."""
    t = as_tensor(target, logits)
    z, tv = logits.data, t.data
    if tv.dtype != z.dtype:
        tv = tv.astype(z.dtype)
    n_classes = z.shape[-1]
    z2, t2 = z.reshape(-1, n_classes), tv.reshape(-1, n_classes)
    logp = z2 - z2.max(axis=1, keepdims=True)
    e = np.exp(logp)
    total = _row_sums(e)
    logp -= np.log(total)  # now log softmax(z)
    losses = -_row_sums(t2 * logp)[:, 0]
    out = _reduce(where, losses.reshape(z.shape[:-1]), reduction, z.dtype)
    n = losses.size

    def backward(g):
        # Local derivatives: softmax(z)·Σt − t for the logits (softmax − t when the
        # row sums to 1), and −log softmax(z) for the targets.
        de_dl = _scale(g, reduction, n).reshape(-1, 1)
        de_dz = de_dt = None
        if logits.requires_grad:
            de_dz = e * (_row_sums(t2) * de_dl / total)
            de_dz -= t2 * de_dl
            de_dz = de_dz.reshape(z.shape)
        if t.requires_grad:
            de_dt = (logp * -de_dl).reshape(z.shape)
        return de_dz, de_dt

    return make_result(out, (logits, t), backward)


def cross_entropy(logits, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of ``logits`` against ``target``, as one graph node.

    The loss of one sample is ``−log softmax(z)[y]``: minus the log of the
    probability the network gave the true class. It is computed by
    log-sum-exp, ``log Σ_j exp(z_j − m) − (z_y − m)`` with ``m = max_j z_j``,
    so logits of size 1e3 (float32) give finite losses and gradients.

    Parameters
    ----------
    logits : Tensor, shape (..., C)
        Raw scores, one per class (no softmax applied): (N, C) for a batch,
        (N, T, C) for a sequence with a prediction at every step.
    target : array_like or Tensor
        Either class labels of shape ``logits.shape[:-1]`` (integers, or floats
        holding whole numbers) in [0, C), or one-hot / probability rows of the
        same shape as ``logits``. The shape decides which.
    reduction : {"mean", "sum", "none"}
        "mean" averages over every labelled position (N, or N·T for
        sequences); "none" returns the losses of shape ``logits.shape[:-1]``.

    Returns
    -------
    Tensor
        A scalar, or per-position losses for ``reduction="none"``.

    Notes
    -----
    Local derivative (the one-node backward): with p = softmax(z),
    ``d loss/dz = (p − onehot(y)) / N`` for labels, and ``(p·Σt − t) / N``
    for probability rows t. With a target Tensor that requires a gradient,
    it receives ``−log p / N``.

    Raises
    ------
    ShapeError
        Targets that fit neither shape.
    DataError
        A label outside [0, C), naming the label and C.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> from glassnet.ops.loss import cross_entropy
    >>> z = gn.tensor([[0.0, 0.0]], requires_grad=True)
    >>> loss = cross_entropy(z, np.array([1]))
    >>> round(loss.item(), 4)  # log 2: a coin toss between two classes
    0.6931
    >>> loss.backward()
    >>> z.grad
    array([[ 0.5, -0.5]], dtype=float32)
    """
    return _cross_entropy(logits, target, reduction, "cross_entropy")


# --- binary cross-entropy --------------------------------------------------------


def _binary_cross_entropy(
    prediction,
    target,
    from_logits: bool = False,
    reduction: str = "mean",
    where: str = "binary_cross_entropy",
) -> Tensor:
    _check_reduction(where, reduction)
    what = "logits" if from_logits else "probabilities"
    x = _float_prediction(where, prediction, what)
    t = as_tensor(target, x)
    if t.shape != x.shape:
        raise ShapeError(
            f"{where}: prediction has shape {shape_str(x.shape)} but target has shape "
            f"{shape_str(t.shape)}; they must match exactly."
            + _reshape_hint(x.shape, t.shape)
        )
    xv, tv = x.data, t.data
    if tv.dtype != xv.dtype:
        tv = tv.astype(xv.dtype)
    if tv.size and (tv.min() < 0 or tv.max() > 1):
        raise DataError(
            f"{where}: targets must lie in [0, 1]; got values from {tv.min()} to "
            f"{tv.max()}. For more than two classes use cross_entropy."
        )
    if from_logits:
        # Stable form of −t·log σ(x) − (1−t)·log(1−σ(x)): no exp of a positive number.
        z = np.exp(-np.abs(xv))
        losses = np.maximum(xv, 0) - xv * tv + np.log1p(z)
    else:
        if xv.size and (xv.min() < 0 or xv.max() > 1):
            raise DataError(
                f"{where}: probabilities must lie in [0, 1]; got values from "
                f"{xv.min()} to {xv.max()}. If the model ends without a sigmoid, pass "
                "from_logits=True."
            )
        eps = xv.dtype.type(BCE_EPS)
        pc = np.clip(xv, eps, 1 - eps)
        log_p, log_q = np.log(pc), np.log1p(-pc)
        losses = -(tv * log_p + (1 - tv) * log_q)
    out = _reduce(where, losses, reduction, xv.dtype)
    n = losses.size

    def backward(g):
        de_dl = _scale(g, reduction, n)
        de_dx = de_dt = None
        if x.requires_grad:
            if from_logits:
                # Local derivative: σ(x) − t, the guess minus the truth.
                de_dx = (kernels.sigmoid(xv) - tv) * de_dl
            else:
                # Local derivative: (p − t) / (p(1 − p)), taken at the clipped p,
                # so a saturated 0 or 1 is still pushed back (a strict clip gives 0).
                de_dx = (pc - tv) / (pc * (1 - pc)) * de_dl
        if t.requires_grad:
            de_dt = (-xv if from_logits else log_q - log_p) * de_dl
        return de_dx, de_dt

    return make_result(out, (x, t), backward)


def binary_cross_entropy(
    p, target, from_logits: bool = False, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy ``−t·log p − (1 − t)·log(1 − p)``, as one graph node.

    Parameters
    ----------
    p : Tensor
        Probabilities in [0, 1] (after a sigmoid); or, with
        ``from_logits=True``, the raw scores x with p = sigmoid(x).
    target : array_like or Tensor, same shape as ``p``
        Truths in [0, 1]: usually 0 or 1. No broadcasting: a prediction of
        shape (N, 1) needs targets of shape (N, 1).
    from_logits : bool
        Take raw scores. This is the stable choice: the loss is computed as
        ``max(x, 0) − x·t + log(1 + exp(−|x|))``, finite for any x.
    reduction : {"mean", "sum", "none"}
        Average (default) or sum over every element, or return them all.

    Notes
    -----
    From probabilities, p is first clipped to [BCE_EPS, 1 − BCE_EPS] with
    ``BCE_EPS = 1e-7``, so a wrong p of exactly 0 or 1 costs about 16
    instead of infinity. Probabilities outside [0, 1] are an error, not clipped.

    Local derivatives: ``(p − t) / (p(1 − p))`` for probabilities (at the
    clipped p) and ``sigmoid(x) − t`` for logits, divided by the number of
    elements for the mean.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.ops.loss import binary_cross_entropy
    >>> p = gn.tensor([0.5, 0.9])
    >>> round(binary_cross_entropy(p, [1.0, 1.0]).item(), 4)  # −(log 0.5 + log 0.9) / 2
    0.3993
    >>> x = gn.tensor([0.0, 1000.0])
    >>> round(binary_cross_entropy(x, [1.0, 0.0], from_logits=True).item(), 4)
    500.3466
    """
    return _binary_cross_entropy(
        p, target, from_logits, reduction, "binary_cross_entropy"
    )


def _reshape_hint(pred_shape: tuple, target_shape: tuple) -> str:
    """A fix for the usual mismatch: one side has an extra trailing axis of size 1."""
    if pred_shape == target_shape + (1,):
        fix = "target.reshape(-1, 1)" if len(target_shape) == 1 else "target[..., None]"
        return f" Give the target the prediction's shape, e.g. {fix}."
    if target_shape == pred_shape + (1,):
        fix = "target.reshape(-1)" if len(pred_shape) == 1 else "target[..., 0]"
        return f" Give the target the prediction's shape, e.g. {fix}."
    return ""
