"""The layer registry: which layer types a model file may name, and how to rebuild them.

A model file describes its architecture as data::

    {"type": "Sequential", "layers": [
        {"type": "Dense", "config": {"in_features": 64, "out_features": 32, ...}},
        {"type": "Sigmoid", "config": {}}, ...]}

Loading looks each ``type`` up here, so a file can only ever build layers
that were registered: glassnet's own, and those a user registers with
:func:`register_layer`. ``config`` is the layer's ``get_config()``; only the
constructor's own keyword arguments are accepted.

A registration may also give ``param_shapes(config) -> {name: shape}``: the
parameters a layer with that config would have. With it, a file's tensors
are checked against its architecture *before* any layer is built, so a
hostile file cannot make the loader allocate a layer larger than the file.
glassnet's layers all have one (below); for a custom layer without one, the
layer is built first and compared afterwards.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from .._validate import check_limit
from ..errors import ConfigError, FormatError
from ..nn.module import Module, Sequential

MAX_LAYERS = 10_000
MAX_NESTING = 16
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class LayerSpec:
    """A registered layer type."""

    name: str
    cls: type
    arguments: tuple  # constructor keywords a file may set
    param_shapes: Callable | None


_REGISTRY: dict[str, LayerSpec] = {}


def register_layer(
    cls, *, name: str | None = None, param_shapes=None, replace: bool = False
):
    """Allow model files to hold layers of class ``cls`` (usable as a decorator).

    Parameters
    ----------
    cls : type
        A :class:`~glassnet.nn.Module` subclass whose ``get_config()``
        returns the constructor arguments that rebuild it, as JSON values.
    name : str, optional
        The type name written in files (default ``cls.__name__``).
    param_shapes : callable, optional
        ``param_shapes(config) -> {parameter name: shape tuple}``. Lets
        ``load`` check a file's tensors before building the layer; raise
        :class:`~glassnet.errors.FormatError` (or ConfigError) for a bad config.
    replace : bool
        Allow re-registering a name that belongs to another class.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.io import register_layer
    >>> @register_layer
    ... class Scale(gn.nn.Module):
    ...     def __init__(self, factor: float = 2.0):
    ...         self.factor = factor
    ...     def forward(self, x):
    ...         return x * self.factor
    ...     def get_config(self):
    ...         return {"factor": self.factor}
    >>> gn.io.unregister_layer("Scale")
    """
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise ConfigError(f"register_layer: expected a Module subclass; got {cls!r}.")
    name = cls.__name__ if name is None else name
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"register_layer: {name!r} is not a valid type name (letters, "
            "digits and _, starting with a letter, at most 64)."
        )
    old = _REGISTRY.get(name)
    if old is not None and old.cls is not cls and not replace:
        raise ConfigError(
            f"register_layer: {name!r} already names {old.cls.__module__}."
            f"{old.cls.__qualname__}; pass replace=True or another name."
        )
    arguments, required = _arguments(cls)
    if required and cls.get_config is Module.get_config:
        raise ConfigError(
            f"register_layer: {cls.__name__} needs arguments {required} but does not "
            "define get_config(); return them from get_config so files can rebuild it."
        )
    if param_shapes is not None and not callable(param_shapes):
        raise ConfigError(
            "register_layer: param_shapes must be a function of the config."
        )
    _REGISTRY[name] = LayerSpec(name, cls, arguments, param_shapes)
    return cls


def unregister_layer(name: str) -> None:
    """Forget a registered type name (glassnet's own layers included)."""
    _REGISTRY.pop(name, None)


def registered_layers() -> dict:
    """Type name -> class, for every layer a model file may hold."""
    return {name: spec.cls for name, spec in _REGISTRY.items()}


def _arguments(cls) -> tuple[tuple, list]:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    named = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in ("seed", "rng")
    ]
    required = [p.name for p in named if p.default is p.empty]
    return tuple(p.name for p in named), required


def _spec_of(module) -> LayerSpec:
    for spec in _REGISTRY.values():
        if type(module) is spec.cls:
            return spec
    raise ConfigError(
        f"{type(module).__name__} is not a registered layer, so it cannot be saved; "
        f"call glassnet.io.register_layer({type(module).__name__}) first."
    )


