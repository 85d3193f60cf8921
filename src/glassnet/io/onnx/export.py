"""glassnet model -> ONNX graph: a few standard ONNX nodes per layer."""

from __future__ import annotations

import os

import numpy as np

from ...errors import ConfigError
from ...kernels.activations import SELU_ALPHA, SELU_SCALE
from ..container import atomic_write
from ._common import GRU_GATES, MIN_OPSET, TO_ONNX_GATES, require_onnx


# --- export ---------------------------------------------------------------------------
class _Builder:
    """Collects the nodes and initialisers of one graph, with unique names."""

    def __init__(self, onnx, dtype, ids_input: bool):
        self.onnx, self.helper = onnx, onnx.helper
        self.dtype = np.dtype(dtype)
        self.elem = onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes, self.inits, self.names = [], [], set()
        self.ids_input = ids_input  # the graph input is int64 symbol ids
        self.functions = []  # model-local functions (MultiHeadAttention's body)
        self.opset = 18

    def _unique(self, name: str) -> str:
        base, k = name, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def const(self, name: str, value, dtype=None) -> str:
        """An initialiser holding ``value`` (in the model's dtype unless given)."""
        arr = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self._unique(name)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def axes(self, name: str, axes) -> str:
        return self.const(name, np.asarray(axes, np.int64), np.int64)

    def node(self, op: str, inputs, name: str, outputs: int = 1, **attrs):
        """Add one node; return its output name (or names, for ``outputs`` > 1)."""
        name = self._unique(name)
        outs = [
            self._unique(f"{name}" if outputs == 1 else f"{name}:{i}")
            for i in range(outputs)
        ]
        self.nodes.append(
            self.helper.make_node(op, list(inputs), outs, name=name, **attrs)
        )
        return outs[0] if outputs == 1 else outs


def _flat_layers(model, prefix: str = ""):
    """(parameter-name prefix, layer) for every layer, nested Sequentials opened."""
    from ...nn.module import Sequential

    if type(model) is not Sequential:
        yield prefix, model
        return
    for i, layer in enumerate(model):
        yield from _flat_layers(layer, f"{prefix}{i}.")


def _input_shape(layers, input_shape):
    """The shape of one sample, known sizes as ints and unknown ones as names."""
    from ... import nn

    if input_shape is not None:
        shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
        for d in shape:
            if isinstance(d, bool) or not (
                (isinstance(d, (int, np.integer)) and d >= 1) or isinstance(d, str)
            ):
                raise ConfigError(
                    f"export_onnx: input_shape must hold positive sizes (or names "
                    f"for sizes that vary) of one sample, without the batch axis; "
                    f"got {input_shape!r}."
                )
        return tuple(d if isinstance(d, str) else int(d) for d in shape)
    recurrent = any(isinstance(m, (nn.RNN, nn.LSTM, nn.GRU)) for _, m in layers)
    for _, layer in layers:
        if isinstance(layer, nn.Dense):
            return (layer.in_features,)
        if isinstance(layer, (nn.Conv2D, nn.ConvTranspose2D)):
            return (layer.in_channels, "height", "width")
        if isinstance(layer, nn.Conv1D):
            return (layer.in_channels, "length")
        if isinstance(layer, (nn.RNN, nn.LSTM, nn.GRU)):
            return ("time", layer.input_size)
        if isinstance(layer, nn.MultiHeadAttention):
            return ("time", layer.embed_dim)
        if isinstance(layer, (nn.Embedding, nn.OneHot)):
            return ("time",) if recurrent else ()
        if isinstance(layer, (nn.MaxPool2D, nn.AvgPool2D, nn.GlobalAveragePool2D)):
            return ("channels", "height", "width")
        if not isinstance(
            layer, (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.Identity, nn.Softmax, nn.Step)
        ) and not isinstance(layer, _elementwise()):
            break
    first = type(layers[0][1]).__name__ if layers else "an empty model"
    raise ConfigError(
        f"export_onnx: the input shape of a model starting with {first} cannot be "
        "told from its layers; pass input_shape=(...), the shape of one sample "
        "without the batch axis, e.g. input_shape=(1, 28, 28)."
    )


