"""``glassnet bench``: glassnet's speed next to PyTorch's, measured in one run.

The workloads are DESIGN.md's W1-W4, defined in a source checkout's
``benchmarks/`` folder (``mlp.py`` for W1 and W2, ``w3_lenet.py``,
``w4_char_lstm.py``). The rules, so that the figures compare like with like:

- every case runs in its own fresh process with exactly 2 threads
  (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` = 2,
  and ``torch.set_num_threads(2)``);
- both frameworks start from the same initial weights (glassnet's) and see
  the same batches in the same order; float32 throughout;
- warm-up is not timed (at least ``warmup`` steps and a quarter second),
  then ``repeats`` blocks of about ``--seconds`` each are; a figure is the
  median of the blocks;
- the processes of the two frameworks take turns for ``--rounds`` rounds,
  so a busy moment of the (shared) machine hits both; the spread of the
  glassnet / PyTorch ratio over the rounds is reported next to it;
- the ceiling is NumPy's float32 GEMM (2048³) measured in the same run, and
  each case's achieved GFLOP/s is given as a share of it;
- each case's peak resident memory (``getrusage``) and each library's import
  time (fresh processes) are reported;
- the loss curves of both frameworks over the first training steps, from the
  same weights, are compared (W3 and W4 report only their first loss).

- the header names the CPU (/proc/cpuinfo's model name and numbers, its
  vector extensions: AVX2, AVX-512, AMX ...) and the saved JSON keeps it.

PyTorch is optional and never a dependency of glassnet; without it the
glassnet figures are still measured. JAX (``jax.jit`` of the same step, same
weights and batches, losses compared) is the second peer for W1 and W2; the
``bench`` extra installs it, and without it the table says so and the run
goes on. ``make bench`` sets everything up.

This harness lives beside the workloads, outside the package: ``glassnet
bench`` (in a source checkout) finds and runs it, and so does
``python benchmarks/bench.py``. It imports nothing from glassnet at module
level: it is also the worker script that the cases run in
(``python bench.py --worker SPEC``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THREADS = 2
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
GEMM_N = 2048

# W4 char-lstm FLOPs per token (multiply-add = 2), when its script does not say:
# forward LSTM 2·4H·(V+H) and Dense 2·H·V; backward the weight gradients of
# both (the same again) plus the gradients flowing into h (2·4H·H + 2·H·V);
# the one-hot input needs no gradient.
_V, _H = 65, 128
W4_FLOPS_PER_TOKEN = (
    2 * (2 * 4 * _H * (_V + _H) + 2 * _H * _V) + 2 * 4 * _H * _H + 2 * _H * _V
)


# =====================================================================================
# The worker: one case in one process
# =====================================================================================


def _load_file(path: str):
    """Import a benchmark script by its path (benchmarks/ is not a package)."""
    name = "glassnet_bench_" + Path(path).stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _time_blocks(
    run, units: int, warmup: int, repeats: int, seconds: float, clock=time.perf_counter
) -> list:
    """Units per second of ``repeats`` timed blocks, after an untimed warm-up.

    The warm-up also calibrates: a block holds as many calls of ``run`` as
    fit in about ``seconds`` (of ``clock``: the wall clock, or
    ``time.process_time`` for the CPU time this process used).
    """
    i, start = 0, clock()
    while i < warmup or clock() - start < min(0.25, 10 * seconds):
        run(i)
        i += 1
    per_call = max(clock() - start, 1e-9) / i
    calls = max(1, round(seconds / per_call))
    rates = []
    for _ in range(repeats):
        t0 = clock()
        for _ in range(calls):
            run(i)
            i += 1
        rates.append(calls * units / max(clock() - t0, 1e-9))
    return rates


def _cpu_snapshot() -> tuple:
    """(busy CPU seconds of the machine, CPU seconds of this process, wall clock)."""
    try:
        ticks = [
            int(f)
            for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
        ]
        # user nice system idle iowait irq softirq steal: busy is all but idle
        # and iowait
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):  # not Linux: no contention figure
        busy = None
    t = os.times()
    return busy, t.user + t.system, time.perf_counter()


def others_load(before: tuple, after: tuple):
    """Cores' worth of CPU that *other* processes (and the hypervisor) took in between.

    The machine is shared: another process on one of the two cores slows a
    2-thread BLAS call by far more than half. Cases measured while this is
    above ``BUSY`` are flagged, and left out of the figures when a quiet
    round of the same case exists.
    """
    if before[0] is None or after[0] is None:
        return None
    return max(
        0.0, (after[0] - before[0] - (after[1] - before[1])) / (after[2] - before[2])
    )


BUSY = 0.25  # cores used by others above which a measurement counts as disturbed


def _loss_value(loss) -> float:
    return loss if isinstance(loss, float) else float(loss.item())


def _worker(spec: dict) -> dict:
    kind = spec["kind"]
    out: dict = {}
    if kind == "import":
        t0 = time.perf_counter()
        import numpy  # noqa: F401

        t1 = time.perf_counter()
        module = importlib.import_module(spec["module"])
        t2 = time.perf_counter()
        out = {
            "numpy_s": t1 - t0,
            "module_s": t2 - t1,
            "version": getattr(module, "__version__", "?"),
        }
    elif kind == "gemm":
        out = _gemm(spec["n"], spec["repeats"])
    elif kind == "mlp":
        out = _mlp_case(spec)
    elif kind == "script":
        out = _script_case(spec)
    elif kind == "scaling":  # benchmarks/scaling.py, with this file's helpers
        out = _load_file(spec["file"]).worker(spec, _helpers())
    else:
        raise ValueError(f"unknown worker kind {kind!r}")
    import resource

    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["threads_env"] = {v: os.environ.get(v) for v in THREAD_VARS}
    if "torch" in sys.modules:
        out["torch_threads"] = sys.modules["torch"].get_num_threads()
    return out


def _gemm(n: int, repeats: int) -> dict:
    """NumPy float32 GEMM GFLOP/s: n³ (the ceiling) and W2's 128x784x256 product."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = a @ b
    before = _cpu_snapshot()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        rates.append(2 * n**3 / (time.perf_counter() - t0) / 1e9)
    x = rng.standard_normal((128, 784), dtype=np.float32)
    w = rng.standard_normal((784, 256), dtype=np.float32)
    z = x @ w
    small = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(50):
            np.matmul(x, w, out=z)
        small.append(2 * 128 * 784 * 256 * 50 / (time.perf_counter() - t0) / 1e9)
    return {
        "n": n,
        "gflops": rates,
        "best": max(rates),
        "median": statistics.median(rates),
        "gflops_128x784x256": max(small),
        "numpy": np.__version__,
        "others_cores": others_load(before, _cpu_snapshot()),
    }


