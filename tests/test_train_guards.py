"""No silent wrong answers in training and prediction (issue 14, items 6, 8-11, 15).

Non-finite inputs are refused by predict, a diverging run stops with the last good
weights, no checkpoint or model holds infinity, one-hot targets are classification,
an untrained model warns, and outputs are checked before training and written
without leaving temporary files behind.
"""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassnet as gn
from glassnet import cli, nn, optim
from glassnet.data.transforms import Standardizer
from glassnet.datasets import digits
from glassnet.errors import UntrainedModelWarning
from glassnet.io import atomic_write, container
from glassnet.train import (
    Checkpoint,
    StopOnDivergence,
    StopOnNaN,
    TrainState,
    evaluate,
    fit,
    predict,
    predict_classes,
)

ROOT = Path(__file__).resolve().parents[1]
DIGITS_TOML = ROOT / "examples" / "digits.toml"


@pytest.fixture(scope="module")
def digit_data():
    data = digits(flatten=True)
    return Standardizer().fit(data.X).transform(data.X), data.y


def mlp(seed=0):
    return nn.Sequential(nn.Dense(64, 32), nn.Sigmoid(), nn.Dense(32, 10), seed=seed)


def trained(model):
    return model.mark_trained()


# --- 6: predict refuses rows it cannot answer ----------------------------------------


@given(
    rows=st.sets(st.integers(0, 11), min_size=1, max_size=12),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
    column=st.integers(0, 63),
)
def test_predict_names_every_nonfinite_input_row(rows, value, column):
    X = np.random.default_rng(0).normal(size=(12, 64)).astype(np.float32)
    X[sorted(rows), column] = value
    model = trained(mlp())
    names = ", ".join(str(r) for r in sorted(rows)[:10])
    for ask in (predict, predict_classes):
        with pytest.raises(
            gn.DataError,
            match=rf"{len(rows)} of 12 rows of X .*"
            rf"\(rows {names}",
        ):
            ask(model, X)


def test_predict_classes_refuses_nonfinite_outputs():
    layer = nn.Dense(1, 2, bias=False)
    layer.weight.data = np.array([[1e38, -1e38]], np.float32)
    model = trained(nn.Sequential(layer))
    X = np.array([[0.5], [10.0], [1.0]], np.float32)  # 10·1e38 overflows float32
    with np.errstate(over="ignore"):
        assert np.isinf(predict(model, X)[1]).all()  # the raw numbers, honestly
        with pytest.raises(
            gn.DataError,
            match=r"1 of 3 rows of the model's outputs "
            r"hold NaN or infinity \(rows 1\)",
        ):
            predict_classes(model, X)


def test_cli_predict_refuses_a_nan_row(capsys, tmp_path):
    model = trained(mlp())
    gn.io.save(model, tmp_path / "m.glassnet")
    X = np.zeros((4, 64), np.float32)
    X[2, 5] = np.nan
    np.save(tmp_path / "x.npy", X)
    code = cli.main(["predict", str(tmp_path / "m.glassnet"), str(tmp_path / "x.npy")])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "1 of 4 rows of X hold NaN or infinity (rows 2)" in err


# --- 8: divergence is reported, with the last good weights ---------------------------


@pytest.mark.parametrize("lr", [100.0, 1e6])
def test_sgd_with_a_huge_step_stops_as_diverged(digit_data, lr):
    X, y = digit_data
    model, fresh = mlp(), mlp()
    with (
        np.errstate(all="ignore"),
        pytest.raises(
            gn.DivergedError,
            match=re.escape(f"diverged; try a smaller learning rate (now {lr:g})"),
        ) as e,
    ):
        fit(model, X, y, optimizer="sgd", lr=lr, epochs=5, seed=0, verbose=0)
    assert "above 10 x its start" in str(e.value)
    assert "restored" in str(e.value) and len(e.value.history) == 0
    for p, q in zip(model.parameters(), fresh.parameters()):  # epoch 1's start
        np.testing.assert_array_equal(p.data, q.data)


