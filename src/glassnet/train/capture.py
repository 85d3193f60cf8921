"""A captured training step: one eager step recorded, then replayed on its buffers.

For a small model most of an eager step is bookkeeping (Tensors, closures,
sorting the graph, allocating every intermediate), not arithmetic. So, as
tinygrad's TinyJit does, the first call for a batch shape runs the eager step
(forward, loss, backward) inside :func:`glassnet.kernels.recording`, which
writes down every kernel call; later calls run the recorded calls again on
the new batch, each writing its results into the arrays the recording
returned (the kernels' ``outs``). The calls are the
eager ops' own, so the numbers are the eager loop's, bit for bit; calls that
read only constants (d(mean)/d(loss) = 1/M) are not repeated. The weights
move in one update for all (:mod:`glassnet.train.flat`). For float32 models
the recording is also translated into one program of compiled C
(:mod:`glassnet.kernels._step`, ``step.c``), equal to float32 rounding.

Examples
--------
>>> import numpy as np, glassnet as gn
>>> from glassnet import nn, losses, optim
>>> model = nn.Sequential(nn.Dense(4, 8), nn.Sigmoid(), nn.Dense(8, 3), seed=0)
>>> step = gn.train.capture_step(model, losses.CrossEntropy(), optim.SGD(model, lr=0.1))
>>> X = np.ones((5, 4), np.float32); y = np.array([0, 1, 2, 1, 0])
>>> round(step(X, y), 4)  # one training step; the loss before it, as a float
1.2336
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .. import losses as losses_mod
from .._validate import shape_str
from ..errors import ConfigError, ShapeError
from ..kernels._step import program as step_program
from ..nn.activations import Identity, ReLU, Sigmoid, Tanh
from ..nn.dense import Dense
from ..nn.module import Module, Sequential
from ..ops.loss import _labels
from ..optim.base import Optimizer
from ..tensor import Tensor
from .flat import FlatParameters

__all__ = ["capture_step", "CapturedStep"]

_LAYERS = (Dense, Sigmoid, Tanh, ReLU, Identity)  # whose ops only call kernels


def _root(a) -> int:
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return id(a)


class _Replay:
    """The recorded calls of one batch shape, rewired onto the step's buffers."""

    def __init__(self, flat: FlatParameters, tape: list, x, labels):
        self.x, self.labels, self.tape, self.run = x, labels, tape, None
        live = {_root(flat.flat.data), id(x), id(labels)}  # what changes per step
        grads = {id(p.grad): g for p, g in zip(flat.params, flat.grads)}
        self.calls, self.feeds = [], []
        for call in tape:
            arrays = call.bound.arguments.values()
            if not any(_root(a) in live for a in arrays if isinstance(a, np.ndarray)):
                continue  # reads only constants: its result, computed once, is kept
            results = call.result if isinstance(call.result, tuple) else (call.result,)
            if len(call.kernel.outs) != len(results):
                raise ConfigError(
                    f"capture_step: kernel {call.kernel.name!r} names "
                    "no result buffers (outs), so it cannot be replayed."
                )
            arguments = call.bound.arguments
            for name, r in zip(call.kernel.outs, results):
                if r is not None and id(r) in grads:  # a gradient: into the flat one
                    np.copyto(grads[id(r)], r)
                    r = grads.pop(id(r))
                arguments[name] = r  # None: a result not asked for, as recorded
                live.add(_root(r))
            if call.kernel.scratch is not None:
                arguments.update(call.kernel.scratch(arguments))
            args = list(call.bound.args)
            for i, a in enumerate(args):  # the batch itself is passed in, not copied
                if a is x or isinstance(a, np.ndarray) and _root(a) == id(labels):
                    self.feeds.append((args, i, a is x))
            self.calls.append((call.fn, args, call.bound.kwargs))
        if grads:
            raise ConfigError(
                "capture_step: a parameter's gradient is not one kernel's "
                "result; train this model with the eager loop."
            )
        named = {call.kernel.name: call.bound.arguments for call in tape}
        self.output, self.loss = named["cross_entropy"]["z"], named["mean"]["out"]
        self.classes = self.output.shape[-1]

    def __call__(self, x, labels) -> float:
        for args, i, is_x in self.feeds:
            args[i] = x if is_x else labels
        for fn, args, kwargs in self.calls:
            fn(*args, **kwargs)
        return float(self.loss)

    def compile(self, run) -> None:
        """Set ``self.run``: the same calls as one ``gn_step_run`` call (step.c)."""
        self.records = step_program(self.tape, self.labels)
        if self.records is not None:
            self.native_loss = np.zeros(1, np.float64)
            args = (self.records.ctypes.data, len(self.records),
                    self.native_loss.ctypes.data)  # fmt: skip
            self.run = lambda: run(*args)


