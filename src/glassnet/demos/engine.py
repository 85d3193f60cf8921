"""The raw engine at work: a two-layer tanh network written with Tensor ops.

No layers, no optimizer classes: weights are plain tensors, the forward pass
is three lines, and each step of gradient descent (with momentum) is written
out. The network learns y = sin(x) on [-3, 3].
"""

from __future__ import annotations

import time

import numpy as np

from ..tensor import no_grad, tensor

DESCRIPTION = "a two-layer tanh network built from raw Tensor ops learns sin(x)"


def fit_sine(
    hidden: int = 32,
    steps: int = 1500,
    lr: float = 0.05,
    momentum: float = 0.9,
    seed: int = 0,
    report_every: int = 0,
    out=print,
) -> dict:
    """Fit sin(x) on 200 points in [-3, 3]; return the final MSE and the loss curve."""
    rng = np.random.default_rng(seed)
    x = tensor(np.linspace(-3, 3, 200, dtype=np.float32)[:, None])
    y = tensor(np.sin(x.data))
    params = [
        tensor(rng.uniform(-1, 1, (1, hidden)), requires_grad=True),  # W1
        tensor(rng.uniform(-1, 1, (hidden,)), requires_grad=True),  # b1
        tensor(rng.uniform(-1, 1, (hidden, 1)) / np.sqrt(hidden), requires_grad=True),
        tensor(np.zeros(1), requires_grad=True),  # b2
    ]
    velocity = [np.zeros_like(p.data) for p in params]
    curve = []
    for step in range(steps + 1):
        w1, b1, w2, b2 = params
        prediction = (x @ w1 + b1).tanh() @ w2 + b2
        loss = ((prediction - y) ** 2).mean()
        curve.append(loss.item())
        if report_every and step % report_every == 0:
            out(f"step {step:5d}   mean squared error {loss.item():.5f}")
        if step == steps:
            break
        for p in params:
            p.grad = None
        loss.backward()
        with no_grad():
            for p, v in zip(params, velocity):
                v *= momentum
                v -= lr * p.grad
                p.data += v
    return {"mse": curve[-1], "curve": curve}


def run(args=None, out=print) -> int:
    out("A network with one hidden layer of 32 tanh neurons learns y = sin(x).")
    out("Forward: tanh(x @ W1 + b1) @ W2 + b2.  Loss: mean squared error.")
    out("Each step: loss.backward(), then every weight moves against its gradient.\n")
    start = time.perf_counter()
    result = fit_sine(report_every=150, out=out)
    seconds = time.perf_counter() - start
    out(f"\nfinal MSE {result['mse']:.5f} after 1500 steps in {seconds:.1f} s")
    return 0
