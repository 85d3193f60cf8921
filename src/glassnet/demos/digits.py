"""The handwritten digits: a 64 → 32 → 10 network learns to read 8x8 images.

Each image is 64 pixel intensities (0 to 16). The network has one hidden
layer of 32 sigmoid neurons and ten outputs, one per digit; the largest
output is its answer. Three quarters of the images train it; the other
quarter, never seen in training, measures it.
"""

from __future__ import annotations

import time

import numpy as np

DESCRIPTION = "a 64-32-10 network learns the 8x8 handwritten digits (the main demo)"

_SHADES = " .:-=+*#%@"


def digit_as_text(image: np.ndarray) -> list[str]:
    """An 8x8 image (values 0..16) as 8 lines of characters, darker = denser."""
    levels = np.clip(
        (np.asarray(image) / 16.0 * (len(_SHADES) - 1)).round().astype(int),
        0,
        len(_SHADES) - 1,
    )
    return ["".join(_SHADES[v] * 2 for v in row) for row in levels.reshape(8, 8)]


def train_digits(
    epochs: int = 30, seed: int = 0, verbose: int = 1, validate: bool = False
):
    """Train the demo network; return (model, history, data splits, standardizer).

    With ``validate=True`` the held-out quarter is also scored after every
    epoch (``val_loss``, ``val_accuracy`` in the history), for training curves;
    it never influences the weights.
    """
    from ..data.transforms import Standardizer, train_test_split
    from ..datasets import digits
    from ..nn import Dense, Sequential, Sigmoid
    from ..optim import Adam
    from ..train import fit

    data = digits(flatten=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.25, seed=seed
    )
    scaler = Standardizer().fit(X_train)  # statistics of the training images only
    model = Sequential(Dense(64, 32), Sigmoid(), Dense(32, 10), seed=seed)
    held_out = (scaler.transform(X_test), y_test) if validate else None
    history = fit(
        model,
        scaler.transform(X_train),
        y_train,
        loss="cross_entropy",
        optimizer=Adam(model, lr=0.01),
        epochs=epochs,
        batch_size=32,
        validation_data=held_out,
        seed=seed,
        verbose=verbose,
    )
    return model, history, (X_train, X_test, y_train, y_test), scaler


def run(args=None, out=print) -> int:
    from ..metrics import confusion_matrix, format_confusion_matrix
    from ..train import evaluate, predict_classes

    out(__doc__.strip().splitlines()[0])
    start = time.perf_counter()
    model, history, (X_train, X_test, y_train, y_test), scaler = train_digits()
    seconds = time.perf_counter() - start
    out(f"\n{model}\n")
    scores = evaluate(model, scaler.transform(X_test), y_test)
    out(
        f"trained on {len(X_train)} images in {seconds:.1f} s; "
        f"test accuracy on {len(X_test)} unseen images: {scores['accuracy']:.2%}\n"
    )
    predicted = predict_classes(model, scaler.transform(X_test))
    out("confusion matrix (rows: true digit, columns: the network's answer)")
    out(format_confusion_matrix(confusion_matrix(y_test, predicted, num_classes=10)))
    wrong = np.flatnonzero(predicted != y_test)[:4]
    if wrong.size:
        out(f"\n{len(np.flatnonzero(predicted != y_test))} mistakes; the first few:")
        pictures = [digit_as_text(X_test[i]) for i in wrong]
        out(
            "   ".join(
                f"true {y_test[i]}, said {predicted[i]}".ljust(16) for i in wrong
            )
        )
        for line in zip(*pictures):
            out("   ".join(line))
    return 0
