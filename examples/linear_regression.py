"""A linear network is linear regression, however many layers it has.

A Dense layer with no squashing computes x @ W + b: a straight line (a plane
in more dimensions). Trained with mean squared error it finds the same line
as least squares. Stacking such layers does not help: a line of a line of a
line is still a line, because the product of the weight matrices is one
matrix. Only a nonlinear squash between layers lets a network bend.

    python examples/linear_regression.py
"""

import numpy as np

import glassnet as gn
from glassnet.nn import Dense, Sequential, Tanh


def make_points(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 1)).astype(np.float32)
    y = (2.0 * x + 1.0 + rng.normal(0, 0.3, (n, 1))).astype(np.float32)
    return x, y


def fit_line(epochs=200, seed=0):
    """Returns ((slope, intercept) learned, (slope, intercept) by least squares)."""
    x, y = make_points(seed=seed)
    model = Sequential(Dense(1, 1), seed=seed)
    gn.fit(
        model,
        x,
        y,
        loss="mse",
        optimizer=gn.optim.SGD(model, lr=0.05),
        epochs=epochs,
        batch_size=len(x),
        seed=seed,
        verbose=0,
    )
    learned = (float(model[0].weight.data[0, 0]), float(model[0].bias.data[0]))
    design = np.hstack([x, np.ones_like(x)]).astype(np.float64)
    exact = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0][:, 0]
    return learned, (float(exact[0]), float(exact[1]))


def second_differences(model, lo=-3.0, hi=3.0, n=61):
    """How far the model's output bends: second differences on an even grid (0 for a line)."""
    grid = np.linspace(lo, hi, n, dtype=np.float64)[:, None]
    out = gn.predict(model, grid)[:, 0]
    return np.diff(out, 2)


def stacked(activation=None, seed=0):
    """Three Dense layers, with or without a squash between them, trained on a curve."""
    layers = [Dense(1, 16)]
    if activation:
        layers.append(activation())
    layers.append(Dense(16, 16))
    if activation:
        layers.append(activation())
    layers.append(Dense(16, 1))
    model = Sequential(*layers, seed=seed).astype(np.float64)
    x = np.linspace(-3, 3, 200)[:, None]
    gn.fit(
        model,
        x,
        np.sin(x),
        loss="mse",
        optimizer="adam",
        lr=0.01,
        epochs=300,
        batch_size=50,
        seed=seed,
        verbose=0,
    )
    return model


def main():
    learned, exact = fit_line()
    print(
        f"Dense(1 → 1) trained by gradient descent: y = {learned[0]:.3f} x + {learned[1]:.3f}"
    )
    print(
        f"least squares on the same points:         y = {exact[0]:.3f} x + {exact[1]:.3f}"
    )
    linear = stacked()
    bend = np.abs(second_differences(linear)).max()
    W = linear[0].weight.data @ linear[1].weight.data @ linear[2].weight.data
    print(
        f"\nThree stacked linear layers trained on sin(x): largest bend {bend:.1e} "
        f"(a straight line); together they are one slope, {W[0, 0]:.3f}."
    )
    curved = stacked(Tanh)
    print(
        f"The same layers with tanh between them: largest bend "
        f"{np.abs(second_differences(curved)).max():.1e}; they can follow the curve."
    )


if __name__ == "__main__":
    main()
