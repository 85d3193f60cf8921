"""Pooling layers: shrink every map, keeping the strongest (or average) response."""

from __future__ import annotations

from .._validate import check_ndim, check_pool_args
from ..ops.pool import pool2d
from ..ops.reduce import mean
from .module import Module


class _Pool2D(Module):
    _mode = "max"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
        name = type(self).__name__
        # ``kernel_size`` is the public name (PyTorch's, the API contract): the window
        self.kernel_size, self.stride, self.padding = check_pool_args(
            name, kernel_size, stride, padding
        )
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        return pool2d(
            x,
            self._mode,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            f"{type(self).__name__}({self.extra_repr()})",
        )

    def extra_repr(self) -> str:
        text = "x".join(map(str, self.kernel_size))
        if self.stride != self.kernel_size:
            text += f", stride {'x'.join(map(str, self.stride))}"
        if self.padding != (0, 0):
            text += f", padding {'x'.join(map(str, self.padding))}"
        return text + (", ceil_mode" if self.ceil_mode else "")

    def get_config(self) -> dict:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "ceil_mode": self.ceil_mode,
        }


class MaxPool2D(_Pool2D):
    """Max pooling: each window of each map is replaced by its largest value.

    It halves (with a 2x2 window and stride 2) the size of every map while
    keeping each feature's strongest match, and it does not care where in
    the window that match was, so small shifts of the input still register.

    .. math:: y[n, c, i, j] = \\max_{a<k_h,\\, b<k_w} x_p[n, c, i s_h + a, j s_w + b]

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window height and width.
    stride : int or (int, int), optional
        Step between windows; defaults to the window size (no overlap).
    padding : int or (int, int), default 0
        Pixels of -inf added on each side (they never win); smaller than
        the window.
    ceil_mode : bool, default False
        When the map does not divide evenly, keep a last window that hangs
        over the edge and takes the max of the pixels it does cover (the
        X-and-O story's 7x7 → 4x4). With False the leftover pixels are
        dropped.

    Shapes: input (batch, channels, height, width), output (batch, channels,
    out_height, out_width); see :mod:`glassnet.ops.pool` for the sizes.
    No parameters. Gradient: all of it goes to the pixel that won each
    window (on a tie, the first in reading order).

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import MaxPool2D
    >>> pool = MaxPool2D(2, ceil_mode=True)
    >>> pool
    MaxPool2D(2x2, ceil_mode)
    >>> pool(np.zeros((1, 3, 7, 7))).shape
    (1, 3, 4, 4)
    """

    _mode = "max"


class AvgPool2D(_Pool2D):
    """Average pooling: each window of each map is replaced by its mean.

    .. math:: y[n, c, i, j] = \\frac{1}{|w_{ij}|} \\sum_{(r, s) \\in w_{ij}} x[n, c, r, s]

    where ``w_ij`` is the set of real (not padding) pixels under window
    (i, j). Padding pixels and the missing part of a ragged edge window are
    NOT counted: every output is the mean of the pixels that are there.
    (PyTorch calls this ``count_include_pad=False``.)

    Parameters
    ----------
    kernel_size, stride, padding, ceil_mode
        As for :class:`MaxPool2D`.

    Shapes: as :class:`MaxPool2D`. No parameters. Gradient: each pixel of a
    window gets 1/count of that window's gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import AvgPool2D
    >>> AvgPool2D(2)(np.arange(16.0).reshape(1, 1, 4, 4)).data[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """

    _mode = "avg"


class GlobalAveragePool2D(Module):
    """Average each whole map to one number: (batch, C, H, W) -> (batch, C).

    A common last step before the voting (Dense) layer: each feature reports
    how strongly it was present anywhere in the image, whatever the image
    size. Gradient: 1/(H·W) to every pixel. No parameters.

    >>> import numpy as np
    >>> from glassnet.nn import GlobalAveragePool2D
    >>> GlobalAveragePool2D()(np.ones((2, 5, 3, 3))).shape
    (2, 5)
    """

    def forward(self, x):
        check_ndim("GlobalAveragePool2D", x, 4, "(batch, channels, height, width)")
        return mean(x, axis=(2, 3))
