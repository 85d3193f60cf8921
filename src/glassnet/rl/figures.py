"""Figures of learning from outcomes: returns over training, Q-values, a value table.

Needs matplotlib (``pip install 'glassnet[plot]'``), imported when a figure
is drawn. Each function returns a matplotlib Figure and saves it when given
``path=`` (PNG or SVG, written atomically). Colours as in every glassnet
figure (:mod:`glassnet.plot._style`).
"""

from __future__ import annotations

import numpy as np

from ..plot._style import NEGATIVE, POSITIVE, finish, new_figure, no_ticks

__all__ = ["gridworld", "q_values", "returns_curve"]


def moving_average(values, window: int) -> np.ndarray:
    """The mean of each value and up to ``window − 1`` before it (same length)."""
    values = np.asarray(values, float)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def returns_curve(
    log,
    *,
    window: int = 50,
    evaluations=None,
    references=(),
    threshold=None,
    title=None,
    path=None,
):
    """Each episode's return against environment steps, its moving mean, and ε.

    Parameters
    ----------
    log : EpisodeLog (``returns``, ``steps``, ``epsilon``)
    window : int
        Episodes in the moving mean.
    evaluations : (steps, mean returns), optional
        Greedy evaluations during training, drawn as points.
    references : list of (steps, return, label)
        Published results to compare with, drawn as stars.
    threshold : (value, label), optional
        A horizontal line, e.g. Gymnasium's "solved" return.
    """
    steps, returns = np.asarray(log["steps"]), np.asarray(log["returns"])
    fig = new_figure(figsize=(8.0, 4.4))
    ax = fig.add_subplot()
    ax.plot(
        steps,
        returns,
        ".",
        ms=2.5,
        color="#999999",
        label="return of each training episode (ε-greedy)",
    )
    ax.plot(
        steps,
        moving_average(returns, window),
        color=POSITIVE,
        lw=2,
        label=f"mean of the last {window} episodes",
    )
    if evaluations is not None and len(evaluations[0]):
        ax.plot(
            *evaluations,
            "o-",
            color="#009E73",
            ms=4,
            lw=1,
            label="greedy evaluation (ε = 0)",
        )
    if threshold is not None:
        ax.axhline(threshold[0], color="black", ls="--", lw=1, label=threshold[1])
    for x, y, label in references:
        ax.plot([x], [y], "*", ms=14, color="#E69F00", mec="black", label=label)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return (sum of rewards in an episode)")
    eps_ax = ax.twinx()
    eps_ax.plot(steps, log["epsilon"], color=NEGATIVE, lw=1, alpha=0.7)
    eps_ax.set_ylim(0, 1.05)
    eps_ax.set_ylabel("ε: share of random actions", color=NEGATIVE)
    eps_ax.tick_params(axis="y", colors=NEGATIVE)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.92), fontsize=8, framealpha=0.9)
    ax.set_title(title or "return over training", fontsize=10)
    return finish(fig, path)


def q_values(screens, q, action_names, *, labels=None, title=None, path=None):
    """A few screens, each above its Q-values, a bar per action, the chosen filled.

    Parameters
    ----------
    screens : array (n, 1, H, W) or (n, H, W), pixels in [0, 1]
    q : array (n, n_actions), the network's Q-values for them
    action_names : list of str
    labels : list of str, optional
        One per screen (default "screen 1", "screen 2", ...).
    """
    screens = np.asarray(screens)
    screens = screens.reshape(len(screens), *screens.shape[-2:])
    q = np.asarray(q, float)
    n, n_actions = q.shape
    fig = new_figure(figsize=(2.0 * n + 0.4, 4.6))
    grid = fig.add_gridspec(2, n, height_ratios=[1.1, 1])
    low, high = min(q.min(), 0.0), max(q.max(), 0.0)
    pad = 0.1 * (high - low or 1.0)
    for i in range(n):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(screens[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(np.arange(-0.5, screens.shape[-1]), minor=True)
        ax.set_yticks(np.arange(-0.5, screens.shape[-2]), minor=True)
        ax.grid(which="minor", color="#DDDDDD", lw=0.5)
        ax.tick_params(which="both", length=0)
        no_ticks(ax)
        best = int(q[i].argmax())
        label = labels[i] if labels else f"screen {i + 1}"
        ax.set_title(f"{label}: → {action_names[best]}", fontsize=9)
        ax = fig.add_subplot(grid[1, i])
        colours = [POSITIVE if a == best else "white" for a in range(n_actions)]
        ax.bar(range(n_actions), q[i], color=colours, edgecolor=POSITIVE)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_ylim(low - pad, high + pad)
        ax.set_xticks(range(n_actions), action_names, fontsize=8)
        if i == 0:
            ax.set_ylabel("Q-value: expected return", fontsize=8)
        else:
            ax.set_yticklabels([])
    fig.suptitle(title or "what the network expects from each action", fontsize=10)
    return finish(fig, path)


def gridworld(env, table, *, title=None, path=None):
    """A GridWorld's values V(s) = max_a Q(s, a) as colours, and its policy as arrows.

    ``table`` is the (n_states, 4) Q-table; walls are drawn dark grey, the
    goal and the pit with their letters and rewards.
    """
    table = np.asarray(table, float)
    values = table.max(axis=1).reshape(env.height, env.width)
    free = np.zeros(env.height * env.width, bool)
    free[env.free] = True
    free = free.reshape(values.shape)
    fig = new_figure(figsize=(0.95 * env.width + 1.6, 0.95 * env.height + 1.0))
    ax = fig.add_subplot()
    lim = max(float(np.abs(values[free]).max()), 1e-9)
    from ..plot._style import signed_cmap

    shown = ax.imshow(
        np.where(free, values, np.nan),
        cmap=signed_cmap(),
        vmin=-lim,
        vmax=lim,
        interpolation="nearest",
    )
    moves = ((0, -1), (1, 0), (0, 1), (-1, 0))  # up right down left as (dx, dy)
    for (r, c), kind in np.ndenumerate(env.cells):
        if kind == "#":
            ax.add_patch(_rect(ax, r, c, "#444444"))
        elif kind in "GX":
            ax.add_patch(_rect(ax, r, c, POSITIVE if kind == "G" else NEGATIVE))
            ax.text(
                c,
                r,
                f"{kind}\n{'+1' if kind == 'G' else '−1'}",
                ha="center",
                va="center",
                color="white",
                fontsize=10,
                weight="bold",
            )
        else:
            s = r * env.width + c
            dx, dy = moves[int(table[s].argmax())]
            ax.annotate(
                "",
                xy=(c + 0.32 * dx, r + 0.32 * dy - 0.12),
                xytext=(c - 0.32 * dx, r - 0.32 * dy - 0.12),
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.4},
            )
            ax.text(
                c, r + 0.3, f"{values[r, c]:.2f}", ha="center", va="center", fontsize=7
            )
            if kind == "S":
                ax.text(
                    c - 0.42,
                    r - 0.42,
                    "S",
                    ha="left",
                    va="top",
                    fontsize=8,
                    weight="bold",
                )
    no_ticks(ax)
    bar = fig.colorbar(shown, ax=ax, shrink=0.8)
    bar.set_label("V(s) = max over actions of Q(s, a)", fontsize=8)
    ax.set_title(
        title or "Q-learning: value of each cell and the best move", fontsize=10
    )
    return finish(fig, path)


def _rect(ax, r, c, colour):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), 1, 1, color=colour)
