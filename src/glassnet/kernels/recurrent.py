"""Recurrent layers over a whole sequence: the RNN and LSTM cells, and BPTT.

Each kernel runs the time loop of one direction for the whole sequence, on
time-major arrays (``[t]`` is a contiguous (B, ...) block):

- ``Z`` / ``S`` (T, B, G): the input's weighted sums of every step,
  x_t W_x + b (one product before the loop, done by the op); the forward
  adds the recurrent product h_{t-1} W_h to them in place (and the LSTM's
  forward turns them into the gate values);
- ``hs``, ``cs`` (T + 1, B, H): ``[0]`` the initial state (set by the
  caller), ``[t + 1]`` the state after step t; ``tanh_c`` (T, B, H) tanh(c_t);
- ``g`` (B, T, H), batch-first: the output sequence's gradient, or None when
  only the final state was used;
- ``dh`` (and ``dc``) (B, H): the final state's gradient in, the initial
  state's out;
- optional buffers, filled when given: ``db`` (G,), ``dW_h`` (H, G) and, for
  one-hot input, ``dW_x`` (F, G), zeroed by the caller, into whose row
  ``ids[r]`` row r of dZ is added (that is Xᵀ dZ for a one-hot X).

The backward kernels return dZ (T, B, G), the gradient of every step's
weighted sums; the op turns it into the input's gradient. The squashing
functions and their derivatives are the activation kernels
(:mod:`glassnet.kernels.activations`); the compiled variants
(``_native/lstm.c``, the LSTM's, the RNN's and the GRU's) use common.h's
copies of the same formulas and agree to rounding.
"""

from __future__ import annotations

import numpy as np

from . import _draw, native, register, variant
from ._threads import most_threads
from .activations import (
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    tanh,
    tanh_backward,
)

__all__ = [
    "gru_backward",
    "gru_forward",
    "lstm_backward",
    "lstm_forward",
    "rnn_backward",
    "rnn_forward",
]


def _sequence_grads(hs, dZ, db, ids, dW_x, dW_h) -> None:
    """db = Σ dZ, dW_h = H_prevᵀ dZ, dW_x[ids[r]] += dZ[r]: over all steps at once.

    Step t's weighted sums were x_t W_x + h_{t-1} W_h + b, so each weight's
    gradient is one product over every step (``hs[t]`` is h_{t-1}).
    """
    T, B, G = dZ.shape
    dZ2 = dZ.reshape(T * B, G)
    if db is not None:
        np.sum(dZ2, axis=0, out=db)
    if dW_h is not None:
        np.matmul(hs[:T].reshape(T * B, hs.shape[2]).T, dZ2, out=dW_h)
    if dW_x is not None:  # as one product with the one-hot rows: BLAS, not a loop
        picks = np.zeros((dW_x.shape[0], T * B), dZ.dtype)
        picks[ids, np.arange(T * B)] = 1
        dW_x += picks @ dZ2


# --- argument generators ------------------------------------------------------------


def _sizes(draw):
    """T, B, H, F: one step and batch 1 included, odd sizes."""
    return tuple(_draw.size(draw, 1, n) for n in (5, 3, 5, 4))


def _state(draw, T, B, H, dt):
    hs = np.empty((T + 1, B, H), dt)
    hs[0] = _draw.array(draw, (B, H), dt)
    return hs


def _grad_buffers(draw, T, B, H, F, G, dt):
    """db, ids, dW_x, dW_h, each present or not."""
    st = _draw._st()
    db = np.empty(G, dt) if draw(st.booleans()) else None
    dW_h = np.empty((H, G), dt) if draw(st.booleans()) else None
    ids = dW_x = None
    if draw(st.booleans()):
        seed = draw(st.integers(0, 2**32 - 1))
        ids = np.random.default_rng(seed).integers(0, F, T * B).astype(np.int64)
        dW_x = np.zeros((F, G), dt)
    return {"db": db, "ids": ids, "dW_x": dW_x, "dW_h": dW_h}


