"""A tiny transformer for characters: token + position embedding, attention blocks.

The model reads ids (batch, time) and gives scores (batch, time, vocab) for
the next character at every position, as the char-LSTM does, so it trains
with the same loss and drops into the same comparison (``build`` takes the
same arguments as ``char_lstm.build``)::

    x = token[ids] + position[t]
    for each block:                      (ReZero: no LayerNorm)
        x = x + a · MultiHeadAttention(x)          (causal: t sees 0..t)
        x = x + b · Dense(ReLU(Dense(x)))          (a 4x wider hidden layer)
    scores = Dense(x)

Each block's residual branches are scaled by learned scalars a, b that
start at 0 (ReZero, Bachlechner et al. 2020, "ReZero is all you need"), so
the network starts as the identity and trains stably without the
normalisation layers transformers usually have (glassnet's LayerNorm is being
written elsewhere; this design does not need one).
"""

from __future__ import annotations

import numpy as np

from glassnet import nn
from glassnet.errors import ShapeError
from glassnet.nn.init import make_rng
from glassnet.tensor import Tensor


class Block(nn.Module):
    """x + a·attention(x), then + b·MLP(x): one ReZero transformer block."""

    def __init__(self, dim: int, heads: int, seed=None):
        rng = make_rng(seed)
        self.attention = nn.MultiHeadAttention(dim, heads, causal=True, seed=rng)
        self.up = nn.Dense(dim, 4 * dim, init="he", seed=rng)
        self.down = nn.Dense(4 * dim, dim, seed=rng)
        self.a = Tensor(np.zeros(1, np.float32), requires_grad=True)
        self.b = Tensor(np.zeros(1, np.float32), requires_grad=True)

    def forward(self, x):
        x = x + self.a * self.attention(x)
        return x + self.b * self.down(self.up(x).relu())


class TinyTransformer(nn.Module):
    """Characters in, next-character scores out, through ``blocks`` attention blocks.

    Parameters: ``token.weight`` (vocab, dim), ``position`` (context, dim),
    per block the attention's and the two Dense layers' weights and the
    scalars ``a``, ``b``; ``head`` Dense(dim → vocab).
    """

    def __init__(self, vocab_size, dim=48, heads=4, blocks=2, context=64, seed=None):
        rng = make_rng(seed)
        self.vocab_size, self.context = vocab_size, context
        self.token = nn.Embedding(vocab_size, dim, seed=rng)
        self.position = Tensor(
            (rng.standard_normal((context, dim)) * 0.1).astype(np.float32),
            requires_grad=True,
        )
        self.blocks = [Block(dim, heads, seed=rng) for _ in range(blocks)]
        self.head = nn.Dense(dim, vocab_size, seed=rng)

    def forward(self, ids):
        T = ids.shape[1]
        if T > self.context:
            raise ShapeError(
                f"TinyTransformer(context={self.context}) reads at most "
                f"{self.context} characters at once; got {T}."
            )
        x = self.token(ids) + self.position[:T]
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def attention_layers(self):
        return [b.attention for b in self.blocks]


def build(vocab_size: int, hidden: int = 48, seed: int = 0, context: int = 64):
    """The transformer for the sonnets comparison (``hidden`` is its width)."""
    return TinyTransformer(
        vocab_size, dim=hidden, heads=4, blocks=2, context=context, seed=seed
    )


def generate(model, ids, length: int, temperature: float = 0.0, seed: int = 0):
    """Continue ``ids`` by ``length`` characters, each fed back in (last
    ``context`` characters seen); greedy at temperature 0, else sampled."""
    from glassnet import no_grad

    rng, out = np.random.default_rng(seed), list(int(i) for i in ids)
    with no_grad():
        for _ in range(length):
            window = np.array(out[-model.context :])[None]
            scores = model(window).data[0, -1].astype(np.float64)
            if temperature == 0:
                out.append(int(scores.argmax()))
                continue
            p = np.exp((scores - scores.max()) / temperature)
            out.append(int(rng.choice(len(p), p=p / p.sum())))
    return out[len(ids) :]
