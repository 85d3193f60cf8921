"""Experience replay: a memory of past steps that the Q-network learns from in batches.

Consecutive steps of one episode are nearly the same picture, so learning
from them in order would chase the latest few screens. DQN (Mnih et al.
2015) stores every transition (s, a, r, s', terminated) and trains on random
batches drawn from the whole memory, which breaks those correlations and
uses each experience many times.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import check_positive, make_rng, shape_str
from ..errors import ConfigError, ShapeError

__all__ = ["Batch", "ReplayBuffer"]


class Batch(NamedTuple):
    """A sample of transitions; row i of every array is one step."""

    obs: np.ndarray  # (batch, *obs_shape)
    actions: np.ndarray  # (batch,) int64
    rewards: np.ndarray  # (batch,) float32
    next_obs: np.ndarray  # (batch, *obs_shape)
    terminated: np.ndarray  # (batch,) float32: 1.0 where the episode truly ended


class ReplayBuffer:
    """A fixed-size ring of transitions, preallocated, sampled uniformly with a seed.

    Parameters
    ----------
    capacity : int
        How many transitions it holds. When full, each new one overwrites
        the oldest (first in, first out).
    obs_shape : tuple
        The shape of one observation, e.g. (1, 10, 10) or (4,).
    dtype : float dtype, default float32
        How observations are stored (and returned).
    seed : int or numpy Generator, optional
        Source of the sampling: the same seed and the same adds give the same
        batches.

    Memory is allocated once: ``obs`` and ``next_obs`` of shape
    ``(capacity, *obs_shape)``, and ``actions``, ``rewards``, ``terminated``
    of shape ``(capacity,)``.

    Examples
    --------
    >>> buf = ReplayBuffer(3, (2,), seed=0)
    >>> for i in range(4):  # the fourth overwrites the first
    ...     buf.add([i, i], action=i % 2, reward=float(i), next_obs=[i + 1, i + 1],
    ...             terminated=i == 3)
    >>> len(buf), sorted(buf.rewards.tolist())
    (3, [1.0, 2.0, 3.0])
    >>> buf.sample(5).obs.shape
    (5, 2)
    """

    def __init__(self, capacity: int, obs_shape: tuple, dtype=np.float32, seed=None):
        check_positive("ReplayBuffer", "capacity", capacity, integer=True)
        self.capacity = int(capacity)
        self.obs_shape = tuple(int(s) for s in obs_shape)
        self.obs = np.zeros((self.capacity, *self.obs_shape), dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(self.capacity, np.int64)
        self.rewards = np.zeros(self.capacity, np.float32)
        self.terminated = np.zeros(self.capacity, np.float32)
        self.rng = make_rng(seed, "ReplayBuffer")
        self.position = 0  # where the next transition goes
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool) -> None:
        """Store one transition, overwriting the oldest when full."""
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        for name, value in (("obs", obs), ("next_obs", next_obs)):
            if value.shape != self.obs_shape:
                raise ShapeError(
                    f"ReplayBuffer.add: expected {name} of shape "
                    f"{shape_str(self.obs_shape)}; got {shape_str(value.shape)}."
                )
        i = self.position
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminated[i] = bool(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """``batch_size`` transitions drawn uniformly, with replacement.

        Any transition held can be drawn, each with the same chance.

        The arrays are fresh copies: changing them leaves the buffer as it was.
        """
        check_positive("ReplayBuffer.sample", "batch_size", batch_size, integer=True)
        if self.size == 0:
            raise ConfigError("ReplayBuffer.sample: the buffer is empty; add() first.")
        idx = self.rng.integers(0, self.size, size=int(batch_size))
        return Batch(
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.terminated[idx],
        )

    def __repr__(self) -> str:
        return (
            f"ReplayBuffer({self.size}/{self.capacity} transitions, obs "
            f"{shape_str(self.obs_shape)})"
        )
