"""ONNX export and import: onnxruntime must compute what glassnet computes.

Every built-in layer (the registry's list, so a new layer without an ONNX form
fails here) is exported alone, checked with onnx.checker, run by onnxruntime
at batch sizes 1 and 7 and compared with ``glassnet.predict``; then imported
back, which must give identical predictions. The demo models, two networks
trained and exported by PyTorch (tests/fixtures, made by
tools/make_onnx_fixtures.py), the CLI and the docs' scripts are checked too.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import onnx  # `make test` installs glassnet[onnx]: these tests never skip
import onnxruntime as ort
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import glassnet as gn
from glassnet import nn
from glassnet.errors import ConfigError, FormatError
from glassnet.io.onnx import exportable_layers
from glassnet.io.registry import registered_layers

# Export is checked on freshly seeded layers: their random weights are the point.
pytestmark = pytest.mark.filterwarnings("ignore::glassnet.errors.UntrainedModelWarning")

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _floats(shape):
    return lambda rng, n: rng.standard_normal((n, *shape)).astype(np.float32)


def _ids(vocab, time):
    return lambda rng, n: rng.integers(0, vocab, (n, time))


# name -> [(case id, model, input_shape for export_onnx or None, input maker)]
CASES = {
    "Dense": [
        ("bias", nn.Dense(5, 3), None, _floats((5,))),
        ("no-bias", nn.Dense(4, 6, bias=False), None, _floats((4,))),
    ],
    "Sigmoid": [("", nn.Sigmoid(), (6,), _floats((6,)))],
    "Tanh": [("", nn.Tanh(), (6,), _floats((6,)))],
    "ReLU": [("", nn.ReLU(), (2, 3), _floats((2, 3)))],
    "Identity": [("", nn.Identity(), (4,), _floats((4,)))],
    "Softmax": [
        ("last", nn.Softmax(), (5,), _floats((5,))),
        ("axis1", nn.Softmax(axis=1), (3, 4), _floats((3, 4))),
    ],
    "Step": [
        ("default", nn.Step(), (6,), _floats((6,))),
        ("custom", nn.Step(0.25, -1.0, 2.0), (6,), _floats((6,))),
    ],
    "Flatten": [("", nn.Flatten(), (2, 3, 4), _floats((2, 3, 4)))],
    "Conv2D": [
        ("pad1", nn.Conv2D(2, 3, 3, padding=1), None, _floats((2, 7, 6))),
        (
            "stride2-same-odd",
            nn.Conv2D(1, 2, 3, stride=2, padding="same"),
            None,
            _floats((1, 9, 8)),
        ),
        (
            "same-even-kernel",
            nn.Conv2D(1, 2, (2, 4), padding="same"),
            None,
            _floats((1, 5, 7)),
        ),
        (
            "valid-stride21",
            nn.Conv2D(3, 2, (3, 2), stride=(2, 1), padding="valid", bias=False),
            None,
            _floats((3, 8, 5)),
        ),
        (
            "dilated-grouped",
            nn.Conv2D(4, 6, 3, stride=(1, 2), padding=2, dilation=(2, 1), groups=2),
            None,
            _floats((4, 7, 8)),
        ),
        (
            "depthwise",
            nn.Conv2D(3, 3, 3, padding=1, groups=3),
            None,
            _floats((3, 5, 6)),
        ),
        (
            "pair-pad",
            nn.Conv2D(1, 4, 3, stride=(1, 3), padding=(2, 0)),
            None,
            _floats((1, 6, 9)),
        ),
    ],
    "Conv1D": [
        (
            "same-stride2",
            nn.Conv1D(3, 4, 3, stride=2, padding="same"),
            None,
            _floats((3, 10)),
        ),
        ("pad2", nn.Conv1D(2, 2, 5, padding=2, bias=False), None, _floats((2, 7))),
        (
            "dilated-grouped",
            nn.Conv1D(4, 2, 3, padding=4, dilation=3, groups=2),
            None,
            _floats((4, 11)),
        ),
    ],
    "MaxPool2D": [
        ("2", nn.MaxPool2D(2), (2, 6, 6), _floats((2, 6, 6))),
        ("ceil", nn.MaxPool2D(2, ceil_mode=True), (1, 7, 7), _floats((1, 7, 7))),
        (
            "pad-stride",
            nn.MaxPool2D(3, stride=2, padding=1, ceil_mode=True),
            (2, 8, 6),
            _floats((2, 8, 6)),
        ),
    ],
    "AvgPool2D": [
        ("2", nn.AvgPool2D(2), (2, 6, 6), _floats((2, 6, 6))),
        ("ceil", nn.AvgPool2D(2, ceil_mode=True), (1, 7, 5), _floats((1, 7, 5))),
        (
            "pad-ceil",
            nn.AvgPool2D((3, 2), stride=(2, 2), padding=(1, 1), ceil_mode=True),
            (2, 7, 6),
            _floats((2, 7, 6)),
        ),
    ],
    "GlobalAveragePool2D": [
        ("", nn.GlobalAveragePool2D(), (3, 4, 5), _floats((3, 4, 5)))
    ],
    "Embedding": [("ids", nn.Embedding(9, 4), (5,), _ids(9, 5))],
    "OneHot": [("ids", nn.OneHot(6), (4,), _ids(6, 4))],
    "RNN": [
        ("tanh-seq", nn.RNN(3, 5), None, _floats((6, 3))),
        (
            "relu-last",
            nn.RNN(2, 4, nonlinearity="relu", return_sequences=False),
            None,
            _floats((5, 2)),
        ),
        (
            "relu-stack-bidir",
            nn.RNN(2, 3, nonlinearity="relu", num_layers=2, bidirectional=True),
            None,
            _floats((5, 2)),
        ),
    ],
    "LSTM": [
        ("seq", nn.LSTM(3, 5), None, _floats((6, 3))),
        ("last", nn.LSTM(4, 3, return_sequences=False), None, _floats((7, 4))),
        ("stack", nn.LSTM(3, 4, num_layers=3), None, _floats((6, 3))),
        (
            "stack-bidir-last",
            nn.LSTM(3, 4, num_layers=2, bidirectional=True, return_sequences=False),
            None,
            _floats((6, 3)),
        ),
    ],
    "GRU": [
        ("seq", nn.GRU(3, 5), None, _floats((6, 3))),
        ("last", nn.GRU(4, 3, return_sequences=False), None, _floats((7, 4))),
        (
            "stack-bidir",
            nn.GRU(3, 4, num_layers=2, bidirectional=True),
            None,
            _floats((6, 3)),
        ),
        (
            "bidir-last",
            nn.GRU(2, 3, bidirectional=True, return_sequences=False),
            None,
            _floats((5, 2)),
        ),
    ],
    "Dropout": [("", nn.Dropout(0.3), (2, 5), _floats((2, 5)))],
    "BatchNorm1D": [
        ("features", nn.BatchNorm1D(5, momentum=0.2), (5,), _floats((5,))),
        ("sequence", nn.BatchNorm1D(3, eps=1e-3), (3, 6), _floats((3, 6))),
    ],
    "BatchNorm2D": [("", nn.BatchNorm2D(2), (2, 5, 4), _floats((2, 5, 4)))],
    "LayerNorm": [
        ("last", nn.LayerNorm(6), (4, 6), _floats((4, 6))),
        ("two-axes", nn.LayerNorm([3, 4], eps=1e-3), (3, 4), _floats((3, 4))),
    ],
    "MultiHeadAttention": [
        ("causal", nn.MultiHeadAttention(8, 2, causal=True), None, _floats((5, 8))),
        ("no-bias", nn.MultiHeadAttention(6, 3, bias=False), None, _floats((1, 6))),
    ],
    # issue 18: the conv and pooling family
    "ConvTranspose2D": [
        (
            "stride2",
            nn.ConvTranspose2D(3, 2, 3, stride=2, padding=1, output_padding=1),
            None,
            _floats((3, 4, 5)),
        ),
        (
            "grouped-dilated",
            nn.ConvTranspose2D(
                4,
                6,
                (2, 3),
                stride=(3, 2),
                padding=(0, 2),
                output_padding=(2, 1),
                dilation=(1, 2),
                groups=2,
                bias=False,
            ),  # fmt: skip
            None,
            _floats((4, 5, 3)),
        ),
    ],
    "MaxPool1D": [
        ("pad-ceil", nn.MaxPool1D(3, 2, 1, ceil_mode=True), (2, 10), _floats((2, 10)))
    ],
    "AvgPool1D": [
        ("2", nn.AvgPool1D(2), (3, 9), _floats((3, 9))),
        (
            "count-pad",
            nn.AvgPool1D(3, 2, 1, count_include_pad=True),
            (2, 10),
            _floats((2, 10)),
        ),
    ],  # fmt: skip
    "GlobalMaxPool2D": [("", nn.GlobalMaxPool2D(), (3, 4, 5), _floats((3, 4, 5)))],
    "AdaptiveAvgPool2D": [
        ("1", nn.AdaptiveAvgPool2D(1), (3, 5, 4), _floats((3, 5, 4))),
    ],
    "Upsample": [
        ("nearest2", nn.Upsample(2), (2, 3, 4), _floats((2, 3, 4))),
        (
            "bilinear3x2",
            nn.Upsample((3, 2), mode="bilinear"),
            (2, 3, 4),
            _floats((2, 3, 4)),
        ),
        (
            "bilinear-corners-size",
            nn.Upsample(size=(7, 5), mode="bilinear", align_corners=True),
            (1, 3, 4),
            _floats((1, 3, 4)),
        ),
        ("nearest-size", nn.Upsample(size=(7, 9)), (1, 4, 5), _floats((1, 4, 5))),
    ],
    "LeakyReLU": [("", nn.LeakyReLU(0.2), (5,), _floats((5,)))],
    "ELU": [("", nn.ELU(0.5), (2, 3), _floats((2, 3)))],
    "SELU": [("", nn.SELU(), (6,), _floats((6,)))],
    "GELU": [
        ("erf", nn.GELU(), (7,), _floats((7,))),
        ("tanh", nn.GELU("tanh"), (2, 5), _floats((2, 5))),
    ],
    "SiLU": [("", nn.SiLU(), (6,), _floats((6,)))],
    "Softplus": [
        ("", nn.Softplus(), (6,), _floats((6,))),
        ("beta", nn.Softplus(beta=2.5), (6,), _floats((6,))),
    ],
    "LogSoftmax": [
        ("last", nn.LogSoftmax(), (5,), _floats((5,))),
        ("axis1", nn.LogSoftmax(axis=1), (3, 4), _floats((3, 4))),
    ],
}


def _builtin_names():
    return sorted(
        name
        for name, cls in registered_layers().items()
        if cls.__module__.startswith("glassnet.")
    )


def _run_onnx(path, X) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    feed = X.astype(np.int64) if inp.type == "tensor(int64)" else X.astype(np.float32)
    return session.run(None, {inp.name: feed})[0]


def _agree(model, path, make, rng, input_shape=None, **export):
    """Export, check, compare with onnxruntime at batch 1 and 7; return the file."""
    gn.export_onnx(model, path, input_shape=input_shape, **export)
    onnx.checker.check_model(str(path), full_check=True)
    for batch in (1, 7):
        X = make(rng, batch)
        expected = gn.predict(model, X if X.dtype.kind == "f" else X.astype(np.float32))
        got = _run_onnx(path, X)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, **TOL)
    return path


def _same_predictions(model, path, make, rng) -> None:
    back = gn.import_onnx(path)
    assert [type(m) for m in back] == [type(m) for m in _layers(model)]
    X = make(rng, 7)
    X = X if X.dtype.kind == "f" else X.astype(np.float32)
    np.testing.assert_array_equal(gn.predict(back, X), gn.predict(model, X))


def _layers(model):
    return list(model) if isinstance(model, nn.Sequential) else [model]


@pytest.mark.parametrize("name", _builtin_names())
def test_every_registered_layer_has_an_export_case(name):
    # A new built-in layer fails here until it has an ONNX form and a case above.
    assert name in CASES, f"no ONNX export case for the registered layer {name}"
    assert registered_layers()[name] in exportable_layers()


@pytest.mark.parametrize(
    "name,case", [(n, i) for n in sorted(CASES) for i in range(len(CASES[n]))]
)
def test_each_layer_alone_agrees_with_onnxruntime_and_comes_back(
    name, case, tmp_path, rng
):
    _, layer, shape, make = CASES[name][case]
    model = nn.Sequential(layer, seed=3)
    if name == "LSTM":  # a non-zero bias in every gate block checks the gate order
        layer.bias.data = rng.standard_normal(layer.bias.shape).astype(np.float32)
    if "Norm" in name:  # trained-looking γ, β and running statistics
        state = {k: rng.uniform(0.5, 2, v.shape) for k, v in layer.state_dict().items()}
        layer.load_state_dict(state)
    if name in ("LSTM", "GRU"):  # a non-zero bias in every gate block: gate order
        for n, p in layer.named_parameters():
            if n.startswith("bias"):
                p.data = rng.standard_normal(p.shape).astype(np.float32)
    path = _agree(model, tmp_path / "layer.onnx", make, rng, shape)
    _same_predictions(model, path, make, rng)
    back = gn.import_onnx(path)
    assert back[0].get_config() == layer.get_config()


@given(
    size=st.integers(3, 11),
    width=st.integers(3, 11),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same", 0, 1, 2]),
)
def test_conv2d_geometry_agrees_with_onnxruntime(
    tmp_path_factory, size, width, kernel, stride, padding
):
    if isinstance(padding, int) and size + 2 * padding < kernel:
        return  # the window does not fit: glassnet refuses the input (tested elsewhere)
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Conv2D(2, 3, kernel, stride=stride, padding=padding), seed=1
    )
    path = tmp_path_factory.mktemp("conv") / "conv.onnx"
    _agree(model, path, _floats((2, size, width)), rng)


@given(
    size=st.integers(2, 10),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 3),
    ceil_mode=st.booleans(),
    kind=st.sampled_from([nn.MaxPool2D, nn.AvgPool2D]),
)
def test_pool_geometry_agrees_with_onnxruntime(
    tmp_path_factory, size, kernel, stride, padding, ceil_mode, kind
):
    if padding >= kernel or size + 2 * padding < kernel:
        return  # refused by glassnet itself (padding must be smaller than the window)
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        kind(kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    )
    path = tmp_path_factory.mktemp("pool") / "pool.onnx"
    _agree(model, path, _floats((2, size, size + 1)), rng, (2, size, size + 1))


# --- the demo models ------------------------------------------------------------------
def _example(name):
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _demo_models():
    from glassnet.demos import childrens_book, digits, dinner, x_and_o

    def digits_mlp():
        model = digits.train_digits(epochs=2, verbose=0)[0]
        return model, _floats((64,))

    def dinner_rnn():
        return dinner.train_dinner(epochs=2), _floats((30, 3))

    return {
        "digits MLP": digits_mlp,
        "X-vs-O CNN": lambda: (x_and_o.build_model(seed=0), _floats((1, 9, 9))),
        "digits CNN": lambda: (
            _example("digits_cnn").build_model(seed=0),
            _floats((1, 8, 8)),
        ),
        "dinner RNN": dinner_rnn,
        "char LSTM": lambda: (
            _example("char_lstm").build(40, 24, seed=0),
            _ids(40, 12),
        ),
        "children's-book LSTM": lambda: (childrens_book.build("LSTM"), _ids(5, 9)),
    }


@pytest.mark.parametrize("name", sorted(_demo_models()))
def test_demo_models_agree_with_onnxruntime_and_come_back(name, tmp_path, rng):
    model, make = _demo_models()[name]()
    path = _agree(model, tmp_path / "demo.onnx", make, rng)
    _same_predictions(model, path, make, rng)


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_older_opsets_work_too(opset, tmp_path, rng):
    model = nn.Sequential(
        nn.OneHot(5), nn.LSTM(5, 4), nn.Dense(4, 5), nn.Softmax(), seed=0
    )
    path = _agree(model, tmp_path / "m.onnx", _ids(5, 6), rng, opset=opset)
    assert onnx.load(str(path)).opset_import[0].version == opset


def test_the_batch_axis_is_symbolic_unless_fixed(tmp_path):
    model = nn.Sequential(nn.Dense(3, 2), seed=0)
    gn.export_onnx(model, tmp_path / "a.onnx")
    gn.export_onnx(model, tmp_path / "b.onnx", dynamic_batch=False)
    dims = [
        onnx.load(str(tmp_path / f)).graph.input[0].type.tensor_type.shape.dim
        for f in ("a.onnx", "b.onnx")
    ]
    assert (dims[0][0].dim_param, dims[0][1].dim_value) == ("batch", 3)
    assert dims[1][0].dim_value == 1
    out = onnx.load(str(tmp_path / "a.onnx")).graph.output[0].type.tensor_type.shape
    assert [d.dim_param or d.dim_value for d in out.dim] == ["batch", 2]


def test_float64_models_export_as_double(tmp_path, rng):
    model = nn.Sequential(nn.Dense(3, 4), nn.Tanh(), nn.Step(0.1), seed=0).astype(
        np.float64
    )
    gn.export_onnx(model, tmp_path / "d.onnx")
    session = ort.InferenceSession(str(tmp_path / "d.onnx"))
    X = rng.standard_normal((5, 3))
    np.testing.assert_array_equal(
        session.run(None, {"input": X})[0], gn.predict(model, X)
    )
    back = gn.import_onnx(tmp_path / "d.onnx")
    assert back.dtype == np.float64


# --- errors ---------------------------------------------------------------------------
class Doubler(nn.Module):
    def forward(self, x):
        return x * 2


def test_a_custom_layer_is_named_in_the_export_error(tmp_path):
    model = nn.Sequential(nn.Dense(3, 3), Doubler(), seed=0)
    with pytest.raises(ConfigError, match=r"1 \(Doubler\)"):
        gn.export_onnx(model, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_an_unknowable_input_shape_asks_for_it(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Dense(64, 10), seed=0)
    with pytest.raises(ConfigError, match="input_shape="):
        gn.export_onnx(model, tmp_path / "x.onnx")
    gn.export_onnx(model, tmp_path / "x.onnx", input_shape=(1, 8, 8))


@pytest.mark.parametrize("opset", [12, 99, "18"])
def test_a_bad_opset_is_refused(opset, tmp_path):
    with pytest.raises(ConfigError, match="opset"):
        gn.export_onnx(nn.Sequential(nn.Dense(2, 2)), tmp_path / "x.onnx", opset=opset)


def test_without_the_onnx_package_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"glassnet\[onnx\]"):
        gn.export_onnx(nn.Sequential(nn.Dense(2, 2)), tmp_path / "x.onnx")
    with pytest.raises(ImportError, match=r"glassnet\[onnx\]"):
        gn.import_onnx(FIXTURES / "lenet.onnx")


def _save_graph(
    path,
    nodes,
    inits,
    in_shape=(None, 4),
    out_shape=None,
    opset=18,
    in_type=TensorProto.FLOAT,
):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", in_type, list(in_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, str(path))
    return path


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array, np.float32), name)


def test_unsupported_operators_are_listed_with_their_node_names(tmp_path):
    path = _save_graph(
        tmp_path / "u.onnx",
        [
            helper.make_node("Relu", ["x"], ["a"], name="fine"),
            helper.make_node("HardSigmoid", ["a"], ["b"], name="hard_one"),
            helper.make_node("Exp", ["b"], ["y"], name="exp_two"),
        ],
        [],
    )
    with pytest.raises(FormatError) as e:
        gn.import_onnx(path)
    assert "'hard_one' (HardSigmoid)" in str(e.value)
    assert "'exp_two' (Exp)" in str(e.value)
    assert "'fine'" not in str(e.value)


def test_external_data_is_refused_without_opening_it(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.ones(8, np.float32).tobytes())
    w = TensorProto(
        name="w",
        data_type=TensorProto.FLOAT,
        dims=[4, 2],
        data_location=TensorProto.EXTERNAL,
    )
    w.external_data.add(key="location", value="../secret.bin")
    sub = tmp_path / "sub"
    sub.mkdir()
    path = _save_graph(
        sub / "e.onnx", [helper.make_node("MatMul", ["x", "w"], ["y"])], [w]
    )
    with pytest.raises(FormatError, match="external data"):
        gn.import_onnx(path)


def test_garbage_and_oversized_files_are_refused(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff" * 100)
    with pytest.raises(FormatError, match="not an ONNX model"):
        gn.import_onnx(bad)
    with pytest.raises(FormatError, match="limit"):
        gn.import_onnx(FIXTURES / "lenet.onnx", max_bytes=1000)


def test_a_branching_graph_is_refused(tmp_path):
    path = _save_graph(
        tmp_path / "b.onnx",
        [
            helper.make_node("Relu", ["x"], ["a"], name="r"),
            helper.make_node("Sigmoid", ["x"], ["b"], name="s"),
            helper.make_node("Add", ["a", "b"], ["y"], name="skip"),
        ],
        [],
    )
    with pytest.raises(FormatError, match="branching"):
        gn.import_onnx(path)


def test_an_old_opset_is_refused(tmp_path):
    path = _save_graph(
        tmp_path / "o.onnx", [helper.make_node("Relu", ["x"], ["y"])], [], opset=11
    )
    with pytest.raises(FormatError, match="opset 11"):
        gn.import_onnx(path)


# --- exporter patterns ----------------------------------------------------------------
def test_keras_and_pytorch_style_patterns_import(tmp_path, rng):
    """Gemm without transB and with beta, weights from Identity and Constant nodes,
    a flattening Reshape, GlobalAveragePool + Flatten, Dropout."""
    w_conv = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    w1 = rng.standard_normal((3, 5)).astype(np.float32)
    b1 = rng.standard_normal(5).astype(np.float32)
    nodes = [
        helper.make_node("Identity", ["w_conv_init"], ["w_conv"]),
        helper.make_node(
            "Conv", ["x", "w_conv"], ["c"], name="conv", pads=[1, 1, 1, 1]
        ),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Reshape", ["g", "shape"], ["f"]),
        helper.make_node("Dropout", ["f"], ["d"]),
        helper.make_node("Constant", [], ["b1"], value=numpy_helper.from_array(b1)),
        helper.make_node("Gemm", ["d", "w1", "b1"], ["y"], beta=0.5),
    ]
    inits = [
        _init("w_conv_init", w_conv),
        _init("w1", w1),
        numpy_helper.from_array(np.array([0, -1], np.int64), "shape"),
    ]
    path = _save_graph(tmp_path / "p.onnx", nodes, inits, in_shape=(None, 1, 6, 6))
    model = gn.import_onnx(path)
    assert [type(m).__name__ for m in model] == [
        "Conv2D",
        "ReLU",
        "GlobalAveragePool2D",
        "Dropout",  # ratio absent: ONNX's default 0.5
        "Dense",
    ]
    assert model[3].p == 0.5
    X = rng.standard_normal((7, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(gn.predict(model, X), _run_onnx(path, X), **TOL)


def test_cast_ids_before_a_lookup_import(tmp_path, rng):
    table = rng.standard_normal((6, 3)).astype(np.float32)
    path = _save_graph(
        tmp_path / "c.onnx",
        [
            helper.make_node("Cast", ["x"], ["ids"], to=TensorProto.INT64),
            helper.make_node("Gather", ["table", "ids"], ["y"], axis=0),
        ],
        [_init("table", table)],
        in_shape=(None, 4),
    )
    model = gn.import_onnx(path)
    assert [type(m).__name__ for m in model] == ["Embedding"]
    X = rng.integers(0, 6, (7, 4)).astype(np.float32)
    np.testing.assert_array_equal(gn.predict(model, X), _run_onnx(path, X))


def test_nested_sequentials_export_flat(tmp_path, rng):
    inner = nn.Sequential(nn.Dense(4, 3), nn.Tanh())
    model = nn.Sequential(inner, nn.Sequential(nn.Dense(3, 2)), seed=0)
    path = _agree(model, tmp_path / "n.onnx", _floats((4,)), rng)
    back = gn.import_onnx(path)
    assert [type(m).__name__ for m in back] == ["Dense", "Tanh", "Dense"]
    X = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(gn.predict(back, X), gn.predict(model, X))


def test_an_asymmetric_pad_names_the_node(tmp_path, rng):
    w = _init("w", rng.standard_normal((2, 1, 3, 3)))
    path = _save_graph(
        tmp_path / "a.onnx",
        [
            helper.make_node(
                "Conv", ["x", "w"], ["y"], name="lopsided", pads=[0, 0, 1, 1]
            )
        ],
        [w],
        in_shape=(None, 1, 5, 5),
    )
    with pytest.raises(FormatError, match="'lopsided' \\(Conv\\).*pads"):
        gn.import_onnx(path)


# --- models trained and exported by PyTorch -------------------------------------------
@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURES / "torch_reference.npz")


@pytest.mark.parametrize("name,key", [("lenet", "digits"), ("char_lstm", "text")])
def test_pytorch_fixtures_import_and_agree(name, key, reference):
    path = FIXTURES / f"{name}.onnx"
    assert path.stat().st_size < 200_000
    model = gn.import_onnx(path)
    x, torch_out = reference[f"{key}_x"], reference[f"{key}_out"]
    xf = x.astype(np.float32)
    np.testing.assert_allclose(gn.predict(model, xf), torch_out, rtol=1e-4, atol=1e-4)
    for batch in (1, 7):
        xb = np.resize(x, (batch, *x.shape[1:]))
        np.testing.assert_allclose(
            gn.predict(model, xb.astype(np.float32)), _run_onnx(path, xb), **TOL
        )
    t = gn.trace(model, xf[:1])
    np.testing.assert_allclose(t.output, torch_out[:1], rtol=1e-4, atol=1e-4)
    assert len(t) == len(model)


def test_the_pytorch_lenet_scores_what_pytorch_scored(reference):
    from glassnet.data.transforms import train_test_split
    from glassnet.datasets import digits

    model = gn.import_onnx(FIXTURES / "lenet.onnx")
    assert [type(m).__name__ for m in model] == [
        "Conv2D",
        "ReLU",
        "MaxPool2D",
        "Conv2D",
        "ReLU",
        "AvgPool2D",
        "Flatten",
        "Dense",
        "ReLU",
        "Dense",
    ]
    data = digits()
    _, X_test, _, y_test = train_test_split(
        data.X[:, None] / 16.0, data.y, test_size=0.25, seed=0
    )
    accuracy = gn.evaluate(model, X_test, y_test)["accuracy"]
    assert accuracy == pytest.approx(float(reference["digits_accuracy"]), abs=1e-9)


def test_an_imported_model_fine_tunes_saves_and_draws(tmp_path):
    pytest.importorskip("matplotlib")
    from glassnet import plot
    from glassnet.data.transforms import train_test_split
    from glassnet.datasets import digits

    model = gn.import_onnx(FIXTURES / "lenet.onnx")
    data = digits()
    X_train, _, y_train, _ = train_test_split(
        data.X[:, None] / 16.0, data.y, test_size=0.25, seed=0
    )
    before = gn.evaluate(model, X_train, y_train)["loss"]
    gn.fit(
        model,
        X_train,
        y_train,
        loss="cross_entropy",
        epochs=2,
        seed=0,
        verbose=0,
        optimizer=gn.optim.Adam(model, lr=0.001),
    )
    assert gn.evaluate(model, X_train, y_train)["loss"] < before
    gn.save(model, tmp_path / "lenet.glassnet")
    again = gn.load(tmp_path / "lenet.glassnet")
    np.testing.assert_array_equal(
        gn.predict(again, X_train[:9]), gn.predict(model, X_train[:9])
    )
    plot.filters(again[0], path=tmp_path / "filters.png")
    assert (tmp_path / "filters.png").stat().st_size > 1000


# --- the command and the docs ---------------------------------------------------------
def _glassnet(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "glassnet", *map(str, args)],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )


def _doc_block(heading: str) -> str:
    text = (ROOT / "docs" / "onnx.md").read_text()
    return re.search(rf"## {heading}.*?```python\n(.*?)```", text, re.DOTALL).group(1)


def test_cli_export_then_the_docs_onnxruntime_script_gives_glassnets_accuracy(tmp_path):
    config = (
        (ROOT / "examples" / "digits.toml")
        .read_text()
        .replace("epochs = 30", "epochs = 3")
    )
    (tmp_path / "digits.toml").write_text(config)
    assert _glassnet("train", "digits.toml", "-q", cwd=tmp_path).returncode == 0
    done = _glassnet("evaluate", "digits.glassnet", cwd=tmp_path)
    glassnet_accuracy = re.search(r"accuracy (\d+\.\d+)%", done.stdout).group(1)
    done = _glassnet("export", "digits.glassnet", "digits.onnx", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "standardises its inputs" in done.stdout
    script = _doc_block("Deploy with onnxruntime")
    assert len([ln for ln in script.splitlines() if ln.strip()]) <= 10
    (tmp_path / "deploy.py").write_text(script)
    done = subprocess.run(
        [sys.executable, "deploy.py"],
        cwd=tmp_path,
        text=True,
        check=False,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"accuracy (\d+\.\d+)%", done.stdout).group(1) == glassnet_accuracy
    # and the file comes back into glassnet, its standardisation folded into Dense
    from glassnet.datasets import digits

    X = digits(flatten=True).X[:50]
    mf = gn.io.read(tmp_path / "digits.glassnet")
    scaler = (X - mf.arrays["standardize.mean"]) / mf.arrays["standardize.scale"]
    back = gn.import_onnx(tmp_path / "digits.onnx")
    np.testing.assert_allclose(gn.predict(back, X), gn.predict(mf.model, scaler), **TOL)


def test_the_docs_look_inside_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = compile(_doc_block("Look inside a PyTorch model"), "docs/onnx.md", "exec")
    exec(code, {})  # noqa: S102  (the docs' own example)
    out = capsys.readouterr().out
    assert "Conv2D(1 → 8, 5x5, padding 2x2, bias)" in out
    assert "'accuracy': 0.9666" in out


def test_cli_inspect_reads_onnx_and_draws_receptive_fields(tmp_path):
    pytest.importorskip("matplotlib")
    done = _glassnet(
        "inspect", FIXTURES / "lenet.onnx", "--figures", tmp_path / "f", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "ONNX model (opset 17, written by pytorch" in done.stdout
    assert "(batch, 8, 4, 4)" in done.stdout  # shapes known from the file's input
    for name in ("filters-0.png", "filters-3.png", "receptive-fields.png"):
        assert (tmp_path / "f" / name).stat().st_size > 1000


def test_cli_inspect_names_unsupported_operators(tmp_path):
    path = _save_graph(
        tmp_path / "u.onnx",
        [helper.make_node("Erf", ["x"], ["y"], name="gelu_part")],
        [],
    )
    done = _glassnet("inspect", path, cwd=tmp_path)
    assert done.returncode == 1
    assert "'gelu_part' (Erf)" in done.stderr


# --- channels-last graphs (Keras 3 through tf2onnx) -----------------------------------
NHWC_TO_NCHW, NCHW_TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def _keras_cnn(
    tmp_path,
    rng,
    flatten="Reshape",
    gemm=False,
    relu_between=True,
    size=(6, 5),
    channels=2,
):
    """input (batch, H, W, C) -> Transpose -> Conv -> Relu -> Transpose back
    -> [Relu] -> Transpose -> MaxPool -> Conv -> Transpose back -> Flatten
    -> MatMul + Add (or Gemm transB=1) -> Softmax, as tf2onnx writes it."""
    h, w = size
    k1 = rng.standard_normal((3, channels, 3, 3)).astype(np.float32)
    k2 = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    n = 4 * (h // 2 - 1) * (w // 2 - 1)
    w_dense = rng.standard_normal((n, 5)).astype(np.float32)
    b_dense = rng.standard_normal(5).astype(np.float32)
    T = helper.make_node
    nodes = [
        T("Transpose", ["x"], ["t0"], name="in_nchw", perm=NHWC_TO_NCHW),
        T("Conv", ["t0", "k1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        T("Relu", ["c1"], ["r1"], name="relu1"),
        T("Transpose", ["r1"], ["t1"], name="conv1_nhwc", perm=NCHW_TO_NHWC),
        *([T("Relu", ["t1"], ["t1r"], name="relu_nhwc")] if relu_between else []),
        T(
            "Transpose",
            ["t1r" if relu_between else "t1"],
            ["t2"],
            name="pool_nchw",
            perm=NHWC_TO_NCHW,
        ),
        T("MaxPool", ["t2"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        T("Conv", ["p", "k2"], ["c2"], name="conv2"),
        T("Transpose", ["c2"], ["t3"], name="conv2_nhwc", perm=NCHW_TO_NHWC),
        T("Flatten", ["t3"], ["f"], name="flatten")
        if flatten == "Flatten"
        else T("Reshape", ["t3", "shape"], ["f"], name="flatten"),
        *(
            [T("Gemm", ["f", "wt", "bd"], ["d"], name="dense", transB=1)]
            if gemm
            else [
                T("MatMul", ["f", "wd"], ["m"], name="dense"),
                T("Add", ["m", "bd"], ["d"], name="bias"),
            ]
        ),
        T("Softmax", ["d"], ["y"], name="softmax", axis=-1),
    ]
    inits = [
        _init("k1", k1),
        _init("b1", rng.standard_normal(3)),
        _init("k2", k2),
        _init("wd", w_dense),
        _init("wt", w_dense.T),
        _init("bd", b_dense),
        numpy_helper.from_array(np.array([-1, n], np.int64), "shape"),
    ]
    return _save_graph(
        tmp_path / "keras.onnx", nodes, inits, in_shape=(None, h, w, channels)
    )


@pytest.mark.parametrize(
    "flatten,gemm,relu_between",
    [("Reshape", False, True), ("Flatten", True, False), ("Flatten", False, True)],
)
def test_a_channels_last_cnn_imports_and_agrees_with_onnxruntime(
    flatten, gemm, relu_between, tmp_path, rng
):
    path = _keras_cnn(tmp_path, rng, flatten, gemm, relu_between)
    with pytest.warns(
        UserWarning,
        match=r"'in_nchw' \(Transpose\).*\(batch, 2, 6, "
        r"5\).*X\.transpose\(0, 3, 1, 2\)",
    ):
        model, info = gn.io.onnx.read_onnx(path)
    # the transposes are gone: what is left is glassnet's own NCHW network
    assert [type(m).__name__ for m in model] == [
        "Conv2D",
        "ReLU",
        *(["ReLU"] if relu_between else []),
        "MaxPool2D",
        "Conv2D",
        "Flatten",
        "Dense",
        "Softmax",
    ]
    assert info["input_shape"] == (2, 6, 5)
    assert info["input_perm"] == (0, 3, 1, 2)
    for batch in (1, 7):
        X = rng.standard_normal((batch, 6, 5, 2)).astype(np.float32)
        np.testing.assert_allclose(
            gn.predict(model, X.transpose(0, 3, 1, 2)), _run_onnx(path, X), **TOL
        )


@given(
    h=st.integers(2, 6),
    w=st.integers(2, 6),
    c=st.integers(1, 4),
    perm=st.permutations([1, 2, 3]),
)
def test_any_transpose_before_flatten_folds_exactly_into_dense(
    tmp_path_factory, h, w, c, perm
):
    """NCHW input -> Conv -> Transpose(any order of the sample axes) -> Flatten
    -> Dense: glassnet's Dense rows are ONNX's, put in glassnet's order."""
    rng = np.random.default_rng(0)
    perm = [0, *perm]
    shape = np.array([1, 3, h, w])[perm]  # the transposed tensor's axes
    n = int(np.prod(shape))
    path = _save_graph(
        tmp_path_factory.mktemp("fold") / "f.onnx",
        [
            helper.make_node("Conv", ["x", "k"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Transpose", ["c"], ["t"], name="reorder", perm=perm),
            helper.make_node("Flatten", ["t"], ["f"], name="flatten"),
            helper.make_node("MatMul", ["f", "wd"], ["y"], name="dense"),
        ],
        [
            _init("k", rng.standard_normal((3, c, 3, 3))),
            _init("wd", rng.standard_normal((n, 4))),
        ],
        in_shape=(None, c, h, w),
    )
    model = gn.import_onnx(path)
    assert [type(m).__name__ for m in model] == ["Conv2D", "Flatten", "Dense"]
    X = rng.standard_normal((7, c, h, w)).astype(np.float32)
    np.testing.assert_allclose(gn.predict(model, X), _run_onnx(path, X), **TOL)


def test_a_transpose_glassnet_cannot_undo_names_the_node(tmp_path, rng):
    # (batch, C, H, W) -> (batch, C, W, H): a Conv on it would need a permute layer
    k = _init("k", rng.standard_normal((2, 1, 3, 3)))
    path = _save_graph(
        tmp_path / "s.onnx",
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node(
                "Transpose", ["r"], ["t"], name="swap_hw", perm=[0, 1, 3, 2]
            ),
            helper.make_node("Conv", ["t", "k"], ["y"], name="conv"),
        ],
        [k],
        in_shape=(None, 1, 5, 6),
    )
    with pytest.raises(
        FormatError,
        match=r"'conv' \(Conv\).*perm \[0, 1, 3, 2\].*"
        r"'swap_hw' \(Transpose\).*no layer that permutes axes",
    ):
        gn.import_onnx(path)


@pytest.mark.parametrize(
    "tail,message",
    [
        ([], r"'to_nhwc' \(Transpose\).*output keeps the axes permuted"),
        (
            [
                helper.make_node("Flatten", ["t"], ["f"], name="flatten"),
                helper.make_node("Relu", ["f"], ["y"], name="relu"),
            ],
            r"'relu' \(Relu\).*'to_nhwc'",
        ),
    ],
)
def test_a_channels_last_end_without_dense_is_refused(tail, message, tmp_path, rng):
    # the output left channels-last, or a transposed Flatten not followed by Dense
    k = _init("k", rng.standard_normal((2, 1, 3, 3)))
    path = _save_graph(
        tmp_path / "o.onnx",
        [
            helper.make_node("Conv", ["x", "k"], ["c"], name="conv"),
            helper.make_node(
                "Transpose",
                ["c"],
                ["t" if tail else "y"],
                name="to_nhwc",
                perm=NCHW_TO_NHWC,
            ),
            *tail,
        ],
        [k],
        in_shape=(None, 1, 5, 5),
    )
    with pytest.raises(FormatError, match=message):
        gn.import_onnx(path)


# --- issue 18's activations: PyTorch's patterns, Gelu at opset 20, what is refused ---
def test_pytorch_activations_import_and_agree():
    """tools/make_loss_fixtures.py: a PyTorch net with GELU (erf and tanh written
    out as formulas), SiLU (x * Sigmoid), Softplus(beta) (Mul, Softplus, Div),
    LeakyReLU, ELU, SELU, LogSoftmax, exported by torch.onnx at opset 17."""
    reference = np.load(FIXTURES / "torch_losses_activations.npz")
    model = gn.import_onnx(FIXTURES / "activations.onnx")
    kinds = [type(m).__name__ for m in model if not isinstance(m, nn.Dense)]
    assert kinds == [
        "GELU", "SiLU", "GELU", "Softplus", "LeakyReLU", "ELU", "SELU", "Softplus",
        "LogSoftmax",
    ]  # fmt: skip
    assert model[5].approximate == "tanh" and model[7].beta == 2.0
    assert model[9].negative_slope == 0.1 and model[11].alpha == 0.7
    x = reference["onnx/x"]
    np.testing.assert_allclose(gn.predict(model, x), reference["onnx/y"], **TOL)
    np.testing.assert_allclose(
        _run_onnx(FIXTURES / "activations.onnx", x), reference["onnx/y"], **TOL
    )


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_is_one_node_from_opset_20(approximate, tmp_path, rng):
    model = nn.Sequential(nn.Dense(4, 5), nn.GELU(approximate), seed=0)
    path = _agree(model, tmp_path / "g.onnx", _floats((4,)), rng, opset=20)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops == ["MatMul", "Add", "Gelu"]
    _same_predictions(model, path, _floats((4,)), rng)


def test_a_fork_that_is_no_known_activation_stays_refused(tmp_path):
    path = _save_graph(  # x · tanh(x): forks and joins, but is neither GELU nor SiLU
        tmp_path / "f.onnx",
        [
            helper.make_node("Tanh", ["x"], ["t"], name="tanh"),
            helper.make_node("Mul", ["x", "t"], ["y"], name="mul"),
        ],
        [],
    )
    with pytest.raises(FormatError, match="'x' is read by 2 nodes"):
        gn.import_onnx(path)


def test_selu_constants_and_a_stray_mul_are_named(tmp_path):
    path = _save_graph(
        tmp_path / "s.onnx",
        [helper.make_node("Selu", ["x"], ["y"], name="odd", alpha=1.0, gamma=2.0)],
        [],
    )
    with pytest.raises(FormatError, match=r"'odd' \(Selu\).*fixed 1.673263"):
        gn.import_onnx(path)
    path = _save_graph(
        tmp_path / "m.onnx",
        [helper.make_node("Mul", ["x", "two"], ["y"], name="double")],
        [_init("two", 2.0)],
    )
    with pytest.raises(FormatError, match=r"'double' \(Mul\).*Softplus\(beta\)"):
        gn.import_onnx(path)
