"""Learning from outcomes: reinforcement learning with tables and with networks.

Seed 004: DeepMind's deep Q-network "took 49 classic Atari games and let the
algorithm just look at the pixels and make random moves ... and then used
reinforcement learning to learn from the outcome". This package has the
pieces, small and readable:

- :mod:`.env`: Gymnasium's environment API (``reset``/``step``), spaces, and
  :class:`Checked`, which checks every answer an environment gives;
- :mod:`.games`: :class:`Catch` (a ball falls down a 10x10 screen; learned
  from pixels) and :class:`GridWorld` (a maze for a table);
- :mod:`.qlearning`: :class:`QLearning`, a table of Q-values;
- :mod:`.dqn`: :class:`DQN`, any glassnet model as the Q-network, with a
  :class:`ReplayBuffer` (:mod:`.replay`), a target network, ε-greedy
  exploration (:mod:`.explore`), the Huber loss, gradient clipping and
  double DQN.

Gymnasium's environments plug in unchanged (``pip install 'glassnet[rl]'``).
"""

from .dqn import DQN
from .env import Box, Checked, Discrete, Env
from .explore import LinearDecay, epsilon_greedy
from .games import Catch, GridWorld
from .qlearning import EpisodeLog, QLearning
from .replay import Batch, ReplayBuffer

__all__ = [
    "DQN",
    "Batch",
    "Box",
    "Catch",
    "Checked",
    "Discrete",
    "Env",
    "EpisodeLog",
    "GridWorld",
    "LinearDecay",
    "QLearning",
    "ReplayBuffer",
    "epsilon_greedy",
    "make",
]


def make(env_id: str, **kwargs):
    """A Gymnasium environment by id, e.g. ``make("CartPole-v1")``.

    Needs Gymnasium: ``pip install 'glassnet[rl]'``. (Gymnasium's own
    ``gymnasium.make`` is the same; this only names the extra when it is
    missing.)
    """
    try:
        import gymnasium
    except ImportError:
        raise ImportError(
            f"make({env_id!r}) needs Gymnasium: pip install 'glassnet[rl]'"
        ) from None
    return gymnasium.make(env_id, **kwargs)
