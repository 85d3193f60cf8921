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
}

_CTYPES = {"gn_int": ctypes.c_int64, "double": ctypes.c_double, "int": ctypes.c_int}
_SUFFIXES = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def native_dtype(dtype) -> str | None:
    """The C suffix for ``dtype`` ("f32", "f64"), or None when there is no C version."""
    return _SUFFIXES.get(dtype)


def library(function: str) -> str:
    """The library (``_native/NAME.c``) that defines ``function``."""
    return FUNCTIONS[function][0]


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
