"""Class weights on an imbalanced split: plain vs weighted cross-entropy.

Real data is rarely balanced. Here the digits 3, 5 and 8 keep only a tenth of
their training images (about 13 each, against about 135 for every other
digit), while the test set stays balanced. Plain cross-entropy averages over
the training images, so the rare digits hardly move the weights and the
network learns to answer "probably not a 3". Class weights
(``CrossEntropy(weight=...)``) count each image of class c with weight
``N / (C · n_c)``: every class then pulls as hard as the others, in total.

The figures are per-class recall (of the test images of a digit, the share
the network names correctly) and balanced accuracy (their mean), for both
losses, averaged over a few seeds::

    python examples/class_weights.py        # writes docs/img/class-weights.png
"""

from __future__ import annotations

import pathlib

import numpy as np

import glassnet as gn
from glassnet.nn import Dense, Sequential, SiLU

RARE = (3, 5, 8)
KEEP = 0.1  # the share of the rare digits' training images that is kept
FIGURE = pathlib.Path(__file__).resolve().parents[1] / "docs/img/class-weights.png"


def imbalanced_split(seed: int = 0):
    """(X_train, y_train, X_test, y_test): a balanced test quarter; in training,
    the RARE digits cut to KEEP of their images."""
    data = gn.datasets.digits(flatten=True)
    X_train, X_test, y_train, y_test = gn.data.train_test_split(
        data.X / 16.0, data.y, test_size=0.25, seed=seed
    )
    rng = np.random.default_rng(seed)
    keep = np.ones(len(y_train), bool)
    for digit in RARE:
        rows = np.flatnonzero(y_train == digit)
        dropped = rng.permutation(rows)[int(round(KEEP * len(rows))) :]
        keep[dropped] = False
    return X_train[keep], y_train[keep], X_test, y_test


def balancing_weights(y: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """``N / (C · n_c)`` for each class c: 1 for every class when they are equal."""
    counts = np.bincount(y, minlength=n_classes)
    return len(y) / (n_classes * counts)


def recalls(model, X, y, n_classes: int = 10) -> np.ndarray:
    """Per class: the share of its test images the model names correctly."""
    cm = gn.metrics.confusion_matrix(y, gn.predict(model, X), n_classes)
    return np.diag(cm) / cm.sum(axis=1)


def train(X, y, weight=None, seed: int = 0, epochs: int = 40):
    """64 pixels -> 32 SiLU neurons -> 10 scores, Adam, plain or weighted loss."""
    model = Sequential(Dense(64, 32), SiLU(), Dense(32, 10), seed=seed)
    gn.fit(
        model,
        X,
        y,
        loss=gn.losses.CrossEntropy(weight=weight),
        optimizer=gn.optim.Adam(model, lr=0.01),
        epochs=epochs,
        batch_size=32,
        seed=seed,
        verbose=0,
    )
    return model


def compare(seeds=(0, 1, 2, 3, 4), epochs: int = 40) -> dict:
    """Per-class recall of both losses, averaged over ``seeds`` (each its own split)."""
    found = {"plain": [], "weighted": []}
    counts = None
    for seed in seeds:
        X, y, X_test, y_test = imbalanced_split(seed)
        counts = np.bincount(y, minlength=10)
        for name, weight in (("plain", None), ("weighted", balancing_weights(y))):
            model = train(X, y, weight, seed, epochs)
            found[name].append(recalls(model, X_test, y_test))
    return {
        "counts": counts,
        **{name: np.mean(r, axis=0) for name, r in found.items()},
    }


def draw(result: dict, path=FIGURE) -> pathlib.Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    digits = np.arange(10)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(7, 5.2), height_ratios=[1, 2], sharex=True
    )
    colours = ["tab:red" if d in RARE else "tab:grey" for d in digits]
    top.bar(digits, result["counts"], color=colours)
    top.set_ylabel("training images")
    top.set_title("Digits 3, 5, 8 keep 10 % of their training images")
    for offset, name, colour in (
        (-0.2, "plain", "tab:blue"),
        (0.2, "weighted", "tab:orange"),
    ):
        r = result[name]
        bottom.bar(
            digits + offset,
            r,
            width=0.4,
            color=colour,
            label=f"{name} cross-entropy (balanced accuracy {r.mean():.3f})",
        )
    bottom.set_ylim(0, 1.3)
    bottom.set_yticks(np.linspace(0, 1, 6))
    bottom.set_ylabel("recall on the balanced test set")
    bottom.set_xlabel("digit")
    bottom.set_xticks(digits)
    bottom.legend(loc="upper center", fontsize=8, ncol=1)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    result = compare()
    print("training images per digit:", " ".join(map(str, result["counts"])))
    print("recall per digit (mean of 5 seeds)")
    print("digit     " + " ".join(f"{d:>5}" for d in range(10)) + "  balanced acc.")
    for name in ("plain", "weighted"):
        r = result[name]
        print(f"{name:<9} " + " ".join(f"{v:5.3f}" for v in r) + f"  {r.mean():.3f}")
    rare = list(RARE)
    print(
        f"rare digits' mean recall: plain {result['plain'][rare].mean():.3f}, "
        f"weighted {result['weighted'][rare].mean():.3f}"
    )
    print(f"figure: {draw(result)}")


if __name__ == "__main__":
    main()
