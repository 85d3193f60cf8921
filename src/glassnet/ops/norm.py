"""Normalisation ops: BatchNorm and LayerNorm as one graph node each.

Both are the kernel :func:`glassnet.kernels.norm.normalise` over different
axes, then a learnt scale and shift: y = x̂ · γ + β.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validate import shape_str
from ..errors import ConfigError, ShapeError
from ..tensor import Tensor, as_tensor, make_result, unbroadcast

__all__ = ["batch_norm", "layer_norm"]


def _normalised(x, axes, eps, weight, bias, shape, mean=None, var=None):
    """(y, μ, σ²): y = x̂ · γ + β, with γ, β reshaped to ``shape`` to broadcast.

    Local derivatives: d/dβ = 1 and d/dγ = x̂, each summed over the axes γ is
    shared along; d/dx̂ = γ, then through the normalisation
    (:func:`glassnet.kernels.norm.normalise_backward`).
    """
    batch = mean is None  # statistics from this batch, not given ones
    xhat, mean, var = kernels.call("normalise", x.data, axes, eps, mean, var)
    params = [as_tensor(p, x) for p in (weight, bias) if p is not None]
    gamma = None if weight is None else params[0].data.reshape(shape)
    y = xhat if gamma is None else xhat * gamma
    y = y if bias is None else y + params[-1].data.reshape(shape)

    def backward(g):
        dx = None
        if x.requires_grad:
            dxhat = g if gamma is None else g * gamma
            dx = kernels.call("normalise_backward", dxhat, xhat, var, axes, eps, batch)
        dw = [] if weight is None else [unbroadcast(g * xhat, shape)]
        db = [] if bias is None else [unbroadcast(g, shape)]
        return dx, *(d.reshape(p.shape) for d, p in zip(dw + db, params))

    return make_result(y, (x, *params), backward), mean, var


def batch_norm(
    x, running_mean, running_var, weight=None, bias=None, *,
    training: bool = True, momentum: float = 0.1, eps: float = 1e-5,
) -> Tensor:  # fmt: skip
    """Batch normalisation of each channel (axis 1) over the batch and positions.

    Training: x̂ = (x − μ_B) / √(σ²_B + ε), μ_B and the biased σ²_B from the
    batch, and the running statistics move towards the batch's, in place:
    ``running ← (1 − momentum) · running + momentum · batch``, with the
    *unbiased* variance (n / (n − 1) · σ²_B, n values per channel), as in
    PyTorch. Inference (``training=False``): the running statistics stand in
    for the batch's. Then y = x̂ · γ + β.

    Shapes: x (N, C), (N, C, L) or (N, C, H, W); ``running_mean``,
    ``running_var``, ``weight`` (γ) and ``bias`` (β) (C,). Either running
    array may be None while training (then nothing is tracked).
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(
            f"batch_norm expected input (batch, channels, ...); got shape "
            f"{shape_str(x.shape)}."
        )
    shape, axes = (x.shape[1],) + (1,) * (x.ndim - 2), (0, *range(2, x.ndim))
    n = x.size // max(x.shape[1], 1)
    if not training:
        if running_mean is None or running_var is None:
            raise ConfigError(
                "batch_norm: with training=False the running statistics stand in "
                "for the batch's; give running_mean and running_var."
            )
        stats = [np.reshape(r, shape) for r in (running_mean, running_var)]
        return _normalised(x, axes, eps, weight, bias, shape, *stats)[0]
    if n < 2:
        raise ShapeError(
            f"batch_norm: training needs more than one value per channel to "
            f"measure a variance; got input of shape {shape_str(x.shape)}. Use "
            "a batch of 2 or more, or eval() mode."
        )
    y, mean, var = _normalised(x, axes, eps, weight, bias, shape)
    for running, batch in ((running_mean, mean), (running_var, var * n / (n - 1))):
        if running is not None:
            running *= 1 - momentum
            running += momentum * batch.reshape(running.shape)
    return y


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Layer normalisation: each sample over its trailing ``normalized_shape`` axes.

    y = (x − μ) / √(σ² + ε) · γ + β, μ and the biased σ² over the last
    ``len(normalized_shape)`` axes of each sample (the same at training and
    inference). Shapes: x (..., *normalized_shape); ``weight`` (γ) and
    ``bias`` (β) normalized_shape.
    """
    x, shape = as_tensor(x), tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape or x.ndim < len(shape):
        raise ShapeError(
            f"layer_norm expected input whose last axes are {shape_str(shape)}; got "
            f"shape {shape_str(x.shape)}."
        )
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    return _normalised(x, axes, eps, weight, bias, shape)[0]
