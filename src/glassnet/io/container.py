"""The container both model files and checkpoints use: one safetensors file.

A glassnet file is an ordinary safetensors file (any safetensors tool can
list its tensors). Its text metadata carries five strings:

=====================  ===================================================
``format``             ``"glassnet.model"`` or ``"glassnet.checkpoint"``
``format_version``     ``"1"``
``glassnet_version``   the version that wrote the file (information only)
``content``            JSON: the architecture, and for checkpoints the
                       optimizer and training state
``sha256``             a digest of everything else (metadata and tensors)
=====================  ===================================================

Writing uses ``safetensors.numpy.save``. Reading never trusts the file: the
whole file is read once (up to ``max_bytes``), its header is parsed here
with hard limits (size, nesting depth, number lengths, duplicate keys) and
checked entry by entry (dtype, shape, offsets that tile the data exactly),
the digest is verified, and only then does ``safetensors.numpy.load`` turn
the bytes into arrays. Nothing here imports pickle or evaluates code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass

import numpy as np

from .._validate import is_count
from ..errors import ConfigError, FormatError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

FORMAT_VERSION = 1
KINDS = ("glassnet.model", "glassnet.checkpoint")
META_KEYS = ("content", "format", "format_version", "glassnet_version", "sha256")

MAX_BYTES = 1 << 30  # default cap on a file's size: 1 GiB
MAX_HEADER = 2 << 20  # the JSON header: 2 MiB is ~20k tensors, and parses in ~0.3 s
MAX_DEPTH = 32  # nesting of JSON arrays and objects
MAX_NDIM = 8
MAX_NAME = 256
_MAX_INT_DIGITS = 50  # a PCG64 state is 39 digits; parsing a huge int is quadratic
_MAX_FLOAT_CHARS = 64

# safetensors dtype codes glassnet writes and reads, little-endian as the format says.
DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "U8": np.dtype("u1"),
}
CODES = {dt.newbyteorder("="): code for code, dt in DTYPES.items()}

_SNIFF = (
    (b"\x80", "a Python pickle"),
    (b"PK\x03\x04", "a zip archive (a PyTorch .pt, a NumPy .npz, ...)"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x89HDF", "an HDF5 (Keras .h5) file"),
)


# --- writing ---------------------------------------------------------------------
# A temporary file left by a killed write is removed by the next write of the same
# name once no process holds its lock (POSIX) and it is this old (seconds); where
# locks are not available (Windows), once it is an hour old.
STALE_TMP_SECONDS = 60
STALE_TMP_SECONDS_UNLOCKED = 3600


def check_writable(path, what: str = "output") -> None:
    """Raise PermissionError (FileNotFoundError, IsADirectoryError) unless ``path``
    can be written
    by :func:`atomic_write`: its folder exists and is writable, and an existing
    ``path`` is a regular file that we may write and whose mode allows writing.

    A file whose mode has no write permission at all (``chmod a-w``, 0444) is
    refused even for root, who could replace it: read-only means "keep this".
    ``glassnet train`` calls this for its outputs before the first epoch.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"cannot write the {what} {path!r}: the folder {folder!r} does not exist."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write the {what} {path!r}: the folder {folder!r} is not writable."
        )
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(
            f"cannot write the {what} {path!r}: it is a folder; give a file name."
        )
    if not stat.S_ISREG(st.st_mode):
        raise PermissionError(
            f"cannot write the {what} {path!r}: it exists and is not a regular file."
        )
    if not os.access(path, os.W_OK) or not st.st_mode & 0o222:
        raise PermissionError(
            f"cannot write the {what} {path!r}: it exists and is read-only (mode "
            f"{stat.S_IMODE(st.st_mode):04o}); make it writable or choose another path."
        )


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new
    one, never a mixture: a temporary file ``.NAME.<12 hex>.tmp`` in the same
    folder is written, flushed and fsynced, renamed over ``path`` (atomic on
    POSIX and Windows), and the folder is fsynced so the rename itself survives
    a power cut.

    An existing ``path`` that is read-only (see :func:`check_writable`) is not
    replaced: PermissionError. After a successful write, temporary files of the
    same name left behind by a killed write are removed: on POSIX the writer
    holds a lock on its temporary file, and one that nobody holds and is older
    than ``STALE_TMP_SECONDS`` (60 s) is stale; without locks, one older than
    ``STALE_TMP_SECONDS_UNLOCKED`` (an hour).
    """
    path = os.fspath(path)
    check_writable(path, "file")
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as for any new file.
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
    )
    try:
        if fcntl is not None:  # held until after the rename: "a live write"
            fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        if os.name != "posix":  # Windows cannot rename a file that is open
            os.close(fd)
            fd = None
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        if fd is not None:
            os.close(fd)
    _fsync_folder(folder)
    _remove_stale_tmp(folder, name)


def _remove_stale_tmp(folder: str, name: str) -> None:
    """Delete ``.NAME.<12 hex>.tmp`` files in ``folder`` that no live write owns."""
    pattern = re.compile(re.escape(f".{name}.") + r"[0-9a-f]{12}\.tmp\Z")
    age = STALE_TMP_SECONDS if fcntl is not None else STALE_TMP_SECONDS_UNLOCKED
    now = time.time()
    try:
        entries = [e for e in os.scandir(folder) if pattern.match(e.name)]
    except OSError:
        return
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < age:
                continue
            if fcntl is None:
                os.unlink(entry.path)
                continue
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                # Raises while the writer lives: its lock goes only with it.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(entry.path)
            finally:
                os.close(fd)
        except OSError:  # in use, gone meanwhile, or not ours to delete: leave it
            continue


def _fsync_folder(folder: str) -> None:
    if os.name != "posix":  # Windows cannot open a folder; its rename is durable enough
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def dumps(value) -> str:
    """Compact JSON that refuses NaN and infinity (readers here refuse them too)."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"cannot store {type(value).__name__} as JSON: {e}") from None


