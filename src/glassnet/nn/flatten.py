"""Flatten: lay out each sample's values in one row, ready for a Dense layer."""

from __future__ import annotations

from .._validate import shape_str
from ..errors import ShapeError
from ..ops.shape import reshape
from .module import Module


class Flatten(Module):
    """Turn each sample into a vector: (batch, d1, d2, ...) -> (batch, d1·d2·...).

    An 8x8 image becomes 64 inputs; a 128x128 one, 16,384. The first axis
    (the batch) is kept. Backward simply reshapes the gradient back.

    >>> import numpy as np
    >>> from glassnet.nn import Flatten
    >>> Flatten()(np.zeros((5, 1, 8, 8))).shape
    (5, 64)
    """

    def forward(self, x):
        if x.ndim < 2:
            raise ShapeError(
                f"Flatten expected input with a batch axis, (batch, ...); got shape "
                f"{shape_str(x.shape)}."
            )
        return reshape(x, x.shape[0], -1)
