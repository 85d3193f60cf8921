"""The compiled recurrent loops (_native/lstm.c) against the NumPy loops they replace.

Every check runs the same computation with the kernel on and off
(GLASSNET_NATIVE=0), and asserts which path ran: gradients by finite
differences (float64) on both paths, float64 results that agree to rounding,
float32 training steps that agree to float32 tolerance, the one-hot look-up
and dense input paths, initial states, final states alone, saturated gates.
"""

import ctypes
import dataclasses

import numpy as np
import pytest
from conftest import NATIVE_REQUIRED, native_setting
from hypothesis import given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet import _native, kernels, losses, nn, optim
from glassnet.ops import recurrent as rec
from glassnet.ops.loss import cross_entropy

_LOOPS = (
    "lstm_forward",
    "lstm_backward",
    "rnn_forward",
    "rnn_backward",
    "gru_forward",
    "gru_backward",
)
_ORIGINAL = {
    name: (kernels.registry()[name].reference, kernels.registry()[name].variants)
    for name in _LOOPS
}


def _use_native(monkeypatch, on: bool) -> None:
    """Turn the compiled loops on or off for this test, and prove which path runs.

    The path that must not run (the NumPy reference, or the compiled variants
    of the recurrent kernels) is replaced in the registry by a function that
    fails the test.
    """
    monkeypatch.setenv("GLASSNET_NATIVE", native_setting(on))  # "1" under make test
    _native._forget()
    if on:
        if kernels.native("gn_lstm_forward", np.dtype(np.float64)) is None:
            (pytest.fail if NATIVE_REQUIRED else pytest.skip)(
                f"the lstm library does not build here: {_native.status().get('lstm')}"
            )
    else:
        assert kernels.native("gn_lstm_forward", np.dtype(np.float64)) is None

    def wrong_path(*args, **kwargs):
        raise AssertionError("the other implementation ran")

    for name in _LOOPS:
        kernel = kernels.registry()[name]
        reference, variants = _ORIGINAL[name]
        monkeypatch.setattr(kernel, "reference", wrong_path if on else reference)
        monkeypatch.setattr(
            kernel,
            "variants",
            variants
            if on
            else [dataclasses.replace(v, fn=wrong_path) for v in variants],
        )


@pytest.fixture(params=["native", "numpy"])
def path(request, monkeypatch):
    """Each test that takes ``path`` runs once with the C loops, once with NumPy's."""
    _use_native(monkeypatch, request.param == "native")
    yield request.param
    _native._forget()  # monkeypatch restores GLASSNET_NATIVE after this


@pytest.fixture
def switch(monkeypatch):
    """A function that turns the kernels on (True) or off (False) mid-test."""
    yield lambda on: _use_native(monkeypatch, on)
    _native._forget()


def one_hot(ids, n):
    return np.eye(n)[ids]


def lstm_params(rng, F, H, dt=np.float64, scale=0.5):
    return [
        gn.tensor(rng.standard_normal(shape) * scale, requires_grad=True, dtype=dt)
        for shape in ((F, 4 * H), (H, 4 * H), (4 * H,))
    ]


# --- gradients by finite differences (float64), on both paths ------------------------


@pytest.mark.parametrize("with_state", [False, True])
def test_gradcheck_dense_input_every_step(path, with_state):
    rng = np.random.default_rng(0)
    B, T, F, H, C = 3, 5, 4, 3, 4
    x = gn.tensor(rng.standard_normal((B, T, F)), requires_grad=True, dtype=np.float64)
    params = lstm_params(rng, F, H)
    states = [
        gn.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)
        for _ in range(2 if with_state else 0)
    ]
    head = gn.tensor(rng.standard_normal((H, C)), requires_grad=True, dtype=np.float64)
    targets = rng.integers(0, C, (B, T))

    def loss(x_t, w_x, w_h, b, head_w, *st):
        out, _, _ = rec.lstm(x_t, w_x, w_h, b, *st)
        return cross_entropy(out @ head_w, targets)

    assert gn.gradcheck(loss, [x, *params, head, *states])


