"""predict on a stack of Dense layers: each product, then bias + activation on it.

``glassnet.predict`` runs a Sequential of Dense layers (each followed by at most
one ReLU, Sigmoid, Tanh or Identity) as kernel calls
(:func:`glassnet.kernels.linear.linear_activation`) instead of layer by layer;
the numbers must be the layers' own, bit for bit, and anything else (forward
hooks, other layers, other input shapes) must still run the layers.
"""

import numpy as np
import pytest
from conftest import NATIVE_REQUIRED
from hypothesis import given
from hypothesis import strategies as st

import glassnet as gn
from glassnet import nn
from glassnet.nn import module as module_mod
from glassnet.train.loop import check_finite_rows

ACTIVATIONS = [None, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Identity]


def _layerwise(model, X, batch_size):
    """The layers' own outputs, chunk by chunk as predict cuts X."""
    with gn.no_grad():
        chunks = [
            model(X[i : i + batch_size]).data for i in range(0, len(X), batch_size)
        ]
    return np.concatenate(chunks)


@given(
    widths=st.lists(st.integers(1, 40), min_size=2, max_size=4),
    acts=st.lists(st.sampled_from(ACTIVATIONS), min_size=3, max_size=3),
    bias=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    rows=st.integers(1, 30),
    batch_size=st.integers(1, 40),
    scale=st.sampled_from([1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_dense_stack_predicts_the_layers_numbers_without_running_them(
    widths, acts, bias, dtype, rows, batch_size, scale, seed
):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Dense(a, b, bias=bias))
        if acts[i] is not None:
            layers.append(acts[i]())
    model = nn.Sequential(*layers, seed=seed).astype(dtype).mark_trained()
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # non-zero biases, so the bias is really added
        if isinstance(layer, nn.Dense) and layer.bias is not None:
            layer.bias.data = rng.normal(size=layer.bias.shape).astype(dtype)
    X = (rng.normal(size=(rows, widths[0])) * scale).astype(np.float32)
    expected = _layerwise(model, X.astype(dtype), batch_size)
    with pytest.MonkeyPatch.context() as mp:  # the layers must not run
        mp.setattr(nn.Dense, "forward", _must_not_run)
        got = gn.predict(model, X, batch_size=batch_size)
    assert got.dtype == expected.dtype
    assert got.tobytes() == expected.tobytes()


def _must_not_run(*args):
    raise AssertionError("predict ran the layers one by one")


def test_integer_inputs_become_the_models_dtype():
    model = nn.Sequential(nn.Dense(3, 4), nn.ReLU(), nn.Dense(4, 2), seed=0)
    model.mark_trained()
    X = np.arange(12).reshape(4, 3)
    expected = _layerwise(model, X.astype(np.float32), 1024)
    got = gn.predict(model, X)
    assert got.dtype == np.float32 and got.tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    "layers, shape",
    [
        ([nn.Dense(4, 3), nn.ReLU(), nn.ReLU()], (5, 4)),  # two activations in a row
        ([nn.ReLU(), nn.Dense(4, 3)], (5, 4)),  # an activation first
        ([nn.Dense(4, 3), nn.Softmax()], (5, 4)),  # a layer that is not fused
        ([nn.Dense(4, 3), nn.Tanh()], (2, 5, 4)),  # batch axes beyond the first
    ],
)
def test_other_models_and_inputs_run_the_layers(layers, shape):
    model = nn.Sequential(*layers, seed=0).mark_trained()
    X = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    seen = []

    def count(*args):
        seen.append(1)
        return original(*args)

    original = nn.Dense.forward
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nn.Dense, "forward", count)
        got = gn.predict(model, X)
    assert seen  # the layers ran
    np.testing.assert_array_equal(got, _layerwise(model, X, 1024))


@pytest.mark.parametrize(
    "width, second",
    [(3, (3, 2)), (4, (5, 2))],  # the input does not fit; the second layer does not
)
def test_widths_that_do_not_fit_get_the_layers_error(width, second):
    model = nn.Sequential(nn.Dense(4, 3), nn.ReLU(), nn.Dense(*second), seed=0)
    with pytest.raises(gn.ShapeError, match=r"Dense\(in_features="):
        gn.predict(model.mark_trained(), np.ones((5, width), np.float32))


def test_a_kept_call_leaves_an_input_of_another_width_to_the_layers_error():
    model = _w2_like(hidden=16)
    gn.predict(model, np.ones((300, 784), np.float32))  # the call is kept
    with pytest.raises(gn.ShapeError, match=r"Dense\(in_features=784\)"):
        gn.predict(model, np.ones((300, 783), np.float32))