# --- model -> description -------------------------------------------------------------
def describe(module, depth: int = 0) -> dict:
    """The architecture of ``module`` as JSON-able data (types and configs)."""
    if depth > MAX_NESTING:
        raise ConfigError(
            f"models nested deeper than {MAX_NESTING} levels cannot be saved."
        )
    if type(module) is Sequential:
        return {
            "type": "Sequential",
            "layers": [describe(m, depth + 1) for m in module],
        }
    spec = _spec_of(module)
    config = module.get_config()
    if not isinstance(config, dict):
        raise ConfigError(
            f"{type(module).__name__}.get_config() must return a dict; got "
            f"{type(config).__name__}."
        )
    unknown = sorted(set(config) - set(spec.arguments))
    if unknown:
        raise ConfigError(
            f"{type(module).__name__}.get_config() returned {unknown}, which "
            f"are not arguments of its constructor {list(spec.arguments)}."
        )
    return {"type": spec.name, "config": config}


# --- description -> checks and model --------------------------------------------------
def expected_parameters(desc, where: str) -> dict | None:
    """{parameter name: shape} the description implies, without building anything.

    None when some layer has no ``param_shapes`` (it must be built to know).
    Also checks every type name and config key, so a bad file fails here.
    """
    shapes: dict = {}
    count = [0]
    known = _walk(desc, "", shapes, count, where, 0)
    total = sum(math.prod(shape) for shape in shapes.values())
    try:
        check_limit(where, "the number of parameters", total, "parameters")
    except ConfigError as e:
        raise FormatError(str(e)) from None
    return shapes if known else None


def _walk(desc, prefix, shapes, count, where, depth) -> bool:
    if depth > MAX_NESTING:
        raise FormatError(f"{where}: layers nested deeper than {MAX_NESTING} levels.")
    count[0] += 1
    if count[0] > MAX_LAYERS:
        raise FormatError(f"{where}: more than {MAX_LAYERS} layers.")
    if not isinstance(desc, dict) or not isinstance(desc.get("type"), str):
        raise FormatError(
            f"{where}: each layer must be an object with a 'type' string."
        )
    kind = desc["type"]
    if kind == "Sequential":
        if sorted(desc) != ["layers", "type"] or not isinstance(desc["layers"], list):
            raise FormatError(
                f"{where}: a Sequential has exactly 'type' and a 'layers' list."
            )
        known = True
        for i, child in enumerate(desc["layers"]):
            known &= _walk(child, f"{prefix}{i}.", shapes, count, where, depth + 1)
        return known
    spec = _REGISTRY.get(kind)
    if spec is None:
        raise FormatError(
            f"{where}: unknown layer type {kind[:64]!r}. Known types: "
            f"{', '.join(sorted(_REGISTRY))}. A custom layer must be registered with "
            "glassnet.io.register_layer before loading."
        )
    if sorted(desc) != ["config", "type"] or not isinstance(desc["config"], dict):
        raise FormatError(
            f"{where}: layer {kind} must have exactly 'type' and a 'config' object."
        )
    unknown = sorted(set(desc["config"]) - set(spec.arguments))
    if unknown:
        raise FormatError(
            f"{where}: {kind} has no argument(s) {unknown}; it takes "
            f"{list(spec.arguments)}."
        )
    if spec.param_shapes is None:
        return False
    try:
        own = spec.param_shapes(desc["config"])
    except (FormatError, ConfigError, TypeError, ValueError) as e:
        raise FormatError(
            f"{where}: layer {prefix.rstrip('.') or kind} ({kind}): {e}"
        ) from None
    for name, shape in own.items():
        shapes[prefix + name] = tuple(shape)
    return True


def build(desc, where: str):
    """The model a (checked) description describes, with freshly drawn weights."""
    if desc["type"] == "Sequential":
        return Sequential(*[build(child, where) for child in desc["layers"]])
    spec = _REGISTRY[desc["type"]]
    try:
        return spec.cls(**desc["config"])
    except (ConfigError, FormatError, TypeError, ValueError, OverflowError) as e:
        raise FormatError(
            f"{where}: cannot build {desc['type']} from "
            f"{str(desc['config'])[:200]}: {e}"
        ) from None


# --- glassnet's own layers ------------------------------------------------------------
# Each function below checks every value of one layer type's config (its type,
# and the size limits of glassnet._validate.LIMITS) and returns the parameters'
# shapes, so a file or config is refused before anything is allocated.
def _int(config, key, default=None, low=1, limit=None) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise FormatError(f"{key} must be an integer >= {low}; got {str(value)[:40]}")
    return value if limit is None else check_limit("", key, value, limit)


def _flag(config, key, default) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise FormatError(f"{key} must be true or false; got {str(value)[:40]}")
    return value


