"""Attention: where each position of a sequence looked, one heat map per head."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ._style import finish, new_figure

__all__ = ["attention"]


def _weights(source, sample: int) -> np.ndarray:
    """(heads, queries, keys) from a layer, a trace record or an array."""
    for attr in ("attention_weights", "attention"):  # a layer; a trace's record
        if hasattr(source, attr):
            source = getattr(source, attr)
            break
    if source is None:
        raise ShapeError(
            "attention: no weights yet; run the MultiHeadAttention layer (or "
            "trace the model) first."
        )
    w = np.asarray(source, dtype=np.float64)
    if w.ndim == 4:
        w = w[sample]
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3:
        raise ShapeError(
            "attention: expected weights (batch, heads, queries, keys), (heads, "
            f"queries, keys) or (queries, keys); got shape {w.shape}."
        )
    return w


def attention(
    weights, tokens=None, keys=None, *, sample: int = 0, title=None, path=None
):
    """Heat maps of attention weights: queries down, keys across, one per head.

    Parameters
    ----------
    weights : MultiHeadAttention, LayerTrace or array
        A layer after a call (its ``attention_weights``), a trace's record of
        it (``trace(model, x)[i]``), or an array (batch, heads, Tq, Tk),
        (heads, Tq, Tk) or (Tq, Tk).
    tokens : list of str, optional
        The token at each query position (and each key, unless ``keys``); a
        space is shown as ␣ and a line break as ⏎.
    keys : list of str, optional
        The key positions' tokens, when they differ (cross-attention).
    sample : int
        Which sequence of a batch.

    Each row is one query and sums to 1: white is 0 (not looked at), dark
    blue 1 (all of this query's attention on that key). Under a causal
    mask everything right of the diagonal is white.

    Returns
    -------
    matplotlib.figure.Figure
    """
    w = _weights(weights, sample)
    H, Tq, Tk = w.shape
    shown = {" ": "␣", "\n": "⏎"}  # characters that would print as nothing
    rows = [shown.get(str(t), str(t)) for t in tokens] if tokens is not None else None
    rows = rows or [str(t) for t in range(Tq)]
    cols = [shown.get(str(t), str(t)) for t in keys] if keys is not None else rows[:Tk]
    if len(rows) != Tq or len(cols) != Tk:
        raise ShapeError(
            f"attention: {len(rows)} query and {len(cols)} key labels for weights "
            f"of {Tq} queries x {Tk} keys."
        )
    long = max(Tq, Tk) > 12
    per_row = min(H, 2 if long else 4)
    n_rows = -(-H // per_row)
    cell = 0.22 if long else 0.4
    fig = new_figure(
        figsize=(per_row * (cell * Tk + 1.0) + 0.8, n_rows * (cell * Tq + 1.0) + 0.6)
    )
    axes = fig.subplots(n_rows, per_row, squeeze=False).ravel()
    for h, ax in enumerate(axes):
        if h >= H:
            ax.set_visible(False)
            continue
        shown = ax.imshow(
            w[h], cmap="Blues", vmin=0, vmax=1, interpolation="nearest", aspect="equal"
        )
        ax.set_title(f"head {h}", fontsize=9)
        ax.set_xticks(range(Tk), cols, fontsize=7, rotation=90)
        ax.set_yticks(range(Tq), rows, fontsize=7)
        if h % per_row == 0:
            ax.set_ylabel("query (position reading)", fontsize=8)
        ax.set_xlabel("key (position read)", fontsize=8)
    fig.colorbar(shown, ax=list(axes[:H]), shrink=0.8, label="attention weight")
    if title:
        fig.suptitle(title, fontsize=10)
    return finish(fig, path)
