"""Make the ONNX test fixtures: two small networks trained in PyTorch, then exported.

glassnet's ONNX import is tested on files written by another framework's
exporter, with its own node patterns (Gemm with transB=1, the Transpose and
Squeeze nodes around an LSTM, Constant initialisers...). This script trains

* ``lenet.onnx``: a LeNet for the 8x8 digits, Conv 5x5 -> ReLU -> MaxPool ->
  Conv 3x3 -> ReLU -> AvgPool -> Flatten -> Linear -> ReLU -> Linear, a
  few epochs on the same three quarters of the digits as glassnet's demo;
* ``char_lstm.onnx``: Embedding -> LSTM (batch first) -> Linear, predicting
  the next character of ``examples/data/sonnets.txt``;

exports both with ``torch.onnx.export`` (the batch axis, and the LSTM's time
axis, dynamic), and saves ``torch_reference.npz``: a few inputs, PyTorch's
own outputs for them, the held-out digits accuracy and the LSTM's
vocabulary. The files are small (tens of KB) and committed under
``tests/fixtures/``; re-run this only to change them. It needs torch and
onnx, which glassnet itself never does, e.g.::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install numpy onnx /opt/wheels/torch-*.whl
    PYTHONPATH=src /tmp/torchvenv/bin/python tools/make_onnx_fixtures.py
"""

from __future__ import annotations

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures")
SEED = 0


def digits_split():
    """The digits demo's split: images (n, 1, 8, 8) scaled to 0..1, labels."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from glassnet.data.transforms import train_test_split
    from glassnet.datasets import digits

    data = digits()
    X = (data.X[:, None] / 16.0).astype(np.float32)
    return train_test_split(X, data.y, test_size=0.25, seed=0)


def train_lenet(torch):
    nn = torch.nn
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )
    X_train, X_test, y_train, y_test = digits_split()
    X, y = torch.from_numpy(X_train), torch.from_numpy(y_train.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(15):
        for idx in torch.randperm(len(X), generator=gen).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        scores = model(torch.from_numpy(X_test)).numpy()
    accuracy = float((scores.argmax(1) == y_test).mean())
    return model, X_test[:7], scores[:7], accuracy


def train_char_lstm(torch):
    nn = torch.nn
    torch.manual_seed(SEED)
    with open(
        os.path.join(ROOT, "examples", "data", "sonnets.txt"), encoding="utf-8"
    ) as f:
        text = f.read()
    vocab = sorted(set(text))
    ids = np.array([vocab.index(ch) for ch in text], dtype=np.int64)

    class CharLSTM(nn.Module):
        def __init__(self, n, dim=16, hidden=32):
            super().__init__()
            self.embed = nn.Embedding(n, dim)
            self.lstm = nn.LSTM(dim, hidden, batch_first=True)
            self.head = nn.Linear(hidden, n)

        def forward(self, x):
            return self.head(self.lstm(self.embed(x))[0])

    model = CharLSTM(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(SEED)
    length = 32
    for _ in range(150):
        starts = rng.integers(0, len(ids) - length - 1, 16)
        x = torch.from_numpy(np.stack([ids[s : s + length] for s in starts]))
        y = torch.from_numpy(np.stack([ids[s + 1 : s + length + 1] for s in starts]))
        opt.zero_grad()
        nn.functional.cross_entropy(
            model(x).reshape(-1, len(vocab)), y.reshape(-1)
        ).backward()
        opt.step()
    model.eval()
    sample = np.stack([ids[s : s + 20] for s in (0, 100, 200)])
    with torch.no_grad():
        out = model(torch.from_numpy(sample)).numpy()
    return model, vocab, sample, out


def export(torch, model, example, path, dynamic):
    torch.onnx.export(
        model,
        (torch.from_numpy(example),),
        path,
        dynamo=False,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": dynamic, "output": dynamic},
        opset_version=17,
    )
    print(f"wrote {os.path.relpath(path, ROOT)}: {os.path.getsize(path):,} bytes")


def main() -> int:
    try:
        import torch
    except ImportError:
        print("make_onnx_fixtures: needs torch (and onnx); see this file's docstring.")
        return 1
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    lenet, digits_x, digits_out, accuracy = train_lenet(torch)
    print(f"LeNet: held-out digits accuracy {accuracy:.2%}")
    export(torch, lenet, digits_x, os.path.join(OUT, "lenet.onnx"), {0: "batch"})
    lstm, vocab, text_x, text_out = train_char_lstm(torch)
    export(
        torch,
        lstm,
        text_x,
        os.path.join(OUT, "char_lstm.onnx"),
        {0: "batch", 1: "time"},
    )
    np.savez(
        os.path.join(OUT, "torch_reference.npz"),
        digits_x=digits_x,
        digits_out=digits_out,
        digits_accuracy=np.float64(accuracy),
        text_x=text_x,
        text_out=text_out,
        vocab=np.array([ord(ch) for ch in vocab], dtype=np.int64),
    )
    print("wrote tests/fixtures/torch_reference.npz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
