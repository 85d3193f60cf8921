"""Searches that walk downhill from where they stand: nudges, slopes and curvature.

All three need only loss values (slopes and curvature are estimated from
nearby evaluations), and all three stop in the first valley they reach.

Finite differences at a point x, with probe size h and unit vector e_i::

    slope, forward   g_i  ~ (f(x + h e_i) - f(x)) / h                n evaluations
    slope, central   g_i  ~ (f(x + h e_i) - f(x - h e_i)) / 2h       2n
    curvature        H_ii ~ (f(x + h e_i) - 2 f(x) + f(x - h e_i)) / h^2   (the same 2n)
                     H_ij ~ (f(x+h e_i+h e_j) - f(x+h e_i-h e_j)
                             - f(x-h e_i+h e_j) + f(x-h e_i-h e_j)) / 4h^2  4 per pair

so one Newton step costs 2n^2 evaluations from values alone: cheap for the
tea (n = 1: brew one cup warmer and one cooler), ruinous for a network.
"""

from __future__ import annotations

import numpy as np

from ..._validate import check_number, check_positive
from ...errors import ConfigError, DivergedError
from .search import FreeOptimizer, Problem

__all__ = ["CoordinateNudge", "GradientDescent", "Newton"]

_GRADIENTS = ("numeric", "autograd")


def _check_derivative(where: str, name: str, spec, allowed) -> None:
    if not (callable(spec) or (isinstance(spec, str) and spec in allowed)):
        choices = " or ".join(repr(a) for a in allowed)
        raise ConfigError(
            f"{where}: {name} must be {choices}, or a function of the point; "
            f"got {spec!r}."
        )


def _finite_or_fail(where: str, x, *arrays) -> None:
    for a in arrays:
        if not np.isfinite(a).all():
            at = np.array2string(x, precision=4, threshold=6)
            raise DivergedError(
                f"{where}: the loss or its slope is not finite near x = {at}; the "
                "objective returned NaN or infinity there. Use bounds= or a smaller "
                "step."
            )


