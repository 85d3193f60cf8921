"""A captured training step: the eager step written down once, replayed on fixed buffers.

For a small model most of an eager training step is bookkeeping, not
arithmetic. W1 (64 -> 32 -> 10, batches of 32) does about 0.3 MFLOP a step,
which BLAS finishes in a few microseconds; the eager step around it makes a
dozen Tensors and closures, sorts the graph, allocates every intermediate
array and loops over the parameters one by one. ``capture_step`` records the
step's NumPy operations once per batch shape and then replays them:

- every intermediate array, gradient and scratch buffer is allocated once and
  written in place (``out=``) on every replay;
- there is no graph: the backward pass is the forward's list of layers,
  walked in reverse;
- the parameters (and the optimizer's state) are moved into one flat array
  each, so one ``update_one`` call moves every weight at once.

The replay does the *same* NumPy operations, in the same order, as the eager
ops of :mod:`glassnet.ops` (``linear``, ``sigmoid``, ``relu``, ``tanh``,
``cross_entropy``) and the optimizer's ``update_one``, so it produces the
same numbers as the eager loop: the tests check losses and weights bit for
bit over many steps. The eager path stays the default and the reference;
this is an opt-in fast path for the models it understands.

Even replayed, a small model's step is ~40 NumPy calls at ~1 µs each. So for
float32 models the step is, by default, also written down as a little
program (a list of operations and buffer addresses) that one call into
compiled C runs from start to end (``glassnet/_native/step.c``; its matrix
products call the BLAS NumPy uses). W1's step goes from ~65 µs to ~20 µs,
W2's from ~1.3 ms to ~1.2 ms (docs/benchmarks.md). That version agrees with
the eager loop to float32 rounding rather than bit for bit; ``native=False``
keeps the NumPy replay.

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
from ..errors import ConfigError, DataError, ShapeError
from ..kernels import _abi
from ..nn.activations import Identity, ReLU, Sigmoid, Tanh
from ..nn.dense import Dense
from ..nn.module import Module, Sequential, mark_trained
from ..ops.loss import _labels
from ..optim.base import Optimizer
from ..optim.gradient import SGD, Adam
from ..tensor import Tensor

__all__ = ["capture_step", "CapturedStep"]

_ELEMENTWISE_UPDATES = (SGD.update_one, Adam.update_one)


# --- one kernel per layer: the eager op's NumPy calls, into fixed buffers ---------------


class _DenseKernel:
    """kernels.linear and linear_backward, into fixed buffers."""

    def __init__(self, layer: Dense, batch: int, dtype, needs_dx: bool):
        self.w, self.b = layer.weight.data, (
            layer.bias.data if layer.bias is not None else None
        )
        self.z = np.empty((batch, layer.out_features), dtype)
        self.dx = np.empty((batch, layer.in_features), dtype) if needs_dx else None
        self.dw = self.db = None  # views into the flat gradient, set by CapturedStep

    def forward(self, x):
        self.x = x
        return kernels.linear_forward(x, self.w, self.b, out=self.z)

    def backward(self, g):
        kernels.linear_backward(
            g, self.x, self.w, bias=self.b is not None, need_dx=self.dx is not None,
            dx=self.dx, dw=self.dw, db=self.db,
        )  # fmt: skip
        return self.dx


class _SigmoidKernel:
    """kernels.sigmoid and sigmoid_backward, into fixed buffers."""

    def __init__(self, layer, batch, shape, dtype):
        self.s, self.z, self.d = (np.empty((batch, *shape), dtype) for _ in range(3))

    def forward(self, v):
        return kernels.sigmoid(v, out=self.s)

    def backward(self, g):
        return kernels.sigmoid_backward(g, self.s, out=self.d, work=self.z)


class _TanhKernel:
    """kernels.tanh and tanh_backward, into fixed buffers."""

    def __init__(self, layer, batch, shape, dtype):
        self.y, self.d = (np.empty((batch, *shape), dtype) for _ in range(2))

    def forward(self, v):
        return kernels.tanh(v, out=self.y)

    def backward(self, g):
        return kernels.tanh_backward(g, self.y, out=self.d)


class _ReLUKernel:
    """kernels.relu and relu_backward, into fixed buffers."""

    def __init__(self, layer, batch, shape, dtype):
        self.mask = np.empty((batch, *shape), bool)
        self.y, self.d = (np.empty((batch, *shape), dtype) for _ in range(2))

    def forward(self, v):
        return kernels.relu(v, out=self.y, mask=self.mask)[0]

    def backward(self, g):
        return kernels.relu_backward(g, self.mask, out=self.d)


class _IdentityKernel:
    def __init__(self, layer, batch, shape, dtype):
        pass

    def forward(self, v):
        return v

    def backward(self, g):
        return g


_ACTIVATIONS = {
    Sigmoid: _SigmoidKernel,
    Tanh: _TanhKernel,
    ReLU: _ReLUKernel,
    Identity: _IdentityKernel,
}


class _CrossEntropyKernel:
    """kernels.cross_entropy with class labels and the mean over the batch."""

    def __init__(self, batch: int, classes: int, dtype, where: str):
        self.where, self.classes = where, classes
        self.shift = np.empty((batch, 1), dtype)
        self.e = np.empty((batch, classes), dtype)
        self.picked, self.total, self.losses = (
            np.empty(batch, dtype) for _ in range(3)
        )
        self.dz = np.empty((batch, classes), dtype)
        self.factor = np.empty((batch, 1), dtype)
        # d(mean)/d(each loss) = 1/M, as ops.loss computes it from g = 1
        self.n = dtype.type(batch)
        self.de_dl = (np.ones((), dtype) / self.n).reshape(1, 1)

    def forward(self, z, target) -> float:
        labels = _labels(self.where, target, self.classes)
        losses, _, _, self.flat = kernels.cross_entropy(
            z, labels, self.losses, self.e, self.total, self.shift, self.picked
        )
        return np.add.reduce(losses, axis=None) / self.n

    def backward(self):
        return kernels.cross_entropy_backward(
            self.e, self.total, self.flat, self.de_dl, out=self.dz, factor=self.factor
        )


# --- the same step as one compiled call (glassnet/_native/step.c) -----------------

# Operation codes of step.c and the words of one record, from the C interface table.
_OP = _abi.OPCODES
_LINEAR_FWD, _CE, _LINEAR_BWD = (
    _OP["OP_LINEAR_FWD"], _OP["OP_CROSS_ENTROPY"], _OP["OP_LINEAR_BWD"]
)
_ACT_CODES = {  # (forward, backward)
    Sigmoid: (_OP["OP_SIGMOID_FWD"], _OP["OP_SIGMOID_BWD"]),
    Tanh: (_OP["OP_TANH_FWD"], _OP["OP_TANH_BWD"]),
    ReLU: (_OP["OP_RELU_FWD"], _OP["OP_RELU_BWD"]),
}
_RECORD = _abi.STEP_RECORD


def _step_library():
    """gn_step_run, typed from the interface table, or None."""
    return kernels.native("gn_step_run")


class _NativePlan:
    """The step for one batch shape, written as a program for ``gn_step_run``.

    Each record names an operation and the addresses of the float32 buffers
    it reads and writes; the buffers are NumPy arrays held here (and the
    parameters' and gradients' flat arrays held by the step), so the addresses
    stay valid while the plan lives. The input and label addresses change with
    every call and are written into their two slots first.
    """

    def __init__(self, step, batch: int, run):
        self.run = run  # gn_step_run
        dtype, records, keep = step.dtype, [], []
        grad_of = {id(p): g for p, g in zip(step.params, step.grads)}

        def buffer(*shape):
            a = np.zeros(shape, dtype)
            keep.append(a)
            return a.ctypes.data

        def record(op, addresses, sizes):
            records.append([op, *addresses, *[0] * (6 - len(addresses)),
                            *sizes, *[0] * (5 - len(sizes))])

        # The batch is copied into these two buffers, whose addresses never change.
        self.x = np.zeros((batch, step.layers[0].in_features), dtype)
        self.labels = np.zeros(batch, np.intp)
        backward, h, width = [], self.x.ctypes.data, None
        for layer in step.layers:
            if type(layer) is Dense:
                w = layer.weight.data.ctypes.data
                b = layer.bias.data.ctypes.data if layer.bias is not None else 0
                dw = grad_of[id(layer.weight)].ctypes.data
                db = grad_of[id(layer.bias)].ctypes.data if layer.bias is not None else 0
                n_in, n_out = layer.in_features, layer.out_features
                z = buffer(batch, n_out)
                dx = 0 if h == self.x.ctypes.data else buffer(batch, n_in)  # none for x
                record(_LINEAR_FWD, [h, w, b, z], [batch, n_in, n_out])
                backward.append((_LINEAR_BWD, [h, None, w, dw, db, dx],
                                 [batch, n_in, n_out]))
                h, width = z, n_out
            elif type(layer) in _ACT_CODES:
                fwd, bwd = _ACT_CODES[type(layer)]
                y, d = buffer(batch, width), buffer(batch, width)
                record(fwd, [h, y], [batch * width])
                backward.append((bwd, [None, y, d], [batch * width]))
                h = y
            # Identity: nothing to do either way
        self.output = next(a for a in keep if a.ctypes.data == h)  # the logits
        dz = buffer(batch, width)
        record(_CE, [h, self.labels.ctypes.data, dz], [batch, width])
        g = dz
        for op, addresses, sizes in reversed(backward):
            addresses = [g if a is None else a for a in addresses]
            g = addresses[5] if op == _LINEAR_BWD else addresses[2]
            record(op, addresses, sizes)
        self.program = np.array(records, np.int64)
        self.keep = keep
        self.loss = np.zeros(1, np.float64)
        self.classes = width
        self.args = (self.program.ctypes.data, len(records), self.loss.ctypes.data)

    def __call__(self) -> int:
        """Run the step on the batch in ``self.x``, ``self.labels``."""
        return self.run(*self.args)


# --- the captured step ---------------------------------------------------------


def _layers(model) -> list:
    if type(model) is Sequential:
        layers = list(model.layers)
    elif isinstance(model, Module):
        layers = [model]
    else:
        raise ConfigError(
            f"capture_step: model must be a Module; got {type(model).__name__}."
        )
    for i, layer in enumerate(layers):
        if type(layer) is not Dense and type(layer) not in _ACTIVATIONS:
            known = ", ".join(["Dense", *(k.__name__ for k in _ACTIVATIONS)])
            raise ConfigError(
                f"capture_step: layer {i} is {type(layer).__name__}; a captured step "
                f"handles Sequential models of {known}. Train this model with the "
                "eager loop (the default)."
            )
    if len({id(layer) for layer in layers}) != len(layers):
        raise ConfigError(
            "capture_step: a layer appears twice in the model; its gradient "
            "would need summing over both uses. Use the eager loop."
        )
    if not any(type(layer) is Dense for layer in layers):
        raise ConfigError(
            "capture_step: the model has no Dense layer, so nothing to train."
        )
    if type(layers[0]) is not Dense:
        raise ConfigError("capture_step: the model must start with a Dense layer.")
    return layers


class _Flat:
    """A stand-in parameter for ``Optimizer.update_one``: every parameter at once."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


