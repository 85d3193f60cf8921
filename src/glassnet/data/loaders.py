"""Bringing your own data: CSV, NumPy files, MNIST-style IDX files, folders of images.

Every loader returns arrays ready for ``fit``: inputs with one sample per
row (images as ``(n, channels, height, width)`` float32), labels as int64
class indices. Files are read as data only: NumPy files with
``allow_pickle=False``, IDX files checked against their declared sizes
before anything is allocated. Nothing is downloaded.

Every loader has a memory bound: only regular files are read (a device such
as ``/dev/zero``, a pipe or a socket is refused, checked on the opened file),
and no file may hold, declare or decompress to more than ``max_bytes``
(:data:`MAX_BYTES`, 1 GiB, by default); CSV lines are at most ``max_line``
bytes (:data:`MAX_LINE`) and images at most ``max_pixels`` pixels
(:data:`MAX_PIXELS`), checked from the image's header before it is decoded.
Pass a larger value to read larger data.

===========================  ===========================================
:func:`load_csv`             a table of numbers with a label column
:func:`load_npy`             one array from a ``.npy`` file
:func:`load_npz`             inputs and labels from a ``.npz`` archive
:func:`load_idx`             one array from an IDX file (``.gz`` too)
:func:`load_mnist`           an IDX image file with its IDX label file
:func:`load_image_folder`    ``root/<class>/<image>``, one folder per class
:func:`load_image`           one image file as a (channels, h, w) array
:func:`load_data`            any of the above, chosen by the path
===========================  ===========================================
"""

from __future__ import annotations

import csv
import gzip
import itertools
import math
import os
import stat
import warnings
import zipfile
import zlib

import numpy as np

from .._validate import shape_str
from ..datasets.digits import Dataset
from ..errors import ConfigError, DataError

__all__ = [
    "load_csv",
    "load_data",
    "load_idx",
    "load_image",
    "load_image_folder",
    "load_mnist",
    "load_npy",
    "load_npz",
]

MAX_BYTES = 1 << 30  # most bytes a loader reads, decompresses or allocates per file
MAX_LINE = 1 << 22  # most bytes in one CSV line (4 MiB: ~400,000 numbers)
MAX_PIXELS = 1 << 26  # most pixels in one image (67 Mpx, e.g. 8192 x 8192)
_CHUNK = 1 << 20  # decompression step


