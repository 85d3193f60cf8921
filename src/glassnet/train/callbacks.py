"""Callbacks: code that runs at the beginning and end of training, epochs and batches.

A callback subclasses :class:`Callback` and overrides the hooks it needs.
Each hook receives the :class:`TrainState`, which holds the model, the
optimizer, the history so far, the current epoch and batch, and a ``stop``
flag a callback can set to end training after the current epoch.
"""

from __future__ import annotations

import math
import sys
import time
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
    """

    def on_epoch_begin(self, state):
        self._saved = {n: p.data.copy() for n, p in state.model.named_parameters()}

    def on_batch_end(self, state, loss):
        if math.isfinite(loss):
            return
        params = dict(state.model.named_parameters())
        restored = not all(np.isfinite(p.data).all() for p in params.values())
        if restored:
            for name, p in params.items():
                p.data = self._saved[name]
        lr = getattr(state.optimizer, "lr", None)
        hint = f" (now {lr:g})" if isinstance(lr, (int, float)) else ""
        kept = ("the weights from the start of that epoch were restored" if restored
                else "the model keeps its last finite weights")
        raise DivergedError(
            f"fit: the loss became {loss} at epoch {state.epoch + 1}, batch "
            f"{state.batch + 1}; {kept}. Try a smaller learning rate{hint}, "
            "standardised inputs, or gradient clipping (clip_norm=...)."
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

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", target: float | None = None,
                 restore_best_weights: bool = True):
        check_positive("EarlyStopping", "patience", patience, integer=True)
        if mode not in ("auto", "min", "max"):
            raise ConfigError(f"EarlyStopping: mode must be 'auto', 'min' or 'max'; got {mode!r}.")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode, self.target, self.restore_best_weights = mode, target, restore_best_weights
        self.stopped_epoch = None
        self.best_epoch = None

    def _better(self, value, than) -> bool:
        if self.mode == "min":
            return value < than - self.min_delta
        return value > than + self.min_delta

    def on_train_begin(self, state):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait, self.best_weights, self.best_epoch, self.stopped_epoch = 0, None, None, None

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
            value >= self.target if self.mode == "max" else value <= self.target)
        if reached or self.wait >= self.patience:
            state.stop = True
            self.stopped_epoch = state.epoch

    def on_train_end(self, state):
        if self.restore_best_weights and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)


from .progress import Progress  # noqa: F401  (the display: progress.py)
