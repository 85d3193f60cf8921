"""GlassnetClassifier / GlassnetRegressor in scikit-learn's machinery: pipelines,
cross-validation, grid search, pickling, partial_fit, warm_start, custom networks."""

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from glassnet import nn
from glassnet.datasets import digits
from glassnet.errors import ConfigError, FormatError
from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor


@pytest.fixture(scope="module")
def digit_rows():
    d = digits(flatten=True)
    return d.X, d.y


def _digits_cnn(n_features, n_outputs):
    """A small CNN for 8x8 digits given as 64-value rows (input_shape=(1, 8, 8))."""
    assert n_features == 64  # the test's own data, not user input
    return nn.Sequential(
        nn.Conv2D(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dense(8 * 4 * 4, n_outputs),
    )


def test_pipeline_cross_val_score_on_digits(digit_rows):
    X, y = digit_rows
    pipe = make_pipeline(
        StandardScaler(),
        GlassnetClassifier(hidden_layer_sizes=(32,), epochs=15, random_state=0),
    )
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, X, y, cv=cv)
    assert scores.shape == (3,)
    assert scores.min() > 0.9


def test_grid_search_two_jobs_on_digits(digit_rows):
    X, y = digit_rows
    pipe = make_pipeline(
        StandardScaler(), GlassnetClassifier(epochs=10, lr=0.01, random_state=0)
    )
    grid = {"glassnetclassifier__hidden_layer_sizes": [(4,), (32,)]}
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    # Four hidden neurons squeeze ten digits through a narrow neck: the wider net wins.
    assert search.best_params_ == {"glassnetclassifier__hidden_layer_sizes": (32,)}
    assert search.best_score_ > 0.9
    assert search.score(X, y) > 0.95


def test_cnn_module_on_flat_rows(digit_rows):
    X, y = digit_rows
    Xtr, Xte, ytr, yte = train_test_split(
        X / 16, y, test_size=0.25, random_state=0, stratify=y
    )
    clf = GlassnetClassifier(
        module=_digits_cnn, input_shape=(1, 8, 8), epochs=8, lr=0.01, random_state=0
    ).fit(Xtr, ytr)
    assert isinstance(clf.model_[0], nn.Conv2D)
    assert clf.score(Xte, yte) > 0.93
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(Xte), clf.predict_proba(Xte))


def test_fitted_attributes_and_string_labels(digit_rows):
    X, y = digit_rows
    names = np.array(["zero", "one"])
    keep = y < 2
    clf = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=5, lr=0.01, random_state=0)
    assert clf.fit(X[keep] / 16, names[y[keep]]) is clf
    assert clf.classes_.tolist() == ["one", "zero"]
    assert clf.n_features_in_ == 64 and clf.n_iter_ == 5
    assert len(clf.history_) == 5 and clf.history_.loss[-1] < clf.history_.loss[0]
    assert set(clf.predict(X[:5] / 16)) <= {"zero", "one"}
    proba = clf.predict_proba(X[keep] / 16)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X[keep] / 16, names[y[keep]]) > 0.99


def test_pickle_holds_glassnet_file_bytes_not_glassnet_objects(digit_rows):
    X, y = digit_rows
    clf = GlassnetClassifier(hidden_layer_sizes=(16,), epochs=3, random_state=0)
    clf.fit(X / 16, y)
    data = pickle.dumps(clf)
    for module in (
        b"glassnet.nn",
        b"glassnet.tensor",
        b"glassnet.optim",
        b"glassnet.train",
    ):
        assert module not in data
    again = pickle.loads(data)
    np.testing.assert_array_equal(
        again.predict_proba(X / 16), clf.predict_proba(X / 16)
    )
    assert again.history_.loss == clf.history_.loss
    # Adam's moments and step count travel too, so partial_fit continues the same run.
    assert again._optimizer.steps == clf._optimizer.steps > 0
    a = clone(clf).set_params(random_state=1)
    assert not hasattr(a, "model_")


def test_tampered_pickle_is_refused(digit_rows):
    X, y = digit_rows
    clf = GlassnetClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0)
    state = clf.fit(X[:100] / 16, y[:100]).__getstate__()
    blob = bytearray(state["_model_file"])
    blob[-5] ^= 0xFF  # a flipped weight byte
    state["_model_file"] = bytes(blob)
    with pytest.raises(FormatError, match="checksum"):
        GlassnetClassifier().__setstate__(state)


def test_partial_fit_continues_one_epoch_at_a_time(digit_rows):
    X, y = digit_rows
    clf = GlassnetClassifier(hidden_layer_sizes=(16,), lr=0.01, random_state=0)
    with pytest.raises(ValueError, match="first call needs classes="):
        clf.partial_fit(X / 16, y)
    clf.partial_fit(X[:600] / 16, y[:600], classes=np.arange(10))
    model, steps = clf.model_, clf._optimizer.steps
    for _ in range(4):
        clf.partial_fit(X[:600] / 16, y[:600])
    assert clf.model_ is model and clf.n_iter_ == 5 and len(clf.history_) == 5
    assert clf._optimizer.steps == 5 * steps  # one optimizer, 19 batches per call
    assert clf.score(X[600:] / 16, y[600:]) > 0.85
    with pytest.raises(ValueError, match=r"labels \[10\]"):
        clf.partial_fit(X[:3] / 16, np.array([1, 2, 10]))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:10, :50], y[:10])


