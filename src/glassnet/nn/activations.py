"""Activation layers: the squashing functions applied to each neuron's weighted sum.

They have no parameters. Each calls one op from :mod:`glassnet.ops`, where
the function and its derivative sit side by side.
"""

from __future__ import annotations

import numbers

from .._validate import check_real
from ..errors import ConfigError
from ..ops import elementwise as ew
from ..ops import reduce as rd
from .module import Module


class Sigmoid(Module):
    """The logistic squash 1 / (1 + e^−x): any number in, a value in (0, 1) out.

    Derivative s(1 − s). Shapes: any, unchanged.

    >>> from glassnet.nn import Sigmoid
    >>> Sigmoid()([0.0]).data
    array([0.5], dtype=float32)
    """

    def forward(self, x):
        return ew.sigmoid(x)


class Tanh(Module):
    """The hyperbolic tangent: squashes into (−1, 1), centred on 0.

    Derivative 1 − y², from the output y.
    """

    def forward(self, x):
        return ew.tanh(x)


class ReLU(Module):
    """Rectified linear unit max(x, 0): negative sums become 0, positive pass through.

    Derivative 1 where the input was positive, else 0.
    """

    def forward(self, x):
        return ew.relu(x)


class Identity(Module):
    """Passes its input through unchanged (a linear neuron's 'activation')."""

    def forward(self, x):
        return x


class Softmax(Module):
    """Turns a row of scores into probabilities that sum to 1, along ``axis``.

    For training a classifier, leave it out and use ``losses.CrossEntropy``,
    which takes the raw scores and fuses softmax into the loss (more stable
    and faster); add Softmax for models whose outputs you want as probabilities.
    """

    def __init__(self, axis: int = -1):
        if (
            isinstance(axis, bool)
            or not isinstance(axis, numbers.Integral)
            or not -64 < axis < 64
        ):
            raise ConfigError(
                f"Softmax: axis must be an integer in (-64, 64) (NumPy's most "
                f"axes); got {axis!r}."
            )
        self.axis = int(axis)

    def forward(self, x):
        return rd.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return "" if self.axis == -1 else f"axis={self.axis}"

    def get_config(self) -> dict:
        return {"axis": self.axis}


class Step(Module):
    """The threshold neuron: outputs ``high`` when its input exceeds ``threshold``,
    else ``low`` (1 and 0 by default).

    This is the oldest artificial neuron, an on/off switch. It cannot be
    trained by gradient descent: its slope is zero everywhere except at the
    jump, so backpropagation through it raises an error that says so. Set its
    weights by hand, or train with a gradient-free optimizer.

    >>> from glassnet.nn import Step
    >>> Step()([-0.5, 0.0, 2.0]).data
    array([0., 0., 1.], dtype=float32)
    """

    def __init__(self, threshold: float = 0.0, low: float = 0.0, high: float = 1.0):
        for name, value in (("threshold", threshold), ("low", low), ("high", high)):
            check_real("Step", name, value)
        self.threshold, self.low, self.high = float(threshold), float(low), float(high)

    def forward(self, x):
        return ew.step(x, self.threshold, self.low, self.high)

    def extra_repr(self) -> str:
        if (self.threshold, self.low, self.high) == (0.0, 0.0, 1.0):
            return ""
        return f"threshold={self.threshold}, low={self.low}, high={self.high}"

    def get_config(self) -> dict:
        return {"threshold": self.threshold, "low": self.low, "high": self.high}
