"""Parameter groups, the new schedules, and how fit, checkpoints and the captured
step carry the new optimizers and schedules (issue 18, items 7 and 8). The rules'
numbers are checked against PyTorch in test_optim_torch.py."""

import doctest
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_resume import _CrashAt

import glassnet as gn
from glassnet import _native, nn, optim
from glassnet.errors import ConfigError, FormatError
from glassnet.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineLR,
    LambdaLR,
    LinearWarmup,
    MultiStepLR,
    NAdam,
    OneCycleLR,
    RAdam,
    ReduceLROnPlateau,
    RMSprop,
    StepLR,
    decay_groups,
)
from glassnet.train import Checkpoint
from glassnet.train.loop import _resolve_optimizer


def _pair(value):
    return gn.tensor(np.array(value, np.float64), requires_grad=True)


# --- parameter groups -----------------------------------------------------------


def test_each_group_steps_with_its_own_settings_by_hand():
    w, b = _pair([1.0, -2.0]), _pair([0.5])
    opt = SGD(
        [
            {"params": [("w", w)], "weight_decay": 0.1},
            {"params": [("b", b)], "lr": 0.5},
        ],
        lr=0.1,
    )
    w.grad, b.grad = np.array([2.0, 4.0]), np.array([1.0])
    opt.step()
    # w ← w − 0.1·(g + 0.1·w); b ← b − 0.5·g (no decay, its own rate)
    np.testing.assert_allclose(w.data, [1 - 0.1 * (2 + 0.1), -2 - 0.1 * (4 - 0.2)])
    np.testing.assert_allclose(b.data, [0.0])
    opt.lr = 0.05  # a schedule halves the rate: every group keeps its ratio
    assert [opt.hyper_of(g)["lr"] for g in opt.groups] == [0.05, 0.25]


def test_bare_tensors_are_numbered_across_groups():
    a, b, c = _pair([1.0]), _pair([2.0]), _pair([3.0])
    opt = Adam([{"params": [a, b]}, {"params": c, "lr_scale": 0.1}])
    assert [n for n, _ in opt.params] == ["0", "1", "2"]
    assert opt.groups[1]["lr_scale"] == 0.1
    assert repr(opt) == (
        "Adam(lr=0.001, groups=[{'params': 2}, {'params': 1, 'lr_scale': 0.1}])"
    )


def test_decay_groups_leave_biases_undecayed():
    model = nn.Sequential(nn.Dense(4, 3), nn.ReLU(), nn.Dense(3, 2), seed=0)
    groups = decay_groups(model, 0.05)
    assert [([n for n, _ in g["params"]], g["weight_decay"]) for g in groups] == [
        (["0.weight", "2.weight"], 0.05),
        (["0.bias", "2.bias"], 0.0),
    ]
    opt = AdamW(groups, lr=0.01)
    x = np.ones((2, 4))
    opt.zero_grad()
    model(x).sum().backward()
    for _, p in model.named_parameters():
        p.grad = np.zeros_like(p.data)  # no gradient: only the decay moves weights
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    opt.step()
    for n, p in model.named_parameters():
        if n.endswith("bias"):
            np.testing.assert_array_equal(p.data, before[n])
        else:
            np.testing.assert_allclose(p.data, before[n] * (1 - 0.01 * 0.05), rtol=1e-6)
    only = decay_groups(model, 0.1, exclude=lambda name, p: name.startswith("2."))
    assert [len(g["params"]) for g in only] == [2, 2]
    no_bias = nn.Dense(3, 2, bias=False)
    assert len(decay_groups(no_bias, 0.1)) == 1  # no empty group


def test_bad_groups_are_named():
    w, b = _pair([1.0]), _pair([2.0])
    with pytest.raises(ConfigError, match="group 1 needs a 'params' entry; got keys"):
        SGD([{"params": [w]}, {"lr": 0.1}])
    with pytest.raises(ConfigError, match=r"SGD group 0: a group may set \['lr', "):
        SGD([{"params": [w], "lr_decay": 0.1}])
    with pytest.raises(ConfigError, match="lr or lr_scale, not both"):
        SGD([{"params": [w], "lr": 0.1, "lr_scale": 2.0}])
    with pytest.raises(
        ConfigError, match=r"SGD group 1: momentum must be a number in \[0.0, 1.0\)"
    ):
        SGD([{"params": [w]}, {"params": [b], "momentum": 1.0}])
    with pytest.raises(ConfigError, match="RMSprop group 0: lr must be a number in"):
        RMSprop([{"params": [w], "lr": -1.0}])
    with pytest.raises(ConfigError, match="the same Tensor as an earlier one"):
        Adam([{"params": [("w", w)]}, {"params": [("v", w)]}])
    with pytest.raises(ConfigError, match="SGD group 1: got no parameters"):
        SGD([{"params": [w]}, {"params": []}])


