"""Optimizer update rules, in place: the one place SGD's and Adam's maths is written.

Each rule follows PyTorch's term for term, in the same order, in the
parameter's own dtype (every setting is rounded to it once). The compiled
twins in ``_native/optim.c`` do the same float operations in the same order
per element, in one pass instead of up to 13, so they agree bit for bit,
except that they make no subnormal numbers (they are slow; optim.c says why).
``work``/``work2`` are optional scratch arrays shaped like the parameter.

Notation: θ a parameter, g its gradient, η the learning rate, λ the weight
decay, t the parameter's step number (from 1).
"""

from __future__ import annotations

import numpy as np

from . import _draw, call, native, register, variant
from ._threads import threads_for

_cast: dict = {}

#: Weights per thread for the compiled updates: an update costs about a
#: nanosecond per weight, and handing a part to a waiting BLAS thread some
#: microseconds (_native/parallel.h), so tensors from 32k weights are split.
#: W2's Adam step after a product, 2 threads, quiet Xeon (best / median of 12
#: rounds, µs, product included): 16k per thread 452-453 / 462-489 against
#: 64k per thread (W2's 256x256 layer not split) 461-465 / 486-492.
PER_THREAD = 1 << 14

#: Weights in a parameter group from which SGD and Adam update it with one
#: ``*_foreach`` call; below it the one-parameter kernels called in turn are
#: faster (the compiled call finds 3-4 addresses per parameter, some µs).
FOREACH_FROM = 1 << 15


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
    grad = _decay(data, grad, decay, weight_decay, False, work)
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


def _work(data, work, work2) -> tuple:
    """The two scratch arrays, allocated when not given."""
    work = np.empty_like(data) if work is None else work
    return work, (np.empty_like(data) if work2 is None else work2)


def _decay(data, grad, decay, weight_decay, decoupled, work):
    """Weight decay; returns the gradient to use: θ ← decay·θ when ``decoupled``
    (decay = 1 − ηλ, AdamW's), else g + decay·θ (decay = λ, the L2 penalty's)."""
    if not weight_decay:
        return grad
    if decoupled:
        np.multiply(data, decay, out=data)
        return grad
    np.multiply(data, decay, out=work)
    return np.add(grad, work, out=work)


def _moments(grad, m, v, one_minus_beta1, beta, one_minus_beta, work):
    """m ← m + (1 − β1)·(g − m) (PyTorch's lerp; skipped for ``m`` None) and
    v ← β·v + (1 − β)·g², the running means of g and g²."""
    if m is not None:
        np.subtract(grad, m, out=work)
        np.multiply(work, one_minus_beta1, out=work)
        np.add(m, work, out=m)
    np.multiply(v, beta, out=v)
    np.multiply(grad, one_minus_beta, out=work)
    np.multiply(work, grad, out=work)
    np.add(v, work, out=v)


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
        threads_for(data.size, PER_THREAD),
    )  # fmt: skip


def _adam_args(draw):
    st = _draw._st()
    data, grad, m, v = _arrays(draw, 4)
    np.abs(v, out=v)  # a running mean of squares is never negative
    t = draw(st.integers(1, 5))
    decay = draw(st.sampled_from([0.0, 1e-2]))
    decoupled = draw(st.booleans())
    vmax = np.abs(_draw.like(draw, v)) if draw(st.booleans()) else None
    args = (data, grad, m, v, t, 1e-3, (0.9, 0.999), 1e-8, decay, decoupled)
    return args, {"vmax": vmax}


