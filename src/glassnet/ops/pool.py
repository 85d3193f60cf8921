"""Pooling ops: shrink each map by keeping one number per window.

Graph nodes only: the arguments are checked here, the formulas (and their
compiled variants) are the kernels of :mod:`glassnet.kernels.pool`, whose
docstring states the edges (padding, ``ceil_mode``) and the local
derivatives.

Output size along an axis of length ``L``::

    out = floor_or_ceil((L + 2p - k) / s) + 1   (minus 1 if, with ceil_mode,
                                                 the last window would start
                                                 at or past L + p)
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validate import (
    check_pool1d_args,
    check_pool_args,
    check_upsample_args,
    shape_str,
    to_pair,
)
from ..errors import ShapeError
from ..kernels import resample as resample_kernels
from ..kernels.pool import pool_output_size
from ..tensor import Tensor, as_tensor, is_grad_enabled, make_result

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "check_pool_args",
    "max_pool1d",
    "max_pool2d",
    "pool_output_size",
    "upsample",
]


def _check_geometry(where, x_shape, window, stride, padding, ceil_mode, spatial=2):
    if len(x_shape) != spatial + 2:
        layout = "(batch, channels, height, width)" if spatial == 2 else "(batch, "
        layout = layout if spatial == 2 else layout + "channels, length)"
        hint = (
            " For a single sample add a batch axis (x[None])."
            if len(x_shape) == spatial + 1
            else ""
        )
        raise ShapeError(
            f"{where} expected a {spatial + 2}-D input {layout}; got shape "
            f"{shape_str(x_shape)} ({len(x_shape)}-D).{hint}"
        )
    h, w = x_shape[2:] if spatial == 2 else (1, x_shape[2])
    oh = pool_output_size(h, window[0], stride[0], padding[0], ceil_mode)
    ow = pool_output_size(w, window[1], stride[1], padding[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{where}: the {window[0]}x{window[1]} window does not fit in the "
            f"{h + 2 * padding[0]}x{w + 2 * padding[1]} padded input (input shape "
            f"{shape_str(x_shape)}, padding {padding}), so no output would be left. "
            "Use a smaller window or pool an earlier, larger map."
        )


def pool2d(
    x: Tensor,
    mode: str,
    window,
    stride,
    padding,
    ceil_mode,
    where,
    count_include_pad: bool = False,
    spatial: int = 2,
) -> Tensor:
    """The one graph node behind max/avg pooling; arguments already validated.

    1-D pooling (``spatial`` 1: window, stride and padding are (1, k), (1,
    s), (0, p)) runs as 2-D on maps of height 1.
    """
    _check_geometry(where, x.shape, window, stride, padding, ceil_mode, spatial)
    xd = x.data if x.data.dtype.kind == "f" else x.data.astype(np.float32)
    xd = xd if spatial == 2 else xd[:, :, None, :]
    x_shape = xd.shape
    geometry = (window, stride, padding, ceil_mode)

    def result(out, backward):
        return make_result(out if spatial == 2 else out[:, :, 0], (x,), backward)

    def as_x(dx):
        return (dx if spatial == 2 else dx[:, :, 0],)

    if mode == "max":
        record = x.requires_grad and is_grad_enabled()
        out, winner = kernels.call("max_pool2d", xd, *geometry, record=record)

        def backward(g):  # max → 1 for the pixel that won its window, 0 elsewhere
            g = g if spatial == 2 else g[:, :, None]
            return as_x(
                kernels.call("max_pool2d_backward", g, winner, x_shape, *geometry)
            )

        return result(out, backward)

    include = {"count_include_pad": True} if count_include_pad else {}
    out = kernels.call("avg_pool2d", xd, *geometry, **include)

    def backward(g):  # mean → 1/count for each pixel the window averaged
        g = g if spatial == 2 else g[:, :, None]
        return as_x(
            kernels.call("avg_pool2d_backward", g, x_shape, *geometry, **include)
        )

    return result(out, backward)


def resample(x: Tensor, rows: np.ndarray, cols: np.ndarray, where: str) -> Tensor:
    """y = rows · x · colsᵀ on every map: the graph node behind Upsample and
    adaptive average pooling (the matrices: :mod:`glassnet.kernels.resample`)."""
    if x.ndim != 4:
        raise ShapeError(
            f"{where} expected a 4-D input (batch, channels, height, width); got "
            f"shape {shape_str(x.shape)}."
            + (" Add a batch axis (x[None])." if x.ndim == 3 else "")
        )
    xd = x.data if x.data.dtype.kind == "f" else x.data.astype(np.float32)
    rows, cols = rows.astype(xd.dtype), cols.astype(xd.dtype)
    out = kernels.call("resample2d", xd, rows, cols)

    def backward(g):  # x → the same matrices, transposed
        return (kernels.call("resample2d_backward", g, rows, cols),)

    return make_result(out, (x,), backward)


# ``kernel_size`` is the public name (PyTorch's, and the API contract); inside
# glassnet it is the pooling *window*, "kernel" being a formula of glassnet.kernels.


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False) -> Tensor:
    """Keep the largest value of each window of every map: (N, C, H, W) -> (N, C, h, w).

    One graph node; the formula is :func:`glassnet.kernels.pool.max_pool2d`.

    Parameters
    ----------
    x : Tensor or array_like, shape (batch, channels, height, width)
    kernel_size : int or (int, int)
        Window height and width.
    stride : int or (int, int), optional
        Step between windows; the window size when not given.
    padding : int or (int, int), default 0
        Pixels of -inf added on each side; must be smaller than the window.
    ceil_mode : bool, default False
        Keep a last, ragged window where the map does not divide evenly.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.ops.pool import max_pool2d
    >>> m = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> max_pool2d(m, 2, ceil_mode=True).data[0, 0]
    array([[ 6.,  8.,  9.],
           [16., 18., 19.],
           [21., 23., 24.]])
    """
    where = "max_pool2d"
    window, stride, padding = check_pool_args(where, kernel_size, stride, padding)
    return pool2d(as_tensor(x), "max", window, stride, padding, bool(ceil_mode), where)


def avg_pool2d(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=False
) -> Tensor:
    """Average each window of each map; padding and ragged edges are not counted.

    Arguments as in :func:`max_pool2d`; the padding pixels add nothing to
    the mean and are not counted, so each output is the mean of the real
    pixels under its window. ``count_include_pad=True`` divides by the
    window's pixels in the padded map instead (PyTorch's default).

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.ops.pool import avg_pool2d
    >>> m = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> avg_pool2d(m, 2, ceil_mode=True).data[0, 0]
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    where = "avg_pool2d"
    window, stride, padding = check_pool_args(where, kernel_size, stride, padding)
    geometry = (window, stride, padding, bool(ceil_mode), where)
    return pool2d(as_tensor(x), "avg", *geometry, bool(count_include_pad))


