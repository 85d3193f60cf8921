"""The feed-forward examples (seed 003's digits, a logistic neuron, linear regression)."""

import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zero_versus_one_with_no_hidden_layer():
    story = load("digits_story")
    model, accuracy = story.zero_versus_one()
    assert accuracy >= 0.99
    # The '1' output leans on the middle columns (where a 1 has its ink) more than on
    # the outer columns (where a 0 has it): the seed's explanation, read off the weights.
    w = model[0].weight.data[:, 1].reshape(8, 8)
    assert w[:, 3:5].mean() > w[:, [1, 2, 5, 6]].mean()


def test_all_ten_digits_with_a_hidden_layer():
    _, accuracy = load("digits_story").all_ten()
    assert accuracy >= 0.97


def test_one_sigmoid_neuron_recovers_the_logistic_model():
    example = load("logistic_neuron")
    _, accuracy, w, b = example.fit_neuron()
    assert accuracy >= 0.85
    # The boundary direction matches the generating one (angle within ~5 degrees).
    cos = w @ example.TRUE_W / np.linalg.norm(w) / np.linalg.norm(example.TRUE_W)
    assert cos > 0.996


def test_linear_network_is_least_squares_and_stacking_stays_straight():
    example = load("linear_regression")
    learned, exact = example.fit_line()
    assert learned == pytest.approx(exact, abs=1e-3)
    straight = example.stacked()
    assert np.abs(example.second_differences(straight)).max() < 1e-9
    from glassnet.nn import Tanh

    curved = example.stacked(Tanh)
    assert np.abs(example.second_differences(curved)).max() > 1e-3


@pytest.mark.parametrize(
    "name", ["digits_story", "logistic_neuron", "linear_regression"]
)
def test_example_scripts_run(name, capsys):
    load(name).main()
    assert capsys.readouterr().out.strip()
