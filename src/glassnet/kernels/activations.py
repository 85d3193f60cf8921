"""Activation functions and their local derivatives: the one place they are written.

Each forward takes the pre-activation ``x``; each ``*_backward`` takes the
incoming gradient ``g`` and what the forward kept (the output, or ReLU's mask)
and returns ``g`` times the local derivative. ``out=`` (and ``work=``) are
optional buffers of the result's shape and dtype.
"""

from __future__ import annotations

import math

import numpy as np

from . import _draw, call, native, register, variant
from ._threads import threads_for


def _one(draw):
    x = _draw.array(
        draw,
        _draw.shape(draw, ndim=(0, 3)),
        scale=draw(_draw._st().sampled_from([1, 30, 1e3])),
    )
    return (x,), {}


def _grad_and(output):
    def args(draw):
        (x,), _ = _one(draw)
        return (_draw.like(draw, x), output(x)), {}

    return args


# --- sigmoid -----------------------------------------------------------------------


@register("sigmoid", args=_one, outs=("out",))
def sigmoid(x, out=None):
    """s = 1 / (1 + e^−x), in 4 array operations.

    Where x < −88 (float32; −709 in float64) e^−x overflows to infinity and
    1 / (1 + ∞) = 0, which is the right answer: the overflow warning is
    silenced, so |x| up to 1e4 and beyond is quiet.
    """
    s = np.negative(
        x, out=np.empty_like(x) if out is None else out
    )  # 0-d stays an array
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    np.add(s, 1, out=s)
    return np.reciprocal(s, out=s)


@register(
    "sigmoid_backward",
    args=_grad_and(sigmoid),
    outs=("out",),
    scratch=lambda a: {"work": np.empty_like(a["s"])},
)
def sigmoid_backward(g, s, out=None, work=None):
    """g · s(1 − s), from the forward's output s."""
    d = np.multiply(g, s, out=out)
    return np.multiply(d, np.subtract(1, s, out=work), out=out)


# --- tanh --------------------------------------------------------------------------


@register("tanh", args=_one, outs=("out",))
def tanh(x, out=None):
    """y = tanh(x) = (e^x − e^−x) / (e^x + e^−x), squashing into (−1, 1)."""
    return np.tanh(x, out=out)


@register("tanh_backward", args=_grad_and(tanh), outs=("out",))
def tanh_backward(g, y, out=None):
    """g · (1 − y²), from the forward's output y."""
    d = np.subtract(1, np.multiply(y, y, out=out), out=out)
    return np.multiply(g, d, out=out)


# --- ReLU --------------------------------------------------------------------------


def _relu_args(draw):
    (x,), _ = _one(draw)
    if draw(_draw._st().booleans()):
        x[...] = np.round(x)  # exact zeros, and -0.0
    return (x,), {}


@register("relu", args=_relu_args, outs=("out", "mask"))
def relu(x, out=None, mask=None):
    """(y, mask): mask = [x > 0], y = x · mask.

    A negative x gives −0.0; NaN stays NaN (it is never positive).
    """
    mask = np.greater(x, 0, out=mask)
    return np.multiply(x, mask, out=out), mask


def _contiguous(*arrays) -> bool:
    return all(
        a is None or (isinstance(a, np.ndarray) and a.flags.c_contiguous)
        for a in arrays
    )


#: Numbers per extra thread of the compiled ReLU: below this a call runs on one
#: thread (making a thread costs tens of microseconds).
RELU_PER_THREAD = 1 << 18


def _relu_threads(a) -> int:
    return threads_for(a.size, RELU_PER_THREAD)


@variant(
    "relu",
    uses=("gn_relu_fwd",),
    applies=lambda x, out=None, mask=None: _contiguous(x, out, mask),
)
def relu_c(x, out=None, mask=None):
    """_native/elementwise.c: the output and the mask in one pass (large arrays
    split between threads: the same bits)."""
    out = np.empty_like(x) if out is None else out
    mask = np.empty(x.shape, bool) if mask is None else mask  # C writes 0 or 1 bytes
    native("gn_relu_fwd", x.dtype)(
        x.ctypes.data, out.ctypes.data, mask.ctypes.data, x.size, _relu_threads(x)
    )
    return out, mask


