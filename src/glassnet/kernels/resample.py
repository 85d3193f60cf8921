"""Resampling: every map multiplied by a fixed matrix on each side.

Upsampling (nearest, bilinear) and adaptive average pooling change a map's
size by a linear map that acts on its rows and its columns separately: with
A_h (out_h, H) and A_w (out_w, W),

    y[n, c] = A_h · x[n, c] · A_wᵀ

Row i of A says which input pixels output i is made of, and with what
weights: one 1 (nearest), two weights adding to 1 (linear), or 1/count over
a bin (adaptive average). The matrix builders below are the formulas, in
PyTorch's conventions; :func:`resample2d` applies them. Local derivative:
x → the same matrices transposed, dx = A_hᵀ · g · A_w. (The products also
multiply every pixel by the matrices' zeros: one infinite or NaN pixel makes
the whole output map NaN, where PyTorch's gathers keep it local.)
"""

from __future__ import annotations

import numpy as np

from . import _draw, register

__all__ = [
    "adaptive_avg_matrix",
    "linear_matrix",
    "nearest_matrix",
    "resample2d",
    "resample2d_backward",
]


def nearest_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): output i copies input floor(i·n_in / n_out) (PyTorch's
    'nearest', legacy rounding)."""
    a = np.zeros((n_out, n_in))
    a[np.arange(n_out), np.arange(n_out) * n_in // n_out] = 1.0
    return a


def linear_matrix(n_in: int, n_out: int, align_corners: bool) -> np.ndarray:
    """(n_out, n_in): output i mixes the two inputs around its source s.

    s = i·(n_in - 1)/(n_out - 1) with ``align_corners`` (the first and last
    pixels' centres line up), else s = (i + ½)·n_in/n_out - ½, at least 0
    (the maps' edges line up); weights 1 - (s - ⌊s⌋) on ⌊s⌋ and s - ⌊s⌋ on
    the next pixel (the last pixel, past the edge).
    """
    i = np.arange(n_out, dtype=np.float64)
    if align_corners:
        s = i * ((n_in - 1) / (n_out - 1)) if n_out > 1 else 0 * i
    else:
        s = np.maximum((i + 0.5) * (n_in / n_out) - 0.5, 0.0)
    lo = np.minimum(np.floor(s).astype(int), n_in - 1)
    frac = s - lo
    a = np.zeros((n_out, n_in))
    np.add.at(a, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(a, (np.arange(n_out), np.minimum(lo + 1, n_in - 1)), frac)
    return a


def adaptive_avg_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): output i averages the inputs from ⌊i·n_in/n_out⌋ to
    ⌈(i+1)·n_in/n_out⌉ - 1 (PyTorch's bins: they cover the map, and overlap
    when n_out > n_in)."""
    a = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * n_in // n_out, -(-(i + 1) * n_in // n_out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


def _args(draw):
    """Batch 1, odd sizes, shrinking and growing, non-contiguous maps."""
    x = _draw.array(draw, _draw.shape(draw, ndim=(4, 4), high=6))
    rows = _draw.array(draw, (_draw.size(draw, 1, 9), x.shape[2]), x.dtype)
    cols = _draw.array(draw, (_draw.size(draw, 1, 9), x.shape[3]), x.dtype)
    return (x, rows, cols), {}


def _backward_args(draw):
    (x, rows, cols), _ = _args(draw)
    return (_draw.like(draw, resample2d(x, rows, cols)), rows, cols), {}


@register("resample2d", args=_args)
def resample2d(x, rows, cols):
    """y = rows · x · colsᵀ on every map: (N, C, H, W) -> (N, C, out_h, out_w)."""
    return np.ascontiguousarray(rows @ x @ cols.T)


@register("resample2d_backward", args=_backward_args)
def resample2d_backward(g, rows, cols):
    """dx = rowsᵀ · g · cols: each output's gradient sent back with its weights."""
    return np.ascontiguousarray(rows.T @ g @ cols)
