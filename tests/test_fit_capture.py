"""fit(capture=True): the captured step inside fit, with fit's History, metrics,
callbacks and checkpoints; refused with the reason where it cannot apply."""

import numpy as np
import pytest
from test_resume import _CrashAt

import glassnet as gn
from glassnet import _native, nn
from glassnet.data.transforms import Standardizer, train_test_split
from glassnet.datasets import digits
from glassnet.errors import ConfigError
from glassnet.optim import Adam, StepLR
from glassnet.train import Checkpoint


def _data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(np.int64) + (X[:, 2] > 0.5)
    return X, y


def _run(capture, epochs=4, callbacks=(), **kw):
    X, y = _data()
    model = nn.Sequential(nn.Dense(6, 12), nn.Tanh(), nn.Dense(12, 3), seed=2)
    opt = Adam(model, lr=0.02)
    history = gn.fit(
        model,
        X,
        y,
        optimizer=opt,
        lr_schedule=StepLR(opt, step_size=2, gamma=0.5),
        epochs=epochs,
        batch_size=16,
        seed=11,
        verbose=0,
        validation_split=0.2,
        callbacks=list(callbacks),
        capture=capture,
        **kw,
    )
    return model, history


@pytest.fixture
def numpy_only(monkeypatch):
    monkeypatch.setenv("GLASSNET_NATIVE", "0")
    _native._forget()
    yield
    monkeypatch.undo()
    _native._forget()


def test_replayed_in_numpy_it_is_the_eager_run_bit_for_bit(numpy_only):
    eager_model, eager = _run(capture=False)
    model, history = _run(capture=True)
    assert history.to_dict() == eager.to_dict()  # losses, accuracies, validation
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_compiled_it_matches_the_eager_run_to_rounding(native_step):
    eager_model, eager = _run(capture=False)
    model, history = _run(capture=True)
    e, c = eager.to_dict(), history.to_dict()
    assert e.keys() == c.keys()
    np.testing.assert_allclose(c["loss"], e["loss"], rtol=1e-5)
    np.testing.assert_allclose(c["val_loss"], e["val_loss"], rtol=1e-5)
    # At most one of the 120 training samples may flip class on a rounding.
    np.testing.assert_allclose(c["accuracy"], e["accuracy"], atol=1 / 120 + 1e-9)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-4, atol=1e-5)


def test_digits_reach_the_demos_accuracy_captured():
    """The demo's recipe (64 -> 32 sigmoid -> 10, Adam 0.01, 30 epochs), captured."""
    data = digits(flatten=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.25, seed=0
    )
    scaler = Standardizer().fit(X_train)
    model = nn.Sequential(nn.Dense(64, 32), nn.Sigmoid(), nn.Dense(32, 10), seed=0)
    gn.fit(
        model,
        scaler.transform(X_train),
        y_train,
        optimizer=Adam(model, lr=0.01),
        epochs=30,
        batch_size=32,
        seed=0,
        verbose=0,
        capture=True,
    )
    predicted = gn.predict_classes(model, scaler.transform(X_test))
    assert (predicted == y_test).mean() >= 0.97


