"""One sigmoid neuron is logistic regression.

A neuron takes a weighted sum of its inputs plus a bias and squashes it with
the logistic function, so its output is a probability. Trained with binary
cross-entropy it is exactly the classic logistic regression model. Here it
learns where a straight boundary between two clouds of points lies.

    python examples/logistic_neuron.py
"""

import numpy as np

import glassnet as gn
from glassnet.nn import Dense, Sequential, Sigmoid

TRUE_W = np.array([2.0, -3.0])
TRUE_B = 0.5


def make_points(n=400, seed=0):
    """Points whose class follows a logistic model with known weights."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 2)).astype(np.float32)
    p = 1 / (1 + np.exp(-(X @ TRUE_W + TRUE_B)))
    y = (rng.uniform(size=n) < p).astype(np.float32)[:, None]
    return X, y


def fit_neuron(epochs=300, seed=0):
    """Returns (model, training accuracy, fitted weight vector, fitted bias)."""
    X, y = make_points(seed=seed)
    neuron = Sequential(Dense(2, 1), Sigmoid(), seed=seed)
    gn.fit(
        neuron,
        X,
        y,
        loss="bce",
        optimizer=gn.optim.SGD(neuron, lr=0.5),
        epochs=epochs,
        batch_size=len(X),
        seed=seed,
        verbose=0,
    )
    w = neuron[0].weight.data[:, 0]
    b = float(neuron[0].bias.data[0])
    return neuron, gn.metrics.accuracy(y, gn.predict(neuron, X)), w, b


def main():
    _, acc, w, b = fit_neuron()
    print("One neuron: p = sigmoid(w1*x1 + w2*x2 + b)")
    print(
        f"  learned w = {np.round(w, 2)}, b = {b:.2f}  (the data came from "
        f"w = {TRUE_W}, b = {TRUE_B})"
    )
    print(
        f"  training accuracy {acc:.1%}; points are labelled at random near the "
        "boundary, so 100% is not possible"
    )


if __name__ == "__main__":
    main()
