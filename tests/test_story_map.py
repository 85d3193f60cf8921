"""docs/seed-facts.md's map of the seed stories agrees with the code it names."""

import importlib
import re
from pathlib import Path

import pytest

from glassnet import demos, tour

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["story", "name", "data", "demo", "tour", "figures", "example", "tests"]


def _rows() -> list:
    text = (ROOT / "docs" / "seed-facts.md").read_text()
    section = text.split("## Where each story lives in the code", 1)[1]
    lines = [ln for ln in section.splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[1:] == COLUMNS[1:] and header[0].startswith("story")
    return [
        dict(zip(COLUMNS, (c.strip() for c in ln.strip().strip("|").split("|"))))
        for ln in lines[1:]
    ]


def _names(cell: str) -> list:
    return re.findall(r"`([^`]+)`", cell)


ROWS = _rows()


def test_every_demo_and_tour_entry_is_in_the_table():
    in_table = {n for r in ROWS for n in _names(r["demo"])}
    assert in_table == set(demos.DEMOS)
    in_table = {n for r in ROWS for n in _names(r["tour"])}
    assert in_table == set(tour.STORIES)


@pytest.mark.parametrize("row", ROWS, ids=[r["name"].strip("`") for r in ROWS])
def test_each_piece_named_in_the_table_exists(row):
    name = _names(row["name"])[0]
    for demo in _names(row["demo"]):
        assert demo in demos.DEMOS
    for entry in _names(row["tour"]):
        assert entry in tour.STORIES
    # The story's own name is its demo's and its tour entry's, where it has them.
    assert set(_names(row["demo"]) + _names(row["tour"])) <= {name, "engine"}
    pytest.importorskip("matplotlib")  # plot.* and demos.*.draw import it lazily
    for dotted in _names(row["data"]) + _names(row["figures"]):
        module, attr = dotted.rsplit(".", 1)
        assert hasattr(importlib.import_module(f"glassnet.{module}"), attr), dotted
    for path in _names(row["example"]):
        assert (ROOT / path).is_file(), path
    for path in _names(row["tests"]):
        assert (ROOT / "tests" / path).is_file(), path
