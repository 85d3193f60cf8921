"""A stack of Dense layers for inference in one compiled call (_native/dense.c).

tests/test_kernels.py checks ``linear_stack_c`` against the reference for the
default build. Here it is also built for each vector width the CPU runs (AVX2
and, on an AVX-512 machine, AVX-512) and checked on the kernel's own drawn
arguments with blocks of a few rows, so that batches span several blocks and
threads; each row must come out the same, bit for bit, on any number of
threads and as the layers compute it; NaN and infinity are found in any block
and predict names their rows; NumPy's BLAS gets its thread count back.
"""

import contextlib
import ctypes

import numpy as np
import pytest
from conftest import NATIVE_REQUIRED
from hypothesis import given, settings
from hypothesis import strategies as st
from test_native_direct import WIDTHS
from test_native_direct import target as built_for

import glassnet as gn
from glassnet import _native, kernels, nn
from glassnet.kernels.variants import dense

REFERENCE = kernels.registry()["linear_stack"].reference
VARIANT = next(
    v
    for v in kernels.registry()["linear_stack"].variants
    if v.fn is dense.linear_stack_c
)


@contextlib.contextmanager
def target(name, block=None, threads=None):
    """The body with dense.c built for GLASSNET_TARGET=``name``, blocks of
    ``block`` rows, ``threads`` threads whatever the work."""
    with pytest.MonkeyPatch.context() as mp:
        if block is not None:
            mp.setattr(dense, "BLOCK", block)
            mp.setattr(dense, "ONE_THREAD_BLOCK", block)
            mp.setattr(dense, "ALIGN", min(block, dense.ALIGN))
        if threads is not None:
            mp.setenv("GLASSNET_NUM_THREADS", str(threads))
            mp.setattr(dense, "WORK_PER_THREAD", 1)
            mp.setattr(dense, "MIN_ROWS", 1)
        with built_for(name, "dense"):
            yield


@pytest.mark.parametrize("name", [w[0] for w in WIDTHS] or ["native"])
@settings(max_examples=60)
@given(data=st.data(), block=st.integers(1, 9), threads=st.integers(1, 3))
def test_each_width_agrees_with_the_reference_over_blocks_and_threads(
    name, data, block, threads
):
    (x, layers), _ = kernels.registry()["linear_stack"].args(data.draw)
    x = np.ascontiguousarray(x)  # the other layouts are test_kernels.py's
    layers = [(np.ascontiguousarray(w), b, act) for w, b, act in layers]
    with target(name, block, threads):
        if not VARIANT.available(x, layers):
            return  # sigmoid, tanh, a vector, a layout: the dispatcher never comes
        y, finite = dense.linear_stack_c(x, layers)
        want, want_finite = REFERENCE(x, layers)
    assert finite == want_finite
    assert y.dtype == want.dtype and y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=VARIANT.rtol, atol=VARIANT.atol)


def _w2_like(dtype, rows=300, seed=0):
    """W2's layers, narrower (83 -> 40 ReLU -> 37 ReLU -> 10: sizes that fill no
    whole vector), with non-zero biases, and a batch of ``rows``."""
    model = nn.Sequential(
        nn.Dense(83, 40), nn.ReLU(), nn.Dense(40, 37), nn.ReLU(), nn.Dense(37, 10),
        seed=seed,
    ).astype(dtype).mark_trained()  # fmt: skip
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, nn.Dense):
            layer.bias.data = rng.normal(size=layer.bias.shape).astype(dtype)
    return model, rng.normal(size=(rows, 83)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [w[0] for w in WIDTHS] or ["native"])
def test_rows_come_out_the_same_on_any_number_of_threads(name, dtype):
    """predict through dense.c, the batch whole on one thread, then in blocks of
    16 rows on 1, 2 and 3 threads: the same bits each time, and the layers' own
    bits (the products are NumPy's BLAS on blocks cut at whole groups of rows,
    16 being a whole number of OpenBLAS's groups; the bias and ReLU are the
    layers' arithmetic)."""
    model, X = _w2_like(dtype)
    with gn.no_grad():
        expected = model(X).data
    layers = [(m.weight.data, m.bias.data, "relu") for m in model.layers[::2]]
    for block, threads in [(None, 1), (16, 1), (16, 2), (16, 3)]:
        with target(name, block, threads):
            assert kernels.pick("linear_stack", X, layers) is dense.linear_stack_c
            got = gn.predict(model, X)
            assert got.tobytes() == expected.tobytes(), threads


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("threads", [1, 3])
def test_predict_names_rows_with_nan_or_infinity_in_any_block(bad, threads):
    model, X = _w2_like(np.float32, rows=70)
    X[[5, 33, 69], [0, 82, 40]] = bad  # the first, a middle and the last block
    with target("native", block=8, threads=threads):
        assert VARIANT.available(X, [(np.ones((83, 40), np.float32), None, "relu")])
        with pytest.raises(gn.DataError, match=r"3 of 70 rows of X .*rows 5, 33, 69\)"):
            gn.predict(model, X, batch_size=40)  # two calls; the second has two


def test_a_cast_to_infinity_is_not_an_input_error():
    """float64 inputs beyond float32's range become infinity in a float32 model:
    predict computes (as it did before the check moved into the kernel); only
    NaN or infinity in X itself is refused."""
    model, X = _w2_like(np.float32, rows=20)
    X = X.astype(np.float64)
    X[3, 0] = 1e300
    with np.errstate(over="ignore", invalid="ignore"):
        y = gn.predict(model, X)
    assert y.shape == (20, 10) and not np.isfinite(y[3]).all()
    assert np.isfinite(np.delete(y, 3, axis=0)).all()


def test_blas_gets_its_thread_count_back():
    """dense.c holds NumPy's OpenBLAS to one thread while its parts run (each
    calls BLAS; parallel.h); afterwards the count is what it was."""
    get = _native._numpy_blas_symbol("scipy_openblas_get_num_threads64_")
    put = _native._numpy_blas_symbol("scipy_openblas_set_num_threads64_")
    if get is None or put is None:  # NumPy built against another BLAS (not PyPI's
        # wheel, which make test installs: there this fails rather than skips)
        (pytest.fail if NATIVE_REQUIRED else pytest.skip)(
            "NumPy's BLAS is not its own OpenBLAS here"
        )
    get = ctypes.CFUNCTYPE(ctypes.c_int)(get)
    put = ctypes.CFUNCTYPE(None, ctypes.c_int)(put)
    before = get()
    put(2)
    try:
        model, X = _w2_like(np.float32)
        gn.predict(model, X)
        assert get() == 2
    finally:
        put(before)
