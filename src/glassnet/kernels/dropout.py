"""Dropout's formula: kept units scaled up by 1/(1 − p), dropped ones zeroed.

The mask is drawn by the op (:func:`glassnet.ops.dropout`) from an explicit
NumPy Generator; the kernel only applies it. Its backward is the same formula
on the incoming gradient: d(x · m / (1 − p))/dx = m / (1 − p).
"""

from __future__ import annotations

import numpy as np

from . import _draw, register


def _args(draw):
    x = _draw.array(draw, _draw.shape(draw, ndim=(0, 3)))
    p = draw(_draw._st().sampled_from([0.0, 0.1, 0.5, 0.9]))
    rng = np.random.default_rng(draw(_draw._st().integers(0, 2**32 - 1)))
    return (x, rng.random(x.shape) >= p, p), {}


@register("dropout", args=_args, outs=("out",))
def dropout(x, keep, p, out=None):
    """y = x · keep / (1 − p): inverted dropout with the boolean mask ``keep``.

    Dividing by the keep probability 1 − p keeps each unit's expected value,
    so nothing changes at inference, where no unit is dropped.
    """
    y = np.multiply(x, keep, out=np.empty_like(x) if out is None else out)
    return np.multiply(y, x.dtype.type(1 / (1 - p)), out=y)
