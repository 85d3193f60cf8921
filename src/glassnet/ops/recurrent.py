"""Sequence ops: symbols into vectors, and recurrent layers unrolled in time.

A recurrent network feeds what it computed at the previous time step back in
as an input. Unrolled in time it is one long chain of the same layer, and its
gradient comes from walking that chain backwards: backpropagation through
time (BPTT).

Each recurrent op here is ONE graph node for the whole sequence, with a
hand-written backward, so a 64-step sequence costs one node rather than
hundreds:

* the input's weighted sums for every time step are one matrix product
  ((time * batch, features) @ W_x), done before the loop -- or, for one-hot
  input, a look-up of rows of W_x, which gives the same numbers;
* each step adds the recurrent product h @ W_h (all four LSTM gates in one
  product) and squashes;
* backward walks the steps in reverse, writing each step's gradient of the
  weighted sums into one (time * batch, gates) array; after the loop each
  weight's gradient is one matrix product over all steps at once.

Arrays are time-major inside (``[t]`` is a contiguous (batch, ...) block);
inputs and outputs are batch-first, ``(batch, time, features)``.

The final hidden (and cell) state are separate Tensors that share the
sequence node's backward: their gradients are handed over through a small
``stash`` and enter the reverse loop at the last step.

The time loops themselves (forward: the recurrent product and the
squashing; backward: the local derivatives, the recurrent product and the
weight gradients) are the kernels of :mod:`glassnet.kernels.recurrent`: the
NumPy reference, with the LSTM's gate equations in its docstring, and the
compiled twin of ``_native/lstm.c`` (results equal to rounding).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._validate import shape_str
from ..errors import ConfigError, DataError, ShapeError
from ..tensor import Tensor, as_tensor, make_result

__all__ = ["embedding", "gru", "lstm", "rnn"]

#: Look up rows of W_x instead of multiplying when a recurrent op's input is
#: one-hot (the same numbers, without the products with zeros). Set False
#: to always multiply, e.g. to compare with a library that does.
ONE_HOT_LOOKUP = True

#: Up to this many (vocabulary x occurrences) cells, embedding's backward
#: scatter-adds by one matrix product; beyond it, by a bincount.
DENSE_SCATTER_LIMIT = 4_000_000


# --- symbols in ----------------------------------------------------------------


def embedding(ids, weight, padding_idx=None) -> Tensor:
    """Row ``ids`` of ``weight``: each symbol's learned vector.

    Equal to ``one_hot(ids) @ weight`` without building the one-hot rows.
    Local derivative: a row read once per occurrence, so its gradient is the
    sum of the output gradients of every place the symbol occurred (a
    scatter-add; d(out)/d(weight row) = 1 where that row was read). Row
    ``padding_idx`` (if given) gets no gradient: the padding symbol's vector
    stays as it is.

    Shapes: ids (...) integers in [0, num_embeddings); weight
    (num_embeddings, dim) -> (..., dim). ``ids`` gets no gradient.
    """
    weight = as_tensor(weight)
    idx = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if idx.dtype.kind not in "iu":
        raise DataError(f"embedding: ids must be integers; got dtype {idx.dtype}.")
    n, dim = weight.shape
    out = weight.data[idx]

    def backward(g):
        flat = idx.reshape(-1)
        # Scatter-add as one matrix product: counts (n, N) @ g (N, dim). For the
        # small vocabularies of the seeds this beats np.add.at by a wide margin;
        # for large ones fall back to a bincount over (row, column) pairs.
        g2 = g.reshape(-1, dim)
        if n * flat.size <= DENSE_SCATTER_LIMIT:
            picks = np.zeros((n, flat.size), g.dtype)
            picks[flat, np.arange(flat.size)] = 1
            dW = picks @ g2
        else:
            cells = (flat[:, None] * dim + np.arange(dim)).reshape(-1)
            summed = np.bincount(cells, weights=g2.reshape(-1), minlength=n * dim)
            dW = summed.reshape(n, dim).astype(g.dtype)
        if padding_idx is not None:
            dW[padding_idx] = 0
        return (dW,)

    return make_result(out, (weight,), backward)


# --- shared plumbing -------------------------------------------------------------


def _prepare(op: str, x, weight_ih, weight_hh, bias, states, n_gates: int):
    """Tensors, sizes and checks shared by rnn and lstm."""
    x, weight_ih, weight_hh, bias = (
        as_tensor(t) for t in (x, weight_ih, weight_hh, bias)
    )
    if x.ndim != 3:
        raise ShapeError(
            f"{op}: expected x of shape (batch, time, features); "
            f"got shape {shape_str(x.shape)}."
        )
    B, T, F = x.shape
    H = weight_hh.shape[0]
    want = {
        "weight_ih": (F, n_gates * H),
        "weight_hh": (H, n_gates * H),
        "bias": (n_gates * H,),
    }
    for name, t in (("weight_ih", weight_ih), ("weight_hh", weight_hh), ("bias", bias)):
        if t.shape != want[name]:
            raise ShapeError(
                f"{op}: {name} must have shape {shape_str(want[name])} for "
                f"{F} input features and hidden size {H}; "
                f"got {shape_str(t.shape)}."
            )
    if T == 0:
        raise ShapeError(
            f"{op}: the sequence has no time steps (shape {shape_str(x.shape)})."
        )
    out_states = []
    for name, s in states:
        if s is None:
            out_states.append(None)
            continue
        s = as_tensor(s, weight_hh)
        if s.shape != (B, H):
            raise ShapeError(
                f"{op}: initial state {name} must have shape "
                f"{shape_str((B, H))}; got {shape_str(s.shape)}."
            )
        out_states.append(s)
    return x, weight_ih, weight_hh, bias, out_states, (B, T, F, H)


def _time_major(x: Tensor, dt) -> np.ndarray:
    """x (B, T, F) as a contiguous (T, B, F) array of dtype ``dt``."""
    return np.ascontiguousarray(x.data.transpose(1, 0, 2), dtype=dt)


def _one_hot_ids(x: np.ndarray):
    """Time-major symbol ids (T * B,) if every row of x (B, T, F) is one-hot, else None.

    Checked in one pass for the common case: a row is one-hot when it has a
    single non-zero entry and that entry is 1.
    """
    flat = x.reshape(-1, x.shape[-1])
    if np.count_nonzero(flat) != len(flat):
        return None
    ids = flat.argmax(axis=1)
    if not (flat[np.arange(len(ids)), ids] == 1).all():
        return None
    B, T = x.shape[:2]
    return ids.reshape(B, T).T.reshape(-1)


def _input_products(x: Tensor, W: np.ndarray, b: np.ndarray, dt):
    """x_t @ W + b for every step at once: (T * B, out) time-major; x time-major; ids.

    One matrix product over (T * B, F) rows, then the bias. When the input is
    one-hot (symbols from ``OneHot``), each product is simply a row of W, so
    rows of W + b are looked up instead of multiplying by zeros (exactly the
    same numbers: the bias is added to the 65-odd rows of W once instead of
    to every step's row); then the time-major copy of x is left to backward
    (returned as None) and the symbol ids (T * B,) are returned instead.
    """
    ids = _one_hot_ids(x.data) if ONE_HOT_LOOKUP else None
    if ids is not None:
        return (W + b)[ids], None, ids
    x_tm = _time_major(x, dt)
    Z = x_tm.reshape(-1, x.shape[-1]) @ W
    Z += b
    return Z, x_tm, None


def _final_states(seq: Tensor, arrays, stash: list) -> list:
    """Tensors for the final states, whose gradients go into ``stash``.

    Each is a node whose parent is the sequence node; its backward parks its
    gradient in the stash and hands the sequence node a zero gradient, so the
    sequence node's backward always runs (after it, in reverse order) and
    picks the stashed gradients up.
    """
    nodes = []
    for k, arr in enumerate(arrays):

        def backward(g, k=k):
            stash[k] = g if stash[k] is None else stash[k] + g
            return (np.broadcast_to(np.zeros((), seq.dtype), seq.shape),)

        nodes.append(make_result(arr, (seq,), backward))
    return nodes


# --- padded batches: each sequence's own length ------------------------------------


def check_lengths(where: str, lengths, B: int, T: int):
    """``lengths`` as B integers in [1, T] (an intp array), or None for none."""
    if lengths is None:
        return None
    n = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if n.shape != (B,) or n.dtype.kind not in "iu":
        raise ShapeError(
            f"{where}: lengths must be {B} integers, one per sequence of the batch; "
            f"got {n.dtype} of shape {shape_str(n.shape)}."
        )
    if B and (n.min() < 1 or n.max() > T):
        raise DataError(
            f"{where}: each length must lie in [1, {T}] (the time steps of x); got "
            f"lengths from {n.min()} to {n.max()}."
        )
    return n.astype(np.intp)


def _outputs(hs, lengths) -> np.ndarray:
    """Every step's state, batch-first (B, T, H), zero past each sequence's end."""
    out = np.ascontiguousarray(hs[1:].transpose(1, 0, 2))
    if lengths is not None:
        out[np.arange(out.shape[1]) >= lengths[:, None]] = 0
    return out


def _at_end(states, lengths) -> np.ndarray:
    """The state after each sequence's last real step (B, H)."""
    if lengths is None:
        return states[-1].copy()
    return states[lengths, np.arange(len(lengths))]


def _enter(g, stash, k, lengths, T, B, H, dt):
    """(a sequence's gradient for the kernel, the gradient entering the last step).

    ``g`` is the output sequence's gradient (B, T, H), or None for the cell
    states (which are no output). Without lengths a final state's gradient
    enters the reverse loop at the last step. With lengths the steps past a
    sequence's end still ran (on padding) but reach nothing -- the
    recurrence only looks back -- so their outputs' gradients are cut and the
    final state's gradient joins the sequence's own last step instead.
    """
    d_last = _initial_grad(stash, k, (B, H), dt)
    if lengths is None:
        return (None if g is None else _output_grad(g, dt)), d_last
    out = np.zeros((B, T, H), dt) if g is None else np.array(g, dt, order="C")
    out[np.arange(T) >= lengths[:, None]] = 0
    out[np.arange(B), lengths - 1] += d_last
    return out, np.zeros((B, H), dt)


# --- the gradient buffers the kernels fill -----------------------------------------


def _output_grad(g, dt):
    """The output sequence's gradient (B, T, H) for C: contiguous, or None for zeros.

    When only the final state was used, the sequence's gradient is a broadcast
    zero; the kernel is then told there is none instead of reading zeros.
    """
    if g.size and not any(g.strides) and not g.flat[0]:
        return None
    return np.ascontiguousarray(g, dt)


def _grad_buffers(w_x, w_h, b, ids, F, G, dt):
    """Buffers the backward kernel fills: dW_x (one-hot input only), ids, db, dW_h.

    None for a weight that needs no gradient. For one-hot input the kernel
    adds row r of dZ into row ids[r] of dW_x (zeroed here), which is what
    Xᵀ dZ is for a one-hot X; for other input dW_x stays None and is one
    product after the kernel (``_sequence_grads``).
    """
    scatter = ids is not None and w_x.requires_grad
    dW_x = np.zeros((F, G), dt) if scatter else None
    ids64 = np.ascontiguousarray(ids, np.int64) if scatter else None
    db = np.empty(G, dt) if b.requires_grad else None
    dW_h = np.empty((w_h.shape[0], G), dt) if w_h.requires_grad else None
    return dW_x, ids64, db, dW_h


def _sequence_grads(x, x_tm, dZ, w_x, dW_x, dW_h, db) -> tuple:
    """(dx, dW_x, dW_h, db) from every step's gradient of the weighted sums dZ.

    Each step's input reached its weighted sums through W_x: dx = dZ W_xᵀ
    (weight → W_x), and, unless the kernel scattered it (one-hot input),
    dW_x = Xᵀ dZ over all steps at once (time-major X, (T * B, F)).
    """
    B, T, F = x.shape
    dZ2 = dZ.reshape(T * B, dZ.shape[-1])
    dx = None
    if x.requires_grad:
        dx = (dZ2 @ w_x.data.T).reshape(T, B, F).transpose(1, 0, 2)
    if w_x.requires_grad and dW_x is None:
        xs = _time_major(x, dZ.dtype) if x_tm is None else x_tm
        dW_x = xs.reshape(T * B, F).T @ dZ2
    return dx, dW_x, dW_h, db


# --- plain recurrent layer -----------------------------------------------------


def _initial_grad(stash, k, shape, dt):
    """The final state's gradient handed over through the stash (zeros if none)."""
    g, stash[k] = stash[k], None
    return np.zeros(shape, dt) if g is None else np.array(g, dt, order="C")


def rnn(
    x, weight_ih, weight_hh, bias, h0=None, nonlinearity: str = "tanh", lengths=None
):
    """A plain (Elman) recurrent layer over a whole sequence, as one graph node.

    .. math:: h_t = \\phi(x_t W_x + h_{t-1} W_h + b), \\quad h_{-1} = h_0 \\text{ or } 0

    with φ = tanh (squashing keeps the loop from blowing up) or ReLU.

    Local derivatives: through tanh → 1 − h², through ReLU → 1 where h > 0;
    then to the previous hidden state → W_h, to the weights → the step's
    inputs [x_t, h_{t-1}].

    Shapes: x (B, T, F); weight_ih (F, H); weight_hh (H, H); bias (H,);
    h0 (B, H) or None; lengths (B,) integers in [1, T] or None (see below).

    ``lengths`` (a padded batch, as PyTorch's packed sequences): the outputs
    past each sequence's end are 0 and the final state is the state after its
    last real step; padding gets no gradient.

    Returns
    -------
    hs : Tensor (B, T, H)
        Every step's hidden state.
    h_last : Tensor (B, H)
        The final hidden state (differentiable).
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ConfigError(
            f"rnn: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}."
        )
    x, w_x, w_h, b, (h0,), (B, T, F, H) = _prepare(
        "rnn", x, weight_ih, weight_hh, bias, [("h0", h0)], 1
    )
    lengths = check_lengths("rnn", lengths, B, T)
    dt = w_h.dtype
    hs = np.empty((T + 1, B, H), dt)  # hs[t + 1] = h_t; hs[0] = h0
    hs[0] = 0 if h0 is None else h0.data
    stash = [None]
    relu = nonlinearity == "relu"
    Z, x_tm, ids = _input_products(x, w_x.data, b.data, dt)
    Z = np.ascontiguousarray(Z, dt).reshape(T, B, H)
    W_h = np.ascontiguousarray(w_h.data, dt)
    kernels.call("rnn_forward", Z, W_h, hs, relu)  # h_t = φ(Z[t] + h_{t-1} W_h)
    del Z  # backward needs only hs

    def backward(g):
        g, dh = _enter(g, stash, 0, lengths, T, B, H, dt)
        dW_x, ids64, db, dW_h = _grad_buffers(w_x, w_h, b, ids, F, H, dt)
        # through φ (tanh → 1 − h², ReLU → 1 where h > 0), back in time through W_h
        dZ = kernels.call(
            "rnn_backward",
            hs,
            g,
            W_h,
            dh,
            relu,
            db=db,
            ids=ids64,
            dW_x=dW_x,
            dW_h=dW_h,
        )
        grads = _sequence_grads(x, x_tm, dZ, w_x, dW_x, dW_h, db)
        return grads + ((dh,) if h0 is not None else ())

    parents = (x, w_x, w_h, b) + ((h0,) if h0 is not None else ())
    out = make_result(_outputs(hs, lengths), parents, backward)
    (h_last,) = _final_states(out, [_at_end(hs, lengths)], stash)
    return out, h_last


# --- long short-term memory ------------------------------------------------------


def lstm(
    x, weight_ih, weight_hh, bias, h0=None, c0=None, keep_gates=False, lengths=None
):
    """A long short-term memory layer over a whole sequence, as one graph node.

    Gate order in every weight and bias (4 blocks of H columns): forget,
    input, candidate, output. With z_t = x_t W_x + h_{t-1} W_h + b::

        f_t = σ(z_f)          forget gate
        i_t = σ(z_i)          input gate
        g_t = tanh(z_g)       candidate
        o_t = σ(z_o)          output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    Local derivatives (the backward pass): σ → s(1 − s); tanh → 1 − t²;
    a gate times a signal → the other factor; the cell-to-cell path → f_t,
    which is why gradients survive many steps when the forget gate stays
    open.

    Shapes: x (B, T, F); weight_ih (F, 4H); weight_hh (H, 4H); bias (4H,);
    h0, c0 (B, H) or None (zeros); lengths (B,) or None, as in :func:`rnn`.

    Returns
    -------
    hs : Tensor (B, T, H)
        Every step's hidden state h_t.
    h_last, c_last : Tensor (B, H)
        The final hidden and cell state (both differentiable).
    gates : dict, only with ``keep_gates=True``
        Plain arrays (B, T, H) of every step's ``forget``, ``input``,
        ``candidate`` and ``output`` gate values and ``cell`` state, to look at.
    """
    x, w_x, w_h, b, (h0, c0), (B, T, F, H) = _prepare(
        "lstm", x, weight_ih, weight_hh, bias, [("h0", h0), ("c0", c0)], 4
    )
    lengths = check_lengths("lstm", lengths, B, T)
    dt = w_h.dtype
    hs = np.empty((T + 1, B, H), dt)  # hs[t + 1] = h_t; hs[0] = h0
    hs[0] = 0 if h0 is None else h0.data
    cs = np.empty((T + 1, B, H), dt)  # cs[t + 1] = c_t; cs[0] = c0
    cs[0] = 0 if c0 is None else c0.data
    stash = [None, None]
    S, x_tm, ids = _input_products(x, w_x.data, b.data, dt)
    S = np.ascontiguousarray(S, dt).reshape(T, B, 4 * H)
    tanh_c = np.empty((T, B, H), dt)
    W_h = np.ascontiguousarray(w_h.data, dt)
    kernels.call("lstm_forward", S, W_h, hs, cs, tanh_c)  # S now holds the gates

    def backward(g):
        g, dh = _enter(g, stash, 0, lengths, T, B, H, dt)
        gc, dc = _enter(None, stash, 1, lengths, T, B, H, dt)
        dW_x, ids64, db, dW_h = _grad_buffers(w_x, w_h, b, ids, F, 4 * H, dt)
        # σ → s(1 − s), tanh → 1 − t², the cell path → f (kernels.recurrent)
        dZ = kernels.call(
            "lstm_backward",
            S,
            hs,
            cs,
            tanh_c,
            g,
            W_h,
            dh,
            dc,
            db=db,
            ids=ids64,
            dW_x=dW_x,
            dW_h=dW_h,
            gc=gc,
        )
        grads = _sequence_grads(x, x_tm, dZ, w_x, dW_x, dW_h, db)
        return grads + tuple(d for s, d in ((h0, dh), (c0, dc)) if s is not None)

    parents = (x, w_x, w_h, b) + tuple(s for s in (h0, c0) if s is not None)
    out = make_result(_outputs(hs, lengths), parents, backward)
    ends = [_at_end(hs, lengths), _at_end(cs, lengths)]
    h_last, c_last = _final_states(out, ends, stash)
    if not keep_gates:
        return out, h_last, c_last
    names = ("forget", "input", "candidate", "output")
    gates = {
        n: S[..., j * H : (j + 1) * H].transpose(1, 0, 2).copy()
        for j, n in enumerate(names)
    }
    gates["cell"] = cs[1:].transpose(1, 0, 2).copy()
    return out, h_last, c_last, gates


# --- gated recurrent unit ----------------------------------------------------------


def gru(
    x,
    weight_ih,
    weight_hh,
    bias,
    bias_hn,
    h0=None,
    keep_gates: bool = False,
    lengths=None,
):
    """A gated recurrent unit over a whole sequence, as one graph node.

    Gate order in every weight and bias (3 blocks of H columns): reset,
    update, candidate (PyTorch's r, z, n). With a_t = x_t W_x + b and
    q_t = h_{t-1} W_h::

        r_t = σ(a_r + q_r)                  reset gate
        z_t = σ(a_z + q_z)                  update gate
        n_t = tanh(a_n + r_t * (q_n + b_hn))  candidate
        h_t = (1 − z_t) * n_t + z_t * h_{t-1}

    Local derivatives: σ → s(1 − s); tanh → 1 − n²; a gate times a signal →
    the other factor; h_{t-1} → h_t directly through z_t, and through W_h.

    Shapes: x (B, T, F); weight_ih (F, 3H); weight_hh (H, 3H); bias (3H,);
    bias_hn (H,); h0 (B, H) or None; lengths (B,) or None, as in :func:`rnn`.

    Returns
    -------
    hs : Tensor (B, T, H)
    h_last : Tensor (B, H)
    gates : dict, only with ``keep_gates=True``
        Plain arrays (B, T, H) of every step's ``reset``, ``update`` and
        ``candidate`` values, to look at.
    """
    x, w_x, w_h, b, (h0,), (B, T, F, H) = _prepare(
        "gru", x, weight_ih, weight_hh, bias, [("h0", h0)], 3
    )
    b_hn = as_tensor(bias_hn)
    if b_hn.shape != (H,):
        raise ShapeError(
            f"gru: bias_hn must have shape {shape_str((H,))} for hidden size {H}; "
            f"got {shape_str(b_hn.shape)}."
        )
    lengths = check_lengths("gru", lengths, B, T)
    dt = w_h.dtype
    hs = np.empty((T + 1, B, H), dt)  # hs[t + 1] = h_t; hs[0] = h0
    hs[0] = 0 if h0 is None else h0.data
    stash = [None]
    S, x_tm, ids = _input_products(x, w_x.data, b.data, dt)
    S = np.ascontiguousarray(S, dt).reshape(T, B, 3 * H)
    hn = np.empty((T, B, H), dt)
    W_h = np.ascontiguousarray(w_h.data, dt)
    kernels.call("gru_forward", S, W_h, b_hn.data.astype(dt), hs, hn)  # S: gates

    def backward(g):
        g, dh = _enter(g, stash, 0, lengths, T, B, H, dt)
        dW_x, ids64, db, dW_h = _grad_buffers(w_x, w_h, b, ids, F, 3 * H, dt)
        db_hn = np.empty(H, dt) if b_hn.requires_grad else None
        # σ → s(1 − s), tanh → 1 − n², h_{t-1} → z_t and W_h (kernels.recurrent)
        dZ = kernels.call(
            "gru_backward", S, hs, hn, g, W_h, dh,
            db=db, db_hn=db_hn, ids=ids64, dW_x=dW_x, dW_h=dW_h,
        )  # fmt: skip
        grads = _sequence_grads(x, x_tm, dZ, w_x, dW_x, dW_h, db) + (db_hn,)
        return grads + ((dh,) if h0 is not None else ())

    parents = (x, w_x, w_h, b, b_hn) + ((h0,) if h0 is not None else ())
    out = make_result(_outputs(hs, lengths), parents, backward)
    (h_last,) = _final_states(out, [_at_end(hs, lengths)], stash)
    if not keep_gates:
        return out, h_last
    names = ("reset", "update", "candidate")
    gates = {
        n: S[..., j * H : (j + 1) * H].transpose(1, 0, 2).copy()
        for j, n in enumerate(names)
    }
    return out, h_last, gates
