"""Convolution layers: a set of small learned features, each matched everywhere."""

from __future__ import annotations

import numpy as np

from .._validate import check_padding, check_positive, to_pair
from ..ops.conv import conv_nd
from ..tensor import Tensor
from . import init as initializers
from .module import Module


class _ConvBase(Module):
    """What Conv1D and Conv2D share: weights, bias, initialisation, description."""

    _spatial = 2

    def _setup(
        self, in_channels, out_channels, filt, stride, padding, bias, init, seed
    ):
        """``filt`` (the filter size) and ``stride`` as given to the layer (ints for
        1-D, pairs for 2-D). The attribute keeps the public name ``kernel_size``:
        it is the API contract (PyTorch's name); inside glassnet a convolution's
        weights are *filters*, and a kernel is a formula of glassnet.kernels."""
        name = type(self).__name__
        check_positive(name, "in_channels", in_channels, integer=True)
        check_positive(name, "out_channels", out_channels, integer=True)
        initializers.get(init)  # an unknown name fails here, not at first use
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = filt, stride, padding
        self._stride2 = stride if self._spatial == 2 else (1, stride)
        self.init = init
        shape = (self.out_channels, self.in_channels) + (
            filt if self._spatial == 2 else (filt,)
        )
        self.weight = Tensor(np.zeros(shape, np.float32), requires_grad=True)
        self.bias = (
            Tensor(np.zeros(self.out_channels, np.float32), requires_grad=True)
            if bias
            else None
        )
        self.reset_parameters(seed)

    def reset_parameters(self, rng=None):
        rng = initializers.make_rng(rng)
        draw = initializers.get(self.init)
        window = int(np.prod(self.weight.shape[2:]))
        dtype = self.weight.dtype
        self.weight.data = draw(
            self.weight.shape,
            self.in_channels * window,
            self.out_channels * window,
            rng,
            dtype,
        )
        if self.bias is not None:
            self.bias.data = np.zeros(self.out_channels, dtype)
        return self

    def forward(self, x):
        return conv_nd(
            x,
            self.weight,
            self.bias,
            self._stride2,
            self.padding,
            self._spatial,
            f"{type(self).__name__}({self.extra_repr()})",
        )

    def _geometry_repr(self, filt, stride, padding) -> str:
        text = f"{self.in_channels} → {self.out_channels}, {filt}"
        if stride not in ("1", "1x1"):
            text += f", stride {stride}"
        if padding not in ("0", "0x0", "valid"):
            text += f", padding {padding}"
        return text + (", bias" if self.bias is not None else "")


