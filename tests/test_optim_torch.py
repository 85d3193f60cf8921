"""Every optimizer rule and every schedule against PyTorch, step by step.

The fixture (tests/fixtures/torch_optim.npz, made by tools/make_optim_fixtures.py
with torch; these tests never import it) holds a float64 problem whose gradient
both sides compute with the same float operations, PyTorch's weights after each
of 25 steps for each optimizer setting, and PyTorch's learning rate after each
``step()`` of each schedule. The settings come from the fixture itself.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet import optim

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "torch_optim.npz")
CONFIG = json.loads(str(FIXTURE["config"]))
NAMES = ("weight", "bias")


def _params():
    return {
        n: gn.tensor(FIXTURE[f"{n}/start"].copy(), requires_grad=True) for n in NAMES
    }


def _optimizer(cls, kwargs, groups, params):
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    if groups is None:
        given = list(params.items())
    else:
        given = [{**g, "params": [(n, params[n]) for n in g["params"]]} for g in groups]
    return getattr(optim, cls)(given, **kw)


def _gradient(name, p, t):
    a, b = FIXTURE[f"{name}/a"], FIXTURE[f"{name}/b"]
    return a * p + b * (p * p * p) + FIXTURE[f"{name}/noise"][t]


@pytest.mark.parametrize(
    "name, cls, kwargs, groups", CONFIG["optimizers"], ids=lambda c: str(c)[:24]
)
def test_optimizer_follows_pytorch_step_by_step(name, cls, kwargs, groups):
    params = _params()
    opt = _optimizer(cls, kwargs, groups, params)
    for t in range(CONFIG["steps"]):
        for n, p in params.items():
            p.grad = _gradient(n, p.data, t)
        opt.step()
        for n, p in params.items():
            want = FIXTURE[f"opt/{name}/{n}"][t]
            # PyTorch fuses some multiply-adds and orders a few products
            # differently; the same rule then agrees to a few float64 roundings.
            np.testing.assert_allclose(
                p.data, want, rtol=1e-12, atol=1e-14, err_msg=f"{name} step {t + 1}"
            )
    moved = FIXTURE[f"opt/{name}/weight"][-1] - FIXTURE["weight/start"]
    assert np.abs(moved).max() > 1e-3  # the test problem really trains


def _schedule(recipe, opt):
    S = optim
    return {
        "linear": lambda: S.LinearWarmup(opt, steps=4, start_factor=0.25),
        "linear+step": lambda: S.LinearWarmup(
            opt, 4, 0.25, then=S.StepLR(opt, step_size=3, gamma=0.5)
        ),
        "linear+cosine": lambda: S.LinearWarmup(
            opt, 3, 0.1, then=S.CosineLR(opt, t_max=6, lr_min=0.001)
        ),
        "multistep": lambda: S.MultiStepLR(opt, milestones=[2, 5, 6], gamma=0.3),
        "lambda": lambda: S.LambdaLR(opt, lambda e: 1 / (1 + 0.5 * e)),
        "onecycle": lambda: S.OneCycleLR(opt, total_steps=20),
        "onecycle3": lambda: S.OneCycleLR(
            opt,
            total_steps=15,
            pct_start=0.25,
            anneal="linear",
            three_phase=True,
            div_factor=10,
            final_div_factor=100,
        ),  # fmt: skip
        "plateau_min": lambda: S.ReduceLROnPlateau(
            opt, factor=0.5, patience=2, threshold=0.01, cooldown=1, min_lr=0.004
        ),
        "plateau_max": lambda: S.ReduceLROnPlateau(
            opt,
            mode="max",
            factor=0.3,
            patience=1,
            threshold=0.005,
            threshold_mode="abs",
        ),  # fmt: skip
        "step": lambda: S.StepLR(opt, step_size=2, gamma=0.5),
    }[recipe]()


@pytest.mark.parametrize(
    "name, lr, recipe, steps, figures", CONFIG["schedules"], ids=lambda c: str(c)[:24]
)
def test_schedule_follows_pytorch(name, lr, recipe, steps, figures):
    w = gn.tensor([0.0], requires_grad=True)
    v = gn.tensor([0.0], requires_grad=True)
    params = (
        [{"params": [w]}, {"params": [v], "lr": lr / 5}] if recipe == "step" else [w]
    )
    opt = optim.SGD(params, lr=lr)
    schedule = _schedule(recipe, opt)
    got = [[opt.hyper_of(g)["lr"] for g in opt.groups]]
    for i in range(steps):
        schedule.step(figures[i]) if figures else schedule.step()
        got.append([opt.hyper_of(g)["lr"] for g in opt.groups])
    want = FIXTURE[f"lr/{name}"]
    # PyTorch multiplies the last rate where glassnet evaluates the formula.
    np.testing.assert_allclose(np.array(got), want, rtol=1e-12, atol=1e-17)
    assert len(set(want[:, 0].round(12))) > 1  # the rate really moves