def _helpers():
    """This file's helpers, for scaling.py (a worker does not register this module)."""
    import types

    names = ("THREADS", "THREAD_VARS", "Runner", "cpu_line", "json", "write")
    names += ("_load_file", "_time_blocks", "_loss_value", "_machine", "_importable")
    names += ("_k", "_cpu_snapshot", "others_load")
    return types.SimpleNamespace(**{name: globals()[name] for name in names})


def write(path: str, text: str) -> None:
    """Write ``text`` to ``path``, making its folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def _mlp_case(spec: dict) -> dict:
    import numpy as np

    if spec["framework"] == "torch":
        import torch

        torch.set_num_threads(THREADS)
    workload = getattr(_load_file(spec["file"]), spec["workload"])
    weights = dict(np.load(spec["weights"]))
    framework, mode, variant = (
        spec["framework"],
        spec["mode"],
        spec.get("variant", "loop"),
    )
    if mode == "curve":
        run, _ = getattr(workload, f"{framework}_train")(weights, variant)
        return {"losses": [_loss_value(run(i)) for i in range(spec["steps"])]}
    if mode == "train":
        run, units = getattr(workload, f"{framework}_train")(weights, variant)
    else:
        run, units = getattr(workload, f"{framework}_infer")(weights)
    before = _cpu_snapshot()
    rates = _time_blocks(run, units, spec["warmup"], spec["repeats"], spec["seconds"])
    others = others_load(before, _cpu_snapshot())
    return {
        "rates": rates,
        "version": _version(framework),
        "native": _native_status(framework),
        "others_cores": others,
        # inference: the first rows' outputs, compared between the frameworks
        **({"outputs": np.asarray(run(0))[:8].tolist()} if mode == "infer" else {}),
    }


def _script_case(spec: dict) -> dict:
    """W3 / W4: call the other scripts' own worker functions, in this process."""
    module = _load_file(spec["file"])
    before = _cpu_snapshot()
    got = getattr(module, spec["function"])(
        spec["weights"], spec["warmup"], spec["steps"], spec["repeats"]
    )
    others = others_load(before, _cpu_snapshot())
    if "rates" in got:
        rates = list(got["rates"])
    else:  # seconds per block of `steps` steps
        rates = [spec["units_per_step"] * spec["steps"] / t for t in got["times"]]
    framework = "torch" if "torch" in spec["function"] else "glassnet"
    return {
        "rates": rates,
        "first_loss": got.get("first_loss"),
        "losses": got.get("losses"),
        "version": _version(framework),
        "native": _native_status(framework),
        "others_cores": others,
    }


def _native_status(framework: str) -> dict | None:
    """Which of glassnet's compiled kernels this worker used ('loaded' or why not)."""
    if framework != "glassnet":
        return None
    from glassnet import _malloc, _native

    return dict(_native.status(), malloc=_malloc.status(), target=_native.target())


def _version(framework: str) -> str:
    if framework == "torch":
        import torch

        return torch.__version__
    if framework == "numpy":
        import numpy

        return numpy.__version__
    if framework == "jax":
        import jax

        return jax.__version__
    import glassnet

    return glassnet.__version__


# =====================================================================================
# The parent: plan the cases, run them in turns, summarise
# =====================================================================================


