"""W4 char-lstm: training tokens/s of glassnet and PyTorch, measured in one run.

The workload (DESIGN.md): vocabulary 65, one-hot input, sequences of 64,
batch 32, LSTM with 128 hidden units, Dense 128 -> 65 at every step,
cross-entropy, Adam (lr 2e-3), full backpropagation through time, float32.

Each framework runs in its own process with exactly 2 threads
(OMP_NUM_THREADS=2, OPENBLAS_NUM_THREADS=2, MKL_NUM_THREADS=2, and
torch.set_num_threads(2)), from the same initial weights (glassnet's, with
the gates reordered and the matrices transposed for PyTorch) and the same
synthetic data (a fixed seed). Warm-up steps are excluded; the figure is the
median over repeats of a timed block of training steps, and the two
processes take turns so a busy machine hurts both alike.

Both workers also return ``losses``: the loss of each of the first
CURVE_STEPS training steps (before that step's update, batches in the same
order), so the two loss curves can be compared; those steps are run before
the warm-up and are not timed.

Usage::

    python benchmarks/w4_char_lstm.py                      # glassnet only
    python benchmarks/w4_char_lstm.py --torch-python /tmp/torchvenv5/bin/python --no-lookup
    python benchmarks/w4_char_lstm.py --torch-python /tmp/torchvenv5/bin/python --numpy

``--before SRC`` adds glassnet from another checkout's ``src`` folder (e.g.
``git worktree add /tmp/old COMMIT``), taking turns with the others, and
prints the median of the per-round ratios. ``--threads 1 --clock cpu`` times
one thread each by the CPU time it used: the work itself, even when other
jobs keep a shared machine's cores busy.

``--no-lookup`` adds a glassnet run with the one-hot row look-up switched
off, so every input product is a matrix product as in PyTorch; ``--numpy``
one with glassnet's compiled kernels turned off (GLASSNET_NATIVE=0), i.e.
the LSTM's NumPy loops.

PyTorch is never a dependency of glassnet: it is only imported inside the
worker process started with ``--torch-python`` (a separate virtualenv).
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

V, T, B, H, LR = 65, 64, 32, 128, 2e-3
N_DATA = 8  # distinct batches cycled through
CURVE_STEPS = 20  # the first training steps whose losses both workers report

#: Training FLOPs per token (a multiply-add counts 2), as the bench harness
#: counts them: forward LSTM 2·4H·(V + H) and Dense 2·H·V; backward the weight
#: gradients of both (the same again) plus the gradients flowing into h
#: (2·4H·H + 2·H·V); the one-hot input needs no gradient.
FLOPS_PER_TOKEN = 2 * (2 * 4 * H * (V + H) + 2 * H * V) + 2 * 4 * H * H + 2 * H * V


def _data():
    import numpy as np

    return np.random.default_rng(0).integers(0, V, size=(N_DATA * B, T + 1))


def make_weights(path: str) -> None:
    """glassnet's initial model (seed 0), saved as plain arrays."""
    import numpy as np

    from glassnet import nn

    model = nn.Sequential(nn.OneHot(V), nn.LSTM(V, H), nn.Dense(H, V), seed=0)
    np.savez(path, **model.state_dict())


def _timed(step, warmup: int, steps: int) -> float:
    clock = getattr(time, os.environ.get("W4_CLOCK", "perf_counter"))
    for i in range(warmup):
        step(i)
    start = clock()
    for i in range(steps):
        step(i)
    return clock() - start


