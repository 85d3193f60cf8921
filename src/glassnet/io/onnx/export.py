"""glassnet model -> ONNX graph: a few standard ONNX nodes per layer."""

from __future__ import annotations

import os

import numpy as np

from ...errors import ConfigError
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
        if isinstance(layer, nn.Conv2D):
            return (layer.in_channels, "height", "width")
        if isinstance(layer, nn.Conv1D):
            return (layer.in_channels, "length")
        if isinstance(layer, (nn.RNN, nn.LSTM, nn.GRU)):
            return ("time", layer.input_size)
        if isinstance(layer, (nn.Embedding, nn.OneHot)):
            return ("time",) if recurrent else ()
        if isinstance(layer, (nn.MaxPool2D, nn.AvgPool2D, nn.GlobalAveragePool2D)):
            return ("channels", "height", "width")
        if not isinstance(
            layer, (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.Identity, nn.Softmax, nn.Step)
        ):
            break
    first = type(layers[0][1]).__name__ if layers else "an empty model"
    raise ConfigError(
        f"export_onnx: the input shape of a model starting with {first} cannot be "
        "told from its layers; pass input_shape=(...), the shape of one sample "
        "without the batch axis, e.g. input_shape=(1, 28, 28)."
    )


def _pads(padding, spatial: int):
    """Conv attributes for glassnet's padding: explicit pads, or SAME_UPPER."""
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
        **_pads(layer.padding, spatial),
    )


def _export_pool(op: str, **extra):
    def export(b: _Builder, layer, x, p):
        return b.node(
            op,
            [x],
            p + op,
            kernel_shape=list(layer.kernel_size),
            strides=list(layer.stride),
            pads=list(layer.padding) * 2,
            ceil_mode=int(layer.ceil_mode),
            **extra,
        )

    return export


def _export_global_pool(b: _Builder, layer, x, p):
    y = b.node("GlobalAveragePool", [x], p + "GlobalAveragePool")
    return b.node("Flatten", [y], p + "Flatten", axis=1)


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
        nn.AvgPool2D: _export_pool("AveragePool", count_include_pad=0),
        nn.GlobalAveragePool2D: _export_global_pool,
        nn.Embedding: _export_embedding,
        nn.OneHot: _export_one_hot,
        nn.RNN: _export_recurrent,
        nn.LSTM: _export_recurrent,
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
    x = "input"
    batch = "batch" if dynamic_batch else 1
    in_type = onnx.TensorProto.INT64 if b.ids_input else b.elem
    graph_input = onnx.helper.make_tensor_value_info(x, in_type, [batch, *sample])
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
    proto = onnx.helper.make_model(
        graph,
        opset_imports=[opset_id],
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
