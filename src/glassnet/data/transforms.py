"""Getting data ready for a network: split, standardise, one-hot, flatten, batch.

Everything here is plain NumPy on arrays whose first axis counts the samples.
Randomness always comes from an explicit ``seed`` (an int, a
``numpy.random.Generator`` or ``None`` for fresh entropy), never from NumPy's
global state, so a seeded call gives the same answer on every run.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator

import numpy as np

from .._validate import check_finite, check_positive, make_rng, shape_str
from ..errors import ConfigError, DataError, DTypeError, ShapeError

__all__ = ["train_test_split", "Standardizer", "one_hot", "flatten", "batches"]


def train_test_split(X, y, test_size=0.25, seed=0, stratify: bool = True):
    """Hold back part of the data for testing, keeping each class's share.

    A network is judged on examples it never trained on (seed 003: train on
    most digits, then count how many of the held-back ones it gets right).

    Parameters
    ----------
    X : array_like, shape (n, ...)
        The inputs, one sample per row.
    y : array_like, shape (n, ...)
        The labels or targets, one per sample.
    test_size : float or int, default 0.25
        A float in (0, 1) is the fraction of samples to hold back, rounded up;
        an int is their number, from 1 to n - 1.
    seed : int, numpy.random.Generator or None, default 0
        Source of the random choice; the same int gives the same split.
    stratify : bool, default True
        Group the samples by their value of ``y`` (by whole rows when ``y`` is
        2-D, as with one-hot labels) and hold back the same fraction of every
        group: each class gets within one sample of its exact share of the
        test set. For real-valued targets every value is its own group and the
        split is simply random.

    Returns
    -------
    X_train, X_test, y_train, y_test : np.ndarray
        The two parts of ``X`` and ``y``, each in shuffled order.

    Raises
    ------
    DataError
        ``X`` and ``y`` have different lengths, or there are fewer than two
        samples.
    ConfigError
        ``test_size`` or ``seed`` is out of range.

    Examples
    --------
    >>> X = np.arange(20).reshape(10, 2)
    >>> y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5)
    >>> X_train.shape, X_test.shape
    ((5, 2), (5, 2))
    >>> np.bincount(y_train).tolist(), np.bincount(y_test).tolist()
    ([3, 2], [3, 2])
    """
    where = "train_test_split()"
    X = _as_samples(where, "X", X)
    y = _as_samples(where, "y", y)
    _check_same_length(where, X, y)
    n = len(X)
    n_test = _test_count(where, test_size, n)
    rng = make_rng(seed, where)
    if stratify:
        test_idx = _stratified_choice(y, n_test, rng)
    else:
        test_idx = rng.choice(n, size=n_test, replace=False)
    in_test = np.zeros(n, dtype=bool)
    in_test[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~in_test))
    test_idx = rng.permutation(test_idx)
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


class Standardizer:
    """Shift and scale each feature to mean 0 and standard deviation 1.

    ``z = (x - mean) / std``, feature by feature (every position after the
    sample axis is a feature, so images are standardised pixel by pixel).
    ``mean`` and ``std`` are measured once, by :meth:`fit`, on the training
    data only; the test data is then transformed with those same numbers, so
    nothing about it leaks into training.

    A feature that is constant in the training data (std 0, like the always
    blank corner pixels of the digits) is only centred: its scale is set to 1
    and it becomes 0, instead of a division by zero.

    Float inputs keep their dtype; integer and boolean inputs come out as
    float32, glassnet's default. NaN or infinity in the data given to
    :meth:`fit` raises :class:`~glassnet.errors.DataError`.

    Attributes
    ----------
    mean_ : np.ndarray of float64, shape X.shape[1:]
        Mean of each feature over the training samples.
    scale_ : np.ndarray of float64, shape X.shape[1:]
        Standard deviation (population, ``ddof=0``) of each feature, with 1 in
        place of 0 for constant features.

    Examples
    --------
    >>> X_train = np.array([[1.0, 10.0], [5.0, 10.0]])
    >>> s = Standardizer().fit(X_train)
    >>> s.mean_.tolist(), s.scale_.tolist()
    ([3.0, 10.0], [2.0, 1.0])
    >>> s.transform(np.array([[7.0, 10.0]])).tolist()
    [[2.0, 0.0]]
    >>> s.inverse_transform(s.transform(X_train)).tolist()
    [[1.0, 10.0], [5.0, 10.0]]
    """

    def __init__(self):
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def __repr__(self) -> str:
        if self.mean_ is None:
            return "Standardizer(not fitted)"
        return f"Standardizer(fitted on {self.mean_.size} features)"

    def fit(self, X) -> Standardizer:
        """Measure each feature's mean and std on ``X`` (n, ...); returns self."""
        X = self._check_input("fit", X)
        if len(X) == 0:
            raise DataError("Standardizer.fit: X has no samples; need at least one.")
        check_finite("Standardizer.fit", "X", X)
        if X.dtype.kind == "b":
            X = X.view(np.uint8)
        mean = X.mean(axis=0, dtype=np.float64)
        scale = X.std(axis=0, dtype=np.float64)
        # Test constancy exactly (max == min): a float mean of equal values can
        # be off in the last bit and leave a tiny std that would blow up x / std.
        constant = np.ptp(X, axis=0) == 0
        mean[constant] = X[0][constant]
        scale[constant] = 1.0
        self.mean_, self.scale_ = mean, scale
        return self

    def transform(self, X) -> np.ndarray:
        """Return ``(X - mean_) / scale_``, using the statistics from :meth:`fit`."""
        X = _as_float(self._check_fitted_input("transform", X))
        return (X - self.mean_.astype(X.dtype)) / self.scale_.astype(X.dtype)

    def fit_transform(self, X) -> np.ndarray:
        """:meth:`fit` on ``X``, then :meth:`transform` it."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Undo :meth:`transform`: return ``Z * scale_ + mean_``."""
        Z = _as_float(self._check_fitted_input("inverse_transform", Z))
        return Z * self.scale_.astype(Z.dtype) + self.mean_.astype(Z.dtype)

    def _check_input(self, method: str, X) -> np.ndarray:
        X = np.asarray(X)
        where = f"Standardizer.{method}"
        if X.dtype.kind not in "biuf":
            raise DTypeError(f"{where}: expected numbers; got an array of {X.dtype}.")
        if X.ndim < 2:
            raise ShapeError(
                f"{where} expected X of shape (samples, features); got shape "
                f"{shape_str(X.shape)}. For a single feature use X.reshape(-1, 1)."
            )
        return X

    def _check_fitted_input(self, method: str, X) -> np.ndarray:
        if self.mean_ is None:
            raise ConfigError(
                f"Standardizer.{method} was called before fit; call "
                "fit(X_train) or fit_transform(X_train) first."
            )
        X = self._check_input(method, X)
        if X.shape[1:] != self.mean_.shape:
            raise ShapeError(
                f"Standardizer.{method}: fitted on {self.mean_.size} features per "
                f"sample (shape {shape_str(self.mean_.shape)}); got X of shape "
                f"{shape_str(X.shape)} with {math.prod(X.shape[1:])} features per "
                "sample."
            )
        return X


