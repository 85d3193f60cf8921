"""Data loaders (CSV, NumPy, IDX, image folders) on files the tests write."""

import gzip
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_io import _SideEffect

from glassnet.data import loaders
from glassnet.errors import ConfigError, DataError


# --- CSV ------------------------------------------------------------------------------
def test_csv_with_header_and_word_labels(tmp_path):
    path = tmp_path / "pets.csv"
    path.write_text("weight,ears,kind\n4.0,2,cat\n30,2,dog\n3.5,2,cat\n12,2, dog\n")
    data = loaders.load_csv(path, label_column="kind")
    assert data.X.dtype == np.float32 and data.X.shape == (4, 2)
    assert data.y.tolist() == [0, 1, 0, 1] and data.classes == ("cat", "dog")


def test_csv_without_header_integer_labels_first_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("3,0.5,1\n1,0.25,2\n")
    data = loaders.load_csv(path, label_column=0, dtype=np.float64)
    assert data.X.tolist() == [[0.5, 1.0], [0.25, 2.0]] and data.X.dtype == np.float64
    assert data.y.tolist() == [3, 1] and data.y.dtype == np.int64
    assert data.classes == (1, 3)


def test_csv_regression_targets_and_no_labels(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("x1,x2,y\n1,2,0.5\n3,4,1.25\n")
    data = loaders.load_csv(path)
    assert data.y.dtype == np.float32 and data.y.tolist() == [0.5, 1.25]
    assert data.classes == ()
    assert loaders.load_csv(path, label_column=None).X.shape == (2, 3)


def test_csv_quoted_cells_and_other_delimiters(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a;b;label\n"1.5";2;"x"\n3;4;"y"\n')
    data = loaders.load_csv(path, delimiter=";")
    assert data.X.tolist() == [[1.5, 2.0], [3.0, 4.0]] and data.classes == ("x", "y")


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b,c\n1,2,0\n3,x,1\n", "line 3, column 'b': 'x' is not a number"),
        ("1,2,0\n3,4\n", "line 2 has 2 cells; the first row has 3"),
        ("a,b,c\n1,,0\n", "line 2, column 'b': '' is not a number"),
        ("a,b,c\n1,2,\n", "label of data row 1 is empty"),
        ("", "empty"),
        ("a,b,c\n", "no data rows"),
    ],
)
def test_csv_mistakes_are_named(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        loaders.load_csv(path)


def test_csv_label_column_is_checked(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="no column named 'c'"):
        loaders.load_csv(path, label_column="c")
    with pytest.raises(ConfigError, match="column index"):
        loaders.load_csv(path, label_column=5)
    path.write_text("1,2\n")
    with pytest.raises(ConfigError, match="no header row"):
        loaders.load_csv(path, label_column="b")


# --- NumPy files ----------------------------------------------------------------------
def test_npy_and_npz(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "x.npy", X)
    assert np.array_equal(loaders.load_npy(tmp_path / "x.npy"), X)
    np.savez(tmp_path / "d.npz", X=X, y=np.array([0, 1, 1]))
    data = loaders.load_npz(tmp_path / "d.npz")
    assert (
        np.array_equal(data.X, X)
        and data.y.tolist() == [0, 1, 1]
        and data.classes == (0, 1)
    )
    np.savez(tmp_path / "e.npz", images=X, labels=np.array([1, 1, 0]))
    assert loaders.load_npz(tmp_path / "e.npz").y.tolist() == [1, 1, 0]
    np.savez(tmp_path / "f.npz", a=X, b=X)
    with pytest.raises(ConfigError, match="x_key"):
        loaders.load_npz(tmp_path / "f.npz")
    assert loaders.load_npz(tmp_path / "f.npz", x_key="a").y is None


def test_numpy_files_are_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    arr = np.empty(1, dtype=object)
    arr[0] = _SideEffect(marker)
    np.save(tmp_path / "o.npy", arr, allow_pickle=True)
    np.savez(tmp_path / "o.npz", X=arr)
    with pytest.raises(DataError, match="Python objects"):
        loaders.load_npy(tmp_path / "o.npy")
    with pytest.raises(DataError, match="Python objects"):
        loaders.load_npz(tmp_path / "o.npz")
    (tmp_path / "p.npy").write_bytes(pickle.dumps(_SideEffect(marker)))
    with pytest.raises(DataError):
        loaders.load_npy(tmp_path / "p.npy")
    assert not marker.exists()


def test_npy_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**9)}
    )
    (tmp_path / "huge.npy").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="max_bytes"):
        loaders.load_npy(tmp_path / "huge.npy")


