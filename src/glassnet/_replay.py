"""The eager loop's repeated steps, replayed: a Sequential's forward and backward
as one graph node running the same kernel calls.

A user's training loop calls ``model(xb)`` once per batch, with the same layers
and the same batch shape every time. Done eagerly, each layer makes a Tensor,
a closure and a graph node, and ``backward()`` walks them one by one: for a
small model (W1: 64-32-10) that bookkeeping takes longer than the arithmetic.
So, the second time a Sequential of Dense, Sigmoid, Tanh, ReLU and Identity
layers is called in training mode on a batch of a given shape, it runs its
eager forward and backward once more under :func:`glassnet.kernels.recording`
(on the same batch, its parameters' gradients put back afterwards), and
writes the kernel calls down as one Python function: the forward's calls in
order, and a ``backward`` closure with the backward's calls. From then on
``model(xb)`` runs that function and returns one graph node whose parents are
the parameters.

The numbers are the eager loop's, bit for bit: the same kernels (the same
variants, picked for the same shapes) in the same order, on fresh arrays as
the eager ops allocate them, so nothing handed to the user (the output, the
gradients) is ever overwritten by a later step. Every call checks what the
recording assumed, and anything else runs the eager path as before: the layers
and their parameters are the same objects, holding the same arrays, all
requiring gradients; the input is a C-contiguous array of the recorded shape
and dtype; training mode, gradients on, no forward hook (``inspect.trace``
sees every layer). ``GLASSNET_REPLAY=0`` in the environment (or
``glassnet._replay.ENABLED = False``) turns it off.

``replay_source(model, shape)`` shows the function written for a shape.
"""

from __future__ import annotations

import os

import numpy as np

from . import kernels
from .nn.module import FORWARD_HOOKS, Module
from .tensor import Tensor, _GradMode, _run_backward, make_result

__all__ = ["replay", "replay_source"]

#: False: every call runs the eager path (environment: ``GLASSNET_REPLAY=0``).
ENABLED = os.environ.get("GLASSNET_REPLAY", "1") != "0"
_MEAN = kernels.mean  # kernels.recording() swaps it, as every kernel name


class _Plans(dict):
    """A model's replays by (shape, dtype): a function, 0 (called once) or 1 (no
    replay for this shape). ``misses`` counts replays found out of date (a
    parameter's array replaced, a layer swapped): each is recorded again, up to
    MAX_MISSES times for the model, then its calls stay eager (a loop that
    replaces ``p.data`` every step would otherwise record every other step).

    Lives in the model's ``__dict__``; a copy of the model starts without it.
    """

    misses = 0

    def __deepcopy__(self, memo):
        return None

    def __copy__(self):
        return None


#: How many out-of-date replays a model records again before staying eager,
#: and how many batch shapes it records at most.
MAX_MISSES, MAX_SHAPES = 4, 64


def replay(model, x):
    """``model(x)`` as one recorded node, or None: then the eager path runs."""
    if x.__class__ is not np.ndarray or not ENABLED:
        if x.__class__ is not Tensor or x.requires_grad or not ENABLED:
            return None
        x = x.data
    recording = kernels.mean is not _MEAN  # capture_step's: every call on its tape
    if not model.training or not _GradMode.enabled or FORWARD_HOOKS or recording:
        return None
    plans = model.__dict__.get("_replays")
    key = (x.shape, x.dtype)
    if plans is None:
        plans = model.__dict__["_replays"] = _Plans()
    run = plans.get(key)
    if run is None:  # first call of this shape: eager; the second records
        plans[key] = 0 if len(plans) < MAX_SHAPES else 1
        return None
    if not x.flags.c_contiguous:  # the recording's kernels were picked for this
        return None
    if run.__class__ is int:
        if run:
            return None
        run = plans[key] = _record(model, x) or 1  # 1: cannot, never again
        if run == 1:
            return None
    out = run(x, model.layers)
    if out is None:  # out of date: record again next time, or give up
        plans.misses += 1
        plans[key] = 0 if plans.misses < MAX_MISSES else 1
    return out


def replay_source(model, shape, dtype=np.float32) -> str | None:
    """The Python source of ``model``'s replay for inputs of ``shape`` (None if
    it has none yet: a shape is recorded on its second training call)."""
    plans = model.__dict__.get("_replays") or {}
    run = plans.get((tuple(shape), np.dtype(dtype)))
    return getattr(run, "source", None)


def _layers_ok(model) -> bool:
    from .nn.activations import Identity, ReLU, Sigmoid, Tanh
    from .nn.dense import Dense

    layers = model.layers
    return (
        type(model).forward is _sequential_forward()
        and len(layers) > 0
        and len({id(m) for m in layers}) == len(layers)
        and all(
            type(m) in (Dense, Sigmoid, Tanh, ReLU, Identity)
            and "forward" not in m.__dict__
            and type(m).__call__ is Module.__call__
            for m in layers
        )
    )


