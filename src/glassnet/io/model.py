"""Model files: ``save(model, path)`` and ``load(path)``.

The file is a glassnet container (see :mod:`glassnet.io.container`) whose
content is::

    {"model": <architecture, see glassnet.io.registry>,
     "dtype": "float32" | "float64",
     "metadata": {...},            # any JSON the caller attached
     "arrays": {"mean": {"dtype": "float64", "shape": [64]}, ...}}
                                   # extra arrays, stored as "extra/<name>"

and whose tensors are the parameters, under the names
``model.named_parameters()`` gives them (``"0.weight"``, ``"0.bias"`` ...),
plus the extra arrays.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np

from .._validate import LIMITS, check_limit
from ..errors import ConfigError, FormatError
from . import checkpoint, container
from ._common import check_keys, glassnet_version, model_content, restore_model

EXTRA = "extra/"


class ModelFile(NamedTuple):
    """Everything a model file holds, as :func:`read` returns it."""

    model: object
    metadata: dict
    arrays: dict
    glassnet_version: str
    kind: str  # "glassnet.model", or "glassnet.checkpoint" when read from a checkpoint


def save(
    model, path, *, metadata: dict | None = None, arrays: dict | None = None
) -> None:
    """Write ``model`` to ``path``: its architecture and its weights, atomically.

    Parameters
    ----------
    model : Module
        A Sequential (nested ones too) of registered layers, or one layer.
    path : str or PathLike
        Where to write; the suffix is up to you (``.glassnet`` is suggested).
        An existing file is replaced only once the new one is complete.
    metadata : dict, optional
        JSON-able information to keep with the model (training settings,
        class names, scores ...).
    arrays : dict of str -> np.ndarray, optional
        Extra arrays to keep with it (e.g. the input standardisation).

    Raises
    ------
    ConfigError
        A layer is not registered, its ``get_config()`` cannot rebuild it,
        or the metadata is not JSON-able.

    Examples
    --------
    >>> import tempfile, os, numpy as np, glassnet as gn
    >>> model = gn.nn.Sequential(gn.nn.Dense(3, 2), gn.nn.ReLU(), seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.glassnet")
    >>> gn.save(model, path)
    >>> again = gn.load(path)
    >>> x = np.ones((1, 3))
    >>> bool((again(x).data == model(x).data).all())
    True
    """
    content, tensors = model_content(model)
    content["metadata"] = {} if metadata is None else _json_dict("metadata", metadata)
    content["arrays"] = {}
    for name, arr in ({} if arrays is None else arrays).items():
        if not isinstance(name, str):
            raise ConfigError(f"save: array names must be strings; got {name!r}.")
        arr = np.asarray(arr)
        content["arrays"][name] = {"dtype": arr.dtype.name, "shape": list(arr.shape)}
        tensors[EXTRA + name] = arr
    data = container.to_bytes("glassnet.model", content, tensors, glassnet_version())
    container.atomic_write(path, data)


def load(path, *, max_bytes: int = container.MAX_BYTES):
    """Read a model written by :func:`save` (or the model inside a checkpoint).

    Nothing in the file is executed: the architecture is data, each layer
    type must be registered, and every tensor's name, dtype and shape is
    checked against the architecture before anything is built. Files larger
    than ``max_bytes`` (1 GiB by default) are refused before reading.

    Raises
    ------
    FormatError
        The file is not a glassnet file, is corrupted, names an unknown layer
        or format version, or its tensors do not fit its architecture.
    OSError
        The file cannot be opened.
    """
    return read(path, max_bytes=max_bytes).model


def read(path, *, max_bytes: int = container.MAX_BYTES) -> ModelFile:
    """Like :func:`load`, but also return the metadata and extra arrays."""
    box = container.read(path, max_bytes)
    where = os.fspath(path)
    content = box.content
    if box.kind == "glassnet.checkpoint":
        model = checkpoint.from_container(where, box).model
        return ModelFile(model, {}, {}, box.glassnet_version, box.kind)
    check_keys(where, content, {"model", "dtype", "metadata", "arrays"})
    if not isinstance(content["metadata"], dict):
        raise FormatError(f"{where}: 'metadata' must be an object.")
    declared = content["arrays"]
    if not isinstance(declared, dict):
        raise FormatError(f"{where}: 'arrays' must be an object.")
    wanted = {}
    for name, spec in declared.items():
        if not (
            isinstance(spec, dict)
            and set(spec) == {"dtype", "shape"}
            and isinstance(spec["dtype"], str)
            and isinstance(spec["shape"], list)
        ):
            raise FormatError(
                f"{where}: array '{name[:40]}' must declare dtype and shape."
            )
        wanted[EXTRA + name] = (spec["dtype"], tuple(spec["shape"]))
    for name, (dtype, shape) in wanted.items():
        entry = box.table.get(name)
        if entry is None or entry.dtype.name != dtype or entry.shape != shape:
            got = "nothing" if entry is None else f"{entry.dtype.name} {entry.shape}"
            raise FormatError(
                f"{where}: array '{name}' should be {dtype} {shape}; the "
                f"file holds {got}."
            )
    model, tensors = restore_model(
        where, content, box, extra=lambda name: name in wanted
    )
    arrays = {
        name[len(EXTRA) :]: arr for name, arr in tensors.items() if name in wanted
    }
    return ModelFile(model, content["metadata"], arrays, box.glassnet_version, box.kind)


def check_metadata(where: str, metadata: dict, arrays: dict) -> None:
    """Check the metadata keys glassnet's own commands read (``evaluate``,
    ``predict``, ``inspect``), so a file with wrong-typed ones fails with a
    FormatError here and not deep inside a command.

    ``input_shape`` (one sample's shape, within the limits of
    ``glassnet._validate.LIMITS``), ``classes`` (names or numbers),
    ``standardize`` (true needs float arrays ``standardize.mean`` and
    ``standardize.scale`` of the input's shape), ``scores`` ({part: {name:
    number}}) and ``trained_with`` ({"config": str, "train": {...},
    "data": {...}}; the data section is checked where it is used). Other keys
    are the caller's own and are not looked at.
    """

    def bad(key, expected, value):
        raise FormatError(
            f"{where}: metadata {key} must be {expected}; got {str(value)[:60]}."
        )

    shape = metadata.get("input_shape")
    if shape is not None:
        if not (
            isinstance(shape, list)
            and 1 <= len(shape) <= LIMITS["sample_axes"]
            and all(_is_int(s) and s >= 1 for s in shape)
        ):
            bad("input_shape", "a list of 1 to 8 positive integers", shape)
        try:
            check_limit(
                where, "metadata input_shape's size", math.prod(shape), "sample_values"
            )
        except ConfigError as e:
            raise FormatError(str(e)) from None
    classes = metadata.get("classes")
    if classes is not None and not (
        isinstance(classes, list)
        and len(classes) <= LIMITS["vocabulary"]
        and all(isinstance(c, str) or _is_int(c) for c in classes)
    ):
        bad("classes", "a list of names or integers", classes)
    standardize = metadata.get("standardize", False)
    if not isinstance(standardize, bool):
        bad("standardize", "true or false", standardize)
    if standardize:
        stats = [arrays.get(f"standardize.{k}") for k in ("mean", "scale")]
        if any(a is None or a.dtype.kind != "f" for a in stats) or (
            stats[0].shape != stats[1].shape
            or (shape is not None and stats[0].shape != tuple(shape))
        ):
            bad(
                "standardize",
                "false unless the file holds float arrays standardize.mean "
                "and standardize.scale of the input's shape",
                standardize,
            )
    scores = metadata.get("scores", {})
    if not (
        isinstance(scores, dict)
        and all(
            isinstance(part, dict) and all(_is_real(v) for v in part.values())
            for part in scores.values()
        )
    ):
        bad("scores", "{part: {metric: number}}", scores)
    trained = metadata.get("trained_with", {})
    if not isinstance(trained, dict):
        bad("trained_with", "an object", trained)
    train = trained.get("train", {})
    if not isinstance(train, dict):
        bad("trained_with.train", "an object", train)
    if not isinstance(train.get("loss", ""), (str, type(None))):
        bad("trained_with.train.loss", "a loss name", train["loss"])
    metrics = train.get("metrics")
    if metrics is not None and not (
        isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)
    ):
        bad("trained_with.train.metrics", "a list of names", metrics)
    if not isinstance(trained.get("config", ""), str):
        bad("trained_with.config", "a file name", trained["config"])
    data = trained.get("data", {})
    if not isinstance(data, dict):
        bad("trained_with.data", "an object", data)
    for part in ("train", "test"):
        if not isinstance(data.get(part, {}), dict):
            bad(f"trained_with.data.{part}", "an object", data[part])


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_dict(what: str, value) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"save: {what} must be a dict; got {type(value).__name__}.")
    text = container.dumps(value)
    if container.nesting_depth(text) > container.MAX_DEPTH - 2:
        raise ConfigError(
            f"save: {what} nests deeper than {container.MAX_DEPTH - 2} levels."
        )
    return value
