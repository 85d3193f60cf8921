"""Conv1D / Conv2D: against plain loops, the seed's match(), gradcheck, and errors."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_nn import layer_gradcheck

import glassnet as gn
from glassnet import nn
from glassnet.datasets.stories import canonical_o, canonical_x, x_features
from glassnet.ops.conv import conv1d, conv2d, match, resolve_padding


def loop_conv2d(x, w, b, stride, pads):
    """The definition, one output pixel at a time (float64)."""
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, _, h, wd = xp.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride[0] + 1, (wd - kw) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r, c = i * stride[0], j * stride[1]
            patch = xp[:, :, r : r + kh, c : c + kw]
            out[:, :, i, j] = np.einsum("ncab,ocab->no", patch, w)
    return out if b is None else out + b[None, :, None, None]


paddings = st.one_of(
    st.sampled_from(["valid", "same"]),
    st.integers(0, 2),
    st.tuples(st.integers(0, 2), st.integers(0, 2)),
)


@st.composite
def conv2d_cases(draw, padding_past_kernel=False):
    """A Conv2D case; ``padding_past_kernel``: stride 1, a batch of 2-3 with a bias,
    and each side of the width padded by at least the kernel width, so some
    output columns see only padding (where the wide layout once let two images
    share output columns and lost one image's bias gradient)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if padding_past_kernel:
        stride = (1, 1)
        padding = (draw(st.integers(0, 3)), draw(st.integers(kernel[1], kernel[1] + 2)))
    else:
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        padding = draw(paddings)
    size = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    pad = padding if isinstance(padding, tuple) else (padding, padding)
    pads = [
        resolve_padding(p, k, s, n) for p, k, s, n in zip(pad, kernel, stride, size)
    ]
    assume(all(n + a + b >= k for n, (a, b), k in zip(size, pads, kernel)))
    batch = draw(st.integers(2, 3) if padding_past_kernel else st.integers(1, 2))
    return {
        "batch": batch,
        "c_in": draw(st.integers(1, 3)),
        "c_out": draw(st.integers(1, 3)),
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "size": size,
        "pads": pads,
        "bias": padding_past_kernel or draw(st.booleans()),
    }


@given(case=conv2d_cases())
def test_conv2d_layer_matches_the_loop_and_gradcheck(case):
    check_layer_case(case)


@given(case=conv2d_cases(padding_past_kernel=True))
def test_padding_past_the_kernel_matches_the_loop_and_gradcheck(case):
    # gradcheck covers the bias, the weight and the input in this case
    check_layer_case(case)


def check_layer_case(case):
    layer = nn.Conv2D(
        case["c_in"],
        case["c_out"],
        case["kernel"],
        stride=case["stride"],
        padding=case["padding"],
        bias=case["bias"],
        seed=0,
    )
    if case["bias"]:
        layer.bias.data = np.linspace(-1, 1, case["c_out"]).astype(np.float32)
    x = np.random.default_rng(1).standard_normal(
        (case["batch"], case["c_in"], *case["size"])
    )
    out = layer(x)
    expected = loop_conv2d(
        x.astype(np.float32).astype(np.float64),
        layer.weight.data.astype(np.float64),
        None if layer.bias is None else layer.bias.data,
        case["stride"],
        case["pads"],
    )
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    assert [n for n, _ in layer.named_parameters()] == (
        ["weight", "bias"] if case["bias"] else ["weight"]
    )
    assert layer.weight.shape == (case["c_out"], case["c_in"], *case["kernel"])
    layer_gradcheck(layer, x)


@given(
    batch=st.integers(1, 2),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 2)),
    time=st.integers(1, 9),
    bias=st.booleans(),
)
def test_conv1d_layer_matches_conv2d_of_height_one_and_gradcheck(
    batch, c_in, c_out, k, stride, padding, time, bias
):
    # conv1d is conv2d of height 1 (one code path): padding past the kernel is
    # covered by test_padding_past_the_kernel_matches_the_loop_and_gradcheck
    before, after = resolve_padding(padding, k, stride, time)
    assume(time + before + after >= k)
    layer = nn.Conv1D(c_in, c_out, k, stride=stride, padding=padding, bias=bias, seed=0)
    x = np.random.default_rng(2).standard_normal((batch, c_in, time))
    out = layer(x)
    expected = loop_conv2d(
        x.astype(np.float32)[:, :, None, :].astype(np.float64),
        layer.weight.data[:, :, None, :].astype(np.float64),
        None if layer.bias is None else layer.bias.data,
        (1, stride),
        ((0, 0), (before, after)),
    )[:, :, 0, :]
    assert out.shape == (batch, c_out, (time + before + after - k) // stride + 1)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    assert layer.weight.shape == (c_out, c_in, k)
    layer_gradcheck(layer, x)


def test_lenet_sized_layer_matches_the_loop():
    # The sizes of the benchmark's second layer: 16 maps of 14x14, 5x5 kernels.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 16, 14, 14))
    layer = nn.Conv2D(16, 8, 5, padding=2, seed=0).astype(np.float64)
    layer.bias.data = rng.standard_normal(8)
    expected = loop_conv2d(
        x, layer.weight.data, layer.bias.data, (1, 1), ((2, 2), (2, 2))
    )
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-10, atol=1e-10)


