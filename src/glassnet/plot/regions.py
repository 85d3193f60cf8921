"""Decision regions: which class a network picks at every point of a 2-D input space."""

from __future__ import annotations

import numpy as np

from ._style import CLASS_COLOURS, finish, new_figure

__all__ = ["decision_regions", "region_grid"]


def region_grid(model, xlim, ylim, resolution: int = 200):
    """(xs, ys, scores) with scores (resolution, resolution, outputs) of the model
    on a grid; row i is y = ys[i]."""
    from ..tensor import no_grad

    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(model.dtype)
    with no_grad():
        out = model(pts).data.astype(np.float64)
    return xs, ys, out.reshape(resolution, resolution, -1)


def decision_regions(
    model,
    X,
    y=None,
    *,
    classes=None,
    resolution: int = 200,
    margin: float = 0.1,
    threshold: float = 0.5,
    title=None,
    path=None,
):
    """The input plane coloured by the network's answer, with the samples on top.

    Parameters
    ----------
    model : Module taking 2 inputs
        Several outputs: the largest names the class. One output: class 1
        where it is above ``threshold`` (use 0 for a tanh output).
    X : array (n, 2)
    y : array (n,) of labels, optional
    classes : list of str, optional
    resolution : int
        Grid points per axis.
    margin : float
        Extra room around the samples, as a share of their range.

    Lines mark the boundaries between regions; colours are the
    colour-blind-safe Okabe-Ito set, the same for a region and its samples.
    """
    from matplotlib.colors import ListedColormap

    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-9)
    xs, ys, scores = region_grid(
        model,
        (lo[0] - pad[0], hi[0] + pad[0]),
        (lo[1] - pad[1], hi[1] + pad[1]),
        resolution,
    )
    if scores.shape[-1] == 1:
        label = (scores[..., 0] > threshold).astype(int)
        n_cls = 2
    else:
        label = scores.argmax(axis=-1)
        n_cls = scores.shape[-1]
    if y is not None:
        n_cls = max(n_cls, int(np.max(y)) + 1)
    colours = CLASS_COLOURS[:n_cls]
    classes = (
        list(classes) if classes is not None else [f"class {i}" for i in range(n_cls)]
    )
    fig = new_figure(figsize=(5.4, 4.6))
    ax = fig.add_subplot()
    ax.imshow(
        label,
        origin="lower",
        extent=(xs[0], xs[-1], ys[0], ys[-1]),
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=n_cls - 0.5,
        alpha=0.35,
        interpolation="nearest",
        aspect="auto",
    )
    ax.contour(
        xs, ys, label, levels=np.arange(n_cls) + 0.5, colors="0.2", linewidths=0.8
    )
    if y is not None:
        y = np.asarray(y).astype(int)
        for c in range(n_cls):
            sel = y == c
            if sel.any():
                ax.scatter(
                    X[sel, 0],
                    X[sel, 1],
                    s=22,
                    color=colours[c],
                    edgecolors="black",
                    linewidths=0.5,
                    label=classes[c],
                    zorder=3,
                )
        ax.legend(fontsize=8, loc="best", framealpha=0.85)
    ax.set_xlabel("input 1")
    ax.set_ylabel("input 2")
    ax.set_title(
        title or "decision regions: the class the network picks at each point",
        fontsize=10,
    )
    fig.region_labels = label
    return finish(fig, path)