def test_warm_start_continues_and_cold_start_does_not(digit_rows):
    X, y = digit_rows
    warm = GlassnetClassifier(
        hidden_layer_sizes=(8,), epochs=2, warm_start=True, random_state=0
    ).fit(X / 16, y)
    model = warm.model_
    warm.fit(X / 16, y)
    assert warm.model_ is model and warm.n_iter_ == 4 and len(warm.history_) == 4
    warm.fit(X[y < 5] / 16, y[y < 5])  # other classes: a new output layer is needed
    assert warm.model_ is not model and warm.n_iter_ == 2
    cold = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0)
    cold.fit(X / 16, y)
    first = cold.model_
    cold.fit(X / 16, y)
    assert cold.model_ is not first and cold.n_iter_ == 2


def test_early_stopping_uses_a_validation_split(digit_rows):
    X, y = digit_rows
    clf = GlassnetClassifier(
        hidden_layer_sizes=(32,),
        epochs=200,
        early_stopping=True,
        patience=3,
        random_state=0,
    ).fit(X / 16, y)
    assert "val_loss" in clf.history_.history
    assert clf.n_iter_ < 200


def test_regressor_diabetes_in_a_pipeline():
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    reg = make_pipeline(
        StandardScaler(),
        GlassnetRegressor(hidden_layer_sizes=(16,), epochs=30, random_state=0),
    ).fit(Xtr, ytr)
    assert reg.predict(Xte).shape == (len(Xte),)
    assert reg.score(Xte, yte) > 0.3  # linear regression gets 0.36 on this split
    net = reg[-1]
    np.testing.assert_allclose(net.y_mean_, [ytr.mean()])


def test_regressor_several_outputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    Y = np.stack([X[:, 0] - 2 * X[:, 1], 100 + 50 * X[:, 2]], axis=1)
    reg = GlassnetRegressor(
        hidden_layer_sizes=(16,), activation="tanh", epochs=60, lr=0.01, random_state=0
    ).fit(X, Y)
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X, Y) > 0.95


@pytest.mark.parametrize(
    "params, match",
    [
        ({"activation": "swish"}, "activation must be one of"),
        ({"optimizer": object()}, "optimizer must be a name"),
        ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes must be positive"),
        ({"module": 3}, "module must be a function"),
        ({"module": lambda n, k: "not a net"}, r"module\(64, 10\) must return"),
    ],
)
def test_bad_settings_are_named_at_fit(digit_rows, params, match):
    X, y = digit_rows
    clf = GlassnetClassifier(epochs=1, **params)  # __init__ only stores them
    with pytest.raises(ConfigError, match=match):
        clf.fit(X[:50], y[:50])


def test_input_shape_must_match_the_rows(digit_rows):
    X, y = digit_rows
    clf = GlassnetClassifier(module=_digits_cnn, input_shape=(1, 7, 7), epochs=1)
    with pytest.raises(
        ValueError,
        match=r"input_shape \(1, 7, 7\) holds 49 values, "
        "but X has 64 features",
    ):
        clf.fit(X[:50], y[:50])


def test_one_class_is_refused(digit_rows):
    X, y = digit_rows
    with pytest.raises(ValueError, match="at least 2 classes.*1 class"):
        GlassnetClassifier(epochs=1).fit(X[y == 3], y[y == 3])


@given(
    n_features=st.integers(1, 6),
    n_classes=st.integers(2, 5),
    n=st.integers(10, 40),
    seed=st.integers(0, 2**16),
)
def test_probabilities_have_one_column_per_class(n_features, n_classes, n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = np.arange(n) % n_classes  # every class present
    clf = GlassnetClassifier(hidden_layer_sizes=(3,), epochs=1, random_state=seed)
    proba = clf.fit(X, y).predict_proba(X)
    assert proba.shape == (n, n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_docs_examples_run(capsys):
    """Every ```python block of docs/sklearn.md runs and prints what it says."""
    import pathlib
    import re

    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "sklearn.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL)
    assert len(blocks) == 4
    for i, code in enumerate(blocks):
        namespace = {}
        exec(compile(code, f"docs/sklearn.md block {i + 1}", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "{'glassnetclassifier__hidden_layer_sizes': (32,)}" in out
    assert "| glassnet MLP |" in out  # the compare table
    assert namespace["result"].n_test == 45


def test_docstring_examples():
    import doctest

    from glassnet import baselines, sklearn

    for module in (sklearn, baselines):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0


def test_regressor_warm_start_needs_the_same_target_columns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    reg = GlassnetRegressor(
        hidden_layer_sizes=(4,), epochs=2, warm_start=True, random_state=0
    ).fit(X, X[:, 0])
    model, mean = reg.model_, reg.y_mean_
    reg.fit(X, X[:, 0] + 100)
    assert reg.model_ is model and reg.n_iter_ == 4
    np.testing.assert_array_equal(reg.y_mean_, mean)  # the first fit's scaling stays
    reg.fit(X, X[:, :2])
    assert reg.model_ is not model and reg.n_iter_ == 2
    assert reg.predict(X).shape == (60, 2)
