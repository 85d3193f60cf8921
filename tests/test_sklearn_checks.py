"""scikit-learn's own estimator checks, run on both glassnet estimators."""

import pytest

pytest.importorskip("sklearn")
# Without pandas, scikit-learn skips its DataFrame cases quietly; the test extra
# installs it, so a missing pandas fails here instead.
import pandas  # noqa: F401
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor

# Small networks and few epochs keep the ~100 checks quick; the checks that
# score the fit (classifiers_train: accuracy > 0.83 on blobs, regressors_train:
# R² > 0.5) still pass with these settings.
ESTIMATORS = [
    GlassnetClassifier(hidden_layer_sizes=(16,), epochs=20, lr=0.01, random_state=0),
    GlassnetRegressor(hidden_layer_sizes=(16,), epochs=20, lr=0.01, random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_check(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_sklearn_dataframe_column_names_check(estimator):
    # scikit-learn defines this check (feature_names_in_, and the errors and
    # warnings for other columns at predict/partial_fit) but, as of 1.9, does
    # not yield it from parametrize_with_checks.
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
