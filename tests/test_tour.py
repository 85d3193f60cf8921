"""glassnet tour: every story runs, writes its figures and an index.html; missing parts
are skipped with a note, failures reported."""

import html
import re
import time

import pytest

pytest.importorskip("matplotlib")

from glassnet import cli, tour  # noqa: E402
from glassnet.errors import ConfigError  # noqa: E402


@pytest.fixture(scope="module")
def full_tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    start = time.perf_counter()
    results = tour.run_tour(str(out), log=lambda *a: None)
    return out, results, time.perf_counter() - start


def test_every_story_runs_and_is_on_the_page(full_tour):
    out, results, seconds = full_tour
    assert seconds < 180
    assert [r.status for r in results] == ["ok"] * len(tour.STORIES), [
        (r.name, r.note) for r in results
    ]
    page = (out / "index.html").read_text(encoding="utf-8")
    for (title, _), result in zip(tour.STORIES.values(), results):
        assert result.name == title
        assert html.escape(title) in page
        assert result.items, title
        for item in result.items:
            assert len(item.caption) > 40  # a sentence or more on what to look at
            if item.file:
                assert (out / item.file).stat().st_size > 5000
                assert f"src='{item.file}'" in page
    shown = re.findall(r"<img src='([^']+)'", page)
    assert len(shown) == len(set(shown)) >= 25


def test_the_walk_through_and_the_summary_are_printed_on_the_page(full_tour):
    out, results, _ = full_tour
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "squashed (tanh), −0.96" in page
    assert "Total params: 2,410" in page


def test_the_childrens_book_shows_the_long_books_table_and_memories(full_tour):
    _, results, _ = full_tour
    story = results[list(tour.STORIES).index("childrens-book")]
    table, memory, gates = story.items
    first = table.text.split("\n\n")[0]  # the shares; below it, memory by distance
    rows = {line.split()[0]: line.split() for line in first.splitlines()}
    assert "(seed 0)" in table.text and "no" in rows  # 'no memory'
    rnn, lstm = rows["RNN"], rows["LSTM"]
    # the caption's slips are the table's
    assert f"RNN {rnn[2]}, LSTM {lstm[2]}" in table.caption
    assert "examples/childrens_book_memory.py --seeds 10" in table.caption
    assert float(rnn[2].rstrip("%")) > 4 * float(lstm[2].rstrip("%"))
    assert memory.file == "childrens-book-memory.png" and gates.file == "lstm-gates.png"


def _quick(out):
    return [tour.Item("a story", "a caption that says what to look at in this figure.")]


def test_a_missing_module_is_skipped_with_a_note_and_a_failure_reported(
    tmp_path, monkeypatch
):
    def needs_missing(out):
        from glassnet.nn import fancy_layer  # noqa: F401  (does not exist)

    def breaks(out):
        raise ValueError("boom")

    def needs_other_package(out):
        import no_such_package_anywhere  # noqa: F401

    monkeypatch.setattr(
        tour,
        "STORIES",
        {
            "fine": ("Fine", _quick),
            "fancy": ("Fancy", needs_missing),
            "broken": ("Broken", breaks),
        },
    )
    results = tour.run_tour(str(tmp_path), log=lambda *a: None)
    assert [r.status for r in results] == ["ok", "skipped", "failed"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "skipped: this copy of glassnet does not have" in page
    assert "failed: ValueError: boom" in page
    assert tour.main(type("Args", (), {"out": str(tmp_path), "only": None})()) == 1

    # a missing third-party package is not a missing story: it surfaces
    monkeypatch.setattr(tour, "STORIES", {"other": ("Other", needs_other_package)})
    with pytest.raises(ImportError):
        tour.run_tour(str(tmp_path), log=lambda *a: None)


def test_command_line_runs_chosen_stories(tmp_path, capsys):
    assert (
        cli.main(["tour", "--out", str(tmp_path), "--only", "shawarma", "mm-bags"]) == 0
    )
    assert "2 of 2 stories" in capsys.readouterr().out
    assert (tmp_path / "index.html").exists() and (tmp_path / "shawarma.png").exists()
    with pytest.raises(ConfigError, match="no story 'nope'"):
        tour.run_tour(str(tmp_path), ["nope"], log=lambda *a: None)


def _example(name):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_story_examples_run(tmp_path, capsys):
    four = _example("four_pixel").main(["--no-figures", "--epochs", "150"])
    assert four["trained_right"] == 8
    assert four["pairs"][3] == (["upper right"], ["lower right"])
    shawarma = _example("shawarma").main(["--out", str(tmp_path / "s.png")])
    assert shawarma["day1"]["error"] == pytest.approx(0.4)
    assert shawarma["day1"]["error_after"] == pytest.approx(0.3)
    assert sorted(shawarma["names"]) == ["evening shift", "morning shift"]
    assert (tmp_path / "s.png").exists() and (tmp_path / "s-days.png").exists()
    facts = _example("what_networks_learn").main(["--no-figures"])
    assert facts["linear, 100 hidden"]["max_curvature"] < 0.1  # still a straight line
    assert 0 <= facts["logistic"]["min"] and facts["logistic"]["max"] <= 1
    wide, deep = facts["deep_vs_wide"].values()
    assert deep["hidden"] * 5 == wide["hidden"] and max(wide["mse"], deep["mse"]) < 1e-3
    acc = facts["classifiers"]
    assert acc["two-layer tanh, 16 hidden"] > acc["one neuron (logistic regression)"]
    assert "horizontal" in capsys.readouterr().out
