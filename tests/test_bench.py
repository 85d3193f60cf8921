"""`glassnet bench`: a smoke test of the harness at tiny sizes (no timings asserted)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    """A script of benchmarks/ (a folder, not a package: the harness is not shipped)."""
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}_for_tests", BENCH_DIR / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load("bench")


def _mlp():
    return _load("mlp")


def test_quick_run_writes_json_and_a_markdown_table(tmp_path, capsys, monkeypatch):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    # as on a machine without JAX: the bench says so and goes on
    importable = bench._importable
    monkeypatch.setattr(
        bench, "_importable", lambda runner, m: m != "jax" and importable(runner, m)
    )
    code = bench.main(
        [
            "--quick",
            "--no-torch",
            "--only",
            "W1,W2",
            "--quiet",
            "--json",
            str(out_json),
            "--markdown",
            str(out_md),
        ]
    )
    assert code == 0
    report = json.loads(out_json.read_text())
    rows = {row["id"]: row for row in report["rows"]}
    assert set(rows) == {"W1-train", "W2-train", "W2-infer"}
    names = ("glassnet", "glassnet captured", "glassnet fit", "glassnet fit-captured")
    for name in names:
        res = rows["W1-train"]["results"][name]
        assert res["rate"] > 0 and res["peak_rss_mb"] > 0 and 0 < res["of_ceiling"]
    assert rows["W2-infer"]["results"]["glassnet predict"]["rate"] > 0
    assert rows["W2-infer"]["results"]["numpy"]["rate"] > 0
    # The captured step (compiled by default) gives the eager loop's losses to
    # float32 rounding (W1's losses are about 2.3).
    check = rows["W1-train"]["curve_check"]
    assert check["max_abs_diff"]["glassnet captured vs glassnet"] < 2e-5
    assert report["gemm"]["best"] > 0 and report["imports"]["glassnet"]["module_s"] > 0
    table = capsys.readouterr().out
    assert "| W1 digits-mlp training | glassnet (captured step) |" in table
    assert out_md.read_text().strip() == table.strip()
    # the CPU is named in the header and in the saved results
    machine = report["machine"]
    assert table.startswith(f"Machine: {bench.cpu_line(machine)};")
    assert machine["cpu"] and machine["cores"] >= 1
    assert set(machine["vector"]) <= set(bench.VECTOR_FLAGS)
    assert not report["jax"] and bench.NO_JAX in table
    assert all("jax" not in row["results"] for row in report["rows"])


INTEL = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8481C
stepping\t: 8
flags\t\t: fpu sse avx avx2 fma avx512f avx512bw avx512_bf16 amx_tile amx_bf16

processor\t: 1
model name\t: another one
flags\t\t: fpu sve
"""