def find_benchmarks(explicit: str | None = None) -> Path:
    """The benchmarks/ folder: given, the one holding this file, or the current's."""
    candidates = (
        [Path(explicit)]
        if explicit
        else [Path(__file__).resolve().parent, Path.cwd() / "benchmarks"]
    )
    for path in candidates:
        if (path / "mlp.py").is_file():
            return path
    where = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"glassnet bench: no benchmarks/mlp.py found (looked in {where}). The "
        "benchmarks live in glassnet's source checkout: run it from a clone "
        "(`make bench`), or pass --dir PATH/TO/benchmarks."
    )


# Runs this file in a worker without importing the glassnet package (a torch
# worker should load torch alone) and without putting this file's folder on
# sys.path, where the workload scripts would shadow importable modules.
_WORKER_BOOT = (
    "import sys, importlib.util as u; "
    "s = u.spec_from_file_location('glassnet_bench_worker', sys.argv[1]); "
    "m = u.module_from_spec(s); s.loader.exec_module(m); "
    "sys.exit(m.main(sys.argv[2:]))"
)


class Runner:
    """Starts worker processes with the benchmark environment."""

    def __init__(
        self,
        python: str,
        torch_python: str | None,
        verbose: bool,
        wait_budget: float = 0.0,
    ):
        self.python, self.torch_python, self.verbose = python, torch_python, verbose
        self.wait_budget, self.waited = wait_budget, 0.0
        env = dict(os.environ)
        for var in THREAD_VARS:
            env[var] = str(THREADS)
        # The workers must use the glassnet this parent would import (found
        # without importing it: the parent stays free of glassnet and torch).
        found = importlib.util.find_spec("glassnet")
        src = str(Path(found.origin).resolve().parents[1]) if found else None
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (src, env.get("PYTHONPATH")) if p
        )
        self.env = env

    def wait_for_quiet(self) -> None:
        """Wait (within the run's budget) until other processes leave the cores."""
        while self.wait_budget > 0:
            before = _cpu_snapshot()
            time.sleep(0.3)
            load = others_load(before, _cpu_snapshot())
            if load is None or load <= BUSY:
                return
            time.sleep(1.0)
            self.wait_budget -= 1.3
            self.waited += 1.3

    def __call__(self, spec: dict, torch_side: bool = False) -> dict:
        python = self.torch_python if torch_side and self.torch_python else self.python
        if spec["kind"] in ("mlp", "script", "gemm", "scaling"):
            self.wait_for_quiet()
        cmd = [
            python,
            "-c",
            _WORKER_BOOT,
            str(Path(__file__).resolve()),
            "--worker",
            json.dumps(spec),
        ]
        label = spec.get("label", spec["kind"])
        if self.verbose:
            print(f"  running {label} ...", file=sys.stderr, flush=True)
        done = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, cwd=tempfile.gettempdir()
        )
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"the worker for {label} failed:\n{tail}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def _importable(runner: Runner, module: str) -> bool:
    """Whether the workers of ``module`` (torch's own Python, if given) import it."""
    python = runner.torch_python if module == "torch" else None
    python = python or runner.python
    probe = subprocess.run(
        [python, "-c", f"import {module}"], capture_output=True, env=runner.env
    )
    return probe.returncode == 0


#: What the table says when JAX is not installed (the bench goes on without it).
NO_JAX = "JAX not installed: pip install 'glassnet[bench]' (jax[cpu]) to measure it"


def _plan(
    bench_dir: Path, only: set, variants: list, tmp: Path, settings: dict
) -> list:
    """The rows of the table, each with its contenders' worker specs."""
    import numpy as np

    mlp_file = str(bench_dir / "mlp.py")
    workloads = _load_file(mlp_file).WORKLOADS
    rows = []
    for key in ("W1", "W2"):
        if key not in only:
            continue
        wl = workloads[key]
        weights = str(tmp / f"{key}.npz")
        np.savez(weights, **wl.initial_weights())
        base = {
            "kind": "mlp",
            "file": mlp_file,
            "workload": key,
            "weights": weights,
            "warmup": settings["warmup"],
            "repeats": settings["repeats"],
            "seconds": settings["seconds"],
        }
        contenders = [
            (
                f"glassnet {v}" if v != "loop" else "glassnet",
                dict(base, framework="glassnet", mode="train", variant=v),
            )
            for v in variants
        ]
        contenders.append(("numpy", dict(base, framework="numpy", mode="train")))
        contenders.append(("torch", dict(base, framework="torch", mode="train")))
        contenders.append(("jax", dict(base, framework="jax", mode="train")))
        curve = {
            "steps": wl.curve_steps if not settings["quick"] else 3,
            "specs": [
                (name, dict(spec, mode="curve"))
                for name, spec in contenders
                if not spec.get("variant", "loop").startswith("fit")
            ],
        }
        rows.append(
            {
                "id": f"{key}-train",
                "title": f"{wl.title} training",
                "unit": wl.unit,
                "batch": wl.batch,
                "flops": wl.flops_train,
                "contenders": contenders,
                "curve": curve,
            }
        )
        if wl.infer_batch:
            rows.append(
                {
                    "id": f"{key}-infer",
                    "title": f"{wl.title} inference, batch {wl.infer_batch}",
                    "unit": wl.unit,
                    "batch": wl.infer_batch,
                    "flops": wl.flops_infer,
                    "contenders": [
                        (
                            "glassnet predict",
                            dict(base, framework="glassnet", mode="infer"),
                        ),
                        ("numpy", dict(base, framework="numpy", mode="infer")),
                        ("torch", dict(base, framework="torch", mode="infer")),
                        ("jax", dict(base, framework="jax", mode="infer")),
                    ],
                }
            )
    for key, name, fns, unit in (
        ("W3", "w3_lenet.py", ("run_glassnet", "run_torch"), "samples"),
        ("W4", "w4_char_lstm.py", ("worker_glassnet", "worker_torch"), "tokens"),
    ):
        if key not in only:
            continue
        row = _script_row(bench_dir / name, key, fns, unit, tmp, settings)
        if row:
            rows.append(row)
    return rows


