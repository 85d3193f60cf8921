"""X or O: a small convolutional network learns to tell pixel-art Xs from Os.

The images are 9x9 pictures with pixels of -1 (dark) and +1 (light), each X
and O moved, resized, turned and drawn thicker or thinner at random. The
network: a convolution layer of four 3x3 features (each one matched against
every 3x3 patch), ReLU (negative matches become 0), max pooling (2x2 windows,
stride 2, the ragged edge keeping the max of what is there: 7x7 -> 4x4), and
a fully connected layer in which every pooled value votes for X and for O.
Features and votes are learned by backpropagation.
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

import numpy as np

DESCRIPTION = "a small CNN tells pixel-art Xs from Os; draws its features and maps"
DEFAULT_OUT = "glassnet-x-and-o.png"


class XOResult(NamedTuple):
    """What :func:`train_x_and_o` returns."""

    model: object
    history: object
    train: object  # Labelled: X (n, 1, 9, 9), y, classes
    test: object
    seconds: float


def build_model(n_features: int = 4, size: int = 9, seed=0):
    """Conv2D(1 → n_features, 3x3) → ReLU → MaxPool2D(2, ceil_mode) → Flatten → Dense."""
    from ..nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential

    pooled = -(-(size - 2) // 2)
    return Sequential(
        Conv2D(1, n_features, 3),
        ReLU(),
        MaxPool2D(2, ceil_mode=True),
        Flatten(),
        Dense(n_features * pooled * pooled, 2),
        seed=seed,
    )


def train_x_and_o(
    n_train: int = 300,
    n_test: int = 1000,
    epochs: int = 30,
    seed: int = 0,
    verbose: int = 0,
) -> XOResult:
    """Train :func:`build_model` on ``n_train`` generated images; draw ``n_test`` new ones.

    Training and test images come from different random streams (``seed``
    and ``seed + 1``), so the test images are fresh draws; at 9x9 some of
    them still coincide pixel for pixel with a training image (see
    :func:`unseen_mask`).
    """
    from ..datasets import x_and_o
    from ..optim import Adam
    from ..train import fit

    train, test = x_and_o(n=n_train, seed=seed), x_and_o(n=n_test, seed=seed + 1)
    model = build_model(seed=seed)
    start = time.perf_counter()
    history = fit(
        model,
        train.X,
        train.y,
        loss="cross_entropy",
        optimizer=Adam(model, lr=0.01),
        epochs=epochs,
        batch_size=32,
        seed=seed,
        verbose=verbose,
    )
    return XOResult(model, history, train, test, time.perf_counter() - start)


def unseen_mask(train_X: np.ndarray, test_X: np.ndarray) -> np.ndarray:
    """True for each test image that differs from every training image in some pixel."""
    seen = {img.tobytes() for img in np.ascontiguousarray(train_X, np.float32)}
    return np.array(
        [img.tobytes() not in seen for img in np.ascontiguousarray(test_X, np.float32)]
    )


def layer_outputs(model, image: np.ndarray) -> dict:
    """For one image: the convolution's maps, those after ReLU and pooling, the scores."""
    from ..tensor import no_grad

    conv, relu, pool, flatten, dense = model.layers
    with no_grad():
        x = np.asarray(image, np.float32).reshape(1, 1, *np.shape(image)[-2:])
        maps = conv(x)
        pooled = pool(relu(maps))
        scores = dense(flatten(pooled))
    return {"maps": maps.data[0], "pooled": pooled.data[0], "scores": scores.data[0]}


