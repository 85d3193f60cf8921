"""The 8x8 handwritten digits, bundled with glassnet (no download needed).

1,797 small grey images of the digits 0 to 9, each pixel a count from 0 to 16.
They are the UCI "Optical Recognition of Handwritten Digits" test set, the same
images and order as scikit-learn's ``load_digits`` (scikit-learn itself is not
needed). Seed 003 starts with 0-vs-1 and then learns all ten digits.
"""

from __future__ import annotations

import functools
import numbers
from importlib import resources
from typing import NamedTuple

import numpy as np

from .._validate import check_float_dtype, shape_str
from ..errors import ConfigError, FormatError

DESCR = """\
Optical Recognition of Handwritten Digits (UCI), 8x8 version
------------------------------------------------------------
1,797 images of the digits 0..9, written by 13 people on preprinted forms.
Each 32x32 black-and-white bitmap was cut into 4x4 blocks and the "on" pixels
of each block were counted, giving an 8x8 image of integers 0..16. These are
the images of the UCI test file (optdigits.tes), in scikit-learn's order.

Source: E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten
Digits", UCI Machine Learning Repository, 1998. doi:10.24432/C50P49
License: CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/).
Changes: converted from CSV to a NumPy archive; values unchanged."""

N_IMAGES = 1797
ALL_DIGITS = tuple(range(10))


class Dataset(NamedTuple):
    """A labelled dataset: the inputs, their labels and where they came from.

    Attributes
    ----------
    X : np.ndarray
        The inputs, one sample per row (first axis).
    y : np.ndarray of int64, shape (n,)
        The label of each sample.
    classes : tuple of int
        The labels that occur in ``y``, sorted.
    DESCR : str
        A description of the data, with its source and license.
    """

    X: np.ndarray
    y: np.ndarray
    classes: tuple[int, ...]
    DESCR: str


def digits(*, classes=None, flatten: bool = False, dtype=np.float32) -> Dataset:
    """Load the 1,797 handwritten 8x8 digits that ship with glassnet.

    Parameters
    ----------
    classes : iterable of int, optional
        Keep only the images of these digits (each in 0..9), in their file
        order. ``classes=[0, 1]`` gives seed 003's first task, 0 versus 1.
        The default keeps all ten.
    flatten : bool, default False
        Return each image as a row of 64 numbers (row by row) instead of an
        8x8 grid: the form a network of ``Dense`` layers takes.
    dtype : float32 or float64, default float32
        The dtype of ``X``. Pixel values stay counts from 0 to 16; divide by
        16 to get numbers between 0 and 1.

    Returns
    -------
    Dataset
        ``X`` with shape ``(n, 8, 8)`` or ``(n, 64)``; ``y`` the digits as
        int64 of shape ``(n,)``; ``classes`` the kept digits, sorted; and
        ``DESCR`` the description with source and license (CC BY 4.0).
        ``y`` always holds the digit itself, so after ``classes=[3, 8]`` the
        labels are 3 and 8; ``np.searchsorted(ds.classes, ds.y)`` renumbers
        them 0 and 1 for a two-class network.

    Examples
    --------
    >>> from glassnet.datasets.digits import digits
    >>> ds = digits()
    >>> ds.X.shape, ds.X.dtype, ds.y.shape
    ((1797, 8, 8), dtype('float32'), (1797,))
    >>> float(ds.X.min()), float(ds.X.max()), ds.classes
    (0.0, 16.0, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
    >>> zero_one = digits(classes=[0, 1], flatten=True)
    >>> zero_one.X.shape, sorted(set(zero_one.y.tolist()))
    ((360, 64), [0, 1])
    """
    dt = check_float_dtype("digits()", dtype)
    keep = _check_classes(classes)
    images, labels = _load_raw()
    if keep != ALL_DIGITS:
        mask = np.isin(labels, keep)
        images, labels = images[mask], labels[mask]
    X = images.astype(dt)
    if flatten:
        X = X.reshape(len(X), 64)
    return Dataset(X=X, y=labels.astype(np.int64), classes=keep, DESCR=DESCR)


def _check_classes(classes) -> tuple[int, ...]:
    """The requested digits as a sorted tuple, or ConfigError naming the bad one."""
    if classes is None:
        return ALL_DIGITS
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise ConfigError(
            f"digits(): classes must be an iterable of digits 0..9, e.g. "
            f"classes=[0, 1]; got {classes!r}."
        )
    keep = set()
    for c in classes:
        is_int = isinstance(c, numbers.Integral) and not isinstance(c, bool)
        if not is_int or not 0 <= c <= 9:
            raise ConfigError(
                f"digits(): every entry of classes must be a digit 0..9; got {c!r}."
            )
        keep.add(int(c))
    if not keep:
        raise ConfigError("digits(): classes is empty; name at least one digit 0..9.")
    return tuple(sorted(keep))


@functools.lru_cache(maxsize=1)
def _load_raw() -> tuple[np.ndarray, np.ndarray]:
    """Read the bundled archive once; the cached arrays are made read-only."""
    path = resources.files(__package__) / "_files" / "digits.npz"
    with path.open("rb") as f, np.load(f, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
    if (
        images.shape != (N_IMAGES, 8, 8)
        or labels.shape != (N_IMAGES,)
        or images.dtype != np.uint8
        or labels.dtype != np.uint8
    ):
        raise FormatError(
            "digits(): the bundled digits.npz is damaged: expected uint8 images "
            f"{shape_str((N_IMAGES, 8, 8))} and labels {shape_str((N_IMAGES,))}; "
            f"got {images.dtype} {shape_str(images.shape)} and {labels.dtype} "
            f"{shape_str(labels.shape)}. Reinstall glassnet."
        )
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels
