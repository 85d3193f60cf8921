"""Demos that draw write their figures only where asked: ``--out``, or a new
temporary folder whose path they print; never the current folder unasked."""

import os
import tempfile

import pytest

from glassnet import cli

pytest.importorskip("matplotlib")

DRAWING = ["four-pixel", "shawarma", "x-and-o", "tea"]
DEFAULT_NAMES = {
    "four-pixel": "glassnet-four-pixel.png",
    "shawarma": "glassnet-shawarma.png",
    "x-and-o": "glassnet-x-and-o.png",
    "tea": "glassnet-tea.png",
}


@pytest.mark.parametrize("name", DRAWING)
def test_a_demo_leaves_the_current_folder_alone(name, tmp_path, monkeypatch, capsys):
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir(), temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    assert cli.main(["demo", name]) == 0
    assert list(work.iterdir()) == []
    (folder,) = temp.iterdir()  # one new folder, named in the output
    written = sorted(os.listdir(folder))
    assert written and all(f.endswith(".png") for f in written)
    out = capsys.readouterr().out
    assert str(folder / DEFAULT_NAMES[name]) in out


def test_out_says_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-temp"))
    assert cli.main(["demo", "shawarma", "--out", str(tmp_path / "s.png")]) == 0
    assert sorted(os.listdir(tmp_path)) == ["s-days.png", "s.png"]


def test_the_tour_draws_the_tea_race_of_every_method(tmp_path):
    from glassnet import tour

    items = tour.story_tea(str(tmp_path))
    race = next(i for i in items if i.file == "tea-race.png")
    assert (tmp_path / "tea-race.png").stat().st_size > 10_000
    assert race.caption.count(" of 40") == 8  # eight methods, 8 starts x 5 landscapes
    assert "tea" in tour.STORIES and "dinner" in tour.STORIES
