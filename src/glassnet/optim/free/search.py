"""The contract every search-based optimizer keeps, and the bookkeeping behind it.

A search-based optimizer learns about the loss only by asking for its value
at chosen points: brewing a cup of tea at some temperature and asking how it
tastes. Each ask is one **evaluation**, and evaluations are what these
methods spend, so every run counts them, stops at its budget exactly, and
reports what it used.

What counts as one evaluation
-----------------------------
* one call of the objective (a forward pass over the data, for a model);
* one call of a user-supplied gradient or Hessian function;
* one forward *and* backward pass when a method asks autograd for the
  gradient (``gradient="autograd"``) -- the same unit as one step of
  backpropagation with SGD on the same batch, so the two compare fairly;
* checks of an optional ``metric`` (accuracy) are *not* evaluations; they
  run only when the loss reaches a new best and are counted separately in
  :attr:`SearchResult.metric_evaluations`.

Two kinds of objective
----------------------
``minimize(f, start)`` works on

* **a function of a vector**: ``start`` is a number or a 1-D array and
  ``f(x)`` receives a float64 array of that length (a copy, so ``f`` may
  change it) and returns one number;
* **a model**: ``start`` is a :class:`glassnet.nn.Module`; the method moves
  the flat vector of all its parameter values (see
  :func:`parameter_vector`) and ``f(model)`` is called with those values
  written in, e.g. ``lambda m: loss_fn(m(X), y)``. Calls run under
  ``no_grad()``. When the run ends, the model holds the best values found.
  Values are written in the parameters' own dtype, so the tiny probes of
  finite differences need a float64 model (``model.astype(np.float64)``);
  with float32, use ``gradient='autograd'`` instead.

A returned Tensor is read with ``.item()``; NaN counts as ``+inf``, a loss
worse than any number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..._validate import check_positive, check_real, shape_str
from ...errors import ConfigError, DataError, ShapeError
from ...nn.init import make_rng
from ...nn.module import Module
from ...tensor import Tensor, enable_grad, no_grad

__all__ = [
    "FreeOptimizer",
    "SearchResult",
    "STOP_REASONS",
    "parameter_vector",
    "set_parameter_vector",
]

#: Why a run ended, and what each reason means.
STOP_REASONS = {
    "target_loss": "the loss reached target_loss",
    "target_metric": "the metric reached target_metric",
    "budget": "the budget of evaluations was spent",
    "converged": "the method found no better point nearby (step or slope too small)",
    "exhausted": "every point of the grid was evaluated",
}


# --------------------------------------------------------------------------
# A model's parameters as one flat vector
# --------------------------------------------------------------------------


def parameter_vector(model: Module) -> np.ndarray:
    """All parameter values of ``model`` as one float64 vector.

    The order is that of ``model.named_parameters()``; each tensor is
    flattened in C order. :func:`set_parameter_vector` is the inverse.

    Examples
    --------
    >>> from glassnet.nn import Dense
    >>> parameter_vector(Dense(3, 2, seed=0)).shape   # 3*2 weights + 2 biases
    (8,)
    """
    if not isinstance(model, Module):
        raise ConfigError(
            f"parameter_vector: expected a glassnet Module; got {type(model).__name__}."
        )
    parts = [p.data.astype(np.float64).ravel() for p in model.parameters()]
    return np.concatenate(parts) if parts else np.zeros(0)


def set_parameter_vector(model: Module, vector) -> None:
    """Write ``vector`` into the parameters of ``model``, in the order of
    :func:`parameter_vector`, cast to each parameter's dtype."""
    params = model.parameters()
    vector = np.asarray(vector, dtype=np.float64)
    total = sum(p.size for p in params)
    if vector.shape != (total,):
        raise ShapeError(
            f"set_parameter_vector: {type(model).__name__} has {total} parameter "
            f"values; got a vector of shape {shape_str(vector.shape)}."
        )
    at = 0
    for p in params:
        p.data = vector[at : at + p.size].reshape(p.shape).astype(p.dtype)
        at += p.size


# --------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    """What one run found, what it cost, and the way it went.

    Attributes
    ----------
    x : ndarray (n,)
        The best point evaluated (for a model: its parameter vector, which
        has also been written back into the model).
    loss : float
        The loss at ``x``.
    evaluations : int
        Evaluations used (see the module docstring for what counts), never
        more than the budget.
    stop_reason : str
        A key of :data:`STOP_REASONS`: ``'target_loss'``, ``'target_metric'``,
        ``'budget'``, ``'converged'`` or ``'exhausted'``.
    path : ndarray (k, n)
        The points the method accepted, in order: where a local method
        stood after each move, each new best of a sampling method, each
        generation's best of a genetic algorithm. Plot it to see the search.
    path_losses : ndarray (k,)
        The loss at each point of ``path``.
    path_evaluations : ndarray (k,), int
        How many evaluations had been used when each point was accepted.
    method : str
        The optimizer that produced the result, with its settings.
    metric : float or None
        The metric at ``x`` when a metric was given.
    metric_evaluations : int
        Times the metric was computed (not counted in ``evaluations``).
    """

    x: np.ndarray
    loss: float
    evaluations: int
    stop_reason: str
    path: np.ndarray
    path_losses: np.ndarray
    path_evaluations: np.ndarray
    method: str
    metric: float | None = None
    metric_evaluations: int = 0

    @property
    def reached_target(self) -> bool:
        """True when the run stopped because it hit its target loss or metric."""
        return self.stop_reason in ("target_loss", "target_metric")

    @property
    def message(self) -> str:
        """Why the run stopped, in words."""
        return STOP_REASONS[self.stop_reason]

    def __repr__(self) -> str:
        x = np.array2string(self.x, precision=4, threshold=6, separator=", ")
        metric = "" if self.metric is None else f", metric={self.metric:.4g}"
        return (
            f"SearchResult({self.method}: loss={self.loss:.6g}{metric}, x={x}, "
            f"evaluations={self.evaluations}, stop_reason={self.stop_reason!r})"
        )

    def _repr_html_(self) -> str:
        """Jupyter's display: a table of the result and the loss along its path."""
        from ..._display import search_result_html

        return search_result_html(self)


# --------------------------------------------------------------------------
# One run's bookkeeping
# --------------------------------------------------------------------------


