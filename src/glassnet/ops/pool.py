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
from .._validate import check_pool_args, shape_str
from ..errors import ShapeError
from ..kernels.pool import pool_output_size
from ..tensor import Tensor, as_tensor, is_grad_enabled, make_result

__all__ = ["avg_pool2d", "check_pool_args", "max_pool2d", "pool_output_size"]


def _check_geometry(where, x_shape, window, stride, padding, ceil_mode) -> None:
    if len(x_shape) != 4:
        hint = (
            " For a single image add a batch axis (x[None])."
            if len(x_shape) == 3
            else ""
        )
        raise ShapeError(
            f"{where} expected a 4-D input (batch, channels, height, width); got shape "
            f"{shape_str(x_shape)} ({len(x_shape)}-D).{hint}"
        )
    h, w = x_shape[2:]
    oh = pool_output_size(h, window[0], stride[0], padding[0], ceil_mode)
    ow = pool_output_size(w, window[1], stride[1], padding[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{where}: the {window[0]}x{window[1]} window does not fit in the "
            f"{h + 2 * padding[0]}x{w + 2 * padding[1]} padded input (input shape "
            f"{shape_str(x_shape)}, padding {padding}), so no output would be left. "
            "Use a smaller window or pool an earlier, larger map."
        )


def pool2d(x: Tensor, mode: str, window, stride, padding, ceil_mode, where) -> Tensor:
    """The one graph node behind max/avg pooling; arguments already validated."""
    _check_geometry(where, x.shape, window, stride, padding, ceil_mode)
    xd = x.data if x.data.dtype.kind == "f" else x.data.astype(np.float32)
    geometry = (window, stride, padding, ceil_mode)

    if mode == "max":
        record = x.requires_grad and is_grad_enabled()
        out, winner = kernels.call("max_pool2d", xd, *geometry, record=record)

        def backward(g):  # max → 1 for the pixel that won its window, 0 elsewhere
            return (kernels.call("max_pool2d_backward", g, winner, x.shape, *geometry),)

        return make_result(out, (x,), backward)

    out = kernels.call("avg_pool2d", xd, *geometry)

    def backward(g):  # mean → 1/count for each real pixel the window averaged
        return (kernels.call("avg_pool2d_backward", g, x.shape, *geometry),)

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


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False) -> Tensor:
    """Average each window of each map; padding and ragged edges are not counted.

    Arguments as in :func:`max_pool2d`; the padding pixels add nothing to
    the mean and are not counted, so each output is the mean of the real
    pixels under its window.

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
    return pool2d(as_tensor(x), "avg", window, stride, padding, bool(ceil_mode), where)