def _elementwise() -> tuple:
    from ... import nn

    return (nn.LeakyReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Softplus) + (
        nn.Dropout,
        nn.BatchNorm1D,
        nn.BatchNorm2D,
        nn.LayerNorm,
    )


def _pads(padding, spatial: int, explicit=None):
    """Conv attributes for glassnet's padding: explicit pads, or SAME_UPPER."""
    if explicit is not None:
        return {"pads": explicit}
    if padding == "same":
        return {"auto_pad": "SAME_UPPER"}
    if padding == "valid":
        return {"auto_pad": "VALID"}
    pair = (padding,) * spatial if isinstance(padding, int) else tuple(padding)
    return {"pads": list(pair) * 2}


def _export_dense(b: _Builder, layer, x, p):
    y = b.node("MatMul", [x, b.const(p + "weight", layer.weight.data)], p + "MatMul")
    if layer.bias is not None:
        y = b.node("Add", [y, b.const(p + "bias", layer.bias.data)], p + "Add")
    return y


def _export_conv(b: _Builder, layer, x, p):
    spatial = layer.weight.ndim - 2
    inputs = [x, b.const(p + "weight", layer.weight.data)]
    if layer.bias is not None:
        inputs.append(b.const(p + "bias", layer.bias.data))
    kernel = list(layer.weight.shape[2:])
    stride = list(layer.stride) if spatial == 2 else [layer.stride]
    return b.node(
        "Conv",
        inputs,
        p + "Conv",
        kernel_shape=kernel,
        strides=stride,
        **_pads(layer.padding, spatial, _dilated_same(layer, kernel, stride)),
        **_dilation_group(layer),
    )


def _dilated_same(layer, kernel, stride):
    """Explicit pads for a dilated 'same' convolution (onnxruntime runs no
    SAME_UPPER with dilations): with stride 1 they do not depend on the input."""
    d = layer.dilation if isinstance(layer.dilation, tuple) else (layer.dilation,)
    if layer.padding != "same" or set(d) == {1}:
        return None
    if set(stride) != {1}:
        raise ConfigError(
            f"export_onnx: {type(layer).__name__}({layer.extra_repr()}): a dilated "
            "'same' convolution with stride > 1 has no ONNX form onnxruntime runs; "
            "give the padding in pixels."
        )
    totals = [di * (k - 1) for di, k in zip(d, kernel)]
    return [t // 2 for t in totals] + [t - t // 2 for t in totals]


def _dilation_group(layer) -> dict:
    """Conv's dilations and group attributes, only when not 1 (older files had
    neither)."""
    d = layer.dilation if isinstance(layer.dilation, tuple) else (layer.dilation,)
    attrs = {} if set(d) == {1} else {"dilations": list(d)}
    return attrs if layer.groups == 1 else {**attrs, "group": layer.groups}


def _export_conv_transpose(b: _Builder, layer, x, p):
    inputs = [x, b.const(p + "weight", layer.weight.data)]
    if layer.bias is not None:
        inputs.append(b.const(p + "bias", layer.bias.data))
    return b.node(
        "ConvTranspose",
        inputs,
        p + "ConvTranspose",
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.stride),
        pads=list(layer.padding) * 2,
        output_padding=list(layer.output_padding),
        dilations=list(layer.dilation),
        group=layer.groups,
    )


def _export_pool(op: str):
    def export(b: _Builder, layer, x, p):
        extra = {}
        if op == "AveragePool":
            extra["count_include_pad"] = int(layer.count_include_pad)
        one_d = isinstance(layer.kernel_size, int)  # 2-D pooling of height-1 maps
        window, stride, pads = (list(v[one_d:]) for v in layer._geometry)
        return b.node(
            op,
            [x],
            p + op,
            kernel_shape=window,
            strides=stride,
            pads=pads * 2,
            ceil_mode=int(layer.ceil_mode),
            **extra,
        )

    return export


