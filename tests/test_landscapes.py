"""The tea landscapes: their documented shapes, their slopes, the tea race example."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from glassnet import landscapes as L
from glassnet.errors import ConfigError

T = np.linspace(0, 100, 20_001)


def local_minima(values):
    inner = values[1:-1]
    return np.flatnonzero((inner < values[:-2]) & (inner < values[2:])) + 1


def test_five_landscapes_in_the_talks_order():
    assert [ls.name for ls in L.TEA_LANDSCAPES] == [
        "smooth_valley",
        "iced_tea",
        "noisy_buses",
        "ratings",
        "picky_drinkers",
    ]
    assert L.get("ratings") is L.ratings
    with pytest.raises(
        ConfigError,
        match="unknown tea landscape 'chai'; choose one of: smooth_valley, iced_tea",
    ):
        L.get("chai")


@pytest.mark.parametrize("landscape", L.TEA_LANDSCAPES, ids=lambda ls: ls.name)
def test_numbers_in_numbers_out(landscape):
    assert isinstance(landscape(42.0), float)
    assert isinstance(landscape.slope(42.0), float)
    grid = np.linspace(0, 100, 12).reshape(3, 4)
    assert landscape(grid).shape == (3, 4) == landscape.slope(grid).shape
    assert landscape(np.array([42.0])).shape == (1,)  # what an optimizer hands in
    assert np.all(np.isfinite(landscape(T)))


@pytest.mark.parametrize(
    "landscape",
    [L.smooth_valley, L.iced_tea, L.noisy_buses, L.picky_drinkers],
    ids=lambda ls: ls.name,
)
def test_slopes_are_the_derivatives(landscape):
    t = np.linspace(0.5, 99.5, 397)
    h = 1e-5
    numeric = (landscape(t + h) - landscape(t - h)) / (2 * h)
    assert np.allclose(landscape.slope(t), numeric, atol=1e-6)


def test_smooth_valley_one_bottom_at_60_steeper_when_hot():
    s = L.smooth_valley(T)
    assert L.smooth_valley.minimum() == (60.0, 0.0)
    assert list(local_minima(s)) == [int(np.argmin(s))]
    assert np.all(np.diff(s, 2) > 0)  # convex
    assert L.smooth_valley(100.0) > L.smooth_valley(20.0)  # 40 C too hot hurts more
    assert L.smooth_valley(20.0) == pytest.approx(4.568, abs=1e-3)


def test_iced_tea_hides_a_deeper_valley_on_the_cold_side():
    s = L.iced_tea(T)
    bottoms = T[local_minima(s)]
    assert len(bottoms) == 2
    iced, hot = bottoms
    assert iced == pytest.approx(4.36, abs=0.01) and hot == pytest.approx(
        60.0, abs=0.01
    )
    assert L.iced_tea(iced) < L.iced_tea(hot) - 1.5
    assert L.iced_tea.minimum()[0] == pytest.approx(iced, abs=0.01)
    between = (T > iced) & (T < hot)
    assert T[between][np.argmax(s[between])] == pytest.approx(
        13.2, abs=0.1
    )  # the ridge


def test_noisy_buses_have_many_dips_and_one_clearly_deepest():
    s = L.noisy_buses(T)
    dips = np.sort(s[local_minima(s)])
    assert len(dips) == 20
    best_t, best_s = L.noisy_buses.minimum()
    assert best_t == pytest.approx(60.78, abs=0.01) and best_s == pytest.approx(dips[0])
    assert dips[1] - dips[0] > 0.3


def test_ratings_are_whole_point_stairs_with_flat_treads():
    s = L.ratings(T)
    assert set(np.unique(s)) == set(range(10))  # ratings 10 down to 1
    assert np.all(L.ratings.slope(T) == 0)
    tread = T[s == 0]
    assert tread.min() == pytest.approx(47.1, abs=0.05)
    assert tread.max() == pytest.approx(72.35, abs=0.05)
    assert L.ratings.minimum() == (pytest.approx(47.1115, abs=1e-3), 0.0)


def test_picky_drinkers_plateaus_give_no_signal():
    s = L.picky_drinkers(T)
    far = np.abs(T - 60) > 12
    # the values there are exactly 9, so a numeric slope is exactly 0; the
    # exact slope is not quite 0 but far too small to move anything
    assert np.all(s[far] == 9.0) and np.all(
        np.abs(L.picky_drinkers.slope(T[far])) < 1e-50
    )
    assert L.picky_drinkers.minimum() == (60.0, 0.0)
    assert np.all(s[np.abs(T - 60) < 3] < 7)
    assert list(local_minima(s)) == [int(np.argmin(s))]


def test_tea_example_prints_the_race_table():
    path = Path(__file__).resolve().parents[1] / "examples" / "tea.py"
    spec = importlib.util.spec_from_file_location("example_tea", path)
    tea = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tea)
    results = tea.race(budget=60)
    text = tea.table(results)
    lines = text.splitlines()
    assert lines[0].startswith("| method | `smooth_valley` | `iced_tea`")
    assert len(lines) == 2 + 8
    for runs in results.values():
        assert len(runs) == len(tea.STARTS)
        assert all(r.evaluations <= 60 for r in runs)
    # the marble never leaves a flat tread or plateau; the grid always finds the best
    for method in ("gradient descent, numeric slope", "gradient descent, exact slope"):
        for name in ("ratings", "picky_drinkers"):
            assert not any(r.reached_target for r in results[(method, name)])
    assert all(
        r.reached_target for r in results[("grid search (exhaustive)", "ratings")]
    )
    assert tea.best_zone(L.ratings) == "47.1-72.4"


def test_docs_show_the_table_the_tea_example_prints():
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location(
        "example_tea", root / "examples/tea.py"
    )
    tea = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tea)
    doc = (root / "docs" / "optimizers.md").read_text(encoding="utf-8")
    assert tea.table(tea.race()) in doc  # rerun examples/tea.py and paste if this fails
