"""Checkpoints and resuming: a run cut short and resumed ends bit-for-bit where an
uninterrupted one does, even when the process is killed with SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.errors import ConfigError, DivergedError, FormatError
from glassnet.optim import SGD, Adam, StepLR
from glassnet.train import Callback, Checkpoint

SRC = str(Path(gn.__file__).resolve().parents[1])


def _data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(np.int64) + (X[:, 2] > 0.5)
    return X, y


def _run(epochs=5, optimizer="adam", callbacks=(), **kw):
    X, y = _data()
    model = nn.Sequential(nn.Dense(6, 12), nn.Tanh(), nn.Dense(12, 3), seed=2)
    opt = (
        Adam(model, lr=0.02)
        if optimizer == "adam"
        else SGD(model, lr=0.05, momentum=0.9)
    )
    schedule = StepLR(opt, step_size=2, gamma=0.5)
    history = gn.fit(
        model,
        X,
        y,
        optimizer=opt,
        lr_schedule=schedule,
        epochs=epochs,
        batch_size=16,
        seed=11,
        verbose=0,
        validation_split=0.2,
        callbacks=list(callbacks),
        **kw,
    )
    return model, history


def _same(m1, m2):
    return all(
        np.array_equal(p.data, q.data) for p, q in zip(m1.parameters(), m2.parameters())
    )


class _CrashAt(Callback):
    """Ends training abruptly after ``step`` optimizer steps (like a crash)."""

    def __init__(self, step):
        self.step, self.seen = step, 0

    def on_batch_end(self, state, loss):
        self.seen += 1
        if self.seen == self.step:
            raise KeyboardInterrupt


def test_same_seed_same_weights_and_history():
    m1, h1 = _run()
    m2, h2 = _run()
    assert _same(m1, m2) and h1.to_dict() == h2.to_dict()


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("crash_at", [5, 8, 9, 16, 27, 40])
def test_resume_after_a_crash_matches_an_uninterrupted_run(
    tmp_path, optimizer, crash_at
):
    reference, ref_history = _run(optimizer=optimizer)
    path = tmp_path / "run.ckpt"
    _run(
        optimizer=optimizer,
        callbacks=[_CrashAt(crash_at)],
        checkpoint=Checkpoint(path, every_epochs=None, every_steps=4),
    )
    saved = gn.io.load_checkpoint(path).training
    assert (saved["epoch"], saved["batch"]) != (5, 0)  # it really stopped early
    resumed, history = _run(optimizer=optimizer, resume_from=path)
    assert _same(reference, resumed)
    assert history.to_dict() == ref_history.to_dict()


def test_epoch_checkpoints_and_the_final_one(tmp_path):
    path = tmp_path / "run.ckpt"
    reference, ref_history = _run(epochs=5)
    _run(epochs=3, checkpoint=path)
    t = gn.io.load_checkpoint(path).training
    assert (t["epoch"], t["batch"]) == (3, 0) and len(t["history"]["epochs"]) == 3
    resumed, history = _run(epochs=5, resume_from=path)  # epochs count from the start
    assert _same(reference, resumed) and history.to_dict() == ref_history.to_dict()
    again, history = _run(epochs=5, resume_from=path)
    assert _same(reference, again)


def test_resuming_a_finished_run_trains_no_more(tmp_path):
    path = tmp_path / "run.ckpt"
    model, h = _run(epochs=2, checkpoint=path)
    resumed, history = _run(epochs=2, resume_from=path)
    assert _same(model, resumed) and history.to_dict() == h.to_dict()


def test_a_diverged_run_keeps_its_last_good_checkpoint(tmp_path):
    X, y = _data()
    path = tmp_path / "run.ckpt"
    model = nn.Sequential(nn.Dense(6, 3), seed=0)

    class Explode(Callback):
        def on_epoch_begin(self, state):
            if state.epoch == 2:
                state.optimizer.lr = 1e30

    with pytest.raises(DivergedError), np.errstate(over="ignore", invalid="ignore"):
        gn.fit(
            model,
            X * 1e10,
            y,
            optimizer=SGD(model, lr=1e-22),
            epochs=6,
            verbose=0,
            seed=0,
            checkpoint=path,
            callbacks=[Explode()],
        )
    saved = gn.io.load_checkpoint(path)
    assert saved.training["epoch"] == 2
    assert all(np.isfinite(p.data).all() for p in saved.model.parameters())


def test_resume_refuses_other_data_settings_or_models(tmp_path):
    path = tmp_path / "run.ckpt"
    _run(epochs=1, checkpoint=path)
    X, y = _data()
    model = nn.Sequential(nn.Dense(6, 12), nn.Tanh(), nn.Dense(12, 3), seed=2)
    adam = Adam(model)
    with pytest.raises(ConfigError, match="batch_size 16 then, 8 now"):
        gn.fit(
            model,
            X,
            y,
            optimizer=adam,
            lr_schedule=StepLR(adam, 2),
            batch_size=8,
            validation_split=0.2,
            seed=11,
            verbose=0,
            resume_from=path,
        )
    other = nn.Sequential(nn.Dense(6, 5), nn.Tanh(), nn.Dense(5, 3))
    with pytest.raises(ConfigError, match="different model"):
        gn.fit(other, X, y, batch_size=16, verbose=0, resume_from=path)
    with pytest.raises(ConfigError, match="lr_schedule"):
        gn.fit(
            model,
            X,
            y,
            optimizer=Adam(model),
            batch_size=16,
            validation_split=0.2,
            seed=11,
            verbose=0,
            resume_from=path,
        )
    with pytest.raises(FormatError, match="SGD|Adam"):
        opt = SGD(model, lr=0.1)
        gn.fit(
            model,
            X,
            y,
            optimizer=opt,
            lr_schedule=StepLR(opt, 2),
            batch_size=16,
            validation_split=0.2,
            seed=11,
            verbose=0,
            resume_from=path,
        )
    gn.save(model, tmp_path / "model.glassnet")
    with pytest.raises(FormatError, match="not a checkpoint"):
        gn.fit(model, X, y, verbose=0, resume_from=tmp_path / "model.glassnet")
    with pytest.raises(FileNotFoundError):
        gn.fit(model, X, y, verbose=0, resume_from=tmp_path / "missing.ckpt")


def test_checkpoint_arguments_are_checked(tmp_path):
    X, y = _data()
    model = nn.Sequential(nn.Dense(6, 3))
    with pytest.raises(ConfigError, match="needs checkpoint"):
        gn.fit(model, X, y, verbose=0, checkpoint_every=2)
    with pytest.raises(ConfigError, match="every_steps"):
        Checkpoint(tmp_path / "c", every_steps=0)
    with pytest.raises(ConfigError, match="path or a Checkpoint"):
        gn.fit(model, X, y, verbose=0, checkpoint=3)


def test_checkpoint_every_n_epochs(tmp_path):
    path = tmp_path / "run.ckpt"
    saver = Checkpoint(path, every_epochs=2)
    _run(epochs=5, callbacks=[saver])
    assert saver.saves == 3  # after epochs 2 and 4, and at the end


# --- the real thing: SIGKILL ----------------------------------------------------------
CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import glassnet as gn
    from glassnet import nn
    from glassnet.optim import Adam, StepLR
    from glassnet.train import Callback
    from glassnet.train import Checkpoint

    mode, ckpt, out = sys.argv[1:4]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20)).astype(np.float32)
    y = (X[:, :4].sum(axis=1) > 0).astype(np.int64) + 2 * (X[:, 4] > 0.3)
    model = nn.Sequential(nn.Dense(20, 32), nn.ReLU(), nn.Dense(32, 4), seed=0)
    opt = Adam(model, lr=0.01)

    class Tick(Callback):
        def on_batch_end(self, state, loss):
            print(state.epoch, state.batch, flush=True)
            time.sleep(0.003)

    history = gn.fit(
        model, X, y, optimizer=opt, lr_schedule=StepLR(opt, 3, 0.5), epochs=12,
        batch_size=16, seed=7, verbose=0,
        callbacks=[Tick()] if mode == "killed" else [],
        checkpoint=None if mode == "plain" else Checkpoint(ckpt, every_steps=5),
        resume_from=ckpt if mode == "resume" else None)
    np.savez(out, *[p.data for p in model.parameters()])
    with open(out + ".json", "w") as f:
        json.dump(history.to_dict(), f)
""")