class Conv2D(_ConvBase):
    """A convolution layer: each of its features slides over the image, making one map.

    Every output channel is one learned feature (filter). At every position
    it is laid over a patch of the input -- all input channels at once --
    the overlapping values are multiplied and added, and a bias is added:

    .. math::

        y[n, o, i, j] = b[o] + \\sum_{c=0}^{C-1} \\sum_{a<k_h} \\sum_{b'<k_w}
                        W[o, c, a, b'] \\; x_p[n, c, i s_h + a, j s_w + b']

    with ``x_p`` the input with zero padding. The forward pass is a single
    matrix product over a patch matrix (see :mod:`glassnet.ops.conv`).

    Relation to the seed's filtering: for a one-channel image and a feature
    ``f`` of k pixels, a Conv2D with weight ``f`` and no bias gives
    ``k * glassnet.ops.conv.match(image, f)``: the same sum of products,
    not yet divided by the pixel count.

    Parameters
    ----------
    in_channels, out_channels : int
        Maps coming in (1 for a grey image, 3 for colour), and features
        (maps going out).
    kernel_size : int or (int, int)
        Feature height and width.
    stride : int or (int, int), default 1
        Step between positions.
    padding : 'valid', 'same', int or (int, int), default 0
        Zeros added around the input. 'valid' (= 0) only uses positions
        where the feature fits; 'same' adds enough for
        ``ceil(size / stride)`` positions (the odd pixel goes after).
    bias : bool, default True
        Give each feature a bias.
    init : {'glorot', 'he', 'uniform'}, default 'glorot'
        How the weights start, with fan_in = in_channels·kh·kw and fan_out =
        out_channels·kh·kw; biases start at 0. 'he' suits ReLU.
    seed : int or numpy Generator, optional
        Where the initial weights come from.

    Shapes: input (batch, in_channels, height, width), output
    (batch, out_channels, out_height, out_width) with
    ``out = floor((size + pad_before + pad_after - k) / stride) + 1``.

    Parameters (trainable tensors): ``weight`` (out_channels, in_channels,
    kh, kw), ``weight[o]`` being feature ``o``; ``bias`` (out_channels,).

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import Conv2D
    >>> layer = Conv2D(1, 16, 5, padding=2, seed=0)
    >>> layer
    Conv2D(1 → 16, 5x5, padding 2x2, bias)
    >>> layer(np.zeros((8, 1, 28, 28))).shape
    (8, 16, 28, 28)
    >>> [(name, p.shape) for name, p in layer.named_parameters()]
    [('weight', (16, 1, 5, 5)), ('bias', (16,))]
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        bias: bool = True,
        init: str = "glorot",
        seed=None,
    ):
        filt = to_pair("Conv2D", "kernel_size", kernel_size)
        stride = to_pair("Conv2D", "stride", stride)
        padding = check_padding("Conv2D", padding, 2)
        self._setup(in_channels, out_channels, filt, stride, padding, bias, init, seed)

    def extra_repr(self) -> str:
        pad = (
            self.padding
            if isinstance(self.padding, str)
            else "x".join(map(str, self.padding))
        )
        return self._geometry_repr(
            "x".join(map(str, self.kernel_size)), "x".join(map(str, self.stride)), pad
        )

    def get_config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": (
                self.padding if isinstance(self.padding, str) else list(self.padding)
            ),
            "bias": self.bias is not None,
            "init": self.init,
        }


class Conv1D(_ConvBase):
    """A convolution along time: each feature slides along a sequence of frames.

    Input is (batch, channels, time): sound chopped into time steps with one
    channel per frequency band, or text with one channel per dictionary
    word, so each window spans the whole column of channels and moves only
    along time.

    .. math::

        y[n, o, t] = b[o] + \\sum_{c=0}^{C-1} \\sum_{a<k} W[o, c, a] \\; x_p[n, c, t s + a]

    Parameters
    ----------
    in_channels, out_channels : int
        Channels coming in, and features (channels going out).
    kernel_size : int
        Window length in time steps.
    stride : int, default 1
    padding : 'valid', 'same' or int, default 0
        Zeros added at both ends of the time axis.
    bias : bool, default True
    init : {'glorot', 'he', 'uniform'}, default 'glorot'
        fan_in = in_channels·k, fan_out = out_channels·k; biases start at 0.
    seed : int or numpy Generator, optional

    Shapes: input (batch, in_channels, time), output (batch, out_channels,
    out_time), ``out_time = floor((time + 2·padding - k) / stride) + 1``.

    Parameters (trainable tensors): ``weight`` (out_channels, in_channels, k);
    ``bias`` (out_channels,).

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import Conv1D
    >>> layer = Conv1D(5, 8, 3, padding="same", seed=0)
    >>> layer
    Conv1D(5 → 8, 3, padding same, bias)
    >>> layer(np.zeros((2, 5, 12))).shape
    (2, 8, 12)
    """

    _spatial = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding=0,
        bias: bool = True,
        init: str = "glorot",
        seed=None,
    ):
        check_positive("Conv1D", "kernel_size", kernel_size, integer=True)
        check_positive("Conv1D", "stride", stride, integer=True)
        padding = check_padding("Conv1D", padding, 1)
        self._setup(
            in_channels,
            out_channels,
            int(kernel_size),
            int(stride),
            padding,
            bias,
            init,
            seed,
        )

    def extra_repr(self) -> str:
        return self._geometry_repr(
            str(self.kernel_size), str(self.stride), str(self.padding)
        )

    def get_config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "bias": self.bias is not None,
            "init": self.init,
        }