@register("adam", args=_adam_args)
def adam(
    data, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, work=None, work2=None,
    vmax=None,
):  # fmt: skip
    """Adam (AdamW when ``decoupled``), step ``t``, in place in ``data``, ``m``, ``v``::

        g ← g + λ·θ  (Adam)   or   θ ← (1 − η·λ)·θ  (AdamW)     only if λ > 0
        m ← m + (1 − β1)·(g − m)       running mean of g (PyTorch's lerp)
        v ← β2·v + (1 − β2)·g²         running mean of g²
        θ ← θ − η/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)

    The bias corrections are Python floats, rounded once to the dtype. With
    ``vmax`` (AMSGrad, Reddi et al. 2018) ``vmax ← max(vmax, v)`` replaces v in
    the step, so a weight's step size never grows back.
    """
    dtype = data.dtype
    one_minus_beta1, beta2, one_minus_beta2, eps, decay = _adam_settings(
        dtype, lr, betas, eps, weight_decay, decoupled
    )
    step_size, root2 = _corrections(t, lr, betas, dtype)
    work, work2 = _work(data, work, work2)
    grad = _decay(data, grad, decay, weight_decay, decoupled, work)
    _moments(grad, m, v, one_minus_beta1, beta2, one_minus_beta2, work2)
    if vmax is not None:  # AMSGrad: the largest v so far takes v's place
        v = np.maximum(vmax, v, out=vmax)
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
    applies=lambda data, grad, m, v, *rest, vmax=None, **kw: (
        vmax is None and (len(rest) < 9 or rest[8] is None) and _same(data, grad, m, v)
    ),  # no AMSGrad in C
)
def adam_c(
    data,
    grad,
    m,
    v,
    t,
    lr,
    betas,
    eps,
    weight_decay,
    decoupled,
    work=None,
    work2=None,
    vmax=None,
):
    """_native/optim.c: the same rule per element, one pass."""
    dtype = data.dtype
    settings = _adam_settings(dtype, lr, betas, eps, weight_decay, decoupled)
    step_size, root2 = _corrections(t, lr, betas, dtype)
    mode = (2 if decoupled else 1) if weight_decay else 0
    native("gn_adam", dtype)(
        data.ctypes.data, grad.ctypes.data, m.ctypes.data, v.ctypes.data, data.size,
        *(float(s) for s in settings), mode, float(step_size), float(root2),
        threads_for(data.size, PER_THREAD),
    )  # fmt: skip


def _foreach_arrays(draw, count):
    """``count`` lists of 1-4 arrays, list i of each the same shape; one dtype and
    one layout for the call (the compiled update takes contiguous arrays)."""
    st = _draw._st()
    dt, layout = _draw.dtype(draw), draw(st.sampled_from(["contiguous", "strided"]))
    shapes = [_draw.shape(draw, (1, 2), 40) for _ in range(draw(st.integers(1, 4)))]
    return [
        [_draw.array(draw, n, dt, layout=layout) for n in shapes] for _ in range(count)
    ]


def _sgd_foreach_args(draw):
    (_, _, buf, *settings), _ = _sgd_args(draw)
    data, grad, bufs = _foreach_arrays(draw, 3)
    return (data, grad, None if buf is None else bufs, *settings), {}


def _at(arrays, i):
    return None if arrays is None else arrays[i]


@register("sgd_foreach", args=_sgd_foreach_args)
def sgd_foreach(
    data, grad, buf, lr, momentum, weight_decay, nesterov, work=None, work2=None
):
    """:func:`sgd` on each array of the list ``data`` with the same settings: one
    optimizer step for all of a group's parameters. ``grad`` is a list like
    ``data``; ``buf``, ``work``, ``work2`` are lists like it, or None."""
    for i, d in enumerate(data):
        call("sgd", d, grad[i], _at(buf, i), lr, momentum, weight_decay, nesterov,
             _at(work, i), _at(work2, i))  # fmt: skip


def _adam_foreach_args(draw):
    (*_, t, lr, betas, eps, decay, decoupled), _ = _adam_args(draw)
    data, grad, m, v = _foreach_arrays(draw, 4)
    for a in v:
        np.abs(a, out=a)  # a running mean of squares is never negative
    return (data, grad, m, v, t, lr, betas, eps, decay, decoupled), {}


@register("adam_foreach", args=_adam_foreach_args)
def adam_foreach(
    data, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, work=None, work2=None
):
    """:func:`adam` (without AMSGrad) on each array of the list ``data``, all at
    step ``t`` with the same settings: one optimizer step for a group's
    parameters. ``grad``, ``m``, ``v`` are lists like ``data``; ``work``,
    ``work2`` lists like it, or None."""
    for i, d in enumerate(data):
        call("adam", d, grad[i], m[i], v[i], t, lr, betas, eps, weight_decay,
             decoupled, _at(work, i), _at(work2, i))  # fmt: skip