def test_grouped_state_is_json_and_restores_the_groups():
    w, b = _pair([1.0, 2.0]), _pair([3.0])
    opt = NAdam(
        [
            {"params": [("w", w)]},
            {"params": [("b", b)], "lr": 0.02, "betas": (0.5, 0.9)},
        ],
        lr=0.01,
    )
    for _ in range(3):
        w.grad, b.grad = w.data * 2, b.data * 2
        opt.step()
    sd = opt.state_dict()
    assert sd["hyper"]["groups"] == [
        {"params": ["w"], "lr_scale": 1.0},
        {"params": ["b"], "betas": [0.5, 0.9], "lr_scale": 2.0},
    ]
    json.dumps({**sd, "state": {}})
    w2, b2 = _pair(w.data), _pair(b.data)
    plain = NAdam([("w", w2), ("b", b2)], lr=0.5)  # takes the saved groups
    plain.load_state_dict(sd)
    assert plain.groups[1]["settings"]["betas"] == (0.5, 0.9) and plain.lr == 0.01
    for p, q in ((w, w2), (b, b2)):
        p.grad = q.grad = p.data * 2
    opt.step()
    plain.step()
    np.testing.assert_array_equal(w.data, w2.data)
    np.testing.assert_array_equal(b.data, b2.data)
    other = NAdam([("w", _pair([1.0, 2.0])), ("c", _pair([3.0]))])
    with pytest.raises(FormatError, match=r"saved groups hold parameters \['b', 'w'\]"):
        other.load_state_dict(sd)


def test_adam_state_saved_before_amsgrad_existed_still_loads():
    w = _pair([1.0])
    opt = Adam([w], lr=0.1)
    sd = opt.state_dict()
    del sd["hyper"]["amsgrad"]
    Adam([_pair([1.0])], amsgrad=True).load_state_dict(sd)  # amsgrad takes its default


def test_amsgrad_divides_by_the_largest_second_moment():
    """Two steps by hand, β1 = β2 = 0.5, ε = 0: g = 4 then g = 0. Step 2 has
    m = 1, v = 4 but v̂ = max(8, 4) = 8, and both bias corrections are 0.75."""
    second = {}
    for amsgrad in (False, True):
        w = _pair([0.0])
        opt = Adam([w], lr=0.1, betas=(0.5, 0.5), eps=0.0, amsgrad=amsgrad)
        for g in (4.0, 0.0):
            w.grad = np.array([g])
            before = w.data.copy()
            opt.step()
        second[amsgrad] = float(before[0] - w.data[0])
    root = 0.75**0.5
    assert second[False] == pytest.approx(0.1 / 0.75 * 1 / (4**0.5 / root))
    assert second[True] == pytest.approx(0.1 / 0.75 * 1 / (8**0.5 / root))
    assert opt.state["0"]["max_exp_avg_sq"][0] == 8.0


# --- schedules --------------------------------------------------------------------


def _opt(lr=1.0):
    return SGD([_pair([0.0])], lr=lr)


@pytest.mark.parametrize(
    "make",
    [
        lambda o: MultiStepLR(o, [2, 4], 0.5, every="batch"),
        lambda o: LambdaLR(o, lambda e: 0.9**e),
        lambda o: OneCycleLR(o, total_steps=9, three_phase=True),
        lambda o: LinearWarmup(o, 3, then=CosineLR(o, t_max=4)),
        lambda o: LinearWarmup(o, 2, 0.1),
        lambda o: ReduceLROnPlateau(o, factor=0.5, patience=0, monitor="loss"),
    ],
)
def test_new_schedule_state_round_trips_through_json(make):
    figures = iter([3.0, 2.0, 2.5, 2.5, 1.0, 1.0, 1.0, 1.0])

    def step(s):
        return s.step(next(figures)) if isinstance(s, ReduceLROnPlateau) else s.step()

    schedule = make(_opt())
    [step(schedule) for _ in range(3)]
    saved = json.loads(json.dumps(schedule.state_dict()))
    later = [step(schedule) for _ in range(4)]
    figures = iter([2.5, 1.0, 1.0, 1.0, 1.0])
    opt2 = _opt(0.3)
    schedule2 = make(opt2)
    schedule2.load_state_dict(saved)
    assert opt2.lr == schedule2.lr
    assert [step(schedule2) for _ in range(4)] == later
    assert repr(schedule2).startswith(type(schedule).__name__ + "(")


