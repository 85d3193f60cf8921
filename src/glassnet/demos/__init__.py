"""Runnable seed stories for ``glassnet demo NAME``.

Each demo is a module here with a ``DESCRIPTION`` string and a
``run(args, out=print) -> int`` function; register it in ``DEMOS`` below.

Each story's other pieces (its data function, tour entry, figures, example
and tests) are listed in one table: ``docs/seed-facts.md``, "Where each story
lives in the code" (``tests/test_story_map.py`` keeps it true).
"""

from __future__ import annotations

import importlib

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
}
DEFAULT = "digits"


def load(name: str):
    """The module of demo ``name``."""
    return importlib.import_module(DEMOS[name])