def _rmsprop_args(draw):
    st = _draw._st()
    data, grad, sq, avg, buf = _arrays(draw, 5)
    sq[...] = np.abs(sq) + avg * avg  # a mean of g² is at least the mean of g, squared
    centered, momentum = draw(st.booleans()), draw(st.sampled_from([0.0, 0.9]))
    decay = draw(st.sampled_from([0.0, 1e-2]))
    avg, buf = avg if centered else None, buf if momentum else None
    return (data, grad, sq, avg, buf, 0.01, 0.99, 1e-8, decay, momentum), {}


@register("rmsprop", args=_rmsprop_args)
def rmsprop(
    data, grad, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum,
    work=None, work2=None,
):  # fmt: skip
    """RMSprop, in place in ``data``, ``square_avg`` (and ``grad_avg``, ``buf``)::

    g ← g + λ·θ                    only if λ > 0
    s ← α·s + (1 − α)·g²           running mean of g², ``square_avg``
    a ← a + (1 − α)·(g − a)        running mean of g, only if centered
    r = √(s − a²) + ε              (√s + ε when not centered)
    b ← μ·b + g / r;  θ ← θ − η·b  with momentum (``buf``), else θ ← θ − η·g / r
    """
    lr, alpha, one_minus_alpha, eps, decay, mu = _scalars(
        data.dtype, lr, alpha, 1.0 - alpha, eps, weight_decay, momentum
    )
    work, work2 = _work(data, work, work2)
    grad = _decay(data, grad, decay, weight_decay, False, work)
    _moments(grad, grad_avg, square_avg, one_minus_alpha, alpha, one_minus_alpha, work2)
    if grad_avg is None:
        np.sqrt(square_avg, out=work2)
    else:
        np.multiply(grad_avg, grad_avg, out=work2)
        np.subtract(square_avg, work2, out=work2)
        np.sqrt(work2, out=work2)
    np.add(work2, eps, out=work2)  # r
    if buf is not None:
        np.multiply(buf, mu, out=buf)
        np.divide(grad, work2, out=work2)
        np.add(buf, work2, out=buf)  # b = μb + g/r
        np.multiply(buf, lr, out=work2)
        np.subtract(data, work2, out=data)
    else:
        np.multiply(grad, -lr, out=work)  # work is free unless it holds g + λθ
        np.divide(work, work2, out=work)
        np.add(data, work, out=data)  # θ = θ + (−ηg)/r


def _adagrad_args(draw):
    st = _draw._st()
    data, grad, total = _arrays(draw, 3)
    np.abs(total, out=total)
    t, decay = draw(st.integers(1, 5)), draw(st.sampled_from([0.0, 1e-2]))
    lr_decay = draw(st.sampled_from([0.0, 0.1]))
    return (data, grad, total, t, 0.01, lr_decay, 1e-10, decay), {}


@register("adagrad", args=_adagrad_args)
def adagrad(
    data, grad, total, t, lr, lr_decay, eps, weight_decay, work=None, work2=None
):
    """Adagrad, step ``t``, in place in ``data`` and ``total``::

    g ← g + λ·θ                    only if λ > 0
    S ← S + g²                     every squared gradient so far, ``total``
    θ ← θ − η/(1 + (t − 1)·δ) · g / (√S + ε)      δ = ``lr_decay``
    """
    clr = lr / (1 + (t - 1) * lr_decay)  # a Python float, as PyTorch's
    neg_clr, eps, decay = _scalars(data.dtype, -clr, eps, weight_decay)
    work, work2 = _work(data, work, work2)
    grad = _decay(data, grad, decay, weight_decay, False, work)
    np.multiply(grad, grad, out=work2)
    np.add(total, work2, out=total)
    np.sqrt(total, out=work2)
    np.add(work2, eps, out=work2)
    np.multiply(grad, neg_clr, out=work)
    np.divide(work, work2, out=work)
    np.add(data, work, out=data)


def _nadam_args(draw):
    (data, grad, m, v, t, *_, decay, decoupled), kw = _adam_args(draw)
    mu_product = float(np.prod([_mu(0.9, i, 4e-3) for i in range(1, t)]))
    return (data, grad, m, v, t, mu_product, 2e-3, (0.9, 0.999), 1e-8, decay,
            decoupled, 4e-3), {}  # fmt: skip


