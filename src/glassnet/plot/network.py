"""The network drawn as the seeds draw it: neurons in columns, weights as lines.

Each weight is a line from one neuron to the next: blue when positive,
vermilion when negative (the colour-blind-safe stand-ins for the seed's
white and black), as thick as the weight is large -- widths are
proportional to |w|, the largest weight of the whole network getting
``max_width`` points -- and left out when it is exactly zero. Biases are
not drawn, as in the seeds' diagrams.

Neurons are drawn one of three ways: plain circles; circles filled with
their value for one input (black -1, grey 0, white +1, the seed's shades;
the number written below); or as their receptive fields, the little image
that drives each neuron highest.
"""

from __future__ import annotations

import numpy as np

from ._style import (
    NEGATIVE,
    POSITIVE,
    as_image,
    checkered,
    finish,
    new_figure,
    number_text,
)

__all__ = ["network", "dense_stack"]

_ACTIVATIONS = {
    "Tanh": "tanh",
    "Sigmoid": "logistic",
    "ReLU": "ReLU",
    "Step": "step",
    "Identity": "linear",
    "Softmax": "softmax",
    "LeakyReLU": "leaky ReLU",
    "ELU": "ELU",
    "SELU": "SELU",
    "GELU": "GELU",
    "SiLU": "SiLU",
    "Softplus": "softplus",
    "LogSoftmax": "log-softmax",
}


def dense_stack(model) -> list:
    """[(weight (in, out), activation name or None, layer index of the neuron's value)]

    for a Sequential of Dense layers, each optionally followed by an activation;
    or for a list of weight matrices.
    """
    from ..errors import ConfigError
    from ..inspect.summary import flat_layers
    from ..nn.module import Module

    if not isinstance(model, Module):
        mats = [np.asarray(w, dtype=np.float64) for w in model]
        if (
            not mats
            or any(w.ndim != 2 for w in mats)
            or any(a.shape[1] != b.shape[0] for a, b in zip(mats, mats[1:]))
        ):
            raise ConfigError(
                "network: give a model or a list of weight matrices of shape "
                "(inputs, outputs) that chain, e.g. [(4, 3), (3, 2)]; got "
                f"{[np.shape(w) for w in mats]}."
            )
        return [(w, None, None) for w in mats]
    flat = flat_layers(model)
    out = []
    for i, (_, layer) in enumerate(flat):
        kind = type(layer).__name__
        if kind == "Dense":
            out.append([layer.weight.data.astype(np.float64), None, i])
        elif kind in _ACTIVATIONS and out and out[-1][2] == i - 1:
            out[-1][1], out[-1][2] = _ACTIVATIONS[kind], i
        elif kind not in ("Flatten", "Identity", "Dropout"):  # no change at inference
            raise ConfigError(
                f"network: draws Dense layers and their activations; layer "
                f"{i} is {kind}. Use plot.filters for convolution layers."
            )
    if not out:
        raise ConfigError("network: the model has no Dense layer to draw.")
    return [tuple(x) for x in out]


def _node_values(values, stack):
    """Per column of neurons, one value each, from a Trace or a list of arrays."""
    from ..inspect.trace import Trace

    if isinstance(values, Trace):
        first = (lambda a: a[0]) if values.batched else (lambda a: a)
        cols = [np.ravel(first(values.input)).astype(np.float64)]
        for _, _, index in stack:
            cols.append(np.ravel(first(values[index].output)).astype(np.float64))
        return cols
    return [np.ravel(np.asarray(v, dtype=np.float64)) for v in values]


