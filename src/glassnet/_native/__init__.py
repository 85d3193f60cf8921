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

``GLASSNET_TARGET`` chooses the instruction set they are compiled for:
``native`` (the default), ``avx2``, ``avx512`` or ``generic`` (:data:`TARGETS`),
so that one machine can build and test both vector widths; its flags are part
of the cache key like every other.

The cache folder is ``$GLASSNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/glassnet``,
else ``~/.cache/glassnet``. A library is loaded only if it and the folder
belong to the current user and nobody else can write to them, and every
folder above belongs to the user or root and is writable by nobody else
unless its sticky bit is set (as /tmp's); the library is opened once, never
through a symbolic link, checked on that open file and loaded from it (see
"the cache folder and its entries" below). The file name carries a digest
of the C source, every word of ``CC``, every flag (including
``$GLASSNET_NATIVE_CFLAGS``), the compiler's version and the CPU, so a
changed source, compiler or machine gets a fresh build (``-march=native``
code from one CPU is never loaded on another); each library ends
with a SHA-256 seal, and a truncated or foreign file is built again.

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
import sysconfig
import tempfile
import threading
import warnings
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
    "python_functions",
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
    "-O3",
    "-fPIC",
    "-shared",
    "-std=c11",
    # Same float operations as written (no fused multiply-add, no reordering);
    # no errno and no FP-exception side effects, so loops with compares vectorise.
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-pthread",  # direct.c splits a convolution between threads
]
#: Libraries written against Python's C API (they need its headers; Python calls
#: their functions directly, see python_functions): small.c's small-array kernels.
PYTHON_API = ("small",)
_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL | None] = {}
_reasons: dict[str, str] = {}
_paths: dict[str, Path] = {}


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
        line
        for line in text.splitlines()
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


#: The kernels' calling convention as Python uses it. Bump it when a
#: signature changes in a way the C source text alone would not show.
ABI_VERSION = 2
#: Extra compiler flags, from the environment (e.g. ``make sanitize``'s
#: ``-fsanitize=address,undefined``); part of the cache key like every flag.
CFLAGS_VAR = "GLASSNET_NATIVE_CFLAGS"
#: Appended to every library we build: this marker and the SHA-256 of the
#: bytes before it. A library is loaded only when the two match, so a
#: truncated or foreign file is rebuilt instead of mapped (a truncated
#: library would kill the process with SIGBUS). ELF loaders ignore bytes
#: after the sections.
_SEAL = b"\0glassnet-kernel-sha256\0"
_SEAL_SIZE = len(_SEAL) + 32


def _identity(name: str) -> str:
    """What ``gn_identity()`` of library ``name`` returns (set by -DGN_IDENTITY)."""
    return f"glassnet {name} abi {ABI_VERSION}"


#: ``GLASSNET_TARGET``: the instruction set the kernels are compiled for, and
#: the CPU flags it needs. ``native`` (the default) is whatever this CPU has
#: (-march=native); ``avx2`` and ``avx512`` build those vector widths (8 and 16
#: floats) on any CPU that has them, so that one machine can build and test
#: both; ``generic`` is the compiler's default for the platform.
TARGETS = {
    "native": ([], ()),
    "generic": ([], ()),
    "avx2": (["-mavx2", "-mfma", "-mf16c"], ("avx2", "fma")),
    "avx512": (
        ["-mavx2", "-mfma", "-mf16c"]
        + ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512cd"],
        ("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"),
    ),
}


def target() -> str:
    """The instruction set named by ``GLASSNET_TARGET`` (see :data:`TARGETS`)."""
    value = os.environ.get("GLASSNET_TARGET", "native").strip().lower() or "native"
    if value not in TARGETS:
        raise NativeError(
            f"GLASSNET_TARGET must be one of {', '.join(TARGETS)}; got {value!r}."
        )
    return value