def _open_regular(path, where: str):
    """``(binary file, size)`` for a regular file; refuse devices (``/dev/zero``
    reads forever), pipes, sockets and folders, checked on the opened
    descriptor so a swapped path cannot slip past (opened non-blocking, so a
    pipe without a writer cannot hang us before the check)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataError(
                f"{where}: not a regular file (a device, pipe, socket or folder); "
                "glassnet reads data only from regular files."
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb"), info.st_size


def _check_size(where: str, what: str, nbytes: int, max_bytes: int) -> None:
    if nbytes > max_bytes:
        raise DataError(
            f"{where}: {what} {nbytes:,} bytes, more than max_bytes="
            f"{max_bytes:,}; pass a larger max_bytes to read it."
        )


IMAGE_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
)


# --- CSV ------------------------------------------------------------------------------
def load_csv(
    path,
    label_column=-1,
    *,
    header="auto",
    delimiter: str = ",",
    dtype=np.float32,
    max_bytes: int = MAX_BYTES,
    max_line: int = MAX_LINE,
) -> Dataset:
    """A CSV table: every column is a feature except the label column.

    Parameters
    ----------
    path : str or PathLike
    label_column : int, str or None, default -1
        The labels' column: an index (negative counts from the end) or, with
        a header row, its name. None: no labels (``y`` is None), e.g. for
        :func:`glassnet.predict`.
    header : 'auto', bool
        Whether the first row holds column names; 'auto' says yes when any
        of its cells is not a number.
    delimiter : str
    dtype : float32 or float64
        Of the features.
    max_bytes, max_line : int
        The largest file and line read, in bytes; default
        :data:`MAX_BYTES` (1 GiB) and :data:`MAX_LINE` (4 MiB).

    Returns
    -------
    Dataset
        ``X`` (n, features); ``y`` int64 class indices when the labels are
        whole numbers or words (words are numbered in sorted order, and
        ``classes`` lists them), float32 values when they are other numbers
        (a regression target; ``classes`` is empty).

    Raises
    ------
    DataError
        A cell that is not a number (its row and column are named), rows of
        different lengths, an empty file, text that is not UTF-8, a file or
        line over the limits, or a path that is not a regular file.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "pets.csv")
    >>> text = "weight,ears,kind\\n4.0,2,cat\\n30,2,dog\\n3.5,2,cat\\n"
    >>> _ = open(path, "w").write(text)
    >>> data = load_csv(path, label_column="kind")
    >>> data.X.tolist(), data.y.tolist(), data.classes
    ([[4.0, 2.0], [30.0, 2.0], [3.5, 2.0]], [0, 1, 0], ('cat', 'dog'))
    """
    where = f"load_csv({os.fspath(path)!r})"

    def lines():
        return _csv_lines(path, where, max_bytes, max_line)

    head = lines()
    try:
        first = next(csv.reader(head, delimiter=delimiter), None)
    except csv.Error as e:
        raise DataError(f"{where}: line 1: {e}.") from None
    finally:
        head.close()
    if not first:
        raise DataError(f"{where}: the file is empty.")
    n_cols = len(first)
    if header == "auto":
        header = not all(_is_number(cell) for cell in first)
    names = [c.strip() for c in first] if header else None
    label = _label_index(where, label_column, names, n_cols)
    features = [i for i in range(n_cols) if i != label]
    if not features:
        raise DataError(f"{where}: no feature columns besides the labels.")
    skip = 1 if header else 0
    try:
        with warnings.catch_warnings():  # "no data" is reported below, as an error
            warnings.simplefilter("ignore", UserWarning)
            X = np.loadtxt(
                lines(),
                delimiter=delimiter,
                skiprows=skip,
                usecols=features,
                dtype=dtype,
                ndmin=2,
                quotechar='"',
                comments=None,
            )
            raw = (
                None
                if label is None
                else np.loadtxt(
                    lines(),
                    delimiter=delimiter,
                    skiprows=skip,
                    usecols=[label],
                    dtype=str,
                    ndmin=1,
                    quotechar='"',
                    comments=None,
                )
            )
    except ValueError as e:
        if isinstance(e, DataError):
            raise
        problem = _first_bad_cell(
            lines(), delimiter, skip, features, names, n_cols
        ) or str(e)
        raise DataError(f"{where}: {problem}") from None
    if len(X) == 0:
        raise DataError(f"{where}: no data rows.")
    try:
        y, classes = (None, ()) if raw is None else _labels(raw)
    except DataError as e:
        raise DataError(f"{where}: {e}") from None
    col = names[label] if names and label is not None else label
    return Dataset(
        X,
        y,
        classes,
        f"{os.fspath(path)}: {len(X)} rows, {len(features)} "
        f"features, labels from column {col!r}.",
    )


def _csv_lines(path, where: str, max_bytes: int, max_line: int):
    """The lines of a CSV file as text, read one at a time within the limits; a
    line over ``max_line`` bytes, a file over ``max_bytes`` or a line that is
    not UTF-8 raises DataError naming the line."""
    f, size = _open_regular(path, where)
    with f:
        _check_size(where, "the file has", size, max_bytes)
        total = 0
        for number in itertools.count(1):
            raw = f.readline(max_line + 1)
            if not raw:
                return
            if len(raw) > max_line:
                raise DataError(
                    f"{where}: line {number} is longer than max_line="
                    f"{max_line:,} bytes; pass a larger max_line to read it."
                )
            total += len(raw)
            if total > max_bytes:  # the file grew while being read
                _check_size(where, "the file has more than", total, max_bytes)
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{where}: line {number} is not UTF-8 text ({e.reason} at "
                    f"byte {e.start + 1} of the line); is this a CSV file?"
                ) from None


def _first_bad_cell(lines, delimiter, skip, features, names, n_cols) -> str | None:
    """Say where a CSV table goes wrong, with 1-based line numbers (the slow way,
    only after the fast reader has failed)."""
    rows = csv.reader(lines, delimiter=delimiter)
    try:
        for line, row in enumerate(rows, start=1):
            if line <= skip or not row:
                continue
            if len(row) != n_cols:
                return f"line {line} has {len(row)} cells; the first row has {n_cols}."
            for i in features:
                if not _is_number(row[i]):
                    col = repr(names[i]) if names else i + 1
                    return (
                        f"line {line}, column {col}: {row[i][:40]!r} is not a number; "
                        "every feature cell must be one."
                    )
    except csv.Error as e:
        return f"line {rows.line_num}: {e}."
    return None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _label_index(where, label_column, names, n_cols):
    if label_column is None:
        return None
    if isinstance(label_column, str):
        if names is None:
            raise ConfigError(
                f"{where}: label_column={label_column!r} is a name, but the "
                "file has no header row; give the column's index."
            )
        if label_column not in names:
            raise ConfigError(
                f"{where}: no column named {label_column!r}; the columns are {names}."
            )
        return names.index(label_column)
    if (
        isinstance(label_column, bool)
        or not isinstance(label_column, int)
        or not -n_cols <= label_column < n_cols
    ):
        raise ConfigError(
            f"{where}: label_column must be a column index in "
            f"[{-n_cols}, {n_cols}) or a name; got {label_column!r}."
        )
    return label_column % n_cols


def _labels(raw: np.ndarray):
    """Class indices and class names from a column of label strings."""
    raw = np.char.strip(raw)
    empty = np.flatnonzero(raw == "")
    if empty.size:
        raise DataError(
            f"the label of data row {int(empty[0]) + 1} is empty "
            f"({empty.size} empty labels)."
        )
    try:
        values = raw.astype(np.float64)
    except ValueError:
        classes, y = np.unique(raw, return_inverse=True)
        return y.astype(np.int64), tuple(str(c) for c in classes)
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        y = values.astype(np.int64)
        return y, tuple(int(c) for c in np.unique(y))
    return values.astype(np.float32), ()


# --- NumPy files ----------------------------------------------------------------------
def load_npy(path, *, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """One array from a ``.npy`` file, never unpickling (object arrays are refused).

    Its header's shape and dtype must fit ``max_bytes`` and match the file's
    length before anything is allocated.
    """
    where = f"load_npy({os.fspath(path)!r})"
    f, size = _open_regular(path, where)
    with f:
        _check_npy_header(where, f, max_bytes, size)
        f.seek(0)
        try:
            return np.load(f, allow_pickle=False)
        except (ValueError, EOFError, OSError) as e:
            raise DataError(f"{where}: {e}") from None


def load_npz(
    path,
    x_key: str | None = None,
    y_key: str | None = None,
    *,
    max_bytes: int = MAX_BYTES,
) -> Dataset:
    """Inputs and labels from a ``.npz`` archive.

    ``x_key`` defaults to the first of ``X``, ``x``, ``inputs``, ``data``,
    ``images`` that the archive has, and ``y_key`` to the first of ``y``,
    ``labels``, ``targets`` (``y`` is None when there is none). Every
    member's sizes are checked before it is decompressed: the size its zip
    entry declares, which decompression cannot exceed, and its ``.npy``
    header (dtype, shape), which must agree with it; together the arrays
    read may hold at most ``max_bytes``. ``allow_pickle=False`` refuses
    object arrays.
    """
    where = f"load_npz({os.fspath(path)!r})"
    f, _ = _open_regular(path, where)
    try:
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        f.close()
        raise DataError(f"{where}: not a .npz (zip) archive.") from None
    with f, archive:
        members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
        x_key = _pick(
            where, "x_key", x_key, members, ("X", "x", "inputs", "data", "images")
        )
        y_key = _pick(
            where, "y_key", y_key, members, ("y", "labels", "targets"), required=False
        )
        arrays = {}
        keys = list(dict.fromkeys(filter(None, (x_key, y_key))))
        infos = {key: archive.getinfo(members[key]) for key in keys}
        _check_size(
            where,
            f"the arrays {keys} decompress to",
            sum(info.file_size for info in infos.values()),
            max_bytes,
        )
        for key in keys:
            try:
                with archive.open(infos[key]) as member:
                    _check_npy_header(
                        f"{where}[{key!r}]", member, max_bytes, infos[key].file_size
                    )
                with archive.open(infos[key]) as member:
                    arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
            except (
                ValueError,
                EOFError,
                OSError,
                zipfile.BadZipFile,
                NotImplementedError,  # a compression method zipfile lacks
                RuntimeError,  # an encrypted member
            ) as e:
                if isinstance(e, DataError):
                    raise
                raise DataError(f"{where}[{key!r}]: cannot read it ({e}).") from None
    X = arrays[x_key]
    y = arrays.get(y_key) if y_key else None
    if y is not None and len(y) != len(X):
        raise DataError(
            f"{where}: {x_key!r} has {len(X)} samples but {y_key!r} has {len(y)}."
        )
    classes = (
        tuple(int(c) for c in np.unique(y))
        if y is not None and y.dtype.kind in "iu"
        else ()
    )
    return Dataset(
        X,
        y,
        classes,
        f"{os.fspath(path)}: {x_key!r} {shape_str(X.shape)}"
        + (f", {y_key!r} {shape_str(y.shape)}" if y is not None else ""),
    )


def _pick(where, what, key, members, defaults, required=True):
    if key is not None:
        if key not in members:
            raise ConfigError(f"{where}: no array {key!r}; it holds {sorted(members)}.")
        return key
    for name in defaults:
        if name in members:
            return name
    if required:
        raise ConfigError(
            f"{where}: cannot tell which array holds the inputs; it holds "
            f"{sorted(members)}. Pass {what}=..."
        )
    return None


def _check_npy_header(where: str, f, max_bytes: int, size: int) -> None:
    """The header's dtype and shape: numbers only, at most ``max_bytes``, and
    exactly what the ``size`` bytes of the file (or zip member) hold."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        shape, _, dtype = (
            fmt.read_array_header_1_0(f)
            if version == (1, 0)
            else fmt.read_array_header_2_0(f)
        )
    except (ValueError, EOFError, OSError, TypeError, SyntaxError) as e:
        raise DataError(f"{where}: not a valid .npy array ({e}).") from None
    if dtype.hasobject:
        raise DataError(
            f"{where}: holds Python objects, which would need unpickling; "
            "glassnet loads numbers only."
        )
    nbytes = math.prod(shape) * dtype.itemsize
    _check_size(where, f"declares {shape_str(shape)} {dtype}:", nbytes, max_bytes)
    held = size - f.tell()
    if held != nbytes:
        raise DataError(
            f"{where}: declares {shape_str(shape)} {dtype} = {nbytes:,} bytes "
            f"of data but holds {held:,}."
        )