class CapturedStep:
    """A training step (forward, loss, backward, update), replayed on fixed buffers.

    Made by :func:`capture_step`; call it as ``loss = step(x, y)``.
    """

    def __init__(self, model, loss_fn, optimizer, native=None):
        if native not in (None, True, False):
            raise ConfigError(
                f"capture_step: native must be None (use compiled code when it "
                f"builds), True or False; got {native!r}."
            )
        if type(loss_fn) is not losses_mod.CrossEntropy:
            raise ConfigError(
                f"capture_step: the loss must be losses.CrossEntropy(); got {loss_fn!r}. "
                "Other losses train with the eager loop."
            )
        if not isinstance(optimizer, Optimizer):
            raise ConfigError(
                f"capture_step: optimizer must be a glassnet Optimizer; got "
                f"{type(optimizer).__name__}."
            )
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.layers = _layers(model)
        self.where = repr(loss_fn)
        params = model.parameters()
        names = {id(p): name for name, p in optimizer.params}
        missing = [p for p in params if id(p) not in names]
        if missing:
            raise ConfigError(
                "capture_step: the optimizer does not hold every parameter of "
                "the model; give it the model (e.g. SGD(model, lr=0.1))."
            )
        dtypes = {p.data.dtype for p in params}
        if len(dtypes) != 1:
            raise ConfigError(
                f"capture_step: parameters of one dtype please; got {dtypes}."
            )
        self.dtype = dtypes.pop()
        self.params = params
        self.names = [names[id(p)] for p in params]
        self._plans: dict = {}
        self._output = None
        self._flatten()
        self._lib = None
        if native is not False:
            lib = _step_library() if self.dtype == np.float32 else None
            if lib is None and native:
                why = (
                    f"the compiled step is float32 only; the parameters are {self.dtype}"
                    if self.dtype != np.float32
                    else kernels.why_not("step")
                )
                raise ConfigError(f"capture_step(native=True): {why}.")
            self._lib = lib

    @property
    def native(self) -> bool:
        """True when the step runs as one compiled call (glassnet/_native/step.c)."""
        return self._lib is not None

    # --- flat parameters, gradients and optimizer state ---------------------------------
    def _flatten(self) -> None:
        """Move the parameters, their gradients and the optimizer state into flat arrays.

        Every parameter's ``data`` (and each per-parameter state array) becomes a
        view into one flat array, so the eager path keeps working on the same
        memory, and one ``update_one`` call updates everything.
        """
        opt, dtype = self.optimizer, self.dtype
        sizes = [p.data.size for p in self.params]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        total = offsets[-1]
        self.flat = _Flat(np.empty(total, dtype))
        self.grad = np.empty(total, dtype)
        self.views, self.grads = [], []
        for p, a, b in zip(self.params, offsets, offsets[1:]):
            view = self.flat.data[a:b].reshape(p.data.shape)
            view[...] = p.data
            p.data = view
            self.views.append(view)
            self.grads.append(self.grad[a:b].reshape(view.shape))
        mark_trained(self.params)  # the steps below bypass Optimizer.step, which marks
        # One update_one call on the flat arrays equals one per parameter only
        # for a rule that treats every element on its own: SGD's and Adam's.
        self.elementwise = type(opt).update_one in _ELEMENTWISE_UPDATES
        if not self.elementwise:
            return
        flat_state = opt.init_state(self.flat)
        counters = {}
        for name, p, a, b in zip(self.names, self.params, offsets, offsets[1:]):
            state = opt.state.get(name)
            if state is None:
                state = opt.state[name] = opt.init_state(p)
            for key, value in flat_state.items():
                if isinstance(value, np.ndarray) and value.shape == (total,):
                    view = value[a:b].reshape(p.data.shape)
                    view[...] = state[key]
                    state[key] = view
                elif not isinstance(value, np.ndarray):  # a counter such as Adam's step
                    counters.setdefault(key, set()).add(state[key])
        for key, values in counters.items():
            if len(values) != 1:  # parameters updated unevenly before: keep them apart
                self.elementwise = False
                return
            flat_state[key] = values.pop()
        self.flat_state = flat_state
        self.counters = list(counters)
        self.states = [opt.state[name] for name in self.names]
        update, flat, grad = opt.update_one, self.flat, self.grad
        self._flat_update = lambda: update(flat, grad, flat_state)

    def _still_bound(self) -> bool:
        """False when a parameter's array was replaced (load_state_dict, a restore)."""
        for p, view in zip(self.params, self.views):
            if p.data is not view:
                return False
        if self.elementwise:
            opt = self.optimizer
            for name, state in zip(self.names, self.states):
                if opt.state.get(name) is not state:
                    return False
        return True

    # --- buffers for one batch shape ------------------------------------------------
    def _plan(self, batch: int) -> list:
        kernels, width, dtype, first = [], None, self.dtype, True
        grad_of = {id(p): g for p, g in zip(self.params, self.grads)}
        for layer in self.layers:
            if type(layer) is Dense:
                k = _DenseKernel(layer, batch, dtype, needs_dx=not first)
                k.dw = grad_of[id(layer.weight)]
                if layer.bias is not None:
                    k.db = grad_of[id(layer.bias)]
                width, first = layer.out_features, False
            else:
                k = _ACTIVATIONS[type(layer)](layer, batch, (width,), dtype)
            kernels.append(k)
        return kernels, _CrossEntropyKernel(batch, width, dtype, self.where)

    # --- the step ---------------------------------------------------------------------
    def __call__(self, x, y) -> float:
        """One training step on the batch (x, y); returns its loss before the step."""
        x = x.data if isinstance(x, Tensor) else np.asarray(x)
        y = y.data if isinstance(y, Tensor) else np.asarray(y)
        if x.ndim != 2 or y.shape != x.shape[:1]:
            raise ShapeError(
                f"capture_step: expected inputs of shape (batch, features) and labels of "
                f"shape (batch,); got {shape_str(x.shape)} and {shape_str(y.shape)}."
            )
        if not self._still_bound():
            self._flatten()
            self._plans.clear()
        plan = self._plans.get(x.shape)
        if plan is None:
            first = self.layers[0]
            if type(first) is Dense and x.shape[1] != first.in_features:
                raise ShapeError(
                    f"Dense(in_features={first.in_features}) expected input whose last "
                    f"axis is {first.in_features}; got shape {shape_str(x.shape)}."
                )
            plan = self._plans[x.shape] = (
                _NativePlan(self, len(x), self._lib) if self._lib else self._plan(len(x))
            )
        if self._lib is not None:
            return self._native_step(plan, x, y)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        kernels, loss_kernel = plan
        h = x
        for k in kernels:
            h = k.forward(h)
        self._output = h
        loss = loss_kernel.forward(h, y)
        g = loss_kernel.backward()
        for k in reversed(kernels):
            g = k.backward(g)
        self._update()
        return float(loss)

    def _native_step(self, plan: _NativePlan, x: np.ndarray, y: np.ndarray) -> float:
        np.copyto(plan.x, x, casting="same_kind")
        if y.dtype.kind not in "iub":  # float labels must be whole numbers, and so on
            y = _labels(self.where, y, plan.classes)
        np.copyto(plan.labels, y, casting="unsafe")  # range-checked by the C code
        bad = plan()
        if bad >= 0:  # nothing was changed: say what the eager loop would say
            _labels(self.where, y, plan.classes)
            raise DataError(f"{self.where}: label {y.reshape(-1)[bad]} is out of range.")
        if bad != -1:
            raise RuntimeError(f"capture_step: the compiled step failed ({bad}).")
        self._update()
        self._output = plan.output
        return float(plan.loss[0])

    @property
    def output(self) -> np.ndarray | None:
        """The model's output (the logits) for the last batch, before its update.

        A buffer the next call overwrites: copy it to keep it.
        """
        return self._output

    def _update(self) -> None:
        opt = self.optimizer
        for p, g in zip(self.params, self.grads):
            p.grad = g
        if not self.elementwise:
            opt.step()
            return
        flat_state, states = self.flat_state, self.states
        for key in self.counters:  # eager steps in between may have moved them
            flat_state[key] = states[0][key]
        self._flat_update()
        for key in self.counters:
            value = flat_state[key]
            for state in states:
                state[key] = value
        opt.steps += 1


