"""The compiled convolution and max-pooling kernels (_native/conv.c) against the NumPy code.

The checks run the same computation with the kernels on and off
(GLASSNET_NATIVE=0) and assert which path ran: float64 finite-difference
gradients on both paths; max pooling bit for bit (forward, winners and
backward: ties, NaN, signed zeros, overlapping windows, padding); convolution
to float rounding in float32 and float64 (and against plain loops, since both
paths share the patch layout); the pool of kept patches across several live
graphs; and a float32 training step of the W3 LeNet.
"""

import contextlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import native_setting
from hypothesis import assume, given
from hypothesis import strategies as st
from test_conv import loop_conv2d
from test_pool import pool_geometry

import glassnet as gn
from glassnet import _native
from glassnet import kernels as kernels_
from glassnet.kernels import pool as pool_ops
from glassnet.kernels.variants import conv as conv_ops
from glassnet.ops.conv import conv1d, conv2d, resolve_padding
from glassnet.ops.pool import max_pool2d

_POOL_PATHS = {
    "native": ("_max_pool_native", "_max_pool_grad_native"),
    "numpy": ("_max_pool_numpy", "_max_pool_grad_numpy"),
}
_GEMM_KERNEL = conv_ops._compiled_gemm


@contextlib.contextmanager
def kernels(on: bool):
    """Run the body with the compiled kernels on or off, and prove which path runs.

    Yields a dict counting the compiled products the convolutions made. With
    the kernels on, NumPy's max pooling raises; with them off, the compiled
    pooling raises and asking for the compiled product fails. Where the
    whole run requires the kernels (GLASSNET_NATIVE=1, as ``make test``
    sets), a kernel that does not build fails the test instead of skipping.
    """
    ran = {"gemm": 0}
    with pytest.MonkeyPatch.context() as mp:
        # these tests are the wide layout's: the direct kernel, tried first where
        # it applies, is set aside (tests/test_native_direct.py has its own)
        for name in ("conv2d", "conv2d_backward"):
            kernel = kernels_.registry()[name]
            others = [v for v in kernel.variants if not v.name.endswith("_direct")]
            mp.setattr(kernel, "variants", others)
        mp.setenv("GLASSNET_NATIVE", native_setting(on))  # "1" under make test
        _native._forget()
        try:
            if on and _native.load("conv") is None:
                pytest.skip(
                    f"the conv kernel does not build here: "
                    f"{_native.status().get('conv')}"
                )

            def wrong_path(*args, **kwargs):
                raise AssertionError("the other implementation ran")

            for name in _POOL_PATHS["numpy" if on else "native"]:
                mp.setattr(pool_ops, name, wrong_path)

            def gemm_kernel(dtype):
                fn = _GEMM_KERNEL(dtype)
                wanted = on and np.dtype(dtype) in (np.float32, np.float64)
                assert (fn is not None) == wanted, "the other implementation ran"
                if fn is None:
                    return None

                def counted(*args):
                    ran["gemm"] += 1
                    return fn(*args)

                return counted

            mp.setattr(conv_ops, "_compiled_gemm", gemm_kernel)
            yield ran
        finally:
            _native._forget()  # the MonkeyPatch restores GLASSNET_NATIVE after this


@pytest.fixture(params=["native", "numpy"])
def path(request):
    """Each test that takes ``path`` runs once with the C kernels, once with NumPy."""
    with kernels(request.param == "native") as ran:
        yield ran


# --- references: the definitions, one output position at a time (float64) -------------
# (the forward one is tests/test_conv.py's)


def loop_conv2d_grads(x, w, g, stride, pads):
    """d(Σ g·y)/dx and /dw: each position's g times its patch, and back onto it."""
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    _, _, kh, kw = w.shape
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            r, c = i * stride[0], j * stride[1]
            dw += np.einsum(
                "no,ncab->ocab", g[:, :, i, j], xp[:, :, r : r + kh, c : c + kw]
            )
            dxp[:, :, r : r + kh, c : c + kw] += np.einsum(
                "no,ocab->ncab", g[:, :, i, j], w
            )
    return dxp[:, :, pt : pt + x.shape[2], pl : pl + x.shape[3]], dw


