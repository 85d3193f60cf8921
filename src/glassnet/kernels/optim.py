"""Optimizer update rules, in place: the one place SGD's and Adam's maths is written.

Each rule follows PyTorch's term for term, in the same order, in the
parameter's own dtype (every setting is rounded to it once). The compiled
twins in ``_native/optim.c`` do the same float operations in the same order
per element, in one pass instead of up to 13, so they agree bit for bit.
``work``/``work2`` are optional scratch arrays shaped like the parameter.

Notation: θ a parameter, g its gradient, η the learning rate, λ the weight
decay, t the parameter's step number (from 1).
"""

from __future__ import annotations

import numpy as np

from . import _draw, native, register, variant

_cast: dict = {}


def _scalars(dtype, *values) -> tuple:
    """``values``, each rounded once to ``dtype``, as 0-d arrays (ufuncs take them
    fastest); cached, since the same settings come back every step."""
    key = (dtype, *values)
    found = _cast.get(key)
    if found is None:
        if len(_cast) > 512:  # a schedule makes new learning rates: stay small
            _cast.clear()
        found = _cast[key] = tuple(np.array(v, dtype) for v in values)
    return found


def _arrays(draw, count):
    n = _draw.shape(draw, ndim=(1, 2), high=40)
    dt = _draw.dtype(draw)
    return [_draw.array(draw, n, dt) for _ in range(count)]


def _sgd_args(draw):
    st = _draw._st()
    data, grad, buf = _arrays(draw, 3)
    momentum = draw(st.sampled_from([0.0, 0.9]))
    nesterov = bool(momentum) and draw(st.booleans())
    decay = draw(st.sampled_from([0.0, 1e-2]))
    lr = draw(st.sampled_from([0.1, 0.01]))
    return (data, grad, buf if momentum else None, lr, momentum, decay, nesterov), {}


@register("sgd", args=_sgd_args)
def sgd(data, grad, buf, lr, momentum, weight_decay, nesterov, work=None, work2=None):
    """SGD with momentum, Nesterov and weight decay, in place in ``data`` and ``buf``::

    g ← g + λ·θ          weight decay, only if λ > 0
    b ← μ·b + g          momentum buffer ``buf``, only if μ > 0
    d = g | b | g + μ·b  plain, momentum, Nesterov
    θ ← θ − η·d
    """
    lr, mu, decay = _scalars(data.dtype, lr, momentum, weight_decay)
    work = np.empty_like(data) if work is None else work
    if weight_decay:
        np.multiply(data, decay, out=work)
        np.add(grad, work, out=work)  # g + λθ
        grad = work
    if momentum:
        np.multiply(buf, mu, out=buf)
        np.add(buf, grad, out=buf)  # b = μb + g
        if nesterov:
            ahead = (
                work2 if weight_decay else work
            )  # work is free unless it holds g + λθ
            ahead = np.empty_like(data) if ahead is None else ahead
            np.multiply(buf, mu, out=ahead)
            np.add(grad, ahead, out=work)  # d = g + μb
            grad = work
        else:
            grad = buf
    np.multiply(grad, lr, out=work)
    np.subtract(data, work, out=data)  # θ = θ − ηd


def _same(*arrays) -> bool:
    first = arrays[0]
    return all(
        a.dtype == first.dtype and a.size == first.size and a.flags.c_contiguous
        for a in arrays
    )


@variant(
    "sgd",
    uses=("gn_sgd",),
    # below it NumPy's few calls beat the ctypes call (docs/benchmarks.md)
    min_size=32768,
    applies=lambda data, grad, buf, *rest, **kw: _same(
        data, grad, data if buf is None else buf
    ),
)
def sgd_c(data, grad, buf, lr, momentum, weight_decay, nesterov, work=None, work2=None):
    """_native/optim.c: the same rule per element, one pass."""
    dtype = data.dtype
    buf = data if buf is None else buf
    native("gn_sgd", dtype)(
        data.ctypes.data, grad.ctypes.data, buf.ctypes.data, data.size,
        *(float(s) for s in _scalars(dtype, lr, momentum, weight_decay)), nesterov,
    )  # fmt: skip


