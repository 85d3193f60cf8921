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

from .._validate import (
    check_axis_size,
    check_ndim,
    check_number,
    check_positive,
    shape_str,
)
from ..errors import ConfigError, ShapeError
from ..ops.dropout import dropout
from ..ops.recurrent import check_lengths, gru, lstm, rnn
from ..ops.shape import concatenate, stack
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
    """What RNN, LSTM and GRU share: arguments, input checks, the stack of
    layers and directions, the state, the repr.

    Cell (layer l, direction d) holds ``weight_ih{sfx}``, ``weight_hh{sfx}``,
    ``bias{sfx}`` with sfx ``''`` for the first layer's forward direction,
    ``'_l{l}'`` for a layer above it and ``'_reverse'`` appended for the
    backward direction (PyTorch's names, without its ``_l0``).
    """

    _gates = 1  # blocks of hidden_size columns in the weights
    _parts = ("h",)  # the state's parts

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        return_sequences: bool = True,
        stateful: bool = False,
        seed=None,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ):
        name = type(self).__name__
        check_positive(name, "input_size", input_size, integer=True)
        check_positive(name, "hidden_size", hidden_size, integer=True)
        check_positive(name, "num_layers", num_layers, integer=True)
        for flag, value in (
            ("return_sequences", return_sequences),
            ("stateful", stateful),
            ("bidirectional", bidirectional),
        ):
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(
                    f"{name}: {flag} must be True or False; got {value!r}."
                )
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.return_sequences, self.stateful = bool(return_sequences), bool(stateful)
        self.num_layers, self.bidirectional = int(num_layers), bool(bidirectional)
        self.dropout = check_number(name, "dropout", dropout, 0, 1, high_open=True)
        self.watch_gates, self.last_gates = False, None  # gated layers' look-inside
        for sfx, shapes in self._cell_shapes():
            for pname, shape in shapes.items():
                t = Tensor(np.zeros(shape, np.float32), requires_grad=True)
                setattr(self, pname + sfx, t)
        self.last_state = None
        self.reset_parameters(seed)

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _cell_shapes(self):
        """(suffix, {parameter: shape}) for every layer and direction, in order."""
        D, H, G = self.directions, self.hidden_size, self._gates * self.hidden_size
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else D * H
            for d in range(D):
                sfx = ("" if layer == 0 else f"_l{layer}") + ("_reverse" if d else "")
                yield sfx, {"weight_ih": (n_in, G), "weight_hh": (H, G), "bias": (G,)}

    def reset_parameters(self, rng=None):
        rng = initializers.make_rng(rng)
        dt, H = self.weight_hh.dtype, self.hidden_size
        for sfx, shapes in self._cell_shapes():
            n_in = shapes["weight_ih"][0]
            # Each gate's block is one layer of neurons: Glorot for the inputs,
            # orthogonal for the recurrent weights.
            getattr(self, "weight_ih" + sfx).data = np.concatenate(
                [
                    initializers.glorot((n_in, H), n_in, H, rng, dt)
                    for _ in range(self._gates)
                ],
                axis=1,
            )
            getattr(self, "weight_hh" + sfx).data = np.concatenate(
                [orthogonal((H, H), rng, dt) for _ in range(self._gates)], axis=1
            )
            getattr(self, "bias" + sfx).data = self._initial_bias().astype(dt)
            if "bias_hn" in shapes:
                getattr(self, "bias_hn" + sfx).data = np.zeros(H, dt)
        # dropout's masks: a stream of their own, spawned (the draws above unchanged)
        self._dropout_rng = rng.spawn(1)[0] if self.dropout else None
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
        n = self.num_layers * self.directions
        want = (batch, self.hidden_size) if n == 1 else (n, batch, self.hidden_size)
        if s.shape != want:
            axes = "batch, hidden_size" if n == 1 else "layers × directions, batch, H"
            raise ShapeError(
                f"{self._describe()} expected the initial {part} of shape "
                f"{shape_str(want)} ({axes}) for this input; got {shape_str(s.shape)}."
            )
        return s if s.dtype == dtype else as_tensor(s.data.astype(dtype))

    def _start(self, x: Tensor, state):
        """The state to start from: the given one, the carried one, or None (zeros)."""
        if state is None and self.stateful and self.last_state is not None:
            state = self.last_state
            carried = state[0] if isinstance(state, tuple) else state
            if carried.shape[-2] != x.shape[0]:
                raise ShapeError(
                    f"{self._describe()} carries a state for a batch of "
                    f"{carried.shape[-2]} but got a batch of {x.shape[0]} "
                    f"(shape {shape_str(x.shape)}); call reset_state() first."
                )
        return state

    def _split_state(self, state, batch: int) -> list:
        """The start of every cell: a tuple (one Tensor or None per state part)."""
        n = self.num_layers * self.directions
        if state is None:
            return [(None,) * len(self._parts)] * n
        if len(self._parts) == 1:
            state = (state,)
        elif not isinstance(state, (tuple, list)) or len(state) != len(self._parts):
            raise ShapeError(
                f"{self._describe()} expected state as a pair (h0, c0); "
                f"got {type(state).__name__}."
            )
        dt = self.weight_hh.dtype
        parts = [
            self._as_state(f"state {p}0", v, batch, dt)
            for p, v in zip(self._parts, state)
        ]
        if n == 1:
            return [tuple(parts)]
        return [tuple(p[k] for p in parts) for k in range(n)]

    # --- the stack of layers and directions ------------------------------------
    def forward(self, x, state=None, return_state: bool = False, lengths=None):
        """Run the sequence ``x`` from ``state`` (None: zeros, or the carried one).

        ``lengths`` (batch,) integers: the real length of each sequence of a
        padded batch (the padding at the end). Outputs past a sequence's end
        are 0, its final state is the one after its last real step, and the
        backward direction starts at that step.
        """
        self._check_input(x)
        state = self._start(x, state)
        starts = self._split_state(state, x.shape[0])
        lengths = check_lengths(self._describe(), lengths, x.shape[0], x.shape[1])
        finals, k = [], 0
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.directions):
                sfx = ("" if layer == 0 else f"_l{layer}") + ("_reverse" if d else "")
                top = layer == self.num_layers - 1 and d == 0
                xin = _reverse(x, lengths) if d else x
                seq, final = self._cell(xin, sfx, starts[k], lengths, top)
                outs.append(_reverse(seq, lengths) if d else seq)
                finals.append(final)
                k += 1
            x = outs[0] if len(outs) == 1 else concatenate(outs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout, rng=self._dropout_rng)
        return self._finish(x, finals, return_state)

    def _finish(self, seq, finals, return_state):
        """Pack the final states; remember them detached; pick the output."""
        if len(finals) == 1:
            final = finals[0]
        else:
            final = tuple(stack([f[i] for f in finals]) for i in range(len(finals[0])))
        final = final[0] if len(self._parts) == 1 else final
        self.last_state = (
            tuple(s.detach() for s in final)
            if isinstance(final, tuple)
            else final.detach()
        )
        tops = [f[0] for f in finals[-self.directions :]]
        last = tops[0] if len(tops) == 1 else concatenate(tops, axis=1)
        out = seq if self.return_sequences else last
        return (out, final) if return_state else out

    # --- description -----------------------------------------------------------
    def extra_repr(self) -> str:
        flags = (
            ([f"{self.num_layers} layers"] if self.num_layers > 1 else [])
            + (["bidirectional"] if self.bidirectional else [])
            + ([f"dropout {self.dropout:g} between layers"] if self.dropout else [])
            + ([] if self.return_sequences else ["last step only"])
            + (["stateful"] if self.stateful else [])
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
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
        }


