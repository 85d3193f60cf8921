"""A stack of Dense layers for inference in one compiled call (``linear_stack``).

``predict`` on a plain stack of Dense layers (ReLU or no activation) hands the
whole batch to ``_native/dense.c``. On one thread that is each layer's product
on the whole batch (BLAS may thread it), then the bias and ReLU on it. On
more, the batch is cut into blocks of about :data:`BLOCK` rows, about as many
per thread; each thread takes the next block (a thread
whose core is busy elsewhere takes fewer) and runs every layer on it: single-
threaded BLAS products, the bias and ReLU applied to the block while it is in
cache. The threads meet once per call, not at every product and every pass,
and the input check rides on the first layer's bias pass (a row of x with NaN
or infinity makes its row of x·W1 all NaN or infinity).

How many threads: :func:`glassnet.kernels._threads.most_threads`, fewer for a
small batch (:data:`MIN_ROWS`, :data:`WORK_PER_THREAD`). The products are
NumPy's own BLAS (``cblas_sgemm``/``dgemm``) on blocks of rows rather than the
whole batch, cut at whole groups of rows (:data:`ALIGN`); OpenBLAS then sums
each row as in the whole-batch product, so the results are the layers' own,
bit for bit, on any number of threads (tests/test_native_dense.py checks this
for OpenBLAS); the declared agreement is to rounding, which is all another
BLAS would promise.

Except on AVX-512 builds, for float32 weights of :data:`OWN_FROM` numbers or
more: there the product is glassnet's own kernel, ``_native/gemm.h`` (W2's
784x256 and 256x256 layers: 166-171 GFLOP/s on one Sapphire Rapids core
against OpenBLAS's 140-145), and the eager Dense layer (:func:`linear_c`) and
``linear_activation`` use it for the same layers (:func:`own_product`), so
predict still gives the layers' bits (tests/test_native_gemm.py).
"""

from __future__ import annotations

import threading

import numpy as np

from ... import _native
from .. import call, native, variant
from .._buffers import KEEP_BYTES, scratch
from .._threads import most_threads, threads_for

__all__ = [
    "ALIGN", "BLOCK", "MIN_ROWS", "ONE_THREAD_BLOCK", "OWN_FROM", "OWN_K_MAX",
    "WORK_PER_THREAD",
    "Stack", "own_applies", "own_linear", "own_product",
]  # fmt: skip

#: Rows per block at most: each thread takes the next block until none is left.
#: Smaller blocks share the work better when one core is busy elsewhere, but
#: each block packs W anew: on the quiet Xeon of docs/speed.md, W2's batch of
#: 1024 on 2 threads took 2.17 ms in blocks of 512, 2.22 in blocks of 256 and
#: 2.37 in blocks of 128 (best of 8 rounds of 100 calls, taken in turns).
BLOCK = 512
#: Rows per block on one thread: few calls, since each packs W anew (OpenBLAS).
ONE_THREAD_BLOCK = 4096
#: Rows per thread at least (smaller blocks spend their time packing W), and
#: multiply-adds per thread at least (making a thread costs tens of µs). Below
#: either, one thread makes the call and BLAS threads the products itself.
MIN_ROWS = 128
WORK_PER_THREAD = 1 << 22
#: Blocks are cut at whole multiples of this many rows. BLAS kernels take rows
#: in groups (OpenBLAS: up to 16) and sum a group's last, partial one another
#: way, so a block cut inside a group would change some rows' last bits.
ALIGN = 64


#: Weights (k x n) from which a float32 product uses glassnet's own kernel,
#: _native/gemm.h, where the build has it (AVX-512): on W2's 784x256 and
#: 256x256 layers it runs at 166-171 GFLOP/s a core against OpenBLAS's 140-145
#: (docs/speed.md); for smaller weights the ctypes call costs more than it saves.
OWN_FROM = 1 << 15
#: Inner lengths (rows of W) up to which it does: each number is one chain of
#: k multiply-adds, whose rounding grows with k faster than BLAS's blocked
#: sums (k = 4096: 1.7e-5 against 2.6e-6 at most, for terms of size 0.05).
OWN_K_MAX = 1024


def _own_weight(w) -> bool:
    """The weight's half of :func:`own_product` (fixed for a layer)."""
    if not (
        w.size >= OWN_FROM
        and len(w) <= OWN_K_MAX
        and w.dtype == np.float32
        and w.ndim == 2
        and w.flags.c_contiguous
        and w.flags.aligned
    ):
        return False
    return _panel() > 0


def _panel() -> int:
    """Columns per panel of _native/gemm.h's kernel, 0 without it."""
    found = native("gn_dense_own_gemm")
    return 0 if found is None else int(found())


