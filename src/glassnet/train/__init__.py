"""Training: fit / evaluate / predict, the History they return, and callbacks."""

from .capture import CapturedStep, capture_step  # noqa: F401
from .callbacks import Callback, EarlyStopping, Progress, StopOnNaN, TrainState  # noqa: F401
from .checkpoint import Checkpoint  # noqa: F401
from .runlog import RunLog  # noqa: F401
from .history import History  # noqa: F401
from .loop import evaluate, fit, predict, predict_classes  # noqa: F401
