"""The glassnet subcommands, their --help, and their errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet import cli

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits.toml"
X_AND_O = ROOT / "examples" / "x_and_o.toml"


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "digits.glassnet"
    assert cli.main(["train", str(DIGITS), "--output", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize(
    "command", ["demo", "train", "evaluate", "predict", "inspect", "bench"]
)
def test_help_everywhere(capsys, command):
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"])
    assert done.value.code == 0
    assert f"usage: glassnet {command}" in capsys.readouterr().out


def test_train_then_evaluate_reproduces_the_demo(capsys, digits_model):
    from glassnet.demos.digits import train_digits

    model, _, (_, X_test, _, y_test), scaler = train_digits(verbose=0)
    demo = gn.evaluate(model, scaler.transform(X_test), y_test)
    code, out, err = run(capsys, "evaluate", digits_model, "--json")
    assert code == 0, err
    scores = json.loads(out)
    assert scores["accuracy"] == demo["accuracy"] and scores["accuracy"] > 0.97
    assert scores["samples"] == 450
    trained = gn.load(digits_model)
    for p, q in zip(trained.parameters(), model.parameters()):
        assert np.array_equal(p.data, q.data)  # the very same network, bit for bit
    code, out, _ = run(capsys, "evaluate", digits_model)
    assert out.startswith(
        f"loss {demo['loss']:.4f}, accuracy {demo['accuracy']:.2%} on 450"
    )


def test_train_prints_the_test_score(capsys, tmp_path):
    code, out, err = run(capsys, "train", DIGITS, "-o", tmp_path / "m", "--epochs", "2")
    assert code == 0, err
    assert "epoch 2/2" in out and "test: loss" in out and "on 450 samples" in out


def test_train_resume_continues_to_the_same_model(capsys, tmp_path, digits_model):
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "m"
    assert (
        run(
            capsys,
            "train",
            DIGITS,
            "-o",
            out,
            "--checkpoint",
            ckpt,
            "--epochs",
            "7",
            "-q",
        )[0]
        == 0
    )
    code, printed, err = run(
        capsys, "train", DIGITS, "-o", out, "--checkpoint", ckpt, "--resume"
    )
    assert code == 0, err
    assert (
        "resuming from" in printed
        and "epoch 8/30" in printed
        and "epoch 7/30" not in printed
    )
    for p, q in zip(gn.load(out).parameters(), gn.load(digits_model).parameters()):
        assert np.array_equal(p.data, q.data)


def test_evaluate_on_given_data(capsys, tmp_path, digits_model):
    data = gn.datasets.digits(flatten=True)
    table = np.column_stack([data.X[:100], data.y[:100]])
    np.savetxt(tmp_path / "d.csv", table, delimiter=",", fmt="%g")
    code, out, err = run(capsys, "evaluate", digits_model, "--data", tmp_path / "d.csv")
    assert code == 0, err
    assert "on 100 samples" in out and "accuracy" in out
    np.savez(tmp_path / "d.npz", X=data.X[:50], y=data.y[:50])
    assert (
        "on 50 samples"
        in run(capsys, "evaluate", digits_model, "--data", tmp_path / "d.npz")[1]
    )
    assert (
        "on 1797 samples"
        in run(capsys, "evaluate", digits_model, "--data", "digits")[1]
    )
    code, _, err = run(capsys, "evaluate", digits_model, "--split", "train")
    assert code == 0


def test_predict(capsys, tmp_path, digits_model):
    data = (
        gn.datasets.digits()
    )  # 8x8 images: reshaped to the 64 inputs it was trained on
    np.save(tmp_path / "x.npy", data.X[:5])
    code, out, err = run(capsys, "predict", digits_model, tmp_path / "x.npy")
    assert code == 0, err
    assert out.split() == [str(d) for d in data.y[:5]]
    code, out, _ = run(capsys, "predict", digits_model, tmp_path / "x.npy", "--scores")
    assert len(out.splitlines()[0].split()) == 11
    run(capsys, "predict", digits_model, tmp_path / "x.npy", "-o", tmp_path / "p.npy")
    outputs = np.load(tmp_path / "p.npy", allow_pickle=False)
    assert outputs.shape == (5, 10) and (outputs.argmax(1) == data.y[:5]).all()
    run(capsys, "predict", digits_model, tmp_path / "x.npy", "-o", tmp_path / "p.csv")
    assert np.allclose(
        np.loadtxt(tmp_path / "p.csv", delimiter=","), outputs, rtol=1e-6
    )
    np.savetxt(tmp_path / "x.csv", data.X[:3].reshape(3, 64), delimiter=",")
    assert len(run(capsys, "predict", digits_model, tmp_path / "x.csv")[1].split()) == 3


def test_inspect(capsys, digits_model):
    code, out, err = run(capsys, "inspect", digits_model)
    assert code == 0, err
    assert "glassnet model file (format 1" in out and "Dense" in out
    assert "2,410" in out and "test scores when saved: loss" in out
    assert "classes: 0, 1, 2" in out


def test_image_folder_config_trains_and_predicts_an_image(capsys, tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for name, value in (("dark", 40), ("light", 215)):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(6):
            pixels = np.clip(value + rng.normal(0, 20, (12, 16)), 0, 255).astype(
                np.uint8
            )
            PIL.fromarray(pixels).save(tmp_path / "photos" / name / f"{i}.png")
    config = tmp_path / "photos.toml"
    config.write_text(
        """
        [data]
        train = { path = "photos", size = [6, 8] }
        [model]
        seed = 0
        layers = [{ type = "Flatten" },
                  { type = "Dense", in_features = 48, out_features = 2 }]
        [train]
        epochs = 40
        batch_size = 4
        seed = 0
        [optimizer]
        type = "sgd"
        lr = 0.5
        [output]
        model = "photos.glassnet"
    """.replace("\n        ", "\n")
    )
    model = tmp_path / "photos.glassnet"
    assert run(capsys, "train", config, "-o", model, "-q")[0] == 0
    code, out, err = run(
        capsys, "predict", model, tmp_path / "photos" / "light" / "0.png"
    )
    assert (code, out.strip()) == (0, "light"), err
    # a path inside a model file is opened only when the user names it
    assert run(capsys, "evaluate", model, "--data", tmp_path / "photos")[1].startswith(
        "loss"
    )


@pytest.mark.skipif("Conv2D" not in gn.io.registered_layers(), reason="no Conv2D yet")
def test_x_and_o_config_matches_the_demo(capsys, tmp_path):
    from glassnet.demos.x_and_o import train_x_and_o

    demo = train_x_and_o()
    expected = gn.evaluate(demo.model, demo.test.X, demo.test.y)
    out = tmp_path / "xo.glassnet"
    assert run(capsys, "train", X_AND_O, "-o", out, "-q")[0] == 0
    code, printed, err = run(capsys, "evaluate", out, "--json")
    assert code == 0, err
    assert json.loads(printed)["accuracy"] == expected["accuracy"] >= 0.95


def test_bench_runs_the_harness_of_the_source_checkout(capsys, monkeypatch, tmp_path):
    checkout = Path(__file__).resolve().parents[1]
    assert cli._bench_harness() == checkout / "benchmarks" / "bench.py"
    # Installed elsewhere (no checkout beside the package): the current folder's
    # benchmarks/ is used, and everything after `bench --` goes to its main().
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site" / "glassnet" / "cli.py"))
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "bench.py").write_text(
        "def main(argv):\n    print('harness got', argv)\n    return 3\n"
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "bench", "--", "--quick", "--no-torch")
    assert code == 3 and "harness got ['--quick', '--no-torch']" in out


def test_bench_without_a_checkout_says_how_to_get_one(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site" / "glassnet" / "cli.py"))
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "bench")
    assert code == 1 and "no benchmarks found" in err and "source checkout" in err
    assert "clone the glassnet repository" in err and "make bench" in err


# --- mistakes: one line, the right status, no traceback -------------------------------
def _one_line_error(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _config(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(DIGITS.read_text().replace("[train]\n", text, 1))
    return path


@pytest.mark.parametrize(
    "argv, status, message",
    [
        (["train", "missing.toml"], 2, "no such file: missing.toml"),
        (["train"], 2, "required: CONFIG.toml"),
        (["evaluate", "missing.glassnet"], 2, "no such file"),
        (["predict", "x"], 2, "required: INPUT"),
        (["nonsense"], 2, "invalid choice"),
    ],
)
def test_usage_errors(capsys, argv, status, message):
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == status
    assert message in _one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[train]\nepoch = 3\n",
            "unknown key 'epoch' in [train]; did you mean 'epochs'?",
        ),
        ("[train]\nverbose = -1\n", "verbose must be a whole number >= 0"),
        ("[trian]\n", "unknown key 'trian' in the top level; did you mean 'train'?"),
        ("[train]\n[model]\n", "not valid TOML"),
    ],
)
def test_config_mistakes_exit_2(capsys, tmp_path, text, message):
    code, _, err = run(capsys, "train", _config(tmp_path, text))
    assert code == 2 and message in _one_line_error(err)


def test_bad_layers_in_a_config(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(DIGITS.read_text().replace('type = "Sigmoid"', 'type = "Sigmoidd"'))
    code, _, err = run(capsys, "train", cfg)
    assert code == 2 and "unknown layer type 'Sigmoidd'" in _one_line_error(err)
    cfg.write_text(DIGITS.read_text().replace("in_features = 32", "in_features = 33"))
    code, _, err = run(capsys, "train", cfg)
    assert code == 1 and "Dense(in_features=33)" in _one_line_error(err)


def test_failures_exit_1(capsys, tmp_path, digits_model):
    bad = tmp_path / "bad.glassnet"
    bad.write_bytes(digits_model.read_bytes()[:-10])
    code, _, err = run(capsys, "evaluate", bad)
    assert code == 1 and "truncated" in _one_line_error(err)
    np.save(tmp_path / "x.npy", np.zeros((2, 5)))
    code, _, err = run(capsys, "predict", digits_model, tmp_path / "x.npy")
    assert code == 1 and "trained on (64,)" in _one_line_error(err)


def test_debug_shows_the_traceback(tmp_path):
    missing = str(tmp_path / "missing.glassnet")
    for argv in (["evaluate", missing, "--debug"], ["--debug", "evaluate", missing]):
        with pytest.raises(Exception, match="no such file"):
            cli.main(argv)


def test_the_installed_command_prints_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "glassnet", "train", "missing.toml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "glassnet: error: no such file: missing.toml"


def test_python_3_10_without_tomli_is_told_what_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", None)
    code, _, err = run(capsys, "train", DIGITS)
    assert code == 2 and "pip install tomli" in _one_line_error(err)


def test_a_model_files_training_record_is_checked_before_use(capsys, tmp_path):
    model = gn.nn.Sequential(gn.nn.Dense(64, 10))
    record = {"data": {"train": {"dataset": "digits", "flatten": True, "evil": 1}}}
    gn.io.save(model, tmp_path / "m", metadata={"trained_with": record})
    code, _, err = run(capsys, "evaluate", tmp_path / "m")
    assert code == 2 and "unknown key 'evil'" in _one_line_error(err)


def test_unexpected_errors_are_one_line_too(capsys, monkeypatch, digits_model):
    def broken(args):
        raise TypeError("something nobody checked")

    monkeypatch.setattr(cli, "_inspect", broken)  # the parser picks it up when built
    code, _, err = run(capsys, "inspect", digits_model)
    line = _one_line_error(err)
    assert code == 1 and "TypeError: something nobody checked" in line
    assert "--debug" in line


def test_inspect_draws_figures(tmp_path, capsys):
    import numpy as np

    import glassnet as gn
    from glassnet import cli
    from glassnet.nn import Conv2D, Dense, Flatten, ReLU, Sequential, Sigmoid

    pytest.importorskip("matplotlib")  # the plot extra is part of `make test`
    small = Sequential(Dense(4, 3), Sigmoid(), Dense(3, 2), seed=0)
    gn.save(small, tmp_path / "small.glassnet")
    assert (
        cli.main(
            [
                "inspect",
                str(tmp_path / "small.glassnet"),
                "--figures",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "first-layer-weights.png",
        "network.png",
    ]
    cnn = Sequential(Conv2D(1, 2, 3), ReLU(), Flatten(), Dense(2 * 6 * 6, 2), seed=0)
    gn.save(cnn, tmp_path / "cnn.glassnet")
    assert (
        cli.main(
            [
                "inspect",
                str(tmp_path / "cnn.glassnet"),
                "--figures",
                str(tmp_path / "b"),
            ]
        )
        == 0
    )
    written = list((tmp_path / "b").iterdir())
    assert [p.name for p in written] == ["filters-0.png"]
    assert all(p.stat().st_size > 1000 for p in written)
    assert np.isfinite(small(np.zeros((1, 4))).data).all()
    capsys.readouterr()
