"""W2's predict (batch 1024) in two source trees, each in its own process, in turns.

    python benchmarks/predict_turns.py /tmp/old/src src --rounds 4

Each round starts one process per tree (PYTHONPATH=<tree>) that times 15
blocks of 30 ``glassnet.predict`` calls on W2's network (784-256-256-10, ReLU,
trained weights marked as such) and prints the best and the median block, in
µs per call. Taking turns spreads the machine's drift over both trees; two
threads, as ``glassnet bench``. Wall clock.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHILD = """
import time
import numpy as np
import glassnet as gn
rng = np.random.default_rng(0)
model = gn.nn.Sequential(gn.nn.Dense(784, 256), gn.nn.ReLU(), gn.nn.Dense(256, 256),
                         gn.nn.ReLU(), gn.nn.Dense(256, 10), seed=0).mark_trained()
X = rng.random((1024, 784), dtype=np.float32)
gn.predict(model, X)
blocks = []
for _ in range(15):
    t = time.perf_counter()
    for _ in range(30):
        gn.predict(model, X)
    blocks.append((time.perf_counter() - t) / 30 * 1e6)
blocks.sort()
print(f"best {blocks[0]:.0f} median {blocks[7]:.0f} us a call "
      f"({1024 / blocks[7] * 1e3:.0f}k samples/s at the median)")
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs="+", help="src/ folders to compare")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    for _ in range(args.rounds):
        for tree in args.trees:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env.setdefault(var, "2")
            out = subprocess.run(
                [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True
            )
            print(f"{tree}: {(out.stdout or out.stderr).strip()}", flush=True)


if __name__ == "__main__":
    main()
