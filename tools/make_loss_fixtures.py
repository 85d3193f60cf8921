"""Make tests/fixtures/torch_losses_activations.npz: PyTorch's numbers for the
activations and loss options glassnet copies.

For each case the file holds the inputs (float64), PyTorch's forward result
and the gradient of ``Σ r · result`` with respect to the prediction, ``r`` a
fixed random array of the result's shape (so every gradient entry matters).
The inputs reach the extremes: ±100 and ±30 for the activations, logits of
±100 for the losses, zeros in the KL targets, ignored labels. The names of
the cases are the keys of ``ACTIVATIONS`` and ``LOSSES`` below and of the
matching table in tests/test_losses_activations.py, which never imports
torch. Re-run only to change the cases (it needs torch, which glassnet does
not), e.g.::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install numpy /opt/wheels/torch-*.whl
    /tmp/torchvenv/bin/python tools/make_loss_fixtures.py
"""

from __future__ import annotations

import pathlib

import numpy as np
import torch
import torch.nn.functional as F

OUT = (
    pathlib.Path(__file__).resolve().parents[1]
    / "tests/fixtures/torch_losses_activations.npz"
)
rng = np.random.default_rng(18)
EDGES = [-100, -30, -20.5, -3, -1, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1, 3, 20.5, 30, 100]
X = np.concatenate([EDGES, rng.standard_normal(17) * 2]).reshape(4, 8)

ACTIVATIONS = {
    "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
    "leaky_relu_0.2": lambda x: F.leaky_relu(x, 0.2),
    "elu": lambda x: F.elu(x),
    "elu_0.5": lambda x: F.elu(x, 0.5),
    "selu": F.selu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "softplus": F.softplus,
    "softplus_2_5": lambda x: F.softplus(x, beta=2.0, threshold=5.0),
    "log_softmax": lambda x: F.log_softmax(x, dim=-1),
}

# logits with extremes, labels with ignored ones (-100), class weights
Z = rng.standard_normal((7, 4)) * 2
Z[0] = [100, -100, 0, 3]
Z[1] = [-100, 100, 50, -50]
Y = np.array([0, 2, 1, 3, -100, 2, 1])
Y_ALL = np.where(Y < 0, 3, Y)
W = np.array([1.0, 2.5, 0.5, 4.0])
SOFT = rng.dirichlet(np.ones(4), size=7)
B = rng.standard_normal((6, 3)) * 3
B[0] = [100, -100, 30]
BT = (rng.random((6, 3)) < 0.4).astype(float)
PW = np.array([3.0, 0.5, 1.0])
P = rng.standard_normal((5, 3))
T = rng.standard_normal((5, 3))
LOGQ = np.log(rng.dirichlet(np.ones(4), size=5))
KT = rng.dirichlet(np.ones(4), size=5)
KT[0] = [0.0, 0.5, 0.5, 0.0]


def t(a):
    return torch.tensor(a)


