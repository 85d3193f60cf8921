"""Kernels: each formula once, as a textbook NumPy reference, plus faster twins.

A *kernel* here is one numerical formula on arrays -- the sigmoid, ReLU and
its derivative, ``x @ W + b``, an Adam update -- with no graph, no Tensor and
no argument checking (that is the ops' job, :mod:`glassnet.ops`). Each kernel
has:

- a **reference**: the textbook NumPy code, arrays in, arrays out, with
  optional ``out=`` (and scratch) buffers so a caller that runs it every step
  allocates nothing. This is the definition: read it to learn the formula.
- optional **variants**: faster code for the same formula (a NumPy
  formulation with fewer passes, or a compiled C function from
  ``glassnet/_native``). Each declares how closely it agrees with the
  reference -- ``"bits"`` (identical results) or ``"rounding"`` (equal within
  ``rtol``/``atol``) -- and when it applies (dtype, contiguity, whether the
  compiled library builds here).
- an **argument generator** for the tests: ``args(draw)`` returns
  ``(args, kwargs)`` for one call, drawn with hypothesis's ``draw``
  (:mod:`glassnet.kernels._draw` has the array helpers). It must reach the
  edge cases: batch 1, odd sizes, non-contiguous inputs.

``tests/test_kernels.py`` checks every variant against its reference at its
declared agreement, and fails when a kernel has no reference or no generator.

Calling a kernel
----------------
``kernels.call("relu", x)`` runs the best variant that applies to these
arguments, else the reference. ``kernels.pick("relu", x)`` returns that
function without calling it. The module-level names (``kernels.relu`` ...)
are the dispatchers of the kernels defined here, made once all are
registered; for a kernel without variants it is the reference itself
(``kernels.sigmoid is kernels.activations.sigmoid``), so ops pay nothing.

Under ``GLASSNET_NATIVE=0`` compiled variants never apply; under ``auto`` they
apply when the library builds; under ``1`` a library that does not build raises
:class:`glassnet._native.NativeError` the first time a variant wants it. Only
this package talks to :mod:`glassnet._native`; the C signatures live in one
table, :mod:`glassnet.kernels._abi`.

Registering a kernel
--------------------
::

    from glassnet.kernels import register, variant, native
    from glassnet.kernels import _draw

    def _args(draw):
        x = _draw.array(draw, _draw.shape(draw, ndim=(1, 3)))
        return (x,), {}

    @register("softsign", args=_args)
    def softsign(x, out=None):
        '''x / (1 + |x|).'''
        out = np.abs(x, out=out)
        np.add(out, 1, out=out)
        return np.divide(x, out, out=out)

    @variant("softsign", agreement="bits", uses=("gn_softsign",),
             applies=lambda x, out=None: x.flags.c_contiguous)
    def softsign_c(x, out=None):
        out = np.empty_like(x) if out is None else out
        native("gn_softsign", x.dtype)(x.ctypes.data, out.ctypes.data, x.size)
        return out

    # and in kernels/_abi.py, FUNCTIONS (its C prototype is generated from it):
    "gn_softsign": Fn("elementwise",
                      [("const T *", "x"), ("T *", "out"), ("gn_int", "n")]),

``applies(*args, **kwargs)`` says when the variant is *correct* for the
arguments; ``min_size`` (elements of the first argument) says when it is
*worth* it: the dispatcher skips a variant below it, the test does not. A
variant that ``uses`` C functions applies only when :func:`native` finds each
of them for the first argument's dtype. Results are compared on the return
value and on every array argument (in-place kernels, such as the optimizer
updates, are checked on what they wrote).

Recording calls
---------------
``register(..., outs=("out", ...))`` names the parameters that take the
kernel's results as buffers, in the order it returns them; ``scratch=`` maps a
call's bound arguments to buffers for its scratch parameters. Inside
``with kernels.recording(tape):`` every call made through the module-level
names is appended to ``tape`` as a :class:`Call` (the kernel, the function
that ran, its bound arguments, its result), so that a replay can run the
same functions again, each writing its results into the arrays the recording
returned (:mod:`glassnet.train.capture` does, as tinygrad's TinyJit does).
The module-level names are swapped while recording; calls from other threads
pass through unrecorded, and one recording runs at a time.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from .. import _native
from . import _abi

__all__ = [
    "Kernel",
    "Variant",
    "register",
    "variant",
    "registry",
    "pick",
    "call",
    "native",
    "recording",
]

AGREEMENTS = ("bits", "rounding")


@dataclass(frozen=True)
class Variant:
    """A faster twin of a kernel's reference; see the module docstring."""

    name: str
    fn: Callable
    agreement: str = "bits"
    rtol: float = 0.0
    atol: float = 0.0
    applies: Callable | None = None
    uses: tuple = ()
    min_size: int = 0

    @property
    def library(self) -> str | None:
        """The compiled library this variant calls into, or None (NumPy)."""
        return _abi.FUNCTIONS[self.uses[0]][0] if self.uses else None

    def available(self, *args, **kwargs) -> bool:
        """True when this variant is correct for these arguments, here."""
        if self.uses:
            first = args[0]  # an array, or a list of them (the _foreach kernels)
            if isinstance(first, list):
                if not first:
                    return False
                first = first[0]
            dtype = first.dtype
            for function in self.uses:
                if native(function, dtype) is None:
                    return False
        return self.applies is None or bool(self.applies(*args, **kwargs))


