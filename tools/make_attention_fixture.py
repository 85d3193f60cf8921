"""Make tests/fixtures/torch_attention.npz: PyTorch's nn.MultiheadAttention on
fixed weights and inputs, its outputs, attention weights and gradients.

glassnet's MultiHeadAttention promises PyTorch's numbers (batch_first=True);
tests/test_attention.py checks them against this file without importing torch.
For each case the file holds the weights in glassnet's layout (``weight_in``
(E, 3E) = PyTorch's ``in_proj_weight.T``, ``weight_out`` = ``out_proj.weight.T``),
the inputs and masks, PyTorch's output, its attention weights per head and
averaged over heads, and the gradients of sum(output * upstream) with respect
to the inputs and every parameter. All in float64. Re-run only to change it::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install numpy /opt/wheels/torch-*.whl
    /tmp/torchvenv/bin/python tools/make_attention_fixture.py
"""

from __future__ import annotations

import os

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "torch_attention.npz")

# name: (E, H, batch, Tq, Tk or None for self-attention, causal, padded keys)
CASES = {
    "self_causal_padded": (8, 2, 3, 5, None, True, True),
    "self_one_head": (6, 1, 2, 4, None, False, False),
    "cross_padded": (8, 4, 2, 3, 6, False, True),
}


def main():
    rng = np.random.default_rng(18)
    torch.set_default_dtype(torch.float64)
    out = {}
    for name, (E, H, B, Tq, Tk, causal, padded) in CASES.items():
        w_in = rng.normal(0, 0.5, (E, 3 * E))
        b_in = rng.normal(0, 0.1, 3 * E)
        w_out = rng.normal(0, 0.5, (E, E))
        b_out = rng.normal(0, 0.1, E)
        x = rng.normal(size=(B, Tq, E))
        kv = x if Tk is None else rng.normal(size=(B, Tk, E))
        T_k = kv.shape[1]
        pad = np.zeros((B, T_k), bool)
        if padded:  # the last keys of the first sample are padding (key 0 never)
            pad[0, -2:] = True
        upstream = rng.normal(size=(B, Tq, E))

        mha = torch.nn.MultiheadAttention(E, H, batch_first=True)
        with torch.no_grad():
            mha.in_proj_weight.copy_(torch.tensor(w_in.T))
            mha.in_proj_bias.copy_(torch.tensor(b_in))
            mha.out_proj.weight.copy_(torch.tensor(w_out.T))
            mha.out_proj.bias.copy_(torch.tensor(b_out))
        xt = torch.tensor(x, requires_grad=True)
        kvt = xt if Tk is None else torch.tensor(kv, requires_grad=True)
        mask = torch.triu(torch.ones(Tq, T_k, dtype=torch.bool), 1) if causal else None
        y, w_heads = mha(
            xt, kvt, kvt,
            key_padding_mask=torch.tensor(pad) if padded else None,
            attn_mask=mask, need_weights=True, average_attn_weights=False,
        )  # fmt: skip
        _, w_mean = mha(
            xt, kvt, kvt,
            key_padding_mask=torch.tensor(pad) if padded else None,
            attn_mask=mask, need_weights=True, average_attn_weights=True,
        )  # fmt: skip
        (y * torch.tensor(upstream)).sum().backward()
        arrays = {
            "weight_in": w_in, "bias_in": b_in, "weight_out": w_out,
            "bias_out": b_out, "x": x, "pad": pad, "upstream": upstream,
            "y": y.detach().numpy(), "weights_heads": w_heads.detach().numpy(),
            "weights_mean": w_mean.detach().numpy(),
            "grad_x": xt.grad.numpy(),
            "grad_weight_in": mha.in_proj_weight.grad.numpy().T,
            "grad_bias_in": mha.in_proj_bias.grad.numpy(),
            "grad_weight_out": mha.out_proj.weight.grad.numpy().T,
            "grad_bias_out": mha.out_proj.bias.grad.numpy(),
            "config": np.array([E, H, int(causal), int(padded), int(Tk is not None)]),
        }  # fmt: skip
        if Tk is not None:
            arrays["kv"], arrays["grad_kv"] = kv, kvt.grad.numpy()
        out.update({f"{name}/{k}": v for k, v in arrays.items()})
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({os.path.getsize(OUT):,} bytes), torch {torch.__version__}")


if __name__ == "__main__":
    main()
