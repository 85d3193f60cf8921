"""Data loaders (CSV, NumPy, IDX, image folders) on files the tests write."""

import gzip
import io
import pickle
import sys

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
