"""Figures: the numbers behind each one, and that each writes a non-empty PNG or SVG.

Also the shawarma story, whose figure is the network it learns.
"""

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("matplotlib")

import glassnet as gn  # noqa: E402
from glassnet import nn, plot  # noqa: E402
from glassnet.errors import ConfigError  # noqa: E402
from glassnet.plot import _style, families  # noqa: E402
from glassnet.tensor import no_grad  # noqa: E402


def written(path) -> bool:
    return path.exists() and path.stat().st_size > 1000


def images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


# --- the network diagram ---------------------------------------------------------------------


def test_network_line_widths_are_proportional_to_weight_size(tmp_path):
    W1 = np.array([[0.5, -1.0, 0.0], [2.0, 0.25, -0.75]])
    W2 = np.array([[1.0], [0.0], [-1.5]])
    fig = plot.network([W1, W2], max_width=8.0, path=tmp_path / "net.png")
    assert written(tmp_path / "net.png")
    lines = {c.get_gid(): c for ax in fig.axes for c in ax.collections}
    for k, W in enumerate((W1, W2)):
        lc = lines[f"weights {k}"]
        nonzero = W[np.nonzero(W)]
        assert len(lc.get_segments()) == nonzero.size  # zero weights are not drawn
        assert lc.get_linewidths() == pytest.approx(8.0 * np.abs(nonzero) / 2.0)
        colours = [tuple(c) for c in lc.get_colors()]
        from matplotlib.colors import to_rgba

        assert colours == [
            to_rgba(_style.POSITIVE if v > 0 else _style.NEGATIVE) for v in nonzero
        ]


def test_network_from_a_model_with_values_and_receptive_fields(tmp_path):
    model = nn.Sequential(nn.Dense(4, 3), nn.Tanh(), nn.Dense(3, 2), seed=0)
    x = np.array([1.0, -1.0, 0.5, 0.0])
    t = gn.trace(model, x)
    fig = plot.network(model, values=t, path=tmp_path / "values.svg")
    assert written(tmp_path / "values.svg")
    from matplotlib.patches import Circle

    fills = [
        p.get_facecolor()[0]
        for ax in fig.axes
        for p in ax.patches
        if isinstance(p, Circle)
    ]
    shown = np.concatenate([x, t[1].output, t[2].output])
    assert fills == pytest.approx(np.clip((shown + 1) / 2, 0, 1), abs=1e-6)
    fig = plot.network(model, receptive=True, image_shape=(2, 2))
    assert len(images(fig)) == 4 + 3 + 2  # one picture per neuron
    with pytest.raises(ConfigError, match="one number per neuron"):
        plot.network(model, values=[x, [1.0], [2.0]])


# --- receptive fields and weights as images -------------------------------------------------


def test_receptive_field_and_weight_image_figures(tmp_path):
    model = nn.Sequential(nn.Dense(4, 3), nn.Tanh(), nn.Dense(3, 2), seed=0)
    fig = plot.receptive_fields(model, image_shape=(2, 2), path=tmp_path / "rf.png")
    assert written(tmp_path / "rf.png")
    first, second = fig.receptive_fields
    assert [f.method for f in first] == ["exact"] * 3
    assert [f.method for f in second] == ["gradient ascent"] * 2
    exact = gn.receptive_fields(model, 1)
    assert all(np.array_equal(a.pattern, b.pattern) for a, b in zip(first, exact))

    fig = plot.weight_images(model, image_shape=(2, 2), path=tmp_path / "w.png")
    assert written(tmp_path / "w.png")
    shown = images(fig)
    W = model[0].weight.data
    for j, im in enumerate(shown):
        assert np.array_equal(im.get_array(), W[:, j].reshape(2, 2))
        lo, hi = im.get_clim()
        assert lo == -hi == pytest.approx(-np.abs(W).max())  # centred on zero, shared


# --- convolution -----------------------------------------------------------------------------


def test_filters_are_generic_over_out_in_kh_kw_arrays_and_conv_layers(tmp_path):
    w = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    fig = plot.filters(w, path=tmp_path / "f.png")
    assert written(tmp_path / "f.png")
    shown = images(fig)
    assert len(shown) == 6
    assert np.array_equal(shown[0].get_array(), w[0, 0])  # input 0, filter 0 first
    assert shown[0].get_clim() == pytest.approx((-np.abs(w).max(), np.abs(w).max()))
    conv = nn.Conv2D(1, 4, 5, seed=0)
    fig = plot.filters(conv)
    assert [
        np.asarray(im.get_array()).tolist() for im in images(fig)
    ] == conv.weight.data[:, 0].tolist()


