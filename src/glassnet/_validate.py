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
    if type(value) is int and value > 0:  # the usual case, without the ABC checks
        return
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
            f"{prefix}seed must be an int >= 0, a numpy Generator or None; "
            f"got {seed!r}."
        )
    return np.random.default_rng(int(seed))


def check_number(
    where: str,
    name: str,
    value,
    low: float,
    high: float = math.inf,
    high_open: bool = False,
    low_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real in [low, high] (or
    [low, high) when ``high_open``, (low, ... when ``low_open``); else raise
    ConfigError. A fraction is ``check_number(where, name, value, 0, 1)``."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
        and (value > low if low_open else value >= low)
        and (value < high if high_open else value <= high)
    )
    if not ok:
        bottom = f"({low}" if low_open else f"[{low}"
        top = f"{high})" if high_open or not math.isfinite(high) else f"{high}]"
        raise ConfigError(
            f"{where}: {name} must be a number in {bottom}, {top}; got {value!r}."
        )
    return float(value)


def check_real(where: str, name: str, value, allow_none: bool = False):
    """Return ``value`` as a float if it is a finite real number (or None when
    ``allow_none``); else raise ConfigError."""
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
    ):
        raise ConfigError(f"{where}: {name} must be a finite number; got {value!r}.")
    return float(value)


def check_count(where: str, name: str, value, low: int = 0, below=None) -> int:
    """Return ``value`` as an int if it is an integer >= ``low`` (and < ``below``
    when given); else raise ConfigError."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Integral)
        and value >= low
        and (below is None or value < below)
    )
    if not ok:
        need = "a non-negative integer" if low == 0 else f"an integer of at least {low}"
        limit = f" below {below}" if below is not None else ""
        raise ConfigError(f"{where}: {name} must be {need}{limit}; got {value!r}.")
    return int(value)


def is_count(value) -> bool:
    """True for a non-negative integer (not a bool)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Integral)
        and value >= 0
    )


# --- limits on the sizes a file or config may declare ---------------------------------
# One table, documented in docs/model-files.md ("Limits"). A model file, a
# training config or a data file declares sizes; each is checked here before
# anything of that size is allocated. Each limit sits far above real models.
LIMITS = {
    # every trainable number in one model: 1 GiB at float32, the default size
    # cap of a model file (io.container.MAX_BYTES)
    "parameters": 1 << 28,
    # features, channels, hidden size, embedding dim of one layer (the widest
    # real layers, e.g. GPT-3's 49,152-wide feed-forward, fit)
    "width": 1 << 16,
    # OneHot num_classes, Embedding num_embeddings (real vocabularies: <= 256k);
    # one one-hot row is then at most 4 MiB
    "vocabulary": 1 << 20,
    # kernel_size and stride, per axis (the largest real filters are 31x31 in
    # 2-D and a few hundred taps in 1-D audio front ends)
    "kernel": 1 << 10,
    "stride": 1 << 10,
    # numbers in one sample (metadata input_shape, summary input_shape): a
    # 2048x2048 RGBA image is 2**24; one sample is then at most 64 MiB at float32
    "sample_values": 1 << 24,
    # axes of one sample (and |axis| of a Softmax)
    "sample_axes": 8,
    # num_layers of one stacked recurrent layer (real stacks have a handful)
    "recurrent_layers": 1 << 8,
}
# A convolution's padding (per side) may be at most its kernel_size on that
# axis: a wider padding only adds outputs that see nothing but zeros, and is
# how one file could make a 28x28 input into a 60,000x60,000 activation.


def check_limit(where: str, name: str, value: int, limit: str) -> int:
    """Return ``value`` if it is at most ``LIMITS[limit]``; else raise ConfigError
    naming the limit (callers reading files turn it into a FormatError)."""
    if value > LIMITS[limit]:
        raise ConfigError(
            f"{where + ': ' if where else ''}{name} is {value:,}, more than "
            f"glassnet's limit of "
            f"{LIMITS[limit]:,} ({limit}; see docs/model-files.md, Limits)."
        )
    return value