def conv_run(x, w, b, stride, padding, g, dtype):
    """conv2d forward and backward with gradient ``g``: [y, dx, dw, db]."""
    xt = gn.tensor(x, requires_grad=True, dtype=dtype)
    wt = gn.tensor(w, requires_grad=True, dtype=dtype)
    bt = None if b is None else gn.tensor(b, requires_grad=True, dtype=dtype)
    y = conv2d(xt, wt, bt, stride, padding)
    assert y.dtype == dtype
    y.backward(g.astype(dtype))
    return [y.data, xt.grad, wt.grad] + ([] if bt is None else [bt.grad])


def rows_per_product(c_in, kh, kw):
    """The wide layout's kernel rows per product: 1 when a row holds STACK_DEPTH weights."""
    plan = conv_ops._Plan(
        (1, c_in, kh, kw),
        (1, c_in, kh, kw),
        (1, 1),
        ((0, 0), (0, 0)),
        np.dtype(np.float64),
    )
    return plan.rows


# --- gradients by finite differences (float64), on both paths ---------------------------

CONV_CASES = {
    # name: (x shape, weight shape, stride, padding, bias, chunked)
    "one-channel-pad0": ((2, 1, 5, 6), (2, 1, 3, 3), 1, 0, True, False),
    "one-channel-pad2": ((2, 1, 4, 5), (3, 1, 3, 2), 1, 2, False, False),
    "16-channels-pad0": ((2, 16, 3, 5), (2, 16, 2, 4), 1, 0, True, False),
    "16-channels-pad2": ((1, 16, 2, 3), (2, 16, 2, 4), 1, 2, False, False),
    "stride2-pad0": ((2, 3, 6, 5), (2, 3, 3, 2), 2, 0, True, False),
    "stride2-pad2": ((2, 2, 4, 5), (2, 2, 3, 3), 2, 2, True, False),
    "stride1x2-same": ((2, 2, 5, 6), (2, 2, 2, 3), (1, 2), "same", False, False),
    "chunked-1-channel": ((3, 1, 4, 5), (2, 1, 3, 3), 1, 2, True, True),
    "chunked-16-channels": ((3, 16, 2, 3), (2, 16, 2, 4), 1, 1, True, True),
    "chunked-stride2": ((3, 2, 5, 5), (2, 2, 3, 3), 2, 1, False, True),
}


@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_gradcheck_conv2d(path, monkeypatch, case):
    x_shape, w_shape, stride, padding, bias, chunked = CONV_CASES[case]
    wide = stride == 1
    if wide:  # both of the wide layout's ways of grouping kernel rows are covered
        rows = rows_per_product(w_shape[1], *w_shape[2:])
        assert rows == (1 if w_shape[1] == 16 else w_shape[2])
    if chunked:
        monkeypatch.setattr(conv_ops, "CHUNK_BYTES", 1)  # one sample per chunk
    rng = np.random.default_rng(sum(map(ord, case)))
    inputs = [
        gn.tensor(rng.standard_normal(s), requires_grad=True, dtype=np.float64)
        for s in (x_shape, w_shape) + (((w_shape[0],),) if bias else ())
    ]
    assert gn.gradcheck(lambda *t: conv2d(*t, stride=stride, padding=padding), inputs)
    # a frozen input, as the first layer of a network has: no input gradient
    x = rng.standard_normal(x_shape)

    def frozen(*t):
        return conv2d(x, *t, stride=stride, padding=padding)

    assert gn.gradcheck(frozen, inputs[1:])
    assert (path["gemm"] > 0) == (wide and _native.enabled())


@pytest.mark.parametrize(
    "c_in, k, stride, padding", [(2, 3, 1, "same"), (16, 4, 1, 2), (3, 3, 2, 1)]
)
def test_gradcheck_conv1d(path, c_in, k, stride, padding):
    rng = np.random.default_rng(c_in)
    x = gn.tensor(
        rng.standard_normal((2, c_in, 7)), requires_grad=True, dtype=np.float64
    )
    w = gn.tensor(
        rng.standard_normal((2, c_in, k)), requires_grad=True, dtype=np.float64
    )
    b = gn.tensor(rng.standard_normal(2), requires_grad=True, dtype=np.float64)
    assert gn.gradcheck(
        lambda *t: conv1d(*t, stride=stride, padding=padding), [x, w, b]
    )
    assert (path["gemm"] > 0) == (stride == 1 and _native.enabled())


