"""Pooling layers: shrink every map, keeping the strongest (or average) response."""

from __future__ import annotations

from .._validate import check_ndim, check_pool1d_args, check_pool_args, to_pair
from ..ops.pool import adaptive_avg_pool2d, pool2d
from ..ops.reduce import max, mean  # noqa: A004  (the op, not the builtin)
from .module import Module


class _Pool2D(Module):
    _mode = "max"
    _spatial = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
        name = type(self).__name__
        # ``kernel_size`` is the public name (PyTorch's, the API contract): the window
        check = check_pool_args if self._spatial == 2 else check_pool1d_args
        self._geometry = check(name, kernel_size, stride, padding)
        pick = (lambda v: v) if self._spatial == 2 else (lambda v: v[1])
        self.kernel_size, self.stride, self.padding = map(pick, self._geometry)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = False

    def forward(self, x):
        return pool2d(
            x,
            self._mode,
            *self._geometry,
            self.ceil_mode,
            f"{type(self).__name__}({self.extra_repr()})",
            self.count_include_pad,
            self._spatial,
        )

    def extra_repr(self) -> str:
        def text(v):
            return "x".join(map(str, v)) if self._spatial == 2 else str(v)

        out = text(self.kernel_size)
        if self.stride != self.kernel_size:
            out += f", stride {text(self.stride)}"
        if self.padding not in ((0, 0), 0):
            out += f", padding {text(self.padding)}"
        out += ", count_include_pad" if self.count_include_pad else ""
        return out + (", ceil_mode" if self.ceil_mode else "")

    def get_config(self) -> dict:
        config = {
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "ceil_mode": self.ceil_mode,
        }
        if self.count_include_pad:  # only then: files from before it stay the same
            config["count_include_pad"] = True
        return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


class _AvgPool(_Pool2D):
    _mode = "avg"

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = False,
    ):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = bool(count_include_pad)


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


class AvgPool2D(_AvgPool):
    """Average pooling: each window of each map is replaced by its mean.

    .. math:: y[n, c, i, j] = \\frac{1}{|w_{ij}|} \\sum_{(r, s) \\in w_{ij}} x[n, c, r, s]

    where ``w_ij`` is the set of real (not padding) pixels under window
    (i, j). By default padding pixels and the missing part of a ragged edge
    window are NOT counted: every output is the mean of the pixels that are
    there. PyTorch's default (``count_include_pad=True``) divides by the
    window's pixels inside the padded map instead, so outputs next to
    padding differ: pass ``count_include_pad=True`` when porting a model.

    Parameters
    ----------
    kernel_size, stride, padding, ceil_mode
        As for :class:`MaxPool2D`.
    count_include_pad : bool, default False
        Count the padding pixels under the window in the mean's divisor
        (not a ``ceil_mode`` window's overhang past the padding, as in PyTorch).

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


class MaxPool1D(_Pool2D):
    """Max pooling along time: each window of each channel keeps its largest value.

    .. math:: y[n, c, t] = \\max_{a<k} x_p[n, c, t s + a]

    Parameters
    ----------
    kernel_size : int
    stride : int, optional
        Defaults to ``kernel_size``.
    padding : int, default 0
        Values of -inf at both ends; smaller than the window.
    ceil_mode : bool, default False

    Shapes: input (batch, channels, length), output (batch, channels,
    out_length), sizes as for :class:`MaxPool2D` along one axis. No parameters.

    >>> import numpy as np
    >>> from glassnet.nn import MaxPool1D
    >>> MaxPool1D(3, stride=2, padding=1)(np.zeros((2, 4, 10))).shape
    (2, 4, 5)
    """

    _spatial = 1


class AvgPool1D(_AvgPool):
    """Average pooling along time; padding not counted unless ``count_include_pad``.

    .. math:: y[n, c, t] = \\frac{1}{|w_t|} \\sum_{r \\in w_t} x[n, c, r]

    Parameters as :class:`MaxPool1D`, plus ``count_include_pad`` as in
    :class:`AvgPool2D`. Shapes as :class:`MaxPool1D`. No parameters.

    >>> import numpy as np
    >>> from glassnet.nn import AvgPool1D
    >>> AvgPool1D(2)(np.array([[[1.0, 3.0, 2.0, 6.0]]])).data
    array([[[2., 4.]]], dtype=float32)
    """

    _spatial = 1


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


class GlobalMaxPool2D(Module):
    """Keep each whole map's largest value: (batch, C, H, W) -> (batch, C).

    ``y[n, c] = max over (i, j) of x[n, c, i, j]``: whether each feature
    matched strongly anywhere. Gradient: 1 to the pixel that held the max
    (tied pixels share it equally). No parameters.

    >>> import numpy as np
    >>> from glassnet.nn import GlobalMaxPool2D
    >>> GlobalMaxPool2D()(np.arange(8.0).reshape(1, 2, 2, 2)).data
    array([[3., 7.]], dtype=float32)
    """

    def forward(self, x):
        check_ndim("GlobalMaxPool2D", x, 4, "(batch, channels, height, width)")
        return max(x, axis=(2, 3))


class AdaptiveAvgPool2D(Module):
    """Average pooling to a fixed output size, whatever the input size.

    Output (i, j) averages input rows ⌊i·H/h⌋ .. ⌈(i+1)·H/h⌉ - 1 and the
    same columns (PyTorch's bins: they cover the map and overlap when the
    output is larger than the input). Written ``y = A_h · x · A_wᵀ`` with
    averaging matrices; gradient ``A_hᵀ · g · A_w``.

    Parameters
    ----------
    output_size : int or (int, int)
        (h, w) of every output map.

    Shapes: input (batch, channels, H, W), output (batch, channels, h, w).
    No parameters. ``AdaptiveAvgPool2D(1)`` is :class:`GlobalAveragePool2D`
    without the flattening.

    >>> import numpy as np
    >>> from glassnet.nn import AdaptiveAvgPool2D
    >>> AdaptiveAvgPool2D((2, 3))(np.zeros((4, 5, 7, 9))).shape
    (4, 5, 2, 3)
    """

    def __init__(self, output_size):
        self.output_size = to_pair("AdaptiveAvgPool2D", "output_size", output_size)

    def forward(self, x):
        where = f"AdaptiveAvgPool2D({self.extra_repr()})"
        return adaptive_avg_pool2d(x, self.output_size, where)

    def extra_repr(self) -> str:
        return "x".join(map(str, self.output_size))

    def get_config(self) -> dict:
        return {"output_size": list(self.output_size)}
