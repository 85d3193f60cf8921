"""Working with sequences: carried state, long streams, and generating text.

A recurrent model reads a sequence one step at a time, so three jobs come up
that feed-forward models never need:

* **carrying the state** from one call to the next (:func:`carry_state`):
  the recurrent layers start each call where the last one ended;
* **truncated backpropagation through time** for streams too long to unroll
  at once (:func:`stream_batches`, :func:`fit_stream`): cut the stream into
  chunks, backpropagate within each chunk only, but carry the state --
  detached, as plain values -- from chunk to chunk, so the model still reads
  the stream as one;
* **generation** (:func:`generate`, :func:`sample`): feed the model's own
  prediction back in as the next input, one step at a time, sampling the
  next symbol from its scores (``temperature`` > 0) or taking the best one
  (``temperature=0``, greedy decoding).

Models here map symbol ids (batch, time) to scores (batch, time, vocab), e.g.
``Sequential(OneHot(vocab), LSTM(vocab, 128), Dense(128, vocab))``.
"""

from __future__ import annotations

import contextlib
import math
import numbers

import numpy as np

from ._validate import check_positive, shape_str
from .errors import ConfigError, DataError, DivergedError, ShapeError
from .nn.init import make_rng
from .nn.recurrent import _Recurrent
from .ops.reduce import softmax_array
from .tensor import no_grad

__all__ = [
    "carry_state",
    "fit_stream",
    "generate",
    "recurrent_layers",
    "reset_states",
    "sample",
    "stream_batches",
]


def recurrent_layers(model) -> list:
    """Every RNN and LSTM inside ``model`` (or ``model`` itself), in order."""
    return [m for _, m in model.named_modules() if isinstance(m, _Recurrent)]


def reset_states(model) -> None:
    """Make every recurrent layer inside ``model`` start from zeros next time."""
    for layer in recurrent_layers(model):
        layer.reset_state()


@contextlib.contextmanager
def carry_state(model):
    """Inside this block, every recurrent layer continues from its last state.

    On entry the states are reset (the first call starts from zeros) and
    every recurrent layer is made ``stateful``; on exit the layers get their
    old setting back and their states are reset. The carried state is
    detached, so backpropagation never reaches into an earlier call.

    >>> import numpy as np
    >>> from glassnet.nn import Sequential, RNN
    >>> model = Sequential(RNN(1, 4, seed=0))
    >>> x = np.ones((1, 6, 1))
    >>> whole = model(x).data
    >>> with carry_state(model):
    ...     parts = [model(x[:, :3]).data, model(x[:, 3:]).data]
    >>> bool(np.allclose(np.concatenate(parts, axis=1), whole, atol=1e-6))
    True
    """
    layers = recurrent_layers(model)
    before = [layer.stateful for layer in layers]
    for layer in layers:
        layer.stateful = True
        layer.reset_state()
    try:
        yield model
    finally:
        for layer, flag in zip(layers, before):
            layer.stateful = flag
            layer.reset_state()


def _as_stream(where: str, tokens) -> np.ndarray:
    arr = np.asarray(tokens)
    if arr.ndim != 1:
        raise ShapeError(
            f"{where} expected a 1-D stream of symbol ids; got shape "
            f"{shape_str(arr.shape)}."
        )
    if arr.dtype.kind not in "iu":
        raise DataError(f"{where} expected integer symbol ids; got dtype {arr.dtype}.")
    if arr.size and arr.min() < 0:
        raise DataError(f"{where}: symbol ids must be >= 0; got {arr.min()}.")
    return arr


def stream_batches(tokens, batch_size: int, seq_len: int):
    """Cut one long stream into chunks for truncated BPTT, continuing row by row.

    The stream is split into ``batch_size`` equal rows (the tail that does
    not fill a row is dropped), and the rows are read ``seq_len`` steps at a
    time, so chunk k + 1 of each row continues exactly where chunk k ended:
    a model carrying its state from chunk to chunk reads each row as one
    unbroken sequence. Targets are the inputs shifted by one step.

    Yields
    ------
    x, y : np.ndarray, int64, shape (batch_size, L)
        Inputs and next-symbol targets; L = ``seq_len`` except possibly in
        the last chunk.

    >>> [(x.tolist(), y.tolist()) for x, y in stream_batches(np.arange(9), 2, 3)]
    [([[0, 1, 2], [4, 5, 6]], [[1, 2, 3], [5, 6, 7]]), ([[3], [7]], [[4], [8]])]
    """
    where = "stream_batches()"
    check_positive(where, "batch_size", batch_size, integer=True)
    check_positive(where, "seq_len", seq_len, integer=True)
    arr = _as_stream(where, tokens).astype(np.int64)
    n = (len(arr) - 1) // batch_size  # inputs per row; each needs a next symbol
    if n < 1:
        raise DataError(
            f"{where}: a stream of {len(arr)} symbols is too short for "
            f"{batch_size} rows; use a smaller batch_size."
        )
    rows = np.stack([arr[b * n : b * n + n + 1] for b in range(batch_size)])
    for start in range(0, n, seq_len):
        stop = min(start + seq_len, n)
        yield rows[:, start:stop], rows[:, start + 1 : stop + 1]