def max_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False) -> Tensor:
    """:func:`max_pool2d` along time: (batch, channels, length) -> (.., out_length).

    >>> import numpy as np
    >>> from glassnet.ops.pool import max_pool1d
    >>> max_pool1d(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2).data
    array([[[3., 5.]]])
    """
    geometry = check_pool1d_args("max_pool1d", kernel_size, stride, padding)
    return pool2d(
        as_tensor(x), "max", *geometry, bool(ceil_mode), "max_pool1d", False, 1
    )


def avg_pool1d(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=False
) -> Tensor:
    """:func:`avg_pool2d` along time: (batch, channels, length) -> (.., out_length)."""
    geometry = check_pool1d_args("avg_pool1d", kernel_size, stride, padding)
    include = bool(count_include_pad)
    return pool2d(
        as_tensor(x), "avg", *geometry, bool(ceil_mode), "avg_pool1d", include, 1
    )


def adaptive_avg_pool2d(x, output_size, where="adaptive_avg_pool2d") -> Tensor:
    """Average pooling to a given output size, whatever the input's size.

    Output (i, j) is the mean of input rows ⌊i·H/h⌋ .. ⌈(i+1)·H/h⌉ - 1 and
    the same columns (PyTorch's bins; they overlap when the output is
    larger): ``y = A_h · x · A_wᵀ`` with those averaging matrices
    (:func:`glassnet.kernels.resample.adaptive_avg_matrix`).

    >>> import numpy as np
    >>> from glassnet.ops.pool import adaptive_avg_pool2d
    >>> adaptive_avg_pool2d(np.arange(9.0).reshape(1, 1, 3, 3), 2).data[0, 0]
    array([[2., 3.],
           [5., 6.]])
    """
    x, (h, w) = as_tensor(x), to_pair(where, "output_size", output_size)
    rows = resample_kernels.adaptive_avg_matrix(x.shape[-2], h) if x.ndim == 4 else None
    cols = resample_kernels.adaptive_avg_matrix(x.shape[-1], w) if x.ndim == 4 else None
    return resample(x, rows, cols, where)


def upsample(
    x,
    scale_factor=None,
    size=None,
    mode="nearest",
    align_corners=False,
    where="upsample",
) -> Tensor:
    """Resize every map: by whole ``scale_factor`` (s_h, s_w), or to ``size`` (h, w).

    ``mode='nearest'``: output i copies input ⌊i·H/h⌋. ``'bilinear'``: each
    output mixes the 2x2 input pixels around its source point, with
    ``align_corners`` as in PyTorch (False: the maps' edges line up; True:
    the corner pixels' centres do). Both are ``y = A_h · x · A_wᵀ``
    (:mod:`glassnet.kernels.resample`); PyTorch's ``F.interpolate``.

    >>> import numpy as np
    >>> from glassnet.ops.pool import upsample
    >>> upsample(np.array([[[[1.0, 2.0]]]]), 2).data[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]])
    """
    scale, size, mode, corners = check_upsample_args(
        where, scale_factor, size, mode, align_corners
    )
    x = as_tensor(x)
    if x.ndim != 4:
        return resample(x, None, None, where)  # the shape error
    size = size or (x.shape[2] * scale[0], x.shape[3] * scale[1])
    if mode == "nearest":
        rows, cols = (
            resample_kernels.nearest_matrix(n, m) for n, m in zip(x.shape[2:], size)
        )
    else:
        rows, cols = (
            resample_kernels.linear_matrix(n, m, corners)
            for n, m in zip(x.shape[2:], size)
        )
    return resample(x, rows, cols, where)