def missing_extra(what: str, package: str, extra: str) -> str:
    """The sentence for a missing optional dependency, with how to install it.

    glassnet is installed from a checkout or a built wheel (it is not on the
    package index), so the extra is named as ``pip install -e '.[extra]'``.

    >>> print(missing_extra("figures", "matplotlib", "plot"))  # doctest: +ELLIPSIS
    figures need matplotlib, which is not installed: pip install matplotlib, ...
    """
    return (
        f"{what} need {package}, which is not installed: pip install {package}, "
        f"or from a glassnet checkout pip install -e '.[{extra}]' "
        f"(for a built wheel: pip install 'glassnet-*.whl[{extra}]')."
    )


# --- convolution and pooling arguments (conv and pool ops, their layers) -----------


def is_int(v) -> bool:
    """True for an integer (not a bool)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def to_pair(where: str, name: str, value, minimum: int = 1) -> tuple:
    """``value`` (an int or a pair of ints, each >= ``minimum``) as a 2-tuple."""
    pair = (value, value) if is_int(value) else value
    ok = (
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(is_int(v) and v >= minimum for v in pair)
    )
    if not ok:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ConfigError(
            f"{where}: {name} must be a {kind} integer or a pair of them; "
            f"got {value!r}."
        )
    return int(pair[0]), int(pair[1])


def check_padding(where: str, padding, ndim: int = 2):
    """Validate ``padding``: 'valid', 'same', or an int / ``ndim`` ints >= 0."""
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ConfigError(
                f"{where}: padding must be 'valid', 'same' or a number of pixels; "
                f"got {padding!r}."
            )
        return padding
    if ndim == 1:
        if not (is_int(padding) and padding >= 0):
            raise ConfigError(
                f"{where}: padding must be 'valid', 'same' or a non-negative integer; "
                f"got {padding!r}."
            )
        return int(padding)
    return to_pair(where, "padding", padding, minimum=0)


def check_conv_input(
    where: str, x_shape, w_shape, pads, spatial: int, dilation=(1, 1), groups=1
) -> None:
    """Raise ShapeError naming ``where`` when ``x`` cannot be convolved with ``w``."""
    layout = "(batch, channels, time)"
    if spatial == 2:
        layout = "(batch, channels, height, width)"
    if len(x_shape) != spatial + 2:
        hint = ""
        if len(x_shape) == spatial + 1:
            hint = (
                " For a single sample add a batch axis (x[None]); for a batch with "
                "one channel add a channel axis (x[:, None])."
            )
        raise ShapeError(
            f"{where} expected a {spatial + 2}-D input {layout}; got shape "
            f"{shape_str(x_shape)} ({len(x_shape)}-D).{hint}"
        )
    if x_shape[1] != w_shape[1] * groups:
        raise ShapeError(
            f"{where} expected input with {w_shape[1] * groups} channel(s) on axis 1; "
            f"got shape {shape_str(x_shape)}, which has {x_shape[1]}."
        )
    sizes = x_shape[2:]
    filt = [d * (k - 1) + 1 for d, k in zip(dilation[-spatial:], w_shape[2:])]
    padded = [s + p0 + p1 for s, (p0, p1) in zip(sizes, pads[-spatial:])]
    if any(k > p for k, p in zip(filt, padded)):
        k_txt = "x".join(map(str, filt))
        p_txt = "x".join(map(str, padded))
        # "kernel" in the message: the user's word (kernel_size)
        raise ShapeError(
            f"{where}: the {k_txt} kernel does not fit in the padded input, which is "
            f"{p_txt} (input shape {shape_str(x_shape)}, padding "
            f"{tuple(tuple(p) for p in pads[-spatial:])}). Use a smaller kernel, more "
            "padding (e.g. padding='same') or a larger input."
        )


def check_conv_weights(where: str, w, b, spatial: int) -> None:
    """Raise ShapeError when a convolution's weight or bias has the wrong shape."""
    if w.ndim != spatial + 2:
        layout = (
            "(out_channels, in_channels, kh, kw)"
            if spatial == 2
            else "(out_channels, in_channels, k)"
        )
        raise ShapeError(
            f"{where} expected a {spatial + 2}-D weight {layout}; got shape "
            f"{shape_str(w.shape)}."
        )
    if b is not None and b.shape != (w.shape[0],):
        raise ShapeError(
            f"{where} expected a bias of shape ({w.shape[0]},); got "
            f"{shape_str(b.shape)}."
        )