def capture_step(model, loss_fn, optimizer, native=None) -> CapturedStep:
    """Record a training step of ``model`` once; return it as a fast, replayable function.

    ``step = capture_step(model, loss_fn, optimizer)`` then ``loss = step(x, y)``
    does what the eager loop's five lines do (forward, loss, zero_grad,
    backward, optimizer step) with the same NumPy operations in the same order,
    hence the same numbers, but on buffers allocated once per batch shape, with
    no graph, and one optimizer update for all parameters.

    Parameters
    ----------
    model : Sequential of Dense, Sigmoid, Tanh, ReLU, Identity (or one Dense)
    loss_fn : losses.CrossEntropy
        With integer class labels; the mean over the batch.
    optimizer : Optimizer holding the model's parameters
        SGD, Adam and AdamW update all parameters in one call; any other
        optimizer runs its own ``step()``.
    native : None, True or False
        How to run the forward and backward pass. ``False``: the NumPy
        replay, bit for bit the eager loop's numbers. ``None`` (default):
        for float32 models, one call into glassnet's compiled step
        (:mod:`glassnet._native`) when it builds on this machine, else the
        NumPy replay; its numbers agree with the eager loop's to float32
        rounding (exp, log and the order of additions differ), not bit for
        bit. ``True``: the compiled step or a ConfigError saying why not.
        ``step.native`` tells which one runs.

    Notes
    -----
    The parameters' ``data`` arrays (and the optimizer's state arrays) become
    views into one flat array each; replacing one (``load_state_dict``) is
    noticed and the step re-captured. After a step ``p.grad`` holds that step's
    gradient in a buffer the next step overwrites. Forward hooks
    (``glassnet.inspect.trace``) do not see a captured step: trace with the
    eager model.

    Raises
    ------
    ConfigError
        For a model, loss or optimizer it cannot capture, naming what and why.
    """
    return CapturedStep(model, loss_fn, optimizer, native)
