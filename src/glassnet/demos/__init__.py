"""Runnable seed stories for ``glassnet demo NAME``.

Each demo is a module here with a ``DESCRIPTION`` string and a
``run(args, out=print) -> int`` function; register it in ``DEMOS`` below.

Each story's other pieces (its data function, tour entry, figures, example
and tests) are listed in one table: ``docs/seed-facts.md``, "Where each story
lives in the code" (``tests/test_story_map.py`` keeps it true).
"""

from __future__ import annotations

import importlib
import os

# name -> module (imported only when that demo runs, so `glassnet --help` stays fast)
DEMOS = {
    "digits": "glassnet.demos.digits",
    "engine": "glassnet.demos.engine",
    "four-pixel": "glassnet.demos.four_pixel",
    "shawarma": "glassnet.demos.shawarma",
    "dinner": "glassnet.demos.dinner",
    "childrens-book": "glassnet.demos.childrens_book",
    "x-and-o": "glassnet.demos.x_and_o",
    "catch": "glassnet.demos.catch",
    "tea": "glassnet.demos.tea",
}
DEFAULT = "digits"


def load(name: str):
    """The module of demo ``name``."""
    return importlib.import_module(DEMOS[name])


def figure_path(args, name: str) -> str | None:
    """Where a demo writes its figure ``name``: the ``--out`` path when given,
    else ``name`` in a new temporary folder (the demo prints where), so that
    nothing lands in the current folder unasked. None without matplotlib.
    """
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        return None
    path = getattr(args, "out", None)
    if path:
        return os.fspath(path)
    import tempfile

    return os.path.join(tempfile.mkdtemp(prefix="glassnet-demo-"), name)


def no_matplotlib(what: str = "the figures") -> str:
    """The line a demo prints when it cannot draw."""
    from .._validate import missing_extra

    return "\n" + missing_extra(what, "matplotlib", "plot")
