"""Optional compiled kernels: small C files built on first use, loaded with ctypes.

glassnet runs on NumPy alone. A few hot spots are faster as one C loop than
as a chain of NumPy calls (each NumPy call costs ~1 µs before it does any
work, and each makes a full pass over memory): a whole small-MLP training
step, a one-pass Adam update, an LSTM cell's gates. Those kernels live here
as plain C next to this file. The first time one is wanted, it is compiled
with the machine's C compiler into a private cache folder and loaded with
:mod:`ctypes`; when there is no compiler, or it fails, glassnet says why (see
:func:`status`) and uses its NumPy code instead. Nothing is downloaded and
nothing is compiled at install time, so ``pip install glassnet`` stays a
pure-Python install.

Control it with the environment variable ``GLASSNET_NATIVE``:

- unset or ``auto``: use the kernels when they build, NumPy otherwise;
- ``0`` / ``off``: never build or load them (NumPy only);
- ``1`` / ``require``: a kernel that cannot be built raises :class:`NativeError`.

The cache folder is ``$GLASSNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/glassnet``,
else ``~/.cache/glassnet``. A library is loaded only if it, and the folder,
belong to the current user and nobody else can write to them; the file name
carries a digest of the C source, the compiler, its flags and the CPU, so a
changed source or a different machine gets a fresh build.

Examples
--------
>>> from glassnet import _native
>>> sorted(_native.status())  # doctest: +SKIP
['optim', 'step']
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .. import _malloc
from ..errors import GlassnetError

__all__ = [
    "NativeError",
    "describe",
    "functions",
    "names",
    "enabled",
    "load",
    "status",
    "ptr",
    "sgemm_address",
    "dgemm_address",
]

HERE = Path(__file__).resolve().parent
# Matrix products with m·n·k below this use the kernels' own loops, not BLAS.
# 0: always BLAS when NumPy's is found. Measured on W1 (32x64x32, 32x32x10),
# OpenBLAS beat common.h's loops 2-3x even there (docs/benchmarks.md); the
# loops are the fallback for a NumPy built against another BLAS.
SMALL_GEMM = 0
_FLAGS = [
    "-O3", "-fPIC", "-shared", "-std=c11",
    # Same float operations as written (no fused multiply-add, no reordering);
    # no errno and no FP-exception side effects, so loops with compares vectorise.
    "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math",
]
_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL | None] = {}
_reasons: dict[str, str] = {}


class NativeError(GlassnetError, RuntimeError):
    """A compiled kernel was required (GLASSNET_NATIVE=1) but could not be built."""


def _mode() -> str:
    value = os.environ.get("GLASSNET_NATIVE", "auto").strip().lower()
    if value in ("", "auto"):
        return "auto"
    if value in ("0", "off", "no", "false"):
        return "off"
    if value in ("1", "on", "yes", "true", "require"):
        return "require"
    raise NativeError(
        f"GLASSNET_NATIVE must be auto, 0 (off) or 1 (require); got {value!r}."
    )


def enabled() -> bool:
    """False when ``GLASSNET_NATIVE=0`` turns the compiled kernels off."""
    return _mode() != "off"


def _cache_dir() -> Path:
    root = os.environ.get("GLASSNET_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "glassnet" if xdg else Path.home() / ".cache" / "glassnet"


def _compiler() -> str | None:
    cc = os.environ.get("CC")
    if cc:
        return shutil.which(cc.split()[0]) and cc
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return name
    return None


def _cpu_identity() -> str:
    """What -march=native depends on: the CPU model and its feature flags."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    keep = [
        line for line in text.splitlines()
        if line.startswith(("model name", "flags", "Features", "CPU part"))
    ]
    return "\n".join(sorted(set(keep)))


def _version(cc: str) -> str:
    try:
        out = subprocess.run(
            [*cc.split(), "--version"], capture_output=True, text=True, timeout=20
        )
        return out.stdout.splitlines()[0] if out.stdout else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _private(path: Path) -> bool:
    """True if ``path`` belongs to this user and nobody else may write to it."""
    try:
        st = path.stat()
    except OSError:
        return False
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _build(name: str) -> ctypes.CDLL:
    source = HERE / f"{name}.c"
    if not source.is_file():
        raise NativeError(f"no kernel source {source.name} in {HERE}.")
    cc = _compiler()
    if cc is None:
        raise NativeError("no C compiler found (set CC, or install gcc or clang).")
    text = source.read_bytes() + b"".join(
        p.read_bytes() for p in sorted(HERE.glob("*.h"))
    )
    flags = list(_FLAGS)
    if platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64"):
        flags.append("-march=native")
    key = hashlib.sha256(
        b"\0".join(
            [
                text,
                " ".join(flags).encode(),
                _version(cc).encode(),
                _cpu_identity().encode(),
                sys.platform.encode(),
                platform.machine().encode(),
            ]
        )
    ).hexdigest()[:20]
    folder = _cache_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private(folder):
        raise NativeError(
            f"the cache folder {folder} is not private to this user (others can "
            "write to it); set GLASSNET_CACHE_DIR to a folder of your own."
        )
    target = folder / f"{name}-{key}.so"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".so", dir=folder)
        os.close(fd)
        try:
            cmd = [*cc.split(), *flags, "-I", str(HERE), str(source), "-o", tmp, "-lm"]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if out.returncode != 0 and "-march=native" in flags:
                cmd.remove("-march=native")  # a compiler that does not know it
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                err = (out.stderr or out.stdout).strip().splitlines()
                raise NativeError(
                    f"compiling {source.name} failed: "
                    + (err[0] if err else f"exit {out.returncode}")
                )
            os.chmod(tmp, 0o700)
            os.replace(tmp, target)  # atomic: another process sees all or nothing
        except subprocess.TimeoutExpired as exc:
            raise NativeError(f"compiling {source.name} took over 120 s.") from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    if not _private(target):
        raise NativeError(
            f"{target} is not private to this user; it will not be loaded."
        )
    lib = ctypes.CDLL(str(target))
    # Hand every library the BLAS NumPy uses (or none: then its own loops).
    lib.gn_set_blas.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    lib.gn_set_blas.restype = None
    lib.gn_set_blas(sgemm_address(), dgemm_address(), SMALL_GEMM)
    return lib


