"""A recording of kernel calls as a program for ``step.c``'s ``gn_step_run``.

:func:`glassnet.kernels.recording` writes down the kernel calls of an eager
training step; :func:`program` translates them, call by call, into the
records ``gn_step_run`` executes (opcodes and record layout from
:mod:`glassnet.kernels._abi`): each record an opcode, six buffer addresses
and five sizes. The buffers are the recorded arrays themselves, which the
caller keeps alive. The fused cross-entropy record computes the mean loss
and d(mean loss)/dz, so the ``mean`` and ``mean_backward`` calls need none.
"""

from __future__ import annotations

import numpy as np

from ._abi import OPCODES, STEP_RECORD

_SKIP = ("cross_entropy", "mean", "mean_backward")  # in the fused record


def _address(a) -> int:
    return 0 if a is None else a.ctypes.data


def program(tape: list, labels: np.ndarray) -> np.ndarray | None:
    """The (records, STEP_RECORD) int64 program of ``tape``, or None if it has a
    kernel ``step.c`` does not know. ``labels`` is the int64 labels buffer."""
    records, y_of, ce = [], {}, None
    for call in tape:
        a, op = call.bound.arguments, call.kernel.name
        if op == "linear":
            rec = (
                "LINEAR_FWD",
                [a["x"], a["w"], a.get("b"), a["out"]],
                [len(a["x"]), *a["w"].shape],
            )
        elif op in ("sigmoid", "tanh", "relu"):
            if op == "relu":  # its backward reads the mask; step.c reads y
                y_of[id(a["mask"])] = a["out"]
            rec = (f"{op.upper()}_FWD", [a["x"], a["out"]], [a["out"].size])
        elif op in ("sigmoid_backward", "tanh_backward", "relu_backward"):
            y = y_of[id(a["mask"])] if "mask" in a else a.get("s", a.get("y"))
            rec = (f"{op[:-9].upper()}_BWD", [a["g"], y, a["out"]], [y.size])
        elif op == "linear_backward":
            rec = (
                "LINEAR_BWD",
                [a["x"], a["g"], a["w"], a["dw"], a.get("db"), a.get("dx")],
                [len(a["x"]), *a["w"].shape],
            )
        elif op == "cross_entropy_backward":
            rec = ("CROSS_ENTROPY", [ce["z"], labels, a["out"]], list(ce["z"].shape))
        elif op in _SKIP:
            ce = a if op == "cross_entropy" else ce
            continue
        else:
            return None
        code, arrays, sizes = rec
        records.append(
            [
                OPCODES[f"OP_{code}"],
                *map(_address, arrays),
                *[0] * (6 - len(arrays)),
                *sizes,
                *[0] * (5 - len(sizes)),
            ]
        )
    program = np.array(records, np.int64)
    assert program.shape[1] == STEP_RECORD  # the table and this layout agree
    return program
