"""The direct convolution (_native/direct.c) and the 2x2 max pooling
(_native/conv.c) on every vector width this CPU runs.

tests/test_kernels.py checks the direct variants against the reference for
the build this machine uses by default (GLASSNET_TARGET=native). Here the
library is also built for each instruction set the CPU has (issue 17, item 5)
-- AVX2 (8 floats a vector) and, on an AVX-512 machine, AVX-512 (16) -- and
each build is checked against the NumPy reference on the kernels' own
hypothesis-drawn arguments (batch 1, odd sizes, padding past the filter,
non-contiguous inputs): forward, input gradient, filter and bias gradients;
the 2x2 pooling bit for bit against NumPy. Then float64 finite differences
through the graph op, on the direct path. The threads: the convolution on one
thread and on three agree to rounding; max pooling and ReLU, which split
maps and numbers between threads, agree bit for bit on three threads.
"""

import contextlib
from pathlib import Path

import numpy as np
import pytest
from conftest import NATIVE_REQUIRED
from hypothesis import given, settings
from hypothesis import strategies as st
from test_native_conv import _SPECIAL, bits, pool_cases, pool_run
from test_native_conv import kernels as kernels_on_or_off

import glassnet as gn
from glassnet import _native, kernels
from glassnet.kernels import activations
from glassnet.kernels import pool as pool_ops
from glassnet.kernels._threads import threads_for
from glassnet.kernels.variants import direct
from glassnet.ops.conv import conv2d

REGISTRY = kernels.registry()


def _cpu_flags() -> set:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


FLAGS = _cpu_flags()
#: (target, floats per vector) for every instruction set this CPU runs: both
#: widths on an AVX-512 machine, AVX2 on an AVX2 one; native is the default.
WIDTHS = [
    (name, width)
    for name, width in (("avx2", 8), ("avx512", 16))
    if set(_native.TARGETS[name][1]) <= FLAGS
]
NATIVE_WIDTH = 16 if "avx512f" in FLAGS else 8 if "avx2" in FLAGS else None


@contextlib.contextmanager
def target(name, library="direct"):
    """Run the body with the kernels built for GLASSNET_TARGET=``name``; fail
    under make test (skip elsewhere) if ``library`` does not build for it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GLASSNET_TARGET", name)
        _native._forget()
        try:
            if _native.load(library) is None:
                message = f"{library}.c does not build for {name}: {_native.status()}"
                (pytest.fail if NATIVE_REQUIRED else pytest.skip)(message)
            yield
        finally:
            mp.undo()
            _native._forget()


def test_this_cpu_builds_both_widths_it_runs():
    """On x86-64 with AVX2 there is at least the AVX2 build to compare; on this
    project's Sapphire Rapids machine, the AVX-512 one too."""
    if "avx2" not in FLAGS:  # a CPU fact, not a missing component: both project
        # machines (Zen 3, Sapphire Rapids) have AVX2, so make test runs this there
        pytest.skip("not an AVX2 CPU: only the default build is tested")
    assert WIDTHS[0] == ("avx2", 8)
    assert (("avx512", 16) in WIDTHS) == ("avx512f" in FLAGS)


@pytest.mark.parametrize("name, width", [*WIDTHS, ("native", NATIVE_WIDTH)])
def test_the_build_has_its_targets_vector_width(name, width):
    if width is None:  # only on a CPU without AVX2 (see above); never on ours
        pytest.skip("no AVX2 here: the width is the platform's default")
    with target(name):
        assert kernels.native("gn_direct_width")() == width


def _agree(name, fn, args, kwargs):
    """The direct variant ``fn`` of kernel ``name`` against the reference."""
    v = next(x for x in REGISTRY[name].variants if x.fn is fn)
    if not v.available(*args, **kwargs):
        return  # another dtype or stride: the dispatcher never sends it here
    expected = REGISTRY[name].reference(*args, **kwargs)
    got = fn(*args, **kwargs)
    pairs = zip(*(e if isinstance(e, tuple) else (e,) for e in (expected, got)))
    for e, g in pairs:
        assert (e is None) == (g is None)
        if e is not None:
            assert g.dtype == e.dtype
            np.testing.assert_allclose(g, e, rtol=v.rtol, atol=v.atol)


@pytest.mark.parametrize("name", [w[0] for w in WIDTHS] or ["native"])
@settings(max_examples=60)
@given(data=st.data())
def test_each_width_agrees_with_the_reference(name, data):
    fwd_args, fwd_kwargs = REGISTRY["conv2d"].args(data.draw)
    bwd_args, bwd_kwargs = REGISTRY["conv2d_backward"].args(data.draw)
    with target(name):
        _agree("conv2d", direct.conv2d_direct, fwd_args, fwd_kwargs)
        _agree("conv2d_backward", direct.conv2d_backward_direct, bwd_args, bwd_kwargs)


