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


def _einsum_parse(subscripts: str, n: int) -> tuple:
    """(input subscripts, output subscripts) of an einsum spec, checked."""
    spec = subscripts.replace(" ", "") if isinstance(subscripts, str) else None
    why = None
    if spec is None:
        why = "subscripts must be a string such as 'ij,jk->ik'"
    elif "." in spec:
        why = "'...' (ellipsis) is not supported; name every axis with a letter"
    elif spec.count("->") > 1 or not all(c.isalpha() or c in ",->" for c in spec):
        why = "only letters, ',' and one '->' may appear"
    if why is None:
        left, arrow, out = spec.partition("->")
        ins = left.split(",")
        if not arrow:  # implicit mode: letters used once, in alphabetical order
            out = "".join(sorted(c for c in set(left) - {","} if left.count(c) == 1))
        if len(ins) != n:
            why = f"{len(ins)} operand subscripts for {n} operands"
        elif any(len(set(s)) != len(s) for s in ins):
            why = "a letter repeated within one operand (a diagonal) is not supported"
        elif len(set(out)) != len(out) or not set(out) <= set(left) - {","}:
            why = "output letters must be distinct and appear in the inputs"
    if why:
        raise ShapeError(f"einsum({subscripts!r}): {why}.")
    return ins, out


def einsum(subscripts, *operands) -> Tensor:
    """Sums of products named by letters, as ``np.einsum``: 'ij,jk->ik' is a @ b.

    Supported: explicit ('->') and implicit forms, any number of operands,
    letters summed over or kept; not supported (a clear error): '...' and a
    letter repeated inside one operand (diagonals, 'ii->i').

    Local derivative of operand k: the einsum of g with every other operand,
    written to k's letters; a letter only k has (summed away, 'ij->i') is
    then broadcast back, as a sum's derivative is 1.

    >>> import numpy as np, glassnet as gn
    >>> a = gn.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    >>> gn.ops.einsum("ij,j->i", a, np.arange(3.0)).data
    array([3., 3.], dtype=float32)
    """
    like = next((t for t in operands if isinstance(t, Tensor)), None)
    ts = [as_tensor(t, like) for t in operands]  # constants take the tensors' dtype
    ins, out = _einsum_parse(subscripts, len(ts))
    for s, t in zip(ins, ts):
        if len(s) != t.ndim:
            raise ShapeError(
                f"einsum({subscripts!r}): operand subscripts {s!r} name {len(s)} "
                f"axes but the operand has shape {shape_str(t.shape)}."
            )
    try:
        y = np.einsum(f"{','.join(ins)}->{out}", *(t.data for t in ts), optimize=True)
    except ValueError as e:
        raise ShapeError(f"einsum({subscripts!r}): {e}") from None

    def grad_of(k, g):
        others = [(s, t.data) for j, (s, t) in enumerate(zip(ins, ts)) if j != k]
        seen = set(out).union(*[set(s) for s, _ in others])
        keep = "".join(c for c in ins[k] if c in seen)
        spec = ",".join([out, *(s for s, _ in others)]) + "->" + keep
        d = np.einsum(spec, g, *(a for _, a in others), optimize=True)
        d = d.reshape([n if c in seen else 1 for c, n in zip(ins[k], ts[k].shape)])
        return np.broadcast_to(d, ts[k].shape).copy()

    def backward(g):
        return tuple(
            grad_of(k, g) if t.requires_grad else None for k, t in enumerate(ts)
        )

    return make_result(np.asarray(y), tuple(ts), backward)


def attention(q, k, v, blocked=None) -> tuple:
    """Scaled dot-product attention as one graph node: (y, weights).

    y = softmax(q kᵀ / √d) v, with pairs where ``blocked`` is True left out
    (:mod:`glassnet.kernels.attention` has both formulas). Shapes: q
    (..., Tq, d), k (..., Tk, d), v (..., Tk, dv) -> y (..., Tq, dv); the
    weights (..., Tq, Tk) come back as a plain NumPy array (to look at; no
    gradient flows through them).

    Local derivatives: dv = wᵀg; dq, dk through the softmax's Jacobian,
    ds = w(gvᵀ − Σ w·gvᵀ), then dq = ds k/√d and dk = dsᵀ q/√d.
    """
    q, k, v = as_tensor(q), as_tensor(k), as_tensor(v)
    if (
        min(q.ndim, k.ndim, v.ndim) < 2
        or q.shape[-1] != k.shape[-1]
        or k.shape[-2] != v.shape[-2]
    ):
        raise ShapeError(
            f"attention: expected q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv); "
            f"got {shape_str(q.shape)}, {shape_str(k.shape)}, {shape_str(v.shape)}."
        )
    if blocked is not None:
        blocked = np.asarray(getattr(blocked, "data", blocked), bool)
        scores = (*q.shape[:-1], k.shape[-2])
        try:
            fits = np.broadcast_shapes(blocked.shape, scores) == scores
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(
                f"attention: blocked {shape_str(blocked.shape)} must broadcast to "
                f"the scores' shape (..., Tq, Tk) = {shape_str(scores)}."
            )
    y, w = kernels.attention_forward(q.data, k.data, v.data, blocked)

    def backward(g):
        dq, dk, dv = kernels.attention_backward(g, q.data, k.data, v.data, w)
        return (
            unbroadcast(dq, q.shape),
            unbroadcast(dk, k.shape),
            unbroadcast(dv, v.shape),
        )

    return make_result(y, (q, k, v), backward), w
