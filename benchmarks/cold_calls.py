"""The first call along a path after the caches were flushed, and the second.

    python benchmarks/cold_calls.py            # two threads, as glassnet bench
    OPENBLAS_NUM_THREADS=1 python benchmarks/cold_calls.py

What W2's eager step does around one Dense layer and its ReLU, repeated:
a pass over 4.8 MB standing in for Adam's update (it evicts this core's
2 MB L2), the product x·W (128x784 by 784x256), the bias added in place,
ReLU through the kernel dispatcher, and then the very same ReLU again on the
same array. The two ReLUs do the same work on the same data; the first pays
for walking the interpreter's, NumPy's and ctypes' code and objects after
they were evicted (docs/speed.md, "Why W2's eager loop stays behind the
captured step"). Figures are means over the steps, in µs.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import time  # noqa: E402

import numpy as np  # noqa: E402

from glassnet import kernels  # noqa: E402


def main(steps: int = 500, warm: int = 20) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    w = (rng.standard_normal((784, 256)) * 0.05).astype(np.float32)
    b = rng.standard_normal(256).astype(np.float32)
    state = [rng.standard_normal(300_000).astype(np.float32) for _ in range(4)]
    clock, total = (
        time.perf_counter_ns,
        dict.fromkeys(("product", "bias", "first ReLU", "second ReLU"), 0),
    )
    for step in range(steps + warm):
        for a in state:  # Adam's pass over its state, roughly
            np.multiply(a, np.float32(1.0000001), out=a)
        t0 = clock()
        z = np.dot(x, w)
        t1 = clock()
        np.add(z, b, out=z)
        t2 = clock()
        kernels.relu(z)
        t3 = clock()
        kernels.relu(z)
        t4 = clock()
        if step >= warm:
            for key, dt in zip(total, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                total[key] += dt
    return {key: ns / steps / 1000 for key, ns in total.items()}


if __name__ == "__main__":
    threads = os.environ["OPENBLAS_NUM_THREADS"]
    figures = main()
    print(f"{threads} BLAS thread(s), µs per call, mean of 500 steps:")
    for key, us in figures.items():
        print(f"  {key:12s} {us:7.1f}")
