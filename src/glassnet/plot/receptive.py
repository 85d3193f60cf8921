"""Receptive fields of every neuron, layer by layer, and first-layer weights as images."""

from __future__ import annotations

import numpy as np

from ._style import (
    as_image,
    checkered,
    finish,
    new_figure,
    no_ticks,
    signed_cmap,
    signed_limit,
)

__all__ = ["receptive_fields", "weight_images"]


def receptive_fields(
    model,
    layers=None,
    *,
    input_shape=None,
    image_shape=None,
    order: str = "C",
    low: float = -1.0,
    high: float = 1.0,
    max_neurons: int = 16,
    row_labels=None,
    title=None,
    path=None,
    **search,
):
    """Every neuron of each layer drawn as its receptive field, one row per layer.

    Each picture is the input within ``[low, high]`` that drives the neuron
    highest (black = low, white = high; checkered = the neuron's weighted
    sum ignores it), with the neuron's value for it above, marked "sat."
    where the neuron is saturated (its value does not move whichever input
    is changed, so the value says little; the picture still shows what the
    sum favours). The row label says whether the fields were computed
    exactly or found by gradient ascent (see
    :mod:`glassnet.inspect.receptive`), how many are saturated, and how many
    of the layer's neurons are drawn when not all are.

    Parameters
    ----------
    model : Module
    layers : list of int, str or Module, optional
        Which layers; default every Dense or convolution layer, taken after
        its activation when one follows.
    input_shape : tuple, optional
        One sample's shape, when it cannot be inferred.
    image_shape, order
        How an input folds into an image (``numpy.reshape`` arguments);
        default square, or the input's own last two axes.
    low, high : float
        The input box.
    max_neurons : int
        Neurons drawn per layer (the first ones).
    row_labels : list of str, optional
    title : str, optional
    path : str or Path, optional
    **search
        Passed to :func:`glassnet.inspect.receptive.receptive_field`
        (``steps``, ``restarts``, ``seed``).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.receptive_fields`` holds the ReceptiveField results drawn,
        one list per row.
    """
    from ..inspect.receptive import find_layer, neuron_layers
    from ..inspect.receptive import receptive_fields as compute

    layers = neuron_layers(model) if layers is None else list(layers)
    every = [
        compute(model, layer, input_shape, low, high, **search) for layer in layers
    ]
    rows = [fields[:max_neurons] for fields in every]
    n_cols = max(len(r) for r in rows)
    fig = new_figure(figsize=(1.15 * n_cols + 1.8, 1.45 * len(rows) + 0.8))
    grid = fig.add_gridspec(len(rows), n_cols + 1, width_ratios=[1.6] + [1] * n_cols)
    for r, fields in enumerate(rows):
        _, name, module = find_layer(model, layers[r])
        label = row_labels[r] if row_labels else f"{name}: {type(module).__name__}"
        label += f"\n({fields[0].method})"
        n_sat = sum(f.saturated for f in every[r])
        if n_sat:
            label += f"\n{n_sat} of {len(every[r])} saturated"
        if len(fields) < len(every[r]):
            label += f"\nshowing {len(fields)} of {len(every[r])}"
        ax = fig.add_subplot(grid[r, 0])
        ax.axis("off")
        ax.text(
            1.0, 0.5, label, ha="right", va="center", fontsize=9, transform=ax.transAxes
        )
        for c, f in enumerate(fields):
            ax = fig.add_subplot(grid[r, c + 1])
            img = checkered(
                as_image(f.pattern, image_shape, order),
                as_image(f.dont_care, image_shape, order),
                low,
                high,
            )
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            no_ticks(ax)
            where = ",".join(str(i) for i in f.neuron)
            sat = " sat." if f.saturated else ""
            ax.set_title(f"[{where}] {f.value:.2f}{sat}".replace("-", "−"), fontsize=8)
    caption = (
        f"receptive fields: black {low:g}, white {high:g}, checkered: ignored by "
        "the weighted sum; above each, [the neuron] and its value"
    )
    if any(f.saturated for fields in rows for f in fields):
        caption += (
            "\nsat.: saturated, the value stays put whichever input changes, "
            "so it says little; the picture still shows what the sum favours"
        )
    fig.suptitle(
        (title + "\n" if title else "") + caption.replace("-", "−"), fontsize=10
    )
    fig.receptive_fields = rows
    return finish(fig, path)


def weight_images(
    weights,
    *,
    image_shape=None,
    order: str = "C",
    max_images: int = 64,
    labels=None,
    cols: int | None = None,
    title=None,
    path=None,
):
    """Each neuron's incoming weights laid out as an image of the input.

    Parameters
    ----------
    weights : array (inputs, neurons), a Dense layer, or a model (its first Dense)
    image_shape, order
        How the inputs fold into an image; default square.
    max_images : int
    labels : list of str, optional
        One per neuron.
    cols : int, optional
        Images per row.

    The colour scale is centred on zero and shared by every image, so equal
    colours mean equal weights: blue positive, vermilion negative, white 0.
    """
    from ..nn.module import Module

    W = weights
    if isinstance(W, Module):
        from ..plot.network import dense_stack

        W = (
            W.weight.data
            if hasattr(W, "weight") and W.weight.ndim == 2
            else dense_stack(W)[0][0]
        )
    W = np.asarray(W, dtype=np.float64)
    n = min(W.shape[1], max_images)
    cols = cols or min(n, 8)
    rows = -(-n // cols)
    fig = new_figure(figsize=(max(1.3 * cols + 1.2, 4.8), 1.4 * rows + 0.9))
    grid = fig.add_gridspec(rows, cols + 1, width_ratios=[1] * cols + [0.12])
    lim = signed_limit(W[:, :n])
    shown = None
    for j in range(n):
        ax = fig.add_subplot(grid[j // cols, j % cols])
        shown = ax.imshow(
            as_image(W[:, j], image_shape, order),
            cmap=signed_cmap(),
            vmin=-lim,
            vmax=lim,
            interpolation="nearest",
        )
        no_ticks(ax)
        ax.set_title(labels[j] if labels else f"neuron {j}", fontsize=8)
    bar = fig.colorbar(shown, cax=fig.add_subplot(grid[:, cols]))
    bar.set_label("weight (0 = white)", fontsize=8)
    more = f" (first {n} of {W.shape[1]})" if n < W.shape[1] else ""
    fig.suptitle(
        (title + "\n" if title else "")
        + f"each neuron's incoming weights, laid out like the input{more}",
        fontsize=10,
    )
    return finish(fig, path)
