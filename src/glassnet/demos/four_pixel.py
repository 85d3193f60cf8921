"""The four-pixel camera: a hand-wired network and a trained one sort 2x2 images.

A camera with four black-and-white pixels takes pictures that are solid,
vertical, diagonal or horizontal. The input neurons are the four pixels in
the talk's order -- upper-left, lower-left, upper-right, lower-right --
with -1 for black, +1 for white. The hand-wired network uses only weights
of +1, -1 and 0 and no biases:

* layer 1 (tanh): left column, right column, left column top minus bottom,
  right column top minus bottom;
* layer 2 (tanh): solid (left + right column), vertical (left - right),
  diagonal and horizontal (the two top-minus-bottom neurons subtracted or
  added);
* layer 3 (ReLU): each layer-2 neuron twice, once through +1 and once
  through -1, so a pattern and its negative each get a neuron;
* output (linear): solid, vertical, diagonal, horizontal, each the sum of
  its two ReLU neurons.

The talk's example, a dark top row over a light bottom row, goes through
it exactly as the talk tells it and comes out horizontal.
"""

from __future__ import annotations

import numpy as np

DESCRIPTION = (
    "the four-pixel camera: the hand-wired network's walk-through, a trained one"
)
DEFAULT_OUT = "glassnet-four-pixel.png"

