"""Every error glassnet raises on purpose, in one place.

All of them derive from :class:`GlassnetError`, so ``except GlassnetError``
catches anything the library reports about your input, and each also derives
from the built-in exception a Python user would expect (``ValueError`` for a
bad shape, ``TypeError`` for a bad dtype ...), so existing handlers still work.
"""

from __future__ import annotations


class GlassnetError(Exception):
    """Base class of every error raised by glassnet itself."""


class ShapeError(GlassnetError, ValueError):
    """An array arrived with a shape the operation or layer cannot use."""


class DTypeError(GlassnetError, TypeError):
    """An array arrived with a dtype the operation or layer cannot use."""


class ConfigError(GlassnetError, ValueError):
    """A setting (learning rate, layer size, file key ...) is out of range."""


class DataError(GlassnetError, ValueError):
    """Training or evaluation data is unusable (NaN, wrong labels, lengths)."""


class GraphError(GlassnetError, RuntimeError):
    """The autograd graph was used in a way it cannot support."""


class GradcheckError(GlassnetError, AssertionError):
    """Backpropagated gradients disagree with finite differences."""


class DivergedError(GlassnetError, FloatingPointError):
    """Training produced NaN or infinity."""


class FormatError(GlassnetError, ValueError):
    """A model or checkpoint file is malformed, unknown or unsafe."""


class UntrainedModelWarning(UserWarning):
    """predict or evaluate was asked of a model never trained, loaded or marked
    (see :meth:`glassnet.nn.Module.mark_trained`)."""
