"""Dropout and batch normalisation on the digits CNN: what each buys.

The convolutional network of ``examples/digits_cnn.py`` (two 3x3
convolutions, 2x2 max pooling, one voting layer) is trained four times on
the same images, from the same starting weights and in the same batch
order (fixed seeds):

* ``plain``: the network as it is;
* ``dropout``: Dropout(0.25) after each convolution's ReLU and Dropout(0.5)
  before the voting layer, which switch off a random share of the values at
  every step (none at evaluation);
* ``batch norm``: BatchNorm2D after each convolution, which rescales each
  channel to mean 0 and variance 1 over the batch (the running averages at
  evaluation);
* ``both``.

To make overfitting visible the network learns from a small share of the
digits, 400 images; 300 others are for validation after every epoch, and a
stratified quarter of all digits (450 images, split seed 0, as in the CNN
example) is the test set. After every epoch the script measures the
accuracy on the training images in evaluation mode (as the validation
accuracy is measured, with no dropout), so the curves compare like with
like, and the gap between the two is how much the network learned its own
training images rather than digits. It prints, per variant, the test
accuracy and the final train - validation gap, and draws the curves to
``docs/img/regularise_digits.png``.

Run::

    python examples/regularise_digits.py
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from glassnet import nn
from glassnet.data.transforms import train_test_split
from glassnet.datasets import digits
from glassnet.optim import Adam
from glassnet.train import Callback, evaluate, fit

FIGURE = os.path.join(
    os.path.dirname(__file__), "..", "docs", "img", "regularise_digits.png"
)
VARIANTS = {  # name -> (dropout, batch norm)
    "plain": (False, False),
    "dropout": (True, False),
    "batch norm": (False, True),
    "both": (True, True),
}


def build_model(dropout: bool, batch_norm: bool, seed: int = 0) -> nn.Sequential:
    """The digits CNN, (n, 1, 8, 8) -> 10 scores, with the chosen regularisers.

    Dropout and BatchNorm draw no initial weights from the model's
    Generator, so every variant starts from the plain network's weights.
    """
    layers = [nn.Conv2D(1, 16, 3, padding=1, init="he")]
    layers += [nn.BatchNorm2D(16)] if batch_norm else []
    layers += [nn.ReLU(), nn.MaxPool2D(2)]
    layers += [nn.Dropout(0.25)] if dropout else []
    layers += [nn.Conv2D(16, 32, 3, padding=1, init="he")]
    layers += [nn.BatchNorm2D(32)] if batch_norm else []
    layers += [nn.ReLU()]
    layers += [nn.Dropout(0.25)] if dropout else []
    layers += [nn.Flatten()]
    layers += [nn.Dropout(0.5)] if dropout else []
    layers += [nn.Dense(32 * 4 * 4, 10)]
    return nn.Sequential(*layers, seed=seed)


def split(n_train: int = 400, n_val: int = 300):
    """(train, validation, test) pairs of images (n, 1, 8, 8) in 0..1 and labels."""
    data = digits()
    X = data.X[:, None] / 16.0
    X_rest, X_test, y_rest, y_test = train_test_split(X, data.y, test_size=0.25, seed=0)
    X_rest, X_val, y_rest, y_val = train_test_split(X_rest, y_rest, n_val, seed=1)
    X_train, _, y_train, _ = train_test_split(  # keep n_train of the rest
        X_rest, y_rest, len(X_rest) - n_train, seed=2
    )
    return (X_train, y_train), (X_val, y_val), (X_test, y_test)


class TrainAccuracy(Callback):
    """The accuracy on the training images after each epoch, in eval mode."""

    def __init__(self, X, y):
        self.X, self.y, self.values = X, y, []

    def on_epoch_end(self, state):
        self.values.append(evaluate(state.model, self.X, self.y)["accuracy"])


def run(epochs: int = 40, n_train: int = 400, n_val: int = 300, seed: int = 0):
    """Train every variant; return {name: figures and curves}."""
    train, val, test = split(n_train, n_val)
    results = {}
    for name, (dropout, batch_norm) in VARIANTS.items():
        model = build_model(dropout, batch_norm, seed)
        on_train = TrainAccuracy(*train)
        start = time.perf_counter()
        history = fit(
            model, *train, loss="cross_entropy", optimizer=Adam(model, lr=0.003),
            epochs=epochs, batch_size=32, validation_data=val, callbacks=[on_train],
            seed=seed, verbose=0,
        )  # fmt: skip
        results[name] = {
            "train": on_train.values,
            "val": history.history["val_accuracy"],
            "test": evaluate(model, *test)["accuracy"],
            "gap": on_train.values[-1] - history.history["val_accuracy"][-1],
            "seconds": time.perf_counter() - start,
        }
    return results


def draw(results, path=FIGURE):
    """One panel per variant: training and validation accuracy per epoch."""
    from glassnet.plot._style import finish, new_figure

    fig = new_figure(figsize=(3.1 * len(results), 3.2))
    axes = fig.subplots(1, len(results), sharey=True)
    for ax, (name, r) in zip(axes, results.items()):
        epochs = np.arange(1, len(r["train"]) + 1)
        ax.plot(epochs, r["train"], color="#0072B2", label="training (eval mode)")
        ax.plot(epochs, r["val"], color="#D55E00", ls="--", label="validation")
        ax.set_title(f"{name}\ngap {r['gap']:+.1%}, test {r['test']:.1%}", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(0.8, 1.002)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Digits CNN on 400 training images: dropout and batch norm")
    return finish(fig, path)


def main(epochs: int = 40, path=FIGURE) -> dict:
    results = run(epochs)
    print(f"{'variant':<12}{'test acc':>10}{'train acc':>11}{'val acc':>9}"
          f"{'gap':>8}{'time':>8}")  # fmt: skip
    for name, r in results.items():
        print(
            f"{name:<12}{r['test']:>10.2%}{r['train'][-1]:>11.2%}"
            f"{r['val'][-1]:>9.2%}{r['gap']:>+8.2%}{r['seconds']:>7.1f}s"
        )
    if path is not None:
        draw(results, path)
        print(f"figure: {os.path.relpath(path)}")
    return results


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