class _Stop(Exception):
    """Raised inside a search to end it; carries the reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _as_number(where: str, what: str, out) -> float:
    """One float from what the objective returned (NaN becomes +inf)."""
    arr = np.asarray(out.data if isinstance(out, Tensor) else out)
    if arr.size != 1 or arr.dtype.kind not in "fiub":
        raise DataError(
            f"{where}: the {what} must return one number; got "
            f"{type(out).__name__} of shape {shape_str(arr.shape)} "
            f"and dtype {arr.dtype}."
        )
    value = float(arr.reshape(-1)[0])
    return math.inf if math.isnan(value) else value


def _as_vector(where: str, name: str, value) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}: {name} must be a number or a 1-D array of numbers; "
            f"got {type(value).__name__}."
        ) from None
    if arr.ndim > 1:
        raise ShapeError(
            f"{where}: {name} must be a number or a 1-D array; got shape "
            f"{shape_str(arr.shape)}. Flatten it, or optimize a model instead."
        )
    arr = arr.reshape(-1)
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ConfigError(
            f"{where}: {name} must be finite and non-empty; got {value!r}."
        )
    return arr


def _check_bounds(where: str, bounds, n: int | None):
    """(low, high) as float64 vectors of length n; n is taken from them if None."""
    try:
        low, high = bounds
        low = np.array(low, dtype=np.float64)
        high = np.array(high, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}: bounds must be a pair (low, high) of numbers or of 1-D arrays, "
            f"e.g. bounds=(0, 100); got {bounds!r}."
        ) from None
    if n is None:
        sizes = {a.size for a in (low, high) if a.ndim == 1}
        if not sizes:
            raise ConfigError(
                f"{where}: bounds={bounds!r} are single numbers and there is no start, "
                "so the number of coordinates is unknown. Pass "
                f"bounds=([{low}], [{high}]) for one coordinate, one number per "
                "coordinate for more, or a start."
            )
        if len(sizes) > 1:
            raise ShapeError(
                f"{where}: bounds low and high must have one number per coordinate; "
                f"got {low.size} and {high.size} numbers."
            )
        n = sizes.pop()
    for name, a in (("low", low), ("high", high)):
        if a.ndim > 1 or (a.ndim == 1 and a.size != n):
            raise ShapeError(
                f"{where}: bounds {name} must be one number or {n} numbers (one per "
                f"coordinate); got shape {shape_str(a.shape)}."
            )
    low, high = np.broadcast_to(low, (n,)).copy(), np.broadcast_to(high, (n,)).copy()
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ConfigError(f"{where}: bounds must be finite numbers; got {bounds!r}.")
    bad = np.flatnonzero(low >= high)
    if bad.size:
        i = int(bad[0])
        raise ConfigError(
            f"{where}: bounds need low < high in every coordinate; coordinate {i} "
            f"has low {low[i]:g} and high {high[i]:g}."
        )
    return low, high


class Problem:
    """One run of one optimizer: the objective, counted, bounded and recorded.

    Optimizers call :meth:`loss` (and :meth:`value_and_gradient`,
    :meth:`call_gradient`) and :meth:`accept`; the run ends by a
    :class:`_Stop` raised from here when the budget is spent or a target is
    reached, or when the optimizer returns a reason of its own.
    """

    def __init__(
        self,
        where,
        objective,
        start,
        bounds,
        metric,
        budget,
        target_loss,
        target_metric,
    ):
        if not callable(objective):
            raise ConfigError(
                f"{where}: the objective must be callable, f(x) -> number or "
                f"f(model) -> number; got {type(objective).__name__}."
            )
        if metric is not None and not callable(metric):
            raise ConfigError(
                f"{where}: metric must be callable; got {type(metric).__name__}."
            )
        if target_metric is not None and metric is None:
            raise ConfigError(
                f"{where}: target_metric={target_metric!r} needs a metric function, "
                "e.g. metric=lambda m: accuracy(m(X), y)."
            )
        self.where = where
        self.objective, self.metric = objective, metric
        self.model = start if isinstance(start, Module) else None
        if self.model is not None:
            self.start = parameter_vector(self.model)
            if self.start.size == 0:
                raise ConfigError(
                    f"{where}: {type(start).__name__} has no parameters to search."
                )
        else:
            self.start = None if start is None else _as_vector(where, "start", start)
        n = None if self.start is None else self.start.size
        if bounds is None:
            if n is None:
                raise ConfigError(
                    f"{where}: give a start point or bounds=(low, high), so the search "
                    "knows how many coordinates there are and where to look."
                )
            self.low = self.high = None
        else:
            self.low, self.high = _check_bounds(where, bounds, n)
            n = self.low.size
            if self.start is not None:
                out = np.flatnonzero((self.start < self.low) | (self.start > self.high))
                if out.size:
                    i = int(out[0])
                    raise ConfigError(
                        f"{where}: the start lies outside the bounds: coordinate "
                        f"{i} is {self.start[i]:g}, not within "
                        f"[{self.low[i]:g}, {self.high[i]:g}]."
                    )
        self.n = n
        self.budget = budget
        self.target_loss, self.target_metric = target_loss, target_metric
        self.evaluations = 0
        self.metric_evaluations = 0
        self.best_x, self.best_loss, self.best_metric = None, math.inf, None
        self._path: list[tuple[int, np.ndarray, float]] = []

    # --- geometry ------------------------------------------------------------
    @property
    def bounded(self) -> bool:
        return self.low is not None

    def clip(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.low, self.high) if self.bounded else x

    def start_point(self, rng) -> np.ndarray:
        """The given start; without one, a uniform draw inside the bounds."""
        if self.start is not None:
            return self.start.copy()
        return rng.uniform(self.low, self.high)

    # --- evaluations ---------------------------------------------------------
    def _spend(self) -> None:
        if self.evaluations >= self.budget:
            raise _Stop("budget")
        self.evaluations += 1

    def _call(self, fn, x: np.ndarray):
        if self.model is None:
            return fn(x.copy())
        set_parameter_vector(self.model, x)
        with no_grad():
            return fn(self.model)

    def loss(self, x: np.ndarray) -> float:
        """The objective at ``x``: one evaluation."""
        self._spend()
        return self._record(
            x, _as_number(self.where, "objective", self._call(self.objective, x))
        )

    def _inside(self, x: np.ndarray) -> bool:
        return not self.bounded or bool(np.all((x >= self.low) & (x <= self.high)))

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and autograd gradient at ``x``: one forward+backward, one evaluation."""
        self._spend()
        if self.model is not None:
            set_parameter_vector(self.model, x)
            self.model.zero_grad()
            with enable_grad():
                out = self.objective(self.model)
            self._backward(out)
            grads = [
                np.zeros(p.shape) if p.grad is None else p.grad
                for p in self.model.parameters()
            ]
            g = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in grads])
            self.model.zero_grad()
        else:
            xt = Tensor(x.copy(), requires_grad=True, dtype=np.float64)
            with enable_grad():
                out = self.objective(xt)
            self._backward(out)
            g = np.zeros(self.n) if xt.grad is None else np.asarray(xt.grad, np.float64)
        value = self._record(x, _as_number(self.where, "objective", out))
        return value, g.reshape(-1)

    def _backward(self, out) -> None:
        if not (isinstance(out, Tensor) and out.requires_grad):
            raise ConfigError(
                f"{self.where}: gradient='autograd' needs the objective to return the "
                "loss as a Tensor built from its input, so it can call backward(); got "
                f"{type(out).__name__}. Return the loss itself, not loss.item()."
            )
        out.backward()

    def call_gradient(self, fn, x: np.ndarray, shape: tuple, what: str) -> np.ndarray:
        """A user-supplied derivative at ``x``: one evaluation."""
        if self.model is not None:
            raise ConfigError(
                f"{self.where}: a {what} function works on functions of a vector; "
                "for a model use gradient='autograd' or 'numeric'."
            )
        self._spend()
        out = np.asarray(fn(x.copy()), dtype=np.float64)
        if out.size != int(np.prod(shape)):
            raise ShapeError(
                f"{self.where}: the {what} function must return {shape_str(shape)} "
                f"values at a point with {self.n} coordinates; got shape "
                f"{shape_str(out.shape)}."
            )
        return out.reshape(shape)

    def _record(self, x: np.ndarray, value: float) -> float:
        # a finite-difference probe a step outside the box is counted, but
        # can never be the answer
        if value < self.best_loss and self._inside(x):
            self.best_loss, self.best_x = value, x.copy()
            if self.target_loss is not None and value <= self.target_loss:
                self.accept(x, value)
                raise _Stop("target_loss")
            if self.metric is not None:
                self.metric_evaluations += 1
                self.best_metric = _as_number(
                    self.where, "metric", self._call(self.metric, x)
                )
                if (
                    self.target_metric is not None
                    and self.best_metric >= self.target_metric
                ):
                    self.accept(x, value)
                    raise _Stop("target_metric")
        return value

    def accept(self, x: np.ndarray, value: float) -> None:
        """Add a point to the path the result reports."""
        self._path.append((self.evaluations, x.copy(), value))

    # --- the end -------------------------------------------------------------
    def result(self, reason: str, method: str) -> SearchResult:
        x = self.best_x if self.best_x is not None else self.start_point(make_rng(0))
        if self.model is not None:
            set_parameter_vector(self.model, x)
        if self._path:
            evals, points, losses = zip(*self._path)
        else:
            evals, points, losses = (), np.zeros((0, self.n)), ()
        return SearchResult(
            x=x.copy(),
            loss=self.best_loss,
            evaluations=self.evaluations,
            stop_reason=reason,
            path=np.array(points, dtype=np.float64).reshape(-1, self.n),
            path_losses=np.array(losses, dtype=np.float64),
            path_evaluations=np.array(evals, dtype=np.int64),
            method=method,
            metric=self.best_metric,
            metric_evaluations=self.metric_evaluations,
        )


