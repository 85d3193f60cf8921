"""The eager loop's repeated steps run faster paths that must give the eager
path's numbers bit for bit: a Sequential's recorded replay (glassnet._replay),
CrossEntropy's path for labels and a mean, and the optimizer's step plan."""

import copy
import doctest
import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet import _replay, losses, nn, optim
from glassnet.errors import DataError, ShapeError
from glassnet.nn.module import FORWARD_HOOKS
from glassnet.ops.loss import cross_entropy
from glassnet.optim.base import Optimizer

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "id": nn.Identity,
}


def _model(widths, acts, bias, seed=0):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Dense(a, b, bias=bias[i % len(bias)]))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[acts[i % len(acts)]]())
    return nn.Sequential(*layers, seed=seed)


def _train(make, opt_name, batches, replay=True, plan=True, dtype=np.float32):
    """Losses, parameters, every gradient and the optimizer state after a plain loop."""
    saved = _replay.ENABLED, Optimizer._make_plan
    _replay.ENABLED = replay
    if not plan:
        Optimizer._make_plan = lambda self: None
    try:
        model = make()
        model.astype(dtype)
        opt = {
            "sgd": lambda: optim.SGD(model, lr=0.1),
            "momentum": lambda: optim.SGD(
                model, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3
            ),
            "adam": lambda: optim.Adam(model, lr=1e-2),
            "amsgrad": lambda: optim.Adam(model, lr=1e-2, amsgrad=True),
            "adamw": lambda: optim.AdamW(model, lr=1e-2, weight_decay=0.1),
        }[opt_name]()
        loss_fn = losses.CrossEntropy()
        curve, grads = [], []
        for xb, yb in batches:
            loss = loss_fn(model(xb.astype(dtype)), yb)
            opt.zero_grad()
            loss.backward()
            grads.append([p.grad for p in model.parameters()])
            opt.step()
            curve.append(loss.data)
        return curve, grads, model.state_dict(), opt.state_dict(), model
    finally:
        _replay.ENABLED, Optimizer._make_plan = saved


