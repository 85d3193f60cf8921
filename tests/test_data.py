"""The bundled digits and the data transforms: split, standardise, one-hot, batch."""

from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassnet.data.transforms import (
    Standardizer,
    batches,
    flatten,
    one_hot,
    train_test_split,
)
from glassnet.datasets.digits import Dataset, digits
from glassnet.errors import ConfigError, DataError, DTypeError, ShapeError

# Images per digit 0..9 in scikit-learn's load_digits.
SKLEARN_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]

quick = settings(max_examples=60, deadline=None)


# --- digits -----------------------------------------------------------------


def test_digits_shapes_dtypes_and_range():
    ds = digits()
    assert isinstance(ds, Dataset)
    assert ds.X.shape == (1797, 8, 8) and ds.X.dtype == np.float32
    assert ds.y.shape == (1797,) and ds.y.dtype == np.int64
    assert ds.X.min() == 0 and ds.X.max() == 16
    assert np.array_equal(ds.X, np.round(ds.X))
    assert ds.classes == tuple(range(10))


def test_digits_class_counts_match_sklearn():
    counts = np.bincount(digits().y, minlength=10)
    assert counts.tolist() == SKLEARN_COUNTS
    assert 174 <= counts.min() and counts.max() <= 183


def test_digits_content_fingerprint():
    ds = digits(dtype=np.float64)
    # First image, first row, and first labels of the file, and the total ink:
    # they catch a re-encoded or re-ordered digits.npz.
    assert ds.X[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert ds.y[:10].tolist() == list(range(10))
    assert ds.X.sum() == 561718


def test_digits_flatten_and_dtype():
    grid = digits()
    flat = digits(flatten=True, dtype=np.float64)
    assert flat.X.shape == (1797, 64) and flat.X.dtype == np.float64
    assert np.array_equal(flat.X, grid.X.reshape(1797, 64))


def test_digits_classes_keeps_those_digits_in_file_order():
    full = digits()
    zero_one = digits(classes=[1, 0, 1])
    assert zero_one.classes == (0, 1)
    assert len(zero_one.y) == 178 + 182
    mask = full.y <= 1
    assert np.array_equal(zero_one.X, full.X[mask])
    assert np.array_equal(zero_one.y, full.y[mask])
    three_eight = digits(classes=np.array([8, 3]))
    assert three_eight.classes == (3, 8)
    assert set(three_eight.y.tolist()) == {3, 8}
    renumbered = np.searchsorted(three_eight.classes, three_eight.y)
    assert np.array_equal(renumbered, (three_eight.y == 8).astype(int))


def test_digits_returns_fresh_arrays():
    first = digits()
    first.X[:] = -1
    first.y[:] = -1
    again = digits()
    assert again.X.min() == 0 and again.y.min() == 0


@pytest.mark.parametrize(
    "classes, words",
    [
        ([10], "got 10"),
        ([0, -1], "got -1"),
        ([1.0], "got 1.0"),
        ([True], "got True"),
        ("01", "iterable of digits"),
        (3, "classes=[0, 1]"),
        ([], "empty"),
    ],
)
def test_digits_rejects_bad_classes(classes, words):
    with pytest.raises(ConfigError, match="digits\\(\\)") as info:
        digits(classes=classes)
    assert words in str(info.value)


def test_digits_rejects_non_float_dtype():
    with pytest.raises(DTypeError, match="int32"):
        digits(dtype=np.int32)


def test_digits_attribution_in_descr_and_license_file():
    text = resources.files("glassnet.datasets").joinpath("_files")
    license_text = text.joinpath("DIGITS_LICENSE.txt").read_text(encoding="utf-8")
    for needle in ["Alpaydin", "Kaynak", "CC BY 4.0", "10.24432/C50P49", "UCI"]:
        assert needle in digits().DESCR
        assert needle in license_text


# --- train_test_split -------------------------------------------------------


def test_split_is_a_partition_with_the_requested_size():
    ids = np.arange(1797)
    y = digits().y
    i_train, i_test, y_train, y_test = train_test_split(ids, y, test_size=0.25)
    assert len(i_test) == 450  # ceil(0.25 * 1797)
    assert len(i_train) == 1797 - 450
    assert np.array_equal(np.sort(np.concatenate([i_train, i_test])), ids)
    assert np.array_equal(y_train, y[i_train])
    assert np.array_equal(y_test, y[i_test])


def test_split_keeps_digit_proportions():
    y = digits().y
    _, _, _, y_test = train_test_split(y, y, test_size=0.2, seed=3)
    exact = np.bincount(y, minlength=10) * len(y_test) / len(y)
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - exact) < 1)


