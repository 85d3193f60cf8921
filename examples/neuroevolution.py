"""Neuro-evolution: train small networks without gradients, and count the cost.

The same small networks are trained to 100% accuracy in several ways, from
the same starting weights, and the script reports how many evaluations each
way needed:

* **backpropagation with SGD** (``glassnet.optim.SGD``, full batch): one
  evaluation is one forward pass over the training set plus one backward
  pass, i.e. one gradient step. Accuracy is read off the same forward pass,
  so it costs nothing extra;
* **genetic algorithm**, **simulated annealing**, **coordinate nudge** (seed
  003's one-weight-at-a-time search), **random search** (seed 001's shot in
  the dark) and **Newton** with autograd slopes: one evaluation is one
  forward pass over the training set (for Newton, one forward+backward, the
  same unit as SGD). Accuracy is computed only when the loss reaches a new
  best; those checks are listed separately.

A forward+backward costs more arithmetic than a forward alone (roughly two
to three times), so counting both as one flatters the searches a little;
the gap in the table is far larger than that factor.

Tasks: the four-pixel camera of seed 004 (8 labelled 2x2 images, four
classes; 4 -> 8 tanh -> 4, 76 weights) and XOR (4 points, two classes;
2 -> 4 tanh -> 2, 22 weights). Loss: cross-entropy of the softmax.

Run::

    python examples/neuroevolution.py               # 5 seeds, budget 5000
    python examples/neuroevolution.py --seeds 2 --budget 1000
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from glassnet.datasets import four_pixel
from glassnet.losses import CrossEntropy
from glassnet.nn import Dense, Sequential, Tanh
from glassnet.optim import SGD
from glassnet.optim.free import (
    CoordinateNudge,
    GeneticAlgorithm,
    Newton,
    RandomSearch,
    SimulatedAnnealing,
)


def tasks() -> dict:
    """name -> (X, y, function building the network from a seed)."""
    camera = four_pixel()
    X_xor = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y_xor = np.array([0, 1, 1, 0])
    return {
        "four-pixel camera": (
            camera.X.reshape(len(camera.X), 4),
            camera.y,
            lambda s: Sequential(Dense(4, 8), Tanh(), Dense(8, 4), seed=s),
        ),
        "XOR": (
            X_xor,
            y_xor,
            lambda s: Sequential(Dense(2, 4), Tanh(), Dense(4, 2), seed=s),
        ),
    }


# Mean of -log softmax(logits)[true class], fused into one op with its backward.
cross_entropy = CrossEntropy()


def backprop(model, X, y, budget: int, lr: float = 0.5) -> tuple[int | None, int]:
    """Full-batch SGD until every sample is right; (evaluations or None, 0 checks)."""
    optimizer = SGD(model, lr=lr)
    for evaluation in range(1, budget + 1):
        logits = model(X)  # forward: the loss and the accuracy come from this pass
        if (logits.data.argmax(axis=1) == y).all():
            return evaluation, 0
        loss = cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()  # backward: the same evaluation
        optimizer.step()
    return None, 0


def searches(budget: int, seed: int) -> dict:
    """Every search, set up once for both tasks."""
    rules = dict(budget=budget, seed=seed, target_metric=1.0)
    return {
        "genetic algorithm": GeneticAlgorithm(
            population=20, mutation_rate=0.2, mutation_scale=0.5, **rules
        ),
        "simulated annealing": SimulatedAnnealing(
            step=0.2, temperature=0.3, final_temperature=1e-3, **rules
        ),
        "coordinate nudge": CoordinateNudge(step=0.5, **rules),
        "Newton (autograd slopes)": Newton(gradient="autograd", **rules),
        "random search": RandomSearch(**rules),
    }


def run(seeds: int = 5, budget: int = 5000) -> dict:
    """{(method, task): [(evaluations or None, accuracy checks) per seed]}."""
    out: dict = {}
    for task, (X, y, build) in tasks().items():

        def loss(model, X=X, y=y):
            return cross_entropy(model(X), y)

        def accuracy(model, X=X, y=y):
            return float((model(X).data.argmax(axis=1) == y).mean())

        for seed in range(seeds):
            out.setdefault(("backpropagation (SGD)", task), []).append(
                backprop(build(seed), X, y, budget)
            )
            for name, method in searches(budget, seed).items():
                r = method.minimize(loss, build(seed), metric=accuracy)
                used = r.evaluations if r.stop_reason == "target_metric" else None
                out.setdefault((name, task), []).append((used, r.metric_evaluations))
    return out


def _cell(runs) -> tuple[str, str, str]:
    used = [u for u, _ in runs if u is not None]
    solved = f"{len(used)}/{len(runs)}"
    if not used:
        return solved, "-", "-"
    spread = f" ({min(used)}-{max(used)})" if len(used) > 1 else ""
    checks = int(np.median([c for u, c in runs if u is not None]))
    return solved, f"{int(np.median(used))}{spread}", str(checks)


def table(results: dict) -> str:
    task_names = list(dict.fromkeys(task for _, task in results))
    methods = list(dict.fromkeys(method for method, _ in results))
    head = "| method | " + " | ".join(
        f"{t}: solved | evaluations, median (range) | accuracy checks"
        for t in task_names
    )
    lines = [head + " |", "|---|" + "---|---|---|" * len(task_names)]
    for method in methods:
        cells = [c for t in task_names for c in _cell(results[(method, t)])]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="starting networks (5)")
    parser.add_argument(
        "--budget", type=int, default=5000, help="most evaluations per run (5000)"
    )
    args = parser.parse_args(argv)
    results = run(args.seeds, args.budget)
    print(
        f"Training to 100% accuracy from {args.seeds} random starting networks "
        f"(seeds 0-{args.seeds - 1}), at most {args.budget} evaluations each.\n"
    )
    print(table(results))
    print(
        "\nOne evaluation: a forward pass over the training set; for backpropagation "
        "and Newton, a forward and a backward pass. Accuracy checks run only at a "
        "new best loss and are not counted as evaluations."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
