"""Faster twins of the kernels' references, kept apart from the definitions.

A reference (``glassnet/kernels/*.py``) is the formula to read; what lives
here is how it is made fast -- layouts, chunking, reused buffers -- registered
as :func:`glassnet.kernels.variant` of the reference it must agree with.
Short compiled wrappers stay next to their reference.
"""

# direct first: variants are tried in the order they are registered
from . import direct  # noqa: F401, I001  (registers itself)
from . import conv  # noqa: F401  (registers itself)
from . import dense  # noqa: F401  (registers itself)
from . import optim  # noqa: F401  (registers itself)
from . import small  # noqa: F401  (registers itself)