@pytest.mark.parametrize("with_state", [False, True])
def test_gradcheck_one_hot_input_uses_the_row_lookup(path, with_state):
    rng = np.random.default_rng(1)
    B, T, V, H = 2, 6, 5, 3
    ids = rng.integers(0, V, (B, T))
    x = one_hot(ids, V)  # no gradient: the look-up path
    assert rec._one_hot_ids(x) is not None
    params = lstm_params(rng, V, H)
    states = [
        gn.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)
        for _ in range(2 if with_state else 0)
    ]

    def every_output(w_x, w_h, b, *st):
        out, h, c = rec.lstm(x, w_x, w_h, b, *st)
        return out.sum() + (h * c).sum()  # the sequence and both final states

    assert gn.gradcheck(every_output, [*params, *states])


@pytest.mark.parametrize("which", ["h", "c"])
def test_gradcheck_final_state_alone(path, which):
    # Only a final state reaches the loss: the sequence's gradient is a broadcast
    # zero, which the C path skips instead of reading.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 3))
    params = lstm_params(rng, 3, 2)

    def final(w_x, w_h, b):
        _, h, c = rec.lstm(x, w_x, w_h, b)
        return h if which == "h" else c

    assert gn.gradcheck(final, params)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("one_hot_input", [False, True])
def test_gradcheck_rnn(path, nonlinearity, one_hot_input):
    rng = np.random.default_rng(3)
    B, T, F, H = 2, 5, 4, 3
    x = (
        one_hot(rng.integers(0, F, (B, T)), F)
        if one_hot_input
        else rng.standard_normal((B, T, F))
    )
    x = gn.tensor(x, requires_grad=not one_hot_input, dtype=np.float64)
    w_x, w_h, b = (
        gn.tensor(rng.standard_normal(s) * 0.6, requires_grad=True, dtype=np.float64)
        for s in ((F, H), (H, H), (H,))
    )
    h0 = gn.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)

    def fn(*ts):
        *inputs, h0_t = ts
        if one_hot_input:
            inputs = [x] + inputs
        out, h = rec.rnn(*inputs, h0_t, nonlinearity=nonlinearity)
        return out.sum() + (h * h).sum()

    assert gn.gradcheck(fn, ([] if one_hot_input else [x]) + [w_x, w_h, b, h0])


@pytest.mark.parametrize("one_hot_input", [False, True])
def test_gradcheck_gru(path, one_hot_input):
    rng = np.random.default_rng(6)
    B, T, F, H = 2, 5, 4, 3
    x = (
        one_hot(rng.integers(0, F, (B, T)), F)
        if one_hot_input
        else rng.standard_normal((B, T, F))
    )
    x = gn.tensor(x, requires_grad=not one_hot_input, dtype=np.float64)
    w_x, w_h, b, b_hn = (
        gn.tensor(rng.standard_normal(s) * 0.6, requires_grad=True, dtype=np.float64)
        for s in ((F, 3 * H), (H, 3 * H), (3 * H,), (H,))
    )
    h0 = gn.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)

    def fn(*ts):
        *inputs, h0_t = ts
        if one_hot_input:
            inputs = [x] + inputs
        out, h = rec.gru(*inputs, h0_t)
        return out.sum() + (h * h).sum()

    assert gn.gradcheck(fn, ([] if one_hot_input else [x]) + [w_x, w_h, b, b_hn, h0])


def test_gradcheck_layers_through_the_model_api(path):
    rng = np.random.default_rng(4)
    model = nn.Sequential(
        nn.LSTM(3, 4), nn.RNN(4, 3), nn.LSTM(3, 2, return_sequences=False), seed=0
    ).astype(np.float64)
    x = gn.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True, dtype=np.float64)
    assert gn.gradcheck(lambda x_t, *p: model(x_t), [x, *model.parameters()])


# --- the two paths agree (float64: to rounding) --------------------------------------


def _lstm_everything(x, params, states, g_seq, g_h, g_c):
    x = gn.tensor(x, requires_grad=True, dtype=np.float64)
    ps = [gn.tensor(p, requires_grad=True, dtype=np.float64) for p in params]
    st = [gn.tensor(s, requires_grad=True, dtype=np.float64) for s in states]
    out, h, c, gates = rec.lstm(x, *ps, *st, keep_gates=True)
    ((out * g_seq).sum() + (h * g_h).sum() + (c * g_c).sum()).backward()
    return (
        [out.data, h.data, c.data]
        + [gates[k] for k in sorted(gates)]
        + [t.grad for t in (x, *ps, *st)]
    )


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("lookup", [True, False])
def test_native_and_numpy_agree_in_float64(switch, monkeypatch, with_state, lookup):
    monkeypatch.setattr(rec, "ONE_HOT_LOOKUP", lookup)
    rng = np.random.default_rng(5)
    B, T, V, H = 4, 9, 7, 5
    x = one_hot(rng.integers(0, V, (B, T)), V)
    params = [rng.standard_normal(s) for s in ((V, 4 * H), (H, 4 * H), (4 * H,))]
    states = [rng.standard_normal((B, H)) for _ in range(2 if with_state else 0)]
    weights = (
        rng.standard_normal((B, T, H)),
        rng.standard_normal((B, H)),
        rng.standard_normal((B, H)),
    )
    switch(True)
    native = _lstm_everything(x, params, states, *weights)
    switch(False)
    reference = _lstm_everything(x, params, states, *weights)
    assert len(native) == len(reference) == 12 + len(states)
    for a, b in zip(native, reference):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


# --- float32: a few training steps agree to float32 tolerance ------------------------


def _train(steps, dtype=np.float32, lookup=True, stateful=False):
    """A small char-LSTM (the W4 model's shape in miniature) trained with Adam."""
    V, H, B, T = 11, 16, 4, 7
    model = nn.Sequential(
        nn.OneHot(V), nn.LSTM(V, H, stateful=stateful), nn.Dense(H, V), seed=0
    ).astype(dtype)
    loss_fn = losses.CrossEntropy()
    opt = optim.Adam(model, lr=0.01)
    data = np.random.default_rng(6).integers(0, V, (B, T + 1))
    old = rec.ONE_HOT_LOOKUP
    rec.ONE_HOT_LOOKUP = lookup
    try:
        curve = []
        for _ in range(steps):
            loss = loss_fn(model(data[:, :-1]), data[:, 1:])
            opt.zero_grad()
            loss.backward()
            opt.step()
            curve.append(float(loss.data))
    finally:
        rec.ONE_HOT_LOOKUP = old
    return np.array(curve), {k: v.copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("lookup", [True, False])
@pytest.mark.parametrize("stateful", [False, True])
def test_float32_training_steps_agree(switch, lookup, stateful):
    switch(True)
    curve_c, weights_c = _train(8, lookup=lookup, stateful=stateful)
    switch(False)
    curve_n, weights_n = _train(8, lookup=lookup, stateful=stateful)
    assert curve_n[-1] < curve_n[0]  # it does learn
    np.testing.assert_allclose(curve_c, curve_n, rtol=2e-6)
    assert weights_c.keys() == weights_n.keys()
    for k in weights_n:
        assert weights_c[k].dtype == np.float32
        # Adam divides by √v: a weight whose gradients are ~0 may move by a
        # full step on one path and not the other; so compare to a step.
        np.testing.assert_allclose(weights_c[k], weights_n[k], rtol=1e-4, atol=1e-4)


def test_float32_gradients_agree_to_float32_rounding(switch):
    rng = np.random.default_rng(7)
    B, T, F, H = 8, 12, 6, 10
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    params = [
        rng.standard_normal(s).astype(np.float32) * 0.4
        for s in ((F, 4 * H), (H, 4 * H), (4 * H,))
    ]
    g = rng.standard_normal((B, T, H)).astype(np.float32)

    def run():
        ts = [gn.tensor(p, requires_grad=True) for p in params]
        xt = gn.tensor(x, requires_grad=True)
        out, _, _ = rec.lstm(xt, *ts)
        assert out.dtype == np.float32
        (out * g).sum().backward()
        return [out.data] + [t.grad for t in (xt, *ts)]

    switch(True)
    native = run()
    switch(False)
    reference = run()
    for a, b in zip(native, reference):
        assert a.dtype == np.float32
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=0, atol=3e-6 * max(scale, 1.0))


# --- the C gate functions: accurate everywhere, saturated gates, NaN ------------------


