"""glassnet: neural networks you can see inside.

A readable reverse-mode autograd engine on NumPy, with the layers, losses
and optimizers of the classic explainers, and tools to look at every weight,
activation and gradient.
"""

from .tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor  # noqa: I001  (first: ops need it)
from . import ops
from .errors import (
    ConfigError,
    DataError,
    DivergedError,
    DTypeError,
    FormatError,
    GlassnetError,
    GradcheckError,
    GraphError,
    ShapeError,
    UntrainedModelWarning,
)
from .inspect.gradcheck import gradcheck
from . import _malloc

# Training steps free and remake arrays of megabytes; on glibc, keep their
# memory in the process instead of page-faulting it back every step
# (see glassnet/_malloc.py for the measurements; GLASSNET_MALLOC=0: off).
_malloc.tune()

# Everything else loads on first use (PEP 562), so `import glassnet` costs only
# the engine; `glassnet.fit`, `from glassnet import nn` etc. work as usual.
_SUBMODULES = {
    "data",
    "datasets",
    "inspect",
    "io",
    "landscapes",
    "losses",
    "metrics",
    "nn",
    "optim",
    "plot",
    "sequence",
    "tour",
    "train",
}
_SUBMODULES |= {"baselines", "sklearn"}  # need the sklearn extra
_NAMES = {
    "fit": "train",
    "evaluate": "train",
    "predict": "train",
    "predict_classes": "train",
    "save": "io",
    "load": "io",
    "trace": "inspect.trace",
    "receptive_field": "inspect.receptive",
    "receptive_fields": "inspect.receptive",
    "export_onnx": "io.onnx",
    "import_onnx": "io.onnx",
}


def __getattr__(name):
    import importlib

    if name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'glassnet' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | set(_NAMES))


__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "gradcheck",
    "ops",
    "trace",
    "receptive_field",
    "receptive_fields",
    "nn",
    "losses",
    "optim",
    "metrics",
    "data",
    "datasets",
    "train",
    "fit",
    "evaluate",
    "predict",
    "predict_classes",
    "io",
    "save",
    "load",
    "GlassnetError",
    "ShapeError",
    "DTypeError",
    "ConfigError",
    "DataError",
    "GraphError",
    "GradcheckError",
    "DivergedError",
    "FormatError",
    "UntrainedModelWarning",
    "export_onnx",
    "import_onnx",
]