@dataclass
class Kernel:
    """One formula: its NumPy reference, faster variants, and test arguments."""

    name: str
    reference: Callable
    args: Callable | None
    variants: list = field(default_factory=list)
    outs: tuple = ()  # the result buffers' parameter names, in return order
    scratch: Callable | None = None  # arguments -> {name: scratch buffer}


_KERNELS: dict[str, Kernel] = {}


def register(
    name: str,
    *,
    args: Callable | None,
    outs: tuple = (),
    scratch: Callable | None = None,
):
    """Decorator: make the function the reference of kernel ``name``."""

    def decorate(fn):
        if name in _KERNELS:
            raise ValueError(f"kernel {name!r} is registered twice.")
        _KERNELS[name] = Kernel(name, fn, args, outs=tuple(outs), scratch=scratch)
        return fn

    return decorate


def variant(
    name: str,
    *,
    agreement: str = "bits",
    rtol: float = 0.0,
    atol: float = 0.0,
    applies: Callable | None = None,
    uses: tuple = (),
    min_size: int = 0,
    first: bool = False,
):
    """Decorator: add the function as a faster variant of kernel ``name``.

    Variants are tried in the order they are added (``first``: before those
    added earlier); the first that applies (and is worth it, ``min_size``) runs.
    """
    if agreement not in AGREEMENTS:
        raise ValueError(f"agreement must be one of {AGREEMENTS}; got {agreement!r}.")
    unknown = [f for f in uses if f not in _abi.FUNCTIONS]
    if unknown:
        raise ValueError(f"{unknown} are not in the C interface table (_abi.py).")

    def decorate(fn):
        kernel = _KERNELS.get(name)
        if kernel is None:
            raise ValueError(f"variant of unknown kernel {name!r}: register it first.")
        kernel.variants.insert(
            0 if first else len(kernel.variants),
            Variant(fn.__name__, fn, agreement, rtol, atol, applies, uses, min_size),
        )
        return fn

    return decorate


def registry() -> dict[str, Kernel]:
    """Every registered kernel, by name (for tests and for reading)."""
    return dict(_KERNELS)


def pick(name: str, *args, **kwargs) -> Callable:
    """The function that :func:`call` would run for these arguments."""
    kernel = _KERNELS[name]
    for v in kernel.variants:
        if v.min_size and args[0].size < v.min_size:
            continue
        if v.available(*args, **kwargs):
            return v.fn
    return kernel.reference


def call(name: str, *args, **kwargs):
    """Run kernel ``name``: the first variant that applies, else the reference."""
    return pick(name, *args, **kwargs)(*args, **kwargs)


def native(function: str, dtype=None):
    """The compiled ``function`` (``_abi`` name, no suffix) for ``dtype``, typed.

    ``dtype`` is None for a function with one version (``per_dtype=False``).
    None when the dtype has no compiled version, or the library is off, does
    not build here or lacks the function (``GLASSNET_NATIVE=1`` raises instead).
    """
    if dtype is None:
        lib = _native.load(_abi.library(function))
        fn = None if lib is None else getattr(lib, function, None)
        if fn is not None and fn.argtypes is None:
            fn.argtypes, fn.restype = _abi.argtypes(function), _abi.restype(function)
        return fn
    found = _native.functions(_abi.library(function), dtype, _abi.signature(function))
    return None if found is None else found[0]


def why_not(library: str) -> str:
    """Why compiled library ``library`` is not in use ("loaded" if it is)."""
    return _native.status().get(library, "compiled kernels are off")


def _dispatcher(name: str) -> Callable:
    """``call(name, ...)`` as a function of its own (what :func:`pick` does, inlined:
    this runs on every op and every optimizer step)."""
    kernel = _KERNELS[name]
    reference = kernel.reference
    if not kernel.variants:  # nothing to choose: the reference itself, no wrapper
        return reference

    def dispatch(*args, **kwargs):
        for v in kernel.variants:
            if v.min_size and args[0].size < v.min_size:
                continue
            if v.available(*args, **kwargs):
                return v.fn(*args, **kwargs)
        return reference(*args, **kwargs)

    dispatch.__name__ = name
    dispatch.__doc__ = f"Kernel {name!r} (fastest applicable variant).\n\n" + (
        reference.__doc__ or ""
    )
    return dispatch


