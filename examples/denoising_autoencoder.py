"""A denoising autoencoder: noisy 8x8 digits in, clean digits out.

The encoder is the digits CNN's front (3x3 features, ReLU, 2x2 max pooling,
twice: 8x8 -> 4x4 -> 2x2 maps); the decoder undoes the pooling with two
transposed convolutions of stride 2 (2x2 -> 4x4 -> 8x8, each input pixel
painting a learned 3x3 stamp onto a map twice as large) and a last 3x3
convolution with a sigmoid gives the 0..1 image. It is trained on noisy
copies of the training images (Gaussian noise of standard deviation 0.35,
clipped to 0..1; two noise draws per image) to give the clean image, and
scored on the held-back quarter with fresh noise: the mean squared error of
its output against the clean image, next to that of the noisy input itself.

Run::

    python examples/denoising_autoencoder.py     # ~1 minute; writes the figure
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from glassnet import nn
from glassnet.data.transforms import train_test_split
from glassnet.datasets import digits
from glassnet.optim import Adam
from glassnet.train import fit, predict

FIGURE = (
    Path(__file__).resolve().parents[1] / "docs" / "img" / "denoising-autoencoder.png"
)
NOISE = 0.35


def build_model(seed: int = 0) -> nn.Sequential:
    """(n, 1, 8, 8) -> 16 maps 2x2 -> (n, 1, 8, 8)."""
    return nn.Sequential(
        nn.Conv2D(1, 8, 3, padding=1, init="he"),
        nn.ReLU(),
        nn.MaxPool2D(2),  # 8x8 -> 4x4
        nn.Conv2D(8, 16, 3, padding=1, init="he"),
        nn.ReLU(),
        nn.MaxPool2D(2),  # 4x4 -> 2x2
        nn.ConvTranspose2D(16, 16, 3, stride=2, padding=1, output_padding=1),
        nn.ReLU(),  # 2x2 -> 4x4
        nn.ConvTranspose2D(16, 8, 3, stride=2, padding=1, output_padding=1),
        nn.ReLU(),  # 4x4 -> 8x8
        nn.Conv2D(8, 1, 3, padding=1),
        nn.Sigmoid(),
        seed=seed,
    )


def noisy(images: np.ndarray, rng) -> np.ndarray:
    """``images`` plus Gaussian noise (standard deviation NOISE), clipped to 0..1."""
    return np.clip(images + rng.normal(0, NOISE, images.shape), 0, 1).astype(np.float32)


def train_denoiser(seed: int = 0, epochs: int = 30, copies: int = 2, verbose=0):
    """Train on noisy copies of three quarters of the digits; score the rest."""
    data = digits()
    X = data.X[:, None] / 16.0  # (1797, 1, 8, 8), values 0..1
    clean_train, clean_test, _, y_test = train_test_split(
        X, data.y, test_size=0.25, seed=0
    )
    rng = np.random.default_rng(seed)
    noisy_train = np.concatenate([noisy(clean_train, rng) for _ in range(copies)])
    target = np.concatenate([clean_train] * copies)
    noisy_test = noisy(clean_test, rng)
    model = build_model(seed)
    start = time.perf_counter()
    history = fit(
        model,
        noisy_train,
        target,
        loss="mse",
        optimizer=Adam(model, lr=0.003),
        epochs=epochs,
        batch_size=64,
        seed=seed,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    output = predict(model, noisy_test)
    return {
        "model": model,
        "history": history,
        "seconds": seconds,
        "clean": clean_test,
        "noisy": noisy_test,
        "output": output,
        "labels": y_test,
        "noisy_mse": float(np.mean((noisy_test - clean_test) ** 2)),
        "output_mse": float(np.mean((output - clean_test) ** 2)),
    }


def draw(result, path=FIGURE):
    """Three rows for one test image of each digit: clean, noisy, the output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = [int(np.flatnonzero(result["labels"] == d)[0]) for d in range(10)]
    rows = [
        ("input", result["clean"]),
        (f"noisy input\nMSE {result['noisy_mse']:.4f}", result["noisy"]),
        (f"output\nMSE {result['output_mse']:.4f}", result["output"]),
    ]
    fig, axes = plt.subplots(3, 10, figsize=(10, 3.6))
    for r, (name, images) in enumerate(rows):
        for c, i in enumerate(picks):
            ax = axes[r, c]
            ax.imshow(images[i, 0], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=9)
    fig.suptitle(
        "Denoising autoencoder on the 8x8 digits (test images, noise σ = 0.35)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main() -> dict:
    result = train_denoiser(verbose=1)
    print(f"\n{result['model']}\n")
    print(
        f"trained in {result['seconds']:.1f} s; on {len(result['clean'])} test images "
        f"the noisy input's MSE is {result['noisy_mse']:.4f}, the output's "
        f"{result['output_mse']:.4f} "
        f"({result['noisy_mse'] / result['output_mse']:.1f}x smaller)"
    )
    print(f"figure: {draw(result)}")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
