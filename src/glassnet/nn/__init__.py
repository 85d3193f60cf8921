"""Layers and models: neurons as weighted sums, squashed, stacked into networks."""

from . import init  # noqa: F401
from .activations import (  # noqa: F401
    ELU,
    GELU,
    SELU,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Step,
    Tanh,
)
from .attention import MultiHeadAttention  # noqa: F401
from .conv import Conv1D, Conv2D, ConvTranspose2D  # noqa: F401
from .dense import Dense  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .embedding import Embedding, OneHot  # noqa: F401
from .flatten import Flatten  # noqa: F401
from .module import Module, Sequential  # noqa: F401
from .norm import BatchNorm1D, BatchNorm2D, LayerNorm  # noqa: F401
from .pool import (  # noqa: F401
    AdaptiveAvgPool2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePool2D,
    GlobalMaxPool2D,
    MaxPool1D,
    MaxPool2D,
)
from .recurrent import GRU, LSTM, RNN  # noqa: F401
from .upsample import Upsample  # noqa: F401
