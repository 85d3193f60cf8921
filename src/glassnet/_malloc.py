"""Keep the memory of a training step's big arrays for the next step (glibc).

Why. A training step makes arrays of a few megabytes and frees them again:
an LSTM's gate values and their gradients over the sequence, a convolution's
patches, a batch's activations. glibc's ``malloc`` hands blocks that large to
the kernel with ``munmap`` when they are freed (or trims them off the top of
the heap), so the next step gets fresh pages, and the first write to every
4 KiB page is a page fault that clears it. Measured on the W4 workload (char
LSTM, float32, 2 cores): about 2,900 page faults and 6-7 ms of system time
in a 20 ms step. With the two settings below the step makes no page faults
and takes 12 ms; the W3 LeNet goes from 2,500 to 2,900 samples/s. Peak
memory (RSS) does not change: the same blocks are reused instead of being
returned and fetched again.

What. On Linux with glibc, when ``glassnet`` is imported, two ``mallopt``
settings for the whole process (glibc's documented knobs, the same ones the
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` environment
variables set):

- blocks below 32 MiB come from the heap, not from ``mmap`` (32 MiB is
  glibc's own upper limit for the threshold it adjusts by itself);
- up to 64 MiB of free memory at the top of the heap is kept rather than
  given back to the system after every step.

The cost is that a process may hold up to 64 MiB it is not using at the
moment. ``GLASSNET_MALLOC=0`` leaves the allocator alone; so does any
``MALLOC_*`` setting of glibc's (or ``glibc.malloc`` in ``GLIBC_TUNABLES``)
in the environment, which is the user's own choice. Other C libraries and
systems are left as they are. :func:`status` says what was done, and
``glassnet kernels`` prints it.
"""

from __future__ import annotations

import ctypes
import os
import sys
import warnings

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "status", "tune"]

#: Blocks below this many bytes come from the heap (glibc's M_MMAP_THRESHOLD).
MMAP_THRESHOLD = 32 << 20
#: Free memory at the top of the heap kept up to this many bytes (M_TRIM_THRESHOLD).
TRIM_THRESHOLD = 64 << 20

_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h> parameter numbers
_M_MMAP_THRESHOLD = -3
_GLIBC_VARIABLES = (
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_MAX_",
    "MALLOC_ARENA_MAX",
)
_OFF = ("0", "off", "no", "false")
_ON = ("", "auto", "1", "on", "yes", "true")

_status = "not set up yet"


def _glibc() -> str | None:
    """glibc's version string ('glibc 2.36'), or None for another C library."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None
    return version if version and version.startswith("glibc") else None


def _user_setting(environ) -> str | None:
    """The name of a malloc setting the environment already makes, if any."""
    for name in _GLIBC_VARIABLES:
        if name in environ:
            return name
    if "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""):
        return "GLIBC_TUNABLES"
    return None


def tune(environ=None) -> str:
    """Apply the settings above once for this process, if allowed; return :func:`status`.

    Never raises: a setting it cannot make is reported, not an error, since
    the only thing at stake is speed.
    """
    global _status
    environ = os.environ if environ is None else environ
    setting = environ.get("GLASSNET_MALLOC", "auto").strip().lower()
    if setting in _OFF:
        _status = "left alone (GLASSNET_MALLOC=0)"
        return _status
    if setting not in _ON:
        warnings.warn(
            f"GLASSNET_MALLOC must be 'auto' or '0'; got {setting!r}. "
            "Leaving the allocator alone.",
            RuntimeWarning,
            stacklevel=2,
        )
        _status = f"left alone (GLASSNET_MALLOC={setting!r} is not 'auto' or '0')"
        return _status
    glibc = _glibc()
    if glibc is None:
        _status = "left alone (not glibc)"
        return _status
    own = _user_setting(environ)
    if own is not None:
        _status = f"left alone ({own} is set in the environment)"
        return _status
    try:
        mallopt = ctypes.CDLL(None).mallopt
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        done = (
            mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        )
    except (OSError, AttributeError) as exc:
        _status = f"left alone (mallopt unavailable: {exc})"
        return _status
    if not done:
        _status = f"left alone ({glibc} refused the mallopt settings)"
        return _status
    _status = (
        f"{glibc}: blocks under {MMAP_THRESHOLD >> 20} MiB from the heap, up to "
        f"{TRIM_THRESHOLD >> 20} MiB of free heap kept between steps (GLASSNET_MALLOC=0 "
        "turns this off)"
    )
    return _status


def status() -> str:
    """What :func:`tune` did in this process, in words."""
    return _status