def test_feature_maps_scale_signed_maps_around_zero_and_others_from_zero(tmp_path):
    from glassnet.datasets import canonical_x, x_features
    from glassnet.ops.conv_match import match

    maps = np.stack([match(canonical_x(), f) for f in x_features()])
    fig = plot.feature_maps(maps, image=canonical_x(), path=tmp_path / "maps.png")
    assert written(tmp_path / "maps.png")
    shown = images(fig)[1:]
    assert np.array_equal(shown[0].get_array(), maps[0])
    assert shown[0].get_clim() == pytest.approx((-1.0, 1.0))
    texts = [t.get_text() for t in fig.axes[1].texts]
    # the falling diagonal: 1.00 along it, 0.77 at its ends, 0.55 at the centre
    assert [texts[7 * i + i] for i in range(7)] == [
        "0.77",
        "1.00",
        "1.00",
        "0.55",
        "1.00",
        "1.00",
        "0.77",
    ]
    fig = plot.feature_maps(np.maximum(maps, 0))
    assert images(fig)[0].get_clim() == pytest.approx((0.0, 1.0))


# --- training --------------------------------------------------------------------------------


def test_training_curves_and_confusion_matrix(tmp_path):
    history = gn.train.History()
    for epoch, (loss, val) in enumerate([(1.0, 1.2), (0.5, 0.7), (0.25, 0.6)]):
        history.record(
            epoch,
            {
                "loss": loss,
                "accuracy": 0.5 + epoch / 5,
                "val_loss": val,
                "val_accuracy": 0.4 + epoch / 5,
            },
        )
    fig = plot.training_curves(history, path=tmp_path / "curves.png")
    assert written(tmp_path / "curves.png")
    loss_ax, acc_ax = fig.axes
    assert list(loss_ax.lines[0].get_ydata()) == [1.0, 0.5, 0.25]
    assert list(loss_ax.lines[1].get_ydata()) == [1.2, 0.7, 0.6]
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3]
    assert loss_ax.get_ylim()[0] == 0 and acc_ax.get_ylim() == pytest.approx((0, 1.02))

    cm = np.array([[5, 1, 0], [0, 3, 2], [1, 0, 4]])
    fig = plot.confusion_matrix(cm, labels=["a", "b", "c"], path=tmp_path / "cm.svg")
    assert written(tmp_path / "cm.svg")
    ax = fig.axes[0]
    assert np.array_equal(ax.get_images()[0].get_array(), cm)
    assert ax.get_images()[0].get_clim() == (0, 5)
    assert [t.get_text() for t in ax.texts] == [str(v) for v in cm.ravel()]
    assert "12 of 16 right" in ax.get_title()


def test_decision_regions_show_the_networks_answer_on_the_grid(tmp_path):
    model = nn.Sequential(nn.Dense(2, 3), seed=0)
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 1.0]])
    fig = plot.decision_regions(
        model, X, [0, 1, 2], resolution=50, path=tmp_path / "regions.png"
    )
    assert written(tmp_path / "regions.png")
    xs, ys, scores = plot.regions.region_grid(model, (-1.2, 1.2), (-1.2, 1.2), 50)
    assert np.array_equal(fig.region_labels, scores.argmax(axis=-1))
    with no_grad():
        corner = model(np.array([[xs[0], ys[-1]]], np.float32)).data.argmax()
    assert fig.region_labels[-1, 0] == corner  # row -1 is the top (largest y)


# --- loss landscapes -------------------------------------------------------------------------


def test_loss_curve_and_surface(tmp_path):
    fig = plot.loss_curve(
        lambda w: (w - 1) ** 2,
        (-2, 3),
        trajectory=[[-2.0], [0.0], [1.0]],
        resolution=51,
        path=tmp_path / "curve.png",
    )
    assert written(tmp_path / "curve.png")
    ax = fig.axes[0]
    xs, ys = ax.lines[0].get_data()
    assert ys == pytest.approx((xs - 1) ** 2)
    steps = ax.collections[0].get_offsets()
    assert np.asarray(steps).tolist() == [[-2.0, 9.0], [0.0, 1.0], [1.0, 0.0]]
    assert ax.get_ylim()[0] == 0  # a loss that cannot go below 0 starts the axis at 0

    flat = plot.loss_curve(
        lambda g: abs(g - 53) + abs(g - 57), (40, 70)
    )  # point by point
    assert "53 to 57" in flat.axes[0].get_legend_handles_labels()[1][1]

    fig = plot.loss_surface(
        lambda a, b: a**2 + 3 * b**2,
        (-1, 1),
        (-2, 2),
        trajectory=[[1, 1], [0.5, 0.2], [0, 0]],
        resolution=21,
        path=tmp_path / "surface.png",
    )
    assert written(tmp_path / "surface.png")
    gx, gy = np.meshgrid(np.linspace(-1, 1, 21), np.linspace(-2, 2, 21))
    assert fig.surface == pytest.approx(gx**2 + 3 * gy**2)
    plot.loss_surface(
        lambda a, b: a**2 + b**2 + 0.1,
        (-1, 1),
        (-1, 1),
        log=True,
        resolution=11,
        path=tmp_path / "log.png",
    )
    assert written(tmp_path / "log.png")