@pytest.mark.parametrize("name", [w[0] for w in WIDTHS] or ["native"])
def test_each_width_splits_between_threads_to_rounding(name, monkeypatch):
    """W3's second layer, on one thread and on three: the same sums, split; and
    both the reference's (32 filters fill whole vectors: the filter gradient
    reads g from the input gradient's padded copy of it)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 16, 14, 14)).astype(np.float32)
    w = rng.standard_normal((32, 16, 5, 5)).astype(np.float32)
    g = rng.standard_normal((5, 32, 14, 14)).astype(np.float32)
    geometry = ((1, 1), ((2, 2), (2, 2)))
    runs = []
    with target(name):
        for threads in ("1", "3"):
            monkeypatch.setenv("GLASSNET_NUM_THREADS", threads)
            monkeypatch.setattr(direct, "WORK_PER_THREAD", 1)
            assert direct.threads(10**9) == int(threads)
            y = direct.conv2d_direct(x, w, None, *geometry)
            runs.append([y, *direct.conv2d_backward_direct(g, x, w, *geometry)])
    reference = [REGISTRY["conv2d"].reference(x, w, None, *geometry)]
    reference += REGISTRY["conv2d_backward"].reference(g, x, w, *geometry)
    for one, three, expected in zip(*runs, reference):
        np.testing.assert_allclose(three, one, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(one, expected, rtol=2e-4, atol=2e-4)


@contextlib.contextmanager
def threads(count: str):
    """Run the body with ``count`` threads for the compiled pooling and ReLU, from
    the first pixel on (their work thresholds set to 1)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GLASSNET_NUM_THREADS", count)
        mp.setattr(pool_ops, "PIXELS_PER_THREAD", 1)
        mp.setattr(activations, "RELU_PER_THREAD", 1)
        assert threads_for(10**9, pool_ops.PIXELS_PER_THREAD) == int(count)
        assert activations._relu_threads(np.empty(10**5)) == int(count)
        yield


@pytest.mark.parametrize("name", [w[0] for w in WIDTHS] or ["native"])
@pytest.mark.parametrize("count", ["1", "3"])
@pytest.mark.parametrize("planes", [(1, 1), (2, 3)])
@pytest.mark.parametrize("size", [(2, 2), (4, 14), (3, 17), (28, 28), (5, 33), (2, 66)])
def test_each_width_pools_two_by_two_bit_for_bit(name, count, planes, size):
    """The vector path of each width (8 or 16 windows at a time, a masked last
    group) against NumPy: ties, both zeros, infinities, NaNs; forward, winners
    and gradient; on one thread and on three (the maps split between them; one
    map is fewer maps than threads)."""
    rng = np.random.default_rng(sum(size))
    x = rng.choice(np.array(_SPECIAL, np.float32), size=planes + size)
    case = {"x": x, "kernel": (2, 2), "stride": (2, 2), "padding": (0, 0)}
    case.update(ceil_mode=bool(size[1] % 2), nan_grad=True)
    with kernels_on_or_off(False):
        reference = pool_run(case, 5)
    with target(name), kernels_on_or_off(True), threads(count):
        native = pool_run(case, 5)
    for a, b in zip(native, reference):
        np.testing.assert_array_equal(bits(a), bits(b))


@pytest.mark.parametrize("name", [w[0] for w in WIDTHS] or ["native"])
@settings(max_examples=30)
@given(case=pool_cases(), g_seed=st.integers(0, 9))
def test_each_width_pools_any_window_on_three_threads_bit_for_bit(name, case, g_seed):
    """Every window, stride, padding and dtype (the general loops, and LeNet's
    where drawn), batch 1 and maps fewer than the threads included."""
    with kernels_on_or_off(False):
        reference = pool_run(case, g_seed)
    with target(name), kernels_on_or_off(True), threads("3"):
        native = pool_run(case, g_seed)
    for a, b in zip(native, reference):
        np.testing.assert_array_equal(bits(a), bits(b))


@pytest.mark.parametrize("name", [w[0] for w in WIDTHS] or ["native"])
@settings(max_examples=30)
@given(
    n=st.integers(0, 400),  # blocks of 64 numbers: fewer blocks than threads too
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_each_width_relu_on_three_threads_bit_for_bit(name, n, dtype, seed):
    """ReLU forward (output and mask) and backward split between three threads
    against the NumPy reference: -0.0, NaN and infinities included."""
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array(_SPECIAL + [3.5, -1e-30], dtype), size=n)
    g = rng.choice(np.array(_SPECIAL + [0.25], dtype), size=n)
    with np.errstate(invalid="ignore"):  # inf · 0 in NumPy: NaN, as in C
        y_ref, mask_ref = activations.relu(x)
        d_ref = activations.relu_backward(g, mask_ref)
    with target(name), threads("3"):
        if kernels.native("gn_relu_fwd", x.dtype) is None:
            message = f"elementwise.c does not build for {name}: {_native.status()}"
            (pytest.fail if NATIVE_REQUIRED else pytest.skip)(message)
        y, mask = activations.relu_c(x)
        d = activations.relu_backward_c(g, mask)
    np.testing.assert_array_equal(mask, mask_ref)
    np.testing.assert_array_equal(bits(y), bits(y_ref))
    np.testing.assert_array_equal(bits(d), bits(d_ref))


CASES = {
    # x shape, filters shape, padding, bias
    "lenet-like": ((2, 3, 6, 7), (5, 3, 3, 3), 1, True),
    "one-channel": ((1, 1, 5, 4), (2, 1, 2, 3), 0, False),
    "padding-past-the-filter": ((2, 2, 3, 3), (3, 2, 2, 2), 3, True),
    "more-channels-than-a-vector": ((1, 17, 4, 4), (18, 17, 3, 2), (1, 2), True),
    "a-whole-vector-of-filters": ((2, 3, 5, 5), (16, 3, 3, 3), 1, True),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_gradcheck_through_the_direct_kernel(case):
    x_shape, w_shape, padding, bias = CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)))
    inputs = [
        gn.tensor(rng.standard_normal(s), requires_grad=True, dtype=np.float64)
        for s in (x_shape, w_shape) + (((w_shape[0],),) if bias else ())
    ]
    x, w = inputs[0].data, inputs[1].data
    with target("native"):
        picked = kernels.pick("conv2d", x, w, None, (1, 1), ((1, 1), (1, 1)))
        assert picked is direct.conv2d_direct
        assert gn.gradcheck(lambda *t: conv2d(*t, padding=padding), inputs)
