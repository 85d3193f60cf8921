"""Recurrent layers: networks whose last output comes back as an input.

A plain recurrent layer (:class:`RNN`) keeps a hidden state and mixes it with
each new input; an :class:`LSTM` adds a separate memory (the cell state) that
gates decide what to forget, what to let in and what to show. Both read
sequences batch-first, ``(batch, time, features)``, and run the whole
sequence as one fused op from :mod:`glassnet.ops.recurrent`.

The state
---------
``layer(x)`` starts from zeros and returns a Tensor, so the layers compose in
``Sequential``. ``layer(x, state=...)`` starts from a given state and
``layer(x, return_state=True)`` returns ``(output, final_state)`` with the
final state still attached to the graph (e.g. to start a decoder). After
every call ``layer.last_state`` holds the final state *detached*: plain
values, safe to carry into the next chunk of a long stream. With
``stateful=True`` (or inside :func:`glassnet.sequence.carry_state`) each call
starts from ``last_state`` until :meth:`reset_state` -- truncated
backpropagation through time and step-by-step generation are built on that.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_axis_size, check_ndim, check_positive, shape_str
from ..errors import ConfigError, ShapeError
from ..ops.recurrent import lstm, rnn
from ..tensor import Tensor, as_tensor
from . import init as initializers
from .module import Module


def orthogonal(shape, rng, dtype=np.float32) -> np.ndarray:
    """A random (rows, cols) matrix with orthonormal rows or columns (QR of a Gaussian).

    A recurrent weight that is orthogonal neither shrinks nor stretches the
    hidden state on its own, so early in training signals and gradients
    survive many steps (Saxe et al., 2014).
    """
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # a uniform draw, not one biased by QR's sign choice
    return (q if rows >= cols else q.T).astype(dtype)


class _Recurrent(Module):
    """What RNN and LSTM share: arguments, input checks, the state, the repr."""

    _gates = 1  # blocks of hidden_size columns in the weights

    def __init__(self, input_size, hidden_size, return_sequences, stateful, seed):
        name = type(self).__name__
        check_positive(name, "input_size", input_size, integer=True)
        check_positive(name, "hidden_size", hidden_size, integer=True)
        for flag, value in (
            ("return_sequences", return_sequences),
            ("stateful", stateful),
        ):
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(
                    f"{name}: {flag} must be True or False; got {value!r}."
                )
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.return_sequences, self.stateful = bool(return_sequences), bool(stateful)
        width = self._gates * self.hidden_size
        self.weight_ih = Tensor(
            np.zeros((self.input_size, width), np.float32), requires_grad=True
        )
        self.weight_hh = Tensor(
            np.zeros((self.hidden_size, width), np.float32), requires_grad=True
        )
        self.bias = Tensor(np.zeros(width, np.float32), requires_grad=True)
        self.last_state = None
        self.reset_parameters(seed)

    def reset_parameters(self, rng=None):
        rng = initializers.make_rng(rng)
        dt, H = self.weight_hh.dtype, self.hidden_size
        # Each gate's block is one layer of neurons: Glorot for the inputs,
        # orthogonal for the recurrent weights.
        self.weight_ih.data = np.concatenate(
            [
                initializers.glorot((self.input_size, H), self.input_size, H, rng, dt)
                for _ in range(self._gates)
            ],
            axis=1,
        )
        self.weight_hh.data = np.concatenate(
            [orthogonal((H, H), rng, dt) for _ in range(self._gates)], axis=1
        )
        self.bias.data = self._initial_bias().astype(dt)
        self.last_state = None
        return self

    def _initial_bias(self) -> np.ndarray:
        return np.zeros(self._gates * self.hidden_size)

    def reset_state(self) -> None:
        """Forget the carried state: the next call starts from zeros."""
        self.last_state = None

    # --- checks ----------------------------------------------------------------
    def _describe(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, "
            f"hidden_size={self.hidden_size})"
        )

    def _check_input(self, x: Tensor) -> None:
        where = self._describe()
        hint = ""
        if x.ndim == 2:
            hint = (
                "For one sequence use x[None]; for token ids put OneHot(vocab) or "
                "Embedding(vocab, dim) in front."
            )
        check_ndim(where, x, 3, "(batch, time, features)", hint)
        check_axis_size(where, x, 2, self.input_size, "last axis (features)")
        if x.shape[1] == 0:
            raise ShapeError(
                f"{where} expected at least one time step; "
                f"got shape {shape_str(x.shape)}."
            )

    def _as_state(self, part: str, value, batch: int, dtype) -> Tensor:
        s = as_tensor(value, self.weight_hh)
        if s.shape != (batch, self.hidden_size):
            raise ShapeError(
                f"{self._describe()} expected the initial {part} of shape "
                f"{shape_str((batch, self.hidden_size))} (batch, hidden_size) for this "
                f"input; got {shape_str(s.shape)}."
            )
        return s if s.dtype == dtype else as_tensor(s.data.astype(dtype))

    def _start(self, x: Tensor, state):
        """The state to start from: the given one, the carried one, or None (zeros)."""
        if state is None and self.stateful and self.last_state is not None:
            state = self.last_state
            carried = state[0] if isinstance(state, tuple) else state
            if carried.shape[0] != x.shape[0]:
                raise ShapeError(
                    f"{self._describe()} carries a state for a batch of "
                    f"{carried.shape[0]} but got a batch of {x.shape[0]} "
                    f"(shape {shape_str(x.shape)}); call reset_state() first."
                )
        return state

    def _finish(self, seq, final, return_state):
        """Remember the detached final state; pick the output."""
        self.last_state = (
            tuple(s.detach() for s in final)
            if isinstance(final, tuple)
            else final.detach()
        )
        last = final[0] if isinstance(final, tuple) else final
        out = seq if self.return_sequences else last
        return (out, final) if return_state else out

    # --- description -----------------------------------------------------------
    def extra_repr(self) -> str:
        flags = ([] if self.return_sequences else ["last step only"]) + (
            ["stateful"] if self.stateful else []
        )
        return f"{self.input_size} → {self.hidden_size}" + "".join(
            f", {f}" for f in flags
        )

    def get_config(self) -> dict:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "return_sequences": self.return_sequences,
            "stateful": self.stateful,
        }


class RNN(_Recurrent):
    """A plain recurrent layer: each step mixes the new input with the last hidden state.

    The previous step's output comes back as an input, and the sum is
    squashed (tanh by default) so that, fed back again and again, it cannot
    grow without bound:

    .. math:: h_t = \\tanh(x_t W_{ih} + h_{t-1} W_{hh} + b), \\qquad h_{-1} = h_0

    It remembers only what survives being squashed and mixed at every step,
    which makes long-range memory hard to learn (the LSTM's reason to exist).

    Parameters
    ----------
    input_size : int
        Features per time step (F).
    hidden_size : int
        Neurons in the hidden state (H).
    nonlinearity : {'tanh', 'relu'}
        The squashing function; default 'tanh'.
    return_sequences : bool, default True
        True: output every step's hidden state, (batch, time, H), ready for
        a Dense layer at every step or another recurrent layer on top.
        False: only the last step's, (batch, H), for one answer per sequence.
    stateful : bool, default False
        Start each call from the previous call's final state (detached).
    seed : int or numpy Generator, optional
        Where the initial weights come from.

    Shapes: input (batch, time, input_size); output (batch, time, H) or
    (batch, H); state (batch, H).

    Parameters (trainable tensors): ``weight_ih`` (input_size, H),
    ``weight_hh`` (H, H), ``bias`` (H,). Initialisation: Glorot uniform for
    ``weight_ih``, a random orthogonal matrix for ``weight_hh``, zero bias.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import RNN
    >>> layer = RNN(3, 5, seed=0)
    >>> layer(np.zeros((2, 7, 3))).shape
    (2, 7, 5)
    >>> out, h = layer(np.zeros((2, 7, 3)), return_state=True)
    >>> h.shape, layer.last_state.shape
    ((2, 5), (2, 5))
    >>> [(n, p.shape) for n, p in layer.named_parameters()]
    [('weight_ih', (3, 5)), ('weight_hh', (5, 5)), ('bias', (5,))]
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        return_sequences: bool = True,
        stateful: bool = False,
        seed=None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(
                f"RNN: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}."
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, return_sequences, stateful, seed)

    def forward(self, x, state=None, return_state: bool = False):
        """Run the sequence ``x``; ``state`` is h0 (batch, H) or None for zeros."""
        self._check_input(x)
        state = self._start(x, state)
        h0 = (
            None
            if state is None
            else self._as_state("state h0", state, x.shape[0], self.weight_hh.dtype)
        )
        seq, h_last = rnn(
            x, self.weight_ih, self.weight_hh, self.bias, h0, self.nonlinearity
        )
        return self._finish(seq, h_last, return_state)

    def extra_repr(self) -> str:
        base = super().extra_repr()
        return base if self.nonlinearity == "tanh" else base + ", relu"

    def get_config(self) -> dict:
        return {**super().get_config(), "nonlinearity": self.nonlinearity}


class LSTM(_Recurrent):
    """Long short-term memory: a recurrent layer with a gated memory.

    Besides the hidden state h (what the layer shows), an LSTM keeps a cell
    state c (its memory). At every step four small layers look at the new
    input and the last hidden state, each with its own weights, and decide
    together how the memory changes. In gate order, with
    z = x_t W_ih + h_{t-1} W_hh + b split into four blocks of H::

        f_t = σ(z_f)                     forget gate     -- forgetting
        i_t = σ(z_i)                     input gate      -- ignoring (attention)
        g_t = tanh(z_g)                  candidate       -- the new prediction
        o_t = σ(z_o)                     output gate     -- selection
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t  cell state      -- memory
        h_t = o_t ⊙ tanh(c_t)            hidden state    -- what is shown

    σ is the logistic function (0 to 1), so each gate is a valve: 1 lets a
    value through, 0 stops it, 0.5 lets half through; ⊙ multiplies element
    by element. In the words of the recurrent-network story: the
    *forgetting* gate decides which memories to keep; the *ignoring* (or
    attention) gate decides which new candidate predictions get into memory;
    the *selection* gate decides which memories are released as this step's
    prediction; the cell state is the *memory* that carries, say, "the name
    just used cannot come next" past the word in between.

    Parameters
    ----------
    input_size : int
        Features per time step (F).
    hidden_size : int
        Neurons in the hidden and cell state (H).
    return_sequences : bool, default True
        True: output h_t for every step, (batch, time, H). False: only the
        last, (batch, H).
    stateful : bool, default False
        Start each call from the previous call's final (h, c), detached.
    seed : int or numpy Generator, optional
        Where the initial weights come from.

    Shapes: input (batch, time, input_size); output (batch, time, H) or
    (batch, H); state a pair (h, c), each (batch, H).

    Parameters (trainable tensors), each split into four blocks of H columns
    in the gate order forget, input, candidate, output:

    - ``weight_ih`` (input_size, 4H): input to gates, ``[:, 0:H]`` forget,
      ``[:, H:2H]`` input, ``[:, 2H:3H]`` candidate, ``[:, 3H:4H]`` output;
    - ``weight_hh`` (H, 4H): last hidden state to gates, same blocks;
    - ``bias`` (4H,): same blocks.

    Initialisation: Glorot uniform per gate for ``weight_ih``, a random
    orthogonal matrix per gate for ``weight_hh``, bias 0 except the forget
    gate's, which starts at 1 so the memory is kept by default early in
    training (Jozefowicz et al., 2015). PyTorch orders its gates input,
    forget, cell, output and stores weights transposed, (4H, in).

    After a call, ``layer.last_gates`` holds the gate values of every step,
    ``{'forget': (batch, time, H), 'input': ..., 'candidate': ...,
    'output': ..., 'cell': ...}``, when ``layer.watch_gates`` is True.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import LSTM
    >>> layer = LSTM(3, 4, seed=0)
    >>> layer(np.zeros((2, 6, 3))).shape
    (2, 6, 4)
    >>> out, (h, c) = layer(np.zeros((2, 6, 3)), return_state=True)
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    >>> [(n, p.shape) for n, p in layer.named_parameters()]
    [('weight_ih', (3, 16)), ('weight_hh', (4, 16)), ('bias', (16,))]
    >>> layer.bias.data[:4]  # forget gate starts open
    array([1., 1., 1., 1.], dtype=float32)
    """

    _gates = 4
    GATES = ("forget", "input", "candidate", "output")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        return_sequences: bool = True,
        stateful: bool = False,
        seed=None,
    ):
        self.watch_gates = False
        self.last_gates = None
        super().__init__(input_size, hidden_size, return_sequences, stateful, seed)

    def _initial_bias(self) -> np.ndarray:
        b = np.zeros(4 * self.hidden_size)
        b[: self.hidden_size] = 1.0
        return b

    def forward(self, x, state=None, return_state: bool = False):
        """Run the sequence ``x``; ``state`` is (h0, c0), each (batch, H), or None."""
        self._check_input(x)
        state = self._start(x, state)
        h0 = c0 = None
        if state is not None:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ShapeError(
                    f"{self._describe()} expected state as a pair (h0, c0); "
                    f"got {type(state).__name__}."
                )
            dt = self.weight_hh.dtype
            h0 = self._as_state("state h0", state[0], x.shape[0], dt)
            c0 = self._as_state("state c0", state[1], x.shape[0], dt)
        seq, h_last, c_last, *gates = lstm(
            x,
            self.weight_ih,
            self.weight_hh,
            self.bias,
            h0,
            c0,
            keep_gates=self.watch_gates,
        )
        if gates:
            self.last_gates = gates[0]
        return self._finish(seq, (h_last, c_last), return_state)
