"""CPU time of a loop of ``fit(epochs=1)`` calls on W1, for each ``capture=``.

W1 (DESIGN.md): 64 -> Dense 32, sigmoid -> Dense 10, softmax cross-entropy,
SGD 0.1, batch 32, float32; 16 synthetic batches per ``fit`` call, the same
model, loss and optimizer objects every call (so a kept recording is reused).
The figure is the best of 7 blocks of 50 calls, in CPU time of this process
(``time.process_time``), so other jobs on the machine disturb it less than
wall-clock time. Compare the rows with each other; they come from one run.

Usage::

    python benchmarks/fit_capture.py
"""

from __future__ import annotations

import time

import numpy as np

import glassnet as gn
from glassnet import losses, nn, optim


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16 * 32, 64)).astype(np.float32)
    y = rng.integers(0, 10, len(X))
    model = nn.Sequential(nn.Dense(64, 32), nn.Sigmoid(), nn.Dense(32, 10), seed=0)
    opt, loss = optim.SGD(model, lr=0.1), losses.CrossEntropy()
    for capture in (False, "auto", True):

        def run(i, capture=capture):
            gn.fit(model, X, y, loss=loss, optimizer=opt, epochs=1, batch_size=32,
                   seed=i, verbose=0, capture=capture)  # fmt: skip

        for i in range(20):
            run(i)
        best = float("inf")
        for _ in range(7):
            start = time.process_time()
            for i in range(50):
                run(i)
            best = min(best, (time.process_time() - start) / 50)
        print(
            f"capture={capture!s:5}  {best * 1e6:6.0f} us per fit(epochs=1) of 16 "
            f"batches  ({len(X) / best:,.0f} samples/s)"
        )


if __name__ == "__main__":
    main()
