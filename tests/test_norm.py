"""BatchNorm1D/2D and LayerNorm: the layer harness, PyTorch's numbers, train vs eval,
running statistics, model files, and the modes fit/evaluate/predict run in."""

import doctest
import importlib
import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_nn import layer_gradcheck

import glassnet as gn
from glassnet import nn, ops
from glassnet.errors import ConfigError, ShapeError

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_norm.npz"


def _normal(shape, seed, loc=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(loc, scale, shape)


def _set_state(layer, seed):
    """Trained-looking γ, β and running statistics (all positive, var > 0)."""
    rng = np.random.default_rng(seed)
    layer.load_state_dict(
        {k: rng.uniform(0.5, 2, v.shape) for k, v in layer.state_dict().items()}
    )


# --- the layer harness ----------------------------------------------------------------
batch_norm_cases = st.one_of(
    st.tuples(st.just(nn.BatchNorm1D), st.tuples(st.integers(2, 5), st.integers(1, 4))),
    st.tuples(
        st.just(nn.BatchNorm1D),
        st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 5)),
    ),
    st.tuples(
        st.just(nn.BatchNorm2D),
        st.tuples(
            st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(2, 4)
        ),
    ),
)


@given(case=batch_norm_cases, affine=st.booleans(), seed=st.integers(0, 2**16))
def test_batch_norm_harness(case, affine, seed):
    """Batch 1 is drawn where a channel still has 2+ values (L or H·W >= 2)."""
    cls, shape = case
    layer = cls(shape[1], affine=affine)
    names = [n for n, _ in layer.named_parameters()]
    assert names == (["weight", "bias"] if affine else [])
    assert [n for n, _ in layer.named_buffers()] == ["running_mean", "running_var"]
    assert layer.num_parameters() == (2 * shape[1] if affine else 0)
    x = _normal(shape, seed, 1.0, 2.0)
    if affine:
        _set_state(layer, seed)
    y = layer(x)
    assert y.shape == shape
    layer_gradcheck(layer, x)  # training mode: through the batch statistics
    _set_state(layer, seed + 1)
    layer_gradcheck(layer.eval(), x)  # eval mode: a fixed affine map


@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    affine=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_layer_norm_harness(lead, shape, affine, seed):
    """A normalised size of 1 is left out: x̂ is then 0 whatever x is."""
    if np.prod(shape) == 1:
        shape = [*shape[:-1], 2]
    layer = nn.LayerNorm(shape, elementwise_affine=affine)
    assert [n for n, _ in layer.named_parameters()] == (
        ["weight", "bias"] if affine else []
    )
    x = _normal((*lead, *shape), seed, 1.0, 2.0)
    if affine:
        _set_state(layer, seed)
    y = layer(x)
    axes = tuple(range(len(lead), x.ndim))
    xhat = (x - x.mean(axes, keepdims=True)) / np.sqrt(
        x.var(axes, keepdims=True) + 1e-5
    )
    want = xhat * layer.weight.data + layer.bias.data if affine else xhat
    np.testing.assert_allclose(y.data, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.eval()(x).data, y.data)  # no mode
    layer_gradcheck(layer, x)


# --- PyTorch's numbers (tools/make_norm_fixture.py) -----------------------------------
TORCH_CASES = {
    "bn1d": lambda: nn.BatchNorm1D(3),
    "bn1d_seq": lambda: nn.BatchNorm1D(3, momentum=0.3),
    "bn2d": lambda: nn.BatchNorm2D(2, eps=1e-3),
    "bn2d_plain": lambda: nn.BatchNorm2D(2, affine=False),
    "ln": lambda: nn.LayerNorm((5, 6)),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_training_steps_and_eval_match_pytorch(case):
    ref = np.load(FIXTURE)
    layer = TORCH_CASES[case]().astype(np.float64)
    if f"{case}/weight" in ref:
        layer.weight.data = ref[f"{case}/weight"].copy()
        layer.bias.data = ref[f"{case}/bias"].copy()
    tol = {"rtol": 1e-10, "atol": 1e-12}
    for k in range(3):
        x = gn.tensor(ref[f"{case}/x{k}"], requires_grad=True, dtype=np.float64)
        layer.zero_grad()
        y = layer(x)
        (y * ref[f"{case}/g{k}"]).sum().backward()
        np.testing.assert_allclose(y.data, ref[f"{case}/y{k}"], **tol)
    np.testing.assert_allclose(x.grad, ref[f"{case}/dx"], **tol)
    if layer.weight is not None:
        np.testing.assert_allclose(layer.weight.grad, ref[f"{case}/dweight"], **tol)
        np.testing.assert_allclose(layer.bias.grad, ref[f"{case}/dbias"], **tol)
    if case.startswith("bn"):  # running variance: unbiased, as PyTorch keeps it
        np.testing.assert_allclose(
            layer.running_mean, ref[f"{case}/running_mean"], **tol
        )
        np.testing.assert_allclose(layer.running_var, ref[f"{case}/running_var"], **tol)
    layer.eval()
    np.testing.assert_allclose(
        layer(ref[f"{case}/x_eval"]).data, ref[f"{case}/y_eval"], **tol
    )


# --- train vs eval, running statistics -------------------------------------------------
def test_training_normalises_with_the_batch_and_moves_the_running_statistics():
    layer = nn.BatchNorm2D(2, momentum=0.25).astype(np.float64)
    x = _normal((3, 2, 4, 5), 0, 3.0, 2.0)
    y = layer(x).data
    n = 3 * 4 * 5
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)  # biased, + eps
    per_channel = x.transpose(1, 0, 2, 3).reshape(2, n)
    np.testing.assert_allclose(layer.running_mean, 0.25 * per_channel.mean(axis=1))
    unbiased = per_channel.var(axis=1, ddof=1)
    np.testing.assert_allclose(layer.running_var, 0.75 + 0.25 * unbiased)


