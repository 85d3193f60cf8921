"""Optimizers: the rules that turn gradients into better weights.

Gradient optimizers (:mod:`.gradient`) move every weight a little way
against its gradient: :class:`SGD` (with momentum and Nesterov momentum),
:class:`Adam` and :class:`AdamW` (with ``amsgrad``), :class:`RMSprop`,
:class:`Adagrad`, :class:`NAdam` and :class:`RAdam`; a list of parameter
groups (:func:`decay_groups`) gives groups their own settings. Schedules (:mod:`.schedules`) lower the
learning rate as training goes on, and the clipping functions (:mod:`.clip`)
keep one bad batch from throwing the weights far away.
"""

from .base import Optimizer, decay_groups
from .clip import clip_grad_norm, clip_grad_value
from .gradient import SGD, Adagrad, Adam, AdamW, NAdam, RAdam, RMSprop
from .schedules import (
    CosineLR,
    ExponentialLR,
    LambdaLR,
    LinearWarmup,
    LRSchedule,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)

#: The optimizers by the names ``fit(optimizer=...)`` and run configs take.
BY_NAME = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
           "adagrad": "Adagrad", "nadam": "NAdam", "radam": "RAdam"}  # fmt: skip

__all__ = [
    "BY_NAME",
    "SGD",
    "Adam",
    "AdamW",
    "CosineLR",
    "ExponentialLR",
    "LRSchedule",
    "Optimizer",
    "StepLR",
    "clip_grad_norm",
    "clip_grad_value",
    "Adagrad",
    "NAdam",
    "RAdam",
    "RMSprop",
    "decay_groups",
    "LambdaLR",
    "LinearWarmup",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
]

# Search-based optimizers: they see the loss only through counted evaluations
# (random, grid, nudge, Newton, annealing, genetic); see glassnet.optim.free.
from . import free  # noqa: E402
from .free import (  # noqa: E402
    CoordinateNudge,
    FreeOptimizer,
    GeneticAlgorithm,
    GradientDescent,
    GridSearch,
    Newton,
    RandomSearch,
    SearchResult,
    SimulatedAnnealing,
)

__all__ += [
    "free",
    "FreeOptimizer",
    "SearchResult",
    "RandomSearch",
    "GridSearch",
    "CoordinateNudge",
    "GradientDescent",
    "Newton",
    "SimulatedAnnealing",
    "GeneticAlgorithm",
]