def _export_global_pool(op: str):
    def export(b: _Builder, layer, x, p):
        y = b.node(op, [x], p + op)
        return b.node("Flatten", [y], p + "Flatten", axis=1)

    return export


def _static_hw(b: _Builder, x: str, where: str) -> tuple:
    """The (height, width) of ``x``, as ONNX shape inference finds them."""
    onnx = b.onnx
    if x == b.graph_input.name:
        dims = b.graph_input.type.tensor_type.shape.dim
    else:
        out = onnx.helper.make_tensor_value_info(x, b.elem, None)
        graph = onnx.helper.make_graph(
            b.nodes, "probe", [b.graph_input], [out], b.inits
        )
        probe = onnx.helper.make_model(graph, opset_imports=b.opset_imports)
        inferred = onnx.shape_inference.infer_shapes(probe)
        dims = inferred.graph.output[0].type.tensor_type.shape.dim
    hw = [d.dim_value if d.HasField("dim_value") else 0 for d in list(dims)[-2:]]
    if len(dims) != 4 or 0 in hw:
        raise ConfigError(
            f"export_onnx: {where} needs its input's height and width, and they are "
            "not fixed here; pass input_shape=(channels, height, width) with sizes."
        )
    return tuple(hw)


def _export_adaptive(b: _Builder, layer, x, p):
    """GlobalAveragePool for 1x1; AveragePool when the bins tile the map evenly;
    else the averaging matrices as two MatMuls (ONNX has no adaptive pooling)."""
    from ...kernels.resample import adaptive_avg_matrix

    if layer.output_size == (1, 1):
        return b.node("GlobalAveragePool", [x], p + "GlobalAveragePool")
    hw = _static_hw(b, x, f"AdaptiveAvgPool2D({layer.extra_repr()})")
    if all(n % m == 0 for n, m in zip(hw, layer.output_size)):
        window = [n // m for n, m in zip(hw, layer.output_size)]
        return b.node("AveragePool", [x], p + "AveragePool", kernel_shape=window,
                      strides=window)  # fmt: skip
    rows, cols = (adaptive_avg_matrix(n, m) for n, m in zip(hw, layer.output_size))
    y = b.node("MatMul", [b.const(p + "rows", rows), x], p + "MatMul_rows")
    return b.node("MatMul", [y, b.const(p + "cols", cols.T)], p + "MatMul_cols")


def _export_upsample(b: _Builder, layer, x, p):
    """Resize: nearest as PyTorch exports it (asymmetric, floor); bilinear with
    half_pixel (PyTorch's coordinates, output size 1 included) or align_corners."""
    if layer.mode == "nearest":
        how = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
               "nearest_mode": "floor"}  # fmt: skip
    else:
        corners = "align_corners" if layer.align_corners else "half_pixel"
        how = {"mode": "linear", "coordinate_transformation_mode": corners}
    if layer.scale_factor:
        scales = b.const(p + "scales", [1.0, 1.0, *layer.scale_factor], np.float32)
        return b.node("Resize", [x, "", scales], p + "Resize", **how)
    if b.opset < 18:
        raise ConfigError(
            f"export_onnx: Upsample(size={list(layer.size)}) needs opset 18 or newer "
            "(Resize's axes); pass opset=18, or use scale_factor."
        )
    sizes = b.const(p + "sizes", np.asarray(layer.size, np.int64), np.int64)
    return b.node("Resize", [x, "", "", sizes], p + "Resize", axes=[2, 3], **how)


def _export_step(b: _Builder, layer, x, p):
    above = b.node(
        "Greater", [x, b.const(p + "threshold", layer.threshold)], p + "Greater"
    )
    return b.node(
        "Where",
        [above, b.const(p + "high", layer.high), b.const(p + "low", layer.low)],
        p + "Where",
    )