def test_eval_uses_the_running_statistics_and_moves_nothing():
    layer = nn.BatchNorm1D(4).astype(np.float64)
    _set_state(layer, 3)
    before = layer.state_dict()
    x = _normal((5, 4), 1)
    y = layer.eval()(x).data
    scale = layer.weight.data / np.sqrt(layer.running_var + 1e-5)
    np.testing.assert_allclose(
        y, (x - layer.running_mean) * scale + layer.bias.data, rtol=1e-12
    )
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    np.testing.assert_array_equal(layer(x[:1]).data, y[:1])  # one sample alone
    assert not np.allclose(layer.train()(x).data, y)


@pytest.mark.parametrize("momentum", [0.0, 1.0])
def test_momentum_zero_keeps_and_one_replaces_the_running_statistics(momentum):
    layer = nn.BatchNorm1D(2, momentum=momentum).astype(np.float64)
    x = _normal((6, 2), 4)
    layer(x)
    if momentum == 0:
        np.testing.assert_array_equal(layer.running_mean, [0, 0])
        np.testing.assert_array_equal(layer.running_var, [1, 1])
    else:
        np.testing.assert_allclose(layer.running_mean, x.mean(axis=0))
        np.testing.assert_allclose(layer.running_var, x.var(axis=0, ddof=1))


def test_no_grad_training_still_tracks_and_astype_converts_the_buffers():
    layer = nn.BatchNorm1D(3)
    with gn.no_grad():
        layer(_normal((4, 3), 5))
    assert layer.running_mean.any()
    layer.astype(np.float64)
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float64


def test_ops_batch_norm_without_running_arrays():
    x = _normal((4, 3), 6)
    y = ops.batch_norm(x, None, None)
    np.testing.assert_allclose(y.data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))
    with pytest.raises(ConfigError, match="give running_mean and running_var"):
        ops.batch_norm(x, None, None, training=False)


# --- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "layer, shape, message",
    [
        (nn.BatchNorm1D(3), (4, 5), r"BatchNorm1D\(num_features=3\) expected input "
         r"\(batch, 3\) or \(batch, 3, length\); got shape \(4, 5\)"),
        (nn.BatchNorm1D(3), (2, 3, 4, 4), r"got shape \(2, 3, 4, 4\)"),
        (nn.BatchNorm2D(2), (4, 2, 3), r"BatchNorm2D\(num_features=2\) expected input "
         r"\(batch, 2, height, width\); got shape \(4, 2, 3\)"),
        (nn.BatchNorm1D(3), (1, 3), r"batch_norm: training needs more than one value "
         r"per channel.*\(1, 3\).*eval\(\) mode"),
        (nn.LayerNorm([2, 3]), (4, 3, 2), r"LayerNorm\(normalized_shape=\[2, 3\]\) "
         r"expected input whose last axes are \(2, 3\); got shape \(4, 3, 2\)"),
        (nn.LayerNorm([2, 3]), (3,), r"got shape \(3,\)"),
    ],
)  # fmt: skip
def test_shape_errors_name_the_layer(layer, shape, message):
    with pytest.raises(ShapeError, match=message):
        layer(np.ones(shape))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nn.BatchNorm1D(0), "BatchNorm1D: num_features must be a positive"),
        (lambda: nn.BatchNorm2D(2.5), "BatchNorm2D: num_features"),
        (lambda: nn.BatchNorm2D(2, momentum=1.5), r"momentum must be a number in \[0"),
        (lambda: nn.BatchNorm1D(2, eps=0), r"eps must be a number in \(0"),
        (lambda: nn.LayerNorm([]), "LayerNorm: normalized_shape must be a positive"),
        (lambda: nn.LayerNorm([3, -1]), "LayerNorm: normalized_shape"),
        (lambda: nn.LayerNorm(3, eps=-1.0), "LayerNorm: eps"),
    ],
)
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


# --- models: fit, evaluate, predict, files, capture, look-inside ----------------------
class Probe(nn.Module):
    """Records the mode and batch size of every call."""

    def __init__(self):
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, x.shape[0]))
        return x


