"""Elementwise ops: each one's forward and its local derivative, side by side.

Every ``backward(g)`` receives ``g`` = d(loss)/d(output) and returns
d(loss)/d(input) for each input: ``g`` times the local derivative (the
chain rule), summed back to the input's shape by ``unbroadcast`` when NumPy
broadcast the input. An input that needs no gradient gets ``None`` and no
work is done for it.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validate import shape_str
from ..errors import ShapeError
from ..kernels import activations as _act
from ..tensor import Tensor, as_tensor, make_result, unbroadcast


def _pair(a, b):
    """Both operands as Tensors; a constant takes the other's dtype."""
    if isinstance(a, Tensor):
        return a, (b if isinstance(b, Tensor) else as_tensor(b, a))
    b = as_tensor(b)
    return as_tensor(a, b), b


def _broadcast_error(op, a, b):
    return ShapeError(
        f"{op}: cannot broadcast shapes {shape_str(a.shape)} and {shape_str(b.shape)} "
        "(NumPy rules: trailing axes must be equal or 1)."
    )


# --- arithmetic --------------------------------------------------------------


def add(a, b) -> Tensor:
    """a + b.  Local derivative: sum → 1 for each input."""
    a, b = _pair(a, b)
    try:
        out = a.data + b.data
    except ValueError:
        raise _broadcast_error("add", a, b) from None

    def backward(g):
        return (
            unbroadcast(g, a.shape) if a.requires_grad else None,
            unbroadcast(g, b.shape) if b.requires_grad else None,
        )

    return make_result(out, (a, b), backward)


def sub(a, b) -> Tensor:
    """a - b.  Local derivative: 1 for a, -1 for b."""
    a, b = _pair(a, b)
    try:
        out = a.data - b.data
    except ValueError:
        raise _broadcast_error("sub", a, b) from None

    def backward(g):
        return (
            unbroadcast(g, a.shape) if a.requires_grad else None,
            unbroadcast(-g, b.shape) if b.requires_grad else None,
        )

    return make_result(out, (a, b), backward)


def mul(a, b) -> Tensor:
    """a * b.  Local derivative: a weight → the other factor (d(ab)/da = b)."""
    a, b = _pair(a, b)
    try:
        out = a.data * b.data
    except ValueError:
        raise _broadcast_error("mul", a, b) from None

    def backward(g):
        return (
            unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
            unbroadcast(g * a.data, b.shape) if b.requires_grad else None,
        )

    return make_result(out, (a, b), backward)


def div(a, b) -> Tensor:
    """a / b.  Local derivatives: 1/b for a, -a/b² for b."""
    a, b = _pair(a, b)
    try:
        out = a.data / b.data
    except ValueError:
        raise _broadcast_error("div", a, b) from None

    def backward(g):
        g_over_b = g / b.data
        return (
            unbroadcast(g_over_b, a.shape) if a.requires_grad else None,
            unbroadcast(-g_over_b * out, b.shape) if b.requires_grad else None,
        )

    return make_result(out, (a, b), backward)


def pow(a, b) -> Tensor:
    """a ** b, for a number or tensor exponent b.

    Local derivatives: b·a^(b−1) for the base; a^b·ln(a) for the exponent.

    Where the formulas hit 0·∞ the gradient is the limit, not NaN:

    - base, where b = 0: a^0 is the constant 1, so the derivative is 0, also
      at a = 0 (where b·a^(b−1) would read 0·∞);
    - exponent, where a = 0: 0^b is the constant 0 for b > 0, so 0 is exact
      there; at b <= 0 (0^0 = 1 jumps to 0, 0^b = ∞ for b < 0) there is no
      derivative and 0 is a convention, as in PyTorch for b = 0;
    - exponent, where a < 0: a^b is real only at whole b, so there is no
      derivative in b; 0 by convention (PyTorch gives NaN).

    >>> import glassnet as gn
    >>> x = gn.tensor([0.0, 2.0], requires_grad=True)
    >>> (x ** 0).sum().backward()
    >>> x.grad
    array([0., 0.], dtype=float32)
    """
    a, b = _pair(a, b)
    try:
        out = a.data**b.data
    except ValueError:
        raise _broadcast_error("pow", a, b) from None

    def backward(g):
        da = db = None
        if a.requires_grad:
            # b·a^(b−1), with the exponent b−1 replaced by 0 where b = 0: then
            # the term is 0·a^0 = 0 and 0^(−1) is never formed
            da_local = b.data * a.data ** np.where(b.data == 0, 0, b.data - 1)
            da = unbroadcast(g * da_local, a.shape)
        if b.requires_grad:
            positive = a.data > 0
            log_a = np.log(np.where(positive, a.data, 1))
            db = unbroadcast(g * np.where(positive, out, 0) * log_a, b.shape)
        return da, db

    return make_result(out, (a, b), backward)