def _batches(n_in, n_out, sizes, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        X = rng.standard_normal((n, n_in)).astype(np.float32)
        out.append((X, rng.integers(0, n_out, n)))
    return out


def _same(a, b):
    for u, v in zip(a[0], b[0]):
        np.testing.assert_array_equal(u, v)
    for gu, gv in zip(a[1], b[1]):
        for u, v in zip(gu, gv):
            np.testing.assert_array_equal(u, v)
    for k in a[2]:
        np.testing.assert_array_equal(a[2][k], b[2][k])
    assert a[3]["step"] == b[3]["step"]
    for name, state in a[3]["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(b[3]["state"][name][key], value)


# Drawn: widths (2-4 Dense layers), activations, bias on or off, the optimizer,
# float32 or float64, and the batch sizes in turn (repeats, so that shapes are
# recorded and replayed, and changes, so that a second shape is recorded while
# the first is kept).
@settings(max_examples=25, deadline=None)
@given(
    widths=st.lists(st.integers(1, 9), min_size=2, max_size=4),
    acts=st.lists(st.sampled_from(sorted(ACTIVATIONS)), min_size=1, max_size=3),
    bias=st.lists(st.booleans(), min_size=1, max_size=3),
    opt=st.sampled_from(["sgd", "momentum", "adam", "amsgrad", "adamw"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    sizes=st.lists(st.sampled_from([1, 3, 8]), min_size=3, max_size=9),
)
def test_replayed_loop_gives_the_eager_numbers_bit_for_bit(
    widths, acts, bias, opt, dtype, sizes
):
    widths = widths[:-1] + [max(widths[-1], 2)]  # at least two classes
    batches = _batches(widths[0], widths[-1], sizes + sizes)

    def make():
        return _model(widths, acts, bias)

    eager = _train(make, opt, batches, replay=False, plan=False, dtype=dtype)
    fast = _train(make, opt, batches, dtype=dtype)
    _same(eager, fast)


def test_the_replay_runs_from_the_second_call_and_shows_its_source():
    model = _model([64, 32, 10], ["sigmoid"], [True])
    X, y = _batches(64, 10, [32])[0]
    assert _replay.replay_source(model, X.shape) is None
    out = model(X)
    assert out._parents[0] is not model.layers[0].weight  # eager: the last layer's
    out2 = model(X)  # the second call records, and replays
    source = _replay.replay_source(model, X.shape)
    assert "sigmoid" in source and "linear_backward" in source
    assert gn.inspect.replay_source(model, X.shape) == source
    assert doctest.testmod(importlib.import_module("glassnet.inspect")).failed == 0
    assert set(out2._parents) == set(model.parameters())
    np.testing.assert_array_equal(out.data, out2.data)
    assert model(X)._parents == out2._parents  # and every call after it


def test_what_the_user_holds_is_never_overwritten():
    model = _model([5, 4, 3], ["tanh"], [True])
    opt = optim.SGD(model, lr=0.5)
    loss_fn = losses.CrossEntropy()
    (X, y), (X2, y2) = _batches(5, 3, [6, 6])
    kept = []
    for xb, yb in [(X, y), (X2, y2)] * 3:
        out = model(xb)
        loss = loss_fn(out, yb)
        opt.zero_grad()
        loss.backward()
        kept.append(
            (
                out,
                out.data.copy(),
                [(p.grad, p.grad.copy()) for p in model.parameters()],
            )
        )
        opt.step()
    for out, value, grads in kept:
        np.testing.assert_array_equal(out.data, value)
        for g, copied in grads:
            np.testing.assert_array_equal(g, copied)


def test_a_forward_hook_sees_every_layer_and_eval_mode_and_no_grad_run_eagerly():
    model = _model([4, 3, 2], ["relu"], [True])
    X = np.ones((2, 4), np.float32)
    model(X), model(X)
    assert _replay.replay_source(model, X.shape) is not None
    assert len(gn.trace(model, X, np.array([0, 1])).records) == 4  # and the model
    seen = []
    FORWARD_HOOKS.append(lambda module, x, out: seen.append(type(module).__name__))
    try:  # a hook of one's own, in training mode: every layer runs eagerly
        model(X)
    finally:
        FORWARD_HOOKS.pop()
    assert seen == ["Dense", "ReLU", "Dense", "Sequential"]
    model.eval()
    assert set(model(X)._parents) != set(model.parameters())  # eval mode: eager
    model.train()
    with gn.no_grad():
        assert not model(X).requires_grad
    assert set(model(X)._parents) == set(model.parameters())


def test_an_input_that_needs_a_gradient_gets_it():
    model = _model([4, 3, 2], ["sigmoid"], [True])
    X = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    model(X), model(X)  # recorded
    x = gn.tensor(X, requires_grad=True)
    model(x).sum().backward()
    _replay.ENABLED = False
    try:
        x2 = gn.tensor(X, requires_grad=True)
        model(x2).sum().backward()
    finally:
        _replay.ENABLED = True
    np.testing.assert_array_equal(x.grad, x2.grad)


def test_changes_to_the_model_are_seen():
    model = _model([4, 3, 2], ["sigmoid"], [True])
    X = np.ones((2, 4), np.float32)
    model(X), model(X)
    first = model(X).data.copy()
    model.layers[1] = nn.ReLU()  # another activation
    _replay.ENABLED = False
    expected = model(X).data
    _replay.ENABLED = True
    np.testing.assert_array_equal(model(X).data, expected)
    assert not np.array_equal(expected, first)
    w = model.layers[0].weight
    w.data = w.data * 2  # a new array
    _replay.ENABLED = False
    expected = model(X).data
    _replay.ENABLED = True
    np.testing.assert_array_equal(model(X).data, expected)
    model.layers[2].bias.requires_grad = False  # frozen: eager, no gradient
    model(X).sum().backward()
    assert model.layers[2].bias.grad is None and model.layers[2].weight.grad is not None


def test_recording_puts_earlier_gradients_back_and_sums_like_eager():
    def run(replay):
        _replay.ENABLED = replay
        try:
            model = _model([4, 3, 2], ["tanh"], [True])
            X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
            for _ in range(3):  # no zero_grad: gradients add up
                model(X).sum().backward()
            return [p.grad for p in model.parameters()]
        finally:
            _replay.ENABLED = True

    for a, b in zip(run(True), run(False)):
        np.testing.assert_array_equal(a, b)


def test_a_copy_of_the_model_records_its_own_replay():
    model = _model([4, 3, 2], ["sigmoid"], [True])
    X = np.ones((2, 4), np.float32)
    model(X), model(X)
    twin = copy.deepcopy(model)
    assert twin.__dict__.get("_replays") is None
    twin.layers[0].weight.data += 1
    _replay.ENABLED = False
    expected = twin(X).data
    _replay.ENABLED = True
    twin(X)
    np.testing.assert_array_equal(twin(X).data, expected)
    assert not np.array_equal(model(X).data, expected)


def test_a_model_it_cannot_replay_runs_eagerly_and_still_says_what_is_wrong():
    shared = nn.Dense(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared, seed=0)  # a layer twice
    X = np.ones((2, 3), np.float32)
    model(X), model(X), model(X)
    assert _replay.replay_source(model, X.shape) is None
    m2 = _model([4, 3, 2], ["relu"], [True])
    m2(np.ones((2, 4), np.float32))
    with pytest.raises(ShapeError, match="Dense\\(in_features=4\\)"):
        m2(np.ones((2, 5), np.float32))
    Xi = np.ones((2, 4), np.int64)  # converted to float32 by the eager path
    m2(Xi), m2(Xi)
    assert _replay.replay_source(m2, Xi.shape, np.int64) is None
    np.testing.assert_array_equal(m2(Xi).data, m2(Xi.astype(np.float32)).data)


def test_retain_graph_walks_a_replayed_node_twice_and_a_freed_one_says_so():
    model = _model([4, 3, 2], ["sigmoid"], [True])
    X = np.ones((2, 4), np.float32)
    model(X)
    loss = model(X).sum()
    loss.backward(retain_graph=True)
    once = [p.grad.copy() for p in model.parameters()]
    loss.backward()
    for p, g in zip(model.parameters(), once):
        np.testing.assert_array_equal(p.grad, g + g)
    with pytest.raises(gn.errors.GraphError, match="already freed"):
        loss.backward()


# --- CrossEntropy's path for class labels and a mean ----------------------------------


# Drawn: rows, classes (below and above the 32 at which the row maxima change
# method), float32/float64, logits of any size (NaN left out: a NaN loss is the
# op's answer too, compared in the test below).
@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 40),
    classes=st.sampled_from([1, 2, 3, 10, 31, 32, 33, 65, 100]),
    dtype=st.sampled_from([np.float32, np.float64]),
    scale=st.sampled_from([1.0, 30.0, 1e3]),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_of_labels_gives_the_ops_numbers_bit_for_bit(
    rows, classes, dtype, scale, seed
):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((rows, classes)) * scale).astype(dtype)
    y = rng.integers(0, classes, rows)
    a, b = gn.tensor(z, requires_grad=True), gn.tensor(z, requires_grad=True)
    fast, op = losses.CrossEntropy()(a, y), cross_entropy(b, y)
    np.testing.assert_array_equal(fast.data, op.data)
    assert fast.dtype == op.dtype == dtype
    fast.backward()
    op.backward()
    np.testing.assert_array_equal(a.grad, b.grad)
    # the row maxima: the same as along each row
    zt = z.copy()
    zt[0, classes // 2] = np.nan
    with np.errstate(invalid="ignore"):
        l1 = losses.CrossEntropy()(gn.tensor(zt), y).data
    assert np.isnan(l1)


def test_cross_entropy_of_labels_says_what_the_op_says():
    ce = losses.CrossEntropy()
    z = gn.tensor(np.zeros((3, 4), np.float32), requires_grad=True)
    with pytest.raises(DataError, match=r"CrossEntropy\(\): label 7 .* C = 4"):
        ce(z, np.array([0, 7, 1]))
    with pytest.raises(DataError, match="whole numbers"):
        ce(z, np.array([0.5, 1.0, 2.0]))
    with pytest.raises(ShapeError, match=r"targets of shape \(3,\)"):
        ce(z, np.array([0, 1]))
    with pytest.raises(gn.errors.DTypeError, match="must be floats"):
        ce(gn.tensor(np.zeros((3, 4), np.int64)), np.array([0, 1, 2]))
    # the other cases go to the op: weights, rows, reductions, sequences
    y = np.array([0, 3, 1])
    assert losses.CrossEntropy(reduction="sum")(z, y).data == pytest.approx(
        3 * np.log(4)
    )
    assert losses.CrossEntropy()(z, np.eye(4)[y]).data == pytest.approx(np.log(4))
    zz = gn.tensor(np.zeros((2, 3, 4), np.float32))
    assert losses.CrossEntropy()(zz, np.zeros((2, 3), int)).data == pytest.approx(
        np.log(4)
    )


# --- the optimizer's step plan ------------------------------------------------------


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam", "amsgrad", "adamw"])
def test_the_step_plan_moves_as_update_one_and_notices_changes(opt):
    def run(plan):
        saved = Optimizer._make_plan
        if not plan:
            Optimizer._make_plan = lambda self: None
        try:
            model = _model([5, 4, 3], ["tanh"], [True, False])
            o = {
                "sgd": lambda: optim.SGD(model, lr=0.1),
                "momentum": lambda: optim.SGD(
                    model, lr=0.1, momentum=0.9, weight_decay=0.01
                ),
                "adam": lambda: optim.Adam(model, lr=0.01),
                "amsgrad": lambda: optim.Adam(model, lr=0.01, amsgrad=True),
                "adamw": lambda: optim.AdamW(model, lr=0.01),
            }[opt]()
            rng = np.random.default_rng(0)
            snapshot = None
            for i in range(12):
                X = rng.standard_normal((4, 5)).astype(np.float32)
                loss = losses.CrossEntropy()(model(X), rng.integers(0, 3, 4))
                o.zero_grad()
                loss.backward()
                if i == 4:  # one parameter without a gradient this step
                    model.layers[2].weight.grad = None
                if i == 6:
                    o.lr = o.lr / 2  # a schedule's new rate
                if i == 7:
                    snapshot = o.state_dict()
                if i == 9:  # back to step 7's state, and a new weight array
                    o.load_state_dict(snapshot)
                    w = model.layers[0].weight
                    w.data = w.data.copy()
                o.step()
            return model.state_dict(), o.state_dict()
        finally:
            Optimizer._make_plan = saved

    (m1, o1), (m2, o2) = run(True), run(False)
    for k in m1:
        np.testing.assert_array_equal(m1[k], m2[k])
    assert o1["step"] == o2["step"]
    for name, state in o2["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(o1["state"][name][key], value)


def test_the_step_plan_is_made_only_for_its_own_rule():
    model = _model([5, 4, 3], ["tanh"], [True])

    class Halved(optim.SGD):
        def update_one(self, p, grad, state, h):
            super().update_one(p, grad / 2, state, h)

    for o, planned in [
        (optim.SGD(model, lr=0.1), True),
        (Halved(model, lr=0.1), False),
    ]:
        model(np.ones((2, 5), np.float32)).sum().backward()
        o.step()
        assert (o._plan is not None) == planned


def test_a_loop_that_replaces_the_weights_every_step_stops_recording():
    """Manual SGD that makes new arrays (p.data = p.data - lr * p.grad): each
    replay is out of date at once; after MAX_MISSES records the model stays
    eager, with the eager numbers throughout."""

    def run(replay):
        _replay.ENABLED = replay
        try:
            model = _model([4, 3, 2], ["sigmoid"], [True])
            X, y = _batches(4, 2, [5])[0]
            losses_seen = []
            for _ in range(12):
                loss = losses.CrossEntropy()(model(X), y)
                for p in model.parameters():
                    p.grad = None
                loss.backward()
                for p in model.parameters():
                    p.data = p.data - np.float32(0.5) * p.grad
                losses_seen.append(float(loss.data))
            return losses_seen, model
        finally:
            _replay.ENABLED = True

    (fast, model), (slow, _) = run(True), run(False)
    assert fast == slow
    plans = model.__dict__["_replays"]
    assert (
        plans.misses == _replay.MAX_MISSES
        and plans[((5, 4), np.dtype(np.float32))] == 1
    )


def test_at_most_max_shapes_batch_shapes_are_recorded(monkeypatch):
    monkeypatch.setattr(_replay, "MAX_SHAPES", 3)
    model = _model([4, 3, 2], ["relu"], [True])
    for n in [1, 2, 3, 4, 5] * 2:
        model(np.ones((n, 4), np.float32))
    plans = model.__dict__["_replays"]
    assert sum(callable(v) for v in plans.values()) == 3
    assert all(plans[((n, 4), np.dtype(np.float32))] == 1 for n in (4, 5))