# --- IDX ------------------------------------------------------------------------------
def _idx(arr: np.ndarray, code: int) -> bytes:
    head = bytes([0, 0, code, arr.ndim]) + b"".join(
        d.to_bytes(4, "big") for d in arr.shape
    )
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def test_idx_files_and_an_mnist_pair(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(images, 0x08))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(_idx(np.array([7, 2], np.uint8), 0x08))
    )
    assert np.array_equal(
        loaders.load_idx(tmp_path / "train-images-idx3-ubyte"), images
    )
    data = loaders.load_mnist(
        tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte.gz"
    )
    assert data.X.shape == (2, 1, 3, 4) and data.X.dtype == np.float32
    assert data.X.max() == pytest.approx(23 / 255) and data.y.tolist() == [7, 2]
    floats = np.linspace(-1, 1, 6).reshape(2, 3)
    (tmp_path / "f.idx").write_bytes(_idx(floats, 0x0E))
    assert np.array_equal(loaders.load_idx(tmp_path / "f.idx"), floats)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x00\x01\x08\x01\x00\x00\x00\x01\x05", "magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "magic"),
        (b"\x00\x00\x08\x00", "magic"),
        (b"\x00\x00\x08\x02\x00\x00", "inside its dimensions"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", "holds 2"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "holds more"),
        (
            b"\x00\x00\x0e\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            "max_bytes",
        ),
        (b"", "magic"),
    ],
)
def test_bad_idx_files(tmp_path, raw, message):
    (tmp_path / "bad.idx").write_bytes(raw)
    with pytest.raises(DataError, match=message):
        loaders.load_idx(tmp_path / "bad.idx")


def test_mnist_pair_must_agree(tmp_path):
    (tmp_path / "i").write_bytes(_idx(np.zeros((3, 2, 2), np.uint8), 0x08))
    (tmp_path / "l").write_bytes(_idx(np.zeros(2, np.uint8), 0x08))
    with pytest.raises(DataError, match="3 images"):
        loaders.load_mnist(tmp_path / "i", tmp_path / "l")


