"""Rich displays for notebooks: the HTML that Jupyter shows for glassnet's objects.

Jupyter asks an object for ``_repr_html_`` (or ``_repr_png_``) and shows
what it returns instead of the plain ``repr``. The pieces here are the one
home of that HTML: escaped text, small tables, a sparkline drawn as inline
SVG (no matplotlib needed) and pixel patterns as inline SVG squares. None
of them imports IPython; they only build strings.
"""

from __future__ import annotations

import html
import math

import numpy as np

__all__ = ["esc", "number", "pixels", "sparkline", "table"]

_BOX = "font-family:monospace;font-size:12px;line-height:1.35"


def esc(text) -> str:
    """``text`` with ``<``, ``>``, ``&`` and quotes made safe for HTML."""
    return html.escape(str(text), quote=True)


def number(value, digits: int = 4) -> str:
    """A float in ``digits`` significant figures, with no ``-0`` for zero."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    return f"{value:.{digits}g}"


def table(header, rows, caption: str | None = None) -> str:
    """An HTML table: ``header`` a list of column titles, ``rows`` lists of cells.

    Cells are escaped; a cell given as ``("html", text)`` is inserted as is.
    """

    def cell(tag, c):
        raw = (
            c[1] if isinstance(c, tuple) and len(c) == 2 and c[0] == "html" else esc(c)
        )
        return f"<{tag} style='padding:1px 8px;text-align:left'>{raw}</{tag}>"

    head = "".join(cell("th", h) for h in header)
    body = "".join(
        "<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows
    )
    cap = (
        f"<caption style='text-align:left'>{esc(caption)}</caption>" if caption else ""
    )
    return (
        f"<table style='border-collapse:collapse;{_BOX}'>{cap}"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def sparkline(
    values, width: int = 160, height: int = 36, colour: str = "#0072B2", title: str = ""
) -> str:
    """A tiny line chart of ``values`` (left to right) as an inline ``<svg>``.

    The vertical scale runs from the smallest to the largest finite value;
    non-finite values leave a gap. An empty or one-value series is a dot.
    """
    ys = np.asarray(values, dtype=np.float64).ravel()
    ok = np.isfinite(ys)
    lo, hi = (float(ys[ok].min()), float(ys[ok].max())) if ok.any() else (0.0, 1.0)
    span = hi - lo or 1.0
    n = max(len(ys) - 1, 1)
    pts = [
        (2 + (width - 4) * i / n, height - 2 - (height - 4) * (y - lo) / span)
        for i, y in enumerate(ys)
        if math.isfinite(y)
    ]
    if len(pts) == 1:
        pts.append(pts[0])
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    tip = f"<title>{esc(title)}</title>" if title else ""
    return (
        f"<svg width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
        f"role='img' style='vertical-align:middle'>{tip}"
        f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' "
        f"points='{line}'/></svg>"
    )


def pixels(
    pattern,
    dont_care=None,
    low: float = -1.0,
    high: float = 1.0,
    cell: int = 14,
    max_pixels: int = 4096,
) -> str:
    """A 2-D pattern as an inline ``<svg>``: ``low`` black, ``high`` white, as in
    the seeds' pictures; a don't-care pixel is drawn as a small checkerboard.

    Patterns of more than ``max_pixels`` values give an empty string.
    """
    grid = np.asarray(pattern, dtype=np.float64)
    if grid.size > max_pixels or grid.size == 0:
        return ""
    grid = (
        grid.reshape(grid.shape[-2:]) if grid.ndim > 2 and grid.shape[0] == 1 else grid
    )
    if grid.ndim != 2:
        grid = grid.reshape(1, -1)
    dc = (
        np.zeros(grid.shape, bool)
        if dont_care is None
        else np.asarray(dont_care, bool).reshape(grid.shape)
    )
    grey = np.clip((grid - low) / ((high - low) or 1.0), 0, 1)
    rows, cols = grid.shape
    cell = max(4, min(cell, 240 // max(rows, cols)))
    half = cell // 2
    parts = []
    for (r, c), g in np.ndenumerate(grey):
        x, y = c * cell, r * cell
        if dc[r, c]:
            parts.append(
                f"<rect x='{x}' y='{y}' width='{cell}' height='{cell}' fill='#fff'/>"
                f"<rect x='{x}' y='{y}' width='{half}' height='{half}' fill='#000'/>"
                f"<rect x='{x + half}' y='{y + half}' width='{cell - half}' "
                f"height='{cell - half}' fill='#000'/>"
            )
        else:
            v = round(255 * float(g))
            parts.append(
                f"<rect x='{x}' y='{y}' width='{cell}' height='{cell}' "
                f"fill='rgb({v},{v},{v})'/>"
            )
    w, h = cols * cell, rows * cell
    return (
        f"<svg width='{w}' height='{h}' viewBox='0 0 {w} {h}' role='img' "
        f"style='border:1px solid #888;vertical-align:middle'>{''.join(parts)}</svg>"
    )


# --------------------------------------------------------------------------
# One builder per object; each class's ``_repr_html_`` calls its builder.
# --------------------------------------------------------------------------


def _rows_shown(n: int, head: int = 5, tail: int = 5) -> list:
    """Indices of the rows to show of ``n``: all, or the first and last few
    with ``None`` where the middle is left out."""
    if n <= head + tail + 1:
        return list(range(n))
    return [*range(head), None, *range(n - tail, n)]


def history_html(history) -> str:
    """A History: one line per figure (a sparkline, first, best, last value)
    and a table of the epochs (the middle left out for long runs)."""
    logs = {k: v for k, v in history.history.items() if len(v)}
    title = f"<b>History</b>: {len(history)} epoch{'s' * (len(history) != 1)}" + (
        " (interrupted)" if getattr(history, "interrupted", False) else ""
    )
    if not logs:
        return f"<div style='{_BOX}'>{title}</div>"
    summary = []
    for name, values in logs.items():
        best = max(values) if "acc" in name else min(values)
        colour = "#E69F00" if name.startswith("val_") else "#0072B2"
        summary.append(
            [
                name,
                ("html", sparkline(values, colour=colour, title=name)),
                number(values[0]),
                number(best),
                number(values[-1]),
            ]
        )
    epochs = list(history.epochs) or list(range(len(next(iter(logs.values())))))
    rows = []
    for i in _rows_shown(len(epochs)):
        if i is None:
            rows.append(["…"] * (len(logs) + 1))
        else:
            rows.append(
                [epochs[i] + 1]
                + [number(v[i]) if i < len(v) else "" for v in logs.values()]
            )
    return (
        f"<div style='{_BOX}'>{title}"
        + table(["figure", "per epoch", "first", "best", "last"], summary)
        + table(["epoch", *logs], rows)
        + "</div>"
    )


def trace_html(t) -> str:
    """A Trace: a table of the layers (shapes, gradients) and the narration."""

    def shape(a):
        return "×".join(map(str, np.shape(a))) or "scalar"

    rows = [
        [
            r.name or "(model)",
            r.kind,
            shape(r.input),
            shape(r.output),
            "yes" if r.output_grad is not None else "",
        ]
        for r in t.layers
    ]
    loss = "" if t.loss is None else f", {esc(t.loss_name or 'loss')} {number(t.loss)}"
    head = f"<b>Trace</b> of {esc(type(t.model).__name__)}: {len(t)} layers{loss}"
    story = esc(t.narrate())
    return (
        f"<div style='{_BOX}'>{head}"
        + table(["layer", "kind", "input", "output", "gradients"], rows)
        + "<details open='open'><summary>the story, neuron by neuron</summary>"
        + f"<pre style='{_BOX};white-space:pre-wrap'>{story}</pre></details></div>"
    )


def receptive_field_html(field) -> str:
    """A ReceptiveField: the pattern drawn (black low, white high, checkered
    where the neuron does not care) beside its numbers."""
    from .plot._style import as_image

    pattern = np.asarray(field.pattern)
    image = as_image(pattern) if pattern.ndim <= 2 or pattern.shape[0] == 1 else None
    picture = ""
    if image is not None:
        dont_care = np.asarray(field.dont_care).reshape(image.shape)
        picture = pixels(image, dont_care)
    lo, hi = float(pattern.min(initial=0)), float(pattern.max(initial=0))
    rows = [
        ["layer", field.layer],
        ["neuron", field.neuron],
        ["method", field.method],
        ["value", number(field.value)],
        ["drive", number(field.drive)],
        ["saturated", field.saturated],
        ["don't care", f"{int(np.sum(field.dont_care))} of {pattern.size} inputs"],
        ["pattern", f"shape {pattern.shape}, from {number(lo)} to {number(hi)}"],
    ]
    return (
        f"<div style='{_BOX};display:flex;gap:12px;align-items:center'>"
        f"<div>{picture}</div><div><b>ReceptiveField</b>"
        + table(["", ""], rows)
        + "</div></div>"
    )


def search_result_html(result) -> str:
    """A SearchResult: what was found, what it cost, why it stopped, and a
    sparkline of the loss along the accepted path."""
    x = np.array2string(np.asarray(result.x), precision=4, threshold=8, separator=", ")
    rows = [["method", result.method], ["loss", number(result.loss, 6)]]
    if result.metric is not None:
        rows.append(["metric", number(result.metric)])
    rows += [
        ["x", x],
        ["evaluations", result.evaluations],
        ["stopped", f"{result.stop_reason}: {result.message}"],
    ]
    losses = np.asarray(result.path_losses, dtype=np.float64)
    if losses.size > 1:
        rows.append(
            [
                "loss along the path",
                (
                    "html",
                    sparkline(losses, title="loss at each accepted point")
                    + f" {losses.size} points, {number(losses[0])} → "
                    f"{number(losses[-1])}",
                ),
            ]
        )
    return f"<div style='{_BOX}'><b>SearchResult</b>" + table(["", ""], rows) + "</div>"