def test_warmup_alone_then_constant_and_repr():
    opt = _opt(0.2)
    s = LinearWarmup(opt, steps=4, start_factor=0.5, every="batch")
    assert opt.lr == 0.1
    assert [s.step() for _ in range(5)] == pytest.approx([0.125, 0.15, 0.175, 0.2, 0.2])
    assert repr(s) == (
        "LinearWarmup(steps=4, start_factor=0.5, every='batch', epoch=5, lr=0.2)"
    )


def test_schedule_errors_are_named():
    opt = _opt()
    with pytest.raises(ConfigError, match="every must be 'epoch' or 'batch'"):
        StepLR(opt, 2, every="step")
    with pytest.raises(ConfigError, match=r"milestones must increase; got \[3, 2\]"):
        MultiStepLR(opt, [3, 2])
    with pytest.raises(ConfigError, match="milestones must be a non-empty list"):
        MultiStepLR(opt, 3)
    with pytest.raises(ConfigError, match="LambdaLR: fn must be a function"):
        LambdaLR(opt, 0.5)
    with pytest.raises(ConfigError, match=r"fn\(1\) must be a number in"):
        LambdaLR(opt, lambda e: -1.0 if e else 1.0).step()
    with pytest.raises(ConfigError, match="total_steps must be at least 2"):
        OneCycleLR(opt, total_steps=1)
    with pytest.raises(ConfigError, match="anneal must be 'cos' or 'linear'"):
        OneCycleLR(opt, 10, anneal="exp")
    with pytest.raises(ConfigError, match="then must be a schedule that follows"):
        LinearWarmup(opt, 2, then=ReduceLROnPlateau(opt))
    with pytest.raises(ConfigError, match="then was made on another optimizer"):
        LinearWarmup(opt, 2, then=StepLR(_opt(), 2))
    with pytest.raises(ConfigError, match="they must step together"):
        LinearWarmup(opt, 2, then=StepLR(opt, 2), every="batch")
    with pytest.raises(ConfigError, match="mode must be 'min' or 'max'"):
        ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(ConfigError, match="needs the monitored figure"):
        ReduceLROnPlateau(opt).step()
    plateau = ReduceLROnPlateau(opt, patience=0)
    plateau.step(1.0)
    plateau.step(2.0)  # a cut: the rate is 0.1 now
    saved = plateau.state_dict()
    with pytest.raises(ConfigError, match="factor must be a number in"):
        plateau.load_state_dict(
            {**saved, "settings": {**saved["settings"], "factor": 2.0, "state": {
                "lr": 5.0, "best": 0.5, "bad": 0, "cooling": 0}}}
        )  # fmt: skip
    assert (plateau.lr, plateau.best, opt.lr) == (0.1, 1.0, 0.1)  # unchanged
    with pytest.raises(FormatError, match="saved without a schedule to hand over"):
        LinearWarmup(opt, 2, then=StepLR(opt, 2)).load_state_dict(
            LinearWarmup(_opt(), 2).state_dict()
        )


# --- fit, checkpoints, capture ---------------------------------------------------------