def test_gate_values_are_accurate_from_tiny_to_saturated(switch):
    # One step from zero state with zero input: the gates are the squashed biases,
    # c = i * g and h = o * tanh(c). A sweep of biases exercises σ and tanh from
    # 1e-8 to saturation, both signs.
    switch(True)
    mags = np.concatenate([[0.0], np.geomspace(1e-8, 120.0, 200)])
    z = np.concatenate([mags, -mags]).astype(np.float32)
    H = z.size
    bias = np.tile(z, 4)
    x = np.zeros((1, 1, 1), np.float32)
    w_x, w_h = np.zeros((1, 4 * H), np.float32), np.zeros((H, 4 * H), np.float32)
    out, h, c, gates = rec.lstm(x, w_x, w_h, bias, keep_gates=True)
    z64 = z.astype(np.float64)
    sig = 1 / (1 + np.exp(-z64))
    tiny = np.finfo(np.float32).tiny  # below it float32 is subnormal: 0 is fine
    for name in ("forget", "input", "output"):
        got = gates[name][0, 0].astype(np.float64)
        np.testing.assert_allclose(got, sig, rtol=3e-7, atol=tiny)
        assert (got >= 0).all() and (got <= 1).all()
    np.testing.assert_allclose(
        gates["candidate"][0, 0], np.tanh(z64), rtol=3e-7, atol=tiny
    )
    cell = sig * np.tanh(z64)
    np.testing.assert_allclose(gates["cell"][0, 0], cell, rtol=1e-6, atol=tiny)
    np.testing.assert_allclose(
        out.data[0, 0], sig * np.tanh(cell), rtol=1e-6, atol=tiny
    )
    assert np.isfinite(out.data).all() and (np.abs(gates["candidate"]) <= 1).all()


def test_nan_in_the_weighted_sums_stays_nan(switch):
    switch(True)
    bias = np.zeros(8, np.float32)
    bias[2] = np.nan  # candidate of the first unit
    out, h, c = rec.lstm(
        np.zeros((1, 3, 1), np.float32),
        np.zeros((1, 8), np.float32),
        np.zeros((2, 8), np.float32),
        bias,
    )
    assert np.isnan(out.data[0, :, 0]).all()
    assert np.isnan(c.data[0, 0])


def test_other_dtypes_and_switch_off_use_numpy(monkeypatch):
    monkeypatch.setenv("GLASSNET_NATIVE", "0")
    _native._forget()
    try:
        assert kernels.native("gn_lstm_forward", np.dtype(np.float32)) is None
        assert _native.status()["lstm"].startswith("turned off")
    finally:
        _native._forget()
    monkeypatch.setenv("GLASSNET_NATIVE", "auto")
    assert kernels.native("gn_lstm_forward", np.dtype(np.float16)) is None
    assert kernels.native("gn_rnn_forward", np.dtype(np.int64)) is None
    _native._forget()


# --- the batch split between threads (GLASSNET_NUM_THREADS) -------------------------


@pytest.fixture
def blas_threads():
    """Set NumPy's OpenBLAS to n threads (the split uses at most as many parts as
    BLAS has threads: it runs them on those), and read its count back; None
    when NumPy's BLAS is not OpenBLAS. Restored after the test."""
    get = _native._numpy_blas_symbol("scipy_openblas_get_num_threads64_")
    put = _native._numpy_blas_symbol("scipy_openblas_set_num_threads64_")
    if get is None or put is None:
        yield None
        return
    get = ctypes.CFUNCTYPE(ctypes.c_int)(get)
    put = ctypes.CFUNCTYPE(None, ctypes.c_int)(put)
    before = get()
    yield lambda n=None: get() if n is None else put(n)
    put(before)


def _threads_agree(name, args, kwargs, monkeypatch, blas_threads):
    from glassnet.kernels import recurrent as kr

    reference, (variant,) = _ORIGINAL[name]  # (_use_native guards the registry)
    expected_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    expected_kw = {k: None if a is None else a.copy() for k, a in kwargs.items()}
    expected = reference(*expected_args, **expected_kw)
    monkeypatch.setattr(kr, "WORK_PER_THREAD", 1)  # split even these small sums
    runs = []
    # (threads, BLAS's threads): the parts on BLAS's threads, or on threads of
    # parallel.h's own when BLAS has fewer
    for threads, blas in ((1, 1), (2, 2), (3, 3), (3, 1)):
        monkeypatch.setenv("GLASSNET_NUM_THREADS", str(threads))
        if blas_threads is not None:
            blas_threads(blas)
        a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        kw = {k: None if x is None else x.copy() for k, x in kwargs.items()}
        got = variant.fn(*a, **kw)
        if blas_threads is not None:  # BLAS's own count is back after the call
            assert blas_threads() == blas
        runs.append([got, *a, *kw.values()])
    want = [expected, *expected_args, *expected_kw.values()]
    for run in runs:
        for e, g in zip(want, run, strict=True):
            if isinstance(e, np.ndarray):
                np.testing.assert_allclose(g, e, rtol=variant.rtol, atol=variant.atol)
            else:
                assert g is None and e is None or g is e