# --- what networks can learn -----------------------------------------------------------------


def test_function_families_have_the_shapes_the_talk_describes():
    for kind in ("linear", "linear, 100 hidden"):
        xs, curves = families.sample_functions(kind, 1, n_draws=6)
        assert np.abs(np.diff(curves, n=2, axis=1)).max() < 1e-4  # straight lines
        (gx, gy), surf = families.sample_functions(kind, 2, 1, resolution=11)
        plane = np.linalg.lstsq(
            np.stack(
                [gx[None].repeat(11, 0).ravel(), np.repeat(gy, 11), np.ones(121)], 1
            ),
            surf[0].ravel(),
            rcond=None,
        )
        assert plane[1][0] < 1e-6  # a flat plane
    _, logistic = families.sample_functions("logistic", 1, n_draws=20)
    assert logistic.min() > 0 and logistic.max() < 1
    (gx, gy), surf = families.sample_functions("logistic", 2, 1, resolution=11)
    # straight contour lines: the logit is a plane
    logit = np.log(surf[0] / (1 - surf[0])).ravel()
    design = np.stack([np.tile(gx, 11), np.repeat(gy, 11), np.ones(121)], 1)
    assert np.linalg.lstsq(design, logit, rcond=None)[1][0] < 1e-4
    for kind in (
        "tanh",
        "two-layer tanh, 100 hidden",
        "three-layer tanh, 11 + 9 hidden",
    ):
        _, curves = families.sample_functions(kind, 1, n_draws=20)
        assert np.abs(curves).max() < 1  # never outside -1 to 1
    _, wiggles = families.sample_functions("two-layer tanh, 100 hidden", 1, n_draws=20)
    slopes = np.sign(np.diff(wiggles, axis=1))
    assert (np.abs(np.diff(slopes, axis=1)) > 0).sum(
        axis=1
    ).max() >= 2  # peaks and valleys
    with pytest.raises(ConfigError, match="unknown family"):
        families.random_network("quadratic")


def test_family_figures_write_images(tmp_path):
    fig = plot.function_families(
        ["linear", "logistic"], n_draws=3, path=tmp_path / "families.png"
    )
    assert written(tmp_path / "families.png")
    assert len(fig.axes[0].lines) == 3
    fitted = families.fit_deep_and_wide(epochs=300, n_points=60)
    wide, deep = (v for v in fitted.values() if isinstance(v, dict))
    assert (wide["hidden"], deep["hidden"]) == (100, 20)
    assert (wide["params"], deep["params"]) == (301, 140)
    plot.deep_vs_wide(fitted=fitted, path=tmp_path / "dw.png")
    assert written(tmp_path / "dw.png")
    X, y = families.wavy_classes(200)
    assert set(np.unique(y)) == {0, 1}
    assert np.array_equal(y, X[:, 1] > 0.5 * np.sin(3 * X[:, 0]))


# --- LSTM gates ------------------------------------------------------------------------------


def test_lstm_gates_from_the_layer_and_from_an_array(tmp_path):
    layer = nn.LSTM(5, 3, seed=0)
    layer.watch_gates = True
    layer(np.eye(5, dtype=np.float32)[None, [4, 0, 3, 1]])
    fig = plot.lstm_gates(
        layer.last_gates, [".", "Doug", "saw", "Jane"], path=tmp_path / "gates.png"
    )
    assert written(tmp_path / "gates.png")
    shown = images(fig)
    assert len(shown) == 5
    assert np.array_equal(shown[0].get_array(), layer.last_gates["forget"][0].T)
    assert shown[0].get_clim() == (0, 1)
    assert shown[2].get_clim() == (-1, 1)  # candidate: tanh
    arr = np.random.default_rng(0).uniform(0, 1, (6, 4, 2))
    fig = plot.lstm_gates(arr)
    assert len(images(fig)) == 4
    assert np.array_equal(images(fig)[3].get_array(), arr[:, 3, :].T)
    with pytest.raises(gn.ShapeError, match="forget, input, candidate, output"):
        plot.lstm_gates(np.zeros((6, 3, 2)))


# --- the shawarma cook -----------------------------------------------------------------------


