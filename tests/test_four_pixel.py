"""The four-pixel camera: the talk's walk-through value by value, its receptive fields,
and a trained network. Numbers from docs/seed-facts.md, section 1."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.datasets import FOUR_PIXEL_CLASSES, four_pixel, four_pixel_example
from glassnet.demos import four_pixel as fp
from glassnet.train import predict_classes

T2 = np.tanh(-2.0)  # a first-layer neuron that sees -1 and -1: "shown black"


def test_hand_set_network_uses_only_plus_minus_one_and_zero():
    model = fp.hand_set_network()
    for layer in model.layers[::2]:
        assert set(np.unique(layer.weight.data)) <= {-1.0, 0.0, 1.0}
        assert layer.bias is None
    assert [type(m).__name__ for m in model.layers] == [
        "Dense",
        "Tanh",
        "Dense",
        "Tanh",
        "Dense",
        "ReLU",
        "Dense",
    ]


def test_the_input_neurons_are_the_pixels_column_by_column():
    image, label = four_pixel_example()
    assert FOUR_PIXEL_CLASSES[label] == "horizontal"
    x = fp.to_input_neurons(image[None])[0]
    # upper left, lower left, upper right, lower right: dark, light, dark, light
    assert x.tolist() == [-1.0, 1.0, -1.0, 1.0]
    assert np.array_equal(fp.to_image(x), image)


def test_walk_through_value_by_value():
    t = fp.walk_through()
    assert t.input.tolist() == [-1.0, 1.0, -1.0, 1.0]
    # layer 1: a dark and a light pixel add to 0 (grey); the neurons that subtract
    # the lower pixel see -1 and -1: sum -2, squashed nearly to -1 (black)
    assert t[0].output.tolist() == [0.0, 0.0, -2.0, -2.0]
    assert t[1].output == pytest.approx([0.0, 0.0, T2, T2], abs=1e-6)
    # layer 2: zeros stay zero; a negative minus a negative lands at 0; the bottom
    # neuron adds two negatives with positive weights and is negative
    assert t[2].output == pytest.approx([0.0, 0.0, 0.0, 2 * T2], abs=1e-6)
    m = np.tanh(2 * T2)
    assert t[3].output == pytest.approx([0.0, 0.0, 0.0, m], abs=1e-6)
    assert m == pytest.approx(-0.9586, abs=1e-4)
    # layer 3 (ReLU): the path with a positive weight stays negative and is cut to 0;
    # the one with a negative weight turns positive and passes
    assert t[4].output == pytest.approx([0, 0, 0, 0, 0, 0, m, -m], abs=1e-6)
    assert t[5].output == pytest.approx([0, 0, 0, 0, 0, 0, 0, -m], abs=1e-6)
    # output: all zero but horizontal, which is positive
    assert t.output == pytest.approx([0.0, 0.0, 0.0, -m], abs=1e-6)
    assert FOUR_PIXEL_CLASSES[int(np.argmax(t.output))] == "horizontal"
    # truth 0, 0, 0, 1; error = the size of each miss, added up
    assert t.loss == pytest.approx(1 + m, abs=1e-6)
    text = str(t)
    assert (
        "neuron 3: weighted sum (−1.00) − 1.00 = −2.00; squashed (tanh), −0.96" in text
    )
    assert (
        "neuron 2: weighted sum (−0.96) − (−0.96) = 0.00; squashed (tanh), 0.00" in text
    )
    assert "neuron 7: weighted sum −(−0.96) = 0.96; rectified (ReLU), 0.96" in text


def test_first_layer_receptive_fields_are_the_talks_pairs_of_pixels():
    model = fp.hand_set_network()
    fields = gn.receptive_fields(model, 1)  # after the tanh, as the talk draws them
    assert all(f.method == "exact" for f in fields)
    images = [fp.to_image(f.pattern).tolist() for f in fields]
    cares = [fp.to_image(~f.dont_care).tolist() for f in fields]
    # top neuron: upper left and lower left, both weights positive: the left column light
    assert images[0] == [[1, 0], [1, 0]] and cares[0] == [[True, False], [True, False]]
    # the right column light
    assert images[1] == [[0, 1], [0, 1]] and cares[1] == [[False, True], [False, True]]
    # upper left light, lower left dark (the walk-through's reading in the first talk)
    assert images[2] == [[1, 0], [-1, 0]] and cares[2] == [[True, False], [True, False]]
    # bottom neuron: upper right light, lower right dark (the wiring in both talks)
    assert images[3] == [[0, 1], [0, -1]] and cares[3] == [[False, True], [False, True]]
    # each drives its neuron to tanh(2), as high as it can go
    assert [f.value for f in fields] == pytest.approx([np.tanh(2.0)] * 4, abs=1e-6)


def test_deeper_receptive_fields_are_the_four_patterns_and_their_opposites():
    model = fp.hand_set_network()
    layer2 = [fp.to_image(f.pattern) for f in gn.receptive_fields(model, 3)]
    # solid, vertical, diagonal, horizontal (each up to its negative, equally good)
    wanted = [
        [[1, 1], [1, 1]],
        [[1, -1], [1, -1]],
        [[1, -1], [-1, 1]],
        [[1, 1], [-1, -1]],
    ]
    for got, want in zip(layer2, wanted):
        assert np.allclose(got, want, atol=1e-3) or np.allclose(
            got, -np.array(want), atol=1e-3
        )
    relu = [f.pattern for f in gn.receptive_fields(model, 5)]
    for k in range(4):  # a positive and a negative weight from one neuron: opposites
        assert np.allclose(relu[2 * k], -relu[2 * k + 1], atol=1e-3)
        assert np.all(np.abs(relu[2 * k]) > 0.999)


def test_a_trained_network_learns_all_four_categories():
    model, history = fp.train_network(epochs=150)
    data = four_pixel()
    assert (
        predict_classes(model, fp.to_input_neurons(data.X)).tolist() == data.y.tolist()
    )
    assert history.loss[-1] < history.loss[0] / 10