def _as_ids(b: _Builder, x, p):
    return (
        x
        if b.ids_input and x == "input"
        else b.node("Cast", [x], p + "Cast", to=b.onnx.TensorProto.INT64)
    )


def _export_embedding(b: _Builder, layer, x, p):
    ids = _as_ids(b, x, p)
    return b.node(
        "Gather", [b.const(p + "weight", layer.weight.data), ids], p + "Gather", axis=0
    )


def _export_one_hot(b: _Builder, layer, x, p):
    ids = _as_ids(b, x, p)
    depth = b.const(p + "depth", np.int64(layer.num_classes), np.int64)
    values = b.const(p + "values", [0.0, 1.0])
    return b.node("OneHot", [ids, depth, values], p + "OneHot", axis=-1)


def _onnx_cell(layer, sfx: str):
    """One layer-direction's (W, R, B) in ONNX's layout: (G·H, in), ONNX's gate
    order, bias as [Wb, Rb] (glassnet's bias as Wb; Rb zero but a GRU's b_hn)."""
    from ...nn import GRU, LSTM

    H = layer.hidden_size
    w_ih, w_hh, bias = (
        getattr(layer, n + sfx).data for n in ("weight_ih", "weight_hh", "bias")
    )
    rb = np.zeros_like(bias)
    if isinstance(layer, GRU):
        rb[2 * H :] = getattr(layer, "bias_hn" + sfx).data
    order = {LSTM: TO_ONNX_GATES, GRU: GRU_GATES}.get(type(layer), (0,))

    def gates(a):
        return np.concatenate([a[..., k * H : (k + 1) * H] for k in order], axis=-1)

    return gates(w_ih).T, gates(w_hh).T, np.concatenate([gates(bias), gates(rb)])


def _export_recurrent(b: _Builder, layer, x, p):
    """(batch, time, F) -> time-major -> one RNN/LSTM/GRU node per layer (both
    directions in one node) -> back to batch-first."""
    from ...nn import GRU, LSTM

    H, D = layer.hidden_size, layer.directions
    if isinstance(layer, (LSTM, GRU)):
        op = "LSTM" if isinstance(layer, LSTM) else "GRU"
        extra = {"linear_before_reset": 1} if op == "GRU" else {}
    else:
        op = "RNN"
        act = "Relu" if layer.nonlinearity == "relu" else "Tanh"
        extra = {"activations": [act] * D}
    if D == 2:
        extra["direction"] = "bidirectional"
    xt = b.node("Transpose", [x], p + "Transpose_in", perm=[1, 0, 2])
    for k in range(layer.num_layers):
        sfx = "" if k == 0 else f"_l{k}"
        cells = [_onnx_cell(layer, sfx + ("_reverse" if d else "")) for d in range(D)]
        W, R, B = (
            b.const(p + name + sfx, np.stack([c[j] for c in cells]))
            for j, name in enumerate("WRB")
        )
        y, y_h = b.node(op, [xt, W, R, B], p + op, outputs=2, hidden_size=H, **extra)
        if k == layer.num_layers - 1 and not layer.return_sequences:
            break
        if D == 1:
            xt = b.node("Squeeze", [y, b.axes(p + "axes1", [1])], p + "Squeeze")
        else:  # (time, 2, batch, H) -> (time, batch, 2H): the directions side by side
            y = b.node("Transpose", [y], p + "Transpose_dirs", perm=[0, 2, 1, 3])
            xt = b.node("Reshape", [y, b.axes(p + "shape", [0, 0, -1])], p + "Reshape")
    if not layer.return_sequences:
        if D == 1:
            return b.node("Squeeze", [y_h, b.axes(p + "axes0", [0])], p + "Squeeze")
        y_h = b.node("Transpose", [y_h], p + "Transpose_last", perm=[1, 0, 2])
        return b.node("Reshape", [y_h, b.axes(p + "shape", [0, -1])], p + "Reshape")
    return b.node("Transpose", [xt], p + "Transpose_out", perm=[1, 0, 2])


