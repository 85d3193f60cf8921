"""Optimizer: what every optimizer shares. It holds the parameters, the learning
rate and a little state per parameter, and saves and restores that state.

The training loop talks to an optimizer in three words::

    optimizer.zero_grad()   # forget the last batch's gradients
    loss.backward()         # fill p.grad for every parameter p
    optimizer.step()        # move every parameter a little, downhill

A gradient optimizer is written as three small methods: ``check_settings``
validates its settings, ``init_state(p, h)`` makes the per-parameter memory
(a momentum buffer, running averages ...) the first time ``p`` has a
gradient, and ``update_one(p, grad, state, h)`` moves one parameter; ``h``
is the settings of the parameter's group, learning rate included.
``step()`` is the loop that calls them.

Parameter groups, as in PyTorch: ``params`` may be a list of dicts, each
``{"params": ..., "weight_decay": 0.0, "lr": 0.01, ...}``; a group's own
settings replace the optimizer's for its parameters (:func:`decay_groups`
makes the usual pair: weights decayed, biases not).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from .. import kernels
from .._validate import check_number, check_positive, is_count, shape_str  # noqa: F401
from ..errors import ConfigError, DTypeError, FormatError, ShapeError
from ..nn.module import mark_trained as _mark_trained
from ..tensor import Tensor


def named_params(where: str, params, start: int = 0) -> list:
    """The ``(name, Tensor)`` pairs that ``params`` describes, checked.

    ``params`` may be a model (anything with ``named_parameters()``), a dict
    name -> Tensor, an iterable of ``(name, Tensor)`` pairs, an iterable of
    Tensors (named "0", "1", ... counting from ``start``) or a single Tensor.
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
        name, p = (
            (str(start + i), item)
            if isinstance(item, Tensor)
            else _pair(where, i, item)
        )
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


def _is_groups(params) -> bool:
    """True for a list of parameter groups (dicts)."""
    return (
        isinstance(params, (list, tuple))
        and bool(params)
        and all(isinstance(g, Mapping) for g in params)
    )


def _groups(where: str, params) -> list:
    """``[(pairs, overrides)]``: one group of all of ``params``, or the groups of
    a list of dicts ``{"params": ..., setting: value}``."""
    if not _is_groups(params):
        return [(named_params(where, params), {})]
    groups, seen = [], []
    for i, group in enumerate(params):
        if "params" not in group:
            raise ConfigError(
                f"{where}: parameter group {i} needs a 'params' entry; got keys "
                f"{sorted(group)}."
            )
        pairs = named_params(f"{where} group {i}", group["params"], len(seen))
        groups.append((pairs, {k: v for k, v in group.items() if k != "params"}))
        seen += pairs
    named_params(where, seen)  # a name or a Tensor in two groups is refused
    return groups


