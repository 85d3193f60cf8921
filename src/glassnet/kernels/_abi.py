"""The interface of the compiled kernels, declared once.

Each entry is a C function of ``glassnet/_native``, without its dtype suffix:
its library (the ``.c`` file) and its arguments as ``(C type, name)``, where
``T`` stands for the element type (``float`` for ``_f32``, ``double`` for
``_f64``). The ctypes argument types are derived from this table, so Python
never restates a C signature by hand, and the build generates from it the
header every ``.c`` file includes (:func:`header`), so C cannot drift from it.
"""

from __future__ import annotations

import ctypes
from typing import NamedTuple


class Fn(NamedTuple):
    """One C function: its library, arguments, return type, and whether it comes
    in one version per dtype (``NAME_f32`` with T = float, ``NAME_f64`` with
    T = double) or just one (``NAME``)."""

    library: str
    args: list
    returns: str = "void"
    per_dtype: bool = True


def _one(*arrays) -> list:
    """An optimizer rule's arrays (the second read-only), then n."""
    kinds = ["const T *" if i == 1 else "T *" for i in range(len(arrays))]
    return [*zip(kinds, arrays), ("gn_int", "n")]


def _many(*arrays) -> list:
    """The same as lists of arrays, then start and count."""
    kinds = ["const T *const *" if i == 1 else "T *const *" for i in range(len(arrays))]
    return [*zip(kinds, arrays), ("const gn_int *", "start"), ("gn_int", "count")]


_SGD = [
    *[("double", "lr"), ("double", "momentum"), ("double", "decay")],
    *[("int", "nesterov"), ("int", "threads")],
]
_ADAM = [
    *[("double", name) for name in ("one_minus_beta1", "beta2", "one_minus_beta2")],
    *[("double", "eps"), ("double", "decay"), ("int", "mode")],
    *[("double", "step_size"), ("double", "root2"), ("int", "threads")],
]


