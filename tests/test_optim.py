"""Optimizers, schedules and clipping, each checked against arithmetic done by hand.

Most tests use one small problem: two parameters a and b with the loss

    L = a² + 3b²,   so   dL/da = 2a,   dL/db = 6b,

starting from a = 1, b = -2 (first gradients 2 and -12), in float64 so the
hand arithmetic can be compared to ~1e-12.
"""

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassnet as gn
from glassnet.errors import ConfigError, DTypeError, FormatError, ShapeError
from glassnet.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineLR,
    ExponentialLR,
    NAdam,
    RAdam,
    RMSprop,
    StepLR,
    clip_grad_norm,
    clip_grad_value,
)


def quadratic(dtype=np.float64):
    """The parameters a, b and a function that fills their gradients of L = a² + 3b²."""
    a = gn.tensor(np.array([1.0], dtype), requires_grad=True)
    b = gn.tensor(np.array([-2.0], dtype), requires_grad=True)

    def backward():
        (a * a + b * b * 3.0).sum().backward()

    return a, b, backward


def run(opt, backward, steps):
    """``steps`` training steps; the (a, b) values after each."""
    out = []
    for _ in range(steps):
        opt.zero_grad()
        backward()
        opt.step()
        (_, a), (_, b) = opt.params
        out.append((a.data[0], b.data[0]))
    return out


def close(got, want):
    np.testing.assert_allclose(
        np.array(got, np.float64), np.array(want), rtol=1e-12, atol=1e-15
    )


class TinyModel:
    """Anything with named_parameters() is a model to an optimizer."""

    def __init__(self, rng, dtype=np.float32):
        self.w = gn.tensor(
            rng.standard_normal((3, 2)).astype(dtype), requires_grad=True
        )
        self.c = gn.tensor(rng.standard_normal(2).astype(dtype), requires_grad=True)

    def named_parameters(self):
        yield "layer.weight", self.w
        yield "layer.bias", self.c

    def loss(self, x):
        return ((x @ self.w + self.c) ** 2).mean()


# --- SGD ---------------------------------------------------------------------------


def test_sgd_plain_by_hand():
    a, b, backward = quadratic()
    # θ ← θ - 0.1 g
    # step 1: g = (2, -12):      a = 1 - 0.2 = 0.8,      b = -2 + 1.2 = -0.8
    # step 2: g = (1.6, -4.8):   a = 0.8 - 0.16 = 0.64,  b = -0.8 + 0.48 = -0.32
    close(run(SGD([a, b], lr=0.1), backward, 2), [(0.8, -0.8), (0.64, -0.32)])


def test_sgd_momentum_by_hand():
    a, b, backward = quadratic()
    # buf ← 0.9 buf + g (buf = g on the first step);  θ ← θ - 0.1 buf
    # step 1: g = (2, -12), buf = (2, -12):              a = 0.8,   b = -0.8
    # step 2: g = (1.6, -4.8), buf = (1.8 + 1.6, -10.8 - 4.8) = (3.4, -15.6)
    #         a = 0.8 - 0.34 = 0.46,  b = -0.8 + 1.56 = 0.76
    # step 3: g = (0.92, 4.56), buf = (3.06 + 0.92, -14.04 + 4.56) = (3.98, -9.48)
    #         a = 0.46 - 0.398 = 0.062,  b = 0.76 + 0.948 = 1.708
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    close(run(opt, backward, 3), [(0.8, -0.8), (0.46, 0.76), (0.062, 1.708)])
    close(opt.state["0"]["momentum_buffer"], [3.98])
    close(opt.state["1"]["momentum_buffer"], [-9.48])


