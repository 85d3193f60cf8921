"""What networks can learn: random-weight families, deep versus wide, curved boundaries.

Seed 004's second talk draws the functions that networks of each kind make
when their weights are random: straight lines (however many linear layers),
S-curves (logistic, tanh) whose contour lines stay straight, and with
hidden layers wiggles, peaks and curved class boundaries -- smooth ones.
It also says a deep network can make what a wide one makes with fewer
neurons. This script measures those claims, then draws them.

Run::

    python examples/what_networks_learn.py          # figures into what-networks-learn/
    python examples/what_networks_learn.py --no-figures
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from glassnet.plot import families as fam


def measure(seed: int = 0) -> dict:
    """The numbers behind the figures."""
    facts = {}
    for kind in fam.FAMILIES:
        xs, curves = fam.sample_functions(kind, 1, n_draws=20, seed=seed)
        bend = np.abs(np.diff(curves, n=2, axis=1)).max() / (xs[1] - xs[0]) ** 2
        facts[kind] = {
            "min": float(curves.min()),
            "max": float(curves.max()),
            "max_curvature": float(bend),
        }
    fitted = fam.fit_deep_and_wide(seed=seed)
    facts["deep_vs_wide"] = {
        k: {"params": v["params"], "hidden": v["hidden"], "mse": v["mse"]}
        for k, v in fitted.items()
        if isinstance(v, dict)
    }
    classifiers = fam.fit_classifiers(seed=seed)
    facts["classifiers"] = {k: v[1] for k, v in classifiers.items() if k != "data"}
    return facts, fitted, classifiers


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="what-networks-learn")
    parser.add_argument("--no-figures", action="store_true")
    args = parser.parse_args(argv)

    facts, fitted, classifiers = measure()
    print("Random functions of one input on [-1, 1], 20 draws per family:")
    print(f"  {'family':34s} {'lowest':>8s} {'highest':>8s} {'most bent':>10s}")
    for kind in fam.FAMILIES:
        f = facts[kind]
        print(
            f"  {kind:34s} {f['min']:8.2f} {f['max']:8.2f} {f['max_curvature']:10.2g}"
        )
    print("  (linear families never bend; logistic stays in (0, 1), tanh in (-1, 1))")
    print("\nDeep versus wide, trained on the same wiggly curve:")
    for name, f in facts["deep_vs_wide"].items():
        print(
            f"  {name:26s} {f['hidden']:3d} hidden neurons, {f['params']:3d} weights, "
            f"MSE {f['mse']:.1e}"
        )
    print("\nTwo classes split by a wavy line:")
    for name, acc in facts["classifiers"].items():
        print(f"  {name:34s} {acc:.1%} right")
    if not args.no_figures:
        try:
            from glassnet.plot import decision_regions, deep_vs_wide, function_families

            os.makedirs(args.out, exist_ok=True)
            function_families(path=os.path.join(args.out, "families.png"))
            deep_vs_wide(fitted=fitted, path=os.path.join(args.out, "deep-vs-wide.png"))
            X, y = classifiers["data"]
            for k, (name, (model, acc)) in enumerate(
                (n, v) for n, v in classifiers.items() if n != "data"
            ):
                decision_regions(
                    model,
                    X,
                    y,
                    classes=["below", "above"],
                    title=f"{name}: {acc:.0%} right",
                    path=os.path.join(args.out, f"regions-{k}.png"),
                )
            print(f"\nfigures in {args.out}/")
        except ImportError:
            print(
                "\n(no figures: matplotlib is missing; pip install -e '.[plot]' in a glassnet checkout)"
            )
    return facts


if __name__ == "__main__":
    main()
    sys.exit(0)
