"""Loss landscapes: the loss over one or two weights, and the path descent took on it."""

from __future__ import annotations

import numpy as np

from ._style import CLASS_COLOURS, finish, new_figure

__all__ = ["loss_curve", "loss_surface"]


def _evaluate(f, *grids):
    """f on every grid point: vectorised if f allows it, else one point at a time."""
    try:
        out = np.asarray(f(*grids), dtype=np.float64)
        if out.shape == grids[0].shape:
            return out
    except Exception:  # noqa: BLE001  f may only take single numbers
        pass
    flat = [g.ravel() for g in grids]
    return np.array([float(f(*p)) for p in zip(*flat)]).reshape(grids[0].shape)


def _path_style(ax, px, py, label):
    steps = np.arange(len(px))
    ax.plot(px, py, "-", color="0.15", lw=0.9, zorder=3)
    pts = ax.scatter(
        px,
        py,
        c=steps,
        cmap="viridis",
        s=18,
        zorder=4,
        edgecolors="none",
        clip_on=False,
    )
    ax.scatter(
        px[:1],
        py[:1],
        s=80,
        facecolors="none",
        edgecolors="black",
        lw=1.3,
        zorder=5,
        label=f"{label}: start",
    )
    # hollow, so that the last steps, which crowd where the search ends, show through
    ax.scatter(
        px[-1:],
        py[-1:],
        s=220,
        marker="*",
        facecolors="none",
        edgecolors=CLASS_COLOURS[1],
        lw=1.4,
        zorder=6,
        label=f"{label}: end",
    )
    return pts


def _settled(px, bounds) -> str:
    """'; from step k on, all at the end', when the last steps pile up on one spot
    (within 0.1 % of the range), which one marker then covers."""
    near = np.abs(px - px[-1]) <= 1e-3 * (bounds[1] - bounds[0])
    k = len(px) - int(np.argmin(near[::-1])) if not near.all() else 0
    return f"; from step {k} on, all at the end" if len(px) - k > 2 else ""


def loss_curve(
    f,
    bounds,
    *,
    trajectory=None,
    trajectories=None,
    resolution: int = 801,
    xlabel: str = "weight",
    ylabel: str = "loss",
    title=None,
    path=None,
):
    """The loss as a function of one weight, and the steps descent took along it.

    Parameters
    ----------
    f : callable
        ``f(w)`` -> loss; called with an array of weights when it can take
        one, else once per point.
    bounds : (low, high)
    trajectory : array (steps,) or (steps, 1), optional
        The weights visited, in order (e.g. ``SearchResult.path``).
    trajectories : dict of label -> array, optional
        Several paths, each drawn in its own row of dots.
    """
    xs = np.linspace(*bounds, resolution)
    ys = _evaluate(f, xs)
    paths = dict(trajectories or {})
    if trajectory is not None:
        paths = {"descent": trajectory, **paths}
    fig = new_figure(figsize=(6.4, 3.9))
    ax = fig.add_subplot()
    ax.plot(xs, ys, color="0.45", lw=1.6, label="loss", zorder=2)
    low = ys <= ys.min() + 1e-9 * max(float(np.ptp(ys)), 1.0)
    if low.sum() > 1 and np.all(np.diff(np.flatnonzero(low)) == 1):  # a flat bottom
        a, b = xs[low][0], xs[low][-1]
        ax.axvspan(
            a,
            b,
            color=CLASS_COLOURS[2],
            alpha=0.15,
            lw=0,
            zorder=0,
            label=f"lowest on this grid: {a:.3g} to {b:.3g}",
        )
    else:
        best = int(np.argmin(ys))
        ax.axvline(
            xs[best],
            color="0.45",
            lw=0.9,
            ls=":",
            zorder=1,
            label=f"lowest on this grid: {xs[best]:.3g}",
        )
    pts = None
    for label, tr in paths.items():
        px = np.asarray(tr, dtype=np.float64).reshape(len(tr), -1)[:, 0]
        pts = _path_style(ax, px, _evaluate(f, px), label)
    if pts is not None:
        fig.colorbar(pts, ax=ax, pad=0.01).set_label(
            "step (purple first)" + _settled(px, bounds), fontsize=8
        )
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(*bounds)
    if ys.min() >= 0:  # a loss that cannot go below 0: show the 0
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return finish(fig, path)


def loss_surface(
    f,
    xlim,
    ylim,
    *,
    trajectory=None,
    resolution: int = 121,
    levels: int = 25,
    xlabel: str = "weight 1",
    ylabel: str = "weight 2",
    log: bool = False,
    title=None,
    path=None,
):
    """The loss over two weights as contour lines, and the path of gradient descent.

    Parameters
    ----------
    f : callable
        ``f(w1, w2)`` -> loss; given two arrays when it can take them.
    xlim, ylim : (low, high)
    trajectory : array (steps, 2), optional
        The (w1, w2) visited, in order.
    log : bool
        Space the contour levels logarithmically (for valleys with steep
        walls); the colour bar says so.
    """
    from matplotlib.colors import LogNorm

    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    gx, gy = np.meshgrid(xs, ys)
    z = _evaluate(f, gx, gy)
    fig = new_figure(figsize=(6.0, 4.8))
    ax = fig.add_subplot()
    if log:
        lo = max(float(z.min()), 1e-12)
        lv = np.geomspace(lo, float(z.max()), levels)
        filled = ax.contourf(
            gx,
            gy,
            np.maximum(z, lo),
            levels=lv,
            cmap="Greys_r",
            norm=LogNorm(lo, float(z.max())),
        )
    else:
        filled = ax.contourf(gx, gy, z, levels=levels, cmap="Greys_r")
    ax.contour(gx, gy, z, levels=filled.levels, colors="0.35", linewidths=0.4)
    bar = fig.colorbar(filled, ax=ax, pad=0.01)
    if log:
        nice = np.array([m * 10.0**e for e in range(-6, 7) for m in (1, 2, 5)])
        nice = nice[(nice >= filled.levels[0]) & (nice <= filled.levels[-1])]
        bar.set_ticks(nice, labels=[f"{v:g}" for v in nice])
        bar.ax.minorticks_off()
    bar.set_label(
        "loss" + (" (log-spaced levels)" if log else "") + "; dark = low", fontsize=8
    )
    i, j = np.unravel_index(int(np.argmin(z)), z.shape)
    ax.scatter(
        [gx[i, j]],
        [gy[i, j]],
        marker="+",
        s=90,
        color=CLASS_COLOURS[2],
        lw=2,
        zorder=6,
        label="lowest on this grid",
    )
    if trajectory is not None:
        tr = np.asarray(trajectory, dtype=np.float64)
        _path_style(ax, tr[:, 0], tr[:, 1], "gradient descent")
    ax.legend(fontsize=8, loc="upper right", framealpha=0.85)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    fig.surface = z
    return finish(fig, path)