def _fields(model, stack, image_shape, order, low, high):
    """Receptive field (image, dont_care) of every neuron, column by column."""
    from ..inspect.receptive import receptive_field

    n_in = stack[0][0].shape[0]
    cols = []
    eye = np.eye(n_in, dtype=bool)
    cols.append(
        [
            (
                as_image(np.where(eye[i], high, (low + high) / 2), image_shape, order),
                as_image(~eye[i], image_shape, order),
            )
            for i in range(n_in)
        ]
    )
    for w, _, index in stack:
        col = []
        for j in range(w.shape[1]):
            f = receptive_field(
                model, index, j, input_shape=(n_in,), low=low, high=high
            )
            col.append(
                (
                    as_image(f.pattern, image_shape, order),
                    as_image(f.dont_care, image_shape, order),
                    f.method,
                )
            )
        cols.append(col)
    return cols


def _number(v: float) -> str:
    return number_text(v, 2)


def network(
    model,
    *,
    values=None,
    receptive: bool = False,
    image_shape=None,
    order: str = "C",
    low: float = -1.0,
    high: float = 1.0,
    input_labels=None,
    output_labels=None,
    column_labels=None,
    max_width: float = 6.0,
    label_weights: bool = False,
    title: str | None = None,
    path=None,
    figsize=None,
):
    """Draw a fully connected network, weights as lines.

    Parameters
    ----------
    model : Module or list of arrays
        A Sequential of Dense layers (each optionally followed by an
        activation; Flatten allowed), or weight matrices (inputs, outputs).
    values : Trace or list of arrays, optional
        Fill each neuron with its value for one input: a
        :func:`glassnet.trace` of the model, or one array per column
        (inputs, then each layer after its activation).
    receptive : bool
        Draw each neuron as its receptive field (model only).
    image_shape, order
        How an input vector folds into an image (``numpy.reshape``
        arguments), for ``receptive``; default square.
    low, high : float
        The input box of the receptive fields, and the value range shown
        from black to white.
    input_labels, output_labels, column_labels : list of str, optional
    max_width : float
        Line width in points of the largest |weight|.
    label_weights : bool
        Write each drawn weight's value on its line (for small networks).
    title : str, optional
    path : str or Path, optional
        Save the figure there (``.png`` or ``.svg``).

    Returns
    -------
    matplotlib.figure.Figure
        The weight lines of layer k are the LineCollection with gid
        ``'weights k'``; their widths follow ``numpy.nonzero`` order.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle, Rectangle

    from ..errors import ConfigError

    stack = dense_stack(model)
    sizes = [stack[0][0].shape[0]] + [w.shape[1] for w, _, _ in stack]
    vals = _node_values(values, stack) if values is not None else None
    if vals is not None and [len(v) for v in vals] != sizes:
        raise ConfigError(
            f"network: values must give one number per neuron, columns of "
            f"{sizes}; got {[len(v) for v in vals]}."
        )
    fields = _fields(model, stack, image_shape, order, low, high) if receptive else None

    gap_x, r = 3.0, 0.32
    xs = [gap_x * k for k in range(len(sizes))]
    ys = [np.arange(n)[::-1] - (n - 1) / 2 for n in sizes]
    tall = max(sizes)
    fig = new_figure(figsize=figsize or (2.3 * len(sizes) + 1.6, 0.62 * tall + 2.0))
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.axis("off")

    w_max = max(float(np.abs(w).max()) for w, _, _ in stack) or 1.0
    for k, (w, _, _) in enumerate(stack):
        i, j = np.nonzero(w)
        segs = [
            [(xs[k] + r, ys[k][a]), (xs[k + 1] - r, ys[k + 1][b])] for a, b in zip(i, j)
        ]
        ww = w[i, j]
        lc = LineCollection(
            segs,
            linewidths=max_width * np.abs(ww) / w_max,
            colors=np.where(ww > 0, POSITIVE, NEGATIVE),
            zorder=1,
            capstyle="round",
        )
        lc.set_gid(f"weights {k}")
        ax.add_collection(lc)
        if label_weights:
            for (p0, p1), v in zip(segs, ww):
                tx, ty = p0[0] + 0.28 * (p1[0] - p0[0]), p0[1] + 0.28 * (p1[1] - p0[1])
                ax.text(
                    tx,
                    ty,
                    _number(v),
                    fontsize=7,
                    ha="center",
                    va="center",
                    zorder=2,
                    bbox=dict(
                        boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85
                    ),
                )

    for k, n in enumerate(sizes):
        for a in range(n):
            x, y = xs[k], ys[k][a]
            if fields is not None:
                img, dc = fields[k][a][0], fields[k][a][1]
                s = r * 1.15
                ax.imshow(
                    checkered(img, dc, low, high),
                    cmap="gray",
                    vmin=0,
                    vmax=1,
                    extent=(x - s, x + s, y - s, y + s),
                    interpolation="nearest",
                    zorder=3,
                )
                ax.add_patch(
                    Rectangle(
                        (x - s, y - s),
                        2 * s,
                        2 * s,
                        fill=False,
                        lw=0.8,
                        ec="0.3",
                        zorder=4,
                    )
                )
            else:
                v = None if vals is None else vals[k][a]
                shade = (
                    "white"
                    if v is None
                    else str(np.clip((v - low) / (high - low), 0, 1))
                )
                ax.add_patch(Circle((x, y), r, fc=shade, ec="0.25", lw=1.0, zorder=3))
            if vals is not None:
                ax.text(
                    x,
                    y - r - 0.08,
                    _number(vals[k][a]),
                    ha="center",
                    va="top",
                    fontsize=8,
                    zorder=5,
                )
    if input_labels is not None:
        for a, label in enumerate(input_labels):
            ax.text(
                xs[0] - r * 1.5, ys[0][a], label, ha="right", va="center", fontsize=9
            )
    if output_labels is not None:
        for a, label in enumerate(output_labels):
            ax.text(
                xs[-1] + r * 1.5, ys[-1][a], label, ha="left", va="center", fontsize=9
            )

    if column_labels is None:
        column_labels = ["inputs"] + [
            f"layer {k + 1}" + (f"\n({act})" if act else "")
            for k, (_, act, _) in enumerate(stack)
        ]
        column_labels[-1] = "outputs" + (f"\n({stack[-1][1]})" if stack[-1][1] else "")
    for x, label in zip(xs, column_labels):
        ax.text(x, (tall - 1) / 2 + 0.75, label, ha="center", va="bottom", fontsize=9)

    pad_l = 2.6 if input_labels is not None else 0.8
    pad_r = 2.6 if output_labels is not None else 0.8
    ax.set_xlim(xs[0] - pad_l, xs[-1] + pad_r)
    ax.set_ylim(-(tall - 1) / 2 - 0.9, (tall - 1) / 2 + 1.5)
    signs = np.concatenate([np.sign(w).ravel() for w, _, _ in stack])
    handles = [
        Line2D([], [], color=c, lw=3, label=f"{name} weight")
        for c, name, sign in ((POSITIVE, "positive", 1), (NEGATIVE, "negative", -1))
        if (signs == sign).any()
    ]
    note = (
        f"line width ∝ |weight| (widest: |w| = {w_max:.2f}); zero weights and "
        "biases not drawn"
    )
    if vals is not None:
        note += "; fill: the neuron's value, black −1, grey 0, white +1"
    if fields is not None:
        how = {}
        for label, col in zip(column_labels[1:], fields[1:]):
            how.setdefault(col[0][2], []).append(label.split("\n")[0])
        found = "; ".join(
            f"{'exactly' if m == 'exact' else 'by ' + m} for {', '.join(cols)}"
            for m, cols in how.items()
        )
        note += (
            "\neach neuron drawn as its receptive field, the input that drives it "
            "highest (black −1, white +1, checkered: ignored by its weighted sum); "
            f"found {found}"
        )
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=2,
        fontsize=8,
        frameon=False,
        title=note,
        title_fontsize=8,
    )
    if title:
        fig.suptitle(title, fontsize=11)
    return finish(fig, path)
