"""Normalisation layers: rescale activations to mean 0 and variance 1, then learn a
scale and shift. BatchNorm normalises over the batch, LayerNorm over each sample."""

from __future__ import annotations

import numpy as np

from .._validate import check_number, check_positive, shape_str
from ..errors import ShapeError
from ..ops.norm import batch_norm, layer_norm
from ..tensor import Tensor
from .module import Module


class _BatchNorm(Module):
    """What BatchNorm1D and BatchNorm2D share; they differ in the input they take."""

    buffer_names = ("running_mean", "running_var")
    layouts: dict = {}  # ndim -> the layout named in errors

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine: bool = True):
        where = type(self).__name__
        check_positive(where, "num_features", num_features, integer=True)
        self.num_features, self.affine = int(num_features), bool(affine)
        self.eps = check_number(where, "eps", eps, 0, low_open=True)
        self.momentum = check_number(where, "momentum", momentum, 0, 1)
        self.weight = self.bias = None
        if affine:
            self.weight = Tensor(np.ones(num_features, np.float32), requires_grad=True)
            self.bias = Tensor(np.zeros(num_features, np.float32), requires_grad=True)
        self.running_mean = np.zeros(num_features, np.float32)
        self.running_var = np.ones(num_features, np.float32)

    def reset_parameters(self, rng=None) -> _BatchNorm:
        """γ = 1, β = 0; running mean 0 and variance 1 (the identity at first)."""
        dtype = self.dtype
        self.running_mean = np.zeros(self.num_features, dtype)
        self.running_var = np.ones(self.num_features, dtype)
        for p, value in ((self.weight, 1), (self.bias, 0)):
            if p is not None:
                p.data = np.full(self.num_features, value, dtype)
        return self

    def forward(self, x):
        if x.ndim not in self.layouts or x.shape[1] != self.num_features:
            c = self.num_features
            want = " or ".join(f.format(c=c) for f in self.layouts.values())
            raise ShapeError(
                f"{type(self).__name__}(num_features={c}) expected input {want}; got "
                f"shape {shape_str(x.shape)}."
            )
        return batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias,
            training=self.training, momentum=self.momentum, eps=self.eps,
        )  # fmt: skip

    def extra_repr(self) -> str:
        affine = ", affine" if self.affine else ""
        return (
            f"{self.num_features}, momentum={self.momentum:g}, eps={self.eps:g}{affine}"
        )

    def get_config(self) -> dict:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
        }


class BatchNorm1D(_BatchNorm):
    """Batch normalisation of features (N, C) or of sequences' channels (N, C, L).

    .. math:: y = \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}} \\gamma + \\beta

    In training mode μ and σ² are the mean and the biased variance of each
    feature over the batch (and the positions L), and the running statistics
    move towards the batch's: ``running = (1 − momentum) · running +
    momentum · batch``, with the unbiased variance (× n / (n − 1)). In ``eval()`` mode the running
    statistics are used, so one sample's output does not depend on the
    others in its batch. The numbers are PyTorch's ``BatchNorm1d``.

    Parameters
    ----------
    num_features : int
        Channels C.
    eps : float
        Added to the variance (default 1e-5).
    momentum : float in [0, 1]
        How far the running statistics move towards each batch's (0.1).
    affine : bool
        Learn a scale γ and a shift β per channel (default True).

    Shapes: input (batch, C) or (batch, C, length), output the same.

    Parameters (trainable tensors): ``weight`` γ (C,), starting at 1; ``bias``
    β (C,), starting at 0. Buffers (saved, not trained): ``running_mean``
    (C,), starting at 0, and ``running_var`` (C,), starting at 1.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import BatchNorm1D
    >>> layer = BatchNorm1D(3)
    >>> y = layer(np.arange(12, dtype=np.float32).reshape(4, 3))
    >>> np.round(y.data.mean(axis=0), 6), layer.running_mean.shape
    (array([0., 0., 0.], dtype=float32), (3,))
    """

    layouts = {2: "(batch, {c})", 3: "(batch, {c}, length)"}