def test_divergence_check_can_be_tuned_or_switched_off(digit_data):
    X, y = digit_data
    with np.errstate(all="ignore"):
        for guard in (StopOnNaN(), StopOnDivergence(factor=1e30)):
            h = fit(
                mlp(),
                X[:512],
                y[:512],
                optimizer="sgd",
                lr=100.0,
                epochs=2,
                seed=0,
                verbose=0,
                callbacks=[guard],
            )
            assert len(h) == 2 and max(h.loss) > 10 * np.log(10)  # silently bad
    with pytest.raises(gn.ConfigError, match="factor must be above 1"):
        StopOnDivergence(factor=0.5)


class _Opt:
    lr = 0.1


def _feed(guard, losses, start=1.0):
    """Losses batch by batch into ``guard``; the batch (0-based) it stopped at."""
    model = nn.Sequential(nn.Dense(1, 1), seed=0)
    state = TrainState(model, _Opt(), None, 1, len(losses), start_loss=start)
    guard.on_train_begin(state)
    guard.on_epoch_begin(state)
    for state.batch, loss in enumerate(losses):
        try:
            guard.on_batch_end(state, loss)
        except gn.DivergedError:
            return state.batch
    return None


@given(
    patience=st.integers(1, 12),
    pattern=st.lists(st.booleans(), min_size=1, max_size=60),
    factor=st.floats(1.5, 1e3),
)
def test_the_rule_is_more_than_half_of_the_window_above(patience, pattern, factor):
    # Losses just below or just above factor × start: the rule decides on counts alone.
    losses = [factor * (1.01 if high else 0.99) for high in pattern]
    stopped = _feed(StopOnDivergence(factor, patience), losses)
    expected = next(
        (
            i
            for i in range(len(pattern))
            if 2 * sum(pattern[max(0, i - patience + 1) : i + 1]) > patience
        ),
        None,
    )
    assert stopped == expected


@given(start=st.sampled_from([0.0, -1.0, np.inf]))
def test_the_rule_is_off_without_a_positive_start(start):
    assert _feed(StopOnDivergence(), [1e30] * 30, start=start) is None


@given(
    start=st.sampled_from([None, 0.0, 1.0]),
    at=st.integers(0, 20),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
)
def test_a_nonfinite_loss_always_stops_at_once(start, at, bad):
    losses = [0.5] * at + [bad] + [0.5] * 3
    assert _feed(StopOnDivergence(), losses, start=start) == at


@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_noisy_small_batch_training_does_not_trip_it(digit_data, batch_size):
    X, y = digit_data
    h = fit(
        mlp(),
        X[:400],
        y[:400],
        optimizer="adam",
        lr=0.05,
        epochs=3,
        batch_size=batch_size,
        seed=1,
        verbose=0,
    )
    assert len(h) == 3


def test_a_summed_loss_on_big_batches_is_judged_at_its_own_scale():
    # SSE grows with the batch: 4096 samples per batch against a start measured on
    # 256 would look 16 times too big on the very first step.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8200, 3)).astype(np.float32)
    y = X @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    model = nn.Sequential(nn.Dense(3, 1), seed=0)
    h = fit(
        model,
        X,
        y,
        loss="sse",
        optimizer=optim.SGD(model, lr=1e-6),
        epochs=6,
        batch_size=4096,
        shuffle=False,
        verbose=0,
    )
    assert len(h) == 6 and h.loss[-1] < h.loss[0]


