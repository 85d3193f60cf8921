"""The X-and-O story as a trained CNN, the digits CNN example, and their scripts."""

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from glassnet import demos
from glassnet.demos import x_and_o
from glassnet.train import predict_classes

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", EXAMPLES / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained():
    return x_and_o.train_x_and_o(seed=0)


def test_cnn_is_right_on_99_percent_of_1000_new_variants(trained):
    assert len(trained.test.X) == 1000
    correct = predict_classes(trained.model, trained.test.X) == trained.test.y
    assert correct.mean() >= 0.99
    # Also on the test images that differ from every training image.
    unseen = x_and_o.unseen_mask(trained.train.X, trained.test.X)
    assert unseen.sum() >= 300
    assert correct[unseen].mean() >= 0.99


def test_model_is_the_story_architecture(trained):
    names = [type(layer).__name__ for layer in trained.model]
    assert names == ["Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"]
    maps = x_and_o.layer_outputs(trained.model, trained.test.X[0, 0])
    assert maps["maps"].shape == (4, 7, 7) and maps["pooled"].shape == (4, 4, 4)


def test_unseen_mask():
    a = np.zeros((3, 1, 2, 2))
    b = np.stack([a[0], a[0] + 1])
    assert x_and_o.unseen_mask(a, b).tolist() == [False, True]


def test_demo_prints_accuracy_and_writes_the_figure(tmp_path):
    pytest.importorskip("matplotlib")
    lines = []
    path = tmp_path / "xo.png"
    assert x_and_o.run(argparse.Namespace(out=str(path)), out=lines.append) == 0
    text = "\n".join(lines)
    assert "accuracy on 1,000 new generated variants" in text
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(path) in text and not list(tmp_path.glob("*.tmp*"))


def test_demo_without_matplotlib_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    lines = []
    # args from another command may lack --out: the default name is used.
    assert x_and_o.run(argparse.Namespace(), out=lines.append) == 0
    assert "pip install -e '.[plot]'" in lines[-1]
    assert not (tmp_path / x_and_o.DEFAULT_OUT).exists()


def test_demo_is_registered():
    assert demos.load("x-and-o") is x_and_o


def test_digits_cnn_example_reaches_98_percent():
    result = load_example("digits_cnn").train_digits_cnn(seed=0)
    assert result["n_test"] == 450
    assert result["accuracy"] >= 0.98


def test_x_and_o_example_by_hand():
    hand = load_example("x_and_o").by_hand()
    np.testing.assert_allclose(hand["conv_maps"], 9 * hand["maps"], atol=1e-5)
    assert hand["pooled"].shape == (3, 4, 4)
    # the seed's first pooled values: 1.0, then 0.33, then 0.55 (7/9, 3/9, 5/9 cut)
    np.testing.assert_allclose(hand["pooled"][0, 0, :3], [1.0, 3 / 9, 5 / 9], rtol=1e-6)
