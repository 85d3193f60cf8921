"""The notebooks in notebooks/: stored without outputs, and each runs top to bottom
in a real Jupyter kernel (nbclient), showing its figures with no set-up.

A code cell that ends with a figure (a ``gn.plot.`` call, or ``fig``) must
display a PNG; the first-hour notebook must show one progress display for
its fit, and HTML for the History, Trace and ReceptiveField it ends cells
with.
"""

import json
import os
import pathlib

import pytest

NOTEBOOKS = sorted(
    (pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")
)
STORIES = [
    "four-pixel-camera",
    "x-and-o",
    "digits",
    "dinner",
    "childrens-book",
    "mm-bags",
    "tea",
]


def test_there_is_a_first_hour_notebook_and_one_per_seed_story():
    names = [p.stem.split("-", 1)[1] for p in NOTEBOOKS]
    assert names == ["first-hour", *STORIES]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_stored_without_outputs(path):
    book = json.loads(path.read_text())
    for cell in book["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name}: clear the outputs before committing "
                "(jupyter nbconvert --clear-output --inplace)"
            )


def ends_with_a_figure(source: str) -> bool:
    lines = [ln for ln in source.splitlines() if ln.strip()]
    last_statement = next(ln for ln in reversed(lines) if not ln.startswith((" ", ")")))
    return last_statement.startswith("gn.plot.") or last_statement.strip() == "fig"


def outputs_of(cell, mime):
    return [o for o in cell.get("outputs", []) if mime in o.get("data", {})]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    import glassnet

    # the kernel imports this glassnet, also when it comes from PYTHONPATH=src
    source = str(pathlib.Path(glassnet.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [source, *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    done = {}

    def run(path):
        if path not in done:
            book = nbformat.read(path, as_version=4)
            folder = tmp_path_factory.mktemp(path.stem)  # a notebook's files go here
            nbclient.NotebookClient(
                book,
                timeout=120,
                kernel_name="python3",
                resources={"metadata": {"path": str(folder)}},
            ).execute(env=env)
            done[path] = (book, folder)
        return done[path]

    return run


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_shows_its_figures(executed, path):
    book, folder = executed(path)
    code = [c for c in book.cells if c.cell_type == "code"]
    for cell in code:
        assert not [o for o in cell.outputs if o.output_type == "error"]
        assert not [o for o in cell.outputs if o.get("name") == "stderr"], (
            f"{path.name}: a warning or error was printed: {cell.outputs}"
        )
        if ends_with_a_figure(cell.source):
            assert outputs_of(cell, "image/png"), (
                f"{path.name}: no figure for\n{cell.source}"
            )
    assert any(outputs_of(c, "image/png") for c in code)
    assert list(folder.iterdir()) == []  # nothing written where the notebook runs


def test_first_hour_shows_one_progress_display_and_html_objects(executed):
    book, _ = executed(NOTEBOOKS[0])
    code = [c for c in book.cells if c.cell_type == "code"]
    fit_cell = next(c for c in code if "gn.fit(" in c.source)
    progress = [o for o in fit_cell.outputs if o.output_type == "display_data"]
    assert len(progress) == 1  # updated in place, not one bar per epoch
    text = progress[0]["data"]["text/plain"]
    assert [ln.split("  ")[0] for ln in text.splitlines()[:15]] == [
        f"epoch {i}/15" for i in range(1, 16)
    ]
    assert "fit: 15 epochs in" in progress[0]["data"]["text/html"]
    results = {
        c.source.splitlines()[-1]: [
            o for o in outputs_of(c, "text/html") if o.output_type == "execute_result"
        ]
        for c in code
    }
    for name, title in (
        ("history", "History"),
        ("t", "Trace"),
        ("field", "ReceptiveField"),
    ):
        assert f"<b>{title}</b>" in results[name][0]["data"]["text/html"]