#: Every C function Python calls, by name (without the dtype suffix).
FUNCTIONS: dict[str, Fn] = {
    "gn_relu_fwd": Fn(
        "elementwise",
        [("const void *", "x"), ("void *", "out"), ("uint8_t *", "mask")]
        + [("gn_int", "n"), ("gn_int", "threads")],
    ),
    "gn_relu_bwd": Fn(
        "elementwise",
        [("const void *", "g"), ("const uint8_t *", "mask"), ("void *", "dx")]
        + [("gn_int", "n"), ("gn_int", "threads")],
    ),
    "gn_bias_relu": Fn(  # z[r, j] += b[j], then ReLU when relu != 0; in place
        "elementwise",
        [("void *", "z"), ("const void *", "b"), ("gn_int", "rows")]
        + [("gn_int", "cols"), ("int", "relu")],
    ),
    # An optimizer rule on one array (n elements) or, _foreach, on `count`
    # arrays at once (an optimizer step's parameters: array k is elements
    # start[k]..start[k+1]-1 of the whole; start has count + 1 entries).
    "gn_sgd": Fn("optim", [*_one("data", "grad", "buf"), *_SGD]),
    "gn_adam": Fn("optim", [*_one("data", "grad", "m", "v"), *_ADAM]),
    "gn_sgd_foreach": Fn("optim", [*_many("data", "grad", "buf"), *_SGD]),
    "gn_adam_foreach": Fn("optim", [*_many("data", "grad", "m", "v"), *_ADAM]),
    "gn_step_run": Fn(
        "step",
        [("const int64_t *", "program"), ("gn_int", "n"), ("double *", "loss")],
        returns="gn_int",
        per_dtype=False,
    ),
    "gn_expf_array": Fn(
        "step",
        [("const float *", "x"), ("float *", "y"), ("gn_int", "n")],
        per_dtype=False,
    ),
    # --- convolution and pooling (_native/conv.c) ---
    "gn_conv_gemm": Fn(  # c = op(a)·op(b) + beta·c, beta 0 or 1
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
    "gn_conv_unwide": Fn(  # the wide layout's product into (m, o, oh, ow), + bias
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
    "gn_conv_guard": Fn(  # g (m, o, oh, ow) into the wide layout, zero guard columns
        "conv",
        [
            ("const T *", "g"),
            ("T *", "guarded"),
            *[("gn_int", name) for name in ("ld", "len", "lead", "m", "o", "oh")],
            *[("gn_int", name) for name in ("ow", "first", "step", "pitch")],
        ],
    ),
    "gn_maxpool_fwd": Fn(
        "conv",
        [
            ("const T *", "x"),
            ("T *", "out"),
            ("uint8_t *", "win"),
            *[("gn_int", name) for name in ("planes", "h", "w", "oh", "ow")],
            *[("gn_int", name) for name in ("kh", "kw", "sh", "sw")],
            ("gn_int", "threads"),
        ],
    ),
    "gn_maxpool_bwd": Fn(
        "conv",
        [
            ("const T *", "g"),
            ("const uint8_t *", "win"),
            ("T *", "dx"),
            *[("gn_int", name) for name in ("planes", "h", "w", "oh", "ow")],
            *[("gn_int", name) for name in ("kh", "kw", "sh", "sw")],
            ("int", "clear"),
            ("int", "add"),
            ("gn_int", "threads"),
        ],
    ),
    # --- direct convolution (_native/direct.c, kernels/variants/direct.py) ---
    "gn_direct_width": Fn("direct", [], returns="gn_int", per_dtype=False),
    "gn_direct_pack": Fn(  # NCHW -> padded channels-last (n, hp, wp, cp)
        "direct",
        [
            ("const T *", "x"),
            ("T *", "out"),
            *[("gn_int", name) for name in ("n", "c", "h", "w", "hp", "wp", "cp")],
            ("gn_int", "top"),
            ("gn_int", "left"),
            ("gn_int", "threads"),
        ],
    ),
    "gn_direct_fwd": Fn(  # out (n, o, oh, ow) = bias + xp (*) wt
        "direct",
        [
            *[("const T *", name) for name in ("xp", "wt", "bias")],
            ("T *", "out"),
            *[("gn_int", name) for name in ("n", "hp", "wp", "c", "oh", "ow", "o")],
            *[("gn_int", name) for name in ("opad", "kh", "kw", "sh", "sw")],
            ("gn_int", "threads"),
        ],
    ),
    "gn_direct_wgrad": Fn(  # dwt (kh, kw*c, opad) = sum of windows x g
        "direct",
        [
            ("const T *", "xp"),
            ("const T *", "g"),
            ("T *", "dwt"),
            ("T *", "db"),
            *[("gn_int", name) for name in ("n", "hp", "wp", "c", "oh", "ow")],
            ("gn_int", "gh"),
            ("gn_int", "gw"),
            *[("gn_int", name) for name in ("opad", "kh", "kw", "sh", "sw")],
            ("gn_int", "threads"),
        ],
    ),
    # --- recurrent layers (_native/lstm.c) ---
    "gn_lstm_forward": Fn(
        "lstm",
        [
            *[("gn_int", name) for name in ("steps", "B", "H")],
            ("T *", "S"),
            ("const T *", "Wh"),
            ("T *", "hs"),
            ("T *", "cs"),
            ("T *", "tc"),
            ("gn_int", "threads"),
        ],
    ),
    "gn_lstm_backward": Fn(
        "lstm",
        [
            *[("gn_int", name) for name in ("steps", "B", "H")],
            *[("const T *", name) for name in ("S", "hs", "cs", "tc", "g", "WhT")],
            *[("T *", name) for name in ("dZ", "dh", "dc", "db")],
            ("const int64_t *", "ids"),
            ("T *", "dWx"),
            ("T *", "dWh"),
            ("gn_int", "threads"),
        ],
    ),
    "gn_rnn_forward": Fn(
        "lstm",
        [
            *[("gn_int", name) for name in ("steps", "B", "H")],
            ("int64_t", "relu"),
            ("T *", "Z"),
            ("const T *", "Wh"),
            ("T *", "hs"),
        ],
    ),
    "gn_rnn_backward": Fn(
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
    "gn_erf": Fn(  # GELU's erf, which NumPy lacks
        "elementwise", [("const void *", "x"), ("void *", "out"), ("gn_int", "n")]
    ),
    "gn_gru_forward": Fn(
        "lstm",
        [
            *[("gn_int", name) for name in ("steps", "B", "H")],
            ("T *", "S"),
            *[("const T *", name) for name in ("Wh", "bhn")],
            *[("T *", name) for name in ("hs", "hn", "q")],
        ],
    ),
    "gn_gru_backward": Fn(
        "lstm",
        [
            *[("gn_int", name) for name in ("steps", "B", "H")],
            *[("const T *", name) for name in ("S", "hs", "hn", "g", "WhT")],
            *[("T *", name) for name in ("dZ", "dQ", "dh", "db", "dbhn")],
            ("const int64_t *", "ids"),
            ("T *", "dWx"),
            ("T *", "dWh"),
        ],
    ),
    # --- a stack of Dense layers for inference (_native/dense.c) ---
    "gn_dense_stack": Fn(  # y = act(...act(x·W1 + b1)...·WL + bL); *bad: blocks
        "dense",  # of x holding NaN or infinity
        [
            ("const T *", "x"),
            ("T *", "y"),
            ("T *", "scratch"),
            ("gn_int", "rows"),
            ("gn_int", "layers"),
            *[("const int64_t *", name) for name in ("sizes", "params", "relu")],
            ("gn_int", "block"),
            ("gn_int", "room"),  # floats of packed weights per thread (0: none)
            ("gn_int", "threads"),
            ("int64_t *", "bad"),
        ],
    ),
    "gn_dense_linear": Fn(  # y = x·w (+ b), then ReLU if relu; rows over threads
        "dense",
        [
            *[("const T *", name) for name in ("x", "w", "b")],
            ("T *", "y"),
            ("T *", "scratch"),  # w's packed panels (NULL: malloc's), 64-byte aligned
            *[("gn_int", name) for name in ("rows", "k", "n", "relu", "threads")],
        ],
    ),
    # columns per panel of _native/gemm.h's float32 kernel (AVX-512 builds), else 0
    "gn_dense_own_gemm": Fn("dense", [], returns="gn_int", per_dtype=False),
}

#: The operations of a captured step's program (``step.c``'s ``gn_step_run``).
#: A record is STEP_RECORD int64 words: the opcode, six buffer addresses (0 for
#: none), four sizes and a spare word.
OPCODES = {
    "OP_LINEAR_FWD": 1,  # x W b z | batch in out:        z = x·W + b
    "OP_SIGMOID_FWD": 2,  # v y | n:                       y = σ(v)
    "OP_TANH_FWD": 3,  # v y | n:                          y = tanh v
    "OP_RELU_FWD": 4,  # v y | n:                          y = v·[v > 0]
    "OP_CROSS_ENTROPY": 5,  # z labels dz | batch classes: mean loss, dz
    "OP_SIGMOID_BWD": 6,  # g y out | n:                   out = g·y·(1 − y)
    "OP_TANH_BWD": 7,  # g y out | n:                      out = g·(1 − y²)
    "OP_RELU_BWD": 8,  # g y out | n:                      out = g·[y > 0]
    "OP_LINEAR_BWD": 9,  # x g W dW db dx | batch in out:  dW = xᵀg, db = 1ᵀg, dx = gWᵀ
}
STEP_RECORD = 12

_C_TYPES = {"f32": "float", "f64": "double"}


def header() -> str:
    """The C header every kernel file includes (through common.h): the opcodes and
    the prototype of every function above, so a definition that differs from
    this table is a compile error ("conflicting types"), not memory corruption."""
    lines = [
        "/* Generated from glassnet/kernels/_abi.py by the build: do not edit. */",
        "#ifndef GLASSNET_ABI_H",
        "#define GLASSNET_ABI_H",
        f"#define GN_STEP_RECORD {STEP_RECORD}",
        "enum {",
        *(f"    {name} = {code}," for name, code in OPCODES.items()),
        "};",
    ]
    for name, fn in FUNCTIONS.items():
        versions = _C_TYPES.items() if fn.per_dtype else [("", None)]
        for suffix, t in versions:
            typed = [(ctype.replace("T ", f"{t} ") if t else ctype, arg)
                     for ctype, arg in fn.args]  # fmt: skip
            args = ", ".join(f"{c} {a}".replace("* ", "*") for c, a in typed)
            full = f"{name}_{suffix}" if suffix else name
            lines.append(f"{fn.returns} {full}({args});")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


_CTYPES = {
    "gn_int": ctypes.c_int64,
    "int64_t": ctypes.c_int64,
    "double": ctypes.c_double,
    "int": ctypes.c_int,
    "void": None,
}


def library(function: str) -> str:
    """The library (``_native/NAME.c``) that defines ``function``."""
    return FUNCTIONS[function].library


def argtypes(function: str) -> list:
    """The ctypes argument types of ``function``, from the table."""
    return [
        ctypes.c_void_p if "*" in ctype else _CTYPES[ctype]
        for ctype, _ in FUNCTIONS[function].args
    ]


def restype(function: str):
    """The ctypes return type of ``function`` (None for void)."""
    return _CTYPES[FUNCTIONS[function].returns]


_signatures: dict = {}


def signature(function: str) -> dict:
    """``{function: argtypes}``, the form :func:`glassnet._native.functions` takes."""
    found = _signatures.get(function)
    if found is None:
        found = _signatures[function] = {function: argtypes(function)}
    return found
