"""Normalisation: shift and scale values to mean 0 and variance 1 over some axes.

BatchNorm normalises each channel over the batch (and the positions); LayerNorm
each sample over its trailing features. Both are this one formula over
different axes; :mod:`glassnet.ops.norm` adds the learnt scale γ and shift β.
"""

from __future__ import annotations

import numpy as np

from . import _draw, register


def _args(draw):
    st = _draw._st()
    x = _draw.array(draw, _draw.shape(draw, ndim=(1, 4), high=5))
    order = draw(st.permutations(range(x.ndim)))
    axes = tuple(sorted(order[: draw(st.integers(1, x.ndim))]))
    eps = draw(st.sampled_from([1e-5, 1e-3]))
    if draw(st.booleans()):  # fixed statistics, as BatchNorm's at inference
        mean, var = normalise(x, axes, eps)[1:]
        return (x, axes, eps), {"mean": mean + 0.5, "var": 2 * var + 0.1}
    return (x, axes, eps), {}


@register("normalise", args=_args)
def normalise(x, axes, eps, mean=None, var=None):
    """(x̂, μ, σ²): x̂ = (x − μ) / √(σ² + ε).

    μ and σ² are the mean and the *biased* variance (the mean of (x − μ)²,
    divided by n, not n − 1) over ``axes``, kept as size-1 axes; when
    ``mean`` and ``var`` are given (BatchNorm's running statistics at
    inference) they are used instead and returned as they are.
    """
    if mean is None:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps), mean, var


def _backward_args(draw):
    (x, axes, eps), kw = _args(draw)
    xhat, _, var = normalise(x, axes, eps, **kw)
    return (_draw.like(draw, x), xhat, var, axes, eps), {"batch": not kw}


@register("normalise_backward", args=_backward_args)
def normalise_backward(g, xhat, var, axes, eps, batch=True):
    """d(loss)/dx from g = d(loss)/dx̂ and the forward's x̂ and σ².

    With batch statistics, μ and σ² move with x too, which takes out of g its
    mean and its part along x̂ (the means over ``axes``)::

        dx = (g − mean(g) − x̂ · mean(g · x̂)) / √(σ² + ε)

    With fixed statistics (``batch=False``) only the scale is left:
    dx = g / √(σ² + ε).
    """
    scale = 1 / np.sqrt(var + eps)
    if not batch:
        return g * scale
    centred = g - g.mean(axis=axes, keepdims=True)
    return (centred - xhat * (g * xhat).mean(axis=axes, keepdims=True)) * scale
