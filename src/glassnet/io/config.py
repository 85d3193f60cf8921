"""Run configs: the TOML files ``glassnet train`` reads.

A config names the data, the model, the loss, the optimizer and the epochs::

    [data]
    train = { dataset = "digits", flatten = true }   # or { path = "train.csv", ... }
    test_size = 0.25        # hold this share back for `glassnet evaluate`
    split_seed = 0
    standardize = true      # mean 0, std 1 per feature, measured on the training part

    [model]
    seed = 0
    layers = [
      { type = "Dense", in_features = 64, out_features = 32 },
      { type = "Sigmoid" },
      { type = "Dense", in_features = 32, out_features = 10 },
    ]

    [train]
    loss = "cross_entropy"
    epochs = 30
    batch_size = 32
    seed = 0

    [optimizer]
    type = "adam"
    lr = 0.01

    [output]
    model = "digits.glassnet"

Paths inside ``[data]`` are relative to the config file's folder; output
paths are relative to the current directory. Every key is checked: a
misspelt one is an error that suggests the right spelling.
"""

from __future__ import annotations

import difflib
import inspect
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, FormatError
from ..optim import BY_NAME

SECTIONS = {
    "data": {"train", "test", "test_size", "split_seed", "standardize"},
    "model": {"layers", "seed", "dtype"},
    "train": {
        "loss",
        "epochs",
        "batch_size",
        "seed",
        "metrics",
        "validation_split",
        "clip_norm",
        "shuffle",
        "verbose",
        "log_dir",  # a RunLog store per run in this folder (glassnet dashboard)
    },
    "optimizer": None,  # "type" plus the optimizer's own keyword arguments
    "output": {"model", "checkpoint", "checkpoint_every"},
}
REQUIRED = {
    "data": {"train"},
    "model": {"layers"},
    "train": {"epochs"},
    "output": {"model"},
}
DATASETS = ("digits", "x_and_o")
OPTIMIZERS = BY_NAME


@dataclass
class RunConfig:
    """A checked config. Sections are plain dicts; data paths are absolute."""

    path: str
    data: dict
    model: dict
    train: dict
    optimizer: dict
    output: dict


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ConfigError(
                "reading TOML on Python 3.10 needs the tomli package: pip install tomli"
            ) from None
    return tomllib


def read_config(path) -> RunConfig:
    """Read and check a run config; raise ConfigError naming the file and the key."""
    path = os.fspath(path)
    tomllib = _toml()
    with open(path, "rb") as f:
        try:
            raw = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML ({e}).") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text.") from None
    where = os.path.basename(path)
    _keys(where, "the top level", raw, set(SECTIONS))
    for section, allowed in SECTIONS.items():
        value = raw.get(section, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{section}] must be a table.")
        if allowed is not None:
            _keys(where, f"[{section}]", value, allowed)
        missing = sorted(REQUIRED.get(section, set()) - set(value))
        if missing:
            raise ConfigError(f"{where}: [{section}] needs {', '.join(missing)}.")
    data = check_data(where, raw["data"], os.path.dirname(os.path.abspath(path)))
    model = dict(raw["model"])
    if not isinstance(model["layers"], list) or not model["layers"]:
        raise ConfigError(
            f"{where}: [model] layers must be a non-empty list of tables."
        )
    if model.get("dtype", "float32") not in ("float32", "float64"):
        raise ConfigError(f"{where}: [model] dtype must be 'float32' or 'float64'.")
    if "seed" in model:
        _count(where, "model", "seed", model["seed"], low=0)
    train = dict(raw["train"])
    _count(where, "train", "epochs", train["epochs"])
    _count(where, "train", "batch_size", train.get("batch_size", 32))
    for key in ("seed", "verbose"):
        if key in train:
            _count(where, "train", key, train[key], low=0)
    if "validation_split" in train:
        _number(
            where,
            "train",
            "validation_split",
            train["validation_split"],
            0,
            1,
            open_ends=True,
        )
    if "clip_norm" in train:
        _number(
            where, "train", "clip_norm", train["clip_norm"], 0, math.inf, open_ends=True
        )
    if "shuffle" in train:
        _bool(where, "train", "shuffle", train["shuffle"])
    if "log_dir" in train and not isinstance(train["log_dir"], str):
        raise ConfigError(f"{where}: [train] log_dir must be a folder name.")
    if "metrics" in train and not (
        isinstance(train["metrics"], list)
        and all(isinstance(m, str) for m in train["metrics"])
    ):
        raise ConfigError(f"{where}: [train] metrics must be a list of names.")
    if "loss" in train and not isinstance(train["loss"], str):
        raise ConfigError(
            f"{where}: [train] loss must be a name such as 'cross_entropy'."
        )
    optimizer = dict(raw.get("optimizer", {}))
    kind = optimizer.setdefault("type", "adam")
    if not isinstance(kind, str) or kind.lower() not in OPTIMIZERS:
        raise ConfigError(
            f"{where}: [optimizer] type must be one of "
            f"{', '.join(OPTIMIZERS)}; got {kind!r}."
        )
    _keys(
        where, "[optimizer]", optimizer, {"type", *_arguments(_optimizer_class(kind))}
    )
    output = dict(raw["output"])
    for key in ("model", "checkpoint"):
        if key in output and not isinstance(output[key], str):
            raise ConfigError(f"{where}: [output] {key} must be a file name.")
    if "checkpoint_every" in output:
        _count(where, "output", "checkpoint_every", output["checkpoint_every"])
    return RunConfig(path, data, model, train, optimizer, output)