# --- image folders --------------------------------------------------------------------
def _image_folder(root):
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, n in (("hot_dog", 3), ("not_hot_dog", 2)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, size=(20 + i, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
        (root / name / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()


def test_image_folder_grayscale_and_rgb(tmp_path):
    pytest.importorskip("PIL")
    _image_folder(tmp_path / "photos")
    data = loaders.load_image_folder(tmp_path / "photos", size=(8, 10))
    assert data.X.shape == (5, 1, 8, 10) and data.X.dtype == np.float32
    assert 0 <= data.X.min() and data.X.max() <= 1
    assert data.y.tolist() == [0, 0, 0, 1, 1] and data.classes == (
        "hot_dog",
        "not_hot_dog",
    )
    rgb = loaders.load_image_folder(tmp_path / "photos", size=12, color="rgb")
    assert rgb.X.shape == (5, 3, 12, 12)
    one = loaders.load_image(tmp_path / "photos" / "hot_dog" / "0.png", color="rgb")
    assert one.shape == (3, 20, 30)
    with pytest.raises(DataError, match="different sizes"):
        loaders.load_image_folder(tmp_path / "photos", size=None)


def test_image_folder_mistakes(tmp_path):
    pytest.importorskip("PIL")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        loaders.load_image_folder(tmp_path / "empty")
    (tmp_path / "empty" / "cats").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        loaders.load_image_folder(tmp_path / "empty")
    (tmp_path / "empty" / "cats" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        loaders.load_image_folder(tmp_path / "empty")
    with pytest.raises(ConfigError, match="color"):
        loaders.load_image_folder(tmp_path / "empty", color="cmyk")
    with pytest.raises(FileNotFoundError):
        loaders.load_image_folder(tmp_path / "nowhere")


def test_without_pillow_the_error_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "photos" / "a").mkdir(parents=True)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install glassnet\[images\]"):
        loaders.load_image_folder(tmp_path / "photos")


# --- choosing by name -----------------------------------------------------------------
def test_load_data_chooses_by_path(tmp_path):
    (tmp_path / "d.csv").write_text("1,2,0\n3,4,1\n")
    assert loaders.load_data(tmp_path / "d.csv").y.tolist() == [0, 1]
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    assert loaders.load_data(tmp_path / "x.npy").y is None
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(
        _idx(np.array([1, 2], np.uint8), 8)
    )
    assert loaders.load_data(tmp_path / "t10k-labels-idx1-ubyte").X.tolist() == [1, 2]
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ConfigError, match="cannot tell how to read"):
        loaders.load_data(tmp_path / "x.json")
    with pytest.raises(FileNotFoundError):
        loaders.load_data(tmp_path / "missing.csv")


def test_docstring_examples():
    import doctest

    result = doctest.testmod(loaders)
    assert result.failed == 0 and result.attempted > 0


# --- memory bounds on hostile files (issue 14, items 14 and 16) ----------------------
CAPPED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from glassnet.data import loaders
try:
    getattr(loaders, sys.argv[1])(sys.argv[2])
except Exception as e:
    print(type(e).__name__, e)
"""


def _capped(function, path):
    """``loaders.FUNCTION(path)`` in a child with at most 2 GiB of address space,
    so a loader that reads without bound fails there (MemoryError, or the
    timeout for a pipe that blocks) instead of exhausting this machine."""
    import glassnet

    env = {
        **os.environ,
        "PYTHONPATH": str(Path(glassnet.__file__).resolve().parents[1]),
        "OPENBLAS_NUM_THREADS": "1",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", CAPPED, function, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "timed out"
    return (done.stdout + done.stderr).strip()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs /dev/zero and FIFOs")
@pytest.mark.parametrize(
    "function, name",
    [
        ("load_csv", "data.csv"),
        ("load_idx", "x.idx"),
        ("load_idx", "x.idx.gz"),
        ("load_npy", "x.npy"),
        ("load_npz", "x.npz"),
        ("load_image", "x.png"),
        ("load_data", "data.csv"),
    ],
)
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_special_files_are_refused(tmp_path, function, name, special):
    """A data.csv linked to /dev/zero once read one endless line; a FIFO blocked."""
    path = tmp_path / name
    if special == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(special)
    said = _capped(function, path)
    assert said.startswith("DataError") and "not a regular file" in said, said


def test_csv_lines_and_size_are_capped(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("1,2,0\n" + ",".join(["7"] * 40) + "\n")
    with pytest.raises(DataError, match="line 2 is longer than max_line=50"):
        loaders.load_csv(path, max_line=50)
    with pytest.raises(DataError, match="more than max_bytes=60; pass a larger"):
        loaders.load_csv(path, max_bytes=60)
    path.write_text("1,2,0\n3,4,1\n")
    assert loaders.load_csv(path, max_line=6, max_bytes=12).X.shape == (2, 2)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"1,2,0\n\xff\xfe\x00\x81,1,1\n", "line 2 is not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 1 is not UTF-8"),
        (b"x" * 200_000 + b",1\n", "field larger than field limit"),
        (b'a,b\n1,2\n"' + b"y" * 200_000 + b'",1\n', "line 3: field larger"),
    ],
)
def test_binary_and_broken_csv_are_data_errors(tmp_path, raw, message):
    (tmp_path / "bad.csv").write_bytes(raw)
    with pytest.raises(DataError, match=message):
        loaders.load_csv(tmp_path / "bad.csv")


def _peak_while(fn):
    """(what fn raised, the most memory traced while it ran)."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    except DataError as e:
        error = e
    else:
        error = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak


def test_idx_header_declaring_more_than_the_file_is_refused_before_allocating(tmp_path):
    """A 12-byte file declaring 30000x30000 bytes used to allocate 900 MB first."""
    path = tmp_path / "liar-ubyte"
    path.write_bytes(bytes([0, 0, 8, 2]) + (30000).to_bytes(4, "big") * 2)
    error, peak = _peak_while(lambda: loaders.load_idx(path))
    assert "declares (30000, 30000) = 900,000,000 bytes of data but holds 0" in str(
        error
    )
    assert peak < 1 << 20


def test_gzipped_idx_is_decompressed_in_bounded_steps(tmp_path):
    """A 62 KB .gz declaring 64 MiB used to peak at 13 times that."""
    n = 64 << 20
    head = bytes([0, 0, 8, 1]) + n.to_bytes(4, "big")
    path = tmp_path / "zeros-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head)
        for _ in range(n >> 20):
            f.write(bytes(1 << 20))
    error, peak = _peak_while(lambda: loaders.load_idx(path))
    assert error is None and peak < n * 1.25  # the array itself, and little else
    bomb = tmp_path / "bomb-ubyte.gz"  # declares 1 KiB, decompresses to 64 MiB
    bomb.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 4, 0]) + bytes(n), 1))
    error, peak = _peak_while(lambda: loaders.load_idx(bomb))
    assert "but holds more" in str(error) and peak < 4 << 20


