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

Compiled loops. For float32 and float64 the time loops of ``lstm`` and
``rnn`` (forward: the recurrent product and the squashing; backward: the local
derivatives, the recurrent product and the weight gradients) run in C, one
call for each direction, when glassnet's optional kernel ``_native/lstm.c``
builds on this machine (see :mod:`glassnet._native`; ``GLASSNET_NATIVE=0``
turns it off). They compute the same equations on the same arrays as the
NumPy loops below (``_lstm_numpy``, ``_rnn_numpy``), which stay the reference
and the fallback; results agree to rounding (tests/test_native_lstm.py).
"""

from __future__ import annotations

import ctypes
from functools import partial

import numpy as np

from .. import _native
from .._validate import shape_str
from ..errors import ConfigError, DataError, ShapeError
from ..tensor import Tensor, as_tensor, make_result

__all__ = ["embedding", "lstm", "rnn"]

#: Look up rows of W_x instead of multiplying when a recurrent op's input is
#: one-hot (the same numbers, without the products with zeros). Set False
#: to always multiply, e.g. to compare with a library that does.
ONE_HOT_LOOKUP = True

#: Up to this many (vocabulary x occurrences) cells, embedding's backward
#: scatter-adds by one matrix product; beyond it, by a bincount.
DENSE_SCATTER_LIMIT = 4_000_000


# --- symbols in ----------------------------------------------------------------

def embedding(ids, weight) -> Tensor:
    """Row ``ids`` of ``weight``: each symbol's learned vector.

    Equal to ``one_hot(ids) @ weight`` without building the one-hot rows.
    Local derivative: a row read once per occurrence, so its gradient is the
    sum of the output gradients of every place the symbol occurred (a
    scatter-add; d(out)/d(weight row) = 1 where that row was read).

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
            return (picks @ g2,)
        cells = (flat[:, None] * dim + np.arange(dim)).reshape(-1)
        summed = np.bincount(cells, weights=g2.reshape(-1), minlength=n * dim)
        return (summed.reshape(n, dim).astype(g.dtype),)

    return make_result(out, (weight,), backward)


# --- shared plumbing -------------------------------------------------------------

def _prepare(op: str, x, weight_ih, weight_hh, bias, states, n_gates: int):
    """Tensors, sizes and checks shared by rnn and lstm."""
    x, weight_ih, weight_hh, bias = (as_tensor(t) for t in (x, weight_ih, weight_hh, bias))
    if x.ndim != 3:
        raise ShapeError(f"{op}: expected x of shape (batch, time, features); "
                         f"got shape {shape_str(x.shape)}.")
    B, T, F = x.shape
    H = weight_hh.shape[0]
    want = {"weight_ih": (F, n_gates * H), "weight_hh": (H, n_gates * H),
            "bias": (n_gates * H,)}
    for name, t in (("weight_ih", weight_ih), ("weight_hh", weight_hh), ("bias", bias)):
        if t.shape != want[name]:
            raise ShapeError(f"{op}: {name} must have shape {shape_str(want[name])} for "
                             f"{F} input features and hidden size {H}; "
                             f"got {shape_str(t.shape)}.")
    if T == 0:
        raise ShapeError(f"{op}: the sequence has no time steps (shape {shape_str(x.shape)}).")
    out_states = []
    for name, s in states:
        if s is None:
            out_states.append(None)
            continue
        s = as_tensor(s, weight_hh)
        if s.shape != (B, H):
            raise ShapeError(f"{op}: initial state {name} must have shape "
                             f"{shape_str((B, H))}; got {shape_str(s.shape)}.")
        out_states.append(s)
    return x, weight_ih, weight_hh, bias, out_states, (B, T, F, H)


def _time_major(x: Tensor, dt) -> np.ndarray:
    """x (B, T, F) as a contiguous (T, B, F) array of dtype ``dt``."""
    return np.ascontiguousarray(x.data.transpose(1, 0, 2), dtype=dt)


