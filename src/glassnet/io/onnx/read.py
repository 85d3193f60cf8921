"""ONNX graph -> glassnet Sequential: a walk along the graph's one chain of nodes."""

from __future__ import annotations

import os
import warnings

import numpy as np

from ...errors import FormatError
from ..container import MAX_BYTES
from ._common import FROM_ONNX_GATES, GRU_GATES, MIN_OPSET, require_onnx

MAX_NODES = 10_000
_MAX_ELEMENTS = 1 << 28  # one tensor: 1 GiB of float32


_LAYER_OPS = {
    "MatMul",
    "Gemm",
    "Add",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "Identity",
    "Conv",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "ConvTranspose",
    "GlobalMaxPool",
    "Resize",
    "Flatten",
    "Reshape",
    "Gather",
    "OneHot",
    "RNN",
    "LSTM",
    "GRU",
    "Greater",
    "Where",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Cast",
    "Dropout",
    "Sub",
    "Div",
    "BatchNormalization",
    "LayerNormalization",
    "MultiHeadAttention",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Gelu",
    "SiLU",  # not an ONNX operator: x · Sigmoid(x), fused by _fused
    "Softplus",
    "Mul",
    "LogSoftmax",
}
_VALUE_TYPES = None  # TensorProto element types a tensor may hold (set on first use)


class _Graph:
    """The constants of a graph and a walk along its one chain of nodes."""

    def __init__(self, onnx, proto, where: str):
        self.onnx, self.where, self.proto = onnx, where, proto
        self._shapes = None
        graph = proto.graph
        if len(graph.node) > MAX_NODES:
            raise FormatError(
                f"{where}: {len(graph.node):,} nodes; glassnet reads "
                f"graphs of at most {MAX_NODES:,}."
            )
        if len(graph.sparse_initializer):
            raise FormatError(f"{where}: sparse initialisers are not supported.")
        self.consts = {t.name: self.array(t) for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant":
                self.consts[node.output[0]] = self._constant(node)
            elif node.op_type == "Identity" and node.input[0] in self.consts:
                self.consts[node.output[0]] = self.consts[node.input[0]]
        self.nodes = _fused(onnx, list(graph.node), self.consts, graph.output[0].name)
        self.made_by = {out: node for node in self.nodes for out in node.output}
        inputs = [v for v in graph.input if v.name not in self.consts]
        if len(inputs) != 1 or len(graph.output) != 1:
            raise FormatError(
                f"{where}: glassnet imports graphs with one input and one output; this "
                f"one has inputs {[v.name for v in inputs]} and outputs "
                f"{[v.name for v in graph.output]}."
            )
        self.input, self.output = inputs[0], graph.output[0].name
        self.readers = {}
        for node in self.nodes:
            if node.output and node.output[0] in self.consts:
                continue
            for name in node.input:
                self.readers.setdefault(name, []).append(node)

    def array(self, t) -> np.ndarray:
        """A TensorProto's values, refusing external data and odd types."""
        onnx = self.onnx
        global _VALUE_TYPES
        if _VALUE_TYPES is None:
            P = onnx.TensorProto
            _VALUE_TYPES = {P.FLOAT, P.DOUBLE, P.INT64, P.INT32, P.BOOL, P.FLOAT16}
        if t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data):
            raise FormatError(
                f"{self.where}: tensor {t.name[:80]!r} is stored outside the file "
                "(external data); glassnet reads self-contained ONNX files only. "
                "Save the model with all tensors inside it."
            )
        dims = list(t.dims)
        if (
            t.data_type not in _VALUE_TYPES
            or len(dims) > 8
            or any(d < 0 for d in dims)
            or int(np.prod(dims, dtype=np.float64)) > _MAX_ELEMENTS
        ):
            raise FormatError(
                f"{self.where}: tensor {t.name[:80]!r} has an "
                f"unsupported type or shape ({t.data_type}, "
                f"{dims[:9]})."
            )
        try:
            return onnx.numpy_helper.to_array(t)
        except (ValueError, TypeError) as e:
            raise FormatError(
                f"{self.where}: tensor {t.name[:80]!r} is malformed: {e}"
            ) from None

    def _constant(self, node) -> np.ndarray:
        for a in node.attribute:
            if a.name == "value":
                return self.array(a.t)
            if a.name in ("value_float", "value_int"):
                return np.asarray(a.f if a.name == "value_float" else a.i)
            if a.name in ("value_floats", "value_ints"):
                return np.asarray(
                    list(a.floats if a.name == "value_floats" else a.ints)
                )
        raise FormatError(
            f"{self.where}: Constant node {node.name!r} holds no tensor "
            "glassnet can read."
        )

    def next(self, x: str):
        """The one node reading ``x`` (nodes reading only its shape aside), or None."""
        if x == self.output:
            return None
        readers = [n for n in self.readers.get(x, []) if n.op_type != "Shape"]
        if not readers:
            raise FormatError(
                f"{self.where}: nothing reads {x!r}, and it is not the graph's output."
            )
        if len(readers) > 1:
            raise FormatError(
                f"{self.where}: {x!r} is read by {len(readers)} nodes "
                f"({', '.join(_label(n) for n in readers[:5])}); glassnet imports "
                "chains of layers (a Sequential), not branching graphs."
            )
        return readers[0]

    def const(self, node, slot: int, what: str) -> np.ndarray:
        name = node.input[slot] if slot < len(node.input) else ""
        if name not in self.consts:
            raise FormatError(
                f"{self.where}: node {_label(node)}: its {what} must "
                f"be a constant (an initialiser); got {name!r}."
            )
        return self.consts[name]

    def optional_const(self, node, slot: int, what: str):
        if slot >= len(node.input) or not node.input[slot]:
            return None
        return self.const(node, slot, what)

    def attrs(self, node) -> dict:
        out = {}
        for a in node.attribute:
            v = self.onnx.helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif isinstance(v, list):
                v = [
                    s.decode("utf-8", "replace") if isinstance(s, bytes) else s
                    for s in v
                ]
            out[a.name] = v
        return out

    def shape(self, name: str):
        """One tensor's shape as ONNX's shape inference finds it (None for a
        size it cannot know), or None when it finds nothing."""
        if self._shapes is None:
            try:
                inferred = self.onnx.shape_inference.infer_shapes(self.proto).graph
            except Exception:  # noqa: BLE001 (any failure: the shapes are unknown)
                inferred = self.proto.graph
            self._shapes = {}
            for v in [*inferred.input, *inferred.value_info, *inferred.output]:
                t = v.type.tensor_type
                if t.HasField("shape"):
                    self._shapes[v.name] = tuple(
                        d.dim_value if d.HasField("dim_value") else None
                        for d in t.shape.dim
                    )
        return self._shapes.get(name)

    def fail(self, node, why: str):
        raise FormatError(f"{self.where}: node {_label(node)}: {why}")

    def zero_state(self, node, slot: int) -> None:
        """Check an RNN/LSTM/GRU's initial state input is absent or all zeros."""
        name = node.input[slot] if slot < len(node.input) else ""
        if not name:
            return
        if name in self.consts and np.any(self.consts[name]):
            self.fail(
                node,
                "starts from a non-zero state; glassnet's imported "
                "layer starts from zeros.",
            )
        if not self._zeros(name):
            self.fail(
                node,
                f"its initial state {name!r} is computed in the graph; "
                "glassnet imports recurrent layers that start from zeros.",
            )

    def _zeros(self, name: str, depth: int = 0) -> bool:
        """Whether tensor ``name`` is all zeros: a constant, a ConstantOfShape or
        Expand of zeros, or a Slice (one layer's share, as PyTorch's exporter
        cuts a stack's state) or reshaping of one."""
        if name in self.consts:
            return not np.any(self.consts[name])
        maker = self.made_by.get(name)
        if maker is None or depth > 8:
            return False
        if maker.op_type == "ConstantOfShape":
            value = self.attrs(maker).get("value")
            return value is None or not np.any(self.onnx.numpy_helper.to_array(value))
        if maker.op_type in ("Expand", "Slice", "Squeeze", "Unsqueeze", "Reshape"):
            return self._zeros(maker.input[0], depth + 1)
        return False