def _reverse(x, lengths):
    """Each sequence back to front (only its real steps, with ``lengths``)."""
    if lengths is None:
        return x[:, ::-1]
    t = np.arange(x.shape[1])
    n = lengths[:, None]
    return x[np.arange(len(lengths))[:, None], np.where(t < n, n - 1 - t, t)]


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
    num_layers, bidirectional, dropout
        A stack of layers, each also reading back to front, with dropout
        between them; names, shapes and state as for :class:`GRU`.

    Shapes: input (batch, time, input_size); output (batch, time, H) or
    (batch, H); state (batch, H). ``layer(x, lengths=...)`` runs a padded
    batch (see ``forward``).

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
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(
                f"RNN: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}."
            )
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, return_sequences, stateful, seed,
            num_layers=num_layers, bidirectional=bidirectional, dropout=dropout,
        )  # fmt: skip

    def _cell(self, x, sfx, start, lengths, top):
        w = [getattr(self, n + sfx) for n in ("weight_ih", "weight_hh", "bias")]
        seq, h = rnn(x, *w, start[0], self.nonlinearity, lengths=lengths)
        return seq, (h,)

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
    num_layers, bidirectional, dropout
        A stack of layers, each also reading back to front, with dropout
        between them; names, shapes and state as for :class:`GRU`.

    Shapes: input (batch, time, input_size); output (batch, time, H) or
    (batch, H); state a pair (h, c), each (batch, H). ``layer(x,
    lengths=...)`` runs a padded batch (see ``forward``).

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
    _parts = ("h", "c")
    GATES = ("forget", "input", "candidate", "output")

    def _initial_bias(self) -> np.ndarray:
        b = np.zeros(4 * self.hidden_size)
        b[: self.hidden_size] = 1.0
        return b

    def _cell(self, x, sfx, start, lengths, top):
        w = [getattr(self, n + sfx) for n in ("weight_ih", "weight_hh", "bias")]
        keep = self.watch_gates and top
        seq, h, c, *gates = lstm(x, *w, *start, keep_gates=keep, lengths=lengths)
        if gates:
            self.last_gates = gates[0]
        return seq, (h, c)


