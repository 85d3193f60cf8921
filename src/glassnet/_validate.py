"""The one home of input checks, so every message reads the same way.

The pattern of every message: name the thing, say what it expected, say what
arrived, and give the fix when it is obvious.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import ConfigError, DataError, DTypeError, ShapeError


def shape_str(shape) -> str:
    """``(32, 64)`` for a tuple shape, with a trailing comma for 1-D: ``(5,)``."""
    return str(tuple(int(s) for s in shape))


def check_ndim(where: str, x, ndim: int, layout: str, hint: str = "") -> None:
    """Raise ShapeError unless ``x.ndim == ndim``; ``layout`` names the axes."""
    if x.ndim != ndim:
        msg = (
            f"{where} expected a {ndim}-D input {layout}; "
            f"got shape {shape_str(x.shape)} ({x.ndim}-D)."
        )
        raise ShapeError(msg + (" " + hint if hint else ""))


def check_axis_size(where: str, x, axis: int, size: int, what: str, hint: str = ""):
    """Raise ShapeError unless ``x.shape[axis] == size``."""
    if x.shape[axis] != size:
        msg = (
            f"{where} expected input whose {what} is {size}; "
            f"got shape {shape_str(x.shape)}."
        )
        raise ShapeError(msg + (" " + hint if hint else ""))


def check_float_dtype(where: str, dtype) -> np.dtype:
    """Return ``dtype`` as float32/float64, or raise DTypeError."""
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise DTypeError(
            f"{where} supports float32 and float64; got {dt}. "
            "Cast with .astype(np.float32)."
        )
    return dt


def check_positive(where: str, name: str, value, integer: bool = False) -> None:
    """Raise ConfigError unless ``value`` is a finite number > 0."""
    kind = numbers.Integral if integer else numbers.Real
    if (
        isinstance(value, bool)
        or not isinstance(value, kind)
        or not np.isfinite(value)
        or value <= 0
    ):
        need = "a positive integer" if integer else "a positive finite number"
        raise ConfigError(f"{where}: {name} must be {need}; got {value!r}.")


def check_finite(where: str, name: str, x: np.ndarray) -> None:
    """Raise DataError if a float array holds NaN or infinity, saying where."""
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))
        first = tuple(int(i) for i in bad[0])
        raise DataError(
            f"{where}: {name} contains {len(bad)} NaN or infinite value(s); "
            f"the first is at index {first} ({x[first]}). "
            "Clean or impute the data before training."
        )


def make_rng(seed=None, where: str = "") -> np.random.Generator:
    """A NumPy Generator from an int seed (>= 0), an existing Generator (used as
    it is), or None (fresh entropy): the one place a seed becomes randomness."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        prefix = f"{where}: " if where else ""
        raise ConfigError(
            f"{prefix}seed must be an int >= 0, a numpy Generator or None; got {seed!r}."
        )
    return np.random.default_rng(int(seed))


def check_number(
    where: str,
    name: str,
    value,
    low: float,
    high: float = math.inf,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real in [low, high] (or
    [low, high) when ``high_open``); else raise ConfigError."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
        and value >= low
        and (value < high if high_open else value <= high)
    )
    if not ok:
        top = f"{high})" if high_open or not math.isfinite(high) else f"{high}]"
        raise ConfigError(
            f"{where}: {name} must be a number in [{low}, {top}; got {value!r}."
        )
    return float(value)


def is_count(value) -> bool:
    """True for a non-negative integer (not a bool)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Integral)
        and value >= 0
    )


def missing_extra(what: str, package: str, extra: str) -> str:
    """The sentence for a missing optional dependency, with how to install it.

    glassnet is installed from a checkout or a built wheel (it is not on the
    package index), so the extra is named as ``pip install -e '.[extra]'``.

    >>> print(missing_extra("figures", "matplotlib", "plot"))  # doctest: +ELLIPSIS
    figures need matplotlib, which is not installed: pip install matplotlib, ...
    """
    return (f"{what} need {package}, which is not installed: pip install {package}, "
            f"or from a glassnet checkout pip install -e '.[{extra}]' "
            f"(for a built wheel: pip install 'glassnet-*.whl[{extra}]').")