@quick
@given(
    labels=st.lists(st.integers(0, 5), min_size=2, max_size=300),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_stratification_within_one_sample_per_class(labels, fraction, seed):
    y = np.array(labels)
    n = len(y)
    n_test = int(np.ceil(round(fraction * n, 9)))
    if n_test >= n:
        with pytest.raises(ConfigError, match="leaves none for training"):
            train_test_split(y, y, test_size=fraction, seed=seed)
        return
    X_train, X_test, y_train, y_test = train_test_split(
        y, y, test_size=fraction, seed=seed
    )
    assert len(y_test) == n_test and len(y_train) == n - n_test
    counts = np.bincount(y, minlength=6)
    exact = counts * n_test / n
    assert np.all(np.abs(np.bincount(y_test, minlength=6) - exact) < 1)
    assert np.array_equal(
        np.bincount(y_train, minlength=6) + np.bincount(y_test, minlength=6), counts
    )


def test_split_is_reproducible_and_depends_on_seed():
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50) % 3
    a = train_test_split(X, y, seed=7)
    b = train_test_split(X, y, seed=7)
    c = train_test_split(X, y, seed=8)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])


def test_split_without_stratify_and_with_int_test_size():
    ids = np.arange(20)
    i_train, i_test, _, _ = train_test_split(ids, ids, test_size=6, stratify=False)
    assert len(i_test) == 6
    assert np.array_equal(np.sort(np.concatenate([i_train, i_test])), ids)


def test_split_float_test_size_is_not_bumped_by_rounding_error():
    ids = np.arange(10)
    assert len(train_test_split(ids, ids, test_size=0.3)[1]) == 3


def test_split_stratifies_one_hot_rows():
    y = one_hot(np.array([0] * 12 + [1] * 8), num_classes=2)
    _, _, _, y_test = train_test_split(np.zeros((20, 3)), y, test_size=0.25)
    assert y_test.sum(axis=0).tolist() == [3.0, 2.0]