LOSSES = {  # name: (prediction, target, torch function of (prediction, target))
    "ce_weight": (Z, Y_ALL, lambda z, y: F.cross_entropy(z, y, weight=t(W))),
    "ce_weight_sum": (
        Z,
        Y_ALL,
        lambda z, y: F.cross_entropy(z, y, weight=t(W), reduction="sum"),
    ),
    "ce_ignore": (Z, Y, lambda z, y: F.cross_entropy(z, y, ignore_index=-100)),
    "ce_smooth": (Z, Y_ALL, lambda z, y: F.cross_entropy(z, y, label_smoothing=0.1)),
    "ce_all": (
        Z,
        Y,
        lambda z, y: F.cross_entropy(
            z, y, weight=t(W), ignore_index=-100, label_smoothing=0.2
        ),
    ),
    "ce_all_none": (
        Z,
        Y,
        lambda z, y: F.cross_entropy(
            z, y, weight=t(W), label_smoothing=0.2, reduction="none"
        ),
    ),
    "ce_soft_weight_smooth": (
        Z,
        SOFT,
        lambda z, p: F.cross_entropy(z, p, weight=t(W), label_smoothing=0.3),
    ),
    "bce_pos_weight": (
        B,
        BT,
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=t(PW)),
    ),
    "bce_pos_weight_scalar_none": (
        B,
        BT,
        lambda x, y: F.binary_cross_entropy_with_logits(
            x, y, pos_weight=t(np.array(2.5)), reduction="none"
        ),
    ),
    "huber_2": (P, T, lambda p, y: F.huber_loss(p, y, delta=2.0)),
    "smooth_l1_0.5": (P, T, lambda p, y: F.smooth_l1_loss(p, y, beta=0.5)),
    "smooth_l1_0.5_none": (
        P,
        T,
        lambda p, y: F.smooth_l1_loss(p, y, beta=0.5, reduction="none"),
    ),
    "mse_sum": (P, T, lambda p, y: F.mse_loss(p, y, reduction="sum")),
    "mae_none": (P, T, lambda p, y: F.l1_loss(p, y, reduction="none")),
    "nll_weight_ignore": (
        F.log_softmax(t(Z), -1).numpy(),
        Y,
        lambda x, y: F.nll_loss(x, y, weight=t(W), ignore_index=-100),
    ),
    "kl_batchmean": (LOGQ, KT, lambda x, p: F.kl_div(x, p, reduction="batchmean")),
    "kl_mean": (LOGQ, KT, lambda x, p: F.kl_div(x, p, reduction="mean")),
    "kl_sum_log_target": (
        LOGQ,
        np.log(np.maximum(KT, 1e-30)),
        lambda x, p: F.kl_div(x, p, reduction="sum", log_target=True),
    ),
    "kl_none": (LOGQ, KT, lambda x, p: F.kl_div(x, p, reduction="none")),
}


def _record(out: dict, name: str, fn, x, *extra):
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt, *[torch.tensor(e) for e in extra])
    r = np.asarray(rng.standard_normal(y.shape))
    (y * torch.tensor(r)).sum().backward()
    out[f"{name}/x"] = x
    if extra:
        out[f"{name}/target"] = extra[0]
    out[f"{name}/y"] = y.detach().numpy()
    out[f"{name}/r"] = r
    out[f"{name}/grad"] = xt.grad.numpy()


def _export_onnx(out: dict) -> None:
    torch.manual_seed(18)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 8), torch.nn.GELU(),
        torch.nn.Linear(8, 8), torch.nn.SiLU(),
        torch.nn.Linear(8, 8), torch.nn.GELU(approximate="tanh"),
        torch.nn.Linear(8, 8), torch.nn.Softplus(beta=2.0),
        torch.nn.Linear(8, 8), torch.nn.LeakyReLU(0.1),
        torch.nn.Linear(8, 8), torch.nn.ELU(0.7),
        torch.nn.Linear(8, 8), torch.nn.SELU(),
        torch.nn.Linear(8, 8), torch.nn.Softplus(),
        torch.nn.Linear(8, 3), torch.nn.LogSoftmax(dim=-1),
    ).float()  # fmt: skip
    x = rng.standard_normal((6, 5)).astype(np.float32) * 2
    torch.onnx.export(
        model,
        (torch.from_numpy(x),),
        OUT.parent / "activations.onnx",
        dynamo=False,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        opset_version=17,
    )
    out["onnx/x"] = x
    out["onnx/y"] = model(torch.from_numpy(x)).detach().numpy()


def main() -> None:
    out: dict = {}
    _export_onnx(out)
    torch.set_default_dtype(torch.float64)
    for name, fn in ACTIVATIONS.items():
        _record(out, name, fn, X)
    for name, (x, target, fn) in LOSSES.items():
        _record(out, name, fn, x, target)
    out["torch_version"] = np.array(torch.__version__)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {len(out)} arrays)")


if __name__ == "__main__":
    main()