def _target_flags() -> list[str]:
    """The compiler flags of :func:`target`; NativeError if this CPU lacks it
    (a library built for it would die of an illegal instruction here)."""
    name = target()
    machine = platform.machine().lower()
    if name == "native":
        native = machine in ("x86_64", "amd64", "aarch64", "arm64")
        return ["-march=native"] if native else []
    flags, needs = TARGETS[name]
    if needs:
        have = set()
        for line in _cpu_identity().splitlines():
            if line.startswith("flags"):
                have.update(line.split(":", 1)[-1].split())
        missing = [flag for flag in needs if flag not in have]
        if machine not in ("x86_64", "amd64") or missing:
            raise NativeError(
                f"GLASSNET_TARGET={name} needs an x86-64 CPU with "
                f"{', '.join(needs)}; this {machine} CPU lacks "
                f"{', '.join(missing) or 'them'}. Use GLASSNET_TARGET=native."
            )
    return list(flags)


def _recipe(name: str, source: Path, cc: str) -> tuple[list[str], str]:
    """(compiler flags, cache key) of library ``name``.

    The key is a digest of everything the binary depends on: the C source
    and headers, every word of ``CC`` and every flag (so ``CC="gcc
    -fsanitize=address"`` or ``GLASSNET_NATIVE_CFLAGS`` get their own
    build), the compiler's version, the CPU, the platform and ABI_VERSION.
    """
    text = (
        source.read_bytes()
        + b"".join(p.read_bytes() for p in sorted(HERE.glob("*.h")))
        + _abi_header().encode()
    )
    flags = list(_FLAGS) + os.environ.get(CFLAGS_VAR, "").split()
    flags.append(f'-DGN_IDENTITY="{_identity(name)}"')
    flags += _target_flags()
    if name in PYTHON_API:  # Python's headers, and its ABI in the cache key
        abi = sysconfig.get_config_var("EXT_SUFFIX") or sys.version
        flags += ["-I", sysconfig.get_paths()["include"], f'-DGN_PYTHON_ABI="{abi}"']
    key = hashlib.sha256(
        b"\0".join(
            [
                text,
                "\0".join(cc.split()).encode(),
                "\0".join(flags).encode(),
                _version(cc).encode(),
                _cpu_identity().encode(),
                sys.platform.encode(),
                platform.machine().encode(),
                str(ABI_VERSION).encode(),
            ]
        )
    ).hexdigest()[:20]
    return flags, key


# --- the cache folder and its entries: opened once, checked on the descriptor --------
#
# Who may change what we load? Whoever can write to the library, to its folder,
# or to any folder above it (they can rename a folder away and put their own in
# its place). So every folder from / down to the cache is opened in turn, each
# relative to the one above and never through a symbolic link (O_NOFOLLOW), and
# checked on that descriptor (fstat), never again by path:
#
# - the cache folder belongs to this user and only this user may write to it;
# - every folder above belongs to this user or to root, and if others may write
#   to it, its sticky bit is set (as on /tmp: then only the owner of an entry may
#   rename or remove it, and the next folder down belongs to this user or root);
# - the library is opened in the cache folder with O_NOFOLLOW (a symbolic link is
#   refused), must be a regular file of this user's that no one else may write
#   to, carries its seal (above), and is loaded through /proc/self/fd/N: the file
#   that was checked is the file that is mapped.
#
# Symbolic links in the configured path itself are resolved once, first (a
# home folder reached through a link is common); the real path is what is
# checked.

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _trusted_owners() -> set[int]:
    return {0, os.getuid()}


def _check_folder(fd: int, path: str, last: bool) -> None:
    st = os.fstat(fd)
    uid = os.getuid()
    mode = stat.S_IMODE(st.st_mode)
    others_write = mode & (stat.S_IWGRP | stat.S_IWOTH)
    if last:
        if st.st_uid != uid or others_write:
            raise NativeError(
                f"the cache folder {path} is not private to this user (owner uid "
                f"{st.st_uid}, mode {mode:04o}; it must be yours and writable by you "
                "alone); set GLASSNET_CACHE_DIR to a folder of your own."
            )
        return
    if st.st_uid not in _trusted_owners():
        raise NativeError(
            f"the folder {path} above the kernel cache belongs to uid {st.st_uid}, "
            "who could replace the cache; set GLASSNET_CACHE_DIR to a folder below "
            "folders of yours or root's only."
        )
    if others_write and not mode & stat.S_ISVTX:
        raise NativeError(
            f"the folder {path} above the kernel cache can be written by other "
            f"users (mode {mode:04o}, no sticky bit), who could replace the cache; "
            "set GLASSNET_CACHE_DIR to a folder below folders of yours or root's only."
        )


