"""What every glassnet figure shares: the lazy matplotlib import, saving, colours.

Colours
-------
Seed 004 draws positive weights white and negative ones black. Lines on a
white page cannot be white, so glassnet uses a pair from the Okabe-Ito
palette, chosen to stay distinct for the common kinds of colour blindness
(red-green and blue-yellow) and to differ in lightness too, so they survive
greyscale printing:

* positive: blue ``#0072B2``;
* negative: vermilion ``#D55E00``.

Signed numbers shown as images (weights, filters, gradients) use a map from
vermilion through white (zero) to blue, always centred on zero, so the
colours mean the same as on the diagrams' lines. Pixel values of inputs
and receptive fields keep the seed's own convention: black for low (-1),
white for high (+1), mid grey for 0, and a fine checkerboard where a
neuron does not care.
"""

from __future__ import annotations

import functools
import io
import os

import numpy as np

POSITIVE = "#0072B2"  # Okabe-Ito blue
NEGATIVE = "#D55E00"  # Okabe-Ito vermilion
DISPLAY_DPI = 100  # a figure shown in a notebook (finish() saves at 110)
# Qualitative colours for classes (Okabe-Ito, without the two above first)
CLASS_COLOURS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)


def new_figure(**kwargs):
    """A matplotlib Figure (no pyplot, so no global state), or a clear ImportError.

    The figure shows itself in Jupyter with no set-up (no ``%matplotlib
    inline``, no pyplot import): it is a :class:`matplotlib.figure.Figure`
    that also answers Jupyter's ``_repr_png_`` with its PNG.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        from .._validate import missing_extra

        raise ImportError(
            missing_extra("glassnet's figures", "matplotlib", "plot")
        ) from e
    kwargs.setdefault("layout", "constrained")
    return _notebook_figure(Figure)(**kwargs)


@functools.cache
def _notebook_figure(Figure):
    class NotebookFigure(Figure):
        """A Figure that Jupyter displays inline: ``_repr_png_`` is its PNG."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=DISPLAY_DPI)
            return buffer.getvalue()

    NotebookFigure.__qualname__ = "NotebookFigure"
    return NotebookFigure


def finish(fig, path=None, dpi: int = 110):
    """Save ``fig`` to ``path`` (PNG or SVG, by the file's suffix) atomically; return it."""
    if path is None:
        return fig
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lower().lstrip(".") or "png"
    if fmt not in ("png", "svg", "pdf"):
        from ..errors import ConfigError

        raise ConfigError(
            f"figures are saved as PNG, SVG or PDF, chosen by the file's "
            f"suffix; got {path!r}."
        )
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        fig.savefig(tmp, format=fmt, dpi=dpi)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return fig


def signed_cmap():
    """Vermilion (negative) - white (zero) - blue (positive)."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(
        "glassnet_signed", [NEGATIVE, "#FFFFFF", POSITIVE]
    )


def signed_limit(*arrays) -> float:
    """The largest |value|, for a colour scale centred on zero (1 if all are 0)."""
    m = max((float(np.max(np.abs(a))) for a in arrays if np.size(a)), default=0.0)
    return m if m > 0 else 1.0


def checkered(pattern, dont_care=None, low=-1.0, high=1.0, k: int = 8) -> np.ndarray:
    """Pixel art as greys in [0, 1], each pixel k x k, don't-care pixels checkered.

    ``low`` shows black and ``high`` white, like the seed's pictures.
    """
    pattern = np.asarray(pattern, dtype=np.float64)
    if pattern.ndim == 1:
        pattern = pattern[None]
    grey = np.clip((pattern - low) / (high - low), 0, 1)
    big = np.kron(grey, np.ones((k, k)))
    if dont_care is not None and np.any(dont_care):
        dc = np.asarray(dont_care, bool).reshape(pattern.shape)
        mask = np.kron(dc, np.ones((k, k), bool))
        step = max(k // 4, 1)
        rows, cols = np.indices(big.shape)
        board = (((rows // step) + (cols // step)) % 2).astype(np.float64)
        big = np.where(mask, board, big)
    return big


def as_image(vector, image_shape=None, order: str = "C") -> np.ndarray:
    """A flat vector as a 2-D image of ``image_shape`` (NumPy reshape ``order``)."""
    v = np.asarray(vector)
    if image_shape is None:
        if v.ndim == 2:
            return v
        if v.ndim == 3 and v.shape[0] == 1:
            return v[0]
        n = v.size
        side = int(round(np.sqrt(n)))
        image_shape = (side, side) if side * side == n else (1, n)
    return v.reshape(image_shape, order=order)


def number_text(v: float, decimals: int = 2) -> str:
    """``v`` written with ``decimals`` decimals and a true minus sign, never as
    ``−0.00``: a value that rounds to zero is written without a sign."""
    text = f"{v:.{decimals}f}"
    return f"{0:.{decimals}f}" if float(text) == 0 else text.replace("-", "−")


def no_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
