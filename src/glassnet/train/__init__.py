"""Training: fit / evaluate / predict, the History they return, and callbacks."""

from .callbacks import (  # noqa: F401
    Callback,
    EarlyStopping,
    Progress,
    StopOnDivergence,
    StopOnNaN,
    TrainState,
)
from .capture import CapturedStep, capture_step  # noqa: F401
from .history import History  # noqa: F401
from .loop import evaluate, fit, predict, predict_classes  # noqa: F401
from .resume import Checkpoint  # noqa: F401
from .runlog import RunLog  # noqa: F401