# --- IDX (MNIST) ----------------------------------------------------------------------
_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def load_idx(path, *, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """One array from an IDX file, the format of MNIST (gzipped ``.gz`` files too).

    The format: two zero bytes, a type code (0x08 unsigned byte ... 0x0E
    float64), the number of dimensions, each dimension as a big-endian
    32-bit integer, then the values. The declared size must equal the data
    exactly, and is checked before anything is allocated.
    """
    where = f"load_idx({os.fspath(path)!r})"
    f, size = _open_regular(path, where)
    packed = os.fspath(path).endswith(".gz")
    try:
        with f, gzip.GzipFile(fileobj=f, mode="rb") if packed else f as src:
            head = src.read(4)
            if (
                len(head) < 4
                or head[:2] != b"\0\0"
                or head[2] not in _IDX_TYPES
                or not 1 <= head[3] <= 8
            ):
                raise DataError(
                    f"{where}: not an IDX file (bad magic number "
                    f"{head.hex() or 'none'})."
                )
            dtype, ndim = _IDX_TYPES[head[2]], head[3]
            dims_raw = src.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise DataError(f"{where}: the file ends inside its dimensions.")
            dims = tuple(
                int.from_bytes(dims_raw[4 * i : 4 * i + 4], "big") for i in range(ndim)
            )
            if 0 in dims:
                raise DataError(
                    f"{where}: declares shape {shape_str(dims)}, with an axis of "
                    "length 0; it holds no data."
                )
            nbytes = math.prod(dims) * dtype.itemsize
            _check_size(where, f"declares {shape_str(dims)}:", nbytes, max_bytes)
            if not packed and size - 4 - 4 * ndim != nbytes:  # before allocating
                _idx_mismatch(where, dims, nbytes, size - 4 - 4 * ndim)
            data = bytearray()
            while len(data) <= nbytes:  # in steps: never more than declared + 1
                chunk = src.read(min(_CHUNK, nbytes + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{where}: cannot read it ({e}).") from None
    if len(data) != nbytes:
        _idx_mismatch(where, dims, nbytes, len(data))
    array = np.frombuffer(data, dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _idx_mismatch(where, dims, nbytes, held):
    raise DataError(
        f"{where}: declares {shape_str(dims)} = {nbytes:,} bytes of data "
        f"but holds {'more' if held > nbytes else f'{held:,}'}."
    )


def load_mnist(images_path, labels_path, *, scale: bool = True) -> Dataset:
    """MNIST-style images and labels from two IDX files.

    Returns ``X`` float32 (n, 1, rows, cols), divided by 255 when ``scale``
    (pixels in [0, 1]), and ``y`` int64 (n,).
    """
    images, labels = load_idx(images_path), load_idx(labels_path)
    if images.ndim != 3:
        raise DataError(
            f"load_mnist: {os.fspath(images_path)!r} holds shape "
            f"{shape_str(images.shape)}; expected (n, rows, cols) images."
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"load_mnist: {len(images)} images but labels of shape "
            f"{shape_str(labels.shape)}; expected ({len(images)},)."
        )
    X = images[:, None].astype(np.float32)
    if scale:
        X /= 255.0
    y = labels.astype(np.int64)
    return Dataset(
        X,
        y,
        tuple(int(c) for c in np.unique(y)),
        f"IDX images {os.fspath(images_path)}, labels {os.fspath(labels_path)}",
    )


# --- images ---------------------------------------------------------------------------
def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "reading images needs Pillow: pip install glassnet[images]"
        ) from None
    return Image


def _check_image_options(where, size, color):
    if color not in ("grayscale", "rgb"):
        raise ConfigError(
            f"{where}: color must be 'grayscale' or 'rgb'; got {color!r}."
        )
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 < s <= 8192
            for s in size
        )
    ):
        raise ConfigError(
            f"{where}: size must be (height, width) in pixels; got {size!r}."
        )
    return int(size[0]), int(size[1])


def load_image(
    path, size=None, color: str = "grayscale", *, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """One image file as float32 (channels, height, width) with values in [0, 1].

    ``size`` (height, width) resizes it; ``color`` 'grayscale' gives one
    channel, 'rgb' three. An image of more than ``max_pixels`` pixels
    (:data:`MAX_PIXELS`) is refused from its header, before it is decoded.
    Needs Pillow (``pip install glassnet[images]``).
    """
    where = f"load_image({os.fspath(path)!r})"
    size = _check_image_options(where, size, color)
    Image = _pillow()
    f, _ = _open_regular(path, where)
    try:
        with f, warnings.catch_warnings():  # max_pixels is the limit that counts
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(f) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise DataError(
                        f"{where}: {width} x {height} = {width * height:,} pixels, "
                        f"more than max_pixels={max_pixels:,}; pass a larger "
                        "max_pixels to read it."
                    )
                img = img.convert("L" if color == "grayscale" else "RGB")
                if size is not None and img.size != (size[1], size[0]):
                    img = img.resize((size[1], size[0]), Image.BILINEAR)
                arr = np.asarray(img, dtype=np.float32) / 255.0
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{where}: cannot read it as an image ({e}).") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def load_image_folder(
    root, size=(32, 32), color: str = "grayscale", *, max_pixels: int = MAX_PIXELS
) -> Dataset:
    """A folder with one sub-folder per class, each holding that class's images.

    ::

        root/hot_dog/001.jpg, root/hot_dog/002.png, ...
        root/not_hot_dog/...

    Classes are the sub-folder names in sorted order (``y`` holds their
    index); files are read in sorted order, so the result is the same every
    time. Files whose names do not end in a known image suffix
    (``.png .jpg .jpeg .bmp .gif .tif .tiff .webp .ppm .pgm``) and hidden
    files are skipped.

    Parameters
    ----------
    root : str or PathLike
    size : (int, int) or int or None, default (32, 32)
        Every image is resized to (height, width). None keeps the sizes,
        which must then all agree.
    color : {'grayscale', 'rgb'}
        One channel or three.
    max_pixels : int
        The largest image read, in pixels (:data:`MAX_PIXELS`); checked
        from each image's header before it is decoded.

    Returns
    -------
    Dataset
        ``X`` float32 (n, channels, height, width) in [0, 1], ``y`` int64
        (n,), ``classes`` the folder names.

    Needs Pillow: ``pip install glassnet[images]``.
    """
    where = f"load_image_folder({os.fspath(root)!r})"
    size = _check_image_options(where, size, color)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{where}: no such folder.")
    classes = sorted(
        d.name for d in os.scandir(root) if d.is_dir() and not d.name.startswith(".")
    )
    if not classes:
        raise DataError(
            f"{where}: no class sub-folders; expected root/<class>/<image>."
        )
    _pillow()
    images, labels = [], []
    for index, name in enumerate(classes):
        folder = os.path.join(root, name)
        files = sorted(
            f
            for f in os.listdir(folder)
            if not f.startswith(".") and f.lower().endswith(IMAGE_SUFFIXES)
        )
        if not files:
            raise DataError(f"{where}: class folder {name!r} holds no images.")
        for file in files:
            images.append(
                load_image(
                    os.path.join(folder, file), size, color, max_pixels=max_pixels
                )
            )
            labels.append(index)
    shapes = {img.shape for img in images}
    if len(shapes) > 1:
        raise DataError(
            f"{where}: images have different sizes {sorted(shapes)[:4]}; pass "
            "size=(height, width) to resize them all."
        )
    return Dataset(
        np.stack(images),
        np.array(labels, np.int64),
        tuple(classes),
        f"{os.fspath(root)}: {len(images)} images in {len(classes)} classes",
    )


# --- choosing by path -----------------------------------------------------------------
def load_data(path, **options) -> Dataset:
    """Load ``path`` with the loader its name calls for.

    A folder: :func:`load_image_folder`; ``.csv``: :func:`load_csv`;
    ``.npz``: :func:`load_npz`; ``.npy``: :func:`load_npy` (no labels);
    ``-ubyte``/``.idx`` (optionally ``.gz``): :func:`load_idx` (no labels).
    ``options`` go to that loader.
    """
    p = os.fspath(path)
    name = p.lower()
    if os.path.isdir(p):
        return load_image_folder(p, **options)
    if not os.path.exists(p):
        raise FileNotFoundError(f"no such file or folder: {p!r}")
    if name.endswith((".csv", ".tsv")):
        if name.endswith(".tsv"):
            options.setdefault("delimiter", "\t")
        return load_csv(p, **options)
    if name.endswith(".npz"):
        return load_npz(p, **options)
    if name.endswith(".npy"):
        X = load_npy(p, **options)
        return Dataset(X, None, (), f"{p}: {shape_str(X.shape)}")
    if name.endswith((".idx", "-ubyte", ".idx.gz", "-ubyte.gz")):
        X = load_idx(p, **options)
        return Dataset(X, None, (), f"{p}: {shape_str(X.shape)}")
    raise ConfigError(
        f"cannot tell how to read {p!r} from its name; use a .csv, .tsv, "
        ".npy, .npz or IDX (-ubyte, .idx) file or an image folder."
    )
