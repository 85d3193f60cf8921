"""Convolution: the learned filters, and the feature maps they make of one image."""

from __future__ import annotations

import numpy as np

from ._style import finish, new_figure, no_ticks, number_text, signed_cmap, signed_limit

__all__ = ["filters", "feature_maps"]


def _kernels(weights) -> np.ndarray:
    """(out, in, kh, kw) from an array or a Conv2D layer (Conv1D: kh = 1)."""
    from ..errors import ShapeError

    w = getattr(weights, "weight", weights)
    w = np.asarray(getattr(w, "data", w), dtype=np.float64)
    if getattr(weights, "_transposed", False):  # ConvTranspose2D: (in, out, kh, kw)
        w = w.transpose(1, 0, 2, 3)
    if w.ndim == 3:  # Conv1D (out, in, k)
        w = w[:, :, None, :]
    if w.ndim == 2:  # one filter (kh, kw)
        w = w[None, None]
    if w.ndim != 4:
        raise ShapeError(
            f"filters: expected weights (out, in, kh, kw), a Conv2D layer or "
            f"a Conv1D layer; got shape {w.shape}."
        )
    return w


def filters(
    weights,
    *,
    labels=None,
    input_labels=None,
    max_filters: int = 32,
    title=None,
    path=None,
):
    """Every filter (feature) of a convolution layer as a small image.

    Parameters
    ----------
    weights : Conv2D / Conv1D / ConvTranspose2D layer or array (out, in, kh, kw)
        Drawn as a grid: filters across, input channels down (for a grouped
        layer, the channels of each filter's group; for ConvTranspose2D, what
        each input channel paints onto each output channel).
    labels : list of str, optional
        One per filter.
    input_labels : list of str, optional
        One per input channel.

    One colour scale for all, centred on zero: blue positive, vermilion
    negative, white zero, each weight written in when the filter is small.
    """
    w = _kernels(weights)[:max_filters]
    n_out, n_in, kh, kw = w.shape
    lim = signed_limit(w)
    fig = new_figure(figsize=(1.35 * n_out + 1.6, 1.35 * n_in + 0.9))
    grid = fig.add_gridspec(n_in, n_out + 1, width_ratios=[1] * n_out + [0.1])
    shown = None
    for c in range(n_in):
        for o in range(n_out):
            ax = fig.add_subplot(grid[c, o])
            shown = ax.imshow(
                w[o, c],
                cmap=signed_cmap(),
                vmin=-lim,
                vmax=lim,
                interpolation="nearest",
            )
            no_ticks(ax)
            if kh * kw <= 25:
                for (i, j), v in np.ndenumerate(w[o, c]):
                    ax.text(
                        j,
                        i,
                        number_text(v, 1),
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if abs(v) > 0.6 * lim else "black",
                    )
            if c == 0:
                ax.set_title(labels[o] if labels else f"filter {o}", fontsize=8)
            if o == 0 and n_in > 1:
                ax.set_ylabel(
                    input_labels[c] if input_labels else f"input {c}", fontsize=8
                )
    bar = fig.colorbar(shown, cax=fig.add_subplot(grid[:, n_out]))
    bar.set_label("weight", fontsize=8)
    fig.suptitle(
        (title + "\n" if title else "")
        + f"{n_out} filters of {kh}x{kw}"
        + (f" over {n_in} input channels" if n_in > 1 else ""),
        fontsize=10,
    )
    return finish(fig, path)


def feature_maps(
    maps,
    *,
    image=None,
    labels=None,
    max_maps: int = 16,
    title=None,
    path=None,
    low: float = -1.0,
    high: float = 1.0,
    numbers=None,
):
    """The feature maps a layer made of one image, side by side.

    Parameters
    ----------
    maps : array (channels, height, width) or (1, channels, height, width)
    image : array (height, width), optional
        The input, drawn first in greys (``low`` black, ``high`` white).
    labels : list of str, optional
    numbers : bool, optional
        Write each value in its pixel (two decimals, cut as the X-and-O
        story prints them); default for maps of at most 8x8.

    Maps with negative values use one colour scale centred on zero (blue
    positive, vermilion negative); maps that are all >= 0 (after ReLU or
    pooling) a scale from 0 (white) up. The scale is shared by all maps.
    """
    m = np.asarray(getattr(maps, "data", maps), dtype=np.float64)
    if m.ndim == 4:
        m = m[0]
    if m.ndim == 2:
        m = m[None]
    m = m[:max_maps]
    n = len(m) + (image is not None)
    fig = new_figure(figsize=(2.8 * n + 1.2, 3.3))  # room for 7 pt numbers
    grid = fig.add_gridspec(1, n + 1, width_ratios=[1] * n + [0.08])
    k = 0
    if image is not None:
        ax = fig.add_subplot(grid[0, 0])
        ax.imshow(
            np.asarray(image).squeeze(),
            cmap="gray",
            vmin=low,
            vmax=high,
            interpolation="nearest",
        )
        no_ticks(ax)
        ax.set_title("input", fontsize=8)
        k = 1
    signed = bool((m < 0).any())
    lim = signed_limit(m)
    cmap, vmin = (signed_cmap(), -lim) if signed else ("Blues", 0.0)
    shown = None
    for i, fm in enumerate(m):
        ax = fig.add_subplot(grid[0, k + i])
        shown = ax.imshow(fm, cmap=cmap, vmin=vmin, vmax=lim, interpolation="nearest")
        no_ticks(ax)
        if numbers or (numbers is None and max(fm.shape) <= 8):
            # cut after two decimals, as the X-and-O story prints (7/9 -> 0.77), with a
            # nudge so that 0.99999... from float arithmetic still reads 1.00
            cut = np.trunc(fm * 100 + np.sign(fm) * 1e-6) / 100
            for (r, c), v in np.ndenumerate(cut):
                ax.text(
                    c,
                    r,
                    number_text(v, 2),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if abs(v) > 0.6 * lim else "black",
                )
        ax.set_title(labels[i] if labels else f"map {i}", fontsize=8)
    bar = fig.colorbar(shown, cax=fig.add_subplot(grid[0, n]))
    bar.set_label("value", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return finish(fig, path)