def draw_figure(model, image: np.ndarray, path: str, title: str = "") -> str:
    """Draw the learned features, one image's maps and the votes to ``path`` (PNG).

    Rows: the features (weights), the image's map from each feature, those
    maps after ReLU and max pooling, and each pooled pixel's vote (weight to
    X minus weight to O). Signed values share one colour scale centred on 0
    per row (blue positive, vermilion negative, as in every glassnet figure).
    Needs matplotlib (``pip install -e '.[plot]'`` in a checkout); the file is written
    under a temporary name and then renamed.
    """
    from ..plot._style import finish, new_figure, no_ticks, signed_cmap, signed_limit

    conv, dense = model.layers[0], model.layers[-1]
    features = conv.weight.data[:, 0]
    seen = layer_outputs(model, image)
    n = len(features)
    votes = dense.weight.data[:, 0] - dense.weight.data[:, 1]
    votes = votes.reshape(seen["pooled"].shape)

    fig = new_figure(figsize=(2.1 * (n + 1) + 0.8, 9.6))
    grid = fig.add_gridspec(4, n + 2, width_ratios=[1] * (n + 1) + [0.08])
    rows = [
        ("learned 3x3 features\n(weights)", features, "weight", True),
        (
            "the image's map from\neach feature (conv + bias)",
            seen["maps"],
            "weighted sum",
            True,
        ),
        ("after ReLU and\n2x2 max pooling", seen["pooled"], "pooled value", False),
        (
            "votes of each pooled\npixel: X weight − O weight",
            votes,
            "vote: + for X, − for O",
            True,
        ),
    ]
    for r, (label, arrays, bar_label, signed) in enumerate(rows):
        limit = signed_limit(arrays)
        cmap, vmin = (signed_cmap(), -limit) if signed else ("Blues", 0.0)
        ax = fig.add_subplot(grid[r, 0])
        if r == 0:
            ax.imshow(image, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_title("input: the story's X\n(−1 dark, +1 light)", fontsize=9)
            no_ticks(ax)
        else:
            ax.axis("off")
            ax.text(
                0.5,
                0.5,
                label,
                ha="center",
                va="center",
                fontsize=10,
                transform=ax.transAxes,
            )
        for k in range(n):
            ax = fig.add_subplot(grid[r, k + 1])
            shown = ax.imshow(
                arrays[k], cmap=cmap, vmin=vmin, vmax=limit, interpolation="nearest"
            )
            no_ticks(ax)
            ax.set_title(
                f"learned feature {k + 1}\n(3x3 weights)"
                if r == 0
                else f"{arrays[k].shape[0]}x{arrays[k].shape[1]}, from feature {k + 1}",
                fontsize=9,
            )
        cbar = fig.colorbar(shown, cax=fig.add_subplot(grid[r, n + 1]))
        cbar.set_label(bar_label, fontsize=9)
    verdict = "X" if seen["scores"][0] > seen["scores"][1] else "O"
    fig.suptitle(
        (title + "\n" if title else "") + f"scores for this image: X "
        f"{seen['scores'][0]:.2f}, O {seen['scores'][1]:.2f} → {verdict}",
        fontsize=11,
    )
    finish(fig, path)
    return os.fspath(path)


def run(args=None, out=print) -> int:
    from ..datasets.stories import canonical_x
    from ..train import predict_classes

    out(__doc__.strip().splitlines()[0] + "\n")
    result = train_x_and_o()
    model, test = result.model, result.test
    out(f"{model}\n")
    out(
        f"trained on {len(result.train.X)} generated 9x9 images in {result.seconds:.1f} s"
    )
    predicted = predict_classes(model, test.X)
    correct = predicted == test.y
    unseen = unseen_mask(result.train.X, test.X)
    out(
        f"accuracy on {len(test.X):,} new generated variants: {correct.mean():.1%} "
        f"({int((~correct).sum())} wrong)"
    )
    out(
        f"  of these, {int(unseen.sum())} differ from every training image in at least "
        f"one pixel; accuracy on those: {correct[unseen].mean():.1%}"
    )

    from . import figure_path, no_matplotlib

    path = figure_path(args, DEFAULT_OUT)
    if path is None:
        out(no_matplotlib("the figure"))
        return 0
    title = (
        f"X or O: a CNN trained on {len(result.train.X)} images, "
        f"{correct.mean():.1%} right on {len(test.X):,} new ones"
    )
    written = draw_figure(model, canonical_x(), path, title)
    out(f"\nfigure of the learned features and of the maps of one X: {written}")
    return 0
