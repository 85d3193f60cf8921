"""fit's progress display: one bar in a terminal, one updating display in a notebook,
a line per epoch in a log. (A real notebook runs in tests/test_notebooks.py.)"""

import io
import sys
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from glassnet import fit, nn
from glassnet.train import EarlyStopping, progress


def data(n=64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def model():
    return nn.Sequential(nn.Dense(4, 8), nn.Tanh(), nn.Dense(8, 2), seed=0)


class FakeHandle:
    def __init__(self, shown):
        self.shown = shown

    def update(self, obj):
        self.shown.append(("update", obj))


class FakeDisplay:
    """IPython's display(obj, display_id=True), recording what it was given."""

    def __init__(self):
        self.shown, self.calls = [], 0

    def __call__(self, obj, display_id=None):
        assert display_id is True
        self.calls += 1
        self.shown.append(("display", obj))
        return FakeHandle(self.shown)


@pytest.fixture
def notebook(monkeypatch):
    fake = FakeDisplay()
    monkeypatch.setattr(progress, "_notebook_display", lambda: fake)
    return fake


def test_a_notebook_gets_one_display_updated_in_place(notebook, capsys):
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no TqdmWarning, nothing else
        history = fit(model(), X, y, epochs=3, batch_size=16, seed=0, verbose=1)
    assert notebook.calls == 1
    assert notebook.shown[0][0] == "display"
    assert all(kind == "update" for kind, _ in notebook.shown[1:])
    assert capsys.readouterr() == ("", "")  # no bar, no lines beside the display
    final = notebook.shown[-1][1]
    lines = repr(final).splitlines()
    assert [ln.split("  ")[0] for ln in lines[:3]] == [
        "epoch 1/3",
        "epoch 2/3",
        "epoch 3/3",
    ]
    assert f"loss {history.loss[-1]:.4f}" in lines[2]
    assert lines[3].startswith("fit: 3 epochs in ")
    root = ET.fromstring(final._repr_html_())
    rows = list(root.iter("tr"))[1:]
    assert [r.find("td").text for r in rows] == ["1", "2", "3"]
    assert root.find(".//polyline") is not None  # the loss curve, batch by batch


def test_a_notebook_display_says_when_training_stopped_early(notebook):
    X, y = data()
    stop = EarlyStopping(monitor="loss", target=10.0)  # any loss reaches it
    fit(model(), X, y, epochs=5, seed=0, verbose=1, callbacks=[stop])
    assert repr(notebook.shown[-1][1]).splitlines()[-1].endswith("(stopped early)")


def test_the_live_curve_keeps_a_bounded_number_of_points(notebook, monkeypatch):
    monkeypatch.setattr(progress, "_CURVE_POINTS", 10)
    X, y = data(96)
    fit(model(), X, y, epochs=4, batch_size=4, seed=0, verbose=1)  # 96 batches
    curve = notebook.shown[-1][1].curve
    assert 5 <= len(curve) <= 10


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_one_bar_for_the_whole_fit(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(progress, "_notebook_display", lambda: None)
    err = FakeTTY()
    monkeypatch.setattr(sys, "stderr", err)
    X, y = data()
    fit(model(), X, y, epochs=3, batch_size=16, seed=0, verbose=1)
    text = err.getvalue()
    assert text.count("\n") == 1  # one bar, left on screen once
    final = text.split("\r")[-1]
    assert "epoch 3/3" in final and "12/12" in final and "loss " in final


def test_lines_in_a_log_say_the_time_left(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_notebook_display", lambda: None)
    X, y = data()
    fit(model(), X, y, epochs=3, seed=0, verbose=1)  # stderr is captured: not a TTY
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(" left)" in ln for ln in lines[:2]) and " left)" not in lines[2]
