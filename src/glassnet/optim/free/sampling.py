"""Searches that sample points without walking: the shot in the dark and the grid.

Neither uses where it has been to decide where to look next, so neither can
be trapped in a small valley -- and neither gets cheaper on an easy one.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..._validate import check_positive
from ...errors import ConfigError
from .search import FreeOptimizer, Problem

__all__ = ["RandomSearch", "GridSearch"]


class RandomSearch(FreeOptimizer):
    """Guess, check, keep the best guess: a shot in the dark, many times.

    Each evaluation is an independent random point: uniform inside
    ``bounds`` when they are given, else ``start + scale * N(0, I)``. The
    start itself, when given, is evaluated first. The path holds each new
    best point.

    Parameters
    ----------
    scale : float, default 1.0
        Spread of the guesses around the start when there are no bounds.
    budget, seed, target_loss, target_metric
        See :class:`FreeOptimizer`.

    Examples
    --------
    >>> from glassnet.optim.free import RandomSearch
    >>> r = RandomSearch(budget=200, seed=0).minimize(lambda x: (x[0] - 3) ** 2,
    ...                                                bounds=([0], [10]))
    >>> r.evaluations, bool(abs(r.x[0] - 3) < 0.2)
    (200, True)
    """

    def __init__(
        self,
        *,
        scale: float = 1.0,
        budget: int = 10_000,
        seed=None,
        target_loss=None,
        target_metric=None,
    ):
        super().__init__(
            budget=budget,
            seed=seed,
            target_loss=target_loss,
            target_metric=target_metric,
        )
        check_positive("RandomSearch", "scale", scale)
        self.scale = float(scale)

    def _settings(self) -> str:
        return f"scale={self.scale:g}"

    def _search(self, problem: Problem, rng) -> str:
        if problem.start is not None:
            problem.accept(problem.start, problem.loss(problem.start))
        best = problem.best_loss
        while True:
            if problem.bounded:
                x = rng.uniform(problem.low, problem.high)
            else:
                x = problem.start + self.scale * rng.standard_normal(problem.n)
            f = problem.loss(x)
            if f < best:
                best = f
                problem.accept(x, f)


class GridSearch(FreeOptimizer):
    """Exhaustive exploration: evaluate every point of a regular grid in the bounds.

    With ``k`` points per coordinate the grid has ``k ** n`` points, spaced
    evenly from ``low`` to ``high`` inclusive (one point means the middle).
    This is the method that always finds the best valley a grid can see, and
    the one whose cost explodes with the number of coordinates. The start,
    if given, is ignored: the grid does not care where you stand.

    Parameters
    ----------
    points : int or sequence of int, optional
        Points per coordinate. By default, the finest grid with the same
        number of points on every axis that fits in the budget. A grid with
        more points than the budget is refused with a ConfigError.
    budget, seed, target_loss, target_metric
        See :class:`FreeOptimizer`. ``seed`` is unused: the grid is fixed.

    Examples
    --------
    >>> from glassnet.optim.free import GridSearch
    >>> r = GridSearch(points=31, budget=100).minimize(
    ...     lambda g: ((53 - g) ** 2 + (57 - g) ** 2).item(), bounds=([40], [70]))
    >>> r.x, r.evaluations, r.stop_reason
    (array([55.]), 31, 'exhausted')
    """

    def __init__(
        self,
        *,
        points=None,
        budget: int = 10_000,
        seed=None,
        target_loss=None,
        target_metric=None,
    ):
        super().__init__(
            budget=budget,
            seed=seed,
            target_loss=target_loss,
            target_metric=target_metric,
        )
        if points is not None:
            counts = [points] if np.ndim(points) == 0 else list(points)
            for k in counts:
                check_positive("GridSearch", "points", k, integer=True)
        self.points = points

    def _settings(self) -> str:
        return "" if self.points is None else f"points={self.points}"

    def _axes(self, problem: Problem) -> list[np.ndarray]:
        where, n = "GridSearch", problem.n
        if not problem.bounded:
            raise ConfigError(f"{where}: needs bounds=(low, high) to lay the grid in.")
        if self.points is None:
            k = max(1, int(round(self.budget ** (1.0 / n))))
            while k > 1 and k**n > self.budget:
                k -= 1
            while (k + 1) ** n <= self.budget:
                k += 1
            if k < 2:
                raise ConfigError(
                    f"{where}: a grid over {n} coordinates needs at least "
                    f"2**{n} points "
                    f"and the budget is {self.budget}. Exhaustive search suits a few "
                    "coordinates; for more, try RandomSearch or GeneticAlgorithm."
                )
            counts = [k] * n
        else:
            counts = (
                [self.points] * n if np.ndim(self.points) == 0 else list(self.points)
            )
            if len(counts) != n:
                raise ConfigError(
                    f"{where}: points gives {len(counts)} counts but the problem has "
                    f"{n} coordinates."
                )
        size = int(np.prod([int(k) for k in counts], dtype=object))
        if size > self.budget:
            raise ConfigError(
                f"{where}: the grid has {size:,} points but the budget is "
                f"{self.budget:,} evaluations; raise budget= or use fewer points."
            )
        return [
            np.linspace(lo, hi, int(k)) if k > 1 else np.array([(lo + hi) / 2])
            for lo, hi, k in zip(problem.low, problem.high, counts)
        ]

    def _check_problem(self, problem: Problem) -> None:
        self._axes(problem)

    def _search(self, problem: Problem, rng) -> str:
        best = problem.best_loss
        for point in itertools.product(*self._axes(problem)):
            x = np.array(point)
            f = problem.loss(x)
            if f < best:
                best = f
                problem.accept(x, f)
        return "exhausted"
