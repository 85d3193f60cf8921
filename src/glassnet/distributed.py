"""Data-parallel training on MPI: ``fit(..., distributed="mpi")``.

Run the same program on K processes (ranks), e.g.
``mpiexec -n 2 glassnet train examples/digits.toml --distributed mpi``.
Every rank holds the whole model; every global batch is split between them::

    rank r of p takes rows [B*r//p, B*(r+1)//p) of each batch of B samples
    g_r  = d(mean loss over its rows)/d(weights)          (its n_r rows)
    g    = (1/B) * sum over r of n_r * g_r                 (one Allreduce)
         = d(mean loss over the whole batch)/d(weights)

so every rank applies the same update to the same weights, and the run is
the one-process run with the same global batch, up to float32 rounding: the
sum over a batch's samples inside each layer's gradient (a matrix product
over the batch axis) is taken in two parts, one per rank, then added — a
different order of the same additions.

What each rank does:

- before the first step, rank 0's weights and shuffling generator are
  broadcast (so even unseeded models start equal);
- each step: forward and backward on its share, then one ``Allreduce`` (sum)
  over a flat buffer holding ``n_r * g_r`` for every parameter, followed by
  ``n_r * loss_r`` and ``n_r * metric_r``; the loss and metrics every rank
  records are therefore those of the whole batch, and a NaN anywhere stops
  every rank at the same batch;
- rank 0 alone prints progress and writes checkpoints (and, in
  ``glassnet train``, the model file); a resume reads the checkpoint on every
  rank, so it must be on a disk every rank can read, like the data.

A rank that raises while the others wait in ``Allreduce`` would leave them
waiting for ever; :func:`abort_on_failure` (used by ``glassnet train
--distributed mpi``) prints the error with the rank and calls
``MPI_Abort``, which stops every rank. In your own script, run it as
``mpiexec -n K python -m mpi4py script.py``: mpi4py then aborts the job on an
exception that reaches the top of any rank.

Needs ``pip install 'glassnet[mpi]'`` (mpi4py, and mpich for ``mpiexec``).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from .errors import ConfigError, GlassnetError

_ABORT_GRACE = 0.5  # seconds between the error message and MPI_Abort


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(
            "distributed='mpi' needs mpi4py and an MPI runtime: "
            "pip install 'glassnet[mpi]'"
        ) from None
    return MPI


def communicator(distributed="mpi"):
    """The MPI communicator ``fit(distributed=...)`` means: ``"mpi"`` is
    ``MPI.COMM_WORLD``; an mpi4py communicator is used as it is."""
    if isinstance(distributed, str):
        if distributed.lower() != "mpi":
            raise ConfigError(
                f"fit: distributed must be 'mpi' or an mpi4py communicator; "
                f"got {distributed!r}."
            )
        return _mpi().COMM_WORLD
    if not all(hasattr(distributed, a) for a in ("Allreduce", "Bcast", "Get_rank")):
        raise ConfigError(
            f"fit: distributed must be 'mpi' or an mpi4py communicator; got "
            f"{type(distributed).__name__}."
        )
    return distributed


def data_parallel(distributed, capture: bool = False):
    """The :class:`DataParallel` helper ``fit`` uses, or None when not distributed."""
    if distributed is None:
        return None
    if capture:
        raise ConfigError(
            "fit: capture=True and distributed cannot be combined: a captured step "
            "has no point between backward and the update for the gradient "
            "Allreduce. Drop one of them."
        )
    return DataParallel(communicator(distributed))


def rank(distributed="mpi") -> int:
    """This process's rank (0 on the rank that logs and saves)."""
    return communicator(distributed).Get_rank()