def test_sgd_nesterov_by_hand():
    a, b, backward = quadratic()
    # buf ← 0.9 buf + g;  d = g + 0.9 buf;  θ ← θ - 0.1 d
    # step 1: g = (2, -12), buf = (2, -12), d = (2 + 1.8, -12 - 10.8) = (3.8, -22.8)
    #         a = 1 - 0.38 = 0.62,  b = -2 + 2.28 = 0.28
    # step 2: g = (1.24, 1.68), buf = (1.8 + 1.24, -10.8 + 1.68) = (3.04, -9.12)
    #         d = (1.24 + 2.736, 1.68 - 8.208) = (3.976, -6.528)
    #         a = 0.62 - 0.3976 = 0.2224,  b = 0.28 + 0.6528 = 0.9328
    opt = SGD([a, b], lr=0.1, momentum=0.9, nesterov=True)
    close(run(opt, backward, 2), [(0.62, 0.28), (0.2224, 0.9328)])


def test_sgd_weight_decay_by_hand():
    a, b, backward = quadratic()
    # g ← g + 0.1 θ;  θ ← θ - 0.1 g
    # step 1: g = (2 + 0.1, -12 - 0.2) = (2.1, -12.2):  a = 0.79,  b = -2 + 1.22 = -0.78
    # step 2: g = (1.58 + 0.079, -4.68 - 0.078) = (1.659, -4.758)
    #         a = 0.79 - 0.1659 = 0.6241,  b = -0.78 + 0.4758 = -0.3042
    opt = SGD([a, b], lr=0.1, weight_decay=0.1)
    close(run(opt, backward, 2), [(0.79, -0.78), (0.6241, -0.3042)])


def test_sgd_nesterov_with_weight_decay_by_hand():
    a, b, backward = quadratic()
    # g ← g + 0.5 θ;  buf ← 0.5 buf + g;  d = g + 0.5 buf;  θ ← θ - 0.1 d
    # step 1: g = (2 + 0.5, -12 - 1) = (2.5, -13), buf = g, d = 1.5 g = (3.75, -19.5)
    #         a = 1 - 0.375 = 0.625,  b = -2 + 1.95 = -0.05
    # step 2: g = (1.25 + 0.3125, -0.3 - 0.025) = (1.5625, -0.325)
    #         buf = (1.25 + 1.5625, -6.5 - 0.325) = (2.8125, -6.825)
    #         d = (1.5625 + 1.40625, -0.325 - 3.4125) = (2.96875, -3.7375)
    #         a = 0.625 - 0.296875 = 0.328125,  b = -0.05 + 0.37375 = 0.32375
    opt = SGD([a, b], lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.5)
    close(run(opt, backward, 2), [(0.625, -0.05), (0.328125, 0.32375)])


# --- Adam and AdamW ----------------------------------------------------------------


def test_adam_by_hand():
    a, b, backward = quadratic()
    # m ← 0.9 m + 0.1 g;  v ← 0.999 v + 0.001 g²;
    # θ ← θ - 0.1/(1 - 0.9^t) · m / (√v / √(1 - 0.999^t) + 1e-8)
    # step 1: g = (2, -12); m = (0.2, -1.2); v = (0.004, 0.144)
    #         m/(1-0.9) = g and √(v/(1-0.999)) = |g|,
    #         so each moves by 0.1·|g|/(|g| + 1e-8)
    a1 = 1 - 0.1 * 2 / (2 + 1e-8)  # 0.9000000005
    b1 = -2 + 0.1 * 12 / (12 + 1e-8)  # -1.9000000000833
    # step 2: g = (2 a1, 6 b1) ≈ (1.8, -11.4)
    #         m = 0.9 m + 0.1 g,  v = 0.999 v + 0.001 g²,
    #         bias corrections 1 - 0.9² = 0.19 and 1 - 0.999² = 0.001999
    ga, gb = 2 * a1, 6 * b1
    ma, mb = 0.9 * 0.2 + 0.1 * ga, 0.9 * -1.2 + 0.1 * gb  # ≈ 0.36, -2.22
    va, vb = 0.999 * 0.004 + 0.001 * ga**2, 0.999 * 0.144 + 0.001 * gb**2
    root = math.sqrt(0.001999)
    a2 = a1 - 0.1 / 0.19 * ma / (math.sqrt(va) / root + 1e-8)  # ≈ 0.800412
    b2 = b1 - 0.1 / 0.19 * mb / (math.sqrt(vb) / root + 1e-8)  # ≈ -1.800166
    opt = Adam([a, b], lr=0.1)
    np.testing.assert_allclose(run(opt, backward, 2), [(a1, b1), (a2, b2)], rtol=1e-10)
    assert opt.state["0"]["step"] == 2
    np.testing.assert_allclose(opt.state["0"]["exp_avg"], [ma], rtol=1e-12)
    np.testing.assert_allclose(opt.state["1"]["exp_avg_sq"], [vb], rtol=1e-12)