def test_split_errors():
    with pytest.raises(DataError, match="X has 10 and y has 9"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(DataError, match="at least 2 samples"):
        train_test_split(np.zeros((1, 2)), np.zeros(1))
    for bad in [0.0, 1.0, 1.5, -0.1, "0.2", True, None]:
        with pytest.raises(ConfigError, match="test_size must be a fraction"):
            train_test_split(np.zeros(10), np.zeros(10), test_size=bad)
    for bad in [0, 10, -1]:
        with pytest.raises(ConfigError, match="between 1 and 9 for 10 samples"):
            train_test_split(np.zeros(10), np.zeros(10), test_size=bad)
    with pytest.raises(ConfigError, match="leaves none for training"):
        train_test_split(np.zeros(3), np.zeros(3), test_size=0.9)
    with pytest.raises(ConfigError, match="seed must be"):
        train_test_split(np.zeros(10), np.zeros(10), seed=-1)
    with pytest.raises(ShapeError, match="got a scalar"):
        train_test_split(5, np.zeros(1))


# --- Standardizer -----------------------------------------------------------


def test_standardizer_learns_only_from_training_data():
    ds = digits(flatten=True)
    X_train, X_test, _, _ = train_test_split(ds.X, ds.y, seed=1)
    s = Standardizer().fit(X_train)
    assert np.allclose(s.mean_, X_train.mean(axis=0, dtype=np.float64))
    assert not np.allclose(s.mean_, ds.X.mean(axis=0, dtype=np.float64))
    mean_before = s.mean_.copy()
    Z_test = s.transform(X_test)
    assert np.array_equal(s.mean_, mean_before)  # transform never refits
    assert np.allclose(Z_test, (X_test - s.mean_) / s.scale_, atol=1e-5)

    Z_train = s.transform(X_train)
    varies = X_train.std(axis=0) > 0
    assert np.allclose(Z_train.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(Z_train.std(axis=0)[varies], 1, atol=1e-4)


def test_standardizer_only_centres_constant_features():
    X = np.array([[0.1, 1.0], [0.1, 3.0], [0.1, 5.0]])
    s = Standardizer().fit(X)
    assert s.scale_.tolist() == [1.0, np.std([1.0, 3.0, 5.0])]
    Z = s.transform(X)
    assert Z[:, 0].tolist() == [0.0, 0.0, 0.0]
    # The blank corner pixels of the digits are constant too: no warning, no NaN.
    Zd = Standardizer().fit_transform(digits(flatten=True).X)
    assert np.isfinite(Zd).all() and np.all(Zd[:, 0] == 0)


@pytest.mark.parametrize(
    "dtype, expected",
    [(np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float32)],
)
def test_standardizer_dtype(dtype, expected):
    X = np.arange(12).reshape(4, 3).astype(dtype)
    s = Standardizer()
    assert s.fit_transform(X).dtype == expected
    assert s.inverse_transform(s.transform(X)).dtype == expected


def test_standardizer_images_per_pixel():
    X = digits().X
    s = Standardizer().fit(X)
    assert s.mean_.shape == (8, 8)
    X_flat = X.reshape(1797, 64)
    by_row = Standardizer().fit(X_flat).transform(X_flat)
    assert np.allclose(s.transform(X).reshape(1797, 64), by_row)


@quick
@given(
    X=st.integers(1, 30).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3),
            min_size=n,
            max_size=n,
        )
    )
)
def test_standardizer_inverse_round_trip(X):
    X = np.array(X, dtype=np.float64)
    s = Standardizer().fit(X)
    assert np.allclose(s.inverse_transform(s.transform(X)), X, atol=1e-8)


def test_standardizer_errors():
    s = Standardizer()
    assert repr(s) == "Standardizer(not fitted)"
    with pytest.raises(ConfigError, match="transform was called before fit"):
        s.transform(np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="before fit"):
        s.inverse_transform(np.zeros((2, 3)))
    s.fit(np.ones((5, 64)))
    assert repr(s) == "Standardizer(fitted on 64 features)"
    with pytest.raises(ShapeError, match="fitted on 64 features") as info:
        s.transform(np.zeros((10, 63)))
    assert "63 features" in str(info.value)
    with pytest.raises(ShapeError, match="reshape\\(-1, 1\\)"):
        Standardizer().fit(np.zeros(5))
    with pytest.raises(DataError, match="NaN"):
        Standardizer().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(DataError, match="no samples"):
        Standardizer().fit(np.zeros((0, 3)))
    with pytest.raises(DTypeError, match="expected numbers"):
        Standardizer().fit(np.array([["a", "b"]]))


# --- one_hot and flatten ----------------------------------------------------


@quick
@given(
    labels=st.lists(st.integers(0, 9), max_size=50),
    extra=st.integers(0, 3),
)
def test_one_hot_round_trip(labels, extra):
    y = np.array(labels, dtype=np.int64)
    k = (int(y.max()) + 1 if y.size else 1) + extra
    Y = one_hot(y, num_classes=k)
    assert Y.shape == (len(y), k) and Y.dtype == np.float32
    assert np.all(Y.sum(axis=1) == 1)
    assert np.array_equal(Y.argmax(axis=1), y)


def test_one_hot_shapes_and_dtypes():
    Y = one_hot(np.array([[0, 2], [1, 1]]), dtype=np.int8)
    assert Y.shape == (2, 2, 3) and Y.dtype == np.int8
    assert Y[0, 1].tolist() == [0, 0, 1]
    assert one_hot(np.array([1.0, 0.0])).tolist() == [[0, 1], [1, 0]]
    assert one_hot([True, False]).tolist() == [[0, 1], [1, 0]]


