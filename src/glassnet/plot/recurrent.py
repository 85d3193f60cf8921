"""An LSTM reading a sentence: what each gate did at every word."""

from __future__ import annotations

import numpy as np

from ._style import finish, new_figure, signed_cmap, signed_limit

__all__ = ["lstm_gates", "gate_arrays"]

GATE_ORDER = ("forget", "input", "candidate", "output", "cell", "reset", "update")
_ABOUT = {
    "forget": "forget gate: 1 keeps the memory, 0 wipes it",
    "input": "input (ignoring) gate: 1 lets the candidate into memory",
    "candidate": "candidate: the new prediction (tanh, −1 to 1)",
    "output": "output (selection) gate: 1 shows the memory",
    "cell": "cell state: the memory itself",
    "reset": "reset gate (GRU): 1 lets the last state into the candidate",
    "update": "update gate (GRU): 1 keeps the last state as it was",
}


def gate_arrays(gates, sample: int = 0) -> dict:
    """{name: (time, hidden)} from an LSTM's ``last_gates`` (batch, time, hidden) each,
    a trace's ``gates`` (time, hidden) each, or an array (time, 4 or 5, hidden) in the
    order forget, input, candidate, output[, cell]."""
    from ..errors import ShapeError

    if isinstance(gates, dict):
        out = {}
        for name in GATE_ORDER:
            if name in gates:
                a = np.asarray(gates[name], dtype=np.float64)
                out[name] = a[sample] if a.ndim == 3 else a
        if not out:
            raise ShapeError(
                f"lstm_gates: expected keys among {GATE_ORDER}; got {sorted(gates)}."
            )
        return out
    a = np.asarray(gates, dtype=np.float64)
    if a.ndim != 3 or a.shape[1] not in (4, 5):
        raise ShapeError(
            "lstm_gates: expected an array (time, 4, hidden) in the gate "
            "order forget, input, candidate, output (or 5 with the cell "
            f"state); got shape {a.shape}."
        )
    return {name: a[:, k, :] for k, name in enumerate(GATE_ORDER[: a.shape[1]])}


def lstm_gates(gates, words=None, *, sample: int = 0, title=None, path=None):
    """Heat maps of every LSTM gate over a sentence: hidden units down, words across.

    Parameters
    ----------
    gates : dict or array
        ``layer.last_gates`` of an :class:`~glassnet.nn.LSTM` (or
        :class:`~glassnet.nn.GRU`: reset, update, candidate) run with
        ``layer.watch_gates = True`` (or ``trace(model, x)[i].gates``), or an
        array (time, 4, hidden) in the order forget, input, candidate, output.
    words : list of str, optional
        The token read at each step, for the axis.
    sample : int
        Which sequence of the batch.

    The three gates (logistic, 0 to 1) share a scale from white (0, closed)
    to dark blue (1, open); the candidate and the cell state, which can be
    negative, use the signed scale centred on 0.
    """
    arrays = gate_arrays(gates, sample)
    T, H = next(iter(arrays.values())).shape
    words = list(words) if words is not None else [str(t) for t in range(T)]
    side = T <= 14  # short sentences: the panels side by side, else stacked
    n = len(arrays)
    if side:
        fig = new_figure(figsize=(n * (0.3 * T + 1.3) + 0.5, 0.2 * H + 2.6))
        axes = fig.subplots(1, n, squeeze=False)[0]
    else:
        fig = new_figure(figsize=(0.3 * T + 3.0, n * (0.2 * H + 1.1) + 0.8))
        axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, (name, a) in zip(axes, arrays.items()):
        if name in ("candidate", "cell"):
            lim = 1.0 if name == "candidate" else signed_limit(a)
            shown = ax.imshow(
                a.T,
                cmap=signed_cmap(),
                vmin=-lim,
                vmax=lim,
                aspect="auto",
                interpolation="nearest",
            )
        else:
            shown = ax.imshow(
                a.T,
                cmap="Blues",
                vmin=0,
                vmax=1,
                aspect="auto",
                interpolation="nearest",
            )
        about = _ABOUT[name].split(": ", 1)
        ax.set_title(f"{about[0]}\n{about[1]}", fontsize=8.5)
        last = side or ax is axes[-1]
        ax.set_xticks(
            range(T),
            words if last else [""] * T,
            fontsize=8,
            rotation=90 if side else 0,
        )
        ax.set_yticks(range(0, H, max(1, H // 4)))
        if ax is axes[0] or not side:
            ax.set_ylabel("memory unit", fontsize=8)
        ax.tick_params(labelsize=7)
        fig.colorbar(
            shown,
            ax=ax,
            location="bottom" if side else "right",
            pad=0.02,
            aspect=15,
            shrink=0.9,
        )
    if not side:
        axes[-1].set_xlabel("word read at this step")
    if title:
        fig.suptitle(title, fontsize=10)
    return finish(fig, path)