def test_fit_trains_in_training_mode_and_checks_evaluates_and_predicts_in_eval():
    """Before this change fit's shape check and starting loss ran in training
    mode, so BatchNorm's running statistics moved on batches never trained on."""
    X, y = _normal((40, 4), 7).astype(np.float32), np.arange(40) % 3
    probe = Probe()
    model = nn.Sequential(
        nn.Dense(4, 6), nn.BatchNorm1D(6), probe, nn.Dense(6, 3), seed=0
    )
    gn.fit(model, X, y, epochs=1, batch_size=16, shuffle=False, verbose=0,
           validation_data=(X[:10], y[:10]))  # fmt: skip
    assert [n for training, n in probe.calls if training] == [16, 16, 8]
    # one pass before training, in eval mode: the shape check and the starting
    # loss, on 32 of the 40 samples (whole batches of 16)
    assert probe.calls[0] == (False, 32)
    assert not probe.calls[-1][0]  # validation
    assert model.training and probe.training  # fit leaves it training
    probe.calls.clear()
    stats = model.state_dict()
    gn.predict(model, X)
    gn.evaluate(model, X, y)
    assert [training for training, _ in probe.calls] == [False, False]
    assert model.training and probe.training  # and the mode is put back
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, stats[name])


def test_running_statistics_survive_save_load_and_checkpoints(tmp_path):
    X, y = _normal((64, 1, 8, 8), 8).astype(np.float32), np.arange(64) % 2
    model = nn.Sequential(
        nn.Conv2D(1, 3, 3), nn.BatchNorm2D(3), nn.ReLU(), nn.Flatten(),
        nn.Dropout(0.2), nn.Dense(108, 6), nn.LayerNorm(6), nn.Dense(6, 2), seed=1,
    )  # fmt: skip
    gn.fit(model, X, y, epochs=2, verbose=0, seed=0)
    assert model[1].running_var.std() > 0
    gn.save(model, tmp_path / "m")
    again = gn.load(tmp_path / "m")
    np.testing.assert_array_equal(again[1].running_mean, model[1].running_mean)
    np.testing.assert_array_equal(again[1].running_var, model[1].running_var)
    np.testing.assert_array_equal(gn.predict(again, X), gn.predict(model, X))
    gn.io.save_checkpoint(tmp_path / "c", model)
    back = gn.io.load_checkpoint(tmp_path / "c").model
    np.testing.assert_array_equal(back[1].running_var, model[1].running_var)


def test_a_file_without_the_running_statistics_is_refused(tmp_path):
    from glassnet.errors import FormatError

    model = nn.Sequential(nn.Dense(3, 2), nn.BatchNorm1D(2), seed=0)
    gn.save(model, tmp_path / "m")
    box = gn.io.container.read(tmp_path / "m")
    tensors = {n: a for n, a in box.tensors().items() if "running" not in n}
    data = gn.io.container.to_bytes(box.kind, box.content, tensors, "test")
    (tmp_path / "bad").write_bytes(data)
    with pytest.raises(FormatError, match=r"does not hold \['1.running_mean'"):
        gn.load(tmp_path / "bad")


@pytest.mark.parametrize("layer", [nn.Dropout(0.1), nn.BatchNorm1D(8)])
def test_the_captured_step_refuses_dropout_and_batch_norm(layer):
    """A replay repeats one recorded step: one mask, one batch's statistics."""
    model = nn.Sequential(nn.Dense(4, 8), layer, nn.ReLU(), nn.Dense(8, 3), seed=0)
    X, y = np.ones((8, 4), np.float32), np.arange(8) % 3
    name = type(layer).__name__
    with pytest.raises(ConfigError, match=f"layer 1 is {name}; a captured step.*eager"):
        gn.fit(model, X, y, epochs=1, verbose=0, capture=True)


def test_summary_trace_receptive_fields_and_plots_leave_the_model_as_it_was(tmp_path):
    pytest.importorskip("matplotlib")
    from glassnet import plot

    model = nn.Sequential(
        nn.Conv2D(1, 2, 3), nn.BatchNorm2D(2), nn.ReLU(), nn.Dropout(0.5),
        nn.Flatten(), nn.Dense(18, 4), nn.LayerNorm(4), nn.Dense(4, 2), seed=2,
    )  # fmt: skip
    _set_state(model[1], 0)
    state, rng_state = model.state_dict(), model[3].rng.bit_generator.state
    text = str(model.summary(input_shape=(1, 5, 5)))
    assert "BatchNorm2D" in text and "LayerNorm" in text and "Dropout" in text
    t = gn.trace(model, _normal((1, 5, 5), 0), target=1)
    assert [r.kind for r in t.layers][1:4] == ["BatchNorm2D", "ReLU", "Dropout"]
    np.testing.assert_array_equal(t.layers[3].output, t.layers[2].output)  # eval
    gn.receptive_field(model, model[1], (0, 1, 1), input_shape=(1, 5, 5))
    plot.training_curves({"loss": [1.0, 0.5]}, path=tmp_path / "c.png")
    assert model.training and all(m.training for m in model)
    assert model[3].rng.bit_generator.state == rng_state
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state[name])


def test_docstring_examples_run():
    for name in ("glassnet.nn.norm", "glassnet.ops.norm", "glassnet.kernels.norm"):
        assert doctest.testmod(importlib.import_module(name)).failed == 0
