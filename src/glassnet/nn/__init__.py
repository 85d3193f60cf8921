"""Layers and models: neurons as weighted sums, squashed, stacked into networks."""

from . import init  # noqa: F401
from .activations import Identity, ReLU, Sigmoid, Softmax, Step, Tanh  # noqa: F401
from .conv import Conv1D, Conv2D  # noqa: F401
from .dense import Dense  # noqa: F401
from .embedding import Embedding, OneHot  # noqa: F401
from .flatten import Flatten  # noqa: F401
from .module import Module, Sequential  # noqa: F401
from .pool import AvgPool2D, GlobalAveragePool2D, MaxPool2D  # noqa: F401
from .recurrent import GRU, LSTM, RNN  # noqa: F401