def load(name: str) -> ctypes.CDLL | None:
    """The compiled kernel library ``name`` (from ``_native/NAME.c``), or None.

    Built on the first call and cached; None when kernels are turned off or
    the build failed (:func:`status` says why). With ``GLASSNET_NATIVE=1`` a
    failed build raises :class:`NativeError` instead.
    """
    lib = _loaded.get(name, _loaded)
    if lib is not _loaded:  # tried before: the library, or None
        return lib
    mode = _mode()
    if mode == "off":
        _loaded[name] = None
        _reasons[name] = "turned off by GLASSNET_NATIVE=0"
        return None
    with _lock:
        if name not in _loaded:
            try:
                _loaded[name] = _build(name)
                _reasons[name] = "loaded"
            except (NativeError, OSError) as exc:
                _loaded[name] = None
                _reasons[name] = str(exc)
                if mode == "require":
                    raise NativeError(
                        f"the compiled kernel {name!r} is required "
                        f"(GLASSNET_NATIVE=1) but: {exc}"
                    ) from exc
    return _loaded[name]


def names() -> list[str]:
    """Every kernel library glassnet has (the C files next to this module)."""
    return sorted(path.stem for path in HERE.glob("*.c"))


def describe() -> list[str]:
    """Build every kernel library (if allowed) and say, line by line, what came of it."""
    lines = [
        f"mode: {_mode()} (GLASSNET_NATIVE)",
        f"cache: {_cache_dir()}",
        f"compiler: {_compiler() or 'none found'}",
        "BLAS for matrix products: "
        + ("NumPy's OpenBLAS" if sgemm_address() else "none found; the kernels' own loops"),
        f"memory between steps (glassnet/_malloc.py): {_malloc.status()}",
    ]
    for name in names():
        try:
            lib = load(name)
        except NativeError as exc:
            lines.append(f"{name}: {exc}")
            continue
        lines.append(f"{name}: {'loaded from ' + lib._name if lib else status()[name]}")
    return lines


def status() -> dict[str, str]:
    """What happened to each kernel library asked for so far: 'loaded' or why not."""
    if not enabled():
        return {name.stem: "turned off by GLASSNET_NATIVE=0" for name in HERE.glob("*.c")}
    return dict(_reasons)


def _forget() -> None:
    """Drop what was loaded (for tests that change GLASSNET_NATIVE)."""
    _loaded.clear()
    _reasons.clear()
    _functions.clear()


def ptr(array) -> int:
    """The address of a NumPy array's first element, for a ctypes call."""
    return array.ctypes.data


_SUFFIXES = {"float32": "f32", "float64": "f64"}
_functions: dict = {}


def functions(library: str, dtype, signatures: dict) -> tuple | None:
    """Library ``library``'s C functions for ``dtype``, typed, or None (use NumPy).

    ``signatures`` maps each function's name without its dtype suffix to its
    ctypes argument types, e.g. ``{"gn_relu_fwd": [...], "gn_relu_bwd": [...]}``;
    the result is those functions (``gn_relu_fwd_f32`` ...) in that order, their
    signatures declared on first use. None for dtypes other than float32 and
    float64, with GLASSNET_NATIVE=0, or when the library does not build here
    (:func:`status` says why).
    """
    key = (library, dtype, *signatures)
    try:
        return _functions[key]  # called on hot paths (every optimizer step)
    except KeyError:
        pass
    suffix = _SUFFIXES.get(str(dtype))
    lib = None if suffix is None else load(library)
    found = None
    if lib is not None:
        found = []
        for name, argtypes in signatures.items():
            fn = getattr(lib, f"{name}_{suffix}")
            if fn.argtypes is None:
                fn.argtypes, fn.restype = argtypes, None
            found.append(fn)
        found = tuple(found)
    _functions[key] = found
    return found


# --- BLAS: the GEMM NumPy itself uses, so kernels can call it directly ------------

_blas: dict[str, int | None] = {}


def _numpy_blas_symbol(kind: str) -> int | None:
    """Address of NumPy's own ILP64 OpenBLAS ``cblas_?gemm`` (wheels from PyPI).

    The kernels call it with 64-bit integers. Returns None for a NumPy built
    against another BLAS; the kernels then use their own loops.
    """
    if kind in _blas:
        return _blas[kind]
    address = None
    try:
        import numpy as np

        libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
        for path in sorted(libs.glob("libscipy_openblas64_*.so*")):
            lib = ctypes.CDLL(str(path))
            fn = getattr(lib, f"scipy_cblas_{kind}gemm64_", None)
            if fn is not None:
                address = ctypes.cast(fn, ctypes.c_void_p).value
                break
    except OSError:
        address = None
    _blas[kind] = address
    return address


def sgemm_address() -> int | None:
    """Address of NumPy's ``cblas_sgemm`` (64-bit ints), or None."""
    return _numpy_blas_symbol("s")


def dgemm_address() -> int | None:
    """Address of NumPy's ``cblas_dgemm`` (64-bit ints), or None."""
    return _numpy_blas_symbol("d")
