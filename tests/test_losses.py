"""Losses: values worked by hand, float64 gradient checks, stability, errors.

The fused ops in glassnet.ops.loss are checked against the slow way of
computing the same thing (log_softmax, then pick), and every loss class
against small examples whose numbers are written out in the comments.
"""

import doctest
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
import glassnet.ops.loss as loss_ops
from glassnet import losses
from glassnet.errors import ConfigError, DataError, ShapeError
from glassnet.ops.loss import binary_cross_entropy, cross_entropy


def t64(values, grad=True):
    return gn.tensor(values, requires_grad=grad, dtype=np.float64)


def log_softmax_np(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("module", [losses, loss_ops])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --- values worked by hand ------------------------------------------------------------


def test_mse_by_hand():
    # differences 0, -2, -3; squares 0, 4, 9; mean 13/3.
    p = t64([1.0, 2.0, 3.0])
    loss = losses.MSE()(p, np.array([1.0, 4.0, 6.0]))
    assert loss.shape == ()
    assert loss.item() == pytest.approx(13 / 3)
    loss.backward()
    np.testing.assert_allclose(p.grad, [0.0, -4 / 3, -2.0])  # 2·(p − t)/3


def test_mse_half_derivative_is_the_difference():
    # ½·13/3 = 13/6; the ½ cancels the 2: gradient (p − t)/3.
    p = t64([1.0, 2.0, 3.0])
    loss = losses.MSE(half=True)(p, [1.0, 4.0, 6.0])
    assert loss.item() == pytest.approx(13 / 6)
    loss.backward()
    np.testing.assert_allclose(p.grad, [0.0, -2 / 3, -1.0])


def test_sse_is_seed_003s_sum_over_neurons_and_images():
    # Two images, two output neurons each: ideal 1 for the right neuron, 0 else.
    # (0.8−1)² + 0.1² = 0.05 for the first image; 0.3² + (0.6−1)² = 0.25 for the second.
    p = t64([[0.8, 0.1], [0.3, 0.6]])
    loss = losses.SSE()(p, np.array([[1, 0], [0, 1]]))
    assert loss.item() == pytest.approx(0.05 + 0.25)
    loss.backward()
    np.testing.assert_allclose(p.grad, [[-0.4, 0.2], [0.6, -0.8]])  # 2·(p − t)
    assert losses.SSE()(p, [[1, 0], [0, 1]]).item() == pytest.approx(
        4 * losses.MSE()(p, [[1, 0], [0, 1]]).item()
    )


def test_mae_by_hand():
    # |0| + |−2| + |−3| = 5, over 3; gradient sign(p − t)/3, with sign(0) = 0.
    p = t64([1.0, 2.0, 3.0])
    loss = losses.MAE()(p, [1.0, 4.0, 6.0])
    assert loss.item() == pytest.approx(5 / 3)
    loss.backward()
    np.testing.assert_allclose(p.grad, [0.0, -1 / 3, -1 / 3])


def test_mm_bags_squared_loss_finds_the_mean_absolute_loss_the_median():
    # Seed 004's M&M bags: a single guess c for every bag. The squared loss is
    # flat (slope 0) at the mean, the absolute loss at the median.
    bags = np.array([44.0, 47.0, 51.0, 52.0, 81.0])
    for loss_fn, best in [(losses.MSE(), bags.mean()), (losses.MAE(), np.median(bags))]:
        c = t64([best])
        loss_fn(c * np.ones(5), bags).backward()
        assert c.grad[0] == pytest.approx(0.0, abs=1e-12)
        off = t64([best + 1.0])
        loss_fn(off * np.ones(5), bags).backward()
        assert off.grad[0] > 0  # to the right of the best guess, downhill is left


def test_bce_from_probabilities_by_hand():
    # −(log 0.9 + log 0.8)/2 = (0.1053605 + 0.2231436)/2 = 0.1642520
    p = t64([0.9, 0.2])
    loss = losses.BinaryCrossEntropy()(p, [1.0, 0.0])
    assert loss.item() == pytest.approx(0.1642520, abs=1e-7)
    loss.backward()
    # (p − t)/(p(1 − p))/2: −0.1/0.09/2 = −0.5556, 0.2/0.16/2 = 0.625
    np.testing.assert_allclose(p.grad, [-0.1 / 0.09 / 2, 0.625])


def test_bce_from_logits_by_hand():
    # x = 0, t = 1: log 2 = 0.693147;  x = 2, t = 0: 2 + log(1 + e^−2) = 2.126928
    x = t64([0.0, 2.0])
    loss = losses.BinaryCrossEntropy(from_logits=True)(x, [1.0, 0.0])
    assert loss.item() == pytest.approx(
        (math.log(2) + 2 + math.log1p(math.exp(-2))) / 2
    )
    loss.backward()
    # (sigmoid(x) − t)/2: (0.5 − 1)/2 = −0.25, (0.880797 − 0)/2 = 0.440399
    np.testing.assert_allclose(x.grad, [-0.25, 1 / (1 + math.exp(-2)) / 2])


def test_cross_entropy_by_hand():
    # Row 1: softmax([2, 0, 0]) = [e²/(e² + 2), 1/(e² + 2), 1/(e² + 2)]
    #                           = [0.786986, 0.106507, 0.106507]; label 0: −log 0.786986
    #                             = 0.239545
    # Row 2: softmax([0, 0, 0]) = [⅓, ⅓, ⅓];                      label 2: log 3 = 1.098612
    z = t64([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    e2 = math.exp(2)
    p1 = np.array([e2, 1.0, 1.0]) / (e2 + 2)
    loss = losses.CrossEntropy()(z, np.array([0, 2]))
    assert loss.item() == pytest.approx((-math.log(p1[0]) + math.log(3)) / 2)
    assert loss.item() == pytest.approx(0.669079, abs=1e-6)
    loss.backward()
    # (softmax − onehot)/N
    expected = np.array([p1 - [1, 0, 0], np.full(3, 1 / 3) - [0, 0, 1]]) / 2
    np.testing.assert_allclose(z.grad, expected)


def test_cross_entropy_one_hot_and_labels_agree():
    z = np.random.default_rng(0).standard_normal((5, 4))
    y = np.array([0, 3, 1, 1, 2])
    a, b = t64(z), t64(z)
    la = losses.CrossEntropy()(a, y)
    lb = losses.CrossEntropy()(b, np.eye(4)[y])
    assert la.item() == pytest.approx(lb.item())
    la.backward()
    lb.backward()
    np.testing.assert_allclose(a.grad, b.grad)


def test_cross_entropy_accepts_whole_float_labels_and_tensor_targets():
    z = gn.tensor(np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32))
    y = np.array([2, 0, 1, 2])
    expected = cross_entropy(z, y).item()
    assert cross_entropy(z, y.astype(np.float32)).item() == expected
    assert cross_entropy(z, gn.tensor(y)).item() == expected
    assert losses.CrossEntropy()(z, gn.tensor(np.eye(3)[y])).item() == pytest.approx(
        expected
    )


def test_cross_entropy_reductions():
    z = np.random.default_rng(2).standard_normal((2, 3, 4))
    y = np.array([[0, 1, 3], [2, 2, 0]])
    per = cross_entropy(t64(z, False), y, reduction="none").data
    assert per.shape == (2, 3)
    np.testing.assert_allclose(
        per, -np.take_along_axis(log_softmax_np(z), y[..., None], -1)[..., 0]
    )
    assert cross_entropy(t64(z, False), y, reduction="sum").item() == pytest.approx(
        per.sum()
    )
    assert cross_entropy(t64(z, False), y).item() == pytest.approx(
        per.mean()
    )  # over N·T


# --- gradient checks in float64 ---------------------------------------------------------

rng0 = np.random.default_rng(7)


@pytest.mark.parametrize(
    "loss_fn",
    [
        losses.MSE(),
        losses.MSE(half=True),
        losses.SSE(),
        losses.MAE(),
        lambda p, t: ((p - t) ** 4).mean(),  # a custom quartic loss
    ],
)
def test_gradcheck_regression_losses(loss_fn):
    pred = rng0.standard_normal((4, 3))
    target = pred + rng0.choice([-1, 1], size=(4, 3)) * rng0.uniform(0.1, 1.0, (4, 3))
    assert gn.gradcheck(lambda p: loss_fn(p, target), [t64(pred)])
    # and with respect to a target that is itself a Tensor
    assert gn.gradcheck(loss_fn, [t64(pred), t64(target)])


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_binary_cross_entropy(from_logits, reduction):
    pred = (
        rng0.standard_normal((5, 2)) * 3
        if from_logits
        else rng0.uniform(0.05, 0.95, (5, 2))
    )
    target = rng0.uniform(0, 1, (5, 2))
    assert gn.gradcheck(
        lambda p, t: binary_cross_entropy(p, t, from_logits, reduction),
        [t64(pred), t64(target)],
    )
    bce = losses.BinaryCrossEntropy(from_logits=from_logits)
    assert gn.gradcheck(lambda p: bce(p, (target > 0.5).astype(float)), [t64(pred)])


@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4), (1, 1)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_cross_entropy_labels(shape, reduction):
    z = rng0.standard_normal(shape) * 2
    y = rng0.integers(0, shape[-1], shape[:-1])
    assert gn.gradcheck(lambda a: cross_entropy(a, y, reduction), [t64(z)])


@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_cross_entropy_probability_targets(shape, reduction):
    z = rng0.standard_normal(shape) * 2
    onehot = np.eye(shape[-1])[rng0.integers(0, shape[-1], shape[:-1])]
    assert gn.gradcheck(lambda a: cross_entropy(a, onehot, reduction), [t64(z)])
    # Unnormalised rows, with the targets' gradient checked too.
    soft = rng0.uniform(0, 1, shape)
    assert gn.gradcheck(
        lambda a, t: cross_entropy(a, t, reduction), [t64(z), t64(soft)]
    )


def test_gradcheck_cross_entropy_loss_class_per_step():
    # A sequence model's output: (N, T, C) logits, (N, T) labels.
    z = rng0.standard_normal((2, 3, 5))
    y = rng0.integers(0, 5, (2, 3))
    assert gn.gradcheck(lambda a: losses.CrossEntropy()(a, y), [t64(z)])
    assert gn.gradcheck(lambda a: losses.CrossEntropy()(a, np.eye(5)[y]), [t64(z)])


def test_backward_twice_with_retained_graph_doubles_the_gradient():
    z = t64(rng0.standard_normal((3, 4)))
    loss = cross_entropy(z, np.array([0, 3, 1]))
    loss.backward(retain_graph=True)
    first = z.grad.copy()
    loss.backward()
    np.testing.assert_allclose(z.grad, 2 * first)


# --- against the slow way, over random shapes --------------------------------------------


@given(
    data=st.data(),
    batch=hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=5),
    n_classes=st.integers(1, 6),
)
def test_cross_entropy_is_minus_log_softmax_at_the_labels(data, batch, n_classes):
    z = data.draw(
        hnp.arrays(
            np.float64,
            batch + (n_classes,),
            elements=st.floats(-20, 20, allow_nan=False),
        )
    )
    y = data.draw(hnp.arrays(np.int64, batch, elements=st.integers(0, n_classes - 1)))
    x = t64(z)
    loss = cross_entropy(x, y, reduction="none")
    expected = -np.take_along_axis(log_softmax_np(z), y[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12, atol=1e-12)
    # ... and equals the slow graph: log_softmax, then pick by one-hot, then mean.
    slow = -(x.log_softmax() * np.eye(n_classes)[y]).sum() / y.size
    mean = cross_entropy(x, y)
    assert mean.item() == pytest.approx(slow.item(), rel=1e-12, abs=1e-12)
    # Backward: (softmax − onehot)/(number of positions).
    mean.backward()
    softmax = np.exp(log_softmax_np(z))
    np.testing.assert_allclose(
        x.grad, (softmax - np.eye(n_classes)[y]) / y.size, rtol=1e-10, atol=1e-12
    )


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_bce_from_logits_equals_bce_of_the_sigmoid(data, shape):
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-8, 8)))
    t = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
    p = 1 / (1 + np.exp(-x))
    naive = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    a, b = t64(x), t64(p)
    from_logits = binary_cross_entropy(a, t, from_logits=True, reduction="none")
    from_probs = binary_cross_entropy(b, t, reduction="none")
    np.testing.assert_allclose(from_logits.data, naive, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(from_probs.data, naive, rtol=1e-9, atol=1e-12)
    # Chain rule: d/dx = d/dp · p(1 − p), which is sigmoid(x) − t.
    from_logits.sum().backward()
    from_probs.sum().backward()
    np.testing.assert_allclose(a.grad, p - t, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.grad * p * (1 - p), p - t, rtol=1e-7, atol=1e-12)


# --- stability and dtype ------------------------------------------------------------------


def test_cross_entropy_float32_is_stable_for_logits_of_size_1e3():
    z = gn.tensor(
        np.array(
            [[1e3, -1e3, 0.0], [-1e3, -1e3, 1e3], [1e3, 1e3, -1e3]], dtype=np.float32
        ),
        requires_grad=True,
    )
    for target in (np.array([0, 0, 1]), np.eye(3, dtype=np.float32)[[0, 0, 1]]):
        z.grad = None
        per = cross_entropy(z, target, reduction="none")
        # right and sure: 0;  wrong by 2000: 2000;  a tie of two: log 2
        np.testing.assert_allclose(per.data, [0.0, 2000.0, math.log(2)], rtol=1e-6)
        loss = cross_entropy(z, target)
        loss.backward()
        assert np.isfinite(loss.data) and np.isfinite(z.grad).all()
        assert loss.dtype == np.float32 and z.grad.dtype == np.float32
        np.testing.assert_allclose(
            z.grad, np.array([[0, 0, 0], [-1, 0, 1], [0.5, -0.5, 0]]) / 3, atol=1e-7
        )


def test_float32_stays_float32():
    rng = np.random.default_rng(3)
    z = gn.tensor(rng.standard_normal((8, 5)).astype(np.float32), requires_grad=True)
    y = rng.integers(0, 5, 8)
    for loss in (
        cross_entropy(z, y),
        cross_entropy(z, np.eye(5)[y]),  # float64 one-hot
        losses.MSE()(z, np.zeros((8, 5))),
        binary_cross_entropy(z, np.ones((8, 5)), from_logits=True),
        losses.BinaryCrossEntropy()(z.sigmoid(), np.ones((8, 5))),
    ):
        z.grad = None
        assert loss.dtype == np.float32
        loss.backward()
        assert z.grad.dtype == np.float32


def test_binary_cross_entropy_is_stable_at_the_extremes():
    x = gn.tensor(
        np.array([1e4, -1e4, 1e3, -1e3], dtype=np.float32), requires_grad=True
    )
    loss = binary_cross_entropy(
        x, [1.0, 0.0, 0.0, 1.0], from_logits=True, reduction="none"
    )
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 1e3, 1e3])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, -1.0])
    # Probabilities of exactly 0 and 1 are clipped to [1e-7, 1 − 1e-7]: finite.
    p = gn.tensor(np.array([0.0, 1.0, 0.0, 1.0], dtype=np.float32), requires_grad=True)
    loss = binary_cross_entropy(p, [0.0, 1.0, 1.0, 0.0], reduction="none")
    assert np.isfinite(loss.data).all()
    # −log(1e-7) = 16.1; near 1 float32 rounds the bound to 1 − 1.19e-7: 15.9
    np.testing.assert_allclose(loss.data[2:], [16.118, 15.942], rtol=1e-4)
    loss.sum().backward()
    assert np.isfinite(p.grad).all()
    assert (
        p.grad[2] < 0 and p.grad[3] > 0
    )  # a confident wrong answer is still pushed back


