"""MultiHeadAttention: PyTorch's numbers (a committed fixture), gradients by finite
differences over drawn shapes and masks, errors, and the look-inside tools."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassnet as gn
from glassnet import nn, ops
from glassnet.errors import ConfigError, ShapeError

FIXTURE = Path(__file__).parent / "fixtures" / "torch_attention.npz"


def _case(name):
    data = np.load(FIXTURE)
    return {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(name + "/")}


@pytest.mark.parametrize(
    "name", ["self_causal_padded", "self_one_head", "cross_padded"]
)
def test_matches_pytorch_outputs_weights_and_gradients(name):
    """tools/make_attention_fixture.py ran torch.nn.MultiheadAttention(batch_first)."""
    c = _case(name)
    E, H, causal, padded, cross = (int(v) for v in c["config"])
    layer = nn.MultiHeadAttention(E, H, causal=bool(causal)).astype(np.float64)
    for p in ("weight_in", "bias_in", "weight_out", "bias_out"):
        getattr(layer, p).data = c[p].copy()
    x = gn.tensor(c["x"], requires_grad=True, dtype=np.float64)
    kv = gn.tensor(c["kv"], requires_grad=True, dtype=np.float64) if cross else None
    y = layer(x, kv, key_padding_mask=c["pad"] if padded else None)
    np.testing.assert_allclose(y.data, c["y"], rtol=1e-10, atol=1e-12)
    w = layer.attention_weights
    np.testing.assert_allclose(w, c["weights_heads"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        w.mean(axis=1), c["weights_mean"], rtol=1e-10, atol=1e-12
    )
    (y * gn.tensor(c["upstream"], dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(x.grad, c["grad_x"], rtol=1e-9, atol=1e-12)
    if cross:
        np.testing.assert_allclose(kv.grad, c["grad_kv"], rtol=1e-9, atol=1e-12)
    for p in ("weight_in", "bias_in", "weight_out", "bias_out"):
        got = getattr(layer, p).grad
        np.testing.assert_allclose(got, c[f"grad_{p}"], rtol=1e-9, atol=1e-12)


@given(
    batch=st.integers(1, 3),
    t=st.integers(1, 5),
    heads=st.sampled_from([1, 2, 3]),
    d=st.integers(1, 3),
    causal=st.booleans(),
    bias=st.booleans(),
    data=st.data(),
)
def test_gradcheck_over_shapes_and_masks(batch, t, heads, d, causal, bias, data):
    layer = nn.MultiHeadAttention(heads * d, heads, causal=causal, bias=bias, seed=1)
    layer.astype(np.float64)
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    x = gn.tensor(rng.standard_normal((batch, t, heads * d)), True, np.float64)
    # padded keys, never key 0 (a query with every key masked has no weights)
    pad = np.zeros((batch, t), bool)
    pad[:, 1:] = rng.random((batch, t - 1)) < 0.3
    mask = data.draw(st.sampled_from([None, pad]))
    cross = data.draw(st.booleans())
    kv = gn.tensor(rng.standard_normal((batch, t, heads * d)), True, np.float64)
    out = layer(x, kv if cross else None, key_padding_mask=mask)
    assert out.shape == (batch, t, heads * d)
    w = layer.attention_weights
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)
    if causal:
        assert not np.any(np.triu(w, 1))
    if mask is not None:
        assert not np.any(w[np.broadcast_to(mask[:, None, None, :], w.shape)])
    params = layer.parameters()
    assert gn.gradcheck(
        lambda a, b, *p: layer(a, b if cross else None, key_padding_mask=mask),
        [x, kv, *params],
    )
    names = [n for n, _ in layer.named_parameters()]
    expected = ["weight_in", "bias_in", "weight_out", "bias_out"]
    assert names == (expected if bias else ["weight_in", "weight_out"])


def test_causal_output_does_not_see_the_future():
    layer = nn.MultiHeadAttention(4, 2, causal=True, seed=0)
    x = np.random.default_rng(0).standard_normal((1, 6, 4)).astype(np.float32)
    changed = x.copy()
    changed[:, 4:] += 10.0
    np.testing.assert_array_equal(layer(x).data[:, :4], layer(changed).data[:, :4])


def test_errors_name_the_layer_and_what_arrived():
    with pytest.raises(ConfigError, match="num_heads=3 must divide embed_dim=8"):
        nn.MultiHeadAttention(8, 3)
    layer = nn.MultiHeadAttention(8, 2)
    with pytest.raises(ShapeError, match=r"expected input of shape \(batch, time, 8\)"):
        layer(np.ones((2, 5, 7)))
    with pytest.raises(ShapeError, match=r"key_padding_mask .* \(2, 5\); got float64"):
        layer(np.ones((2, 5, 8)), key_padding_mask=np.zeros((2, 5)))
    with pytest.raises(ShapeError, match="key and value must share"):
        layer(np.ones((2, 5, 8)), np.ones((2, 4, 8)), np.ones((2, 3, 8)))


def test_repr_and_summary_and_round_trip(tmp_path):
    model = nn.Sequential(nn.MultiHeadAttention(6, 3, causal=True), nn.Dense(6, 2))
    assert repr(model[0]) == "MultiHeadAttention(6, heads 3, causal, bias)"
    text = str(model.summary(input_shape=(4, 6)))
    assert "MultiHeadAttention" in text and str(6 * 18 + 18 + 36 + 6) in text
    gn.save(model, tmp_path / "m")
    again = gn.load(tmp_path / "m")
    x = np.random.default_rng(0).standard_normal((2, 4, 6))
    np.testing.assert_array_equal(again(x).data, model(x).data)


def test_attention_op_against_numpy():
    """ops.attention in the op harness' terms: forward against NumPy, gradcheck."""
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 2)])
    blocked = rng.random((2, 3, 5)) < 0.3
    blocked[..., 0] = False
    s = np.where(blocked, -np.inf, q @ k.transpose(0, 2, 1) / 2.0)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    ts = [gn.tensor(a, requires_grad=True, dtype=np.float64) for a in (q, k, v)]
    y, weights = ops.attention(*ts, blocked)
    np.testing.assert_allclose(weights, w, rtol=1e-12)
    np.testing.assert_allclose(y.data, w @ v, rtol=1e-12)
    assert gn.gradcheck(lambda *t: ops.attention(*t, blocked)[0], ts)
    with pytest.raises(ShapeError, match=r"attention: expected q"):
        ops.attention(ts[0], ts[2], ts[2])
    with pytest.raises(ShapeError, match=r"blocked \(3, 4\) must broadcast"):
        ops.attention(*ts, np.zeros((3, 4), bool))


