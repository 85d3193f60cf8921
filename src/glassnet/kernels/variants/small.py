"""One compiled call for a small array's sigmoid, cross-entropy or SGD step.

On small arrays the cost of a kernel is its NumPy calls, not its arithmetic:
the reference sigmoid is four ufunc calls and an ``np.errstate`` (3.5 µs for
W1's 32 x 32 hidden layer), the cross-entropy eight calls (5 µs for 32 x 10
logits), an SGD step two calls and the lookups around them per parameter.
``_native/small.c`` does each in one loop and is called as a Python function
(no ctypes call, no address objects): 0.1-0.3 µs plus the loop. Used for
float32, C-contiguous arrays of at most ``SMALL_MAX`` numbers (larger ones
go to the references, or to the threaded variants beside them).

Agreement: sigmoid and the cross-entropy's forward to float32 rounding
(common.h's e^x and the C library's log, not NumPy's; the sums of a row in
order); the backward passes and SGD bit for bit (the references' arithmetic,
in their order; SGD is optim.c's rule and flushes subnormal results to 0).
"""

from __future__ import annotations

import numpy as np

from ... import _native
from .. import variant

#: Largest array (in numbers) these variants take; above it NumPy's own
#: vector loops and the threaded variants win.
SMALL_MAX = 1 << 15
#: Classes at most for the cross-entropy: its row maxima and sums go along each
#: row, which NumPy's reference (across rows, see kernels.loss) outruns beyond:
#: 32 x 10 logits 5.2 -> 1.6 µs, 128 x 10 7.1 -> 3.7, 32 x 32 6.6 -> 2.8,
#: but 256 x 65 29 -> 32 (this Sapphire Rapids machine).
CE_MAX_CLASSES = 32
F32, INTP = np.dtype(np.float32), np.dtype(np.intp)


def _functions() -> dict:
    """small.c's functions ({} when the library is off or does not build)."""
    return _native.python_functions("small") or {}


def _ok(a, size, dtype=F32) -> bool:
    """``a`` is None (a buffer not given) or an array small.c can take as is."""
    return a is None or (
        a.__class__ is np.ndarray
        and a.dtype is dtype
        and a.size == size
        and a.flags.c_contiguous
    )


def _small(x) -> bool:
    return (
        x.__class__ is np.ndarray
        and x.dtype is F32
        and 0 < x.size <= SMALL_MAX
        and x.flags.c_contiguous
        and "sigmoid" in _functions()
    )


@variant(
    "sigmoid",
    agreement="rounding",
    rtol=1e-6,
    atol=1e-37,
    first=True,
    applies=lambda x, out=None: _small(x) and _ok(out, x.size),
)
def sigmoid_small(x, out=None):
    """small.c: σ(x) = 1 / (1 + e^−x) in one loop (common.h's gn_sigmoidf)."""
    out = np.empty(x.shape, F32) if out is None else out
    _functions()["sigmoid"](x, out, x.size)
    return out


@variant(
    "sigmoid_backward",
    first=True,
    applies=lambda g, s, out=None, work=None: (
        _small(g) and _ok(s, g.size) and s.shape == g.shape and _ok(out, g.size)
    ),
)
def sigmoid_backward_small(g, s, out=None, work=None):
    """small.c: g · s(1 − s), the reference's arithmetic in one loop."""
    out = np.empty(g.shape, F32) if out is None else out
    _functions()["sigmoid_backward"](g, s, out, g.size)
    return out


def _ce_applies(z, labels, losses=None, e=None, total=None, shift=None, picked=None,
                flat=None):  # fmt: skip
    if not (_small(z) and z.ndim == 2 and z.shape[1] <= CE_MAX_CLASSES):
        return False
    m = z.shape[0]
    return (
        _ok(labels, m, INTP)
        and labels.ndim == 1
        and _ok(losses, m)
        and _ok(e, z.size)
        and _ok(total, m)
        and _ok(flat, m, INTP)
    )


