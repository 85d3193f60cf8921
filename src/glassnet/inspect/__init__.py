"""Looking inside: gradient checks, summary tables, traces and receptive fields.

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


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'glassnet.inspect' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
