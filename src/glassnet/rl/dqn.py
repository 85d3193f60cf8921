"""The deep Q-network: Q-learning with a neural network in place of the table.

Seed 004 tells how DeepMind's DQN learned 49 Atari games from the pixels
alone: it "made random moves ... and then used reinforcement learning to learn
from the outcome". A network reads the observation and outputs one Q-value
per action; acting means taking the largest (or, with probability ε, a
random one). Learning is tabular Q-learning's rule turned into a regression
(Mnih et al. 2015, "Human-level control through deep reinforcement
learning", Nature 518)::

    y        = r + γ · max_a' Q_target(s', a')     (just r when s' ended the game)
    loss     = Huber(Q(s, a) − y), averaged over a batch from the replay buffer

with three devices that keep it stable: the **replay buffer**
(:mod:`.replay`) supplies random batches of old experience; the **target
network** ``Q_target``, a copy of the network refreshed only every so often,
keeps the regression targets from moving at every step; the **Huber loss**
(:class:`glassnet.losses.Huber`) and **gradient clipping**
(:func:`glassnet.optim.clip_grad_norm`) stop one surprising reward from
throwing the weights far away. **Double DQN** (van Hasselt et al. 2016,
``double=True``) picks the next action with the online network and values
it with the target one, ``y = r + γ · Q_target(s', argmax_a' Q(s', a'))``,
which curbs max's habit of overestimating.
"""

from __future__ import annotations

import copy

import numpy as np

from .. import losses as losses_mod
from .._validate import check_number, check_positive, is_count, shape_str
from ..errors import ConfigError, ShapeError
from ..nn.module import Module, as_input
from ..optim import Adam, clip_grad_norm
from ..optim.base import Optimizer
from ..tensor import no_grad
from .env import Checked
from .explore import LinearDecay, as_schedule, greedy
from .qlearning import EpisodeLog
from .replay import ReplayBuffer

__all__ = ["DQN"]


