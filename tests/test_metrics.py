"""Metrics against cases counted by hand, and the confusion matrix's bookkeeping."""

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
from glassnet import metrics
from glassnet.errors import DataError, ShapeError
from glassnet.metrics import (
    accuracy,
    confusion_matrix,
    error_rate,
    format_confusion_matrix,
    to_labels,
)


def test_docstring_examples_run():
    result = doctest.testmod(metrics)
    assert result.attempted > 0 and result.failed == 0


# --- to_labels ------------------------------------------------------------------------------


def test_to_labels_rules():
    np.testing.assert_array_equal(to_labels([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]]), [1, 0])
    np.testing.assert_array_equal(to_labels(np.array([[0.2], [0.6]])), [0, 1])  # (N, 1)
    np.testing.assert_array_equal(
        to_labels([0.2, 0.6, 0.5]), [0, 1, 0]
    )  # 0.5 is not above
    np.testing.assert_array_equal(
        to_labels([3.0, 0.0, 7.0]), [3, 0, 7]
    )  # whole: labels
    np.testing.assert_array_equal(
        to_labels([-2.0, 3.0], threshold=0.0), [0, 1]
    )  # logits
    np.testing.assert_array_equal(to_labels(np.array([[2], [5]])), [2, 5])  # int column
    np.testing.assert_array_equal(
        to_labels(np.array([[1, 4], [0, 0]])), [[1, 4], [0, 0]]
    )
    assert to_labels(np.zeros((2, 3, 4))).shape == (2, 3)  # per-step scores
    assert to_labels([1, 0]).dtype == np.int64


# --- accuracy and error rate ----------------------------------------------------------------


def test_accuracy_from_labels_scores_and_probabilities():
    y = np.array([0, 1, 2, 1])
    assert accuracy(y, np.array([0, 1, 1, 1])) == 0.75
    scores = np.array([[5.0, 1, 0], [0, 2, 1], [3, 0, 1], [0, 9, 0]])  # argmax 0 1 0 1
    assert accuracy(y, scores) == 0.75
    assert accuracy(np.eye(3)[y], scores) == 0.75  # one-hot truths
    assert accuracy(gn.tensor(y), gn.tensor(scores)) == 0.75  # Tensors
    # One probability per sample: 0.9 → 1, 0.4 → 0, 0.7 → 1, 0.2 → 0
    truth = np.array([1, 1, 1, 0])
    for probs in ([0.9, 0.4, 0.7, 0.2], [[0.9], [0.4], [0.7], [0.2]]):
        assert accuracy(truth, np.array(probs)) == 0.75
        assert accuracy(truth.reshape(-1, 1).astype(float), np.array(probs)) == 0.75
    assert accuracy(truth, np.array([2.0, -1.0, 0.5, -3.0]), threshold=0.0) == 0.75


def test_accuracy_per_step():
    y = np.array([[0, 1, 2], [2, 2, 0]])
    scores = np.eye(3)[[[0, 1, 1], [2, 0, 0]]]  # 4 of 6 right
    assert accuracy(y, scores) == pytest.approx(4 / 6)
    assert accuracy(y.astype(np.float32), scores) == pytest.approx(4 / 6)


def test_error_rate_is_seed_001s_first_cost():
    # "it correctly classifies 300 out of 500 images ... the error rate is 200/500 = 40%"
    truth = np.ones(500, dtype=int)
    assert error_rate(truth, np.r_[np.ones(300), np.zeros(200)].astype(int)) == 0.4
    assert error_rate(truth, np.r_[np.ones(250), np.zeros(250)].astype(int)) == 0.5
    scores = np.random.default_rng(0).random((50, 4))
    labels = np.random.default_rng(1).integers(0, 4, 50)
    assert error_rate(labels, scores) == pytest.approx(1 - accuracy(labels, scores))


