"""Issue 18's conv and pooling family: dilated and grouped convolutions,
ConvTranspose2D, Upsample, 1-D / global max / adaptive pooling and AvgPool's
count_include_pad -- against PyTorch's numbers, gradcheck over hypothesis
geometry, errors, model files, ONNX and the look-inside tools."""

import json
import pathlib

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_nn import layer_gradcheck

import glassnet as gn
from glassnet import kernels, nn
from glassnet.errors import ConfigError, ShapeError
from glassnet.ops import conv as conv_ops
from glassnet.ops import pool as pool_ops

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
TORCH = np.load(FIXTURES / "torch_convfam.npz")
CASES = sorted({key.split("/")[0] for key in TORCH.files})


# --- PyTorch's numbers (tools/make_convfam_fixtures.py) ---------------------------
@pytest.mark.parametrize("name", CASES)
def test_ops_give_pytorchs_numbers(name):
    args = json.loads(str(TORCH[f"{name}/args"]))
    op = args.pop("op")
    inputs = [TORCH[f"{name}/{k}"] for k in ("x", "w") if f"{name}/{k}" in TORCH]
    if op.startswith("conv"):
        inputs.append(TORCH[f"{name}/b"] if f"{name}/b" in TORCH else None)
    fn = getattr(conv_ops if op.startswith("conv") else pool_ops, op)
    y = fn(*inputs, **args)
    assert y.dtype == np.float64 and y.shape == TORCH[f"{name}/y"].shape
    np.testing.assert_allclose(y.data, TORCH[f"{name}/y"], rtol=1e-12, atol=1e-12)


def test_the_layers_give_pytorchs_numbers_too():
    def same(layer, name):
        layer.astype(np.float64)
        out = layer(gn.tensor(TORCH[f"{name}/x"], dtype=np.float64)).data
        np.testing.assert_allclose(out, TORCH[f"{name}/y"], rtol=1e-12, atol=1e-12)

    conv = nn.Conv2D(4, 6, 3, stride=(2, 1), padding=(3, 1), dilation=(2, 3), groups=2)
    conv.weight.data, conv.bias.data = (
        TORCH["conv2d_dilated_grouped/w"],
        TORCH["conv2d_dilated_grouped/b"],
    )
    same(conv, "conv2d_dilated_grouped")
    t = nn.ConvTranspose2D(
        4, 4, (2, 3), (3, 2), (0, 2), (2, 1), dilation=(1, 2), groups=2
    )
    t.weight.data = TORCH["convt_grouped_dilated/w"]
    t.bias.data = TORCH["convt_grouped_dilated/b"]
    same(t, "convt_grouped_dilated")
    same(nn.Upsample(size=(7, 3), mode="bilinear"), "upsample_bilinear_size")
    same(nn.AdaptiveAvgPool2D((3, 4)), "adaptive_7x9_to_3x4")
    same(nn.AvgPool1D(3, 2, 1, True, count_include_pad=True), "avg_pool1d_include_True")
    pad = nn.AvgPool2D(3, 2, 1, ceil_mode=True, count_include_pad=True)
    same(pad, "avg_pool2d_count_pad_ceil")


def test_avgpool_keeps_its_default_of_not_counting_padding():
    """glassnet's default differs from PyTorch's: only the real pixels count."""
    x = np.ones((1, 1, 4, 4))
    assert np.all(nn.AvgPool2D(3, 1, 1)(x).data == 1.0)  # every mean of ones is 1
    corner = nn.AvgPool2D(3, 1, 1, count_include_pad=True)(x).data[0, 0, 0, 0]
    assert corner == pytest.approx(4 / 9)  # PyTorch's: 4 real pixels of 9
    assert repr(nn.AvgPool2D(3, 1, 1, count_include_pad=True)) == (
        "AvgPool2D(3x3, stride 1x1, padding 1x1, count_include_pad)"
    )


