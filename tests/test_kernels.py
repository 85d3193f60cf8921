"""Every kernel variant against its textbook reference, at the agreement it declares.

One test, parametrised over the whole registry (:mod:`glassnet.kernels`):
hypothesis draws arguments with each kernel's own generator (batch 1, odd
sizes and non-contiguous layouts included), the reference and the variant run
on copies, and their results -- the return value and every array argument,
since some kernels work in place -- must be identical ("bits") or equal within
the declared tolerance ("rounding"). ``dispatch`` checks what
``kernels.call`` picks, on every drawn argument, the same way.
"""

import copy
import ctypes

import numpy as np
import pytest
from conftest import NATIVE_REQUIRED
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from numpy.lib.array_utils import byte_bounds

from glassnet import _native, kernels
from glassnet.kernels import _abi

REGISTRY = kernels.registry()
CASES = [
    pytest.param(name, v, id=f"{name}-{v.name if v else 'dispatch'}")
    for name, k in REGISTRY.items()
    for v in [*k.variants, None]
]


def _arrays(result):
    """The arrays in a result: an array, a tuple of them, or None."""
    if result is None:
        return []
    if isinstance(result, tuple):  # None stands for a result not asked for
        return [None if a is None else np.asarray(a) for a in result]
    return [np.asarray(result)]  # an array, or the NumPy scalar of a 0-d input


def _copy(a):
    """A copy of ``a`` with the same memory layout (strides, and the address modulo
    64), so NumPy and BLAS take the same path for both (``copy.deepcopy`` would
    make a strided view contiguous); a list of arrays (the optimizers'
    ``*_foreach`` kernels), each so copied. The bytes ``a`` spans are copied as
    they lie: an array may own memory in a layout neither C nor Fortran (a
    ufunc's result on a transposed input keeps its strides)."""
    if isinstance(a, list):
        return [_copy(x) for x in a]
    if not isinstance(a, np.ndarray):
        return copy.deepcopy(a)
    low, high = byte_bounds(a)
    raw = np.empty(high - low + 64, np.uint8)
    start = (low - raw.ctypes.data) % 64  # the same address modulo 64 as a's
    span = raw[start : start + high - low]
    span[:] = np.ctypeslib.as_array((ctypes.c_uint8 * (high - low)).from_address(low))
    where = a.__array_interface__["data"][0] - low
    return np.ndarray(a.shape, a.dtype, span, where, a.strides)


def _same(expected, got, v):
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if v is None or v.agreement == "bits":
        assert (
            np.ascontiguousarray(got).tobytes()
            == np.ascontiguousarray(expected).tobytes()
        ), f"{got} != {expected}"
    else:
        np.testing.assert_allclose(got, expected, rtol=v.rtol, atol=v.atol)


@pytest.mark.parametrize("name, v", CASES)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_variant_agrees_with_reference(name, v, data):
    kernel = REGISTRY[name]
    args, kwargs = kernel.args(data.draw)
    if v is not None and v.library is not None and _native.load(v.library) is None:
        if NATIVE_REQUIRED:
            pytest.fail(f"library {v.library} did not build: {_native.status()}")
        pytest.skip(f"compiled library {v.library} not available here")
    if v is None:  # what the dispatcher picks
        fn = kernels.pick(name, *args, **kwargs)
        v = next((x for x in kernel.variants if x.fn is fn), None)
    else:
        fn = v.fn
        if not v.available(*args, **kwargs):
            return  # e.g. a non-contiguous input: the dispatcher never sends it here
    ref_args = [_copy(a) for a in args]
    ref_kwargs = {k: _copy(a) for k, a in kwargs.items()}
    expected = kernel.reference(*ref_args, **ref_kwargs)
    got = fn(*args, **kwargs)
    for e, g in zip(_arrays(expected), _arrays(got), strict=True):
        if e is None or g is None:
            assert e is None and g is None
            continue
        _same(e, g, v)
    for e, g in zip(ref_args, args, strict=True):  # what in-place kernels wrote
        if isinstance(e, np.ndarray):
            _same(e, g, v)
        elif isinstance(e, list):  # in each array of a list, too
            for ea, ga in zip(e, g, strict=True):
                if isinstance(ea, np.ndarray):
                    _same(ea, ga, v)
    for key, e in ref_kwargs.items():  # and into the buffers given by keyword
        if isinstance(e, np.ndarray):
            _same(e, kwargs[key], v)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_kernel_has_a_reference_and_arguments(name):
    kernel = REGISTRY[name]
    assert callable(kernel.reference) and kernel.reference.__doc__
    assert callable(kernel.args), f"kernel {name!r} has no argument generator"
    for v in kernel.variants:
        assert v.agreement in ("bits", "rounding")
        assert v.agreement == "bits" or v.rtol > 0 or v.atol > 0


