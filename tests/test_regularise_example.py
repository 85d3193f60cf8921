"""examples/regularise_digits.py, shortened: 5 epochs instead of 40, same seeds."""

import importlib.util
import pathlib

import pytest

EXAMPLE = (
    pathlib.Path(__file__).resolve().parents[1] / "examples" / "regularise_digits.py"
)


def load():
    spec = importlib.util.spec_from_file_location("regularise_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dropout_and_batch_norm_narrow_the_gap_and_batch_norm_learns_fastest(
    tmp_path,
):
    example = load()
    results = example.run(epochs=5)
    assert list(results) == ["plain", "dropout", "batch norm", "both"]
    gaps = {name: r["gap"] for name, r in results.items()}
    # the plain network has learned its training images furthest past the
    # validation images: each regulariser narrows the gap
    assert max(gaps, key=gaps.get) == "plain", gaps
    # dropout slows the fit to the training images; batch norm speeds learning
    assert results["dropout"]["train"][-1] < results["plain"]["train"][-1]
    assert results["batch norm"]["val"][-1] > results["plain"]["val"][-1] + 0.02
    assert all(r["test"] > 0.85 for r in results.values())
    pytest.importorskip("matplotlib")
    example.draw(results, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 10_000