# --- elementwise formulas that fork and join: GELU's x·Φ(x), SiLU's x·σ(x) ---------------
_FORMULAS = {
    "Mul": np.multiply,
    "Div": np.divide,
    "Add": np.add,
    "Sub": np.subtract,
    "Pow": np.power,
    "Sqrt": np.sqrt,
    "Tanh": np.tanh,
    "Erf": lambda x: _act().erf(x),
    "Sigmoid": lambda x: _act().sigmoid(x),
}
_MAX_FORMULA = 16  # nodes in one formula


def _act():
    from ...kernels import activations

    return activations


def _candidates():
    a = _act()
    return [
        ("Gelu", {"approximate": "none"}, a.gelu),
        ("Gelu", {"approximate": "tanh"}, lambda x: a.gelu(x, "tanh")),
        ("SiLU", {}, a.silu),
    ]


def _fused(onnx, nodes: list, consts: dict, output: str) -> list:
    """``nodes`` with each elementwise formula that forks off a tensor and joins
    again (exporters write GELU and SiLU so) replaced by one node, "Gelu" or
    "SiLU", when its values on a probe match the activation's."""
    readers: dict = {}
    for node in nodes:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    removed: set = set()
    for x, first in list(readers.items()):
        if len(first) < 2 or x in consts or any(id(n) in removed for n in first):
            continue
        region, closes = _formula(nodes, readers, consts, x, output)
        probe = {x: np.linspace(-5.0, 5.0, 41)}
        with np.errstate(all="ignore"):
            for node in region:
                args = [probe.get(i, consts.get(i)) for i in node.input]
                probe[node.output[0]] = _FORMULAS[node.op_type](*args)
        match = [
            (k, y, op, attrs)
            for k, y in reversed(closes)  # the longest formula first
            for op, attrs, reference in _candidates()
            if np.allclose(probe[y], reference(probe[x]), rtol=1e-5, atol=1e-6)
        ]
        if match:
            k, y, op, attrs = match[0]
            at = nodes.index(region[0])
            removed.update(id(n) for n in region[:k])
            nodes = [n for n in nodes if id(n) not in removed]
            name = region[k - 1].name or op
            nodes.insert(at, onnx.helper.make_node(op, [x], [y], name, **attrs))
    return nodes


def _formula(nodes, readers, consts, x, output):
    """The nodes of the formula that starts at ``x``, and the points where it closes
    on one tensor, ``[(number of nodes, tensor), ...]``: elementwise operators of
    ``_FORMULAS`` only, reading nothing but ``x``, their own results and
    single-number constants."""
    made, region, closes = {x}, [], []
    for node in nodes[nodes.index(readers[x][0]) :]:
        if not made.intersection(node.input):
            continue
        if node.op_type not in _FORMULAS or len(region) >= _MAX_FORMULA:
            break
        if any(
            name not in made and (name not in consts or consts[name].size != 1)
            for name in node.input
        ):
            break
        region.append(node)
        made.update(node.output)
        open_ = [
            t
            for t in made
            if t == output
            or any(all(r is not n for n in region) for r in readers.get(t, []))
        ]
        if len(open_) == 1 and open_[0] != x:
            closes.append((len(region), open_[0]))
    return region, closes


def _label(node) -> str:
    return f"{node.name or '(unnamed)'!r} ({node.op_type})"


def _walk_ops(g: _Graph) -> list:
    """Every node along the chain from the input (for the unsupported-op check)."""
    nodes, x = [], g.input.name
    while True:
        node = g.next(x)
        if node is None:
            return nodes
        nodes.append(node)
        if len(nodes) > MAX_NODES:
            raise FormatError(f"{g.where}: the chain of nodes does not end.")
        live = [o for o in node.output if o and (o == g.output or g.readers.get(o))]
        if not live:
            raise FormatError(
                f"{g.where}: nothing reads the output of node {_label(node)}."
            )
        x = live[0]


def _set(tensor, value: np.ndarray, dtype) -> None:
    tensor.data = np.array(value, dtype=dtype, order="C")  # a writable copy


def _next_is(g: _Graph, x: str, op: str):
    node = g.next(x)
    return node if node is not None and node.op_type == op else None


def _squeeze_axes(g: _Graph, node):
    if node.op_type == "Squeeze":
        axes = g.optional_const(node, 1, "axes")
        if axes is None:
            axes = g.attrs(node).get("axes")
        return None if axes is None else sorted(int(a) for a in np.ravel(axes))
    return None


def _import_dense(g: _Graph, node, x, dtype):
    from ...nn import Dense

    if node.op_type == "Gemm":
        a = g.attrs(node)
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0:
            g.fail(node, "Gemm with transA or alpha != 1 has no Dense equivalent.")
        w = g.const(node, 1, "weight B")
        w = w.T if a.get("transB", 0) else w
        bias = g.optional_const(node, 2, "bias C")
        if bias is not None:
            bias = np.broadcast_to(bias * a.get("beta", 1.0), (w.shape[1],))
    else:
        if node.input[0] != x:
            g.fail(
                node, "MatMul must multiply the data by a weight matrix (data first)."
            )
        w, bias = g.const(node, 1, "weight"), None
    if w.ndim != 2:
        g.fail(node, f"expected a 2-D weight matrix; got shape {w.shape}.")
    y = node.output[0]
    add = _next_is(g, y, "Add") if bias is None else None
    if add is not None:
        other = [n for n in add.input if n != y]
        if (
            len(other) == 1
            and other[0] in g.consts
            and g.consts[other[0]].size == w.shape[1]
        ):
            bias, y = g.consts[other[0]].reshape(-1), add.output[0]
    layer = Dense(w.shape[0], w.shape[1], bias=bias is not None)
    _set(layer.weight, w, dtype)
    if bias is not None:
        _set(layer.bias, bias, dtype)
    return [layer], y


