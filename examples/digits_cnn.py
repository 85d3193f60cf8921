"""Handwritten digits with a convolutional network: features first, then the vote.

The MLP demo (``glassnet demo digits``) flattens each 8x8 image into 64
numbers, so it cannot know which pixels are neighbours. Here the image stays
an image: 16 learned 3x3 features are matched against every patch (padding
keeps the 8x8 size), ReLU drops negative matches, 2x2 max pooling halves the
maps to 4x4, 32 more 3x3 features are matched against those stacks, and a
fully connected layer lets every value vote for each digit. The split is the
MLP demo's: a stratified quarter of the images (seed 0) is held back for
testing.

Run::

    python examples/digits_cnn.py
"""

from __future__ import annotations

import sys
import time

from glassnet import nn
from glassnet.data.transforms import train_test_split
from glassnet.datasets import digits
from glassnet.optim import Adam
from glassnet.train import evaluate, fit


def build_model(seed: int = 0) -> nn.Sequential:
    """(n, 1, 8, 8) → 16 maps 8x8 → pooled 4x4 → 32 maps 4x4 → 10 scores."""
    return nn.Sequential(
        nn.Conv2D(1, 16, 3, padding=1, init="he"),
        nn.ReLU(),
        nn.MaxPool2D(2),
        nn.Conv2D(16, 32, 3, padding=1, init="he"),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dense(32 * 4 * 4, 10),
        seed=seed,
    )


def train_digits_cnn(seed: int = 0, epochs: int = 20, verbose: int = 0) -> dict:
    """Train on three quarters of the digits; return the model and its test accuracy."""
    data = digits()  # images (1797, 8, 8), values 0..16
    X = data.X[:, None] / 16.0  # add the channel axis: NCHW, values 0..1
    X_train, X_test, y_train, y_test = train_test_split(
        X, data.y, test_size=0.25, seed=0
    )
    model = build_model(seed)
    start = time.perf_counter()
    fit(
        model,
        X_train,
        y_train,
        loss="cross_entropy",
        optimizer=Adam(model, lr=0.005),
        epochs=epochs,
        batch_size=64,
        seed=seed,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    scores = evaluate(model, X_test, y_test)
    return {
        "model": model,
        "accuracy": scores["accuracy"],
        "seconds": seconds,
        "n_train": len(X_train),
        "n_test": len(X_test),
    }


def main() -> dict:
    result = train_digits_cnn(verbose=1)
    print(f"\n{result['model']}\n")
    print(
        f"trained on {result['n_train']} images in {result['seconds']:.1f} s; "
        f"test accuracy on {result['n_test']} unseen images: {result['accuracy']:.2%}"
    )
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