def _sequential_forward():
    from .nn.module import Sequential

    return Sequential.forward


def _record(model, x):
    """Record one eager forward and backward of ``model`` on ``x``; return the
    replay function, or None when the recording cannot be replayed."""
    if not _layers_ok(model):
        return None
    layers = list(model.layers)
    params = [p for m in layers for p in (vars(m).get("weight"), vars(m).get("bias"))]
    params = [p for p in params if p is not None]
    if not params or not all(p.requires_grad and p.dtype == x.dtype for p in params):
        return None  # (an input of another dtype is converted first: not replayed)
    saved = [p.grad for p in params]
    tape: list = []
    try:
        for p in params:
            p.grad = None
        with kernels.recording(tape):
            out = Module.__call__(model, x)
            n_forward = len(tape)
            g = np.ones_like(out.data)
            _run_backward(out, g, False)
        grads = [p.grad for p in params]
    finally:
        for p, s in zip(params, saved):
            p.grad = s
    return _write(layers, params, x, tape, n_forward, out.data, g, grads)


def _write(layers, params, x, tape, n_forward, out, g, grads):
    """The replay function's source, from the tape; None if some array's origin
    is not a plain input, parameter, gradient seed or kernel result."""
    names = {id(x): "x", id(g): "g"}
    ns = {"make_result": make_result, "P": tuple(params)}
    live = {id(x), id(_root(x)), id(g)}  # what changes from call to call
    for i, p in enumerate(params):
        names[id(p.data)] = f"d{i}"
        ns[f"d{i}"], ns[f"t{i}"] = p.data, p
        live.update((id(p.data), id(_root(p.data))))
    lines, keep = [], [x, g, out]  # keep: ids stay unique while the tape is read

    def arg(a, where):
        if id(a) in names:
            return names[id(a)]
        if isinstance(a, np.ndarray) and (id(_root(a)) in live or id(a) in live):
            raise _Unreplayable(where)  # a view made outside the kernels
        if a is None or type(a) in (bool, int, float, str):
            return repr(a)  # written as it is: True, 0.5, "relu"
        name = f"c{len(ns)}"
        ns[name] = a
        keep.append(a)
        return name

    try:
        for i, call in enumerate(tape):
            args = [arg(a, call.kernel.name) for a in call.bound.args]
            args += [
                f"{k}={arg(a, call.kernel.name)}" for k, a in call.bound.kwargs.items()
            ]
            ns[f"k{i}"] = call.fn
            indent = "    " if i < n_forward else "        "
            used = call.fn.__name__  # the variant the dispatcher picked
            what = call.kernel.name + ("" if used == call.kernel.name else f": {used}")
            lines.append(f"{indent}v{i} = k{i}({', '.join(args)})  # {what}")
            if i == n_forward - 1:
                lines.append("    def backward(g):")
            results = call.result if isinstance(call.result, tuple) else (call.result,)
            single = not isinstance(call.result, tuple)
            for j, r in enumerate(results):
                if isinstance(r, np.ndarray) and id(r) not in names:
                    names[id(r)] = f"v{i}" if single else f"v{i}[{j}]"
                    live.update((id(r), id(_root(r))))
                    keep.append(r)
        result = [names.get(id(gr)) if gr is not None else "None" for gr in grads]
        if id(out) not in names or None in result or not 0 < n_forward < len(tape):
            return None
    except _Unreplayable:
        return None
    checks = [f"L[{i}] is not l{i}" for i in range(len(layers))]
    for i, m in enumerate(layers):
        ns[f"l{i}"] = m
    for i, p in enumerate(params):
        owner = next(
            j
            for j, m in enumerate(layers)
            if p in (vars(m).get("weight"), vars(m).get("bias"))
        )
        attr = "weight" if vars(layers[owner]).get("weight") is p else "bias"
        checks.append(
            f"l{owner}.{attr} is not t{i} or t{i}.data is not d{i} or not t{i}.requires_grad"
        )
    ns["shape"], ns["n_layers"] = x.shape, len(layers)
    guard = "\n        or ".join(["len(L) != n_layers"] + checks)
    source = "\n".join(
        [
            "def run(x, L):",
            "    if (  # the recording's assumptions",
            f"        {guard}",
            "    ):",
            "        return None",
            *lines,
            f"        return ({', '.join(result)},)",
            f"    return make_result({names[id(out)]}, P, backward)",
        ]
    )
    exec(compile(source, "<glassnet replay>", "exec"), ns)  # noqa: S102 (our own source)
    run = ns["run"]
    run.source = source
    return run


class _Unreplayable(Exception):
    pass


def _root(a):
    """The array that owns ``a``'s memory (``a`` itself if it has no base)."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a