def _symmetric(g: _Graph, node, pads, spatial: int):
    pads = [0] * (2 * spatial) if pads is None else list(pads)
    if len(pads) != 2 * spatial or pads[:spatial] != pads[spatial:]:
        g.fail(
            node,
            f"pads {pads} differ before and after; glassnet pads both sides "
            "alike (or 'same', the odd pixel after).",
        )
    return pads[:spatial]


def _check_unit(g: _Graph, node, a: dict, key: str, spatial: int) -> None:
    if any(v != 1 for v in a.get(key, [1] * spatial)):
        g.fail(node, f"{key} {a[key]} is not supported (glassnet uses 1).")


def _import_conv(g: _Graph, node, x, dtype):
    from ...nn import Conv1D, Conv2D

    w = g.const(node, 1, "weight")
    bias = g.optional_const(node, 2, "bias")
    spatial = w.ndim - 2
    if spatial not in (1, 2):
        g.fail(node, f"a {spatial}-D convolution; glassnet has Conv1D and Conv2D.")
    a = g.attrs(node)
    groups, dilation = a.get("group", 1), a.get("dilations", [1] * spatial)
    auto = a.get("auto_pad", "NOTSET")
    if auto == "SAME_UPPER":
        padding = "same"
    elif auto == "VALID":
        padding = "valid"
    elif auto == "NOTSET":
        pads = _symmetric(g, node, a.get("pads"), spatial)
        padding = pads[0] if spatial == 1 else tuple(pads)
    else:
        g.fail(
            node,
            f"auto_pad {auto} puts the odd pixel before; glassnet's 'same' "
            "puts it after (SAME_UPPER).",
        )
    stride = a.get("strides", [1] * spatial)
    cls = Conv2D if spatial == 2 else Conv1D
    layer = cls(
        w.shape[1] * groups,
        w.shape[0],
        tuple(w.shape[2:]) if spatial == 2 else w.shape[2],
        stride=tuple(stride) if spatial == 2 else stride[0],
        padding=padding,
        bias=bias is not None,
        dilation=tuple(dilation) if spatial == 2 else dilation[0],
        groups=groups,
    )
    _set(layer.weight, w, dtype)
    if bias is not None:
        _set(layer.bias, bias, dtype)
    return [layer], node.output[0]


def _import_conv_transpose(g: _Graph, node, x, dtype):
    from ...nn import ConvTranspose2D

    w = g.const(node, 1, "weight")
    bias = g.optional_const(node, 2, "bias")
    a = g.attrs(node)
    if w.ndim != 4:
        g.fail(node, f"a {w.ndim - 2}-D ConvTranspose; glassnet has ConvTranspose2D.")
    if a.get("auto_pad", "NOTSET") != "NOTSET" or "output_shape" in a:
        g.fail(node, "auto_pad and output_shape are not supported; give pads.")
    groups = a.get("group", 1)
    layer = ConvTranspose2D(
        w.shape[0],
        w.shape[1] * groups,
        tuple(w.shape[2:]),
        stride=tuple(a.get("strides", [1, 1])),
        padding=tuple(_symmetric(g, node, a.get("pads"), 2)),
        output_padding=tuple(a.get("output_padding", [0, 0])),
        bias=bias is not None,
        dilation=tuple(a.get("dilations", [1, 1])),
        groups=groups,
    )
    _set(layer.weight, w, dtype)
    if bias is not None:
        _set(layer.bias, bias, dtype)
    return [layer], node.output[0]


def _import_resize(g: _Graph, node, x, dtype):
    """Resize as PyTorch writes F.interpolate: nearest (asymmetric, floor) or
    linear (half_pixel, pytorch_half_pixel or align_corners), by whole scales
    or to sizes of the last two axes."""
    from ...nn import Upsample

    a = g.attrs(node)
    mode, how = a.get("mode", "nearest"), a.get("coordinate_transformation_mode")
    nearest = mode == "nearest" and how == "asymmetric"
    nearest = nearest and a.get("nearest_mode", "round_prefer_floor") == "floor"
    linear = mode == "linear" and how in (
        "half_pixel", "pytorch_half_pixel", "align_corners"
    )  # fmt: skip
    if not (nearest or linear) or a.get("antialias", 0):
        g.fail(node, f"Resize mode {mode!r} with {how!r} coordinates is not "
               "Upsample's (nearest: asymmetric + floor; linear: half_pixel or "
               "align_corners).")  # fmt: skip
    scales = g.optional_const(node, 2, "scales")
    sizes = g.optional_const(node, 3, "sizes")
    axes = list(a.get("axes", [0, 1, 2, 3]))
    kind, corners = "bilinear" if linear else "nearest", how == "align_corners"
    if scales is not None and scales.size == 4 and list(scales[:2]) == [1, 1]:
        if (scales[2:] == np.round(scales[2:])).all() and (scales[2:] >= 1).all():
            pair = tuple(int(v) for v in scales[2:])
            return [Upsample(pair, mode=kind, align_corners=corners)], node.output[0]
    if sizes is not None and axes[-2:] == [2, 3] and sizes.size == len(axes):
        size = tuple(int(v) for v in sizes[-2:])
        if how != "pytorch_half_pixel" or min(size) > 1:
            up = Upsample(size=size, mode=kind, align_corners=corners)
            return [up], node.output[0]
    g.fail(
        node,
        "Resize must scale the last two axes by whole factors >= 1 (scales "
        "[1, 1, s, s]) or give their sizes; glassnet's Upsample does those.",
    )


def _import_pool(g: _Graph, node, x, dtype):
    from ...nn import AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D

    a = g.attrs(node)
    kernel = a.get("kernel_shape", [])
    spatial = len(kernel)
    if spatial not in (1, 2):
        g.fail(
            node,
            f"a pooling window of {len(kernel)} axes; glassnet pools 1-D and 2-D maps.",
        )
    _check_unit(g, node, a, "dilations", spatial)
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        g.fail(node, f"auto_pad {a['auto_pad']} is not supported; give explicit pads.")
    if a.get("storage_order", 0) or len([o for o in node.output if o]) > 1:
        g.fail(node, "MaxPool's indices output is not supported.")
    padding = _symmetric(g, node, a.get("pads"), spatial)
    ceil = bool(a.get("ceil_mode", 0))
    average = node.op_type == "AveragePool"
    # counted padding changes a mean only where there is padding or a ragged edge
    include = bool(a.get("count_include_pad", 0)) and average and (any(padding) or ceil)
    classes = {(1, False): MaxPool1D, (2, False): MaxPool2D}
    classes.update({(1, True): AvgPool1D, (2, True): AvgPool2D})
    strides = a.get("strides", [1] * spatial)
    layer = classes[spatial, average](
        kernel[0] if spatial == 1 else tuple(kernel),
        stride=strides[0] if spatial == 1 else tuple(strides),
        padding=padding[0] if spatial == 1 else tuple(padding),
        ceil_mode=ceil,
        **({"count_include_pad": True} if include else {}),
    )
    return [layer], node.output[0]