def test_registry_refuses_a_kernel_without_arguments_or_twice():
    with pytest.raises(ValueError, match="registered twice"):
        kernels.register("relu", args=lambda draw: ((), {}))(lambda x: x)
    with pytest.raises(ValueError, match="unknown kernel"):
        kernels.variant("no-such-kernel")(lambda x: x)


def test_a_c_definition_that_differs_from_the_table_does_not_compile(
    monkeypatch, tmp_path
):
    """The build generates gn_abi.h from kernels/_abi.py; optim.c includes it. A
    table that says float where optim.c says double is a compile error."""
    fn = _abi.FUNCTIONS["gn_sgd"]
    assert fn.args[4] == ("double", "lr")
    wrong = fn._replace(args=[*fn.args[:4], ("float", "lr"), *fn.args[5:]])
    monkeypatch.setitem(_abi.FUNCTIONS, "gn_sgd", wrong)
    monkeypatch.setenv("GLASSNET_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GLASSNET_NATIVE", "1")
    _native._forget()
    try:
        if _native._compiler() is None:
            if NATIVE_REQUIRED:
                pytest.fail("no C compiler")
            pytest.skip("no C compiler here")
        with pytest.raises(_native.NativeError, match="conflicting types"):
            _native.load("optim")
    finally:
        monkeypatch.undo()
        _native._forget()
    assert _native.load("optim") is None or kernels.native(
        "gn_sgd", np.dtype(np.float32)
    ).argtypes == _abi.argtypes("gn_sgd")


RECORDABLE = [name for name, k in REGISTRY.items() if k.outs]


@pytest.mark.parametrize("name", RECORDABLE)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_declared_result_buffers_are_written(name, data):
    """``outs`` and ``scratch`` are what a recorder relies on (train/capture.py):
    given the results of one call as buffers, and its scratch, the kernel must
    write the same values into those buffers."""
    import inspect

    kernel = REGISTRY[name]
    args, kwargs = kernel.args(data.draw)
    expected = kernel.reference(*map(_copy, args), **kwargs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(expected) == len(kernel.outs), "one name in outs per result"
    buffers = {
        n: np.full_like(r, 7)
        for n, r in zip(kernel.outs, expected)
        if isinstance(r, np.ndarray)
    }
    bound = inspect.signature(kernel.reference).bind(*map(_copy, args), **kwargs)
    bound.arguments.update(buffers)
    if kernel.scratch is not None:
        bound.arguments.update(kernel.scratch(bound.arguments))
    got = kernel.reference(*bound.args, **bound.kwargs)
    got = got if isinstance(got, tuple) else (got,)
    for n, want, have in zip(kernel.outs, expected, got):
        if n in buffers:
            assert np.shares_memory(have, buffers[n]), f"{n} is not written in place"
            _same(np.asarray(want), buffers[n].reshape(np.shape(want)), None)
        else:
            assert want is None and have is None or not isinstance(want, np.ndarray)


@settings(max_examples=30, deadline=None)
@example(rows=128, n_in=784, n_out=256, dtype=np.float32, batch_axes=False)  # W2
@example(rows=32, n_in=64, n_out=10, dtype=np.float32, batch_axes=False)  # below
@given(
    rows=st.integers(1, 130),
    n_in=st.sampled_from([1, 31, 64, 65, 784]),
    n_out=st.sampled_from([1, 10, 64, 65, 256]),
    dtype=st.sampled_from([np.float32, np.float64]),
    batch_axes=st.booleans(),
)
def test_linear_backward_products_equal_np_dot_bit_for_bit(
    rows, n_in, n_out, dtype, batch_axes
):
    """The backward switches its transposed products to np.matmul from
    MATMUL_FROM numbers (faster on two threads): the sizes drawn fall on both
    sides of it, and every result must be np.dot's, bit for bit."""
    from glassnet.kernels import linear

    rng = np.random.default_rng(rows * n_in + n_out)
    x = rng.standard_normal((rows, n_in)).astype(dtype)
    w = rng.standard_normal((n_in, n_out)).astype(dtype)
    g = rng.standard_normal((rows, n_out)).astype(dtype)
    shape = (rows, 1, n_in) if batch_axes else x.shape  # the flattening path too
    dx, dw, db = linear.linear_backward(
        g.reshape(*shape[:-1], n_out), x.reshape(shape), w
    )
    assert dx.reshape(x.shape).tobytes() == np.dot(g, w.T).tobytes()
    assert dw.tobytes() == np.dot(x.T, g).tobytes()
    assert db.tobytes() == linear.column_sums(g).tobytes()
