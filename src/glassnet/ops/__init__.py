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
    cos,
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
    sin,
    sqrt,
    step,
    sub,
    tanh,
    where,
)
from .conv import conv1d, conv2d  # noqa: F401
from .linalg import attention, einsum, linear, matmul  # noqa: F401
from .pool import avg_pool2d, max_pool2d  # noqa: F401
from .recurrent import embedding, lstm, rnn  # noqa: F401
from .reduce import (  # noqa: F401
    argmax,
    argmin,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    prod,
    softmax,
    std,
    sum,
    var,
)
from .shape import (  # noqa: F401
    concatenate,
    flip,
    gather,
    getitem,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from .loss import binary_cross_entropy, cross_entropy  # noqa: F401
from .dropout import dropout  # noqa: F401
from .norm import batch_norm, layer_norm  # noqa: F401
