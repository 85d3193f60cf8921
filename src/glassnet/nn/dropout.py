"""Dropout: switch off a random share of the units at each training step."""

from __future__ import annotations

from .._validate import check_number, make_rng
from ..ops.dropout import dropout
from .module import Module


class Dropout(Module):
    """During training, zero each value with probability p and scale the rest up.

    .. math:: y = x \\cdot m / (1 - p), \\quad m \\sim \\text{Bernoulli}(1 - p)

    a fresh mask m at every call in training mode; in ``eval()`` mode the
    layer passes its input through unchanged (the 1/(1 − p) at training
    time already keeps each value's expected size). No unit can rely on
    another being there, which discourages co-adapted features and narrows
    the gap between training and validation accuracy (Srivastava et al.,
    2014). ``fit`` trains in training mode; ``evaluate`` and ``predict`` run
    in eval mode.

    Parameters
    ----------
    p : float in [0, 1)
        The probability of dropping each value (default 0.5).
    seed : int or numpy Generator, optional
        Where the masks come from. ``Sequential(..., seed=...)`` gives the
        layer a Generator of its own spawned from the model's, so one seed
        fixes every mask of a run (and the other layers draw the same
        initial weights as without the Dropout).

    Shapes: any, unchanged. No parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import Dropout
    >>> layer = Dropout(0.5, seed=0)
    >>> layer(np.ones((1, 6))).data
    array([[2., 0., 0., 0., 2., 2.]], dtype=float32)
    >>> layer.eval()(np.ones((1, 6))).data
    array([[1., 1., 1., 1., 1., 1.]], dtype=float32)
    """

    def __init__(self, p: float = 0.5, seed=None):
        self.p = check_number("Dropout", "p", p, 0, 1, high_open=True)
        self.rng = make_rng(seed, "Dropout")

    def reset_parameters(self, rng=None) -> Dropout:
        """A new mask Generator, spawned from ``rng`` (which it does not advance)."""
        self.rng = make_rng(rng, "Dropout").spawn(1)[0]
        return self

    def forward(self, x):
        return dropout(x, self.p, rng=self.rng, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"

    def get_config(self) -> dict:
        return {"p": self.p}
