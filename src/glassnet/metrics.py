"""Metrics: how good the answers are, in terms people read (pure NumPy).

Losses are what training minimises; metrics are what you report. Seed 001's
first cost is a metric: the share of images the network gets wrong,
:func:`error_rate`. It cannot drive gradient descent (nudging a weight a
little rarely changes which answer wins, so its slope is almost always
zero), but it is the honest score.

Every function accepts NumPy arrays or Tensors, and predictions either as
class labels or as the network's raw outputs:

* scores or probabilities of shape (N, C), or (N, T, C) for sequences: the
  largest entry of each row is the answer (argmax);
* one probability per sample, shape (N,) or (N, 1): above 0.5 means class 1;
* integer labels, shape (N,) (or (N, T)): used as they are.

Targets may be labels or one-hot rows. See :func:`to_labels` for the rules.
"""

from __future__ import annotations

import numpy as np

from ._validate import shape_str
from .errors import DataError, DTypeError, ShapeError
from .tensor import Tensor

__all__ = [
    "to_labels",
    "accuracy",
    "error_rate",
    "confusion_matrix",
    "format_confusion_matrix",
]


def _array(where: str, name: str, x) -> np.ndarray:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise DTypeError(f"{where}: {name} must be numeric; got dtype {arr.dtype}.")
    if arr.ndim == 0:
        raise ShapeError(
            f"{where}: {name} needs one entry per sample; got a single number."
        )
    return arr


def _column_labels(values: np.ndarray, threshold) -> np.ndarray:
    """One number per sample (float): labels if whole and >= 0, else thresholded."""
    if threshold is None:
        if np.all((values == np.round(values)) & (values >= 0)):
            return values.astype(np.int64)
        threshold = 0.5
    return (values > threshold).astype(np.int64)


def to_labels(y, threshold=None) -> np.ndarray:
    """The class label of each sample, from labels, scores or probabilities.

    Parameters
    ----------
    y : array_like or Tensor
        * integer or bool array: already labels, returned as they are (a
          trailing axis of size 1 is dropped);
        * floats with a last axis of size C > 1, e.g. (N, C) or (N, T, C):
          scores, probabilities or one-hot rows; the label is the argmax;
        * floats of shape (N,) or (N, 1): one value per sample. Whole numbers
          >= 0 are read as labels; anything else as the probability of class
          1, which wins when it is above 0.5.
    threshold : float, optional
        Always threshold a single column of floats at this value instead of
        guessing: e.g. ``threshold=0.0`` for logits (raw scores before a
        sigmoid).

    Returns
    -------
    np.ndarray of int64, shape (N,) (or (N, T)).

    Examples
    --------
    >>> from glassnet.metrics import to_labels
    >>> to_labels([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]])
    array([1, 0])
    >>> to_labels([[0.2], [0.9]])
    array([0, 1])
    >>> to_labels([-1.5, 2.0], threshold=0.0)
    array([0, 1])
    """
    arr = _array("to_labels", "y", y)
    if arr.ndim >= 2 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    if arr.ndim >= 2:
        return arr.argmax(axis=-1)
    return _column_labels(arr, threshold)


def _true_and_predicted(where: str, y_true, y_pred, threshold) -> tuple:
    """Both as label arrays of one shape, checked to describe the same samples."""
    t = _array(where, "y_true", y_true)
    p = _array(where, "y_pred", y_pred)
    if len(t) != len(p):
        raise DataError(
            f"{where}: y_true and y_pred must have one entry per sample; y_true has "
            f"{len(t)} (shape {shape_str(t.shape)}) but y_pred has {len(p)} "
            f"(shape {shape_str(p.shape)})."
        )
    pred = to_labels(p, threshold)
    if t.dtype.kind == "f" and t.shape == pred.shape:
        true = _column_labels(t, None)  # float labels, or 0/1 truths, one per position
    else:
        true = to_labels(t)
    if true.shape != pred.shape:
        raise ShapeError(
            f"{where}: y_true of shape {shape_str(t.shape)} and y_pred of shape "
            f"{shape_str(p.shape)} do not give one label per sample each (they give "
            f"{shape_str(true.shape)} and {shape_str(pred.shape)})."
        )
    if true.size == 0:
        raise DataError(f"{where}: no samples to score.")
    return true, pred


def accuracy(y_true, y_pred, threshold=None) -> float:
    """The share of samples whose predicted class is the true class, from 0 to 1.

    Parameters
    ----------
    y_true : array_like or Tensor
        Labels (N,), or one-hot rows (N, C); (N, T) labels for sequences.
    y_pred : array_like or Tensor
        Labels, scores/probabilities (N, C) (argmax), or one probability per
        sample (N,) or (N, 1) (above 0.5 is class 1). See :func:`to_labels`.
    threshold : float, optional
        Passed to :func:`to_labels` for a single column of predictions, e.g.
        0.0 when they are logits.

    Examples
    --------
    >>> from glassnet.metrics import accuracy
    >>> accuracy([0, 1, 2, 2], [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1],
    ...                         [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])
    0.75
    >>> accuracy([1, 0, 1], [0.8, 0.4, 0.3])  # probabilities of class 1
    0.6666666666666666
    """
    true, pred = _true_and_predicted("accuracy", y_true, y_pred, threshold)
    return float(np.count_nonzero(true == pred) / true.size)


