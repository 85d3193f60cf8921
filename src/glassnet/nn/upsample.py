"""Upsample: enlarge every map by a fixed rule (no parameters)."""

from __future__ import annotations

from .._validate import check_upsample_args
from ..ops.pool import upsample
from .module import Module


class Upsample(Module):
    """Enlarge each map: copy the nearest pixel, or blend the four around it.

    With A_h (out_h, H) and A_w (out_w, W) fixed matrices,

    .. math:: y[n, c] = A_h \\, x[n, c] \\, A_w^T

    ``mode='nearest'``: output row i copies input row ⌊i·H/out_h⌋ (so a
    scale of 2 repeats every pixel 2x2). ``mode='bilinear'``: output i sits
    at source point s = (i + ½)·H/out_h - ½ (at least 0), or with
    ``align_corners`` s = i·(H - 1)/(out_h - 1), and mixes the two pixels
    around it by distance; likewise for columns. Both as in PyTorch's
    ``nn.Upsample``. Gradient: ``A_hᵀ · g · A_w``.

    Parameters
    ----------
    scale_factor : int or (int, int), optional
        Whole enlargement per axis (out = size·scale).
    size : int or (int, int), optional
        The output (height, width) instead; give one of the two.
    mode : {'nearest', 'bilinear'}, default 'nearest'
    align_corners : bool, default False
        Bilinear only: line up the corner pixels' centres instead of the
        maps' edges.

    Shapes: input (batch, channels, H, W), output (batch, channels, out_h,
    out_w). No parameters. Pair it with a Conv2D for a learned upsampling
    without ConvTranspose2D's checkerboard artefacts.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import Upsample
    >>> up = Upsample(scale_factor=2, mode="bilinear")
    >>> up
    Upsample(x2x2, bilinear)
    >>> up(np.array([[[[0.0, 1.0]]]])).data[0, 0, 0]
    array([0.  , 0.25, 0.75, 1.  ], dtype=float32)
    """

    def __init__(
        self, scale_factor=None, size=None, mode="nearest", align_corners=False
    ):
        self.scale_factor, self.size, self.mode, self.align_corners = (
            check_upsample_args("Upsample", scale_factor, size, mode, align_corners)
        )

    def forward(self, x):
        where = f"Upsample({self.extra_repr()})"
        args = (self.scale_factor, self.size, self.mode, self.align_corners)
        return upsample(x, *args, where=where)

    def extra_repr(self) -> str:
        how = "x".join(map(str, self.scale_factor or self.size))
        text = f"x{how}" if self.scale_factor else f"to {how}"
        text += f", {self.mode}"
        return text + (", align_corners" if self.align_corners else "")

    def get_config(self) -> dict:
        config = {"mode": self.mode, "align_corners": self.align_corners}
        if self.scale_factor:
            return {"scale_factor": list(self.scale_factor), **config}
        return {"size": list(self.size), **config}