class CapturedStep:
    """A training step (forward, loss, backward, update), replayed on fixed buffers.

    ``loss = step(x, y)`` does the eager loop's forward, loss, zero_grad,
    backward and optimizer step with the eager step's own kernel calls, on
    buffers allocated once per batch shape, with no graph.

    Parameters
    ----------
    model : Sequential of Dense, Sigmoid, Tanh, ReLU, Identity (or one Dense)
    loss_fn : losses.CrossEntropy, with integer class labels
    optimizer : Optimizer holding the model's parameters
        SGD, Adam and AdamW update all parameters in one call; any other
        optimizer runs its own ``step()``.
    native : None, True or False
        ``False``: the NumPy replay, bit for bit the eager loop's numbers.
        ``None`` (default): for float32 models, one call into the compiled
        step when it builds here (``step.native`` says), else the NumPy
        replay; it agrees with the eager loop to float32 rounding (exp, log
        and the order of additions differ). ``True``: compiled or a ConfigError.

    Notes
    -----
    The first call for a batch shape is the eager step itself. Parameters'
    ``data`` (and the optimizer's state arrays) become views into one flat
    array each; replacing one (``load_state_dict``) is noticed and the step
    recorded again. ``p.grad`` holds the last step's gradient in a buffer the
    next step overwrites. Forward hooks (``inspect.trace``) see only the first.

    Raises
    ------
    ConfigError
        For a model, loss or optimizer it cannot capture, naming what and why.
    """

    def __init__(self, model, loss_fn, optimizer, native=None):
        where = "capture_step"
        if native not in (None, True, False):
            raise ConfigError(
                f"{where}: native must be None (use compiled code when it "
                f"builds), True or False; got {native!r}."
            )
        if (
            type(loss_fn) is not losses_mod.CrossEntropy
            or repr(loss_fn) != "CrossEntropy()"  # no weights, ignored labels...
        ):
            raise ConfigError(
                f"{where}: the loss must be losses.CrossEntropy() with its defaults; "
                f"got {loss_fn!r}. Other losses train with the eager loop."
            )
        if not isinstance(optimizer, Optimizer) or not isinstance(model, Module):
            raise ConfigError(
                f"{where}: needs a glassnet Module and Optimizer; got "
                f"{type(model).__name__}, {type(optimizer).__name__}."
            )
        layers = list(model.layers) if type(model) is Sequential else [model]
        known = ", ".join(k.__name__ for k in _LAYERS)
        for i, layer in enumerate(layers):
            if type(layer) not in _LAYERS:
                raise ConfigError(
                    f"{where}: layer {i} is {type(layer).__name__}; a captured step "
                    f"handles Sequential models of {known}. Train this model with "
                    "the eager loop (the default)."
                )
        if len({id(layer) for layer in layers}) != len(layers):
            raise ConfigError(
                f"{where}: a layer appears twice in the model; its gradient "
                "would need summing over both uses. Use the eager loop."
            )
        if type(layers[0]) is not Dense:
            raise ConfigError(f"{where}: the model must start with a Dense layer.")
        self.model, self.loss_fn, self.where = model, loss_fn, repr(loss_fn)
        self.in_features = layers[0].in_features
        self.flat = FlatParameters(where, model, optimizer)
        self.dtype, self._replays, self._output = self.flat.dtype, {}, None
        f32 = self.dtype == np.float32
        self._lib = (
            kernels.native("gn_step_run") if f32 and native is not False else None
        )
        if self._lib is None and native:
            why = f"float32 only; the parameters are {self.dtype}" if not f32 else None
            raise ConfigError(
                f"capture_step(native=True): {why or kernels.why_not('step')}."
            )

    @property
    def native(self) -> bool:
        """True when the step runs as one compiled call (glassnet/_native/step.c)."""
        return self._lib is not None

    @property
    def output(self) -> np.ndarray | None:
        """The last batch's logits, before its update (the next call overwrites)."""
        return self._output

    def __call__(self, x, y) -> float:
        """One training step on the batch (x, y); returns its loss before the step."""
        x = x.data if isinstance(x, Tensor) else np.asarray(x)
        y = y.data if isinstance(y, Tensor) else np.asarray(y)
        if x.ndim != 2 or y.shape != x.shape[:1]:
            raise ShapeError(
                f"capture_step: expected inputs of shape (batch, features) and labels "
                f"of shape (batch,); got {shape_str(x.shape)} and {shape_str(y.shape)}."
            )
        if x.shape[1] != self.in_features:
            raise ShapeError(
                f"Dense(in_features={self.in_features}) expected input whose last axis "
                f"is {self.in_features}; got shape {shape_str(x.shape)}."
            )
        if not self.flat.bound():
            self.flat.bind()
            self._replays.clear()
        replay = self._replays.get(x.shape)
        if replay is None:
            return self._record(x, y)
        if replay.run is None:  # the NumPy replay, on the batch as given
            labels = _labels(self.where, y, replay.classes)
            loss = replay(x if x.dtype == self.dtype else x.astype(self.dtype), labels)
        else:
            if y.dtype.kind not in "iub":  # float labels must be whole numbers
                y = _labels(self.where, y, replay.classes)
            np.copyto(replay.x, x, casting="same_kind")
            np.copyto(replay.labels, y, casting="unsafe")  # as the eager op's astype
            bad = replay.run()  # the C code checks the range
            if bad >= 0:  # nothing was changed: say what the eager loop would say
                _labels(self.where, replay.labels, replay.classes)
            if bad != -1:
                raise RuntimeError(f"capture_step: the compiled step failed ({bad}).")
            loss = float(replay.native_loss[0])
        self.flat.update()
        self._output = replay.output
        return loss

    def _record(self, x, y) -> float:
        """The eager step, its kernel calls recorded on buffers kept for replays."""
        xb, labels, tape = np.empty(x.shape, self.dtype), np.empty(len(y), np.intp), []
        np.copyto(xb, x, casting="same_kind")
        for p in self.flat.params:
            p.grad = None
        with kernels.recording(tape):
            out = self.model(Tensor(xb))
            np.copyto(labels, _labels(self.where, y, out.shape[-1]))
            loss = self.loss_fn(out, labels)
            loss.backward()
        replay = self._replays[x.shape] = _Replay(self.flat, tape, xb, labels)
        if self._lib is not None:
            replay.compile(self._lib)
        self.flat.update()
        self._output = replay.output
        return float(loss.data)


def capture_step(model, loss_fn, optimizer, native=None) -> CapturedStep:
    """Record a training step of ``model``; return it as a fast, replayable
    function (a :class:`CapturedStep`, whose docstring says what it accepts)."""
    return CapturedStep(model, loss_fn, optimizer, native)
