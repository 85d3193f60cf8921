"""M&Ms per bag: the best single guess, by exhaustive search and by calculus.

Seed 004 counts the M&Ms in two bags (53 and 57), asks for one guess that is
least wrong about every bag, and measures "wrong" with the squared
deviation, L(g) = sum_i (count_i - g)**2. Trying every guess finds the
bottom of that curve; calculus finds it too: the slope
dL/dg = -2 sum_i (count_i - g) is zero exactly when g is the mean count.

With the absolute deviation, L(g) = sum_i |count_i - g|, the slope is
(bags below g) - (bags above g), which is zero when as many bags lie on
each side: at a median. For an even number of bags every guess between the
two middle counts is equally good -- with 53 and 57, every guess from 53 to
57 is off by 4 M&Ms in total.

Run::

    python examples/mm_bags.py
"""

from __future__ import annotations

import sys

import numpy as np

from glassnet.datasets import mm_bags, seed_counts
from glassnet.optim.free import GridSearch, Newton


def squared_deviation(counts):
    """L(g) = sum of (count - g)**2 over the bags, as a function of the guess."""
    counts = np.asarray(counts, dtype=np.float64)
    return lambda g: float(((counts - g[0]) ** 2).sum())


def absolute_deviation(counts):
    """L(g) = sum of |count - g| over the bags."""
    counts = np.asarray(counts, dtype=np.float64)
    return lambda g: float(np.abs(counts - g[0]).sum())


def median_interval(counts) -> tuple[float, float]:
    """Every guess in [low, high] minimises the absolute deviation.

    For an odd number of bags low == high, the middle count; for an even
    number they are the two middle counts.
    """
    s = np.sort(np.asarray(counts, dtype=np.float64))
    m = len(s)
    return float(s[(m - 1) // 2]), float(s[m // 2])


def exhaustive(loss, counts, low: float = 40.0, high: float = 70.0):
    """Grid search over [low, high] in steps of 1 / (number of bags).

    The mean of whole counts is a multiple of 1/m, so this grid holds it
    exactly, and holds the middle counts too: the grid can find the exact
    answer, not just one near it.
    """
    m = len(counts)
    points = int(round((high - low) * m)) + 1
    return GridSearch(points=points, budget=points).minimize(
        loss, bounds=([low], [high])
    )


def slope_and_curvature(counts):
    """Calculus of the squared deviation: dL/dg = -2 sum(count - g), d2L/dg2 = 2m."""
    counts = np.asarray(counts, dtype=np.float64)
    slope = lambda g: np.array([-2.0 * (counts - g[0]).sum()])  # noqa: E731
    curvature = lambda g: np.array([[2.0 * len(counts)]])  # noqa: E731
    return slope, curvature


def calculus(counts, start: float = 40.0):
    """Newton's method from ``start`` with the exact slope and curvature.

    A sum of squares is a parabola: its slope is a straight line, so one
    curvature step lands exactly where the slope is zero, at the mean.
    """
    slope, curvature = slope_and_curvature(counts)
    newton = Newton(gradient=slope, hessian=curvature, radius=100.0)
    return newton.minimize(squared_deviation(counts), [start])


def study(counts, label: str) -> dict:
    """Every answer for one set of bags, printed and returned."""
    counts = np.asarray(counts)
    mean = counts.mean()
    low, high = median_interval(counts)
    sq, ab = squared_deviation(counts), absolute_deviation(counts)
    grid_sq, newton_sq = exhaustive(sq, counts), calculus(counts)
    grid_ab = exhaustive(ab, counts)
    inside = np.linspace(low, high, 5)
    flat = [ab([g]) for g in inside]
    if len(counts) <= 12:
        print(f"## {label}: {len(counts)} bags, counts {np.sort(counts).tolist()}")
    else:
        print(f"## {label}: {len(counts)} bags, from {counts.min()} to {counts.max()}")

    def row(loss: str, what: str, answer: str) -> None:
        print(f"{loss:<20}{what:<34}{answer}")

    row("squared deviation:", "mean count (calculus, by hand)", f"{mean:.4f}")
    row(
        "",
        "exhaustive search",
        f"{grid_sq.x[0]:.4f}  ({grid_sq.evaluations} guesses from 40 to 70)",
    )
    row(
        "",
        "one Newton step from 40",
        f"{newton_sq.path[1, 0]:.4f}  (exact slope and curvature)",
    )
    row("absolute deviation:", "median interval", f"[{low:g}, {high:g}]")
    row("", "exhaustive search", f"{grid_ab.x[0]:.4f}  (loss {grid_ab.loss:g})")
    if high > low:
        row(
            "",
            "flat across the interval",
            ", ".join(f"L({g:g}) = {v:g}" for g, v in zip(inside, flat)),
        )
    row(
        "",
        "one M&M outside it",
        f"L({low - 1:g}) = {ab([low - 1]):g}, L({high + 1:g}) = {ab([high + 1]):g}",
    )
    print()
    return {
        "mean": mean,
        "median_interval": (low, high),
        "grid_squared": grid_sq,
        "newton_squared": newton_sq,
        "grid_absolute": grid_ab,
        "flat": flat,
    }


def main() -> dict:
    seed = study(seed_counts(), "The two bags of the talk")
    # seed 9: forty bags whose mean is 55.5, as in the talk, and whose two
    # middle counts differ, so the absolute deviation has a whole flat bottom
    more = study(mm_bags(n_bags=40, seed=9), "Forty bags (glassnet.datasets.mm_bags)")
    odd = study(mm_bags(n_bags=41, seed=1), "An odd number of bags")
    return {"seed": seed, "more": more, "odd": odd}


if __name__ == "__main__":
    main()
    sys.exit(0)