@given(
    n=st.integers(1, 700),
    batch_size=st.integers(1, 300),
    loss=st.sampled_from(["cross_entropy", "sse", "mse", "sum_ce"]),
)
def test_the_starting_loss_is_the_mean_of_whole_training_size_batches(
    n, batch_size, loss
):
    # The reference StopOnDivergence judges against: batches of batch_size rows
    # spread over X, max(256, batch_size) rows in all (or all of X), whole
    # batches only, each batch's loss at its own reduction, their mean. fit
    # computes it with one forward pass (and one loss call for a mean loss);
    # here it is computed batch by batch, the way the rule is stated.
    from glassnet.losses import CrossEntropy
    from glassnet.train.loop import _preflight

    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    model = nn.Sequential(
        nn.Dense(4, 8), nn.BatchNorm1D(8), nn.Dropout(0.5), nn.Dense(8, 3), seed=1
    )
    if loss in ("cross_entropy", "sum_ce"):
        y = rng.integers(0, 3, n)
        loss_fn = CrossEntropy(reduction="sum" if loss == "sum_ce" else "mean")
    else:
        y = rng.normal(size=(n, 3)).astype(np.float32)
        loss_fn = gn.losses.get(loss)
    before = model.state_dict()
    got = _preflight(model, loss_fn, X, y, None, batch_size)
    size = min(n, max(256, batch_size))
    if size > batch_size:
        size -= size % batch_size
    rows = np.linspace(0, n - 1, size).astype(np.int64)
    model.eval()
    parts = [
        float(
            loss_fn(
                model(X[rows[i : i + batch_size]]), y[rows[i : i + batch_size]]
            ).data
        )
        for i in range(0, size, batch_size)
    ]
    assert got == pytest.approx(np.mean(parts), rel=1e-5)
    after = model.state_dict()  # no BatchNorm statistics moved
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_the_starting_loss_leaves_the_model_in_training_mode():
    from glassnet.losses import CrossEntropy
    from glassnet.train.loop import _preflight

    model = nn.Sequential(nn.Dense(4, 3), nn.Dropout(0.5), seed=0)
    X = np.ones((40, 4), np.float32)
    _preflight(model, CrossEntropy(), X, np.zeros(40, np.int64), None, 8)
    assert model.training and model.layers[1].training