def test_idx_with_an_empty_axis_is_a_data_error(tmp_path):
    path = tmp_path / "empty-ubyte"
    path.write_bytes(
        bytes([0, 0, 8, 3]) + (0).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    )
    with pytest.raises(DataError, match=r"declares shape \(0, 28, 28\), with an axis"):
        loaders.load_idx(path)


def _npz_with(tmp_path, header_shape, payload: bytes, compress=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": header_shape}
    )
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w", compress) as z:
        z.writestr("X.npy", buf.getvalue() + payload)
    return path


def test_npz_member_declaring_more_than_max_bytes_is_refused_before_allocating(
    tmp_path,
):
    """2**28 + 1 float32s is just over the default 1 GiB: refused from the header."""
    path = _npz_with(tmp_path, (2**28 + 1,), bytes(64))
    error, peak = _peak_while(lambda: loaders.load_npz(path))
    assert "1,073,741,828 bytes, more than max_bytes=1,073,741,824" in str(error)
    assert peak < 1 << 20


def test_npz_member_must_hold_what_its_header_declares(tmp_path):
    path = _npz_with(tmp_path, (4,), bytes(16 + (8 << 20)))  # 8 MiB hidden after it
    with pytest.raises(
        DataError,
        match=r"declares \(4,\) float32 = 16 bytes of data "
        r"but holds 8,388,624",
    ):
        loaders.load_npz(path)
    path = _npz_with(tmp_path, (2, 2), bytes(16))
    assert loaders.load_npz(path).X.shape == (2, 2)
    with pytest.raises(DataError, match=r"decompress to 144 bytes, more than "):
        loaders.load_npz(path, max_bytes=100)


def test_npy_must_hold_what_its_header_declares(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(4, np.float32))
    with open(tmp_path / "x.npy", "ab") as f:
        f.write(bytes(100))
    with pytest.raises(DataError, match="16 bytes of data but holds 116"):
        loaders.load_npy(tmp_path / "x.npy")


def _png_of(path, width, height):
    """A black grayscale PNG written row by row (no image of that size in memory)."""
    import struct
    import zlib

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    packer = zlib.compressobj(9)
    row = bytes(width + 1)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def test_images_over_max_pixels_are_refused_before_decoding(tmp_path):
    """100 Mpx is over Pillow's warning size but under its error size: it used to
    be decoded in full (and turned into 400 MB of floats)."""
    pytest.importorskip("PIL")
    _png_of(tmp_path / "huge.png", 10_000, 10_000)
    error, peak = _peak_while(lambda: loaders.load_image(tmp_path / "huge.png"))
    assert "10000 x 10000 = 100,000,000 pixels, more than max_pixels=" in str(error)
    assert peak < 4 << 20
    _png_of(tmp_path / "small.png", 30, 20)
    with pytest.raises(DataError, match="600 pixels, more than max_pixels=599"):
        loaders.load_image(tmp_path / "small.png", max_pixels=599)
    assert loaders.load_image(tmp_path / "small.png", max_pixels=600).shape == (
        1,
        20,
        30,
    )
