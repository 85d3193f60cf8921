"""Argument helpers for the kernels' test generators (hypothesis's ``draw``).

Only tests call these, so hypothesis is imported inside them. Arrays take their
values from a drawn seed (fast, reproducible) and come in three layouts:
contiguous, every other element of a wider array (strided), and transposed
(Fortran order), so each kernel meets non-contiguous inputs.
"""

from __future__ import annotations

import numpy as np


def _st():
    from hypothesis import strategies

    return strategies


def dtype(draw):
    """float32 or float64."""
    return np.dtype(draw(_st().sampled_from([np.float32, np.float64])))


def size(draw, low: int = 1, high: int = 9) -> int:
    """A length: 1 (the batch-1 edge) and odd sizes included."""
    return draw(_st().integers(low, high))


def shape(draw, ndim=(1, 3), high: int = 9) -> tuple:
    """A shape with ``ndim[0]..ndim[1]`` axes, each 1..high long."""
    n = draw(_st().integers(*ndim))
    return tuple(size(draw, 1, high) for _ in range(n))


def array(draw, shape, dtype=None, scale: float = 1.0, layout=None) -> np.ndarray:
    """A float array of ``shape``: normal values times ``scale``, in a drawn layout."""
    st = _st()
    dt = np.dtype(dtype) if dtype is not None else globals()["dtype"](draw)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layout = layout or draw(st.sampled_from(["contiguous", "strided", "transposed"]))
    if layout == "strided" and shape:
        wide = (rng.standard_normal((*shape[:-1], 2 * shape[-1])) * scale).astype(dt)
        return wide[..., ::2]
    values = np.asarray(rng.standard_normal(shape) * scale).astype(dt)
    if layout == "transposed" and len(shape) > 1:
        return np.asfortranarray(values)
    return values


def like(draw, a: np.ndarray, scale: float = 1.0, layout=None) -> np.ndarray:
    """Another array of ``a``'s shape and dtype."""
    return array(draw, a.shape, a.dtype, scale, layout)
