"""Environments: the world an agent acts in, with Gymnasium's calling convention.

Reinforcement learning learns from outcomes: the agent sees a configuration
(an *observation*), picks an *action*, and the world answers with the next
observation and a *reward* (seed 004: "when I see this and I do this,
something good happens, or something bad, or something neutral"). An
environment here is any object with Gymnasium's five-value API::

    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)

plus ``observation_space`` and ``action_space`` attributes. ``terminated``
means the episode reached a true end (the ball was caught or missed; the pole
fell), after which the future is worth nothing; ``truncated`` means it was
cut off by a time limit, after which the future still counts. Gymnasium's
environments (``gymnasium.make("CartPole-v1")``, ``pip install
'glassnet[rl]'``) satisfy this unchanged; glassnet's own games
(:mod:`glassnet.rl.games`) need only NumPy and describe their spaces with the
two small classes below, which mirror Gymnasium's ``Discrete`` and ``Box``.

:class:`Checked` wraps any such environment and checks every answer it
gives, so a wrong observation shape, a NaN reward or an invalid action is
reported where it happens, naming what was expected and what arrived.
"""

from __future__ import annotations

import numbers
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._validate import check_positive, shape_str
from ..errors import ConfigError, DataError, ShapeError

__all__ = ["Box", "Checked", "Discrete", "Env", "n_actions"]


@runtime_checkable
class Env(Protocol):
    """What glassnet's agents need from an environment (Gymnasium's API).

    Attributes ``observation_space`` (with ``shape``, or ``n`` for a
    numbered state) and ``action_space`` (with ``n``: actions are the
    integers ``0 .. n-1``).
    """

    observation_space: Any
    action_space: Any

    def reset(self, *, seed=None, options=None) -> tuple:
        """Start an episode: ``(observation, info)``."""

    def step(self, action) -> tuple:
        """Act once: ``(observation, reward, terminated, truncated, info)``."""


class Discrete:
    """A choice among ``n`` numbered options, ``0 .. n-1`` (Gymnasium's ``Discrete``).

    >>> Discrete(3)
    Discrete(3)
    >>> Discrete(3).contains(2), Discrete(3).contains(3)
    (True, False)
    """

    def __init__(self, n: int):
        check_positive("Discrete", "n", n, integer=True)
        self.n = int(n)
        self.shape = ()
        self.dtype = np.dtype(np.int64)

    def contains(self, x) -> bool:
        return _is_int(x) and 0 <= int(x) < self.n

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class Box:
    """An array of a fixed shape with values in [low, high] (Gymnasium's ``Box``).

    >>> Box(0.0, 1.0, (1, 10, 10))
    Box(0.0, 1.0, (1, 10, 10), float32)
    """

    def __init__(self, low: float, high: float, shape: tuple, dtype=np.float32):
        self.low, self.high = float(low), float(high)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        inside = (x >= self.low) & (x <= self.high)
        return x.shape == self.shape and bool(inside.all())

    def __repr__(self) -> str:
        return f"Box({self.low}, {self.high}, {self.shape}, {self.dtype})"


def _is_int(x) -> bool:
    if isinstance(x, np.ndarray) and x.shape == ():
        x = x[()]
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def env_name(env) -> str:
    """Gymnasium's id (``CartPole-v1``) when the environment has one, else its class."""
    spec = getattr(env, "spec", None)
    return getattr(spec, "id", None) or type(env).__name__


def n_actions(env, where: str) -> int:
    """The number of actions of ``env``, which must be discrete (``action_space.n``)."""
    space = getattr(env, "action_space", None)
    n = getattr(space, "n", None)
    if n is None or not _is_int(n) or int(n) < 1:
        raise ConfigError(
            f"{where}: needs an environment with a discrete action space (actions "
            f"0 .. n-1, e.g. gymnasium.spaces.Discrete); {env_name(env)} has "
            f"action_space {space!r}."
        )
    return int(n)


