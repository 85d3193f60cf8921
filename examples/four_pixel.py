"""The four-pixel camera: the hand-wired network's walk-through, and a trained network.

Seed 004 opens with a camera of four black-and-white pixels and a small
network that sorts its pictures into solid, vertical, diagonal and
horizontal, with weights of +1, -1 and 0 set by hand. This script

1. prints the network's summary and the talk's example (dark top row, light
   bottom row) traced through it neuron by neuron;
2. checks that the first layer's receptive fields are pairs of pixels;
3. trains a network of the same shape from random weights on the eight
   labelled pictures and reports what it says for each;
4. draws both networks with every neuron as its receptive field (needs
   matplotlib).

Run::

    python examples/four_pixel.py                 # figures into four-pixel/
    python examples/four_pixel.py --out figs --no-figures
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from glassnet.datasets import FOUR_PIXEL_CLASSES, four_pixel
from glassnet.demos import four_pixel as fp
from glassnet.inspect.receptive import receptive_fields
from glassnet.train import predict_classes


def first_layer_pairs(model) -> list:
    """For each first-layer neuron: (pixels it wants light, pixels it wants dark)."""
    out = []
    for field in receptive_fields(model, 1):
        light = [fp.INPUT_NEURONS[i] for i in np.flatnonzero(field.pattern > 0)]
        dark = [fp.INPUT_NEURONS[i] for i in np.flatnonzero(field.pattern < 0)]
        out.append((light, dark))
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="four-pixel", help="folder for the figures")
    parser.add_argument("--no-figures", action="store_true")
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args(argv)

    model = fp.hand_set_network()
    print(model.summary(), "\n")
    walk = fp.walk_through(model)
    print(walk, "\n")
    print("First layer, each neuron's receptive field:")
    pairs = first_layer_pairs(model)
    for j, (light, dark) in enumerate(pairs):
        print(
            f"  neuron {j}: light {' and '.join(light)}"
            + (f", dark {' and '.join(dark)}" if dark else "")
        )

    data = four_pixel()
    trained, history = fp.train_network(epochs=args.epochs)
    said = predict_classes(trained, fp.to_input_neurons(data.X))
    print(
        f"\nTrained network ({len(history)} epochs): "
        f"{int((said == data.y).sum())} of {len(data.y)} right"
    )
    for image, truth, guess in zip(data.X, data.y, said):
        print(
            f"  {image.astype(int).tolist()}  {FOUR_PIXEL_CLASSES[truth]:10s} -> "
            f"{FOUR_PIXEL_CLASSES[guess]}"
        )

    if not args.no_figures:
        try:
            os.makedirs(args.out, exist_ok=True)
            fp.draw(
                model,
                os.path.join(args.out, "hand-wired.png"),
                "the hand-wired four-pixel network",
            )
            fp.draw(
                trained,
                os.path.join(args.out, "trained.png"),
                "a trained four-pixel network",
                example=False,
            )
            print(f"\nfigures in {args.out}/")
        except ImportError:
            print(
                "\n(no figures: matplotlib is missing; pip install -e '.[plot]' in a glassnet checkout)"
            )
    return {"walk": walk, "pairs": pairs, "trained_right": int((said == data.y).sum())}


if __name__ == "__main__":
    main()
    sys.exit(0)