def test_forward_hooks_see_every_layer_of_a_dense_stack():
    model = nn.Sequential(nn.Dense(4, 3), nn.ReLU(), nn.Dense(3, 2), seed=0)
    model.mark_trained()
    seen = []

    def hook(layer, x, out):
        seen.append(type(layer).__name__)

    module_mod.FORWARD_HOOKS.append(hook)
    try:
        gn.predict(model, np.ones((2, 4), np.float32))
    finally:
        module_mod.FORWARD_HOOKS.remove(hook)
    assert seen == ["Dense", "ReLU", "Dense", "Sequential"]


def test_finite_check_accepts_finite_rows_whose_sum_overflows():
    # The check sums X first (one pass); 3e38 + 3e38 is inf in float32, which
    # must send it on to look row by row, not refuse finite numbers.
    X = np.full((3, 4), 3e38, np.float32)
    check_finite_rows("predict", "X", X, "fix.")
    X[1, 2] = -np.inf
    with pytest.raises(gn.DataError, match=r"1 of 3 rows of X hold NaN .*rows 1\)"):
        check_finite_rows("predict", "X", X, "fix.")


def _w2_like(seed=0, hidden=256):
    return nn.Sequential(
        nn.Dense(784, hidden), nn.ReLU(), nn.Dense(hidden, hidden), nn.ReLU(),
        nn.Dense(hidden, 10), seed=seed,
    ).mark_trained()  # fmt: skip


def test_predict_keeps_its_compiled_call_and_notices_every_change(monkeypatch):
    """The compiled stack is prepared once per model (train/loop.py's _Kept) and
    made again when a layer, a parameter or a parameter's array is replaced or
    a layer added: every answer is still the layers' own."""
    from glassnet.kernels.variants import dense
    from glassnet.train import loop

    made = []
    real_init = dense.Stack.__init__
    monkeypatch.setattr(
        dense.Stack, "__init__", lambda self, *a: made.append(1) or real_init(self, *a)
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 784)).astype(np.float32)
    model = _w2_like()
    kept = loop._kept_stack(model, X)
    assert kept is not None
    assert kept.stack.fits(X) == (NATIVE_REQUIRED or kept.stack.applies)
    made.clear()

    def check():
        np.testing.assert_allclose(
            gn.predict(model, X), _layerwise(model, X, 1024), rtol=1e-5, atol=1e-5
        )

    check()
    check()
    assert made == []  # kept from the first call above

    first = model.layers[0]
    first.weight.data = first.weight.data * 2  # a new array in the same Tensor
    check()
    assert len(made) == 1
    first.bias = gn.tensor(rng.normal(size=256).astype(np.float32), requires_grad=True)
    check()  # a new Tensor
    assert len(made) == 2
    model.layers[2] = nn.Dense(256, 256).reset_parameters(1)  # a new layer
    check()
    assert len(made) == 3
    model.append(nn.ReLU())  # one more layer
    check()
    assert len(made) == 4
    check()
    assert len(made) == 4


def test_a_kept_call_is_not_used_for_an_untrained_model_or_under_hooks():
    X = np.random.default_rng(1).normal(size=(200, 784)).astype(np.float32)
    model = nn.Sequential(nn.Dense(784, 16), nn.ReLU(), nn.Dense(16, 3), seed=0)
    with pytest.warns(gn.errors.UntrainedModelWarning):
        gn.predict(model, X)  # warned once per model, kept call or not
    seen = []
    hook = lambda module, x, out: seen.append(type(module).__name__)  # noqa: E731
    module_mod.FORWARD_HOOKS.append(hook)
    try:
        got = gn.predict(model, X)
    finally:
        module_mod.FORWARD_HOOKS.remove(hook)
    assert seen.count("Dense") == 2  # the layers ran, so the hook saw them
    np.testing.assert_allclose(got, _layerwise(model, X, 1024), rtol=1e-5, atol=1e-6)


def test_a_stack_the_compiled_call_does_not_take_is_kept_too(monkeypatch):
    """Sigmoid layers run through kernels.linear_stack's reference; predict still
    keeps the model's layers, so it does not prepare them again on each call."""
    from glassnet.kernels.variants import dense

    made = []
    real_init = dense.Stack.__init__
    monkeypatch.setattr(
        dense.Stack, "__init__", lambda self, *a: made.append(1) or real_init(self, *a)
    )
    model = nn.Sequential(
        nn.Dense(6, 5), nn.Sigmoid(), nn.Dense(5, 2), seed=0
    ).mark_trained()
    X = np.random.default_rng(2).normal(size=(40, 6)).astype(np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(gn.predict(model, X), _layerwise(model, X, 1024))
    assert len(made) == 1