def _packed(w) -> int:
    """Floats of ``w`` copied into gemm.h's panels: its columns rounded up."""
    nr = _panel()
    return len(w) * -(-w.shape[1] // nr) * nr if nr else 0


def _aligned(slot: str, floats: int):
    """A float32 scratch array of ``floats`` starting on a 64-byte line, where
    gemm.h's tile loads packed panels whole (loads split across two lines cost
    W2's first layer some 8%: gemm.h has the figures)."""
    buf = scratch(slot, (floats + 16,), np.float32)
    skip = (-buf.ctypes.data % 64) // 4
    return buf[skip : skip + floats]


_held = threading.local()


def _pack_address(floats: int) -> int:
    """The address of an :func:`_aligned` array of at least ``floats`` numbers,
    kept per thread (the eager layer's product asks on every call, and
    ``scratch`` costs 3 µs a call); 0, C's malloc, beyond ``KEEP_BYTES``."""
    if getattr(_held, "floats", -1) < floats:
        if 4 * floats > KEEP_BYTES:
            return 0
        _held.buf = _aligned("linear_pack", floats)
        _held.floats, _held.at = floats, _held.buf.ctypes.data
    return _held.at


def own_product(x, w) -> bool:
    """True when x·w goes through _native/gemm.h's kernel rather than BLAS.

    Decided by the weight and the arrays' dtypes and layouts, not by the
    number of rows, so that the eager Dense layer (``linear``),
    ``linear_activation`` and predict's stack pick the same product for the
    same layer and give the same bits: the kernel sums each number of x·W in
    one order, whatever the rows around it, while BLAS and this kernel differ
    in the last bits. One exception: a single row stays with BLAS, whose
    vector product takes 12 µs for W2's 784x256 layer against the kernel's 18
    (most of it the call); BLAS sums a vector otherwise than a matrix, so a
    one-row batch never had the bits of the same row inside a larger one.
    """
    return (
        x.dtype == np.float32
        and x.ndim == 2
        and len(x) > 1
        and x.flags.c_contiguous
        and x.flags.aligned
        and _own_weight(w)
    )


def own_linear(x, w, b=None, out=None, relu=False):
    """x·W (+ b), then ReLU if ``relu``, by _native/dense.c's ``gn_dense_linear``
    (W's columns shared between threads); for arrays :func:`own_applies` accepts."""
    rows, (k, n) = len(x), w.shape
    y = np.empty((rows, n), np.float32) if out is None else out
    native("gn_dense_linear", np.dtype(np.float32))(
        x.ctypes.data, w.ctypes.data, 0 if b is None else b.ctypes.data, y.ctypes.data,
        _pack_address(_packed(w)), rows, k, n, bool(relu),
        threads_for(rows * k * n, WORK_PER_THREAD),
    )  # fmt: skip
    return y


def _contiguous32(a, shape=None) -> bool:
    return a is None or (
        a.dtype == np.float32
        and a.flags.c_contiguous
        and a.flags.aligned
        and (shape is None or a.shape == shape)
    )


def own_applies(x, w, b=None, out=None) -> bool:
    """Where the layer's product is gemm.h's, and b and out are arrays it takes.
    The weight's size first: an eager loop's small layers (W1) stop there."""
    return (
        w.size >= OWN_FROM
        and own_product(x, w)
        and _contiguous32(b, (w.shape[1],))
        and _contiguous32(out, (len(x), w.shape[1]))
    )


def _own_variant(name, applies):
    """Register a variant of kernel ``name`` that applies where :func:`own_applies`.

    Without ``uses``: the dispatcher would look the compiled function up on
    every call before asking ``applies``, 2.7 µs a call that W1's eager loop
    (two small Dense layers) paid for nothing; ``applies`` asks for the
    library only once the weight is large enough (:func:`_own_weight`), and
    ``linear_stack_c`` (same library) makes the tests build it. Tried before
    the kernel's other variants: where the layer's product is gemm.h's, BLAS's
    (``linear_activation_c``) would not give the layer's bits."""
    return variant(
        name, agreement="rounding", rtol=1e-5, atol=1e-5, applies=applies, first=True
    )


@_own_variant("linear", own_applies)
def linear_c(x, w, b=None, out=None):
    """The Dense forward through _native/gemm.h's kernel (see :func:`own_product`)."""
    return own_linear(x, w, b, out)


@_own_variant(
    "linear_activation",
    lambda x, w, b=None, activation=None, out=None: own_applies(x, w, b, out),
)
def linear_activation_own(x, w, b=None, activation=None, out=None):
    """``linear_activation`` where the eager layer's product is gemm.h's: bias
    and ReLU in dense.c's pass, sigmoid or tanh the reference's, in place, so
    that predict's layers still give the eager layers' bits."""
    z = own_linear(x, w, b, out, activation == "relu")
    if activation not in ("relu", None):
        call(activation, z, out=z)  # as linear_activation's reference
    return z


def _applies(x, layers) -> bool:
    """ReLU or no activation, contiguous arrays of one dtype; and products that
    NumPy would make with the same BLAS function: NumPy's own BLAS (not the
    loops of _native/common.h), and matrices, not vectors (one row, or one
    column of W, goes to BLAS's matrix-vector product, which sums otherwise)."""
    return _layers_apply(layers, x.dtype) and _batch_applies(x, x.dtype)


def _layers_apply(layers, dt) -> bool:
    """The layers' half of :func:`_applies` (fixed for a model: Stack checks it once)."""
    return bool(
        (_native.sgemm_address() if dt == np.float32 else _native.dgemm_address())
        and all(
            act in ("relu", None)
            and min(w.shape) > 1
            and w.dtype == dt
            and w.flags.c_contiguous
            and w.flags.aligned
            and (
                b is None
                or (b.dtype == dt and b.flags.c_contiguous and b.flags.aligned)
            )
            for w, b, act in layers
        )
    )


def _batch_applies(x, dt) -> bool:
    """The batch's half of :func:`_applies` (checked on every call)."""
    return (
        x.ndim == 2
        and len(x) > 1
        and x.dtype == dt
        and x.flags.c_contiguous
        and x.flags.aligned
    )


class Stack:
    """``linear_stack_c`` for one list of layers, prepared once.

    The layers' sizes, activations and the addresses of their arrays (kept
    alive here) go into the arrays the C call reads, so that a call per
    batch (``predict`` keeps one per model) pays only for its batch: at W2's
    batch of 1024 on two threads the preparation and the checks are 5% of a
    ``predict`` call (docs/speed.md). ``stack(x)`` is ``linear_stack_c(x,
    layers)``; :meth:`fits` says whether it applies to ``x`` (then ``x``
    must also have ``sizes[0]`` columns).
    """

    def __init__(self, layers, dtype):
        self.layers, self.dtype = layers, np.dtype(dtype)
        self.sizes = np.array(
            [layers[0][0].shape[0]] + [w.shape[1] for w, _, _ in layers], np.int64
        )
        self.params = np.array(
            [0 if a is None else a.ctypes.data for w, b, _ in layers for a in (w, b)],
            np.int64,
        )
        self.relu = np.array(  # bit 0: ReLU; bit 1: the product by gemm.h
            [(act == "relu") | 2 * _own_weight(w) for w, _, act in layers], np.int64
        )
        self.work = int(np.dot(self.sizes[:-1], self.sizes[1:]))  # per row
        self.widest = int(self.sizes[1:-1].max(initial=0))
        # floats of packed weights per thread: the widest of the layers by gemm.h
        own = [_packed(w) for (w, _, _), bits in zip(layers, self.relu) if bits & 2]
        self.room = max(own, default=0)
        self.run = native("gn_dense_stack", self.dtype)
        self.applies = self.run is not None and _layers_apply(layers, self.dtype)

    def fits(self, x) -> bool:
        """True when this call is correct for the batch ``x`` (see _applies)."""
        return (
            self.applies
            and _batch_applies(x, self.dtype)
            and x.shape[1] == self.sizes[0]
        )

    def __call__(self, x) -> tuple:
        rows = len(x)
        threads = max(
            1,
            min(most_threads(), rows // MIN_ROWS, rows * self.work // WORK_PER_THREAD),
        )
        if threads == 1:
            block = min(rows, ONE_THREAD_BLOCK)
        else:  # about the same number of blocks per thread, at most BLOCK rows each
            blocks = threads * -(-rows // (threads * BLOCK))
            block = -(-rows // (blocks * ALIGN)) * ALIGN
        # per thread: the packed weights (aligned), then two blocks of activations
        floats = threads * (self.room + 2 * block * self.widest)
        if self.room:
            buf = _aligned("linear_stack", floats)
        else:
            buf = scratch("linear_stack", (max(floats, 1),), self.dtype)
        y = np.empty((rows, self.sizes[-1]), self.dtype)
        bad = np.zeros(1, np.int64)
        self.run(
            x.ctypes.data, y.ctypes.data, buf.ctypes.data, rows, len(self.layers),
            self.sizes.ctypes.data, self.params.ctypes.data, self.relu.ctypes.data,
            block, self.room, threads, bad.ctypes.data,
        )  # fmt: skip
        return y, bool(bad[0] == 0)


@variant(
    "linear_stack",
    agreement="rounding",
    rtol=1e-5,
    atol=1e-5,
    uses=("gn_dense_stack",),
    applies=_applies,
)
def linear_stack_c(x, layers):
    """_native/dense.c: every layer on a block of rows at a time, blocks shared
    between threads (see the module docstring)."""
    return Stack(layers, x.dtype)(x)
