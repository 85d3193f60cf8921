"""Receptive fields: exact for one weighted sum over a box, gradient ascent otherwise."""

import itertools

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.errors import ConfigError
from glassnet.tensor import no_grad


def _dense(weights, bias=None):
    W = np.asarray(weights, dtype=np.float32)
    layer = nn.Dense(*W.shape)
    layer.weight.data = W.copy()
    if bias is not None:
        layer.bias.data = np.asarray(bias, np.float32)
    return layer


def test_exact_field_is_the_sign_pattern_of_the_weights():
    W = [[0.5, -2.0], [-1.0, 0.0], [0.0, 3.0]]
    model = nn.Sequential(_dense(W, [0.1, -0.2]), nn.ReLU())
    for layer in (0, 1):  # the weighted sum itself, and after a rising squash
        f = gn.receptive_field(model, layer, 0)
        assert f.method == "exact"
        assert f.pattern.tolist() == [1.0, -1.0, 0.0]
        assert f.dont_care.tolist() == [False, False, True]
    f = gn.receptive_field(model, 1, 1, low=-0.5, high=[2.0, 1.0, 0.25])
    assert f.pattern.tolist() == [-0.5, 0.25, 0.25]  # the middle where the weight is 0
    assert f.dont_care.tolist() == [False, True, False]
    assert f.value == pytest.approx(max(0.0, -2 * -0.5 + 3 * 0.25 - 0.2), abs=1e-6)
    assert (f.layer, f.neuron) == ("1", (1,))


def test_exact_field_through_flatten_keeps_the_image_shape():
    model = nn.Sequential(
        nn.Flatten(), _dense([[1.0], [0.0], [-1.0], [2.0]]), nn.Tanh()
    )
    f = gn.receptive_field(model, 2, 0, input_shape=(2, 2))
    assert f.method == "exact"
    assert f.pattern.tolist() == [[1.0, 0.0], [-1.0, 1.0]]
    assert f.dont_care.tolist() == [[False, True], [False, False]]
    assert f.value == pytest.approx(np.tanh(4.0), abs=1e-6)


def test_exact_field_of_a_convolution_neuron_covers_only_its_window():
    conv = nn.Conv2D(1, 2, 3, stride=2, padding=1, seed=0)
    conv.weight.data[0, 0] = [[1, -1, 0], [0, 2, -3], [1, 0, 0]]
    model = nn.Sequential(conv, nn.ReLU())
    f = gn.receptive_field(model, 1, (0, 1, 2), input_shape=(1, 6, 6))
    assert f.method == "exact"
    # output (1, 2) with stride 2 and padding 1 looks at input rows 1..3, cols 3..5
    window = np.zeros((6, 6), bool)
    window[1:4, 3:6] = True
    kernel = conv.weight.data[0, 0]
    expected = np.zeros((6, 6))
    expected[1:4, 3:6] = np.sign(kernel)
    assert np.array_equal(f.pattern[0], expected)
    assert np.array_equal(f.dont_care[0], ~window | (expected == 0))
    # an int picks the centre of the map: (channel, 3 // 2, 3 // 2) for a 3x3 map
    assert gn.receptive_field(model, 0, 1, input_shape=(1, 6, 6)).neuron == (1, 1, 1)


def test_gradient_ascent_beats_every_corner_and_random_inputs():
    model = nn.Sequential(
        nn.Dense(3, 5), nn.Tanh(), nn.Dense(5, 4), nn.Tanh(), nn.Dense(4, 2), seed=3
    )
    corners = np.array(list(itertools.product([-1.0, 1.0], repeat=3)), np.float32)
    rnd = np.random.default_rng(0).uniform(-1, 1, (20000, 3)).astype(np.float32)
    with no_grad():
        best_known = np.maximum(
            model(corners).data.max(axis=0), model(rnd).data.max(axis=0)
        )
    for j in range(2):
        f = gn.receptive_field(model, 4, j)
        assert f.method == "gradient ascent"
        assert np.all(np.abs(f.pattern) <= 1.0)
        with no_grad():
            assert f.value == pytest.approx(float(model(f.pattern[None]).data[0, j]))
        assert f.value >= best_known[j] - 1e-4


