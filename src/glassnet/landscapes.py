"""The tea landscapes: how much a cup of tea makes you suffer, by its temperature.

Seed 004's optimisation talk turns "find the tea temperature people enjoy
most" upside down into "find the temperature where they suffer least", then
shows the curve in five moods, each harder for a rolling marble (gradient
descent) than the last. Here they are as functions of one variable, the
temperature ``t`` in degrees Celsius, searched over the bounds 0 to 100.
Suffering is on a 0-to-10 scale like the talk's ratings; lower is better.

The talk gives no numbers for any curve, so every number below is our
choice, made so that each landscape shows its trap clearly:

===================  ===========================================================
landscape            shape (and where the best cup is)
===================  ===========================================================
``smooth_valley``    one smooth, convex valley, steeper on the hot side, its
                     bottom at 60 C (suffering 0). Every method should win here.
``iced_tea``         the same valley, plus a narrower and deeper one at the
                     cold end: iced tea on a hot day, best near 4.4 C
                     (suffering -1.78), behind a ridge that peaks near 13 C.
``noisy_buses``      the valley with wiggles (two sine waves, 9 C and 3.7 C
                     long): 20 little dips; the deepest is near 60.8 C
                     (-0.60), the next deepest 0.33 higher.
``ratings``          the valley as drinkers rate it, in whole points from 1 to
                     10: stairs with flat treads, the lowest tread from 47.1 C
                     to 72.4 C (suffering 0).
``picky_drinkers``   "hate it" (9) everywhere more than about 5 C from 60 C,
                     and a narrow valley down to 0 at 60 C: flat plateaus on
                     both sides, with no slope pointing to the valley.
===================  ===========================================================

The smooth valley is ``u**2 + (e**u - 1 - u) / 2`` with ``u = (t - 60) / 20``:
a parabola plus a convex term that grows faster on the hot side, so that
a cup 40 C too hot hurts more (6.2) than one 40 C too cold (4.6). Each
landscape also has its exact ``slope`` (the derivative), and knows its own
best temperature and suffering (:meth:`Landscape.minimum`), found on a grid
of 0.0005 C.

Examples
--------
>>> from glassnet.landscapes import smooth_valley, ratings
>>> round(smooth_valley(60.0), 6), round(smooth_valley(20.0), 3)
(0.0, 4.568)
>>> ratings(30.0), ratings.slope(30.0)   # a 7 out of 10, on a flat tread
(3.0, 0.0)
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

__all__ = [
    "Landscape",
    "TEA_LANDSCAPES",
    "smooth_valley",
    "iced_tea",
    "noisy_buses",
    "ratings",
    "picky_drinkers",
    "get",
]

_BEST = 60.0  # the temperature of the best hot cup, in C
_WIDTH = 20.0  # C per unit of u: how wide the smooth valley is


def _smooth(t):
    u = (t - _BEST) / _WIDTH
    return u * u + 0.5 * (np.exp(u) - 1.0 - u)


def _smooth_slope(t):
    u = (t - _BEST) / _WIDTH
    return (2.0 * u + 0.5 * (np.exp(u) - 1.0)) / _WIDTH


# iced tea: a Gaussian dip of depth 10.5 and width 5 C centred at 4 C
_ICED_DEPTH, _ICED_AT, _ICED_WIDTH = 10.5, 4.0, 5.0


def _iced(t):
    z = (t - _ICED_AT) / _ICED_WIDTH
    return _smooth(t) - _ICED_DEPTH * np.exp(-z * z)


def _iced_slope(t):
    z = (t - _ICED_AT) / _ICED_WIDTH
    return _smooth_slope(t) + _ICED_DEPTH * np.exp(-z * z) * 2.0 * z / _ICED_WIDTH


# noisy buses: (amplitude, wavelength in C, phase) of two sine waves; chosen
# among a few candidates so that the deepest dip stands clearly below the rest
_WIGGLES = ((0.4, 9.0, 0.0), (0.2, 3.7, 2.0))


def _buses(t):
    out = _smooth(t)
    for amp, length, phase in _WIGGLES:
        out = out + amp * np.sin(2 * np.pi * t / length + phase)
    return out


def _buses_slope(t):
    out = _smooth_slope(t)
    for amp, length, phase in _WIGGLES:
        out = out + amp * (2 * np.pi / length) * np.cos(2 * np.pi * t / length + phase)
    return out


def _ratings(t):
    # a drinker's rating is 10 minus the suffering, rounded to a whole point
    # and kept within 1..10; we report 10 - rating, so 0 is a perfect 10
    return 10.0 - np.clip(np.round(10.0 - _smooth(t)), 1.0, 10.0)


def _ratings_slope(t):
    return np.zeros_like(t)  # flat on every tread (undefined at the jumps)


# picky drinkers: 9 ("hate it") minus a dip shaped exp(-v**4), v = (t - 60) / 3
_PICKY_HATE, _PICKY_WIDTH = 9.0, 3.0


def _picky(t):
    v = (t - _BEST) / _PICKY_WIDTH
    return _PICKY_HATE * (1.0 - np.exp(-(v**4)))


def _picky_slope(t):
    v = (t - _BEST) / _PICKY_WIDTH
    return _PICKY_HATE * np.exp(-(v**4)) * 4.0 * v**3 / _PICKY_WIDTH


class Landscape:
    """A loss curve over tea temperature, with its slope and its true best.

    Call it with a temperature (a number or any NumPy array, in C) to get
    the suffering: a float for a number, an array of the same shape
    otherwise (so it can be handed to any optimizer in
    :mod:`glassnet.optim.free` as ``f(x)``).

    Attributes
    ----------
    name : str
    about : str
        One line on the shape and the trap it sets.
    bounds : (float, float)
        The temperatures worth searching: (0, 100).
    """

    bounds = (0.0, 100.0)

    def __init__(self, name: str, about: str, f, slope):
        self.name, self.about = name, about
        self._f, self._slope = f, slope
        self._minimum = None

    @staticmethod
    def _apply(fn, t):
        out = fn(np.asarray(t, dtype=np.float64))
        return float(out) if np.ndim(out) == 0 else out

    def __call__(self, t):
        """Suffering at temperature ``t``."""
        return self._apply(self._f, t)

    def slope(self, t):
        """d(suffering)/d(temperature) at ``t``: the exact derivative."""
        return self._apply(self._slope, t)

    def minimum(self) -> tuple[float, float]:
        """(best temperature, its suffering) on a grid of 0.0005 C over the bounds.

        Where the best is a whole interval (``ratings``), the coldest end of
        it is reported.
        """
        if self._minimum is None:
            t = np.linspace(*self.bounds, 200_001)
            s = self._f(t)
            i = int(np.argmin(s))
            self._minimum = (float(t[i]), float(s[i]))
        return self._minimum

    def __repr__(self) -> str:
        return f"Landscape({self.name!r}: {self.about})"


smooth_valley = Landscape(
    "smooth_valley", "one smooth valley, bottom at 60 C", _smooth, _smooth_slope
)
iced_tea = Landscape(
    "iced_tea", "a deeper valley hides at 4 C, behind a ridge", _iced, _iced_slope
)
noisy_buses = Landscape(
    "noisy_buses", "wiggles make 20 small dips that trap a marble", _buses, _buses_slope
)
ratings = Landscape(
    "ratings",
    "whole-point ratings: flat stairs, no slope on any tread",
    _ratings,
    _ratings_slope,
)
picky_drinkers = Landscape(
    "picky_drinkers",
    "flat 'hate it' plateaus around a narrow valley at 60 C",
    _picky,
    _picky_slope,
)

#: The five landscapes, from the easiest to the least kind to gradient descent.
TEA_LANDSCAPES = (smooth_valley, iced_tea, noisy_buses, ratings, picky_drinkers)


def get(name: str) -> Landscape:
    """The landscape called ``name`` (see :data:`TEA_LANDSCAPES`)."""
    for landscape in TEA_LANDSCAPES:
        if landscape.name == name:
            return landscape
    known = ", ".join(ls.name for ls in TEA_LANDSCAPES)
    raise ConfigError(f"unknown tea landscape {name!r}; choose one of: {known}.")
