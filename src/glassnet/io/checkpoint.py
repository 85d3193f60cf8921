"""Checkpoint files: a model, its optimizer's memory and the state of a training run.

The same container as model files, with ``format = "glassnet.checkpoint"``
and this content::

    {"model": <architecture>, "dtype": "float32",
     "optimizer": {"type": "Adam", "hyper": {...}, "step": 120,
                   "scalars": {"0.weight": {"step": 120}, ...},  # ints, floats
                   "arrays": {"0.weight": ["exp_avg", "exp_avg_sq"], ...}} or null,
     "training": {...}}   # epoch, batch, random-generator state, History ...

Tensors: the parameters under their own names, and each optimizer buffer as
``optim/<parameter>/<key>``. ``training`` is any JSON object; the one that
``fit`` writes (:mod:`glassnet.train.resume`) is laid out and checked here
too (:func:`training_section`, :func:`read_training`)::

    {"epoch": 3, "batch": 5,       # where to continue: skip 5 batches of epoch 3
     "rng": {...},                 # the PCG64 state at the start of that epoch
     "sums": {"loss": 1.2, ...},   # running totals of the epoch in progress
     "seen": 160,                  # samples in those totals
     "history": {"epochs": [0, 1, 2], "values": {"loss": [...], ...}},
     "schedule": {...} or null,    # the learning-rate schedule's state_dict
     "run": {...}}                 # data size, batch size ...: the fingerprint

JSON has no NaN or infinity; in ``sums`` and ``history`` they are written as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.

This module is the one owner of the checkpoint file's layout; the model part
is shared with model files through :mod:`glassnet.io._common`.
"""

from __future__ import annotations

import math
import os
import re
from typing import NamedTuple

import numpy as np

from .._validate import is_count
from ..errors import ConfigError, FormatError
from . import container
from ._common import check_keys, glassnet_version, model_content, restore_model

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
OPTIM = "optim/"


class CheckpointData(NamedTuple):
    """What :func:`load_checkpoint` returns."""

    model: object
    optimizer: dict | None  # in the form Optimizer.load_state_dict takes
    training: dict
    glassnet_version: str


def save_checkpoint(path, model, optimizer=None, training: dict | None = None) -> None:
    """Write a checkpoint atomically: model, optimizer state and ``training`` (JSON)."""
    content, tensors = model_content(model)
    content["optimizer"] = None
    if optimizer is not None:
        if not hasattr(optimizer, "state_dict"):
            raise ConfigError(
                f"checkpoint: the optimizer {type(optimizer).__name__} has no "
                "state_dict(), so training could not resume exactly."
            )
        content["optimizer"], buffers = _split_optimizer(optimizer.state_dict())
        tensors.update(buffers)
    content["training"] = {} if training is None else training
    version = glassnet_version()
    data = container.to_bytes("glassnet.checkpoint", content, tensors, version)
    container.atomic_write(path, data)


def load_checkpoint(path, *, max_bytes: int = container.MAX_BYTES) -> CheckpointData:
    """Read and check a checkpoint written by :func:`save_checkpoint`."""
    box = container.read(path, max_bytes)
    where = os.fspath(path)
    if box.kind != "glassnet.checkpoint":
        raise FormatError(
            f"{where} is a model file, not a checkpoint; it holds no "
            "optimizer or training state to resume from."
        )
    return from_container(where, box)


