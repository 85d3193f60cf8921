"""Searches that jump around on purpose: simulated annealing and a genetic algorithm.

The four-wheel-drive pickups of the tea story: some randomness in every
move lets them climb out of small valleys that stop a rolling marble, at
the price of more evaluations than a marble needs on a smooth track.
"""

from __future__ import annotations

import math

import numpy as np

from ..._validate import check_number, check_positive
from ...errors import ConfigError
from .search import FreeOptimizer, Problem

__all__ = ["SimulatedAnnealing", "GeneticAlgorithm"]

_SCHEDULES = ("geometric", "linear")


class SimulatedAnnealing(FreeOptimizer):
    """A random walk that accepts uphill moves less and less as it cools.

    Each evaluation tries ``x' = x + step * N(0, I)`` (clipped to the
    bounds). A better ``x'`` is always taken; a worse one is taken with the
    Metropolis probability ``exp(-(f(x') - f(x)) / T)``. The temperature
    ``T`` falls with the share ``s`` of the budget used (0 at the start, 1
    at the end): geometric ``T = T0 (T1 / T0) ** s`` or linear
    ``T = T0 + (T1 - T0) s``. Hot, it wanders over hills; cold, it only
    goes downhill. The path holds every accepted move.

    Kirkpatrick, Gelatt & Vecchi (1983), "Optimization by simulated
    annealing"; Metropolis et al. (1953) for the acceptance rule.

    Parameters
    ----------
    step : float, default 0.1
        Spread of each proposed move, per coordinate.
    temperature : float, default 1.0
        ``T0``, the starting temperature, in units of the loss: an uphill
        move of this size is first accepted with probability 1/e.
    final_temperature : float, default 1e-3
        ``T1``, the temperature when the budget is spent.
    schedule : 'geometric', 'linear' or callable, default 'geometric'
        A callable receives ``s`` and returns the temperature (> 0);
        ``temperature`` and ``final_temperature`` are then unused.
    budget, seed, target_loss, target_metric
        See :class:`FreeOptimizer`. The run only ends at the budget or a
        target.

    Examples
    --------
    >>> from glassnet.optim.free import SimulatedAnnealing
    >>> sa = SimulatedAnnealing(step=0.5, budget=2000, seed=0, target_loss=0.01)
    >>> r = sa.minimize(lambda x: ((x - 3) ** 2).sum(), [0.0, 0.0])
    >>> r.stop_reason, r.loss <= 0.01
    ('target_loss', True)
    """

    def __init__(
        self,
        *,
        step: float = 0.1,
        temperature: float = 1.0,
        final_temperature: float = 1e-3,
        schedule="geometric",
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
        where = "SimulatedAnnealing"
        check_positive(where, "step", step)
        check_positive(where, "temperature", temperature)
        check_positive(where, "final_temperature", final_temperature)
        if not (callable(schedule) or schedule in _SCHEDULES):
            raise ConfigError(
                f"{where}: schedule must be 'geometric', 'linear' or a function of the "
                f"share of the budget used; got {schedule!r}."
            )
        self.step, self.schedule = float(step), schedule
        self.temperature, self.final_temperature = (
            float(temperature),
            float(final_temperature),
        )

    def _settings(self) -> str:
        kind = self.schedule if isinstance(self.schedule, str) else "function"
        return (
            f"step={self.step:g}, temperature={self.temperature:g}->"
            f"{self.final_temperature:g} {kind}"
        )

    def temperature_at(self, share: float) -> float:
        """The temperature once ``share`` (0 to 1) of the budget is used."""
        t0, t1 = self.temperature, self.final_temperature
        if self.schedule == "geometric":
            return t0 * (t1 / t0) ** share
        if self.schedule == "linear":
            return t0 + (t1 - t0) * share
        t = self.schedule(share)
        if (
            isinstance(t, bool)
            or not isinstance(t, (int, float))
            or not t > 0
            or not math.isfinite(t)
        ):
            raise ConfigError(
                f"SimulatedAnnealing: the schedule returned {t!r} at share "
                f"{share:.3g}; "
                "it must return a positive finite temperature."
            )
        return float(t)

    def _search(self, problem: Problem, rng) -> str:
        x = problem.start_point(rng)
        f = problem.loss(x)
        problem.accept(x, f)
        while True:
            t = self.temperature_at(problem.evaluations / self.budget)
            trial = problem.clip(x + self.step * rng.standard_normal(problem.n))
            f_trial = problem.loss(trial)
            uphill = f_trial - f
            if uphill <= 0 or (
                uphill / t < 700 and rng.random() < math.exp(-uphill / t)
            ):
                x, f = trial, f_trial
                problem.accept(x, f)


class GeneticAlgorithm(FreeOptimizer):
    """Breed a population: the fitter parents have children, children mutate.

    A generation is ``population`` points. The first is the start (when
    given) and random points: uniform in the bounds, else
    ``start + init_scale * N(0, I)``. Each next generation keeps the
    ``elite`` best unchanged (elitism: the best never gets lost, and is not
    evaluated again) and fills the rest with children. For each child two
    parents are selected -- by *tournament* (the best of ``tournament_size``
    drawn at random) or by *rank* (chance proportional to ``population -
    rank``) -- and, with probability ``crossover_rate``, crossed: *blend*
    (each gene a random mix ``a + u (b - a)``, ``u ~ U(-0.25, 1.25)``, which
    can land a little beyond either parent) or *uniform* (each gene copied
    from one parent or the other); otherwise the child copies its first
    parent. Then each gene mutates with probability ``mutation_rate`` by
    ``mutation_scale * N(0, 1)``. The path holds each generation's best.

    Holland (1975), *Adaptation in Natural and Artificial Systems*; blend
    crossover after Eshelman & Schaffer (1993), BLX-alpha with alpha = 0.25.

    Parameters
    ----------
    population : int, default 50
        Points per generation, at least 2.
    elite : int, default 2
        Best points copied unchanged into the next generation, fewer than
        ``population``.
    selection : 'tournament' or 'rank', default 'tournament'
    tournament_size : int, default 3
        Points per tournament, 1 (random parents) to ``population``.
    crossover : 'blend' or 'uniform', default 'blend'
    crossover_rate : float in [0, 1], default 0.9
    mutation_rate : float in [0, 1], optional
        Chance that a gene mutates; default 1 / n (one gene per child on
        average).
    mutation_scale : float, default 0.1
        Spread of a mutation, in the units of the coordinates.
    init_scale : float, default 1.0
        Spread of the first generation around the start, without bounds.
    budget, seed, target_loss, target_metric
        See :class:`FreeOptimizer`. The budget must cover the first
        generation.

    Examples
    --------
    >>> from glassnet.optim.free import GeneticAlgorithm
    >>> ga = GeneticAlgorithm(population=20, budget=3000, seed=0, target_loss=0.01)
    >>> r = ga.minimize(lambda x: ((x - 3) ** 2).sum(), bounds=([-10, -10], [10, 10]))
    >>> r.stop_reason, r.loss <= 0.01
    ('target_loss', True)
    """

    def __init__(
        self,
        *,
        population: int = 50,
        elite: int = 2,
        selection="tournament",
        tournament_size: int = 3,
        crossover="blend",
        crossover_rate: float = 0.9,
        mutation_rate=None,
        mutation_scale: float = 0.1,
        init_scale: float = 1.0,
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
        where = "GeneticAlgorithm"
        check_positive(where, "population", population, integer=True)
        if population < 2:
            raise ConfigError(
                f"{where}: population must be at least 2 to have parents to "
                f"choose between; got {population}."
            )
        if population > budget:
            raise ConfigError(
                f"{where}: a population of {population} needs {population} evaluations "
                f"for its first generation, but budget={budget}. Raise the budget or "
                "shrink the population."
            )
        if (
            isinstance(elite, bool)
            or not isinstance(elite, (int, np.integer))
            or not 0 <= elite < population
        ):
            raise ConfigError(
                f"{where}: elite must be an integer from 0 to population - 1 "
                f"= {population - 1}; got {elite!r}."
            )
        if selection not in ("tournament", "rank"):
            raise ConfigError(
                f"{where}: selection must be 'tournament' or 'rank'; got {selection!r}."
            )
        check_positive(where, "tournament_size", tournament_size, integer=True)
        if tournament_size > population:
            raise ConfigError(
                f"{where}: tournament_size must be at most the population "
                f"({population}); got {tournament_size}."
            )
        if crossover not in ("blend", "uniform"):
            raise ConfigError(
                f"{where}: crossover must be 'blend' or 'uniform'; got {crossover!r}."
            )
        check_number(where, "crossover_rate", crossover_rate, 0, 1)
        if mutation_rate is not None:
            check_number(where, "mutation_rate", mutation_rate, 0, 1)
        check_positive(where, "mutation_scale", mutation_scale)
        check_positive(where, "init_scale", init_scale)
        self.population, self.elite = int(population), int(elite)
        self.selection, self.tournament_size = selection, int(tournament_size)
        self.crossover, self.crossover_rate = crossover, float(crossover_rate)
        self.mutation_rate = None if mutation_rate is None else float(mutation_rate)
        self.mutation_scale, self.init_scale = float(mutation_scale), float(init_scale)

    def _settings(self) -> str:
        return (
            f"population={self.population}, elite={self.elite}, {self.selection}, "
            f"{self.crossover}, mutation_scale={self.mutation_scale:g}"
        )

    def _first_generation(self, problem: Problem, rng) -> np.ndarray:
        size, n = self.population, problem.n
        if problem.bounded:
            pop = rng.uniform(problem.low, problem.high, size=(size, n))
        else:
            pop = problem.start + self.init_scale * rng.standard_normal((size, n))
        if problem.start is not None:
            pop[0] = problem.start
        return pop

    def _search(self, problem: Problem, rng) -> str:
        size, n = self.population, problem.n
        rate = 1.0 / n if self.mutation_rate is None else self.mutation_rate
        rank_odds = np.arange(size, 0, -1, dtype=np.float64)
        rank_odds /= rank_odds.sum()

        def select() -> int:  # the population is sorted best first
            if self.selection == "rank":
                return int(rng.choice(size, p=rank_odds))
            return int(rng.integers(0, size, self.tournament_size).min())

        pop = self._first_generation(problem, rng)
        losses = np.array([problem.loss(x) for x in pop])
        while True:
            order = np.argsort(losses, kind="stable")
            pop, losses = pop[order], losses[order]
            problem.accept(pop[0], float(losses[0]))
            children, child_losses = pop.copy(), losses.copy()
            for k in range(self.elite, size):
                a, b = pop[select()], pop[select()]
                if rng.random() < self.crossover_rate:
                    if self.crossover == "blend":
                        child = a + rng.uniform(-0.25, 1.25, n) * (b - a)
                    else:
                        child = np.where(rng.random(n) < 0.5, a, b)
                else:
                    child = a.copy()
                genes = rng.random(n) < rate
                child[genes] += self.mutation_scale * rng.standard_normal(
                    int(genes.sum())
                )
                children[k] = problem.clip(child)
                child_losses[k] = problem.loss(children[k])
            pop, losses = children, child_losses
