"""glassnet: neural networks you can see inside.

A readable reverse-mode autograd engine on NumPy, with the layers, losses
and optimizers of the classic explainers, and tools to look at every weight,
activation and gradient.
"""

from .tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor  # noqa: I001  (first: ops need it)
from . import ops
from .errors import (
    ConfigError, DataError, DivergedError, DTypeError, FormatError, GlassnetError,
    GradcheckError, GraphError, ShapeError,
)
from .inspect.gradcheck import gradcheck
from . import data, datasets, losses, metrics, nn, optim, train
from .train import evaluate, fit, predict, predict_classes
from . import io
from .io import load, save
from .inspect.receptive import receptive_field, receptive_fields
from .inspect.trace import trace

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "gradcheck", "ops",
    "trace", "receptive_field", "receptive_fields",
    "nn", "losses", "optim", "metrics", "data", "datasets", "train",
    "fit", "evaluate", "predict", "predict_classes", "io", "save", "load",
    "GlassnetError", "ShapeError", "DTypeError", "ConfigError", "DataError",
    "GraphError", "GradcheckError", "DivergedError", "FormatError",
]