def from_container(where: str, box) -> CheckpointData:
    """The checkpoint in a checked container, every tensor checked against its JSON."""
    content = box.content
    check_keys(where, content, {"model", "dtype", "optimizer", "training"})
    if not isinstance(content["training"], dict):
        raise FormatError(f"{where}: 'training' must be an object.")
    wanted = _optimizer_tensors(where, content["optimizer"])
    for name in wanted:
        entry = box.table.get(name)
        if entry is None:
            raise FormatError(f"{where}: optimizer buffer '{name}' is missing.")
        if entry.dtype.kind != "f":
            raise FormatError(
                f"{where}: optimizer buffer '{name}' must be float; got "
                f"{entry.dtype.name}."
            )
    model, tensors = restore_model(where, content, box, extra=lambda n: n in wanted)
    params = dict(model.named_parameters())
    for p, keys in (content["optimizer"] or {}).get("arrays", {}).items():
        if p not in params:
            raise FormatError(
                f"{where}: optimizer state for '{p[:40]}', which is not a "
                "parameter of the model."
            )
        for key in keys:
            arr = tensors[f"{OPTIM}{p}/{key}"]
            if arr.shape != params[p].shape or arr.dtype != params[p].dtype:
                raise FormatError(
                    f"{where}: optimizer buffer '{p}/{key}' is {arr.dtype} "
                    f"{arr.shape}; its parameter is {params[p].dtype} "
                    f"{params[p].shape}."
                )
    optim = None
    if content["optimizer"] is not None:
        spec = content["optimizer"]
        state = {p: dict(scalars) for p, scalars in spec["scalars"].items()}
        for p, keys in spec["arrays"].items():
            for key in keys:
                state.setdefault(p, {})[key] = tensors[f"{OPTIM}{p}/{key}"]
        optim = {
            "type": spec["type"],
            "hyper": spec["hyper"],
            "step": spec["step"],
            "state": state,
        }
    return CheckpointData(model, optim, content["training"], box.glassnet_version)


def _split_optimizer(sd: dict) -> tuple[dict, dict]:
    """An optimizer state_dict as JSON (numbers) and tensors (arrays)."""
    scalars, arrays, tensors = {}, {}, {}
    for p, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, np.ndarray):
                arrays.setdefault(p, []).append(key)
                tensors[f"{OPTIM}{p}/{key}"] = value
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                scalars.setdefault(p, {})[key] = int(value)
            elif isinstance(value, float) and math.isfinite(value):  # NAdam's product
                scalars.setdefault(p, {})[key] = value
            else:
                raise ConfigError(
                    f"checkpoint: optimizer state '{p}' {key} is a "
                    f"{type(value).__name__}; only arrays, ints and finite floats "
                    "can be saved."
                )
            if not _KEY.fullmatch(key):
                raise ConfigError(
                    f"checkpoint: optimizer state key {key!r} is not a name."
                )
    spec = {
        "type": sd["type"],
        "hyper": sd["hyper"],
        "step": int(sd["step"]),
        "scalars": scalars,
        "arrays": arrays,
    }
    container.dumps(spec)
    return spec, tensors


def _optimizer_tensors(where: str, spec) -> set:
    """Check the optimizer's JSON; return the tensor names it refers to."""
    if spec is None:
        return set()
    if not isinstance(spec, dict) or set(spec) != {
        "type",
        "hyper",
        "step",
        "scalars",
        "arrays",
    }:
        raise FormatError(
            f"{where}: 'optimizer' must have type, hyper, step, scalars and arrays."
        )
    if not isinstance(spec["type"], str) or not _KEY.fullmatch(spec["type"]):
        raise FormatError(f"{where}: optimizer type must be a class name.")
    if not isinstance(spec["hyper"], dict) or not is_count(spec["step"]):
        raise FormatError(
            f"{where}: optimizer hyper must be an object and step a count."
        )
    scalars, arrays = spec["scalars"], spec["arrays"]
    if not isinstance(scalars, dict) or not isinstance(arrays, dict):
        raise FormatError(f"{where}: optimizer scalars and arrays must be objects.")
    for p, values in scalars.items():
        if not isinstance(values, dict) or not all(
            _KEY.fullmatch(k)
            and (is_count(v) or isinstance(v, float) and math.isfinite(v) and v >= 0)
            for k, v in values.items()
        ):
            raise FormatError(
                f"{where}: optimizer scalars of '{p[:40]}' must be counts or "
                "non-negative floats."
            )
    names = set()
    for p, keys in arrays.items():
        if not isinstance(keys, list) or not all(
            isinstance(k, str) and _KEY.fullmatch(k) for k in keys
        ):
            raise FormatError(f"{where}: optimizer arrays of '{p[:40]}' must be names.")
        for key in keys:
            if key in scalars.get(p, {}):
                raise FormatError(
                    f"{where}: optimizer state '{p[:40]}' {key} is stored twice."
                )
            names.add(f"{OPTIM}{p}/{key}")
    return names


