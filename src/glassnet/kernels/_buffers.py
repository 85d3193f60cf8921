"""Reused temporaries and the array layout compiled code reads.

:func:`scratch` hands out temporaries that live from call to call (one set
per thread), so a kernel that runs every step does not pay for fresh
multi-megabyte arrays; :func:`c_array` and :func:`rows` put an array in the
form a compiled function takes.
"""

from __future__ import annotations

import threading

import numpy as np

#: Largest scratch array kept between calls (and, in :mod:`.conv`, the most
#: the pool of kept patches holds); bigger ones are allocated each time.
KEEP_BYTES = 64 << 20

_workspace = threading.local()


def scratch(slot: str, shape, dtype, zero: bool = False) -> np.ndarray:
    """A temporary array reused from call to call (one set per thread).

    Fresh multi-megabyte temporaries cost a page fault per 4 KB every time
    they are allocated, which for the convolution's slabs costs as much as
    the arithmetic. A scratch array is only ever used inside one kernel call
    and never returned; ``zero=True`` clears it first. The workspace holds a
    few megabytes per thread for the life of the process; arrays larger
    than :data:`KEEP_BYTES` (a single huge sample) are not kept.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes > KEEP_BYTES:
        return (np.zeros if zero else np.empty)(shape, dtype)
    bufs = getattr(_workspace, "bufs", None)
    if bufs is None:
        bufs = _workspace.bufs = {}
    buf = bufs.get(slot)
    if buf is None or buf.size < nbytes:
        buf = bufs[slot] = np.empty(nbytes, np.uint8)
    out = buf[:nbytes].view(dtype).reshape(shape)
    if zero:
        out.fill(0)
    return out


def c_array(a: np.ndarray, dtype=None) -> np.ndarray:
    """``a`` as compiled code reads it: C-contiguous and aligned (else a copy).

    np.ascontiguousarray keeps a misaligned array, which C must not read.
    """
    flags = a.flags
    if flags.c_contiguous and flags.aligned and (dtype is None or a.dtype == dtype):
        return a  # the usual case, without np.require's Python-level checks
    return np.require(a, dtype, requirements=("C", "A"))


def rows(a: np.ndarray) -> int:
    """Leading dimension (in elements) of a 2-D array with contiguous rows."""
    return a.strides[0] // a.itemsize
