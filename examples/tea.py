"""Tea temperature: every way of finding the best cup, on five tea landscapes.

The race itself lives in :mod:`glassnet.demos.tea` (also ``glassnet demo
tea``); this script runs it with its own settings.

Run::

    python examples/tea.py                      # table, and tea_paths.png if it can
    python examples/tea.py --budget 100 --figure none
"""

from __future__ import annotations

import argparse
import sys

from glassnet.demos import tea
from glassnet.demos.tea import (  # noqa: F401  (the race's parts, for the tests)
    FIGURE_START,
    STARTS,
    TOLERANCE,
    best_zone,
    make_methods,
    plot_paths,
    race,
    table,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=200, help="cups per run (200)")
    parser.add_argument(
        "--lr", type=float, default=20.0, help="learning rate of gradient descent (20)"
    )
    parser.add_argument(
        "--figure",
        default="tea_paths.png",
        help="where to draw the paths ('none' to skip)",
    )
    args = parser.parse_args(argv)
    return tea.run(args, budget=args.budget, lr=args.lr)


if __name__ == "__main__":
    sys.exit(main())
