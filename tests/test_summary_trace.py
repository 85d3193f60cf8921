"""model.summary() and glassnet.trace(): the tables and the numbers behind the narration."""

import doctest
import importlib

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.errors import ConfigError, ShapeError
from glassnet.nn import module as module_mod


def test_docstring_examples_run():
    for name in ("summary", "trace", "receptive"):
        mod = importlib.import_module(f"glassnet.inspect.{name}")
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, name


# --- summary --------------------------------------------------------------------------------


def test_summary_of_a_dense_model_infers_the_input_and_counts_parameters():
    model = nn.Sequential(nn.Dense(64, 32), nn.Sigmoid(), nn.Dense(32, 10), seed=0)
    s = model.summary()
    assert s.input_shape == (64,)
    assert [(r.name, r.type, r.output_shape, r.params) for r in s.rows] == [
        ("0", "Dense", (None, 32), 64 * 32 + 32),
        ("1", "Sigmoid", (None, 32), 0),
        ("2", "Dense", (None, 10), 32 * 10 + 10),
    ]
    assert s.total_params == model.num_parameters() == 2410
    assert s.bytes == 2410 * 4
    text = str(s)
    header = text.splitlines()[1]
    assert header.startswith("Layer (type)") and "Output shape" in header
    assert header.rstrip().endswith("Param #")
    assert "2 (Dense)" in text and "(batch, 10)" in text and "330" in text
    assert "Total params: 2,410" in text


def test_summary_of_a_conv_model_needs_and_uses_an_input_shape():
    model = nn.Sequential(
        nn.Conv2D(1, 4, 3),
        nn.ReLU(),
        nn.MaxPool2D(2, ceil_mode=True),
        nn.Flatten(),
        nn.Dense(64, 2),
        seed=0,
    )
    unknown = model.summary()
    assert unknown.input_shape is None
    assert all(r.output_shape is None for r in unknown.rows)
    assert "?" in str(unknown) and "input_shape" in str(unknown)
    assert [r.params for r in unknown.rows] == [40, 0, 0, 0, 130]
    known = model.summary(input_shape=(1, 9, 9))
    assert [r.output_shape for r in known.rows] == [
        (None, 4, 7, 7),
        (None, 4, 7, 7),
        (None, 4, 4, 4),
        (None, 64),
        (None, 2),
    ]
    with pytest.raises(ConfigError, match="input_shape"):
        model.summary(input_shape=(1, 9.5, 9))
    with pytest.raises(
        ShapeError
    ):  # the wrong image size reaches Dense: its own message
        model.summary(input_shape=(1, 8, 8))


def test_summary_counts_a_shared_layer_once():
    shared = nn.Dense(3, 3)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    s = model.summary()
    assert s.total_params == 12
    assert [r.shared for r in s.rows] == [False, False, True]
    assert "(shared)" in str(s)


def test_summary_html_for_jupyter():
    model = nn.Sequential(nn.Dense(4, 2), nn.Tanh(), seed=0)
    page = model._repr_html_()
    assert page.startswith("<table>") and "<th" in page
    for cell in (
        "Layer (type)",
        "Output shape",
        "Param #",
        "0 (Dense)",
        "(batch, 2)",
        "10",
    ):
        assert cell in page

    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("no")

    broken = nn.Sequential(nn.Dense(2, 2), Broken())
    assert broken._repr_html_().startswith("<pre>")  # a display never raises


def test_summary_of_a_recurrent_model_with_token_ids():
    model = nn.Sequential(nn.OneHot(5), nn.LSTM(5, 6), nn.Dense(6, 5), seed=0)
    s = model.summary(input_shape=(7,))
    assert [r.output_shape for r in s.rows] == [
        (None, 7, 5),
        (None, 7, 6),
        (None, 7, 5),
    ]
    assert s.rows[1].params == 4 * 6 * (5 + 6 + 1)


# --- trace ----------------------------------------------------------------------------------


def _neuron(weights, bias=0.0, act=nn.Tanh):
    model = nn.Sequential(nn.Dense(len(weights), 1), act())
    model[0].weight.data[:, 0] = weights
    model[0].bias.data[:] = bias
    return model


