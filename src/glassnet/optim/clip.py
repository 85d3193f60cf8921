"""Gradient clipping: stop one bad batch from throwing the weights far away.

Both functions run between ``loss.backward()`` and ``optimizer.step()``.
They *replace* each ``p.grad`` with a new, clipped array rather than writing
into it, because a gradient array may be shared with other code.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import check_positive
from .base import named_params


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients together so their overall length is at most ``max_norm``.

    The length is the L2 norm of every gradient entry of every parameter
    taken as one long vector:

        ‖g‖ = √( Σ over parameters p, Σ over entries i, g_pi² )

    Every gradient is multiplied by

        c = min(1, max_norm / (‖g‖ + 1e-6))

    exactly as PyTorch's ``clip_grad_norm_`` does: the 1e-6 keeps the result
    just inside the limit, so a norm equal to ``max_norm`` (or less than 1e-6
    below it) is still scaled, by c < 1. The direction of the step is kept and
    only its length shrinks; where c = 1 the gradients are left untouched.
    Parameters whose ``grad`` is None are skipped.
    If the norm is NaN or infinite, the gradients are left as they are (the
    training loop's NaN check reports it).

    Parameters
    ----------
    params : model, or iterable of Tensors or (name, Tensor) pairs
    max_norm : float > 0

    Returns
    -------
    float
        The norm *before* clipping (worth logging: spikes show instability).

    >>> import glassnet as gn
    >>> w = gn.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = np.array([3.0, 4.0], np.float32)
    >>> clip_grad_norm([w], max_norm=1.0)
    5.0
    >>> w.grad.round(4)
    array([0.6, 0.8], dtype=float32)
    """
    check_positive("clip_grad_norm", "max_norm", max_norm)
    grads = [p for _, p in named_params("clip_grad_norm", params) if p.grad is not None]
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN are reported
        for p in grads:
            flat = p.grad.ravel()
            sq = float(np.dot(flat, flat))
            if not math.isfinite(sq):  # float32 squares overflow past 1.8e19
                flat = flat.astype(np.float64)
                sq = float(np.dot(flat, flat))
            total += sq
    norm = math.sqrt(total)
    scale = max_norm / (norm + 1e-6)
    if scale < 1 and math.isfinite(norm):
        for p in grads:
            p.grad = p.grad * p.grad.dtype.type(scale)
    return norm


def clip_grad_value(params, limit: float) -> None:
    """Clamp every gradient entry into ``[-limit, limit]``.

    Unlike :func:`clip_grad_norm` this changes the direction of the step;
    it is a blunter guard against single huge entries. Parameters whose
    ``grad`` is None are skipped.

    >>> import glassnet as gn
    >>> w = gn.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = np.array([3.0, -0.5], np.float32)
    >>> clip_grad_value([w], limit=1.0)
    >>> w.grad
    array([ 1. , -0.5], dtype=float32)
    """
    check_positive("clip_grad_value", "limit", limit)
    for _, p in named_params("clip_grad_value", params):
        if p.grad is not None:
            cap = p.grad.dtype.type(limit)
            p.grad = np.clip(p.grad, -cap, cap)
