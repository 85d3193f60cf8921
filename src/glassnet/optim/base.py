"""Optimizer: what every optimizer shares. It holds the parameters, the learning
rate and a little state per parameter, and saves and restores that state.

The training loop talks to an optimizer in three words::

    optimizer.zero_grad()   # forget the last batch's gradients
    loss.backward()         # fill p.grad for every parameter p
    optimizer.step()        # move every parameter a little, downhill

A gradient optimizer is written as two small methods: ``init_state(p)``
makes the per-parameter memory (a momentum buffer, running averages ...)
the first time ``p`` has a gradient, and ``update_one(p, grad, state)``
moves one parameter. ``step()`` is the loop that calls them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from .._validate import check_number, check_positive, is_count, shape_str  # noqa: F401
from ..errors import ConfigError, DTypeError, FormatError, ShapeError
from ..nn.module import mark_trained as _mark_trained
from ..tensor import Tensor


def named_params(where: str, params) -> list:
    """The ``(name, Tensor)`` pairs that ``params`` describes, checked.

    ``params`` may be a model (anything with ``named_parameters()``), a dict
    name -> Tensor, an iterable of ``(name, Tensor)`` pairs, an iterable of
    Tensors (named "0", "1", ...) or a single Tensor.
    """
    if hasattr(params, "named_parameters"):
        items = list(params.named_parameters())
    elif isinstance(params, Tensor):
        items = [params]
    elif isinstance(params, Mapping):
        items = list(params.items())
    elif isinstance(params, (str, bytes)) or not hasattr(params, "__iter__"):
        raise ConfigError(
            f"{where}: params must be a model, or an iterable of Tensors or of "
            f"(name, Tensor) pairs; got {type(params).__name__}."
        )
    else:
        items = list(params)
    if not items:
        raise ConfigError(
            f"{where}: got no parameters to optimise (an empty "
            f"{type(params).__name__}). Pass model.parameters() of a model that has "
            "layers with weights."
        )
    pairs, names, ids = [], set(), set()
    for i, item in enumerate(items):
        name, p = (str(i), item) if isinstance(item, Tensor) else _pair(where, i, item)
        if not p.requires_grad:
            raise ConfigError(
                f"{where}: parameter '{name}' has requires_grad=False, so it never "
                "gets a gradient. Pass only trainable tensors, e.g. model.parameters()."
            )
        if p.data.dtype not in (np.float32, np.float64):
            raise DTypeError(
                f"{where}: parameter '{name}' must be float32 or float64; "
                f"got {p.data.dtype}."
            )
        if name in names:
            raise ConfigError(f"{where}: two parameters are both named '{name}'.")
        if id(p) in ids:
            raise ConfigError(
                f"{where}: parameter '{name}' is the same Tensor as an earlier one; "
                "pass each parameter once."
            )
        names.add(name)
        ids.add(id(p))
        pairs.append((name, p))
    return pairs


def _pair(where, i, item):
    if (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], Tensor)
    ):
        return item
    raise ConfigError(
        f"{where}: params item {i} must be a Tensor or a (name, Tensor) pair; "
        f"got {type(item).__name__}."
    )


class Optimizer:
    """Base class: parameters, learning rate, per-parameter state, checkpoints.

    Parameters
    ----------
    params : model, dict, iterable of Tensors or of (name, Tensor) pairs
        What to optimise. Tensors given without names are called "0", "1", ...
        Each must be float32 or float64 with ``requires_grad=True``.
    lr : float
        The learning rate: how far each step moves. A positive finite number
        at construction; a schedule may later lower it, even to 0.

    Attributes
    ----------
    params : list of (str, Tensor)
        The parameters, in order.
    state : dict
        Parameter name -> that parameter's memory (``{'momentum_buffer':
        array}`` for SGD with momentum ...), made the first time the parameter
        has a gradient. Keys that start with ``_`` are scratch space that
        saves allocations; they are never saved.
    steps : int
        How many times ``step()`` has run.

    A subclass lists the names of its settings in ``hyper_names`` (its
    constructor's keyword arguments) and writes ``init_state`` and
    ``update_one``. Only ``lr`` should change after construction; the other
    settings decide what the state holds.
    """

    hyper_names: tuple = ("lr",)

    def __init__(self, params, lr):
        where = type(self).__name__
        check_positive(where, "lr", lr)
        self.params = named_params(where, params)
        self.state: dict = {}
        self.steps = 0
        self.lr = lr

    # --- the learning rate ---------------------------------------------------------
    @property
    def lr(self) -> float:
        """The learning rate. Settable (schedules set it once per epoch); 0 freezes."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_number(type(self).__name__, "lr", value, 0.0)

    # --- the training-loop interface ----------------------------------------------
    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set ``p.grad = None``)."""
        for _, p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place in ``p.data``.

        Parameters whose ``grad`` is None (they took no part in the loss) are
        left alone, and so is their state. ``p.grad`` itself is never written.
        """
        state, init, update = self.state, self.init_state, self.update_one
        for name, p in self.params:
            grad = p.grad
            if grad is None:
                continue
            s = state.get(name)
            if s is None:
                s = state[name] = init(p)
                _mark_trained((p,))  # the first update: p is no longer as initialised
            update(p, grad, s)
        self.steps += 1

    def init_state(self, p: Tensor) -> dict:
        """The fresh memory for parameter ``p`` (buffers shaped and typed like it)."""
        return {}

    def update_one(self, p: Tensor, grad: np.ndarray, state: dict) -> None:
        """Move one parameter using its gradient and its state."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_one().")

    # --- inspecting, saving, restoring --------------------------------------------
    def hyper(self) -> dict:
        """The settings, as JSON-able values (tuples become lists)."""
        out = {}
        for k in self.hyper_names:
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    def state_dict(self) -> dict:
        """A snapshot to save: JSON-able numbers plus NumPy arrays (copies).

        ``{"type": "SGD", "hyper": {"lr": ..., ...}, "step": int,
        "state": {param name: {key: array or int}}}``
        """
        return {
            "type": type(self).__name__,
            "hyper": self.hyper(),
            "step": self.steps,
            "state": {
                name: {
                    k: (v.copy() if isinstance(v, np.ndarray) else v)
                    for k, v in s.items()
                    if not k.startswith("_")
                }
                for name, s in self.state.items()
            },
        }

    def load_state_dict(self, sd: dict) -> None:
        """Restore a ``state_dict()`` exactly: settings, step count, every buffer.

        Names, keys and shapes are checked against this optimizer's
        parameters; nothing changes unless all of them fit.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(sd, Mapping) or set(sd) != {"type", "hyper", "step", "state"}:
            got = sorted(sd) if isinstance(sd, Mapping) else type(sd).__name__
            raise FormatError(
                f"{where}: expected a dict with keys ['hyper', 'state', "
                f"'step', 'type']; got {got}."
            )
        if sd["type"] != type(self).__name__:
            raise FormatError(
                f"{where}: this state belongs to a {sd['type']} optimizer."
            )
        hyper = dict(sd["hyper"])
        if set(hyper) != set(self.hyper_names):
            raise FormatError(
                f"{where}: settings {sorted(hyper)} do not match "
                f"{sorted(self.hyper_names)}."
            )
        steps = sd["step"]
        if not is_count(steps):
            raise FormatError(
                f"{where}: step must be a non-negative integer; got {steps!r}."
            )
        # The constructor and the lr setter validate the settings; borrow them.
        lr = hyper.pop("lr")
        fresh = type(self)(
            self.params,
            **{k: (tuple(v) if isinstance(v, list) else v) for k, v in hyper.items()},
        )
        fresh.lr = lr
        params = dict(self.params)
        unknown = sorted(set(sd["state"]) - set(params))
        if unknown:
            raise FormatError(
                f"{where}: state for unknown parameters {unknown}; this "
                f"optimizer has {sorted(params)}."
            )
        new_state = {
            name: _restore(where, name, fresh.init_state(params[name]), saved)
            for name, saved in sd["state"].items()
        }
        for k in self.hyper_names:
            setattr(self, k, getattr(fresh, k))
        self.state, self.steps = new_state, int(steps)

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__).parameters
        shown = [
            f"{k}={getattr(self, k)!r}"
            for k in self.hyper_names
            if k == "lr" or k not in sig or getattr(self, k) != sig[k].default
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


def _restore(where: str, name: str, template: dict, saved) -> dict:
    """Fill the fresh ``template`` state with the ``saved`` values, checking each."""
    want = sorted(k for k in template if not k.startswith("_"))
    if not isinstance(saved, Mapping) or sorted(saved) != want:
        got = sorted(saved) if isinstance(saved, Mapping) else type(saved).__name__
        raise FormatError(
            f"{where}: state of '{name}' must have keys {want}; got {got}."
        )
    for key in want:
        slot, value = template[key], saved[key]
        if isinstance(slot, np.ndarray):
            arr = np.asarray(value)
            if arr.shape != slot.shape:
                raise ShapeError(
                    f"{where}: '{name}' {key} expected shape "
                    f"{shape_str(slot.shape)}; got {shape_str(arr.shape)}."
                )
            if arr.dtype.kind != "f":
                raise DTypeError(
                    f"{where}: '{name}' {key} must be a float array; got {arr.dtype}."
                )
            np.copyto(slot, arr, casting="same_kind")
        else:
            if isinstance(value, np.integer):
                value = int(value)
            if type(value) is not type(slot) or value < 0:
                raise FormatError(
                    f"{where}: '{name}' {key} must be a non-negative "
                    f"{type(slot).__name__}; got {value!r}."
                )
            template[key] = value
    return template
