"""Tea temperature: every way of finding the best cup, on five tea landscapes.

Seed 004 compares ways to find the bottom of a loss curve with tea: walk
everywhere (exhaustive search), roll downhill like a marble (gradient
descent), use the curvature, or jump around a little at random (simulated
annealing, genetic algorithms). This demo runs each of them from the same
eight starting temperatures on each landscape of :mod:`glassnet.landscapes`
and prints, as a Markdown table, how often each reached the best cup and how
many cups it brewed. With matplotlib installed it also draws the path each
method took from one start.

Run it as ``glassnet demo tea`` (the figure goes to a new temporary folder,
or to ``--out``) or ``python examples/tea.py`` (with ``--budget``, ``--lr``).

Rules of the race, the same for every method:

* a run may brew at most ``--budget`` cups (evaluations); every cup counts,
  including the extra cups that estimate a slope or a curvature;
* a run succeeds when it brews a cup within 0.1 points (suffering
  runs from about -2 to 10) of the best cup the landscape has; it stops there;
* the settings of each method were chosen once, from the scales of the
  problem (temperatures 0-100 C, suffering -2 to 10) and a look at the smooth
  valley, and are used unchanged on all five landscapes;
* the random methods use seed i for the run from the i-th start.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import landscapes
from ..optim.free import (
    CoordinateNudge,
    GeneticAlgorithm,
    GradientDescent,
    GridSearch,
    Newton,
    RandomSearch,
    SimulatedAnnealing,
)

STARTS = (5.0, 15.0, 25.0, 35.0, 45.0, 75.0, 85.0, 95.0)
TOLERANCE = 0.1  # a tenth of a point on a ten-point scale: no drinker can tell
FIGURE_START = 85.0


def make_methods(landscape, budget: int, seed: int, lr: float) -> dict:
    """Every method, set up for one run on ``landscape``."""
    rules = {
        "budget": budget,
        "seed": seed,
        "target_loss": landscape.minimum()[1] + TOLERANCE,
    }
    return {
        "gradient descent, numeric slope": GradientDescent(lr=lr, **rules),
        "gradient descent, exact slope": GradientDescent(
            lr=lr, gradient=landscape.slope, **rules
        ),
        "Newton (curvature)": Newton(radius=10.0, **rules),
        "coordinate nudge": CoordinateNudge(step=8.0, min_step=0.01, **rules),
        "random search": RandomSearch(**rules),
        "grid search (exhaustive)": GridSearch(**rules),
        "simulated annealing": SimulatedAnnealing(
            step=20.0, temperature=5.0, final_temperature=0.01, **rules
        ),
        "genetic algorithm": GeneticAlgorithm(
            population=10, mutation_scale=10.0, **rules
        ),
    }


def race(budget: int = 200, lr: float = 20.0) -> dict:
    """{(method, landscape name): [SearchResult per start]} for every pair."""
    results: dict = {}
    for landscape in landscapes.TEA_LANDSCAPES:
        for i, start in enumerate(STARTS):
            for name, method in make_methods(landscape, budget, i, lr).items():
                result = method.minimize(landscape, [start], bounds=landscape.bounds)
                results.setdefault((name, landscape.name), []).append(result)
    return results


def best_zone(landscape) -> str:
    """The temperatures whose cup counts as the best, e.g. '54.0-66.1'."""
    t = np.linspace(*landscape.bounds, 100_001)
    good = t[landscape(t) <= landscape.minimum()[1] + TOLERANCE]
    return f"{good.min():.1f}-{good.max():.1f}"


def table(results: dict) -> str:
    """Markdown: one row per method, one column per landscape, and the total."""
    names = [ls.name for ls in landscapes.TEA_LANDSCAPES]
    methods = list(dict.fromkeys(method for method, _ in results))
    lines = [
        "| method | " + " | ".join(f"`{n}`" for n in names) + " | all five |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for method in methods:
        cells, every = [], []
        for n in names:
            runs = results[(method, n)]
            every += runs
            wins = sum(r.reached_target for r in runs)
            cells.append(
                f"{wins}/{len(runs)} ({np.mean([r.evaluations for r in runs]):.0f})"
            )
        wins = sum(r.reached_target for r in every)
        cells.append(
            f"{wins}/{len(every)} ({np.mean([r.evaluations for r in every]):.0f})"
        )
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_paths(results: dict, path: str, start: float = FIGURE_START) -> str:
    """Draw each method's path from ``start`` on each landscape into ``path``."""
    from ..plot._style import finish, new_figure

    k = STARTS.index(start)
    names = list(dict.fromkeys(method for method, _ in results))
    scapes = landscapes.TEA_LANDSCAPES
    fig = new_figure(figsize=(3.3 * len(scapes), 2.1 * len(names)), layout=None)
    axes = fig.subplots(len(names), len(scapes), sharex=True, squeeze=False)
    t = np.linspace(0, 100, 1001)
    for col, ls in enumerate(scapes):
        curve = ls(t)
        best_s = ls.minimum()[1]
        for row, method in enumerate(names):
            ax = axes[row, col]
            r = results[(method, ls.name)][k]
            ax.fill_between(
                t,
                0,
                1,
                where=curve <= best_s + TOLERANCE,
                color="tab:green",
                alpha=0.18,
                lw=0,
                transform=ax.get_xaxis_transform(),
                zorder=0,
            )
            ax.plot(t, curve, color="0.55", lw=1.2, zorder=1)
            xs, ys = r.path[:, 0], r.path_losses
            ax.plot(xs, ys, color="tab:blue", lw=0.6, alpha=0.5, zorder=2)
            ax.scatter(xs, ys, c=np.arange(len(xs)), cmap="viridis", s=14, zorder=3)
            ax.scatter(
                [start],
                [ls(start)],
                facecolors="none",
                edgecolors="black",
                s=60,
                lw=1.2,
                zorder=4,
            )
            mark = "tab:green" if r.reached_target else "tab:red"
            ax.scatter(
                r.x,
                [r.loss],
                marker="*",
                s=140,
                color=mark,
                edgecolors="black",
                lw=0.5,
                zorder=5,
            )
            verdict = {
                "target_loss": "found the best cup",
                "converged": "missed: stuck",
                "budget": "missed: out of cups",
            }
            ax.set_title(
                f"{verdict.get(r.stop_reason, r.stop_reason)}, {r.evaluations} cups",
                fontsize=8.5,
                color=mark,
            )
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.annotate(
                    ls.name,
                    xy=(0.5, 1.28),
                    xycoords="axes fraction",
                    ha="center",
                    fontsize=11,
                    weight="bold",
                )
            if col == 0:
                ax.set_ylabel(
                    method.replace(", ", ",\n").replace(" (", "\n("), fontsize=8.5
                )
            if row == len(names) - 1:
                ax.set_xlabel("tea temperature (C)", fontsize=8)
    fig.suptitle(
        f"Where each method went from a start at {start:g} C (open circle). Grey: "
        "suffering, lower is better; green band: temperatures that count as the best "
        "cup.\nDots: the points it accepted, purple first, yellow last; star: best cup "
        "it found. Probes for slopes and curvature are counted but not drawn.",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.965))
    finish(fig, path, dpi=90)
    return path


DESCRIPTION = "eight ways to find the best cup of tea, raced on five tea landscapes"


def run(args=None, out=print, budget: int = 200, lr: float = 20.0) -> int:
    """``glassnet demo tea``: the race table, and the figure of every path."""
    from . import figure_path, no_matplotlib

    results = race(budget, lr)
    out(
        f"Success (runs that reached the best cup, of {len(STARTS)} starts) and, in "
        f"brackets, mean cups brewed per run; budget {budget} cups.\n"
    )
    out(table(results))
    out(
        f"\nStarts (C): {', '.join(f'{s:g}' for s in STARTS)}. A run succeeds "
        "when it brews a cup in the best zone (C): "
        + ", ".join(f"{ls.name} {best_zone(ls)}" for ls in landscapes.TEA_LANDSCAPES)
        + "."
    )
    figure = getattr(args, "figure", None)  # examples/tea.py's --figure
    if figure == "none":
        return 0
    path = figure_path(
        SimpleNamespace(out=figure or getattr(args, "out", None)), "glassnet-tea.png"
    )
    if path is None:
        out(no_matplotlib("the figure"))
        return 0
    out(f"\nPaths drawn in {plot_paths(results, path)}")
    return 0