def _output_grad(draw, T, B, H, dt):
    if draw(_draw._st().booleans()):
        return None
    return _draw.array(draw, (B, T, H), dt, layout="contiguous")


def _contiguous(*arrays) -> bool:
    return all(a is None or a.flags.c_contiguous for a in arrays)


def _ptr(a):
    """An optional array's address: None (NULL) for no array."""
    return None if a is None else a.ctypes.data


_AGREE = {"agreement": "rounding", "rtol": 2e-4, "atol": 2e-5}

#: Multiply-adds of a recurrent product per extra thread: below this the
#: compiled LSTM runs its batch on one thread (each call makes its threads,
#: tens of microseconds each).
WORK_PER_THREAD = 1 << 20


def _threads(T, B, H) -> int:
    """Threads for a compiled LSTM pass: its batch rows split between them."""
    return max(1, min(most_threads(), B, T * B * 4 * H * H // WORK_PER_THREAD))


# --- plain (Elman) RNN --------------------------------------------------------------


def _rnn_args(draw):
    T, B, H, _ = _sizes(draw)
    dt = _draw.dtype(draw)
    Z = _draw.array(draw, (T, B, H), dt, scale=2, layout="contiguous")
    W_h = _draw.array(draw, (H, H), dt, scale=0.5, layout="contiguous")
    return (Z, W_h, _state(draw, T, B, H, dt), draw(_draw._st().booleans())), {}


@register("rnn_forward", args=_rnn_args)
def rnn_forward(Z, W_h, hs, relu_=False):
    """h_t = φ(z_t), z_t = Z[t] + h_{t-1} W_h (left in Z[t]); φ = tanh, or ReLU."""
    tmp = np.empty_like(hs[0])
    mask = np.empty(tmp.shape, bool)
    for t in range(Z.shape[0]):
        z = Z[t]
        z += np.matmul(hs[t], W_h, out=tmp)
        if relu_:
            relu(z, out=hs[t + 1], mask=mask)
        else:
            tanh(z, out=hs[t + 1])
    return hs


def _rnn_c_applies(Z, W_h, hs, relu_=False) -> bool:
    return _contiguous(Z, W_h, hs) and Z.dtype == W_h.dtype == hs.dtype


@variant("rnn_forward", uses=("gn_rnn_forward",), applies=_rnn_c_applies, **_AGREE)
def rnn_forward_c(Z, W_h, hs, relu_=False):
    """_native/lstm.c: the whole loop in one call."""
    T, B, H = Z.shape
    native("gn_rnn_forward", Z.dtype)(
        T, B, H, int(relu_), Z.ctypes.data, W_h.ctypes.data, hs.ctypes.data
    )
    return hs


def _rnn_backward_args(draw):
    (Z, W_h, hs, relu_), _ = _rnn_args(draw)
    rnn_forward(Z, W_h, hs, relu_)
    T, B, H = Z.shape
    dt = Z.dtype
    dh = _draw.array(draw, (B, H), dt, layout="contiguous")
    g = _output_grad(draw, T, B, H, dt)
    F = _draw.size(draw, 1, 4)
    return (hs, g, W_h, dh, relu_), _grad_buffers(draw, T, B, H, F, H, dt)


@register("rnn_backward", args=_rnn_backward_args)
def rnn_backward(hs, g, W_h, dh, relu_=False, db=None, ids=None, dW_x=None, dW_h=None):
    """dZ: walking back from the last step, dz_t = dh_t · φ'(z_t), where dh_t
    is the output's gradient at t plus dz_{t+1} W_hᵀ (weight → W_h).

    φ' from the output: tanh → 1 − h², ReLU → 1 where h > 0.
    """
    T = hs.shape[0] - 1
    dZ = np.empty((T, *hs.shape[1:]), hs.dtype)
    W_hT = np.ascontiguousarray(W_h.T)  # a copy: BLAS splits it better across threads
    for t in range(T - 1, -1, -1):
        if g is not None:
            dh += g[:, t]  # from the output at t and from step t + 1
        if relu_:
            relu_backward(dh, hs[t + 1] > 0, out=dZ[t])
        else:
            tanh_backward(dh, hs[t + 1], out=dZ[t])
        np.matmul(dZ[t], W_hT, out=dh)  # back to h_{t-1}
    _sequence_grads(hs, dZ, db, ids, dW_x, dW_h)
    return dZ


def _c_ready(arrays, buffers) -> bool:
    """The arrays (and gradient buffers) as C reads them: contiguous, one dtype."""
    arrays = [*arrays, *(buffers.get(k) for k in ("db", "dW_x", "dW_h"))]
    ids = buffers.get("ids")
    return (
        _contiguous(*arrays, ids)
        and all(a is None or a.dtype == arrays[0].dtype for a in arrays)
        and (ids is None or ids.dtype == np.int64)
    )


def _rnn_backward_c_applies(hs, g, W_h, dh, relu_=False, **buffers) -> bool:
    return _c_ready([hs, g, W_h, dh], buffers)


@variant(
    "rnn_backward", uses=("gn_rnn_backward",), applies=_rnn_backward_c_applies, **_AGREE
)
def rnn_backward_c(
    hs, g, W_h, dh, relu_=False, db=None, ids=None, dW_x=None, dW_h=None
):
    """_native/lstm.c: the reverse loop and the weight gradients in one call."""
    T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    dZ = np.empty((T, B, H), hs.dtype)
    W_hT = np.ascontiguousarray(W_h.T)
    native("gn_rnn_backward", hs.dtype)(
        T, B, H, int(relu_), hs.ctypes.data, _ptr(g), W_hT.ctypes.data,
        dZ.ctypes.data, dh.ctypes.data, _ptr(db), _ptr(ids), _ptr(dW_x), _ptr(dW_h),
    )  # fmt: skip
    return dZ


# --- long short-term memory ------------------------------------------------------


def _lstm_args(draw):
    T, B, H, _ = _sizes(draw)
    dt = _draw.dtype(draw)
    S = _draw.array(draw, (T, B, 4 * H), dt, scale=2, layout="contiguous")
    W_h = _draw.array(draw, (H, 4 * H), dt, scale=0.5, layout="contiguous")
    hs, cs = _state(draw, T, B, H, dt), _state(draw, T, B, H, dt)
    return (S, W_h, hs, cs, np.empty((T, B, H), dt)), {}


@register("lstm_forward", args=_lstm_args)
def lstm_forward(S, W_h, hs, cs, tanh_c):
    """Gate order in S, W_h (4 blocks of H columns): forget, input, candidate,
    output. With z_t = S[t] + h_{t-1} W_h::

        f_t = σ(z_f)   i_t = σ(z_i)   g_t = tanh(z_g)   o_t = σ(z_o)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    S[t] ends holding (f_t, i_t, g_t, o_t); hs, cs and tanh_c are filled.
    """
    H = W_h.shape[0]
    tmp, ig, cand = np.empty_like(S[0]), np.empty_like(hs[0]), np.empty_like(hs[0])
    for t in range(S.shape[0]):
        s = S[t]
        s += np.matmul(hs[t], W_h, out=tmp)
        g = s[:, 2 * H : 3 * H]
        # σ over the whole contiguous block, then the candidate's tanh put back.
        # (Not σ in place on the column slices: NumPy 2.4's float32 unary
        # ufuncs in place on an (n, 1) slice of a wider array read the wrong
        # elements.)
        tanh(g, out=cand)
        sigmoid(s, out=s)
        g[...] = cand
        o = s[:, 3 * H :]
        c = cs[t + 1]
        np.multiply(s[:, :H], cs[t], out=c)  # keep what the forget gate lets through
        np.multiply(s[:, H : 2 * H], g, out=ig)  # add what the input gate lets in
        c += ig
        tanh(c, out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=hs[t + 1])  # select what to show
    return S


def _lstm_c_applies(S, W_h, hs, cs, tanh_c) -> bool:
    arrays = (S, W_h, hs, cs, tanh_c)
    return _contiguous(*arrays) and all(a.dtype == S.dtype for a in arrays)


@variant("lstm_forward", uses=("gn_lstm_forward",), applies=_lstm_c_applies, **_AGREE)
def lstm_forward_c(S, W_h, hs, cs, tanh_c):
    """_native/lstm.c: the whole loop in one call."""
    T, B, G = S.shape
    native("gn_lstm_forward", S.dtype)(
        T, B, G // 4, S.ctypes.data, W_h.ctypes.data, hs.ctypes.data,
        cs.ctypes.data, tanh_c.ctypes.data, _threads(T, B, G // 4),
    )  # fmt: skip
    return S


def _lstm_backward_args(draw):
    (S, W_h, hs, cs, tanh_c), _ = _lstm_args(draw)
    lstm_forward(S, W_h, hs, cs, tanh_c)
    T, B, H = tanh_c.shape
    dt = S.dtype
    dh = _draw.array(draw, (B, H), dt, layout="contiguous")
    dc = _draw.array(draw, (B, H), dt, layout="contiguous")
    g = _output_grad(draw, T, B, H, dt)
    buffers = _grad_buffers(draw, T, B, H, _draw.size(draw, 1, 4), 4 * H, dt)
    buffers["gc"] = _output_grad(draw, T, B, H, dt)
    return (S, hs, cs, tanh_c, g, W_h, dh, dc), buffers


@register("lstm_backward", args=_lstm_backward_args)
def lstm_backward(
    S, hs, cs, tanh_c, g, W_h, dh, dc, db=None, ids=None, dW_x=None, dW_h=None, gc=None
):
    """dZ from the gate values S: σ → s(1 − s), tanh → 1 − t², a gate times a
    signal → the other factor, the cell-to-cell path → f_t (which is why
    gradients survive many steps when the forget gate stays open).

    First every gate's local derivative at every step times the factor it
    multiplied (f·c_{t-1}, i·g, g·i, o·tanh c); then each step scales them
    by the gradient reaching c_t (or h_t, for o). ``gc`` (B, T, H), if
    given, is a gradient reaching each c_t from outside (a padded batch's
    final cell states, each taken at its own last step).
    """
    T, B, G = S.shape
    S4 = S.reshape(T, B, 4, G // 4)
    f, i, gg, o = (S4[:, :, k] for k in range(4))
    dZ = np.empty_like(S)
    dZ4 = dZ.reshape(S4.shape)
    sigmoid_backward(cs[:T], f, out=dZ4[:, :, 0])  # forget gate multiplied c_{t-1}
    sigmoid_backward(gg, i, out=dZ4[:, :, 1])  # input gate multiplied g
    tanh_backward(i, gg, out=dZ4[:, :, 2])  # candidate was multiplied by i
    sigmoid_backward(tanh_c, o, out=dZ4[:, :, 3])  # output gate multiplied tanh c
    dtanh = tanh_backward(o, tanh_c)  # dh_t/dc_t = o (1 − tanh² c)
    ig = np.empty_like(dh)
    W_hT = np.ascontiguousarray(W_h.T)  # a copy: BLAS splits it better across threads
    for t in range(T - 1, -1, -1):
        if g is not None:
            dh += g[:, t]  # from the output at t and from step t + 1
        if gc is not None:
            dc += gc[:, t]
        dc += np.multiply(dh, dtanh[t], out=ig)  # gradient reaching c_t
        dZ4[t, :, :3] *= dc[:, None]  # forget, input, candidate gates
        dZ4[t, :, 3] *= dh  # output gate
        dc *= f[t]  # back to c_{t-1}: through the forget gate
        np.matmul(dZ[t], W_hT, out=dh)  # back to h_{t-1}: weight → W_h
    _sequence_grads(hs, dZ, db, ids, dW_x, dW_h)
    return dZ


def _lstm_backward_c_applies(
    S, hs, cs, tanh_c, g, W_h, dh, dc, gc=None, **buffers
) -> bool:
    return gc is None and _c_ready([S, hs, cs, tanh_c, g, W_h, dh, dc], buffers)


@variant(
    "lstm_backward",
    uses=("gn_lstm_backward",),
    applies=_lstm_backward_c_applies,
    **_AGREE,
)
def lstm_backward_c(
    S, hs, cs, tanh_c, g, W_h, dh, dc, db=None, ids=None, dW_x=None, dW_h=None, gc=None
):
    """_native/lstm.c: the reverse loop and the weight gradients in one call."""
    T, B, G = S.shape
    dZ = np.empty_like(S)
    W_hT = np.ascontiguousarray(W_h.T)
    native("gn_lstm_backward", S.dtype)(
        T, B, G // 4, S.ctypes.data, hs.ctypes.data, cs.ctypes.data,
        tanh_c.ctypes.data, _ptr(g), W_hT.ctypes.data, dZ.ctypes.data,
        dh.ctypes.data, dc.ctypes.data, _ptr(db), _ptr(ids), _ptr(dW_x), _ptr(dW_h),
        _threads(T, B, G // 4),
    )  # fmt: skip
    return dZ


# --- gated recurrent unit ----------------------------------------------------------


def _gru_args(draw):
    T, B, H, _ = _sizes(draw)
    dt = _draw.dtype(draw)
    S = _draw.array(draw, (T, B, 3 * H), dt, scale=2, layout="contiguous")
    W_h = _draw.array(draw, (H, 3 * H), dt, scale=0.5, layout="contiguous")
    b_hn = _draw.array(draw, (H,), dt)
    return (S, W_h, b_hn, _state(draw, T, B, H, dt), np.empty((T, B, H), dt)), {}


@register("gru_forward", args=_gru_args)
def gru_forward(S, W_h, b_hn, hs, hn):
    """Gate order in S, W_h (3 blocks of H columns): reset, update, candidate
    (PyTorch's r, z, n). With q_t = h_{t-1} W_h::

        r_t = σ(S_r[t] + q_r)     z_t = σ(S_z[t] + q_z)
        n_t = tanh(S_n[t] + r_t * (q_n + b_hn))
        h_t = (1 − z_t) * n_t + z_t * h_{t-1}

    The reset gate scales the recurrent part of the candidate, bias b_hn
    included, as PyTorch (and ONNX with linear_before_reset=1) do. S[t] ends
    holding (r_t, z_t, n_t); hn[t] holds q_n + b_hn, the reset gate's factor.
    """
    H = W_h.shape[0]
    q, rz, n = (
        np.empty_like(S[0]),
        np.empty_like(S[0, :, : 2 * H]),
        np.empty_like(hn[0]),
    )
    for t in range(S.shape[0]):
        np.matmul(hs[t], W_h, out=q)
        sigmoid(np.add(S[t, :, : 2 * H], q[:, : 2 * H], out=rz), out=rz)
        np.add(q[:, 2 * H :], b_hn, out=hn[t])
        np.multiply(rz[:, :H], hn[t], out=n)  # reset: how much of the past to use
        n += S[t, :, 2 * H :]
        tanh(n, out=n)
        h = np.subtract(hs[t], n, out=hs[t + 1])  # update: keep z of the old state
        h *= rz[:, H:]
        h += n
        S[t, :, : 2 * H], S[t, :, 2 * H :] = rz, n
    return S


def _gru_backward_args(draw):
    (S, W_h, b_hn, hs, hn), _ = _gru_args(draw)
    gru_forward(S, W_h, b_hn, hs, hn)
    T, B, H = hn.shape
    dt = S.dtype
    dh = _draw.array(draw, (B, H), dt, layout="contiguous")
    g = _output_grad(draw, T, B, H, dt)
    buffers = _grad_buffers(draw, T, B, H, _draw.size(draw, 1, 4), 3 * H, dt)
    buffers["db_hn"] = np.empty(H, dt) if draw(_draw._st().booleans()) else None
    return (S, hs, hn, g, W_h, dh), buffers


@register("gru_backward", args=_gru_backward_args)
def gru_backward(
    S, hs, hn, g, W_h, dh, db=None, db_hn=None, ids=None, dW_x=None, dW_h=None
):
    """dZ from the gate values S (r, z, n): σ → s(1 − s), tanh → 1 − n²,
    a gate times a signal → the other factor; h_{t-1} reaches h_t directly
    through z_t (the update gate's shortcut) and through W_h.

    dZ (returned) is the gradient of the input's sums S; dQ, that of the
    recurrent products q, differs only in the candidate block, scaled by r_t
    (the reset gate multiplied q_n + b_hn). dW_h = Σ h_{t-1}ᵀ dQ, db_hn = Σ dQ_n.
    """
    T, B, G = S.shape
    H = G // 3
    S3 = S.reshape(T, B, 3, H)
    r, z, n = (S3[:, :, k] for k in range(3))
    dZ = np.empty_like(S)
    dZ3 = dZ.reshape(S3.shape)
    tanh_backward(1 - z, n, out=dZ3[:, :, 2])  # n entered h_t times 1 − z
    sigmoid_backward(hn, r, out=dZ3[:, :, 0])  # r multiplied q_n + b_hn, inside n
    dZ3[:, :, 0] *= dZ3[:, :, 2]
    sigmoid_backward(hs[:T] - n, z, out=dZ3[:, :, 1])  # z weighed h_{t-1} against n
    dQ = np.empty_like(S)
    dQ3 = dQ.reshape(S3.shape)
    tmp = np.empty_like(dh)
    W_hT = np.ascontiguousarray(W_h.T)
    for t in range(T - 1, -1, -1):
        if g is not None:
            dh += g[:, t]  # from the output at t and from step t + 1
        dZ3[t] *= dh[:, None]
        dQ[t] = dZ[t]
        dQ3[t, :, 2] *= r[t]
        np.matmul(dQ[t], W_hT, out=tmp)  # back to h_{t-1}: weight → W_h
        dh *= z[t]  # and straight through the update gate
        dh += tmp
    _sequence_grads(hs, dZ, db, ids, dW_x, None)
    _sequence_grads(hs, dQ, None, None, None, dW_h)
    if db_hn is not None:
        np.sum(dQ3[:, :, 2].reshape(T * B, H), axis=0, out=db_hn)
    return dZ


def _gru_c_applies(S, W_h, b_hn, hs, hn) -> bool:
    arrays = (S, W_h, b_hn, hs, hn)
    return _contiguous(*arrays) and all(a.dtype == S.dtype for a in arrays)


@variant("gru_forward", uses=("gn_gru_forward",), applies=_gru_c_applies, **_AGREE)
def gru_forward_c(S, W_h, b_hn, hs, hn):
    """_native/lstm.c: the whole loop in one call."""
    T, B, G = S.shape
    q = np.empty((B, G), S.dtype)
    native("gn_gru_forward", S.dtype)(
        T, B, G // 3, S.ctypes.data, W_h.ctypes.data, b_hn.ctypes.data,
        hs.ctypes.data, hn.ctypes.data, q.ctypes.data,
    )  # fmt: skip
    return S


def _gru_backward_c_applies(S, hs, hn, g, W_h, dh, db_hn=None, **buffers) -> bool:
    return _c_ready([S, hs, hn, g, W_h, dh, db_hn], buffers)


@variant(
    "gru_backward", uses=("gn_gru_backward",), applies=_gru_backward_c_applies, **_AGREE
)
def gru_backward_c(
    S, hs, hn, g, W_h, dh, db=None, db_hn=None, ids=None, dW_x=None, dW_h=None
):
    """_native/lstm.c: the reverse loop and the weight gradients in one call."""
    T, B, G = S.shape
    dZ, dQ = np.empty_like(S), np.empty_like(S)
    W_hT = np.ascontiguousarray(W_h.T)
    native("gn_gru_backward", S.dtype)(
        T, B, G // 3, S.ctypes.data, hs.ctypes.data, hn.ctypes.data, _ptr(g),
        W_hT.ctypes.data, dZ.ctypes.data, dQ.ctypes.data, dh.ctypes.data, _ptr(db),
        _ptr(db_hn), _ptr(ids), _ptr(dW_x), _ptr(dW_h),
    )  # fmt: skip
    return dZ