def to_bytes(kind: str, content: dict, tensors: dict, version: str) -> bytes:
    """The bytes of a glassnet file holding ``content`` (JSON-able) and ``tensors``."""
    from safetensors.numpy import save

    arrays = {}
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        if arr.dtype.newbyteorder("=") not in CODES:
            raise ConfigError(
                f"cannot store tensor '{name}' of dtype {arr.dtype}; use one "
                f"of {', '.join(str(d) for d in CODES)}."
            )
        check_name(name, ConfigError)
        arrays[name] = np.ascontiguousarray(arr, arr.dtype.newbyteorder("<"))
    meta = {
        "format": kind,
        "format_version": str(FORMAT_VERSION),
        "glassnet_version": version,
        "content": dumps(content),
    }
    meta["sha256"] = _digest(
        meta,
        [
            (n, CODES[a.dtype.newbyteorder("=")], a.shape, a.reshape(-1).view(np.uint8))
            for n, a in arrays.items()
        ],
    )
    if not arrays:  # safetensors 0.4.x writes broken JSON for metadata without tensors
        header = json.dumps({"__metadata__": meta}, separators=(",", ":")).encode()
        header += b" " * (-len(header) % 8)
        return len(header).to_bytes(8, "little") + header
    return save(arrays, metadata=meta)


