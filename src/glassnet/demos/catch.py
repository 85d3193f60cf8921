"""Catch: a deep Q-network learns a tiny pixel game from the screen alone.

Seed 004's Atari story, small enough for a laptop: DeepMind's network looked
only at the pixels, made random moves, and learned from the outcome which
move leads to good things. Here a ball falls down a 10x10 screen and the
paddle on the bottom row moves left, stays or moves right; catching the
ball gives +1, missing it −1. A small convolutional network reads the screen
and scores each move (its Q-values); DQN (replay buffer, target network,
ε-greedy exploration, Huber loss) teaches it. Before that, a table learns a
maze by tabular Q-learning, the same rule without a network.
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

import numpy as np

DESCRIPTION = "a deep Q-network learns the game Catch from pixels; Q-learning a maze"
DEFAULT_OUT = "glassnet-catch.png"
# With 6000 steps, seeds 0-4 catch from 9, 10, 10, 9 and 10 of the 10 columns
# (docs/rl.md); the demo shows seed 1.
DEMO_SEED = 1


class CatchResult(NamedTuple):
    """What :func:`train_catch` returns."""

    agent: object  # the DQN; agent.model is the CNN
    log: object  # EpisodeLog of training
    seconds: float


def build_model(size: int = 10, seed: int = 0):
    """Conv2D(1 → 8, 3x3) → ReLU → Flatten → Dense(8·8·8 → 32) → ReLU → Dense(→ 3)."""
    from ..nn import Conv2D, Dense, Flatten, ReLU, Sequential

    side = size - 2
    return Sequential(
        Conv2D(1, 8, 3),
        ReLU(),
        Flatten(),
        Dense(8 * side * side, 32),
        ReLU(),
        Dense(32, 3),
        seed=seed,
    )


def train_catch(steps: int = 6000, seed: int = 0, size: int = 10) -> CatchResult:
    """Train :func:`build_model` by double DQN on ``steps`` steps of :class:`Catch`.

    Batches of 16 keep every matrix product below the size at which OpenBLAS
    starts a second thread, which on a busy 2-core machine made batches of 64
    take 100 s of CPU instead of 6 (docs/rl.md).
    """
    from ..rl import DQN, Catch, LinearDecay

    agent = DQN(
        build_model(size, seed),
        3,
        lr=1e-3,
        gamma=0.9,
        batch_size=16,
        buffer_size=5000,
        learning_starts=200,
        target_update_interval=100,
        exploration=LinearDecay(1.0, 0.05, int(0.4 * steps)),
        double=True,
        seed=seed,
    )
    start = time.perf_counter()
    log = agent.learn(Catch(size), steps, seed=seed)
    return CatchResult(agent, log, time.perf_counter() - start)


def catch_rate(agent, size: int = 10) -> float:
    """The share of catches when the ball starts in each column once, playing greedily.

    With the greedy policy an episode depends only on the starting column,
    so these ``size`` episodes are every game there is: the exact rate.
    """
    from ..rl import Catch

    env, caught = Catch(size), 0
    for column in range(size):
        obs, _ = env.reset(seed=0, options={"column": column})
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
            done = terminated or truncated
        caught += reward > 0
    return caught / size


def play(agent, column: int, size: int = 10) -> tuple:
    """One greedy episode from ``column``: (screens, actions, paddles, reward)."""
    from ..rl import Catch

    env = Catch(size)
    obs, _ = env.reset(seed=0, options={"column": column})
    screens, actions, paddles, done = [obs], [], [env.paddle], False
    while not done:
        actions.append(agent.act(obs))
        obs, reward, terminated, truncated, _ = env.step(actions[-1])
        screens.append(obs)
        paddles.append(env.paddle)
        done = terminated or truncated
    return screens, actions, paddles, reward


def frames_text(screens, actions, paddles, per_row: int = 5) -> str:
    """Screens as text frames side by side, each titled with the move that follows."""
    from ..rl.games import CATCH_ACTIONS, screen_text

    blocks = []
    for i, screen in enumerate(screens):
        title = f"t={i} " + (CATCH_ACTIONS[actions[i]] if i < len(actions) else "end")
        lines = screen_text(screen, paddles[i]).splitlines()
        width = len(lines[0])
        blocks.append([title.ljust(width)] + lines)
    out = []
    for start in range(0, len(blocks), per_row):
        group = blocks[start : start + per_row]
        for row in zip(*group):
            out.append("   ".join(row).rstrip())
        out.append("")
    return "\n".join(out).rstrip()


def train_gridworld(episodes: int = 600, seed: int = 0):
    """Tabular Q-learning on the default :class:`GridWorld`: (env, agent, log).

    Every episode starts in a random cell and half the moves are random
    (ε = 0.5): Q-learning learns the values of the *best* moves whatever
    moves it makes (it is off-policy), so exploring a lot costs nothing here
    and reaches the far corners of the maze sooner.
    """
    from ..rl import GridWorld, QLearning

    env = GridWorld(random_start=True)
    agent = QLearning.for_env(env, lr=0.5, gamma=0.9, epsilon=0.5, seed=seed)
    log = agent.learn(env, episodes, seed=seed)
    return env, agent, log


def optimal_share(env, table, gamma: float) -> float:
    """The share of free cells whose best action by ``table`` is an optimal one."""
    exact = env.optimal_q(gamma)[env.free]
    best = exact.max(axis=1, keepdims=True)
    chosen = np.asarray(table)[env.free].argmax(axis=1)
    optimal = np.abs(exact - best) <= 1e-9
    return float(optimal[np.arange(len(chosen)), chosen].mean())


def draw_figures(result: CatchResult, grid, path: str) -> list:
    """Write the four figures next to ``path``; return their paths."""
    from ..plot import filters
    from ..rl import figures
    from ..rl.games import CATCH_ACTIONS

    stem, ext = os.path.splitext(os.fspath(path))
    ext = ext or ".png"
    paths = [
        f"{stem}{ext}",
        f"{stem}-qvalues{ext}",
        f"{stem}-filters{ext}",
        f"{stem}-gridworld{ext}",
    ]
    agent, log = result.agent, result.log
    figures.returns_curve(
        log,
        window=100,
        path=paths[0],
        title=f"Catch: DQN from pixels, {agent.steps:,} steps "
        f"({len(log.returns):,} games) in {result.seconds:.0f} s",
    )
    screens = play(agent, column=1)[0]
    times = (0, 3, 6, 8)
    shown = np.stack([screens[t] for t in times])
    figures.q_values(
        shown,
        agent.q_values(shown),
        CATCH_ACTIONS,
        path=paths[1],
        labels=[f"step {t}" for t in times],
        title="Q-values of four screens of one game (ball from column 1); "
        "the filled bar is the move taken",
    )
    filters(
        agent.model.layers[0],
        path=paths[2],
        title="the CNN's first layer, learned from screens and outcomes alone",
    )
    env, table = grid
    figures.gridworld(env, table, path=paths[3])
    return paths


def run(args=None, out=print) -> int:
    out(__doc__.strip().splitlines()[0] + "\n")

    env, qagent, qlog = train_gridworld()
    share = optimal_share(env, qagent.table, qagent.gamma)
    out(
        f"1. Q-learning on a {env.height}x{env.width} maze ({len(qlog.returns)} "
        f"episodes, {qagent.steps:,} steps): S start, G +1, X −1, # wall."
    )
    out("   The best move in each cell, read from the table:\n")
    policy = env.policy_text(qagent.policy())
    out("\n".join("   " + line for line in policy.splitlines()))
    exact = env.optimal_q(qagent.gamma).max(axis=1)[env.start]
    out(
        f"\n   {share:.0%} of the cells choose an optimal move (checked against "
        f"value iteration on the maze's rules). Value of S: "
        f"{qagent.values()[env.start]:.4f}, exactly {exact:.4f}.\n"
    )

    out(
        "2. DQN learns Catch from the pixels alone "
        "(10x10 screen; paddle left / stay / right)."
    )
    result = train_catch(seed=DEMO_SEED)
    agent, log = result.agent, result.log
    out("\n".join("   " + line for line in str(agent.model).splitlines()))
    first, last = log.returns[:100], log.returns[-100:]
    out(
        f"   trained {agent.steps:,} steps ({len(log.returns):,} games, "
        f"{agent.updates:,} updates) in {result.seconds:.1f} s"
    )
    out(
        f"   catches while learning: first 100 games {np.mean(first > 0):.0%}, "
        f"last 100 {np.mean(last > 0):.0%} (those still explore)"
    )
    rate = catch_rate(agent)
    out(
        f"   catches playing its best move, ball from each of the 10 columns: "
        f"{rate:.0%}\n"
    )
    screens, actions, paddles, reward = play(agent, column=1)
    out("   one game (o ball, = paddle, @ caught):\n")
    frames = frames_text(screens, actions, paddles)
    out("\n".join(("   " + line).rstrip() for line in frames.splitlines()))
    out(f"\n   {'caught: +1' if reward > 0 else 'missed: −1'}")

    path = getattr(args, "out", None) or DEFAULT_OUT
    try:
        paths = draw_figures(result, (env, qagent.table), path)
    except ImportError:
        out("\nthe figures need matplotlib: pip install 'glassnet[plot]'")
        return 0
    out(
        "\nfigures: return over training, Q-values of four screens, first-layer "
        "filters, the maze's values and moves:"
    )
    for p in paths:
        out(f"  {p}")
    return 0
