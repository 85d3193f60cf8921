"""Seven gradient optimizers, and four learning-rate schedules, side by side.

Left: each optimizer rolls from the same start across a curved valley,
L(x, y) = (1 − x)² + 10·(y − x²)² (a gentle Rosenbrock function, lowest at
(1, 1)), for 150 steps. Middle: the same optimizers train the digits MLP
(64 → 32 → 10, sigmoid hidden layer, a stratified quarter held back, seed 0)
for 20 epochs; the curve is the training loss per epoch. Right: the rate each
schedule sets, per batch, over the same run's 20 × 22 = 440 batches (the
plateau rule reads a made-up loss curve that flattens after epoch 5).

Every optimizer gets the learning rate commonly used with it, not a tuned
one: the point is the character of each rule, not a league table.

Run::

    python examples/optimizers_compare.py          # writes docs/img/optimizers-compare.png
"""

from __future__ import annotations

import sys

import numpy as np

import glassnet as gn
from glassnet import nn, optim
from glassnet.data.transforms import train_test_split
from glassnet.datasets import digits
from glassnet.train import evaluate, fit

#: name -> (optimizer class, settings on the valley, settings on the digits)
OPTIMIZERS = {
    "SGD + momentum": (optim.SGD, {"lr": 0.002, "momentum": 0.9}, {"lr": 0.1, "momentum": 0.9}),
    "Adam": (optim.Adam, {"lr": 0.05}, {"lr": 0.005}),
    "Adam, amsgrad": (optim.Adam, {"lr": 0.05, "amsgrad": True}, {"lr": 0.005, "amsgrad": True}),
    "RMSprop": (optim.RMSprop, {"lr": 0.01}, {"lr": 0.002}),
    "Adagrad": (optim.Adagrad, {"lr": 0.3}, {"lr": 0.05}),
    "NAdam": (optim.NAdam, {"lr": 0.05}, {"lr": 0.005}),
    "RAdam": (optim.RAdam, {"lr": 0.05}, {"lr": 0.005}),
}  # fmt: skip


def valley(x, y):
    return (1 - x) ** 2 + 10 * (y - x * x) ** 2


def valley_paths(steps: int = 150) -> dict:
    """Each optimizer's (x, y) after every step from (−1.2, 1.0) on the valley."""
    paths = {}
    for name, (cls, valley_kw, _) in OPTIMIZERS.items():
        p = gn.tensor(np.array([-1.2, 1.0]), requires_grad=True)
        opt = cls([p], **valley_kw)
        path = [p.data.copy()]
        for _ in range(steps):
            opt.zero_grad()
            x, y = p[0], p[1]
            ((1 - x) ** 2 + (y - x * x) ** 2 * 10).backward()
            opt.step()
            path.append(p.data.copy())
        paths[name] = np.array(path)
    return paths


def digits_runs(epochs: int = 20, seed: int = 0) -> dict:
    """Training loss per epoch and test accuracy of each optimizer on the digits."""
    data = digits(flatten=True)
    X = data.X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, data.y, test_size=0.25, seed=0
    )
    out = {}
    for name, (cls, _, digits_kw) in OPTIMIZERS.items():
        model = nn.Sequential(
            nn.Dense(64, 32), nn.Sigmoid(), nn.Dense(32, 10), seed=seed
        )
        history = fit(
            model, X_train, y_train, optimizer=cls(model, **digits_kw), epochs=epochs,
            batch_size=64, seed=seed, verbose=0,
        )  # fmt: skip
        accuracy = evaluate(model, X_test, y_test)["accuracy"]
        out[name] = (history.history["loss"], accuracy)
    return out


def schedule_rates(batches: int = 22, epochs: int = 20) -> dict:
    """The rate each schedule sets before every batch of the run, per batch."""
    total = batches * epochs

    def made(make, feed=None):
        opt = optim.SGD([gn.tensor([0.0], requires_grad=True)], lr=0.1)
        schedule, rates = make(opt), []
        for i in range(total):
            rates.append(opt.lr)
            if feed is None:
                schedule.step()
            elif (i + 1) % batches == 0:  # the plateau reads one figure per epoch
                schedule.step(feed[(i + 1) // batches - 1])
        return rates

    losses = [1.0, 0.6, 0.45, 0.4, 0.39, 0.39, 0.385] + [0.38] * (epochs - 7)
    return {
        "OneCycleLR": made(lambda o: optim.OneCycleLR(o, total_steps=total)),
        "LinearWarmup → CosineLR": made(lambda o: optim.LinearWarmup(
            o, 2 * batches, 0.05, then=optim.CosineLR(o, total - 2 * batches,
                                                        every="batch"))),
        "MultiStepLR [10, 15] epochs": made(lambda o: optim.MultiStepLR(
            o, [10 * batches, 15 * batches], 0.3, every="batch")),
        "ReduceLROnPlateau": made(
            lambda o: optim.ReduceLROnPlateau(o, patience=1, factor=0.3), losses),
    }  # fmt: skip


def main(path: str = "docs/img/optimizers-compare.png", epochs: int = 20) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths, runs, rates = valley_paths(), digits_runs(epochs), schedule_rates(22, epochs)
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 5.2))
    xs, ys = np.meshgrid(np.linspace(-1.6, 1.6, 300), np.linspace(-0.6, 2.0, 300))
    ax1.contour(xs, ys, valley(xs, ys), levels=np.geomspace(0.02, 60, 16),
                colors="0.8", linewidths=0.7)  # fmt: skip
    colors = dict(zip(OPTIMIZERS, plt.cm.tab10.colors))
    print("after 150 steps on the valley (lowest point (1, 1), L = 0):")
    for name, xy in paths.items():
        ax1.plot(xy[:, 0], xy[:, 1], ".-", ms=2, lw=1, color=colors[name], label=name)
        print(f"  {name:16s} ends at ({xy[-1, 0]:+.3f}, {xy[-1, 1]:+.3f}), "
              f"L = {valley(*xy[-1]):.4f}")  # fmt: skip
    ax1.plot([-1.2], [1.0], "ko")
    ax1.plot([1], [1], "k*", ms=12)
    ax1.set(title="150 steps across a curved valley", xlabel="x", ylabel="y")
    ax1.legend(fontsize=8, loc="lower left")
    print(f"digits MLP, {epochs} epochs: final training loss, test accuracy")
    for name, (losses, accuracy) in runs.items():
        ax2.plot(range(1, len(losses) + 1), losses, "o-", ms=3, color=colors[name],
                 label=f"{name} ({accuracy:.1%})")  # fmt: skip
        print(f"  {name:16s} loss {losses[-1]:.4f}  accuracy {accuracy:.3f}")
    ax2.set(title="digits MLP: training loss (test accuracy)", xlabel="epoch",
            ylabel="cross-entropy", yscale="log")  # fmt: skip
    ax2.legend(fontsize=8)
    for name, r in rates.items():
        ax3.plot(r, label=name)
    ax3.set(title="schedules, stepped per batch (base rate 0.1)", xlabel="batch",
            ylabel="learning rate")  # fmt: skip
    ax3.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")
    return {"paths": paths, "runs": runs, "rates": rates}


if __name__ == "__main__":
    main(*sys.argv[1:2])
