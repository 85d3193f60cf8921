"""The GRU, and the recurrent options: stacked layers, both directions, padded
batches (``lengths=``), Embedding's ``padding_idx``.

PyTorch's own numbers for these are in tests/test_recurrent_torch.py; here
the equations, gradients (float64 gradcheck over drawn shapes), the meaning of
each option and the errors.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_recurrent import layer_gradcheck, sigmoid

import glassnet as gn
from glassnet import nn, sequence
from glassnet.ops import recurrent as rec

CLASSES = [nn.RNN, nn.LSTM, nn.GRU]


def reference_gru(x, w_ih, w_hh, b, b_hn, h):
    """The GRU equations, one step at a time, in the documented gate order r, z, n."""
    H = w_hh.shape[0]
    hs = []
    for t in range(x.shape[1]):
        a, q = x[:, t] @ w_ih + b, h @ w_hh
        r = sigmoid(a[:, :H] + q[:, :H])
        z = sigmoid(a[:, H : 2 * H] + q[:, H : 2 * H])
        n = np.tanh(a[:, 2 * H :] + r * (q[:, 2 * H :] + b_hn))
        h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs, axis=1), h


def _random_biases(layer, rng):
    for name, p in layer.named_parameters():
        if name.startswith("bias"):
            p.data = rng.standard_normal(p.shape) * 0.5


# --- the GRU ---------------------------------------------------------------------------


@given(
    batch=st.integers(1, 3),
    steps=st.integers(1, 5),
    n_in=st.integers(1, 4),
    hidden=st.integers(1, 4),
    with_state=st.booleans(),
)
def test_gru_matches_the_documented_equations(batch, steps, n_in, hidden, with_state):
    rng = np.random.default_rng(batch * 100 + steps * 10 + n_in)
    layer = nn.GRU(n_in, hidden, seed=1).astype(np.float64)
    _random_biases(layer, rng)
    x = rng.standard_normal((batch, steps, n_in))
    h0 = rng.standard_normal((batch, hidden)) if with_state else None
    out, h = layer(x, state=h0, return_state=True)
    want = reference_gru(
        x,
        *(p.data for p in layer.parameters()),
        np.zeros((batch, hidden)) if h0 is None else h0,
    )
    np.testing.assert_allclose(out.data, want[0], atol=1e-12)
    np.testing.assert_allclose(h.data, want[1], atol=1e-12)


def test_gru_gate_order_reset_update_candidate():
    # Drive one gate at a time through its bias block and watch the state.
    layer = nn.GRU(1, 1, seed=0).astype(np.float64)
    layer.weight_ih.data[:] = 0
    layer.weight_hh.data[:] = 1.0
    big = 30.0

    def step(bias, bias_hn, h0):
        layer.bias.data, layer.bias_hn.data = np.array(bias, float), np.array([bias_hn])
        return layer(np.zeros((1, 1, 1)), state=[[h0]], return_state=True)[1].item()

    # update open: the old state passes unchanged, whatever the candidate
    assert step([0.0, big, 0.3], 0.0, 0.7) == pytest.approx(0.7)
    # update shut, reset shut: the candidate sees no past, tanh(0.3)
    assert step([-big, -big, 0.3], 5.0, 0.7) == pytest.approx(np.tanh(0.3))
    # update shut, reset open: the past and b_hn enter, tanh(0.3 + 0.7 + 0.2)
    assert step([big, -big, 0.3], 0.2, 0.7) == pytest.approx(np.tanh(1.2))
    assert nn.GRU.GATES == ("reset", "update", "candidate")


def test_gru_records_gates_when_watched():
    layer = nn.GRU(3, 2, seed=0)
    layer(np.ones((1, 4, 3)))
    assert layer.last_gates is None
    layer.watch_gates = True
    out = layer(np.ones((1, 4, 3)))
    g = layer.last_gates
    assert set(g) == {"reset", "update", "candidate"}
    h_prev = np.concatenate([np.zeros((1, 1, 2)), out.data[:, :-1]], axis=1)
    want = (1 - g["update"]) * g["candidate"] + g["update"] * h_prev
    np.testing.assert_allclose(want, out.data, atol=1e-6)


# --- gradients over drawn shapes -----------------------------------------------------


@given(
    cls=st.sampled_from(CLASSES),
    batch=st.integers(1, 3),
    steps=st.integers(1, 4),
    layers=st.integers(1, 2),
    bidirectional=st.booleans(),
    padded=st.booleans(),
    with_state=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_stacks_directions_and_padded_batches(
    cls, batch, steps, layers, bidirectional, padded, with_state, seed
):
    rng = np.random.default_rng(seed)
    F, H = 2, 3  # odd hidden size; the sizes themselves are drawn in test_kernels
    layer = cls(F, H, num_layers=layers, bidirectional=bidirectional, seed=seed)
    _random_biases(layer, rng)
    lengths = rng.integers(1, steps + 1, batch) if padded else None
    x = rng.standard_normal((batch, steps, F))
    n = layers * (2 if bidirectional else 1)
    shape = (batch, H) if n == 1 else (n, batch, H)
    parts = 2 if cls is nn.LSTM else 1
    states = [rng.standard_normal(shape) for _ in range(parts if with_state else 0)]
    g_out = rng.standard_normal((batch, steps, H * (2 if bidirectional else 1)))
    g_states = [rng.standard_normal(shape) for _ in range(parts)]

    def loss(x_t, *rest):
        state = None
        if with_state:
            state = tuple(rest[:2]) if cls is nn.LSTM else rest[0]
        out, final = layer(x_t, state=state, return_state=True, lengths=lengths)
        finals = final if isinstance(final, tuple) else (final,)
        total = (out * g_out).sum()
        for f, g in zip(finals, g_states):
            total = total + (f * g).sum()
        return total

    layer_gradcheck(layer, x, *states, fn=loss)


@pytest.mark.parametrize("cls", CLASSES)
def test_last_step_only_of_a_bidirectional_stack_is_both_final_states(cls):
    layer = cls(2, 3, num_layers=2, bidirectional=True, return_sequences=False, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 2))
    out, final = layer(x, return_state=True, lengths=[5, 3])
    h = final[0] if cls is nn.LSTM else final
    assert out.shape == (2, 6) and h.shape == (4, 2, 3)
    np.testing.assert_array_equal(out.data, np.concatenate([h.data[2], h.data[3]], 1))
    layer_gradcheck(layer, x)


# --- what the options mean -------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES)
def test_lengths_equal_running_each_sequence_alone(cls):
    """Padding has no effect: not on the outputs (0 past the end), nor the final
    state (the one after the last real step), nor any gradient."""
    rng = np.random.default_rng(1)
    layer = cls(2, 3, num_layers=2, bidirectional=True, seed=0).astype(np.float64)
    lengths = np.array([4, 1, 3])
    x = rng.standard_normal((3, 4, 2))
    x[np.arange(4) >= lengths[:, None]] = 1e3  # loud padding
    xt = gn.tensor(x, requires_grad=True)
    out, final = layer(xt, return_state=True, lengths=lengths)
    h = final[0] if cls is nn.LSTM else final
    (out.sum() + h.sum()).backward()
    grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    want = {n: 0 for n in grads}
    for b, n in enumerate(lengths):
        layer.zero_grad()
        xb = gn.tensor(x[b : b + 1, :n], requires_grad=True)
        ob, fb = layer(xb, return_state=True)
        hb = fb[0] if cls is nn.LSTM else fb
        (ob.sum() + hb.sum()).backward()
        np.testing.assert_allclose(out.data[b, :n], ob.data[0], atol=1e-12)
        np.testing.assert_array_equal(out.data[b, n:], 0)
        np.testing.assert_allclose(h.data[:, b], hb.data[:, 0], atol=1e-12)
        np.testing.assert_allclose(xt.grad[b, :n], xb.grad[0], atol=1e-12)
        np.testing.assert_array_equal(xt.grad[b, n:], 0)
        want = {k: want[k] + p.grad for k, p in layer.named_parameters()}
    for k in grads:
        np.testing.assert_allclose(grads[k], want[k], atol=1e-10, err_msg=k)


@pytest.mark.parametrize("cls", CLASSES)
def test_backward_direction_reads_the_sequence_back_to_front(cls):
    rng = np.random.default_rng(2)
    both = cls(2, 3, bidirectional=True, seed=0)
    one = cls(2, 3, seed=1)
    names = [n for n, _ in one.named_parameters()]
    one.load_state_dict({n: getattr(both, n + "_reverse").data for n in names})
    x = rng.standard_normal((2, 5, 2)).astype(np.float32)
    out = both(x, lengths=[5, 3]).data
    np.testing.assert_allclose(out[0, :, 3:], one(x[:1, ::-1]).data[0, ::-1], atol=1e-6)
    np.testing.assert_allclose(
        out[1, :3, 3:], one(x[1:, 2::-1]).data[0, ::-1], atol=1e-6
    )
    np.testing.assert_allclose(out[..., :3], cls(2, 3, seed=0)(x, lengths=[5, 3]).data)


@pytest.mark.parametrize("cls", CLASSES)
def test_a_stack_is_layers_in_sequence(cls):
    stack = cls(2, 3, num_layers=3, seed=0)
    parts = [cls(2 if k == 0 else 3, 3, seed=k) for k in range(3)]
    for k, part in enumerate(parts):
        sfx = "" if k == 0 else f"_l{k}"
        names = [n for n, _ in part.named_parameters()]
        part.load_state_dict({n: getattr(stack, n + sfx).data for n in names})
    x = np.random.default_rng(3).standard_normal((2, 4, 2)).astype(np.float32)
    out, final = stack(x, return_state=True)
    y, finals = x, []
    for part in parts:
        y, f = part(y, return_state=True)
        finals.append(f)
    np.testing.assert_array_equal(out.data, y.data)
    h = final[0] if cls is nn.LSTM else final
    for k, f in enumerate(finals):
        np.testing.assert_array_equal(h.data[k], (f[0] if cls is nn.LSTM else f).data)


def test_carrying_a_stacked_state_equals_reading_the_whole_sequence():
    model = nn.Sequential(
        nn.GRU(2, 3, num_layers=2), nn.LSTM(3, 2, num_layers=2), seed=0
    )
    x = np.random.default_rng(0).standard_normal((2, 8, 2))
    whole = model(x).data
    with sequence.carry_state(model):
        parts = [model(x[:, :3]).data, model(x[:, 3:]).data]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-5)


def test_single_layer_defaults_keep_their_names_and_draws():
    """num_layers=1, one direction: the parameters and their first draws are as
    before the options existed (model files and the seed stories rely on it)."""
    for cls in CLASSES:
        a, b = cls(3, 4, seed=7), cls(3, 4, num_layers=2, bidirectional=True, seed=7)
        assert [n for n, _ in a.named_parameters()] == [
            n for n, _ in b.named_parameters()
        ][: len(a.parameters())]
        for p, q in zip(a.parameters(), b.parameters()):
            np.testing.assert_array_equal(p.data, q.data)
    assert repr(nn.GRU(3, 4, num_layers=2, bidirectional=True)) == (
        "GRU(3 → 4, 2 layers, bidirectional)"
    )
    assert nn.LSTM(3, 4, num_layers=2).get_config()["num_layers"] == 2


# --- errors ----------------------------------------------------------------------------


def test_bad_lengths_states_and_options_are_refused():
    layer = nn.GRU(2, 3, num_layers=2, bidirectional=True)
    x = np.ones((2, 4, 2))
    with pytest.raises(gn.ShapeError, match=r"lengths must be 2 integers.*got float64"):
        layer(x, lengths=[1.0, 2.0])
    with pytest.raises(gn.ShapeError, match=r"lengths must be 2 integers.*\(3,\)"):
        layer(x, lengths=[1, 2, 3])
    with pytest.raises(gn.DataError, match=r"in \[1, 4\].*from 0 to 2"):
        layer(x, lengths=[0, 2])
    with pytest.raises(gn.DataError, match=r"in \[1, 4\].*from 2 to 5"):
        layer(x, lengths=[5, 2])
    with pytest.raises(
        gn.ShapeError,
        match=r"GRU\(input_size=2, hidden_size=3\) expected the initial state h0 of "
        r"shape \(4, 2, 3\) \(layers × directions, batch, H\).*got \(2, 3\)",
    ):
        layer(x, state=np.zeros((2, 3)))
    with pytest.raises(gn.ConfigError, match="GRU: num_layers must be a positive"):
        nn.GRU(2, 3, num_layers=0)
    with pytest.raises(gn.ConfigError, match="LSTM: bidirectional must be True or"):
        nn.LSTM(2, 3, bidirectional="yes")
    with pytest.raises(gn.ShapeError, match=r"gru: bias_hn must have shape \(3,\)"):
        rec.gru(x, *nn.GRU(2, 3).parameters()[:3], np.zeros(2))


# --- Embedding padding_idx ---------------------------------------------------------------


@given(n=st.integers(2, 6), pad=st.integers(-2, 1))
def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient(n, pad):
    emb = nn.Embedding(n, 3, padding_idx=pad, seed=0).astype(np.float64)
    row = pad % n
    np.testing.assert_array_equal(emb.weight.data[row], 0)
    ids = np.random.default_rng(n).integers(0, n, (4, 5))
    ids[0, 0] = row
    out = emb(ids)
    np.testing.assert_array_equal(out.data[ids == row], 0)
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(emb.weight.grad[row], 0)
    others = np.bincount(ids.ravel(), minlength=n)
    others[row] = 0
    np.testing.assert_array_equal(emb.weight.grad.sum(axis=1), 3 * others)
    # gradcheck the other rows: with row frozen the op is still x -> W[x]
    keep = (ids[:, :, None] != row).astype(float)
    assert gn.gradcheck(lambda w: emb(ids) * keep, [emb.weight])
    assert emb.get_config()["padding_idx"] == pad  # kept as given


def test_embedding_padding_idx_errors():
    with pytest.raises(
        gn.ConfigError, match=r"padding_idx must lie in \[-4, 4\).*got 4"
    ):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(gn.ConfigError, match="padding_idx must be an integer id"):
        nn.Embedding(4, 2, padding_idx=1.0)


# --- ONNX: what import refuses -----------------------------------------------------------


def test_onnx_import_refuses_a_gru_that_resets_before_the_product(tmp_path):
    """ONNX's default GRU (linear_before_reset=0) applies r to h before W_hn:
    another formula, refused by name rather than imported wrongly."""
    import onnx  # `make test` installs glassnet[onnx]: this never skips

    path = tmp_path / "gru.onnx"
    gn.export_onnx(nn.Sequential(nn.GRU(2, 3, bidirectional=True), seed=0), path)
    proto = onnx.load(str(path))
    node = next(n for n in proto.graph.node if n.op_type == "GRU")
    for a in node.attribute:
        if a.name == "linear_before_reset":
            a.i = 0
    onnx.save(proto, str(path))
    with pytest.raises(gn.FormatError, match="GRUs with linear_before_reset=1"):
        gn.import_onnx(path)


# --- look inside -------------------------------------------------------------------------


def test_summary_trace_and_gate_plot_understand_the_gru(tmp_path):
    from glassnet.plot import lstm_gates

    model = nn.Sequential(
        nn.Embedding(6, 3, padding_idx=0),
        nn.GRU(3, 4, num_layers=2, bidirectional=True),
        nn.Dense(8, 6),
        seed=0,
    )
    s = model.summary(input_shape=(5,))
    assert [(r.type, r.output_shape, r.params) for r in s.rows][1] == (
        "GRU",
        (None, 5, 8),
        model[1].num_parameters(),
    )
    assert model[1].num_parameters() == 2 * (3 * 12 + 4 * 12 + 12 + 4) + 2 * (
        8 * 12 + 4 * 12 + 12 + 4
    )
    t = gn.trace(model, np.array([1, 2, 3]), target=np.array([1, 2, 3]))
    gates = t[1].gates
    assert set(gates) == {"reset", "update", "candidate"}
    assert gates["reset"].shape == (3, 4)  # (time, hidden) of the top forward cell
    assert "GRU" in str(t) and "bias_hn_l1_reverse" in t[1].param_grads
    assert not model[1].watch_gates  # put back as it was
    single = nn.Sequential(nn.GRU(3, 4), seed=0)
    t = gn.trace(single, np.ones((5, 3)))  # one sequence, no batch axis
    h_prev = np.vstack([np.zeros(4), t[0].output[:-1]])
    g = t[0].gates
    want = (1 - g["update"]) * g["candidate"] + g["update"] * h_prev
    np.testing.assert_allclose(want, t[0].output, atol=1e-6)
    lstm_gates(g, words=list("abcde"), path=tmp_path / "gru.png")
    assert (tmp_path / "gru.png").stat().st_size > 0


# --- dropout between layers ------------------------------------------------------------


def test_dropout_between_layers_only_in_training():
    kw = {"num_layers": 2, "bidirectional": True, "seed": 0}
    plain, dropped = nn.GRU(2, 3, **kw), nn.GRU(2, 3, dropout=0.5, **kw)
    for p, q in zip(plain.parameters(), dropped.parameters()):
        np.testing.assert_array_equal(p.data, q.data)  # the masks draw elsewhere
    x = np.random.default_rng(0).standard_normal((4, 5, 2)).astype(np.float32)
    assert not np.allclose(dropped(x).data, plain(x).data)
    dropped.eval()
    np.testing.assert_array_equal(dropped(x).data, plain(x).data)
    one = nn.LSTM(2, 3, dropout=0.5, seed=0)  # one layer: nothing between
    np.testing.assert_array_equal(one(x).data, nn.LSTM(2, 3, seed=0)(x).data)
    # What dropout does, checked on its own: layer 1 reads layer 0's output
    # with units zeroed and the rest doubled; the same masks with a re-made rng.
    layer = nn.RNN(2, 3, num_layers=2, dropout=0.5, seed=1).astype(np.float64)
    layer._dropout_rng = np.random.default_rng(7)
    got = layer(x).data
    keep = np.random.default_rng(7).random((4, 5, 3)) >= 0.5
    first = nn.RNN(2, 3, seed=2).astype(np.float64)
    second = nn.RNN(3, 3, seed=2).astype(np.float64)
    first.load_state_dict(
        {n: getattr(layer, n).data for n, _ in first.named_parameters()}
    )
    second.load_state_dict(
        {n: getattr(layer, n + "_l1").data for n, _ in second.named_parameters()}
    )
    want = second(first(x).data * keep * 2).data
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert repr(layer) == "RNN(2 → 3, 2 layers, dropout 0.5 between layers)"
    with pytest.raises(gn.ConfigError, match=r"GRU: dropout must be"):
        nn.GRU(2, 3, dropout=1.0)


def test_dropout_between_layers_gradcheck_with_a_fixed_mask():
    layer = nn.LSTM(2, 3, num_layers=2, dropout=0.3, seed=0)
    x = np.random.default_rng(1).standard_normal((2, 4, 2))

    def fn(x_t, *params):
        layer._dropout_rng = np.random.default_rng(5)  # the same mask every call
        return layer(x_t)

    layer_gradcheck(layer, x, fn=fn)
