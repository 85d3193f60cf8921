"""Matrix products: the heavy lifting of every layer, done by BLAS.

``matmul`` follows ``np.matmul``: 1-D operands are vectors, and leading axes
of 3-D and higher operands are batch axes that broadcast. ``linear`` is the
fused op behind a Dense layer: x @ W + b in one graph node.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validate import shape_str
from ..errors import ShapeError
from ..tensor import Tensor, as_tensor, make_result, unbroadcast
from .elementwise import _pair


def matmul(a, b) -> Tensor:
    """a @ b.  Local derivatives: d(a@b)/da = b (transposed), d(a@b)/db = a (transposed).

    So with g = d(loss)/d(out): grad_a = g @ bᵀ and grad_b = aᵀ @ g, with a
    vector operand treated as a one-row (a) or one-column (b) matrix, and
    batch axes that were broadcast summed back.
    """
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: both operands need at least 1 axis; got shapes "
            f"{shape_str(a.shape)} and {shape_str(b.shape)}. Use * for scaling."
        )
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ShapeError(
            f"matmul: shapes {shape_str(a.shape)} @ {shape_str(b.shape)} do not line up: "
            f"the last axis of the left ({inner_a}) must equal the "
            f"{'length' if b.ndim == 1 else 'second-to-last axis'} of the right ({inner_b})."
        )
    try:
        out = a.data @ b.data
    except ValueError:
        raise ShapeError(
            f"matmul: the batch axes of {shape_str(a.shape)} and {shape_str(b.shape)} "
            "do not broadcast."
        ) from None

    def backward(g):
        if (
            a.ndim == 1 and b.ndim == 1
        ):  # dot product: each vector's gradient is the other
            return (
                g * b.data if a.requires_grad else None,
                g * a.data if b.requires_grad else None,
            )
        A = a.data if a.ndim > 1 else a.data[None, :]
        B = b.data if b.ndim > 1 else b.data[:, None]
        G = g
        if a.ndim == 1:
            G = np.expand_dims(G, -2)
        if b.ndim == 1:
            G = np.expand_dims(G, -1)
        da = db = None
        if a.requires_grad:
            da = unbroadcast(G @ np.swapaxes(B, -1, -2), A.shape).reshape(a.shape)
        if b.requires_grad:
            db = unbroadcast(np.swapaxes(A, -1, -2) @ G, B.shape).reshape(b.shape)
        return da, db

    return make_result(out, (a, b), backward)


def linear(x, weight, bias=None) -> Tensor:
    """x @ W + b as one graph node: the weighted sums of a layer of neurons.

    Shapes: x (..., in), W (in, out), b (out,) -> (..., out). Leading axes of
    x are batch axes. Local derivatives: d/dx = Wᵀ, d/dW = xᵀ, d/db = 1,
    summed over the batch.
    """
    x, weight = as_tensor(x), as_tensor(weight)
    xv, w = x.data, weight.data
    if xv.ndim == 0 or xv.shape[-1] != w.shape[0]:
        raise ShapeError(
            f"linear: input of shape {shape_str(xv.shape)} does not fit weights of shape "
            f"{shape_str(w.shape)}; the input's last axis must be {w.shape[0]}."
        )
    b = None if bias is None else as_tensor(bias)
    out = kernels.linear_forward(xv, w, None if b is None else b.data)
    parents = (x, weight) if b is None else (x, weight, b)

    def backward(g):
        # arguments: g, x, W, and which of db, dx, dW are wanted
        dx, dw, db = kernels.linear_backward(
            g, xv, w, b is not None and b.requires_grad, x.requires_grad,
            weight.requires_grad,
        )  # fmt: skip
        return (dx, dw) if b is None else (dx, dw, db)

    return make_result(out, parents, backward)