def error_rate(y_true, y_pred, threshold=None) -> float:
    """Seed 001's first cost: (number identified wrongly) ÷ (total number), 0 to 1.

    The same inputs as :func:`accuracy`, of which it is the complement.

    Examples
    --------
    >>> from glassnet.metrics import error_rate
    >>> error_rate([1] * 500, [1] * 300 + [0] * 200)  # seed 001: 200 of 500 wrong
    0.4
    """
    true, pred = _true_and_predicted("error_rate", y_true, y_pred, threshold)
    return float(np.count_nonzero(true != pred) / true.size)


def confusion_matrix(y_true, y_pred, num_classes=None) -> np.ndarray:
    """Counts of every (true class, predicted class) pair.

    ``cm[i, j]`` is the number of samples of true class i that the network
    called j: the diagonal holds the right answers, everything off it a
    mistake, and a row shows what one class gets mistaken for.

    Parameters
    ----------
    y_true, y_pred : array_like or Tensor
        As for :func:`accuracy` (labels, scores or one-hot rows). Sequence
        labels (N, T) are counted position by position.
    num_classes : int, optional
        C, the size of the matrix. Default: one more than the largest label
        seen in either input.

    Returns
    -------
    np.ndarray of int64, shape (C, C). Its total is the number of samples
    and its trace the number right.

    Examples
    --------
    >>> from glassnet.metrics import confusion_matrix
    >>> confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0])
    array([[1, 1, 0],
           [0, 1, 0],
           [1, 0, 2]])
    """
    true, pred = _true_and_predicted("confusion_matrix", y_true, y_pred, None)
    true, pred = true.reshape(-1), pred.reshape(-1)
    low = min(true.min(), pred.min())
    if low < 0:
        which = "y_true" if true.min() < 0 else "y_pred"
        raise DataError(
            f"confusion_matrix: class labels must be >= 0; {which} holds {low}."
        )
    seen = int(max(true.max(), pred.max())) + 1
    if num_classes is None:
        k = seen
    else:
        integer = isinstance(num_classes, (int, np.integer)) and not isinstance(
            num_classes, bool
        )
        if not integer or num_classes < 1:
            raise DataError(
                f"confusion_matrix: num_classes must be a positive integer; got "
                f"{num_classes!r}."
            )
        k = int(num_classes)
        if seen > k:
            which = "y_true" if true.max() >= k else "y_pred"
            raise DataError(
                f"confusion_matrix: {which} holds label {seen - 1}, outside [0, {k}) "
                f"for num_classes={k}."
            )
    # Each (true, predicted) pair gets one cell number, true·k + predicted; bincount
    # then counts every cell in one pass, with no loop over samples.
    counts = np.bincount(true * k + pred, minlength=k * k)
    return counts.reshape(k, k).astype(np.int64, copy=False)


def format_confusion_matrix(cm, labels=None) -> str:
    """A confusion matrix as aligned text: rows are true classes, columns predictions.

    Parameters
    ----------
    cm : array_like, shape (C, C)
        Counts, as from :func:`confusion_matrix`.
    labels : sequence of str, optional
        A name for each class; default the class numbers.

    Examples
    --------
    >>> from glassnet.metrics import format_confusion_matrix
    >>> print(format_confusion_matrix([[5, 1], [0, 12]], labels=["cat", "dog"]))
    true \\ predicted  cat  dog
                 cat    5    1
                 dog    0   12
    """
    m = np.asarray(cm)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ShapeError(
            f"format_confusion_matrix: expected a square (C, C) matrix; got shape "
            f"{shape_str(m.shape)}."
        )
    if m.dtype.kind not in "iub":
        raise DTypeError(
            f"format_confusion_matrix: expected integer counts; got dtype {m.dtype}."
        )
    k = m.shape[0]
    names = [str(i) for i in range(k)] if labels is None else [str(s) for s in labels]
    if len(names) != k:
        raise DataError(
            f"format_confusion_matrix: got {len(names)} labels for a {k}x{k} matrix; "
            "give one name per class."
        )
    corner = "true \\ predicted"
    cells = [str(int(v)) for v in m.reshape(-1)]
    width = max([len(s) for s in names + cells] + [1])
    left = max(len(corner), *(len(s) for s in names)) if names else len(corner)
    lines = [corner.ljust(left) + "".join("  " + s.rjust(width) for s in names)]
    for i, name in enumerate(names):
        row = cells[i * k : (i + 1) * k]
        lines.append(name.rjust(left) + "".join("  " + s.rjust(width) for s in row))
    return "\n".join(lines)
