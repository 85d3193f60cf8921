"""examples/sonnets_rnns.py, shortened: every model in its list learns the sonnets."""

import importlib.util
import pathlib

import numpy as np

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_listed_model_learns_and_one_more_entry_joins_the_comparison(
    tmp_path, monkeypatch, capsys
):
    from glassnet.nn import RNN

    example = load("sonnets_rnns")
    assert [name for name, _ in example.MODELS] == ["GRU", "LSTM", "transformer"]
    extra = ("RNN", example.recurrent(RNN, hidden=16))  # what a new entry looks like
    monkeypatch.setattr(example, "MODELS", [*example.MODELS, extra])
    figure = tmp_path / "curves.png"
    argv = ["--steps", "40", "--every", "20", "--seq-len", "32"]
    results = example.main([*argv, "--figure", str(figure)])
    assert [r["name"] for r in results] == ["GRU", "LSTM", "transformer", "RNN"]
    uniform = np.log(57)  # the sonnets' 57 distinct characters
    for r in results:
        steps, held_out, _ = r["curve"].T
        assert steps.tolist() == [0, 20, 40]
        if r["name"] != "transformer":  # its random start is less even (4.52)
            assert abs(held_out[0] - uniform) < 0.1  # untrained: about uniform
        assert r["best"] == held_out.min() and r["tokens_per_s"] > 0
    # 40 steps of 16 windows: the gated layers are already well below a guess
    for r in results[:2]:
        assert r["best"] < uniform - 0.8, r["name"]
    curve = results[2]["curve"]  # the transformer learns too
    assert curve[:, 1].min() < curve[0, 1] - 1.0, curve
    assert figure.stat().st_size > 0
    out = capsys.readouterr().out
    assert "GRU: held-out loss best" in out and "tokens/s" in out