INPUT_NEURONS = ("upper left", "lower left", "upper right", "lower right")
# The hand-set weights, one row per neuron, one column per input of the layer.
LAYER1 = [
    [1, 1, 0, 0],  # left column light
    [0, 0, 1, 1],  # right column light
    [1, -1, 0, 0],  # upper left light, lower left dark
    [0, 0, 1, -1],
]  # upper right light, lower right dark
LAYER2 = [
    [1, 1, 0, 0],  # all light: solid
    [1, -1, 0, 0],  # left light, right dark: vertical
    [0, 0, 1, -1],  # checkerboard: diagonal
    [0, 0, 1, 1],
]  # top light, bottom dark: horizontal
LAYER3 = [
    [s if j == k // 2 else 0 for j in range(4)] for k, s in enumerate([1, -1] * 4)
]  # each layer-2 neuron through +1 and through -1
OUTPUT = [[1 if k // 2 == c else 0 for k in range(8)] for c in range(4)]


def to_input_neurons(images) -> np.ndarray:
    """2x2 images (n, 2, 2) -> input vectors (n, 4) in the talk's order, column by column."""
    images = np.asarray(images, dtype=np.float32)
    return images.transpose(0, 2, 1).reshape(len(images), 4)


def to_image(vector) -> np.ndarray:
    """An input vector (4,) in the talk's order -> the 2x2 image it shows."""
    return np.asarray(vector).reshape((2, 2), order="F")


def build(seed=None, bias: bool = False):
    """The network's shape: 4 -> 4 tanh -> 4 tanh -> 8 ReLU -> 4."""
    from ..nn import Dense, ReLU, Sequential, Tanh

    return Sequential(
        Dense(4, 4, bias=bias),
        Tanh(),
        Dense(4, 4, bias=bias),
        Tanh(),
        Dense(4, 8, bias=bias),
        ReLU(),
        Dense(8, 4, bias=bias),
        seed=seed,
    )


def hand_set_network():
    """The hand-wired network: weights of +1, -1 and 0 only, no biases."""
    model = build()
    for layer, rows in zip(model.layers[::2], (LAYER1, LAYER2, LAYER3, OUTPUT)):
        layer.weight.data = np.array(
            rows, dtype=np.float32
        ).T.copy()  # (inputs, neurons)
    return model.mark_trained()  # set by hand, meant as they are: predict need not warn


def walk_through(model=None):
    """The trace of the talk's example (dark top row, light bottom row), with the loss
    against its truth (0, 0, 0, 1) measured as the talk measures it."""
    from ..datasets import four_pixel_example
    from ..inspect.trace import trace

    model = model or hand_set_network()
    image, label = four_pixel_example()
    truth = np.eye(4, dtype=np.float32)[label]
    return trace(
        model, to_input_neurons(image[None])[0], target=truth, loss=total_error
    )


def total_error(answer, truth):
    """The talk's error: the size of each output's miss, added over the outputs."""
    return (answer - truth).abs().sum()


def train_network(
    seed: int = 0, epochs: int = 300, noise: float = 0.25, copies: int = 16
):
    """A network of the same shape, with biases, trained on the eight labelled images.

    Each image is shown ``copies`` times per epoch with a little grey noise
    added (standard deviation ``noise``) so that the network learns the
    patterns, not eight exact pictures. Returns (model, history).
    """
    from ..datasets import four_pixel
    from ..optim import Adam
    from ..train import fit

    data = four_pixel()
    rng = np.random.default_rng(seed)
    X = np.repeat(to_input_neurons(data.X), copies, axis=0)
    X = np.clip(X + noise * rng.standard_normal(X.shape), -1, 1).astype(np.float32)
    y = np.repeat(data.y, copies)
    model = build(seed=seed, bias=True)
    history = fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=Adam(model, lr=0.01),
        epochs=epochs,
        batch_size=32,
        seed=seed,
        verbose=0,
    )
    return model, history


def draw(model, path=None, title: str = "", example: bool = True):
    """The network with every neuron drawn as its receptive field and, beside it,
    the same network with the neurons' values for the talk's example."""
    from ..datasets import FOUR_PIXEL_CLASSES
    from ..plot import network

    common = dict(
        input_labels=INPUT_NEURONS,
        output_labels=FOUR_PIXEL_CLASSES,
        image_shape=(2, 2),
        order="F",
    )
    figs = [
        network(
            model,
            receptive=True,
            title=title + "\neach neuron drawn as its receptive field",
            **common,
        )
    ]
    if example:
        figs.append(
            network(
                model,
                values=walk_through(model),
                title=title + "\nvalues for the talk's example: dark top "
                "row, light bottom row",
                **common,
            )
        )
    if path is not None:
        import os

        from ..plot._style import finish

        stem, ext = os.path.splitext(os.fspath(path))
        finish(figs[0], path)
        if example:
            finish(figs[1], f"{stem}-example{ext or '.png'}")
    return figs


def run(args=None, out=print) -> int:
    from ..datasets import FOUR_PIXEL_CLASSES, four_pixel
    from ..train import predict_classes

    out(__doc__.strip().splitlines()[0] + "\n")
    model = hand_set_network()
    out("The hand-wired network, with the talk's example (dark top, light bottom):\n")
    walk = walk_through(model)
    out(walk.narrate())
    answer = FOUR_PIXEL_CLASSES[int(np.argmax(walk.output))]
    out(f"\nThe network says: {answer}.\n")

    data = four_pixel()
    trained, history = train_network()
    said = predict_classes(trained, to_input_neurons(data.X))
    out(
        f"A network of the same shape trained from random weights "
        f"({len(history)} epochs, final loss {history.loss[-1]:.3f}):"
    )
    for image, truth, guess in zip(data.X, data.y, said):
        rows = " / ".join("".join("#" if v > 0 else "." for v in row) for row in image)
        mark = "right" if truth == guess else "WRONG"
        out(
            f"  {rows}   {FOUR_PIXEL_CLASSES[truth]:10s} -> {FOUR_PIXEL_CLASSES[guess]:10s}"
            f" {mark}"
        )
    import os

    from . import figure_path, no_matplotlib

    path = figure_path(args, DEFAULT_OUT)
    if path is None:
        out(no_matplotlib())
        return 0
    stem, ext = os.path.splitext(path)
    draw(model, path, "the hand-wired four-pixel network")
    draw(trained, f"{stem}-trained{ext}", "a trained four-pixel network", example=False)
    out(f"\nfigures: {path}, {stem}-example{ext}, {stem}-trained{ext}")
    return 0