@pytest.mark.parametrize("crash_at", [5, 16])
def test_resume_with_capture_matches_an_uninterrupted_run(
    tmp_path, crash_at, numpy_only
):
    reference, ref_history = _run(capture=True)
    path = tmp_path / "run.ckpt"
    _run(
        capture=True,
        callbacks=[_CrashAt(crash_at)],
        checkpoint=Checkpoint(path, every_epochs=None, every_steps=4),
    )
    resumed, history = _run(capture=True, resume_from=path)
    assert history.to_dict() == ref_history.to_dict()
    for p, q in zip(resumed.parameters(), reference.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_what_capture_cannot_do_is_refused():
    X, y = _data()
    model = nn.Sequential(nn.Dense(6, 3), seed=0)
    with pytest.raises(ConfigError, match="does not clip gradients"):
        gn.fit(model, X, y, epochs=1, verbose=0, capture=True, clip_norm=1.0)
    with pytest.raises(ConfigError, match="integer class labels.*shape \\(150, 3\\)"):
        gn.fit(
            model,
            X,
            np.eye(3, dtype=np.float32)[y],
            loss="cross_entropy",
            epochs=1,
            verbose=0,
            capture=True,
        )
    conv = nn.Sequential(nn.Dense(6, 3), nn.Softmax(), seed=0)
    with pytest.raises(ConfigError, match="layer 1 is Softmax"):
        gn.fit(conv, X, y, epochs=1, verbose=0, capture=True)


def test_a_loop_of_short_fits_records_once_and_sees_loaded_weights(
    numpy_only, monkeypatch
):
    """fit(epochs=1) in a loop with the same model, loss and optimizer keeps one
    recording; weights loaded between the calls are trained, not the old ones."""
    from glassnet.train.capture import CapturedStep

    recorded = []
    original = CapturedStep._record
    monkeypatch.setattr(
        CapturedStep,
        "_record",
        lambda self, x, y: recorded.append(x.shape) or original(self, x, y),
    )
    X, y = _data()
    start = nn.Sequential(nn.Dense(6, 12), nn.Tanh(), nn.Dense(12, 3), seed=7)
    results = []
    for capture in (False, True):
        model = nn.Sequential(nn.Dense(6, 12), nn.Tanh(), nn.Dense(12, 3), seed=2)
        opt, loss = gn.optim.SGD(model, lr=0.1), gn.losses.CrossEntropy()
        losses = []
        for i in range(4):
            if i == 2:  # a restore in between: the step must train these weights
                model.load_state_dict(start.state_dict())
            h = gn.fit(model, X, y, loss=loss, optimizer=opt, epochs=1,
                       batch_size=32, seed=i, verbose=0, capture=capture)  # fmt: skip
            losses.append(h.loss[-1])
        results.append((losses, [p.data.copy() for p in model.parameters()]))
    (eager_losses, eager_w), (losses, w) = results
    assert losses == eager_losses
    for a, b in zip(w, eager_w):
        np.testing.assert_array_equal(a, b)
    # 150 samples in batches of 32: shapes (32, 6) and (22, 6), recorded before
    # and after the restore, never again for the fits in between.
    assert recorded == [(32, 6), (22, 6), (32, 6), (22, 6)]


def _counting_records(monkeypatch):
    from glassnet.train.capture import CapturedStep

    recorded = []
    original = CapturedStep._record
    monkeypatch.setattr(
        CapturedStep,
        "_record",
        lambda self, x, y: recorded.append(x.shape) or original(self, x, y),
    )
    return recorded


def test_by_default_fit_replays_the_recorded_step_bit_for_bit(monkeypatch):
    """capture='auto': the NumPy replay where the model allows it, compiled
    kernels or not, with exactly the eager loop's history and weights."""
    recorded = _counting_records(monkeypatch)
    eager_model, eager = _run(capture=False)
    assert recorded == []
    model, history = _run(capture="auto")
    assert recorded == [(16, 6), (8, 6)]  # 120 training samples: 7 x 16 + 8
    assert history.to_dict() == eager.to_dict()
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_auto_runs_a_watched_batch_eagerly_and_other_models_eagerly(monkeypatch):
    from glassnet.nn import module as module_mod

    recorded = _counting_records(monkeypatch)
    seen = []

    class Watch(gn.train.Callback):  # a hook on the batches of epoch 1 only
        def hook(self, module, inputs, output):
            seen.append(self.epoch)

        def on_epoch_begin(self, state):
            self.epoch = state.epoch
            if state.epoch == 1:
                module_mod.FORWARD_HOOKS.append(self.hook)

        def on_epoch_end(self, state):
            if self.hook in module_mod.FORWARD_HOOKS:
                module_mod.FORWARD_HOOKS.remove(self.hook)

    eager_model, eager = _run(capture=False)
    model, history = _run(capture="auto", callbacks=[Watch()])
    # 8 training batches and the validation pass, 4 modules each (Sequential + 3)
    assert set(seen) == {1} and len(seen) == (8 + 1) * 4
    assert history.to_dict() == eager.to_dict()
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    # A loss or a layer the step cannot replay: the eager loop, no error.
    X, y = _data()
    recorded.clear()
    for model, loss in [
        (nn.Sequential(nn.Dense(6, 3), seed=0), "mse"),
        (nn.Sequential(nn.Dense(6, 4), nn.Softmax(), nn.Dense(4, 3), seed=0), None),
    ]:
        gn.fit(model, X, np.eye(3)[y] if loss else y, loss=loss, epochs=1, verbose=0)
    assert recorded == []
    with pytest.raises(ConfigError, match="capture must be 'auto', True or False"):
        gn.fit(model, X, y, epochs=1, verbose=0, capture="yes")