def _script_row(path: Path, key: str, fns: tuple, unit: str, tmp: Path, settings: dict):
    """A row for W3 or W4 from the other engineers' scripts, or a row saying why not."""
    import numpy as np

    title = {"W3": "W3 lenet-cnn training", "W4": "W4 char-lstm training"}[key]
    row = {"id": f"{key}-train", "title": title, "unit": unit, "contenders": []}
    if not path.is_file():
        row["missing"] = f"{path.name} not found"
        return row
    try:
        module = _load_file(str(path))
        missing = [f for f in fns if not hasattr(module, f)]
        if missing:
            raise AttributeError(f"{path.name} lacks {', '.join(missing)}")
        weights = str(tmp / f"{key}.npz")
        if key == "W3":
            np.savez(weights, **module.glassnet_model(seed=0).state_dict())
            row["batch"], row["flops"] = module.BATCH, module.FLOPS_PER_SAMPLE
            per_step = module.BATCH
        else:
            module.make_weights(weights)
            row["batch"] = module.B
            row["flops"] = getattr(module, "FLOPS_PER_TOKEN", W4_FLOPS_PER_TOKEN)
            per_step = module.B * module.T
    except Exception as e:  # another engineer's script: report, do not crash the bench
        row["missing"] = f"{path.name}: {type(e).__name__}: {e}"
        return row
    steps = dict(settings["script_steps"][key])
    for framework, fn in zip(("glassnet", "torch"), fns):
        row["contenders"].append(
            (
                framework,
                {
                    "kind": "script",
                    "file": str(path),
                    "function": fn,
                    "weights": weights,
                    "units_per_step": per_step,
                    **steps,
                },
            )
        )
    return row


def _median(xs):
    return statistics.median(xs) if xs else None