class DataParallel:
    """One training run split across the ranks of ``comm`` (see the module text).

    ``fit`` asks it whether this rank logs (``rank == 0``) and for the step
    function that replaces the eager five lines (:meth:`step`).
    """

    def __init__(self, comm):
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()

    def step(self, model, loss_fn, optimizer, metric_fns, clip_norm, rng):
        """Broadcast rank 0's weights and generator; return the step function."""
        params = model.parameters()
        for p in params:  # contiguous, so Bcast sends the array itself
            p.data = np.ascontiguousarray(p.data)
            self.comm.Bcast(p.data, root=0)
        rng.bit_generator.state = self.comm.bcast(rng.bit_generator.state, root=0)
        return _Step(self, model, loss_fn, optimizer, metric_fns, clip_norm)


class _Step:
    """``value = step(xb, yb)`` on the global batch; ``step.scores`` holds the
    batch's metrics (means over the whole batch, like ``value``)."""

    output = None  # the outputs stay on their ranks; scores replace them

    def __init__(self, dp, model, loss_fn, optimizer, metric_fns, clip_norm):
        self.dp, self.model, self.loss_fn = dp, model, loss_fn
        self.optimizer, self.metric_fns, self.clip_norm = (
            optimizer,
            metric_fns,
            clip_norm,
        )
        self.params = model.parameters()
        sizes = [p.data.size for p in self.params]
        self.buffer = np.zeros(sum(sizes) + 1 + len(metric_fns), model.dtype)
        ends = np.cumsum(sizes)
        self.views = [
            self.buffer[end - size : end].reshape(p.data.shape)
            for p, size, end in zip(self.params, sizes, ends)
        ]
        self.scores = {}

    def __call__(self, xb, yb) -> float:
        from .optim import clip_grad_norm

        dp, buf = self.dp, self.buffer
        total = len(xb)
        lo, hi = total * dp.rank // dp.size, total * (dp.rank + 1) // dp.size
        xs, ys, n = xb[lo:hi], yb[lo:hi], hi - lo
        self.optimizer.zero_grad()
        buf[:] = 0
        used = [True] * len(self.params)
        tail = buf[len(buf) - 1 - len(self.metric_fns) :]
        if n:  # a batch smaller than the number of ranks leaves some with none
            prediction = self.model(xs)
            loss = self.loss_fn(prediction, ys)
            loss.backward()
            used = [p.grad is not None for p in self.params]
            for p, view, u in zip(self.params, self.views, used):
                if u:
                    np.multiply(p.grad, n, out=view)
            tail[0] = float(loss.data) * n
            for i, fn in enumerate(self.metric_fns.values()):
                tail[1 + i] = fn(ys, prediction.data) * n
        dp.comm.Allreduce(_in_place(), buf)
        buf /= total
        for p, view, u in zip(self.params, self.views, used):
            p.grad = view if u else None
        if self.clip_norm is not None:
            clip_grad_norm(self.params, self.clip_norm)
        self.optimizer.step()
        self.scores = {
            name: float(tail[1 + i]) for i, name in enumerate(self.metric_fns)
        }
        return float(tail[0])


def _in_place():
    return _mpi().IN_PLACE


def abort_on_failure(fn, *args, comm=None):
    """``fn(*args)``; if it raises on one rank of several, print the error with
    the rank on stderr and stop every rank with ``MPI_Abort`` (exit status 1)
    instead of leaving the others waiting in a collective for ever."""
    comm = communicator("mpi") if comm is None else comm
    try:
        return fn(*args)
    except BaseException as e:
        if comm.Get_size() == 1 or isinstance(e, SystemExit) and not e.code:
            raise
        text = " ".join(str(e).split()) or type(e).__name__
        kind = "" if isinstance(e, GlassnetError) else f"{type(e).__name__}: "
        print(
            f"glassnet: error on rank {comm.Get_rank()} of {comm.Get_size()}: "
            f"{kind}{text}; stopping all ranks",
            file=sys.stderr,
            flush=True,
        )
        # mpiexec forwards a rank's stderr through a pipe and may act on the
        # abort before it has read the line above (it was lost in about one
        # run in seven); a moment's wait lets the message reach the user.
        time.sleep(_ABORT_GRACE)
        comm.Abort(1)
        os._exit(1)  # MPI_Abort should not return; never carry on if it does
