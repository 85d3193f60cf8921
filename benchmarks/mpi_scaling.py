"""What data-parallel training on MPI buys on this machine, and on N machines.

    python benchmarks/mpi_scaling.py [--steps 200] [--only W1,W2,W3]

Runs glassnet's data-parallel step (``glassnet.distributed``, the step
``fit(distributed="mpi")`` uses) on the same global batches three ways:

- 1 rank, 1 thread;  1 rank, 2 threads;  2 ranks (``mpiexec -n 2``), 1 thread each

and reports samples/s, the step time, the time spent inside the step's one
``Allreduce`` (which includes waiting for the slower rank), and a bare
``Allreduce`` of the same buffer after a barrier (the communication alone).
Then, on paper, the ring-allreduce cost model for W1-W4 on p machines:

    T_allreduce = 2 (p - 1) * latency + 2 (p - 1) / p * bytes / bandwidth

against each workload's compute per step divided by p. Synthetic data from a
fixed seed; W4 (the char-LSTM) is on paper only, from its parameter count
and the step time in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

WORKLOADS = {  # (global batch, optimizer, lr)
    "W1": (32, "sgd", 0.1),
    "W2": (128, "adam", 1e-3),
    "W3": (64, "sgd", 0.01),
}
# W4 char-lstm training: 184.2k tokens/s on one process (docs/benchmarks.md, 2 threads),
# 32 x 64 = 2048 tokens per step.
W4_STEP_SECONDS = 2048 / 184.2e3
NETWORKS = {  # (latency s, bandwidth bytes/s)
    "10 GbE (30 us, 1.25 GB/s)": (30e-6, 1.25e9),
    "100 Gb/s InfiniBand (2 us, 12.5 GB/s)": (2e-6, 12.5e9),
}


def build(name):
    """The model of workload ``name`` and a data generator (synthetic, seed 0)."""
    import numpy as np

    from glassnet import nn

    rng = np.random.default_rng(0)
    if name == "W1":
        model = nn.Sequential(nn.Dense(64, 32), nn.Sigmoid(), nn.Dense(32, 10))
        shape = (64,)
    elif name == "W2":
        model = nn.Sequential(
            nn.Dense(784, 256),
            nn.ReLU(),
            nn.Dense(256, 256),
            nn.ReLU(),
            nn.Dense(256, 10),
        )
        shape = (784,)
    elif name == "W3":
        model = nn.Sequential(
            nn.Conv2D(1, 16, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2D(2),
            nn.Conv2D(16, 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2D(2),
            nn.Flatten(),
            nn.Dense(1568, 10),
        )
        shape = (1, 28, 28)
    else:  # W4: parameters only
        model = nn.Sequential(nn.LSTM(65, 128), nn.Dense(128, 65))
        shape = None
    model.reset_parameters(0)
    return model, shape, rng


def parameters(name) -> int:
    model, _, _ = build(name)
    return sum(p.data.size for p in model.parameters())


class _TimedComm:
    """COMM_WORLD, timing its Allreduce calls."""

    def __init__(self, comm):
        self.comm, self.seconds, self.calls = comm, 0.0, 0

    def Allreduce(self, *args, **kwargs):
        start = time.perf_counter()
        self.comm.Allreduce(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        self.calls += 1

    def __getattr__(self, name):
        return getattr(self.comm, name)


def worker(name: str, steps: int) -> dict:
    """One rank's measurement (every rank runs this; rank 0's figures are kept)."""
    import numpy as np
    from mpi4py import MPI

    from glassnet import losses, optim
    from glassnet.distributed import DataParallel

    comm = MPI.COMM_WORLD
    batch, opt_name, lr = WORKLOADS[name]
    model, shape, rng = build(name)
    X = rng.normal(size=(8 * batch, *shape)).astype(np.float32)
    y = rng.integers(0, 10, size=8 * batch)
    opt = (
        optim.SGD(model, lr=lr, momentum=0.9 if name == "W3" else 0.0)
        if opt_name == "sgd"
        else optim.Adam(model, lr=lr)
    )
    timed = _TimedComm(comm)
    step = DataParallel(timed).step(
        model, losses.CrossEntropy(), opt, {}, None, np.random.default_rng(0)
    )
    for i in range(max(5, steps // 10)):  # warm-up
        step(
            X[i % 8 * batch : (i % 8 + 1) * batch],
            y[i % 8 * batch : (i % 8 + 1) * batch],
        )
    timed.seconds, timed.calls = 0.0, 0
    comm.Barrier()
    start = time.perf_counter()
    for i in range(steps):
        j = i % 8
        step(X[j * batch : (j + 1) * batch], y[j * batch : (j + 1) * batch])
    seconds = time.perf_counter() - start
    in_step = timed.seconds
    # the communication alone: the same buffer, every rank already waiting
    buf = step.buffer.copy()
    comm.Barrier()
    start = time.perf_counter()
    for _ in range(steps):
        comm.Allreduce(MPI.IN_PLACE, buf)
    bare = time.perf_counter() - start
    return {
        "step": seconds / steps,
        "allreduce_in_step": in_step / steps,
        "allreduce_bare": bare / steps,
        "bytes": step.buffer.nbytes,
        "samples_per_s": batch * steps / seconds,
    }


def _mpiexec() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else "mpiexec"


def _run(name: str, ranks: int, threads: int, steps: int) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    command = [sys.executable, __file__, "--worker", name, "--steps", str(steps)]
    if ranks > 1:
        command = [_mpiexec(), "-n", str(ranks), *command]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ring_allreduce(p: int, nbytes: int, latency: float, bandwidth: float) -> float:
    """Seconds for a ring allreduce of ``nbytes`` over ``p`` machines."""
    return 2 * (p - 1) * latency + 2 * (p - 1) / p * nbytes / bandwidth


def _cpu() -> str:
    try:
        out = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False
        ).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--only", default="W1,W2,W3")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        from mpi4py import MPI

        result = worker(args.worker, args.steps)
        if MPI.COMM_WORLD.Get_rank() == 0:
            print(json.dumps(result))
        return 0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"CPU: {_cpu()}, {os.cpu_count()} logical cores; {args.steps} steps each; "
        f"load average before: {load} (other programs share these cores)"
    )
    print(
        f"{'':4} {'setting':22} {'samples/s':>10} {'step ms':>8} "
        f"{'allreduce in step ms':>21} {'bare allreduce us':>18} {'buffer KB':>10}"
    )
    measured = {}
    for name in args.only.split(","):
        rows = [
            ("1 rank, 1 thread", 1, 1),
            ("1 rank, 2 threads", 1, 2),
            ("2 ranks, 1 thread each", 2, 1),
        ]
        for label, ranks, threads in rows:
            r = _run(name, ranks, threads, args.steps)
            measured.setdefault(name, {})[label] = r
            comm = (
                f"{r['allreduce_in_step'] * 1e3:8.3f} "
                f"({r['allreduce_in_step'] / r['step']:4.0%})"
                if ranks > 1
                else ""
            )
            bare = f"{r['allreduce_bare'] * 1e6:.1f}" if ranks > 1 else ""
            print(
                f"{name:4} {label:22} {r['samples_per_s']:10.0f} "
                f"{r['step'] * 1e3:8.3f} {comm:>21} {bare:>18} "
                f"{r['bytes'] / 1024:10.1f}",
                flush=True,
            )
        m = measured[name]
        base = m["1 rank, 1 thread"]["samples_per_s"]
        two = m["2 ranks, 1 thread each"]["samples_per_s"]
        threads2 = m["1 rank, 2 threads"]["samples_per_s"]
        print(
            f"{name:4} 2 ranks: {two / base:.2f}x one rank of 1 thread, "
            f"{two / threads2:.2f}x one rank of 2 threads"
        )
    print(
        "\nOn paper: ring allreduce of the float32 gradients, against compute per "
        "step / p\n(compute = the 1-rank step time measured above, W4 from "
        "docs/benchmarks.md)"
    )
    for net, (lat, bw) in NETWORKS.items():
        print(f"\n{net}")
        print(
            f"{'':4} {'params':>9} {'MB':>7} "
            + " ".join(
                f"{'p=' + str(p) + ' comm/compute, speed-up':>29}" for p in (2, 8, 32)
            )
        )
        for name in ("W1", "W2", "W3", "W4"):
            n = parameters(name)
            nbytes = 4 * n
            if name == "W4":
                step = W4_STEP_SECONDS
            elif name in measured:
                step = measured[name]["1 rank, 1 thread"]["step"]
            else:
                continue
            cells = []
            for p in (2, 8, 32):
                t = ring_allreduce(p, nbytes, lat, bw)
                speedup = step / (step / p + t)
                cells.append(f"{t * 1e3:6.3f}/{step / p * 1e3:6.3f} ms {speedup:5.1f}x")
            print(
                f"{name:4} {n:9,d} {nbytes / 1e6:7.3f} "
                + " ".join(f"{c:>29}" for c in cells)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