def test_a_dead_relu_neuron_is_still_climbed_from_its_weighted_sum():
    # At the middle of the box the ReLU is 0 and flat; ascent uses the sum before it.
    model = nn.Sequential(
        _dense(np.eye(2) * 3), nn.Tanh(), _dense([[1.0], [1.0]], [-1.5]), nn.ReLU()
    )
    f = gn.receptive_field(model, 3, 0)
    assert f.method == "gradient ascent"
    assert f.pattern == pytest.approx([1.0, 1.0], abs=1e-3)
    assert f.value == pytest.approx(2 * np.tanh(3.0) - 1.5, abs=1e-4)


def test_dont_care_is_found_for_gradient_ascent_too():
    model = nn.Sequential(nn.Dense(3, 2), nn.Tanh(), nn.Dense(2, 1), nn.Tanh(), seed=0)
    model[0].weight.data[2] = 0.0  # input 2 reaches nothing
    f = gn.receptive_field(model, 3, 0)
    assert f.dont_care.tolist() == [False, False, True]


def test_receptive_fields_of_a_whole_layer_and_clear_errors():
    model = nn.Sequential(nn.Dense(4, 3), nn.Tanh(), seed=0)
    fields = gn.receptive_fields(model, 1)
    assert [f.neuron for f in fields] == [(0,), (1,), (2,)]
    with pytest.raises(ConfigError, match="has 2 layers"):
        gn.receptive_field(model, 5, 0)
    with pytest.raises(ConfigError, match="not an index"):
        gn.receptive_field(model, 0, 3)
    with pytest.raises(ConfigError, match="no layer 'nope'"):
        gn.receptive_field(model, "nope", 0)
    with pytest.raises(ConfigError, match="low < high"):
        gn.receptive_field(model, 0, 0, low=1, high=-1)
    conv = nn.Sequential(nn.Conv2D(1, 1, 3), nn.ReLU())
    with pytest.raises(ConfigError, match="input_shape="):
        gn.receptive_field(conv, 0, 0)


# --- saturation is not indifference (issue 14, item 5) -------------------------------------


def _moved_one_at_a_time(pattern, low=-1.0, high=1.0):
    """The pattern with each input in turn set to low, then each to high."""
    n = pattern.size
    batch = np.repeat(pattern.ravel()[None], 2 * n, axis=0)
    batch[np.arange(n), np.arange(n)] = low
    batch[n + np.arange(n), np.arange(n)] = high
    return batch.reshape((2 * n,) + pattern.shape)


def _flat_there(model, field, upto):
    """Per input, whether moving it to low or high leaves the neuron's value within
    1e-5 of its size -- computed by running the model, not the module under test."""
    with no_grad():
        out = model[: upto + 1](_moved_one_at_a_time(field.pattern)).data
    moved = out[:, field.neuron[0]].astype(np.float64)
    same = np.abs(moved - field.value) <= 1e-5 * max(1.0, abs(field.value))
    n = field.pattern.size
    return (same[:n] & same[n:]).reshape(field.pattern.shape)


def test_a_trained_sigmoid_layer_is_saturated_not_indifferent():
    from glassnet.demos.digits import train_digits

    model = train_digits(epochs=30, seed=0, verbose=0)[0]  # the demo's 64-32-10 net
    W, b = model[0].weight.data, model[0].bias.data
    fields = gn.receptive_fields(model, 1)
    assert len(fields) == 32
    for j, f in enumerate(fields):
        assert f.method == "exact"
        # checkered exactly where the weighted sum ignores the pixel: a zero weight
        assert np.array_equal(f.dont_care, W[:, j] == 0)
        assert not f.dont_care.all()
        assert f.drive == pytest.approx(float(f.pattern @ W[:, j] + b[j]), rel=1e-5)
        assert f.value == pytest.approx(1 / (1 + np.exp(-f.drive)), abs=1e-6)
        # saturated exactly when no pixel the sum uses moves the value
        flat = _flat_there(model, f, 1)
        assert f.saturated == bool(np.all(flat | f.dont_care))
    # the case the old check misread: sigmoid at 1.00, every pixel "not making a
    # difference" -- now reported as saturated, with the pixels still shown
    assert any(f.saturated for f in fields)