def _import_global_pool(g: _Graph, node, x, dtype):
    from ...nn import AdaptiveAvgPool2D, GlobalAveragePool2D, GlobalMaxPool2D

    y = node.output[0]
    after = g.next(y)
    flat = after is not None and (
        (after.op_type == "Flatten" and g.attrs(after).get("axis", 1) == 1)
        or (after.op_type == "Reshape" and _flattening(g, after))
        or (after.op_type == "Squeeze" and _squeeze_axes(g, after) == [2, 3])
    )
    average = node.op_type == "GlobalAveragePool"
    if not flat and average:  # (batch, channels, 1, 1)
        return [AdaptiveAvgPool2D(1)], y
    if not flat:
        g.fail(
            node,
            "glassnet's GlobalMaxPool2D gives (batch, channels); it "
            "must be followed by Flatten, or a Reshape or Squeeze to that shape.",
        )
    cls = GlobalAveragePool2D if average else GlobalMaxPool2D
    return [cls()], after.output[0]


def _flattening(g: _Graph, node) -> bool:
    shape = g.const(node, 1, "shape")
    return (
        shape.ndim == 1 and len(shape) == 2 and (shape[1] == -1 or shape[0] in (0, -1))
    )


def _import_reshape(g: _Graph, node, x, dtype):
    from ...nn import Flatten

    if not _flattening(g, node):
        g.fail(
            node,
            f"a Reshape to {g.consts[node.input[1]].tolist()}; glassnet "
            "imports only flattening to (batch, -1).",
        )
    return [Flatten()], node.output[0]


def _import_flatten(g: _Graph, node, x, dtype):
    from ...nn import Flatten

    if g.attrs(node).get("axis", 1) != 1:
        g.fail(node, "Flatten with axis != 1; glassnet's Flatten keeps the batch axis.")
    return [Flatten()], node.output[0]


def _import_gather(g: _Graph, node, x, dtype):
    from ...nn import Embedding

    a = g.attrs(node)
    if node.input[1] != x or node.input[0] not in g.consts or a.get("axis", 0) != 0:
        g.fail(
            node,
            "glassnet imports Gather as a table look-up (Embedding): "
            "Gather(table, ids, axis=0) with a constant table.",
        )
    w = g.consts[node.input[0]]
    if w.ndim != 2:
        g.fail(node, f"expected a 2-D table; got shape {w.shape}.")
    layer = Embedding(w.shape[0], w.shape[1])
    _set(layer.weight, w, dtype)
    return [layer], node.output[0]


def _import_one_hot(g: _Graph, node, x, dtype):
    from ...nn import OneHot

    depth = g.const(node, 1, "depth")
    values = g.const(node, 2, "values")
    if g.attrs(node).get("axis", -1) != -1 or values.tolist() != [0, 1]:
        g.fail(node, "glassnet imports OneHot with axis=-1 and values [0, 1].")
    return [OneHot(int(np.ravel(depth)[0]))], node.output[0]


def _import_step(g: _Graph, node, x, dtype):
    from ...nn import Step

    where = _next_is(g, node.output[0], "Where")
    threshold = g.const(node, 1, "threshold") if node.input[0] == x else None
    if (
        where is None
        or threshold is None
        or threshold.size != 1
        or where.input[0] != node.output[0]
    ):
        g.fail(
            node,
            "glassnet imports Greater only as Step: "
            "Where(Greater(x, threshold), high, low) with constants.",
        )
    high, low = g.const(where, 1, "high"), g.const(where, 2, "low")
    if high.size != 1 or low.size != 1:
        g.fail(where, "Step's high and low must be single numbers.")
    return [Step(*(_short(v, dtype) for v in (threshold, low, high)))], where.output[0]


def _short(value: np.ndarray, dtype) -> float:
    """A single number as the shortest float that rounds to it in ``dtype``."""
    return float(
        str(
            np.asarray(value, dtype).item()
            if dtype == np.float64
            else np.float32(value.item())
        )
    )


_RECURRENT = ("RNN", "LSTM", "GRU")


def _recurrent_node(g: _Graph, rnn, D: int | None):
    """One RNN/LSTM/GRU node's checks and weights: (D, H, [per direction
    (w_ih, w_hh, bias[, bias_hn]) in glassnet's layout], the RNN's activation)."""
    a = g.attrs(rnn)
    direction = a.get("direction", "forward")
    if (
        direction not in ("forward", "bidirectional")
        or a.get("clip") is not None
        or a.get("layout", 0) != 0
        or a.get("input_forget", 0)
        or (rnn.op_type == "GRU" and a.get("linear_before_reset", 0) != 1)
    ):
        g.fail(
            rnn,
            "glassnet imports forward or bidirectional, unclipped, time-major "
            "RNN, LSTM and GRU nodes, without input_forget, and GRUs with "
            "linear_before_reset=1 (PyTorch's GRU).",
        )
    if rnn.input[4:5] and rnn.input[4]:
        g.fail(rnn, "sequence_lens is not supported (every sequence runs to the end).")
    for slot in (5, 6):
        g.zero_state(rnn, slot)
    if (
        rnn.op_type == "LSTM"
        and g.optional_const(rnn, 7, "peepholes P") is not None
        and np.any(g.consts[rnn.input[7]])
    ):
        g.fail(rnn, "peephole connections (P) are not supported.")
    W, R = g.const(rnn, 1, "W"), g.const(rnn, 2, "R")
    H = int(a.get("hidden_size", R.shape[-1]))
    G = {"LSTM": 4, "GRU": 3}.get(rnn.op_type, 1) * H
    n_dir = 2 if direction == "bidirectional" else 1
    if W.ndim != 3 or W.shape[:2] != (n_dir, G) or R.shape != (n_dir, G, H):
        g.fail(rnn, f"W {W.shape} and R {R.shape} do not fit hidden_size {H}.")
    if D is not None and D != n_dir:
        g.fail(rnn, "a stack of recurrent nodes must all have one direction setting.")
    B = g.optional_const(rnn, 3, "B")
    B = np.zeros((n_dir, 2 * G)) if B is None else B
    acts = [s.lower() for s in a.get("activations", [])]
    want = {
        "LSTM": ["sigmoid", "tanh", "tanh"] * n_dir,
        "GRU": ["sigmoid", "tanh"] * n_dir,
    }.get(rnn.op_type)
    act = None
    if want is not None and acts and acts != want:
        g.fail(rnn, f"activations {a['activations']}; glassnet uses {want}.")
    if want is None:
        acts = acts or ["tanh"] * n_dir
        if acts not in (["tanh"] * n_dir, ["relu"] * n_dir):
            g.fail(
                rnn,
                f"activations {a['activations']}; glassnet's RNN uses Tanh or Relu "
                "(the same in both directions).",
            )
        act = acts[0]
    order = {"LSTM": FROM_ONNX_GATES, "GRU": GRU_GATES}.get(rnn.op_type, (0,))

    def gates(m):
        return np.concatenate([m[..., k * H : (k + 1) * H] for k in order], axis=-1)

    cells = []
    for d in range(n_dir):
        wb, rb = B[d, :G], B[d, G:]
        if rnn.op_type == "GRU":  # Rb's z and r blocks add to Wb's; Rbh is b_hn
            bias = wb + np.r_[rb[: 2 * H], np.zeros(H)]
            cell = (gates(W[d].T), gates(R[d].T), gates(bias), rb[2 * H :])
        else:
            cell = (gates(W[d].T), gates(R[d].T), gates(wb + rb))
        cells.append(cell)
    return n_dir, H, cells, act


