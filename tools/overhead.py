"""Measure the Python bookkeeping around one small op and the import time.

    python tools/overhead.py

Prints microseconds per call for tiny tensors (where NumPy's own work is a
fraction of a microsecond, so what remains is glassnet's overhead), next to
the bare NumPy expression for reference.
"""

import subprocess
import sys
import timeit

import numpy as np

import glassnet as gn


def per_call_us(stmt, number=20000, repeat=7, **names):
    times = timeit.repeat(stmt, globals=names, number=number, repeat=repeat)
    return min(times) / number * 1e6


def main():
    a = gn.tensor(np.ones(4, np.float32), requires_grad=True)
    b = gn.tensor(np.ones(4, np.float32), requires_grad=True)
    c = gn.tensor(np.ones(4, np.float32))
    x, y = a.data, b.data
    rows = [
        ("numpy x * y (reference)", per_call_us("x * y", x=x, y=y)),
        ("mul forward, no grad needed", per_call_us("c * c", c=c)),
        ("mul forward, recording", per_call_us("a * b", a=a, b=b)),
        ("tanh forward, recording", per_call_us("a.tanh()", a=a)),
        (
            "mul forward + backward (via sum)",
            per_call_us("(a * b).sum().backward()", a=a, b=b),
        ),
        ("sum forward + backward alone", per_call_us("a.sum().backward()", a=a)),
    ]
    for label, us in rows:
        print(f"{label:36s} {us:6.2f} µs")
    fwd_bwd = rows[4][1] - rows[5][1]
    print(f"{'=> one op forward + backward':36s} {fwd_bwd:6.2f} µs")
    cmd = [sys.executable, "-X", "importtime", "-c", "import glassnet"]
    err = subprocess.run(cmd, capture_output=True, text=True).stderr.splitlines()
    total = [ln for ln in err if ln.rstrip().endswith("| glassnet")]
    numpy_line = [ln for ln in err if ln.rstrip().endswith("| numpy")]
    cum = lambda ln: int(ln.split("|")[1]) / 1e6  # noqa: E731
    if total:
        print(f"import glassnet (cumulative, incl. numpy) {cum(total[0]):.3f} s")
    if numpy_line:
        print(f"  of which numpy                           {cum(numpy_line[0]):.3f} s")


if __name__ == "__main__":
    main()
