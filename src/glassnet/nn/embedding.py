"""Symbols in: turning token ids (words, characters, dishes) into vectors.

A network only takes numbers, so each symbol of a vocabulary becomes a
vector. :class:`OneHot` gives symbol k the vector with a 1 in place k and 0
elsewhere (no parameters); :class:`Embedding` gives each symbol a learned
vector of any length -- the same as a one-hot row times a weight matrix,
without building the one-hot rows.

Both take integer ids of any shape, typically (batch, time), and add a last
axis: (batch, time, vocab) or (batch, time, dim). Ids may arrive as floats
holding whole numbers (what a model's NumPy input becomes); anything else,
and any id outside the vocabulary, is refused with a message naming the
layer and the first bad symbol.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_positive
from ..data.transforms import one_hot
from ..errors import ConfigError, DataError, DTypeError
from ..ops.recurrent import embedding
from ..tensor import Tensor, as_tensor
from . import init as initializers
from .module import Module


def symbol_ids(where: str, x, vocab: int) -> np.ndarray:
    """``x`` as an integer array of ids in [0, vocab), or a clear error."""
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if data.dtype.kind == "f":
        whole = np.isfinite(data) & (data == np.round(data))
        if not whole.all():
            i = tuple(int(v) for v in np.argwhere(~whole)[0])
            raise DataError(
                f"{where} expected whole-number symbol ids; got {data[i].item()!r} "
                f"at index {i}."
            )
    elif data.dtype.kind not in "iub":
        raise DTypeError(
            f"{where} expected integer symbol ids; got dtype {data.dtype}."
        )
    bad = (data < 0) | (data >= vocab)
    if bad.any():
        i = tuple(int(v) for v in np.argwhere(bad)[0])
        raise DataError(
            f"{where} got symbol {data[i].item():g} at index {i}, outside the vocabulary "
            f"[0, {vocab}); {int(bad.sum())} id(s) are out of range. Enlarge the "
            "vocabulary or map unknown symbols to a reserved id."
        )
    return data.astype(np.intp, copy=False)


class OneHot(Module):
    """Symbol k of a vocabulary of n becomes a vector of n values: 1 in place k, 0 elsewhere.

    No parameters, no gradient (ids are not numbers to nudge). Put it in
    front of a recurrent layer that should read symbols: ``Sequential(
    OneHot(5), RNN(5, 8), Dense(8, 5))``. Uses
    :func:`glassnet.data.transforms.one_hot`.

    Parameters
    ----------
    num_classes : int
        Size of the vocabulary.

    Shapes: input (...) ids; output (..., num_classes), in the model's float
    dtype (float32 unless the model is float64).

    Examples
    --------
    >>> from glassnet.nn import OneHot
    >>> OneHot(4)([[2, 0]]).data
    array([[[0., 0., 1., 0.],
            [1., 0., 0., 0.]]], dtype=float32)
    """

    def __init__(self, num_classes: int):
        check_positive("OneHot", "num_classes", num_classes, integer=True)
        self.num_classes = int(num_classes)

    def forward(self, x):
        ids = symbol_ids(f"OneHot(num_classes={self.num_classes})", x, self.num_classes)
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        return as_tensor(one_hot(ids, self.num_classes, dtype=dtype))

    def extra_repr(self) -> str:
        return str(self.num_classes)

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes}


class Embedding(Module):
    """A learned vector for every symbol: row k of a table is symbol k's vector.

    .. math:: y = W[\\text{id}] = \\text{one\\_hot}(\\text{id})\\, W

    Backward adds each output's gradient into the row it was read from (a
    symbol seen three times in a batch collects three gradients).

    Parameters
    ----------
    num_embeddings : int
        Size of the vocabulary (rows of the table).
    dim : int
        Length of each symbol's vector.
    seed : int or numpy Generator, optional
        Where the initial vectors come from.
    padding_idx : int, optional
        The id that pads short sequences to one length (negative counts from
        the end, as in PyTorch). Its row starts at zero and gets no gradient,
        so padding reads as a vector of zeros throughout training.

    Shapes: input (...) ids in [0, num_embeddings); output (..., dim).

    Parameters (trainable tensors): ``weight`` (num_embeddings, dim), row k
    symbol k's vector; initialised from N(0, 1) (row ``padding_idx``: 0).

    Examples
    --------
    >>> from glassnet.nn import Embedding
    >>> emb = Embedding(5, 3, seed=0)
    >>> emb([[4, 0, 4]]).shape
    (1, 3, 3)
    >>> bool((emb([4]).data == emb.weight.data[4]).all())
    True
    >>> Embedding(5, 3, padding_idx=0, seed=0)([[0]]).data
    array([[[0., 0., 0.]]], dtype=float32)
    """

    def __init__(self, num_embeddings: int, dim: int, seed=None, padding_idx=None):
        check_positive("Embedding", "num_embeddings", num_embeddings, integer=True)
        check_positive("Embedding", "dim", dim, integer=True)
        self.num_embeddings, self.dim = int(num_embeddings), int(dim)
        n = self.num_embeddings
        if padding_idx is not None:
            if isinstance(padding_idx, (bool, np.bool_)) or not isinstance(
                padding_idx, (int, np.integer)
            ):
                raise ConfigError(
                    f"Embedding: padding_idx must be an integer id or None; got "
                    f"{padding_idx!r}."
                )
            if not -n <= padding_idx < n:
                raise ConfigError(
                    f"Embedding: padding_idx must lie in [-{n}, {n}) for "
                    f"num_embeddings={n}; got {padding_idx}."
                )
            padding_idx = int(padding_idx)
        self.padding_idx = padding_idx  # as given: NumPy reads -1 as the last row
        self.weight = Tensor(
            np.zeros((self.num_embeddings, self.dim), np.float32), requires_grad=True
        )
        self.reset_parameters(seed)

    def reset_parameters(self, rng=None) -> Embedding:
        rng = initializers.make_rng(rng)
        self.weight.data = rng.standard_normal(self.weight.shape).astype(
            self.weight.dtype
        )
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0
        return self

    def forward(self, x):
        where = f"Embedding(num_embeddings={self.num_embeddings}, dim={self.dim})"
        ids = symbol_ids(where, x, self.num_embeddings)
        return embedding(ids, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding {self.padding_idx}"
        return f"{self.num_embeddings} → {self.dim}{pad}"

    def get_config(self) -> dict:
        return {
            "num_embeddings": self.num_embeddings,
            "dim": self.dim,
            "padding_idx": self.padding_idx,
        }
