"""W2's predict (batch 1024) in two source trees, each in its own process, in turns.

    python benchmarks/predict_turns.py /tmp/old/src src --rounds 4
    python benchmarks/predict_turns.py /tmp/old/src src --rounds 5 --step

Each round starts one process per tree (PYTHONPATH=<tree>) that times 15
blocks of 30 ``glassnet.predict`` calls on W2's network (784-256-256-10, ReLU,
trained weights marked as such) and prints the best and the median block, in
µs per call. With ``--step`` it times W2's eager training step instead (the
loop a user writes: forward, cross-entropy, ``backward()``, Adam 1e-3, batch
128 from 16 random batches; 9 blocks of 30 steps after 20). Taking turns
spreads the machine's drift over both trees; two threads, as ``glassnet
bench``. Wall clock.
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

STEP = """
import time
import numpy as np
import glassnet as gn
rng = np.random.default_rng(0)
X = rng.random((16 * 128, 784), dtype=np.float32)
Y = rng.integers(0, 10, 16 * 128)
model = gn.nn.Sequential(gn.nn.Dense(784, 256), gn.nn.ReLU(), gn.nn.Dense(256, 256),
                         gn.nn.ReLU(), gn.nn.Dense(256, 10), seed=0)
opt = gn.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = gn.losses.CrossEntropy()
def step(i):
    rows = slice(i % 16 * 128, (i % 16 + 1) * 128)
    opt.zero_grad()
    loss_fn(model(X[rows]), Y[rows]).backward()
    opt.step()
for i in range(20):
    step(i)
blocks = []
for _ in range(9):
    t = time.perf_counter()
    for i in range(30):
        step(i)
    blocks.append((time.perf_counter() - t) / 30 * 1e6)
blocks.sort()
print(f"best {blocks[0]:.0f} median {blocks[4]:.0f} us a step")
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs="+", help="src/ folders to compare")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--step", action="store_true", help="W2's eager training step")
    args = p.parse_args()
    for _ in range(args.rounds):
        for tree in args.trees:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env.setdefault(var, "2")
            out = subprocess.run(
                [sys.executable, "-c", STEP if args.step else CHILD],
                env=env,
                capture_output=True,
                text=True,
            )
            print(f"{tree}: {(out.stdout or out.stderr).strip()}", flush=True)


if __name__ == "__main__":
    main()