def neg(a) -> Tensor:
    """-a.  Local derivative: -1."""
    a = as_tensor(a)
    return make_result(-a.data, (a,), lambda g: (-g,))


# --- functions of one input (derivative taken from the output when cheaper) --


def exp(x) -> Tensor:
    """e^x.  Local derivative: e^x itself, the output."""
    x = as_tensor(x)
    y = np.exp(x.data)
    return make_result(y, (x,), lambda g: (g * y,))


def log(x) -> Tensor:
    """Natural log.  Local derivative: 1/x."""
    x = as_tensor(x)
    return make_result(np.log(x.data), (x,), lambda g: (g / x.data,))


def sqrt(x) -> Tensor:
    """√x.  Local derivative: 1/(2√x), from the output."""
    x = as_tensor(x)
    y = np.sqrt(x.data)
    return make_result(y, (x,), lambda g: (g * 0.5 / y,))


def abs(x) -> Tensor:
    """|x|.  Local derivative: the sign of x (0 at exactly 0)."""
    x = as_tensor(x)
    return make_result(np.abs(x.data), (x,), lambda g: (g * np.sign(x.data),))


def sin(x) -> Tensor:
    """sin x.  Local derivative: cos x."""
    x = as_tensor(x)
    return make_result(np.sin(x.data), (x,), lambda g: (g * np.cos(x.data),))


def cos(x) -> Tensor:
    """cos x.  Local derivative: −sin x."""
    x = as_tensor(x)
    return make_result(np.cos(x.data), (x,), lambda g: (-g * np.sin(x.data),))


def tanh(x) -> Tensor:
    """Hyperbolic tangent, squashing into (−1, 1).  Local derivative: 1 − y².

    Both formulas: :func:`glassnet.kernels.activations.tanh` and ``tanh_backward``.
    """
    x = as_tensor(x)
    y = kernels.tanh(x.data)
    return make_result(y, (x,), lambda g: (kernels.tanh_backward(g, y),))


def sigmoid(x) -> Tensor:
    """The logistic function 1/(1 + e^−x), squashing into (0, 1).

    Local derivative: s(1 − s), from the output s. Both formulas:
    :func:`glassnet.kernels.activations.sigmoid` and ``sigmoid_backward``.
    """
    x = as_tensor(x)
    s = kernels.sigmoid(x.data)
    return make_result(s, (x,), lambda g: (kernels.sigmoid_backward(g, s),))


def relu(x) -> Tensor:
    """max(x, 0).  Local derivative: 1 where the input was positive, else 0.

    Computed as x · [x > 0] (so a negative x gives -0.0 and NaN stays NaN),
    and backward as g · [x > 0]: :func:`glassnet.kernels.activations.relu` and
    ``relu_backward`` (compiled in one pass each where that applies).
    """
    x = as_tensor(x)
    y, positive = kernels.relu(x.data)
    return make_result(y, (x,), lambda g: (kernels.relu_backward(g, positive),))


def _activation(name: str, x, **params) -> Tensor:
    """The op of kernel ``name``: forward and ``name_backward``, both from the input."""
    x = as_tensor(x)
    forward, backward = getattr(_act, name), getattr(_act, name + "_backward")
    y = np.asarray(forward(x.data, **params))
    return make_result(y, (x,), lambda g: (np.asarray(backward(g, x.data, **params)),))


def leaky_relu(x, slope=0.01) -> Tensor:
    """x where x > 0, else slope · x.  Local derivative: 1 where x > 0, else slope."""
    return _activation("leaky_relu", x, slope=slope)


def elu(x, alpha=1.0, scale=1.0) -> Tensor:
    """scale · (x where x > 0, else alpha (e^x − 1)); ``scale`` and ``alpha`` as
    :data:`~glassnet.kernels.activations.SELU_SCALE` / ``SELU_ALPHA`` make SELU.

    Local derivative: scale where x > 0, else scale · alpha · e^x.
    """
    return _activation("elu", x, alpha=alpha, scale=scale)


