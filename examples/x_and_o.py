"""X or O, step by step: the seed's filtering by hand, then a CNN that learns it.

Part 1 repeats the story's arithmetic on its 9x9 X: each 3x3 feature is
laid on every patch, pixel products are added and divided by 9 (1.00 where
the feature fits perfectly, 0.55 where two pixels disagree), negative values
become 0, and 2x2 max pooling with a ragged edge turns each 7x7 map into
4x4. It then shows that a Conv2D layer holding the same features computes 9
times those maps.

Part 2 trains a small CNN (Conv2D -> ReLU -> MaxPool2D -> Flatten -> Dense)
on generated Xs and Os and tests it on 1,000 new ones; see
``glassnet demo x-and-o``, which also draws the learned features.

Run::

    python examples/x_and_o.py [--out FIGURE.png]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from glassnet import nn
from glassnet.datasets.stories import canonical_x, x_features
from glassnet.demos import x_and_o as demo
from glassnet.ops.conv_match import as_printed, match, seed_pool


def by_hand() -> dict:
    """The story's filtering, ReLU and pooling of its X, and the same by a Conv2D layer."""
    image, features = canonical_x(), x_features()
    maps = match(image, features)  # (3, 7, 7)
    rectified = np.maximum(maps, 0)
    pooled = seed_pool(rectified)  # (3, 4, 4)
    layer = nn.Conv2D(1, 3, 3, bias=False)
    layer.weight.data = features[:, None].copy()
    conv_maps = layer(image[None, None]).data[0]
    return {"maps": maps, "pooled": pooled, "conv_maps": conv_maps}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default=demo.DEFAULT_OUT, help="where to write the figure"
    )
    args = parser.parse_args(argv)

    hand = by_hand()
    np.set_printoptions(precision=2, suppress=True, linewidth=100)
    print(
        "The falling-diagonal feature matched against every patch of the X "
        "(products added, divided by 9; digits cut as the slides print them):"
    )
    print(as_printed(hand["maps"][0]))
    print("\nafter ReLU and 2x2 max pooling with a ragged edge (7x7 -> 4x4):")
    print(as_printed(hand["pooled"][0]))
    same = np.allclose(hand["conv_maps"], 9 * hand["maps"], atol=1e-5)
    print(
        "\nConv2D(1 → 3, 3x3) holding the three features, no bias, gives 9 x these "
        f"maps: {same}\n"
    )
    demo.run(args)
    return hand


if __name__ == "__main__":
    main()
    sys.exit(0)
