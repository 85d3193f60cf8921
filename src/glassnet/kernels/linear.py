"""A layer of neurons, ``z = x·W + b``, and its backward: written once, here.

The matrix products are BLAS calls (``np.dot``). Sums over rows or columns are
products with a vector of ones, which BLAS does several times faster than
NumPy's reductions on short rows.
"""

from __future__ import annotations

import numpy as np

from . import _draw, call, native, register, variant

_ONES: dict = {}


def ones(n: int, dtype) -> np.ndarray:
    """A read-only vector of ``n`` ones, made once per (n, dtype) and then reused."""
    key = (n, dtype)
    found = _ONES.get(key)
    if found is None:
        if len(_ONES) > 256:  # odd batch sizes must not pile up
            _ONES.clear()
        found = _ONES[key] = np.ones(n, dtype)
        found.flags.writeable = False
    return found


def row_sums(a: np.ndarray, out=None) -> np.ndarray:
    """Σ over the columns of a 2-D array: shape (M,).

    A product with a vector of ones. BLAS does it several times faster than
    ``a.sum(axis=1)`` when rows are short (10 or 65 classes), and the one
    product replaces NumPy's reduction machinery (a few µs a call).
    """
    return np.dot(a, ones(a.shape[1], a.dtype), out=out)


def column_sums(a: np.ndarray, out=None) -> np.ndarray:
    """Σ over the rows of a 2-D array, shape (N,): a bias gradient, over a batch.

    ``ones @ a`` is 2-3x faster than ``a.sum(axis=0)`` for a (128, 256) batch.
    """
    return np.dot(ones(a.shape[0], a.dtype), a, out=out)


def _linear_args(draw):
    st = _draw._st()
    dt = _draw.dtype(draw)
    batch = _draw.shape(draw, ndim=(1, 2))
    n_in, n_out = _draw.size(draw), _draw.size(draw)
    x = _draw.array(draw, (*batch, n_in), dt)
    w = _draw.array(draw, (n_in, n_out), dt)
    b = _draw.array(draw, (n_out,), dt) if draw(st.booleans()) else None
    return (x, w, b), {}


@register("linear", args=_linear_args, outs=("out",))
def linear(x, w, b=None, out=None):
    """z = x·W + b.  Shapes: x (..., in), W (in, out), b (out,) -> (..., out).

    For a 2-D x, ``np.dot`` is the same BLAS product as ``@`` without the gufunc
    machinery: about 0.5 µs less per call, which small layers notice.
    """
    z = np.dot(x, w, out=out) if x.ndim == 2 else np.matmul(x, w, out=out)
    if b is not None:
        np.add(z, b, out=z)
    return z


def _linear_backward_args(draw):
    st = _draw._st()
    (x, w, b), _ = _linear_args(draw)
    g = _draw.array(draw, (*x.shape[:-1], w.shape[1]), x.dtype)
    need_dx = draw(st.booleans())
    return (g, x, w), {"bias": b is not None, "need_dx": need_dx}


#: From this many numbers in the transposed operand, the backward's products go
#: through np.matmul: the same BLAS product and the same bits as np.dot, but on
#: two threads OpenBLAS runs np.matmul's call of it 10-20% faster (W2's weight
#: gradient 784x128 by 128x256: 266 -> 216 µs; W3's 1568-wide Dense layer's
#: input gradient 63 -> 34 µs); below it np.dot's smaller fixed cost wins.
MATMUL_FROM = 4096


def _product(a, b, transposed, out=None):
    """a·b, where ``transposed`` (the operand seen through ``.T``) picks the call."""
    return (np.matmul if transposed.size >= MATMUL_FROM else np.dot)(a, b, out=out)


