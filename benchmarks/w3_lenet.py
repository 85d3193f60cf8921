"""W3 lenet-cnn: glassnet's training speed next to PyTorch's, measured in one run.

The workload (DESIGN.md, "Performance workloads"): 1x28x28 images ->
Conv2D 1->16 5x5 pad 2 -> ReLU -> MaxPool 2 -> Conv2D 16->32 5x5 pad 2 ->
ReLU -> MaxPool 2 -> Flatten -> Dense 1568->10, cross-entropy, SGD with
momentum 0.9 and lr 0.01, batches of 64, float32, synthetic data from a
fixed seed.

Each framework trains in its own process with exactly two threads
(OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS = 2, and
torch.set_num_threads(2)), from the same initial weights (glassnet's,
copied into torch; glassnet's Dense weight is (in, out), torch's Linear
(out, in)). Warm-up steps are not timed; the figure is the median over
repeats of samples per second, and the processes alternate for
``--rounds`` rounds so that a busy moment of the machine hits both. Both
report the loss of their first batch, which must agree: it shows the two
train the same network. Both also return ``losses``: the loss of each of the
first CURVE_STEPS training steps (before that step's update, batches in the
same order), so the two loss curves can be compared; those steps are run
before the warm-up and are not timed.

PyTorch is an optional extra for this script only; it never becomes a
dependency of glassnet. Run it with a Python that has both, e.g.::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install numpy /opt/wheels/torch-*.whl
    /tmp/torchvenv/bin/pip install -e .
    /tmp/torchvenv/bin/python benchmarks/w3_lenet.py

or point ``--torch-python`` at that venv's Python. Without torch the
glassnet figure is still measured and reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

THREADS = 2
BATCH = 64
N_BATCHES = 8  # synthetic data: this many distinct batches, visited in turn
CURVE_STEPS = 20  # the first training steps whose losses both workers report
# Multiply-adds of one sample, counted as 2 FLOPs each: forward, plus weight
# and input gradients (conv1's input needs no gradient).
_FWD = 2 * (16 * 25 * 28 * 28 + 32 * 400 * 14 * 14 + 1568 * 10)
FLOPS_PER_SAMPLE = _FWD + 2 * (16 * 25 * 28 * 28) + 4 * (32 * 400 * 14 * 14 + 1568 * 10)


def _env(threads: int = THREADS, blas_threads: int | None = None) -> dict:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    if blas_threads is not None:  # glassnet's own kernels keep `threads`
        env["GLASSNET_NUM_THREADS"] = str(threads)
        env["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    return env


def synthetic_data(seed: int = 0):
    """Images of N(0, 1) noise and random labels: speed does not depend on content."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_BATCHES * BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, N_BATCHES * BATCH)
    return X, y


def glassnet_model(seed: int = 0):
    from glassnet import nn

    return nn.Sequential(
        nn.Conv2D(1, 16, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2D(2),
        nn.Conv2D(16, 32, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dense(1568, 10),
        seed=seed,
    )


def _time_loop(step, warmup: int, steps: int, repeats: int) -> list:
    for i in range(warmup):
        step(i)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(steps):
            step(i)
        rates.append(steps * BATCH / (time.perf_counter() - start))
    return rates


def _gemm_ceiling() -> float:
    """NumPy float32 GEMM GFLOP/s on this machine (the DESIGN.md ceiling)."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    a @ a
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * 1024**3 / best / 1e9


def run_glassnet(weights: str, warmup: int, steps: int, repeats: int) -> dict:
    import numpy as np

    import glassnet as gn
    from glassnet.optim import SGD

    try:
        from glassnet.losses import CrossEntropy

        loss_fn = CrossEntropy()
    except ImportError:  # older trees: the fused op itself
        from glassnet.ops.loss import cross_entropy as loss_fn

    model = glassnet_model()
    model.load_state_dict(dict(np.load(weights)))
    X, y = synthetic_data()
    opt = SGD(model, lr=0.01, momentum=0.9)
    first = []

    def step(i):
        k = i % N_BATCHES
        loss = loss_fn(
            model(X[k * BATCH : (k + 1) * BATCH]), y[k * BATCH : (k + 1) * BATCH]
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not first:
            first.append(float(loss.data))
        return loss

    losses = [float(step(i).data) for i in range(CURVE_STEPS)]
    rates = _time_loop(step, warmup, steps, repeats)
    return {
        "rates": rates,
        "first_loss": first[0],
        "losses": losses,
        "gemm_gflops": _gemm_ceiling(),
        "version": gn.__version__,
        "numpy": np.__version__,
    }


def torch_lenet():
    """W3's LeNet in PyTorch, layer for layer glassnet's (indices 0, 3, 7 weighted)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1568, 10),
    )


