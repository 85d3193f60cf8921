"""What model files and checkpoints share: a model's content, and the model back.

Private to :mod:`glassnet.io`. A model file (:mod:`glassnet.io.model`) and a
checkpoint (:mod:`glassnet.io.checkpoint`) both hold ``{"model": <architecture>,
"dtype": ...}`` plus the parameters as tensors; this module writes that part
(:func:`model_content`) and reads it back, checked (:func:`restore_model`).
Each file kind's own keys are checked by its own module.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, FormatError, GlassnetError
from . import container, registry

FLOAT_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}


def model_content(model) -> tuple[dict, dict]:
    """({"model": architecture, "dtype": ...}, {parameter name: array}), checked so
    that loading it back gives the same parameters."""
    from ..nn.module import Module

    if not isinstance(model, Module):
        raise ConfigError(
            f"save: expected a glassnet model (a Module); got {type(model).__name__}."
        )
    desc = registry.describe(model)
    container.dumps(desc)  # configs must be JSON values
    params = dict(model.named_parameters())
    dtypes = {p.dtype for p in params.values()}
    dtypes |= {b.dtype for _, b in model.named_buffers()}
    if len(dtypes) > 1:
        raise ConfigError(
            f"save: the parameters mix dtypes {sorted(map(str, dtypes))}; "
            "use model.astype(np.float32) or float64 first."
        )
    dtype = dtypes.pop() if dtypes else np.dtype(np.float32)
    if dtype.name not in FLOAT_DTYPES:
        raise ConfigError(f"save: parameters must be float32 or float64; got {dtype}.")
    actual = tensor_shapes(model)
    try:  # the checks load will make, made now, so a saved model always loads
        expected = registry.expected_parameters(desc, "save")
        if expected is None:
            expected = tensor_shapes(registry.build(desc, "save"))
    except FormatError as e:
        raise ConfigError(str(e)) from None
    if expected != actual:
        raise ConfigError(
            "save: rebuilding this model from its configuration would give parameters "
            f"{_diff(expected, actual)}; a layer's get_config() is incomplete, or one "
            "layer object is used twice (model files cannot share layers)."
        )
    tensors = {n: p.data for n, p in params.items()} | dict(model.named_buffers())
    return {"model": desc, "dtype": dtype.name}, tensors


def tensor_shapes(model) -> dict:
    """{name: shape} of the tensors a file holds for ``model``: its parameters
    and its buffers (BatchNorm's running statistics)."""
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    return {name: t.shape for name, t in tensors.items()}


def restore_model(where: str, content: dict, box, extra) -> tuple:
    """Check the tensor table against the architecture, then build and fill the model.

    ``extra(name)`` says which other tensors the caller expects (they are
    returned, decoded, with the parameters).
    """
    dtype = (
        FLOAT_DTYPES.get(content["dtype"])
        if isinstance(content["dtype"], str)
        else None
    )
    if dtype is None:
        raise FormatError(
            f"{where}: dtype must be 'float32' or 'float64'; got "
            f"{str(content['dtype'])[:20]!r}."
        )
    desc = content["model"]
    expected = registry.expected_parameters(desc, where)
    in_file = {n: e for n, e in box.table.items() if not extra(n)}
    if expected is not None:
        _check_tensors(where, expected, in_file, dtype)
    model = registry.build(desc, where)
    if dtype != np.float32:
        model.astype(dtype)
    actual = tensor_shapes(model)
    if expected is None:
        _check_tensors(where, actual, in_file, dtype)
    elif actual != expected:  # a registration's param_shapes disagrees with its layer
        raise FormatError(
            f"{where}: the rebuilt model's parameters "
            f"{_diff(expected, actual)} differ from its registration's "
            "param_shapes; fix the registration."
        )
    tensors = box.tensors()
    try:
        model.load_state_dict({n: tensors[n] for n in actual})
    except GlassnetError as e:
        raise FormatError(f"{where}: {e}") from None
    return model, tensors


def _check_tensors(where: str, expected: dict, in_file: dict, dtype) -> None:
    missing = sorted(set(expected) - set(in_file))
    unexpected = sorted(set(in_file) - set(expected))
    if missing or unexpected:
        raise FormatError(
            f"{where}: the architecture needs tensors it does not hold "
            f"{missing[:5]} or holds tensors it does not need "
            f"{unexpected[:5]}."
        )
    for name, shape in expected.items():
        e = in_file[name]
        if e.shape != tuple(shape):
            raise FormatError(
                f"{where}: tensor '{name}' has shape {e.shape}; the "
                f"architecture says {tuple(shape)}."
            )
        if e.dtype.newbyteorder("=") != dtype:
            raise FormatError(
                f"{where}: tensor '{name}' is {e.dtype.name}; the model is "
                f"{dtype.name}."
            )


def check_keys(where: str, content: dict, keys: set) -> None:
    if set(content) != keys:
        raise FormatError(
            f"{where}: content keys {sorted(content)[:10]} should be {sorted(keys)}."
        )


def _diff(expected: dict, actual: dict) -> str:
    lines = [
        f"{n}: {expected.get(n)} vs {actual.get(n)}"
        for n in sorted(set(expected) | set(actual))
        if expected.get(n) != actual.get(n)
    ]
    return "{" + "; ".join(lines[:4]) + ("; ..." if len(lines) > 4 else "") + "}"


def glassnet_version() -> str:
    from .. import __version__

    return __version__