def _relu_backward_args(draw):
    (x,), _ = _relu_args(draw)
    return (_draw.like(draw, x), relu(x)[1]), {}


@register("relu_backward", args=_relu_backward_args, outs=("out",))
def relu_backward(g, mask, out=None):
    """g · mask, with the forward's mask [x > 0]."""
    return np.multiply(g, mask, out=out)


@variant(
    "relu_backward",
    uses=("gn_relu_bwd",),
    applies=lambda g, mask, out=None: (
        _contiguous(g, mask, out) and mask.dtype == bool and mask.shape == g.shape
    ),
)
def relu_backward_c(g, mask, out=None):
    """_native/elementwise.c: one pass (large arrays split between threads)."""
    out = np.empty_like(g) if out is None else out
    native("gn_relu_bwd", g.dtype)(
        g.ctypes.data, mask.ctypes.data, out.ctypes.data, g.size, _relu_threads(g)
    )
    return out


# --- ReLU's smooth and leaky relatives ------------------------------------------------
# Each backward takes (g, x, same parameters) and returns g times the local derivative.


def _with(**choices):
    """Argument generator: x (values up to ±1e3 and beyond) and drawn parameters."""

    def args(draw):
        (x,), _ = _one(draw)
        return (x,), {k: draw(_draw._st().sampled_from(v)) for k, v in choices.items()}

    return args


def _grad_with(**choices):
    def args(draw):
        (x,), kwargs = _with(**choices)(draw)
        return (_draw.like(draw, x), x), kwargs

    return args


_LEAKY = {"slope": [0.01, 0.2, 1.5]}


@register("leaky_relu", args=_with(**_LEAKY))
def leaky_relu(x, slope=0.01):
    """y = x where x > 0, else slope · x."""
    return np.where(x > 0, x, x * x.dtype.type(slope))


@register("leaky_relu_backward", args=_grad_with(**_LEAKY))
def leaky_relu_backward(g, x, slope=0.01):
    """g · (1 where x > 0, else slope); at x = 0 the slope, as PyTorch."""
    return np.where(x > 0, g, g * g.dtype.type(slope))


#: SELU's constants (Klambauer et al. 2017), which keep activations at mean 0,
#: variance 1 through many layers: SELU(x) = λ · ELU_α(x).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_ELU = {"alpha": [1.0, 0.3, SELU_ALPHA], "scale": [1.0, SELU_SCALE]}


@register("elu", args=_with(**_ELU))
def elu(x, alpha=1.0, scale=1.0):
    """y = scale · (x where x > 0, else alpha · (e^x − 1)).

    ELU is scale = 1; SELU is alpha = α, scale = λ (:data:`SELU_ALPHA`,
    :data:`SELU_SCALE`). e^x is taken of min(x, 0) only, so it never overflows.
    """
    t = x.dtype.type
    neg = np.expm1(np.minimum(x, 0)) * t(alpha)
    return np.where(x > 0, x, neg) * t(scale)


@register("elu_backward", args=_grad_with(**_ELU))
def elu_backward(g, x, alpha=1.0, scale=1.0):
    """g · scale · (1 where x > 0, else alpha · e^x); at x = 0 alpha · scale."""
    t = x.dtype.type
    return g * np.where(x > 0, t(scale), np.exp(np.minimum(x, 0)) * t(alpha * scale))


_erf = np.frompyfunc(math.erf, 1, 1)
_GELU = {"approximate": ["none", "tanh"]}
_TANH_K, _TANH_C = math.sqrt(2 / math.pi), 0.044715


@register("erf", args=_one)
def erf(x):
    """The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt, elementwise (``math.erf``).

    NumPy has none; this runs C's erf through Python (about 0.3 µs an
    element). The compiled twin, :func:`erf_c`, gives the same bits.
    """
    return np.asarray(_erf(x), dtype=x.dtype)


@variant("erf", uses=("gn_erf",), applies=lambda x: _contiguous(x))
def erf_c(x):
    """_native/elementwise.c: C's erf in double, rounded to x's dtype."""
    out = np.empty_like(x)
    native("gn_erf", x.dtype)(x.ctypes.data, out.ctypes.data, x.size)
    return out


