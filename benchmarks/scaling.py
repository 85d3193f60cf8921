"""``glassnet bench --scaling``: how glassnet's cost grows next to PyTorch's.

Four sweeps, each a training step written the way a user writes it (the
explicit loop: forward, loss, ``backward()``, optimizer step), the same
weights (glassnet's, copied into torch) and the same batches in both:

- **batch**: W2's MLP (784 -> 256 ReLU -> 256 ReLU -> 10, Adam) at batch
  1, 8, 32, 128, 512;
- **width**: an MLP 784 -> w ReLU -> w ReLU -> 10 (Adam, batch 128) for
  w = 64 ... 2048;
- **image**: W3's LeNet on 1x28x28 images, and a CNN on 3x32x32 images with
  32, 64 and 128 channels (3x3 convolutions, each followed by ReLU and 2x2
  max pooling; SGD with momentum, batch 64);
- **sequence**: W4's character LSTM (65 symbols, 128 units, Adam, batch 32)
  over sequences of 16 ... 512 steps.

It is a curve, not a table of records: each point is timed for a few short
blocks, in one process per framework and sweep, the two frameworks taking
turns for two rounds; the ratio of a point is the median of its per-round
ratios (glassnet rate / PyTorch rate, so above 1 glassnet is faster). Each
point's first loss is compared between the two, so both computed the same
thing. The figure (matplotlib) and a Markdown table are written.

``--threads N`` (default 2) and ``--clock cpu`` (the CPU time each process
used, instead of the wall clock): on a machine that other people's jobs keep
busy, one thread timed by CPU time measures the work itself (with 2 threads a
thread waiting for its descheduled partner spins, and that time counts).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

BATCHES = (1, 8, 32, 128, 512)
WIDTHS = (64, 128, 256, 512, 1024, 2048)
IMAGES = ("LeNet 1x28x28", "CNN 3x32x32, 32-64-128")
SEQUENCES = (16, 32, 64, 128, 256, 512)
SWEEPS = {
    "batch": ("batch size (W2 MLP training)", BATCHES),
    "width": ("hidden width (MLP 784-w-w-10, batch 128)", WIDTHS),
    "image": ("image size and channels (CNN training, batch 64)", IMAGES),
    "sequence": ("sequence length (char LSTM, batch 32)", SEQUENCES),
}
CNN_BATCH = 64


_BENCH = None  # bench.py's helpers (bench._helpers()), given to worker() and run()


def _here(name: str):
    """A sibling script of benchmarks/, loaded as bench.py loads it."""
    return _BENCH._load_file(str(Path(__file__).with_name(name)))


# --- the workloads of one point -------------------------------------------------------


def _mlp(sweep: str, point):
    sizes = (784, 256, 256, 10) if sweep == "batch" else (784, point, point, 10)
    batch = point if sweep == "batch" else 128
    return _here("mlp.py").MLPWorkload("S", "MLP", sizes, "relu", "adam", 1e-3, batch)


def _cnn_layers(point) -> list:
    """(kind, arguments) of each layer: the same list builds both models."""
    if point == IMAGES[0]:  # W3's LeNet
        convs, size, kernel = [(1, 16), (16, 32)], 28, 5
    else:
        convs, size, kernel = [(3, 32), (32, 64), (64, 128)], 32, 3
    layers = []
    for c_in, c_out in convs:
        layers += [
            ("conv", (c_in, c_out, kernel, kernel // 2)),
            ("relu", ()),
            ("pool", ()),
        ]
        size //= 2
    return [*layers, ("flatten", ()), ("dense", (convs[-1][1] * size * size, 10))]


def _cnn_data(point):
    import numpy as np

    channels, size = (1, 28) if point == IMAGES[0] else (3, 32)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4 * CNN_BATCH, channels, size, size), dtype=np.float32)
    return X, rng.integers(0, 10, 4 * CNN_BATCH)


def _cnn_glassnet(point, weights=None):
    from glassnet import losses, nn, optim

    make = {
        "conv": lambda a: nn.Conv2D(a[0], a[1], a[2], padding=a[3]),
        "relu": lambda a: nn.ReLU(),
        "pool": lambda a: nn.MaxPool2D(2),
        "flatten": lambda a: nn.Flatten(),
        "dense": lambda a: nn.Dense(*a),
    }
    model = nn.Sequential(*[make[k](a) for k, a in _cnn_layers(point)], seed=0)
    if weights is None:
        return model.state_dict()
    model.load_state_dict(weights)
    opt, loss_fn = optim.SGD(model, lr=0.01, momentum=0.9), losses.CrossEntropy()
    X, y = _cnn_data(point)

    def run(i):
        k = (i % 4) * CNN_BATCH
        loss = loss_fn(model(X[k : k + CNN_BATCH]), y[k : k + CNN_BATCH])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return run, CNN_BATCH


def _cnn_torch(point, weights):
    import numpy as np
    import torch
    from torch import nn

    make = {
        "conv": lambda a: nn.Conv2d(a[0], a[1], a[2], padding=a[3]),
        "relu": lambda a: nn.ReLU(),
        "pool": lambda a: nn.MaxPool2d(2),
        "flatten": lambda a: nn.Flatten(),
        "dense": lambda a: nn.Linear(*a),
    }
    model = nn.Sequential(*[make[k](a) for k, a in _cnn_layers(point)])
    with (
        torch.no_grad()
    ):  # the same names; a Dense weight is (in, out), Linear's (out, in)
        for name, p in model.named_parameters():
            w = weights[name]
            if isinstance(model[int(name.split(".")[0])], nn.Linear) and w.ndim == 2:
                w = w.T
            p.copy_(torch.from_numpy(np.ascontiguousarray(w)))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    X, y = (torch.from_numpy(a) for a in _cnn_data(point))

    def run(i):
        k = (i % 4) * CNN_BATCH
        loss = loss_fn(model(X[k : k + CNN_BATCH]), y[k : k + CNN_BATCH])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return run, CNN_BATCH


def _lstm(framework: str, steps: int, weights: str):
    """W4's own training step (w4_char_lstm.py), at sequence length ``steps``.

    Its workers build the model, the optimizer and the data from the module's
    T and then time their step with ``_timed``; here T is set, the loss curve
    cut to one step, and ``_timed`` swapped for a function that keeps the step.
    """
    w4 = _here("w4_char_lstm.py")
    kept, saved = {}, (w4.T, w4.CURVE_STEPS, w4._timed)

    def keep(step, warmup, n):
        kept["step"] = step
        return 1.0

    w4.T, w4.CURVE_STEPS, w4._timed = steps, 1, keep
    try:
        worker = w4.worker_glassnet if framework == "glassnet" else w4.worker_torch
        worker(weights, 0, 0, 1)
    finally:
        w4.T, w4.CURVE_STEPS, w4._timed = saved
    return kept["step"], w4.B * steps


def _point(framework: str, sweep: str, point, tmp: str):
    """(run, units per call) for one point of a sweep; run(i) returns the loss."""
    if sweep in ("batch", "width"):
        wl = _mlp(sweep, point)
        return getattr(wl, f"{framework}_train")(wl.initial_weights())
    if sweep == "image":
        weights = _cnn_glassnet(point)
        if framework == "glassnet":
            return _cnn_glassnet(point, weights)
        return _cnn_torch(point, weights)
    return _lstm(framework, point, str(Path(tmp) / "w4.npz"))


def worker(spec: dict, bench) -> dict:
    """One framework, one sweep, every point: {point: {rate, first_loss}}."""
    global _BENCH
    _BENCH = bench
    if spec["framework"] == "torch":
        import torch

        torch.set_num_threads(spec["threads"])
    clock = time.process_time if spec["clock"] == "cpu" else time.perf_counter
    out = {}
    for point in SWEEPS[spec["sweep"]][1]:
        run, units = _point(spec["framework"], spec["sweep"], point, spec["tmp"])
        if spec["framework"] == "torch":  # W4's worker sets its own thread count
            torch.set_num_threads(spec["threads"])
        first = bench._loss_value(run(0))
        before = bench._cpu_snapshot()
        rates = bench._time_blocks(
            run, units, 2, spec["repeats"], spec["seconds"], clock
        )
        out[str(point)] = {
            "rate": statistics.median(rates),
            "first_loss": first,
            "others_cores": bench.others_load(before, bench._cpu_snapshot()),
        }
    return out


# --- the parent: run the sweeps in turns, summarise, draw -------------------------------


def run(args, bench) -> dict:
    """Every sweep, glassnet and PyTorch taking turns for ``args.rounds`` rounds."""
    import tempfile

    global _BENCH
    _BENCH = bench
    runner = bench.Runner(
        sys.executable,
        args.torch_python,
        verbose=not args.quiet,
        wait_budget=0.0 if args.quick else args.wait,
    )
    for var in bench.THREAD_VARS:  # read by the BLAS libraries as they load
        runner.env[var] = str(args.threads)
    rounds = 1 if args.quick else min(args.rounds, 2)
    settings = {
        "repeats": 1 if args.quick else 3,
        "seconds": 0.01 if args.quick else 0.15,
        "threads": args.threads,
        "clock": args.clock,
    }
    sweeps = [s for s in args.sweeps.split(",") if s]
    unknown = [s for s in sweeps if s not in SWEEPS]
    if unknown:
        raise SystemExit(f"glassnet bench --scaling: unknown sweeps {unknown}; "
                         f"choose from {', '.join(SWEEPS)}.")  # fmt: skip
    report = {"machine": bench._machine(), "settings": dict(settings, rounds=rounds)}
    runs: dict = {s: {"glassnet": [], "torch": []} for s in sweeps}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        _here("w4_char_lstm.py").make_weights(str(Path(tmp) / "w4.npz"))
        for r in range(rounds):
            for sweep in sweeps:
                for framework in ("glassnet", "torch"):
                    spec = dict(
                        settings, kind="scaling", file=__file__, sweep=sweep,
                        framework=framework, tmp=tmp,
                        label=f"scaling {sweep} {framework} (round {r + 1})",
                    )  # fmt: skip
                    got = runner(spec, framework == "torch")
                    runs[sweep][framework].append(got)
    report["sweeps"] = {s: _summarise(s, runs[s]) for s in sweeps}
    report["seconds"] = time.perf_counter() - started
    return report


def _summarise(sweep: str, runs: dict) -> list:
    rows = []
    for point in map(str, SWEEPS[sweep][1]):
        g = [r[point] for r in runs["glassnet"]]
        t = [r[point] for r in runs["torch"]]
        ratios = [a["rate"] / b["rate"] for a, b in zip(g, t)]
        first_g, first_t = g[0]["first_loss"], t[0]["first_loss"]
        rows.append(
            {
                "point": point,
                "glassnet": statistics.median(a["rate"] for a in g),
                "torch": statistics.median(b["rate"] for b in t),
                "ratio": statistics.median(ratios),
                "ratios": ratios,
                "first_loss": [first_g, first_t],
                "same_loss": abs(first_g - first_t) <= 1e-4 * max(1.0, abs(first_g)),
                # cores' worth of CPU other processes took while it was timed
                "others_cores": max((r.get("others_cores") or 0.0) for r in g + t),
            }
        )
    return rows


def markdown(report: dict, bench) -> str:
    settings = report["settings"]
    clock = "CPU time used" if settings.get("clock") == "cpu" else "wall clock"
    lines = [
        f"Machine: {bench.cpu_line(report['machine'])}; "
        f"{settings.get('threads', bench.THREADS)} threads per case, timed by the "
        f"{clock}. {settings['rounds']} rounds, glassnet and PyTorch taking "
        "turns; ratio = glassnet / PyTorch training throughput (above 1: glassnet "
        "faster), median of the rounds (their range in brackets). Others' load: "
        "the most CPU other processes took while a point was timed (this machine "
        f"has {report['machine']['cores']} cores); a high figure means a noisy point.",
        "",
        "| sweep | point | glassnet /s | PyTorch /s | glassnet / PyTorch | "
        "same first loss | others' load (cores) |",
        "|---|---|---|---|---|---|---|",
    ]
    for sweep, rows in report["sweeps"].items():
        unit = "tokens" if sweep == "sequence" else "samples"
        for row in rows:
            spread = ""
            if len(row["ratios"]) > 1:
                spread = f" ({min(row['ratios']):.2f}-{max(row['ratios']):.2f})"
            lines.append(
                f"| {sweep} | {row['point']} | {bench._k(row['glassnet'])} {unit} | "
                f"{bench._k(row['torch'])} {unit} | {row['ratio']:.2f}{spread} | "
                f"{'yes' if row['same_loss'] else 'NO'}: "
                f"{row['first_loss'][0]:.4f} vs {row['first_loss'][1]:.4f} | "
                f"{row['others_cores']:.1f} |"
            )
    lines += ["", f"Whole run: {report['seconds']:.0f} s."]
    return "\n".join(lines)


def figure(report: dict, path: str, bench) -> None:
    """The ratios, one panel per sweep, as a PNG at ``path``."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps = report["sweeps"]
    cols = min(2, len(sweeps))
    rows_ = -(-len(sweeps) // cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(5.2 * cols, 3.4 * rows_ + 0.5))
    axes = list(getattr(axes, "flat", [axes]))
    for ax in axes[len(sweeps) :]:
        ax.set_visible(False)
    for ax, (sweep, rows) in zip(axes, sweeps.items()):
        ratios = [r["ratio"] for r in rows]
        lows = [r["ratio"] - min(r["ratios"]) for r in rows]
        highs = [max(r["ratios"]) - r["ratio"] for r in rows]
        if sweep == "image":
            x = range(len(rows))
            ax.bar(x, ratios, color="#4c72b0", yerr=[lows, highs], capsize=4)
            ax.set_xticks(list(x), [r["point"].replace(", ", "\n") for r in rows])
        else:
            x = [int(r["point"]) for r in rows]
            ax.errorbar(x, ratios, yerr=[lows, highs], marker="o", capsize=3)
            ax.set_xscale("log", base=2)
            ax.set_xticks(x, [str(v) for v in x])
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        # ratios are multiplicative: 2x faster and 2x slower sit equally far from 1
        ax.set_yscale("log", base=2)
        every = [min(r["ratios"]) for r in rows] + [max(r["ratios"]) for r in rows]
        ax.set_ylim(min(0.5, min(every) / 1.3), max(2.0, max(every) * 1.3))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.set_title(SWEEPS[sweep][0], fontsize=9)
        ax.set_ylabel("glassnet / PyTorch (above 1: glassnet faster)", fontsize=8)
        ax.grid(alpha=0.3)
    m, settings = report["machine"], report["settings"]
    vector = [v for v in m.get("vector", []) if v in ("avx2", "avx512f", "amx_tile")]
    threads = settings.get("threads", bench.THREADS)
    clock = ", CPU time" if settings.get("clock") == "cpu" else ""
    fig.suptitle(
        f"glassnet / PyTorch training throughput: {m['cpu']} ({' '.join(vector)}), "
        f"{threads} thread{'s' if threads > 1 else ''}{clock}",
        fontsize=10,
    )
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args, bench) -> int:
    runner = bench.Runner(sys.executable, args.torch_python, verbose=False)
    if not bench._importable(runner, "torch"):
        print("glassnet bench --scaling: the ratios are to PyTorch, which is not "
              "installed here (make bench installs it; or pass --torch-python).",
              file=sys.stderr)  # fmt: skip
        return 1
    report = run(args, bench)
    table = markdown(report, bench)
    print(table)
    figure(report, args.figure, bench)
    print(f"Figure: {args.figure}")
    if args.json:
        bench.write(args.json, bench.json.dumps(report, indent=1))
    if args.markdown:
        bench.write(args.markdown, table + "\n")
    return 0
