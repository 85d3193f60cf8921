"""Looking inside: gradient checks (and, as they land, summary, trace, receptive fields)."""

from .gradcheck import gradcheck  # noqa: F401
