"""Dropout: during training, zero each unit with probability p (Srivastava et al.,
2014, "Dropout: a simple way to prevent neural networks from overfitting")."""

from __future__ import annotations

from .. import kernels
from .._validate import check_number, make_rng
from ..tensor import Tensor, as_tensor, make_result

__all__ = ["dropout"]


def dropout(x, p: float = 0.5, *, rng=None, training: bool = True) -> Tensor:
    """Inverted dropout: y = x · m / (1 − p), with m ~ Bernoulli(1 − p) per unit.

    Local derivative: the same mask, m / (1 − p) (a dropped unit passes no
    gradient). With ``training=False`` or ``p = 0`` it is the identity and
    returns ``x`` itself: the scaling at training time already keeps each
    unit's expected value, so inference needs no correction.

    Parameters
    ----------
    x : Tensor or array, any shape
    p : float in [0, 1)
        The probability of dropping a unit.
    rng : numpy.random.Generator, int seed or None
        Where the mask comes from: a Generator advances with every call (a
        fresh mask each time, the same sequence on every run from the same
        seed); an int seed gives the same mask at every call; None draws
        from fresh entropy.
    training : bool
        False: no dropout (evaluation and inference).

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> y = gn.ops.dropout(np.ones(6, np.float32), 0.5, rng=np.random.default_rng(0))
    >>> y.data
    array([2., 0., 0., 0., 2., 2.], dtype=float32)
    """
    p = check_number("dropout", "p", p, 0, 1, high_open=True)
    x = as_tensor(x)
    if not training or p == 0:
        return x
    keep = make_rng(rng, "dropout").random(x.shape) >= p
    y = kernels.call("dropout", x.data, keep, p)
    return make_result(y, (x,), lambda g: (kernels.call("dropout", g, keep, p),))