class BatchNorm2D(_BatchNorm):
    """Batch normalisation of each channel of feature maps (N, C, H, W).

    .. math:: y = \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}} \\gamma + \\beta

    In training mode μ and σ² are the mean and the biased variance of each
    channel over the batch and the positions H × W, and the running
    statistics move towards the batch's: ``running = (1 − momentum) · running
    + momentum · batch``, with the unbiased variance (× n / (n − 1)). In ``eval()`` mode the running
    statistics are used, so one sample's output does not depend on the
    others in its batch. The numbers are PyTorch's ``BatchNorm2d``.

    Parameters
    ----------
    num_features : int
        Channels C.
    eps : float
        Added to the variance (default 1e-5).
    momentum : float in [0, 1]
        How far the running statistics move towards each batch's (0.1).
    affine : bool
        Learn a scale γ and a shift β per channel (default True).

    Shapes: input (batch, C, height, width), output the same.

    Parameters (trainable tensors): ``weight`` γ (C,), starting at 1; ``bias``
    β (C,), starting at 0. Buffers (saved, not trained): ``running_mean``
    (C,), starting at 0, and ``running_var`` (C,), starting at 1.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import BatchNorm2D
    >>> layer = BatchNorm2D(3)
    >>> y = layer(np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2))
    >>> np.round(y.data.mean(axis=(0, 2, 3)), 6), layer.running_mean.shape
    (array([0., 0., 0.], dtype=float32), (3,))
    """

    layouts = {4: "(batch, {c}, height, width)"}


class LayerNorm(Module):
    """Layer normalisation: each sample over its last axes, the same in training
    and eval mode.

    .. math:: y = \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}} \\gamma + \\beta

    μ and σ² are the mean and the biased variance of each sample over its
    last ``len(normalized_shape)`` axes, which must be ``normalized_shape``
    (PyTorch's ``LayerNorm``). Nothing depends on the batch, so it suits
    sequences and batch 1.

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The trailing shape normalised over, e.g. the features F of
        (batch, time, F).
    eps : float
        Added to the variance (default 1e-5).
    elementwise_affine : bool
        Learn a scale γ and a shift β per value (default True).

    Shapes: input (..., *normalized_shape), output the same.

    Parameters (trainable tensors): ``weight`` γ and ``bias`` β, each of
    shape normalized_shape, starting at 1 and 0.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import LayerNorm
    >>> LayerNorm(4)(np.array([[1.0, 2.0, 3.0, 4.0]])).data.round(4)
    array([[-1.3416, -0.4472,  0.4472,  1.3416]], dtype=float32)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine: bool = True):
        shape = normalized_shape
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        for size in shape or [None]:
            check_positive("LayerNorm", "normalized_shape", size, integer=True)
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = check_number("LayerNorm", "eps", eps, 0, low_open=True)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = self.bias = None
        if elementwise_affine:
            self.weight = Tensor(np.ones(shape, np.float32), requires_grad=True)
            self.bias = Tensor(np.zeros(shape, np.float32), requires_grad=True)

    def reset_parameters(self, rng=None) -> LayerNorm:
        """γ = 1, β = 0."""
        if self.weight is not None:
            self.weight.data = np.ones_like(self.weight.data)
            self.bias.data = np.zeros_like(self.bias.data)
        return self

    def forward(self, x):
        shape = self.normalized_shape
        if x.shape[max(x.ndim - len(shape), 0) :] != shape:
            raise ShapeError(
                f"LayerNorm(normalized_shape={list(shape)}) expected input whose "
                f"last axes are {shape_str(shape)}; got shape {shape_str(x.shape)}."
            )
        return layer_norm(x, shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = ", affine" if self.elementwise_affine else ""
        return f"{list(self.normalized_shape)}, eps={self.eps:g}{affine}"

    def get_config(self) -> dict:
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
        }