def worker_glassnet(
    weights: str, warmup: int, steps: int, repeats: int, lookup: bool = True
) -> dict:
    import numpy as np

    from glassnet import losses, nn, optim
    from glassnet.ops import recurrent

    recurrent.ONE_HOT_LOOKUP = lookup

    model = nn.Sequential(nn.OneHot(V), nn.LSTM(V, H), nn.Dense(H, V))
    model.load_state_dict(dict(np.load(weights)))
    loss_fn = losses.CrossEntropy()
    opt = optim.Adam(model, lr=LR)
    data = _data()
    first = float(loss_fn(model(data[:B, :-1]), data[:B, 1:]).data)

    def step(i):
        rows = data[(i % N_DATA) * B : (i % N_DATA + 1) * B]
        loss = loss_fn(model(rows[:, :-1]), rows[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    losses_ = [float(step(i).data) for i in range(CURVE_STEPS)]
    times = [_timed(step, warmup if r == 0 else 1, steps) for r in range(repeats)]
    return {"first_loss": first, "losses": losses_, "times": times}


def worker_torch(weights: str, warmup: int, steps: int, repeats: int) -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    w = dict(np.load(weights))

    def reorder(
        a,
    ):  # glassnet gates (forget, input, candidate, output) -> torch (i, f, g, o)
        f, i, g, o = np.split(a, 4, axis=-1)
        return np.concatenate([i, f, g, o], axis=-1)

    lstm = torch.nn.LSTM(V, H, batch_first=True)
    lin = torch.nn.Linear(H, V)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(reorder(w["1.weight_ih"]).T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(reorder(w["1.weight_hh"]).T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(reorder(w["1.bias"])))
        lstm.bias_hh_l0.zero_()
        lin.weight.copy_(torch.from_numpy(w["2.weight"].T.copy()))
        lin.bias.copy_(torch.from_numpy(w["2.bias"]))
    # glassnet's LSTM has one bias; torch's has two that always get the same
    # gradient, so training both would move the bias twice as fast under Adam.
    # bias_hh stays zero and untrained: the same model as glassnet's.
    lstm.bias_hh_l0.requires_grad_(False)
    params = [p for p in lstm.parameters() if p.requires_grad] + list(lin.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    data = torch.from_numpy(_data())

    def loss_of(rows):
        x = F.one_hot(rows[:, :-1], V).float()
        out, _ = lstm(x)
        return F.cross_entropy(lin(out).reshape(-1, V), rows[:, 1:].reshape(-1))

    with torch.no_grad():
        first = float(loss_of(data[:B]))

    def step(i):
        loss = loss_of(data[(i % N_DATA) * B : (i % N_DATA + 1) * B])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    losses_ = [float(step(i).detach()) for i in range(CURVE_STEPS)]
    times = [_timed(step, warmup if r == 0 else 1, steps) for r in range(repeats)]
    return {
        "first_loss": first,
        "losses": losses_,
        "times": times,
        "torch": torch.__version__,
    }


def _cpu_idle_share(seconds: float = 1.0) -> float:
    """Share of CPU time spent idle over ``seconds`` (Linux /proc/stat), or 1.0."""

    def snapshot():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]

    try:
        total0, idle0 = snapshot()
        time.sleep(seconds)
        total1, idle1 = snapshot()
    except OSError:
        return 1.0
    return (idle1 - idle0) / max(total1 - total0, 1)


def wait_for_idle(share: float = 0.9, streak: int = 2, limit: float = 600.0) -> None:
    """Block until the machine has been ``share`` idle for ``streak`` seconds in a row."""
    start, good = time.perf_counter(), 0
    while good < streak and time.perf_counter() - start < limit:
        good = good + 1 if _cpu_idle_share() >= share else 0


def _env(threads: int = 2) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def _run(python: str, which: str, weights: str, args) -> dict:
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
        "1",
    ]
    env = _env(args.threads)
    env["W4_CLOCK"] = "process_time" if args.clock == "cpu" else "perf_counter"
    if which == "glassnet-before":
        cmd[3] = "glassnet"
        env["PYTHONPATH"] = args.before
    if which == "glassnet-multiply":
        cmd[3] = "glassnet"
        cmd.append("--no-lookup")
    if which == "glassnet-numpy":
        cmd[3] = "glassnet"
        env["GLASSNET_NATIVE"] = "0"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{which} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--torch-python", help="a Python with torch installed (own venv)"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--steps", type=int, default=10, help="training steps per repeat"
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--no-lookup",
        action="store_true",
        help="also time glassnet with the one-hot row look-up switched off "
        "(every input product a matrix product, as PyTorch does)",
    )
    parser.add_argument(
        "--numpy",
        action="store_true",
        help="also time glassnet with its compiled kernels turned off "
        "(GLASSNET_NATIVE=0: the NumPy loops)",
    )
    parser.add_argument(
        "--before", help="also time glassnet from this src folder (another checkout)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: the CPU time each process used (meaningful with --threads 1)",
    )
    parser.add_argument(
        "--wait-idle",
        action="store_true",
        help="on a shared machine, wait before every run until the CPUs "
        "have been 90%% idle for 2 s (Linux)",
    )
    parser.add_argument(
        "--worker", choices=["weights", "glassnet", "torch"], help=argparse.SUPPRESS
    )
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "weights":
        make_weights(args.weights)
        return 0
    if args.worker == "glassnet":
        print(
            json.dumps(
                worker_glassnet(
                    args.weights,
                    args.warmup,
                    args.steps,
                    args.repeats,
                    lookup=not args.no_lookup,
                )
            )
        )
        return 0
    if args.worker == "torch":
        print(
            json.dumps(
                worker_torch(args.weights, args.warmup, args.steps, args.repeats)
            )
        )
        return 0

    tokens = B * T * args.steps
    runners = [("glassnet", sys.executable)]
    if args.before:
        runners.append(("glassnet-before", sys.executable))
    if args.numpy:
        runners.append(("glassnet-numpy", sys.executable))
    if args.no_lookup:
        runners.append(("glassnet-multiply", sys.executable))
    if args.torch_python:
        runners.append(("pytorch", args.torch_python))
    results = {name: {"times": []} for name, _ in runners}
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "w4.npz")
        subprocess.run(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--worker",
                "weights",
                "--weights",
                weights,
            ],
            env=_env(),
            check=True,
        )
        for _ in range(args.repeats):  # take turns: each repeat is a fresh process
            for name, python in runners:
                if args.wait_idle:
                    wait_for_idle()
                which = "torch" if name == "pytorch" else name
                got = _run(python, which, weights, args)
                results[name]["times"] += got["times"]
                results[name]["first_loss"] = got["first_loss"]
                results[name]["losses"] = got["losses"]
                results[name].setdefault("version", got.get("torch"))
    print(
        f"W4 char-lstm: vocab {V} one-hot, seq {T}, batch {B}, LSTM {H}, Dense {H}->{V}, "
        f"CE, Adam {LR}, full BPTT, float32, {args.threads} thread(s), "
        f"{args.clock} clock"
    )
    print(
        f"{args.repeats} repeats x {args.steps} steps ({tokens} tokens), "
        f"{args.warmup} warm-up steps excluded\n"
    )
    rates = {}
    for name, r in results.items():
        rates[name] = tokens / statistics.median(r["times"])
        spread = [tokens / t for t in r["times"]]
        label = name + (f" {r['version']}" if r.get("version") else "")
        print(
            f"{label:18s} {rates[name]:>9,.0f} tokens/s  (min {min(spread):,.0f}, "
            f"max {max(spread):,.0f}); loss on batch 0 before training "
            f"{r['first_loss']:.5f}"
        )
    if "pytorch" in rates:
        print()
        for name, rate in rates.items():
            if name != "pytorch":
                per_round = [
                    b / a
                    for a, b in zip(results[name]["times"], results["pytorch"]["times"])
                ]
                print(
                    f"{name} / pytorch = {rate / rates['pytorch']:.2f} "
                    f"(median of per-round ratios {statistics.median(per_round):.2f})"
                )
        ref = results["pytorch"]["losses"]
        print(
            f"\nloss curves, first {len(ref)} steps ({ref[0]:.5f} -> {ref[-1]:.5f} "
            "in pytorch): largest difference from pytorch's"
        )
        for name, r in results.items():
            if name != "pytorch":
                diff = max(abs(a - b) for a, b in zip(r["losses"], ref))
                print(
                    f"  {name:18s} {diff:.2e} (relative {diff / min(map(abs, ref)):.1e})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
