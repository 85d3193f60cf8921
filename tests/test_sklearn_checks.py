"""scikit-learn's own estimator checks, run on both glassnet estimators."""

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

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
