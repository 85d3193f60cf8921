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

__all__ = ["cross_entropy", "binary_cross_entropy", "nll_loss", "kl_div", "BCE_EPS"]

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


def _check_reduction(where: str, reduction: str, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(
            f"{where}: reduction must be one of {', '.join(map(repr, allowed))}; "
            f"got {reduction!r}."
        )


def _reduce(where, losses: np.ndarray, reduction: str, dtype, n=None) -> np.ndarray:
    """Sum, mean (the sum divided by ``n``, the number of losses by default) or none."""
    if reduction == "none":
        return losses
    if losses.size == 0:
        raise ShapeError(f"{where}: cannot reduce the loss of an empty batch.")
    if reduction == "mean" and n is None:
        return kernels.mean(losses)
    total = np.asarray(np.add.reduce(losses, axis=None), dtype=dtype)
    if reduction == "sum":
        return total
    if not n > 0:
        raise DataError(
            f"{where}: the weights of the batch's targets sum to {n}, so there is "
            "nothing to average (every label ignored, or all their weights 0); "
            "use reduction='sum', or check ignore_index and weight."
        )
    return np.asarray(total / np.dtype(dtype).type(n))


def _scale(g: np.ndarray, reduction: str, n: int) -> np.ndarray:
    """d(reduced loss)/d(each sample's loss), shaped to multiply per-sample rows."""
    if reduction == "none":
        return g
    return kernels.mean_backward(g, n) if reduction == "mean" else g


# --- cross-entropy ---------------------------------------------------------------


def _labels(
    where: str, target: np.ndarray, n_classes: int, ignore_index=None
) -> np.ndarray:
    """Class labels as an integer array, each checked to lie in [0, n_classes)
    (or to equal ``ignore_index``)."""
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
    if ignore_index is not None:
        labels = np.where(labels == ignore_index, 0, labels)
    # One check for both ends: seen as unsigned, a negative label is huge. And
    # ufunc.reduce directly: the ndarray.max wrapper doubles the cost here.
    if labels.size and np.maximum.reduce(labels.view(np.uintp)) >= n_classes:
        bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
        i = int(bad[0])
        raise DataError(
            f"{where}: label {labels[i]} (at flat index {i}) is outside [0, C) for the "
            f"C = {n_classes} classes the logits' last axis holds ({bad.size} bad "
            f"label(s) in all). Check the labels, or the size of the last layer."
            + ("" if ignore_index is None else f" (ignore_index is {ignore_index}.)")
        )
    return labels


def _class_axis(where: str, x: Tensor, target, what: str):
    """The target's array; checks that x has a last axis of classes and that the
    target holds labels of shape ``x.shape[:-1]`` or rows of x's own shape."""
    z = x.data
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ShapeError(
            f"{where}: {what} need a last axis of classes, e.g. shape (N, C); "
            f"got shape {shape_str(z.shape)}."
        )
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    batch_shape = z.shape[:-1]
    if t.shape != batch_shape and t.shape != z.shape:
        hint = ""
        if t.shape == batch_shape + (1,):
            hint = " For class labels drop the last axis: target.reshape(-1)."
        raise ShapeError(
            f"{where}: {what} of shape {shape_str(z.shape)} need targets of shape "
            f"{shape_str(batch_shape)} (class labels) or {shape_str(z.shape)} (one-hot "
            f"rows or probabilities); got {shape_str(t.shape)}.{hint}"
        )
    return t


def _check_weight(where: str, weight, n_classes: int, dtype):
    """Class weights as an array of ``dtype``: one finite value >= 0 per class."""
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.shape != (n_classes,) or w.dtype.kind not in "iuf":
        raise ShapeError(
            f"{where}: weight must hold one number per class, shape ({n_classes},) "
            f"for these {n_classes} classes; got shape {shape_str(w.shape)}."
        )
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise DataError(f"{where}: class weights must be finite and >= 0; got {w}.")
    return w.astype(dtype)


def _target_rows(where, t, n_classes, dtype, weight, ignore_index, smoothing):
    """Labels -> the target rows of ``kernels.loss.class_targets``, and the weight
    each label carries in a mean (PyTorch's: Σ of w_y over labels not ignored)."""
    labels = _labels(where, t, n_classes, ignore_index)
    keep = None if ignore_index is None else t.reshape(-1) != ignore_index
    rows = kernels.loss.class_targets(
        labels, n_classes, np.dtype(dtype), weight, smoothing, keep
    )
    per_label = np.ones(len(labels)) if weight is None else weight[labels]
    return rows, float(np.add.reduce(per_label if keep is None else per_label[keep]))


def _cross_entropy(
    logits,
    target,
    reduction: str = "mean",
    where: str = "cross_entropy",  # or the Loss: formatted only in an error message
    weight=None,
    ignore_index=None,
    smoothing: float = 0.0,
) -> Tensor:
    _check_reduction(where, reduction)
    logits = _float_prediction(where, logits, "logits")
    z = logits.data
    t = _class_axis(where, logits, target, "logits")
    n_classes = z.shape[-1]
    batch_shape = z.shape[:-1]
    weight = _check_weight(where, weight, n_classes, z.dtype)
    if t.shape == z.shape:
        if weight is not None or smoothing:
            # PyTorch's rule for probability rows: smooth them, weigh each class.
            w = 1.0 if weight is None else weight
            target = as_tensor(target, logits) * (w * (1 - smoothing)) + (
                w * (smoothing / n_classes)
            )
        return _cross_entropy_soft(logits, target, reduction, where)
    if weight is not None or ignore_index is not None or smoothing:
        rows, n = _target_rows(
            where, t, n_classes, z.dtype, weight, ignore_index, smoothing
        )
        return _cross_entropy_soft(logits, rows.reshape(z.shape), reduction, where, n=n)

    labels = _labels(where, t, n_classes)
    losses, e, total, flat = kernels.cross_entropy(z.reshape(-1, n_classes), labels)
    out = _reduce(where, losses.reshape(batch_shape), reduction, z.dtype)
    n = losses.size

    def backward(g):
        # Local derivative: softmax(z) − onehot(y), the guess minus the truth.
        de_dl = _scale(g, reduction, n).reshape(-1, 1)  # (M, 1), or (1, 1) if reduced
        return (kernels.cross_entropy_backward(e, total, flat, de_dl).reshape(z.shape),)

    return make_result(out, (logits,), backward)


def _cross_entropy_soft(
    logits: Tensor, target, reduction: str, where: str, n=None
) -> Tensor:
    """Cross-entropy against target rows t, −Σ t·log softmax(z); a mean divides by
    ``n`` (default: the number of rows). Formula: ``kernels.loss.soft_cross_entropy``."""
    t = as_tensor(target, logits)
    z, tv = logits.data, t.data
    if tv.dtype != z.dtype:
        tv = tv.astype(z.dtype)
    n_classes = z.shape[-1]
    z2, t2 = z.reshape(-1, n_classes), tv.reshape(-1, n_classes)
    losses, logp, p = kernels.loss.soft_cross_entropy(z2, t2)
    out = _reduce(where, losses.reshape(z.shape[:-1]), reduction, z.dtype, n)
    n = losses.size if n is None else n

    def backward(g):
        # Local derivatives: softmax(z)·Σt − t for the logits (softmax − t when the
        # row sums to 1), and −log softmax(z) for the targets.
        de_dl = _scale(g, reduction, n).reshape(-1, 1)
        de_dz = de_dt = None
        if logits.requires_grad:
            de_dz = kernels.loss.soft_cross_entropy_backward(p, t2, de_dl)
            de_dz = de_dz.reshape(z.shape)
        if t.requires_grad:
            de_dt = (logp * -de_dl).reshape(z.shape)
        return de_dz, de_dt

    return make_result(out, (logits, t), backward)


def cross_entropy(
    logits,
    target,
    reduction: str = "mean",
    *,
    weight=None,
    ignore_index=None,
    label_smoothing: float = 0.0,
) -> Tensor:
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
    weight : array_like of shape (C,), optional
        Class weights (PyTorch's ``weight``): a position with label y counts
        ``w_y`` times. The mean then divides by the sum of the weights of the
        labels, ``Σ w_y``, not by N; for probability rows, by N.
    ignore_index : int, optional
        Positions whose label equals it add nothing, and do not count in the
        mean (e.g. padding in a batch of sequences). Labels only.
    label_smoothing : float in [0, 1]
        ε: the target of a label y becomes ``(1 − ε) onehot(y) + ε / C``
        (rows are smoothed the same way), which stops the network from
        pushing its logits ever further apart.

    Returns
    -------
    Tensor
        A scalar, or per-position losses for ``reduction="none"``.

    Notes
    -----
    Local derivative (the one-node backward): with p = softmax(z),
    ``d loss/dz = (p − onehot(y)) / N`` for labels, and ``(p·Σt − t) / N``
    for probability rows t. With a target Tensor that requires a gradient,
    it receives ``−log p / N``. With weights, ignored labels or smoothing the
    labels become target rows first
    (:func:`glassnet.kernels.loss.class_targets`), and the rows' formula applies.

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
    return _cross_entropy(
        logits,
        target,
        reduction,
        "cross_entropy",
        weight,
        ignore_index,
        label_smoothing,
    )


# --- binary cross-entropy --------------------------------------------------------


def _binary_cross_entropy(
    prediction,
    target,
    from_logits: bool = False,
    reduction: str = "mean",
    where: str = "binary_cross_entropy",
    pos_weight=None,
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
    if pos_weight is not None:
        pos_weight = _pos_weight(where, pos_weight, from_logits, xv)
    if from_logits:
        losses = kernels.loss.bce_logits(xv, tv, pos_weight)
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
        if from_logits:
            # Local derivative: σ(x) − t, the guess minus the truth (for w = 1).
            dl_dx, dl_dt = kernels.loss.bce_logits_backward(xv, tv, pos_weight)
        if x.requires_grad:
            if from_logits:
                de_dx = dl_dx * de_dl
            else:
                # Local derivative: (p − t) / (p(1 − p)), taken at the clipped p,
                # so a saturated 0 or 1 is still pushed back (a strict clip gives 0).
                de_dx = (pc - tv) / (pc * (1 - pc)) * de_dl
        if t.requires_grad:
            de_dt = (dl_dt if from_logits else log_q - log_p) * de_dl
        return de_dx, de_dt

    return make_result(out, (x, t), backward)


def _pos_weight(where: str, pos_weight, from_logits: bool, x: np.ndarray):
    if not from_logits:
        raise ValueError(
            f"{where}: pos_weight needs from_logits=True (as PyTorch's "
            "BCEWithLogitsLoss): give the raw scores, without a final Sigmoid."
        )
    w = np.asarray(pos_weight)
    if w.ndim > 1 or (w.ndim == 1 and (x.ndim == 0 or w.shape[0] != x.shape[-1])):
        raise ShapeError(
            f"{where}: pos_weight must be one number, or one per output (shape "
            f"({x.shape[-1] if x.ndim else 1},)); got shape {shape_str(w.shape)}."
        )
    if w.dtype.kind not in "iuf" or not np.all(np.isfinite(w) & (w >= 0)):
        raise DataError(f"{where}: pos_weight must be finite and >= 0; got {w}.")
    return w.astype(x.dtype)


def binary_cross_entropy(
    p, target, from_logits: bool = False, reduction: str = "mean", *, pos_weight=None
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
    pos_weight : float or array of shape (C,), optional
        With ``from_logits=True``: the weight w of the positive targets,
        ``−w·t·log p − (1 − t)·log(1 − p)``; w > 1 trades precision for
        recall (PyTorch's ``pos_weight``; e.g. negatives / positives).

    Notes
    -----
    From probabilities, p is first clipped to [BCE_EPS, 1 − BCE_EPS] with
    ``BCE_EPS = 1e-7``, so a wrong p of exactly 0 or 1 costs about 16
    instead of infinity. Probabilities outside [0, 1] are an error, not clipped.

    Local derivatives: ``(p − t) / (p(1 − p))`` for probabilities (at the
    clipped p) and ``sigmoid(x) − t`` for logits, divided by the number of
    elements for the mean. From logits the formula and its derivatives are
    :func:`glassnet.kernels.loss.bce_logits` and ``bce_logits_backward``.

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
        p, target, from_logits, reduction, "binary_cross_entropy", pos_weight
    )


# --- negative log-likelihood and KL divergence, on log-probabilities ---------------


def nll_loss(
    log_probs, target, reduction: str = "mean", *, weight=None, ignore_index=None
) -> Tensor:
    """Negative log-likelihood ``−w_y · log_probs[y]`` of log-probabilities, one node.

    Cross-entropy split in two: ``nll_loss(log_softmax(z), y)`` equals
    ``cross_entropy(z, y)``. Labels, ``weight``, ``ignore_index`` and the
    reductions are those of :func:`cross_entropy` (a mean divides by Σ w_y).

    Parameters
    ----------
    log_probs : Tensor, shape (..., C)
        Log-probabilities, e.g. the output of a LogSoftmax layer.
    target : array_like of int, shape ``log_probs.shape[:-1]``
        Class labels in [0, C) (or equal to ``ignore_index``).

    Notes
    -----
    With t the rows of :func:`glassnet.kernels.loss.class_targets` (w_y at
    the label, 0 elsewhere) each loss is −Σ_j t_j x_j; local derivative −t.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> from glassnet.ops.loss import nll_loss
    >>> logp = gn.tensor(np.log([[0.5, 0.25, 0.25]]))
    >>> round(nll_loss(logp, [0]).item(), 4)  # −log 0.5
    0.6931
    """
    where = "nll_loss"
    _check_reduction(where, reduction)
    x = _float_prediction(where, log_probs, "log-probabilities")
    t = _class_axis(where, x, target, "log-probabilities")
    c = x.shape[-1]
    if t.shape == x.shape:
        raise ShapeError(
            f"{where}: targets must be class labels of shape {shape_str(x.shape[:-1])}; "
            f"got rows of shape {shape_str(t.shape)}. For probability rows use "
            "cross_entropy or kl_div."
        )
    w = _check_weight(where, weight, c, x.dtype)
    rows, n = _target_rows(where, t, c, x.dtype, w, ignore_index, 0.0)
    rows = rows.reshape(x.shape)
    losses = -(rows * x.data).sum(axis=-1)
    out = _reduce(where, losses, reduction, x.dtype, n if reduction == "mean" else None)

    def backward(g):
        # Local derivative: −t, minus the (weighted) one-hot row of the label.
        return (rows * -_scale(g, reduction, n)[..., None],)

    return make_result(out, (x,), backward)


def kl_div(
    log_probs, target, reduction: str = "batchmean", *, log_target: bool = False
) -> Tensor:
    """Kullback-Leibler divergence KL(target ‖ q) with q = exp(log_probs), one node.

    PyTorch's ``kl_div`` conventions: the prediction is *log*-probabilities;
    the target probabilities (or log-probabilities with ``log_target=True``).
    Pointwise ``t · (log t − x)``, 0 where t = 0
    (:func:`glassnet.kernels.loss.kl_div`).

    Parameters
    ----------
    log_probs : Tensor
        log q, any shape; rows are distributions along the last axis.
    target : array_like, the same shape
        Probabilities t (or log t with ``log_target``). It gets no gradient.
    reduction : {"batchmean", "sum", "mean", "none"}
        "batchmean" (default) divides the sum by the batch size (the first
        axis): the true KL per sample. "mean" divides by the number of
        *elements*, which is PyTorch's default and is KL / C.

    Notes
    -----
    Local derivative: −t (−e^t with ``log_target``).

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> from glassnet.ops.loss import kl_div
    >>> q = gn.tensor(np.log([[0.5, 0.5]]))
    >>> round(kl_div(q, [[0.9, 0.1]]).item(), 4)  # 0.9 log 1.8 + 0.1 log 0.2
    0.3681
    """
    where = "kl_div"
    _check_reduction(where, reduction, ("batchmean", *_REDUCTIONS))
    x = _float_prediction(where, log_probs, "log-probabilities")
    tv = np.asarray(target.data if isinstance(target, Tensor) else target)
    if tv.shape != x.shape:
        raise ShapeError(
            f"{where}: log-probabilities have shape {shape_str(x.shape)} but the "
            f"target has shape {shape_str(tv.shape)}; they must match exactly."
        )
    tv = tv.astype(x.dtype, copy=False)
    if not log_target and tv.size and (tv.min() < 0 or not np.isfinite(tv).all()):
        raise DataError(
            f"{where}: target probabilities must be finite and >= 0; got values "
            f"from {tv.min()} to {tv.max()}. For log-probabilities pass "
            "log_target=True."
        )
    losses = kernels.loss.kl_div(x.data, tv, log_target)
    n = None
    if reduction == "batchmean":
        reduction, n = "mean", (x.shape[0] if x.ndim else 1)
    out = _reduce(where, losses, reduction, x.dtype, n)
    n = losses.size if n is None else n

    def backward(g):
        # Local derivative: −t, minus the target probability.
        return (
            kernels.loss.kl_div_backward(x.data, tv, log_target)
            * _scale(g, reduction, n),
        )

    return make_result(out, (x,), backward)


def _reshape_hint(pred_shape: tuple, target_shape: tuple) -> str:
    """A fix for the usual mismatch: one side has an extra trailing axis of size 1."""
    if pred_shape == target_shape + (1,):
        fix = "target.reshape(-1, 1)" if len(target_shape) == 1 else "target[..., None]"
        return f" Give the target the prediction's shape, e.g. {fix}."
    if target_shape == pred_shape + (1,):
        fix = "target.reshape(-1)" if len(pred_shape) == 1 else "target[..., 0]"
        return f" Give the target the prediction's shape, e.g. {fix}."
    return ""