def run_torch(weights: str, warmup: int, steps: int, repeats: int) -> dict:
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", THREADS)))
    torch.manual_seed(0)
    model = torch_lenet()
    w = dict(np.load(weights))
    with torch.no_grad():
        for index in (0, 3):
            model[index].weight.copy_(torch.from_numpy(w[f"{index}.weight"]))
            model[index].bias.copy_(torch.from_numpy(w[f"{index}.bias"]))
        # glassnet's Dense weight is (in, out); torch's Linear weight is (out, in)
        model[7].weight.copy_(torch.from_numpy(w["7.weight"].T.copy()))
        model[7].bias.copy_(torch.from_numpy(w["7.bias"]))
    X, y = synthetic_data()
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    first = []

    def step(i):
        k = i % N_BATCHES
        loss = loss_fn(
            model(X[k * BATCH : (k + 1) * BATCH]), y[k * BATCH : (k + 1) * BATCH]
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not first:
            first.append(float(loss.item()))
        return loss

    losses = [float(step(i).item()) for i in range(CURVE_STEPS)]
    rates = _time_loop(step, warmup, steps, repeats)
    return {
        "rates": rates,
        "first_loss": first[0],
        "losses": losses,
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def _worker(args) -> None:
    run = run_glassnet if args.worker == "glassnet" else run_torch
    print(json.dumps(run(args.weights, args.warmup, args.steps, args.repeats)))


def _spawn(which: str, weights: str, args) -> dict:
    python = (
        args.torch_python if which == "torch" and args.torch_python else sys.executable
    )
    cmd = [
        python,
        os.path.abspath(__file__),
        "--worker",
        which,
        "--weights",
        weights,
        "--warmup",
        str(args.warmup),
        "--steps",
        str(args.steps),
        "--repeats",
        str(args.repeats),
    ]
    blas = args.glassnet_blas_threads if which == "glassnet" else None
    done = subprocess.run(
        cmd, env=_env(args.threads, blas), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {which} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _torch_available(python: str) -> bool:
    probe = subprocess.run(
        [python, "-c", "import torch"], capture_output=True, check=False, env=_env()
    )
    return probe.returncode == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed repeat")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed repeats per round"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternate the two processes this many times",
    )
    parser.add_argument(
        "--torch-python", help="a Python with torch installed (default: this one)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=THREADS,
        help=f"threads for both frameworks (W3 says {THREADS})",
    )
    parser.add_argument(
        "--glassnet-blas-threads",
        type=int,
        help="threads for NumPy's BLAS (the Dense layer's products) in glassnet's "
        "process only, its compiled kernels keeping --threads: shows what "
        "OpenBLAS's idle threads, which spin on a core after each product, cost",
    )
    parser.add_argument(
        "--worker", choices=["glassnet", "torch"], help=argparse.SUPPRESS
    )
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0

    import numpy as np

    load_before = os.getloadavg()[0]
    has_torch = _torch_available(args.torch_python or sys.executable)
    frameworks = ["glassnet"] + (["torch"] if has_torch else [])
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "w3_initial.npz")
        np.savez(weights, **glassnet_model(seed=0).state_dict())
        results = {name: [] for name in frameworks}
        for _ in range(args.rounds):
            for name in frameworks:
                results[name].append(_spawn(name, weights, args))

    summary = {}
    for name, runs in results.items():
        rates = [r for run in runs for r in run["rates"]]
        summary[name] = {
            "samples_per_s": statistics.median(rates),
            "all": [round(r) for r in rates],
            "first_loss": runs[0]["first_loss"],
            "version": runs[0]["version"],
        }
    gemm = results["glassnet"][0]["gemm_gflops"]
    if args.json:
        print(json.dumps({"summary": summary, "gemm_gflops": gemm}, indent=2))
        return 0
    print(
        f"W3 lenet-cnn training, batch {BATCH}, float32, {args.threads} thread(s), "
        f"{args.rounds} rounds x {args.repeats} repeats x {args.steps} steps"
    )
    if args.glassnet_blas_threads is not None:
        print(f"glassnet's BLAS: {args.glassnet_blas_threads} thread(s)")
    print(
        f"machine load average (1 min) {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs"
    )
    print(
        f"NumPy float32 GEMM ceiling: {gemm:.0f} GFLOP/s; "
        f"{FLOPS_PER_SAMPLE / 1e6:.1f} MFLOP per training sample"
    )
    for name, s in summary.items():
        achieved = s["samples_per_s"] * FLOPS_PER_SAMPLE / 1e9
        print(
            f"  {name:9s} {s['version']:14s} {s['samples_per_s']:8.0f} samples/s  "
            f"({achieved:5.1f} GFLOP/s, {achieved / gemm:4.0%} of GEMM)  "
            f"first loss {s['first_loss']:.5f}   all: {s['all']}"
        )
    if "torch" in summary:
        ratio = summary["glassnet"]["samples_per_s"] / summary["torch"]["samples_per_s"]
        print(f"glassnet / PyTorch = {ratio:.2f}")
    else:
        print("PyTorch is not importable here; see the docstring to measure it too.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
