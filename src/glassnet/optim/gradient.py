"""Gradient optimizers: SGD (with momentum), Adam, AdamW, RMSprop, Adagrad, NAdam
and RAdam.

Each follows PyTorch's update rule term for term, in the same order, so a
recipe tuned there carries over. (Results agree with PyTorch's to rounding,
not bit for bit: PyTorch fuses some multiply-adds into one rounding, which
NumPy cannot.) Every update runs in place in preallocated buffers, in the
parameter's own dtype: a float32 model never touches a float64 array.

The rules themselves live in :mod:`glassnet.kernels.optim` (the NumPy
reference, and a compiled one-pass twin that gives the same bits, picked by
the kernels layer when it applies); each optimizer here is ``init_state``
(its per-parameter memory) plus ``update_one`` (one call of its rule).

Notation in the docstrings: θ a parameter, g its gradient ``p.grad``, η the
learning rate ``lr``, λ ``weight_decay``, t the parameter's step number.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import ConfigError
from ..kernels.optim import FOREACH_FROM
from .base import Optimizer, check_number


def _together(opt, cls, group) -> bool:
    """``together`` for SGD and Adam: the group holds two parameters or more and
    enough weights for one kernel call over all of them to pay, and
    ``cls.update_one`` is the rule (not a subclass's own, nor one set on the
    instance)."""
    return (
        group["weights"] >= FOREACH_FROM
        and len(group["params"]) > 1
        and getattr(opt.update_one, "__func__", None) is cls.update_one
    )


class SGD(Optimizer):
    """Stochastic gradient descent: move each weight a little way downhill.

    The rule, for each parameter θ with gradient g::

        g ← g + λ·θ          weight decay, only if λ > 0
        b ← μ·b + g          momentum buffer, only if μ > 0 (b = g on the first step)
        d = g                plain gradient descent
        d = b                momentum
        d = g + μ·b          Nesterov momentum
        θ ← θ − η·d

    Plain descent is the seeds' "take a small step in the direction that
    lowers the error". Momentum (Polyak, 1964) keeps a fading sum ``b`` of
    past gradients, so steps build speed along a long valley and stop
    zig-zagging across it. Nesterov momentum (Sutskever et al., 2013) takes
    the step from where momentum is about to carry the weight. These are
    PyTorch's formulations: the learning rate multiplies the buffer instead
    of living inside it, so a schedule's new lr applies at once.

    Parameters
    ----------
    params : model, or iterable of Tensors or (name, Tensor) pairs
    lr : float
        η, the step size (default 0.01).
    momentum : float in [0, 1)
        μ (default 0: plain gradient descent).
    nesterov : bool
        Use Nesterov momentum (needs momentum > 0).
    weight_decay : float >= 0
        λ, an L2 pull of every weight toward 0, added to the gradient.

    Notes
    -----
    State per parameter: ``momentum_buffer`` (b), when momentum > 0.

    References
    ----------
    B. T. Polyak, "Some methods of speeding up the convergence of iteration
    methods", USSR Computational Mathematics and Mathematical Physics 4(5), 1964.
    I. Sutskever, J. Martens, G. Dahl, G. Hinton, "On the importance of
    initialization and momentum in deep learning", ICML 2013.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import SGD
    >>> w = gn.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> opt
    SGD(lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward()         # gradient 2w = [2, -4]
    >>> opt.step()
    >>> w.data
    array([ 0.8, -1.6], dtype=float32)
    """

    hyper_names = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(
            params, lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
        )

    def check_settings(self, where, momentum, nesterov, weight_decay) -> dict:
        momentum = check_number(where, "momentum", momentum, 0.0, 1.0, high_open=True)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise ConfigError(
                f"{where}: nesterov must be True or False; got {nesterov!r}."
            )
        if nesterov and momentum == 0:
            raise ConfigError(
                f"{where}: nesterov=True needs momentum > 0; got momentum=0.0. "
                "Pass e.g. momentum=0.9."
            )
        return {
            "momentum": momentum,
            "nesterov": bool(nesterov),
            "weight_decay": check_number(where, "weight_decay", weight_decay, 0.0),
        }

    def init_state(self, p, h) -> dict:
        state = {"_work": np.empty_like(p.data)}
        if h["momentum"]:
            # Zeros give b = μ·0 + g = g on the first step, as the rule says.
            state["momentum_buffer"] = np.zeros_like(p.data)
            if h["nesterov"] and h["weight_decay"]:
                state["_work2"] = np.empty_like(p.data)
        return state

    def update_one(self, p, grad, state, h) -> None:
        kernels.sgd(
            p.data, grad, state.get("momentum_buffer"), h["lr"], h["momentum"],
            h["weight_decay"], h["nesterov"], state["_work"], state.get("_work2"),
        )  # fmt: skip

    plan_kernel = "sgd"

    def update_plan(self, rows, h) -> None:
        # update_one's call for each row, as one sgd_foreach call (its reference
        # makes exactly those calls; a compiled variant does them in one go)
        mu = h["momentum"]
        kernels.sgd_foreach(
            [row[2] for row in rows], [row[1].grad for row in rows],
            [row[3]["momentum_buffer"] for row in rows] if mu else None,
            h["lr"], mu, h["weight_decay"], h["nesterov"],
            [row[3]["_work"] for row in rows],
            [row[3].get("_work2") for row in rows],
        )  # fmt: skip

    def together(self, group) -> bool:
        return _together(self, SGD, group)

    def update_group(self, todo, h) -> None:
        if len(todo) < 2:
            return Optimizer.update_group(self, todo, h)
        states = [s for _, _, s in todo]
        kernels.sgd_foreach(
            [p.data for p, _, _ in todo], [g for _, g, _ in todo],
            [s["momentum_buffer"] for s in states] if h["momentum"] else None,
            h["lr"], h["momentum"], h["weight_decay"], h["nesterov"],
            [s["_work"] for s in states],
            [s["_work2"] for s in states] if "_work2" in states[0] else None,
        )  # fmt: skip


class Adam(Optimizer):
    """Adam: a step per weight scaled by running averages of its gradient.

    The rule, for each parameter θ with gradient g at its t-th step::

        g ← g + λ·θ                    L2 weight decay, only if λ > 0
        m ← m + (1 − β1)·(g − m)       running mean of g        (= β1·m + (1 − β1)·g)
        v ← β2·v + (1 − β2)·g²         running mean of g²
        θ ← θ − η/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)

    Each weight gets its own step size: large where its gradient has been
    small and steady, small where it has been large or noisy. m and v start
    at 0, which biases them toward 0 for the first steps; dividing by
    1 − β^t undoes that (Kingma & Ba, 2015). Every term is computed as
    PyTorch computes it (the m update is its ``lerp``; t counts this
    parameter's own updates; the bias corrections are Python floats).

    Parameters
    ----------
    params : model, or iterable of Tensors or (name, Tensor) pairs
    lr : float
        η (default 0.001).
    betas : (float, float), each in [0, 1)
        β1, β2: how slowly m and v forget (default (0.9, 0.999)).
    eps : float >= 0
        ε, keeps the division finite when v is 0 (default 1e-8).
    weight_decay : float >= 0
        λ, added to the gradient as an L2 penalty (for decay that is not
        scaled by Adam's per-weight step, use :class:`AdamW`).
    amsgrad : bool
        AMSGrad (Reddi et al., 2018): divide by the largest v seen so far,
        ``v̂ ← max(v̂, v)``, instead of v, so no weight's step grows back.

    Notes
    -----
    State per parameter: ``step`` (t, an int), ``exp_avg`` (m) and
    ``exp_avg_sq`` (v), and ``max_exp_avg_sq`` (v̂) with amsgrad.

    References
    ----------
    D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization",
    ICLR 2015, arXiv:1412.6980.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import Adam
    >>> w = gn.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()                       # the first step is about lr * sign(g)
    >>> w.data.round(4)
    array([ 0.9, -1.9], dtype=float32)
    >>> sorted(opt.state["0"])
    ['_work', '_work2', 'exp_avg', 'exp_avg_sq', 'step']
    """

    hyper_names = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    decoupled = False

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
        amsgrad=False,
    ):  # fmt: skip
        super().__init__(
            params, lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )

    def check_settings(self, where, betas, eps, weight_decay, amsgrad=False) -> dict:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ConfigError(
                f"{where}: betas must be a pair (beta1, beta2) such as "
                f"(0.9, 0.999); got {betas!r}."
            )
        if not isinstance(amsgrad, (bool, np.bool_)):
            raise ConfigError(
                f"{where}: amsgrad must be True or False; got {amsgrad!r}."
            )
        return {
            "betas": tuple(
                check_number(where, f"betas[{i}]", b, 0.0, 1.0, high_open=True)
                for i, b in enumerate(betas)
            ),
            "eps": check_number(where, "eps", eps, 0.0),
            "weight_decay": check_number(where, "weight_decay", weight_decay, 0.0),
            "amsgrad": bool(amsgrad),
        }

    def init_state(self, p, h) -> dict:
        z = p.data
        state = {
            "step": 0,
            "exp_avg": np.zeros_like(z),
            "exp_avg_sq": np.zeros_like(z),
            "_work": np.empty_like(z),
            "_work2": np.empty_like(z),
        }
        if h.get("amsgrad"):
            state["max_exp_avg_sq"] = np.zeros_like(z)
        return state

    def update_one(self, p, grad, state, h) -> None:
        t = state["step"] = state["step"] + 1  # this parameter's own step count
        kernels.adam(
            p.data, grad, state["exp_avg"], state["exp_avg_sq"], t, h["lr"],
            h["betas"], h["eps"], h["weight_decay"], self.decoupled,
            state["_work"], state["_work2"], vmax=state.get("max_exp_avg_sq"),
        )  # fmt: skip

    plan_kernel = "adam"

    def update_plan(self, rows, h) -> None:
        lr, betas, eps, decay = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        for _, p, data, s, adam in rows:  # update_one's call
            t = s["step"] = s["step"] + 1
            adam(data, p.grad, s["exp_avg"], s["exp_avg_sq"], t, lr, betas, eps,
                 decay, self.decoupled, s["_work"], s["_work2"],
                 vmax=s.get("max_exp_avg_sq"))  # fmt: skip

    def together(self, group) -> bool:
        return not group["settings"]["amsgrad"] and _together(self, Adam, group)

    def update_group(self, todo, h) -> None:
        states = [s for _, _, s in todo]
        t = states[0]["step"] + 1
        if len(todo) < 2 or any(s["step"] + 1 != t for s in states):  # missed steps
            return Optimizer.update_group(self, todo, h)
        for s in states:
            s["step"] = t
        kernels.adam_foreach(
            [p.data for p, _, _ in todo], [g for _, g, _ in todo],
            [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
            t, h["lr"], h["betas"], h["eps"], h["weight_decay"], self.decoupled,
            [s["_work"] for s in states], [s["_work2"] for s in states],
        )  # fmt: skip


class AdamW(Adam):
    """AdamW: Adam with weight decay applied to the weights, not the gradient.

    The rule::

        θ ← (1 − η·λ)·θ                then Adam's update, with g as it came

    In Adam an L2 penalty is added to the gradient and then divided by
    √v, so weights with large gradients are hardly decayed at all.
    Loshchilov & Hutter (2019) shrink every weight by the same factor
    instead, which regularises as intended and separates the choice of λ
    from the choice of η. This is PyTorch's AdamW rule.

    Parameters
    ----------
    params, lr, betas, eps, amsgrad
        As for :class:`Adam`.
    weight_decay : float >= 0
        λ (default 0.01).

    References
    ----------
    I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization",
    ICLR 2019, arXiv:1711.05101.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import AdamW
    >>> AdamW([gn.tensor([1.0], requires_grad=True)], lr=0.01)
    AdamW(lr=0.01)
    """

    decoupled = True

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
        amsgrad=False,
    ):  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def _flag(where: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{where}: {name} must be True or False; got {value!r}.")
    return bool(value)


class RMSprop(Optimizer):
    """RMSprop: divide each step by a running root-mean-square of the gradient.

    The rule, for each parameter θ with gradient g::

        g ← g + λ·θ                    weight decay, only if λ > 0
        s ← α·s + (1 − α)·g²           running mean of g²
        a ← a + (1 − α)·(g − a)        running mean of g, only if centered
        r = √(s − a²) + ε              (√s + ε when not centered)
        b ← μ·b + g/r,  θ ← θ − η·b    with momentum μ > 0
        θ ← θ − η·g/r                  without

    Like Adam without the first-moment average and bias correction:
    weights whose gradients have been large take small steps. Centered
    RMSprop divides by an estimate of the gradient's standard deviation
    instead of its root mean square (Graves, 2013). This is PyTorch's rule.

    Parameters
    ----------
    params : model, or iterable of Tensors or (name, Tensor) pairs, or groups
    lr : float
        η (default 0.01).
    alpha : float in [0, 1)
        α, how slowly s forgets (default 0.99).
    eps : float >= 0
        ε (default 1e-8), added after the square root.
    weight_decay : float >= 0
        λ, an L2 penalty added to the gradient.
    momentum : float in [0, 1)
        μ (default 0).
    centered : bool
        Subtract the squared running mean of g (default False).

    Notes
    -----
    State per parameter: ``square_avg`` (s), and ``grad_avg`` (a) when
    centered, ``momentum_buffer`` (b) with momentum.

    References
    ----------
    T. Tieleman, G. Hinton, Lecture 6.5 of "Neural Networks for Machine
    Learning", Coursera, 2012. A. Graves, "Generating Sequences With
    Recurrent Neural Networks", arXiv:1308.0850, 2013.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import RMSprop
    >>> w = gn.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()                       # first step: g / √(0.01 g²) = 10·sign(g)
    >>> w.data.round(4)
    array([ 0.9, -1.9], dtype=float32)
    """

    hyper_names = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(
        self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
        centered=False,
    ):  # fmt: skip
        super().__init__(
            params, lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
            momentum=momentum, centered=centered,
        )  # fmt: skip

    def check_settings(self, where, alpha, eps, weight_decay, momentum, centered):
        return {
            "alpha": check_number(where, "alpha", alpha, 0.0, 1.0, high_open=True),
            "eps": check_number(where, "eps", eps, 0.0),
            "weight_decay": check_number(where, "weight_decay", weight_decay, 0.0),
            "momentum": check_number(
                where, "momentum", momentum, 0.0, 1.0, high_open=True
            ),
            "centered": _flag(where, "centered", centered),
        }

    def init_state(self, p, h) -> dict:
        z = p.data
        state = {"square_avg": np.zeros_like(z), "_work": np.empty_like(z),
                 "_work2": np.empty_like(z)}  # fmt: skip
        if h["centered"]:
            state["grad_avg"] = np.zeros_like(z)
        if h["momentum"]:
            state["momentum_buffer"] = np.zeros_like(z)
        return state

    def update_one(self, p, grad, state, h) -> None:
        kernels.rmsprop(
            p.data, grad, state["square_avg"], state.get("grad_avg"),
            state.get("momentum_buffer"), h["lr"], h["alpha"], h["eps"],
            h["weight_decay"], h["momentum"], state["_work"], state["_work2"],
        )  # fmt: skip


class Adagrad(Optimizer):
    """Adagrad: each weight's step shrinks with the sum of its squared gradients.

    The rule, for each parameter θ with gradient g at its t-th step::

        g ← g + λ·θ                                   only if λ > 0
        S ← S + g²                                    S starts at S0
        θ ← θ − η/(1 + (t − 1)·δ) · g / (√S + ε)

    Weights whose gradients are rare (a seldom-seen word's embedding) keep
    large steps; busy ones slow down. The steps only ever shrink, which suits
    convex problems and short runs (Duchi, Hazan & Singer, 2011). This is
    PyTorch's rule.

    Parameters
    ----------
    params : model, or iterable of Tensors or (name, Tensor) pairs, or groups
    lr : float
        η (default 0.01).
    lr_decay : float >= 0
        δ (default 0).
    weight_decay : float >= 0
        λ, an L2 penalty added to the gradient.
    initial_accumulator_value : float >= 0
        S0 (default 0).
    eps : float >= 0
        ε (default 1e-10).

    Notes
    -----
    State per parameter: ``step`` (t) and ``sum`` (S).

    References
    ----------
    J. Duchi, E. Hazan, Y. Singer, "Adaptive Subgradient Methods for Online
    Learning and Stochastic Optimization", JMLR 12, 2011.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import Adagrad
    >>> w = gn.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()                       # first step: η·g/|g| = η·sign(g)
    >>> w.data.round(4)
    array([ 0.5, -1.5], dtype=float32)
    """

    hyper_names = (
        "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"
    )  # fmt: skip

    def __init__(
        self, params, lr=0.01, lr_decay=0.0, weight_decay=0.0,
        initial_accumulator_value=0.0, eps=1e-10,
    ):  # fmt: skip
        super().__init__(
            params, lr, lr_decay=lr_decay, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, eps=eps,
        )  # fmt: skip

    def check_settings(
        self, where, lr_decay, weight_decay, initial_accumulator_value, eps
    ):
        return {
            "lr_decay": check_number(where, "lr_decay", lr_decay, 0.0),
            "weight_decay": check_number(where, "weight_decay", weight_decay, 0.0),
            "initial_accumulator_value": check_number(
                where, "initial_accumulator_value", initial_accumulator_value, 0.0
            ),
            "eps": check_number(where, "eps", eps, 0.0),
        }

    def init_state(self, p, h) -> dict:
        z = p.data
        return {"step": 0, "sum": np.full_like(z, h["initial_accumulator_value"]),
                "_work": np.empty_like(z), "_work2": np.empty_like(z)}  # fmt: skip

    def update_one(self, p, grad, state, h) -> None:
        t = state["step"] = state["step"] + 1
        kernels.adagrad(
            p.data, grad, state["sum"], t, h["lr"], h["lr_decay"], h["eps"],
            h["weight_decay"], state["_work"], state["_work2"],
        )  # fmt: skip


class _AdamFamily(Optimizer):
    """Adam's settings and state, for NAdam and RAdam (no amsgrad)."""

    hyper_names = ("lr", "betas", "eps", "weight_decay", "decoupled_weight_decay")
    init_state = Adam.init_state

    def check_settings(self, where, betas, eps, weight_decay, decoupled_weight_decay):
        h = Adam.check_settings(self, where, betas, eps, weight_decay)
        del h["amsgrad"]
        flag = _flag(where, "decoupled_weight_decay", decoupled_weight_decay)
        return {**h, "decoupled_weight_decay": flag}


class NAdam(_AdamFamily):
    """NAdam: Adam with Nesterov momentum, looking one step ahead.

    The rule, for each parameter θ with gradient g at its t-th step::

        weight decay as Adam's (or AdamW's when decoupled_weight_decay)
        m ← m + (1 − β1)·(g − m),   v ← β2·v + (1 − β2)·g²        as Adam
        μ_t = β1·(1 − 0.96^(t·ψ)/2),   P_t = μ_1·μ_2·…·μ_t
        r = √(v / (1 − β2^t)) + ε
        θ ← θ − η(1 − μ_t)/(1 − P_t) · g/r − η·μ_{t+1}/(1 − P_t·μ_{t+1}) · m/r

    The step mixes this gradient and the momentum the next step will use,
    as Nesterov momentum does for SGD (Dozat, 2016); μ_t warms the momentum
    up from β1/2 to β1 over the first few hundred steps (ψ =
    ``momentum_decay``). This is PyTorch's rule.

    Parameters
    ----------
    params, betas, eps, weight_decay
        As for :class:`Adam`.
    lr : float
        η (default 0.002).
    momentum_decay : float >= 0
        ψ (default 0.004).
    decoupled_weight_decay : bool
        Shrink θ by (1 − ηλ) as AdamW does, instead of adding λθ to g.

    Notes
    -----
    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` (as Adam) and
    ``mu_product`` (P_t, a float).

    References
    ----------
    T. Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016
    workshop.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import NAdam
    >>> NAdam([gn.tensor([1.0], requires_grad=True)], momentum_decay=0.01)
    NAdam(lr=0.002, momentum_decay=0.01)
    """

    hyper_names = (*_AdamFamily.hyper_names, "momentum_decay")

    def __init__(
        self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
        momentum_decay=4e-3, decoupled_weight_decay=False,
    ):  # fmt: skip
        super().__init__(
            params, lr, betas=betas, eps=eps, weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )  # fmt: skip

    def check_settings(self, where, momentum_decay, **settings):
        h = super().check_settings(where, **settings)
        return {**h, "momentum_decay": check_number(
            where, "momentum_decay", momentum_decay, 0.0)}  # fmt: skip

    def init_state(self, p, h) -> dict:
        return {**Adam.init_state(self, p, h), "mu_product": 1.0}

    def update_one(self, p, grad, state, h) -> None:
        t = state["step"] = state["step"] + 1
        state["mu_product"] = kernels.nadam(
            p.data, grad, state["exp_avg"], state["exp_avg_sq"], t,
            state["mu_product"], h["lr"], h["betas"], h["eps"], h["weight_decay"],
            h["decoupled_weight_decay"], h["momentum_decay"], state["_work"],
            state["_work2"],
        )  # fmt: skip


class RAdam(_AdamFamily):
    """RAdam: Adam whose adaptive step is phased in as its variance estimate firms up.

    The rule, for each parameter θ with gradient g at its t-th step::

        weight decay as Adam's (or AdamW's when decoupled_weight_decay)
        m ← m + (1 − β1)·(g − m),   v ← β2·v + (1 − β2)·g²        as Adam
        ρ∞ = 2/(1 − β2) − 1,   ρ_t = ρ∞ − 2t·β2^t/(1 − β2^t)
        ρ_t > 5:  θ ← θ − η · m/(1 − β1^t) · √(1 − β2^t)/(√v + ε) · ρ̂
        else:     θ ← θ − η · m/(1 − β1^t)             (SGD with momentum)
        ρ̂ = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t))

    In Adam's first steps v rests on a handful of gradients, so the
    per-weight step sizes are noisy; that is why Adam is often run with a
    learning-rate warm-up. RAdam instead takes plain momentum steps while
    ρ_t ≤ 5 (the first 5 steps with β2 = 0.999) and then scales the adaptive
    step by the rectification ρ̂, which rises toward 1 (Liu et al., 2020).
    This is PyTorch's rule.

    Parameters
    ----------
    params, lr, betas, eps, weight_decay
        As for :class:`Adam`.
    decoupled_weight_decay : bool
        Shrink θ by (1 − ηλ) as AdamW does, instead of adding λθ to g.

    References
    ----------
    L. Liu et al., "On the Variance of the Adaptive Learning Rate and
    Beyond", ICLR 2020, arXiv:1908.03265.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import RAdam
    >>> w = gn.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RAdam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()                       # step 1 is plain momentum: θ − η·g
    >>> w.data.round(4)
    array([ 0.8, -1.6], dtype=float32)
    """

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
        decoupled_weight_decay=False,
    ):  # fmt: skip
        super().__init__(
            params, lr, betas=betas, eps=eps, weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )  # fmt: skip

    def update_one(self, p, grad, state, h) -> None:
        t = state["step"] = state["step"] + 1
        kernels.radam(
            p.data, grad, state["exp_avg"], state["exp_avg_sq"], t, h["lr"],
            h["betas"], h["eps"], h["weight_decay"], h["decoupled_weight_decay"],
            state["_work"], state["_work2"],
        )  # fmt: skip