def run_bench(args) -> dict:
    bench_dir = find_benchmarks(args.dir)
    runner = Runner(
        sys.executable,
        args.torch_python,
        verbose=not args.quiet,
        wait_budget=0.0 if args.quick else args.wait,
    )
    only = set(args.only.upper().split(","))
    variants = [v for v in args.variants.split(",") if v]
    quick = args.quick
    settings = {
        "quick": quick,
        "warmup": 2 if quick else 20,
        "repeats": 1 if quick else args.repeats,
        "seconds": 0.01 if quick else args.seconds,
        "script_steps": {
            "W3": (
                {"warmup": 1, "steps": 1, "repeats": 1}
                if quick
                else {"warmup": 3, "steps": 8, "repeats": 3}
            ),
            "W4": (
                {"warmup": 1, "steps": 1, "repeats": 1}
                if quick
                else {"warmup": 2, "steps": 5, "repeats": 3}
            ),
        },
    }
    rounds = 1 if quick else args.rounds
    use_torch = not args.no_torch and _importable(runner, "torch")
    use_jax = not args.no_jax and _importable(runner, "jax")
    if not use_jax and not args.quiet:
        print(f"bench: {'JAX left out (--no-jax)' if args.no_jax else NO_JAX}.",
              file=sys.stderr)  # fmt: skip
    started = time.perf_counter()
    report = {
        "machine": _machine(),
        "settings": dict(settings, rounds=rounds, threads=THREADS),
        "torch": use_torch,
        "jax": use_jax,
        "rows": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        rows = _plan(bench_dir, only, variants, Path(tmp), settings)
        gemm_n = 256 if quick else GEMM_N
        gemm = runner(
            {
                "kind": "gemm",
                "n": gemm_n,
                "repeats": 2 if quick else 5,
                "label": f"NumPy GEMM {gemm_n}^3",
            }
        )
        report["gemm"] = gemm
        libs = ["glassnet"] + (["torch"] if use_torch else [])
        libs += ["jax"] if use_jax else []
        report["imports"] = {}
        for lib in libs:
            times = [
                runner(
                    {"kind": "import", "module": lib, "label": f"import {lib}"},
                    torch_side=lib == "torch",
                )
                for _ in range(1 if quick else 4)
            ][-3:]  # the first warms the caches
            report["imports"][lib] = {
                "module_s": _median([t["module_s"] for t in times]),
                "numpy_s": _median([t["numpy_s"] for t in times]),
                "version": times[0]["version"],
            }
        results = {
            row["id"]: {name: [] for name, _ in row["contenders"]} for row in rows
        }
        for r in range(rounds):
            for row in rows:
                for name, spec in row["contenders"]:
                    if (name == "torch" and not use_torch) or (
                        name == "jax" and not use_jax
                    ):
                        continue
                    spec = dict(spec, label=f"{row['id']} {name} (round {r + 1})")
                    try:
                        results[row["id"]][name].append(runner(spec, name == "torch"))
                    except RuntimeError as e:
                        row.setdefault("errors", {})[name] = str(e)
        for row in rows:
            curve = row.get("curve")
            if curve:
                row["curves"] = {}
                for name, spec in curve["specs"]:
                    if (name == "torch" and not use_torch) or (
                        name == "jax" and not use_jax
                    ):
                        continue
                    spec = dict(
                        spec, steps=curve["steps"], label=f"{row['id']} {name} curve"
                    )
                    row["curves"][name] = runner(spec, name == "torch")["losses"]
    for row in rows:
        report["rows"].append(_summarise(row, results.get(row["id"], {}), gemm["best"]))
    report["seconds"] = time.perf_counter() - started
    report["waited_for_quiet_s"] = runner.waited
    return report


def _summarise(row: dict, runs: dict, ceiling: float) -> dict:
    out = {k: row[k] for k in ("id", "title", "unit") if k in row}
    out.update({k: row[k] for k in ("batch", "flops", "missing", "errors") if k in row})
    out["results"] = {}
    for name, rounds in runs.items():
        if not rounds:
            continue
        quiet = [
            r.get("others_cores") is None or r["others_cores"] <= BUSY for r in rounds
        ]
        kept = [r for r, q in zip(rounds, quiet) if q] or rounds
        per_round = [_median(r["rates"]) for r in kept]
        rate = _median([x for r in kept for x in r["rates"]])
        res = {
            "rate": rate,
            "per_round": per_round,
            "all": [r["rates"] for r in rounds],
            "others_cores": [r.get("others_cores") for r in rounds],
            "quiet_rounds": sum(quiet),
            "rounds": len(rounds),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds),
            "version": rounds[0].get("version"),
            "torch_threads": rounds[0].get("torch_threads"),
            "first_loss": rounds[0].get("first_loss"),
            "losses": rounds[0].get("losses"),
            "native": rounds[0].get("native"),
            "outputs": rounds[0].get("outputs"),
        }
        if row.get("flops"):
            res["gflops"] = rate * row["flops"] / 1e9
            res["of_ceiling"] = res["gflops"] / ceiling
        out["results"][name] = res
    torch_res = out["results"].get("torch")
    if torch_res:
        t_rounds = runs["torch"]
        for name, res in out["results"].items():
            if name == "torch":
                continue
            # Per-round ratios from the rounds where both processes ran undisturbed.
            pairs = [
                (g, t)
                for g, t in zip(runs[name], t_rounds)
                if all(
                    r.get("others_cores") is None or r["others_cores"] <= BUSY
                    for r in (g, t)
                )
            ] or list(zip(runs[name], t_rounds))
            res["ratio"] = res["rate"] / torch_res["rate"]
            res["ratio_per_round"] = [
                _median(g["rates"]) / _median(t["rates"]) for g, t in pairs
            ]
    jax_res = out["results"].get("jax")
    if jax_res:
        for name, res in out["results"].items():
            if name.startswith("glassnet"):
                res["vs_jax"] = res["rate"] / jax_res["rate"]
    numpy_res = out["results"].get("numpy")
    if numpy_res:
        for name, res in out["results"].items():
            if name.startswith("glassnet"):
                res["vs_numpy"] = res["rate"] / numpy_res["rate"]
    curves = row.get("curves")
    if (
        not curves
        and torch_res
        and all(  # W3, W4: the scripts' own loss lists
            r.get("losses") for r in out["results"].values()
        )
    ):
        curves = {name: r["losses"] for name, r in out["results"].items()}
    outputs = {n: r.pop("outputs") for n, r in out["results"].items() if r["outputs"]}
    mine = outputs.pop("glassnet predict", None)
    if mine is not None and outputs:  # inference: the same outputs, to rounding
        diffs = {
            f"{n} vs glassnet predict": max(
                abs(a - b) for ra, rb in zip(o, mine) for a, b in zip(ra, rb)
            )
            for n, o in outputs.items()
        }
        scale = max(1.0, max(abs(v) for row in mine for v in row))
        out["output_check"] = {
            "max_abs_diff": diffs,
            "ok": all(d <= 1e-4 * scale for d in diffs.values()),
        }
    for r in out["results"].values():
        r.pop("losses", None)
    if curves:
        out["curves"] = curves
        out["curve_check"] = _compare_curves(curves)
    elif torch_res and all(
        r.get("first_loss") is not None for r in out["results"].values()
    ):
        gl = out["results"]["glassnet"]["first_loss"]
        diff = abs(gl - torch_res["first_loss"])
        out["curve_check"] = {
            "steps": 1,
            "max_abs_diff": {"glassnet vs torch": diff},
            "ok": diff <= 1e-4 * max(1.0, abs(gl)),
            "first_loss_only": True,
        }
    return out


