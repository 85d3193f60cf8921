"""The shawarma cook: two output neurons learn his two schedules from what they see.

Seed 004's "deep learning demystified" talk watches a shawarma cook who
works either mornings or evenings. Four inputs (working / off, morning /
evening) feed two output neurons. Each day the more active output -- the
average strength of its links from what was seen -- takes a small
gradient-descent step towards that day, and links from what was not seen
shrink. No labels are used. This script replays the talk's first day,
then 60 days from random strengths, and draws the result as the talk
draws it: inputs on the left, outputs on the right, line width = strength.

Run::

    python examples/shawarma.py            # writes shawarma.png, shawarma-days.png
    python examples/shawarma.py --days 20 --seed 3
"""

from __future__ import annotations

import argparse
import sys

from glassnet.datasets import SHAWARMA_INPUTS, shawarma_patterns
from glassnet.demos import shawarma as sh


def first_day() -> dict:
    """The talk's first day, from the strengths it names."""
    W0 = sh.walk_through_weights()
    day = shawarma_patterns()[0]  # working in the morning, off in the evening
    before = sh.activity(W0, day)
    W1, winner, error = sh.step(W0, day)
    after = sh.activity(W1, day)[winner]
    return {
        "activities": before,
        "winner": winner,
        "error": error,
        "activity_after": float(after),
        "error_after": float(1 - after),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="shawarma.png")
    parser.add_argument("--no-figures", action="store_true")
    args = parser.parse_args(argv)

    day1 = first_day()
    print(
        f"Day 1: activities {day1['activities'][0]:.1f} and {day1['activities'][1]:.1f}; "
        f"output {day1['winner']} learns; error {day1['error']:.1f} -> "
        f"{day1['error_after']:.1f} after one step"
    )

    learned = sh.learn_schedules(n_days=args.days, seed=args.seed)
    names = sh.schedule_of_each_output(learned.weights)
    print(f"\nStrengths after {args.days} days:")
    for i, label in enumerate(SHAWARMA_INPUTS):
        print(f"  {label:24s}" + "  ".join(f"{v:5.2f}" for v in learned.weights[i]))
    for j, name in enumerate(names):
        print(f"  output {j}: {name}")
    if not args.no_figures:
        try:
            sh.draw(learned, args.out)
            print(f"\nfigures: {args.out} and its -days companion")
        except ImportError:
            print(
                "\n(no figures: matplotlib is missing; pip install -e '.[plot]' in a glassnet checkout)"
            )
    return {"day1": day1, "learned": learned, "names": names}


if __name__ == "__main__":
    main()
    sys.exit(0)
