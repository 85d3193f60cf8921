"""The compiled ReLU (_native/elementwise.c) against the NumPy code it replaces, bit for bit."""

import numpy as np
import pytest
from conftest import NATIVE_REQUIRED, native_setting
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
from glassnet import _native, kernels
from glassnet.ops import elementwise as ew


def _compiled(x) -> bool:
    """True when the kernels layer sends relu(x) to the compiled variant."""
    return kernels.pick("relu", x) is not kernels.activations.relu


def _bits(a):
    return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])


def _relu_both_ways(x, g, monkeypatch):
    """(output, gradient) from the compiled kernel and from NumPy, proving which ran."""
    results = []
    for on in (True, False):
        monkeypatch.setenv("GLASSNET_NATIVE", native_setting(on))  # "1" under make test
        _native._forget()
        compiled = _compiled(x)
        if on:
            if not compiled:
                (pytest.fail if NATIVE_REQUIRED else pytest.skip)(
                    f"elementwise kernel unavailable: {_native.status()}"
                )
        else:
            assert not compiled
        t = gn.tensor(x, requires_grad=True, dtype=x.dtype)
        with np.errstate(all="ignore"):  # inf · 0 in NumPy's backward: NaN, as in C
            y = ew.relu(t)
            y.backward(g)
        results.append((y.data, t.grad))
    _native._forget()
    return results


values = st.one_of(
    st.floats(width=32), st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan])
)


@given(
    x=hnp.arrays(np.float32, hnp.array_shapes(max_dims=4, max_side=9), elements=values),
    data=st.data(),
)
def test_relu_is_bit_identical_on_both_paths(x, data):
    g = data.draw(hnp.arrays(np.float32, x.shape, elements=values))
    with pytest.MonkeyPatch.context() as mp:
        (y1, d1), (y2, d2) = _relu_both_ways(x, g, mp)
    np.testing.assert_array_equal(_bits(y1), _bits(y2))
    np.testing.assert_array_equal(_bits(d1), _bits(d2))


def test_relu_values_and_gradient_float64(monkeypatch):
    x = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0, np.nan, np.inf, -np.inf])
    g = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 6.0, 7.0, 8.0])
    (y, d), (y_ref, d_ref) = _relu_both_ways(x, g, monkeypatch)
    np.testing.assert_array_equal(_bits(y), _bits(y_ref))
    np.testing.assert_array_equal(_bits(d), _bits(d_ref))
    assert np.signbit(y[0]) and y[3] == 1e-300 and np.isnan(y[5]) and y[6] == np.inf
    np.testing.assert_array_equal(d[[0, 1, 2, 3, 5, 6, 7]], [0, 0, 0, 4.0, 0, 7.0, 0])
    assert np.isnan(d[4])  # g = NaN on a positive input passes through


def test_relu_gradcheck_on_the_compiled_path(monkeypatch):
    monkeypatch.setenv("GLASSNET_NATIVE", native_setting(True))
    _native._forget()
    x = np.random.default_rng(0).standard_normal((4, 5))
    x[np.abs(x) < 0.1] = 0.5  # keep away from the kink
    if not _compiled(x):
        (pytest.fail if NATIVE_REQUIRED else pytest.skip)(
            "elementwise kernel unavailable"
        )
    assert gn.gradcheck(ew.relu, [gn.tensor(x, requires_grad=True, dtype=np.float64)])
    _native._forget()


def misaligned(a):
    """A copy of ``a`` one byte past an aligned address: C-contiguous, not aligned
    (as np.frombuffer at an odd offset gives). Reading it as floats from C is
    undefined behaviour unless the kernel loads it byte-wise (``make sanitize``)."""
    out = np.zeros(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_arrays_are_bit_identical_on_both_paths(monkeypatch, dtype):
    rng = np.random.default_rng(3)
    x = misaligned(rng.standard_normal((5, 13)).astype(dtype))
    g = misaligned(rng.standard_normal((5, 13)).astype(dtype))
    (y1, d1), (y2, d2) = _relu_both_ways(x, g, monkeypatch)
    np.testing.assert_array_equal(_bits(y1), _bits(y2))
    np.testing.assert_array_equal(_bits(d1), _bits(d2))
    np.testing.assert_array_equal(y2, np.maximum(x, 0))


def test_non_contiguous_and_other_dtypes_use_numpy(monkeypatch):
    monkeypatch.setenv("GLASSNET_NATIVE", "auto")
    _native._forget()
    x = np.arange(-6, 6, dtype=np.float32).reshape(3, 4)
    assert not _compiled(x.T)
    assert not _compiled(x.astype(np.float16))
    y = ew.relu(gn.tensor(x.T))
    np.testing.assert_array_equal(y.data, np.maximum(x.T, 0))
    _native._forget()
