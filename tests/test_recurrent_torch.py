"""GRU and LSTM (stacked, bidirectional, padded batches) against PyTorch's numbers.

The fixture (tools/make_recurrent_fixtures.py) holds PyTorch's float64
outputs, final states and gradients for random weights, inputs, lengths and
initial states; here its parameters are moved into glassnet's layout (weights
transposed, the LSTM's gates reordered, the GRU's two biases folded into
``bias`` and ``bias_hn``) and every number must agree.
"""

import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torch_recurrent.npz")
DATA = np.load(FIXTURE)
#: glassnet's gate block k is PyTorch's block ORDER[k] (LSTM: i,f,g,o -> f,i,g,o).
ORDER = {nn.LSTM: [1, 0, 2, 3], nn.GRU: [0, 1, 2]}
CASES = {
    "gru": (nn.GRU, 1, False),
    "gru_stack": (nn.GRU, 2, True),
    "lstm_stack": (nn.LSTM, 2, True),
}


def _blocks(a, order, H):
    """Gate blocks of H along the last axis, in glassnet's order."""
    return np.concatenate([a[..., k * H : (k + 1) * H] for k in order], axis=-1)


def _to_glassnet(cls, params: dict, H: int, layers: int, directions: int) -> dict:
    """PyTorch's named parameters (or their gradients) -> glassnet's names and layout."""
    order, out = ORDER[cls], {}
    for layer in range(layers):
        for d in range(directions):
            theirs = f"_l{layer}" + ("_reverse" if d else "")
            ours = ("" if layer == 0 else f"_l{layer}") + ("_reverse" if d else "")
            for w in ("weight_ih", "weight_hh"):
                out[w + ours] = _blocks(params[w + theirs].T, order, H)
            b_ih, b_hh = params["bias_ih" + theirs], params["bias_hh" + theirs]
            if cls is nn.LSTM:
                out["bias" + ours] = _blocks(b_ih + b_hh, order, H)
            else:  # b_hr, b_hz add to b_ir, b_iz; b_hn stays inside the reset gate
                out["bias" + ours] = b_ih + np.r_[b_hh[: 2 * H], np.zeros(H)]
                out["bias_hn" + ours] = b_hh[2 * H :]
    return out


def _torch_grads(cls, grads: dict, H: int, layers: int, directions: int) -> dict:
    """PyTorch's gradients as glassnet's: one bias gradient per bias glassnet has."""
    out = _to_glassnet(cls, grads, H, layers, directions)
    for name in [n for n in out if n.startswith("bias") and "_hn" not in n]:
        theirs = name.replace("bias", "bias_ih", 1)
        theirs = theirs if "_l" in theirs else theirs.replace("bias_ih", "bias_ih_l0")
        out[name] = _blocks(grads[theirs], ORDER[cls], H)  # d/db_ih = d/db_hh
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_outputs_states_and_gradients_match_pytorch(case):
    cls, layers, bidir = CASES[case]
    get = {k.split("/", 1)[1]: DATA[k] for k in DATA.files if k.startswith(case + "/")}
    params = {k[6:]: v for k, v in get.items() if k.startswith("param/")}
    grads = {k[5:]: v for k, v in get.items() if k.startswith("grad/")}
    H, D = params["weight_hh_l0"].shape[1], 2 if bidir else 1
    layer = cls(
        get["x"].shape[2], H, num_layers=layers, bidirectional=bidir, seed=0
    ).astype(np.float64)
    layer.load_state_dict(_to_glassnet(cls, params, H, layers, D))
    x = gn.tensor(get["x"], requires_grad=True, dtype=np.float64)
    single = layers * D == 1
    h0 = get["h0"][0] if single else get["h0"]
    state = (h0, get["c0"] if not single else get["c0"][0]) if "c0" in get else h0
    out, final = layer(x, state=state, return_state=True, lengths=get.get("lengths"))
    finals = final if isinstance(final, tuple) else (final,)
    np.testing.assert_allclose(out.data, get["y"], atol=1e-12)
    loss = (out * get["g_y"]).sum()
    for key, f in zip(("h_n", "c_n"), finals):
        want = get[key][0] if single else get[key]
        np.testing.assert_allclose(f.data, want, atol=1e-12)
        loss = loss + (f * (get["g_" + key][0] if single else get["g_" + key])).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad, get["dx"], atol=1e-10)
    want = _torch_grads(cls, grads, H, layers, D)
    got = dict(layer.named_parameters())
    assert sorted(got) == sorted(want)
    for name, g in want.items():
        np.testing.assert_allclose(got[name].grad, g, atol=1e-10, err_msg=name)


def test_padded_steps_are_zero_and_get_no_gradient():
    """What the fixture with lengths shows, stated plainly: padding has no effect."""
    get = {
        k.split("/", 1)[1]: DATA[k] for k in DATA.files if k.startswith("gru_stack/")
    }
    t = np.arange(get["x"].shape[1])
    pad = t >= get["lengths"][:, None]
    assert pad.any() and not np.abs(get["y"][pad]).any()
    assert not np.abs(get["dx"][pad]).any()


@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_pytorch_exported_stacked_bidirectional_onnx_imports_and_agrees(name):
    """torch.onnx.export's own patterns for a stack: a Slice of one zero state
    per layer, Transpose + Reshape between the layers' nodes."""
    path = os.path.join(os.path.dirname(FIXTURE), f"torch_{name}_stack.onnx")
    model = gn.import_onnx(path)
    layer = model[0]
    assert type(layer) is {"gru": nn.GRU, "lstm": nn.LSTM}[name]
    assert (layer.num_layers, layer.bidirectional, layer.hidden_size) == (2, True, 4)
    x, want = DATA[f"onnx_{name}/x"], DATA[f"onnx_{name}/y"]
    np.testing.assert_allclose(gn.predict(model, x), want, atol=1e-5)