def _open_folder(folder: Path) -> tuple[int, str]:
    """Make the cache folder if needed, check it and every folder above.

    Returns its descriptor and its real path (no links), under which only
    this user or root can change anything.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    real = os.path.realpath(folder)
    parts = Path(real).parts
    fd = os.open(parts[0], _DIR_FLAGS)
    try:
        _check_folder(fd, parts[0], last=len(parts) == 1)
        for i in range(1, len(parts)):
            try:
                child = os.open(parts[i], _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                raise NativeError(
                    f"could not open {os.path.join(*parts[: i + 1])} without following "
                    f"a link: {exc.strerror}"
                ) from exc
            os.close(fd)
            fd = child
            _check_folder(fd, os.path.join(*parts[: i + 1]), last=i == len(parts) - 1)
    except BaseException:
        os.close(fd)
        raise
    return fd, real


def _seal(data: bytes) -> bytes:
    """``data`` followed by the seal: marker and SHA-256 (see _SEAL)."""
    return data + _SEAL + hashlib.sha256(data).digest()


def _sealed(data: bytes) -> bool:
    body, marker, digest = data[:-_SEAL_SIZE], data[-_SEAL_SIZE:-32], data[-32:]
    return (
        len(data) > _SEAL_SIZE
        and marker == _SEAL
        and hashlib.sha256(body).digest() == digest
    )


def _open_entry(folder_fd: int, filename: str, path: Path) -> int | None:
    """The cache entry's fd, checked and sealed; None if missing or damaged.

    A damaged entry (wrong size, no seal, a foreign library) is None: the
    caller builds a new one over it. A symbolic link, another user's file or
    a file others may write to is refused with NativeError: never loaded,
    never silently replaced.
    """
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(filename, flags, dir_fd=folder_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            raise NativeError(
                f"{path} is a symbolic link; a kernel library is never loaded through "
                "one. Remove it and glassnet will build the library again."
            ) from exc
        raise
    try:
        st = os.fstat(fd)
        mode = stat.S_IMODE(st.st_mode)
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.getuid()
            or mode & (stat.S_IWGRP | stat.S_IWOTH)
        ):
            raise NativeError(
                f"{path} is not a private file of this user (owner uid {st.st_uid}, "
                f"mode {mode:04o}); it will not be loaded. Remove it and glassnet "
                "will build the library again."
            )
        data = b""
        while len(data) < st.st_size:
            chunk = os.pread(fd, st.st_size - len(data), len(data))
            if not chunk:
                break
            data += chunk
        if _sealed(data):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _compile(name, source, cc, flags, folder, folder_fd, filename) -> None:
    """Build library ``name`` into the cache: a temporary file, sealed, flushed to
    disk, then renamed over ``filename`` (another process sees all or nothing)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".so", dir=folder)
    os.close(fd)
    generated = tempfile.TemporaryDirectory(prefix="glassnet-abi-")
    try:
        Path(generated.name, "gn_abi.h").write_text(_abi_header())
        cmd = [
            *cc.split(),
            *flags,
            "-I",
            generated.name,
            "-I",
            str(HERE),
            str(source),
            "-o",
            tmp,
            "-lm",
        ]
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, check=False
        )
        if out.returncode != 0 and "-march=native" in flags:
            cmd.remove("-march=native")  # a compiler that does not know it
            out = subprocess.run(
                cmd, capture_output=True, text=True, timeout=120, check=False
            )
        if out.returncode != 0:
            err = (out.stderr or out.stdout).strip().splitlines()
            err = [line for line in err if "error" in line] or err  # the first error
            raise NativeError(
                f"compiling {source.name} failed: "
                + (err[0] if err else f"exit {out.returncode}")
            )
        sealed = _seal(Path(tmp).read_bytes())
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, 0o700)
            view = memoryview(sealed)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)  # the bytes are on disk before the name points at them
        finally:
            os.close(fd)
        os.replace(tmp, filename, src_dir_fd=None, dst_dir_fd=folder_fd)
        os.fsync(folder_fd)
    except subprocess.TimeoutExpired as exc:
        raise NativeError(f"compiling {source.name} took over 120 s.") from exc
    finally:
        generated.cleanup()
        if os.path.exists(tmp):
            os.unlink(tmp)