# --- the training section: what fit writes, and checks when it resumes ---------------
TRAINING_KEYS = {"epoch", "batch", "rng", "sums", "seen", "history", "schedule", "run"}


def training_section(
    *, epoch, batch, rng, sums, seen, epochs, values, schedule, run
) -> dict:
    """The ``training`` JSON of a checkpoint that ``fit`` can resume from.

    ``rng`` is a PCG64 ``bit_generator.state``; ``sums`` maps names to running
    totals; ``epochs`` and ``values`` are the History's; ``schedule`` a
    schedule's ``state_dict()`` or None; ``run`` the run's fingerprint.
    Non-finite numbers are written as strings (see the module docstring).
    """
    return {
        "epoch": epoch,
        "batch": batch,
        "rng": rng,
        "sums": {k: _float_out(v) for k, v in sums.items()},
        "seen": seen,
        "history": {
            "epochs": list(epochs),
            "values": {k: [_float_out(x) for x in v] for k, v in values.items()},
        },
        "schedule": schedule,
        "run": run,
    }


def read_training(where: str, t: dict) -> dict:
    """Check a :func:`training_section` read back; return it with numbers decoded.

    Raises :class:`~glassnet.errors.FormatError` naming ``where`` and what is
    wrong. The result has the same keys; ``sums`` and the History's values
    hold floats again (NaN and infinities included).
    """
    if set(t) != TRAINING_KEYS:
        raise FormatError(
            f"{where}: training state keys {sorted(t)[:10]} should be "
            f"{sorted(TRAINING_KEYS)}."
        )
    counts = ("epoch", "batch", "seen")
    if not all(is_count(t[k]) for k in counts):
        raise FormatError(
            f"{where}: epoch, batch and seen must be non-negative integers."
        )
    if not isinstance(t["run"], dict):
        raise FormatError(f"{where}: 'run' must be an object.")
    _check_rng(where, t["rng"])
    if not isinstance(t["sums"], dict) or not all(
        _is_float(v) for v in t["sums"].values()
    ):
        raise FormatError(f"{where}: 'sums' must map names to numbers.")
    if (t["batch"] == 0) != (t["seen"] == 0):
        raise FormatError(f"{where}: batch and seen disagree.")
    h = t["history"]
    if not (
        isinstance(h, dict)
        and set(h) == {"epochs", "values"}
        and isinstance(h["epochs"], list)
        and all(is_count(e) for e in h["epochs"])
        and isinstance(h["values"], dict)
        and all(
            isinstance(v, list)
            and len(v) == len(h["epochs"])
            and all(_is_float(x) for x in v)
            for v in h["values"].values()
        )
    ):
        raise FormatError(f"{where}: 'history' must hold epochs and a list per figure.")
    if len(h["epochs"]) > t["epoch"]:
        raise FormatError(f"{where}: the history has more epochs than the position.")
    if t["schedule"] is not None and not isinstance(t["schedule"], dict):
        raise FormatError(f"{where}: 'schedule' must be an object or null.")
    values = {k: [_float_in(x) for x in v] for k, v in h["values"].items()}
    return dict(
        t,
        sums={k: _float_in(v) for k, v in t["sums"].items()},
        history={"epochs": list(h["epochs"]), "values": values},
    )


def _check_rng(where: str, st) -> None:
    ok = (
        isinstance(st, dict)
        and set(st) == {"bit_generator", "state", "has_uint32", "uinteger"}
        and st["bit_generator"] == "PCG64"
        and isinstance(st["state"], dict)
        and set(st["state"]) == {"state", "inc"}
        and all(is_count(v) and v < 2**128 for v in st["state"].values())
        and st["has_uint32"] in (0, 1)
        and not isinstance(st["has_uint32"], bool)
        and is_count(st["uinteger"])
        and st["uinteger"] < 2**32
    )
    if not ok:
        raise FormatError(f"{where}: 'rng' is not the state of a PCG64 generator.")


# JSON has no NaN or infinity; the History may (a val_loss can overflow).
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _is_float(v) -> bool:
    if isinstance(v, str):
        return v in _NONFINITE
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _float_out(x):
    x = float(x)
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _float_in(x) -> float:
    return _NONFINITE[x] if isinstance(x, str) else float(x)