def gelu(x, approximate="none") -> Tensor:
    """x · Φ(x), Φ the normal CDF (``approximate="tanh"``: its tanh form).

    Local derivative: Φ(x) + x φ(x), φ the normal density.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(
            f"gelu: approximate must be 'none' or 'tanh'; got {approximate!r}."
        )
    return _activation("gelu", x, approximate=approximate)


def silu(x) -> Tensor:
    """x · σ(x) (SiLU, swish).  Local derivative: σ(x) (1 + x (1 − σ(x)))."""
    return _activation("silu", x)


def softplus(x, beta=1.0, threshold=20.0) -> Tensor:
    """log(1 + e^(βx)) / β, stable for any x (x itself where βx > threshold).

    Local derivative: σ(βx), the sigmoid (1 past the threshold).
    """
    return _activation("softplus", x, beta=beta, threshold=threshold)


def clip(x, low=None, high=None) -> Tensor:
    """Limit values to [low, high] (either bound may be None).

    Local derivative: 1 where low <= x <= high (bounds included), else 0.
    """
    x = as_tensor(x)
    if low is None and high is None:
        raise ValueError("clip: give low, high or both.")
    y = np.clip(x.data, low, high)
    inside = np.ones(x.shape, dtype=bool)
    if low is not None:
        inside &= x.data >= low
    if high is not None:
        inside &= x.data <= high
    return make_result(y, (x,), lambda g: (g * inside,))


def maximum(a, b) -> Tensor:
    """Elementwise larger of a and b.

    Local derivative: 1 for the larger input, 0 for the other; on a tie the
    gradient is split half and half.
    """
    a, b = _pair(a, b)
    try:
        out = np.maximum(a.data, b.data)
    except ValueError:
        raise _broadcast_error("maximum", a, b) from None

    def backward(g):
        share_a = (a.data > b.data) + 0.5 * (a.data == b.data)
        return (
            unbroadcast(g * share_a, a.shape) if a.requires_grad else None,
            unbroadcast(g * (1 - share_a), b.shape) if b.requires_grad else None,
        )

    return make_result(out, (a, b), backward)


def minimum(a, b) -> Tensor:
    """Elementwise smaller of a and b (ties split half and half, as in maximum)."""
    a, b = _pair(a, b)
    try:
        out = np.minimum(a.data, b.data)
    except ValueError:
        raise _broadcast_error("minimum", a, b) from None

    def backward(g):
        share_a = (a.data < b.data) + 0.5 * (a.data == b.data)
        return (
            unbroadcast(g * share_a, a.shape) if a.requires_grad else None,
            unbroadcast(g * (1 - share_a), b.shape) if b.requires_grad else None,
        )

    return make_result(out, (a, b), backward)


def where(condition, a, b) -> Tensor:
    """a where ``condition`` is true, else b.

    ``condition`` is a boolean array (not differentiated). Local derivative:
    1 for the input that was chosen, 0 for the other.
    """
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != bool:
        cond = cond.astype(bool)
    a, b = _pair(a, b)
    try:
        out = np.where(cond, a.data, b.data)
    except ValueError:
        raise ShapeError(
            f"where: cannot broadcast condition {shape_str(cond.shape)} with "
            f"{shape_str(a.shape)} and {shape_str(b.shape)}."
        ) from None

    def backward(g):
        return (
            unbroadcast(np.where(cond, g, 0), a.shape) if a.requires_grad else None,
            unbroadcast(np.where(cond, 0, g), b.shape) if b.requires_grad else None,
        )

    return make_result(
        out.astype(np.result_type(a.data, b.data), copy=False), (a, b), backward
    )


def astype(x, dtype) -> Tensor:
    """The same values in another float dtype; the gradient is cast back."""
    x = as_tensor(x)
    dt = np.dtype(dtype)
    if dt == x.dtype:
        return x
    src = x.dtype
    return make_result(x.data.astype(dt), (x,), lambda g: (g.astype(src),))


def step(x, threshold=0.0, low=0.0, high=1.0) -> Tensor:
    """The threshold neuron: ``high`` where x > threshold, else ``low``.

    Its derivative is 0 everywhere except at the jump, where it does not
    exist, so gradient descent can learn nothing through it. Backward
    therefore refuses with an explanation instead of passing zeros silently.
    """
    x = as_tensor(x)
    y = np.where(x.data > threshold, high, low).astype(x.dtype, copy=False)

    def backward(g):
        from ..errors import GraphError

        raise GraphError(
            "Step has no useful gradient (0 everywhere but the jump), so backpropagation "
            "cannot train through it. Use Sigmoid or Tanh to train, or a gradient-free "
            "optimizer from glassnet.optim."
        )

    return make_result(y, (x,), backward)
