"""MultiHeadAttention: every position looks at every other and takes what it needs."""

from __future__ import annotations

import numpy as np

from .._validate import check_positive, shape_str
from ..errors import ConfigError, ShapeError
from ..ops.linalg import attention, linear
from ..tensor import Tensor
from . import init as initializers
from .module import Module, as_input


class MultiHeadAttention(Module):
    """Self-attention in ``num_heads`` heads, as PyTorch's ``nn.MultiheadAttention``.

    Each position of a sequence makes a query, a key and a value (three
    Dense layers in one); each head compares its queries with every key
    (scaled dot products), turns the scores into weights that sum to 1
    (softmax) and averages the values with them; the heads' answers are
    joined and mixed by an output layer:

    .. math::

        [Q\\,|\\,K\\,|\\,V] = x W_{in} + b_{in}, \\quad
        A_h = \\mathrm{softmax}\\left(\\frac{Q_h K_h^T}{\\sqrt{d}} + M\\right), \\quad
        y = [A_1 V_1 \\,|\\, \\dots \\,|\\, A_H V_H] W_{out} + b_{out}

    with d = embed_dim / num_heads and M = −∞ where a query may not look
    (a later position when ``causal``, a padded key), else 0.

    Parameters
    ----------
    embed_dim : int
        Features per position (E), in and out.
    num_heads : int
        Heads (H); must divide ``embed_dim``.
    causal : bool
        Position i sees only positions 0..i (for predicting the next token).
    bias : bool
        Give the projections biases (default True).
    seed : int or numpy Generator, optional
        Where the initial weights come from.

    Shapes: input (batch, time, E) (``batch_first``); output the same. With
    ``key``/``value`` given, queries come from the input and keys/values
    from them: (batch, Tk, E) each.

    Parameters (trainable tensors): ``weight_in`` (E, 3E), its columns the
    query, key and value projections in that order, head h using columns
    h·d..(h+1)·d of each; ``bias_in`` (3E,); ``weight_out`` (E, E);
    ``bias_out`` (E,). PyTorch's ``in_proj_weight`` is ``weight_in.T`` and
    ``out_proj.weight`` is ``weight_out.T``. Initialisation as PyTorch's:
    ``weight_in`` Glorot-uniform, ``weight_out`` U(−1/√E, 1/√E), biases 0.

    After each call, ``attention_weights`` holds the weights of the last
    call, (batch, H, Tq, Tk), one row per query summing to 1 (NumPy, no
    gradient); their mean over axis 1 is PyTorch's ``average_attn_weights``.
    A query whose keys are all masked gets NaN, as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import MultiHeadAttention
    >>> mha = MultiHeadAttention(8, num_heads=2, causal=True, seed=0)
    >>> mha(np.ones((3, 5, 8))).shape
    (3, 5, 8)
    >>> mha.attention_weights.shape, float(mha.attention_weights[0, 0, 0, 1])
    ((3, 2, 5, 5), 0.0)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int = 1,
        causal: bool = False,
        bias: bool = True,
        seed=None,
    ):
        check_positive("MultiHeadAttention", "embed_dim", embed_dim, integer=True)
        check_positive("MultiHeadAttention", "num_heads", num_heads, integer=True)
        if embed_dim % num_heads:
            raise ConfigError(
                f"MultiHeadAttention: num_heads={num_heads} must divide "
                f"embed_dim={embed_dim} (each head gets embed_dim / num_heads)."
            )
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.causal = bool(causal)
        E = self.embed_dim
        self.weight_in = Tensor(np.zeros((E, 3 * E), np.float32), requires_grad=True)
        self.bias_in = Tensor(np.zeros(3 * E, np.float32), True) if bias else None
        self.weight_out = Tensor(np.zeros((E, E), np.float32), requires_grad=True)
        self.bias_out = Tensor(np.zeros(E, np.float32), True) if bias else None
        self.attention_weights = None
        self.reset_parameters(seed)

    def reset_parameters(self, rng=None) -> MultiHeadAttention:
        rng, E = initializers.make_rng(rng), self.embed_dim
        dtype = self.weight_in.dtype
        self.weight_in.data = initializers.glorot((E, 3 * E), E, 3 * E, rng, dtype)
        bound = 1 / np.sqrt(E)
        self.weight_out.data = rng.uniform(-bound, bound, (E, E)).astype(dtype)
        for b in (self.bias_in, self.bias_out):
            if b is not None:
                b.data = np.zeros(b.shape, dtype)
        return self

    def _check(self, name, x):
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ShapeError(
                f"{self!r} expected {name} of shape (batch, time, {self.embed_dim}); "
                f"got {shape_str(x.shape)}."
            )

    def blocked(self, batch: int, tq: int, tk: int, key_padding_mask=None):
        """The boolean mask (batch or 1, 1, Tq, Tk), True where a query may not look."""
        blocked = np.triu(np.ones((tq, tk), bool), 1) if self.causal else None
        if key_padding_mask is None:
            return None if blocked is None else blocked[None, None]
        pad = np.asarray(getattr(key_padding_mask, "data", key_padding_mask))
        if pad.shape != (batch, tk) or pad.dtype.kind not in "biu":
            raise ShapeError(
                f"{self!r}: key_padding_mask must be booleans (True = a padded key "
                f"to ignore) of shape (batch, Tk) = ({batch}, {tk}); got "
                f"{pad.dtype} {shape_str(pad.shape)}."
            )
        pad = pad.astype(bool)[:, None, None, :]
        return pad if blocked is None else pad | blocked

    def forward(self, x, key=None, value=None, key_padding_mask=None):
        E, H = self.embed_dim, self.num_heads
        self._check("input", x)
        B, T = x.shape[:2]
        heads = (B, -1, H, E // H)
        if key is None and value is None:
            qkv = linear(x, self.weight_in, self.bias_in).reshape(B, T, 3, H, E // H)
            qkv = qkv.transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
        else:
            key, value = (
                t if isinstance(t, Tensor) else as_input(t, self.dtype, repr(self))
                for t in (
                    x if key is None else key,
                    value if value is not None else key,
                )
            )
            self._check("key", key)
            self._check("value", value)
            if key.shape[:2] != value.shape[:2] or key.shape[0] != B:
                raise ShapeError(
                    f"{self!r}: key and value must share (batch, Tk) with batch "
                    f"{B}; got {shape_str(key.shape)} and {shape_str(value.shape)}."
                )
            q, k, v = (
                linear(
                    t,
                    self.weight_in[:, i * E : (i + 1) * E],
                    None if self.bias_in is None else self.bias_in[i * E : (i + 1) * E],
                )
                .reshape(heads)
                .transpose(0, 2, 1, 3)
                for i, t in enumerate((x, key, value))
            )
        blocked = self.blocked(B, q.shape[2], k.shape[2], key_padding_mask)
        y, self.attention_weights = attention(q, k, v, blocked)
        y = y.transpose(0, 2, 1, 3).reshape(B, T, E)
        return linear(y, self.weight_out, self.bias_out)

    def extra_repr(self) -> str:
        extras = ", causal" if self.causal else ""
        extras += ", bias" if self.bias_in is not None else ""
        return f"{self.embed_dim}, heads {self.num_heads}{extras}"

    def get_config(self) -> dict:
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "causal": self.causal,
            "bias": self.bias_in is not None,
        }
