"""Convolution layers: a set of small learned features, each matched everywhere."""

from __future__ import annotations

import numpy as np

from .._validate import (
    check_groups,
    check_output_padding,
    check_padding,
    check_positive,
    to_pair,
)
from ..ops.conv import conv_nd, conv_transpose_nd
from ..tensor import Tensor
from . import init as initializers
from .module import Module


class _ConvBase(Module):
    """What Conv1D and Conv2D share: weights, bias, initialisation, description."""

    _spatial = 2
    _transposed = False

    def _setup(
        self,
        in_channels,
        out_channels,
        filt,
        stride,
        padding,
        bias,
        init,
        seed,
        dilation=1,
        groups=1,
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
        self.groups = check_groups(
            name, groups, in_channels=self.in_channels, out_channels=self.out_channels
        )
        self.kernel_size, self.stride, self.padding = filt, stride, padding
        self.dilation = dilation
        self._stride2 = stride if self._spatial == 2 else (1, stride)
        self._dilation2 = dilation if self._spatial == 2 else (1, dilation)
        self.init = init
        filt = filt if self._spatial == 2 else (filt,)
        g = self.groups
        channels = (self.out_channels, self.in_channels // g)  # OIHW
        if self._transposed:  # (in, out/groups, ...): PyTorch's layout
            channels = (self.in_channels, self.out_channels // g)
        shape = (*channels, *filt)
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
            self.in_channels // self.groups * window,
            self.out_channels // self.groups * window,
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
            self._dilation2,
            self.groups,
        )

    def _geometry_repr(self, filt, stride, padding, dilation="1", more="") -> str:
        text = f"{self.in_channels} → {self.out_channels}, {filt}"
        if stride not in ("1", "1x1"):
            text += f", stride {stride}"
        if padding not in ("0", "0x0", "valid"):
            text += f", padding {padding}"
        if dilation not in ("1", "1x1"):
            text += f", dilation {dilation}"
        text += more + (f", groups {self.groups}" if self.groups != 1 else "")
        return text + (", bias" if self.bias is not None else "")

    def _config(self, **geometry) -> dict:
        """get_config(): channels, ``geometry`` (lists for pairs), bias, init;
        dilation and groups only when not 1 (older files have neither)."""
        more = {"dilation": self.dilation, "groups": self.groups}
        geometry.update({k: v for k, v in more.items() if v not in (1, (1, 1))})
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in geometry.items()},
            "bias": self.bias is not None,
            "init": self.init,
        }


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
        How the weights start, with fan_in = in_channels·kh·kw/groups and
        fan_out = out_channels·kh·kw/groups; biases start at 0. 'he' suits ReLU.
    seed : int or numpy Generator, optional
        Where the initial weights come from.
    dilation : int or (int, int), default 1
        Step between the filter's taps (``x_p[.., i s_h + a d_h, ..]``): a
        k-tap filter spans ``d·(k - 1) + 1`` pixels, seeing further for the
        same weights.
    groups : int, default 1
        Split the channels into this many blocks; output block g only sees
        input block g. ``groups = in_channels`` is a depthwise convolution
        (one filter per channel). Must divide both channel counts.

    Shapes: input (batch, in_channels, height, width), output
    (batch, out_channels, out_height, out_width) with
    ``out = floor((size + pad_before + pad_after - d·(k - 1) - 1) / stride) + 1``.

    Parameters (trainable tensors): ``weight`` (out_channels,
    in_channels/groups, kh, kw), ``weight[o]`` being feature ``o``; ``bias``
    (out_channels,).

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
        dilation=1,
        groups: int = 1,
    ):
        filt = to_pair("Conv2D", "kernel_size", kernel_size)
        stride = to_pair("Conv2D", "stride", stride)
        padding = check_padding("Conv2D", padding, 2)
        dilation = to_pair("Conv2D", "dilation", dilation)
        self._setup(
            in_channels, out_channels, filt, stride, padding, bias, init, seed,
            dilation, groups,
        )  # fmt: skip

    def extra_repr(self) -> str:
        pad = (
            self.padding
            if isinstance(self.padding, str)
            else "x".join(map(str, self.padding))
        )
        x = "x".join
        return self._geometry_repr(
            x(map(str, self.kernel_size)),
            x(map(str, self.stride)),
            pad,
            x(map(str, self.dilation)),
        )

    def get_config(self) -> dict:
        return self._config(
            kernel_size=self.kernel_size, stride=self.stride, padding=self.padding
        )


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
        fan_in = in_channels·k/groups, fan_out = out_channels·k/groups;
        biases start at 0.
    seed : int or numpy Generator, optional
    dilation, groups : int, default 1
        As for :class:`Conv2D`, along time.

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
        dilation: int = 1,
        groups: int = 1,
    ):
        for name, value in (("kernel_size", kernel_size), ("stride", stride)):
            check_positive("Conv1D", name, value, integer=True)
        check_positive("Conv1D", "dilation", dilation, integer=True)
        padding = check_padding("Conv1D", padding, 1)
        self._setup(
            in_channels, out_channels, int(kernel_size), int(stride), padding, bias,
            init, seed, int(dilation), groups,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return self._geometry_repr(
            str(self.kernel_size),
            str(self.stride),
            str(self.padding),
            str(self.dilation),
        )

    def get_config(self) -> dict:
        return self._config(
            kernel_size=self.kernel_size, stride=self.stride, padding=self.padding
        )


class ConvTranspose2D(_ConvBase):
    """A transposed convolution: each input pixel paints a weighted copy of the filters.

    The adjoint of :class:`Conv2D` (it is computed as Conv2D's input
    gradient): where a convolution with stride s shrinks a map about s
    times, this one enlarges it about s times -- a decoder's or U-Net's
    learned upsampling. Each input value x[n, o, i, j] adds ``x · W[o, c]``
    onto the output patch at (i·s_h - p_h, j·s_w - p_w), taps d apart:

    .. math::

        y[n, c, i s_h + a d_h - p_h, j s_w + b' d_w - p_w] \\mathrel{+}=
            x[n, o, i, j] \\, W[o, c, a, b'], \\qquad y \\mathrel{+}= b[c]

    summed over the input channels o of c's group.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
        The enlargement: output ≈ stride × input.
    padding : int or (int, int), default 0
        Rows/columns cut from each side of the output (the padding of the
        convolution this one transposes).
    output_padding : int or (int, int), default 0
        Extra rows/columns at the bottom/right, smaller than the stride
        (PyTorch also allows below the dilation; glassnet does not).
    bias : bool, default True
    init : {'glorot', 'he', 'uniform'}, default 'glorot'
        fan_in = in_channels·kh·kw/groups, fan_out = out_channels·kh·kw/groups.
    seed : int or numpy Generator, optional
    dilation : int or (int, int), default 1
    groups : int, default 1
        Input block g paints output block g only; must divide both counts.

    Shapes: input (batch, in_channels, height, width), output (batch,
    out_channels, out_height, out_width) with
    ``out = (size - 1)·s - 2p + d·(k - 1) + output_padding + 1``.

    Parameters (trainable tensors): ``weight`` (in_channels,
    out_channels/groups, kh, kw) -- PyTorch's ConvTranspose2d layout;
    ``bias`` (out_channels,).

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import ConvTranspose2D
    >>> layer = ConvTranspose2D(8, 4, 3, stride=2, padding=1, output_padding=1, seed=0)
    >>> layer
    ConvTranspose2D(8 → 4, 3x3, stride 2x2, padding 1x1, output_padding 1x1, bias)
    >>> layer(np.zeros((2, 8, 4, 4))).shape
    (2, 4, 8, 8)
    """

    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        bias: bool = True,
        init: str = "glorot",
        seed=None,
        dilation=1,
        groups: int = 1,
    ):
        name = "ConvTranspose2D"
        filt = to_pair(name, "kernel_size", kernel_size)
        stride = to_pair(name, "stride", stride)
        padding = to_pair(name, "padding", padding, minimum=0)
        self.output_padding = check_output_padding(name, output_padding, stride)
        dilation = to_pair(name, "dilation", dilation)
        self._setup(
            in_channels, out_channels, filt, stride, padding, bias, init, seed,
            dilation, groups,
        )  # fmt: skip

    def forward(self, x):
        return conv_transpose_nd(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.dilation,
            self.groups,
            f"ConvTranspose2D({self.extra_repr()})",
        )

    def extra_repr(self) -> str:
        x = "x".join
        op = x(map(str, self.output_padding))
        return self._geometry_repr(
            *(x(map(str, v)) for v in (self.kernel_size, self.stride, self.padding)),
            x(map(str, self.dilation)),
            "" if op == "0x0" else f", output_padding {op}",
        )

    def get_config(self) -> dict:
        return self._config(
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            output_padding=self.output_padding,
        )
