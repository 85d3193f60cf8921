"""Tabular Q-learning: a table with one row per state and one column per action.

``Q[s, a]`` is the agent's guess of the total discounted reward it will get
if, in state ``s``, it takes action ``a`` and plays as well as it can after.
Every step of experience (s, a, r, s') nudges one entry towards what just
happened (Watkins 1989)::

    target   = r + γ · max_a' Q[s', a']     (just r when the episode ended)
    Q[s, a] += α · (target − Q[s, a])

The best action in a state is the column with the largest value. The deep
Q-network (:mod:`glassnet.rl.dqn`) is this same rule with the table replaced
by a neural network, for when there are too many states to list.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_number, check_positive, make_rng
from ..errors import ConfigError
from .env import Checked
from .explore import as_schedule, epsilon_greedy

__all__ = ["EpisodeLog", "QLearning"]


class EpisodeLog(dict):
    """What ``learn`` records per episode: NumPy arrays under these keys.

    ``returns`` (the sum of rewards), ``lengths`` (steps), ``epsilon`` (ε at
    the episode's end), ``steps`` (environment steps taken so far, at its end).
    """

    def __init__(self, returns=(), lengths=(), epsilon=(), steps=()):
        super().__init__(
            returns=np.asarray(returns, float),
            lengths=np.asarray(lengths, int),
            epsilon=np.asarray(epsilon, float),
            steps=np.asarray(steps, int),
        )

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class QLearning:
    """An agent that learns a table of Q-values from experience.

    Parameters
    ----------
    n_states, n_actions : int
        Rows and columns of the table (``observation_space.n`` and
        ``action_space.n``; :meth:`for_env` reads them).
    lr : float in (0, 1]
        α, how far each entry moves towards its target.
    gamma : float in [0, 1)
        γ, the discount: a reward one step later is worth γ times as much.
    epsilon : float in [0, 1] or callable step -> ε
        Exploration (see :mod:`glassnet.rl.explore`).
    seed : int or numpy Generator, optional
        Source of the exploration's coin flips: the same seed (and the same
        environment seed) gives the same table, bit for bit.

    Attributes
    ----------
    table : ndarray (n_states, n_actions), float64, starting at 0
    steps : int, the number of updates so far

    Examples
    --------
    >>> from glassnet.rl import GridWorld, QLearning
    >>> env = GridWorld(random_start=True)
    >>> agent = QLearning.for_env(env, lr=0.5, gamma=0.9, epsilon=0.2, seed=0)
    >>> log = agent.learn(env, episodes=300, seed=0)
    >>> print(env.policy_text(agent.policy()))  # doctest: +SKIP
    → → ↓ ← # → → → G
    ...
    """

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        lr: float = 0.5,
        gamma: float = 0.9,
        epsilon=0.1,
        seed=None,
    ):
        check_positive("QLearning", "n_states", n_states, integer=True)
        check_positive("QLearning", "n_actions", n_actions, integer=True)
        self.lr = check_number("QLearning", "lr", lr, 0.0, 1.0)
        if self.lr == 0:
            raise ConfigError("QLearning: lr must be > 0 (0 never learns); got 0.")
        self.gamma = check_number("QLearning", "gamma", gamma, 0.0, 1.0, high_open=True)
        self.epsilon = as_schedule(epsilon)
        self.rng = make_rng(seed, "QLearning")
        self.table = np.zeros((int(n_states), int(n_actions)))
        self.steps = 0

    @classmethod
    def for_env(cls, env, **kwargs) -> QLearning:
        """A table sized for ``env`` (numbered states, discrete actions)."""
        checked = Checked(env)
        if checked.n_states is None:
            raise ConfigError(
                f"QLearning: a table needs numbered states (observation_space.n); "
                f"{checked.name} has observation_space {env.observation_space!r}. "
                "Use DQN for observations that are arrays."
            )
        return cls(checked.n_states, checked.n_actions, **kwargs)

    def act(self, state: int, epsilon: float = 0.0) -> int:
        """An action for ``state``: ε-greedy on its row (``epsilon=0``: the best)."""
        return epsilon_greedy(self.table[state], epsilon, self.rng)

    def update(
        self, state: int, action: int, reward: float, next_state: int, terminated: bool
    ) -> float:
        """Q[s, a] += α · (r + γ · max Q[s'] − Q[s, a]); returns the TD error.

        After a terminal step (``terminated``) the target is just r; after a
        truncated one (a time limit) the future still counts.
        """
        future = 0.0 if terminated else self.gamma * self.table[next_state].max()
        error = reward + future - self.table[state, action]
        self.table[state, action] += self.lr * error
        self.steps += 1
        return float(error)

    def learn(self, env, episodes: int, seed=None) -> EpisodeLog:
        """Play ``episodes`` episodes of ``env``, updating the table after every step.

        ``seed`` goes to the first ``env.reset(seed=...)``; later episodes
        continue the environment's own random stream (Gymnasium's rule).
        Every answer of the environment is checked (:class:`~.env.Checked`).
        Returns an :class:`EpisodeLog`.
        """
        check_positive("QLearning.learn", "episodes", episodes, integer=True)
        env = Checked(env)
        if env.n_states != len(self.table) or env.n_actions != self.table.shape[1]:
            raise ConfigError(
                f"QLearning.learn: the table is {self.table.shape[0]} states x "
                f"{self.table.shape[1]} actions but {env.name} has "
                f"{env.n_states} states and {env.n_actions} actions."
            )
        returns, lengths, epsilons, steps = [], [], [], []
        for episode in range(episodes):
            state, _ = env.reset(seed=seed if episode == 0 else None)
            total, length, done = 0.0, 0, False
            while not done:
                eps = self.epsilon(self.steps)
                action = self.act(state, eps)
                nxt, reward, terminated, truncated, _ = env.step(action)
                self.update(state, action, reward, nxt, terminated)
                state, total, length = nxt, total + reward, length + 1
                done = terminated or truncated
            returns.append(total)
            lengths.append(length)
            epsilons.append(eps)
            steps.append(self.steps)
        return EpisodeLog(returns, lengths, epsilons, steps)

    def policy(self) -> np.ndarray:
        """The best action of every state, (n_states,) (ties: the first)."""
        return self.table.argmax(axis=1)

    def values(self) -> np.ndarray:
        """V(s) = max_a Q[s, a], (n_states,)."""
        return self.table.max(axis=1)

    def __str__(self) -> str:
        """The table: one line per state that has been updated."""
        n_actions = self.table.shape[1]
        head = "state  " + " ".join(f"{'a' + str(a):>8s}" for a in range(n_actions))
        lines = [head]
        for s, row in enumerate(self.table):
            if row.any():
                lines.append(f"{s:5d}  " + " ".join(f"{v:8.4f}" for v in row))
        return "\n".join(lines)

    def __repr__(self) -> str:
        n_states, n_actions = self.table.shape
        return (
            f"QLearning({n_states} states x {n_actions} actions, lr={self.lr:g}, "
            f"gamma={self.gamma:g}, epsilon={self.epsilon!r})"
        )