@dataclass
class Call:
    """One recorded kernel call: see "Recording calls" in the module docstring."""

    kernel: Kernel
    fn: Callable
    bound: inspect.BoundArguments
    result: object


@functools.cache
def _signature(function) -> inspect.Signature:
    """A reference's signature, worked out once (a capture records every step)."""
    return inspect.signature(function)


_RECORDING = threading.RLock()  # one recording at a time in the process


@contextmanager
def recording(tape: list):
    """Append every kernel called through the module-level names to ``tape``.

    Only calls from the thread that records go on the tape; the others run as
    usual meanwhile (fit with a captured step in two threads at once, as an
    Optuna study with ``n_jobs=2`` does). A second thread's recording waits
    for the first to end: the names are swapped for the whole process.
    """
    owner = threading.get_ident()

    def recorder(name, usual):
        kernel = _KERNELS[name]
        signature = _signature(kernel.reference)

        def record(*args, **kwargs):
            if threading.get_ident() != owner:
                return usual(*args, **kwargs)
            fn = pick(name, *args, **kwargs)
            result = fn(*args, **kwargs)
            tape.append(Call(kernel, fn, signature.bind(*args, **kwargs), result))
            return result

        return record

    with _RECORDING:
        saved = {attr: globals()[attr] for attr in _NAMES}
        try:
            globals().update(
                {attr: recorder(name, saved[attr]) for attr, name in _NAMES.items()}
            )
            yield tape
        finally:
            globals().update(saved)


from . import activations, conv, linear, loss, optim, pool, recurrent  # noqa: E402, I001
from . import dropout, norm  # noqa: E402
from . import attention, reduce  # noqa: E402, I001
from . import variants  # noqa: E402  (after the references they are variants of)
from . import resample  # noqa: E402, F401, I001  (upsampling, adaptive pooling)

sigmoid = _dispatcher("sigmoid")
sigmoid_backward = _dispatcher("sigmoid_backward")
tanh = _dispatcher("tanh")
tanh_backward = _dispatcher("tanh_backward")
relu = _dispatcher("relu")
relu_backward = _dispatcher("relu_backward")
linear_forward = _dispatcher("linear")
linear_backward = _dispatcher("linear_backward")
linear_activation = _dispatcher("linear_activation")
cross_entropy = _dispatcher("cross_entropy")
cross_entropy_backward = _dispatcher("cross_entropy_backward")
sgd = _dispatcher("sgd")
adam = _dispatcher("adam")
sgd_foreach = _dispatcher("sgd_foreach")
adam_foreach = _dispatcher("adam_foreach")
mean = _dispatcher("mean")
mean_backward = _dispatcher("mean_backward")
rmsprop = _dispatcher("rmsprop")
adagrad = _dispatcher("adagrad")
nadam = _dispatcher("nadam")
radam = _dispatcher("radam")
logsumexp = _dispatcher("logsumexp")
attention_forward = _dispatcher("attention")
attention_backward = _dispatcher("attention_backward")
linear_stack = _dispatcher("linear_stack")

#: The module-level names and the kernels they call (what :func:`recording` swaps).
_NAMES = {
    **{name: name for name in ("sigmoid", "tanh", "relu", "cross_entropy")},
    **{f"{name}_backward": f"{name}_backward"
       for name in ("sigmoid", "tanh", "relu", "cross_entropy", "linear", "mean")},
    "linear_forward": "linear", "sgd": "sgd", "adam": "adam", "mean": "mean",
    "sgd_foreach": "sgd_foreach", "adam_foreach": "adam_foreach",
    **{name: name for name in ("rmsprop", "adagrad", "nadam", "radam")},
    "linear_activation": "linear_activation",
}  # fmt: skip

__all__ += [
    "activations",
    "linear",
    "loss",
    "optim",
    "linear_forward",
    "linear_backward",
    "linear_activation",
    "cross_entropy",
    "cross_entropy_backward",
    "sigmoid",
    "sigmoid_backward",
    "tanh",
    "tanh_backward",
    "relu",
    "relu_backward",
    "sgd",
    "adam",
    "sgd_foreach",
    "adam_foreach",
    "mean",
    "mean_backward",
    "rmsprop",
    "adagrad",
    "nadam",
    "radam",
    "conv",
    "pool",
    "recurrent",
    "variants",
    "dropout",
    "norm",
    "reduce",
    "logsumexp",
    "attention",
    "attention_forward",
    "attention_backward",
    "linear_stack",
]