def test_conv2d_is_match_times_the_pixel_count():
    # match() divides the sum of products by k*k = 9; Conv2D without bias does not.
    features = x_features()
    layer = nn.Conv2D(1, 3, 3, bias=False)
    layer.weight.data = features[:, None].copy()
    for image in (canonical_x(), canonical_o()):
        maps = layer(image[None, None]).data[0]
        np.testing.assert_allclose(maps, 9 * match(image, features), atol=1e-5)
    # ... so a weight of feature / 9 gives the seed's own numbers along the falling
    # diagonal: ones and 0.77s, and 0.55 at the centre where two pixels disagree.
    layer.weight.data /= 9
    falling = layer(canonical_x()[None, None]).data[0, 0]
    np.testing.assert_allclose(
        np.diag(falling), np.array([7, 9, 9, 5, 9, 9, 7]) / 9, rtol=1e-6
    )
    assert conv2d(canonical_x()[None, None], features[:1, None]).shape == (1, 1, 7, 7)


def test_same_padding_keeps_ceil_size_over_stride():
    x = np.zeros((1, 2, 7, 10))
    for stride in (1, 2, 3):
        for k in (1, 2, 3, 4):
            out = nn.Conv2D(2, 1, k, stride=stride, padding="same")(x)
            assert out.shape[2:] == (-(-7 // stride), -(-10 // stride))
    assert nn.Conv1D(2, 1, 4, padding="same")(np.zeros((1, 2, 5))).shape == (1, 1, 5)


def test_gradients_stay_float32_and_no_grad_keeps_no_graph():
    layer = nn.Conv2D(2, 3, 3, padding=1, seed=0)
    x = gn.tensor(np.ones((2, 2, 5, 5), np.float32), requires_grad=True)
    layer(x).sum().backward()
    assert (
        x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32
    )
    # The bias gradient is the number of output pixels it was added to.
    np.testing.assert_allclose(layer.bias.grad, 2 * 25)
    with gn.no_grad():
        assert not layer(x).requires_grad


def test_repr_and_config():
    assert (
        repr(nn.Conv2D(1, 16, 5, padding=2)) == "Conv2D(1 → 16, 5x5, padding 2x2, bias)"
    )
    assert (
        repr(nn.Conv2D(3, 8, (3, 1), stride=2, bias=False))
        == "Conv2D(3 → 8, 3x1, stride 2x2)"
    )
    assert (
        repr(nn.Conv1D(4, 2, 3, padding="same"))
        == "Conv1D(4 → 2, 3, padding same, bias)"
    )
    layer = nn.Conv2D(3, 8, (3, 1), stride=(2, 1), padding="same", init="he")
    config = layer.get_config()
    assert config == {
        "in_channels": 3,
        "out_channels": 8,
        "kernel_size": [3, 1],
        "stride": [2, 1],
        "padding": "same",
        "bias": True,
        "init": "he",
    }
    assert nn.Conv2D(**config).weight.shape == layer.weight.shape
    assert nn.Conv1D(**nn.Conv1D(2, 4, 3, stride=2).get_config()).stride == 2


def test_seed_reproducible_and_he_spread():
    a, b = nn.Conv2D(16, 32, 5, seed=4), nn.Conv2D(16, 32, 5, seed=4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    w = nn.Conv2D(16, 32, 5, init="he", seed=0).weight.data
    assert abs(w.std() - np.sqrt(2 / (16 * 25))) < 0.005


# --- bad input: clear errors naming the layer and the shapes -------------------------


def test_three_d_input_to_conv2d_names_the_layer_and_shape():
    layer = nn.Conv2D(1, 16, 5, padding=2)
    with pytest.raises(
        gn.ShapeError,
        match=r"Conv2D\(1 → 16, 5x5, padding 2x2, bias\) "
        r"expected a 4-D input \(batch, channels, height, width\); got shape "
        r"\(8, 28, 28\) \(3-D\)\. .*x\[:, None\]",
    ):
        layer(np.zeros((8, 28, 28)))


def test_wrong_channel_count():
    with pytest.raises(
        gn.ShapeError,
        match=r"Conv2D\(3 → 4, 3x3, bias\) expected input with 3 "
        r"channel\(s\) on axis 1; got shape \(2, 1, 9, 9\), which has 1",
    ):
        nn.Conv2D(3, 4, 3)(np.zeros((2, 1, 9, 9)))
    with pytest.raises(
        gn.ShapeError, match=r"Conv1D\(5 → 2, 3, bias\) expected input with 5"
    ):
        nn.Conv1D(5, 2, 3)(np.zeros((2, 4, 9)))


def test_kernel_larger_than_padded_input():
    with pytest.raises(
        gn.ShapeError,
        match=r"Conv2D\(1 → 1, 5x5, padding 1x1, bias\): the 5x5 "
        r"kernel does not fit in the padded input, which is 4x6 \(input shape "
        r"\(1, 1, 2, 4\)",
    ):
        nn.Conv2D(1, 1, 5, padding=1)(np.zeros((1, 1, 2, 4)))
    with pytest.raises(
        gn.ShapeError, match=r"Conv1D.*the 4 kernel does not fit.*which is 3"
    ):
        nn.Conv1D(1, 1, 4)(np.zeros((1, 1, 3)))
    with pytest.raises(
        gn.ShapeError,
        match=r"conv1d expected a 3-D input \(batch, channels, "
        r"time\); got shape \(1, 1, 3, 3\)",
    ):
        conv1d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2)))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"kernel_size": 0}, "kernel_size must be a positive integer or a pair"),
        ({"kernel_size": (3, 3, 3)}, "kernel_size must be"),
        ({"kernel_size": 3, "stride": 0}, "stride must be a positive integer"),
        ({"kernel_size": 3, "padding": "full"}, "padding must be 'valid', 'same' or"),
        ({"kernel_size": 3, "padding": -1}, "padding must be a non-negative"),
        ({"kernel_size": 3, "init": "magic"}, "unknown initialiser 'magic'"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs, words):
    with pytest.raises(gn.ConfigError, match=words):
        nn.Conv2D(1, 2, **kwargs)