def test_trace_records_the_weighted_sum_and_the_squashed_value():
    # A neuron whose weighted sum is 0.5 and then 0.65: tanh gives just under 0.5 (0.46)
    # and about 0.6 (0.57), as the seed's squashing curve reads.
    model = _neuron([1.0, -0.5])
    t = gn.trace(model, np.array([1.0, 1.0]))
    assert not t.batched and len(t) == 2
    assert t[0].input.tolist() == [1.0, 1.0]
    assert t[0].output == pytest.approx([0.5])
    assert t[1].output == pytest.approx([np.tanh(0.5)], abs=1e-6)
    assert t.output == pytest.approx([0.4621], abs=1e-4)
    model[0].bias.data[:] = 0.15
    t = gn.trace(model, [1.0, 1.0])
    assert t[1].output == pytest.approx([0.5717], abs=1e-4)
    text = str(t)
    assert "weighted sum 1.00 − 0.50×1.00 + 0.15 = 0.65; squashed (tanh), 0.57" in text
    assert t["0"] is t[0] and t[model[1]] is t[1]
    with pytest.raises(KeyError, match="no layer named"):
        t["nope"]


def test_trace_gradients_match_backpropagation_and_leave_model_grads_alone():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dense(3, 4), nn.Tanh(), nn.Dense(4, 2), seed=0).astype(
        np.float64
    )
    x = rng.standard_normal(3)
    y = np.array([0.3, -0.2])
    sentinel = np.full(model[0].weight.shape, 7.0)
    model[0].weight.grad = sentinel
    t = gn.trace(model, x, target=y)  # mean squared error by default for float targets
    assert model[0].weight.grad is sentinel and model[2].bias.grad is None
    assert t.loss_name == "MSE"

    # the same numbers, by hand
    W1, b1 = model[0].weight.data, model[0].bias.data
    W2, b2 = model[2].weight.data, model[2].bias.data
    h = np.tanh(x @ W1 + b1)
    out = h @ W2 + b2
    assert t.loss == pytest.approx(np.mean((out - y) ** 2))
    d_out = 2 * (out - y) / 2
    assert t[2].output_grad == pytest.approx(d_out)
    assert t[2].param_grads["weight"] == pytest.approx(np.outer(h, d_out))
    assert t[2].param_grads["bias"] == pytest.approx(d_out)
    d_h = W2 @ d_out
    assert t[1].output_grad == pytest.approx(d_h)
    d_z = d_h * (1 - h**2)  # tanh -> 1 - y^2
    assert t[0].output_grad == pytest.approx(d_z)
    assert t[0].param_grads["weight"] == pytest.approx(np.outer(x, d_z))
    assert t.input_grad == pytest.approx(W1 @ d_z)
    assert "backward, from the loss" in str(t)


def test_trace_of_a_batch_keeps_the_batch_axis_and_narrates_sample_zero():
    model = nn.Sequential(nn.Dense(2, 3), nn.ReLU(), nn.Dense(3, 2), seed=1)
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 0.0]], np.float32)
    t = gn.trace(model, X, target=np.array([0, 1, 1]))
    assert t.batched and t[0].output.shape == (3, 3)
    assert t.loss_name == "CrossEntropy"
    assert np.allclose(t.output, model(X).data)
    assert "a batch of 3; sample 0 told" in t.narrate()


def test_trace_hooks_are_removed_even_when_the_forward_fails():
    model = nn.Sequential(nn.Dense(3, 2))
    with pytest.raises(ShapeError):
        gn.trace(model, np.ones(5))
    assert module_mod.FORWARD_HOOKS == []


def test_trace_of_conv_and_lstm_layers():
    conv = nn.Sequential(
        nn.Conv2D(1, 2, 3),
        nn.ReLU(),
        nn.MaxPool2D(2, ceil_mode=True),
        nn.Flatten(),
        nn.Dense(32, 2),
        seed=0,
    )
    image = np.random.default_rng(0).uniform(-1, 1, (1, 9, 9))
    t = gn.trace(conv, image, target=1)
    assert t[0].output.shape == (2, 7, 7) and t[2].output.shape == (2, 4, 4)
    assert t[0].param_grads["weight"].shape == (2, 1, 3, 3)
    assert t.input_grad.shape == (1, 9, 9)
    assert "each feature matched at every position" in str(t)

    reader = nn.Sequential(nn.OneHot(5), nn.LSTM(5, 3), nn.Dense(3, 5), seed=0)
    lstm = reader[1]
    t = gn.trace(reader, np.array([4, 0, 3, 1]))
    assert set(t[1].gates) == {"forget", "input", "candidate", "output", "cell"}
    assert t[1].gates["forget"].shape == (4, 3)
    assert lstm.watch_gates is False  # put back as it was
    h = t[1].output
    assert np.allclose(h, t[1].gates["output"] * np.tanh(t[1].gates["cell"]), atol=1e-6)
