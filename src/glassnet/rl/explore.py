"""Exploration: how often an agent tries a random action instead of its best guess.

An agent that always takes the action it currently thinks best never finds
out that another one was better. Epsilon-greedy fixes that with one number:
with probability ε act at random, otherwise take the action with the highest
Q-value. ε usually starts at 1 (all random: nothing is known yet) and falls
as the agent learns (:class:`LinearDecay`).
"""

from __future__ import annotations

import numpy as np

from .._validate import check_number, check_positive

__all__ = ["LinearDecay", "as_schedule", "epsilon_greedy", "greedy"]


class LinearDecay:
    """A value that falls in a straight line from ``start`` to ``end`` over ``steps``.

    ``value(t) = start + (end − start) · min(t / steps, 1)``: after ``steps``
    calls it stays at ``end``. Used for ε, as in DQN (1.0 down to 0.1 over the
    first million frames in Mnih et al. 2015).

    >>> eps = LinearDecay(1.0, 0.1, steps=100)
    >>> eps(0), eps(50), eps(100), eps(10_000)
    (1.0, 0.55, 0.1, 0.1)
    """

    def __init__(self, start: float, end: float, steps: int):
        self.start = check_number("LinearDecay", "start", start, 0.0, 1.0)
        self.end = check_number("LinearDecay", "end", end, 0.0, 1.0)
        check_positive("LinearDecay", "steps", steps, integer=True)
        self.steps = int(steps)

    def __call__(self, t: int) -> float:
        if t >= self.steps:
            return self.end
        return self.start + (self.end - self.start) * (t / self.steps)

    def __repr__(self) -> str:
        return f"LinearDecay({self.start:g} → {self.end:g} over {self.steps} steps)"


class _Constant:
    def __init__(self, value: float):
        self.value = check_number("epsilon", "epsilon", value, 0.0, 1.0)

    def __call__(self, t: int) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"{self.value:g}"


def as_schedule(epsilon):
    """A number in [0, 1] (kept constant) or a callable ``step -> ε``, as a callable."""
    return epsilon if callable(epsilon) else _Constant(epsilon)


def epsilon_greedy(
    q_values: np.ndarray, epsilon: float, rng: np.random.Generator
) -> int:
    """One action: random with probability ``epsilon``, else the best by ``q_values``.

    Ties between equally good actions are broken at random, so an agent
    whose values are all still 0 does not always press the first button.
    Draws one uniform number for the coin, and one more for the random
    action or the tie (none when the best action is unique).
    """
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    return greedy(q_values, rng)


def greedy(q_values: np.ndarray, rng: np.random.Generator) -> int:
    """The action with the largest Q-value; a tie is broken at random by ``rng``."""
    best = np.flatnonzero(q_values == q_values.max())
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))