@register("gelu", args=_with(**_GELU))
def gelu(x, approximate="none"):
    """y = x · Φ(x), Φ the standard normal CDF: ½ x (1 + erf(x / √2)).

    ``approximate="tanh"``: ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))), the
    form of the original GPT and BERT code (Hendrycks & Gimpel 2016).
    """
    return x.dtype.type(0.5) * x * (1 + _two_phi_minus_one(x, approximate))


def _two_phi_minus_one(x, approximate):
    """2Φ(x) − 1, GELU's squash: erf(x / √2), or tanh u for the tanh form."""
    t = x.dtype.type
    if approximate == "tanh":
        return np.tanh(t(_TANH_K) * (x + t(_TANH_C) * x * x * x))
    return call("erf", x * t(1 / math.sqrt(2)))


@register("gelu_backward", args=_grad_with(**_GELU))
def gelu_backward(g, x, approximate="none"):
    """g · (Φ(x) + x · φ(x)), φ(x) = e^(−x²/2) / √(2π), the normal density.

    ``approximate="tanh"``, with u = √(2/π) (x + 0.044715 x³):
    g · (½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3 · 0.044715 x²)).
    """
    t = x.dtype.type
    if approximate == "tanh":
        th = _two_phi_minus_one(x, "tanh")
        slope = t(_TANH_K) * (1 + t(3 * _TANH_C) * x * x)
        return g * (t(0.5) * (1 + th) + t(0.5) * x * (1 - th * th) * slope)
    with np.errstate(under="ignore", over="ignore"):  # x² overflows to e^−∞ = 0
        density = np.exp(x * x * t(-0.5)) * t(1 / math.sqrt(2 * math.pi))
    return g * (t(0.5) * (1 + _two_phi_minus_one(x, "none")) + x * density)


@register("silu", args=_one)
def silu(x):
    """y = x · σ(x) (SiLU, or swish), σ the sigmoid."""
    return x * sigmoid(x)


@register("silu_backward", args=_grad_and(lambda x: x))
def silu_backward(g, x):
    """g · σ(x) (1 + x (1 − σ(x)))."""
    s = sigmoid(x)
    return g * s * (1 + x * (1 - s))


_SOFTPLUS = {"beta": [1.0, 0.5, 3.0], "threshold": [20.0, 2.0]}


@register("softplus", args=_with(**_SOFTPLUS))
def softplus(x, beta=1.0, threshold=20.0):
    """y = log(1 + e^(βx)) / β, a smooth ReLU; y = x where βx > threshold.

    Computed as (max(βx, 0) + log(1 + e^(−|βx|))) / β, which exponentiates
    nothing positive: finite for any x. The threshold is PyTorch's: past it
    the result is x itself (it differs from x by less than e^−20 / β).
    """
    t = x.dtype.type
    bx = x * t(beta)
    y = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / t(beta)
    return np.where(bx > threshold, x, y)


@register("softplus_backward", args=_grad_with(**_SOFTPLUS))
def softplus_backward(g, x, beta=1.0, threshold=20.0):
    """g · σ(βx), σ the sigmoid; g where βx > threshold."""
    bx = x * x.dtype.type(beta)
    return np.where(bx > threshold, g, g * sigmoid(bx))


# --- log-softmax: log-probabilities from scores ---------------------------------------


def _axis_args(draw):
    (x,), _ = _one(draw)
    if x.ndim == 0:
        x = x.reshape(1)
    return (x,), {"axis": draw(_draw._st().integers(-x.ndim, x.ndim - 1))}


@register("log_softmax", args=_axis_args)
def log_softmax(x, axis=-1):
    """y = x − m − log Σ e^(x − m) along ``axis``, m the maximum there.

    Log-sum-exp with the maximum subtracted first: nothing exponentiated is
    positive (no overflow) and no log is taken of an underflowed 0.
    """
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _log_softmax_backward_args(draw):
    (x,), kwargs = _axis_args(draw)
    return (_draw.like(draw, x), log_softmax(x, **kwargs)), kwargs


@register("log_softmax_backward", args=_log_softmax_backward_args)
def log_softmax_backward(g, y, axis=-1):
    """g − softmax(x) · Σ g along ``axis``, from the output y (softmax = e^y)."""
    return g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)
