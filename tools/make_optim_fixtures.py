"""Build tests/fixtures/torch_optim.npz: PyTorch's optimizers and schedules, step by
step, for tests/test_optim_torch.py (which never imports torch).

Run in a throwaway venv that has torch (the tests only read the .npz)::

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy
    /tmp/torch/bin/python tools/make_optim_fixtures.py

The problem: two float64 parameters, ``weight`` (3, 4) and ``bias`` (4,), whose
gradient at step t is ``a·θ + b·θ³ + noise[t]`` (elementwise; the same float
operations in NumPy and torch, so both sides get the same gradient bits from
the same weights). For every optimizer setting the fixture holds the weights
after each of STEPS steps; for every schedule, the learning rate before the
first step and after each ``step()``. The settings are stored as JSON in the
file, so the test builds the same optimizers and schedules from them.
"""

import json
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)  # NAdam's mu_product in float64 too
STEPS = 25
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")

OPTIMIZERS = [
    (
        "sgd_nesterov",
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        None,
    ),
    ("adam_amsgrad", "Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01}, None),
    ("adamw_amsgrad", "AdamW", {"lr": 0.05, "amsgrad": True}, None),
    ("rmsprop", "RMSprop", {"lr": 0.01}, None),
    (
        "rmsprop_centered_momentum",
        "RMSprop",
        {
            "lr": 0.01,
            "alpha": 0.9,
            "eps": 1e-6,
            "weight_decay": 0.02,
            "momentum": 0.8,
            "centered": True,
        },
        None,
    ),
    ("rmsprop_momentum", "RMSprop", {"lr": 0.005, "momentum": 0.5}, None),
    ("adagrad", "Adagrad", {"lr": 0.1}, None),
    (
        "adagrad_decays",
        "Adagrad",
        {
            "lr": 0.2,
            "lr_decay": 0.05,
            "weight_decay": 0.01,
            "initial_accumulator_value": 0.1,
            "eps": 1e-8,
        },
        None,
    ),
    ("nadam", "NAdam", {"lr": 0.02}, None),
    (
        "nadam_l2",
        "NAdam",
        {
            "lr": 0.02,
            "weight_decay": 0.05,
            "momentum_decay": 0.01,
            "betas": [0.8, 0.99],
        },
        None,
    ),
    (
        "nadamw",
        "NAdam",
        {"lr": 0.02, "weight_decay": 0.05, "decoupled_weight_decay": True},
        None,
    ),
    ("radam", "RAdam", {"lr": 0.03}, None),
    (
        "radam_l2",
        "RAdam",
        {"lr": 0.03, "weight_decay": 0.05, "betas": [0.9, 0.9]},
        None,
    ),
    (
        "radamw",
        "RAdam",
        {"lr": 0.03, "weight_decay": 0.05, "decoupled_weight_decay": True},
        None,
    ),
    (
        "sgd_groups",
        "SGD",
        {"lr": 0.05, "momentum": 0.9},
        [
            {"params": ["weight"], "weight_decay": 0.01},
            {"params": ["bias"], "lr": 0.01, "momentum": 0.5},
        ],
    ),
    (
        "adamw_groups",
        "AdamW",
        {"lr": 0.05, "weight_decay": 0.1},
        [{"params": ["weight"]}, {"params": ["bias"], "weight_decay": 0.0}],
    ),
]

SCHEDULES = [
    # name, base lr, torch recipe, steps, plateau figures
    ("warmup", 0.1, "linear", 8, None),
    ("warmup_then_step", 0.1, "linear+step", 12, None),
    ("warmup_then_cosine", 0.1, "linear+cosine", 9, None),
    ("multistep", 0.1, "multistep", 8, None),
    ("lambda", 0.1, "lambda", 6, None),
    ("onecycle", 0.1, "onecycle", 19, None),
    ("onecycle_linear_three", 0.1, "onecycle3", 14, None),
    (
        "plateau_min_rel",
        0.1,
        "plateau_min",
        20,
        [
            5.0,
            4.0,
            3.99,
            3.98,
            3.97,
            3.0,
            3.0,
            3.0,
            3.0,
            2.99,
            2.5,
            2.5,
            2.5,
            2.5,
            2.5,
            2.5,
            2.5,
            2.5,
            2.5,
            2.5,
        ],
    ),
    (
        "plateau_max_abs",
        0.1,
        "plateau_max",
        12,
        [0.5, 0.6, 0.61, 0.6, 0.62, 0.7, 0.7, 0.69, 0.7, 0.71, 0.7, 0.7],
    ),
    ("step_groups", 0.1, "step", 6, None),
]


def problem():
    rng = np.random.default_rng(18)
    shapes = {"weight": (3, 4), "bias": (4,)}
    out = {}
    for name, shape in shapes.items():
        out[f"{name}/start"] = rng.normal(size=shape)
        out[f"{name}/a"] = rng.uniform(0.5, 2.0, size=shape)
        out[f"{name}/b"] = rng.uniform(0.0, 0.5, size=shape)
        out[f"{name}/noise"] = rng.normal(scale=0.3, size=(STEPS, *shape))
    return out


def run_optimizer(prob, cls, kwargs, groups):
    params = {
        n: torch.tensor(prob[f"{n}/start"], requires_grad=True)
        for n in ("weight", "bias")
    }
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    if groups is None:
        given = list(params.values())
    else:
        given = [{**g, "params": [params[n] for n in g["params"]]} for g in groups]
    opt = getattr(torch.optim, cls)(given, foreach=False, **kw)
    traj = {n: [] for n in params}
    for t in range(STEPS):
        with torch.no_grad():
            for n, p in params.items():
                a, b = (torch.tensor(prob[f"{n}/{k}"]) for k in "ab")
                p.grad = a * p + b * (p * p * p) + torch.tensor(prob[f"{n}/noise"][t])
        opt.step()
        for n, p in params.items():
            traj[n].append(p.detach().numpy().copy())
    return {n: np.stack(v) for n, v in traj.items()}


def run_schedule(lr, recipe, steps, figures):
    S = torch.optim.lr_scheduler
    w = torch.zeros(1, requires_grad=True)
    if recipe == "step":
        opt = torch.optim.SGD(
            [{"params": [w]}, {"params": [torch.zeros(1)], "lr": lr / 5}], lr=lr
        )
    else:
        opt = torch.optim.SGD([w], lr=lr)
    sched = {
        "linear": lambda: S.LinearLR(opt, start_factor=0.25, total_iters=4),
        "linear+step": lambda: S.SequentialLR(
            opt,
            [
                S.LinearLR(opt, start_factor=0.25, total_iters=4),
                S.StepLR(opt, step_size=3, gamma=0.5),
            ],
            milestones=[4],
        ),
        "linear+cosine": lambda: S.SequentialLR(
            opt,
            [
                S.LinearLR(opt, start_factor=0.1, total_iters=3),
                S.CosineAnnealingLR(opt, T_max=6, eta_min=0.001),
            ],
            milestones=[3],
        ),
        "multistep": lambda: S.MultiStepLR(opt, milestones=[2, 5, 6], gamma=0.3),
        "lambda": lambda: S.LambdaLR(opt, lambda e: 1 / (1 + 0.5 * e)),
        "onecycle": lambda: S.OneCycleLR(
            opt, max_lr=lr, total_steps=20, cycle_momentum=False
        ),
        "onecycle3": lambda: S.OneCycleLR(
            opt,
            max_lr=lr,
            total_steps=15,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10,
            final_div_factor=100,
            cycle_momentum=False,
        ),
        "plateau_min": lambda: S.ReduceLROnPlateau(
            opt,
            mode="min",
            factor=0.5,
            patience=2,
            threshold=0.01,
            cooldown=1,
            min_lr=0.004,
        ),
        "plateau_max": lambda: S.ReduceLROnPlateau(
            opt,
            mode="max",
            factor=0.3,
            patience=1,
            threshold=0.005,
            threshold_mode="abs",
        ),
        "step": lambda: S.StepLR(opt, step_size=2, gamma=0.5),
    }[recipe]()
    lrs = [[g["lr"] for g in opt.param_groups]]
    for i in range(steps):
        opt.step()
        sched.step(figures[i]) if figures else sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    return np.array(lrs)


def main():
    prob = problem()
    arrays = dict(prob)
    for name, cls, kwargs, groups in OPTIMIZERS:
        for n, traj in run_optimizer(prob, cls, kwargs, groups).items():
            arrays[f"opt/{name}/{n}"] = traj
    for name, lr, recipe, steps, figures in SCHEDULES:
        arrays[f"lr/{name}"] = run_schedule(lr, recipe, steps, figures)
    arrays["config"] = np.array(
        json.dumps(
            {
                "steps": STEPS,
                "torch": torch.__version__,
                "optimizers": OPTIMIZERS,
                "schedules": SCHEDULES,
            }
        )
    )
    path = os.path.join(OUT, "torch_optim.npz")
    np.savez_compressed(path, **arrays)
    print(
        f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes) "
        f"with torch {torch.__version__}"
    )


if __name__ == "__main__":
    main()