def _compare_curves(curves: dict) -> dict:
    """Largest differences between the curves: each against torch's and glassnet's."""
    names = list(curves)
    pairs = [(a, "torch") for a in names if a != "torch" and "torch" in curves]
    pairs += [(a, "glassnet") for a in names if a not in ("torch", "glassnet")]
    diffs, rel = {}, {}
    for a, b in pairs:
        ca, cb = curves[a], curves[b]
        d = [abs(x - y) for x, y in zip(ca, cb)]
        diffs[f"{a} vs {b}"] = max(d)
        rel[f"{a} vs {b}"] = max(di / max(abs(y), 1e-12) for di, y in zip(d, cb))
    steps = min(len(c) for c in curves.values())
    # float32 rounding differs between the two libraries (summation order in BLAS,
    # fused multiply-adds), and training amplifies it slowly: 1e-3 relative is
    # far below any difference in what was computed, far above rounding noise.
    ok = all(r <= 1e-3 for r in rel.values())
    return {
        "steps": steps,
        "max_abs_diff": diffs,
        "max_rel_diff": rel,
        "ok": ok,
        "first": {k: v[0] for k, v in curves.items()},
        "last": {k: v[steps - 1] for k, v in curves.items()},
    }


#: The vector extensions the header names, in this order, when the CPU has them
#: (x86: /proc/cpuinfo's "flags"; Arm: its "Features").
VECTOR_FLAGS = (
    "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
    "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "sve2",
)  # fmt: skip


def cpu_info(text: str) -> dict:
    """The CPU as /proc/cpuinfo's ``text`` describes its first processor: model
    name, vendor / family / model / stepping numbers, and which of
    :data:`VECTOR_FLAGS` it has."""
    fields: dict = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor's block is enough
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    ids = [
        f"{name} {fields[key]}"
        for key, name in (
            ("cpu family", "family"),
            ("model", "model"),
            ("stepping", "stepping"),
            ("CPU implementer", "implementer"),
            ("CPU part", "part"),
        )
        if key in fields
    ]
    return {
        "cpu": fields.get("model name") or platform.processor() or platform.machine(),
        "cpu_id": " ".join([fields.get("vendor_id", ""), *ids]).strip(),
        "vector": [f for f in VECTOR_FLAGS if f in flags],
    }


def _machine() -> dict:
    try:
        cpu = cpu_info(Path("/proc/cpuinfo").read_text())
    except OSError:  # not Linux
        cpu = {"cpu": platform.processor() or platform.machine(), "cpu_id": ""}
        cpu["vector"] = []
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    import numpy as np

    blas = "?"
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info.get('name')} {info.get('version')}"
    except Exception:
        pass
    return {
        **cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "blas": blas,
    }


# --- presentation ---------------------------------------------------------------------


def _k(x) -> str:
    if x is None:
        return "-"
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def _spread(xs, fmt) -> str:
    return f"{fmt(min(xs))}-{fmt(max(xs))}" if len(xs) > 1 else ""


_LABELS = {
    "glassnet": "glassnet (eager loop)",
    "glassnet captured": "glassnet (captured step)",
    "glassnet fit": "glassnet (fit)",
    "glassnet fit-captured": "glassnet (fit, capture=True)",
    "glassnet predict": "glassnet (predict)",
    "numpy": "NumPy by hand",
    "torch": "PyTorch (eager)",
    "jax": "JAX (jit)",
}


#: Issue 17's goals, checked in the same run: (row id, glassnet case, peer, at least).
GOALS = (
    ("W1-train", "glassnet captured", "jax", 2.0),
    ("W1-train", "glassnet", "numpy", 0.8),
    ("W2-train", "glassnet captured", "jax", 1.1),
    ("W2-train", "glassnet", "jax", 1.0),
    ("W2-infer", "glassnet predict", "torch", 1.0),
    ("W3-train", "glassnet", "torch", 1.0),
    ("W4-train", "glassnet", "torch", 1.2),
)


def goals(report: dict) -> list[dict]:
    """Each goal with the ratio this run measured (medians' ratio), or why not.

    Peak memory is a goal too: each workload's glassnet cases below PyTorch's.
    """
    rows = {r.get("id"): r for r in report["rows"]}
    out = []
    for row_id, case, peer, target in GOALS:
        results = rows.get(row_id, {}).get("results", {})
        mine, theirs = results.get(case), results.get(peer)
        goal = {"row": row_id, "case": case, "peer": peer, "target": target}
        if mine and theirs and theirs["rate"] > 0:
            goal["ratio"] = mine["rate"] / theirs["rate"]
            goal["met"] = goal["ratio"] >= target
        out.append(goal)
    for row_id, row in rows.items():
        results = row.get("results", {})
        if "torch" not in results:
            continue
        ours = [
            v["peak_rss_mb"] for k, v in results.items() if k.startswith("glassnet")
        ]
        if ours:
            peak, torch_peak = max(ours), results["torch"]["peak_rss_mb"]
            out.append(
                {
                    "row": row_id,
                    "case": "peak RSS MB",
                    "peer": "torch",
                    "target": "below",
                    "ratio": peak / torch_peak,
                    "met": peak < torch_peak,
                    "values": (peak, torch_peak),
                }
            )
    return out