def _digest(meta: dict, tensors) -> str:
    """SHA-256 over the metadata (all but the digest) and every tensor, in name order.

    Independent of where safetensors places each tensor, so it is computed
    the same from arrays before writing and from the raw bytes after reading.
    """
    h = hashlib.sha256()
    h.update(
        json.dumps(
            {k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True
        ).encode()
    )
    for name, code, shape, data in sorted(tensors, key=lambda t: t[0]):
        h.update(json.dumps([name, code, list(shape), len(data)]).encode())
        h.update(data)
    return h.hexdigest()


# --- reading -----------------------------------------------------------------------
@dataclass
class Entry:
    """One tensor as the header declares it (checked against the data's size)."""

    dtype: np.dtype
    shape: tuple
    begin: int
    end: int


@dataclass
class Container:
    """A checked glassnet file: its kind, its JSON content and its tensor table."""

    path: str
    kind: str
    glassnet_version: str
    content: dict
    table: dict  # name -> Entry
    raw: bytes

    def tensors(self) -> dict:
        """Decode every tensor (only once ``table`` is checked against ``content``)."""
        from safetensors.numpy import load

        if not self.table:
            return {}
        try:
            arrays = load(self.raw)
        except BaseException as e:  # a Rust panic is a BaseException
            if isinstance(e, (KeyboardInterrupt, SystemExit, MemoryError)):
                raise
            raise FormatError(
                f"{self.path}: safetensors could not decode the tensors "
                f"({type(e).__name__}: {e})."
            ) from None
        if set(arrays) != set(self.table):
            raise FormatError(f"{self.path}: decoded tensors differ from the header.")
        return arrays


def read(path, max_bytes: int = MAX_BYTES) -> Container:
    """Read and check a glassnet file; raise FormatError for anything amiss.

    Work is bounded by ``max_bytes`` and the limits above: the size is checked
    before reading, the header's declared length before slicing it, its
    nesting before parsing it, and every tensor's byte range before decoding.
    """
    path = os.fspath(path)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 16:
        raise ConfigError(f"max_bytes must be an integer >= 16; got {max_bytes!r}.")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise FormatError(
                f"{path}: the file is {size:,} bytes, more than "
                f"max_bytes={max_bytes:,}; "
                "pass a larger max_bytes if you trust it."
            )
        raw = f.read(size + 1)  # +1 notices a file that grew; read(n) allocates n
    if len(raw) > max_bytes:
        raise FormatError(
            f"{path}: the file grew past max_bytes={max_bytes:,} while being read."
        )
    n = int.from_bytes(raw[:8], "little") if len(raw) >= 8 else -1
    if not 2 <= n <= MAX_HEADER or 8 + n > len(raw) or raw[8:9] != b"{":
        _sniff(path, raw)  # a friendlier message for files of other kinds
    if len(raw) < 10:
        raise FormatError(f"{path}: {len(raw)} bytes is too short for a glassnet file.")
    if n > MAX_HEADER or 8 + n > len(raw):
        raise FormatError(
            f"{path}: the header claims {n:,} bytes, but the file has {len(raw) - 8:,} "
            f"after the length field (and headers are at most {MAX_HEADER:,}); the "
            "file is truncated or not a safetensors file."
        )
    try:
        text = raw[8 : 8 + n].decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{path}: the header is not UTF-8 text.") from None
    if not text.startswith("{"):
        raise FormatError(
            f"{path}: the header is not a JSON object; this is not a safetensors file."
        )
    header = parse_json(text, f"{path} header")
    if not isinstance(header, dict):
        raise FormatError(f"{path}: the header is not a JSON object.")
    meta = header.pop("__metadata__", None)
    table = _check_table(path, header, len(raw) - 8 - n, 8 + n)
    kind, version = _check_meta(path, meta)
    data = memoryview(raw)
    expected = _digest(
        meta,
        [
            (name, CODES[e.dtype.newbyteorder("=")], e.shape, data[e.begin : e.end])
            for name, e in table.items()
        ],
    )
    if expected != meta["sha256"]:
        raise FormatError(
            f"{path}: the checksum does not match; the file is corrupted "
            "(or was edited by hand)."
        )
    content = parse_json(meta["content"], f"{path} content")
    if not isinstance(content, dict):
        raise FormatError(f"{path}: the content is not a JSON object.")
    return Container(path, kind, version, content, table, raw)


def _sniff(path: str, raw: bytes) -> None:
    """Name the kind of a file that is not a safetensors file, when it is a known one.

    (Only asked once the safetensors reading has failed: a header length can
    begin with the same bytes as a pickle.)"""
    for magic, what in _SNIFF:
        if raw.startswith(magic):
            raise FormatError(
                f"{path} looks like {what}, not a glassnet file; glassnet "
                "reads only its own safetensors files and never unpickles."
            )


def _check_meta(path: str, meta) -> tuple[str, str]:
    if meta is None:
        raise FormatError(
            f"{path} is a safetensors file without glassnet metadata; it "
            "was not written by glassnet.save."
        )
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise FormatError(f"{path}: __metadata__ must map names to strings.")
    if meta.get("format") not in KINDS:
        raise FormatError(
            f"{path}: format {str(meta.get('format'))[:40]!r} is not a "
            f"glassnet format ({', '.join(KINDS)})."
        )
    version = meta.get("format_version")
    if version != str(FORMAT_VERSION):
        newer = (
            isinstance(version, str)
            and version.isdigit()
            and len(version) < 9
            and int(version) > FORMAT_VERSION
        )
        hint = (
            " It was written by a newer glassnet; upgrade glassnet to read it."
            if newer
            else ""
        )
        raise FormatError(
            f"{path}: format version {str(version)[:20]!r} is not one this "
            f"glassnet reads ({FORMAT_VERSION}).{hint}"
        )
    if sorted(meta) != list(META_KEYS):
        raise FormatError(
            f"{path}: metadata keys {sorted(meta)[:10]} should be {list(META_KEYS)}."
        )
    if not re.fullmatch(r"[0-9A-Za-z.+\-]{1,40}", meta["glassnet_version"]):
        raise FormatError(f"{path}: glassnet_version is not a version string.")
    if not re.fullmatch(r"[0-9a-f]{64}", meta["sha256"]):
        raise FormatError(f"{path}: sha256 is not a hex digest.")
    return meta["format"], meta["glassnet_version"]


def _check_table(path: str, header: dict, data_size: int, start: int) -> dict:
    """Entries checked one by one; their byte ranges must tile the data exactly."""
    table = {}
    for name, spec in header.items():
        check_name(name, FormatError, path)
        where = f"{path}: tensor '{name}'"
        if not isinstance(spec, dict) or sorted(spec) != [
            "data_offsets",
            "dtype",
            "shape",
        ]:
            raise FormatError(
                f"{where} must have exactly dtype, shape and data_offsets."
            )
        dtype = DTYPES.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
        if dtype is None:
            raise FormatError(
                f"{where} has dtype {str(spec['dtype'])[:20]!r}; glassnet "
                f"files use {', '.join(DTYPES)}."
            )
        shape = spec["shape"]
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_NDIM
            or not all(is_count(s) for s in shape)
        ):
            raise FormatError(
                f"{where} has shape {str(shape)[:60]}; expected a list of "
                f"at most {MAX_NDIM} non-negative integers."
            )
        offsets = spec["data_offsets"]
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(is_count(o) for o in offsets)
            or offsets[0] > offsets[1]
        ):
            raise FormatError(f"{where} has data_offsets {str(offsets)[:60]}.")
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
        if offsets[1] - offsets[0] != nbytes:
            raise FormatError(
                f"{where} declares shape {tuple(shape)} ({nbytes:,} bytes) but spans "
                f"{offsets[1] - offsets[0]:,} bytes."
            )
        table[name] = Entry(dtype, tuple(shape), start + offsets[0], start + offsets[1])
    position = start
    for name, e in sorted(table.items(), key=lambda item: (item[1].begin, item[1].end)):
        if e.begin != position:
            raise FormatError(
                f"{path}: tensor '{name}' starts at byte {e.begin - start:,} "
                f"of the data, expected {position - start:,}; tensors must "
                "not overlap or leave gaps."
            )
        position = e.end
    if position - start != data_size:
        raise FormatError(
            f"{path}: the tensors cover {position - start:,} bytes but the "
            f"file holds {data_size:,}; it is truncated or has extra bytes."
        )
    return table


