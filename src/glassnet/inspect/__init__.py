"""Looking inside: gradient checks, summary tables, traces, receptive fields, and the
function a training step replays.

``gradcheck`` loads with the package; the rest load on first use, so
``import glassnet`` stays quick.
"""

from .gradcheck import gradcheck  # noqa: F401

# trace() and summary() are glassnet.trace and Module.summary; their modules keep
# the names glassnet.inspect.trace and glassnet.inspect.summary.
_LAZY = {
    "ReceptiveField": "receptive",
    "receptive_field": "receptive",
    "receptive_fields": "receptive",
    "Summary": "summary",
    "LayerTrace": "trace",
    "Trace": "trace",
}


def replay_source(model, shape, dtype="float32"):
    """The Python function a Sequential's training calls run for inputs of
    ``shape`` (its kernel calls, written down from one eager step, see
    "The loop you write" in docs/training.md), as source text; None until the
    second training call with that shape has recorded it, or for a model it
    does not replay.

    >>> import numpy as np, glassnet as gn
    >>> model = gn.nn.Sequential(gn.nn.Dense(3, 2), gn.nn.Sigmoid(), seed=0)
    >>> x = np.ones((4, 3), np.float32)
    >>> _ = model(x), model(x)
    >>> source = gn.inspect.replay_source(model, x.shape)
    >>> print(next(line for line in source.splitlines() if "# linear" in line))
        v0 = k0(x, d0, d1)  # linear
    """
    from .._replay import replay_source as source

    return source(model, shape, dtype)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'glassnet.inspect' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
