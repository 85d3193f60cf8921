"""Dropout: the op (inverted dropout with an explicit Generator's mask)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
from glassnet import ops
from glassnet.errors import ConfigError

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5)
probabilities = st.sampled_from([0.0, 0.1, 0.5, 0.9])


@given(
    x=hnp.arrays(np.float64, shapes, elements=st.floats(-3, 3)),
    p=probabilities,
    seed=st.integers(0, 2**16),
)
def test_dropout_forward_and_gradient(x, p, seed):
    t = gn.tensor(x, requires_grad=True, dtype=np.float64)
    keep = np.random.default_rng(seed).random(x.shape) >= p
    y = ops.dropout(t, p, rng=seed).data
    np.testing.assert_allclose(y, x * keep / (1 - p), rtol=1e-15, atol=0)
    # an int seed draws the same mask at every call, so the function is fixed
    assert gn.gradcheck(lambda v: ops.dropout(v, p, rng=seed), [t])


def test_gradient_is_the_same_mask():
    x = gn.tensor(np.linspace(1, 2, 400), requires_grad=True, dtype=np.float64)
    y = ops.dropout(x, 0.25, rng=np.random.default_rng(3))
    y.backward(np.ones(400))
    kept = y.data != 0
    assert 0 < kept.sum() < 400
    np.testing.assert_array_equal(x.grad, kept / 0.75)


def test_a_generator_gives_a_fresh_mask_each_call_and_repeats_from_its_seed():
    x = np.ones((50, 20), np.float32)
    run = [ops.dropout(x, 0.5, rng=np.random.default_rng(7)).data for _ in range(2)]
    np.testing.assert_array_equal(run[0], run[1])
    rng = np.random.default_rng(7)
    first, second = ops.dropout(x, 0.5, rng=rng), ops.dropout(x, 0.5, rng=rng)
    np.testing.assert_array_equal(first.data, run[0])
    assert (first.data != second.data).any()
    assert first.dtype == np.float32


def test_dropping_keeps_the_expected_value():
    x = np.random.default_rng(0).uniform(1, 2, 200_000)
    for p in (0.2, 0.5, 0.8):
        y = ops.dropout(x, p, rng=np.random.default_rng(1)).data
        # 200,000 Bernoulli draws: the dropped share is within 5 sigma of p
        assert abs((y == 0).mean() - p) < 5 * np.sqrt(p * (1 - p) / x.size)
        assert abs(y.mean() / x.mean() - 1) < 0.02


def test_evaluation_and_p_zero_are_the_identity():
    x = gn.tensor(np.ones(5), requires_grad=True)
    assert ops.dropout(x, 0.5, rng=0, training=False) is x
    assert ops.dropout(x, 0.0, rng=0) is x


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan"), "0.5", None, True])
def test_bad_probability_is_refused(p):
    with pytest.raises(ConfigError, match=r"dropout: p must be a number in \[0"):
        ops.dropout(np.ones(3), p, rng=0)


def test_bad_seed_is_refused():
    with pytest.raises(ConfigError, match="dropout: seed must be an int"):
        ops.dropout(np.ones(3), 0.5, rng=-1)


def test_docstring_examples_run():
    import doctest
    import importlib

    for name in ("glassnet.ops.dropout", "glassnet.kernels.dropout"):
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0