def _data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(96, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(np.int64) + (X[:, 2] > 0.5)
    return X, y


RECIPES = {  # optimizer and schedule, made on a model; 6 batches per epoch
    "nadam+onecycle/batch": lambda m: _with(
        NAdam(m, lr=0.02), lambda o: OneCycleLR(o, total_steps=24)
    ),
    "rmsprop+plateau": lambda m: _with(
        RMSprop(m, lr=0.01, centered=True, momentum=0.5),
        lambda o: ReduceLROnPlateau(o, monitor="loss", patience=0, threshold=0.2),
    ),
    "adagrad+warmup/multistep": lambda m: _with(
        Adagrad(m, lr=0.1, lr_decay=0.01),
        lambda o: LinearWarmup(o, 1, then=MultiStepLR(o, [1, 2], 0.5)),
    ),
    "radam-groups+lambda/batch": lambda m: _with(
        RAdam(decay_groups(m, 0.01), lr=0.02, decoupled_weight_decay=True),
        lambda o: LambdaLR(o, lambda e: 1 / (1 + 0.1 * e), every="batch"),
    ),
    "adamw-amsgrad+warmup/batch": lambda m: _with(
        AdamW(m, lr=0.02, amsgrad=True), lambda o: LinearWarmup(o, 5, every="batch")
    ),
}


def _with(opt, make_schedule):
    return opt, make_schedule(opt)


def _fit(recipe, epochs, capture=False, **kw):
    X, y = _data()
    model = nn.Sequential(nn.Dense(6, 10), nn.Tanh(), nn.Dense(10, 3), seed=3)
    opt, schedule = RECIPES[recipe](model)
    history = gn.fit(
        model, X, y, optimizer=opt, lr_schedule=schedule, epochs=epochs,
        batch_size=16, seed=7, verbose=0, capture=capture, **kw,
    )  # fmt: skip
    return model, history, opt, schedule


def _same_weights(m1, m2):
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_two_epochs_saved_and_resumed_equal_four_straight(tmp_path, recipe):
    straight, history, opt, schedule = _fit(recipe, 4)
    path = tmp_path / "run.ckpt"
    _fit(recipe, 2, checkpoint=path)
    resumed, history2, opt2, schedule2 = _fit(recipe, 4, resume_from=path)
    _same_weights(straight, resumed)
    assert history2.to_dict() == history.to_dict()
    assert opt2.lr == opt.lr and schedule2.state_dict() == schedule.state_dict()
    for name, s in opt.state.items():
        for key, value in s.items():
            if not key.startswith("_"):
                np.testing.assert_array_equal(opt2.state[name][key], value)
    lrs = (
        {round(v, 12) for v in [schedule.lr_at(e) for e in range(3)]}
        if not (isinstance(schedule, ReduceLROnPlateau))
        else {schedule.lr, schedule.base_lr}
    )
    assert len(lrs) > 1  # the schedule really changed the rate


def test_a_per_batch_schedule_resumes_mid_epoch(tmp_path):
    recipe = "nadam+onecycle/batch"
    straight, history, *_ = _fit(recipe, 4)
    path = tmp_path / "run.ckpt"
    _fit(
        recipe, 4, callbacks=[_CrashAt(11)],
        checkpoint=Checkpoint(path, every_epochs=None, every_steps=5),
    )  # fmt: skip
    assert gn.io.load_checkpoint(path).training["batch"] == 4  # mid-epoch 1
    resumed, history2, _, schedule = _fit(recipe, 4, resume_from=path)
    _same_weights(straight, resumed)
    assert history2.to_dict() == history.to_dict()
    assert schedule.epoch == 24  # stepped after each of the 4 × 6 batches


def test_fit_steps_schedules_per_batch_or_per_epoch():
    *_, opt, schedule = _fit("nadam+onecycle/batch", 2)
    assert schedule.epoch == 12 and opt.lr == schedule.lr_at(12)
    *_, opt, schedule = _fit("adagrad+warmup/multistep", 3)
    assert schedule.epoch == 3 and opt.lr == 0.025  # 0.1 · 0.5 · 0.5


def test_fit_feeds_plateau_its_monitored_figure():
    model, history, opt, plateau = _fit("rmsprop+plateau", 6)
    losses = history.history["loss"]
    # A cut (×0.1) after each epoch whose loss is not 20% below the best so far.
    lr, best = 0.01, None
    for x in losses:
        if best is None or x < best * 0.8:
            best = x
        else:
            lr *= 0.1
    assert opt.lr == pytest.approx(lr) and opt.lr < 0.01
    X, y = _data()
    bad = ReduceLROnPlateau(opt := Adam(model))
    with pytest.raises(ConfigError, match=r"monitor='val_loss' is not among"):
        gn.fit(model, X, y, optimizer=opt, lr_schedule=bad, epochs=1, verbose=0)


def test_fit_takes_the_new_names_and_refuses_a_foreign_schedule():
    X, y = _data()
    for name, cls in [("rmsprop", RMSprop), ("adagrad", Adagrad), ("nadam", NAdam),
                      ("radam", RAdam)]:  # fmt: skip
        model = nn.Sequential(nn.Dense(6, 3), seed=1)
        assert type(_resolve_optimizer(name.upper(), model, 0.01)) is cls
        history = gn.fit(model, X, y, optimizer=name, lr=0.01, epochs=2, verbose=0)
        assert history.history["loss"][1] < history.history["loss"][0], name
    with pytest.raises(ConfigError, match="choose one of: sgd, adam, adamw, rmsprop"):
        gn.fit(model, X, y, optimizer="lbfgs", verbose=0)
    with pytest.raises(ConfigError, match="lr_schedule was made on another optimizer"):
        gn.fit(model, X, y, optimizer="adam", lr_schedule=StepLR(Adam(model), 1))
    opt = Adam(model)
    with pytest.raises(ConfigError, match="Pass a schedule as lr_schedule="):
        gn.fit(model, X, y, optimizer=opt, callbacks=[ReduceLROnPlateau(opt)])


@pytest.fixture
def numpy_only(monkeypatch):
    monkeypatch.setenv("GLASSNET_NATIVE", "0")
    _native._forget()
    yield
    monkeypatch.undo()
    _native._forget()


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_captured_steps_are_the_eager_ones_bit_for_bit(numpy_only, recipe):
    eager, history, *_ = _fit(recipe, 3)
    captured, history2, *_ = _fit(recipe, 3, capture=True)
    _same_weights(eager, captured)
    assert history2.to_dict() == history.to_dict()


def test_module_doctests():
    for module in (optim.base, optim.gradient, optim.schedules):
        assert doctest.testmod(module).failed == 0


def test_the_comparison_example_shows_what_the_docs_say(tmp_path):
    import importlib.util
    from pathlib import Path

    where = Path(__file__).resolve().parents[1] / "examples" / "optimizers_compare.py"
    spec = importlib.util.spec_from_file_location("optimizers_compare", where)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    paths = example.valley_paths(150)
    end = {name: example.valley(*xy[-1]) for name, xy in paths.items()}
    assert example.valley(-1.2, 1.0) > 6.7
    for name in ("SGD + momentum", "Adam", "NAdam"):
        assert end[name] < 0.05, (name, end[name])
    # RAdam's first steps are plain momentum steps η·m̂: on this steep start
    # they overshoot far (x > 1.2) before its rectified adaptive steps begin.
    assert paths["RAdam"][1:6, 0].max() > 1.2
    runs = example.digits_runs(epochs=3)
    for name, (losses, _) in runs.items():
        assert losses[-1] < losses[0], name
    assert runs["Adam"][1] > 0.75 and runs["SGD + momentum"][1] > 0.75
    rates = example.schedule_rates(batches=10, epochs=12)
    cycle = np.array(rates["OneCycleLR"])
    assert cycle.argmax() == 35 and cycle.max() == pytest.approx(0.1)  # 0.3 · 120 − 1
    assert rates["LinearWarmup → CosineLR"][20] == pytest.approx(0.1)
    assert min(rates["ReduceLROnPlateau"]) < 0.1


ELEMENTWISE = {
    "rmsprop": lambda p: RMSprop(
        p, lr=0.01, centered=True, momentum=0.9, weight_decay=0.01
    ),  # fmt: skip
    "adagrad": lambda p: Adagrad(p, lr=0.1, lr_decay=0.1, weight_decay=0.01),
    "nadam": lambda p: NAdam(p, lr=0.01, weight_decay=0.01),
    "radam": lambda p: RAdam(p, lr=0.01, decoupled_weight_decay=True, weight_decay=0.1),
    "amsgrad": lambda p: AdamW(p, lr=0.01, amsgrad=True),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
@given(
    sizes=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_one_update_of_the_concatenation_equals_one_per_parameter(
    name, sizes, dtype, seed
):
    """What fit(capture=True) relies on (train/flat.py): each new rule treats every
    element on its own, so one call on all parameters laid end to end gives the
    per-parameter updates bit for bit, over 8 steps (RAdam's rectified steps
    begin at step 6)."""
    rng = np.random.default_rng(seed)
    starts = [rng.normal(size=n).astype(dtype) for n in sizes]
    apart = [gn.tensor(s.copy(), requires_grad=True) for s in starts]
    whole = gn.tensor(np.concatenate(starts), requires_grad=True)
    opt_apart, opt_whole = ELEMENTWISE[name](apart), ELEMENTWISE[name]([whole])
    for _ in range(8):
        grads = [rng.normal(size=n).astype(dtype) for n in sizes]
        for p, g in zip(apart, grads):
            p.grad = g
        whole.grad = np.concatenate(grads)
        opt_apart.step()
        opt_whole.step()
    together = np.concatenate([p.data for p in apart])
    assert together.dtype == dtype
    np.testing.assert_array_equal(together, whole.data)