def goals_markdown(report: dict) -> list[str]:
    """The goals as a small table (issue 17), for the end of the report."""
    lines = [
        "",
        "Goals (issue 17), this run: glassnet's median rate / the peer's.",
        "",
        "| workload | glassnet case | peer | goal | measured | met |",
        "|---|---|---|---|---|---|",
    ]
    for g in goals(report):
        peer = _LABELS.get(g["peer"], g["peer"])
        case = _LABELS.get(g["case"], g["case"])
        if "values" in g:
            goal, got = "below the peer's", "{:.0f} vs {:.0f} MB".format(*g["values"])
        else:
            goal = f">= {g['target']:.1f}x"
            got = f"{g['ratio']:.2f}x" if "ratio" in g else "not measured"
        met = "-" if "met" not in g else ("yes" if g["met"] else "**no**")
        lines.append(f"| {g['row']} | {case} | {peer} | {goal} | {got} | {met} |")
    return lines


def _native_line(report: dict) -> str:
    """Which compiled kernels the glassnet cases used, from the workers' reports."""
    seen: dict = {}
    memory: set = set()
    targets: set = set()
    for row in report["rows"]:
        for res in row.get("results", {}).values():
            for kernel, state in (res.get("native") or {}).items():
                if kernel == "malloc":  # glassnet/_malloc.py's status, not a kernel
                    memory.add(state)
                elif kernel == "target":  # GLASSNET_TARGET, the instruction set
                    targets.add(state)
                else:
                    seen.setdefault(kernel, set()).add(state)
    if not seen:
        line = "glassnet's compiled kernels: none used."
    else:
        parts = [
            f"{k} ({', '.join(sorted(v))})" if v != {"loaded"} else k
            for k, v in sorted(seen.items())
        ]
        line = (
            "glassnet's compiled kernels (glassnet/_native; GLASSNET_NATIVE=0 measures "
            f"NumPy alone): {', '.join(parts)}"
            + (
                f", compiled for {', '.join(sorted(targets))} (GLASSNET_TARGET)"
                if targets
                else ""
            )
            + "."
        )
    if memory:
        line += f" Memory between steps: {'; '.join(sorted(memory))}."
    return line


def cpu_line(m: dict) -> str:
    """'Intel(R) Xeon(R) ... (GenuineIntel family 6 ...), avx2 avx512f ..., 2 cores'."""
    line = m["cpu"] + (f" ({m['cpu_id']})" if m.get("cpu_id") else "")
    vector = m.get("vector")
    line += f", vector extensions {' '.join(vector) if vector else 'none named'}"
    line += f", {m['cores']} cores"
    usable = m.get("usable_cores")
    return line + (
        f" ({usable} usable here)" if usable and usable != m["cores"] else ""
    )


