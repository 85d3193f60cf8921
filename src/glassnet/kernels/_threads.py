"""How many threads a compiled kernel may use: one rule for every kernel.

``GLASSNET_NUM_THREADS`` if set, else ``OMP_NUM_THREADS``, else
``OPENBLAS_NUM_THREADS`` (so a process told to use one thread for BLAS uses
one for glassnet's own kernels too), else the CPUs this process may run on.
A kernel asks for fewer when its work is too small to pay for making threads
(``_native/parallel.h`` makes them per call).
"""

from __future__ import annotations

import os

__all__ = ["most_threads", "threads_for"]


def most_threads() -> int:
    """The most threads a compiled kernel may use (see the module docstring)."""
    for name in ("GLASSNET_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def threads_for(work: int, per_thread: int) -> int:
    """Threads for a call of ``work`` units when each thread must get at least
    ``per_thread`` of them (the caller's measure of what pays for a thread).
    Small calls return before the environment is read: ReLU asks on every call."""
    if work < 2 * per_thread:
        return 1
    return max(1, min(most_threads(), work // per_thread))