def _one_hot_ids(x: np.ndarray):
    """Time-major symbol ids (T * B,) when every row of x (B, T, F) is one-hot, else None.

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
    """x_t @ W + b for every time step at once: (T * B, out), time-major; x time-major; ids.

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


def _weight_grads(x, x_tm, hs, dZ, weight_ih, weight_hh, bias):
    """d/dW_x, d/dW_h, d/db from every step's gradient of the weighted sums.

    Step t's weighted sums were x_t @ W_x + h_{t-1} @ W_h + b, so over all
    steps at once: d/dW_x = Xᵀ dZ, d/dW_h = H_prevᵀ dZ (one product each,
    after the loop) and d/db = Σ dZ. ``hs[t]`` is h_{t-1}.
    """
    B, T, F = x.shape
    dW_ih = dW_hh = None
    if weight_ih.requires_grad:
        x_tm = _time_major(x, dZ.dtype) if x_tm is None else x_tm
        dW_ih = x_tm.reshape(T * B, F).T @ dZ
    if weight_hh.requires_grad:
        dW_hh = hs[:T].reshape(T * B, weight_hh.shape[0]).T @ dZ
    db = dZ.sum(axis=0) if bias.requires_grad else None
    return dW_ih, dW_hh, db


def _input_grad(x, dZ, weight_ih, T, B, F):
    """d/dx: each step's input reached its weighted sums through W_x (weight → W_x)."""
    if not x.requires_grad:
        return None
    return (dZ @ weight_ih.data.T).reshape(T, B, F).transpose(1, 0, 2)


# --- the compiled loops (optional) ------------------------------------------------

_P, _N = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {
    "lstm": {
        # steps, B, H, S, W_h, hs, cs, tanh_c
        "forward": [_N, _N, _N, _P, _P, _P, _P, _P],
        # steps, B, H, S, hs, cs, tanh_c, g, W_hT, dZ, dh, dc, db, ids, dW_x, dW_h
        "backward": [_N, _N, _N] + [_P] * 13,
    },
    "rnn": {
        # steps, B, H, relu, Z, W_h, hs
        "forward": [_N, _N, _N, _N, _P, _P, _P],
        # steps, B, H, relu, hs, g, W_hT, dZ, dh, db, ids, dW_x, dW_h
        "backward": [_N, _N, _N, _N] + [_P] * 9,
    },
}


def _kernels(kind: str, dt):
    """The compiled loops of ``kind`` ('lstm', 'rnn') for dtype ``dt``: (forward, backward).

    None (use the NumPy loops) for dtypes other than float32 and float64,
    with ``GLASSNET_NATIVE=0``, or when the kernel cannot be built here
    (``glassnet._native.status()`` says why).
    """
    return _native.functions(
        "lstm", np.dtype(dt), {f"gn_{kind}_{name}": argtypes
                               for name, argtypes in _SIGNATURES[kind].items()})


def _contiguous(a, dt):
    """``a`` as a C-contiguous array of dtype ``dt`` (no copy when it already is)."""
    return np.ascontiguousarray(a, dtype=dt)


def _opt_ptr(a):
    """An optional array's address for a C call: None (NULL) for no array.

    Only an address is passed: the caller keeps the array alive (a name
    bound to it) until the call returns, never ``ptr(np.some_new_array())``.
    """
    return None if a is None else a.ctypes.data


def _output_grad(g, dt):
    """The output sequence's gradient (B, T, H) for C: contiguous, or None for zeros.

    When only the final state was used, the sequence's gradient is a broadcast
    zero; the kernel is then told there is none instead of reading zeros.
    """
    if g.size and not any(g.strides) and not g.flat[0]:
        return None
    return _contiguous(g, dt)


