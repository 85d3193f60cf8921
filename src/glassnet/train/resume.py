"""Checkpoints during training, and resuming from one exactly.

``fit(..., checkpoint="run.ckpt")`` adds a :class:`Checkpoint` callback that
saves the run every epoch (``checkpoint_every=N``: every N epochs) and at
the end; ``Checkpoint(path, every_steps=100)`` also saves between epochs.
``fit(..., resume_from="run.ckpt")`` puts everything back and continues.

What a checkpoint holds, and why each is needed for an exact resume:

- the weights, and the optimizer's memory (momentum, Adam's averages and
  step counts) — the next step depends on both;
- the shuffling generator's state *at the start of the current epoch*, and
  how many of that epoch's batches are done: resuming draws the same order
  again and skips the finished batches;
- the running sums of the current epoch's loss and metrics, the History,
  and the learning-rate schedule — so the figures come out the same too;
- the number of samples, the batch size, shuffle and the metric names, to
  refuse a resume on different data or settings.

A run killed at any moment (even with SIGKILL, even while a checkpoint is
being written: writes are atomic) and resumed from its last checkpoint ends
with bit-for-bit the same weights and History as a run never interrupted,
on the same machine with the same thread settings. Not saved: the state of
other callbacks (EarlyStopping's patience counter starts again).

The file's layout, the ``training`` section included, belongs to
:mod:`glassnet.io.checkpoint`; this module takes it from a running ``fit``
and puts it back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .._validate import check_positive
from ..errors import ConfigError, FormatError, GlassnetError
from .callbacks import Callback, check_weights


@dataclass
class RunState:
    """What a checkpoint needs beyond the TrainState; ``fit`` keeps it in ``state.run``.

    ``sums`` and ``seen`` are the running totals of the epoch in progress
    (loss and metrics, each multiplied by its batch size, and the samples).
    """

    rng: np.random.Generator
    schedule: object = None
    fingerprint: dict = field(default_factory=dict)
    sums: dict = field(default_factory=dict)
    seen: int = 0


class Position(NamedTuple):
    """Where a resumed run continues: skip ``batch`` batches of ``epoch``."""

    epoch: int
    batch: int
    sums: dict
    seen: int


class Checkpoint(Callback):
    """Save the whole training run to ``path``, atomically, as training goes.

    Parameters
    ----------
    path : str or PathLike
        The checkpoint file; each save replaces it (the old one stays intact
        until the new one is complete).
    every_epochs : int or None, default 1
        Save after every this many epochs.
    every_steps : int or None, default None
        Also save after every this many optimizer steps, counted across epochs.

    A final save happens when training ends normally (after the last epoch,
    or when a callback stops it). When training stops with an error (a
    diverged loss, Ctrl-C), nothing more is written: the last checkpoint is
    the last good state. Before every save the weights are checked to be
    finite: a step whose loss was finite but whose update overflowed a
    weight raises :class:`~glassnet.errors.DivergedError` instead of being
    saved.

    Examples
    --------
    >>> from glassnet.train import Checkpoint
    >>> Checkpoint("run.ckpt", every_steps=100)
    Checkpoint('run.ckpt', every_epochs=1, every_steps=100)
    """

    def __init__(
        self, path, every_epochs: int | None = 1, every_steps: int | None = None
    ):
        if every_epochs is not None:
            check_positive("Checkpoint", "every_epochs", every_epochs, integer=True)
        if every_steps is not None:
            check_positive("Checkpoint", "every_steps", every_steps, integer=True)
        self.path = os.fspath(path)
        self.every_epochs, self.every_steps = every_epochs, every_steps
        self.saves = 0

    def __repr__(self) -> str:
        return (
            f"Checkpoint({self.path!r}, every_epochs={self.every_epochs}, "
            f"every_steps={self.every_steps})"
        )

    def on_train_begin(self, state):
        if getattr(state, "run", None) is None:
            raise ConfigError(
                "Checkpoint works inside glassnet.fit, which gives it the "
                "run's random generator and running sums."
            )
        self._saved_at = None
        self._epoch_done = False

    def on_epoch_begin(self, state):
        self._epoch_rng = state.run.rng.bit_generator.state
        self._epoch_done = False

    def on_batch_end(self, state, loss):
        step = state.epoch * state.batches_per_epoch + state.batch + 1
        if self.every_steps and step % self.every_steps == 0:
            self._save(state, state.epoch, state.batch + 1)

    def on_epoch_end(self, state):
        self._epoch_done = True
        if self.every_epochs and (state.epoch + 1) % self.every_epochs == 0:
            self._save(state, state.epoch + 1, 0)

    def on_train_end(self, state):
        if getattr(state, "failed", False):
            return
        if self._epoch_done and self._saved_at != (state.epoch + 1, 0):
            self._save(state, state.epoch + 1, 0)

    def _save(self, state, epoch: int, batch: int) -> None:
        from ..io.checkpoint import save_checkpoint, training_section

        check_weights(
            state,
            f"fit: the checkpoint {self.path!r} was not written (an earlier one "
            f"stays the last good state) because after epoch {state.epoch + 1}, "
            f"batch {state.batch + 1}",
        )
        run = state.run
        mid_epoch = batch > 0
        training = training_section(
            epoch=epoch,
            batch=batch,
            rng=self._epoch_rng if mid_epoch else run.rng.bit_generator.state,
            sums=run.sums if mid_epoch else {},
            seen=run.seen if mid_epoch else 0,
            epochs=state.history.epochs,
            values=state.history.history,
            schedule=None if run.schedule is None else run.schedule.state_dict(),
            run=run.fingerprint,
        )
        save_checkpoint(self.path, state.model, state.optimizer, training)
        self._saved_at = (epoch, batch)
        self.saves += 1


def resume(path, state) -> Position:
    """Restore model, optimizer, schedule, History and generator from ``path``
    into ``state`` (a TrainState with ``run``); return where to continue."""
    from ..io.checkpoint import load_checkpoint, read_training
    from ..io.registry import describe

    where = f"resume_from={os.fspath(path)!r}"
    data = load_checkpoint(path)
    if (
        describe(data.model) != describe(state.model)
        or data.model.dtype != state.model.dtype
    ):
        raise ConfigError(
            f"{where}: the checkpoint holds a different model:\n{data.model}\n"
            f"but fit was given:\n{state.model}"
        )
    if data.optimizer is None:
        raise FormatError(f"{where}: the checkpoint holds no optimizer state.")
    t = read_training(where, data.training)
    run = state.run
    if t["run"] != run.fingerprint:
        changed = sorted(
            k
            for k in set(t["run"]) | set(run.fingerprint)
            if t["run"].get(k) != run.fingerprint.get(k)
        )
        detail = ", ".join(
            f"{k} {t['run'].get(k)!r} then, {run.fingerprint.get(k)!r} now"
            for k in changed
        )
        raise ConfigError(
            f"{where}: the run was checkpointed with other data or settings "
            f"({detail}); resume with the same ones."
        )
    if t["batch"] and set(t["sums"]) != {"loss", *run.fingerprint.get("metrics", ())}:
        raise FormatError(
            f"{where}: the running sums {sorted(t['sums'])} do not match "
            "the loss and metrics."
        )
    if (t["schedule"] is None) != (run.schedule is None):
        raise ConfigError(
            f"{where}: the checkpoint was made "
            f"{'without' if t['schedule'] is None else 'with'} an lr_schedule; "
            "resume the same way."
        )
    try:
        state.optimizer.load_state_dict(data.optimizer)
        if run.schedule is not None:
            run.schedule.load_state_dict(t["schedule"])
        run.rng.bit_generator.state = t["rng"]
    except (GlassnetError, TypeError, ValueError, KeyError) as e:
        raise FormatError(f"{where}: {e}") from None
    state.model.load_state_dict(data.model.state_dict())
    history = state.history
    history.epochs = list(t["history"]["epochs"])
    history.history = t["history"]["values"]
    return Position(t["epoch"], t["batch"], t["sums"], t["seen"])


def checkpoint_callback(checkpoint, every) -> Checkpoint | None:
    """The Checkpoint that ``fit(checkpoint=..., checkpoint_every=...)`` asks for."""
    if checkpoint is None:
        if every is not None:
            raise ConfigError("fit: checkpoint_every needs checkpoint=PATH.")
        return None
    if isinstance(checkpoint, Checkpoint):
        if every is not None:
            raise ConfigError(
                "fit: set the interval on the Checkpoint object, not with "
                "checkpoint_every."
            )
        return checkpoint
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise ConfigError(
            f"fit: checkpoint must be a path or a Checkpoint; got "
            f"{type(checkpoint).__name__}."
        )
    return Checkpoint(checkpoint, every_epochs=1 if every is None else every)
