"""W2's predict stack, and each of its layers alone, on one thread.

    python benchmarks/w2_stack_layers.py            # this checkout's src
    python benchmarks/w2_stack_layers.py /tmp/old   # another tree

Runs ``glassnet.kernels.variants.dense.Stack`` (the one compiled call behind
``predict`` for a stack of Dense layers) on 512 random rows: W2's three layers
(784 -> 256 ReLU -> 256 ReLU -> 10), then each layer as a stack of its own,
with the weights placed on a 64-byte cache line and 16 bytes past one (NumPy
puts arrays at either; a kernel that reads W in place straddles lines in the
second case). One thread (``GLASSNET_NUM_THREADS=1``, OpenBLAS too), wall clock; prints the
best and the median of 9 blocks of 40 calls, in µs per call, and the best
block's GFLOP/s (2 x rows x inputs x outputs per layer).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["GLASSNET_NUM_THREADS"] = "1"

ROWS = 512


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    tree = Path(argv[0]) if argv else Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(tree / "src"))
    import numpy as np

    from glassnet.kernels.variants import dense

    rng = np.random.default_rng(0)

    def placed(a, skip):
        """a's numbers in an array starting ``skip`` bytes past a cache line."""
        raw = np.empty(a.size + 32, np.float32)
        first = (-raw.ctypes.data % 64 + skip) // 4
        out = raw[first : first + a.size].reshape(a.shape)
        out[...] = a
        return out

    def layers(sizes, acts):
        return [
            (
                (rng.standard_normal((a, b)) * 0.05).astype(np.float32),
                rng.standard_normal(b).astype(np.float32),
                act,
            )
            for (a, b), act in zip(zip(sizes, sizes[1:]), acts)
        ]

    cases = {
        "W2 stack": layers([784, 256, 256, 10], ["relu", "relu", None]),
        "layer 1, 784x256": layers([784, 256], ["relu"]),
        "layer 2, 256x256": layers([256, 256], ["relu"]),
        "layer 3, 256x10": layers([256, 10], [None]),
    }
    print(f"{tree}: {ROWS} rows, one thread")
    for (name, drawn), skip in [(c, s) for s in (0, 16) for c in cases.items()]:
        name = f"{name}, W +{skip} B"
        stack_layers = [(placed(w, skip), b, act) for w, b, act in drawn]
        stack = dense.Stack(stack_layers, np.float32)
        x = rng.random((ROWS, stack_layers[0][0].shape[0]), dtype=np.float32)
        if not stack.fits(x):
            print(f"{name}: this build has no compiled stack")
            continue
        stack(x)
        blocks = []
        for _ in range(9):
            start = time.perf_counter()
            for _ in range(40):
                stack(x)
            blocks.append((time.perf_counter() - start) / 40 * 1e6)
        blocks.sort()
        flops = sum(2 * ROWS * w.shape[0] * w.shape[1] for w, _, _ in stack_layers)
        print(
            f"{name:24s} best {blocks[0]:7.1f} median {blocks[4]:7.1f} us"
            f"  {flops / blocks[0] / 1e3:6.1f} GFLOP/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
