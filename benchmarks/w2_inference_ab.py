"""W2 inference (batch 1024): glassnet's predict before and after a change, in one run.

Four processes stay up side by side: NumPy's GEMM chain of W2's three products
(784x256, 256x256, 256x10, results into kept buffers: the ceiling for these
shapes), ``glassnet.predict`` from another checkout (``--before``, e.g. a
``git worktree add /tmp/old COMMIT``), ``glassnet.predict`` from this one, and
PyTorch's inference. They take turns, one short block each, for ``--rounds``
rounds, so a busy moment of a shared machine hits them all; the best block
and the median of the per-round ratios are reported.

``--clock cpu`` times by the CPU time each process used: with ``--threads 1``
that is the work itself even when other people's jobs keep the cores busy
(with 2 threads, a thread waiting for its descheduled partner spins, and that
counts too).

    python benchmarks/w2_inference_ab.py --before /tmp/old/src --threads 1 --clock cpu

``--torch-python`` runs the PyTorch process with another Python (one that has
PyTorch), e.g. ``--torch-python /tmp/bench-head/.venv/bin/python``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = r"""
import json, os, sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
import mlp
wl = mlp.W2
w = wl.initial_weights()
kind, clock = sys.argv[1], getattr(time, sys.argv[3])
if kind == "gemm":
    X = wl.data()[0][: wl.infer_batch]
    Ws = [w[f"{2 * i}.weight"] for i in range(3)]
    outs = [np.empty((len(X), W.shape[1]), np.float32) for W in Ws]

    def run(i):
        h = X
        for W, o in zip(Ws, outs):
            h = np.dot(h, W, out=o)
elif kind == "torch":
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    run, _ = wl.torch_infer(w)
else:
    run, _ = wl.glassnet_infer(w)
for i in range(20):
    run(i)
print("ready", flush=True)
for line in sys.stdin:
    k, t0 = int(line), clock()
    for i in range(k):
        run(i)
    print(json.dumps(k * wl.infer_batch / max(clock() - t0, 1e-9)), flush=True)
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="the src/ folder of the old tree")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--calls", type=int, default=10, help="predict calls per block")
    p.add_argument(
        "--torch-python", default=sys.executable, help="a Python that has PyTorch"
    )
    args = p.parse_args(argv)
    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    env["MKL_NUM_THREADS"] = threads
    clock = "process_time" if args.clock == "cpu" else "perf_counter"
    after = str(HERE.parent / "src")
    cases = {"gemm": after, "before": args.before, "after": after, "torch": after}
    procs = {}
    for name, src in cases.items():
        kind = {"gemm": "gemm", "torch": "torch"}.get(name, "glassnet")
        python = args.torch_python if kind == "torch" else sys.executable
        procs[name] = subprocess.Popen(
            [python, "-c", WORKER, kind, str(HERE), clock],
            env=dict(env, PYTHONPATH=src),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if procs[name].stdout.readline().strip() != "ready":
            raise SystemExit(f"the {name} worker did not start")
    rates: dict = {name: [] for name in procs}
    for r in range(args.rounds):
        for name in list(procs)[:: 1 if r % 2 == 0 else -1]:
            procs[name].stdin.write(f"{args.calls}\n")
            procs[name].stdin.flush()
            rates[name].append(json.loads(procs[name].stdout.readline()))
    for proc in procs.values():
        proc.stdin.close()
        proc.wait()
    flops = 2 * (784 * 256 + 256 * 256 + 256 * 10)
    print(f"W2 inference, batch 1024, {threads} thread(s), {args.clock} clock, "
          f"{args.rounds} rounds")  # fmt: skip
    for name, xs in rates.items():
        best = max(xs)
        print(f"  {name:7s} best {best / 1e3:5.0f}k samples/s ({best * flops / 1e9:.0f} "
              f"GFLOP/s), median {statistics.median(xs) / 1e3:.0f}k")  # fmt: skip
    for name in ("before", "after"):
        per = {
            o: [a / b for a, b in zip(rates[name], rates[o])] for o in ("gemm", "torch")
        }
        print(f"  {name}: of the GEMM ceiling {statistics.median(per['gemm']):.2f} "
              f"(best/best {max(rates[name]) / max(rates['gemm']):.2f}); / PyTorch "
              f"{statistics.median(per['torch']):.2f} "
              f"(best/best {max(rates[name]) / max(rates['torch']):.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
