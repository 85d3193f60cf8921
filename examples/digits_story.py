"""Seed 003's story, step by step: reading handwritten digits.

Step 1: tell 0 from 1 with no hidden layer. Each of two output neurons sees
all 64 pixels; one learns positive weights in the middle and negative ones on
the edges (a 1 is ink down the middle, a 0 is ink around the edge), the other
the reverse; the larger output wins.

Step 2: all ten digits, with a hidden layer of 32 neurons between the pixels
and ten outputs. The loss is the seed's: for every output, the squared
difference between the ideal answer (1 for the true digit, 0 for the others)
and what the neuron said, added up.

    python examples/digits_story.py
"""

import numpy as np

import glassnet as gn
from glassnet.nn import Dense, Sequential, Sigmoid


def _split(classes):
    data = gn.datasets.digits(classes=classes, flatten=True)
    labels = np.searchsorted(data.classes, data.y)  # 0..k-1
    # Pixels as the seed shows them: 0 for blank paper, 1 for full ink.
    return gn.data.train_test_split(data.X / 16.0, labels, test_size=0.25, seed=0)


def zero_versus_one(epochs=20, seed=0, verbose=0):
    """Two sigmoid outputs straight from the 64 pixels. Returns (model, test accuracy)."""
    X_train, X_test, y_train, y_test = _split([0, 1])
    model = Sequential(Dense(64, 2), Sigmoid(), seed=seed)
    gn.fit(
        model,
        X_train,
        gn.data.one_hot(y_train, 2),
        loss=gn.losses.SSE(),
        optimizer=gn.optim.SGD(model, lr=0.05),
        epochs=epochs,
        seed=seed,
        verbose=verbose,
    )
    return model, gn.metrics.accuracy(y_test, gn.predict(model, X_test))


def all_ten(hidden=32, epochs=60, seed=0, verbose=0):
    """64 pixels -> 32 hidden sigmoid neurons -> 10 sigmoid outputs, squared-error loss."""
    X_train, X_test, y_train, y_test = _split(None)
    model = Sequential(
        Dense(64, hidden), Sigmoid(), Dense(hidden, 10), Sigmoid(), seed=seed
    )
    # SSE adds the errors of every image in the batch, so its gradient grows with the
    # batch size; Adam's steps do not depend on that scale, plain SGD's would.
    gn.fit(
        model,
        X_train,
        gn.data.one_hot(y_train, 10),
        loss=gn.losses.SSE(),
        optimizer=gn.optim.Adam(model, lr=0.01),
        epochs=epochs,
        seed=seed,
        verbose=verbose,
    )
    return model, gn.metrics.accuracy(y_test, gn.predict(model, X_test))


def weight_map(weights: np.ndarray) -> list:
    """An 8x8 picture of one output's 64 weights: + positive, - negative, . near zero."""
    limit = 0.25 * np.abs(weights).max()
    rows = []
    for row in weights.reshape(8, 8):
        rows.append(
            " ".join("+" if w > limit else "-" if w < -limit else "." for w in row)
        )
    return rows


def main():
    model, acc = zero_versus_one()
    print("Step 1: 0 versus 1, no hidden layer")
    print(f"  test accuracy {acc:.1%}")
    weights = model[0].weight.data
    print("  weights into the '1' output (+ pushes towards 1, - towards 0):")
    for line in weight_map(weights[:, 1]):
        print("    " + line)
    model, acc = all_ten()
    print("\nStep 2: all ten digits, 32 hidden neurons")
    print(f"  test accuracy {acc:.1%} on images the network never saw")
    five = gn.datasets.digits(flatten=True).X[201] / 16  # the seed's example 5
    print(
        f"  the seed's example 5 is read as: {int(gn.predict_classes(model, five[None])[0])}"
    )


if __name__ == "__main__":
    main()
