"""glassnet's own float32 matrix product (_native/gemm.h) for AVX-512 builds.

The eager Dense forward (``linear``), ``linear_activation`` and predict's stack
(dense.c) take it for the same layers (:func:`own_product`: the weight, the
dtypes and layouts, never the number of rows), so they keep giving the same
bits as each other. Checked here with the size threshold lowered so that small
drawn shapes reach it: row tails (rows not a multiple of the kernel's 14),
column tails (below, at and above one 16-float vector of a 32-column panel);
agreement with a float64 product to rounding; the same bits on any number of
threads, any cut of the rows, with the weight packed (predict's stack always,
the eager layer from four tiles of rows on) or read in place (the eager layer
below that), from any address; an AVX2 build does not have it and keeps BLAS.
"""

import contextlib

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


def _own_build() -> bool:
    found = kernels.native("gn_dense_own_gemm")
    return found is not None and bool(found())


def _need_kernel():
    """Skip where the build has no AVX-512: on a CPU without it, or when
    GLASSNET_TARGET chose a build without it (avx2, generic: the way to test
    the AVX2 path on this machine). A native or avx512 build on an AVX-512
    CPU must have the kernel: make test fails if it does not."""
    if not _own_build():
        wanted = "avx512f" in _flags() and _native.target() in ("native", "avx512")
        (pytest.fail if NATIVE_REQUIRED and wanted else pytest.skip)(
            f"this build ({_native.target()}) has no _native/gemm.h kernel "
            "(it needs AVX-512)"
        )


@contextlib.contextmanager
def everywhere(threads=None):
    """The kernel for every float32 weight (OWN_FROM 1) and, with ``threads``,
    that many threads from the first multiply-add on."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dense, "OWN_FROM", 1)
        if threads is not None:
            mp.setattr(dense, "WORK_PER_THREAD", 1)
            mp.setenv("GLASSNET_NUM_THREADS", str(threads))
        yield


def _flags() -> set:
    from test_native_direct import FLAGS

    return FLAGS


def _draw(data, dtype=np.float32):
    rows = data.draw(st.integers(2, 40), label="rows")  # one row: BLAS (test below)
    k = data.draw(st.integers(1, 70), label="k")
    n = data.draw(
        st.sampled_from([1, 5, 15, 16, 17, 31, 32, 33, 47, 64, 70]), label="n"
    )
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    x = rng.normal(size=(rows, k)).astype(dtype)
    w = rng.normal(size=(k, n)).astype(dtype)
    b = rng.normal(size=n).astype(dtype) if data.draw(st.booleans()) else None
    return x, w, b


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_the_product_agrees_with_float64_to_rounding(data):
    _need_kernel()
    x, w, b = _draw(data)
    with everywhere():
        assert kernels.pick("linear", x, w, b) is dense.linear_c
        got = kernels.linear_forward(x, w, b)
    want = x.astype(np.float64) @ w.astype(np.float64)
    if b is not None:
        want += b
    # each number is one chain of k float32 multiply-adds (then + b): its error
    # is at most about k rounding steps of the sizes summed
    scale = np.abs(x).astype(np.float64) @ np.abs(w).astype(np.float64) + 1
    bound = (x.shape[1] + 2) * np.finfo(np.float32).eps * scale
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.all(np.abs(got - want) <= bound)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), cut=st.integers(0, 40), threads=st.integers(1, 3))
def test_the_same_bits_on_any_threads_any_rows_packed_or_not(data, cut, threads):
    _need_kernel()
    x, w, b = _draw(data)
    with everywhere(threads):
        whole = kernels.linear_forward(x, w, b)
        cut = min(max(cut, 2), len(x) - 2) if len(x) >= 4 else 0  # parts of 2+ rows
        parts = [kernels.linear_forward(p, w, b) for p in (x[:cut], x[cut:]) if len(p)]
        out = np.full_like(whole, np.nan)  # into a buffer (a captured step's replay)
        into = kernels.linear_forward(x, w, b, out=out)
        relu = kernels.linear_activation(x, w, b, "relu")  # ..._own
        sigmoid = kernels.linear_activation(x, w, b, "sigmoid")  # ..._own
        want_sigmoid = kernels.sigmoid(whole.copy())  # as the Sigmoid layer runs it
        stack = dense.Stack([(w, b, None)], np.float32)
        y, finite = stack(x) if stack.fits(x) else (whole, True)  # predict: packed
    assert np.concatenate(parts).tobytes() == whole.tobytes()
    assert into is out and out.tobytes() == whole.tobytes()
    assert relu.tobytes() == (whole * (whole > 0)).tobytes()
    assert sigmoid.tobytes() == want_sigmoid.tobytes()
    assert finite and y.tobytes() == whole.tobytes()


def test_w2_predict_gives_the_eager_layers_bits():
    """W2's layers take the kernel at their real size (784x256, 256x256; the
    256x10 one stays with BLAS), eagerly and in predict's blocks alike."""
    _need_kernel()
    model = nn.Sequential(
        nn.Dense(784, 256), nn.ReLU(), nn.Dense(256, 256), nn.ReLU(), nn.Dense(256, 10),
        seed=0,
    ).mark_trained()  # fmt: skip
    X = np.random.default_rng(0).normal(size=(1030, 784)).astype(np.float32)
    assert [dense.own_product(X, m.weight.data) for m in model.layers[::2]] == [
        True,
        True,
        False,
    ]
    with gn.no_grad():
        expected = model(X).data
    assert gn.predict(model, X).tobytes() == expected.tobytes()
    assert gn.predict(model, X, batch_size=100).tobytes() == expected.tobytes()


