"""An optimizer step for all of a group's parameters in one compiled call.

``sgd_foreach`` and ``adam_foreach`` apply the rules of :mod:`glassnet.kernels.optim`
to lists of arrays. Their references call the one-array kernel once per
parameter: W2's Adam step (six parameters, 270k weights) made six calls,
and the four that are not large each paid some microseconds of Python and
NumPy around a little arithmetic. Here ``_native/optim.c`` runs the same rule,
the same float operations per element, over all the arrays in one call,
split between threads by elements rather than by parameter: the results
are the same bits.
"""

from __future__ import annotations

import ctypes
from itertools import accumulate

import numpy as np

from .. import native, variant
from .._threads import threads_for
from ..optim import PER_THREAD, _adam_settings, _corrections, _scalars

_char = ctypes.c_char.from_buffer


def _address(a: np.ndarray) -> int:
    """Where ``a``'s elements start (a fourth of the time ``a.ctypes.data`` takes)."""
    try:
        return ctypes.addressof(_char(a))
    except (TypeError, ValueError):  # read-only or empty: NumPy's own way
        return a.ctypes.data


def _fits(data, *others) -> bool:
    """Every list as long as ``data``, every array C-contiguous, of data[0]'s
    dtype and the size of its partner in ``data``."""
    dt = data[0].dtype
    return all(a.dtype == dt and a.flags.c_contiguous for a in data) and all(
        len(o) == len(data)
        and all(
            a.dtype == dt and a.size == d.size and a.flags.c_contiguous
            for a, d in zip(o, data)
        )
        for o in others
    )


def _table(*lists) -> tuple:
    """(table, addresses of its parts, elements in all): one int64 array holding
    each list's array addresses in turn, then the start offsets (count + 1)."""
    count = len(lists[0])
    start = [0, *accumulate(a.size for a in lists[0])]
    table = np.array(
        [_address(a) for arrays in lists for a in arrays] + start, np.int64
    )
    base = table.ctypes.data
    return table, [base + 8 * count * i for i in range(len(lists) + 1)], start[-1]


@variant(
    "sgd_foreach",
    uses=("gn_sgd_foreach",),
    applies=lambda data, grad, buf, *rest, **kw: _fits(
        data, grad, *([] if buf is None else [buf])
    ),
)
def sgd_foreach_c(
    data, grad, buf, lr, momentum, weight_decay, nesterov, work=None, work2=None
):
    """_native/optim.c's SGD over every array, one call."""
    lists = (data, grad, data if buf is None else buf)
    table, parts, n = _table(*lists)
    native("gn_sgd_foreach", data[0].dtype)(
        *parts, len(data),
        *(float(s) for s in _scalars(data[0].dtype, lr, momentum, weight_decay)),
        nesterov, threads_for(n, PER_THREAD),
    )  # fmt: skip


@variant(
    "adam_foreach",
    uses=("gn_adam_foreach",),
    applies=lambda data, grad, m, v, *rest, **kw: _fits(data, grad, m, v),
)
def adam_foreach_c(
    data, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, work=None, work2=None
):
    """_native/optim.c's Adam over every array, one call."""
    dtype = data[0].dtype
    settings = _adam_settings(dtype, lr, betas, eps, weight_decay, decoupled)
    step_size, root2 = _corrections(t, lr, betas, dtype)
    table, parts, n = _table(data, grad, m, v)
    native("gn_adam_foreach", dtype)(
        *parts, len(data), *(float(s) for s in settings),
        (2 if decoupled else 1) if weight_decay else 0, float(step_size), float(root2),
        threads_for(n, PER_THREAD),
    )  # fmt: skip
