"""Layers: the layer harness (shapes, parameters, gradcheck) and Module behaviour."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassnet as gn
from glassnet import nn


def layer_gradcheck(layer, x):
    """gradcheck a layer with respect to its input and every parameter, in float64."""
    layer.astype(np.float64)
    x64 = gn.tensor(x, requires_grad=True, dtype=np.float64)
    assert gn.gradcheck(lambda x_t, *params: layer(x_t), [x64, *layer.parameters()])


@given(
    n_in=st.integers(1, 5),
    n_out=st.integers(1, 5),
    batch=st.integers(1, 4),
    bias=st.booleans(),
    init=st.sampled_from(["glorot", "he", "uniform"]),
)
def test_dense_harness(n_in, n_out, batch, bias, init):
    layer = nn.Dense(n_in, n_out, bias=bias, init=init, seed=0)
    x = np.random.default_rng(0).standard_normal((batch, n_in))
    out = layer(x)
    assert out.shape == (batch, n_out)
    names = [name for name, _ in layer.named_parameters()]
    assert names == (["weight", "bias"] if bias else ["weight"])
    assert layer.num_parameters() == n_in * n_out + (n_out if bias else 0)
    expected = x.astype(np.float32) @ layer.weight.data
    if bias:
        expected = expected + layer.bias.data
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    layer_gradcheck(layer, x)


@pytest.mark.parametrize(
    "layer",
    [nn.Sigmoid(), nn.Tanh(), nn.ReLU(), nn.Softmax(), nn.Identity(), nn.Flatten()],
)
def test_activation_harness(layer):
    x = np.random.default_rng(1).standard_normal((3, 4))
    x[np.abs(x) < 0.05] = 0.5  # keep ReLU away from its kink
    assert layer(x).shape == (3, 4)
    assert layer.parameters() == []
    layer_gradcheck(layer, x)


def test_dense_matches_hand_computed_neuron():
    # One neuron, two inputs: weighted sum 0.5*1 + (-0.25)*2 + 0.1 = 0.1, squashed by sigmoid.
    layer = nn.Dense(2, 1, seed=0)
    layer.weight.data = np.array([[0.5], [-0.25]], np.float32)
    layer.bias.data = np.array([0.1], np.float32)
    z = layer([[1.0, 2.0]])
    assert z.item() == pytest.approx(0.1)
    assert nn.Sigmoid()(z).item() == pytest.approx(1 / (1 + np.exp(-0.1)), rel=1e-6)


def test_seed_makes_initial_weights_reproducible():
    def build(seed):
        return nn.Sequential(
            nn.Dense(64, 32), nn.Sigmoid(), nn.Dense(32, 10), seed=seed
        )

    a, b, c = build(0), build(0), build(1)
    for (_, pa), (_, pb), (_, pc) in zip(
        a.named_parameters(), b.named_parameters(), c.named_parameters()
    ):
        np.testing.assert_array_equal(pa.data, pb.data)
        if pa.data.any():
            assert not np.array_equal(pa.data, pc.data)
    np.testing.assert_array_equal(
        nn.Dense(3, 2, seed=7).weight.data, nn.Dense(3, 2, seed=7).weight.data
    )


def test_initialisers_have_their_documented_spread():
    big = 400
    w = nn.Dense(big, big, init="uniform", seed=0).weight.data
    assert w.min() >= -1 and w.max() <= 1 and abs(w.std() - 1 / np.sqrt(3)) < 0.01
    w = nn.Dense(big, big, init="glorot", seed=0).weight.data
    assert abs(w.std() - np.sqrt(2 / (big + big))) < 0.002
    w = nn.Dense(big, big, init="he", seed=0).weight.data
    assert abs(w.std() - np.sqrt(2 / big)) < 0.002
    assert not nn.Dense(3, 2, seed=0).bias.data.any()


def test_sequential_repr_names_and_counts():
    model = nn.Sequential(
        nn.Dense(64, 32), nn.Sigmoid(), nn.Dense(32, 10, bias=False), seed=0
    )
    assert repr(model) == (
        "Sequential(\n  (0): Dense(64 → 32, bias)\n  (1): Sigmoid()\n"
        "  (2): Dense(32 → 10)\n)"
    )
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight",
        "0.bias",
        "2.weight",
    ]
    assert model.num_parameters() == 64 * 32 + 32 + 320
    assert isinstance(model[0], nn.Dense) and len(model) == 3


def test_custom_module_finds_parameters_in_attributes_lists_and_dicts():
    class Net(nn.Module):
        def __init__(self):
            self.scale = gn.tensor(2.0, requires_grad=True)
            self.blocks = [nn.Dense(2, 2, seed=0), nn.Dense(2, 2, seed=1)]
            self.heads = {"a": nn.Dense(2, 1, seed=2)}
            self.constant = gn.tensor([1.0])  # not trainable: not a parameter

        def forward(self, x):
            for b in self.blocks:
                x = b(x).tanh()
            return self.heads["a"](x) * self.scale

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "scale",
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.weight",
        "blocks.1.bias",
        "heads.a.weight",
        "heads.a.bias",
    ]
    net(np.ones((3, 2))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_shared_layer_counts_once():
    shared = nn.Dense(2, 2, seed=0)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(model.parameters()) == 2


def test_train_eval_modes_propagate():
    model = nn.Sequential(nn.Dense(2, 2), nn.Sequential(nn.ReLU()))
    model.eval()
    assert not model.training and not model[1][0].training
    model.train()
    assert model[1][0].training


def test_numpy_input_takes_the_model_dtype():
    model = nn.Sequential(nn.Dense(3, 2, seed=0))
    assert model(np.ones((1, 3), np.float64)).dtype == np.float32
    model.astype(np.float64)
    assert model(np.ones((1, 3), np.float32)).dtype == np.float64
    assert model([[1, 2, 3]]).dtype == np.float64


@given(
    st.lists(
        st.sampled_from(["act", "dense", "list", "dict", "seq", "frozen"]),
        min_size=1,
        max_size=5,
    )
)
def test_model_dtype_is_its_first_parameters_wherever_that_sits(parts):
    """Module.dtype finds the parameter named_parameters() lists first, through
    lists, dicts, nested Sequentials and layers without (trainable) parameters;
    only the first is float64, so a wrong pick shows."""

    class Holder(nn.Module):
        def __init__(self):
            self.items = []
            for part in parts:
                dense = nn.Dense(2, 2)
                frozen = nn.Dense(2, 2)
                frozen.weight.requires_grad_(False)
                frozen.bias.requires_grad_(False)
                self.items.append({
                    "act": nn.Sigmoid(), "dense": dense, "list": [nn.ReLU(), dense],
                    "dict": {"a": nn.Tanh(), "b": dense},
                    "seq": nn.Sequential(nn.Sigmoid(), nn.Sequential(dense)),
                    "frozen": frozen,
                }[part])  # fmt: skip

    holder = Holder()
    named = list(holder.named_parameters())
    if not named:  # only layers without trainable parameters: the default
        assert holder.dtype == np.float32
        return
    first = named[0][1]
    first.data = first.data.astype(np.float64)
    assert holder.dtype == np.float64
    first.data = first.data.astype(np.float32)
    named[-1][1].data = named[-1][1].data.astype(np.float64)
    assert holder.dtype == (np.float64 if len(named) == 1 else np.float32)


def test_state_dict_round_trip_and_checks():
    a = nn.Sequential(nn.Dense(3, 2), nn.Tanh(), nn.Dense(2, 1), seed=0)
    b = nn.Sequential(nn.Dense(3, 2), nn.Tanh(), nn.Dense(2, 1), seed=1)
    b.load_state_dict(a.state_dict())
    x = np.ones((4, 3))
    np.testing.assert_array_equal(a(x).data, b(x).data)
    bad = a.state_dict()
    bad["0.weight"] = np.zeros((2, 3))
    with pytest.raises(
        gn.ShapeError, match=r"'0.weight' expected shape \(3, 2\); got \(2, 3\)"
    ):
        b.load_state_dict(bad)
    with pytest.raises(gn.ShapeError, match=r"missing \['2.bias'\]"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "2.bias"})


def test_dense_shape_errors_name_the_layer():
    layer = nn.Dense(64, 10)
    with pytest.raises(
        gn.ShapeError,
        match=r"Dense\(in_features=64\) expected input whose last axis is 64; "
        r"got shape \(32, 63\)\.$",
    ):
        layer(np.ones((32, 63)))
    with pytest.raises(gn.ShapeError, match="Did you forget Flatten()"):
        layer(np.ones((32, 8, 8)))


def test_bad_layer_arguments():
    with pytest.raises(
        gn.ConfigError, match="in_features must be a positive integer; got 0"
    ):
        nn.Dense(0, 3)
    with pytest.raises(gn.ConfigError, match="unknown initialiser 'lecun'"):
        nn.Dense(2, 3, init="lecun")
    with pytest.raises(
        gn.ConfigError, match="Did you pass a class instead of an instance"
    ):
        nn.Sequential(nn.Dense(2, 2), nn.ReLU)
    with pytest.raises(gn.DTypeError, match="numeric input"):
        nn.Dense(2, 2)(np.array([["a", "b"]]))


def test_step_neuron_fires_and_refuses_backprop():
    step = nn.Step()
    np.testing.assert_array_equal(step([[-1.0, 0.0, 0.3]]).data, [[0, 0, 1]])
    np.testing.assert_array_equal(
        nn.Step(threshold=1.0, low=-1, high=1)([0.5, 1.5]).data, [-1, 1]
    )
    layer = nn.Dense(2, 1, seed=0)
    out = nn.Step()(layer([[1.0, 1.0]]))
    with pytest.raises(gn.GraphError, match="Step has no useful gradient"):
        out.sum().backward()


def test_forward_hooks_see_every_layer_and_cost_nothing_when_unused():
    from glassnet.nn import module

    model = nn.Sequential(nn.Dense(2, 3, seed=0), nn.ReLU())
    seen = []
    module.FORWARD_HOOKS.append(
        lambda m, x, out: seen.append((type(m).__name__, out.shape))
    )
    try:
        model(np.ones((5, 2)))
    finally:
        module.FORWARD_HOOKS.clear()
    assert seen == [("Dense", (5, 3)), ("ReLU", (5, 3)), ("Sequential", (5, 3))]
