"""GlassnetClassifier / GlassnetRegressor on pandas DataFrames: feature_names_in_
and column checks behave as in scikit-learn's own estimators (compared with
LogisticRegression and LinearRegression on the same data)."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("sklearn")
import pandas as pd  # the test extra installs it: these tests never skip
from sklearn.linear_model import LinearRegression, LogisticRegression

from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor

COLUMNS = ["age", "height", "weight", "score"]


def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.standard_normal((n, len(COLUMNS))), columns=COLUMNS)
    y_class = np.where(X["age"] + X["score"] > 0, "high", "low")
    y_number = 2 * X["height"].to_numpy() - X["weight"].to_numpy()
    return X, y_class, y_number


# (glassnet estimator, scikit-learn's own estimator for the same task, target)
def _pairs():
    return [
        (
            GlassnetClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=0),
            LogisticRegression(),
            1,
        ),
        (
            GlassnetRegressor(hidden_layer_sizes=(8,), epochs=3, random_state=0),
            LinearRegression(),
            2,
        ),
    ]


@pytest.fixture(scope="module")
def fitted():
    X, *targets = _frame()
    return [
        (ours.fit(X, targets[t - 1]), theirs.fit(X, targets[t - 1]))
        for ours, theirs, t in _pairs()
    ]


def _outcome(method, X):
    """What calling ``method(X)`` did: the error (type, message) or the warnings."""
    name = type(method.__self__).__name__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            method(X)
        except ValueError as e:
            return "error", str(e).replace(name, "EST")
    return "warnings", [
        (w.category, str(w.message).replace(name, "EST")) for w in caught
    ]


def test_a_dataframe_sets_feature_names_in(fitted):
    for ours, theirs in fitted:
        assert isinstance(ours.feature_names_in_, np.ndarray)
        assert ours.feature_names_in_.tolist() == COLUMNS
        assert ours.feature_names_in_.dtype == theirs.feature_names_in_.dtype
        assert ours.n_features_in_ == len(COLUMNS)


@pytest.mark.parametrize(
    "columns",
    [
        None,  # a plain array
        [0, 1, 2, 3],  # names that are not strings are no names
    ],
)
def test_without_string_column_names_there_is_no_feature_names_in(columns):
    X, y_class, _ = _frame()
    data = (
        X.to_numpy() if columns is None else pd.DataFrame(X.to_numpy(), columns=columns)
    )
    ours = GlassnetClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0)
    ours.fit(X, y_class)
    ours.fit(data, y_class)  # a later fit without names forgets the old ones
    assert not hasattr(ours, "feature_names_in_")


VARIANTS = {
    "reordered": lambda X: X[["height", "age", "weight", "score"]],
    "renamed": lambda X: X.rename(columns={"weight": "mass"}),
    "one missing, one extra": lambda X: X.drop(columns="score").assign(extra=1.0),
    "an array": lambda X: X.to_numpy(),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_other_columns_at_predict_fail_or_warn_as_in_scikit_learn(fitted, variant):
    X, _, _ = _frame(10, seed=1)
    data = VARIANTS[variant](X)
    for ours, theirs in fitted:
        for method in ("predict", "predict_proba"):
            if not hasattr(theirs, method):
                continue
            got = _outcome(getattr(ours, method), data)
            expected = _outcome(getattr(theirs, method), data)
            assert got == expected
            kind = "warnings" if variant == "an array" else "error"
            assert got[0] == kind and got[1]  # something was said


def test_a_dataframe_after_fitting_on_an_array_warns_as_in_scikit_learn():
    X, y_class, y_number = _frame()
    for ours, theirs, t in _pairs():
        y = (y_class, y_number)[t - 1]
        ours.fit(X.to_numpy(), y)
        theirs.fit(X.to_numpy(), y)
        got, expected = _outcome(ours.predict, X), _outcome(theirs.predict, X)
        assert got == expected
        assert got[1] and "fitted without feature names" in got[1][0][1]


@given(order=st.permutations(COLUMNS))
def test_any_other_column_order_is_refused(fitted, order):
    X, _, _ = _frame(5, seed=2)
    for ours, _ in fitted:
        if order == COLUMNS:
            np.testing.assert_array_equal(ours.predict(X[order]), ours.predict(X))
            continue
        with pytest.raises(
            ValueError,
            match=re.escape(
                "Feature names must be in the same order as they were in fit"
            ),
        ):
            ours.predict(X[order])


@pytest.mark.parametrize(
    "make",
    [
        lambda: GlassnetClassifier(
            hidden_layer_sizes=(4,), epochs=2, warm_start=True, random_state=0
        ),
        lambda: GlassnetRegressor(
            hidden_layer_sizes=(4,), epochs=2, warm_start=True, random_state=0
        ),
    ],
)
def test_warm_start_continues_only_on_the_same_column_names(make):
    X, y_class, y_number = _frame()
    est = make()
    y = y_class if isinstance(est, GlassnetClassifier) else y_number
    est.fit(X, y)
    model = est.model_
    est.fit(X, y)  # the same columns: the same network trains on
    assert est.model_ is model and est.n_iter_ == 4
    # the same number of columns, in another order: weights learned for "age"
    # must not be fed "height"; a new network starts, as for new features
    est.fit(X[["height", "age", "weight", "score"]], y)
    assert est.model_ is not model and est.n_iter_ == 2
    assert est.feature_names_in_.tolist() == ["height", "age", "weight", "score"]
    model = est.model_
    est.fit(X.to_numpy(), y)  # no names now: not the same columns either
    assert est.model_ is not model and est.n_iter_ == 2
