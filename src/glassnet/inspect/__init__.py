"""Looking inside: gradient checks, summary tables, traces and receptive fields."""

from .gradcheck import gradcheck  # noqa: F401
from .receptive import ReceptiveField, receptive_field, receptive_fields  # noqa: F401
from .summary import Summary  # noqa: F401
from .trace import LayerTrace, Trace  # noqa: F401

# trace() and summary() are glassnet.trace and Module.summary; their modules keep
# the names glassnet.inspect.trace and glassnet.inspect.summary.