def _abi_header() -> str:
    """gn_abi.h: the C prototypes and opcodes, generated from the one interface
    table (glassnet/kernels/_abi.py) that the ctypes signatures come from too."""
    from ..kernels import _abi

    return _abi.header()


#: (device, inode) -> the descriptor a library was loaded through, kept open for
#: the life of the process, as the library stays loaded. The dynamic loader
#: knows a library by its path too: a closed descriptor's number, reused for
#: another library, would hand back the first library under the second's name.
_held: dict[tuple[int, int], int] = {}


def _dlopen(fd: int, path: Path) -> ctypes.CDLL:
    """Load the library open on ``fd`` -- that very file, not whatever ``path``
    names by now (through /proc/self/fd; elsewhere by path, after checking that
    the path still names the checked file). Takes ``fd`` over."""
    st = os.fstat(fd)
    if os.path.exists(f"/proc/self/fd/{fd}"):
        held = _held.setdefault((st.st_dev, st.st_ino), fd)
        if held != fd:  # this very file was loaded before: the loader's handle
            os.close(fd)
        return ctypes.CDLL(f"/proc/self/fd/{held}")
    os.close(fd)
    now = os.stat(path, follow_symlinks=False)
    if (st.st_dev, st.st_ino) != (now.st_dev, now.st_ino):
        raise NativeError(f"{path} changed while it was being loaded.")
    return ctypes.CDLL(str(path))


def _identity_of(lib: ctypes.CDLL) -> str | None:
    fn = getattr(lib, "gn_identity", None)
    if fn is None:
        return None
    fn.argtypes, fn.restype = [], ctypes.c_char_p
    return (fn() or b"").decode(errors="replace")


def _build(name: str) -> ctypes.CDLL:
    source = HERE / f"{name}.c"
    if not source.is_file():
        raise NativeError(f"no kernel source {source.name} in {HERE}.")
    if not (hasattr(os, "O_NOFOLLOW") and os.open in os.supports_dir_fd):
        raise NativeError("the compiled kernels need a POSIX system (O_NOFOLLOW).")
    cc = _compiler()
    if cc is None:
        raise NativeError("no C compiler found (set CC, or install gcc or clang).")
    flags, key = _recipe(name, source, cc)
    folder = _cache_dir()
    filename = f"{name}-{key}.so"
    target = folder / filename
    folder_fd, real = _open_folder(folder)
    try:
        for attempt in range(2):
            fd = _open_entry(folder_fd, filename, target)
            if fd is None:
                if attempt == 0 and os.path.lexists(target):
                    _warn(
                        f"the cached kernel library {target} was damaged (truncated "
                        "or not glassnet's); building it again."
                    )
                _compile(name, source, cc, flags, real, folder_fd, filename)
                fd = _open_entry(folder_fd, filename, target)
                if fd is None:
                    raise NativeError(
                        f"{target} was damaged again right after its build."
                    )
            lib = _dlopen(fd, target)
            found = _identity_of(lib)
            if found == _identity(name):
                break
            if attempt == 1:
                raise NativeError(
                    f"{target} is not glassnet's {name} library (it says {found!r})."
                )
            _warn(
                f"the cached kernel library {target} is not glassnet's {name} "
                f"library (it says {found!r}); building it again."
            )
            os.unlink(filename, dir_fd=folder_fd)
    finally:
        os.close(folder_fd)
    _paths[name] = target
    # Hand every library the BLAS NumPy uses (or none: then its own loops).
    lib.gn_set_blas.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    lib.gn_set_blas.restype = None
    lib.gn_set_blas(sgemm_address(), dgemm_address(), SMALL_GEMM)
    # and its thread count and threads, for kernels that split their rows
    # between threads that call BLAS (parallel.h's gn_parallel)
    lib.gn_set_blas_threads.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.gn_set_blas_threads.restype = None
    lib.gn_set_blas_threads(
        _numpy_blas_symbol("openblas_set_num_threads_local"),
        _numpy_blas_symbol("gotoblas_pthread"),
    )
    return lib


