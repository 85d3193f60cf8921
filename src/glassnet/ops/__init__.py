"""Ops: each a forward computation and its local derivative, side by side.

Grouped by family: ``elementwise``, ``reduce``, ``shape``, ``linalg`` (and
more families as layers need them). Every public op is also reachable as
``glassnet.ops.<name>``.
"""

from .elementwise import (  # noqa: F401
    abs,
    add,
    astype,
    clip,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    step,
    sub,
    tanh,
    where,
)
from .conv import conv1d, conv2d  # noqa: F401
from .linalg import linear, matmul  # noqa: F401
from .pool import avg_pool2d, max_pool2d  # noqa: F401
from .recurrent import embedding, lstm, rnn  # noqa: F401
from .reduce import log_softmax, max, mean, min, softmax, sum  # noqa: F401
from .shape import concatenate, getitem, permute, reshape, split, stack, transpose  # noqa: F401
from .loss import binary_cross_entropy, cross_entropy  # noqa: F401
from .dropout import dropout  # noqa: F401