def _directions_side_by_side(g: _Graph, y: str, D: int, what: str):
    """After a node's output Y (time, D, batch, H): the Squeeze (one direction)
    or Transpose [0, 2, 1, 3] + Reshape [0, 0, -1] (two) that makes it
    (time, batch, D·H); returns the last of those nodes' output."""
    first = g.next(y)
    if D == 1:
        if first is None or _squeeze_axes(g, first) != [1]:
            g.fail(g.made_by[y], f"its output {what} must be squeezed on axis 1.")
        return first.output[0]
    if first is None or first.op_type != "Transpose" or _perm(g, first) != [0, 2, 1, 3]:
        g.fail(
            g.made_by[y],
            f"a bidirectional node's {what} must go through a Transpose perm "
            "[0, 2, 1, 3] and a Reshape to [0, 0, -1] (the directions side by side).",
        )
    shape = _next_is(g, first.output[0], "Reshape")
    if shape is None or list(g.const(shape, 1, "shape")) != [0, 0, -1]:
        g.fail(first, "expected a Reshape to [0, 0, -1] after it.")
    return shape.output[0]


def _import_recurrent(g: _Graph, node, x, dtype):
    """[Transpose] -> RNN/LSTM/GRU [-> directions side by side -> the next
    node of a stack ...] -> [Transpose], or the last node's Y_h."""
    from ...nn import GRU, LSTM, RNN

    rnn = node
    batch_first = False
    if node.op_type == "Transpose":
        if g.attrs(node).get("perm") != [1, 0, 2]:
            g.fail(
                node,
                "glassnet imports Transpose only as the (batch, time) swap "
                "around an RNN, LSTM or GRU, perm [1, 0, 2].",
            )
        rnn = g.next(node.output[0])
        if rnn is None or rnn.op_type not in _RECURRENT:
            g.fail(node, "a Transpose that is not the swap before an RNN or LSTM.")
        batch_first = True
    if rnn.input[0] != (node.output[0] if batch_first else x):
        g.fail(rnn, "its sequence input must be the data.")
    if not batch_first:
        g.fail(
            rnn,
            "time-major input: glassnet's recurrent layers read (batch, time, "
            "features); expected a Transpose perm [1, 0, 2] before the node.",
        )
    layers, D, H, act = [], None, None, None
    while True:  # one node per layer of a stack
        D, h, cells, act = _recurrent_node(g, rnn, D)
        if H is not None and h != H:
            g.fail(rnn, "a stack of recurrent nodes must have one hidden_size.")
        H = h
        layers.append(cells)
        y, y_h = (list(rnn.output) + ["", ""])[:2]
        if y and g.readers.get(y):
            out = _directions_side_by_side(g, y, D, "Y")
            after = g.next(out)
            if (
                after is not None
                and after.op_type == rnn.op_type
                and after.input[0] == out
            ):
                rnn = after  # the next layer of the stack
                continue
            back = _next_is(g, out, "Transpose")
            if back is None or g.attrs(back).get("perm") != [1, 0, 2]:
                g.fail(
                    g.made_by[out],
                    "after a batch-first LSTM/RNN/GRU, a Transpose perm [1, 0, 2] "
                    "must bring the batch axis back first.",
                )
            out, sequences = back.output[0], True
        elif y_h and (g.readers.get(y_h) or y_h == g.output):
            first = g.next(y_h)
            if D == 1:
                if first is None or _squeeze_axes(g, first) != [0]:
                    g.fail(rnn, "its output Y_h must be squeezed on axis 0.")
                out = first.output[0]
            else:
                if (
                    first is None
                    or first.op_type != "Transpose"
                    or _perm(g, first) != [1, 0, 2]
                ):
                    g.fail(rnn, "its Y_h must go through a Transpose perm [1, 0, 2].")
                shape = _next_is(g, first.output[0], "Reshape")
                if shape is None or list(g.const(shape, 1, "shape")) != [0, -1]:
                    g.fail(first, "expected a Reshape to [0, -1] after it.")
                out = shape.output[0]
            sequences = False
        else:
            g.fail(rnn, "neither Y nor Y_h is used.")
        break
    F = layers[0][0][0].shape[0]
    options = {"num_layers": len(layers), "bidirectional": D == 2}
    if rnn.op_type == "RNN":
        layer = RNN(F, H, nonlinearity=act, return_sequences=sequences, **options)
    else:
        cls = LSTM if rnn.op_type == "LSTM" else GRU
        layer = cls(F, H, return_sequences=sequences, **options)
    names = ("weight_ih", "weight_hh", "bias", "bias_hn")
    for k, cells in enumerate(layers):
        for d, cell in enumerate(cells):
            sfx = ("" if k == 0 else f"_l{k}") + ("_reverse" if d else "")
            for name, value in zip(names, cell):
                _set(getattr(layer, name + sfx), value, dtype)
    return [layer], out


def _kind(node) -> str:
    """The node's op type; glassnet's attention functions ('MultiHeadAttention',
    'MultiHeadAttention_1', ... in domain 'glassnet') all read as one."""
    if node.domain == "glassnet" and node.op_type.startswith("MultiHeadAttention"):
        return "MultiHeadAttention"
    return node.op_type


def _import_attention(g: _Graph, node, x, dtype):
    """glassnet's own export: the call's attributes and weights rebuild the layer
    (the function's body is not read; onnxruntime runs it)."""
    from ...errors import ConfigError
    from ...nn import MultiHeadAttention

    a = g.attrs(node)
    weights = [g.const(node, i, f"input {i}") for i in range(1, len(node.input))]
    E = weights[0].shape[0] if weights and weights[0].ndim == 2 else 0
    shapes = [(E, 3 * E), (3 * E,), (E, E), (E,)]
    shapes = shapes if len(weights) == 4 else shapes[::2]
    if [w.shape for w in weights] != shapes or "num_heads" not in a:
        g.fail(
            node,
            "a MultiHeadAttention call needs num_heads and weights shaped "
            f"(E, 3E), [(3E,),] (E, E)[, (E,)]; got {[w.shape for w in weights]}.",
        )
    try:
        layer = MultiHeadAttention(
            E, a["num_heads"], bool(a.get("causal", 0)), bias=len(weights) == 4
        )
    except ConfigError as e:
        g.fail(node, str(e))
    for p, w in zip([n for n, _ in layer.named_parameters()], weights):
        _set(getattr(layer, p), w, dtype)
    return [layer], node.output[0]


def _import_simple(cls_name: str, **kwargs):
    def importer(g: _Graph, node, x, dtype):
        from ... import nn

        if cls_name in ("Softmax", "LogSoftmax"):
            kwargs["axis"] = int(g.attrs(node).get("axis", -1))
        return [getattr(nn, cls_name)(**kwargs)], node.output[0]

    return importer


