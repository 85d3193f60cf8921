"""The shawarma cook: two output neurons learn his two schedules, day by day.

Four input neurons watch the shawarma place: working in the morning, off in
the morning, working in the evening, off in the evening (1 when seen that
day, else 0). Two output neurons start with random connection strengths
between 0 and 1. Each day:

1. each output's activity is the average strength of its connections from
   the inputs that are on;
2. the more active output is the one that learns today (the other is left
   alone); its error is 1 minus its activity;
3. its strengths take one small gradient-descent step on that error, plus a
   gentle pull towards 0 on the connections from inputs that were off (the
   preference for small weights); strengths stay between 0 and 1.

After a few weeks one output has strong links to "working in the morning"
and "off in the evening" and the other to "off in the morning" and "working
in the evening": one neuron per schedule. Nobody told the network the
labels; it found the two patterns itself.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

DESCRIPTION = "two output neurons learn the shawarma cook's two schedules, unsupervised"
DEFAULT_OUT = "glassnet-shawarma.png"


class Learned(NamedTuple):
    """What :func:`learn_schedules` returns."""

    weights: np.ndarray  # (4, 2) final strengths, inputs x outputs
    history: np.ndarray  # (days + 1, 4, 2) strengths before day 1, after each day
    winners: np.ndarray  # (days,) the output that learned on each day
    errors: np.ndarray  # (days,) its error that day, before the update
    days: np.ndarray  # (days, 4) the observations


def activity(weights, day):
    """Average strength, for each output, of the connections from the inputs that are on.

    ``weights`` (4, outputs) as an array or Tensor, ``day`` (4,) of 0/1;
    returns (outputs,) of the same kind.
    """
    on = np.asarray(day, dtype=np.float32)
    return (on @ weights) / float(on.sum())


def step(weights: np.ndarray, day, lr: float = 0.2, decay: float = 0.5):
    """One day of learning. Returns (new weights, winner, error before the step)."""
    from ..tensor import Tensor

    W = Tensor(np.asarray(weights, dtype=np.float32), requires_grad=True)
    on = np.asarray(day, dtype=np.float32)
    act = activity(W, on)
    winner = int(np.argmax(act.data))
    error = 1.0 - act[winner]
    # The preference for small weights: a cost on the winner's links from inputs that are off.
    loss = error + decay * ((1.0 - on) @ W[:, winner])
    loss.backward()
    new = np.clip(W.data - lr * W.grad, 0.0, 1.0)
    return new, winner, float(error.item())


def learn_schedules(
    n_days: int = 60,
    lr: float = 0.2,
    decay: float = 0.5,
    seed=0,
    weights=None,
    noise: float = 0.0,
) -> Learned:
    """Watch the cook for ``n_days`` (from :func:`glassnet.datasets.shawarma`) and learn.

    ``weights`` (4, 2) are the starting strengths; default uniform in [0, 1)
    from ``seed``.
    """
    from ..datasets import shawarma

    rng = np.random.default_rng(seed)
    W = (rng.random((4, 2)) if weights is None else np.asarray(weights)).astype(
        np.float32
    )
    days = shawarma(n_days=n_days, seed=rng, noise=noise).X
    history, winners, errors = [W.copy()], [], []
    for day in days:
        W, winner, error = step(W, day, lr, decay)
        history.append(W.copy())
        winners.append(winner)
        errors.append(error)
    return Learned(W, np.stack(history), np.array(winners), np.array(errors), days)


def walk_through_weights() -> np.ndarray:
    """Starting strengths that reproduce the talk's first day.

    The upper output has 0.8 from "working in the morning" and 0.4 from
    "off in the evening"; the lower one 0.3 and 0.1. The strengths from the
    other two inputs are not told in the talk; these are our choice.
    """
    return np.array([[0.8, 0.3], [0.5, 0.7], [0.2, 0.6], [0.4, 0.1]], dtype=np.float32)


def schedule_of_each_output(weights) -> list:
    """For each output neuron, the schedule whose day it is most active on."""
    from ..datasets import SHAWARMA_SCHEDULES, shawarma_patterns

    acts = np.stack(
        [activity(weights, p) for p in shawarma_patterns()]
    )  # (schedule, output)
    return [
        SHAWARMA_SCHEDULES[int(np.argmax(acts[:, j]))] for j in range(acts.shape[1])
    ]


def draw(learned: Learned, path=None):
    """The learned network as the talk draws it, and how each strength changed by day."""
    from ..datasets import SHAWARMA_INPUTS
    from ..plot import network
    from ..plot._style import CLASS_COLOURS, finish, new_figure

    names = schedule_of_each_output(learned.weights)
    net = network(
        [learned.weights],
        input_labels=SHAWARMA_INPUTS,
        output_labels=[f"output {j}: {n}" for j, n in enumerate(names)],
        column_labels=["what was seen", "output neurons"],
        label_weights=True,
        title=f"after {len(learned.days)} days: the strengths the two output "
        "neurons learned",
    )
    fig = new_figure(figsize=(8.2, 3.6))
    axes = fig.subplots(1, 2, sharey=True)
    days = np.arange(len(learned.history))
    for j, ax in enumerate(axes):
        for i, label in enumerate(SHAWARMA_INPUTS):
            ax.plot(
                days,
                learned.history[:, i, j],
                color=CLASS_COLOURS[i],
                lw=1.5,
                label=label,
            )
        ax.set_title(f"output {j} ({names[j]})", fontsize=9)
        ax.set_xlabel("day")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("connection strength")
    axes[1].legend(fontsize=7, loc="center right")
    fig.suptitle(
        "each output neuron's strengths, day by day (only the more active output "
        "learns on a day)",
        fontsize=9,
    )
    if path is not None:
        import os

        stem, ext = os.path.splitext(os.fspath(path))
        finish(net, path)
        finish(fig, f"{stem}-days{ext or '.png'}")
    return net, fig


def run(args=None, out=print) -> int:
    from ..datasets import SHAWARMA_INPUTS, SHAWARMA_SCHEDULES, shawarma_patterns

    out(__doc__.strip().splitlines()[0] + "\n")
    W0 = walk_through_weights()
    first = shawarma_patterns()[0]
    act = activity(W0, first)
    W1, winner, error = step(W0, first)
    out("The talk's first day: he works the morning and is off in the evening.")
    out(
        f"  activities: upper output {act[0]:.1f}, lower output {act[1]:.1f}; the upper "
        f"one learns, error {error:.1f}"
    )
    out(
        f"  after one step its activity is {activity(W1, first)[0]:.1f}, error "
        f"{1 - activity(W1, first)[0]:.1f}\n"
    )

    learned = learn_schedules()
    out(f"After {len(learned.days)} days from random strengths:")
    names = schedule_of_each_output(learned.weights)
    out(f"  {'':24s}" + "".join(f"output {j:<10d}" for j in range(2)))
    for i, label in enumerate(SHAWARMA_INPUTS):
        out(
            f"  {label:24s}"
            + "".join(f"{learned.weights[i, j]:<17.2f}" for j in range(2))
        )
    for j, name in enumerate(names):
        out(f"  output {j} stands for the {name}")
    if sorted(names) != sorted(SHAWARMA_SCHEDULES):
        out("  (both outputs took the same schedule this time)")
    from . import figure_path, no_matplotlib

    path = figure_path(args, DEFAULT_OUT)
    if path is None:
        out(no_matplotlib())
        return 0
    draw(learned, path)
    stem, ext = path.rsplit(".", 1) if "." in path else (path, "png")
    out(f"\nfigures: {path}, {stem}-days.{ext}")
    return 0