# --- errors -----------------------------------------------------------------------------


def test_label_outside_range_names_the_label_and_C():
    z = gn.tensor(np.zeros((4, 10), dtype=np.float32))
    with pytest.raises(DataError, match=r"label 10 .*C = 10"):
        cross_entropy(z, np.array([1, 10, 3, 2]))
    with pytest.raises(DataError, match=r"label -1 .*C = 10"):
        losses.CrossEntropy()(z, np.array([1, 2, -1, 2]))
    with pytest.raises(
        DataError, match=r"CrossEntropy\(\): class labels must be whole"
    ):
        losses.CrossEntropy()(z, np.array([0.5, 1, 2, 3]))


def test_cross_entropy_target_shape_errors():
    z = gn.tensor(np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(
        ShapeError,
        match=r"CrossEntropy\(\): .*\(4, 3\).*\(4,\).*got \(4, 1\)"
        r".*reshape\(-1\)",
    ):
        losses.CrossEntropy()(z, np.zeros((4, 1), dtype=int))
    with pytest.raises(ShapeError, match=r"got \(5,\)"):
        cross_entropy(z, np.zeros(5, dtype=int))
    with pytest.raises(ShapeError, match="last axis of classes"):
        cross_entropy(gn.tensor(1.0), np.array(0))
    with pytest.raises(ValueError, match="reduction must be one of"):
        cross_entropy(z, np.zeros(4, dtype=int), reduction="average")


def test_mse_refuses_to_broadcast_a_column_against_a_vector():
    pred = gn.tensor(np.zeros((4, 1), dtype=np.float32))
    with pytest.raises(
        ShapeError,
        match=r"MSE\(\): prediction has shape \(4, 1\) but target "
        r"has shape \(4,\).*reshape\(-1, 1\)",
    ):
        losses.MSE()(pred, np.zeros(4))
    with pytest.raises(ShapeError, match=r"SSE\(\).*\(4,\).*\(4, 1\).*reshape\(-1\)"):
        losses.SSE()(gn.tensor(np.zeros(4)), np.zeros((4, 1)))
    with pytest.raises(
        ShapeError, match=r"BinaryCrossEntropy\(from_logits=True\).*\(4, 1\)"
    ):
        losses.BinaryCrossEntropy(from_logits=True)(pred, np.zeros(4))
    with pytest.raises(ShapeError, match=r"MAE\(\).*class labels: use CrossEntropy"):
        losses.MAE()(gn.tensor(np.zeros((4, 3))), np.zeros(4))


def test_bce_rejects_values_outside_zero_one():
    with pytest.raises(
        DataError, match=r"probabilities must lie in \[0, 1\].*from_logits=True"
    ):
        losses.BinaryCrossEntropy()(gn.tensor([0.5, 1.5]), [1.0, 0.0])
    with pytest.raises(DataError, match=r"targets must lie in \[0, 1\]"):
        binary_cross_entropy(gn.tensor([0.5, 0.5]), [2.0, 0.0])


# --- get, repr and custom losses ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cls",
    [
        ("mse", losses.MSE),
        ("MSE", losses.MSE),
        ("sse", losses.SSE),
        ("mae", losses.MAE),
        ("bce", losses.BinaryCrossEntropy),
        ("binary_cross_entropy", losses.BinaryCrossEntropy),
        ("cross_entropy", losses.CrossEntropy),
        ("ce", losses.CrossEntropy),
    ],
)
def test_get_by_name(name, cls):
    assert type(losses.get(name)) is cls


