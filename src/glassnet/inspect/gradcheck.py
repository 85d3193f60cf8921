"""Check backpropagation against finite differences.

Backprop computes every derivative from the local derivatives of the ops.
Finite differences compute the same derivatives the slow, obvious way:
nudge one input value up by eps and down by eps, and see how much the output
moves. Where the two disagree, an op's backward is wrong.
"""

from __future__ import annotations

import numpy as np

from ..errors import GradcheckError
from ..tensor import Tensor, no_grad


def gradcheck(
    fn, inputs, eps: float = 1e-6, rtol: float = 1e-4, atol: float = 1e-6, seed: int = 0
) -> bool:
    """Compare ``fn``'s backpropagated gradients with central differences in float64.

    Parameters
    ----------
    fn : callable
        Takes the tensors in ``inputs`` (as positional arguments) and returns
        a Tensor. If the result has more than one element, it is reduced to
        one number by a fixed random weighting, which checks the whole
        Jacobian rather than only its column sums.
    inputs : sequence of Tensor or array_like
        Tensors with ``requires_grad=True`` and every non-Tensor input are
        checked. Inputs are copied to float64, except float64 Tensors, which
        are used as they are (nudged in place and restored), so a layer's own
        parameters can be checked after ``layer.astype(np.float64)``.
    eps, rtol, atol : float
        Step size and tolerances: a gradient passes when
        ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Returns
    -------
    True when every gradient matches; otherwise raises GradcheckError naming
    the input, the element index and both values of the worst mismatch.

    Examples
    --------
    >>> import glassnet as gn
    >>> x = gn.tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> gn.gradcheck(lambda t: (t * t).tanh(), [x])
    True
    """
    tensors = []
    for item in inputs:
        if isinstance(item, Tensor) and item.dtype == np.float64:
            if not item.data.flags.c_contiguous:
                # The nudges go through a flat view, which only a contiguous array has.
                item.data = np.ascontiguousarray(item.data)
            tensors.append(item)
            continue
        checked = item.requires_grad if isinstance(item, Tensor) else True
        data = item.data if isinstance(item, Tensor) else item
        tensors.append(Tensor(np.array(data, dtype=np.float64), requires_grad=checked))
    saved_grads = [t.grad for t in tensors]
    try:
        return _check(fn, tensors, eps, rtol, atol, seed)
    finally:
        for t, g in zip(tensors, saved_grads):
            t.grad = g


def _check(fn, tensors, eps, rtol, atol, seed) -> bool:

    weights = None

    def scalar(out: Tensor) -> Tensor:
        nonlocal weights
        if not isinstance(out, Tensor):
            raise GradcheckError(
                f"gradcheck: fn must return a Tensor; got {type(out).__name__}."
            )
        if out.size == 1:
            return out.sum()
        if weights is None:
            weights = np.random.default_rng(seed).standard_normal(out.shape)
        return (out * weights).sum()

    for t in tensors:
        t.grad = None
    loss = scalar(fn(*tensors))
    if not loss.requires_grad:
        raise GradcheckError(
            "gradcheck: the output does not depend on any checked input."
        )
    loss.backward()

    worst = None
    with no_grad():
        for k, t in enumerate(tensors):
            if not t.requires_grad:
                continue
            analytic = t.grad if t.grad is not None else np.zeros_like(t.data)
            flat = t.data.reshape(-1)  # a view: nudges show through t.data
            numeric = np.empty(flat.size)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                up = scalar(fn(*tensors)).item()
                flat[i] = old - eps
                down = scalar(fn(*tensors)).item()
                flat[i] = old
                numeric[i] = (up - down) / (2 * eps)
            numeric = numeric.reshape(t.shape)
            excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
            if excess.size and (worst is None or excess.max() > worst[0]):
                idx = np.unravel_index(int(np.argmax(excess)), t.shape)
                worst = (excess.max(), k, idx, analytic[idx], numeric[idx])
    if worst is not None and worst[0] > 0:
        _, k, idx, a, n = worst
        raise GradcheckError(
            f"gradcheck: input {k} at index {tuple(int(i) for i in idx)}: backprop gives "
            f"{a:.8g}, finite differences give {n:.8g} (rtol={rtol}, atol={atol})."
        )
    return True