def test_metric_errors_name_both_lengths_and_shapes():
    with pytest.raises(DataError, match=r"accuracy: .*y_true has 3 .*y_pred has 4"):
        accuracy([0, 1, 2], [0, 1, 2, 3])
    with pytest.raises(DataError, match=r"error_rate: .*y_true has 2"):
        error_rate([0, 1], np.zeros((3, 2)))
    with pytest.raises(
        ShapeError,
        match=r"accuracy: y_true of shape \(2, 3\) and y_pred of "
        r"shape \(2, 4\)",
    ):
        accuracy(np.zeros((2, 3), dtype=int), np.zeros((2, 4)))
    with pytest.raises(DataError, match="no samples"):
        accuracy(np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(ShapeError, match="single number"):
        accuracy(1, 1)


# --- confusion matrix ---------------------------------------------------------------------------


def test_confusion_matrix_by_hand():
    #              true: 0  0  1  2  2  2
    #         predicted: 0  1  1  2  2  0
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0])
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert cm.dtype == np.int64
    # From scores, with room for a class never seen.
    scores = np.eye(4)[[0, 1, 1, 2, 2, 0]]
    big = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), scores, num_classes=5)
    assert big.shape == (5, 5)
    np.testing.assert_array_equal(big[:3, :3], cm)
    assert big[3:].sum() == 0 and big[:, 3:].sum() == 0


def test_confusion_matrix_errors():
    with pytest.raises(DataError, match=r"y_pred holds label 3, outside \[0, 3\)"):
        confusion_matrix([0, 1, 2], [0, 3, 1], num_classes=3)
    with pytest.raises(DataError, match=r">= 0; y_true holds -1"):
        confusion_matrix([0, -1, 2], [0, 1, 1])
    with pytest.raises(DataError, match=r"y_true has 2 .*y_pred has 3"):
        confusion_matrix([0, 1], [0, 1, 1])
    with pytest.raises(DataError, match="num_classes must be a positive integer"):
        confusion_matrix([0, 1], [0, 1], num_classes=0)


@given(data=st.data(), n=st.integers(1, 60), k=st.integers(1, 6))
def test_confusion_matrix_bookkeeping(data, n, k):
    labels = hnp.arrays(np.int64, n, elements=st.integers(0, k - 1))
    true, pred = data.draw(labels), data.draw(labels)
    cm = confusion_matrix(true, pred, num_classes=k)
    assert cm.shape == (k, k)
    assert cm.sum() == n
    assert np.trace(cm) == pytest.approx(accuracy(true, pred) * n)
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(true, minlength=k))
    np.testing.assert_array_equal(cm.sum(axis=0), np.bincount(pred, minlength=k))
    slow = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(true, pred):
        slow[t, p] += 1
    np.testing.assert_array_equal(cm, slow)


def test_confusion_matrix_of_sequences_counts_every_step():
    y = np.array([[0, 1], [1, 1]])
    cm = confusion_matrix(y, np.eye(2)[[[0, 0], [1, 1]]])
    np.testing.assert_array_equal(cm, [[1, 0], [1, 2]])


# --- text rendering ----------------------------------------------------------------------------


def test_format_confusion_matrix():
    text = format_confusion_matrix(np.array([[50, 0, 1], [2, 47, 3], [0, 0, 100]]))
    assert text.splitlines() == [
        "true \\ predicted    0    1    2",
        "               0   50    0    1",
        "               1    2   47    3",
        "               2    0    0  100",
    ]
    named = format_confusion_matrix([[3, 1], [0, 4]], labels=["vertical", "diagonal"])
    assert named.splitlines() == [
        "true \\ predicted  vertical  diagonal",
        "        vertical         3         1",
        "        diagonal         0         4",
    ]


def test_format_confusion_matrix_errors():
    with pytest.raises(ShapeError, match=r"square .*\(2, 3\)"):
        format_confusion_matrix(np.zeros((2, 3), dtype=int))
    with pytest.raises(DataError, match="got 2 labels for a 3x3"):
        format_confusion_matrix(np.zeros((3, 3), dtype=int), labels=["a", "b"])