def test_adam_l2_weight_decay_by_hand():
    a, b, backward = quadratic()
    # Adam's weight decay joins the gradient: g ← g + 0.5 θ = (2.5, -13) on step 1;
    # the first step still moves each weight by lr·|g|/(|g| + eps).
    opt = Adam([a, b], lr=0.1, weight_decay=0.5)
    ((a1, b1),) = run(opt, backward, 1)
    np.testing.assert_allclose(
        [a1, b1],
        [1 - 0.1 * 2.5 / (2.5 + 1e-8), -2 + 0.1 * 13 / (13 + 1e-8)],
        rtol=1e-12,
    )
    np.testing.assert_allclose(opt.state["1"]["exp_avg"], [0.1 * -13], rtol=1e-12)


def test_adamw_by_hand():
    a, b, backward = quadratic()
    # θ ← (1 - 0.1·0.5) θ = 0.95 θ, then Adam's step with the gradient taken before.
    # step 1: g = (2, -12); a = 0.95 - 0.1·2/(2 + 1e-8),  b = -1.9 + 0.1·12/(12 + 1e-8)
    a1 = 0.95 - 0.1 * 2 / (2 + 1e-8)  # ≈ 0.85
    b1 = -1.9 + 0.1 * 12 / (12 + 1e-8)  # ≈ -1.8
    # step 2: g = (2 a1, 6 b1) ≈ (1.7, -10.8); decay, then Adam as in test_adam_by_hand
    ga, gb = 2 * a1, 6 * b1
    ma, mb = 0.9 * 0.2 + 0.1 * ga, 0.9 * -1.2 + 0.1 * gb
    va, vb = 0.999 * 0.004 + 0.001 * ga**2, 0.999 * 0.144 + 0.001 * gb**2
    root = math.sqrt(0.001999)
    a2 = 0.95 * a1 - 0.1 / 0.19 * ma / (math.sqrt(va) / root + 1e-8)
    b2 = 0.95 * b1 - 0.1 / 0.19 * mb / (math.sqrt(vb) / root + 1e-8)
    opt = AdamW([a, b], lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(run(opt, backward, 2), [(a1, b1), (a2, b2)], rtol=1e-10)
    assert (a2, b2) == pytest.approx((0.7082484, -1.6104122), rel=1e-6)


def test_adam_counts_steps_per_parameter():
    """A parameter without a gradient is skipped entirely: no move, no step count."""
    a, b, _ = quadratic()
    opt = Adam([a, b], lr=0.1)
    a.grad = np.array([2.0])
    opt.step()
    a.grad, b.grad = np.array([2.0]), np.array([-12.0])
    opt.step()
    assert opt.state["0"]["step"] == 2 and opt.state["1"]["step"] == 1
    assert opt.steps == 2
    # b's first own step is a bias-corrected lr·sign(g), whatever a did before.
    np.testing.assert_allclose(b.data, [-2 + 0.1 * 12 / (12 + 1e-8)], rtol=1e-12)


# --- behaviour every optimizer shares -----------------------------------------

ALL = [
    lambda p: SGD(p, lr=0.1),
    lambda p: SGD(p, lr=0.1, momentum=0.9),
    lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: Adam(p, lr=0.01),
    lambda p: Adam(p, lr=0.01, weight_decay=0.1),
    lambda p: AdamW(p, lr=0.01),
]
# Issue 18's rules: their numbers are checked against PyTorch in
# test_optim_torch.py; here the dtype and checkpoint contract every optimizer keeps.
NEW = [
    lambda p: Adam(p, lr=0.01, amsgrad=True),
    lambda p: RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.01),
    lambda p: RMSprop(p, lr=0.01),
    lambda p: Adagrad(p, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    lambda p: NAdam(p, lr=0.01, weight_decay=0.01),
    lambda p: RAdam(p, lr=0.01, decoupled_weight_decay=True, weight_decay=0.01),
    lambda p: SGD(
        [
            {"params": list(p.named_parameters())[:1], "weight_decay": 0.1},
            {"params": list(p.named_parameters())[1:], "lr": 0.5, "momentum": 0.9},
        ],
        lr=0.1,
    ),  # fmt: skip
]


@pytest.mark.parametrize("make", ALL + NEW)
def test_float32_stays_float32_and_grads_untouched(make, rng):
    model = TinyModel(rng)
    opt = make(model)
    x = gn.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    for _ in range(3):
        opt.zero_grad()
        model.loss(x).backward()
        grads = {name: p.grad for name, p in opt.params}
        copies = {name: g.copy() for name, g in grads.items()}
        opt.step()
        for name, p in opt.params:
            assert p.data.dtype == np.float32
            assert p.grad is grads[name]  # not replaced ...
            np.testing.assert_array_equal(p.grad, copies[name])  # ... and not written
    for s in opt.state.values():
        for value in s.values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32


@pytest.mark.parametrize("make", ALL)
def test_converges_on_a_quadratic(make):
    """L = Σ c_i (w_i - t_i)² with curvatures c far apart: every optimizer finds t."""
    target = np.array([1.5, -2.0, 0.5, 3.0])
    curvature = np.array([0.5, 1.0, 2.0, 4.0])
    w = gn.tensor(np.zeros(4), requires_grad=True)
    opt = make([w])
    for _ in range(3000):
        opt.zero_grad()
        (((w - target) ** 2) * curvature).sum().backward()
        opt.step()
    # L2 decay λ moves the minimum of L + (λ/2)|w|² to c t / (c + λ/2). AdamW's
    # decoupled decay (λ = 0.01) has no such closed form; it settles within ~0.01 of t.
    decay = 0.0 if isinstance(opt, AdamW) else opt.weight_decay
    tol = 2e-2 if isinstance(opt, AdamW) else 1e-9
    np.testing.assert_allclose(
        w.data, curvature * target / (curvature + decay / 2), atol=tol
    )


def test_parameters_without_gradient_are_left_alone():
    a, b, _ = quadratic()
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = np.array([1.0])
    opt.step()
    np.testing.assert_array_equal(b.data, [-2.0])
    assert set(opt.state) == {"0"}
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_params_may_be_a_model_pairs_tensors_or_a_dict(rng):
    model = TinyModel(rng)
    assert [n for n, _ in SGD(model).params] == ["layer.weight", "layer.bias"]
    assert [n for n, _ in SGD(model.named_parameters()).params] == [
        "layer.weight",
        "layer.bias",
    ]
    assert [n for n, _ in SGD([model.w, model.c]).params] == ["0", "1"]
    assert [n for n, _ in SGD(iter([model.w, model.c])).params] == ["0", "1"]
    assert [n for n, _ in SGD({"w": model.w}).params] == ["w"]
    assert [n for n, _ in SGD(model.w).params] == ["0"]


def test_repr():
    w = [gn.tensor([1.0], requires_grad=True)]
    assert repr(SGD(w, lr=0.1, momentum=0.9)) == "SGD(lr=0.1, momentum=0.9)"
    assert repr(SGD(w, lr=0.1, momentum=0.9, nesterov=True)) == (
        "SGD(lr=0.1, momentum=0.9, nesterov=True)"
    )
    assert repr(Adam(w)) == "Adam(lr=0.001)"
    assert repr(Adam(w, betas=(0.5, 0.9))) == "Adam(lr=0.001, betas=(0.5, 0.9))"
    assert repr(AdamW(w, weight_decay=0.1)) == "AdamW(lr=0.001, weight_decay=0.1)"


def test_lr_is_settable_and_checked():
    opt = SGD([gn.tensor([1.0], requires_grad=True)], lr=0.1)
    opt.lr = 0.05
    assert opt.lr == 0.05
    opt.lr = 0.0  # a schedule may anneal to zero
    with pytest.raises(ConfigError, match=r"SGD: lr must be a number in \[0.0, inf\)"):
        opt.lr = -1.0


@pytest.mark.parametrize(
    "make", [lambda p: AdamW(p, lr=0.1, weight_decay=0.5), lambda p: SGD(p, lr=0.1)]
)
def test_changing_lr_takes_effect_at_the_next_step(make):
    a, b, backward = quadratic()
    opt = make([a, b])
    run(opt, backward, 1)
    opt.lr = 0.0
    before = (a.data.copy(), b.data.copy())
    # No learning rate, no move (AdamW's shrink factor 1 - lr·λ must follow lr too).
    run(opt, backward, 1)
    np.testing.assert_array_equal(a.data, before[0])
    np.testing.assert_array_equal(b.data, before[1])


@given(lr=st.floats(1e-4, 10.0), seed=st.integers(0, 2**16))
def test_sgd_step_is_exactly_theta_minus_lr_g_in_float32(lr, seed):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(7).astype(np.float32)
    grad = rng.standard_normal(7).astype(np.float32)
    p = gn.tensor(data.copy(), requires_grad=True)
    p.grad = grad
    SGD([p], lr=lr).step()
    np.testing.assert_array_equal(p.data, data - np.float32(lr) * grad)


# --- saving and restoring -----------------------------------------------------


@pytest.mark.parametrize("make", ALL + NEW)
def test_state_dict_round_trip_continues_bitwise(make, rng):
    model = TinyModel(rng)
    x = gn.tensor(rng.standard_normal((8, 3)).astype(np.float32))
    opt = make(model)

    def train(m, o, steps):
        out = []
        for _ in range(steps):
            o.zero_grad()
            m.loss(x).backward()
            o.step()
            out.append([p.data.copy() for _, p in m.named_parameters()])
        return out

    train(model, opt, 4)
    saved = opt.state_dict()
    weights = [p.data.copy() for _, p in model.named_parameters()]
    first = train(model, opt, 4)

    # The arrays in the snapshot are copies, untouched by later steps ...
    for name, s in saved["state"].items():
        for key, value in s.items():
            if isinstance(value, np.ndarray):
                assert value is not opt.state[name][key]
    # ... and everything that is not an array is JSON.
    json.dumps(
        {
            **saved,
            "state": {
                n: {k: v for k, v in s.items() if not isinstance(v, np.ndarray)}
                for n, s in saved["state"].items()
            },
        }
    )
    assert saved["step"] == 4 and saved["type"] == type(opt).__name__

    clone = TinyModel(rng)
    clone.w.data, clone.c.data = weights[0].copy(), weights[1].copy()
    opt2 = make(clone)
    opt2.load_state_dict(saved)
    second = train(clone, opt2, 4)
    for step_a, step_b in zip(first, second):
        for wa, wb in zip(step_a, step_b):
            np.testing.assert_array_equal(wa, wb)
    assert opt2.steps == opt.steps == 8


def test_load_state_dict_restores_settings():
    w = [gn.tensor([1.0], requires_grad=True)]
    src = Adam(w, lr=0.02, betas=(0.5, 0.9), eps=1e-6)
    src.lr = 0.005
    dst = Adam([gn.tensor([1.0], requires_grad=True)])
    dst.load_state_dict(src.state_dict())
    assert (dst.lr, dst.betas, dst.eps) == (0.005, (0.5, 0.9), 1e-6)


def test_load_state_dict_checks_and_changes_nothing_on_failure():
    a, b, backward = quadratic()
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    run(opt, backward, 1)
    good = opt.state_dict()
    buffer = opt.state["0"]["momentum_buffer"].copy()

    def broken(**change):
        sd = opt.state_dict()
        for path, value in change.items():
            *keys, last = path.split("/")
            d = sd
            for k in keys:
                d = d[k]
            d[last] = value
        return sd

    with pytest.raises(FormatError, match="belongs to a Adam optimizer"):
        opt.load_state_dict(broken(type="Adam"))
    with pytest.raises(FormatError, match=r"unknown parameters \['zz'\]"):
        opt.load_state_dict({**good, "state": {**good["state"], "zz": {}}})
    with pytest.raises(
        ShapeError, match=r"'1' momentum_buffer expected shape \(1,\); got \(2,\)"
    ):
        opt.load_state_dict(broken(**{"state/1/momentum_buffer": np.zeros(2)}))
    with pytest.raises(
        FormatError, match=r"state of '0' must have keys \['momentum_buffer'\]"
    ):
        opt.load_state_dict({**good, "state": {"0": {}}})
    with pytest.raises(
        ConfigError, match=r"SGD: momentum must be a number in \[0.0, 1.0\)"
    ):
        opt.load_state_dict(broken(**{"hyper/momentum": 2.0}))
    with pytest.raises(FormatError, match="step must be a non-negative integer"):
        opt.load_state_dict(broken(step=-1))
    with pytest.raises(FormatError, match="expected a dict with keys"):
        opt.load_state_dict({"state": {}})
    np.testing.assert_array_equal(opt.state["0"]["momentum_buffer"], buffer)
    assert opt.momentum == 0.9 and opt.steps == 1


# --- validation ---------------------------------------------------------------


def test_bad_settings_are_named():
    w = [gn.tensor([1.0], requires_grad=True)]
    with pytest.raises(
        ConfigError, match=r"^SGD: lr must be a positive finite number; got -0.1\.$"
    ):
        SGD(w, lr=-0.1)
    with pytest.raises(
        ConfigError, match="Adam: lr must be a positive finite number; got nan"
    ):
        Adam(w, lr=float("nan"))
    with pytest.raises(ConfigError, match="lr must be a positive finite number; got 0"):
        AdamW(w, lr=0)
    with pytest.raises(
        ConfigError, match=r"SGD: momentum must be a number in \[0.0, 1.0\); got 1.5"
    ):
        SGD(w, momentum=1.5)
    with pytest.raises(ConfigError, match="nesterov=True needs momentum > 0"):
        SGD(w, nesterov=True)
    with pytest.raises(ConfigError, match="weight_decay must be a number in"):
        SGD(w, weight_decay=-1e-4)
    with pytest.raises(
        ConfigError, match=r"Adam: betas\[1\] must be a number in \[0.0, 1.0\)"
    ):
        Adam(w, betas=(0.9, 1.0))
    with pytest.raises(ConfigError, match="betas must be a pair"):
        Adam(w, betas=0.9)
    with pytest.raises(ConfigError, match="AdamW: eps must be"):
        AdamW(w, eps=-1.0)


def test_bad_parameters_are_named():
    with pytest.raises(ConfigError, match="SGD: got no parameters to optimise"):
        SGD([])
    with pytest.raises(ConfigError, match="parameter '0' has requires_grad=False"):
        SGD([gn.tensor([1.0])])
    ints = gn.tensor(np.array([1, 2]))
    ints.requires_grad = True  # bypassing the Tensor's own check
    with pytest.raises(
        DTypeError, match="parameter 'n' must be float32 or float64; got int64"
    ):
        SGD([("n", ints)])
    w = gn.tensor([1.0], requires_grad=True)
    with pytest.raises(ConfigError, match="'1' is the same Tensor as an earlier one"):
        Adam([w, w])
    with pytest.raises(ConfigError, match="two parameters are both named 'x'"):
        Adam([("x", w), ("x", gn.tensor([1.0], requires_grad=True))])
    with pytest.raises(ConfigError, match="params item 0 must be a Tensor or a"):
        SGD([np.ones(3)])
    with pytest.raises(ConfigError, match="params must be a model"):
        SGD(3.0)


# --- schedules ----------------------------------------------------------------


def make_opt(lr=0.1):
    return SGD([gn.tensor([0.0], requires_grad=True)], lr=lr)


def test_step_lr_sequence():
    opt = make_opt(0.1)
    schedule = StepLR(opt, step_size=3, gamma=0.5)
    got = [schedule.step() for _ in range(7)]
    # η_e = 0.1 · 0.5^⌊e/3⌋ for e = 1..7
    assert got == [0.1 * 0.5 ** (e // 3) for e in range(1, 8)]
    assert got == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    assert opt.lr == schedule.lr == got[-1]


def test_exponential_lr_sequence():
    opt = make_opt(0.2)
    schedule = ExponentialLR(opt, gamma=0.9)
    got = [schedule.step() for _ in range(4)]
    assert got == [0.2 * 0.9**e for e in range(1, 5)]
    assert got == pytest.approx([0.18, 0.162, 0.1458, 0.13122])


def test_cosine_lr_sequence():
    opt = make_opt(0.1)
    schedule = CosineLR(opt, t_max=4, lr_min=0.02)
    assert schedule.lr == 0.1
    got = [schedule.step() for _ in range(6)]
    # η_e = 0.02 + 0.08 · (1 + cos(π e / 4)) / 2, held at 0.02 after e = 4
    want = [
        0.02 + 0.08 * (1 + math.cos(math.pi * min(e, 4) / 4)) / 2 for e in range(1, 7)
    ]
    assert got == want
    half = math.sqrt(2) / 2
    assert got == pytest.approx(
        [0.02 + 0.04 * (1 + half), 0.06, 0.02 + 0.04 * (1 - half), 0.02, 0.02, 0.02]
    )
    assert opt.lr == 0.02


def test_cosine_to_zero_sets_lr_zero():
    opt = make_opt(0.1)
    schedule = CosineLR(opt, t_max=2)
    schedule.step()
    schedule.step()
    assert opt.lr == 0.0


@pytest.mark.parametrize(
    "make",
    [
        lambda o: StepLR(o, 2, 0.5),
        lambda o: ExponentialLR(o, 0.7),
        lambda o: CosineLR(o, 5, 0.001),
    ],
)
def test_schedule_state_dict_round_trip(make):
    opt = make_opt()
    schedule = make(opt)
    now = [schedule.step() for _ in range(3)][-1]
    saved = json.loads(json.dumps(schedule.state_dict()))
    later = [schedule.step() for _ in range(4)]

    opt2 = make_opt(0.5)  # a different lr: the snapshot's base_lr wins
    schedule2 = make(opt2)
    schedule2.load_state_dict(saved)
    assert opt2.lr == schedule2.lr == now
    assert [schedule2.step() for _ in range(4)] == later


def test_schedule_validation():
    opt = make_opt(0.1)
    with pytest.raises(
        ConfigError, match="StepLR: step_size must be a positive integer; got 0"
    ):
        StepLR(opt, step_size=0)
    with pytest.raises(
        ConfigError, match="StepLR: gamma must be a positive finite number"
    ):
        StepLR(opt, step_size=2, gamma=-0.5)
    with pytest.raises(
        ConfigError, match="ExponentialLR: gamma must be a positive finite"
    ):
        ExponentialLR(opt, gamma=float("inf"))
    with pytest.raises(
        ConfigError, match="CosineLR: t_max must be a positive integer; got 2.5"
    ):
        CosineLR(opt, t_max=2.5)
    with pytest.raises(
        ConfigError, match=r"CosineLR: lr_min must be a number in \[0.0, 0.1\]"
    ):
        CosineLR(opt, t_max=10, lr_min=0.5)
    with pytest.raises(
        ConfigError, match="expected an optimizer with an lr setting; got list"
    ):
        StepLR([], step_size=1)
    schedule = StepLR(opt, step_size=2)
    with pytest.raises(FormatError, match="belongs to a CosineLR schedule"):
        schedule.load_state_dict({**schedule.state_dict(), "type": "CosineLR"})
    with pytest.raises(ConfigError, match="step_size must be a positive integer"):
        schedule.load_state_dict(
            {**schedule.state_dict(), "settings": {"step_size": -1, "gamma": 0.1}}
        )
    assert schedule.step_size == 2


# --- clipping -----------------------------------------------------------------


def test_clip_grad_norm_numbers():
    a = gn.tensor(np.zeros(2, np.float32), requires_grad=True)
    b = gn.tensor(np.zeros(1, np.float32), requires_grad=True)
    c = gn.tensor(np.zeros(1, np.float32), requires_grad=True)  # no gradient: ignored
    old_a = np.array([3.0, 4.0], np.float32)
    a.grad, b.grad = old_a, np.array([12.0], np.float32)
    # ‖g‖ = √(9 + 16 + 144) = 13, above 6.5: every entry is scaled by 6.5 / (13 + 1e-6)
    norm = clip_grad_norm([a, b, c], max_norm=6.5)
    assert norm == 13.0
    scale = 6.5 / (13 + 1e-6)
    np.testing.assert_allclose(a.grad, [3 * scale, 4 * scale], rtol=1e-6)
    np.testing.assert_allclose(b.grad, [12 * scale], rtol=1e-6)
    assert a.grad.dtype == np.float32 and c.grad is None
    assert a.grad is not old_a  # replaced, not written into
    np.testing.assert_array_equal(old_a, [3.0, 4.0])
    assert math.sqrt(float((a.grad**2).sum() + (b.grad**2).sum())) == pytest.approx(6.5)


def test_clip_grad_norm_below_the_limit_changes_nothing():
    a = gn.tensor(np.zeros(2), requires_grad=True)
    g = np.array([0.3, 0.4])
    a.grad = g
    assert clip_grad_norm([("a", a)], 1.0) == pytest.approx(0.5)
    assert a.grad is g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("below", [0.0, 5e-7])
def test_clip_grad_norm_at_the_limit_follows_pytorch(dtype, below):
    """PyTorch multiplies by min(1, max_norm / (norm + 1e-6)) whatever the norm,
    so a norm equal to max_norm (or within 1e-6 below it) is scaled too."""
    a = gn.tensor(np.zeros(2, dtype), requires_grad=True)
    a.grad = np.array([3.0, 4.0], dtype)  # norm 5
    max_norm = 5.0 + below
    assert clip_grad_norm([a], max_norm) == 5.0
    coef = min(1.0, max_norm / (5.0 + 1e-6))
    assert coef < 1
    np.testing.assert_array_equal(a.grad, np.array([3.0, 4.0], dtype) * dtype(coef))
    assert a.grad.dtype == dtype


def test_clip_grad_norm_survives_float32_overflow():
    a = gn.tensor(np.zeros(2, np.float32), requires_grad=True)
    a.grad = np.array([3e20, 4e20], np.float32)  # squares overflow float32
    assert clip_grad_norm([a], 1.0) == pytest.approx(5e20, rel=1e-6)
    np.testing.assert_allclose(a.grad, [0.6, 0.8], rtol=1e-5)


def test_clip_grad_value_and_errors():
    a = gn.tensor(np.zeros(3), requires_grad=True)
    old = np.array([-5.0, 0.5, 2.0])
    a.grad = old
    clip_grad_value([a], 1.0)
    np.testing.assert_array_equal(a.grad, [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(old, [-5.0, 0.5, 2.0])
    with pytest.raises(
        ConfigError,
        match="clip_grad_norm: max_norm must be a positive finite number; got 0",
    ):
        clip_grad_norm([a], 0)
    with pytest.raises(ConfigError, match="clip_grad_value: limit must be a positive"):
        clip_grad_value([a], -1.0)