@variant("cross_entropy", agreement="rounding", rtol=2e-6, atol=2e-6, first=True,
         applies=_ce_applies)  # fmt: skip
def cross_entropy_small(z, labels, losses=None, e=None, total=None, shift=None,
                        picked=None, flat=None):  # fmt: skip
    """small.c: each row's maximum, e^(z − max), their sum and the loss in one
    loop over the rows; an out-of-range label raises IndexError as NumPy's
    ``take`` does in the reference."""
    m, c = z.shape
    losses = np.empty(m, F32) if losses is None else losses
    e = np.empty((m, c), F32) if e is None else e
    total = np.empty(m, F32) if total is None else total
    flat = np.empty(m, INTP) if flat is None else flat
    bad = _functions()["cross_entropy"](z, labels, losses, e, total, flat, m, c)
    if bad >= 0:
        raise IndexError(
            f"index {labels[bad]} is out of bounds for the {c} classes (row {bad})"
        )
    return losses, e, total, flat


def _ce_backward_applies(e, total, flat, dl, out=None, factor=None) -> bool:
    if not (_small(e) and e.ndim == 2):
        return False
    m = e.shape[0]
    return (
        _ok(total, m)
        and total.ndim == 1
        and _ok(flat, m, INTP)
        and dl.__class__ is np.ndarray
        and dl.dtype is F32
        and dl.flags.c_contiguous
        and dl.shape in ((m, 1), (1, 1))
        and _ok(out, e.size)
    )


@variant("cross_entropy_backward", first=True, applies=_ce_backward_applies)
def cross_entropy_backward_small(e, total, flat, dl, out=None, factor=None):
    """small.c: e · (dl / total) by rows, then dl taken from each label's entry:
    the reference's arithmetic."""
    out = np.empty(e.shape, F32) if out is None else out
    _functions()["cross_entropy_backward"](
        e, total, flat, dl, out, *e.shape, dl.shape[0]
    )
    return out


def _sgd_applies(data, grad, buf, lr, momentum, *rest, **kw) -> bool:
    # momentum without a buffer is the caller's error: the reference says so
    return (
        _small(data)
        and _ok(grad, data.size)
        and _ok(buf, data.size)
        and (buf is not None or not momentum)
    )


@variant("sgd", applies=_sgd_applies)
def sgd_small(data, grad, buf, lr, momentum, weight_decay, nesterov, work=None,
              work2=None):  # fmt: skip
    """small.c: optim.c's SGD rule on one thread (the same bits as the reference,
    subnormal results flushed to 0)."""
    _functions()["sgd"](data, grad, data if buf is None else buf, data.size, lr, momentum,
                weight_decay, nesterov)  # fmt: skip


def _after(name: str, fn, *args, **kwargs):
    """Kernel ``name`` by the first variant after ``fn`` that takes these
    arguments, else its reference."""
    from .. import registry

    kernel = registry()[name]
    later = kernel.variants[[v.fn for v in kernel.variants].index(fn) + 1 :]
    for v in later:
        if (not v.min_size or args[0].size >= v.min_size) and v.available(
            *args, **kwargs
        ):
            return v.fn(*args, **kwargs)
    return kernel.reference(*args, **kwargs)


@variant(
    "sgd_foreach",
    first=True,
    applies=lambda data, *rest, **kw: data.__class__ is list and "sgd" in _functions(),
)
def sgd_foreach_small(data, grad, buf, lr, momentum, weight_decay, nesterov,
                      work=None, work2=None):  # fmt: skip
    """small.c: optim.c's SGD rule on each array, in one call, when all are
    float32 and C-contiguous and hold at most ``SMALL_MAX`` numbers together;
    else the next variant (the threaded one) or the reference."""
    if _functions()["sgd_foreach"](data, grad, buf, lr, momentum, weight_decay, nesterov,
                           SMALL_MAX):  # fmt: skip
        _after("sgd_foreach", sgd_foreach_small, data, grad, buf, lr, momentum,
               weight_decay, nesterov, work, work2)  # fmt: skip
