"""Search-based optimizers: find a low loss by asking for its value, and count the asks.

Every method here shares one interface (:class:`FreeOptimizer`):
``Method(budget=..., seed=..., target_loss=..., target_metric=..., **settings)
.minimize(objective, start, bounds=..., metric=...)`` returns a
:class:`SearchResult` with the best point, its loss, the evaluations used,
the path taken and why it stopped. The objective is a function of a vector,
or of a model whose parameters are searched as one flat vector.

* :class:`RandomSearch` -- guess at random, keep the best guess (seed 001's
  shot in the dark). Needs bounds or a start.
* :class:`GridSearch` -- try every point of a grid: exhaustive exploration,
  travel on foot. Needs bounds.
* :class:`CoordinateNudge` -- one weight at a time, a little up or down, keep
  the better (seed 003). Starts at ``start``, or anywhere in the bounds.
* :class:`GradientDescent` -- roll downhill along the slope (the race car);
  the baseline, under the same bookkeeping. Starts like the nudge.
* :class:`Newton` -- slope and curvature: step to the bottom of the local
  bowl, or downhill where there is none. Starts like the nudge.
* :class:`SimulatedAnnealing` -- random moves, uphill ones accepted less as
  it cools (the pickup truck). Needs a start or bounds.
* :class:`GeneticAlgorithm` -- a population: selection, crossover, mutation,
  elitism (the pickup truck). Needs a start or bounds.

Example: a model, trained without a single gradient::

    import numpy as np
    from glassnet.nn import Dense, Sequential, Tanh
    from glassnet.optim.free import GeneticAlgorithm

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    model = Sequential(Dense(2, 4), Tanh(), Dense(4, 2), seed=0)

    def loss(m):
        logits = m(X)
        return -logits.log_softmax()[np.arange(4), y].mean()

    def accuracy(m):
        return float((m(X).data.argmax(axis=1) == y).mean())

    result = GeneticAlgorithm(population=40, mutation_scale=0.3, seed=0,
                              target_metric=1.0).minimize(loss, model, metric=accuracy)
    # the model now holds result.x, the best weights found
"""

from .local import CoordinateNudge, GradientDescent, Newton
from .sampling import GridSearch, RandomSearch
from .search import (
    STOP_REASONS,
    FreeOptimizer,
    SearchResult,
    parameter_vector,
    set_parameter_vector,
)
from .stochastic import GeneticAlgorithm, SimulatedAnnealing

__all__ = [
    "FreeOptimizer",
    "SearchResult",
    "STOP_REASONS",
    "parameter_vector",
    "set_parameter_vector",
    "RandomSearch",
    "GridSearch",
    "CoordinateNudge",
    "GradientDescent",
    "Newton",
    "SimulatedAnnealing",
    "GeneticAlgorithm",
]