ARM = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes sve
CPU implementer\t: 0x41
CPU part\t: 0xd40
"""


def test_cpu_is_named_from_proc_cpuinfo():
    intel = bench.cpu_info(INTEL)
    assert intel == {
        "cpu": "Intel(R) Xeon(R) Platinum 8481C",
        "cpu_id": "GenuineIntel family 6 model 143 stepping 8",
        "vector": ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"],
    }
    line = bench.cpu_line(dict(intel, cores=2, usable_cores=2))
    assert line == (
        "Intel(R) Xeon(R) Platinum 8481C (GenuineIntel family 6 model 143 "
        "stepping 8), vector extensions avx2 fma avx512f avx512_bf16 amx_tile "
        "amx_bf16, 2 cores"
    )
    arm = bench.cpu_info(ARM)
    assert arm["vector"] == ["asimd", "sve"]
    assert arm["cpu_id"] == "implementer 0x41 part 0xd40"
    amd = bench.cpu_info("model name\t: AMD EPYC 7B13\nflags\t: sse2 avx2 fma\n")
    line = bench.cpu_line(dict(amd, cores=8, usable_cores=2))
    assert line == "AMD EPYC 7B13, vector extensions avx2 fma, 8 cores (2 usable here)"


def test_jax_runs_the_same_steps_in_the_same_run(tmp_path):
    # JAX comes with the bench extra (pip install 'glassnet[bench]'), like torch.
    pytest.importorskip("jax")
    out_json = tmp_path / "bench.json"
    args = ["--quick", "--no-torch", "--only", "W1,W2", "--variants", "loop"]
    assert bench.main([*args, "--quiet", "--json", str(out_json)]) == 0
    report = json.loads(out_json.read_text())
    rows = {row["id"]: row for row in report["rows"]}
    assert report["jax"] and report["imports"]["jax"]["version"]
    for key in ("W1-train", "W2-train"):
        check = rows[key]["curve_check"]
        assert check["ok"] and check["max_rel_diff"]["jax vs glassnet"] < 1e-4
        assert rows[key]["results"]["glassnet"]["vs_jax"] > 0
    outputs = rows["W2-infer"]["output_check"]
    assert outputs["ok"] and outputs["max_abs_diff"]["jax vs glassnet predict"] < 1e-3


def test_workloads_follow_design_md():
    mlp = _mlp()
    w1, w2 = mlp.W1, mlp.W2
    assert (w1.sizes, w1.batch, w1.optimizer, w1.lr) == ((64, 32, 10), 32, "sgd", 0.1)
    assert (w2.sizes, w2.batch, w2.optimizer, w2.lr) == (
        (784, 256, 256, 10),
        128,
        "adam",
        1e-3,
    )
    assert w2.infer_batch == 1024
    # FLOPs: forward 2·(64·32 + 32·10); backward the weight gradients again, plus
    # the input gradient of the second layer only.
    assert w1.flops_infer == 2 * (64 * 32 + 32 * 10)
    assert w1.flops_train == 2 * w1.flops_infer + 2 * 32 * 10
    X, y = w1.data()
    X2, y2 = w1.data()
    np.testing.assert_array_equal(X, X2)
    assert X.dtype == np.float32 and y.min() >= 0 and y.max() < 10
    weights = w1.initial_weights()
    assert {k: v.shape for k, v in weights.items()} == {
        "0.weight": (64, 32),
        "0.bias": (32,),
        "2.weight": (32, 10),
        "2.bias": (10,),
    }


def test_torch_model_starts_from_glassnets_weights():
    torch = pytest.importorskip("torch")
    mlp = _mlp()
    for wl in (mlp.W1, mlp.W2):
        weights = wl.initial_weights()
        model = wl.glassnet_model()
        model.load_state_dict(weights)
        X = wl.data()[0][:8]
        with torch.no_grad():
            theirs = wl.torch_model(weights)(torch.from_numpy(X)).numpy()
        np.testing.assert_allclose(model(X).data, theirs, rtol=1e-5, atol=1e-5)


def test_curve_comparison_and_missing_scripts_in_the_table():
    curves = {
        "glassnet": [2.0, 1.5, 1.0],
        "glassnet captured": [2.0, 1.5, 1.0],
        "torch": [2.0, 1.5000001, 1.0000003],
    }
    check = bench._compare_curves(curves)
    assert check["ok"] and check["steps"] == 3
    assert check["max_abs_diff"]["glassnet captured vs glassnet"] == 0
    assert not bench._compare_curves({"glassnet": [2.0, 1.0], "torch": [2.0, 1.1]})[
        "ok"
    ]
    report = {
        "machine": bench._machine(),
        "settings": {"rounds": 1},
        "gemm": {
            "n": 8,
            "best": 1.0,
            "median": 1.0,
            "gflops": [1.0],
            "gflops_128x784x256": 1.0,
        },
        "imports": {"glassnet": {"module_s": 0.1, "numpy_s": 0.1}},
        "rows": [
            {
                "id": "W4-train",
                "title": "W4 char-lstm training",
                "missing": "w4_char_lstm.py not found",
            }
        ],
        "seconds": 1.0,
    }
    assert (
        "| W4 char-lstm training | - | not run: w4_char_lstm.py not found |"
        in bench.markdown(report)
    )


def test_contention_is_measured_from_proc_stat():
    before = bench._cpu_snapshot()
    sum(i * i for i in range(200_000))  # this process's own work is not "others"
    load = bench.others_load(before, bench._cpu_snapshot())
    if sys.platform.startswith("linux"):
        assert load is not None and load >= 0


def test_benchmarks_folder_is_found_or_the_error_says_where_to_look(tmp_path):
    assert bench.find_benchmarks() == BENCH_DIR
    with pytest.raises(FileNotFoundError, match="--dir"):
        bench.find_benchmarks(str(tmp_path))


# --- glassnet bench --scaling ---------------------------------------------------------


def _scaling():
    module = bench._load_file(str(BENCH_DIR / "scaling.py"))
    module._BENCH = bench._helpers()
    return module


def test_scaling_worker_trains_each_point_of_a_sweep(tmp_path):
    scaling = _scaling()
    spec = {"framework": "glassnet", "sweep": "batch", "tmp": str(tmp_path)}
    spec.update(threads=2, clock="cpu")  # timed by the CPU time this process used
    got = scaling.worker(dict(spec, repeats=1, seconds=0.005), bench._helpers())
    assert list(got) == [str(b) for b in scaling.BATCHES]
    for batch in scaling.BATCHES:
        # the point is W2's MLP at that batch: its first loss is the hand-written
        # NumPy step's, from the same weights and batch
        wl = scaling._mlp("batch", batch)
        assert wl.batch == batch and wl.sizes == (784, 256, 256, 10)
        run, units = wl.numpy_train(wl.initial_weights())
        assert units == batch and got[str(batch)]["rate"] > 0
        assert got[str(batch)]["first_loss"] == pytest.approx(run(0), rel=1e-5)


def test_scaling_cnns_are_the_same_model_in_both_frameworks():
    torch = pytest.importorskip("torch")  # the bench extra's peer
    scaling = _scaling()
    for point in scaling.IMAGES:
        weights = scaling._cnn_glassnet(point)
        ours, _ = scaling._cnn_glassnet(point, weights)
        theirs, _ = scaling._cnn_torch(point, weights)
        torch.manual_seed(0)
        for i in range(2):  # the first loss, and the one after an SGD step
            assert float(ours(i).item()) == pytest.approx(theirs(i).item(), rel=1e-4)
    layers = scaling._cnn_layers(scaling.IMAGES[1])
    assert [a[1] for k, a in layers if k == "conv"] == [32, 64, 128]
    assert layers[-1] == ("dense", (128 * 4 * 4, 10))


def test_scaling_table_and_figure(tmp_path):
    scaling = _scaling()

    def run(rate, loss):
        return {
            str(p): {"rate": rate, "first_loss": loss, "others_cores": 0.1}
            for p in scaling.SWEEPS["batch"][1] + scaling.SWEEPS["image"][1]
        }

    runs = {"glassnet": [run(200.0, 2.5), run(300.0, 2.5)]}
    runs["torch"] = [run(100.0, 2.5), run(100.0, 2.6)]
    report = {
        "machine": bench._machine(),
        "settings": {"rounds": 2},
        "sweeps": {s: scaling._summarise(s, runs) for s in ("batch", "image")},
        "seconds": 3.0,
    }
    first = report["sweeps"]["batch"][0]
    assert first["ratio"] == 2.5 and first["ratios"] == [2.0, 3.0]
    table = scaling.markdown(report, bench._helpers())
    assert "| batch | 1 | 250 samples | 100 samples | 2.50 (2.00-3.00) | yes" in table
    assert "| image | LeNet 1x28x28 |" in table
    path = tmp_path / "scaling.png"
    scaling.figure(report, str(path), bench._helpers())
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scaling_without_torch_says_so(monkeypatch, capsys):
    monkeypatch.setattr(bench, "_importable", lambda runner, module: False)
    assert bench.main(["--scaling", "--quick"]) == 1
    assert "PyTorch, which is not installed" in capsys.readouterr().err


def test_goals_are_checked_from_the_runs_own_rates():
    """Issue 17's goals: ratios of this run's medians, met or not, and memory."""

    def res(rate, rss):
        return {"rate": rate, "peak_rss_mb": rss}

    report = {
        "rows": [
            {
                "id": "W1-train",
                "results": {
                    "glassnet": res(300.0, 40),
                    "glassnet captured": res(900.0, 41),
                    "numpy": res(400.0, 39),
                    "torch": res(100.0, 300),
                    "jax": res(500.0, 250),
                },
            },
            {"id": "W4-train", "results": {"glassnet": res(130.0, 500)}},
        ]
    }
    by_case = {(g["row"], g["case"]): g for g in bench.goals(report)}
    assert by_case["W1-train", "glassnet captured"]["ratio"] == pytest.approx(1.8)
    assert by_case["W1-train", "glassnet captured"]["met"] is False  # needs 2x JAX
    assert by_case["W1-train", "glassnet"]["ratio"] == pytest.approx(0.75)
    assert by_case["W1-train", "glassnet"]["met"] is False  # needs 0.8x by hand
    assert by_case["W1-train", "peak RSS MB"]["met"] is True
    assert "ratio" not in by_case["W4-train", "glassnet"]  # no PyTorch in this run
    assert ("W4-train", "peak RSS MB") not in by_case
    table = "\n".join(bench.goals_markdown(report))
    assert (
        "| W1-train | glassnet (eager loop) | NumPy by hand | >= 0.8x | 0.75x | **no** |"
        in table
    )
    assert (
        "| W4-train | glassnet (eager loop) | PyTorch (eager) | >= 1.2x | not measured | - |"
        in table
    )
    assert "41 vs 300 MB | yes" in table


def test_the_header_says_which_kernels_ran_and_for_which_instruction_set():
    native = {"lstm": "loaded", "direct": "loaded", "target": "avx2", "malloc": "on"}
    report = {"rows": [{"results": {"glassnet": {"native": native}}}]}
    line = bench._native_line(report)
    assert "direct, lstm, compiled for avx2 (GLASSNET_TARGET)." in line
    assert "Memory between steps: on." in line
    assert "target" not in line.split("compiled")[0]  # not listed as a kernel
