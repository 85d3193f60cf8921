"""Runnable seed stories for ``glassnet demo NAME``.

Each demo is a module here with a ``DESCRIPTION`` string and a
``run(args, out=print) -> int`` function; register it in ``DEMOS`` below.
"""

from __future__ import annotations

import importlib

# name -> module (imported only when that demo runs, so `glassnet --help` stays fast)
DEMOS = {
    "digits": "glassnet.demos.digits",
    "engine": "glassnet.demos.engine",
    "dinner": "glassnet.demos.dinner",
    "childrens-book": "glassnet.demos.childrens_book",
}
DEFAULT = "digits"


def load(name: str):
    """The module of demo ``name``."""
    return importlib.import_module(DEMOS[name])
