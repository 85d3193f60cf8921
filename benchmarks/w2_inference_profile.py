"""Where one W2 ``predict`` call (batch 1024) spends its time, piece by piece.

    python benchmarks/w2_inference_profile.py --threads 1   # CPU time
    python benchmarks/w2_inference_profile.py --threads 2   # wall clock

Each piece runs alone on W2's arrays: the whole ``predict``; the kernel
``linear_stack`` where this tree has it (the one compiled call); the three
products by NumPy (results into kept buffers, or into fresh arrays as the
layer-by-layer path made them); the input check of the previous trees
(``check_finite_rows``); and the compiled bias + ReLU pass of each layer. The
pieces take turns for ``--rounds`` rounds of 4 calls; the minimum and the
median over rounds are printed, in µs per call. Run it with another tree's
``src`` on PYTHONPATH to profile that tree.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=30)
    args = p.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import time

    import mlp
    import numpy as np

    import glassnet as gn
    from glassnet import kernels
    from glassnet.train import loop

    clock = time.process_time if args.threads == 1 else time.perf_counter
    wl = mlp.W2
    X = wl.data()[0][: wl.infer_batch]
    model = wl.glassnet_model()
    model.load_state_dict(wl.initial_weights())
    layers = loop._fused_layers(model, X)
    cases = {"predict": lambda: gn.predict(model, X)}
    if "linear_stack" in kernels.registry():
        cases["linear_stack (the call)"] = lambda: kernels.linear_stack(X, layers)
    cases["input check (old)"] = lambda: loop.check_finite_rows("p", "X", X, "")
    h, bias_relu = X, kernels.native("gn_bias_relu", X.dtype)
    for i, (w, b, act) in enumerate(layers):
        z, kept = np.dot(h, w), np.empty((len(X), w.shape[1]), X.dtype)
        scratch = z.copy()  # bias + ReLU in place on a copy of the product
        cases[f"product {i}, fresh out"] = lambda h=h, w=w: np.dot(h, w)
        cases[f"product {i}, kept out"] = lambda h=h, w=w, o=kept: np.dot(h, w, out=o)
        if bias_relu is not None:
            cases[f"bias + ReLU {i}"] = lambda z=scratch, b=b, r=act == "relu": (
                bias_relu(z.ctypes.data, b.ctypes.data, *z.shape, r)
            )
        h = z
    times: dict = {name: [] for name in cases}
    for fn in cases.values():
        fn()
    for _ in range(args.rounds):
        for name, fn in cases.items():
            t0 = clock()
            for _ in range(4):
                fn()
            times[name].append((clock() - t0) / 4 * 1e6)
    kind = "CPU time" if args.threads == 1 else "wall clock"
    print(f"W2 predict, batch 1024, {args.threads} thread(s), {kind}, µs per call")
    for name, xs in times.items():
        print(f"  {name:24s} min {min(xs):7.0f}  median {np.median(xs):7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