def distinct_values(shape, seed=0):
    """Values at least 0.1 apart: no near-ties, so finite differences see one winner."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 - n * 0.05


@pytest.mark.parametrize(
    "kernel, stride, padding, ceil_mode",
    [
        (2, 2, 0, False),  # tiles the maps: backward writes every pixel once
        (2, 2, 0, True),  # a ragged last window
        (3, 2, 1, False),  # overlapping windows and padding
        (2, 1, 0, False),  # overlapping, stride 1
        (2, 3, 1, True),  # gaps between windows
        ((1, 3), (1, 2), (0, 1), False),
    ],
)
def test_gradcheck_max_pool(path, kernel, stride, padding, ceil_mode):
    x = gn.tensor(distinct_values((2, 3, 5, 7)), requires_grad=True, dtype=np.float64)
    assert gn.gradcheck(
        lambda t: max_pool2d(t, kernel, stride, padding, ceil_mode), [x]
    )


# --- max pooling: the compiled kernel is the NumPy code, bit for bit ----------------------


def bits(a):
    return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])


#: Few distinct values, so windows tie; both zeros; both infinities; two NaNs
#: with different bits (np.maximum keeps the first NaN it meets).
_SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, np.inf, -np.inf, np.nan, -np.nan]


@st.composite
def pool_cases(draw, wider_than_map=False):
    kernel, stride, padding, size, ceil_mode = draw(
        pool_geometry(size_max=8, wider_than_map=wider_than_map)
    )
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + size
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.choice(np.array(_SPECIAL, dtype), size=shape)
    return {
        "x": x,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "ceil_mode": ceil_mode,
        "nan_grad": draw(st.booleans()),
    }


def pool_run(case, g_seed):
    x = gn.tensor(case["x"], requires_grad=True, dtype=case["x"].dtype)
    y = max_pool2d(
        x, case["kernel"], case["stride"], case["padding"], case["ceil_mode"]
    )
    g = np.random.default_rng(g_seed).standard_normal(y.shape).astype(y.dtype)
    g[g > 1.5] *= -0.0  # signed zeros reach the pixels as they are
    if case["nan_grad"]:
        g.flat[0] = np.nan  # spreads over its window (g·0 is NaN)
    y.backward(g)
    return y.data, x.grad


@given(case=pool_cases(), g_seed=st.integers(0, 9))
def test_max_pool_is_bit_identical_on_both_paths(case, g_seed):
    check_bit_identical(case, g_seed)


@given(case=pool_cases(wider_than_map=True), g_seed=st.integers(0, 9))
def test_ceil_mode_window_wider_than_the_map_is_bit_identical(case, g_seed):
    check_bit_identical(case, g_seed)


def check_bit_identical(case, g_seed):
    with kernels(True):
        native = pool_run(case, g_seed)
    with kernels(False):
        reference = pool_run(case, g_seed)
    for a, b in zip(native, reference):
        assert a.dtype == b.dtype == case["x"].dtype
        np.testing.assert_array_equal(bits(a), bits(b))


@given(case=pool_cases())
def test_max_pool_winners_are_the_same(case):
    x, kernel, stride, padding = (
        case["x"],
        case["kernel"],
        case["stride"],
        case["padding"],
    )
    out_hw = pool_ops._out_hw(x.shape, kernel, stride, padding, case["ceil_mode"])
    xp = pool_ops._padded(x, kernel, stride, padding, out_hw, -np.inf)
    with kernels(True):
        out_c, won_c = pool_ops._max_pool_native(xp, kernel, stride, out_hw, True)
        unrecorded = pool_ops._max_pool_native(xp, kernel, stride, out_hw, False)
        assert unrecorded[1] is None
        np.testing.assert_array_equal(bits(unrecorded[0]), bits(out_c))
    out_n, won_n = pool_ops._max_pool_numpy(xp, kernel, stride, out_hw, True)
    np.testing.assert_array_equal(bits(out_c), bits(out_n))
    assert won_c.dtype == won_n.dtype == np.uint8
    np.testing.assert_array_equal(won_c, won_n)


@pytest.mark.parametrize(
    "size", [(2, 2), (4, 14), (6, 16), (3, 17), (28, 28), (14, 30), (5, 33), (2, 48)]
)
@pytest.mark.parametrize("padding, ceil_mode", [(0, False), (1, False), (0, True)])
def test_two_by_two_pooling_eight_windows_at_a_time(size, padding, ceil_mode):
    """2x2 windows, stride 2, float32: the kernel's vector path (8 windows at a time,
    a masked last group) against the NumPy loop, bit for bit, for rows of 1 to 24
    windows, on values chosen to tie, with both zeros, infinities and two NaNs."""
    rng = np.random.default_rng(sum(size) + 7 * padding + ceil_mode)
    for values in (
        np.array(_SPECIAL, np.float32),
        rng.standard_normal(64).astype(np.float32),
    ):
        x = rng.choice(values, size=(2, 3) + size)
        case = {
            "x": x,
            "kernel": (2, 2),
            "stride": (2, 2),
            "padding": (padding, padding),
            "ceil_mode": ceil_mode,
            "nan_grad": True,
        }
        with kernels(True):
            native = pool_run(case, 3)
        with kernels(False):
            reference = pool_run(case, 3)
        for a, b in zip(native, reference):
            np.testing.assert_array_equal(bits(a), bits(b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_makes_the_max_nan_and_wins_the_gradient(path, dtype):
    # 2x2 windows, stride 2 (float32: the eight-at-a-time kernel) ...
    x = gn.tensor([[[[1.0, np.nan], [3.0, 2.0]]]], requires_grad=True, dtype=dtype)
    y = max_pool2d(x, 2)
    assert np.isnan(y.data).all()
    y.backward(np.ones(y.shape, dtype))
    # the NaN is the max, so its gradient goes to the NaN, not to 1.0 before it
    np.testing.assert_array_equal(x.grad[0, 0], [[0, 1], [0, 0]])
    # ... and the general loop: 3x3 windows, stride 1, two NaNs in a window: the
    # first one in reading order is the max (np.maximum keeps it) and wins
    data = np.arange(16.0).reshape(1, 1, 4, 4)
    data[0, 0, 1, 2], data[0, 0, 2, 0] = np.nan, -np.nan
    x = gn.tensor(data, requires_grad=True, dtype=dtype)
    y = max_pool2d(x, 3, stride=1)
    assert np.isnan(y.data).all()
    assert not np.signbit(y.data[0, 0, 0, 0])  # the first NaN's bits, not -nan's
    y.backward(np.array([[[[1.0, 10.0], [100.0, 1000.0]]]], dtype))
    expected = np.zeros((4, 4))
    expected[1, 2] = 1 + 10 + 100 + 1000  # the first NaN of every window
    np.testing.assert_array_equal(x.grad[0, 0], expected)


def misaligned(a):
    """A copy of ``a`` one byte past an aligned address (C-contiguous): the kernels
    never read such arrays as floats in place, which is undefined behaviour
    (``make sanitize`` checks)."""
    out = np.zeros(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_conv_operands_give_the_same_numbers(dtype):
    rng = np.random.default_rng(9)
    x = misaligned(rng.standard_normal((2, 1, 4, 5)).astype(dtype))
    w = misaligned(rng.standard_normal((1, 1, 3, 3)).astype(dtype))
    b = misaligned(rng.standard_normal(1).astype(dtype))
    g = misaligned(rng.standard_normal((2, 1, 4, 5)).astype(dtype))

    def run():
        inputs = [gn.tensor(a, requires_grad=True, dtype=dtype) for a in (x, w, b)]
        y = conv2d(*inputs, padding=1)
        y.backward(g)  # the gradient itself misaligned, too
        return [y.data] + [t.grad for t in inputs]

    with kernels(True) as ran:
        native = run()
    assert ran["gemm"] > 0
    with kernels(False):
        reference = run()
    for a, r in zip(native, reference):
        np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_maps_and_gradients_pool_the_same(dtype):
    x = misaligned(distinct_values((2, 3, 4, 6)).astype(dtype))
    g = misaligned(np.random.default_rng(4).standard_normal((2, 3, 2, 3)).astype(dtype))
    results = []
    for on in (True, False):
        with kernels(on):
            t = gn.tensor(x, requires_grad=True, dtype=dtype)
            y = max_pool2d(t, 2)  # no padding: the maps themselves would be read
            y.backward(g)
            results.append((y.data, t.grad))
    for a, b in zip(*results):
        np.testing.assert_array_equal(bits(a), bits(b))


def test_ties_and_overlapping_windows_on_both_paths(path):
    x = gn.tensor(np.zeros((1, 1, 2, 4)), requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0]])
    x = gn.tensor(np.array([[[[0.0, 5.0, 0.0], [0.0, 0.0, 0.0]]]]), requires_grad=True)
    max_pool2d(x, 2, stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[0, 2, 0], [0, 0, 0]])


def test_pool_kernel_is_used_only_where_it_applies(monkeypatch):
    monkeypatch.setenv("GLASSNET_NATIVE", "auto")
    _native._forget()
    try:
        x16 = np.zeros((1, 1, 16, 16), np.float16)
        assert kernels_.pick("max_pool2d", x16, (2, 2), (2, 2), (0, 0)) is not (
            pool_ops.max_pool2d_c
        )
        # 256 offsets do not fit the compiled code's uint8 winners
        x32 = np.zeros((1, 1, 16, 16), np.float32)
        assert kernels_.pick("max_pool2d", x32, (16, 16), (1, 1), (0, 0)) is not (
            pool_ops.max_pool2d_c
        )
        assert (
            kernels_.pick("max_pool2d", x32, (2, 2), (2, 2), (0, 0))
            is (pool_ops.max_pool2d_c)
            or _native.load("conv") is None
        )
        assert conv_ops._compiled_gemm(np.float16) is None
    finally:
        _native._forget()
    # a 16x16 window (256 offsets) needs int32 winners: the NumPy code, on any setting
    x = gn.tensor(distinct_values((1, 1, 16, 17)), requires_grad=True)
    max_pool2d(x, 16, stride=1).sum().backward()
    assert x.grad.sum() == 2 and x.grad.max() <= 2


# --- convolution: both paths agree to rounding, and with the definition -------------------


@st.composite
def conv_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 5)))
    stride = draw(st.sampled_from([(1, 1), (1, 1), (2, 2), (1, 2)]))
    padding = draw(st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 2)))
    size = (draw(st.integers(1, 7)), draw(st.integers(1, 8)))
    pads = [resolve_padding(padding, k, s, n) for k, s, n in zip(kernel, stride, size)]
    assume(all(n + a + b >= k for n, (a, b), k in zip(size, pads, kernel)))
    # 13-17 channels: a kernel row of 4 or 5 crosses STACK_DEPTH (64 weights)
    c_in = draw(st.one_of(st.integers(1, 3), st.integers(13, 17)))
    return {
        "x_shape": (draw(st.integers(1, 3)), c_in) + size,
        "w_shape": (draw(st.integers(1, 4)), c_in) + kernel,
        "stride": stride,
        "padding": padding,
        "pads": pads,
        "bias": draw(st.booleans()),
        "chunked": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


@st.composite
def padding_past_kernel_cases(draw):
    """Stride 1, batches of 2-3 with a bias, and the width padded on each side by at
    least the kernel width: output columns whose window is all padding, where the
    wide layout once gave two images the same column (and lost one's bias gradient).
    One chunk per batch: that sharing happened only inside a chunk."""
    kw = draw(st.integers(1, 5))
    kernel = (draw(st.integers(1, 4)), kw)
    padding = (draw(st.integers(0, 2)), draw(st.integers(kw, kw + 2)))
    size = (draw(st.integers(1, 7)), draw(st.integers(1, 8)))
    pads = [(p, p) for p in padding]
    assume(size[0] + 2 * padding[0] >= kernel[0])
    c_in = draw(st.one_of(st.integers(1, 3), st.integers(13, 17)))
    return {
        "x_shape": (draw(st.integers(2, 3)), c_in) + size,
        "w_shape": (draw(st.integers(1, 4)), c_in) + kernel,
        "stride": (1, 1),
        "padding": padding,
        "pads": pads,
        "bias": True,
        "chunked": False,
        "seed": draw(st.integers(0, 2**16)),
    }


@given(case=padding_past_kernel_cases())
def test_padding_past_the_kernel_paths_agree_and_match_the_definition(case):
    check_conv_case(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_gradient_counts_every_image_with_padding_past_the_kernel(path, dtype):
    b = gn.tensor(np.zeros(1), requires_grad=True, dtype=dtype)
    conv1d(np.ones((2, 1, 3)), np.ones((1, 1, 1)), b, padding=1).sum().backward()
    assert b.grad.dtype == dtype
    np.testing.assert_array_equal(b.grad, [2 * 5])  # 2 sequences of 3 + 2 padding
    layer = gn.nn.Conv2D(1, 1, (3, 1), padding=1).astype(dtype)
    layer(np.ones((4, 1, 5, 5))).sum().backward()
    np.testing.assert_array_equal(layer.bias.grad, [4 * 5 * 7])  # 4 maps of 5x7
    assert path["gemm"] > 0 or not _native.enabled()


@given(case=conv_cases())
def test_conv2d_paths_agree_and_match_the_definition(case):
    check_conv_case(case)


def check_conv_case(case):
    """conv2d with the kernels on and off, float64 and float32: y, dx, dw and db
    against the definition (plain loops) and against each other."""
    rng = np.random.default_rng(case["seed"])
    x, w = rng.standard_normal(case["x_shape"]), rng.standard_normal(case["w_shape"])
    b = rng.standard_normal(case["w_shape"][0]) if case["bias"] else None
    args = (x, w, b, case["stride"], case["padding"])
    y64 = loop_conv2d(x, w, b, case["stride"], case["pads"])
    g = rng.standard_normal(y64.shape)
    dx64, dw64 = loop_conv2d_grads(x, w, g, case["stride"], case["pads"])
    expected = [y64, dx64, dw64] + ([] if b is None else [g.sum(axis=(0, 2, 3))])
    with pytest.MonkeyPatch.context() as mp:
        if case["chunked"]:
            mp.setattr(conv_ops, "CHUNK_BYTES", 1)
        for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-6)):
            with kernels(True) as ran:
                native = conv_run(*args, g, dtype)
            assert (ran["gemm"] > 0) == (case["stride"] == (1, 1))
            with kernels(False):
                reference = conv_run(*args, g, dtype)
            for a, r, e in zip(native, reference, expected):
                assert a.dtype == r.dtype == dtype
                # products of up to in_ch·kh·kw terms: tolerance relative to their size
                scale = max(np.abs(e).max(), 1.0) * np.sqrt(w.size)
                np.testing.assert_allclose(a, r, rtol=0, atol=tol * scale)
                np.testing.assert_allclose(r, e, rtol=0, atol=tol * scale)


def test_mixed_dtypes_compute_in_the_wider_one(path):
    rng = np.random.default_rng(8)
    x32 = rng.standard_normal((2, 16, 4, 5)).astype(np.float32)
    w, b = rng.standard_normal((3, 16, 3, 4)), rng.standard_normal(3)
    xt = gn.tensor(x32, requires_grad=True)
    wt = gn.tensor(w, requires_grad=True, dtype=np.float64)
    y = conv2d(xt, wt, gn.tensor(b, dtype=np.float64), padding=1)
    assert y.dtype == np.float64
    pads = ((1, 1), (1, 1))
    expected = loop_conv2d(x32.astype(np.float64), w, b, (1, 1), pads)
    np.testing.assert_allclose(y.data, expected, rtol=0, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    dx, dw = loop_conv2d_grads(x32.astype(np.float64), w, g, (1, 1), pads)
    assert xt.grad.dtype == np.float32 and wt.grad.dtype == np.float64
    np.testing.assert_allclose(xt.grad, dx, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(wt.grad, dw, rtol=0, atol=1e-11)


@pytest.mark.parametrize("stride", [1, 2])
def test_an_empty_batch_has_zero_gradients(path, stride):
    x = gn.tensor(np.zeros((0, 16, 5, 5)), requires_grad=True, dtype=np.float64)
    w = gn.tensor(np.ones((3, 16, 3, 4)), requires_grad=True, dtype=np.float64)
    b = gn.tensor(np.ones(3), requires_grad=True, dtype=np.float64)
    y = conv2d(x, w, b, stride=stride)
    assert y.shape[0] == 0
    y.sum().backward()
    assert x.grad.shape == x.shape
    np.testing.assert_array_equal(w.grad, 0)
    np.testing.assert_array_equal(b.grad, 0)


# --- the stacked patches kept from forward for backward (_Kept) ---------------------------


@pytest.fixture
def kept_arrays(monkeypatch):
    """Every array _Kept lends, in order, from an empty pool."""
    lent = []

    class Recorded(conv_ops._Kept):
        __slots__ = ()

        def __init__(self, size, dtype):
            super().__init__(size, dtype)
            lent.append(self.array)

    monkeypatch.setattr(conv_ops._Kept, "_pool", {})
    monkeypatch.setattr(conv_ops, "_Kept", Recorded)
    yield lent


def _conv_case(seed):
    rng = np.random.default_rng(seed)
    x = gn.tensor(
        rng.standard_normal((2, 16, 4, 5)), requires_grad=True, dtype=np.float64
    )
    g = rng.standard_normal((2, 3, 4, 5))
    return x, g


def _check_grads(x, g, w, dw_before):
    # padding "same" for a 3x4 kernel: one row above and below, 1 column left, 2 right
    dx, dw = loop_conv2d_grads(x.data, w.data, g, (1, 1), ((1, 1), (1, 2)))
    np.testing.assert_allclose(x.grad, dx, rtol=0, atol=1e-11)
    np.testing.assert_allclose(w.grad - dw_before, dw, rtol=0, atol=1e-11)


def test_two_forward_passes_then_two_backwards(path, kept_arrays):
    rng = np.random.default_rng(11)
    w = gn.tensor(
        rng.standard_normal((3, 16, 3, 4)), requires_grad=True, dtype=np.float64
    )
    (x0, g0), (x1, g1), (x2, g2), (x3, g3) = (_conv_case(seed) for seed in range(4))
    conv2d(x0, w, padding="same").backward(g0)  # its array goes back to the pool
    w.grad = None
    y1 = conv2d(x1, w, padding="same")  # takes it from the pool ...
    y2 = conv2d(x2, w, padding="same")  # ... so this one gets another
    assert kept_arrays[1] is kept_arrays[0]
    assert not np.shares_memory(kept_arrays[2], kept_arrays[1])
    y2.backward(g2)  # the later graph first
    _check_grads(x2, g2, w, 0)
    before = w.grad.copy()
    y3 = conv2d(x3, w, padding="same")  # takes y2's array, back in the pool
    assert kept_arrays[3] is kept_arrays[2]
    assert not np.shares_memory(kept_arrays[3], kept_arrays[1])  # y1's is still live
    y1.backward(g1)
    _check_grads(x1, g1, w, before)
    before = w.grad.copy()
    y3.backward(g3)
    _check_grads(x3, g3, w, before)
    pool = conv_ops._Kept._pool
    assert sum(len(free) for free in pool.values()) == 2  # both arrays given back


def test_a_graph_walked_twice_keeps_its_patches(path, kept_arrays):
    rng = np.random.default_rng(12)
    w = gn.tensor(
        rng.standard_normal((3, 16, 3, 4)), requires_grad=True, dtype=np.float64
    )
    x, g = _conv_case(4)
    y = conv2d(x, w, padding="same")
    y.backward(g, retain_graph=True)
    first = w.grad.copy()
    for seed in (5, 6):  # other graphs come and go meanwhile
        other, g_other = _conv_case(seed)
        conv2d(other, w, padding="same").backward(g_other)
        assert not np.shares_memory(kept_arrays[-1], kept_arrays[0])
    w.grad = None
    y.backward(g)
    np.testing.assert_array_equal(w.grad, first)


def test_patches_are_kept_only_for_a_weight_gradient(path, monkeypatch, kept_arrays):
    rng = np.random.default_rng(13)
    x, g = _conv_case(7)
    w = gn.tensor(rng.standard_normal((3, 16, 3, 4)), dtype=np.float64)  # frozen
    conv2d(x, w, padding="same").backward(g)
    w.requires_grad = True
    with gn.no_grad():
        conv2d(x, w, padding="same")
    conv2d(x, w, stride=2)  # compact layout
    monkeypatch.setattr(conv_ops, "CHUNK_BYTES", 1)  # batch in two chunks
    x.grad = None
    conv2d(x, w, padding="same").backward(g)
    assert kept_arrays == []
    _check_grads(x, g, w, 0)
    monkeypatch.setattr(conv_ops, "CHUNK_BYTES", 32 << 20)
    conv2d(x, w, padding="same")
    assert len(kept_arrays) == 1


def test_a_batch_in_several_chunks_is_never_kept(path, monkeypatch, kept_arrays):
    # The chunk size is reckoned per sample, a little above what a chunk's
    # patches take (no positions are computed past the last image), so a batch
    # whose patches just fit in CHUNK_BYTES runs in chunks -- and the patches
    # of one chunk, kept, would not be the batch's.
    rng = np.random.default_rng(14)
    x = gn.tensor(
        rng.standard_normal((3, 1, 4, 5)), requires_grad=True, dtype=np.float64
    )
    w = gn.tensor(
        rng.standard_normal((2, 1, 3, 3)), requires_grad=True, dtype=np.float64
    )
    plan = conv_ops._Plan(
        x.shape, w.shape, (1, 1), ((0, 0), (0, 0)), np.dtype(np.float64)
    )
    fits = plan.stacked_size(3) * 8
    monkeypatch.setattr(conv_ops, "CHUNK_BYTES", fits)
    plan = conv_ops._Plan(
        x.shape, w.shape, (1, 1), ((0, 0), (0, 0)), np.dtype(np.float64)
    )
    assert plan.chunk < 3
    g = rng.standard_normal((3, 2, 2, 3))
    conv2d(x, w).backward(g)
    assert kept_arrays == []
    dx, dw = loop_conv2d_grads(x.data, w.data, g, (1, 1), ((0, 0), (0, 0)))
    np.testing.assert_allclose(x.grad, dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(w.grad, dw, rtol=0, atol=1e-12)


def test_the_pool_stays_small(monkeypatch):
    monkeypatch.setattr(conv_ops._Kept, "_pool", {})
    kept = [conv_ops._Kept(1000, np.float64) for _ in range(3)]
    del kept
    pool = conv_ops._Kept._pool
    assert {k: len(v) for k, v in pool.items() if v} == {
        (1000, "<f8"): 2
    }  # two per size
    monkeypatch.setattr(conv_ops, "KEEP_BYTES", 20000)
    big = conv_ops._Kept(3000, np.float32)  # 12 kB more: too much
    del big
    assert {k: len(v) for k, v in pool.items() if v} == {(1000, "<f8"): 2}


# --- a W3 LeNet training step in float32 --------------------------------------------------


def _w3():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "w3_lenet.py"
    spec = importlib.util.spec_from_file_location("w3_lenet_for_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lenet_steps(w3, steps):
    from glassnet.losses import CrossEntropy
    from glassnet.optim import SGD

    model = w3.glassnet_model(seed=0)
    X, y = w3.synthetic_data()
    opt = SGD(model, lr=0.01, momentum=0.9)
    loss_fn, curve = CrossEntropy(), []
    for i in range(steps):
        k = slice(i * w3.BATCH, (i + 1) * w3.BATCH)
        loss = loss_fn(model(X[k]), y[k])
        assert loss.dtype == np.float32
        opt.zero_grad()
        loss.backward()
        if i == 0:
            grads = {name: p.grad.copy() for name, p in model.named_parameters()}
        opt.step()
        curve.append(float(loss.data))
    return np.array(curve), grads, {k: v.copy() for k, v in model.state_dict().items()}


def test_float32_lenet_training_steps_agree():
    w3 = _w3()
    with kernels(True) as ran:
        native = _lenet_steps(w3, 3)
    assert ran["gemm"] > 0
    with kernels(False):
        reference = _lenet_steps(w3, 3)
    np.testing.assert_allclose(native[0], reference[0], rtol=1e-5)
    for got, want in zip(native[1:], reference[1:]):
        assert got.keys() == want.keys()
        for name in want:
            assert got[name].dtype == np.float32
            scale = np.abs(want[name]).max()
            np.testing.assert_allclose(
                got[name], want[name], rtol=0, atol=2e-5 * scale, err_msg=name
            )
