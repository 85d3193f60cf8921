"""log-sum-exp: the one reference (softmax, log-softmax and losses' shared core).

``log Σ_i e^(x_i)`` overflows when written as it reads (e^1000 = ∞) and
underflows to log 0 = −∞ when every x is very negative. Subtracting the
maximum m first fixes both, since log Σ e^x = m + log Σ e^(x − m) and every
exponent is then <= 0 with at least one equal to 0.
"""

from __future__ import annotations

import numpy as np

from . import _draw, register


def _lse_args(draw):
    st = _draw._st()
    x = _draw.array(
        draw, _draw.shape(draw, ndim=(1, 3)), scale=draw(st.sampled_from([1, 1e3]))
    )
    axes = tuple(sorted(draw(st.sets(st.integers(0, x.ndim - 1), min_size=1))))
    return (x, axes), {}


@register("logsumexp", args=_lse_args)
def logsumexp(x, axis=None):
    """m + log Σ e^(x − m) over ``axis`` (int, tuple or None), axes kept as size 1.

    m is the maximum over the same axes; where it is ±∞ it is replaced by 0,
    so a slice of all −∞ gives −∞ (log 0) and one holding +∞ gives +∞.
    """
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