class GRU(_Recurrent):
    """Gated recurrent unit: an LSTM's gating with one state instead of two.

    Two gates decide how the hidden state changes: the *reset* gate how much
    of the last state to use in the candidate, the *update* gate how much of
    the last state to keep as it is. In gate order (PyTorch's r, z, n), with
    a = x_t W_ih + b and q = h_{t-1} W_hh, each split into three blocks of H::

        r_t = σ(a_r + q_r)                        reset gate
        z_t = σ(a_z + q_z)                        update gate
        n_t = tanh(a_n + r_t ⊙ (q_n + b_hn))      candidate
        h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}     hidden state

    The reset gate multiplies the recurrent part of the candidate *with* its
    bias b_hn, as PyTorch and ONNX (``linear_before_reset=1``) do; that is
    why the candidate has a bias of its own on the recurrent side. When
    z_t is near 1 the state passes through unchanged, so gradients, as
    through an LSTM's open forget gate, survive many steps.

    Parameters
    ----------
    input_size : int
        Features per time step (F).
    hidden_size : int
        Neurons in the hidden state (H).
    return_sequences : bool, default True
        True: output h_t for every step, (batch, time, H). False: only the
        last, (batch, H).
    stateful : bool, default False
        Start each call from the previous call's final state (detached).
    seed : int or numpy Generator, optional
        Where the initial weights come from.
    num_layers : int, default 1
        GRUs stacked: each layer reads the sequence the one below outputs.
    bidirectional : bool, default False
        Each layer also reads the sequence back to front, with weights of its
        own; its outputs are the two directions side by side (2H).
    dropout : float in [0, 1), default 0
        In training, :func:`~glassnet.ops.dropout` on each layer's output but
        the last (between stacked layers, as PyTorch's ``dropout=``).

    Shapes: input (batch, time, input_size); output (batch, time, D·H) or
    (batch, D·H) with D = 2 if bidirectional else 1; state (batch, H), or
    (num_layers·D, batch, H) for a stack (PyTorch's order: layer 0 forward,
    layer 0 reverse, layer 1 forward, ...).

    Parameters (trainable tensors), three blocks of H columns in the gate
    order reset, update, candidate:

    - ``weight_ih`` (input_size, 3H): input to gates;
    - ``weight_hh`` (H, 3H): last hidden state to gates;
    - ``bias`` (3H,): the gates' bias (PyTorch's b_ih + b_hh for r and z,
      b_in for n);
    - ``bias_hn`` (H,): the candidate's recurrent bias, inside the reset gate.

    A stack repeats them per layer and direction with suffixes ``_l1``,
    ``_reverse``, ... (``weight_ih_l1_reverse``: layer 1, backward; its
    input is D·H wide). Initialisation: Glorot uniform per gate for
    ``weight_ih``, a random orthogonal matrix per gate for ``weight_hh``,
    zero biases. PyTorch stores weights transposed, (3H, in).

    After a call with ``layer.watch_gates = True``, ``layer.last_gates``
    holds ``{'reset', 'update', 'candidate'}``, each (batch, time, H), of the
    top layer's forward direction.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.nn import GRU
    >>> layer = GRU(3, 4, seed=0)
    >>> layer(np.zeros((2, 6, 3))).shape
    (2, 6, 4)
    >>> [(n, p.shape) for n, p in layer.named_parameters()]
    [('weight_ih', (3, 12)), ('weight_hh', (4, 12)), ('bias', (12,)), ('bias_hn', (4,))]
    >>> both = GRU(3, 4, num_layers=2, bidirectional=True, seed=0)
    >>> out, h = both(np.zeros((2, 6, 3)), return_state=True, lengths=[6, 2])
    >>> out.shape, h.shape, float(abs(out.data[1, 2:]).max())
    ((2, 6, 8), (4, 2, 4), 0.0)
    """

    _gates = 3
    GATES = ("reset", "update", "candidate")

    def _cell_shapes(self):
        for sfx, shapes in super()._cell_shapes():
            yield sfx, {**shapes, "bias_hn": (self.hidden_size,)}

    def _cell(self, x, sfx, start, lengths, top):
        names = ("weight_ih", "weight_hh", "bias", "bias_hn")
        w = [getattr(self, n + sfx) for n in names]
        keep = self.watch_gates and top
        seq, h, *gates = gru(x, *w, start[0], keep_gates=keep, lengths=lengths)
        if gates:
            self.last_gates = gates[0]
        return seq, (h,)