def _adam_args(draw):
    st = _draw._st()
    data, grad, m, v = _arrays(draw, 4)
    np.abs(v, out=v)  # a running mean of squares is never negative
    t = draw(st.integers(1, 5))
    decay = draw(st.sampled_from([0.0, 1e-2]))
    decoupled = draw(st.booleans())
    return (data, grad, m, v, t, 1e-3, (0.9, 0.999), 1e-8, decay, decoupled), {}


@register("adam", args=_adam_args)
def adam(
    data, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, work=None, work2=None
):
    """Adam (AdamW when ``decoupled``), step ``t``, in place in ``data``, ``m``, ``v``::

        g ← g + λ·θ  (Adam)   or   θ ← (1 − η·λ)·θ  (AdamW)     only if λ > 0
        m ← m + (1 − β1)·(g − m)       running mean of g (PyTorch's lerp)
        v ← β2·v + (1 − β2)·g²         running mean of g²
        θ ← θ − η/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)

    The bias corrections are Python floats, rounded once to the dtype.
    """
    dtype = data.dtype
    one_minus_beta1, beta2, one_minus_beta2, eps, decay = _adam_settings(
        dtype, lr, betas, eps, weight_decay, decoupled
    )
    step_size, root2 = _corrections(t, lr, betas, dtype)
    work = np.empty_like(data) if work is None else work
    work2 = np.empty_like(data) if work2 is None else work2
    if weight_decay:
        if decoupled:
            np.multiply(data, decay, out=data)  # θ = (1 − ηλ)θ
        else:
            np.multiply(data, decay, out=work)
            np.add(grad, work, out=work)  # g + λθ
            grad = work
    np.subtract(grad, m, out=work2)
    np.multiply(work2, one_minus_beta1, out=work2)
    np.add(m, work2, out=m)  # m = m + (1−β1)(g − m)
    np.multiply(v, beta2, out=v)
    np.multiply(grad, one_minus_beta2, out=work2)
    np.multiply(work2, grad, out=work2)
    np.add(v, work2, out=v)  # v = β2 v + (1−β2) g²
    np.sqrt(v, out=work)
    np.divide(work, root2, out=work)
    np.add(work, eps, out=work)  # √v / √(1−β2^t) + ε
    np.multiply(m, step_size, out=work2)
    np.divide(work2, work, out=work2)
    np.add(data, work2, out=data)  # θ = θ − η/(1−β1^t) · m / (...)


def _adam_settings(dtype, lr, betas, eps, weight_decay, decoupled) -> tuple:
    """1 − β1, β2, 1 − β2, ε and the decay factor, each rounded to ``dtype``."""
    key = (dtype, lr, betas, eps, weight_decay, decoupled)
    found = _cast.get(key)
    if found is None:
        beta1, beta2 = betas
        decay = 1.0 - lr * weight_decay if decoupled else weight_decay  # AdamW's shrink
        found = _cast[key] = _scalars(
            dtype, 1.0 - beta1, beta2, 1.0 - beta2, eps, decay
        )
    return found


def _corrections(t, lr, betas, dtype) -> tuple:
    """−η/(1 − β1^t) and √(1 − β2^t), in Python floats, then rounded to ``dtype``."""
    beta1, beta2 = betas
    return (
        np.array(-lr / (1.0 - beta1**t), dtype),
        np.array((1.0 - beta2**t) ** 0.5, dtype),
    )


@variant(
    "adam",
    uses=("gn_adam",),
    min_size=4096,  # below it NumPy's calls beat the ctypes call
    applies=lambda data, grad, m, v, *rest, **kw: _same(data, grad, m, v),
)
def adam_c(
    data, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, work=None, work2=None
):
    """_native/optim.c: the same rule per element, one pass."""
    dtype = data.dtype
    settings = _adam_settings(dtype, lr, betas, eps, weight_decay, decoupled)
    step_size, root2 = _corrections(t, lr, betas, dtype)
    mode = (2 if decoupled else 1) if weight_decay else 0
    native("gn_adam", dtype)(
        data.ctypes.data, grad.ctypes.data, m.ctypes.data, v.ctypes.data, data.size,
        *(float(s) for s in settings), mode, float(step_size), float(root2),
    )  # fmt: skip