def test_cli_train_does_not_save_a_diverged_model(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        DIGITS_TOML.read_text()
        .replace('type = "adam"\nlr = 0.01', 'type = "sgd"\nlr = 100.0')
        .replace("epochs = 30", "epochs = 3")
    )
    out = tmp_path / "m.glassnet"
    with np.errstate(all="ignore"):
        code = cli.main(["train", str(cfg), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert "diverged; try a smaller learning rate (now 100)" in err


# --- 9: no checkpoint, and no returned model, holds infinity -------------------------


def _overflowing_run():
    """A linear model whose second step has a finite loss but overflows a weight."""
    X = np.array([[1e-5], [1e15]], np.float32)  # lr 1e9: a gentle step, then 1e39
    y = np.zeros((2, 1), np.float32)
    return nn.Sequential(nn.Dense(1, 1, bias=False), seed=0), X, y


def test_a_step_that_overflows_the_weights_is_not_checkpointed(tmp_path):
    from glassnet.io.checkpoint import load_checkpoint

    model, X, y = _overflowing_run()
    path = tmp_path / "run.ckpt"
    with (
        np.errstate(all="ignore"),
        pytest.raises(gn.DivergedError, match="was not written") as e,
    ):
        fit(
            model,
            X,
            y,
            loss="mse",
            optimizer=optim.SGD(model, lr=1e9),
            epochs=1,
            batch_size=1,
            shuffle=False,
            verbose=0,
            checkpoint=Checkpoint(path, every_steps=1),
        )
    assert "smaller learning rate (now 1e+09)" in str(e.value)
    saved = load_checkpoint(path)
    assert saved.training["batch"] == 1  # the first step, the last good one
    assert all(np.isfinite(p.data).all() for p in saved.model.parameters())
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_fit_never_returns_or_keeps_infinite_weights(tmp_path):
    model, X, y = _overflowing_run()
    start = model.state_dict()
    with (
        np.errstate(all="ignore"),
        pytest.raises(gn.DivergedError, match="after training"),
    ):
        fit(
            model,
            X,
            y,
            loss="mse",
            optimizer=optim.SGD(model, lr=1e9),
            epochs=1,
            batch_size=2,
            shuffle=False,
            verbose=0,
            checkpoint=tmp_path / "run.ckpt",
            checkpoint_every=2,
        )
    np.testing.assert_array_equal(model.state_dict()["0.weight"], start["0.weight"])
    # No final save either: it would label the restored weights "epoch 1 done".
    assert not (tmp_path / "run.ckpt").exists()


class _Raise(gn.train.Callback):
    def __init__(self, error, at_batch):
        self.error, self.at_batch = error, at_batch

    def on_batch_end(self, state, loss):
        if state.batch == self.at_batch:
            raise self.error


def test_ctrl_c_after_an_overflowing_step_leaves_finite_weights():
    model, X, y = _overflowing_run()
    with np.errstate(all="ignore"):
        h = fit(
            model,
            X,
            y,
            loss="mse",
            optimizer=optim.SGD(model, lr=1e9),
            epochs=1,
            batch_size=1,
            shuffle=False,
            verbose=0,
            callbacks=[_Raise(KeyboardInterrupt(), at_batch=1)],
        )
    assert h.interrupted
    assert all(np.isfinite(p.data).all() for p in model.parameters())


# --- 10: one-hot and probability targets are classification --------------------------


def test_one_hot_targets_default_to_cross_entropy_with_accuracy(digit_data):
    X, y = digit_data
    X, y = X[:300], y[:300]
    onehot = np.eye(10, dtype=np.float32)[y]
    a, b = mlp(), mlp()
    ha = fit(a, X, y, epochs=2, seed=0, verbose=0)
    hb = fit(b, X, onehot, epochs=2, seed=0, verbose=0)
    assert set(hb.history) == {"loss", "accuracy"}
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-5)
    np.testing.assert_allclose(hb.accuracy, ha.accuracy)
    scores = evaluate(b, X, onehot)
    assert scores["accuracy"] == evaluate(b, X, y)["accuracy"]
    soft = 0.9 * onehot + 0.01  # label smoothing: probability rows
    assert "accuracy" in fit(mlp(), X, soft, epochs=1, seed=0, verbose=0).history


def test_other_float_targets_stay_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    for y in (rng.normal(size=(64, 2)), rng.uniform(0, 1, (64, 2))):
        h = fit(
            trained(nn.Sequential(nn.Dense(3, 2), seed=0)),
            X,
            y.astype(np.float32),
            epochs=1,
            verbose=0,
        )
        assert set(h.history) == {"loss"}


def test_float_class_labels_say_their_dtype_chose_mse(digit_data):
    X, y = digit_data
    for call in (
        lambda: fit(mlp(), X, y.astype(np.float64), verbose=0),
        lambda: evaluate(trained(mlp()), X, y.astype(np.float32)),
    ):
        with pytest.raises(
            gn.ShapeError,
            match=r"mean squared error because y has "
            r"float dtype float(64|32).*"
            r"loss='cross_entropy'",
        ):
            call()
    onehot = np.eye(9, dtype=np.float32)[y % 9]  # rows for 9 classes, 10 outputs
    with pytest.raises(gn.ShapeError) as e:
        fit(mlp(), X, onehot, verbose=0)
    assert "mean squared error" not in str(e.value)  # cross-entropy was chosen


# --- 11: a model never trained warns once --------------------------------------------


def test_an_untrained_model_warns_once(digit_data):
    X, y = digit_data
    model = mlp()
    with pytest.warns(UntrainedModelWarning, match="never trained or loaded"):
        predict(model, X[:3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict(model, X[:3])
        evaluate(model, X[:3], y[:3])
    with pytest.warns(UntrainedModelWarning, match="evaluate: this Sequential"):
        evaluate(mlp(), X[:3], y[:3])


def test_trained_loaded_stepped_or_hand_set_models_do_not_warn(digit_data, tmp_path):
    from glassnet.demos.four_pixel import hand_set_network, to_input_neurons

    X, y = digit_data
    fitted = mlp()
    fit(fitted, X[:64], y[:64], epochs=1, verbose=0)
    gn.io.save(fitted, tmp_path / "m.glassnet")
    stepped = mlp()
    opt = optim.SGD(stepped, lr=0.1)
    gn.losses.CrossEntropy()(stepped(X[:8]), y[:8]).backward()
    opt.step()
    copied = mlp(1)
    copied.load_state_dict(fitted.state_dict())
    models = [
        fitted,
        gn.io.read(tmp_path / "m.glassnet").model,
        stepped,
        copied,
        mlp().mark_trained(),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for model in models:
            predict(model, X[:2])
        predict(hand_set_network(), to_input_neurons(np.zeros((1, 2, 2))))
        predict(nn.Sequential(nn.ReLU()), X[:2])  # nothing to train: nothing to say


# --- 15: outputs checked before training; no stray temporary files -------------------


def test_a_read_only_file_is_not_replaced(tmp_path):
    path = tmp_path / "keep.glassnet"
    path.write_bytes(b"precious")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=r"read-only \(mode 0444\)"):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.glassnet"]
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        atomic_write(tmp_path, b"new")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        with pytest.raises(PermissionError, match="not a regular file"):
            atomic_write(tmp_path / "pipe", b"new")


@pytest.mark.parametrize(
    "case", ["read-only model", "missing folder", "read-only checkpoint"]
)
def test_cli_train_checks_its_outputs_before_training(capsys, tmp_path, case):
    out, ckpt = tmp_path / "m.glassnet", tmp_path / "run.ckpt"
    argv = ["train", str(DIGITS_TOML), "-o", str(out)]
    if case == "read-only model":
        out.write_bytes(b"old")
        out.chmod(0o444)
    elif case == "missing folder":
        out = tmp_path / "nowhere" / "m.glassnet"
        argv[-1] = str(out)
    else:
        ckpt.write_bytes(b"old")
        ckpt.chmod(0o444)
        argv += ["--checkpoint", str(ckpt)]
    code = cli.main(argv)
    stdout, err = capsys.readouterr()
    assert code == 2 and "Nothing was trained" in err and "epoch" not in stdout
    if case == "read-only model":
        assert out.read_bytes() == b"old" and "read-only" in err
    if case == "missing folder":
        assert "does not exist" in err


_WRITER = textwrap.dedent("""
    import os, sys, time
    from glassnet.io import container
    def stall(fd):
        print("writing", flush=True)
        time.sleep(600)
    container.os.fsync = stall
    container.atomic_write(sys.argv[1], b"new" * 1000)
""")


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and flock are POSIX")
def test_a_write_killed_midway_leaves_a_tmp_the_next_write_removes(tmp_path):
    target = tmp_path / "model.glassnet"
    target.write_bytes(b"old")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout.readline() == b"writing\n"  # inside atomic_write, locked
        (tmp,) = tmp_path.glob(".model.glassnet.*.tmp")
        _age(tmp, 3600)
        atomic_write(target, b"meanwhile")  # a live write's file is left alone
        assert tmp.exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert target.read_bytes() == b"meanwhile" and tmp.exists()
    other = tmp_path / ".other.glassnet.0123456789ab.tmp"  # another file's: not ours
    other.write_bytes(b"x")
    _age(other, 3600)
    young = tmp_path / ".model.glassnet.0123456789ab.tmp"
    young.write_bytes(b"x")  # too young to be sure (the grace period)
    atomic_write(target, b"newest")
    assert target.read_bytes() == b"newest"
    assert not tmp.exists() and other.exists() and young.exists()
    _age(young, container.STALE_TMP_SECONDS + 1)
    atomic_write(target, b"last")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, target.name]


def test_a_captured_step_marks_the_model_trained(digit_data):
    from glassnet.train import capture_step

    X, y = digit_data
    model = mlp()
    step = capture_step(model, gn.losses.CrossEntropy(), optim.Adam(model, lr=0.01))
    step(X[:32], y[:32])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predict(model, X[:2])