def _import_with_alpha(cls_name: str, default: float):
    def importer(g: _Graph, node, x, dtype):
        from ... import nn

        alpha = _short(np.asarray(g.attrs(node).get("alpha", default)), dtype)
        return [getattr(nn, cls_name)(alpha)], node.output[0]

    return importer


def _import_selu(g: _Graph, node, x, dtype):
    from ...kernels.activations import SELU_ALPHA, SELU_SCALE
    from ...nn import SELU

    a = g.attrs(node)
    alpha, gamma = a.get("alpha", SELU_ALPHA), a.get("gamma", SELU_SCALE)
    if not np.allclose([alpha, gamma], [SELU_ALPHA, SELU_SCALE], rtol=1e-6):
        g.fail(
            node,
            f"alpha {alpha} and gamma {gamma}; glassnet's SELU has the fixed "
            f"{SELU_ALPHA:.6f} and {SELU_SCALE:.6f}.",
        )
    return [SELU()], node.output[0]


def _import_gelu(g: _Graph, node, x, dtype):
    from ...nn import GELU

    return [GELU(g.attrs(node).get("approximate", "none"))], node.output[0]


def _import_softplus(g: _Graph, node, x, dtype):
    """Softplus, or Softplus(beta) written as Mul β → Softplus → Div β."""
    from ...nn import Softplus

    if node.op_type == "Softplus":
        return [Softplus()], node.output[0]
    other = node.input[1] if node.input[0] == x else node.input[0]
    beta = g.consts.get(other)
    soft = _next_is(g, node.output[0], "Softplus")
    div = soft and _next_is(g, soft.output[0], "Div")
    if beta is None or beta.size != 1 or not div or div.input[0] != soft.output[0]:
        g.fail(
            node, "glassnet reads Mul only as Softplus(beta): Mul β, Softplus, Div β."
        )
    if not np.array_equal(g.const(div, 1, "β"), beta) or not beta.item() > 0:
        g.fail(div, "Softplus(beta) must multiply and divide by the same β > 0.")
    return [Softplus(beta=_short(beta, dtype))], div.output[0]


def _skip(g: _Graph, node, x, dtype):
    """Nodes that change nothing glassnet sees: Cast of ids."""
    if node.op_type == "Cast":
        after = g.next(node.output[0])
        if after is None or after.op_type not in ("Gather", "OneHot"):
            g.fail(
                node,
                "glassnet imports Cast only before a Gather or OneHot (symbol ids).",
            )
    return [], node.output[0]


def _import_dropout(g: _Graph, node, x, dtype):
    """Dropout (the identity at inference) as a Dropout layer of the same ratio."""
    from ...nn import Dropout

    ratio = g.optional_const(node, 1, "ratio")
    training = g.optional_const(node, 2, "training_mode")
    if training is not None and training.any():
        g.fail(node, "has training_mode on; glassnet imports models for inference.")
    p = 0.5 if ratio is None else _short(np.ravel(ratio)[0], ratio.dtype)
    if not 0 <= p < 1:
        g.fail(node, f"ratio must be in [0, 1); got {p}.")
    return [Dropout(p)], node.output[0]


def _import_batch_norm(g: _Graph, node, x, dtype):
    """BatchNormalization at inference: BatchNorm1D for (N, C) or (N, C, L) input,
    BatchNorm2D for (N, C, H, W); γ, β and the running statistics as given."""
    from ...nn import BatchNorm1D, BatchNorm2D

    a = g.attrs(node)
    if a.get("training_mode", 0) or len(node.output) > 1:
        g.fail(node, "in training mode; glassnet imports BatchNormalization at "
               "inference (one output).")  # fmt: skip
    values = [g.const(node, i, w) for i, w in enumerate(_BN_INPUTS, 1)]
    c = values[0].size
    if any(v.shape != (c,) for v in values):
        g.fail(node, f"scale, B, mean and var must each be ({c},).")
    rank = len(g.shape(x) or ())
    if rank not in (2, 3, 4):
        g.fail(node, f"input of rank {rank or 'unknown'}; glassnet takes 2, 3 or 4.")
    eps = _short(np.float32(a.get("epsilon", 1e-5)), np.float32)
    keep = float(a.get("momentum", 0.9))  # 1 − momentum, as float32: 6 decimals back
    layer = (BatchNorm2D if rank == 4 else BatchNorm1D)(
        c, eps=eps, momentum=round(1 - keep, 6)
    )
    for t, v in zip((layer.weight, layer.bias), values):
        _set(t, v, dtype)
    layer.running_mean, layer.running_var = (v.astype(dtype) for v in values[2:])
    return [layer], node.output[0]


_BN_INPUTS = ("scale", "B", "input_mean", "input_var")


def _import_layer_norm(g: _Graph, node, x, dtype):
    """LayerNormalization over the last axes (scale's shape), as LayerNorm."""
    from ...nn import LayerNorm

    a = g.attrs(node)
    scale, bias = g.const(node, 1, "scale"), g.optional_const(node, 2, "B")
    axis, rank = int(a.get("axis", -1)), len(g.shape(x) or ())
    if (axis if axis < 0 else axis - rank) != -scale.ndim or len(node.output) > 1:
        g.fail(node, f"normalises from axis {axis} with a scale of shape "
               f"{scale.shape}; glassnet normalises the axes the scale spans, "
               "last ones, and gives one output.")  # fmt: skip
    eps = _short(np.float32(a.get("epsilon", 1e-5)), np.float32)
    layer = LayerNorm(list(scale.shape), eps=eps)
    _set(layer.weight, scale, dtype)
    _set(layer.bias, np.zeros_like(scale) if bias is None else bias, dtype)
    return [layer], node.output[0]


_IMPORTERS = {
    "MatMul": _import_dense,
    "Gemm": _import_dense,
    "Relu": _import_simple("ReLU"),
    "Sigmoid": _import_simple("Sigmoid"),
    "Tanh": _import_simple("Tanh"),
    "Softmax": _import_simple("Softmax"),
    "Identity": _import_simple("Identity"),
    "Conv": _import_conv,
    "MaxPool": _import_pool,
    "AveragePool": _import_pool,
    "GlobalAveragePool": _import_global_pool,
    "ConvTranspose": _import_conv_transpose,
    "GlobalMaxPool": _import_global_pool,
    "Resize": _import_resize,
    "Flatten": _import_flatten,
    "Reshape": _import_reshape,
    "Gather": _import_gather,
    "OneHot": _import_one_hot,
    "Greater": _import_step,
    "Transpose": _import_recurrent,
    "RNN": _import_recurrent,
    "LSTM": _import_recurrent,
    "GRU": _import_recurrent,
    "Cast": _skip,
    "Dropout": _import_dropout,
    "BatchNormalization": _import_batch_norm,
    "LayerNormalization": _import_layer_norm,
    "MultiHeadAttention": _import_attention,
    "LeakyRelu": _import_with_alpha("LeakyReLU", 0.01),
    "Elu": _import_with_alpha("ELU", 1.0),
    "Selu": _import_selu,
    "Gelu": _import_gelu,
    "SiLU": _import_simple("SiLU"),
    "Softplus": _import_softplus,
    "Mul": _import_softplus,
    "LogSoftmax": _import_simple("LogSoftmax"),
}