class DQN:
    """A deep Q-network agent around any glassnet model.

    Parameters
    ----------
    q_network : Module
        Maps a batch of observations ``(batch, *obs_shape)`` to Q-values
        ``(batch, n_actions)``: a CNN for pixels, an MLP for a state vector.
        It is trained in place; its initial weights come from its own seed.
    n_actions : int
    optimizer : Optimizer, optional
        Holding ``q_network``'s parameters; default ``Adam(q_network, lr)``.
    lr : float, default 1e-3
        The default optimizer's learning rate.
    gamma : float in [0, 1), default 0.99
        Discount of future rewards.
    batch_size : int, default 32
    buffer_size : int, default 10_000
        Capacity of the replay buffer.
    learning_starts : int, default 1000
        Environment steps of (mostly random) play before the first update.
    train_freq, gradient_steps : int, default 1, 1
        Every ``train_freq`` environment steps, take ``gradient_steps``
        training steps (after ``learning_starts``).
    target_update_interval : int, default 1000
        Every this many environment steps, move the target network towards
        the online one: ``θ_target ← τ·θ + (1 − τ)·θ_target``.
    tau : float in (0, 1], default 1.0
        1.0 is the hard update (a plain copy), as in Mnih et al.; smaller is
        the soft (Polyak) update.
    exploration : float or callable step -> ε, default LinearDecay(1.0, 0.05, 10_000)
    double : bool, default False
        Double DQN targets.
    loss : str or Loss, default "huber"
        Any glassnet loss of (prediction, target); "huber" (δ = 1) or "mse".
    max_grad_norm : float or None, default 10.0
        Clip the overall gradient norm to this before each update; None: off.
    seed : int, default 0
        Seeds exploration and replay sampling (two streams from one
        ``SeedSequence``); :meth:`learn` also seeds the environment. With the
        network's own seed fixed, a run repeats bit for bit.

    Examples
    --------
    >>> from glassnet import nn
    >>> from glassnet.rl import DQN, Catch
    >>> net = nn.Sequential(nn.Flatten(), nn.Dense(100, 32), nn.ReLU(), nn.Dense(32, 3),
    ...                     seed=0)
    >>> agent = DQN(net, 3, learning_starts=100, seed=0)
    >>> log = agent.learn(Catch(), steps=300, seed=0)
    >>> len(log.returns) > 0, agent.steps
    (True, 300)
    """

    def __init__(
        self,
        q_network,
        n_actions: int,
        *,
        optimizer=None,
        lr: float = 1e-3,
        gamma: float = 0.99,
        batch_size: int = 32,
        buffer_size: int = 10_000,
        learning_starts: int = 1000,
        train_freq: int = 1,
        gradient_steps: int = 1,
        target_update_interval: int = 1000,
        tau: float = 1.0,
        exploration=None,
        double: bool = False,
        loss="huber",
        max_grad_norm=10.0,
        seed: int = 0,
    ):
        where = "DQN"
        if not isinstance(q_network, Module):
            raise ConfigError(
                f"{where}: q_network must be a glassnet Module; got "
                f"{type(q_network).__name__}."
            )
        check_positive(where, "n_actions", n_actions, integer=True)
        for name, value in (
            ("batch_size", batch_size),
            ("buffer_size", buffer_size),
            ("train_freq", train_freq),
            ("gradient_steps", gradient_steps),
            ("target_update_interval", target_update_interval),
        ):
            check_positive(where, name, value, integer=True)
        if not is_count(learning_starts):
            raise ConfigError(
                f"{where}: learning_starts must be an integer >= 0; got "
                f"{learning_starts!r}."
            )
        self.model = q_network
        self.n_actions = int(n_actions)
        if optimizer is None:
            optimizer = Adam(q_network, lr=lr)
        elif not isinstance(optimizer, Optimizer):
            raise ConfigError(
                f"{where}: optimizer must be a glassnet Optimizer; got "
                f"{type(optimizer).__name__}."
            )
        self.optimizer = optimizer
        self.gamma = check_number(where, "gamma", gamma, 0.0, 1.0, high_open=True)
        self.tau = check_number(where, "tau", tau, 0.0, 1.0)
        if self.tau == 0:
            raise ConfigError(f"{where}: tau must be > 0 (0 never updates the target).")
        if max_grad_norm is not None:
            check_positive(where, "max_grad_norm", max_grad_norm)
        self.max_grad_norm = max_grad_norm
        self.batch_size, self.buffer_size = int(batch_size), int(buffer_size)
        self.learning_starts = int(learning_starts)
        self.train_freq, self.gradient_steps = int(train_freq), int(gradient_steps)
        self.target_update_interval = int(target_update_interval)
        self.exploration = as_schedule(
            LinearDecay(1.0, 0.05, 10_000) if exploration is None else exploration
        )
        self.double = bool(double)
        self.loss_fn = losses_mod.get(loss)
        if not is_count(seed):
            raise ConfigError(f"{where}: seed must be an int >= 0; got {seed!r}.")
        self.seed = int(seed)
        explore_seq, replay_seq = np.random.SeedSequence(self.seed).spawn(2)
        self.rng = np.random.default_rng(explore_seq)
        self._replay_rng = np.random.default_rng(replay_seq)
        self.target = copy.deepcopy(q_network)
        # Looked up once: walking the model for them on every call took a
        # sixth of the time of a CartPole run (cProfile, docs/rl.md).
        self.dtype = q_network.dtype
        self._params = q_network.parameters()
        self.buffer = None  # made by learn(), when the observation shape is known
        self.steps = 0  # environment steps so far
        self.updates = 0  # training steps so far
        self.history = {key: [] for key in ("returns", "lengths", "epsilon", "steps")}
        self.losses: list = []  # the loss of every training step
        self._rows = np.arange(self.batch_size)

    # --- looking ---------------------------------------------------------------------
    def q_values(self, obs) -> np.ndarray:
        """Q-values of a batch of observations (online network), (batch, actions)."""
        return self._forward(self.model, obs)

    def _forward(self, net, obs) -> np.ndarray:
        with no_grad():
            q = net(as_input(obs, self.dtype, "DQN")).data
        if q.shape != (len(obs), self.n_actions):
            raise ShapeError(
                f"DQN: the Q-network must give one value per action, shape "
                f"{shape_str((len(obs), self.n_actions))} for these observations; got "
                f"{shape_str(q.shape)}."
            )
        return q

    def act(self, obs, epsilon: float = 0.0) -> int:
        """One action for one observation: ε-greedy (``epsilon=0``: the best)."""
        if self.rng.random() < epsilon:  # skip the forward pass when acting at random
            return int(self.rng.integers(self.n_actions))
        return greedy(self.q_values(np.asarray(obs)[None])[0], self.rng)

    # --- learning --------------------------------------------------------------------
    def targets(self, rewards, next_obs, terminated) -> np.ndarray:
        """The regression targets ``y = r + γ·(1 − terminated)·Q_target(s', a*)``.

        ``a*`` is ``argmax Q_target(s')`` (DQN) or ``argmax Q(s')`` with
        ``double=True``. Shapes: (batch,) from (batch,) and (batch, *obs_shape).
        """
        q_next = self._forward(self.target, next_obs)
        if self.double:
            best = self.q_values(next_obs).argmax(axis=1)
            future = q_next[np.arange(len(q_next)), best]
        else:
            future = q_next.max(axis=1)
        keep = (1 - terminated) * self.gamma
        return (rewards + keep * future).astype(q_next.dtype, copy=False)

    def train_step(self) -> float:
        """One update of the online network on a batch from the replay buffer.

        Forward, loss on ``Q(s, a)`` of the actions taken, backward, clip,
        optimizer step. Returns the loss before the update.
        """
        batch = self.buffer.sample(self.batch_size)
        y = self.targets(batch.rewards, batch.next_obs, batch.terminated)
        q = self.model(as_input(batch.obs, self.dtype, "DQN"))
        loss = self.loss_fn(q[self._rows, batch.actions], y)
        self.optimizer.zero_grad()
        loss.backward()
        if self.max_grad_norm is not None:
            clip_grad_norm(self._params, self.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        value = loss.item()
        self.losses.append(value)
        return value

    def update_target(self, tau: float | None = None) -> None:
        """θ_target ← τ·θ + (1 − τ)·θ_target, in place (τ = 1: a copy)."""
        tau = self.tau if tau is None else tau
        for t, p in zip(self.target.parameters(), self._params):
            if tau == 1.0:
                np.copyto(t.data, p.data)
            else:
                t.data *= t.data.dtype.type(1.0 - tau)
                t.data += t.data.dtype.type(tau) * p.data

    def learn(self, env, steps: int, *, seed=None, callback=None) -> EpisodeLog:
        """Play ``steps`` environment steps, learning as it goes.

        Each step: choose an action ε-greedily, play it, store the
        transition; every ``train_freq`` steps (after ``learning_starts``)
        take ``gradient_steps`` training steps; every
        ``target_update_interval`` steps update the target network.
        Truncated episodes (time limits) are stored as not terminated, so
        their future still counts.

        Parameters
        ----------
        env : environment with Gymnasium's API and a discrete action space
            Every answer it gives is checked (:class:`~.env.Checked`).
        steps : int
        seed : int, optional
            Passed to the first ``env.reset(seed=...)``.
        callback : callable(agent) -> bool, optional
            Called at the end of every episode (``agent.history`` holds the
            episodes so far); returning True stops learning.

        Returns
        -------
        EpisodeLog
            All episodes finished so far (also over earlier calls).
        """
        check_positive("DQN.learn", "steps", steps, integer=True)
        env = Checked(env)
        if env.n_actions != self.n_actions:
            raise ConfigError(
                f"DQN.learn: the agent has {self.n_actions} actions but {env.name} "
                f"has {env.n_actions}."
            )
        obs_shape = env.obs_shape
        if self.buffer is None:
            self.buffer = ReplayBuffer(
                self.buffer_size, obs_shape, self.dtype, self._replay_rng
            )
        elif self.buffer.obs_shape != obs_shape:
            raise ShapeError(
                f"DQN.learn: this agent learned from observations of shape "
                f"{shape_str(self.buffer.obs_shape)}; {env.name} gives "
                f"{shape_str(obs_shape)}."
            )
        obs, _ = env.reset(seed=seed)
        self.q_values(np.asarray(obs)[None])  # a network of the wrong shape fails now
        total, length = 0.0, 0
        for _ in range(int(steps)):
            eps = self.exploration(self.steps)
            action = self.act(obs, eps)
            nxt, reward, terminated, truncated, _ = env.step(action)
            self.buffer.add(obs, action, reward, nxt, terminated)
            self.steps += 1
            total, length = total + reward, length + 1
            if self.steps > self.learning_starts and self.steps % self.train_freq == 0:
                for _ in range(self.gradient_steps):
                    self.train_step()
            if self.steps % self.target_update_interval == 0:
                self.update_target()
            if terminated or truncated:
                for key, value in (
                    ("returns", total),
                    ("lengths", length),
                    ("epsilon", eps),
                    ("steps", self.steps),
                ):
                    self.history[key].append(value)
                if callback is not None and callback(self):
                    break
                obs, _ = env.reset()
                total, length = 0.0, 0
            else:
                obs = nxt
        return EpisodeLog(**self.history)

    def evaluate(
        self, env, episodes: int = 10, seed=None, epsilon: float = 0.0
    ) -> np.ndarray:
        """Play ``episodes`` episodes without learning; return their returns.

        ``epsilon=0``: always the best action (Gymnasium's and RL Zoo's
        evaluation). ``seed`` goes to the first reset.
        """
        check_positive("DQN.evaluate", "episodes", episodes, integer=True)
        env = Checked(env)
        returns = np.zeros(int(episodes))
        for e in range(int(episodes)):
            obs, _ = env.reset(seed=seed if e == 0 else None)
            done = False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(self.act(obs, epsilon))
                returns[e] += reward
                done = terminated or truncated
        return returns

    def __repr__(self) -> str:
        kind = "double DQN" if self.double else "DQN"
        return (
            f"{kind}({self.n_actions} actions, gamma={self.gamma:g}, "
            f"batch={self.batch_size}, buffer={self.buffer_size}, "
            f"exploration={self.exploration!r})"
        )