def fit_stream(
    model,
    tokens,
    *,
    loss,
    optimizer,
    seq_len: int = 64,
    batch_size: int = 32,
    epochs: int = 1,
    clip_norm=None,
    verbose: int = 0,
):
    """Train on one long stream by truncated backpropagation through time.

    Each epoch reads the stream through :func:`stream_batches` inside
    :func:`carry_state`: every chunk is a forward pass, a loss at every step,
    backpropagation back to the start of the chunk (not further), an
    optional gradient clip and an optimizer step; the recurrent layers
    then carry their final state, detached, into the next chunk.

    Parameters
    ----------
    model : Module
        Maps ids (batch, L) to scores (batch, L, vocab).
    tokens : 1-D array of int
        The stream.
    loss : callable
        ``loss(scores, targets) -> scalar Tensor``, e.g.
        ``glassnet.losses.CrossEntropy()``.
    optimizer : Optimizer
        From :mod:`glassnet.optim`, built on ``model``'s parameters.
    seq_len, batch_size, epochs : int
        Chunk length (how far back gradients reach), parallel rows, passes.
    clip_norm : float, optional
        Rescale the gradients when their global norm exceeds this.
    verbose : int
        1 prints one line per epoch.

    Returns
    -------
    History
        ``loss``: the mean loss per epoch (averaged over every predicted step).

    Raises
    ------
    DivergedError
        When a chunk's loss is NaN or infinite.
    """
    from .optim import clip_grad_norm
    from .train.history import History

    where = "fit_stream()"
    check_positive(where, "epochs", epochs, integer=True)
    if clip_norm is not None:
        check_positive(where, "clip_norm", clip_norm)
    _as_stream(where, tokens)
    params = model.parameters()
    history = History()
    model.train()
    for epoch in range(int(epochs)):
        total, count = 0.0, 0
        with carry_state(model):
            for x, y in stream_batches(tokens, batch_size, seq_len):
                value = loss(model(x), y)
                optimizer.zero_grad()
                value.backward()
                if clip_norm is not None:
                    clip_grad_norm(params, clip_norm)
                optimizer.step()
                v = float(value.data)
                if not math.isfinite(v):
                    raise DivergedError(
                        f"{where}: the loss became {v} in epoch {epoch + 1}; "
                        "lower the learning rate or set clip_norm."
                    )
                total, count = total + v * y.size, count + y.size
        history.record(epoch, {"loss": total / count})
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: loss {total / count:.4f}")
    return history


def sample(scores, temperature: float = 1.0, seed=None) -> np.ndarray:
    """Pick one symbol per row of ``scores`` (..., vocab).

    With ``temperature`` T > 0 the symbol is drawn with probability
    softmax(scores / T): T = 1 samples the model's own distribution, smaller
    T sharpens it towards the best symbol, larger T flattens it towards
    uniform. ``temperature=0`` is greedy decoding: always the best symbol.

    Parameters
    ----------
    scores : array_like or Tensor, shape (..., vocab)
        Raw scores (logits).
    temperature : float >= 0
    seed : int, numpy Generator or None

    Returns
    -------
    np.ndarray of int64, shape (...)

    >>> sample([[0.0, 5.0, 1.0]], temperature=0).tolist()
    [1]
    """
    data = np.asarray(getattr(scores, "data", scores), dtype=np.float64)
    if (
        not isinstance(temperature, numbers.Real)
        or isinstance(temperature, bool)
        or not math.isfinite(temperature)
        or temperature < 0
    ):
        raise ConfigError(
            f"sample(): temperature must be a number >= 0; got {temperature!r}."
        )
    if data.ndim == 0:
        raise ShapeError(
            "sample() expected scores with a last axis over the vocabulary; "
            "got a single number."
        )
    if temperature == 0:
        return data.argmax(axis=-1).astype(np.int64)
    probs = softmax_array(data / temperature, axis=-1)
    cdf = np.cumsum(probs, axis=-1)
    u = make_rng(seed).random(data.shape[:-1] + (1,)) * cdf[..., -1:]
    picks = (cdf < u).sum(axis=-1)
    return np.minimum(picks, data.shape[-1] - 1).astype(np.int64)


def generate(
    model, prompt, steps: int, temperature: float = 1.0, seed=None
) -> np.ndarray:
    """Let ``model`` continue ``prompt`` for ``steps`` symbols, feeding back its own picks.

    The prompt is read once (the recurrent layers keep their state), then at
    every step the model's scores for the next symbol are turned into one
    symbol by :func:`sample`, and that symbol is the next input. Each step
    costs one short forward pass, not a re-read of everything so far.

    Parameters
    ----------
    model : Module
        Maps ids (batch, time) to scores (batch, time, vocab) (or (batch,
        vocab) for the last step only).
    prompt : array_like of int, shape (time,) or (batch, time)
        What to start from; several rows generate several texts at once.
    steps : int
        Symbols to generate.
    temperature : float >= 0
        Sampling temperature; 0 = greedy decoding.
    seed : int, numpy Generator or None
        Makes the sampling reproducible.

    Returns
    -------
    np.ndarray of int64, shape (steps,) or (batch, steps)
        The generated symbols (without the prompt).
    """
    where = "generate()"
    check_positive(where, "steps", steps, integer=True)
    ids = np.asarray(prompt)
    if ids.ndim not in (1, 2) or ids.shape[-1] == 0:
        raise ShapeError(
            f"{where} expected a prompt of shape (time,) or (batch, time) with "
            f"at least one symbol; got shape {shape_str(ids.shape)}."
        )
    if ids.dtype.kind not in "iu":
        raise DataError(
            f"{where} expected integer symbol ids in the prompt; got dtype {ids.dtype}."
        )
    single = ids.ndim == 1
    ids = ids[None] if single else ids
    rng = make_rng(seed)
    out = np.empty((ids.shape[0], int(steps)), np.int64)
    was_training = model.training
    model.eval()
    try:
        with no_grad(), carry_state(model):
            scores = model(ids).data
            for t in range(int(steps)):
                last = scores[:, -1] if scores.ndim == 3 else scores
                out[:, t] = sample(last, temperature, rng)
                if t + 1 < steps:
                    scores = model(out[:, t : t + 1]).data
    finally:
        model.train(was_training)
    return out[0] if single else out