class CoordinateNudge(FreeOptimizer):
    """One weight at a time: try it a little up and a little down, keep the better.

    For each coordinate in turn, evaluate ``x + step e_i`` and ``x - step e_i``
    and move to the better of them if it beats where we stand. After a full
    sweep with no move, the step shrinks (``step *= shrink``); the search
    ends when the step falls below ``min_step``. A sweep costs at most
    2n evaluations.

    Parameters
    ----------
    step : float, default 0.1
        The first nudge size.
    shrink : float in (0, 1), default 0.5
        Factor applied to the step after a sweep that found nothing better.
    min_step : float, default 1e-6
        Stop (``'converged'``) when the step is smaller than this.
    shuffle : bool, default False
        Visit the coordinates in a fresh random order every sweep.
    budget, seed, target_loss, target_metric
        See :class:`FreeOptimizer`.

    Examples
    --------
    >>> from glassnet.optim.free import CoordinateNudge
    >>> bowl = lambda x: ((x - [1, -2]) ** 2).sum()
    >>> r = CoordinateNudge(step=1.0).minimize(bowl, [0, 0])
    >>> r.x.round(4).tolist(), r.stop_reason
    ([1.0, -2.0], 'converged')
    """

    def __init__(
        self,
        *,
        step: float = 0.1,
        shrink: float = 0.5,
        min_step: float = 1e-6,
        shuffle: bool = False,
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
        check_positive("CoordinateNudge", "step", step)
        check_positive("CoordinateNudge", "min_step", min_step)
        check_number("CoordinateNudge", "shrink", shrink, 0, 1, low_open=True)
        if shrink == 1:
            raise ConfigError(
                "CoordinateNudge: shrink must be below 1, or the step never "
                "shrinks and the search never ends; got 1."
            )
        self.step, self.shrink, self.min_step = (
            float(step),
            float(shrink),
            float(min_step),
        )
        self.shuffle = bool(shuffle)

    def _settings(self) -> str:
        return f"step={self.step:g}, shrink={self.shrink:g}"

    def _search(self, problem: Problem, rng) -> str:
        x = problem.start_point(rng)
        f = problem.loss(x)
        problem.accept(x, f)
        step = self.step
        while step >= self.min_step:
            moved = False
            order = rng.permutation(problem.n) if self.shuffle else range(problem.n)
            for i in order:
                best_x, best_f = None, f
                for sign in (1.0, -1.0):
                    trial = x.copy()
                    trial[i] += sign * step
                    trial = problem.clip(trial)
                    if trial[i] == x[i]:
                        continue  # pinned at a bound: nothing new to try
                    f_trial = problem.loss(trial)
                    if f_trial < best_f:
                        best_x, best_f = trial, f_trial
                if best_x is not None:
                    x, f, moved = best_x, best_f, True
                    problem.accept(x, f)
            if not moved:
                step *= self.shrink
        return "converged"


class GradientDescent(FreeOptimizer):
    """Roll downhill: step against the slope, ``x <- x - lr * slope``.

    The race car of the tea story, here so it can run the same course under
    the same rules (counted evaluations, budget, targets) as the searches.
    To train a network, :class:`glassnet.optim.SGD` with ``glassnet.fit`` is
    the tool; this class is for comparisons.

    Cost per step: ``gradient='numeric'`` (forward differences) 1 + n
    evaluations; ``'autograd'`` 1 (one forward+backward); a gradient
    function 2 (the loss and the gradient). It stops (``'converged'``) when
    the slope is exactly flat or a step moves less than ``tol``.

    Parameters
    ----------
    lr : float, default 0.1
        Learning rate: how far to go per unit of slope.
    gradient : 'numeric', 'autograd' or callable, default 'numeric'
        How to get the slope. A callable gets the point and returns the
        gradient vector. 'autograd' needs the objective to return the loss
        Tensor (for a vector problem it then receives a float64 Tensor).
    h : float, default 1e-6
        Probe size of the forward differences.
    tol : float, default 1e-10
        Stop when no coordinate moves more than this.
    budget, seed, target_loss, target_metric
        See :class:`FreeOptimizer`.

    Examples
    --------
    >>> from glassnet.optim.free import GradientDescent
    >>> gd = GradientDescent(lr=0.5, target_loss=1e-12)
    >>> r = gd.minimize(lambda x: (x**2).sum(), [4.0])  # slope 2x: one step lands at 0
    >>> r.stop_reason, r.evaluations   # the start, one probe for the slope, the landing
    ('target_loss', 3)
    """

    def __init__(
        self,
        *,
        lr: float = 0.1,
        gradient="numeric",
        h: float = 1e-6,
        tol: float = 1e-10,
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
        check_positive("GradientDescent", "lr", lr)
        check_positive("GradientDescent", "h", h)
        check_positive("GradientDescent", "tol", tol)
        _check_derivative("GradientDescent", "gradient", gradient, _GRADIENTS)
        self.lr, self.gradient, self.h, self.tol = (
            float(lr),
            gradient,
            float(h),
            float(tol),
        )

    def _settings(self) -> str:
        kind = self.gradient if isinstance(self.gradient, str) else "function"
        return f"lr={self.lr:g}, gradient={kind!r}"

    def _slope(self, problem: Problem, x):
        if self.gradient == "autograd":
            return problem.value_and_gradient(x)
        f = problem.loss(x)
        if callable(self.gradient):
            return f, problem.call_gradient(self.gradient, x, (problem.n,), "gradient")
        g = np.empty(problem.n)
        for i in range(problem.n):
            probe = x.copy()
            probe[i] += self.h
            g[i] = (problem.loss(probe) - f) / self.h
        return f, g

    def _search(self, problem: Problem, rng) -> str:
        x = problem.start_point(rng)
        while True:
            f, g = self._slope(problem, x)
            _finite_or_fail("GradientDescent", x, np.array([f]), g)
            problem.accept(x, f)
            if not g.any():
                return "converged"  # perfectly flat: no slope to follow
            x_next = problem.clip(x - self.lr * g)
            if np.abs(x_next - x).max() <= self.tol:
                return "converged"
            x = x_next


class Newton(FreeOptimizer):
    """Curvature steps: jump to the bottom of the bowl that slope and curvature draw.

    Near x the loss looks like ``f + g.p + p.H.p / 2``; where the curvature
    ``H`` is positive (a bowl), that bowl's bottom is ``p = -H^-1 g``: a giant
    step where the slope is steep but barely bending, a small one where it
    bends fast. Where the curvature is not positive there is no bottom, and
    the step falls back to plain downhill, ``p = -g``. Either step is kept
    within a trust radius; a step that does not lower the loss is halved
    and retried, and one that succeeds at full length doubles the radius.
    It stops (``'converged'``) when the slope is below ``gtol`` or the trust
    radius shrinks below ``min_radius``.

    Cost per step (n coordinates): from values alone, 2n^2 evaluations for
    slope and curvature (see the module docstring) plus one per trial;
    with ``gradient='autograd'`` or a gradient function, 1 + 2n (curvature
    from differences of gradients); with a Hessian function as well, 2.

    Parameters
    ----------
    gradient : 'numeric', 'autograd' or callable, default 'numeric'
        As in :class:`GradientDescent` (central differences when numeric).
    hessian : 'numeric' or callable, default 'numeric'
        A callable gets the point and returns the (n, n) curvature matrix.
    h : float, default 1e-4
        Probe size of the finite differences.
    radius : float, default 1.0
        The first trust radius: the longest first step.
    gtol : float, default 1e-8
        Stop when the slope's length is at most this.
    min_radius : float, default 1e-9
        Stop when the trust radius falls below this.
    budget, seed, target_loss, target_metric
        See :class:`FreeOptimizer`.

    Examples
    --------
    >>> from glassnet.optim.free import Newton
    >>> r = Newton(radius=10.0).minimize(lambda x: 3 * (x[0] - 2) ** 2 + 1, [0.0])
    >>> round(float(r.x[0]), 6), round(r.loss, 9)
    (2.0, 1.0)
    """

    def __init__(
        self,
        *,
        gradient="numeric",
        hessian="numeric",
        h: float = 1e-4,
        radius: float = 1.0,
        gtol: float = 1e-8,
        min_radius: float = 1e-9,
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
        for name, value in (
            ("h", h),
            ("radius", radius),
            ("gtol", gtol),
            ("min_radius", min_radius),
        ):
            check_positive("Newton", name, value)
        _check_derivative("Newton", "gradient", gradient, _GRADIENTS)
        _check_derivative("Newton", "hessian", hessian, ("numeric",))
        self.gradient, self.hessian = gradient, hessian
        self.h, self.radius = float(h), float(radius)
        self.gtol, self.min_radius = float(gtol), float(min_radius)

    def _settings(self) -> str:
        kind = self.gradient if isinstance(self.gradient, str) else "function"
        return f"gradient={kind!r}, radius={self.radius:g}"

    # --- slope and curvature -------------------------------------------------
    def _from_values(self, problem: Problem, x, f):
        """Central differences of loss values: 2n^2 evaluations."""
        n, h = problem.n, self.h
        g, H = np.empty(n), np.empty((n, n))

        def at(*moves):
            probe = x.copy()
            for i, d in moves:
                probe[i] += d
            return problem.loss(probe)

        for i in range(n):
            up, down = at((i, h)), at((i, -h))
            g[i] = (up - down) / (2 * h)
            H[i, i] = (up - 2 * f + down) / (h * h)
        for i in range(n):
            for j in range(i + 1, n):
                H[i, j] = H[j, i] = (
                    at((i, h), (j, h))
                    - at((i, h), (j, -h))
                    - at((i, -h), (j, h))
                    + at((i, -h), (j, -h))
                ) / (4 * h * h)
        return g, H

    def _gradient_at(self, problem: Problem, x):
        if self.gradient == "autograd":
            return problem.value_and_gradient(x)[1]
        if callable(self.gradient):
            return problem.call_gradient(self.gradient, x, (problem.n,), "gradient")
        g = np.empty(problem.n)  # central differences of values
        for i in range(problem.n):
            up, down = x.copy(), x.copy()
            up[i] += self.h
            down[i] -= self.h
            g[i] = (problem.loss(up) - problem.loss(down)) / (2 * self.h)
        return g

    def _derivatives(self, problem: Problem, x, f):
        n = problem.n
        if self.gradient == "numeric" and self.hessian == "numeric":
            return self._from_values(problem, x, f)
        g = self._gradient_at(problem, x)
        if callable(self.hessian):
            H = problem.call_gradient(self.hessian, x, (n, n), "hessian")
        else:
            H = np.empty((n, n))
            for j in range(n):
                up, down = x.copy(), x.copy()
                up[j] += self.h
                down[j] -= self.h
                H[:, j] = (
                    self._gradient_at(problem, up) - self._gradient_at(problem, down)
                ) / (2 * self.h)
        return g, (H + H.T) / 2

    @staticmethod
    def _step(g, H, radius):
        """Newton's step where the curvature is a bowl, else downhill; within radius."""
        try:
            np.linalg.cholesky(
                H
            )  # succeeds only for positive curvature in every direction
            p = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            p = -g * (radius / np.linalg.norm(g))
        length = np.linalg.norm(p)
        return p * (radius / length) if length > radius else p

    # --- the walk --------------------------------------------------------------
    def _search(self, problem: Problem, rng) -> str:
        x = problem.start_point(rng)
        f = problem.loss(x)
        problem.accept(x, f)
        radius = self.radius
        while True:
            g, H = self._derivatives(problem, x, f)
            _finite_or_fail("Newton", x, g, H)
            if np.linalg.norm(g) <= self.gtol:
                return "converged"
            p = self._step(g, H, radius)
            while True:
                x_next = problem.clip(x + p)
                moved = float(np.linalg.norm(x_next - x))
                if moved < self.min_radius:
                    return "converged"
                f_next = problem.loss(x_next)
                if f_next < f:
                    if moved >= 0.99 * radius:
                        radius *= 2
                    x, f = x_next, f_next
                    problem.accept(x, f)
                    break
                radius = moved / 2
                if radius < self.min_radius:
                    return "converged"
                p = p * (radius / np.linalg.norm(p))