def check_name(name, error=FormatError, path: str = "") -> None:
    """Tensor names: short, printable, no control characters."""
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= MAX_NAME
        or not re.fullmatch(r"[\w.\-/:]+", name, re.ASCII)
    ):
        where = f"{path}: " if path else ""
        raise error(
            f"{where}tensor name {str(name)[:40]!r} is not allowed; use up to "
            f"{MAX_NAME} letters, digits and . _ - / :"
        )


# --- strict JSON ---------------------------------------------------------------------
# Strings are removed before counting brackets: first every escape pair, then
# every quoted run (an unterminated one runs to the end). Both patterns repeat
# a single character class, so the scan is linear in time and constant in memory.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*(?:"|\Z)')
_LONG_NUMBER = re.compile(rf"[0-9]{{{_MAX_INT_DIGITS + 1}}}")
_CHUNK = 1 << 20


def _without_strings(text: str) -> str:
    return _STRING.sub('""', _ESCAPE.sub("", text))


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON ``text``, found without parsing it."""
    return _depth(_without_strings(text))


def _depth(bare: str) -> int:
    data = bare.encode("utf-8", "replace")
    depth = deepest = 0
    for start in range(0, len(data), _CHUNK):  # in chunks, to bound the memory
        b = np.frombuffer(data, np.uint8, min(_CHUNK, len(data) - start), start)
        step = ((b == 0x5B) | (b == 0x7B)).astype(np.int32) - (
            (b == 0x5D) | (b == 0x7D)
        )
        running = np.cumsum(step, dtype=np.int64) + depth
        deepest, depth = max(deepest, int(running.max())), int(running[-1])
    return deepest


def parse_json(text: str, where: str, max_depth: int = MAX_DEPTH):
    """``json.loads`` with limits: depth, number lengths, no NaN, no duplicate keys.

    Depth and number lengths are checked on the text first (strings removed),
    because Python's parser recurses once per level and converts a long
    integer in time quadratic in its digits.
    """
    bare = _without_strings(text)
    if _depth(bare) > max_depth:
        raise FormatError(f"{where}: JSON nested deeper than {max_depth} levels.")
    long_number = _LONG_NUMBER.search(bare)
    if long_number:
        raise FormatError(f"{where}: a number of more than {_MAX_INT_DIGITS} digits.")
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_float=_parse_float,
            parse_constant=_no_constant,
        )
    except FormatError as e:
        raise FormatError(f"{where}: {e}") from None
    except (ValueError, RecursionError) as e:
        raise FormatError(f"{where} is not valid JSON ({str(e)[:80]}).") from None


def _unique_keys(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        raise FormatError("a JSON object repeats a key")
    return out


def _parse_float(s: str) -> float:
    if len(s) > _MAX_FLOAT_CHARS:
        raise FormatError(f"a number of {len(s)} characters")
    value = float(s)
    if not math.isfinite(value):
        raise FormatError(f"the number {s[:20]} is out of range")
    return value


def _no_constant(s: str):
    raise FormatError(f"{s} is not allowed")
