"""Where W3's (LeNet training) time goes, in CPU time, next to PyTorch's.

The machine this runs on is usually shared, so wall-clock rates swing with
the neighbours' load; CPU time per step (``time.process_time``) much less.
Both frameworks are measured here with ONE thread (so CPU time is the work
done, not two threads spinning), one process each, alternating ``--rounds``
times; the figure is glassnet's CPU ms per step, PyTorch's, and their ratio.

glassnet's step is split by kernel: every ``kernels.call`` is timed (conv
forward, conv backward, pooling forward/backward) and ReLU's two kernels;
the rest (Dense, loss, optimizer, the tape) is the step minus those.
``--threads 2 --clock wall`` times the same at two threads by the wall
clock (what ``w3_lenet.py`` measures; meaningful only on a quiet machine). The convolution's
backward is then split into its input gradient and its filter gradient by
timing each alone at W3's two layer shapes.

Usage (torch from a throwaway venv, see benchmarks/w3_lenet.py)::

    PYTHONPATH=src python benchmarks/conv_profile.py --torch-python /tmp/t/bin/python
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import w3_lenet  # noqa: E402  (the workload's model, data and torch twin)

BATCH = w3_lenet.BATCH


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = time.process_time  # the worker's, from --clock


def _cpu(fn, repeats: int) -> float:
    """Median seconds (``clock``) of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def profile_glassnet(steps: int) -> dict:
    import numpy as np

    import glassnet as gn
    from glassnet import kernels
    from glassnet.losses import CrossEntropy
    from glassnet.optim import SGD

    model = w3_lenet.glassnet_model()
    X, y = w3_lenet.synthetic_data()
    opt, loss_fn = SGD(model, lr=0.01, momentum=0.9), CrossEntropy()
    spent: dict = {}
    plain = kernels.call

    def timed_as(name, fn):
        def run(*args, **kwargs):
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + clock() - start

        return run

    def timed(name, *args, **kwargs):
        return timed_as(name, plain)(name, *args, **kwargs)

    def step(i):
        k = i % w3_lenet.N_BATCHES
        batch = slice(k * BATCH, (k + 1) * BATCH)
        loss = loss_fn(model(X[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i in range(5):
        step(i)
    relu, relu_backward = kernels.relu, kernels.relu_backward
    kernels.call = timed
    kernels.relu = timed_as("relu", relu)
    kernels.relu_backward = timed_as("relu_backward", relu_backward)
    try:
        start = clock()
        for i in range(steps):
            step(i)
        total = (clock() - start) / steps
    finally:
        kernels.call, kernels.relu, kernels.relu_backward = plain, relu, relu_backward
    parts = {name: t / steps for name, t in spent.items()}
    parts["rest"] = total - sum(parts.values())

    # the backward's two halves, alone, at W3's two layer shapes
    rng = np.random.default_rng(0)
    split = {"input_grad": 0.0, "filter_grad": 0.0}
    for c, o, hw, need_x in ((1, 16, 28, False), (16, 32, 14, True)):
        x = rng.standard_normal((BATCH, c, hw, hw)).astype(np.float32)
        w = rng.standard_normal((o, c, 5, 5)).astype(np.float32)
        geo = ((1, 1), ((2, 2), (2, 2)))
        saved = {"filter_grad": True}
        out = kernels.call("conv2d", x, w, None, *geo, saved=saved)
        g = rng.standard_normal(out.shape).astype(np.float32)
        back = functools.partial(kernels.call, "conv2d_backward", g, x, w, *geo)
        split["filter_grad"] += _cpu(
            lambda back=back, saved=saved: back((False, True, True), saved=saved), 20
        )
        if need_x:
            split["input_grad"] += _cpu(
                lambda back=back, saved=saved: back((True, False, False), saved=saved),
                20,
            )
    return {
        "ms_per_step": total * 1e3,
        "parts_ms": {k: v * 1e3 for k, v in sorted(parts.items())},
        "backward_split_ms": {k: v * 1e3 for k, v in split.items()},
        "variants": {
            "conv2d": kernels.pick(
                "conv2d",
                X[:BATCH],
                model.layers[0].weight.data,
                None,
                (1, 1),
                ((2, 2), (2, 2)),
            ).__name__,
        },
        "version": gn.__version__,
    }


def profile_torch(steps: int) -> dict:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    X, y = (torch.from_numpy(a) for a in w3_lenet.synthetic_data())
    from torch import nn

    net = w3_lenet.torch_lenet()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step(i):
        k = i % w3_lenet.N_BATCHES
        batch = slice(k * BATCH, (k + 1) * BATCH)
        loss = loss_fn(net(X[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i in range(5):
        step(i)
    start = clock()
    for i in range(steps):
        step(i)
    return {
        "ms_per_step": (clock() - start) / steps * 1e3,
        "version": torch.__version__,
    }


def _spawn(which: str, python: str, args) -> dict:
    blas = args.glassnet_blas_threads if which == "glassnet" else None
    env = w3_lenet._env(args.threads, blas)
    cmd = [python, os.path.abspath(__file__), "--worker", which]
    cmd += ["--steps", str(args.steps), "--clock", args.clock]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {which} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--torch-python", help="a Python with torch installed")
    parser.add_argument("--threads", type=int, default=1, help="threads for both")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    parser.add_argument("--glassnet-blas-threads", type=int, help="as in w3_lenet.py")
    parser.add_argument("--worker", choices=["glassnet", "torch"], help="internal")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    if args.worker:
        run = profile_glassnet if args.worker == "glassnet" else profile_torch
        print(json.dumps(run(args.steps)))
        return 0
    rounds = []
    for _ in range(args.rounds):
        gn = _spawn("glassnet", sys.executable, args)
        th = _spawn("torch", args.torch_python, args) if args.torch_python else None
        rounds.append((gn, th))
    for gn, th in rounds:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in gn["parts_ms"].items())
        split = ", ".join(f"{k} {v:.2f}" for k, v in gn["backward_split_ms"].items())
        how = f"{args.clock} ms/step ({args.threads} thread(s))"
        print(f"glassnet {gn['ms_per_step']:.2f} {how}: {parts}")
        print(f"  conv2d_backward alone at W3's shapes: {split}; {gn['variants']}")
        if th:
            ratio = th["ms_per_step"] / gn["ms_per_step"]
            print(
                f"torch {th['version']} {th['ms_per_step']:.2f} {how}; "
                f"glassnet speed / PyTorch speed = {ratio:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