# Nodes that do the same to every element, whatever order the axes are in.
_ANY_LAYOUT = {"Relu", "Sigmoid", "Tanh", "Identity", "Dropout"}
_ANY_LAYOUT |= {"LeakyRelu", "Elu", "Selu", "Gelu", "SiLU", "Softplus"}


def _perm(g: _Graph, node) -> list:
    perm = g.attrs(node).get("perm")
    if perm is None:
        g.fail(
            node, "a Transpose without perm (reversing every axis) is not supported."
        )
    return [int(p) for p in perm]


def _before_recurrent(g: _Graph, node) -> bool:
    """Is this Transpose the (batch, time) swap in front of an RNN or LSTM?"""
    after = g.next(node.output[0])
    return after is not None and after.op_type in _RECURRENT


class _Layout:
    """How the ONNX tensor at the walk's position is laid out relative to the
    glassnet one: ``onnx = np.transpose(glassnet, perm)``, from the Transpose
    nodes (channels-last exporters such as Keras/tf2onnx) met since the last
    layer that needed glassnet's own order (batch, channels, ...)."""

    def __init__(self):
        self.perm, self.nodes = None, []

    @property
    def identity(self) -> bool:
        return self.perm is None or self.perm == list(range(len(self.perm)))

    def then(self, g: _Graph, node) -> None:
        p = _perm(g, node)
        if self.perm is not None and len(p) != len(self.perm):
            g.fail(
                node,
                f"perm {p} does not fit the {len(self.perm)}-axis tensor it reads.",
            )
        self.perm = p if self.perm is None else [self.perm[k] for k in p]
        self.nodes = [] if self.identity else [*self.nodes, node]

    def refuse(self, g: _Graph, node) -> None:
        g.fail(
            node,
            f"it reads a tensor whose axes are permuted (perm {self.perm}) "
            f"by {', '.join(_label(n) for n in self.nodes)}; glassnet's layers "
            "read (batch, channels, ...) and glassnet has no layer that permutes "
            "axes. glassnet imports Transpose nodes that cancel out, or that come "
            "just before a Flatten followed by MatMul/Gemm (folded into the "
            "weights), or that transpose the graph's input.",
        )

    def fold_into_dense(self, g: _Graph, flatten, dense) -> None:
        """``Flatten(transpose(h, perm)) @ W = Flatten(h) @ W'``, with W' the
        rows of W put back in glassnet's flattening order: exact."""
        if self.perm[0] != 0:
            self.refuse(g, flatten)
        shape = g.shape(flatten.input[0])
        if shape is None or None in shape[1:]:
            g.fail(
                flatten,
                "to fold the Transpose before it "
                f"({_label(self.nodes[-1])}) into the next layer's weights "
                "glassnet needs this tensor's "
                "sizes, and ONNX's shape inference does not find them; give the "
                "graph's input fixed sizes (all but the batch axis).",
            )
        sample = [0] * (len(shape) - 1)
        for k, p in enumerate(self.perm[1:], start=1):
            sample[p - 1] = shape[k]
        w = dense.weight.data
        if int(np.prod(sample)) != w.shape[0]:
            g.fail(
                flatten,
                f"flattens {tuple(shape[1:])} into "
                f"{int(np.prod(sample))} numbers but the next layer takes "
                f"{w.shape[0]}.",
            )
        # row i of W multiplies ONNX's flat element i, glassnet's element order[i]
        order = (
            np.arange(w.shape[0])
            .reshape(sample)
            .transpose([p - 1 for p in self.perm[1:]])
            .ravel()
        )
        rows = np.empty_like(w)
        rows[order] = w
        _set(dense.weight, rows, w.dtype)
        self.perm, self.nodes = None, []


def _input_transpose(g: _Graph, node) -> list:
    """A Transpose of the graph's input (channels-last (batch, H, W, C) to
    channels-first): the glassnet model takes the transposed input. Returns
    the perm; warns, saying how to feed it."""
    perm = _perm(g, node)
    if perm[0] != 0:
        g.fail(
            node,
            f"it moves the batch axis of the graph's input (perm {perm}); "
            "glassnet keeps the batch axis first.",
        )
    dims = g.input.type.tensor_type.shape.dim
    names = [
        str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?")
        for d in dims
    ]
    if len(names) != len(perm):
        g.fail(node, f"perm {perm} does not fit the graph's {len(names)}-axis input.")
    if perm == sorted(perm):
        return perm  # changes nothing
    shown = ", ".join(["batch", *(names[p] for p in perm[1:])])
    warnings.warn(
        f"{g.where}: the graph's input {g.input.name!r} is (batch, "
        f"{', '.join(names[1:])}) and its first node {_label(node)} transposes it "
        f"to ({shown}); the glassnet model takes ({shown}): pass "
        f"X.transpose{tuple(perm)}.",
        UserWarning,
        stacklevel=4,
    )
    return perm


def _standardization(g: _Graph, x: str):
    """A leading ``(input - mean) / scale`` (as ``glassnet export`` writes): its
    (mean, scale, Sub node) and the name of its result; else (None, x)."""
    sub = _next_is(g, x, "Sub")
    if sub is None or sub.input[0] != x or sub.input[1] not in g.consts:
        return None, x
    div = _next_is(g, sub.output[0], "Div")
    if div is None or div.input[0] != sub.output[0] or div.input[1] not in g.consts:
        g.fail(
            sub,
            "glassnet imports Sub only in (input - mean) / scale before the "
            "first layer.",
        )
    return (g.consts[sub.input[1]], g.consts[div.input[1]], sub), div.output[0]


def _fold_standardization(g: _Graph, layers, mean, scale, node) -> None:
    """Fold (x - mean) / scale into the first Dense layer's weights and bias:
    ``((x - m) / s) W + b = x (W / s) + (b - (m / s) W)``."""
    from ...nn import Dense

    first = layers[0] if layers else None
    n = first.in_features if isinstance(first, Dense) else -1
    if n < 0 or mean.size not in (1, n) or scale.size not in (1, n):
        g.fail(
            node,
            "the graph standardises its input before a layer other than "
            "Dense; glassnet has no layer for that. Export it without the "
            "standardisation (glassnet export --raw) and standardise the inputs "
            "yourself.",
        )
    w = first.weight.data.astype(np.float64)
    m = np.broadcast_to(np.ravel(mean), (n,)).astype(np.float64)
    s = np.broadcast_to(np.ravel(scale), (n,)).astype(np.float64)
    if first.bias is None:
        g.fail(
            node,
            "the standardisation can be folded only into a Dense layer with a bias.",
        )
    bias = first.bias.data.astype(np.float64)
    dtype = first.weight.dtype
    _set(first.weight, w / s[:, None], dtype)
    _set(first.bias, bias - (m / s) @ w, dtype)