def _grad_buffers(w_x, w_h, b, ids, F, G, dt):
    """Buffers the backward kernel fills: dW_x (one-hot input only), ids, db, dW_h.

    None for a weight that needs no gradient. For one-hot input the kernel
    adds row r of dZ into row ids[r] of dW_x (zeroed here), which is what
    Xᵀ dZ is for a one-hot X; for other input dW_x stays None and is one
    product after the kernel (``_dense_input_weight_grad``).
    """
    scatter = ids is not None and w_x.requires_grad
    dW_x = np.zeros((F, G), dt) if scatter else None
    ids64 = _contiguous(ids, np.int64) if scatter else None
    db = np.empty(G, dt) if b.requires_grad else None
    dW_h = np.empty((w_h.shape[0], G), dt) if w_h.requires_grad else None
    return dW_x, ids64, db, dW_h


def _dense_input_weight_grad(x, x_tm, dZ2, dt):
    """d/dW_x = Xᵀ dZ over all steps at once (time-major X, (T * B, F))."""
    B, T, F = x.shape
    xs = _time_major(x, dt) if x_tm is None else x_tm
    return xs.reshape(T * B, F).T @ dZ2


# --- plain recurrent layer -----------------------------------------------------

def _rnn_numpy(x, w_x, w_h, b, h0, hs, stash, nonlinearity):
    """The RNN's time loops in NumPy (the reference, and the fallback of the C kernel).

    Fills ``hs[1:]`` (``hs[0]`` holds the initial state); returns the backward
    function of the sequence node.
    """
    B, T, F = x.shape
    H = w_h.shape[0]
    dt = w_h.dtype
    Z, x_tm, _ = _input_products(x, w_x.data, b.data, dt)
    Z = Z.reshape(T, B, H)
    W_h = w_h.data
    for t in range(T):
        z = Z[t]
        z += np.matmul(hs[t], W_h, out=hs[t + 1])
        if nonlinearity == "tanh":
            np.tanh(z, out=hs[t + 1])
        else:
            np.maximum(z, 0, out=hs[t + 1])
    hs_tm = hs[1:]

    def backward(g):
        # Local derivative of the squashing, for every step at once: tanh → 1 − h².
        if nonlinearity == "tanh":
            dZ = 1 - hs_tm * hs_tm
        else:
            dZ = (hs_tm > 0).astype(dt)
        g_tm = g.transpose(1, 0, 2)
        dh = np.zeros((B, H), dt) if stash[0] is None else np.array(stash[0], dt)
        stash[0] = None
        W_hT = np.ascontiguousarray(W_h.T)  # a copy: BLAS splits it better across threads
        for t in range(T - 1, -1, -1):
            dh += g_tm[t]              # from the output at t and from step t + 1
            dZ[t] *= dh                # through the squashing: d/d(weighted sum)
            np.matmul(dZ[t], W_hT, out=dh)   # back to h_{t-1}: weight → W_h
        dZ2 = dZ.reshape(T * B, H)
        grads = (_input_grad(x, dZ2, w_x, T, B, F),
                 *_weight_grads(x, x_tm, hs, dZ2, w_x, w_h, b))
        return grads + ((dh,) if h0 is not None else ())

    return backward


def _rnn_native(kernels, x, w_x, w_h, b, h0, hs, stash, nonlinearity):
    """The RNN's time loops as two C calls (``_native/lstm.c``); see ``_rnn_numpy``.

    As for the LSTM (``_lstm_native``): backward also gives the bias, W_h
    and, for one-hot input, W_x gradients.
    """
    forward, backward_c = kernels
    B, T, F = x.shape
    H = w_h.shape[0]
    dt = w_h.dtype
    relu = int(nonlinearity == "relu")
    ptr = _native.ptr
    Z, x_tm, ids = _input_products(x, w_x.data, b.data, dt)
    Z = _contiguous(Z, dt).reshape(T, B, H)
    W_h = _contiguous(w_h.data, dt)  # named: it must outlive the call
    forward(T, B, H, relu, ptr(Z), ptr(W_h), ptr(hs))
    del Z  # backward needs only hs

    def backward(g):
        g = _output_grad(g, dt)
        dh = np.zeros((B, H), dt) if stash[0] is None else np.array(stash[0], dt, order="C")
        stash[0] = None
        dZ = np.empty((T, B, H), dt)
        dW_x, ids64, db, dW_h = _grad_buffers(w_x, w_h, b, ids, F, H, dt)
        W_hT = np.ascontiguousarray(w_h.data.T, dt)
        backward_c(T, B, H, relu, ptr(hs), _opt_ptr(g), ptr(W_hT), ptr(dZ), ptr(dh),
                   _opt_ptr(db), _opt_ptr(ids64), _opt_ptr(dW_x), _opt_ptr(dW_h))
        dZ2 = dZ.reshape(T * B, H)
        if w_x.requires_grad and dW_x is None:
            dW_x = _dense_input_weight_grad(x, x_tm, dZ2, dt)
        grads = (_input_grad(x, dZ2, w_x, T, B, F), dW_x, dW_h, db)
        return grads + ((dh,) if h0 is not None else ())

    return backward