def _pair(config, key, default=None, low=1, limit=None) -> tuple:
    value = config.get(key, default)
    if isinstance(value, list) and len(value) == 2:
        return tuple(_int({key: v}, key, low=low, limit=limit) for v in value)
    return (_int({key: value}, key, low=low, limit=limit),) * 2


def _no_parameters(config) -> dict:
    return {}


def _dense(config) -> dict:
    n_in = _int(config, "in_features", limit="width")
    n_out = _int(config, "out_features", limit="width")
    bias = {"bias": (n_out,)} if _flag(config, "bias", True) else {}
    return {"weight": (n_in, n_out), **bias}


def _conv(spatial: int, transposed: bool = False):
    def shapes(config) -> dict:
        c_in = _int(config, "in_channels", limit="width")
        c_out = _int(config, "out_channels", limit="width")
        if spatial == 2:
            kernel = _pair(config, "kernel_size", limit="kernel")
            stride = _pair(config, "stride", 1, limit="stride")
            dilation = _pair(config, "dilation", 1, limit="kernel")
        else:
            kernel = (_int(config, "kernel_size", limit="kernel"),)
            _int(config, "stride", 1, limit="stride")
            dilation = (_int(config, "dilation", 1, limit="kernel"),)
        groups = _int(config, "groups", 1, limit="width")
        if c_in % groups or c_out % groups:
            raise FormatError(f"groups {groups} must divide {c_in} and {c_out}")
        spans = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
        if transposed:
            _conv_padding(_pair(config, "padding", 0, low=0), spans)
            extra = _pair(config, "output_padding", 0, low=0)
            if any(q >= s for q, s in zip(extra, stride)):
                raise FormatError(f"output_padding {list(extra)} must be < stride")
        else:
            _conv_padding(config.get("padding", 0), spans)
        bias = {"bias": (c_out,)} if _flag(config, "bias", True) else {}
        channels = (c_in, c_out // groups) if transposed else (c_out, c_in // groups)
        return {"weight": (*channels, *kernel), **bias}

    return shapes


def _conv_padding(padding, kernel: tuple) -> None:
    """'valid', 'same', or per-axis zeros no wider than the kernel on that axis."""
    if padding in ("valid", "same"):
        return
    if isinstance(padding, tuple):
        pads = padding
    elif len(kernel) == 1 or not isinstance(padding, list):
        pads = (_int({"padding": padding}, "padding", low=0),) * len(kernel)
    else:
        pads = _pair({"padding": padding}, "padding", low=0)
    if any(p > k for p, k in zip(pads, kernel)):
        raise FormatError(
            f"padding {list(pads)} is wider than kernel_size {list(kernel)}; "
            "glassnet allows at most the kernel's width per side (wider padding "
            "only adds outputs that see nothing but zeros)"
        )


def _pool(config) -> dict:
    _pair(config, "kernel_size", limit="kernel")
    if config.get("stride") is not None:
        _pair(config, "stride", limit="stride")
    _pair(config, "padding", 0, low=0, limit="kernel")
    _flag(config, "ceil_mode", False)
    _flag(config, "count_include_pad", False)
    return {}


def _pool1d(config) -> dict:
    _int(config, "kernel_size", limit="kernel")
    if config.get("stride") is not None:
        _int(config, "stride", limit="stride")
    _int(config, "padding", 0, low=0, limit="kernel")
    _flag(config, "ceil_mode", False)
    _flag(config, "count_include_pad", False)
    return {}


def _resize(config) -> dict:
    """AdaptiveAvgPool2D's output_size; Upsample's scale_factor or size, mode."""
    for key, limit in (("output_size", "width"), ("size", "width")):
        if config.get(key) is not None:
            _pair(config, key, limit=limit)
    if config.get("scale_factor") is not None:
        _pair(config, "scale_factor", limit="stride")
    if config.get("mode", "nearest") not in ("nearest", "bilinear"):
        raise FormatError(
            f"mode must be 'nearest' or 'bilinear'; got {config['mode']!r}"
        )
    _flag(config, "align_corners", False)
    return {}


def _recurrent(gates: int, bias_hn: bool = False):
    def shapes(config) -> dict:
        n_in = _int(config, "input_size", limit="width")
        hidden = _int(config, "hidden_size", limit="width")
        _flag(config, "return_sequences", True)
        _flag(config, "stateful", False)
        layers = _int(config, "num_layers", 1, limit="recurrent_layers")
        directions = 2 if _flag(config, "bidirectional", False) else 1
        p = config.get("dropout", 0.0)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise FormatError(f"dropout must be a number in [0, 1); got {str(p)[:40]}")
        out = {}
        for layer in range(layers):
            for d in range(directions):
                sfx = ("" if layer == 0 else f"_l{layer}") + ("_reverse" if d else "")
                width = n_in if layer == 0 else directions * hidden
                out["weight_ih" + sfx] = (width, gates * hidden)
                out["weight_hh" + sfx] = (hidden, gates * hidden)
                out["bias" + sfx] = (gates * hidden,)
                if bias_hn:
                    out["bias_hn" + sfx] = (hidden,)
        return out

    return shapes


def _one_hot(config) -> dict:
    _int(config, "num_classes", limit="vocabulary")
    return {}


def _embedding(config) -> dict:
    n = _int(config, "num_embeddings", limit="vocabulary")
    if config.get("padding_idx") is not None:
        _int(config, "padding_idx", low=-n)
    return {"weight": (n, _int(config, "dim", limit="width"))}


def _batch_norm(config) -> dict:
    c = _int(config, "num_features", limit="width")
    affine = {"weight": (c,), "bias": (c,)} if _flag(config, "affine", True) else {}
    return {**affine, "running_mean": (c,), "running_var": (c,)}


def _layer_norm(config) -> dict:
    shape = config.get("normalized_shape")
    shape = shape if isinstance(shape, list) and shape else [shape]
    shape = tuple(_int({"normalized_shape": n}, "normalized_shape") for n in shape)
    check_limit("", "normalized_shape's size", math.prod(shape), "sample_values")
    return (
        {"weight": shape, "bias": shape}
        if _flag(config, "elementwise_affine", True)
        else {}
    )


def _attention(config) -> dict:
    E = _int(config, "embed_dim", limit="width")
    H = _int(config, "num_heads", 1, limit="width")
    if E % H:
        raise FormatError(f"num_heads {H} must divide embed_dim {E}")
    _flag(config, "causal", False)
    bias = _flag(config, "bias", True)
    biases = {"bias_in": (3 * E,), "bias_out": (E,)} if bias else {}
    return {"weight_in": (E, 3 * E), "weight_out": (E, E), **biases}


def _register_builtins() -> None:
    """glassnet's own layers, in one place."""
    from ..nn import activations, conv, dense, embedding, flatten, pool, recurrent

    for cls in (
        activations.Sigmoid,
        activations.Tanh,
        activations.ReLU,
        activations.Identity,
        activations.Softmax,
        activations.Step,
        flatten.Flatten,
        pool.GlobalAveragePool2D,
    ):
        register_layer(cls, param_shapes=_no_parameters)
    register_layer(pool.MaxPool2D, param_shapes=_pool)
    register_layer(pool.AvgPool2D, param_shapes=_pool)
    register_layer(embedding.OneHot, param_shapes=_one_hot)
    register_layer(dense.Dense, param_shapes=_dense)
    register_layer(conv.Conv2D, param_shapes=_conv(2))
    register_layer(conv.Conv1D, param_shapes=_conv(1))
    register_layer(recurrent.RNN, param_shapes=_recurrent(1))
    register_layer(recurrent.LSTM, param_shapes=_recurrent(4))
    register_layer(embedding.Embedding, param_shapes=_embedding)
    from ..nn import dropout, norm

    register_layer(dropout.Dropout, param_shapes=_no_parameters)
    register_layer(norm.BatchNorm1D, param_shapes=_batch_norm)
    register_layer(norm.BatchNorm2D, param_shapes=_batch_norm)
    register_layer(norm.LayerNorm, param_shapes=_layer_norm)
    from ..nn import attention

    register_layer(attention.MultiHeadAttention, param_shapes=_attention)
    # issue 18: the conv and pooling family
    from ..nn import upsample

    register_layer(conv.ConvTranspose2D, param_shapes=_conv(2, transposed=True))
    register_layer(pool.MaxPool1D, param_shapes=_pool1d)
    register_layer(pool.AvgPool1D, param_shapes=_pool1d)
    register_layer(pool.GlobalMaxPool2D, param_shapes=_no_parameters)
    register_layer(pool.AdaptiveAvgPool2D, param_shapes=_resize)
    register_layer(upsample.Upsample, param_shapes=_resize)
    for cls in (
        activations.LeakyReLU,
        activations.ELU,
        activations.SELU,
        activations.GELU,
        activations.SiLU,
        activations.Softplus,
        activations.LogSoftmax,
    ):
        register_layer(cls, param_shapes=_no_parameters)
    register_layer(recurrent.GRU, param_shapes=_recurrent(3, bias_hn=True))


_register_builtins()