def test_one_hot_errors_name_the_label():
    with pytest.raises(DataError, match="label 5 at index 3 is outside \\[0, 5\\)"):
        one_hot([0, 1, 4, 5, 7], num_classes=5)
    with pytest.raises(DataError, match="2 label\\(s\\) are out of range"):
        one_hot([0, 1, 4, 5, 7], num_classes=5)
    with pytest.raises(DataError, match="label -1 at index 1 .*inferred"):
        one_hot([2, -1])
    with pytest.raises(DataError, match="label 3 at index \\(1, 0\\)"):
        one_hot([[0, 1], [3, 0]], num_classes=3)
    with pytest.raises(DataError, match="whole numbers; got 2.5 at index 1"):
        one_hot([1.0, 2.5])
    with pytest.raises(DataError, match="whole numbers; got nan"):
        one_hot([np.nan])
    with pytest.raises(DTypeError, match="labels must be integers"):
        one_hot(["cat", "dog"])
    with pytest.raises(ConfigError, match="num_classes must be a positive integer"):
        one_hot([0], num_classes=0)
    with pytest.raises(DataError, match="pass num_classes"):
        one_hot([])


def test_flatten():
    photo = np.zeros((2, 128, 128), dtype=np.float32)
    flat = flatten(photo)
    assert flat.shape == (2, 16384) and np.shares_memory(flat, photo)
    assert flatten(np.zeros((0, 3, 4))).shape == (0, 12)
    assert flatten(np.arange(3)).shape == (3, 1)
    assert flatten(digits().X)[5].tolist() == digits().X[5].ravel().tolist()
    with pytest.raises(ShapeError, match="flatten\\(\\) expected images"):
        flatten(np.float32(1.0))


# --- batches ----------------------------------------------------------------


@quick
@given(
    n=st.integers(0, 200),
    batch_size=st.integers(1, 50),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_batches_cover_every_sample_once(n, batch_size, shuffle, drop_last, seed):
    X = np.arange(n * 2).reshape(n, 2)
    y = np.arange(n)
    got = list(
        batches(X, y, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    )
    sizes = [len(yb) for _, yb in got]
    assert all(s == batch_size for s in sizes[:-1])
    if drop_last:
        assert sizes == [batch_size] * (n // batch_size)
    else:
        assert sum(sizes) == n and all(0 < s <= batch_size for s in sizes)
    seen = np.concatenate([yb for _, yb in got]) if got else np.array([], int)
    assert len(np.unique(seen)) == len(seen)  # nobody twice
    if not drop_last:
        assert np.array_equal(np.sort(seen), y)  # everybody once
    for xb, yb in got:
        assert np.array_equal(xb[:, 0], 2 * yb)  # inputs stay with their labels
    if not shuffle:
        assert np.array_equal(seen, np.arange(len(seen)))


def test_batches_reproducible_with_seed():
    X = np.arange(100)
    first = [xb.tolist() for xb, _ in batches(X, batch_size=16, seed=42)]
    again = [xb.tolist() for xb, _ in batches(X, batch_size=16, seed=42)]
    other = [xb.tolist() for xb, _ in batches(X, batch_size=16, seed=43)]
    assert first == again and first != other

    def two_epochs(rng):
        return [
            [xb.tolist() for xb, _ in batches(X, batch_size=16, seed=rng)]
            for _ in range(2)
        ]

    run = two_epochs(np.random.default_rng(5))
    assert run == two_epochs(np.random.default_rng(5))
    assert run[0] != run[1]  # one shared generator: a new order each epoch


def test_batches_without_shuffle_are_views_in_order():
    X = np.arange(12.0).reshape(6, 2)
    got = list(batches(X, batch_size=4, shuffle=False))
    assert [xb.tolist() for xb, _ in got] == [X[:4].tolist(), X[4:].tolist()]
    assert all(yb is None for _, yb in got)
    assert np.shares_memory(got[0][0], X)


def test_batches_errors_are_raised_on_the_call():
    for bad in [0, -3, 2.5, True, None]:
        with pytest.raises(ConfigError, match="batch_size must be a positive integer"):
            batches(np.zeros(4), batch_size=bad)
    with pytest.raises(DataError, match="X has 4 and y has 3"):
        batches(np.zeros(4), np.zeros(3))
    with pytest.raises(ConfigError, match="seed must be"):
        batches(np.zeros(4), seed="abc")