def test_shawarma_first_day_as_the_talk_tells_it():
    from glassnet.datasets import shawarma_patterns
    from glassnet.demos import shawarma as sh

    W0 = sh.walk_through_weights()
    day = shawarma_patterns()[0]  # working in the morning, off in the evening
    assert sh.activity(W0, day) == pytest.approx([0.6, 0.2])  # (0.8+0.4)/2, (0.3+0.1)/2
    W1, winner, error = sh.step(W0, day)
    assert winner == 0 and error == pytest.approx(0.4)
    assert sh.activity(W1, day)[0] == pytest.approx(0.7)  # error 0.4 -> 0.3
    assert np.all(W1[[1, 2], 0] < W0[[1, 2], 0])  # links from what was not seen shrink
    assert np.array_equal(W1[:, 1], W0[:, 1])  # the other output does not learn today


def test_shawarma_two_outputs_learn_the_two_schedules(tmp_path):
    from glassnet.datasets import shawarma_patterns
    from glassnet.demos import shawarma as sh

    for seed in range(5):
        learned = sh.learn_schedules(n_days=60, seed=seed)
        names = sh.schedule_of_each_output(learned.weights)
        assert sorted(names) == ["evening shift", "morning shift"]
        order = [0, 1] if names[0] == "morning shift" else [1, 0]
        assert learned.weights[:, order].T == pytest.approx(
            shawarma_patterns(), abs=0.05
        )
    net, days = sh.draw(learned, tmp_path / "shawarma.png")
    assert written(tmp_path / "shawarma.png") and written(
        tmp_path / "shawarma-days.png"
    )
    lc = next(
        c for ax in net.axes for c in ax.collections if c.get_gid() == "weights 0"
    )
    w = learned.weights[np.nonzero(learned.weights)]
    assert lc.get_linewidths() == pytest.approx(6.0 * w / w.max())


# --- the common rules ------------------------------------------------------------------------


def test_saving_needs_a_known_suffix_and_matplotlib(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="PNG, SVG or PDF"):
        plot.loss_curve(lambda w: w**2, (0, 1), path=tmp_path / "curve.gif")
    assert not list(tmp_path.iterdir())  # nothing half-written
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[plot\]'"):
        plot.loss_curve(lambda w: w**2, (0, 1))


# --- captions and numbers that match their pictures ---------------------------------


@given(st.floats(-10, 10, allow_nan=False), st.integers(0, 3))
def test_number_text_never_writes_a_signed_zero(v, decimals):
    text = _style.number_text(v, decimals)
    assert "-" not in text  # a true minus sign, when there is one
    value = float(text.replace("−", "-"))
    assert value == float(f"{v:.{decimals}f}")
    assert not (value == 0 and text.startswith("−"))


def test_map_numbers_are_readable_and_unsigned_at_zero():
    maps = np.array([[[-0.0004, 0.5], [-0.25, 0.001]]])
    fig = plot.feature_maps(maps, numbers=True)
    texts = [t for ax in fig.axes for t in ax.texts]
    assert [t.get_text() for t in texts] == ["0.00", "0.50", "−0.25", "0.00"]
    assert min(t.get_fontsize() for t in texts) >= 7
    weights = np.array([[[[-0.04, 0.3]]]])
    fig = plot.filters(weights)
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == ["0.0", "0.3"]


def test_the_end_of_a_path_does_not_hide_its_last_steps():
    path = [0.0, 0.9, 0.99, 1.0]
    fig = plot.loss_curve(lambda w: (w - 1.0) ** 2, (0, 2), trajectory=path)
    star = fig.axes[0].collections[-1]
    assert star.get_facecolor().size == 0 or star.get_facecolor()[0][3] == 0


def test_deep_versus_wide_names_each_net_once_and_does_not_call_them_alike():
    fitted = families.fit_deep_and_wide(epochs=2)
    fig = plot.deep_vs_wide(fitted=fitted)
    titles = [ax.get_title() for ax in fig.axes[:2]]
    assert "one hidden layer" in titles[0] and "two hidden layers" in titles[1]
    assert not any("two-layer" in t for t in titles)
    assert "same kinds of curves" not in fig._suptitle.get_text()


def test_the_mm_caption_describes_the_band_it_draws(tmp_path):
    from glassnet import tour

    items = tour.story_mm(str(tmp_path))
    absolute = next(i for i in items if i.file == "mm-absolute.png")
    assert "dotted" not in absolute.caption and "band" in absolute.caption


def test_the_colour_bar_says_when_the_last_steps_pile_up_at_the_end():
    path = [0.0, 0.5, 0.9, 1.0, 1.0, 1.0, 1.0]
    fig = plot.loss_curve(lambda w: (w - 1.0) ** 2, (0, 2), trajectory=path)
    label = fig.axes[-1].get_ylabel()
    assert label == "step (purple first); from step 3 on, all at the end"
    fig = plot.loss_curve(lambda w: (w - 1.0) ** 2, (0, 2), trajectory=[0.0, 0.5, 1.0])
    assert fig.axes[-1].get_ylabel() == "step (purple first)"