@register("linear_backward", args=_linear_backward_args, outs=("dx", "dw", "db"))
def linear_backward(
    g, x, w, bias=True, need_dx=True, need_dw=True, dx=None, dw=None, db=None
):
    """(dx, dW, db) of z = x·W + b, from g = d(loss)/dz::

        dx = g·Wᵀ      dW = xᵀ·g      db = 1ᵀ·g (g summed over the batch)

    Batch axes beyond the first are flattened into one. A gradient that is not
    needed (``need_dx``, ``need_dw``, ``bias``) is None; ``dx``, ``dw``, ``db``
    are optional buffers for the results.
    """
    x2, g2 = x, g
    if g.ndim != 2:  # batch axes: flatten them into one
        x2, g2 = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
    if need_dx:
        if g.ndim != 2:  # into the buffer, seen with the batch axes flattened
            buf = None if dx is None else dx.reshape(g2.shape[0], -1)
            dx = _product(g2, w.T, w, out=buf).reshape(x.shape)
        else:
            dx = _product(g2, w.T, w, out=dx)
    else:
        dx = None
    dw = _product(x2.T, g2, x2, out=dw) if need_dw else None
    db = column_sums(g2, out=db) if bias else None
    return dx, dw, db


def _linear_activation_args(draw):
    (x, w, b), _ = _linear_args(draw)
    act = draw(_draw._st().sampled_from([None, "relu", "sigmoid", "tanh"]))
    return (x, w, b, act), {}


@register("linear_activation", args=_linear_activation_args, outs=("out",))
def linear_activation(x, w, b=None, activation=None, out=None):
    """y = act(x·W + b) for inference: bias and activation in place on the product.

    The formulas are :func:`linear`'s and the activation's own (``"relu"``,
    ``"sigmoid"``, ``"tanh"`` or None, through the dispatcher as the layer's op
    calls it); nothing for a backward is kept (ReLU's mask is dropped), so the
    result is what the layers give, bit for bit.
    """
    z = linear(x, w, b, out=out)
    if activation is not None:
        call(activation, z, out=z)  # in place, as the layer's op runs it (variants too)
    return z


@variant(
    "linear_activation",
    uses=("gn_bias_relu",),
    applies=lambda x, w, b=None, activation=None, out=None: (
        x.ndim == 2 and b is not None and activation in ("relu", None)
        and b.dtype == x.dtype == w.dtype and b.flags.c_contiguous
        and (out is None or out.flags.c_contiguous)
    ),
)  # fmt: skip
def linear_activation_c(x, w, b=None, activation=None, out=None):
    """The product by BLAS, then _native/elementwise.c adds the bias and applies
    ReLU in one pass over it, in place (NumPy makes two or three passes). Where
    the Dense layer's own forward uses gemm.h, ``linear_activation_own``
    (kernels/variants/dense.py, tried first) runs instead."""
    z = np.dot(x, w, out=out)
    native("gn_bias_relu", z.dtype)(
        z.ctypes.data, b.ctypes.data, z.shape[0], z.shape[1], activation == "relu"
    )
    return z


_NOT_FINITE = [np.nan, np.inf, -np.inf]


def _linear_stack_args(draw):
    st = _draw._st()
    dt = _draw.dtype(draw)
    sizes = [_draw.size(draw, 1, 40) for _ in range(draw(st.integers(2, 4)))]
    x = _draw.array(draw, (_draw.size(draw, 1, 70), sizes[0]), dt)
    if draw(st.booleans()):  # a row holding NaN or infinity
        x[draw(st.integers(0, len(x) - 1)), -1] = draw(st.sampled_from(_NOT_FINITE))
    acts = [None, "relu"] + (["sigmoid", "tanh"] if draw(st.booleans()) else [])
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        w = _draw.array(draw, (n_in, n_out), dt)
        b = _draw.array(draw, (n_out,), dt) if draw(st.booleans()) else None
        layers.append((w, b, draw(st.sampled_from(acts))))
    return (x, layers), {}


@register("linear_stack", args=_linear_stack_args)
def linear_stack(x, layers):
    """(y, finite) of a stack of layers for inference, x 2-D: from h = x,
    ``h = linear_activation(h, W, b, act)`` for each ``(W, b, act)`` of
    ``layers`` in turn; y is the last h. ``finite`` is True when x holds only
    finite numbers; False tells the caller to look for rows with NaN or
    infinity (predict's input check, which a variant makes on its way, and may
    also send to look when a product overflows). Arithmetic on NaN or infinity
    is not warned about: the caller refuses it.
    """
    finite = bool(np.isfinite(x).all())
    with np.errstate(all=None if finite else "ignore"):
        h = x
        for w, b, act in layers:
            h = call("linear_activation", h, w, b, act)
    return h, finite
