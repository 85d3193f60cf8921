"""Learning-rate schedules: big steps early, small steps late.

A schedule remembers the optimizer's learning rate when it was made (the
base rate η0) and, each time ``step()`` is called (once per epoch; ``fit``
does it), sets ``optimizer.lr`` to its formula at the new epoch e. The
formula is evaluated afresh from η0 every time, so no rounding piles up, and
setting ``optimizer.lr`` by hand between epochs is overwritten at the next
``step()``.

Typical use::

    opt = SGD(model, lr=0.1, momentum=0.9)
    schedule = CosineLR(opt, t_max=30)
    for epoch in range(30):
        ...                   # one epoch of optimizer.step() calls
        schedule.step()
"""

from __future__ import annotations

import math

from .._validate import check_positive
from ..errors import ConfigError, FormatError
from .base import check_number, is_count


class LRSchedule:
    """Base class: an epoch counter and a formula ``lr_at(epoch)``.

    Attributes
    ----------
    optimizer : Optimizer
        Whose ``lr`` is set.
    base_lr : float
        η0, the optimizer's ``lr`` when the schedule was made.
    epoch : int
        How many times ``step()`` has run.
    """

    settings: tuple = ()

    def __init__(self, optimizer):
        lr = getattr(optimizer, "lr", None)
        if lr is None or not hasattr(optimizer, "step"):
            raise ConfigError(
                f"{type(self).__name__}: expected an optimizer with an lr "
                f"setting; got {type(optimizer).__name__}."
            )
        check_positive(type(self).__name__, "the optimizer's lr", lr)
        self.optimizer = optimizer
        self.base_lr = float(lr)
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:
        """The learning rate this schedule gives at ``epoch``."""
        raise NotImplementedError(f"{type(self).__name__} must implement lr_at().")

    @property
    def lr(self) -> float:
        """The current learning rate, ``lr_at(epoch)``."""
        return self.lr_at(self.epoch)

    def step(self) -> float:
        """Advance one epoch, set the optimizer's lr, and return it."""
        self.epoch += 1
        lr = self.lr
        self.optimizer.lr = lr
        return lr

    def state_dict(self) -> dict:
        """JSON-able snapshot: type, base_lr, epoch and the settings."""
        return {
            "type": type(self).__name__,
            "base_lr": self.base_lr,
            "epoch": self.epoch,
            "settings": {k: getattr(self, k) for k in self.settings},
        }

    def load_state_dict(self, sd: dict) -> None:
        """Restore a snapshot and set the optimizer's lr to match it."""
        where = f"{type(self).__name__}.load_state_dict"
        keys = {"type", "base_lr", "epoch", "settings"}
        if not isinstance(sd, dict) or set(sd) != keys:
            got = sorted(sd) if isinstance(sd, dict) else type(sd).__name__
            raise FormatError(
                f"{where}: expected a dict with keys {sorted(keys)}; got {got}."
            )
        if sd["type"] != type(self).__name__:
            raise FormatError(
                f"{where}: this state belongs to a {sd['type']} schedule."
            )
        if set(sd["settings"]) != set(self.settings):
            raise FormatError(
                f"{where}: settings {sorted(sd['settings'])} do not match "
                f"{sorted(self.settings)}."
            )
        epoch = sd["epoch"]
        if not is_count(epoch):
            raise FormatError(
                f"{where}: epoch must be a non-negative integer; got {epoch!r}."
            )
        check_positive(where, "base_lr", sd["base_lr"])
        # Validate the settings on a blank copy, so a bad snapshot changes nothing.
        trial = object.__new__(type(self))
        trial.base_lr = float(sd["base_lr"])
        trial._configure(**sd["settings"])
        for k in ("base_lr", *self.settings):
            setattr(self, k, getattr(trial, k))
        self.epoch = int(epoch)
        self.optimizer.lr = self.lr

    def _configure(self, **settings) -> None:
        """Validate and set the schedule's own settings (may use ``self.base_lr``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _configure().")

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.settings)
        return f"{type(self).__name__}({shown}, epoch={self.epoch}, lr={self.lr!r})"


class StepLR(LRSchedule):
    """Divide the learning rate by a fixed factor every few epochs.

    The rule, at epoch e::

        η_e = η0 · gamma ^ floor(e / step_size)

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int > 0
        Epochs between drops.
    gamma : float > 0
        The factor applied at each drop (default 0.1).

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import SGD, StepLR
    >>> opt = SGD([gn.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> schedule = StepLR(opt, step_size=2, gamma=0.5)
    >>> [schedule.step() for _ in range(5)]
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    settings = ("step_size", "gamma")

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self._configure(step_size=step_size, gamma=gamma)

    def _configure(self, step_size, gamma) -> None:
        check_positive("StepLR", "step_size", step_size, integer=True)
        check_positive("StepLR", "gamma", gamma)
        self.step_size, self.gamma = int(step_size), float(gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRSchedule):
    """Multiply the learning rate by the same factor every epoch.

    The rule, at epoch e::

        η_e = η0 · gamma ^ e

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float > 0
        The factor per epoch (e.g. 0.95).

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import SGD, ExponentialLR
    >>> opt = SGD([gn.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> schedule = ExponentialLR(opt, gamma=0.5)
    >>> [schedule.step() for _ in range(3)]
    [0.5, 0.25, 0.125]
    """

    settings = ("gamma",)

    def __init__(self, optimizer, gamma: float):
        super().__init__(optimizer)
        self._configure(gamma=gamma)

    def _configure(self, gamma) -> None:
        check_positive("ExponentialLR", "gamma", gamma)
        self.gamma = float(gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma**epoch


class CosineLR(LRSchedule):
    """Glide the learning rate from η0 down to ``lr_min`` along half a cosine.

    The rule, at epoch e, with T = ``t_max``::

        η_e = lr_min + (η0 − lr_min) · (1 + cos(π · min(e, T) / T)) / 2

    The rate falls slowly at first, fastest in the middle and slowly again
    near the end (Loshchilov & Hutter, "SGDR:
    Stochastic Gradient Descent with Warm Restarts", ICLR 2017, without the
    restarts). After T epochs it stays at ``lr_min``; PyTorch's
    CosineAnnealingLR would instead climb back up.

    Parameters
    ----------
    optimizer : Optimizer
    t_max : int > 0
        Epochs to reach ``lr_min``.
    lr_min : float, 0 <= lr_min <= η0
        The final learning rate (default 0).

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import SGD, CosineLR
    >>> opt = SGD([gn.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> schedule = CosineLR(opt, t_max=2)
    >>> [round(schedule.step(), 12) for _ in range(3)]
    [0.5, 0.0, 0.0]
    """

    settings = ("t_max", "lr_min")

    def __init__(self, optimizer, t_max: int, lr_min: float = 0.0):
        super().__init__(optimizer)
        self._configure(t_max=t_max, lr_min=lr_min)

    def _configure(self, t_max, lr_min) -> None:
        check_positive("CosineLR", "t_max", t_max, integer=True)
        self.lr_min = check_number("CosineLR", "lr_min", lr_min, 0.0, self.base_lr)
        self.t_max = int(t_max)

    def lr_at(self, epoch: int) -> float:
        e = min(epoch, self.t_max)
        return (
            self.lr_min
            + (self.base_lr - self.lr_min)
            * (1.0 + math.cos(math.pi * e / self.t_max))
            / 2.0
        )