def _load_proto(onnx, path, max_bytes: int):
    path = os.fspath(path)
    where = os.path.basename(path)
    size = os.path.getsize(path)
    if size > max_bytes:
        raise FormatError(
            f"{where}: {size:,} bytes, more than the limit of "
            f"{max_bytes:,} (pass max_bytes= to allow more)."
        )
    with open(path, "rb") as f:
        raw = f.read(max_bytes + 1)
    from google.protobuf.message import DecodeError

    try:
        # From bytes: nothing outside the file (external data) is ever opened.
        proto = onnx.load_model_from_string(raw)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise FormatError(
            f"{where}: not an ONNX model file ({type(e).__name__}: {str(e)[:200]})."
        ) from None
    if not proto.HasField("graph") or not len(proto.graph.node):
        raise FormatError(f"{where}: not an ONNX model file (no graph).")
    return proto, where


def read_onnx(path, *, max_bytes: int = MAX_BYTES):
    """The glassnet model an ONNX file holds, and facts about the file.

    Returns ``(model, info)``; ``info`` has ``input_name``, ``input_shape``
    (one sample as the glassnet model takes it, None for sizes the file
    leaves open), ``input_perm`` (None, or the axes the graph's first node
    transposes its input by: feed the glassnet model
    ``X.transpose(input_perm)``), ``input_dtype``, ``opset``, ``producer``
    and ``nodes``. See :func:`import_onnx`.
    """
    onnx = require_onnx()
    from ...nn.module import Sequential

    proto, where = _load_proto(onnx, path, max_bytes)
    opset = max(
        (o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
        default=0,
    )
    if opset < MIN_OPSET:
        raise FormatError(
            f"{where}: ONNX opset {opset}; glassnet reads opset "
            f"{MIN_OPSET} or newer (convert it with "
            "onnx.version_converter)."
        )
    g = _Graph(onnx, proto, where)
    chain = _walk_ops(g)
    unsupported = [n for n in chain if _kind(n) not in _LAYER_OPS]
    if unsupported:
        raise FormatError(
            f"{where}: operators glassnet has no layer for: "
            f"{', '.join(_label(n) for n in unsupported[:20])}"
            f"{' ...' if len(unsupported) > 20 else ''}. glassnet imports "
            f"{', '.join(sorted(_LAYER_OPS))}."
        )
    elem = g.input.type.tensor_type.elem_type
    floats = [v for v in g.consts.values() if v.dtype.kind == "f"]
    dtype = (
        np.float64
        if floats and all(v.dtype == np.float64 for v in floats)
        else np.float32
    )
    layers, x = [], g.input.name
    standardize, x = _standardization(g, x)
    layout, input_perm = _Layout(), None
    while True:
        node = g.next(x)
        if node is None:
            break
        if node.op_type == "Transpose" and not _before_recurrent(g, node):
            if x == g.input.name:
                perm = _input_transpose(g, node)
                input_perm = None if perm == sorted(perm) else perm
            else:
                layout.then(g, node)
            x = node.output[0]
            continue
        importer = _IMPORTERS.get(_kind(node))
        if importer is None:
            g.fail(
                node,
                "this node does not start a layer glassnet knows (it is "
                "read only as part of one, e.g. Squeeze after an LSTM).",
            )
        if layout.identity or node.op_type in _ANY_LAYOUT:
            made, x = importer(g, node, x, dtype)
        elif node.op_type in ("Flatten", "Reshape"):
            made, x = importer(g, node, x, dtype)
            dense = g.next(x)
            if dense is None or dense.op_type not in ("MatMul", "Gemm"):
                layout.refuse(g, node if dense is None else dense)
            more, x = _import_dense(g, dense, x, dtype)
            layout.fold_into_dense(g, node, more[0])
            made += more
        else:
            layout.refuse(g, node)
        layers += made
    if not layout.identity:
        g.fail(
            layout.nodes[-1],
            f"the graph's output keeps the axes permuted (perm "
            f"{layout.perm}); glassnet's model would give them in another order "
            "and glassnet has no layer that permutes axes.",
        )
    if standardize is not None:
        _fold_standardization(g, layers, *standardize)
    dims = g.input.type.tensor_type.shape.dim
    dims = [dims[p] for p in input_perm] if input_perm is not None else dims
    info = {
        "input_name": g.input.name,
        # one sample's shape as the glassnet model takes it
        "input_shape": tuple(
            d.dim_value if d.HasField("dim_value") else None for d in dims[1:]
        ),
        "input_perm": None if input_perm is None else tuple(input_perm),
        "input_dtype": onnx.helper.tensor_dtype_to_np_dtype(elem) if elem else None,
        "opset": opset,
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "nodes": len(proto.graph.node),
    }
    # weights read from a file are meant to be used: no "never trained" warning
    return Sequential(*layers).mark_trained(), info


def import_onnx(path, *, max_bytes: int = MAX_BYTES):
    """Read an ONNX file (from PyTorch, Keras, glassnet...) as a glassnet model.

    The graph must be one chain from its input to its output of the
    operators glassnet's layers stand for (MatMul/Gemm + Add, Relu,
    Sigmoid, Tanh, Softmax, Conv, MaxPool, AveragePool, GlobalAveragePool,
    Flatten/Reshape, Gather, OneHot, RNN, LSTM, GRU (stacked, bidirectional),
    LeakyRelu, Elu, Selu, Gelu (or its formula), Softplus, LogSoftmax,
    x·Sigmoid(x) and the Transpose, Squeeze, Reshape,
    Identity, Constant and Cast nodes exporters put around them). Any other
    operator is refused in one error that lists every such node by name.

    Channels-last graphs (Keras through tf2onnx) put Transpose nodes around
    each Conv. A Transpose of the graph's input, (batch, H, W, C) to
    (batch, C, H, W), is left out: the glassnet model takes the transposed
    input (a warning says so; pass ``X.transpose(0, 3, 1, 2)``). Transpose
    nodes that cancel each other (with elementwise activations between) are
    dropped, and a Transpose just before Flatten + MatMul/Gemm is folded
    exactly into the Dense weights' row order. Any other permutation is
    refused, naming the node: glassnet has no layer that permutes axes.

    Parameters
    ----------
    path : str or PathLike
        The ``.onnx`` file. It must hold all its tensors itself (external
        data is refused) and be at most ``max_bytes`` long.
    max_bytes : int
        Size limit (default 1 GiB, as for glassnet's own files).

    Returns
    -------
    Sequential
        The layers, with the file's weights (float32 unless every weight in
        the file is float64). It gives the same outputs as onnxruntime on
        the file, and traces, draws, fine-tunes and saves as any glassnet
        model.

    Examples
    --------
    >>> import glassnet as gn
    >>> model = gn.import_onnx("tests/fixtures/lenet.onnx")  # doctest: +SKIP
    >>> model[0]  # doctest: +SKIP
    Conv2D(1 → 8, 5x5, padding 2x2, bias)
    """
    return read_onnx(path, max_bytes=max_bytes)[0]