def _warn(message: str) -> None:
    warnings.warn(f"glassnet: {message}", RuntimeWarning, stacklevel=4)


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
        f"target: {os.environ.get('GLASSNET_TARGET', 'native')} (GLASSNET_TARGET)",
        "BLAS for matrix products: "
        + (
            "NumPy's OpenBLAS"
            if sgemm_address()
            else "none found; the kernels' own loops"
        ),
        f"memory between steps (glassnet/_malloc.py): {_malloc.status()}",
    ]
    for name in names():
        try:
            lib = load(name)
        except NativeError as exc:
            lines.append(f"{name}: {exc}")
            continue
        done = f"loaded from {_paths[name]}" if lib else status()[name]
        lines.append(f"{name}: {done}")
    return lines


def status() -> dict[str, str]:
    """What happened to each kernel library asked for so far: 'loaded' or why not."""
    if not enabled():
        return {
            name.stem: "turned off by GLASSNET_NATIVE=0" for name in HERE.glob("*.c")
        }
    return dict(_reasons)


def _forget() -> None:
    """Drop what was loaded (for tests that change GLASSNET_NATIVE)."""
    _loaded.clear()
    _reasons.clear()
    _functions.clear()
    _python.clear()
    _paths.clear()


def _missing(library: str, symbol: str) -> None:
    """A loaded library lacks a function: NumPy with a warning, or NativeError (=1)."""
    message = (
        f"the compiled kernel library {library!r} ({_paths.get(library)}) has "
        f"no function {symbol}"
    )
    if _mode() == "require":
        raise NativeError(f"{message}; it is required (GLASSNET_NATIVE=1).")
    _reasons[library] = message
    _warn(f"{message}; using the NumPy code instead.")


def python_functions(library: str) -> dict | None:
    """The Python functions of a library in :data:`PYTHON_API`, by name, or None
    (as :func:`load`). Its ``gn_<library>_functions()`` makes them; it is the one
    C function outside the interface table (kernels/_abi.py), since it returns a
    Python object: it is called through ctypes with the GIL held."""
    found = _python.get(library, _python)
    if found is not _python:
        return found
    lib = load(library)
    fn = None if lib is None else getattr(lib, f"gn_{library}_functions", None)
    if lib is not None and fn is None:
        _missing(library, f"gn_{library}_functions")
    address = None if fn is None else ctypes.cast(fn, ctypes.c_void_p).value
    found = None if address is None else ctypes.PYFUNCTYPE(ctypes.py_object)(address)()
    _python[library] = found
    return found


_python: dict = {}


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
            fn = getattr(lib, f"{name}_{suffix}", None)
            if fn is None:
                found = None
                _missing(library, f"{name}_{suffix}")
                break
            if fn.argtypes is None:
                fn.argtypes, fn.restype = argtypes, None
            found.append(fn)
        found = None if found is None else tuple(found)
    _functions[key] = found
    return found


# --- BLAS: the GEMM NumPy itself uses, so kernels can call it directly ------------

_blas: dict[str, int | None] = {}


def _numpy_blas_symbol(symbol: str) -> int | None:
    """Address of ``symbol`` in NumPy's own ILP64 OpenBLAS (wheels from PyPI).

    E.g. ``scipy_cblas_sgemm64_``, which the kernels call with 64-bit
    integers. Returns None for a NumPy built against another BLAS; the
    kernels then use their own loops.
    """
    if symbol in _blas:
        return _blas[symbol]
    address = None
    for lib in _numpy_openblas():
        fn = getattr(lib, symbol, None)
        if fn is not None:
            address = ctypes.cast(fn, ctypes.c_void_p).value
            break
    _blas[symbol] = address
    return address


def _numpy_openblas() -> list:
    """NumPy's own OpenBLAS libraries (wheels from PyPI), loaded: [] elsewhere."""
    import numpy as np

    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    found = []
    for path in sorted(libs.glob("libscipy_openblas64_*.so*")):
        try:
            found.append(ctypes.CDLL(str(path)))
        except OSError:
            pass
    return found


def sgemm_address() -> int | None:
    """Address of NumPy's ``cblas_sgemm`` (64-bit ints), or None."""
    return _numpy_blas_symbol("scipy_cblas_sgemm64_")


def dgemm_address() -> int | None:
    """Address of NumPy's ``cblas_dgemm`` (64-bit ints), or None."""
    return _numpy_blas_symbol("scipy_cblas_dgemm64_")