def test_trace_keeps_and_plot_draws_the_weights(tmp_path):
    pytest.importorskip("matplotlib")
    from glassnet import plot

    model = nn.Sequential(nn.MultiHeadAttention(4, 2, causal=True, seed=0))
    x = np.random.default_rng(0).standard_normal((5, 4))
    t = gn.trace(model, x, target=np.zeros((5, 4)))
    assert t[0].attention.shape == (2, 5, 5)  # one sample: (heads, queries, keys)
    np.testing.assert_allclose(t[0].attention, model[0].attention_weights[0])
    assert "attended in 2 heads" in t.narrate()
    fig = plot.attention(t[0], list("abcde"), path=tmp_path / "a.png")
    assert (tmp_path / "a.png").stat().st_size > 1000
    shown = [im for ax in fig.axes for im in ax.get_images()]
    assert len(shown) == 2
    np.testing.assert_array_equal(shown[1].get_array(), t[0].attention[1])
    assert shown[0].get_clim() == (0, 1)
    assert len(plot.attention(model[0]).axes[0].get_images()) == 1
    with pytest.raises(ShapeError, match="3 query and 3 key labels"):
        plot.attention(t[0], list("abc"))


def test_onnx_export_is_standard_nodes_and_comes_back(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = nn.Sequential(
        nn.MultiHeadAttention(4, 2, causal=True),
        nn.MultiHeadAttention(4, 4),
        seed=0,
    ).mark_trained()
    gn.export_onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert [f.name for f in proto.functions] == [
        "MultiHeadAttention",
        "MultiHeadAttention_1",
    ]
    body = {n.op_type for n in proto.functions[0].node}
    assert {"MatMul", "Softmax", "Where", "Transpose", "Reshape"} <= body
    assert "Where" not in {n.op_type for n in proto.functions[1].node}  # not causal
    X = np.random.default_rng(1).standard_normal((3, 7, 4)).astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {"input": X})[0]
    np.testing.assert_allclose(got, gn.predict(model, X), rtol=1e-5, atol=1e-5)
    back = gn.import_onnx(tmp_path / "m.onnx")
    assert [m.get_config() for m in back] == [m.get_config() for m in model]
    np.testing.assert_array_equal(gn.predict(back, X), gn.predict(model, X))


def _example(name):
    import importlib.util
    import sys

    examples = Path(__file__).resolve().parents[1] / "examples"
    sys.path.insert(0, str(examples))
    spec = importlib.util.spec_from_file_location(name, examples / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_transformer_learns_and_its_blocks_start_as_the_identity():
    tt = _example("tiny_transformer")
    model = tt.build(11, 8, seed=0, context=6)
    ids = np.random.default_rng(0).integers(0, 11, (2, 6))
    x = model.token(ids) + model.position[:6]
    np.testing.assert_array_equal(model.blocks[0](x).data, x.data)  # a = b = 0
    with pytest.raises(ShapeError, match="reads at most 6 characters"):
        model(np.zeros((1, 7)))
    assert len(tt.generate(model, [1, 2, 3], 9)) == 9  # a window past the context


def test_transformer_vs_lstm_example_shortened(tmp_path):
    """25 steps with a fixed seed: both models beat the uniform guess (ln 57 = 4.04
    nats) on the held-out sonnet, the transformer sooner, and the figures exist."""
    pytest.importorskip("matplotlib")
    results = _example("transformer_vs_lstm").main(
        ["--steps", "25", "--every", "25", "--figures", str(tmp_path), "--quiet"]
    )
    for name in ("LSTM", "transformer"):
        curve, speed = results[name]
        assert curve.shape == (1, 3) and speed > 0
        assert curve[-1, 2] < np.log(57) - 0.5
    assert results["transformer"][0][0, 2] < results["LSTM"][0][0, 2]
    for png in ("transformer_vs_lstm.png", "sonnets_attention.png"):
        assert (tmp_path / png).stat().st_size > 10_000


@pytest.mark.parametrize(
    "module", ["glassnet.nn.attention", "glassnet.ops.reduce", "glassnet.ops.linalg"]
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS
    )
    assert result.failed == 0 and result.attempted > 0