@pytest.mark.parametrize("name", ["lstm_forward", "lstm_backward"])
def test_rows_split_between_threads_agree_with_the_reference(
    name, monkeypatch, blas_threads
):
    """1, 2 and 3 threads against the NumPy loop: the registry's shapes (batch 1
    to 3, so also fewer rows than threads), both dtypes, every optional buffer."""
    _use_native(monkeypatch, True)

    @settings(max_examples=40)
    @given(data=st.data())
    def check(data):
        args, kwargs = kernels.registry()[name].args(data.draw)
        if name == "lstm_backward":
            kwargs["gc"] = None  # a padded batch's cell gradient: NumPy loop only
        _threads_agree(name, args, kwargs, monkeypatch, blas_threads)

    try:
        check()
    finally:
        _native._forget()


@pytest.mark.parametrize("threads", ["1", "3"])
def test_gradcheck_with_the_batch_split(monkeypatch, blas_threads, threads):
    """float64 gradients by finite differences with the rows split three ways:
    5 rows (uneven parts), one-hot input (dW_x summed by columns), initial
    states, and a padded batch (lengths)."""
    from glassnet.kernels import recurrent as kr

    _use_native(monkeypatch, True)
    # The padded batch's backward takes the NumPy loop (its cell-state gradient
    # enters at each row's own last step), so both paths stay allowed here.
    for name in _LOOPS:
        reference, variants = _ORIGINAL[name]
        monkeypatch.setattr(kernels.registry()[name], "reference", reference)
        monkeypatch.setattr(kernels.registry()[name], "variants", variants)
    monkeypatch.setattr(kr, "WORK_PER_THREAD", 1)
    monkeypatch.setenv("GLASSNET_NUM_THREADS", threads)
    if blas_threads is not None:
        blas_threads(int(threads))
    rng = np.random.default_rng(7)
    B, T, V, H = 5, 4, 6, 3
    x = one_hot(rng.integers(0, V, (B, T)), V)
    params = lstm_params(rng, V, H)
    states = [
        gn.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)
        for _ in range(2)
    ]
    lengths = np.array([4, 1, 3, 4, 2])

    def every_output(w_x, w_h, b, h0, c0):
        out, h, c = rec.lstm(x, w_x, w_h, b, h0, c0)
        padded, hp, cp = rec.lstm(x, w_x, w_h, b, h0, c0, lengths=lengths)
        return out.sum() + (h * c).sum() + (padded * padded).sum() + (hp * cp).sum()

    try:
        assert gn.gradcheck(every_output, [*params, *states])
    finally:
        _native._forget()


@pytest.mark.parametrize("H", [128, 192])
@pytest.mark.parametrize("B", [1, 7])
def test_register_blocked_step_product_agrees(monkeypatch, blas_threads, H, B):
    """float32 sizes that take lstm.c's own per-step product (W_h of 64k entries
    or more, its columns whole register tiles with AVX2 and AVX-512): 4H and H
    columns,
    128-row blocks of W_h and a shorter last one (H = 192: 128 + 64; backward
    4H = 768), row tiles of 4 and the rows left over (7 rows, split three ways
    too), against the NumPy loops."""
    _use_native(monkeypatch, True)
    rng = np.random.default_rng(H + B)
    T, V, dt = 3, 5, np.float32

    def rand(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(dt)

    hs, cs = np.zeros((T + 1, B, H), dt), np.zeros((T + 1, B, H), dt)
    hs[0], cs[0] = rand(B, H), rand(B, H)
    forward = (rand(T, B, 4 * H, scale=2), rand(H, 4 * H, scale=H**-0.5), hs, cs)
    forward += (np.empty((T, B, H), dt),)
    try:
        _threads_agree("lstm_forward", forward, {}, monkeypatch, blas_threads)
        S, W_h, hs, cs, tanh_c = (a.copy() for a in forward)
        _ORIGINAL["lstm_forward"][0](S, W_h, hs, cs, tanh_c)
        backward = (S, hs, cs, tanh_c, rand(B, T, H), W_h, rand(B, H), rand(B, H))
        buffers = {
            "db": np.empty(4 * H, dt),
            "ids": rng.integers(0, V, T * B).astype(np.int64),
            "dW_x": np.zeros((V, 4 * H), dt),
            "dW_h": np.empty((H, 4 * H), dt),
        }
        _threads_agree("lstm_backward", backward, buffers, monkeypatch, blas_threads)
    finally:
        _native._forget()
