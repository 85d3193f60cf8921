"""Two small worlds shipped with glassnet: Catch (pixels) and GridWorld (a table).

Both follow Gymnasium's API (:mod:`glassnet.rl.env`) and need only NumPy.

- :class:`Catch` is seed 004's Atari story made small: a ball falls down a
  10x10 screen and a paddle on the bottom row moves left, stays or moves
  right. The agent sees only the pixels.
- :class:`GridWorld` is a maze of numbered cells with a goal and a pit,
  small enough that a table of Q-values, one row per cell, solves it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._validate import check_number, check_positive, make_rng
from ..errors import ConfigError
from .env import Box, Discrete

__all__ = ["CATCH_ACTIONS", "GRID_ACTIONS", "Catch", "GridWorld"]

CATCH_ACTIONS = ("left", "stay", "right")


class Catch:
    """Catch: a ball falls down a ``size`` x ``size`` screen; the paddle must catch it.

    At the start the ball is at a random column of the top row and the
    paddle in the middle of the bottom row. Every step the paddle moves one
    column (action 0 left, 1 stay, 2 right; it stops at the walls) and then
    the ball falls one row. When the ball reaches the bottom row the episode
    ends (``terminated``) with reward +1 if the paddle is under it and −1 if
    not; every other step gives 0. An episode is ``size − 1`` steps, and
    from the middle the paddle can always get there in time.

    Observation: the screen as a float32 array of shape (1, size, size),
    one channel as for a grey image, with 1.0 at the ball and at the paddle
    and 0.0 elsewhere. Pixels only: the agent is never told where the ball is.

    >>> env = Catch()
    >>> obs, info = env.reset(seed=1)
    >>> obs.shape, float(obs.sum())  # one ball pixel, one paddle pixel
    ((1, 10, 10), 2.0)
    >>> total = 0.0
    >>> for _ in range(9):
    ...     obs, reward, terminated, truncated, info = env.step(1)  # always stay
    ...     total += reward
    >>> terminated, total in (1.0, -1.0)
    (True, True)
    """

    metadata: ClassVar[dict] = {"render_modes": ["ansi"]}

    def __init__(self, size: int = 10):
        check_positive("Catch", "size", size, integer=True)
        if size < 3:
            raise ConfigError(f"Catch: size must be at least 3; got {size}.")
        self.size = int(size)
        self.observation_space = Box(0.0, 1.0, (1, self.size, self.size))
        self.action_space = Discrete(3)
        self.np_random = make_rng(None)
        self.ball = self.paddle = None

    def reset(self, *, seed=None, options=None):
        """Start an episode; ``options={"column": c}`` drops the ball from column c."""
        if seed is not None:
            self.np_random = make_rng(seed, "Catch.reset")
        column = int(self.np_random.integers(self.size))
        if options and "column" in options:
            column = options["column"]
            if not isinstance(column, (int, np.integer)) or not 0 <= column < self.size:
                raise ConfigError(
                    f"Catch.reset: options['column'] must be an integer in 0 .. "
                    f"{self.size - 1}; got {column!r}."
                )
        self.ball = [0, int(column)]  # row, column
        self.paddle = self.size // 2
        return self._screen(), {}

    def step(self, action):
        if self.ball is None:
            raise ConfigError("Catch.step: call reset() first.")
        if action not in (0, 1, 2) or isinstance(action, bool):
            raise ConfigError(
                f"Catch.step: expected an action 0 (left), 1 (stay) or 2 (right); "
                f"got {action!r}."
            )
        self.paddle = min(max(self.paddle + int(action) - 1, 0), self.size - 1)
        self.ball[0] += 1
        terminated = self.ball[0] == self.size - 1
        reward = (1.0 if self.ball[1] == self.paddle else -1.0) if terminated else 0.0
        screen = self._screen()
        if terminated:
            self.ball = None
        return screen, reward, terminated, False, {}

    def _screen(self) -> np.ndarray:
        screen = np.zeros((1, self.size, self.size), np.float32)
        screen[0, self.ball[0], self.ball[1]] = 1.0
        screen[0, -1, self.paddle] = 1.0
        return screen

    def render(self) -> str:
        """The screen as text (Gymnasium's ``ansi`` mode): see :func:`screen_text`."""
        if self.ball is None:
            return "(episode over: call reset())"
        return screen_text(self._screen(), self.paddle)


def screen_text(screen, paddle=None) -> str:
    """A Catch screen as text: ``o`` ball, ``=`` paddle, ``@`` caught, ``·`` empty.

    The paddle is the lit pixel of the bottom row. When a missed ball has
    reached the bottom row too, the pixels alone cannot tell which is which:
    give ``paddle``, its column (:class:`Catch` keeps it as ``env.paddle``).

    >>> env = Catch(size=4)
    >>> print(screen_text(env.reset(seed=0)[0]))
    · · · o
    · · · ·
    · · · ·
    · · = ·
    """
    lit = np.asarray(screen).reshape(np.shape(screen)[-2:]) > 0
    caught = lit.sum() == 1  # ball and paddle on one pixel
    rows = []
    for r, row in enumerate(lit):
        cells = []
        for c, on in enumerate(row):
            if not on:
                cells.append("·")
            elif r < len(lit) - 1:
                cells.append("o")
            elif caught:
                cells.append("@")
            else:
                cells.append("=" if paddle is None or c == paddle else "o")
        rows.append(" ".join(cells))
    return "\n".join(rows)


# --- a gridworld for tabular Q-learning --------------------------------------------

GRID_ACTIONS = ("up", "right", "down", "left")
_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
_ARROWS = "↑→↓←"

DEFAULT_LAYOUT = (
    "....#...G",
    ".##.#.#X.",
    ".#..#.#..",
    ".#.##.##.",
    "S........",
)


class GridWorld:
    """A maze of cells: walk from S to the goal G (+1), avoid the pit X (−1).

    The layout is a list of equal-length strings: ``.`` a free cell, ``#`` a
    wall, ``S`` the start, ``G`` the goal, ``X`` the pit. The state is the
    cell's number, ``row · width + column`` (walls have numbers too, never
    visited). Actions: 0 up, 1 right, 2 down, 3 left; a move into a wall or
    off the grid leaves the agent where it is. Reaching G gives +1 and
    reaching X gives −1, and either ends the episode (``terminated``); every
    other step gives ``step_reward`` (0 by default: with a discount below 1
    the shortest way to G is then the best). After ``max_steps`` steps the
    episode is cut off (``truncated``).

    ``random_start=True`` starts each episode in a random free cell instead
    of S, so every cell gets visited (the table learns a move for all).

    Its rules are written once, in :meth:`move`; :meth:`step` plays them and
    :meth:`optimal_q` computes the exact Q-values from them by value iteration.

    >>> env = GridWorld()
    >>> env.reset(seed=0)[0]  # S: row 4, column 0 of a 9-wide grid
    36
    >>> env.step(0)[:4]  # up
    (27, 0.0, False, False)
    """

    def __init__(
        self,
        layout=DEFAULT_LAYOUT,
        step_reward: float = 0.0,
        max_steps: int = 100,
        random_start: bool = False,
    ):
        rows = [str(r) for r in layout]
        if not rows or len({len(r) for r in rows}) != 1 or not rows[0]:
            raise ConfigError(
                "GridWorld: layout must be a non-empty list of strings of equal "
                f"length; got lengths {[len(r) for r in rows]}."
            )
        cells = "".join(rows)
        bad = sorted(set(cells) - set(".#SGX"))
        if bad or cells.count("S") != 1 or "G" not in cells:
            raise ConfigError(
                "GridWorld: layout uses '.', '#', 'S', 'G', 'X', with exactly one S "
                f"and at least one G; got {len(bad)} other character(s) {bad}, "
                f"{cells.count('S')} S and {cells.count('G')} G."
            )
        check_positive("GridWorld", "max_steps", max_steps, integer=True)
        self.layout = tuple(rows)
        self.height, self.width = len(rows), len(rows[0])
        self.cells = np.array([list(r) for r in rows])
        self.step_reward = check_number(
            "GridWorld", "step_reward", step_reward, -np.inf
        )
        self.max_steps = int(max_steps)
        self.random_start = bool(random_start)
        self.start = cells.index("S")
        self.free = [s for s, c in enumerate(cells) if c in ".S"]
        self.observation_space = Discrete(self.height * self.width)
        self.action_space = Discrete(4)
        self.np_random = make_rng(None)
        self.state, self.steps = None, 0

    def kind(self, state: int) -> str:
        """The layout character of cell ``state``."""
        return self.cells.flat[state]

    def move(self, state: int, action: int) -> tuple:
        """The rules: ``(next_state, reward, terminated)`` for ``action`` in ``state``."""
        r, c = divmod(state, self.width)
        dr, dc = _MOVES[action]
        nr, nc = r + dr, c + dc
        if 0 <= nr < self.height and 0 <= nc < self.width and self.cells[nr, nc] != "#":
            r, c = nr, nc
        nxt = r * self.width + c
        kind = self.cells[r, c]
        if kind == "G":
            return nxt, 1.0, True
        if kind == "X":
            return nxt, -1.0, True
        return nxt, self.step_reward, False

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.np_random = make_rng(seed, "GridWorld.reset")
        self.state = (
            int(self.np_random.choice(self.free)) if self.random_start else self.start
        )
        self.steps = 0
        return self.state, {}

    def step(self, action):
        if self.state is None:
            raise ConfigError("GridWorld.step: call reset() first.")
        if action not in (0, 1, 2, 3) or isinstance(action, bool):
            raise ConfigError(
                f"GridWorld.step: expected an action 0 (up), 1 (right), 2 (down) or "
                f"3 (left); got {action!r}."
            )
        self.state, reward, terminated = self.move(self.state, int(action))
        self.steps += 1
        truncated = not terminated and self.steps >= self.max_steps
        state = self.state
        if terminated or truncated:
            self.state = None
        return state, reward, terminated, truncated, {}

    def optimal_q(self, gamma: float, tol: float = 1e-12) -> np.ndarray:
        """The exact Q-values, (n_states, 4), by value iteration on :meth:`move`.

        ``Q(s, a) = r + γ · max_a' Q(s', a')`` (no future after a terminal
        move), repeated until nothing changes by more than ``tol``. Rows of
        walls, the goal and the pit stay 0 (never acted in).
        """
        gamma = check_number(
            "GridWorld.optimal_q", "gamma", gamma, 0.0, 1.0, high_open=True
        )
        q = np.zeros((self.height * self.width, 4))
        rules = [(s, a, *self.move(s, a)) for s in self.free for a in range(4)]
        while True:
            v = q.max(axis=1)
            new = q.copy()
            for s, a, nxt, reward, terminated in rules:
                new[s, a] = reward + (0.0 if terminated else gamma * v[nxt])
            if np.abs(new - q).max() <= tol:
                return new
            q = new

    def policy_text(self, policy) -> str:
        """The layout with an arrow (↑ → ↓ ←) for the action ``policy[state]`` in each
        free cell; walls ``#``, goal ``G``, pit ``X``."""
        policy = np.asarray(policy)
        lines = []
        for r in range(self.height):
            row = []
            for c in range(self.width):
                s = r * self.width + c
                row.append(
                    _ARROWS[int(policy[s])] if s in self.free else self.cells[r, c]
                )
            lines.append(" ".join(row))
        return "\n".join(lines)