def _export_dropout(b: _Builder, layer, x, p):
    """ONNX Dropout with its ratio; at inference (no training_mode) the identity."""
    return b.node("Dropout", [x, b.const(p + "ratio", layer.p)], p + "Dropout")


def _affine(b: _Builder, layer, p, shape):
    """γ and β as initialisers: the layer's, or 1 and 0 when it learns none."""
    if layer.weight is None:
        return b.const(p + "scale", np.ones(shape)), b.const(p + "B", np.zeros(shape))
    return b.const(p + "scale", layer.weight.data), b.const(p + "B", layer.bias.data)


def _export_batch_norm(b: _Builder, layer, x, p):
    """BatchNormalization at inference, with the running statistics (ONNX's
    momentum is the share the running value keeps: 1 − glassnet's)."""
    scale, bias = _affine(b, layer, p, layer.num_features)
    mean = b.const(p + "mean", layer.running_mean)
    var = b.const(p + "var", layer.running_var)
    return b.node(
        "BatchNormalization", [x, scale, bias, mean, var], p + "BatchNormalization",
        epsilon=layer.eps, momentum=1 - layer.momentum,
    )  # fmt: skip


def _export_layer_norm(b: _Builder, layer, x, p):
    """LayerNormalization (opset 17 and later) over the last len(shape) axes."""
    if b.opset < 17:
        raise ConfigError(
            f"export_onnx: LayerNorm needs ONNX's LayerNormalization, opset 17 or "
            f"later; got opset={b.opset}."
        )
    scale, bias = _affine(b, layer, p, layer.normalized_shape)
    return b.node(
        "LayerNormalization", [x, scale, bias], p + "LayerNormalization",
        axis=-len(layer.normalized_shape), epsilon=layer.eps,
    )  # fmt: skip


ATTENTION_DOMAIN = "glassnet"