# --- gradcheck over drawn geometry --------------------------------------------------
@st.composite
def conv_geometry(draw, spatial=2):
    """Batch 1 and odd sizes, dilation up to 3, groups up to depthwise, padding
    from 0 past the filter's span (outputs that see only zeros)."""
    groups = draw(st.sampled_from([1, 2, 3]))
    depthwise = draw(st.booleans())
    c_in = groups * (1 if depthwise else draw(st.integers(1, 2)))
    c_out = groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(spatial))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(spatial))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(spatial))
    span = [d * (f - 1) + 1 for d, f in zip(dilation, k)]
    padding = tuple(draw(st.integers(0, s + 1)) for s in span)
    size = tuple(
        draw(st.integers(max(1, s - 2 * p), max(1, s - 2 * p) + 4))
        for s, p in zip(span, padding)
    )
    batch = draw(st.integers(1, 2))
    return groups, c_in, c_out, k, dilation, stride, padding, size, batch


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@given(conv_geometry(), st.booleans())
def test_conv2d_with_dilation_and_groups_passes_gradcheck(geometry, bias):
    groups, c_in, c_out, k, dilation, stride, padding, size, batch = geometry
    layer = nn.Conv2D(
        c_in, c_out, k, stride, padding, bias=bias, dilation=dilation, groups=groups
    )
    assert layer.weight.shape == (c_out, c_in // groups, *k)
    layer_gradcheck(layer, _x((batch, c_in, *size)))


@given(conv_geometry(spatial=1))
def test_conv1d_with_dilation_and_groups_passes_gradcheck(geometry):
    groups, c_in, c_out, k, dilation, stride, padding, size, batch = geometry
    layer = nn.Conv1D(
        c_in, c_out, k[0], stride[0], padding[0], dilation=dilation[0], groups=groups
    )
    layer_gradcheck(layer, _x((batch, c_in, size[0])))


@given(conv_geometry(), st.booleans(), st.data())
def test_conv_transpose2d_passes_gradcheck(geometry, bias, data):
    groups, c_in, c_out, k, dilation, stride, padding, size, batch = geometry
    extra = tuple(data.draw(st.integers(0, s - 1)) for s in stride)
    out = [
        (n - 1) * s - 2 * p + d * (f - 1) + q + 1
        for n, s, p, d, f, q in zip(size, stride, padding, dilation, k, extra)
    ]
    assume(min(out) >= 1)
    layer = nn.ConvTranspose2D(
        c_in, c_out, k, stride, padding, extra, bias, dilation=dilation, groups=groups
    )
    assert layer.weight.shape == (c_in, c_out // groups, *k)
    assert layer(np.zeros((batch, c_in, *size))).shape == (batch, c_out, *out)
    layer_gradcheck(layer, _x((batch, c_in, *size)))


@given(conv_geometry(), st.data())
def test_conv_transpose_is_the_adjoint_of_conv(geometry, data):
    """<conv(x), y> = <x, conv_transpose(y)> with the same filters: the
    transposed convolution is the convolution's input gradient."""
    groups, c_in, c_out, k, dilation, stride, padding, size, batch = geometry
    w = _x((c_out, c_in // groups, *k), 1)
    x = _x((batch, c_in, *size), 2)
    y_shape = conv_ops.conv2d(x, w, None, stride, padding, dilation, groups).shape
    y = _x(y_shape, 3)
    extra = [n - ((m - 1) * s - 2 * p + d * (f - 1) + 1) for n, m, s, p, d, f in zip(
        size, y_shape[2:], stride, padding, dilation, k)]  # fmt: skip
    back = conv_ops.conv_transpose2d(
        y, w, None, stride, padding, extra, dilation, groups
    )
    assert back.shape == x.shape
    left = np.sum(
        conv_ops.conv2d(x, w, None, stride, padding, dilation, groups).data * y
    )
    assert left == pytest.approx(np.sum(x * back.data), rel=1e-10, abs=1e-10)


@given(
    st.integers(1, 2),
    st.integers(1, 5),
    st.integers(1, 5),
    st.one_of(
        st.tuples(st.integers(1, 3), st.integers(1, 3)).map(
            lambda s: {"scale_factor": s}
        ),
        st.tuples(st.integers(1, 7), st.integers(1, 7)).map(lambda s: {"size": s}),
    ),
    st.sampled_from([("nearest", False), ("bilinear", False), ("bilinear", True)]),
)
def test_upsample_passes_gradcheck(batch, h, w, how, mode):
    layer = nn.Upsample(**how, mode=mode[0], align_corners=mode[1])
    layer_gradcheck(layer, _x((batch, 2, h, w)))


@given(st.integers(1, 2), st.integers(1, 9), st.integers(1, 9), st.integers(1, 5),
       st.integers(1, 5))  # fmt: skip
def test_adaptive_avg_pool_passes_gradcheck_and_averages_its_bins(batch, h, w, oh, ow):
    x = _x((batch, 3, h, w))
    layer = nn.AdaptiveAvgPool2D((oh, ow))
    y = layer(x).data
    i, j = oh - 1, ow - 1  # the last bin, by PyTorch's rule, averaged by hand
    rows = slice(i * h // oh, -(-(i + 1) * h // oh))
    cols = slice(j * w // ow, -(-(j + 1) * w // ow))
    assert y[0, 0, i, j] == pytest.approx(x[0, 0, rows, cols].mean(), rel=1e-5)
    layer_gradcheck(layer, x)


@given(
    st.integers(1, 2),
    st.integers(1, 11),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 3),
    st.booleans(),
    st.booleans(),
)
def test_1d_pools_pass_gradcheck(batch, length, k, s, p, ceil, include):
    assume(p < k and length + 2 * p >= k)
    x = _x((batch, 2, length))  # distinct values: no ties for the max
    for layer in (nn.MaxPool1D(k, s, p, ceil), nn.AvgPool1D(k, s, p, ceil, include)):
        y = layer(x)
        twin = (nn.MaxPool2D if layer._mode == "max" else nn.AvgPool2D)(
            (1, k), (1, s), (0, p), ceil, *([include] if layer._mode == "avg" else [])
        )  # the 1-D pool is the 2-D one on maps of height 1
        np.testing.assert_array_equal(y.data, twin(x[:, :, None]).data[:, :, 0])
        layer_gradcheck(layer, x)


@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.booleans())
def test_avg_pool_count_include_pad_passes_gradcheck(batch, h, w, ceil):
    layer = nn.AvgPool2D(3, 2, 1, ceil_mode=ceil, count_include_pad=True)
    layer_gradcheck(layer, _x((batch, 2, h, w)))


def test_global_max_pool_keeps_each_maps_max_and_sends_it_the_gradient():
    x = _x((2, 3, 4, 5))
    layer = nn.GlobalMaxPool2D()
    np.testing.assert_array_equal(layer(x).data, x.astype(np.float32).max(axis=(2, 3)))
    layer_gradcheck(layer, x)


# --- the fast layouts decline what they do not know ----------------------------------
def test_dilation_and_groups_run_the_reference_and_plain_calls_a_fast_layout():
    x, w = np.ones((1, 4, 6, 6), np.float32), np.ones((4, 2, 3, 3), np.float32)
    reference = kernels.registry()["conv2d"].reference
    assert kernels.pick("conv2d", x, w, None, (1, 1), ((1, 1), (1, 1)), groups=2) is (
        reference
    )
    grouped = conv_ops.conv2d(x, w, groups=2)
    assert grouped.shape == (1, 4, 4, 4) and np.all(grouped.data == 18.0)
    plain = np.ones((4, 4, 3, 3), np.float32)
    assert kernels.pick("conv2d", x, plain, None, (1, 1), ((0, 0), (0, 0))) is not (
        reference
    )


def test_dilation_one_and_groups_one_change_nothing(rng):
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    a = nn.Conv2D(3, 4, 3, stride=2, padding=1, seed=5)
    b = nn.Conv2D(3, 4, 3, stride=2, padding=1, seed=5, dilation=1, groups=1)
    assert a.get_config() == b.get_config() and "dilation" not in a.get_config()
    np.testing.assert_array_equal(a(x).data, b(x).data)


# --- errors ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: nn.Conv2D(4, 6, 3, groups=4), ConfigError, r"groups=4 must divide"),
        (lambda: nn.Conv2D(4, 4, 3, groups=0), ConfigError, r"positive integer"),
        (lambda: nn.Conv1D(2, 2, 3, dilation=0), ConfigError, r"dilation"),
        (
            lambda: nn.ConvTranspose2D(2, 2, 3, stride=2, output_padding=2),
            ConfigError,
            r"output_padding \(2, 2\) must be smaller than the stride",
        ),
        (lambda: nn.Upsample(2, size=4), ConfigError, r"exactly one of scale_factor"),
        (lambda: nn.Upsample(), ConfigError, r"exactly one of scale_factor"),
        (lambda: nn.Upsample(2, mode="cubic"), ConfigError, r"'nearest' or 'bilinear'"),
        (lambda: nn.Upsample(2, align_corners=True), ConfigError, r"bilinear"),
        (lambda: nn.MaxPool1D(2, padding=2), ConfigError, r"padding must be"),
        (lambda: nn.AdaptiveAvgPool2D(0), ConfigError, r"output_size"),
    ],
)
def test_bad_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(
    "layer, shape, message",
    [
        (nn.Conv2D(4, 4, 3, groups=2), (1, 2, 5, 5), r"Conv2D\(.*groups 2.*4 channel"),
        (nn.Conv2D(1, 1, 3, dilation=3), (1, 1, 6, 6), r"7x7 kernel does not fit"),
        (nn.ConvTranspose2D(3, 2, 2), (1, 2, 4, 4), r"ConvTranspose2D.*\(batch, 3,"),
        (nn.ConvTranspose2D(1, 1, 1, padding=2), (1, 1, 3, 3), r"output of -1x-1"),
        (nn.MaxPool1D(2), (1, 2, 3, 4), r"MaxPool1D\(2\) expected a 3-D input"),
        (nn.AdaptiveAvgPool2D(2), (2, 3, 4), r"4-D input.*Add a batch axis"),
        (nn.Upsample(2), (3, 4), r"Upsample\(x2x2, nearest\) expected a 4-D"),
        (nn.GlobalMaxPool2D(), (2, 3, 4), r"GlobalMaxPool2D"),
    ],
)
def test_bad_inputs_name_the_layer_and_what_arrived(layer, shape, message):
    with pytest.raises(ShapeError, match=message):
        layer(np.zeros(shape))


# --- model files, look-inside --------------------------------------------------------
def _family_model():
    return nn.Sequential(
        nn.Conv2D(1, 4, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.Conv2D(4, 4, 3, padding=1, groups=4),
        nn.AvgPool2D(2, count_include_pad=True, padding=1),
        nn.ConvTranspose2D(4, 2, 3, stride=2, padding=1, output_padding=1),
        nn.Upsample(2, mode="bilinear"),
        nn.AdaptiveAvgPool2D((3, 2)),
        nn.GlobalMaxPool2D(),
        seed=0,
    )


def test_a_model_of_the_new_layers_saves_and_loads(tmp_path, rng):
    model = _family_model()
    gn.save(model, tmp_path / "family")
    again = gn.load(tmp_path / "family")
    assert repr(again) == repr(model)
    x = rng.standard_normal((3, 1, 8, 8))
    np.testing.assert_array_equal(again(x).data, model(x).data)
    one_d = nn.Sequential(
        nn.Conv1D(2, 4, 3, dilation=2, groups=2), nn.MaxPool1D(2), nn.AvgPool1D(2)
    )
    gn.save(one_d, tmp_path / "1d")
    x = rng.standard_normal((2, 2, 15))
    np.testing.assert_array_equal(gn.load(tmp_path / "1d")(x).data, one_d(x).data)


def test_summary_trace_and_plots_understand_the_new_layers(tmp_path, rng):
    model = _family_model()
    table = str(model.summary((1, 8, 8)))
    assert "ConvTranspose2D" in table and "(batch, 2, 10, 10)" in table
    assert "(batch, 2, 3, 2)" in table and "(batch, 2)" in table
    text = str(gn.trace(model, rng.standard_normal((1, 1, 8, 8))))
    assert "each input pixel painted its filters, (4, 5, 5) → (2, 10, 10)" in text
    assert "averaged each map's bins, (2, 20, 20) → (2, 3, 2)" in text
    from glassnet.plot import feature_maps, filters

    filters(model[4], path=tmp_path / "f.png")  # drawn (out, in): 2 filters across
    maps = gn.trace(model, rng.standard_normal((1, 1, 8, 8))).layers[4].output
    feature_maps(maps, path=tmp_path / "m.png")
    assert (tmp_path / "f.png").stat().st_size > 0 and (tmp_path / "m.png").exists()


# --- ONNX beyond the one-layer cases of test_onnx.py ---------------------------------
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _ort(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x.astype(np.float32)})[0]


@pytest.mark.filterwarnings("ignore::glassnet.errors.UntrainedModelWarning")
@pytest.mark.parametrize(
    "size, ops",
    [
        ((2, 3), ["AveragePool"]),
        ((3, 4), ["MatMul", "MatMul"]),
        (1, ["GlobalAveragePool"]),
    ],
)
def test_adaptive_avg_pool_exports_as_what_onnx_has(size, ops, tmp_path, rng):
    model = nn.Sequential(nn.Conv2D(1, 2, 3, padding=1), nn.AdaptiveAvgPool2D(size))
    path = gn.export_onnx(model, tmp_path / "a.onnx", input_shape=(1, 6, 9))
    assert [n.op_type for n in onnx.load(path).graph.node][1:] == ops
    x = rng.standard_normal((3, 1, 6, 9)).astype(np.float32)
    np.testing.assert_allclose(
        _ort(path, x), gn.predict(model, x), rtol=1e-5, atol=1e-6
    )
    if size != 1:  # the 1x1 form needs no sizes; the others do
        with pytest.raises(ConfigError, match="pass input_shape=.*with sizes"):
            gn.export_onnx(model, tmp_path / "b.onnx")


@pytest.mark.filterwarnings("ignore::glassnet.errors.UntrainedModelWarning")
def test_dilated_same_exports_explicit_pads_or_says_why_not(tmp_path, rng):
    model = nn.Sequential(nn.Conv2D(2, 2, 3, padding="same", dilation=(2, 3)), seed=0)
    path = gn.export_onnx(model, tmp_path / "d.onnx")
    x = rng.standard_normal((2, 2, 7, 8)).astype(np.float32)
    np.testing.assert_allclose(
        _ort(path, x), gn.predict(model, x), rtol=1e-5, atol=1e-6
    )
    strided = nn.Sequential(nn.Conv2D(2, 2, 3, 2, padding="same", dilation=2))
    with pytest.raises(ConfigError, match="dilated 'same' convolution with stride > 1"):
        gn.export_onnx(strided, tmp_path / "e.onnx")
    sized = nn.Sequential(nn.Upsample(size=(5, 5)))
    with pytest.raises(ConfigError, match="opset 18 or newer"):
        gn.export_onnx(sized, tmp_path / "f.onnx", input_shape=(1, 3, 3), opset=17)


def test_pytorch_style_resize_and_padded_average_import(tmp_path, rng):
    """What torch.onnx writes for F.interpolate(..., 'bilinear') (scales, and
    pytorch_half_pixel) and for AvgPool2d's default count_include_pad=True."""
    h = onnx.helper
    x = h.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", 2, 4, 5])
    y = h.make_tensor_value_info("output", onnx.TensorProto.FLOAT, None)
    scales = onnx.numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32), "s")
    nodes = [
        h.make_node("Resize", ["input", "", "s"], ["r"], mode="linear",
                    coordinate_transformation_mode="pytorch_half_pixel"),
        h.make_node("AveragePool", ["r"], ["output"], kernel_shape=[3, 3],
                    pads=[1, 1, 1, 1], strides=[2, 2], count_include_pad=1),
    ]  # fmt: skip
    graph = h.make_graph(nodes, "torch", [x], [y], [scales])
    proto = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    onnx.save(proto, tmp_path / "t.onnx")
    model = gn.import_onnx(tmp_path / "t.onnx")
    assert repr(model[0]) == "Upsample(x2x3, bilinear)"
    assert model[1].count_include_pad
    xs = rng.standard_normal((2, 2, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(
        gn.predict(model, xs), _ort(tmp_path / "t.onnx", xs), rtol=1e-5, atol=1e-6
    )


# --- the example -------------------------------------------------------------------
def test_the_denoising_autoencoder_example_removes_noise(tmp_path):
    """A shortened run (8 epochs, one noise draw): the output is already much
    closer to the clean test images than the noisy input is (the full run,
    30 epochs and two draws, gets 0.0291 against 0.0672)."""
    import importlib.util

    path = pathlib.Path(__file__).resolve().parents[1] / "examples"
    spec = importlib.util.spec_from_file_location(
        "dae", path / "denoising_autoencoder.py"
    )
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.train_denoiser(seed=0, epochs=8, copies=1)
    assert result["noisy_mse"] == pytest.approx(NOISY_MSE, abs=0.005)
    assert result["output_mse"] < 0.75 * result["noisy_mse"]
    assert result["output"].shape == result["clean"].shape == (450, 1, 8, 8)
    assert example.draw(result, tmp_path / "dae.png").stat().st_size > 10_000


# Noise of σ 0.35 clipped to 0..1 on images that are mostly 0: about 0.068
NOISY_MSE = 0.068
