"""Make tests/fixtures/torch_norm.npz: PyTorch's numbers for glassnet's norm layers.

For BatchNorm1d on (N, C) and (N, C, L), BatchNorm2d (affine and not) and
LayerNorm, in float64, the script runs a few training steps on fixed inputs
and saves what glassnet must reproduce (tests/test_norm.py):

* ``<case>/x<k>``, ``<case>/g<k>``: the input of step k and the gradient of
  the loss with respect to the output (the loss is sum(y · g));
* ``<case>/y<k>``: PyTorch's output at step k (training mode);
* ``<case>/dx``, ``<case>/dweight``, ``<case>/dbias``: the gradients of the
  last step;
* ``<case>/running_mean``, ``<case>/running_var``: after the last step;
* ``<case>/x_eval``, ``<case>/y_eval``: an input and the output in eval mode;
* ``<case>/weight``, ``<case>/bias``: the starting γ and β (random, so the
  affine part is exercised).

It needs torch, which glassnet never does::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install numpy /opt/wheels/torch-*.whl
    /tmp/torchvenv/bin/python tools/make_norm_fixture.py
"""

from __future__ import annotations

import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
STEPS = 3

# case -> (layer, input shape)
CASES = {
    "bn1d": (lambda: torch.nn.BatchNorm1d(3), (8, 3)),
    "bn1d_seq": (lambda: torch.nn.BatchNorm1d(3, momentum=0.3), (4, 3, 5)),
    "bn2d": (lambda: torch.nn.BatchNorm2d(2, eps=1e-3), (4, 2, 3, 3)),
    "bn2d_plain": (lambda: torch.nn.BatchNorm2d(2, affine=False), (3, 2, 2, 5)),
    "ln": (lambda: torch.nn.LayerNorm((5, 6)), (4, 5, 6)),
}


def main() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(18)
    out = {}
    for case, (make, shape) in CASES.items():
        layer = make().double()
        if getattr(layer, "weight", None) is not None:
            with torch.no_grad():
                layer.weight.copy_(
                    torch.from_numpy(rng.uniform(0.5, 2, layer.weight.shape))
                )
                layer.bias.copy_(torch.from_numpy(rng.normal(size=layer.bias.shape)))
            out[f"{case}/weight"] = layer.weight.detach().numpy().copy()
            out[f"{case}/bias"] = layer.bias.detach().numpy().copy()
        layer.train()
        for k in range(STEPS):
            x = rng.normal(1.5, 2.0, shape)
            g = rng.normal(size=shape)
            xt = torch.tensor(x, requires_grad=True)
            layer.zero_grad()
            y = layer(xt)
            (y * torch.from_numpy(g)).sum().backward()
            out[f"{case}/x{k}"], out[f"{case}/g{k}"] = x, g
            out[f"{case}/y{k}"] = y.detach().numpy()
        out[f"{case}/dx"] = xt.grad.numpy()
        if getattr(layer, "weight", None) is not None:
            out[f"{case}/dweight"] = layer.weight.grad.numpy()
            out[f"{case}/dbias"] = layer.bias.grad.numpy()
        if hasattr(layer, "running_mean"):
            out[f"{case}/running_mean"] = layer.running_mean.numpy().copy()
            out[f"{case}/running_var"] = layer.running_var.numpy().copy()
        layer.eval()
        x = rng.normal(1.0, 3.0, shape)
        out[f"{case}/x_eval"] = x
        with torch.no_grad():
            out[f"{case}/y_eval"] = layer(torch.from_numpy(x)).numpy()
    path = os.path.join(OUT, "torch_norm.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path}: {len(out)} arrays, torch {torch.__version__}")


if __name__ == "__main__":
    main()
