"""Filtering and pooling exactly as the X-and-O story tells them.

This module is the by-hand arithmetic of seed 004's convolution talk, written
so a reader can check every number on the slides: slide a small *feature*
over an image, and at every place it fits completely, multiply the pixels
that lie on top of each other, add the products up and divide by how many
pixels the feature has. The result is a *map* that reads 1.0 where the
feature matches perfectly and -1.0 where it is a perfect negative.

Relation to the layers
----------------------
``match(image, f)`` is a valid (no padding, stride 1) cross-correlation -- the
feature is not flipped, as deep-learning libraries do it -- divided by the
feature's pixel count. So ``glassnet.nn.Conv2D(1, 1, f.shape)`` with weight
``f`` and a zero bias computes ``f.size`` times this map; give it the weight
``f / f.size`` and no bias and it computes the map itself. For maps at least
as large as the window, ``seed_pool`` is what
``glassnet.nn.MaxPool2D(size, stride, ceil_mode=True)`` computes without padding.

Only NumPy and the shared error classes are used; nothing here builds an
autograd graph.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validate import check_positive, shape_str
from ..errors import ConfigError, DTypeError, ShapeError

__all__ = ["as_printed", "match", "seed_pool"]


def _as_real_array(where: str, name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(
            f"{where}: {name} must hold real numbers; got dtype {arr.dtype}."
        )
    return arr


def match(image, feature) -> np.ndarray:
    """Map how well ``feature`` matches every patch of ``image``.

    The feature is laid on each patch where it fits entirely (valid
    positions only), the overlapping pixels are multiplied, the products
    are summed, and the sum is divided by the feature's pixel count:

    .. math::

        M[i, j] = \\frac{1}{k_h k_w}
                  \\sum_{a<k_h,\\, b<k_w} I[i + a, j + b] \\, F[a, b]

    With pixels in {-1, +1}, every agreeing pixel adds +1 and every
    disagreeing pixel -1, so a 3x3 feature that agrees everywhere scores
    9/9 = 1.0, and one with two disagreeing pixels scores (7 - 2)/9 = 0.555.

    Parameters
    ----------
    image : array_like, shape (H, W)
        A single-channel image.
    feature : array_like, shape (k_h, k_w) or (n_features, k_h, k_w)
        One feature, or a stack of features applied one by one (a
        convolution layer: one image in, one map per feature out).

    Returns
    -------
    numpy.ndarray, shape (H - k_h + 1, W - k_w + 1), or
    (n_features, H - k_h + 1, W - k_w + 1) for a stack of features
        The match map(s). The dtype is the common floating type of the
        inputs (at least float32; integer inputs give float64).

    Raises
    ------
    glassnet.errors.ShapeError
        If ``image`` is not 2-D, ``feature`` is not 2-D or 3-D, the feature
        is empty, or the feature is larger than the image along an axis.
    glassnet.errors.DTypeError
        If either input does not hold real numbers.

    See Also
    --------
    seed_pool : the story's max pooling, applied to these maps.
    as_printed : the two-decimal rounding the slides print.

    Examples
    --------
    A 3x3 diagonal feature matches itself perfectly:

    >>> import numpy as np
    >>> d = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
    >>> match(d, d)
    array([[1.]])

    Flip two pixels of the patch and the score falls to 5/9:

    >>> patch = d.copy()
    >>> patch[0, 2] = patch[2, 0] = 1
    >>> round(float(match(patch, d)[0, 0]), 4)
    0.5556
    """
    where = "match(image, feature)"
    img = _as_real_array(where, "image", image)
    feat = _as_real_array(where, "feature", feature)
    if img.ndim != 2:
        raise ShapeError(
            f"{where} expected a 2-D image (height, width); got shape "
            f"{shape_str(img.shape)} ({img.ndim}-D). Pass one channel at a time."
        )
    if feat.ndim not in (2, 3):
        raise ShapeError(
            f"{where} expected a 2-D feature (height, width) or a 3-D stack "
            f"(n_features, height, width); got shape {shape_str(feat.shape)}."
        )
    kh, kw = feat.shape[-2:]
    if kh == 0 or kw == 0:
        raise ShapeError(
            f"{where} expected a feature with at least one pixel; "
            f"got shape {shape_str(feat.shape)}."
        )
    if kh > img.shape[0] or kw > img.shape[1]:
        raise ShapeError(
            f"{where}: a feature of size {kh}x{kw} does not fit inside an image "
            f"of size {img.shape[0]}x{img.shape[1]}; the feature must not be "
            "larger than the image along either axis."
        )
    dtype = np.result_type(img.dtype, feat.dtype, np.float32)
    patches = np.lib.stride_tricks.sliding_window_view(img.astype(dtype), (kh, kw))
    # patches: (H', W', kh, kw); one sum of products per position and feature.
    summed = np.einsum("ijab,...ab->...ij", patches, feat.astype(dtype))
    return summed / dtype.type(kh * kw)


def _pool_count(length: int, size: int, stride: int) -> int:
    """Windows along one axis when the last one may hang over the edge."""
    if length <= size:
        return 1
    count = math.ceil((length - size) / stride) + 1
    if (count - 1) * stride >= length:  # never start a window past the edge
        count -= 1
    return count


def seed_pool(fmap, size: int = 2, stride: int = 2) -> np.ndarray:
    """Max pooling where a window hanging over the edge keeps what is there.

    A ``size`` x ``size`` window walks over the last two axes in steps of
    ``stride``, and each output pixel is the largest value inside the
    window. Windows keep going until one reaches the last row (column);
    if that window sticks out past the edge, it takes the maximum of the
    pixels it does cover, so no pixel is dropped. This is how a 7x7 map
    becomes 4x4 with a 2x2 window and stride 2.

    Along an axis of length ``L`` the output has
    ``ceil((L - size) / stride) + 1`` entries (``1`` when ``L <= size``),
    minus one if the last window would start beyond the edge, which can
    only happen when ``stride > size``.

    Parameters
    ----------
    fmap : array_like, shape (..., H, W)
        One map, or any stack of maps; leading axes are kept.
    size : int, default 2
        Window height and width.
    stride : int, default 2
        Step between windows.

    Returns
    -------
    numpy.ndarray, shape (..., H_out, W_out)
        Pooled maps with the dtype of ``fmap`` (integers stay integers).

    Raises
    ------
    glassnet.errors.ShapeError
        If ``fmap`` has fewer than two axes or an empty spatial axis.
    glassnet.errors.ConfigError
        If ``size`` or ``stride`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.arange(25).reshape(5, 5)
    >>> seed_pool(m)
    array([[ 6,  8,  9],
           [16, 18, 19],
           [21, 23, 24]])
    """
    where = "seed_pool(fmap, size, stride)"
    check_positive(where, "size", size, integer=True)
    check_positive(where, "stride", stride, integer=True)
    arr = _as_real_array(where, "fmap", fmap)
    if arr.ndim < 2:
        raise ShapeError(
            f"{where} expected a map with at least 2 axes (..., height, width); "
            f"got shape {shape_str(arr.shape)}."
        )
    h, w = arr.shape[-2:]
    if h == 0 or w == 0:
        raise ShapeError(
            f"{where} expected a non-empty map; got shape {shape_str(arr.shape)}."
        )
    oh, ow = _pool_count(h, size, stride), _pool_count(w, size, stride)
    ph, pw = (oh - 1) * stride + size, (ow - 1) * stride + size
    if arr.dtype.kind == "f":
        fill = -np.inf
    elif arr.dtype.kind == "b":
        fill = False
    else:
        fill = np.iinfo(arr.dtype).min
    pad = [(0, 0)] * (arr.ndim - 2) + [(0, max(ph - h, 0)), (0, max(pw - w, 0))]
    padded = np.pad(arr, pad, constant_values=fill)[..., :ph, :pw]
    windows = np.lib.stride_tricks.sliding_window_view(
        padded, (size, size), axis=(-2, -1)
    )[..., ::stride, ::stride, :, :]
    return windows.max(axis=(-2, -1))


def as_printed(values, decimals: int = 2) -> np.ndarray:
    """Cut numbers to ``decimals`` places the way the story's slides show them.

    The slides print 7/9 as 0.77 and 5/9 as 0.55: the digits after the
    second decimal are dropped (rounding toward zero), not rounded to
    nearest. Use this to compare computed maps with the printed ones.

    Parameters
    ----------
    values : array_like
        Numbers to shorten.
    decimals : int, default 2
        Digits to keep after the decimal point.

    Returns
    -------
    numpy.ndarray of float64

    Raises
    ------
    glassnet.errors.ConfigError
        If ``decimals`` is not a non-negative integer.

    Examples
    --------
    >>> as_printed([7 / 9, 5 / 9, -1 / 9, 1.0])
    array([ 0.77,  0.55, -0.11,  1.  ])
    """
    if (
        isinstance(decimals, bool)
        or not isinstance(decimals, numbers.Integral)
        or decimals < 0
    ):
        raise ConfigError(
            f"as_printed(values, decimals): decimals must be a non-negative "
            f"integer; got {decimals!r}."
        )
    scale = 10.0**decimals
    arr = np.asarray(values, dtype=np.float64)
    # A tiny nudge away from zero keeps exact values such as 0.29 (stored as
    # 0.28999...) from losing their last printed digit.
    nudged = arr * scale + np.sign(arr) * 1e-9
    return np.trunc(nudged) / scale
