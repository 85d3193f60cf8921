"""How training went: the curves of a History, and the confusion matrix."""

from __future__ import annotations

import numpy as np

from ._style import CLASS_COLOURS, finish, new_figure

__all__ = ["training_curves", "confusion_matrix"]


def training_curves(history, *, title=None, path=None):
    """Loss (and every other recorded figure, such as accuracy) per epoch.

    Parameters
    ----------
    history : History (what ``fit`` returns) or dict of name -> list
        Validation figures (``val_...``) are drawn dashed beside their
        training figure.

    One panel per figure. Loss axes start at 0 so that a drop is shown at its
    true size; accuracy axes run from 0 to 1.
    """
    logs = getattr(history, "history", history)
    logs = {k: list(v) for k, v in logs.items() if k != "epochs" and len(v)}
    names = [k for k in logs if not k.startswith("val_")]
    names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in names]
    fig = new_figure(figsize=(4.2 * len(names) + 0.4, 3.3))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for key, style, label in (
            (name, "-", "training"),
            (f"val_{name}", "--", "validation"),
        ):
            if key in logs:
                ys = logs[key]
                xs = range(1, len(ys) + 1)
                ax.plot(
                    list(xs),
                    ys,
                    style,
                    color=CLASS_COLOURS[0 if style == "-" else 1],
                    label=label,
                    lw=1.6,
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        top = max(max(logs.get(k, [0])) for k in (name, f"val_{name}"))
        if name in ("accuracy", "acc"):
            ax.set_ylim(0, 1.02)
        elif min(min(logs.get(k, [0])) for k in (name, f"val_{name}")) >= 0:
            ax.set_ylim(0, top * 1.05 if top > 0 else 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        lasts = [
            f"{label} {logs[k][-1]:.4g}"
            for k, label in ((name, "training"), (f"val_{name}", "validation"))
            if k in logs
        ]
        ax.set_title(f"{name}, last epoch: " + ", ".join(lasts), fontsize=9)
    if any(k.startswith("val_") for k in logs):
        fig.supxlabel(
            "training figures are averaged over each epoch's batches, while the "
            "weights change; validation figures are measured at the epoch's end",
            fontsize=7.5,
            color="0.35",
        )
    if title:
        fig.suptitle(title, fontsize=11)
    return finish(fig, path)


def confusion_matrix(cm, *, labels=None, title=None, path=None):
    """The confusion matrix: rows the true class, columns the network's answer.

    Every count is written in its cell; the colour scale runs from 0
    (white), and the diagonal -- the right answers -- is outlined.

    Parameters
    ----------
    cm : array (C, C) of counts (see :func:`glassnet.metrics.confusion_matrix`)
    labels : list of str, optional
    """
    from matplotlib.patches import Rectangle

    cm = np.asarray(cm)
    n = cm.shape[0]
    labels = list(labels) if labels is not None else [str(i) for i in range(n)]
    fig = new_figure(figsize=(0.5 * n + 3.0, 0.45 * n + 2.6))
    ax = fig.add_subplot()
    shown = ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(int(cm.max()), 1))
    for (i, j), v in np.ndenumerate(cm):
        dark = v > 0.6 * cm.max()
        ax.text(
            j,
            i,
            str(int(v)),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "black",
        )
    for i in range(n):
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, ec="0.2", lw=0.8))
    ax.set_xticks(
        range(n),
        labels,
        fontsize=8,
        rotation=45 if n > 6 and max(map(len, labels)) > 2 else 0,
    )
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("the network's answer")
    ax.set_ylabel("true class")
    fig.colorbar(shown, ax=ax, shrink=0.8).set_label("count", fontsize=8)
    right = int(np.trace(cm))
    ax.set_title(
        (title + "\n" if title else "")
        + f"{right} of {int(cm.sum())} right ({right / max(cm.sum(), 1):.1%})",
        fontsize=10,
    )
    return finish(fig, path)