def _export_attention(b: _Builder, layer, x, p):
    """One call of a model-local function whose body is standard ONNX nodes:

    MatMul + Add (q|k|v) -> Reshape (B, T, 3, H, d) -> Transpose -> Gather q, k, v
    -> MatMul q kᵀ -> Mul 1/√d (-> Where −∞ above the diagonal, from Range +
    Greater, if causal) -> Softmax -> MatMul v -> Transpose -> Reshape -> MatMul
    + Add. The call carries ``num_heads`` and ``causal`` for import.
    """
    helper, E, H = b.helper, layer.embed_dim, layer.num_heads
    body, n = [], [0]
    bias = layer.bias_in is not None

    def const(value, dtype=None):
        arr = np.asarray(value, dtype=b.dtype if dtype is None else dtype)
        n[0] += 1
        name = f"c{n[0]}"
        tensor = b.onnx.numpy_helper.from_array(arr, name)
        body.append(helper.make_node("Constant", [], [name], value=tensor))
        return name

    def node(op, inputs, **attrs):
        n[0] += 1
        out = f"t{n[0]}_{op}"
        body.append(helper.make_node(op, list(inputs), [out], **attrs))
        return out

    i64 = np.int64
    y = node("MatMul", ["x", "weight_in"])
    y = node("Add", [y, "bias_in"]) if bias else y
    y = node("Reshape", [y, const([0, 0, 3, H, E // H], i64)])
    y = node("Transpose", [y], perm=[2, 0, 3, 1, 4])
    q, k, v = (node("Gather", [y, const(i, i64)], axis=0) for i in range(3))
    k = node("Transpose", [k], perm=[0, 1, 3, 2])
    s = node("Mul", [node("MatMul", [q, k]), const(1 / np.sqrt(E // H))])
    if layer.causal:
        t = node("Gather", [node("Shape", ["x"]), const(1, i64)], axis=0)
        r = node("Range", [const(0, i64), t, const(1, i64)])
        above = node(
            "Greater",
            [
                node("Unsqueeze", [r, const([0], i64)]),
                node("Unsqueeze", [r, const([1], i64)]),
            ],
        )
        s = node("Where", [above, const(-np.inf), s])
    y = node("MatMul", [node("Softmax", [s], axis=-1), v])
    y = node("Transpose", [y], perm=[0, 2, 1, 3])
    y = node("MatMul", [node("Reshape", [y, const([0, 0, E], i64)]), "weight_out"])
    body.append(
        helper.make_node(
            "Add" if bias else "Identity", [y, "bias_out"][: 1 + bias], ["y"]
        )
    )
    names = (
        ["weight_in", "bias_in", "weight_out", "bias_out"]
        if bias
        else ["weight_in", "weight_out"]
    )
    fname = b._unique("MultiHeadAttention")
    opset = [helper.make_opsetid("", b.opset)]
    b.functions.append(
        helper.make_function(
            ATTENTION_DOMAIN,
            fname,
            ["x", *names],
            ["y"],
            body,
            opset,
            ["num_heads", "causal"],
        )
    )
    inputs = [x, *(b.const(p + name, getattr(layer, name).data) for name in names)]
    return b.node(
        fname, inputs, p + "MultiHeadAttention", domain=ATTENTION_DOMAIN,
        num_heads=H, causal=int(layer.causal),
    )  # fmt: skip


def _export_gelu(b: _Builder, layer, x, p):
    """Gelu (opset 20+), else its formula as PyTorch's exporter writes it."""
    if b.opset >= 20:
        return b.node("Gelu", [x], p + "Gelu", approximate=layer.approximate)
    if layer.approximate == "tanh":  # ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))
        cube = b.node("Mul", [b.node("Mul", [x, x], p + "Square"), x], p + "Cube")
        inner = b.node("Mul", [cube, b.const(p + "kappa", 0.044715)], p + "Kappa")
        inner = b.node("Add", [x, inner], p + "Inner")
        inner = b.node(
            "Mul", [inner, b.const(p + "beta", np.sqrt(2 / np.pi))], p + "Beta"
        )
        phi = b.node("Tanh", [inner], p + "Tanh")
    else:  # ½ x (1 + erf(x / √2))
        phi = b.node("Div", [x, b.const(p + "sqrt2", np.sqrt(2.0))], p + "Div")
        phi = b.node("Erf", [phi], p + "Erf")
    phi = b.node("Add", [phi, b.const(p + "one", 1.0)], p + "Add")
    y = b.node("Mul", [x, phi], p + "Mul")
    return b.node("Mul", [y, b.const(p + "half", 0.5)], p + "Half")


def _export_silu(b: _Builder, layer, x, p):
    return b.node("Mul", [x, b.node("Sigmoid", [x], p + "Sigmoid")], p + "Mul")


def _export_softplus(b: _Builder, layer, x, p):
    """Softplus; with β ≠ 1, Mul β → Softplus → Div β. (ONNX has no threshold:
    past it the two differ by less than e^−threshold / β.)"""
    if layer.beta == 1:
        return b.node("Softplus", [x], p + "Softplus")
    beta = b.const(p + "beta", layer.beta)
    y = b.node("Softplus", [b.node("Mul", [x, beta], p + "Mul")], p + "Softplus")
    return b.node("Div", [y, beta], p + "Div")


def _simple(op: str, **attrs):
    def export(b: _Builder, layer, x, p):
        return b.node(op, [x], p + op, **attrs)

    return export


def _exporters() -> dict:
    from ... import nn

    return {
        nn.Dense: _export_dense,
        nn.Sigmoid: _simple("Sigmoid"),
        nn.Tanh: _simple("Tanh"),
        nn.ReLU: _simple("Relu"),
        nn.Identity: _simple("Identity"),
        nn.Softmax: lambda b, layer, x, p: b.node(
            "Softmax", [x], p + "Softmax", axis=layer.axis
        ),
        nn.Step: _export_step,
        nn.Flatten: _simple("Flatten", axis=1),
        nn.Conv1D: _export_conv,
        nn.Conv2D: _export_conv,
        nn.MaxPool2D: _export_pool("MaxPool"),
        nn.AvgPool2D: _export_pool("AveragePool"),
        nn.GlobalAveragePool2D: _export_global_pool("GlobalAveragePool"),
        nn.Embedding: _export_embedding,
        nn.OneHot: _export_one_hot,
        nn.RNN: _export_recurrent,
        nn.LSTM: _export_recurrent,
        nn.Dropout: _export_dropout,
        nn.BatchNorm1D: _export_batch_norm,
        nn.BatchNorm2D: _export_batch_norm,
        nn.LayerNorm: _export_layer_norm,
        nn.MultiHeadAttention: _export_attention,
        # issue 18: the conv and pooling family
        nn.ConvTranspose2D: _export_conv_transpose,
        nn.MaxPool1D: _export_pool("MaxPool"),
        nn.AvgPool1D: _export_pool("AveragePool"),
        nn.GlobalMaxPool2D: _export_global_pool("GlobalMaxPool"),
        nn.AdaptiveAvgPool2D: _export_adaptive,
        nn.Upsample: _export_upsample,
        nn.LeakyReLU: lambda b, layer, x, p: b.node(
            "LeakyRelu", [x], p + "LeakyRelu", alpha=layer.negative_slope
        ),
        nn.ELU: lambda b, layer, x, p: b.node("Elu", [x], p + "Elu", alpha=layer.alpha),
        nn.SELU: _simple("Selu", alpha=SELU_ALPHA, gamma=SELU_SCALE),
        nn.GELU: _export_gelu,
        nn.SiLU: _export_silu,
        nn.Softplus: _export_softplus,
        nn.LogSoftmax: lambda b, layer, x, p: b.node(
            "LogSoftmax", [x], p + "LogSoftmax", axis=layer.axis
        ),
        nn.GRU: _export_recurrent,
    }


def exportable_layers() -> tuple:
    """The layer classes :func:`export_onnx` can write."""
    return tuple(_exporters())


def to_onnx_model(
    model,
    opset: int = 18,
    dynamic_batch: bool = True,
    *,
    input_shape=None,
    standardize=None,
):
    """The ``onnx.ModelProto`` that :func:`export_onnx` writes (checked)."""
    from ... import __version__
    from ...nn import Embedding, OneHot
    from ...nn.module import Module

    onnx = require_onnx()
    if not isinstance(model, Module):
        raise ConfigError(
            f"export_onnx: expected a glassnet model; got {type(model).__name__}."
        )
    newest = onnx.defs.onnx_opset_version()
    if (
        isinstance(opset, bool)
        or not isinstance(opset, int)
        or not (MIN_OPSET <= opset <= newest)
    ):
        raise ConfigError(
            f"export_onnx: opset must be an integer from {MIN_OPSET} to "
            f"{newest} (this onnx package's newest); got {opset!r}."
        )
    layers = list(_flat_layers(model))
    exporters = _exporters()
    missing = [
        f"{p.rstrip('.') or 'the model'} ({type(m).__name__})"
        for p, m in layers
        if type(m) not in exporters
    ]
    if missing:
        raise ConfigError(
            f"export_onnx: no ONNX form for layer(s) {', '.join(missing)}. It can "
            f"write {', '.join(sorted(c.__name__ for c in exporters))}; a custom "
            "layer has to be rewritten with those to be exported."
        )
    sample = _input_shape(layers, input_shape)
    first = layers[0][1] if layers else None
    b = _Builder(
        onnx,
        model.dtype,
        isinstance(first, (Embedding, OneHot)) and standardize is None,
    )
    b.opset = opset
    x = "input"
    batch = "batch" if dynamic_batch else 1
    in_type = onnx.TensorProto.INT64 if b.ids_input else b.elem
    graph_input = onnx.helper.make_tensor_value_info(x, in_type, [batch, *sample])
    b.graph_input, b.opset = graph_input, opset
    b.opset_imports = [onnx.helper.make_opsetid("", opset)]
    if standardize is not None:
        mean, scale = standardize
        x = b.node("Sub", [x, b.const("standardize.mean", mean)], "standardize.Sub")
        x = b.node("Div", [x, b.const("standardize.scale", scale)], "standardize.Div")
    for prefix, layer in layers:
        x = exporters[type(layer)](
            b,
            layer,
            x,
            f"{prefix}{type(layer).__name__}."
            if prefix
            else f"{type(layer).__name__}.",
        )
    maker = [n for n in b.nodes if x in n.output]
    if maker:  # the last layer's node writes the graph output itself
        outs = maker[0].output
        outs[list(outs).index(x)] = "output"
    else:
        b.nodes.append(
            onnx.helper.make_node("Identity", [x], ["output"], name="output")
        )
    graph = onnx.helper.make_graph(
        b.nodes,
        "glassnet",
        [graph_input],
        [onnx.helper.make_tensor_value_info("output", b.elem, None)],
        b.inits,
        doc_string=repr(model),
    )
    opset_id = onnx.helper.make_opsetid("", opset)
    domains = [onnx.helper.make_opsetid(ATTENTION_DOMAIN, 1)] if b.functions else []
    proto = onnx.helper.make_model(
        graph,
        functions=b.functions,
        opset_imports=[opset_id, *domains],
        producer_name="glassnet",
        producer_version=__version__,
        ir_version=onnx.helper.find_min_ir_version_for([opset_id], True),
    )
    inferred = onnx.shape_inference.infer_shapes(proto)
    proto.graph.output[0].CopyFrom(inferred.graph.output[0])
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(
    model,
    path,
    opset: int = 18,
    dynamic_batch: bool = True,
    *,
    input_shape=None,
    standardize=None,
) -> str:
    """Write ``model`` as an ONNX file that onnxruntime (or any ONNX runtime) can run.

    Every built-in layer becomes a few standard ONNX operators (table in
    :mod:`glassnet.io.onnx`); the graph has one input ``"input"`` of shape
    ``(batch, *input_shape)`` and one output ``"output"``, and gives the
    same numbers as :func:`glassnet.predict` (to float32 rounding).
    Recurrent layers start from a zero state on every run, as ``predict``
    does for a layer that is not stateful. The file is checked with
    ``onnx.checker`` and written atomically.

    Parameters
    ----------
    model : Module
        A glassnet model of built-in layers (nested Sequentials are fine).
    path : str or PathLike
        Where to write, e.g. ``"digits.onnx"``.
    opset : int, default 18
        The ONNX operator-set version (13 or newer).
    dynamic_batch : bool, default True
        Leave the batch axis symbolic (any batch size runs); False fixes it to 1.
    input_shape : tuple, optional
        One sample's shape, without the batch axis. By default it is read
        from the first layer: ``(in_features,)`` for Dense, ``(channels,
        "height", "width")`` for Conv2D, ``("time", features)`` for RNN and
        LSTM, ``("time",)`` of int64 ids for Embedding and OneHot before a
        recurrent layer. A string names a size that may vary.
    standardize : (mean, scale), optional
        Arrays of one sample's shape: the graph first computes
        ``(input - mean) / scale``, so it takes raw inputs
        (``glassnet export`` passes those saved by ``glassnet train``).

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.nn import Dense, Sequential, Sigmoid
    >>> model = Sequential(Dense(64, 32), Sigmoid(), Dense(32, 10), seed=0)
    >>> gn.export_onnx(model, "digits.onnx")  # doctest: +SKIP
    'digits.onnx'
    """
    proto = to_onnx_model(
        model, opset, dynamic_batch, input_shape=input_shape, standardize=standardize
    )
    atomic_write(path, proto.SerializeToString())
    return os.fspath(path)