def one_hot(labels, num_classes=None, dtype=np.float32) -> np.ndarray:
    """Turn class labels into one-hot rows: label 2 of 4 becomes ``[0, 0, 1, 0]``.

    Parameters
    ----------
    labels : array_like of int, any shape
        Class indices in ``[0, num_classes)``. Floats are accepted when they
        are whole numbers (``3.0``).
    num_classes : int, optional
        Length of each one-hot row; by default the largest label plus one.
    dtype : numeric dtype, default float32
        The dtype of the result.

    Returns
    -------
    np.ndarray, shape labels.shape + (num_classes,)
        1 at each label's position, 0 elsewhere. ``out.argmax(-1)`` gives the
        labels back.

    Raises
    ------
    DataError
        A label is not a whole number or lies outside ``[0, num_classes)``;
        the message names the first such label and its index.

    Examples
    --------
    >>> one_hot([2, 0, 1], num_classes=4).tolist()
    [[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
    >>> one_hot([2, 0, 1]).argmax(axis=-1).tolist()
    [2, 0, 1]
    """
    where = "one_hot()"
    labels = np.asarray(labels)
    out_dtype = np.dtype(dtype)
    if labels.dtype.kind not in "biuf":
        raise DTypeError(
            f"{where}: labels must be integers; got an array of {labels.dtype}. "
            "Map each class name to an index first."
        )
    if out_dtype.kind not in "biuf":
        raise DTypeError(f"{where}: dtype must be numeric; got {out_dtype}.")
    if num_classes is not None:
        check_positive(where, "num_classes", num_classes, integer=True)
    if labels.dtype.kind == "f":
        bad = ~np.isfinite(labels) | (labels != np.round(labels))
        if bad.any():
            i = _first_index(bad)
            raise DataError(
                f"{where}: labels must be whole numbers; got {labels[i].item()!r} "
                f"at index {_index_str(i)}."
            )
    if num_classes is None:
        if labels.size == 0:
            raise DataError(f"{where}: no labels to count classes; pass num_classes.")
        k = max(int(labels.max()) + 1, 1)
        how = " (inferred from the largest label)"
    else:
        k, how = int(num_classes), ""
    bad = (labels < 0) | (labels >= k)
    if bad.any():
        i = _first_index(bad)
        raise DataError(
            f"{where}: label {labels[i].item()!r} at index {_index_str(i)} is "
            f"outside [0, {k}) for num_classes={k}{how}; {int(bad.sum())} "
            "label(s) are out of range."
        )
    flat = labels.reshape(-1).astype(np.intp)
    out = np.zeros((flat.size, k), dtype=out_dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(labels.shape + (k,))


def flatten(images) -> np.ndarray:
    """Unroll each sample into one row of numbers: ``(n, ...)`` -> ``(n, prod(...))``.

    A layer that gives every input its own weight needs each image as a flat
    list of pixels, read row by row (seed 001: a 128x128 photo of a hot dog
    becomes 16,384 inputs). The result is a view of ``images`` when NumPy can
    make one.

    Examples
    --------
    >>> photo = np.zeros((1, 128, 128))
    >>> flatten(photo).shape
    (1, 16384)
    >>> flatten(np.arange(8).reshape(2, 2, 2)).tolist()
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    x = _as_samples("flatten()", "images", images)
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def batches(
    X,
    y=None,
    batch_size: int = 32,
    shuffle: bool = True,
    seed=None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Walk once through the data in mini-batches of ``batch_size`` samples.

    With ``shuffle=False`` the batches are consecutive slices of ``X`` (and
    ``y``) in their original order, returned as views. With ``shuffle=True``
    the samples are first put in one random order, drawn from ``seed``, and
    the batches are consecutive runs of that order, returned as copies. Either
    way every sample appears exactly once, and only the last batch can be
    smaller (it is skipped when ``drop_last=True``).

    Parameters
    ----------
    X : array_like, shape (n, ...)
        The inputs, one sample per row.
    y : array_like, shape (n, ...), optional
        The labels; when given, each batch holds the matching rows.
    batch_size : int, default 32
        Samples per batch; must be positive.
    shuffle : bool, default True
        Visit the samples in a random order.
    seed : int, numpy.random.Generator or None, default None
        Source of the order. An int repeats the same order every time; one
        Generator shared across epochs gives a new but reproducible order per
        epoch; ``None`` gives a fresh order each call.
    drop_last : bool, default False
        Skip a final batch smaller than ``batch_size``.

    Yields
    ------
    xb, yb : np.ndarray, np.ndarray or None
        A batch of inputs and its labels (``None`` when ``y`` is not given).

    Raises
    ------
    ConfigError
        ``batch_size`` is not a positive integer, or ``seed`` is invalid.
    DataError
        ``X`` and ``y`` have different lengths.

    Examples
    --------
    >>> X = np.arange(10).reshape(5, 2)
    >>> y = np.array([0, 1, 0, 1, 1])
    >>> for xb, yb in batches(X, y, batch_size=2, shuffle=False):
    ...     print(xb.tolist(), yb.tolist())
    [[0, 1], [2, 3]] [0, 1]
    [[4, 5], [6, 7]] [0, 1]
    [[8, 9]] [1]
    >>> seen = [xb[:, 0] for xb, _ in batches(X, batch_size=2, seed=0)]
    >>> sorted(np.concatenate(seen).tolist())
    [0, 2, 4, 6, 8]
    """
    where = "batches()"
    X = _as_samples(where, "X", X)
    if y is not None:
        y = _as_samples(where, "y", y)
        _check_same_length(where, X, y)
    check_positive(where, "batch_size", batch_size, integer=True)
    order = make_rng(seed, where).permutation(len(X)) if shuffle else None
    # Checks run above, on the call; the generator below runs on iteration.
    return _iter_batches(X, y, int(batch_size), order, drop_last)


def _iter_batches(X, y, batch_size, order, drop_last):
    n = len(X)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            pick = slice(start, start + batch_size)
        else:
            pick = order[start : start + batch_size]
        yield X[pick], (None if y is None else y[pick])


def _stratified_choice(y: np.ndarray, n_test: int, rng) -> np.ndarray:
    """Indices of ``n_test`` samples, each group of equal ``y`` sharing fairly."""
    n = len(y)
    if y.ndim == 1:
        _, group = np.unique(y, return_inverse=True)
    else:
        _, group = np.unique(y.reshape(n, -1), axis=0, return_inverse=True)
    group = group.reshape(-1)
    counts = np.bincount(group)
    # Largest-remainder rounding: every group gets the floor of its exact share,
    # the places left over go to the largest remainders (ties broken at random).
    share = counts * (n_test / n)
    take = np.floor(share).astype(np.intp)
    left_over = n_test - int(take.sum())
    by_remainder = np.lexsort((rng.random(len(counts)), -(share - take)))
    take[by_remainder[:left_over]] += 1
    # Shuffle, sort by group (stably), and keep the first take[g] of group g.
    shuffled = rng.permutation(n)
    shuffled = shuffled[np.argsort(group[shuffled], kind="stable")]
    rank = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    return shuffled[rank < np.repeat(take, counts)]


def _test_count(where: str, test_size, n: int) -> int:
    """The number of test samples that ``test_size`` asks for, checked."""
    if n < 2:
        raise DataError(f"{where}: need at least 2 samples to split; got {n}.")
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        if not 1 <= test_size <= n - 1:
            raise ConfigError(
                f"{where}: test_size as a count must be between 1 and {n - 1} for "
                f"{n} samples; got {test_size}."
            )
        return int(test_size)
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, numbers.Real)
        or not 0 < test_size < 1
    ):
        raise ConfigError(
            f"{where}: test_size must be a fraction in (0, 1) or a whole number of "
            f"samples; got {test_size!r}."
        )
    # round() first so that 0.3 * 10 = 3.0000000000000004 counts as 3, not 4.
    n_test = math.ceil(round(test_size * n, 9))
    if n_test >= n:
        raise ConfigError(
            f"{where}: test_size={test_size} of {n} samples leaves none for "
            "training; use a smaller test_size."
        )
    return n_test


def _as_float(x: np.ndarray) -> np.ndarray:
    """Float arrays as they are; integers and booleans as float32."""
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def _as_samples(where: str, name: str, x) -> np.ndarray:
    """``x`` as an array with a sample axis, or ShapeError."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ShapeError(
            f"{where} expected {name} with one sample per row (at least 1-D); "
            f"got a scalar, shape {shape_str(x.shape)}."
        )
    return x


def _check_same_length(where: str, X: np.ndarray, y: np.ndarray) -> None:
    if len(X) != len(y):
        raise DataError(
            f"{where}: X and y must hold the same number of samples; X has "
            f"{len(X)} and y has {len(y)}."
        )


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _index_str(index: tuple[int, ...]) -> str:
    return str(index[0]) if len(index) == 1 else str(index)