def test_get_passes_callables_and_explains_unknown_names():
    mse = losses.MSE(half=True)
    assert losses.get(mse) is mse
    assert type(losses.get(losses.MAE)) is losses.MAE
    with pytest.raises(
        ConfigError, match=r"unknown loss 'hinge'.*'mse'.*'cross_entropy'"
    ):
        losses.get("hinge")
    with pytest.raises(ConfigError, match="must be a name or a callable"):
        losses.get(3)


def test_reprs():
    assert [
        repr(x)
        for x in (
            losses.MSE(),
            losses.MSE(half=True),
            losses.SSE(),
            losses.MAE(),
            losses.BinaryCrossEntropy(),
            losses.BinaryCrossEntropy(from_logits=True),
            losses.CrossEntropy(),
        )
    ] == [
        "MSE()",
        "MSE(half=True)",
        "SSE()",
        "MAE()",
        "BinaryCrossEntropy()",
        "BinaryCrossEntropy(from_logits=True)",
        "CrossEntropy()",
    ]


def test_any_scalar_function_of_tensors_is_a_loss():
    # Seed 004: any error that grows with distance will do. A quartic loss:
    def quartic(prediction, target):
        return ((prediction - target) ** 4).mean()

    loss_fn = losses.get(quartic)
    assert loss_fn is quartic
    p = t64([1.0, 3.0])
    loss = loss_fn(p, np.array([0.0, 1.0]))  # (1 + 16)/2
    assert loss.item() == pytest.approx(8.5)
    loss.backward()
    np.testing.assert_allclose(p.grad, [2.0, 16.0])  # 4·(p − t)³/2
    # Gradient descent on it walks a guess towards the targets' middle.
    w = gn.tensor([4.0], requires_grad=True)
    target = np.array([1.0, 2.0, 3.0])
    for _ in range(200):
        w.grad = None
        loss_fn(w * np.ones(3), target).backward()
        w.data = w.data - 0.005 * w.grad
    assert abs(w.item() - 2.0) < 0.1
