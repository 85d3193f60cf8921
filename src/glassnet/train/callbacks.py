"""Callbacks: code that runs at the beginning and end of training, epochs and batches.

A callback subclasses :class:`Callback` and overrides the hooks it needs.
Each hook receives the :class:`TrainState`, which holds the model, the
optimizer, the history so far, the current epoch and batch, and a ``stop``
flag a callback can set to end training after the current epoch. ``fit`` sets
``start_loss`` (the loss of its starting weights) and ``failed`` (training
ends with an error; nothing more should be saved).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_positive
from ..errors import ConfigError, DivergedError


@dataclass
class TrainState:
    """What the training loop knows, shared with every callback."""

    model: object
    optimizer: object
    history: object
    epochs: int
    batches_per_epoch: int
    epoch: int = 0
    batch: int = 0
    stop: bool = False
    logs: dict = field(default_factory=dict)
    start_loss: float | None = None
    failed: bool = False


def _lr_hint(optimizer) -> str:
    lr = getattr(optimizer, "lr", None)
    return f" (now {lr:g})" if isinstance(lr, (int, float)) else ""


def check_weights(state: TrainState, where: str) -> None:
    """DivergedError if any weight of the model is NaN or infinite.

    ``fit`` calls it after training and :class:`~glassnet.train.Checkpoint`
    before every save, so neither a returned model nor a checkpoint holds them.
    """
    params = state.model.named_parameters()
    bad = [n for n, p in params if not np.isfinite(p.data).all()]
    if bad:
        more = " ..." if len(bad) > 5 else ""
        raise DivergedError(
            f"{where}, parameters {bad[:5]}{more} hold NaN or infinity: training "
            f"diverged; try a smaller learning rate{_lr_hint(state.optimizer)}."
        )


class Callback:
    """Base class: every hook does nothing until overridden."""

    def on_train_begin(self, state: TrainState) -> None: ...
    def on_epoch_begin(self, state: TrainState) -> None: ...
    def on_batch_end(self, state: TrainState, loss: float) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState) -> None: ...


class StopOnNaN(Callback):
    """Stop at the first batch whose loss is NaN or infinite, keeping finite weights.

    The weights are copied at the start of every epoch. When the loss stops
    being finite, the current weights are kept if they are all finite (they
    are the last good ones); otherwise the epoch-start copy is put back.
    Then :class:`~glassnet.errors.DivergedError` is raised, naming the epoch
    and batch and suggesting a smaller learning rate.

    ``fit`` adds a :class:`StopOnDivergence` (which does all this and more)
    unless its ``callbacks`` hold one of these two; pass ``StopOnNaN()`` to
    keep only the NaN check.
    """

    def on_train_begin(self, state):
        self._saved = None

    def on_epoch_begin(self, state):
        self._snapshot(state)

    def _snapshot(self, state):
        self._saved = {n: p.data.copy() for n, p in state.model.named_parameters()}
        self._saved_epoch = state.epoch

    def restore(self, state, always: bool = False) -> str | None:
        """Put back the saved weights if ``always`` or if the current ones are not
        all finite; say so in words, or return None if nothing was put back."""
        params = dict(state.model.named_parameters())
        if self._saved is None or (
            not always and all(np.isfinite(p.data).all() for p in params.values())
        ):
            return None
        for name, p in params.items():
            p.data = self._saved[name].copy()
        return (
            f"the weights from the start of epoch {self._saved_epoch + 1} were restored"
        )

    def _raise(self, state, what: str, always: bool) -> None:
        kept = self.restore(state, always) or "the model keeps its last finite weights"
        raise DivergedError(
            f"fit: {what} at epoch {state.epoch + 1}, batch {state.batch + 1}; "
            f"{kept}. Training diverged; try a smaller learning rate"
            f"{_lr_hint(state.optimizer)}, "
            "standardised inputs, or gradient clipping (clip_norm=...)."
        )

    def on_batch_end(self, state, loss):
        if not math.isfinite(loss):
            self._raise(state, f"the loss became {loss}", always=False)


class StopOnDivergence(StopOnNaN):
    """Stop when the loss explodes or stays far above where it started.

    The rule: training has diverged when, in **more than half of the last
    ``patience`` batches, the loss was above ``factor`` times the starting
    loss** (that is, their median is above it), and, as in
    :class:`StopOnNaN`, as soon as a batch's loss is NaN or infinite. The
    starting loss is that of the weights ``fit`` began with, before the first
    step: the mean loss of training-size batches spread over the data, 256
    samples in all or one batch if larger (``TrainState.start_loss``);
    without it, the first batch's loss. A few unlucky batches do not trip it,
    so noisy small-batch training goes on, while a loss that explodes trips
    it within ``patience // 2 + 1`` batches and one that stays far above its
    start within ``patience``. The check is off when the starting loss is not
    a positive finite number (a loss that can be negative).

    On a stop the weights from the start of the last epoch that began
    with none of the last ``patience`` losses too high are put back, and
    :class:`~glassnet.errors.DivergedError` says "diverged; try a smaller
    learning rate (now ...)".

    ``fit`` adds ``StopOnDivergence()`` by default. Pass your own in
    ``callbacks`` to tune it, or ``StopOnNaN()`` to switch the loss-size rule
    off and keep only the NaN check.

    Parameters
    ----------
    factor : float, default 10
        How many times its start the loss may grow. Cross-entropy over C
        classes starts near ln C (2.3 for 10), so 10 allows about 23.
    patience : int, default 10
        How many recent batches are looked at.

    Examples
    --------
    >>> from glassnet.train import StopOnDivergence
    >>> StopOnDivergence(factor=100, patience=20)
    StopOnDivergence(factor=100, patience=20)
    """

    def __init__(self, factor: float = 10.0, patience: int = 10):
        check_positive("StopOnDivergence", "factor", factor)
        if not factor > 1:
            raise ConfigError(
                f"StopOnDivergence: factor must be above 1; got {factor!r}."
            )
        check_positive("StopOnDivergence", "patience", patience, integer=True)
        self.factor, self.patience = float(factor), int(patience)

    def __repr__(self) -> str:
        return f"StopOnDivergence(factor={self.factor:g}, patience={self.patience})"

    def on_train_begin(self, state):
        super().on_train_begin(state)
        self._above = deque(maxlen=self.patience)  # was each recent loss too high?
        self._count = 0  # how many of them were
        self._set_start(getattr(state, "start_loss", None))

    def _set_start(self, start) -> None:
        self._start = start
        self._limit = -math.inf  # no rule: every batch takes the slow path, which
        if start is not None and 0 < start < math.inf:  # checks NaN only
            self._limit = self.factor * start

    def on_epoch_begin(self, state):
        if self._count == 0:  # no recent loss too high: weights worth going back to
            self._snapshot(state)

    def on_batch_end(self, state, loss):
        if self._count == 0 and -math.inf < loss <= self._limit:
            return  # the usual case: finite, not too high, nothing counted
        super().on_batch_end(state, loss)
        if self._start is None:
            self._set_start(loss)
        if self._limit == -math.inf:
            return
        if len(self._above) == self.patience:
            self._count -= self._above[0]
        above = loss > self._limit
        self._above.append(above)
        self._count += above
        if 2 * self._count > self.patience:
            self._raise(
                state,
                f"the loss was above {self.factor:g} x its start "
                f"({self._start:.3g}) in {self._count} of the last "
                f"{len(self._above)} batches (now {loss:.3g})",
                always=True,
            )


class EarlyStopping(Callback):
    """Stop when a monitored figure stops improving, or once it reaches a target.

    Parameters
    ----------
    monitor : str
        A key of the history, e.g. ``'val_loss'`` (default), ``'accuracy'``.
    patience : int
        Epochs without improvement to wait before stopping.
    min_delta : float
        The smallest change that counts as an improvement.
    mode : {'auto', 'min', 'max'}
        Whether smaller or larger is better; 'auto' takes 'max' for names
        containing 'acc' and 'min' otherwise.
    target : float, optional
        Stop as soon as the figure is at least this good, e.g. ``0.99`` for
        "stop at 99 % correct".
    restore_best_weights : bool
        At the end, put back the weights of the best epoch (default True).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        target: float | None = None,
        restore_best_weights: bool = True,
    ):
        check_positive("EarlyStopping", "patience", patience, integer=True)
        if mode not in ("auto", "min", "max"):
            raise ConfigError(
                f"EarlyStopping: mode must be 'auto', 'min' or 'max'; got {mode!r}."
            )
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.patience, self.min_delta = (
            monitor,
            int(patience),
            float(min_delta),
        )
        self.mode, self.target, self.restore_best_weights = (
            mode,
            target,
            restore_best_weights,
        )
        self.stopped_epoch = None
        self.best_epoch = None

    def _better(self, value, than) -> bool:
        if self.mode == "min":
            return value < than - self.min_delta
        return value > than + self.min_delta

    def on_train_begin(self, state):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait, self.best_weights, self.best_epoch, self.stopped_epoch = (
            0,
            None,
            None,
            None,
        )

    def on_epoch_end(self, state):
        if self.monitor not in state.logs:
            known = ", ".join(state.logs)
            raise ConfigError(
                f"EarlyStopping: no figure called {self.monitor!r} this epoch; "
                f"the history has: {known}. (val_* figures need validation data.)"
            )
        value = state.logs[self.monitor]
        if self._better(value, self.best):
            self.best, self.wait, self.best_epoch = value, 0, state.epoch
            if self.restore_best_weights:
                self.best_weights = state.model.state_dict()
        else:
            self.wait += 1
        reached = self.target is not None and (
            value >= self.target if self.mode == "max" else value <= self.target
        )
        if reached or self.wait >= self.patience:
            state.stop = True
            self.stopped_epoch = state.epoch

    def on_train_end(self, state):
        if self.restore_best_weights and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)


from .progress import Progress  # noqa: E402, F401  (after Callback: progress.py imports it)
