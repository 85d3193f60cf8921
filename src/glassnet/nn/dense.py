"""Dense: a fully connected layer. Every input gets a vote in every neuron."""

from __future__ import annotations

import numpy as np

from .._validate import check_positive, shape_str
from ..errors import ShapeError
from ..ops.linalg import linear
from ..tensor import Tensor
from . import init as initializers
from .module import Module


class Dense(Module):
    """A layer of neurons, each a weighted sum of all inputs plus a bias.

    .. math:: y = x W + b

    Parameters
    ----------
    in_features, out_features : int
        Inputs per sample, and neurons (outputs) in the layer.
    bias : bool
        Give each neuron a bias (default True).
    init : {'glorot', 'he', 'uniform'}
        How the weights start (see :mod:`glassnet.nn.init`); biases start at 0.
        Default 'glorot', which suits sigmoid and tanh; use 'he' before ReLU,
        'uniform' for the seeds' U(-1, 1).
    seed : int or numpy Generator, optional
        Where the initial weights come from. Without it, fresh entropy is
        used; ``Sequential(..., seed=...)`` re-draws every layer reproducibly.

    Shapes: input (..., in_features), output (..., out_features).

    Parameters (trainable tensors): ``weight`` (in_features, out_features),
    column j holding the weights into neuron j; ``bias`` (out_features,).

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import Dense
    >>> layer = Dense(3, 2, seed=0)
    >>> layer(np.ones((4, 3))).shape
    (4, 2)
    >>> [(name, p.shape) for name, p in layer.named_parameters()]
    [('weight', (3, 2)), ('bias', (2,))]
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "glorot",
        seed=None,
    ):
        check_positive("Dense", "in_features", in_features, integer=True)
        check_positive("Dense", "out_features", out_features, integer=True)
        initializers.get(init)  # an unknown name fails here, not at first use
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init = init
        self.weight = Tensor(
            np.zeros((self.in_features, self.out_features), np.float32),
            requires_grad=True,
        )
        self.bias = (
            Tensor(np.zeros(self.out_features, np.float32), requires_grad=True)
            if bias
            else None
        )
        self.reset_parameters(seed)

    def reset_parameters(self, rng=None) -> Dense:
        rng = initializers.make_rng(rng)
        draw = initializers.get(self.init)
        dtype = self.weight.dtype
        self.weight.data = draw(
            self.weight.shape, self.in_features, self.out_features, rng, dtype
        )
        if self.bias is not None:
            self.bias.data = np.zeros(self.out_features, dtype)
        return self

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            hint = ""
            if x.ndim > 2 and int(np.prod(x.shape[1:])) == self.in_features:
                hint = " Did you forget Flatten()?"
            raise ShapeError(
                f"Dense(in_features={self.in_features}) expected input whose last axis is "
                f"{self.in_features}; got shape {shape_str(x.shape)}.{hint}"
            )
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features} → {self.out_features}{', bias' if self.bias is not None else ''}"

    def get_config(self) -> dict:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "init": self.init,
        }
