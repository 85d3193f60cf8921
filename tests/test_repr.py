"""What Jupyter shows: figures inline with no set-up, HTML for what learners meet.

Every HTML display is parsed as XML, so a missing escape or an unclosed tag
fails here rather than garbling a notebook.
"""

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassnet as gn
from glassnet import _display
from glassnet.nn import Dense, Sequential, Tanh
from glassnet.train.history import History


def parsed(html: str) -> ET.Element:
    return ET.fromstring(html)


def cells(root: ET.Element, tag: str = "td") -> list:
    return ["".join(c.itertext()) for c in root.iter(tag)]


# --- figures -------------------------------------------------------------------


def test_a_figure_displays_as_png_through_ipython_with_no_magic():
    pytest.importorskip("matplotlib")
    ipython = pytest.importorskip("IPython.core.interactiveshell")
    history = History()
    for epoch, loss in enumerate([0.9, 0.5, 0.3]):
        history.record(epoch, {"loss": loss})
    fig = gn.plot.training_curves(history)
    shell = ipython.InteractiveShell.instance()
    bundle, _ = shell.display_formatter.format(fig)
    png = bundle["image/png"]
    png = png if isinstance(png, bytes) else __import__("base64").b64decode(png)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # the PNG is this figure at the display resolution
    width, height = (int.from_bytes(png[i : i + 4], "big") for i in (16, 20))
    w_in, h_in = fig.get_size_inches()
    assert (width, height) == (round(w_in * 100), round(h_in * 100))


def test_every_figure_function_gets_the_notebook_figure():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from glassnet.plot import _style

    fig = _style.new_figure(figsize=(2, 1))
    assert isinstance(fig, Figure) and type(fig).__name__ == "NotebookFigure"
    assert type(_style.new_figure()) is type(fig)  # one class, made once


# --- History -------------------------------------------------------------------


def make_history(losses, accuracies=None):
    h = History()
    for i, loss in enumerate(losses):
        logs = {"loss": loss}
        if accuracies is not None:
            logs["accuracy"] = accuracies[i]
        h.record(i, logs)
    return h


def test_history_html_lists_each_figure_with_first_best_last():
    h = make_history([0.9, 0.2, 0.4], [0.5, 0.9, 0.8])
    root = parsed(h._repr_html_())
    summary = root.findall(".//table")[0]
    rows = [cells(tr) for tr in summary.iter("tr")][1:]
    assert rows[0][0] == "loss" and rows[0][2:] == ["0.9", "0.2", "0.4"]
    assert rows[1][0] == "accuracy" and rows[1][2:] == [
        "0.5",
        "0.9",
        "0.8",
    ]  # best = max
    assert len(list(summary.iter("polyline"))) == 2  # one sparkline per figure


@given(st.integers(1, 40))
def test_history_html_epoch_table_shows_all_or_first_and_last_five(n):
    h = make_history(list(np.linspace(1, 0.1, n)))
    epochs_table = parsed(h._repr_html_()).findall(".//table")[1]
    first_column = [cells(tr)[0] for tr in list(epochs_table.iter("tr"))[1:]]
    if n <= 11:
        assert first_column == [str(i + 1) for i in range(n)]
    else:
        assert first_column == [
            "1",
            "2",
            "3",
            "4",
            "5",
            "…",
            *map(str, range(n - 4, n + 1)),
        ]


def test_empty_history_html_says_so():
    assert "0 epochs" in History()._repr_html_()


# --- Trace ---------------------------------------------------------------------


def test_trace_html_holds_a_layer_table_and_the_whole_narration():
    model = Sequential(Dense(2, 1), Tanh())
    model[0].weight.data[:] = [[1.0], [-0.5]]
    t = gn.trace(model, np.array([1.0, 1.0]))
    root = parsed(t._repr_html_())
    rows = [cells(tr) for tr in root.find(".//table").iter("tr")][1:]
    assert rows == [["0", "Dense", "2", "1", ""], ["1", "Tanh", "1", "1", ""]]
    assert "".join(root.find(".//pre").itertext()) == t.narrate()


def test_trace_html_names_the_loss_and_marks_gradients():
    model = Sequential(Dense(3, 2), Tanh())
    t = gn.trace(model, np.ones(3, np.float32), target=1, loss="cross_entropy")
    root = parsed(t._repr_html_())
    rows = list(root.find(".//table").iter("tr"))[1:]
    assert [cells(tr)[-1] for tr in rows] == ["yes", "yes"]
    assert "(CrossEntropy)" in "".join(root.itertext())


# --- ReceptiveField ------------------------------------------------------------


def test_receptive_field_html_draws_black_low_white_high_checkered_ignored():
    model = Sequential(Dense(4, 1), Tanh())
    model[0].weight.data[:, 0] = [1.0, -1.0, 0.0, 1.0]
    field = gn.receptive_field(model, layer=1, neuron=0)
    root = parsed(field._repr_html_())
    svg = root.find(".//svg")
    fills = [r.get("fill") for r in svg.iter("rect")]
    # a 2x2 picture: white, black, then the don't-care pixel as three squares, white
    assert fills == [
        "rgb(255,255,255)",
        "rgb(0,0,0)",
        "#fff",
        "#000",
        "#000",
        "rgb(255,255,255)",
    ]
    table = dict(cells(tr) for tr in list(root.find(".//table").iter("tr"))[1:])
    assert table["method"] == "exact"
    assert table["don't care"] == "1 of 4 inputs"
    assert table["saturated"] == "False"


def test_receptive_field_html_leaves_out_the_picture_of_a_huge_input():
    model = Sequential(Dense(5000, 1))
    field = gn.receptive_field(model, layer=0, neuron=0)
    root = parsed(field._repr_html_())
    assert root.find(".//svg") is None and "shape (5000,)" in "".join(root.itertext())


# --- SearchResult --------------------------------------------------------------


def test_search_result_html_states_the_result_and_the_path():
    from glassnet.optim.free import CoordinateNudge

    result = CoordinateNudge(budget=200, seed=0).minimize(
        lambda v: float(np.sum((v - 3.0) ** 2)), np.zeros(2)
    )
    root = parsed(result._repr_html_())
    table = dict(cells(tr)[:2] for tr in list(root.find(".//table").iter("tr"))[1:])
    assert table["loss"] == _display.number(result.loss, 6)
    assert table["evaluations"] == str(result.evaluations)
    assert table["stopped"] == f"{result.stop_reason}: {result.message}"
    assert f"{len(result.path_losses)} points" in table["loss along the path"]


# --- the pieces ----------------------------------------------------------------


@given(st.lists(st.floats(-1e6, 1e6) | st.just(float("nan")), max_size=30))
def test_sparkline_stays_inside_its_box(values):
    svg = parsed(_display.sparkline(values, width=100, height=20))
    points = svg.find("polyline").get("points").split()
    finite = [v for v in values if np.isfinite(v)]
    assert len(points) == max(len(finite), 2) if finite else points == []
    for p in points:
        x, y = map(float, p.split(","))
        assert 0 <= x <= 100 and 0 <= y <= 20


def test_number_never_prints_minus_zero():
    assert _display.number(-0.0) == "0"
    assert _display.number(-1e-12, 4) == "-1e-12"