def rnn(x, weight_ih, weight_hh, bias, h0=None, nonlinearity: str = "tanh"):
    """A plain (Elman) recurrent layer over a whole sequence, as one graph node.

    .. math:: h_t = \\phi(x_t W_x + h_{t-1} W_h + b), \\quad h_{-1} = h_0 \\text{ or } 0

    with φ = tanh (squashing keeps the loop from blowing up) or ReLU.

    Local derivatives: through tanh → 1 − h², through ReLU → 1 where h > 0;
    then to the previous hidden state → W_h, to the weights → the step's
    inputs [x_t, h_{t-1}].

    Shapes: x (B, T, F); weight_ih (F, H); weight_hh (H, H); bias (H,);
    h0 (B, H) or None.

    Returns
    -------
    hs : Tensor (B, T, H)
        Every step's hidden state.
    h_last : Tensor (B, H)
        The final hidden state (differentiable).
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ConfigError(f"rnn: nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}.")
    x, w_x, w_h, b, (h0,), (B, T, F, H) = _prepare(
        "rnn", x, weight_ih, weight_hh, bias, [("h0", h0)], 1)
    dt = w_h.dtype
    hs = np.empty((T + 1, B, H), dt)          # hs[t + 1] = h_t; hs[0] = h0
    hs[0] = 0 if h0 is None else h0.data
    stash = [None]
    kernels = _kernels("rnn", dt)
    run = _rnn_numpy if kernels is None else partial(_rnn_native, kernels)
    backward = run(x, w_x, w_h, b, h0, hs, stash, nonlinearity)
    hs_tm = hs[1:]
    parents = (x, w_x, w_h, b) + ((h0,) if h0 is not None else ())
    out = make_result(np.ascontiguousarray(hs_tm.transpose(1, 0, 2)), parents, backward)
    (h_last,) = _final_states(out, [hs[T].copy()], stash)
    return out, h_last


# --- long short-term memory ------------------------------------------------------

def _exp_scale(H: int, dt):
    """Per-column factors that let ONE exp serve all four gates.

    σ(z) = 1 / (1 + e^(−z)) for the forget, input and output gates, and
    tanh(z) = 2σ(2z) − 1 = 2 / (1 + e^(−2z)) − 1 for the candidate; so the
    weighted sums are scaled by −1 (−2 for the candidate), exponentiated,
    increased by 1 and divided into 1 (into 2 for the candidate, which then
    only needs its − 1).
    """
    k = np.full(4 * H, -1.0, dt)
    k[2 * H:3 * H] = -2.0
    numerator = np.ones(4 * H, dt)
    numerator[2 * H:3 * H] = 2.0
    return k, numerator


def _lstm_numpy(x, w_x, w_h, b, h0, c0, hs, cs, stash):
    """The LSTM's time loops in NumPy: the reference, and the fallback of the C kernel.

    Fills ``hs[1:]`` and ``cs[1:]`` (``hs[0]``, ``cs[0]`` hold the initial
    state); returns every step's gate values S (T, B, 4H) and the backward
    function of the sequence node.
    """
    B, T, F = x.shape
    H = w_h.shape[0]
    dt = w_h.dtype
    k, numerator = _exp_scale(H, dt)
    # S: weighted sums of all steps (one product), scaled for the shared exp;
    # each step turns its block into the four gate values in place.
    S, x_tm, _ = _input_products(x, w_x.data * k, b.data * k, dt)
    S = S.reshape(T, B, 4 * H)
    W_hk = w_h.data * k
    tanh_c = np.empty((T, B, H), dt)
    tmp, ig = np.empty((B, 4 * H), dt), np.empty((B, H), dt)
    f_, i_, g_, o_ = (slice(j * H, (j + 1) * H) for j in range(4))
    with np.errstate(over="ignore"):  # e^(large) = inf gives σ = 0, as it should
        for t in range(T):
            s = S[t]
            s += np.matmul(hs[t], W_hk, out=tmp)
            np.exp(s, out=s)
            s += 1
            np.divide(numerator, s, out=s)       # σ for the gates, 2σ(2z) for g
            g = s[:, g_]
            g -= 1                               # candidate: tanh = 2σ(2z) − 1
            c = cs[t + 1]
            np.multiply(s[:, f_], cs[t], out=c)  # keep what the forget gate lets through
            np.multiply(s[:, i_], g, out=ig)     # add what the input gate lets in
            c += ig
            np.tanh(c, out=tanh_c[t])
            np.multiply(s[:, o_], tanh_c[t], out=hs[t + 1])  # select what to show

    def backward(g):
        # Local derivatives of every gate at every step, times the factor each
        # gate multiplied: f·c_{t-1}, i·g, g·i, o·tanh(c). Then each step only
        # scales these by the gradient reaching c_t (or h_t for o).
        S4 = S.reshape(T, B, 4, H)
        dZ = 1 - S
        dZ *= S                                      # σ → s(1 − s)
        dZ4 = dZ.reshape(T, B, 4, H)
        np.multiply(S4[:, :, 2], S4[:, :, 2], out=dZ4[:, :, 2])
        np.subtract(1, dZ4[:, :, 2], out=dZ4[:, :, 2])   # candidate: tanh → 1 − g²
        dZ4[:, :, 0] *= cs[:T]                       # forget gate multiplied c_{t-1}
        dZ4[:, :, 1] *= S4[:, :, 2]                  # input gate multiplied g
        dZ4[:, :, 2] *= S4[:, :, 1]                  # candidate was multiplied by i
        dZ4[:, :, 3] *= tanh_c                       # output gate multiplied tanh(c)
        dtanh = 1 - tanh_c * tanh_c
        dtanh *= S4[:, :, 3]                         # dh_t/dc_t = o (1 − tanh²c)
        g_tm = g.transpose(1, 0, 2)
        dh = np.zeros((B, H), dt) if stash[0] is None else np.array(stash[0], dt)
        dc = np.zeros((B, H), dt) if stash[1] is None else np.array(stash[1], dt)
        stash[0] = stash[1] = None
        W_hT = np.ascontiguousarray(w_h.data.T)  # a copy: BLAS splits it better across threads
        for t in range(T - 1, -1, -1):
            dh += g_tm[t]                       # from the output at t and from step t + 1
            np.multiply(dh, dtanh[t], out=ig)
            dc += ig                            # gradient reaching c_t
            dZ4[t, :, :3] *= dc[:, None]        # forget, input, candidate gates
            dZ4[t, :, 3] *= dh                  # output gate
            dc *= S4[t, :, 0]                   # back to c_{t-1}: through the forget gate
            np.matmul(dZ[t], W_hT, out=dh)      # back to h_{t-1}: weight → W_h
        dZ2 = dZ.reshape(T * B, 4 * H)
        grads = (_input_grad(x, dZ2, w_x, T, B, F),
                 *_weight_grads(x, x_tm, hs, dZ2, w_x, w_h, b))
        return grads + tuple(d for s, d in ((h0, dh), (c0, dc)) if s is not None)

    return S, backward


def _lstm_native(kernels, x, w_x, w_h, b, h0, c0, hs, cs, stash):
    """The LSTM's time loops as two C calls (``_native/lstm.c``); see ``_lstm_numpy``.

    The same arrays as the NumPy loops, except that S holds the plain weighted
    sums (no scaling for a shared exp) until the forward call turns them into
    the gate values. Backward does the whole reverse loop, the bias and W_h
    gradients and, for one-hot input, W_x's (see ``_grad_buffers``) in C.
    """
    forward, backward_c = kernels
    B, T, F = x.shape
    H = w_h.shape[0]
    dt = w_h.dtype
    ptr = _native.ptr
    S, x_tm, ids = _input_products(x, w_x.data, b.data, dt)
    S = _contiguous(S, dt).reshape(T, B, 4 * H)
    tanh_c = np.empty((T, B, H), dt)
    W_h = _contiguous(w_h.data, dt)  # named: it must outlive the call
    forward(T, B, H, ptr(S), ptr(W_h), ptr(hs), ptr(cs), ptr(tanh_c))

    def backward(g):
        g = _output_grad(g, dt)
        dh = np.zeros((B, H), dt) if stash[0] is None else np.array(stash[0], dt, order="C")
        dc = np.zeros((B, H), dt) if stash[1] is None else np.array(stash[1], dt, order="C")
        stash[0] = stash[1] = None
        dZ = np.empty((T, B, 4 * H), dt)
        dW_x, ids64, db, dW_h = _grad_buffers(w_x, w_h, b, ids, F, 4 * H, dt)
        W_hT = np.ascontiguousarray(w_h.data.T, dt)
        backward_c(T, B, H, ptr(S), ptr(hs), ptr(cs), ptr(tanh_c), _opt_ptr(g), ptr(W_hT),
                   ptr(dZ), ptr(dh), ptr(dc), _opt_ptr(db), _opt_ptr(ids64), _opt_ptr(dW_x),
                   _opt_ptr(dW_h))
        dZ2 = dZ.reshape(T * B, 4 * H)
        if w_x.requires_grad and dW_x is None:
            dW_x = _dense_input_weight_grad(x, x_tm, dZ2, dt)
        grads = (_input_grad(x, dZ2, w_x, T, B, F), dW_x, dW_h, db)
        return grads + tuple(d for s, d in ((h0, dh), (c0, dc)) if s is not None)

    return S, backward


def lstm(x, weight_ih, weight_hh, bias, h0=None, c0=None, keep_gates: bool = False):
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
    h0, c0 (B, H) or None (zeros).

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
        "lstm", x, weight_ih, weight_hh, bias, [("h0", h0), ("c0", c0)], 4)
    dt = w_h.dtype
    hs = np.empty((T + 1, B, H), dt)            # hs[t + 1] = h_t; hs[0] = h0
    hs[0] = 0 if h0 is None else h0.data
    cs = np.empty((T + 1, B, H), dt)            # cs[t + 1] = c_t; cs[0] = c0
    cs[0] = 0 if c0 is None else c0.data
    stash = [None, None]
    kernels = _kernels("lstm", dt)
    if kernels is not None:
        S, backward = _lstm_native(kernels, x, w_x, w_h, b, h0, c0, hs, cs, stash)
    else:
        S, backward = _lstm_numpy(x, w_x, w_h, b, h0, c0, hs, cs, stash)
    hs_tm = hs[1:]
    parents = (x, w_x, w_h, b) + tuple(s for s in (h0, c0) if s is not None)
    out = make_result(np.ascontiguousarray(hs_tm.transpose(1, 0, 2)), parents, backward)
    h_last, c_last = _final_states(out, [hs[T].copy(), cs[T].copy()], stash)
    if not keep_gates:
        return out, h_last, c_last
    names = ("forget", "input", "candidate", "output")
    gates = {n: S[..., j * H:(j + 1) * H].transpose(1, 0, 2).copy() for j, n in enumerate(names)}
    gates["cell"] = cs[1:].transpose(1, 0, 2).copy()
    return out, h_last, c_last, gates
