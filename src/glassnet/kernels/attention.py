"""Scaled dot-product attention and its backward: the one place they are written.

Each query asks every key how well it matches (a dot product), the matches
become weights that sum to 1 (a softmax), and the answer is the weighted
average of the values::

    s = q kᵀ / √d        (blocked pairs set to −∞)
    w = softmax(s)       over the keys: e^(s − logsumexp(s))
    y = w v

Shapes: q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv) -> y (..., Tq, dv),
w (..., Tq, Tk); the leading axes (batch, heads) broadcast. ``blocked`` is a
boolean array broadcastable to (..., Tq, Tk), True where a query may not look
at a key (a causal mask, padding). A query with every key blocked gets NaN
weights, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from . import _draw, register
from .reduce import logsumexp


def _attention_args(draw):
    st = _draw._st()
    dt = _draw.dtype(draw)
    lead = _draw.shape(draw, ndim=(0, 2), high=3)
    tq, tk, d, dv = (_draw.size(draw, 1, 6) for _ in range(4))
    q = _draw.array(draw, (*lead, tq, d), dt)
    k, v = _draw.array(draw, (*lead, tk, d), dt), _draw.array(draw, (*lead, tk, dv), dt)
    blocked = None
    if draw(st.booleans()):  # causal: key j > query i blocked (key 0 always open)
        blocked = np.triu(np.ones((tq, tk), bool), 1)
    return (q, k, v, blocked), {}


@register("attention", args=_attention_args)
def attention(q, k, v, blocked=None):
    """(y, w): softmax(q kᵀ / √d) v and the weights w (see the module docstring)."""
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * q.dtype.type(1 / np.sqrt(q.shape[-1]))
    if blocked is not None:
        s = np.where(blocked, -np.inf, s)
    with np.errstate(invalid="ignore"):  # all keys blocked: NaN, as documented
        w = np.exp(s - logsumexp(s, -1))
    return np.matmul(w, v), w


def _attention_backward_args(draw):
    (q, k, v, blocked), _ = _attention_args(draw)
    y, w = attention(q, k, v, blocked)
    return (_draw.like(draw, y), q, k, v, w), {}


@register("attention_backward", args=_attention_backward_args)
def attention_backward(g, q, k, v, w):
    """(dq, dk, dv) from g = d(loss)/dy and the forward's weights w::

        dv = wᵀ g      dw = g vᵀ      ds = w (dw − Σ_keys dw·w)  (softmax's)
        dq = ds k / √d                dk = dsᵀ q / √d

    Blocked pairs have w = 0, so they pass no gradient.
    """
    dv = np.matmul(np.swapaxes(w, -1, -2), g)
    dw = np.matmul(g, np.swapaxes(v, -1, -2))
    ds = w * (dw - (dw * w).sum(axis=-1, keepdims=True))
    ds *= q.dtype.type(1 / np.sqrt(q.shape[-1]))
    return np.matmul(ds, k), np.matmul(np.swapaxes(ds, -1, -2), q), dv