def check_pool_args(where: str, kernel_size, stride, padding) -> tuple:
    """Validated (window, stride, padding) pairs; stride defaults to the window."""
    window = to_pair(where, "kernel_size", kernel_size)
    stride = window if stride is None else to_pair(where, "stride", stride)
    padding = to_pair(where, "padding", padding, minimum=0)
    if padding[0] >= window[0] or padding[1] >= window[1]:
        raise ConfigError(
            f"{where}: padding {padding} must be smaller than kernel_size {window}, so "
            "that every window covers at least one real pixel."
        )
    return window, stride, padding


# --- issue 18: the conv and pooling family -------------------------------------------


def check_groups(where: str, groups, **channels) -> int:
    """``groups`` as an int that divides every channel count given."""
    if not (is_int(groups) and groups >= 1):
        raise ConfigError(
            f"{where}: groups must be a positive integer; got {groups!r}."
        )
    bad = {k: v for k, v in channels.items() if v % groups}
    if bad:
        counts = " and ".join(f"{k} ({v})" for k, v in channels.items())
        raise ConfigError(
            f"{where}: groups={groups} must divide {counts}; each group convolves "
            "in_channels/groups maps into out_channels/groups."
        )
    return int(groups)


def check_output_padding(where: str, output_padding, stride: tuple) -> tuple:
    """``output_padding`` as a pair, each smaller than the stride on its axis."""
    pair = to_pair(where, "output_padding", output_padding, minimum=0)
    if any(q >= s for q, s in zip(pair, stride)):
        raise ConfigError(
            f"{where}: output_padding {pair} must be smaller than the stride "
            f"{stride} on each axis (PyTorch also allows it below the dilation; "
            "glassnet does not, so that the layer stays conv2d's exact adjoint)."
        )
    return pair


def check_pool1d_args(where: str, kernel_size, stride, padding) -> tuple:
    """(window, stride, padding) of a 1-D pool as the (1, k), (1, s), (0, p) pairs
    of 2-D pooling on maps of height 1."""
    for name, v in (("kernel_size", kernel_size), ("stride", stride)):
        if v is not None and not (is_int(v) and v >= 1):
            raise ConfigError(f"{where}: {name} must be a positive integer; got {v!r}.")
    stride = kernel_size if stride is None else stride
    if not (is_int(padding) and 0 <= padding < kernel_size):
        raise ConfigError(
            f"{where}: padding must be an integer from 0 to kernel_size - 1 "
            f"({kernel_size - 1}), so that every window covers a real value; "
            f"got {padding!r}."
        )
    return (1, int(kernel_size)), (1, int(stride)), (0, int(padding))


def check_upsample_args(where, scale_factor, size, mode, align_corners) -> tuple:
    """(scale_factor pair or None, size pair or None, mode, align_corners)."""
    if (scale_factor is None) == (size is None):
        raise ConfigError(
            f"{where}: give exactly one of scale_factor (e.g. 2) and size (e.g. "
            f"(16, 16)); got scale_factor={scale_factor!r}, size={size!r}."
        )
    if mode not in ("nearest", "bilinear"):
        raise ConfigError(
            f"{where}: mode must be 'nearest' or 'bilinear'; got {mode!r}."
        )
    if align_corners and mode == "nearest":
        raise ConfigError(f"{where}: align_corners only applies to mode='bilinear'.")
    scale = (
        None if scale_factor is None else to_pair(where, "scale_factor", scale_factor)
    )
    size = None if size is None else to_pair(where, "size", size)
    return scale, size, mode, bool(align_corners)