class Checked:
    """An environment whose every answer is checked against its declared spaces.

    ``reset`` must return ``(observation, info)`` and ``step`` the five
    values ``(observation, reward, terminated, truncated, info)``. Checked:

    - the action given to ``step`` is an integer in ``0 .. n-1``;
    - each observation has the observation space's shape (for a numbered
      state, ``observation_space.n``, an integer in range) and is finite;
    - the reward is one finite real number;
    - ``terminated`` and ``truncated`` are booleans; ``info`` is a dict.

    Anything else raises :class:`~glassnet.errors.ShapeError` (shapes) or
    :class:`~glassnet.errors.DataError` (values), naming the environment,
    what was expected and what arrived. Observations are returned as NumPy
    arrays (an ``int`` for a numbered state), rewards as ``float``.

    >>> from glassnet.rl.games import Catch
    >>> env = Checked(Catch())
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    (1, 10, 10)
    >>> env.step(7)
    Traceback (most recent call last):
    ...
    glassnet.errors.DataError: Catch.step: expected an action in 0 .. 2 ...
    """

    def __init__(self, env):
        if isinstance(env, Checked):
            env = env.env
        for name in ("reset", "step", "observation_space", "action_space"):
            if not hasattr(env, name):
                raise ConfigError(
                    f"{type(env).__name__} is not an environment: it has no "
                    f"'{name}'. An environment needs reset(seed=) -> (obs, info), "
                    "step(action) -> (obs, reward, terminated, truncated, info), "
                    "observation_space and action_space (Gymnasium's API)."
                )
        self.env = env
        self.name = env_name(env)
        self.n_actions = n_actions(env, self.name)
        space = env.observation_space
        n = getattr(space, "n", None)
        self.n_states = int(n) if n is not None and _is_int(n) else None
        shape = () if self.n_states else getattr(space, "shape", ())
        self.obs_shape = tuple(shape or ())
        if self.n_states is None and not self.obs_shape:
            raise ConfigError(
                f"{self.name}: observation_space {space!r} has neither a shape nor a "
                "number of states n."
            )

    @property
    def observation_space(self):
        return self.env.observation_space

    @property
    def action_space(self):
        return self.env.action_space

    def __getattr__(self, name):  # render(), spec, ... of the wrapped environment
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def reset(self, *, seed=None, options=None):
        out = self.env.reset(seed=seed, options=options)
        if not isinstance(out, tuple) or len(out) != 2:
            raise DataError(
                f"{self.name}.reset: expected (observation, info); got "
                f"{_describe(out)}. Gymnasium's API returns both; an old-Gym "
                "environment returning only the observation needs updating."
            )
        obs, info = out
        self._check_info("reset", info)
        return self._observation("reset", obs), info

    def step(self, action):
        if not _is_int(action) or not 0 <= int(action) < self.n_actions:
            raise DataError(
                f"{self.name}.step: expected an action in 0 .. {self.n_actions - 1} "
                f"(an integer); got {action!r}."
            )
        out = self.env.step(int(action))
        if not isinstance(out, tuple) or len(out) != 5:
            hint = (
                " That is the old Gym API (obs, reward, done, info); glassnet "
                "follows Gymnasium's, which splits done into terminated and "
                "truncated."
                if isinstance(out, tuple) and len(out) == 4
                else ""
            )
            raise DataError(
                f"{self.name}.step: expected (observation, reward, terminated, "
                f"truncated, info); got {_describe(out)}.{hint}"
            )
        obs, reward, terminated, truncated, info = out
        obs = self._observation("step", obs)
        if isinstance(reward, np.ndarray) and reward.shape == ():
            reward = reward[()]
        if isinstance(reward, (bool, np.bool_)) or not isinstance(reward, numbers.Real):
            raise DataError(
                f"{self.name}.step: expected the reward to be one real number; got "
                f"{_describe(reward)}."
            )
        if not np.isfinite(reward):
            raise DataError(
                f"{self.name}.step: expected a finite reward; got {reward} after "
                f"action {int(action)}."
            )
        for flag, value in (("terminated", terminated), ("truncated", truncated)):
            if not isinstance(value, (bool, np.bool_)):
                raise DataError(
                    f"{self.name}.step: expected {flag} to be True or False; got "
                    f"{_describe(value)}."
                )
        self._check_info("step", info)
        return obs, float(reward), bool(terminated), bool(truncated), info

    def _observation(self, where, obs):
        if self.n_states is not None:
            if not _is_int(obs) or not 0 <= int(obs) < self.n_states:
                raise DataError(
                    f"{self.name}.{where}: expected an observation in 0 .. "
                    f"{self.n_states - 1} (a state number); got {_describe(obs)}."
                )
            return int(obs)
        arr = np.asarray(obs)
        if arr.shape != self.obs_shape:
            raise ShapeError(
                f"{self.name}.{where}: expected an observation of shape "
                f"{shape_str(self.obs_shape)} (its observation_space); got "
                f"{_describe(obs)}."
            )
        if arr.dtype.kind not in "biuf":
            raise DataError(
                f"{self.name}.{where}: expected a numeric observation; got dtype "
                f"{arr.dtype}."
            )
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise DataError(
                f"{self.name}.{where}: expected a finite observation; got "
                f"{int((~np.isfinite(arr)).sum())} NaN or infinite value(s)."
            )
        return arr

    def _check_info(self, where, info):
        if not isinstance(info, dict):
            raise DataError(
                f"{self.name}.{where}: expected info to be a dict; got "
                f"{_describe(info)}."
            )

    def __repr__(self) -> str:
        return f"Checked({self.name})"


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {shape_str(x.shape)} ({x.dtype})"
    if isinstance(x, tuple):
        return f"a tuple of {len(x)}"
    if isinstance(x, (list, float, int, bool, np.generic)) or x is None:
        return f"{x!r} ({type(x).__name__})"
    return type(x).__name__