def markdown(report: dict) -> str:
    m, g = report["machine"], report["gemm"]
    torch_v = next(
        (
            r["results"]["torch"]["version"]
            for r in report["rows"]
            if "torch" in r.get("results", {})
        ),
        None,
    )
    jax_v = report.get("imports", {}).get("jax", {}).get("version")
    lines = [
        f"Machine: {cpu_line(m)}; {THREADS} threads per case; "
        f"Python {m['python']}, NumPy {m['numpy']} ({m['blas']})"
        + (f", PyTorch {torch_v}" if torch_v else "")
        + (f", JAX {jax_v}" if jax_v else "")
        + ".",
        f"Ceiling: NumPy float32 GEMM {g['n']}³ = {g['best']:.0f} GFLOP/s (best of "
        f"{len(g['gflops'])}; median {g['median']:.0f}); 128x784x256 products "
        f"{g['gflops_128x784x256']:.0f} GFLOP/s.",
        _native_line(report),
        *([] if report.get("jax", True) else [NO_JAX + "."]),
        f"{report['settings']['rounds']} rounds, each case a fresh process; figures "
        "are medians, ranges are the per-round medians' min-max; a round during which "
        f"other processes used more than {BUSY} of a core is 'disturbed' and left out "
        "when an undisturbed one exists.",
        "",
        "| workload | case | per second (range) | / PyTorch (range) | / NumPy by hand "
        "| / JAX jit | GFLOP/s | of GEMM ceiling | peak RSS MB | same losses |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        if row.get("missing"):
            lines.append(
                f"| {row['title']} | - | not run: {row['missing']} | | | | | | | |"
            )
            continue
        check = row.get("curve_check")
        for name, res in row["results"].items():
            ratio = "-"
            if "ratio" in res:
                ratio = f"{res['ratio']:.2f}"
                rng = _spread(res["ratio_per_round"], lambda x: f"{x:.2f}")
                ratio += f" ({rng})" if rng else ""
            rate = f"{_k(res['rate'])} {row['unit']}"
            rng = _spread(res["per_round"], _k)
            rate += f" ({rng})" if rng else ""
            if res["quiet_rounds"] < res["rounds"]:
                rate += (
                    f" [{res['rounds'] - res['quiet_rounds']} of {res['rounds']} "
                    "rounds disturbed"
                    + (", kept" if not res["quiet_rounds"] else "")
                    + "]"
                )
            same = ""
            outputs = row.get("output_check")
            diff = outputs and outputs["max_abs_diff"].get(
                f"{name} vs glassnet predict"
            )
            if diff is not None:
                same = ("yes" if outputs["ok"] else "NO") + (
                    f": max output diff {diff:.1e} vs glassnet (first 8 rows)"
                )
            if check and name != "torch":
                diffs = [
                    (k.split(" vs ")[1], v)
                    for k, v in check["max_abs_diff"].items()
                    if k.startswith(name + " vs ")
                ]
                if diffs:
                    steps = check["steps"]
                    same = (
                        ("yes" if check["ok"] else "NO")
                        + ": max loss diff "
                        + ", ".join(
                            f"{v:.1e} vs {_LABELS.get(other, other).split(' (')[0]}"
                            + (" eager" if other == "glassnet" else "")
                            for other, v in diffs
                        )
                    )
                    same += f" over {steps} step{'s' if steps > 1 else ''}"
            gf = res.get("gflops")
            gflops = "-" if gf is None else f"{gf:.1f}"
            share = "-" if gf is None else f"{res['of_ceiling']:.1%}"
            vs_numpy = f"{res['vs_numpy']:.2f}" if "vs_numpy" in res else "-"
            vs_jax = f"{res['vs_jax']:.2f}" if "vs_jax" in res else "-"
            lines.append(
                f"| {row['title']} | {_LABELS.get(name, name)} | {rate} | {ratio} | "
                f"{vs_numpy} | {vs_jax} | {gflops} | {share} | "
                f"{res['peak_rss_mb']:.0f} | {same} |"
            )
        for name, err in row.get("errors", {}).items():
            lines.append(
                f"| {row['title']} | {name} | failed: "
                f"{err.splitlines()[-1][:120]} | | | | | | | |"
            )
    lines.append("")
    imports = ", ".join(
        f"{lib} {v['module_s']:.2f} s" for lib, v in report["imports"].items()
    )
    np_s = next(iter(report["imports"].values()))["numpy_s"]
    lines.append(f"Import time (fresh process, after NumPy's {np_s:.2f} s): {imports}.")
    lines.extend(goals_markdown(report))
    lines.append("")
    lines.append(f"Whole run: {report['seconds']:.0f} s.")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="glassnet bench", description=__doc__.splitlines()[0]
    )
    p.add_argument("--only", default="W1,W2,W3,W4", help="workloads, e.g. W1,W2")
    p.add_argument(
        "--variants",
        default="loop,captured,fit,fit-captured",
        help="glassnet ways of training W1/W2: loop (the explicit loop), "
        "captured (glassnet.train.capture_step), fit (glassnet.fit), "
        "fit-captured (glassnet.fit(..., capture=True))",
    )
    p.add_argument("--rounds", type=int, default=3, help="turns each framework takes")
    p.add_argument("--repeats", type=int, default=5, help="timed blocks per process")
    p.add_argument(
        "--seconds", type=float, default=0.25, help="length of a timed block"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=90.0,
        help="seconds in all the run may wait for other processes to leave "
        "the cores alone before a case (default 90)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings that only check the harness works (no real figures)",
    )
    p.add_argument("--no-torch", action="store_true", help="measure glassnet only")
    p.add_argument("--no-jax", action="store_true", help="leave JAX out")
    p.add_argument(
        "--torch-python", help="a Python that has torch, if this one does not"
    )
    p.add_argument(
        "--dir", help="the benchmarks/ folder (default: found from the checkout)"
    )
    p.add_argument("--json", help="also write the full results as JSON to this file")
    p.add_argument("--markdown", help="also write the table to this file")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "--scaling",
        action="store_true",
        help="how the glassnet / PyTorch ratio changes with batch size, width, image "
        "size and channels, and sequence length (a few minutes; a figure and a table)",
    )
    p.add_argument(
        "--sweeps",
        default="batch,width,image,sequence",
        help="with --scaling: which sweeps (default all four)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=THREADS,
        help=f"with --scaling: threads per case (default {THREADS})",
    )
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="with --scaling: time by the wall clock (default) or by the CPU time "
        "each process used; with --threads 1, 'cpu' measures the work itself on a "
        "machine that other people's jobs keep busy",
    )
    p.add_argument(
        "--figure",
        default="build/bench/scaling.png",
        help="with --scaling: where the figure goes (PNG)",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--"]:  # `glassnet bench -- --only W1`: the cli may pass the "--"
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return 0
    if args.scaling:
        scaling = _load_file(str(find_benchmarks(args.dir) / "scaling.py"))
        return scaling.main(args, _helpers())
    report = run_bench(args)
    table = markdown(report)
    print(table)
    for path, text in (
        (args.json, json.dumps(report, indent=1)),
        (args.markdown, table + "\n"),
    ):
        if path:
            write(path, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