def test_packed_panels_sit_on_cache_lines_whatever_the_weights_address():
    """The packed copy starts on a 64-byte line (the tile loads whole panels)
    and is kept between calls; the weights themselves may sit anywhere: W
    16 or 48 bytes off a line, as NumPy often places arrays, gives the same
    bits as the same W on a line. The eager layer packs from 70 rows and reads
    W in place for 20; predict's stack reads W in place when each of its rows
    starts on a line (here: on a line, 208 columns) and packs it otherwise.
    208 columns: six and a half panels, the last one narrower."""
    _need_kernel()
    at = dense._pack_address(1000)
    assert at % 64 == 0 and dense._pack_address(10) == at
    assert dense._pack_address(10**6) % 64 == 0
    assert dense._pack_address(kernels._buffers.KEEP_BYTES // 4 + 1) == 0  # malloc's
    rng = np.random.default_rng(3)
    for rows in (70, 20):
        x = rng.normal(size=(rows, 300)).astype(np.float32)
        w = rng.normal(size=(300, 208)).astype(np.float32)
        for skip in (0, 4, 12):  # floats past a line: 0, 16 and 48 bytes
            raw = np.empty(w.size + 16 + skip, np.float32)
            first = (-raw.ctypes.data % 64) // 4 + skip
            placed = raw[first : first + w.size].reshape(w.shape)
            placed[...] = w
            assert placed.ctypes.data % 64 == 4 * skip
            with everywhere(threads=2):
                got = dense.own_linear(x, placed)
                want = kernels.linear_forward(x, w)
            assert got.tobytes() == want.tobytes()
            stack = dense.Stack([(placed, None, None)], np.float32)
            assert stack.fits(x) and stack(x)[0].tobytes() == want.tobytes()


def test_the_rule_looks_at_the_weight_not_the_rows():
    w = np.zeros((784, 256), np.float32)
    rows = [np.zeros((m, 784), np.float32) for m in (2, 13, 128, 4096)]
    assert len({dense.own_product(x, w) for x in rows}) == 1
    assert not dense.own_product(np.zeros((1, 784), np.float32), w)  # BLAS's vector
    assert not dense.own_product(rows[0], w.astype(np.float64))
    assert not dense.own_product(rows[2].astype(np.float64), w)
    assert not dense.own_product(rows[2], np.asfortranarray(w))
    assert not dense.own_product(rows[2][:, ::2], w[::2])
    assert not dense.own_product(
        np.zeros((2, 64), np.float32), np.zeros((64, 32), np.float32)
    )
    long = np.zeros((dense.OWN_K_MAX + 1, 64), np.float32)
    assert not dense.own_product(np.zeros((2, len(long)), np.float32), long)


@pytest.mark.parametrize("name", [w[0] for w in WIDTHS] or ["native"])
def test_only_avx512_builds_have_it(name):
    x = np.ones((128, 784), np.float32)
    w = np.ones((784, 256), np.float32)
    with built_for(name, "dense"):
        own = _own_build()
        if name == "avx2":
            assert not own and kernels.pick("linear", x, w) is not dense.linear_c
        elif name == "avx512":
            assert own and kernels.pick("linear", x, w) is dense.linear_c


def test_a_buffer_it_cannot_write_is_left_to_the_reference():
    """``out`` passed by position (a captured step replays its calls so) of
    another dtype or layout: the kernel does not apply, NumPy's product runs."""
    _need_kernel()
    x = np.ones((4, 300), np.float32)
    w = np.ones((300, 200), np.float32)
    for out in (np.empty((4, 200), np.float64), np.empty((200, 4), np.float32).T):
        assert kernels.pick("linear", x, w, None, out) is not dense.linear_c
        assert kernels.pick("linear_activation", x, w, None, "relu", out) not in (
            dense.linear_activation_own,
        )
        b = np.ones(200, np.float32)  # nor with a bias: linear_activation_c's BLAS
        assert not dense.own_applies(x, w, b, out)
        with pytest.raises(ValueError):  # NumPy refuses it, as the reference does
            kernels.linear_activation(x, w, b, "relu", out)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_predict_names_rows_with_nan_or_infinity_through_the_kernel(bad):
    """The input check rides on the first product (dense.c's finishing pass), with
    gemm.h's kernel making that product too."""
    _need_kernel()
    model = nn.Sequential(nn.Dense(300, 200), nn.ReLU(), nn.Dense(200, 3), seed=0)
    model.mark_trained()
    X = np.random.default_rng(1).normal(size=(1100, 300)).astype(np.float32)
    X[[0, 700, 1099], [5, 299, 0]] = bad
    assert dense.own_product(X, model.layers[0].weight.data)
    with pytest.raises(
        gn.DataError, match=r"3 of 1100 rows of X .*rows 0, 700, 1099\)"
    ):
        gn.predict(model, X)


def test_the_c_harness_builds_against_gemm_h_and_runs(tmp_path):
    """benchmarks/gemm_harness.c (docs/speed.md quotes it) compiles against
    the current gemm.h and times its five ways; without AVX-512 it says so."""
    import shutil
    import subprocess
    from pathlib import Path

    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        (pytest.fail if NATIVE_REQUIRED else pytest.skip)("no C compiler")
    root = Path(__file__).resolve().parents[1]
    exe = tmp_path / "gemm_harness"
    subprocess.run(
        [cc, "-O2", "-march=native", "-ffp-contract=off", "-Wall", "-Werror",
         "-I", str(root / "src" / "glassnet" / "_native"), "-o", str(exe),
         str(root / "benchmarks" / "gemm_harness.c")],
        check=True,
    )  # fmt: skip
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    if "avx512f" in _flags():  # this CPU's, whatever GLASSNET_TARGET builds
        lines = out.strip().splitlines()
        assert len(lines) == 5 and all("GFLOP/s" in line for line in lines)
    else:
        assert "no AVX-512" in out