def _child(tmp_path, mode, **kw):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {
        **os.environ,
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    args = [
        sys.executable,
        str(script),
        mode,
        str(tmp_path / "run.ckpt"),
        str(tmp_path / f"{mode}.npz"),
    ]
    return subprocess.Popen(args, env=env, text=True, **kw)


def _result(tmp_path, mode):
    with np.load(tmp_path / f"{mode}.npz", allow_pickle=False) as f:
        weights = [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]
    history = json.loads((tmp_path / f"{mode}.npz.json").read_text())
    return weights, history


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
@pytest.mark.parametrize("kill_after_steps", [23, 111])
def test_sigkill_then_resume_ends_with_identical_weights(tmp_path, kill_after_steps):
    victim = _child(tmp_path, "killed", stdout=subprocess.PIPE)
    deadline = time.monotonic() + 60
    for steps, _ in enumerate(victim.stdout, start=1):
        if steps >= kill_after_steps or time.monotonic() > deadline:
            break
    time.sleep(0.001 * (kill_after_steps % 7))  # land anywhere, even inside a save
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    victim.stdout.close()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed.npz").exists()  # it never finished
    position = gn.io.load_checkpoint(tmp_path / "run.ckpt").training
    assert (position["epoch"], position["batch"]) < (12, 0)

    resumed = _child(tmp_path, "resume")
    plain = _child(tmp_path, "plain")
    assert resumed.wait(timeout=120) == 0 and plain.wait(timeout=120) == 0
    (w_resumed, h_resumed), (w_plain, h_plain) = (
        _result(tmp_path, "resume"),
        _result(tmp_path, "plain"),
    )
    assert len(w_plain) == 4
    for a, b in zip(w_resumed, w_plain):
        assert a.dtype == b.dtype and np.array_equal(a, b)  # bit for bit
    assert h_resumed == h_plain
    leftovers = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert len(leftovers) <= 1  # at most the half-written save the kill interrupted