def decay_groups(model, weight_decay: float, exclude=None) -> list:
    """Two parameter groups: weights with ``weight_decay``, biases without.

    Decaying a bias (or a normalisation layer's scale and shift) pulls it
    toward 0 for no benefit, so the usual recipe decays only the weight
    matrices and kernels. ``exclude(name, tensor) -> bool`` picks the
    parameters left undecayed; by default those with at most one axis.

    Parameters
    ----------
    model : model or iterable of (name, Tensor) pairs
    weight_decay : float >= 0
        λ for the decayed group.
    exclude : callable, optional

    Returns
    -------
    list of dict
        ``[{"params": [...], "weight_decay": λ}, {"params": [...],
        "weight_decay": 0.0}]``, leaving out a group that would be empty; pass
        it to any optimizer as ``params``.

    Examples
    --------
    >>> from glassnet import nn
    >>> from glassnet.optim import AdamW, decay_groups
    >>> model = nn.Sequential(nn.Dense(4, 3), nn.ReLU(), nn.Dense(3, 2), seed=0)
    >>> groups = decay_groups(model, 0.05)
    >>> [[name for name, _ in g["params"]] for g in groups]
    [['0.weight', '2.weight'], ['0.bias', '2.bias']]
    >>> AdamW(groups, lr=0.01)
    AdamW(lr=0.01, groups=[{'params': 2, 'weight_decay': 0.05}, \
{'params': 2, 'weight_decay': 0.0}])
    """
    check_number("decay_groups", "weight_decay", weight_decay, 0.0)
    pairs = named_params("decay_groups", model)
    skip = exclude or (lambda name, p: p.data.ndim <= 1)
    split = ([], [])
    for name, p in pairs:
        split[bool(skip(name, p))].append((name, p))
    return [
        {"params": group, "weight_decay": decay}
        for group, decay in zip(split, (float(weight_decay), 0.0))
        if group
    ]


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
        Each must be float32 or float64 with ``requires_grad=True``. Or a
        list of parameter groups, dicts ``{"params": <any of those>,
        setting: value, ...}`` whose settings replace the optimizer's for
        their parameters (e.g. ``"weight_decay": 0.0`` for the biases).
        A group's ``"lr"`` is kept as a multiple of the optimizer's
        (``"lr_scale"`` gives the multiple directly), so a schedule moves
        every group's rate in proportion.
    lr : float
        The learning rate: how far each step moves. A positive finite number
        at construction; a schedule may later lower it, even to 0.

    Attributes
    ----------
    params : list of (str, Tensor)
        The parameters, in order.
    groups : list of dict
        One per parameter group: ``{"params": [(name, Tensor), ...],
        "lr_scale": float, "settings": {setting: value}, "weights": int}``
        (``weights``: how many numbers its parameters hold).
    state : dict
        Parameter name -> that parameter's memory (``{'momentum_buffer':
        array}`` for SGD with momentum ...), made the first time the parameter
        has a gradient. Keys that start with ``_`` are scratch space that
        saves allocations; they are never saved.
    steps : int
        How many times ``step()`` has run.

    A subclass lists the names of its settings in ``hyper_names`` (its
    constructor's keyword arguments), passes them to this constructor, and
    writes ``check_settings``, ``init_state`` and ``update_one``. Only ``lr``
    should change after construction; the other settings decide what the
    state holds.
    """

    hyper_names: tuple = ("lr",)

    def __init__(self, params, lr, **settings):
        where = type(self).__name__
        check_positive(where, "lr", lr)
        self.__dict__.update(self.check_settings(where, **settings))
        self.params, self.groups = [], []
        self._given = [] if _is_groups(params) else None  # the groups as given
        for i, (pairs, over) in enumerate(_groups(where, params)):
            self.groups.append(self._group(f"{where} group {i}", pairs, over, lr))
            self.params += pairs
        self.state: dict = {}
        self.steps = 0
        self.lr = lr

    def _group(self, where: str, pairs: list, over: dict, lr: float) -> dict:
        """One checked parameter group; its settings as given go to ``_given``."""
        allowed = {*self.hyper_names, "lr_scale"}
        unknown = sorted(set(over) - allowed)
        if unknown or {"lr", "lr_scale"} <= set(over):
            raise ConfigError(
                f"{where}: a group may set {sorted(allowed)} (lr or lr_scale, not "
                f"both); got {sorted(over)}."
            )
        scale = 1.0
        if "lr" in over:
            scale = check_number(where, "lr", over["lr"], 0.0, low_open=True) / lr
        elif "lr_scale" in over:
            scale = check_number(where, "lr_scale", over["lr_scale"], 0, low_open=True)
        own = {k: v for k, v in over.items() if k not in ("lr", "lr_scale")}
        base = {k: getattr(self, k) for k in self.hyper_names if k != "lr"}
        settings = self.check_settings(where, **{**base, **own})
        if self._given is not None:
            keep = {k: (list(v) if isinstance(v, tuple) else v) for k, v in own.items()}
            names = [name for name, _ in pairs]
            self._given.append({"params": names, **keep, "lr_scale": scale})
        weights = sum(p.data.size for _, p in pairs)
        return {"params": pairs, "lr_scale": float(scale), "settings": settings,
                "weights": weights}  # fmt: skip

    def check_settings(self, where: str, **settings) -> dict:
        """The settings other than lr, checked (errors name ``where``)."""
        return {}

    def hyper_of(self, group: dict) -> dict:
        """``group``'s settings with its learning rate now, for ``update_one``."""
        h, scale = group["settings"], group["lr_scale"]
        h["lr"] = self._lr if scale == 1.0 else self._lr * scale
        return h

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
        plan = self._plan
        if plan and self._run_plan(plan):
            self.steps += 1
            return
        state, init, update = self.state, self.init_state, self.update_one
        for group in self.groups:
            h = self.hyper_of(group)
            todo = [] if self.together(group) else None
            for name, p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                s = state.get(name)
                if s is None:
                    s = state[name] = init(p, h)
                    _mark_trained((p,))  # the first update: p is no longer as set
                if todo is None:
                    update(p, grad, s, h)
                else:
                    todo.append((p, grad, s))
            if todo:
                self.update_group(todo, h)
        self.steps += 1
        self._plan = self._make_plan()

    # --- the step's plan: the same kernel calls with less around them ---------------
    #: The kernel that ``update_plan`` calls (a subclass that has one sets it).
    plan_kernel: str | None = None
    _plan = None

    def _make_plan(self):
        """Per group, ``(group, rows)`` with a row ``(name, p, p.data, state,
        kernel)`` per parameter, for ``update_plan``; or None.

        Made after a step in which every parameter had a gradient and state and
        went through ``update_one`` (no group handed to ``update_group``), for a
        subclass whose ``update_one`` is its own rule. The kernel is the rule's
        NumPy reference when every faster variant needs larger arrays than the
        parameter's, else the kernel's dispatcher (which looks at each call).
        """
        name = self.plan_kernel
        if name is None:
            return None
        # update_plan is written for its own class's update_one: not a subclass's
        owner = next(c for c in type(self).__mro__ if "update_plan" in vars(c))
        if getattr(self.update_one, "__func__", None) is not vars(owner).get(
            "update_one"
        ):
            return None
        kernel = kernels.registry()[name]
        plan = []
        for group in self.groups:
            if self.together(group):
                return None
            rows = []
            for pname, p in group["params"]:
                s = self.state.get(pname)
                if p.grad is None or s is None:
                    return None
                small = all(v.min_size > p.data.size for v in kernel.variants)
                fn = kernel.reference if small else getattr(kernels, name)
                rows.append((pname, p, p.data, s, fn))
            plan.append((group, rows))
        return plan

    def _run_plan(self, plan) -> bool:
        """One step by ``plan``, if it still holds: each parameter has a
        gradient, the same array and the same state as when it was made. False,
        with nothing changed, if not (``step`` then runs in full)."""
        state = self.state
        for group, rows in plan:
            if len(group["params"]) != len(rows):
                return False
            for name, p, data, s, _ in rows:
                if p.grad is None or p.data is not data or state.get(name) is not s:
                    return False
        for group, rows in plan:
            self.update_plan(rows, self.hyper_of(group))
        return True

    def update_plan(self, rows: list, h: dict) -> None:
        """``update_one`` on each row's parameter, with its kernel chosen
        already (see ``_make_plan``); a subclass with a ``plan_kernel`` writes it."""
        raise NotImplementedError

    def together(self, group: dict) -> bool:
        """True when ``step`` hands ``group``'s parameters to ``update_group`` all
        at once rather than one by one to ``update_one``: SGD and Adam do for
        groups large enough to pay for one kernel call over all of them."""
        return False

    def update_group(self, todo: list, h: dict) -> None:
        """Move several parameters of one group (settings ``h``): ``todo`` holds
        ``(p, grad, state)`` for each. The same as ``update_one`` on each in turn,
        which is what this does unless an optimizer has a faster way."""
        for p, grad, s in todo:
            self.update_one(p, grad, s, h)

    def init_state(self, p: Tensor, h: dict) -> dict:
        """The fresh memory for parameter ``p`` (buffers shaped and typed like it)
        under its group's settings ``h``."""
        return {}

    def update_one(self, p: Tensor, grad: np.ndarray, state: dict, h: dict) -> None:
        """Move one parameter using its gradient, its state and its settings ``h``."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_one().")

    # --- inspecting, saving, restoring --------------------------------------------
    def hyper(self) -> dict:
        """The settings, as JSON-able values (tuples become lists); with parameter
        groups, also ``"groups"``: each group's parameter names and own settings."""
        out = {}
        for k in self.hyper_names:
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else v
        if self._given is not None:
            out["groups"] = [dict(g, params=list(g["params"])) for g in self._given]
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
        groups = hyper.pop("groups", None)
        sig = inspect.signature(type(self).__init__).parameters
        for k in set(self.hyper_names) - set(hyper) - {"lr"}:  # saved before k existed
            if k in sig and sig[k].default is not inspect.Parameter.empty:
                hyper[k] = sig[k].default
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
        params = dict(self.params)
        fresh = type(self)(
            self.params if groups is None else _saved_groups(where, groups, params),
            **{k: (tuple(v) if isinstance(v, list) else v) for k, v in hyper.items()},
        )
        fresh.lr = lr
        settings = {n: g["settings"] for g in fresh.groups for n, _ in g["params"]}
        unknown = sorted(set(sd["state"]) - set(params))
        if unknown:
            raise FormatError(
                f"{where}: state for unknown parameters {unknown}; this "
                f"optimizer has {sorted(params)}."
            )
        new_state = {
            name: _restore(
                where, name, fresh.init_state(params[name], settings[name]), saved
            )
            for name, saved in sd["state"].items()
        }
        for k in (*self.hyper_names, "params", "groups", "_given"):
            setattr(self, k, getattr(fresh, k))
        self.state, self.steps = new_state, int(steps)

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__).parameters
        shown = [
            f"{k}={getattr(self, k)!r}"
            for k in self.hyper_names
            if k == "lr" or k not in sig or getattr(self, k) != sig[k].default
        ]
        if self._given is not None:
            groups = [
                {"params": len(g["params"]), **{k: v for k, v in g.items()
                 if k != "params" and (k != "lr_scale" or v != 1.0)}}
                for g in self._given
            ]  # fmt: skip
            shown.append(f"groups={groups}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _saved_groups(where: str, groups, params: dict) -> list:
    """The parameter groups of a state_dict, on this optimizer's parameters."""
    if not isinstance(groups, list) or not all(
        isinstance(g, Mapping) and isinstance(g.get("params"), list) for g in groups
    ):
        raise FormatError(f"{where}: 'groups' must be a list of parameter groups.")
    names = [str(n) for g in groups for n in g["params"]]
    if sorted(names) != sorted(params) or len(set(names)) != len(names):
        raise FormatError(
            f"{where}: the saved groups hold parameters {sorted(names)}; "
            f"this optimizer has {sorted(params)}."
        )
    if not all(isinstance(n, str) for g in groups for n in g["params"]):
        raise FormatError(f"{where}: the saved groups' parameter names must be text.")
    return [dict(g, params=[(n, params[n]) for n in g["params"]]) for g in groups]


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
