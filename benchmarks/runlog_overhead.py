"""What RunLog costs: the digits demo trained with and without a run store.

    PYTHONPATH=src python benchmarks/runlog_overhead.py [--repeats 5] [--epochs 30]

Trains the digits demo (64-32-10, Adam, batch 32, validation each epoch) with
no logging and with ``log_dir=`` (every batch's loss, per-layer statistics and
a snapshot each epoch, a confusion matrix each epoch), alternating the two,
and prints the median times, the overhead in percent, and the store's size.
Two clocks: the process's CPU time (all its threads, RunLog's writer included),
which other programs on a busy machine disturb little, and wall-clock time.
A warm-up run of each kind comes first, so one-off imports count for neither.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def _size(folder: str) -> int:
    return sum(
        os.path.getsize(os.path.join(root, f))
        for root, _, files in os.walk(folder)
        for f in files
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    import glassnet as gn
    from glassnet.data.transforms import Standardizer, train_test_split
    from glassnet.datasets import digits

    data = digits(flatten=True)
    Xtr, Xte, ytr, yte = train_test_split(data.X, data.y, test_size=0.25, seed=0)
    scaler = Standardizer().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)

    def run(log_dir):
        model = gn.nn.Sequential(
            gn.nn.Dense(64, 32), gn.nn.Sigmoid(), gn.nn.Dense(32, 10), seed=0
        )
        cpu, wall = time.process_time(), time.perf_counter()
        gn.fit(
            model,
            Xtr,
            ytr,
            epochs=args.epochs,
            batch_size=32,
            lr=0.01,
            seed=0,
            validation_data=(Xte, yte),
            verbose=0,
            log_dir=log_dir,
        )
        return time.process_time() - cpu, time.perf_counter() - wall

    plain, logged, sizes = [], [], []
    for i in range(args.repeats + 1):  # the first round is the warm-up
        p = run(None)
        with tempfile.TemporaryDirectory() as folder:
            q = run(folder)
            sizes.append(_size(folder))
        if i:
            plain.append(p)
            logged.append(q)
    print(f"digits, {args.epochs} epochs, median of {args.repeats}:")
    for k, clock in enumerate(("CPU time", "wall time")):
        a = statistics.median(t[k] for t in plain)
        b = statistics.median(t[k] for t in logged)
        print(
            f"  {clock:9s}  without RunLog {a:.3f} s, with {b:.3f} s: "
            f"overhead {100 * (b - a) / a:+.1f} %"
        )
    print(f"  store size  {max(sizes) / 1e6:.2f} MB (database + snapshots)")


if __name__ == "__main__":
    main()