def _mu(beta1, t, momentum_decay) -> float:
    """NAdam's momentum at step t: β1·(1 − 0.96^(t·ψ)/2)."""
    return beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))


@register("nadam", args=_nadam_args)
def nadam(
    data, grad, m, v, t, mu_product, lr, betas, eps, weight_decay, decoupled,
    momentum_decay, work=None, work2=None,
):  # fmt: skip
    """NAdam (Dozat 2016), step ``t``; returns the new ``mu_product``::

    decay as Adam (or AdamW when ``decoupled``); m, v as Adam
    μ_t = β1·(1 − 0.96^(t·ψ)/2),   P_t = μ_1·…·μ_t (``mu_product``)
    r = √(v / (1 − β2^t)) + ε
    θ ← θ − η(1 − μ_t)/(1 − P_t) · g / r − η·μ_{t+1}/(1 − P_t·μ_{t+1}) · m / r
    """
    dtype = data.dtype
    omb1, beta2, omb2, eps, decay = _adam_settings(
        dtype, lr, betas, eps, weight_decay, decoupled
    )
    mu, mu_next = (_mu(betas[0], s, momentum_decay) for s in (t, t + 1))
    mu_product *= mu
    c_grad, c_m, correction2 = _scalars(
        dtype, -lr * (1.0 - mu) / (1.0 - mu_product),
        (-lr * mu_next) / (1.0 - mu_product * mu_next), 1 - betas[1] ** t,
    )  # fmt: skip
    work, work2 = _work(data, work, work2)
    grad = _decay(data, grad, decay, weight_decay, decoupled, work)
    _moments(grad, m, v, omb1, beta2, omb2, work2)
    np.divide(v, correction2, out=work2)
    np.sqrt(work2, out=work2)
    np.add(work2, eps, out=work2)  # r
    for term, c in ((grad, c_grad), (m, c_m)):
        np.multiply(term, c, out=work)  # work is free once g was used
        np.divide(work, work2, out=work)
        np.add(data, work, out=data)
    return mu_product


def _radam_args(draw):
    (data, grad, m, v, _, *rest), kw = _adam_args(draw)
    t = draw(_draw._st().sampled_from([1, 5, 6, 40]))  # rectified from t = 6 on
    return (data, grad, m, v, t, *rest), {}


@register("radam", args=_radam_args)
def radam(
    data, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, work=None, work2=None
):
    """RAdam (Liu et al. 2020), step ``t``, in place in ``data``, ``m``, ``v``::

    decay as Adam (or AdamW when ``decoupled``); m, v as Adam
    ρ∞ = 2/(1 − β2) − 1,   ρ_t = ρ∞ − 2t·β2^t / (1 − β2^t)
    θ ← θ − η · m/(1 − β1^t) · √(1 − β2^t)/(√v + ε) · ρ̂    when ρ_t > 5
    θ ← θ − η · m/(1 − β1^t)                                  otherwise
    ρ̂ = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t)), the rectification
    """
    beta1, beta2 = betas
    omb1, beta2_, omb2, eps_, decay = _adam_settings(
        data.dtype, lr, betas, eps, weight_decay, decoupled
    )
    work, work2 = _work(data, work, work2)
    grad = _decay(data, grad, decay, weight_decay, decoupled, work)
    _moments(grad, m, v, omb1, beta2_, omb2, work2)
    correction2 = 1 - beta2**t
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * t * (beta2**t) / correction2
    correction1, lr_, root2 = _scalars(data.dtype, 1 - beta1**t, lr, correction2**0.5)
    np.divide(m, correction1, out=work)
    np.multiply(work, lr_, out=work)
    if rho > 5.0:
        rect = (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
        np.sqrt(v, out=work2)
        np.add(work2, eps_, out=work2)
        np.divide(root2, work2, out=work2)
        np.multiply(work, work2, out=work)
        np.multiply(work, _scalars(data.dtype, rect**0.5)[0], out=work)
    np.subtract(data, work, out=data)
