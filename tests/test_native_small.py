"""_native/small.c: small float32 arrays' kernels called as Python functions.

tests/test_kernels.py compares every variant with its reference on drawn
arguments; here: what each C function refuses (wrong sizes, layouts, dtypes,
read-only outputs, labels out of range) without touching memory it should
not, the fallbacks of sgd_foreach, σ in place, and that GLASSNET_NATIVE=0
turns it off.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet import _native, kernels
from glassnet.kernels.variants import small

NATIVE_REQUIRED = __import__("os").environ.get("GLASSNET_NATIVE") == "1"


@pytest.fixture(scope="module")
def fns():
    found = _native.python_functions("small")
    if found is None:
        if NATIVE_REQUIRED:
            pytest.fail(f"small.c did not build: {_native.status().get('small')}")
        pytest.skip("compiled kernels are off or do not build here")
    return found


def test_each_function_refuses_what_does_not_fit(fns):
    x = np.ones(12, np.float32)
    with pytest.raises(ValueError, match="48 bytes, expected 52"):
        fns["sigmoid"](x, np.empty(12, np.float32), 13)
    with pytest.raises((BufferError, ValueError), match="not C-contiguous"):
        fns["sigmoid"](np.ones(24, np.float32)[::2], np.empty(12, np.float32), 12)
    readonly = np.empty(12, np.float32)
    readonly.flags.writeable = False
    with pytest.raises((BufferError, ValueError), match="read-only|not writable"):
        fns["sigmoid"](x, readonly, 12)
    with pytest.raises(TypeError, match=r"sigmoid\(x, out, n\)"):
        fns["sigmoid"](x, x)
    with pytest.raises(TypeError):
        fns["sgd"]([1.0], x, x, 12, 0.1, 0.0, 0.0, False)
    z, e = np.zeros((3, 4), np.float32), np.empty((3, 4), np.float32)
    losses, total, flat = (
        np.empty(3, np.float32),
        np.empty(3, np.float32),
        np.empty(3, np.intp),
    )
    with pytest.raises(ValueError):  # labels of another width than int64
        fns["cross_entropy"](z, np.zeros(3, np.int32), losses, e, total, flat, 3, 4)
    bad = np.array([0, 4, 1])
    assert fns["cross_entropy"](z, bad, losses, e, total, flat, 3, 4) == 1
    with pytest.raises(IndexError, match="index 4 is out of bounds for the 4 classes"):
        small.cross_entropy_small(z, bad)
    with pytest.raises(IndexError):
        fns["cross_entropy_backward"](e, total, np.array([0, 99, 5]), np.ones((1, 1), np.float32),
                                      np.empty_like(e), 3, 4, 1)  # fmt: skip
    with pytest.raises(TypeError):  # dl with neither 1 nor 3 rows
        fns["cross_entropy_backward"](e, total, flat, np.ones((2, 1), np.float32),
                                      np.empty_like(e), 3, 4, 2)  # fmt: skip


# Drawn: sizes from one number to SMALL_MAX (σ in place must equal σ into a
# new array, which is the variant's own numbers), values past exp's range.
@settings(max_examples=40, deadline=None)
@given(
    n=st.sampled_from([1, 7, 16, 33, 1024, small.SMALL_MAX]), seed=st.integers(0, 99)
)
def test_sigmoid_in_place_is_sigmoid(fns, n, seed):
    x = (np.random.default_rng(seed).standard_normal(n) * 40).astype(np.float32)
    x[0] = -200.0  # e^200 overflows: σ is 0, quietly
    fresh = small.sigmoid_small(x)
    inplace = x.copy()
    assert small.sigmoid_small(inplace, out=inplace) is inplace
    assert inplace.tobytes() == fresh.tobytes() and fresh[0] == 0
    np.testing.assert_allclose(fresh, kernels.registry()["sigmoid"].reference(x),
                               rtol=1e-6, atol=1e-37)  # fmt: skip


def _sgd_lists(rng, sizes, dtype=np.float32):
    return [rng.standard_normal(s).astype(dtype) for s in sizes]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_foreach_in_one_call_or_by_the_next_variant_the_same_bits(fns, momentum):
    rng = np.random.default_rng(0)
    reference = kernels.registry()["sgd_foreach"].reference
    cases = {
        "small": ([(64, 32), (32,), (32, 10), (10,)], np.float32),
        "float64": ([(5, 4), (4,)], np.float64),
        "too many numbers": ([(small.SMALL_MAX,), (3,)], np.float32),
    }
    for case, (sizes, dtype) in cases.items():
        data = _sgd_lists(rng, sizes, dtype)
        grad = _sgd_lists(rng, sizes, dtype)
        buf = _sgd_lists(rng, sizes, dtype) if momentum else None
        fast = (
            [a.copy() for a in data],
            None if buf is None else [b.copy() for b in buf],
        )
        slow = (
            [a.copy() for a in data],
            None if buf is None else [b.copy() for b in buf],
        )
        done = fns["sgd_foreach"](
            [a.copy() for a in data], grad, None if buf is None else [b.copy() for b in buf],
            0.1, momentum, 0.01, False, small.SMALL_MAX,
        )  # fmt: skip
        assert done == (0 if case == "small" else 1), case
        small.sgd_foreach_small(fast[0], grad, fast[1], 0.1, momentum, 0.01, False)
        reference(slow[0], grad, slow[1], 0.1, momentum, 0.01, False)
        for a, b in zip(fast[0] + (fast[1] or []), slow[0] + (slow[1] or [])):
            assert a.tobytes() == b.tobytes(), case
    # one array that does not fit: nothing is changed by the compiled call
    data = _sgd_lists(rng, [(4, 3), (3,)])
    before = [a.copy() for a in data]
    grad = [np.ones((3, 4), np.float32).T, np.ones(3, np.float32)]  # not C-contiguous
    assert fns["sgd_foreach"](data, grad, None, 0.1, 0.0, 0.0, False, 99) == 1
    assert all(a.tobytes() == b.tobytes() for a, b in zip(data, before))
    assert fns["sgd_foreach"](data, grad[:1], None, 0.1, 0.0, 0.0, False, 99) == 1
    fine = [np.ones_like(a) for a in data]  # momentum needs buffers: not here
    assert fns["sgd_foreach"](data, fine, None, 0.1, 0.9, 0.0, False, 99) == 1
    assert all(a.tobytes() == b.tobytes() for a, b in zip(data, before))
    x = np.ones(8, np.float32)
    assert kernels.pick("sgd", x, x, None, 0.1, 0.9, 0.0, False) is not small.sgd_small


def test_turned_off_with_glassnet_native_0(monkeypatch):
    monkeypatch.setenv("GLASSNET_NATIVE", "0")
    _native._forget()
    try:
        x = np.ones((4, 4), np.float32)
        assert kernels.pick("sigmoid", x) is kernels.registry()["sigmoid"].reference
        assert kernels.pick("sgd", x, x, None, 0.1, 0.0, 0.0, False) is (
            kernels.registry()["sgd"].reference
        )
    finally:
        monkeypatch.undo()
        _native._forget()