@pytest.mark.parametrize(
    "squash, weights, bias, saturated",
    [
        (
            nn.Sigmoid,
            [30.0, -30.0, 0.0, 30.0],
            0.0,
            True,
        ),  # sigmoid(90) is 1.0 in float32
        (nn.Tanh, [30.0, -30.0, 0.0, 30.0], 0.0, True),
        (nn.Tanh, [0.5, -0.5, 0.0, 0.5], 0.0, False),
        (nn.ReLU, [1.0, -1.0, 0.0, 1.0], -5.0, True),  # best sum -2: dead, flat at 0
        (nn.ReLU, [1.0, -1.0, 0.0, 1.0], 0.0, False),
    ],
)
def test_exact_fields_say_when_the_squash_is_flat(squash, weights, bias, saturated):
    model = nn.Sequential(_dense(np.array(weights)[:, None], [bias]), squash())
    f = gn.receptive_field(model, 1, 0)
    assert f.method == "exact"
    assert f.pattern.tolist() == [1.0, -1.0, 0.0, 1.0]
    assert f.dont_care.tolist() == [False, False, True, False]
    assert f.drive == pytest.approx(3 * abs(weights[0]) + bias)
    assert f.saturated is saturated
    assert f.saturated == bool(np.all(_flat_there(model, f, 1) | f.dont_care))


def test_gradient_ascent_fields_say_when_the_squash_is_flat():
    # the best sum is 80·tanh(1) + 40 = 101; moving one input anywhere leaves >= 40
    model = nn.Sequential(
        _dense(np.eye(2)), nn.Tanh(), _dense([[40.0], [40.0]], [40.0]), nn.Sigmoid()
    )
    f = gn.receptive_field(model, 3, 0)
    assert f.method == "gradient ascent"
    assert f.pattern == pytest.approx([1.0, 1.0], abs=1e-3)
    assert f.drive == pytest.approx(80 * np.tanh(1.0) + 40, rel=1e-4)
    assert f.dont_care.tolist() == [False, False]  # the sum before the sigmoid moves
    assert f.saturated


def test_receptive_field_figure_says_how_many_it_shows_and_which_are_saturated():
    pytest.importorskip("matplotlib")
    from glassnet import plot

    model = nn.Sequential(nn.Dense(4, 20), nn.Sigmoid(), seed=0)
    model[0].bias.data[:5] = 100.0  # five saturated neurons among the first 16
    fig = plot.receptive_fields(model, image_shape=(2, 2), max_neurons=16)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("showing 16 of 20" in t and "5 of 20 saturated" in t for t in texts)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 16
    assert [t.endswith(" sat.") for t in titles] == [True] * 5 + [False] * 11
    assert "sat.: saturated" in fig._suptitle.get_text()
    fig = plot.receptive_fields(model, image_shape=(2, 2), max_neurons=20)
    assert not any(
        "showing" in t for ax in fig.axes for t in (x.get_text() for x in ax.texts)
    )


@pytest.mark.parametrize("after", [[], [nn.Identity]])
def test_a_sum_without_a_squash_is_never_saturated(after):
    # a huge bias makes every single input's effect < 1e-5 of the value, yet the
    # value is the sum itself: it moves with every input, nothing is flat
    model = nn.Sequential(_dense([[1.0], [-1.0]], [1e6]), *[a() for a in after])
    f = gn.receptive_field(model, len(after), 0)
    assert f.method == "exact" and f.drive == f.value == 1e6 + 2
    assert f.dont_care.tolist() == [False, False]
    assert not f.saturated
