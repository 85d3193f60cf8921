"""Learning-rate schedules: big steps early, small steps late.

A schedule remembers the optimizer's learning rate when it was made (the
base rate η0) and, each time ``step()`` is called, sets ``optimizer.lr`` to
its formula at the new count e. ``every="epoch"`` (the default) means ``fit``
calls ``step()`` after each epoch, ``every="batch"`` after each optimizer
step, and e counts those. The formula is evaluated afresh from η0 every
time, so no rounding piles up, and setting ``optimizer.lr`` by hand between
steps is overwritten at the next ``step()``. (PyTorch's schedulers mostly
multiply the last rate instead; the rates agree to rounding.) An optimizer's
parameter groups keep their ratios to ``optimizer.lr``, so all move together.

:class:`LinearWarmup` ramps the rate up first and then hands over to another
schedule; :class:`ReduceLROnPlateau` is driven by a monitored figure
(``fit`` gives it the epoch's ``val_loss``, say) rather than by the count.

Typical use::

    opt = SGD(model, lr=0.1, momentum=0.9)
    schedule = CosineLR(opt, t_max=30)
    for epoch in range(30):
        ...                   # one epoch of optimizer.step() calls
        schedule.step()
"""

from __future__ import annotations

import bisect
import math

from .._validate import check_positive
from ..errors import ConfigError, FormatError
from .base import check_number, is_count

EVERY = ("epoch", "batch")