def test_op_checks_weight_and_bias_shapes():
    with pytest.raises(gn.ShapeError, match=r"conv2d expected a 4-D weight"):
        conv2d(np.zeros((1, 1, 5, 5)), np.zeros((3, 3)))
    with pytest.raises(
        gn.ShapeError, match=r"conv2d expected a bias of shape \(2,\); got \(3,\)"
    ):
        conv2d(np.zeros((1, 1, 5, 5)), np.zeros((2, 1, 3, 3)), np.zeros(3))


@pytest.mark.parametrize("stride", [1, 2])
def test_small_chunks_give_the_same_numbers(monkeypatch, stride):
    # The batch is processed a few samples at a time; force one sample per chunk.
    import glassnet.kernels.variants.conv as conv_ops

    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3, 6, 7))
    layer = nn.Conv2D(3, 4, (3, 2), stride=stride, padding=(1, 2), seed=0)
    layer.bias.data[:] = [0.5, -1, 2, 0]
    expected = loop_conv2d(
        x.astype(np.float32).astype(np.float64),
        layer.weight.data.astype(np.float64),
        layer.bias.data,
        (stride, stride),
        ((1, 1), (2, 2)),
    )
    monkeypatch.setattr(conv_ops, "CHUNK_BYTES", 1)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-5, atol=1e-5)
    layer_gradcheck(layer, x)


def test_outputs_and_gradients_do_not_share_the_scratch_space():
    layer = nn.Conv2D(2, 3, 3, padding=1, seed=0)
    rng = np.random.default_rng(6)
    x1 = gn.tensor(
        rng.standard_normal((2, 2, 5, 5)).astype(np.float32), requires_grad=True
    )
    x2 = gn.tensor(
        rng.standard_normal((2, 2, 5, 5)).astype(np.float32), requires_grad=True
    )
    y1 = layer(x1)
    kept = y1.data.copy()
    y2 = layer(x2)
    np.testing.assert_array_equal(y1.data, kept)
    y1.sum().backward()
    g1 = x1.grad.copy()
    (y2 * 2).sum().backward()
    np.testing.assert_array_equal(x1.grad, g1)
    assert not np.shares_memory(x1.grad, x2.grad)


def test_docstring_examples_run():
    import doctest

    import glassnet.nn.conv
    import glassnet.ops.conv

    for module in (glassnet.ops.conv, glassnet.nn.conv):
        assert doctest.testmod(module).failed == 0


def test_scratch_reuses_small_buffers_only(monkeypatch):
    from glassnet.kernels import _buffers

    a = _buffers.scratch("test_slot", (4, 5), np.float32)
    b = _buffers.scratch("test_slot", (2, 3), np.float32, zero=True)
    assert np.shares_memory(a, b) and not b.any()
    monkeypatch.setattr(_buffers, "KEEP_BYTES", 16)
    c = _buffers.scratch("test_slot", (4, 5), np.float32)
    assert not np.shares_memory(a, c)
