"""Activation layers: the squashing functions applied to each neuron's weighted sum.

They have no parameters. Each calls one op from :mod:`glassnet.ops`, where
the function and its derivative sit side by side.
"""

from __future__ import annotations

import numbers

from .._validate import check_number, check_positive, check_real
from ..errors import ConfigError
from ..kernels.activations import SELU_ALPHA, SELU_SCALE
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


def _check_axis(where: str, axis) -> int:
    if (
        isinstance(axis, bool)
        or not isinstance(axis, numbers.Integral)
        or not -64 < axis < 64
    ):
        raise ConfigError(
            f"{where}: axis must be an integer in (-64, 64) (NumPy's most "
            f"axes); got {axis!r}."
        )
    return int(axis)


class Softmax(Module):
    """Turns a row of scores into probabilities that sum to 1, along ``axis``.

    For training a classifier, leave it out and use ``losses.CrossEntropy``,
    which takes the raw scores and fuses softmax into the loss (more stable
    and faster); add Softmax for models whose outputs you want as probabilities.
    """

    def __init__(self, axis: int = -1):
        self.axis = _check_axis(type(self).__name__, axis)

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


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``axis``: log-probabilities, computed stably.

    ``y = x − log Σ e^x`` (the maximum subtracted before exponentiating), so a
    class the network rules out gets a large negative number instead of
    log 0 = −∞. Pair it with :class:`glassnet.losses.NLL`, or take the raw
    scores to :class:`glassnet.losses.CrossEntropy`, which fuses both.
    Local derivative applied to g: g − softmax(x) Σ g. Shapes: any, unchanged.

    >>> from glassnet.nn import LogSoftmax
    >>> LogSoftmax()([[0.0, 0.0]]).data.round(4)  # log ½ twice
    array([[-0.6931, -0.6931]], dtype=float32)
    """

    def forward(self, x):
        return rd.log_softmax(x, self.axis)


class LeakyReLU(Module):
    """ReLU with a small slope for negative sums: ``x`` where x > 0, else ``slope · x``.

    A neuron whose sums are all negative still passes a gradient (``slope``),
    so it cannot die as a ReLU one can. Local derivative: 1 where x > 0, else
    ``negative_slope``. Shapes: any, unchanged.

    >>> from glassnet.nn import LeakyReLU
    >>> LeakyReLU(0.1)([-2.0, 3.0]).data
    array([-0.2,  3. ], dtype=float32)
    """

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = check_real("LeakyReLU", "negative_slope", negative_slope)

    def forward(self, x):
        return ew.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope:g}"

    def get_config(self) -> dict:
        return {"negative_slope": self.negative_slope}


class ELU(Module):
    """Exponential linear unit: ``x`` where x > 0, else ``alpha · (e^x − 1)``.

    Smooth at 0 for alpha = 1, and saturating at −alpha for very negative
    sums (Clevert et al. 2015). Local derivative: 1 where x > 0, else
    alpha · e^x. Shapes: any, unchanged.

    >>> from glassnet.nn import ELU
    >>> ELU()([0.0, 2.0, -50.0]).data
    array([ 0.,  2., -1.], dtype=float32)
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = check_number("ELU", "alpha", alpha, 0)

    def forward(self, x):
        return ew.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"

    def get_config(self) -> dict:
        return {"alpha": self.alpha}


class SELU(Module):
    """Scaled ELU, ``λ · ELU_α(x)`` with λ ≈ 1.0507 and α ≈ 1.6733 (fixed).

    With these constants (Klambauer et al. 2017) the activations of a deep
    stack of Dense layers initialised with variance 1/fan-in stay near mean 0
    and variance 1, without normalisation layers. Local derivative: λ where
    x > 0, else λ α e^x. Shapes: any, unchanged.

    >>> from glassnet.nn import SELU
    >>> SELU()([1.0]).data
    array([1.050701], dtype=float32)
    """

    def forward(self, x):
        return ew.elu(x, SELU_ALPHA, SELU_SCALE)


class GELU(Module):
    """Gaussian error linear unit: ``x · Φ(x)``, Φ the standard normal CDF.

    ``Φ(x) = ½ (1 + erf(x / √2))``: a sum is passed on in proportion to how
    likely a standard normal variable is to lie below it (Hendrycks & Gimpel
    2016), the activation of BERT and GPT. ``approximate="tanh"`` uses
    ``½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))``, as their original code
    did. Local derivative: Φ(x) + x φ(x), φ the normal density. Shapes: any,
    unchanged.

    >>> from glassnet.nn import GELU
    >>> GELU()([-1.0, 0.0, 1.0]).data
    array([-0.15865526,  0.        ,  0.8413447 ], dtype=float32)
    """

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ConfigError(
                f"GELU: approximate must be 'none' (the exact erf form) or 'tanh'; "
                f"got {approximate!r}."
            )
        self.approximate = approximate

    def forward(self, x):
        return ew.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else "approximate='tanh'"

    def get_config(self) -> dict:
        return {"approximate": self.approximate}


class SiLU(Module):
    """Sigmoid linear unit (swish): ``x · σ(x)``, each sum gated by its own sigmoid.

    Local derivative: σ(x) (1 + x (1 − σ(x))). Shapes: any, unchanged.

    >>> from glassnet.nn import SiLU
    >>> SiLU()([0.0, 1.0]).data
    array([0.       , 0.7310586], dtype=float32)
    """

    def forward(self, x):
        return ew.silu(x)


class Softplus(Module):
    """A smooth ReLU: ``log(1 + e^(βx)) / β``, always positive.

    Computed without overflow for any x; where ``βx > threshold`` the result
    is x itself (the two differ by less than e^−threshold / β), as in
    PyTorch. Local derivative: σ(βx), the sigmoid. Shapes: any, unchanged.

    >>> from glassnet.nn import Softplus
    >>> Softplus()([0.0, 1000.0]).data
    array([6.931472e-01, 1.000000e+03], dtype=float32)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        check_positive("Softplus", "beta", beta)
        self.beta = float(beta)
        self.threshold = check_real("Softplus", "threshold", threshold)

    def forward(self, x):
        return ew.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        if (self.beta, self.threshold) == (1.0, 20.0):
            return ""
        return f"beta={self.beta:g}, threshold={self.threshold:g}"

    def get_config(self) -> dict:
        return {"beta": self.beta, "threshold": self.threshold}