# --------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------


class FreeOptimizer:
    """Base of the search-based optimizers: one interface, one bookkeeping.

    Parameters (shared by every subclass)
    -------------------------------------
    budget : int, default 10_000
        Most evaluations a run may use; it stops exactly there.
    seed : int, numpy Generator or None
        Where the randomness comes from. An int gives the same run every
        time ``minimize`` is called; a Generator is drawn on and advances.
    target_loss : float, optional
        Stop as soon as an evaluated loss is at or below this.
    target_metric : float, optional
        Stop as soon as the metric (higher is better, e.g. accuracy) is at
        or above this; needs ``metric=`` in :meth:`minimize`.

    Subclasses write ``_search(problem, rng)``, which evaluates points with
    ``problem.loss(x)``, records its moves with ``problem.accept(x, loss)``
    and returns a key of :data:`STOP_REASONS` if it ends by itself.
    """

    def __init__(
        self, *, budget: int = 10_000, seed=None, target_loss=None, target_metric=None
    ):
        where = type(self).__name__
        check_positive(where, "budget", budget, integer=True)
        check_real(where, "target_loss", target_loss, allow_none=True)
        check_real(where, "target_metric", target_metric, allow_none=True)
        make_rng(seed)  # a bad seed fails here, not at the first run
        self.budget, self.seed = int(budget), seed
        self.target_loss, self.target_metric = target_loss, target_metric

    def minimize(
        self, objective, start=None, *, bounds=None, metric=None
    ) -> SearchResult:
        """Search for the lowest value of ``objective``.

        Parameters
        ----------
        objective : callable
            ``f(x) -> number`` for a vector ``x``, or ``f(model) -> number``
            when ``start`` is a model.
        start : number, 1-D array, Module or None
            Where to start (and, for a model, what to optimize). Methods
            that need a start draw one uniformly inside ``bounds`` if it is
            None.
        bounds : (low, high), optional
            A box to search in; each side one number or one per coordinate.
            Every point evaluated lies inside, apart from the probes of
            finite differences, which may reach ``h`` beyond a bound; they
            are counted but never reported as the best point. Without a
            start, give one number per coordinate (``([0], [100])`` for a
            single coordinate), so the dimension is known.
        metric : callable, optional
            ``metric(x)`` or ``metric(model)``, higher is better (accuracy);
            computed at every new best loss, to report and to stop at
            ``target_metric``.

        Returns
        -------
        SearchResult
        """
        where = f"{type(self).__name__}.minimize"
        problem = Problem(
            where,
            objective,
            start,
            bounds,
            metric,
            self.budget,
            self.target_loss,
            self.target_metric,
        )
        self._check_problem(problem)
        rng = make_rng(self.seed)
        try:
            reason = self._search(problem, rng)
        except _Stop as stop:
            reason = stop.reason
        return problem.result(reason, repr(self))

    def _check_problem(self, problem: Problem) -> None:
        """Refuse a problem this method cannot search (override to add checks)."""

    def _search(self, problem: Problem, rng: np.random.Generator) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement _search().")

    def _settings(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self._settings()
        settings = (
            f"{extra}, budget={self.budget}" if extra else f"budget={self.budget}"
        )
        return f"{type(self).__name__}({settings})"
