"""Gradient optimizers: SGD (with momentum), Adam and AdamW.

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
from .base import Optimizer, check_number


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
        super().__init__(params, lr)
        self.momentum = check_number(
            "SGD", "momentum", momentum, 0.0, 1.0, high_open=True
        )
        if not isinstance(nesterov, (bool, np.bool_)):
            raise ConfigError(f"SGD: nesterov must be True or False; got {nesterov!r}.")
        if nesterov and self.momentum == 0:
            raise ConfigError(
                "SGD: nesterov=True needs momentum > 0; got momentum=0.0. "
                "Pass e.g. momentum=0.9."
            )
        self.nesterov = bool(nesterov)
        self.weight_decay = check_number("SGD", "weight_decay", weight_decay, 0.0)

    def init_state(self, p) -> dict:
        state = {"_work": np.empty_like(p.data)}
        if self.momentum:
            # Zeros give b = μ·0 + g = g on the first step, as the rule says.
            state["momentum_buffer"] = np.zeros_like(p.data)
            if self.nesterov and self.weight_decay:
                state["_work2"] = np.empty_like(p.data)
        return state

    def update_one(self, p, grad, state) -> None:
        kernels.sgd(
            p.data, grad, state.get("momentum_buffer"), self._lr, self.momentum,
            self.weight_decay, self.nesterov, state["_work"], state.get("_work2"),
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

    Notes
    -----
    State per parameter: ``step`` (t, an int), ``exp_avg`` (m) and
    ``exp_avg_sq`` (v).

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

    hyper_names = ("lr", "betas", "eps", "weight_decay")
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        where = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ConfigError(
                f"{where}: betas must be a pair (beta1, beta2) such as "
                f"(0.9, 0.999); got {betas!r}."
            )
        self.betas = tuple(
            check_number(where, f"betas[{i}]", b, 0.0, 1.0, high_open=True)
            for i, b in enumerate(betas)
        )
        self.eps = check_number(where, "eps", eps, 0.0)
        self.weight_decay = check_number(where, "weight_decay", weight_decay, 0.0)

    def init_state(self, p) -> dict:
        z = p.data
        return {
            "step": 0,
            "exp_avg": np.zeros_like(z),
            "exp_avg_sq": np.zeros_like(z),
            "_work": np.empty_like(z),
            "_work2": np.empty_like(z),
        }

    def update_one(self, p, grad, state) -> None:
        t = state["step"] = state["step"] + 1  # this parameter's own step count
        kernels.adam(
            p.data, grad, state["exp_avg"], state["exp_avg_sq"], t, self._lr,
            self.betas, self.eps, self.weight_decay, self.decoupled,
            state["_work"], state["_work2"],
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
    params, lr, betas, eps
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
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01
    ):
        super().__init__(params, lr, betas, eps, weight_decay)
