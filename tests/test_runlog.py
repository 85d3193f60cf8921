"""The run store: schema, statuses, a reader beside the writer, a killed run, size."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
from glassnet.errors import ConfigError, DivergedError
from glassnet.train import Callback, RunLog
from glassnet.train.runlog import connect_readonly, read_meta, tensor_stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def _model():
    return gn.nn.Sequential(gn.nn.Dense(2, 4), gn.nn.Tanh(), gn.nn.Dense(4, 2), seed=0)


def _rows(path, sql):
    db = connect_readonly(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_schema_and_contents(tmp_path):
    X, y = _blobs()
    log = RunLog(
        tmp_path, name="a", stats_every=3, snapshots=[1, 2], every=2, budget=1e9
    )  # no 'auto' record skipped for time
    history = gn.fit(
        _model(),
        X,
        y,
        epochs=3,
        batch_size=16,
        verbose=0,
        validation_data=_blobs(40, 1),
        callbacks=[log],
    )
    path = tmp_path / "a.sqlite"
    assert log.path == str(path)
    meta = read_meta(path)
    assert meta["format"] == "glassnet.runlog/1" and meta["status"] == "finished"
    assert json.loads(meta["architecture"])["type"] == "Sequential"
    assert json.loads(meta["config"])["fit"]["batch_size"] == 16
    # 6 batches an epoch, 18 steps: every 2nd loss logged.
    assert [r[0] for r in _rows(path, "SELECT step FROM steps")] == list(
        range(2, 19, 2)
    )
    epochs = _rows(path, "SELECT epoch, metrics FROM epochs ORDER BY epoch")
    assert [e for e, _ in epochs] == [0, 1, 2]
    for e, metrics in epochs:
        logged = json.loads(metrics)
        assert logged["loss"] == pytest.approx(history["loss"][e])
        assert logged["val_accuracy"] == pytest.approx(history["val_accuracy"][e])
    # stats at steps 3, 6, ... 18: weight and grad per parameter, an activation
    # per layer; weights carry the update ratio.
    stats = _rows(
        path, "SELECT step, tensor, kind, hist, update_ratio FROM layer_stats"
    )
    assert sorted({r[0] for r in stats}) == list(range(3, 19, 3))
    kinds = {(t, k) for _, t, k, _, _ in stats}
    assert ("0.weight", "grad") in kinds and ("1.Tanh", "activation") in kinds
    for _, _, kind, hist, ratio in stats:
        assert len(json.loads(hist)) == 30
        assert (ratio is not None) == (kind == "weight")
    # the activation histogram counts every value of the batch (16 x 4 for Tanh)
    tanh = [json.loads(h) for _, t, k, h, _ in stats if t == "1.Tanh"]
    assert all(sum(h) == 64 for h in tanh)
    (matrix,) = _rows(path, "SELECT matrix FROM confusion WHERE epoch = 2")[0]
    assert np.sum(json.loads(matrix)) == 40
    snaps = _rows(path, "SELECT epoch, file FROM snapshots ORDER BY epoch")
    assert [e for e, _ in snaps] == [0, 1, 2]  # epochs 1 and 2, and the final one
    final = gn.load(tmp_path / "a.snapshots" / snaps[-1][1])
    assert json.loads(meta["architecture"]) == gn.io.registry.describe(final)


def test_update_ratio_is_the_relative_change_of_one_step(tmp_path):
    X, y = _blobs(16)
    model = _model()
    before = {}

    class Keep(Callback):  # the weights just before the last step
        def on_batch_end(self, state, loss):
            if state.batch == 0 and state.epoch == 0:
                before.update({n: p.data.copy() for n, p in model.named_parameters()})

    gn.fit(
        model,
        X,
        y,
        epochs=2,
        batch_size=16,
        verbose=0,
        optimizer="sgd",
        lr=0.5,
        callbacks=[Keep(), RunLog(tmp_path, name="r", stats_every=2)],
    )
    w = dict(model.named_parameters())["0.weight"].data
    expected = np.linalg.norm(w - before["0.weight"]) / np.linalg.norm(w)
    (ratio,) = _rows(
        tmp_path / "r.sqlite",
        "SELECT update_ratio FROM layer_stats "
        "WHERE tensor = '0.weight' AND kind = 'weight' AND step = 2",
    )[0]
    assert ratio == pytest.approx(expected, rel=1e-5)


class _Raise(Callback):
    def __init__(self, error):
        self.error = error

    def on_batch_end(self, state, loss):
        if state.epoch == 1:
            raise self.error


@pytest.mark.parametrize(
    "error, status",
    [
        (KeyboardInterrupt(), "stopped"),
        (RuntimeError("boom"), "crashed"),
        (DivergedError("fit: the loss became nan"), "diverged"),
    ],
)
def test_status_when_training_ends_early(tmp_path, error, status):
    X, y = _blobs()
    log = RunLog(tmp_path, name="s")
    try:
        gn.fit(_model(), X, y, epochs=5, verbose=0, callbacks=[_Raise(error), log])
    except (RuntimeError, DivergedError):
        pass
    meta = read_meta(tmp_path / "s.sqlite")
    assert meta["status"] == status
    assert len(_rows(tmp_path / "s.sqlite", "SELECT * FROM epochs")) == 1
    if status != "stopped":
        assert str(error) in meta["error"]


def test_fit_log_dir_names_runs_apart(tmp_path):
    X, y = _blobs()
    for _ in range(2):
        gn.fit(_model(), X, y, epochs=1, verbose=0, log_dir=tmp_path)
    runs = sorted(p for p in os.listdir(tmp_path) if p.endswith(".sqlite"))
    assert len(runs) == 2
    assert all(read_meta(tmp_path / r)["status"] == "finished" for r in runs)


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="name"):
        RunLog(tmp_path, name="../x")
    with pytest.raises(ConfigError, match="snapshots"):
        RunLog(tmp_path, snapshots=0)
    with pytest.raises(Exception, match="every"):
        RunLog(tmp_path, every=0)
    X, y = _blobs()
    gn.fit(_model(), X, y, epochs=1, verbose=0, callbacks=[RunLog(tmp_path, name="x")])
    with pytest.raises(ConfigError, match="exists"):
        gn.fit(
            _model(), X, y, epochs=1, verbose=0, callbacks=[RunLog(tmp_path, name="x")]
        )


def test_a_reader_sees_the_run_while_it_trains(tmp_path):
    X, y = _blobs()
    seen = []

    class Reader(Callback):  # another connection, read-only, between epochs
        def on_epoch_end(self, state):
            path = tmp_path / "live.sqlite"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if os.path.exists(path):
                    try:
                        rows = _rows(path, "SELECT epoch FROM epochs")
                    except sqlite3.OperationalError:  # the writer is creating it
                        rows = []
                    if len(rows) == state.epoch + 1:
                        break
                time.sleep(0.02)
            seen.append((len(rows), read_meta(path)["status"]))

    log = RunLog(tmp_path, name="live", flush_seconds=0.0)
    gn.fit(_model(), X, y, epochs=3, verbose=0, callbacks=[log, Reader()])
    assert seen == [(1, "running"), (2, "running"), (3, "running")]
    assert read_meta(tmp_path / "live.sqlite")["status"] == "finished"


def test_a_killed_run_leaves_a_readable_store(tmp_path):
    script = textwrap.dedent(f"""
        import numpy as np, glassnet as gn, sys
        from glassnet.train import Callback, RunLog
        X = np.random.default_rng(0).normal(size=(64, 2)); y = (X[:, 0] > 0) * 1
        class Slow(Callback):
            def on_epoch_end(self, state):
                if state.epoch == 2:
                    print("ready", flush=True)
                import time; time.sleep(0.05)
        model = gn.nn.Sequential(gn.nn.Dense(2, 2), seed=0)
        gn.fit(model, X, y, epochs=100000, verbose=0,
               callbacks=[RunLog({str(tmp_path)!r}, name="k", flush_seconds=0.0), Slow()])
    """)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, env=env
    )
    try:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    path = tmp_path / "k.sqlite"
    assert read_meta(path)["status"] == "running"  # it never got to say otherwise
    epochs = _rows(path, "SELECT epoch FROM epochs ORDER BY epoch")
    assert len(epochs) >= 3 and [e for (e,) in epochs] == list(range(len(epochs)))
    assert _rows(path, "PRAGMA integrity_check") == [("ok",)]


def test_a_30_epoch_digits_store_is_under_5_mb(tmp_path):
    from glassnet.demos.digits import train_digits
    from glassnet.train import loop

    real_fit = loop.fit

    def fit_logged(*args, **kwargs):  # everything logged, every epoch
        log = RunLog(tmp_path, name="digits", snapshots=1, budget=1e9)
        return real_fit(*args, callbacks=[log], **kwargs)

    import glassnet.train as train_pkg

    train_pkg.fit, saved = fit_logged, train_pkg.fit
    try:
        train_digits(epochs=30, verbose=0, validate=True)
    finally:
        train_pkg.fit = saved
    size = sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file())
    assert len(_rows(tmp_path / "digits.sqlite", "SELECT * FROM snapshots")) == 30
    assert (
        len(_rows(tmp_path / "digits.sqlite", "SELECT DISTINCT step FROM layer_stats"))
        == 30
    )
    print(f"30-epoch digits store: {size / 1e6:.2f} MB")
    assert size < 5e6, size


@given(
    hnp.arrays(
        np.float64, st.integers(1, 200), elements=st.floats(-1e6, 1e6, allow_nan=False)
    )
)
def test_tensor_stats_match_numpy(values):
    mean, std, lo, hi, counts = tensor_stats(values, bins=7)
    assert mean == pytest.approx(values.mean(), abs=1e-6)
    assert std == pytest.approx(values.std(), abs=1e-6)
    assert (lo, hi) == (values.min(), values.max())
    if hi > lo:
        expected, _ = np.histogram(values, bins=7, range=(lo, hi))
        # floating-point rounding may move a value sitting on an edge by one bin
        assert np.abs(np.cumsum(counts) - np.cumsum(expected)).max() <= 1
    assert sum(counts) == values.size


def test_tensor_stats_leave_nan_out_of_the_histogram():
    mean, _, lo, hi, counts = tensor_stats(np.array([1.0, np.nan, 3.0]), bins=2)
    assert (lo, hi, counts) == (1.0, 3.0, [1, 1]) and np.isnan(mean)


def test_steps_survive_flushes_in_the_middle_of_epochs(tmp_path):
    # flush_seconds=0: a commit at every mark (an epoch's first batch, every 32nd
    # step, statistics steps), so epochs are split across many flushes.
    X, y = _blobs(70)
    gn.fit(
        _model(),
        X,
        y,
        epochs=3,
        batch_size=1,
        verbose=0,
        callbacks=[RunLog(tmp_path, name="f", flush_seconds=0.0, every=1)],
    )
    rows = _rows(tmp_path / "f.sqlite", "SELECT step, epoch, batch FROM steps")
    assert rows == [(e * 70 + b + 1, e, b) for e in range(3) for b in range(70)]


@pytest.mark.parametrize("how", ["fit", "cli"])
def test_dashboard_serves_during_and_after_training(tmp_path, how):
    import httpx

    if how == "fit":
        code = textwrap.dedent("""
            import numpy as np, glassnet as gn
            X = np.random.default_rng(0).normal(size=(64, 2)); y = (X[:, 0] > 0) * 1
            model = gn.nn.Sequential(gn.nn.Dense(2, 2), seed=0)
            gn.fit(model, X, y, epochs=3, verbose=0, log_dir="runs", dashboard=True)
        """)
        command = [sys.executable, "-c", code]
    else:
        command = [
            sys.executable,
            "-m",
            "glassnet",
            "train",
            os.path.join(ROOT, "examples", "digits.toml"),
            "--epochs",
            "2",
            "--dashboard",
            "--output",
            "d.glassnet",
        ]
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "keeps serving" in line:
                break
        url = next(w for line in lines for w in line.split() if w.startswith("http://"))
        assert url.startswith("http://127.0.0.1:")
        runs = httpx.get(url.split("#")[0] + "api/runs").json()["runs"]
        assert [r["status"] for r in runs] == ["finished"]
        if how == "cli":  # the TOML's settings are kept with the run
            run = httpx.get(url.split("#")[0] + "api/runs/" + runs[0]["name"]).json()
            assert run["config"]["optimizer"] == {"type": "adam", "lr": 0.01}
            assert run["config"]["config"].endswith("digits.toml")
        assert proc.poll() is None  # still serving after training
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_docstring_examples():
    import doctest

    from glassnet.train import runlog

    result = doctest.testmod(runlog)
    assert result.attempted >= 2 and result.failed == 0
