"""Where one training step of W1 or W2 spends its time, phase by phase.

    python benchmarks/profile_step.py W1              # µs per phase, median of blocks
    python benchmarks/profile_step.py W2 --cprofile   # and cProfile's top functions
    python benchmarks/profile_step.py W1 --captured   # the captured step instead
    python benchmarks/profile_step.py W1 --count      # bytecodes and C calls per phase

The phases are the five lines of the training loop: forward (``model(x)``),
loss, ``zero_grad``, ``backward`` and the optimizer's ``step``. Each is timed
with ``perf_counter_ns`` over many steps; the figure is the median over
blocks, so a busy moment of the shared machine moves it little. Two threads,
as in ``glassnet bench``. ``--count`` adds what a busy machine cannot
disturb: the Python bytecodes each phase executes and the C functions it
calls (NumPy's included), counted over one step.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

PHASES = ("forward", "loss", "zero_grad", "backward", "step")


def make(key: str):
    import mlp

    from glassnet import losses, optim

    wl = mlp.WORKLOADS[key]
    model = wl.glassnet_model(seed=0)
    opt = (
        optim.SGD(model, lr=wl.lr)
        if wl.optimizer == "sgd"
        else optim.Adam(model, lr=wl.lr)
    )
    X, y = wl.data()
    B = wl.batch
    batches = [
        (X[k * B : (k + 1) * B], y[k * B : (k + 1) * B]) for k in range(mlp.N_BATCHES)
    ]
    return wl, model, opt, losses.CrossEntropy(), batches


def phases(key: str, steps: int, blocks: int) -> dict:
    _, model, opt, loss_fn, batches = make(key)
    clock = time.perf_counter_ns
    n = len(batches)

    def block(count):
        t = [0] * 5
        for i in range(count):
            xb, yb = batches[i % n]
            t0 = clock()
            out = model(xb)
            t1 = clock()
            loss = loss_fn(out, yb)
            t2 = clock()
            opt.zero_grad()
            t3 = clock()
            loss.backward()
            t4 = clock()
            opt.step()
            t5 = clock()
            t[0] += t1 - t0
            t[1] += t2 - t1
            t[2] += t3 - t2
            t[3] += t4 - t3
            t[4] += t5 - t4
        return [x / count / 1000 for x in t]

    block(max(20, steps // 5))
    runs = [block(steps) for _ in range(blocks)]
    return {
        name: statistics.median(r[i] for r in runs) for i, name in enumerate(PHASES)
    }


def captured(key: str, steps: int, blocks: int) -> float:
    from glassnet.train.capture import capture_step

    _, model, opt, loss_fn, batches = make(key)
    step = capture_step(model, loss_fn, opt)
    n = len(batches)
    for i in range(max(20, steps // 5)):
        step(*batches[i % n])
    runs = []
    for _ in range(blocks):
        t0 = time.perf_counter_ns()
        for i in range(steps):
            step(*batches[i % n])
        runs.append((time.perf_counter_ns() - t0) / steps / 1000)
    return statistics.median(runs)


def counts(key: str) -> dict:
    """(bytecodes, C calls) per phase of one step: ``sys.settrace``'s opcode
    events in every Python frame, ``sys.setprofile``'s c_call events."""
    _, model, opt, loss_fn, batches = make(key)
    for xb, yb in batches[:3]:  # first steps make the optimizer's state
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    tally = [0, 0]

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        tally[0] += event == "opcode"
        return tracer

    def profiler(frame, event, arg):
        tally[1] += event == "c_call"

    def counted(fn, *args):
        tally[:] = [0, 0]
        sys.settrace(tracer)
        sys.setprofile(profiler)
        try:
            return fn(*args), tuple(tally)
        finally:
            sys.settrace(None)
            sys.setprofile(None)

    xb, yb = batches[3]
    out, forward = counted(model, xb)
    loss, loss_cost = counted(loss_fn, out, yb)
    _, zero = counted(opt.zero_grad)
    _, backward = counted(loss.backward)
    _, step = counted(opt.step)
    return dict(zip(PHASES, (forward, loss_cost, zero, backward, step)))


def cprofile(key: str, steps: int, top: int) -> None:
    import cProfile
    import pstats

    _, model, opt, loss_fn, batches = make(key)
    n = len(batches)

    def loop():
        for i in range(steps):
            xb, yb = batches[i % n]
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

    loop()
    prof = cProfile.Profile()
    prof.runcall(loop)
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=["W1", "W2"])
    p.add_argument(
        "--steps", type=int, help="steps per block (default W1 2000, W2 100)"
    )
    p.add_argument("--blocks", type=int, default=7)
    p.add_argument(
        "--cprofile", action="store_true", help="also print cProfile's top 25"
    )
    p.add_argument("--captured", action="store_true", help="time the captured step too")
    p.add_argument(
        "--count", action="store_true", help="bytecodes and C calls per phase too"
    )
    args = p.parse_args(argv)
    steps = args.steps or (2000 if args.workload == "W1" else 100)
    wl = make(args.workload)[0]
    got = phases(args.workload, steps, args.blocks)
    total = sum(got.values())
    print(
        f"{wl.title}, batch {wl.batch}: µs per training step (median of {args.blocks} "
        f"blocks of {steps})"
    )
    for name, us in got.items():
        print(f"  {name:10s} {us:8.1f}")
    print(f"  {'total':10s} {total:8.1f}   = {wl.batch / total * 1e6:,.0f} samples/s")
    if args.captured:
        us = captured(args.workload, steps, args.blocks)
        print(f"  {'captured':10s} {us:8.1f}   = {wl.batch / us * 1e6:,.0f} samples/s")
    if args.count:
        got = counts(args.workload)
        print("  Python bytecodes / C calls in one step:")
        for name, (ops, calls) in got.items():
            print(f"  {name:10s} {ops:8,d} / {calls}")
        ops, calls = (sum(c[i] for c in got.values()) for i in (0, 1))
        print(f"  {'total':10s} {ops:8,d} / {calls}")
    if args.cprofile:
        cprofile(args.workload, steps, 25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