class LRSchedule:
    """Base class: an epoch counter and a formula ``lr_at(epoch)``.

    Attributes
    ----------
    optimizer : Optimizer
        Whose ``lr`` is set.
    base_lr : float
        η0, the optimizer's ``lr`` when the schedule was made.
    epoch : int
        How many times ``step()`` has run (epochs or batches, see ``every``).
    every : {"epoch", "batch"}
        When ``fit`` calls ``step()``: after each epoch or each batch.
    """

    settings: tuple = ()

    def __init__(self, optimizer, every: str = "epoch"):
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
        self.every = _every(type(self).__name__, every)

    def lr_at(self, epoch: int) -> float:
        """The learning rate this schedule gives at ``epoch``."""
        raise NotImplementedError(f"{type(self).__name__} must implement lr_at().")

    @property
    def lr(self) -> float:
        """The current learning rate, ``lr_at(epoch)``."""
        return self.lr_at(self.epoch)

    def step(self) -> float:
        """Advance one epoch (or batch), set the optimizer's lr, and return it."""
        self.epoch += 1
        lr = self.lr
        self.optimizer.lr = lr
        return lr

    def epoch_end(self, logs: dict) -> None:
        """What ``fit`` calls after each epoch, with its figures: ``step()`` when
        stepping per epoch."""
        if self.every == "epoch":
            self.step()

    def state_dict(self) -> dict:
        """JSON-able snapshot: type, base_lr, epoch and the settings."""
        settings = {k: getattr(self, k) for k in self.settings}
        return {
            "type": type(self).__name__,
            "base_lr": self.base_lr,
            "epoch": self.epoch,
            "settings": {**settings, "every": self.every},
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
        settings = dict(sd["settings"])
        every = _every(where, settings.pop("every", "epoch"))  # older files: per epoch
        if set(settings) != set(self.settings):
            raise FormatError(
                f"{where}: settings {sorted(settings)} do not match "
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
        trial._configure(**settings)
        for k in ("base_lr", *self.settings):
            setattr(self, k, getattr(trial, k))
        self.epoch, self.every = int(epoch), every
        self.optimizer.lr = self.lr

    def _configure(self, **settings) -> None:
        """Validate and set the schedule's own settings (may use ``self.base_lr``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _configure().")

    def __repr__(self) -> str:
        shown = "".join(f"{k}={getattr(self, k)!r}, " for k in self.settings)
        every = "" if self.every == "epoch" else "every='batch', "
        return (
            f"{type(self).__name__}({shown}{every}epoch={self.epoch}, lr={self.lr!r})"
        )


def _every(where: str, every) -> str:
    if every not in EVERY:
        raise ConfigError(
            f"{where}: every must be 'epoch' or 'batch' (when fit steps the "
            f"schedule); got {every!r}."
        )
    return every


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
    every : {"epoch", "batch"}
        What e counts (default "epoch").

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

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, every="epoch"):
        super().__init__(optimizer, every)
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
    every : {"epoch", "batch"}
        What e counts (default "epoch").

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

    def __init__(self, optimizer, gamma: float, every="epoch"):
        super().__init__(optimizer, every)
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
    every : {"epoch", "batch"}
        What e counts (default "epoch").

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

    def __init__(self, optimizer, t_max: int, lr_min: float = 0.0, every="epoch"):
        super().__init__(optimizer, every)
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


class MultiStepLR(LRSchedule):
    """Multiply the learning rate by ``gamma`` at each of the given milestones.

    The rule, at epoch e::

        η_e = η0 · gamma ^ (number of milestones <= e)

    Parameters
    ----------
    optimizer : Optimizer
    milestones : list of int > 0
        The epochs (or batches) at which the rate drops, increasing.
    gamma : float > 0
        The factor at each milestone (default 0.1).
    every : {"epoch", "batch"}
        What e counts (default "epoch").

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import SGD, MultiStepLR
    >>> opt = SGD([gn.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> schedule = MultiStepLR(opt, milestones=[2, 3], gamma=0.5)
    >>> [schedule.step() for _ in range(4)]
    [1.0, 0.5, 0.25, 0.25]
    """

    settings = ("milestones", "gamma")

    def __init__(self, optimizer, milestones, gamma: float = 0.1, every="epoch"):
        super().__init__(optimizer, every)
        self._configure(milestones=milestones, gamma=gamma)

    def _configure(self, milestones, gamma) -> None:
        where = "MultiStepLR"
        if not isinstance(milestones, (list, tuple)) or not milestones:
            raise ConfigError(
                f"{where}: milestones must be a non-empty list of epochs such as "
                f"[30, 80]; got {milestones!r}."
            )
        for m in milestones:
            check_positive(where, "each milestone", m, integer=True)
        if list(milestones) != sorted(set(milestones)):
            raise ConfigError(
                f"{where}: milestones must increase; got {list(milestones)}."
            )
        check_positive(where, "gamma", gamma)
        self.milestones, self.gamma = [int(m) for m in milestones], float(gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class LambdaLR(LRSchedule):
    """The learning rate your own function gives: ``η_e = η0 · fn(e)``.

    Parameters
    ----------
    optimizer : Optimizer
    fn : callable int -> float
        The factor at epoch (or batch) e; ``fn(0)`` is usually 1.
    every : {"epoch", "batch"}
        What e counts (default "epoch").

    Notes
    -----
    A saved state holds the count and η0 but not ``fn`` (code is not data):
    to resume, make the schedule with the same function and load the state.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import SGD, LambdaLR
    >>> opt = SGD([gn.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> schedule = LambdaLR(opt, lambda e: 1 / (1 + e))
    >>> [schedule.step() for _ in range(3)]
    [0.5, 0.3333333333333333, 0.25]
    """

    def __init__(self, optimizer, fn, every="epoch"):
        super().__init__(optimizer, every)
        if not callable(fn):
            raise ConfigError(
                f"LambdaLR: fn must be a function epoch -> factor; got "
                f"{type(fn).__name__}."
            )
        self.fn = fn

    def _configure(self) -> None:
        pass

    def lr_at(self, epoch: int) -> float:
        factor = self.fn(epoch)
        try:
            return check_number("LambdaLR", f"fn({epoch})", factor, 0.0) * self.base_lr
        except ConfigError as e:
            raise ConfigError(f"{e} The factor must be a finite number >= 0.") from None


class OneCycleLR(LRSchedule):
    """Leslie Smith's one cycle: up from η_max/d to η_max, then down to almost 0.

    The rule, at step e of T = ``total_steps``, with a = ``pct_start``::

        η starts at η_max / d                         d = div_factor
        rises to η_max at step aT − 1
        falls to η_max / (d · f) at step T − 1        f = final_div_factor

    each phase along half a cosine (``anneal="cos"``) or a straight line
    (``"linear"``); with ``three_phase`` it comes back down to η_max/d at step
    2aT − 2 and only then to the minimum. One cycle trains fast with a large
    peak rate (Smith & Topin, 2019); it is usually stepped per batch. This is
    PyTorch's OneCycleLR without the momentum cycling (``cycle_momentum``):
    the optimizer's momentum stays as set. After T steps the rate stays at
    the minimum (PyTorch raises instead).

    Parameters
    ----------
    optimizer : Optimizer
    total_steps : int > 1
        Steps in the cycle (epochs × batches per epoch when stepped per batch).
    max_lr : float > 0, optional
        η_max; default the optimizer's lr. The optimizer's lr is set to
        η_max/d at once.
    pct_start : float in (0, 1)
        a, the share of the cycle spent rising (default 0.3).
    anneal : {"cos", "linear"}
    div_factor, final_div_factor : float > 0
        d (default 25) and f (default 1e4).
    three_phase : bool
    every : {"epoch", "batch"}
        What e counts (default "batch").

    References
    ----------
    L. N. Smith, N. Topin, "Super-Convergence: Very Fast Training of Neural
    Networks Using Large Learning Rates", arXiv:1708.07120, 2019.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import SGD, OneCycleLR
    >>> opt = SGD([gn.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> schedule = OneCycleLR(opt, total_steps=5, pct_start=0.4, anneal="linear")
    >>> [opt.lr] + [round(schedule.step(), 6) for _ in range(4)]
    [0.04, 1.0, 0.666668, 0.333336, 4e-06]
    """

    settings = ("total_steps", "pct_start", "anneal", "div_factor",
                "final_div_factor", "three_phase")  # fmt: skip

    def __init__(
        self, optimizer, total_steps: int, max_lr=None, pct_start: float = 0.3,
        anneal: str = "cos", div_factor: float = 25.0, final_div_factor: float = 1e4,
        three_phase: bool = False, every="batch",
    ):  # fmt: skip
        super().__init__(optimizer, every)
        if max_lr is not None:
            check_positive("OneCycleLR", "max_lr", max_lr)
            self.base_lr = float(max_lr)
        self._configure(
            total_steps=total_steps, pct_start=pct_start, anneal=anneal,
            div_factor=div_factor, final_div_factor=final_div_factor,
            three_phase=three_phase,
        )  # fmt: skip
        optimizer.lr = self.lr

    def _configure(
        self, total_steps, pct_start, anneal, div_factor, final_div_factor, three_phase
    ) -> None:
        where = "OneCycleLR"
        check_positive(where, "total_steps", total_steps, integer=True)
        if total_steps < 2:
            raise ConfigError(f"{where}: total_steps must be at least 2; got 1.")
        pct = check_number(where, "pct_start", pct_start, 0.0, 1.0, True, True)
        if anneal not in ("cos", "linear"):
            raise ConfigError(
                f"{where}: anneal must be 'cos' or 'linear'; got {anneal!r}."
            )
        check_positive(where, "div_factor", div_factor)
        check_positive(where, "final_div_factor", final_div_factor)
        if not isinstance(three_phase, bool):
            raise ConfigError(f"{where}: three_phase must be True or False.")
        self.total_steps, self.pct_start, self.anneal = int(total_steps), pct, anneal
        self.div_factor, self.final_div_factor = (
            float(div_factor),
            float(final_div_factor),
        )
        self.three_phase = three_phase

    def lr_at(self, epoch: int) -> float:
        top, total = self.base_lr, self.total_steps
        low = top / self.div_factor
        end, rise = low / self.final_div_factor, float(self.pct_start * total) - 1
        phases = [(rise, low, top), (total - 1, top, end)]
        if self.three_phase:
            phases = [(rise, low, top), (2 * rise, top, low), (total - 1, low, end)]
        step, start = min(epoch, total - 1), 0.0
        for i, (stop, a, b) in enumerate(phases):
            if step <= stop or i == len(phases) - 1:
                pct = (step - start) / (stop - start)
                if self.anneal == "linear":
                    return (b - a) * pct + a
                return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)
            start = stop
        raise AssertionError("unreachable")  # the last phase always returns


class LinearWarmup(LRSchedule):
    """Ramp the learning rate up in a straight line, then hand over to a schedule.

    The rule, at epoch (or batch) e, with W = ``steps`` and s = ``start_factor``::

        η_e = η0 · (s + (1 − s) · e / W)     for e < W
        η_e = η0                             afterwards, or, with ``then``,
        η_e = then.lr_at(e − W)              the other schedule, started at W

    Large early steps on random weights can throw training off course, and
    Adam's first per-weight step sizes rest on few gradients; a few epochs
    (or a few hundred batches) of warm-up avoid both (Goyal et al., 2017).
    Alone it is PyTorch's LinearLR with end_factor 1; with ``then`` it is
    SequentialLR([LinearLR, then], milestones=[W]).

    Parameters
    ----------
    optimizer : Optimizer
    steps : int > 0
        W, the length of the warm-up.
    start_factor : float in (0, 1]
        s, the first rate as a share of η0 (default 1/3, PyTorch's).
    then : LRSchedule, optional
        The schedule that takes over at W, made on the same optimizer and
        stepped as often (e.g. ``CosineLR(opt, t_max=epochs - W)``). Not
        OneCycleLR (it warms up itself) nor ReduceLROnPlateau.
    every : {"epoch", "batch"}
        What e counts; default ``then.every``, else "epoch".

    References
    ----------
    P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1
    Hour", arXiv:1706.02677, 2017.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import SGD, LinearWarmup, StepLR
    >>> opt = SGD([gn.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> schedule = LinearWarmup(opt, steps=2, start_factor=0.5,
    ...                         then=StepLR(opt, step_size=2, gamma=0.1))
    >>> [opt.lr] + [round(schedule.step(), 6) for _ in range(5)]
    [0.5, 0.75, 1.0, 1.0, 0.1, 0.1]
    """

    settings = ("steps", "start_factor")

    def __init__(self, optimizer, steps: int, start_factor: float = 1 / 3,
                 then=None, every=None):  # fmt: skip
        if then is not None:
            if not isinstance(then, LRSchedule) or isinstance(
                then, (OneCycleLR, ReduceLROnPlateau, LinearWarmup)
            ):
                raise ConfigError(
                    "LinearWarmup: then must be a schedule that follows a formula "
                    "(StepLR, MultiStepLR, ExponentialLR, CosineLR, LambdaLR); got "
                    f"{type(then).__name__}."
                )
            if then.optimizer is not optimizer:
                raise ConfigError(
                    "LinearWarmup: then was made on another optimizer; make "
                    "both on the same one."
                )
            every = then.every if every is None else every
            if every != then.every:
                raise ConfigError(
                    f"LinearWarmup: every={every!r} but then steps every "
                    f"{then.every!r}; they must step together."
                )
        super().__init__(optimizer, every or "epoch")
        self.then = then
        if then is not None:
            self.base_lr = then.base_lr
        self._configure(steps=steps, start_factor=start_factor)
        optimizer.lr = self.lr

    def _configure(self, steps, start_factor) -> None:
        check_positive("LinearWarmup", "steps", steps, integer=True)
        self.start_factor = check_number(
            "LinearWarmup", "start_factor", start_factor, 0.0, 1.0, low_open=True
        )
        self.steps = int(steps)

    def lr_at(self, epoch: int) -> float:
        if epoch < self.steps:
            return self.base_lr * (
                self.start_factor + (1.0 - self.start_factor) * epoch / self.steps
            )
        return (
            self.base_lr if self.then is None else self.then.lr_at(epoch - self.steps)
        )

    def step(self) -> float:
        if self.then is not None:
            self.then.epoch = max(0, self.epoch + 1 - self.steps)
        return super().step()

    def state_dict(self) -> dict:
        sd = super().state_dict()
        sd["settings"]["then"] = None if self.then is None else self.then.state_dict()
        return sd

    def load_state_dict(self, sd: dict) -> None:
        where = "LinearWarmup.load_state_dict"
        then = sd.get("settings", {}).get("then") if isinstance(sd, dict) else None
        if (then is None) != (self.then is None):
            raise FormatError(
                f"{where}: the state was saved {'without' if then is None else 'with'}"
                " a schedule to hand over to (then); make this one the same way."
            )
        if then is not None:
            self.then.load_state_dict(then)
        own = dict(
            sd, settings={k: v for k, v in sd["settings"].items() if k != "then"}
        )
        super().load_state_dict(own)


class ReduceLROnPlateau(LRSchedule):
    """Cut the learning rate when a monitored figure stops improving.

    After each epoch, with the figure x (``fit`` reads ``monitor`` from the
    epoch's figures; a hand-written loop calls ``step(x)``)::

        better:  x < best·(1 − threshold)  (mode "min", threshold_mode "rel";
                 "abs": x < best − threshold; mode "max": the mirror image)
        when x is better, best ← x and the count of bad epochs is reset;
        after more than ``patience`` bad epochs in a row:
            η ← max(η · factor, min_lr)   (unless that changes η by < eps),
            then wait ``cooldown`` epochs before counting bad epochs again

    The rate follows the figure, not a formula of the epoch. This is
    PyTorch's ReduceLROnPlateau; parameter groups keep their ratios (one
    ``min_lr``, for the optimizer's lr).

    Parameters
    ----------
    optimizer : Optimizer
    monitor : str
        The figure ``fit`` reads (default ``"val_loss"``; ``"loss"`` without
        validation data).
    mode : {"min", "max"}
        Whether smaller (a loss) or larger (an accuracy) is better.
    factor : float in (0, 1)
        Default 0.1.
    patience : int >= 0
        Bad epochs tolerated before a cut (default 10).
    threshold : float >= 0
        How much better counts as better (default 1e-4).
    threshold_mode : {"rel", "abs"}
    cooldown : int >= 0
        Epochs after a cut during which bad epochs are not counted.
    min_lr : float >= 0
    eps : float >= 0
        Smallest change of η worth making (default 1e-8).

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.optim import SGD, ReduceLROnPlateau
    >>> opt = SGD([gn.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> plateau = ReduceLROnPlateau(opt, factor=0.5, patience=1)
    >>> [plateau.step(loss) for loss in [3.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0]]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    """

    settings = ("monitor", "mode", "factor", "patience", "threshold",
                "threshold_mode", "cooldown", "min_lr", "eps")  # fmt: skip

    def __init__(
        self, optimizer, monitor: str = "val_loss", mode: str = "min",
        factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
        threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
        eps: float = 1e-8,
    ):  # fmt: skip
        super().__init__(optimizer)
        self._configure(
            monitor=monitor, mode=mode, factor=factor, patience=patience,
            threshold=threshold, threshold_mode=threshold_mode, cooldown=cooldown,
            min_lr=min_lr, eps=eps,
        )  # fmt: skip
        self.current, self.best, self.bad, self.cooling = self.base_lr, None, 0, 0

    def _configure(self, monitor, mode, factor, patience, threshold, threshold_mode,
                   cooldown, min_lr, eps) -> None:  # fmt: skip
        where = "ReduceLROnPlateau"
        if not isinstance(monitor, str):
            raise ConfigError(f"{where}: monitor must be a figure's name such as "
                              f"'val_loss'; got {monitor!r}.")  # fmt: skip
        for name, value, allowed in (("mode", mode, ("min", "max")),
                                     ("threshold_mode", threshold_mode, ("rel", "abs"))):  # fmt: skip
            if value not in allowed:
                raise ConfigError(
                    f"{where}: {name} must be {allowed[0]!r} or {allowed[1]!r}; "
                    f"got {value!r}."
                )
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not is_count(value):
                raise ConfigError(
                    f"{where}: {name} must be a whole number >= 0; got {value!r}."
                )
        self.monitor, self.mode, self.threshold_mode = monitor, mode, threshold_mode
        self.factor = check_number(where, "factor", factor, 0.0, 1.0, True, True)
        self.threshold = check_number(where, "threshold", threshold, 0.0)
        self.min_lr = check_number(where, "min_lr", min_lr, 0.0)
        self.eps = check_number(where, "eps", eps, 0.0)
        self.patience, self.cooldown = int(patience), int(cooldown)

    @property
    def lr(self) -> float:
        return self.current

    def lr_at(self, epoch: int) -> float:
        raise ConfigError(
            "ReduceLROnPlateau: the rate follows the monitored figure, not a "
            "formula of the epoch; read .lr for the rate now."
        )

    def _better(self, x: float) -> bool:
        if self.best is None:
            return True
        sign = 1.0 if self.mode == "min" else -1.0
        if self.threshold_mode == "rel":
            bar = self.best * (1.0 - sign * self.threshold)
        else:
            bar = self.best - sign * self.threshold
        return x < bar if self.mode == "min" else x > bar

    def step(self, value=None) -> float:
        """Count one epoch with figure ``value``; cut the rate if it is time."""
        if value is None:
            raise ConfigError(
                "ReduceLROnPlateau.step needs the monitored figure: "
                f"plateau.step({self.monitor}). fit passes it."
            )
        x = check_number("ReduceLROnPlateau", self.monitor, value, -math.inf)
        self.epoch += 1
        if self._better(x):
            self.best, self.bad = x, 0
        else:
            self.bad += 1
        if self.cooling > 0:
            self.cooling, self.bad = self.cooling - 1, 0
        if self.bad > self.patience:
            new = max(self.current * self.factor, self.min_lr)
            if self.current - new > self.eps:
                self.current = new
            self.cooling, self.bad = self.cooldown, 0
        self.optimizer.lr = self.current
        return self.current

    def epoch_end(self, logs: dict) -> None:
        if self.monitor not in logs:
            raise ConfigError(
                f"ReduceLROnPlateau: monitor={self.monitor!r} is not among this "
                f"run's figures {sorted(logs)}; pass validation data for val_ "
                "figures, or monitor one of these."
            )
        self.step(logs[self.monitor])

    def state_dict(self) -> dict:
        sd = super().state_dict()
        sd["settings"]["state"] = {"lr": self.current, "best": self.best,
                                   "bad": self.bad, "cooling": self.cooling}  # fmt: skip
        return sd

    def load_state_dict(self, sd: dict) -> None:
        where = "ReduceLROnPlateau.load_state_dict"
        try:
            state = sd["settings"]["state"]
            lr, best = float(state["lr"]), state["best"]
            best = None if best is None else float(best)
            bad, cooling = state["bad"], state["cooling"]
        except (KeyError, TypeError, ValueError):
            raise FormatError(
                f"{where}: settings.state must hold lr, best, bad and cooling."
            ) from None
        if not (is_count(bad) and is_count(cooling)) or not math.isfinite(lr) or lr < 0:
            raise FormatError(f"{where}: bad counters or rate in {state!r}.")
        own = dict(
            sd, settings={k: v for k, v in sd["settings"].items() if k != "state"}
        )
        super().load_state_dict(own)  # checks the rest; changes nothing if it fails
        self.current, self.best, self.bad, self.cooling = (
            lr,
            best,
            int(bad),
            int(cooling),
        )
        self.optimizer.lr = lr
