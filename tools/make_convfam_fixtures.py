"""PyTorch's numbers for glassnet's conv and pooling family (tests/test_convfam.py).

Run once in a throwaway venv that has torch (tests never import it):

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy
    /tmp/torch/bin/python tools/make_convfam_fixtures.py

Writes tests/fixtures/torch_convfam.npz: for each case ``name``, the arrays
``name/x`` (input), ``name/w`` and ``name/b`` (weights, when the op has
them), ``name/y`` (PyTorch's output, float64) and ``name/args``, the keyword
arguments as JSON text, in glassnet's names.
"""

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torch_convfam.npz"
rng = np.random.default_rng(18)
arrays = {}


def case(name, op, x_shape, args, w_shape=None, bias=False, torch_args=None):
    x = rng.standard_normal(x_shape)
    tensors = [torch.tensor(x)]
    arrays[f"{name}/x"] = x
    if w_shape is not None:
        w = rng.standard_normal(w_shape)
        arrays[f"{name}/w"] = w
        tensors.append(torch.tensor(w))
        transposed = op == "conv_transpose2d"
        out = w_shape[1] * args.get("groups", 1) if transposed else w_shape[0]
        b = rng.standard_normal(out)
        if bias:
            arrays[f"{name}/b"] = b
        tensors.append(torch.tensor(b) if bias else None)
    y = FUNCTIONS[op](*tensors, **(torch_args or args))
    arrays[f"{name}/y"] = y.numpy()
    arrays[f"{name}/args"] = np.array(json.dumps({"op": op, **args}))


FUNCTIONS = {
    "conv2d": F.conv2d,
    "conv1d": F.conv1d,
    "conv_transpose2d": F.conv_transpose2d,
    "upsample": F.interpolate,
    "adaptive_avg_pool2d": F.adaptive_avg_pool2d,
    "avg_pool2d": F.avg_pool2d,
    "max_pool1d": F.max_pool1d,
    "avg_pool1d": F.avg_pool1d,
}

conv = {"stride": [2, 1], "padding": [3, 1], "dilation": [2, 3], "groups": 2}
case("conv2d_dilated_grouped", "conv2d", (2, 4, 9, 8), conv, (6, 2, 3, 3), True)
case(
    "conv2d_depthwise",
    "conv2d",
    (1, 3, 7, 7),
    {"padding": 1, "groups": 3},
    (3, 1, 3, 3),
    True,
)
depth = {"stride": 2, "padding": 2, "dilation": 2, "groups": 3}
case("conv2d_depthwise_x2", "conv2d", (2, 3, 6, 5), depth, (6, 1, 2, 3))
conv1 = {"stride": 2, "padding": 2, "dilation": 3, "groups": 2}
case("conv1d_dilated_grouped", "conv1d", (2, 4, 11), conv1, (4, 2, 3), True)

t1 = {"stride": 2, "padding": 1, "output_padding": 1}
case("convt_stride2", "conv_transpose2d", (2, 4, 3, 4), t1, (4, 3, 3, 3), True)
t2 = {
    "stride": [3, 2],
    "padding": [0, 2],
    "output_padding": [2, 1],
    "dilation": [1, 2],
    "groups": 2,
}
case("convt_grouped_dilated", "conv_transpose2d", (1, 4, 5, 3), t2, (4, 2, 2, 3), True)
t3 = {"padding": 3}
case("convt_pad_past_kernel", "conv_transpose2d", (2, 2, 6, 6), t3, (2, 5, 3, 3))

for name, shape, args in [
    ("nearest_x2", (2, 3, 4, 5), {"scale_factor": 2, "mode": "nearest"}),
    ("nearest_x3", (1, 2, 3, 2), {"scale_factor": 3, "mode": "nearest"}),
    ("nearest_size", (2, 1, 4, 5), {"size": [7, 9], "mode": "nearest"}),
    ("nearest_shrink", (1, 2, 7, 6), {"size": [3, 4], "mode": "nearest"}),
    (
        "bilinear_x2",
        (2, 3, 4, 5),
        {"scale_factor": 2, "mode": "bilinear", "align_corners": False},
    ),
    (
        "bilinear_x2_corners",
        (2, 3, 4, 5),
        {"scale_factor": 2, "mode": "bilinear", "align_corners": True},
    ),
    (
        "bilinear_size",
        (1, 2, 4, 5),
        {"size": [7, 3], "mode": "bilinear", "align_corners": False},
    ),
    (
        "bilinear_size_corners",
        (1, 2, 4, 5),
        {"size": [1, 6], "mode": "bilinear", "align_corners": True},
    ),
]:
    case(f"upsample_{name}", "upsample", shape, args)

for name, shape, size in [
    ("7x9_to_3x4", (2, 3, 7, 9), [3, 4]),
    ("5x5_to_1", (1, 2, 5, 5), [1, 1]),
    ("6x5_to_4x4", (2, 1, 6, 5), [4, 4]),
]:
    case(f"adaptive_{name}", "adaptive_avg_pool2d", (shape), {"output_size": size})

inc = {
    "kernel_size": 3,
    "stride": 2,
    "padding": 1,
    "ceil_mode": True,
    "count_include_pad": True,
}
case("avg_pool2d_count_pad_ceil", "avg_pool2d", (2, 2, 7, 6), inc)
inc2 = {
    "kernel_size": [3, 2],
    "stride": 1,
    "padding": [1, 1],
    "count_include_pad": True,
}
case("avg_pool2d_count_pad", "avg_pool2d", (1, 2, 5, 4), inc2)
m1 = {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}
case("max_pool1d", "max_pool1d", (2, 3, 10), m1)
for include in (False, True):
    a1 = {**m1, "count_include_pad": include}
    case(f"avg_pool1d_include_{include}", "avg_pool1d", (2, 3, 10), a1)

np.savez(OUT, **arrays)
print(f"wrote {len(arrays)} arrays to {OUT}")