# --- data -----------------------------------------------------------------------------
def check_data(where: str, data, base: str) -> dict:
    """A checked copy of a [data] section, its paths made absolute (from ``base``).

    Also used on the section a model file recorded, before ``evaluate`` uses it.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: [data] must be a table.")
    _keys(where, "[data]", data, SECTIONS["data"])
    if "train" not in data:
        raise ConfigError(f"{where}: [data] needs train.")
    data = dict(data)
    data["train"] = _source(where, "train", data["train"], base)
    if "test" in data:
        data["test"] = _source(where, "test", data["test"], base)
        if "test_size" in data:
            raise ConfigError(f"{where}: [data] has both test and test_size; use one.")
    if "test_size" in data:
        _number(where, "data", "test_size", data["test_size"], 0, 1, open_ends=True)
    _count(where, "data", "split_seed", data.get("split_seed", 0), low=0)
    _bool(where, "data", "standardize", data.get("standardize", False))
    return data


def _source(where: str, name: str, value, base: str) -> dict:
    """A data source: {dataset = NAME, ...arguments} or {path = FILE, ...options}."""
    if not isinstance(value, dict) or ("dataset" in value) == ("path" in value):
        raise ConfigError(
            f"{where}: [data] {name} must be a table with either dataset = "
            f"one of {list(DATASETS)} or path = a file or folder."
        )
    value = dict(value)
    if "dataset" in value:
        if value["dataset"] not in DATASETS:
            raise ConfigError(
                f"{where}: [data] {name}: unknown dataset "
                f"{value['dataset']!r}; choose one of {list(DATASETS)}."
            )
        allowed = {"dataset", *_arguments(_dataset_function(value["dataset"]))}
    else:
        if not isinstance(value["path"], str):
            raise ConfigError(f"{where}: [data] {name}: path must be a string.")
        value["path"] = os.path.normpath(os.path.join(base, value["path"]))
        allowed = {
            "path",
            "label_column",
            "delimiter",
            "x_key",
            "y_key",
            "size",
            "color",
            "header",
        }
    _keys(where, f"[data] {name}", value, allowed)
    return value


def _dataset_function(name: str):
    from .. import datasets

    return getattr(datasets, name)


def load_source(source: dict):
    """The Dataset a checked source describes (inputs, labels, classes)."""
    from ..data.loaders import load_data

    options = {k: v for k, v in source.items() if k not in ("dataset", "path")}
    if "size" in options and isinstance(options["size"], list):
        options["size"] = tuple(options["size"])
    if "dataset" in source:
        data = _dataset_function(source["dataset"])(**options)
        return data
    return load_data(source["path"], **options)


def split_data(cfg_data: dict):
    """(X_train, y_train, X_test, y_test, classes) as the [data] section says.

    The held-out part is drawn exactly as :func:`glassnet.data.train_test_split`
    draws it, so ``glassnet evaluate`` can draw it again from the same section.
    """
    from ..data.transforms import train_test_split

    train = load_source(cfg_data["train"])
    if train.y is None:
        raise ConfigError("[data] train has no labels; give a label column or y array.")
    X, y = train.X, train.y
    if "test" in cfg_data:
        test = load_source(cfg_data["test"])
        if test.y is None:
            raise ConfigError("[data] test has no labels.")
        return X, y, test.X, test.y, tuple(train.classes)
    if cfg_data.get("test_size"):
        Xtr, Xte, ytr, yte = train_test_split(
            X, y, test_size=cfg_data["test_size"], seed=cfg_data.get("split_seed", 0)
        )
        return Xtr, ytr, Xte, yte, tuple(train.classes)
    return X, y, None, None, tuple(train.classes)


# --- model and optimizer --------------------------------------------------------------
def model_description(where: str, layers: list) -> dict:
    """The layer tables of [model] as an architecture (see glassnet.io.registry)."""
    from . import registry

    out = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise ConfigError(
                f"{where}: [model] layer {i + 1} must be a table with a type."
            )
        config = {k: v for k, v in layer.items() if k != "type"}
        out.append({"type": layer["type"], "config": config})
    desc = {"type": "Sequential", "layers": out}
    try:
        registry.expected_parameters(desc, f"{where}: [model]")
    except FormatError as e:
        raise ConfigError(str(e)) from None
    return desc


def build_model(cfg: RunConfig):
    """The model of [model], with its weights drawn from ``seed``."""
    from . import registry

    where = os.path.basename(cfg.path)
    desc = model_description(where, cfg.model["layers"])
    try:
        model = registry.build(desc, f"{where}: [model]")
    except FormatError as e:
        raise ConfigError(str(e)) from None
    if "seed" in cfg.model:
        model.reset_parameters(cfg.model["seed"])
    if cfg.model.get("dtype", "float32") == "float64":
        model.astype(np.float64)
    return model


def _optimizer_class(kind: str):
    from .. import optim

    return getattr(optim, OPTIMIZERS[kind.lower()])


def build_optimizer(cfg: RunConfig, model):
    """The optimizer of [optimizer] over the model's parameters."""
    options = {
        k: (tuple(v) if isinstance(v, list) else v)
        for k, v in cfg.optimizer.items()
        if k != "type"
    }
    return _optimizer_class(cfg.optimizer["type"])(model, **options)


# --- checks ---------------------------------------------------------------------------
def _arguments(fn) -> set:
    params = list(inspect.signature(fn).parameters.values())
    return {
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in ("self", "params")
    }


def _keys(where: str, section: str, table: dict, allowed: set) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; expected one of {', '.join(sorted(allowed))}."
            )
            raise ConfigError(f"{where}: unknown key {key!r} in {section}{hint}")


def _count(where, section, key, value, low=1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(
            f"{where}: [{section}] {key} must be a whole number >= {low}; "
            f"got {value!r}."
        )


def _number(where, section, key, value, low, high, open_ends=False) -> None:
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and (low < value < high if open_ends else low <= value <= high)
    )
    if not ok:
        raise ConfigError(
            f"{where}: [{section}] {key} must be a number between {low} and "
            f"{high}; got {value!r}."
        )


def _bool(where, section, key, value) -> None:
    if not isinstance(value, bool):
        raise ConfigError(
            f"{where}: [{section}] {key} must be true or false; got {value!r}."
        )
