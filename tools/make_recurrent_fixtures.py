"""Make tests/fixtures/torch_recurrent.npz: PyTorch's GRU and LSTM numbers to match.

For each case -- a plain one-layer GRU, and a stacked (2 layers)
bidirectional GRU and LSTM fed a padded batch through
``pack_padded_sequence`` -- it draws weights, an input, lengths and an
initial state in float64, runs PyTorch, and backpropagates the loss
``Σ out·g_out + Σ h_n·g_h (+ Σ c_n·g_c)`` with random g's. Saved per case
(keys ``<case>/<name>``): the input, lengths, initial state, the g's,
PyTorch's parameters (its own layout: ``weight_ih_l0`` (G·H, in), gate order
i, f, g, o for the LSTM and r, z, n for the GRU, two biases), its outputs,
final states and the gradients of every parameter and of the input.
tests/test_recurrent_torch.py converts the parameters to glassnet's layout
and compares.

It also exports, with ``torch.onnx.export`` (the TorchScript exporter),
``torch_gru_stack.onnx`` and ``torch_lstm_stack.onnx``: batch-first
2-layer bidirectional GRU / LSTM (3 -> 4) + Linear(8 -> 5), with an input and
PyTorch's output for it saved in the npz (``onnx_gru/x``, ``onnx_gru/y`` ...):
PyTorch's own node patterns for a stack (Slice of a zero state per layer,
Transpose + Reshape between layers) for the importer to read. Needs torch and
onnx (glassnet never needs torch)::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install numpy onnx /opt/wheels/torch-*.whl
    /tmp/torchvenv/bin/python tools/make_recurrent_fixtures.py
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "torch_recurrent.npz")

#: name: (class, input features, hidden, layers, bidirectional, lengths or None)
CASES = {
    "gru": (torch.nn.GRU, 3, 4, 1, False, None),
    "gru_stack": (torch.nn.GRU, 3, 4, 2, True, [5, 2, 4]),
    "lstm_stack": (torch.nn.LSTM, 3, 4, 2, True, [5, 2, 4]),
}
T = 5


def run(name, cls, F, H, layers, bidir, lengths, gen, out: dict) -> None:
    D = 2 if bidir else 1
    B = 3 if lengths is None else len(lengths)
    net = cls(F, H, num_layers=layers, bidirectional=bidir, batch_first=True)
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.6)
    x = torch.randn(B, T, F, generator=gen, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(layers * D, B, H, generator=gen, dtype=torch.float64)
    state = h0
    if cls is torch.nn.LSTM:
        c0 = torch.randn(layers * D, B, H, generator=gen, dtype=torch.float64)
        state = (h0, c0)
        out[f"{name}/c0"] = c0.numpy()
    if lengths is None:
        y, final = net(x, state)
    else:
        packed = pack_padded_sequence(
            x, lengths, batch_first=True, enforce_sorted=False
        )
        y, final = net(packed, state)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=T)
        out[f"{name}/lengths"] = np.asarray(lengths, np.int64)
    finals = final if isinstance(final, tuple) else (final,)
    loss = 0
    for key, t in zip(("y", "h_n", "c_n"), (y, *finals)):
        g = torch.randn(t.shape, generator=gen, dtype=torch.float64)
        loss = loss + (t * g).sum()
        out[f"{name}/{key}"], out[f"{name}/g_{key}"] = t.detach().numpy(), g.numpy()
    loss.backward()
    out[f"{name}/x"], out[f"{name}/dx"] = x.detach().numpy(), x.grad.numpy()
    out[f"{name}/h0"] = h0.numpy()
    for pname, p in net.named_parameters():
        out[f"{name}/param/{pname}"] = p.detach().numpy()
        out[f"{name}/grad/{pname}"] = p.grad.numpy()


class _Tagger(torch.nn.Module):
    """A stacked bidirectional recurrent layer, then a Linear at every step."""

    def __init__(self, cls):
        super().__init__()
        self.rnn = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(self.rnn(x)[0])


def export(out: dict) -> None:
    torch.manual_seed(0)
    for name, cls in (("gru", torch.nn.GRU), ("lstm", torch.nn.LSTM)):
        model = _Tagger(cls).eval()
        x = torch.randn(2, 6, 3)
        path = os.path.join(os.path.dirname(OUT), f"torch_{name}_stack.onnx")
        torch.onnx.export(
            model,
            (x,),
            path,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch", 1: "time"}, "y": {0: "batch", 1: "time"}},
            opset_version=17,
        )
        with torch.no_grad():
            out[f"onnx_{name}/x"], out[f"onnx_{name}/y"] = x.numpy(), model(x).numpy()


def main() -> None:
    gen = torch.Generator().manual_seed(0)
    out: dict = {}
    for name, spec in CASES.items():
        run(name, *spec, gen, out)
    export(out)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT}: {len(out)} arrays, torch {torch.__version__}")


if __name__ == "__main__":
    main()
