"""The interface of the compiled kernels, declared once.

Each entry is a C function of ``glassnet/_native``, without its dtype suffix:
its library (the ``.c`` file) and its arguments as ``(C type, name)``, where
``T`` stands for the element type (``float`` for ``_f32``, ``double`` for
``_f64``). The ctypes argument types are derived from this table, so Python
never restates a C signature by hand.
"""

from __future__ import annotations

import ctypes

import numpy as np

#: function -> (library, [(C type, argument name), ...]); every one returns void.
FUNCTIONS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "gn_relu_fwd": (
        "elementwise",
        [("const T *", "x"), ("T *", "out"), ("uint8_t *", "mask"), ("gn_int", "n")],
    ),
    "gn_relu_bwd": (
        "elementwise",
        [
            ("const T *", "g"),
            ("const uint8_t *", "mask"),
            ("T *", "dx"),
            ("gn_int", "n"),
        ],
    ),
    "gn_sgd": (
        "optim",
        [
            ("T *", "data"),
            ("const T *", "grad"),
            ("T *", "buf"),
            ("gn_int", "n"),
            ("double", "lr"),
            ("double", "momentum"),
            ("double", "decay"),
            ("int", "nesterov"),
        ],
    ),
    "gn_adam": (
        "optim",
        [
            ("T *", "data"),
            ("const T *", "grad"),
            ("T *", "m"),
            ("T *", "v"),
            ("gn_int", "n"),
            ("double", "one_minus_beta1"),
            ("double", "beta2"),
            ("double", "one_minus_beta2"),
            ("double", "eps"),
            ("double", "decay"),
            ("int", "mode"),
            ("double", "step_size"),
            ("double", "root2"),
        ],
    ),
    # --- convolution and pooling (_native/conv.c) ---
    "gn_conv_gemm": (  # c = op(a)·op(b) + beta·c, beta 0 or 1
        "conv",
        [
            ("int", "ta"),
            ("int", "tb"),
            ("gn_int", "m"),
            ("gn_int", "n"),
            ("gn_int", "k"),
            ("const T *", "a"),
            ("gn_int", "lda"),
            ("const T *", "b"),
            ("gn_int", "ldb"),
            ("double", "beta"),
            ("T *", "c"),
            ("gn_int", "ldc"),
        ],
    ),
    "gn_conv_unwide": (  # the wide layout's product into (m, o, oh, ow), + bias
        "conv",
        [
            ("const T *", "prod"),
            ("gn_int", "ld"),
            ("T *", "out"),
            ("const T *", "bias"),
            *[("gn_int", name) for name in ("m", "o", "oh", "ow", "first", "step")],
            ("gn_int", "pitch"),
        ],
    ),
    "gn_conv_guard": (  # g (m, o, oh, ow) into the wide layout, zero guard columns
        "conv",
        [
            ("const T *", "g"),
            ("T *", "guarded"),
            *[("gn_int", name) for name in ("ld", "len", "lead", "m", "o", "oh")],
            *[("gn_int", name) for name in ("ow", "first", "step", "pitch")],
        ],
    ),
    "gn_maxpool_fwd": (
        "conv",
        [
            ("const T *", "x"),
            ("T *", "out"),
            ("uint8_t *", "win"),
            *[("gn_int", name) for name in ("planes", "h", "w", "oh", "ow")],
            *[("gn_int", name) for name in ("kh", "kw", "sh", "sw")],
        ],
    ),
    "gn_maxpool_bwd": (
        "conv",
        [
            ("const T *", "g"),
            ("const uint8_t *", "win"),
            ("T *", "dx"),
            *[("gn_int", name) for name in ("planes", "h", "w", "oh", "ow")],
            *[("gn_int", name) for name in ("kh", "kw", "sh", "sw")],
            ("int", "clear"),
            ("int", "add"),
        ],
    ),
    # --- recurrent layers (_native/lstm.c) ---
    "gn_lstm_forward": (
        "lstm",
        [
            *[("gn_int", name) for name in ("steps", "B", "H")],
            ("T *", "S"),
            ("const T *", "Wh"),
            ("T *", "hs"),
            ("T *", "cs"),
            ("T *", "tc"),
        ],
    ),
    "gn_lstm_backward": (
        "lstm",
        [
            *[("gn_int", name) for name in ("steps", "B", "H")],
            *[("const T *", name) for name in ("S", "hs", "cs", "tc", "g", "WhT")],
            *[("T *", name) for name in ("dZ", "dh", "dc", "db")],
            ("const int64_t *", "ids"),
            ("T *", "dWx"),
            ("T *", "dWh"),
        ],
    ),
    "gn_rnn_forward": (
        "lstm",
        [
            *[("gn_int", name) for name in ("steps", "B", "H")],
            ("int64_t", "relu"),
            ("T *", "Z"),
            ("const T *", "Wh"),
            ("T *", "hs"),
        ],
    ),
    "gn_rnn_backward": (
        "lstm",
        [
            *[("gn_int", name) for name in ("steps", "B", "H")],
            ("int64_t", "relu"),
            *[("const T *", name) for name in ("hs", "g", "WhT")],
            *[("T *", name) for name in ("dZ", "dh", "db")],
            ("const int64_t *", "ids"),
            ("T *", "dWx"),
            ("T *", "dWh"),
        ],
    ),
}

_CTYPES = {
    "gn_int": ctypes.c_int64,
    "int64_t": ctypes.c_int64,
    "double": ctypes.c_double,
    "int": ctypes.c_int,
}
_SUFFIXES = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def native_dtype(dtype) -> str | None:
    """The C suffix for ``dtype`` ("f32", "f64"), or None when there is no C version."""
    return _SUFFIXES.get(dtype)


def argtypes(function: str) -> list:
    """The ctypes argument types of ``function``, from the table."""
    return [
        ctypes.c_void_p if "*" in ctype else _CTYPES[ctype]
        for ctype, _ in FUNCTIONS[function][1]
    ]


_signatures: dict = {}


def signature(function: str) -> dict:
    """``{function: argtypes}``, the form :func:`glassnet._native.functions` takes."""
    found = _signatures.get(function)
    if found is None:
        found = _signatures[function] = {function: argtypes(function)}
    return found
