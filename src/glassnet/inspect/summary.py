"""model.summary(): every layer, the shape of what it outputs, and its parameter count.

The table is built by running one batch of zeros through the model with a
forward hook that notes each layer's output shape; parameters are counted
from the layers themselves. Without an input shape the table still lists
the layers and their parameters, with ``?`` for the shapes.

Examples
--------
>>> from glassnet.nn import Sequential, Dense, Sigmoid
>>> model = Sequential(Dense(64, 32), Sigmoid(), Dense(32, 10), seed=0)
>>> print(model.summary())
Sequential, input (batch, 64)
Layer (type)    Output shape   Param #
--------------------------------------
0 (Dense)       (batch, 32)      2,080
1 (Sigmoid)     (batch, 32)          0
2 (Dense)       (batch, 10)        330
======================================
Total params: 2,410 (9.4 KB as float32)
"""

from __future__ import annotations

import html
import math
from typing import NamedTuple

import numpy as np

from .._validate import check_limit
from ..errors import ConfigError
from ..tensor import Tensor, no_grad

__all__ = ["Summary", "SummaryRow", "summary", "infer_input_shape", "flat_layers"]

# Layers that act on each value alone and keep the shape: they may sit in front
# of the first Dense layer without hiding its input size.
_ELEMENTWISE = ("Identity", "Sigmoid", "Tanh", "ReLU", "Step")
_ELEMENTWISE += ("LeakyReLU", "ELU", "SELU", "GELU", "SiLU", "Softplus")


class SummaryRow(NamedTuple):
    """One line of the table: the layer's dotted name, its type, output shape, params."""

    name: str
    type: str
    output_shape: tuple | None  # with None for the batch axis; None if unknown
    params: int
    shared: bool = False  # a layer met a second time: its parameters counted once


def flat_layers(model) -> list:
    """(name, layer) for the layers of a (nested) Sequential, in the order they run.

    Sequentials inside are opened up; any other module counts as one layer.
    A model that is not a Sequential is returned as its only layer.
    """
    from ..nn.module import Sequential

    out = []

    def walk(module, prefix):
        for i, layer in enumerate(module.layers):
            name = f"{prefix}.{i}" if prefix else str(i)
            if isinstance(layer, Sequential):
                walk(layer, name)
            else:
                out.append((name, layer))

    if isinstance(model, Sequential):
        walk(model, "")
    else:
        out.append(("", model))
    return out


def infer_input_shape(model) -> tuple | None:
    """The shape of one sample the model takes, when its first layer tells it.

    A Dense layer first (possibly after elementwise activations) takes
    ``(in_features,)``; for anything else (images, sequences) the height,
    width or length cannot be known from the weights, and None is returned.
    """
    from ..nn.dense import Dense

    for _, layer in flat_layers(model):
        if isinstance(layer, Dense):
            return (layer.in_features,)
        if type(layer).__name__ not in _ELEMENTWISE:
            return None
    return None


def _own_parameters(module) -> list:
    """Trainable tensors held by this module itself, not by its sub-modules."""
    return [
        t for _, t in module._members() if isinstance(t, Tensor) and t.requires_grad
    ]


def _shapes_of(out):
    if isinstance(out, Tensor):
        return (None,) + tuple(out.shape[1:])
    if isinstance(out, (tuple, list)):
        return tuple(_shapes_of(o) for o in out)
    return None


def _format_shape(shape) -> str:
    if shape is None:
        return "?"
    if shape and isinstance(shape[0], tuple):  # a layer that returns several tensors
        return ", ".join(_format_shape(s) for s in shape)
    return "(" + ", ".join("batch" if s is None else str(s) for s in shape) + ")"


class Summary:
    """The summary table of a model (``model.summary()``).

    Printing it gives the text table; in Jupyter it shows as an HTML table.

    Attributes
    ----------
    model_name : str
    input_shape : tuple or None
        One sample's shape (no batch axis), or None when it was not known.
    rows : list of SummaryRow
        One per layer, in the order they run (or are defined, when no
        input shape was known).
    total_params : int
        Every trainable number in the model, each shared tensor once.
    bytes : int
        Memory those numbers take at the model's dtype.
    """

    def __init__(self, model_name, input_shape, rows, total_params, itemsize, dtype):
        self.model_name, self.input_shape, self.rows = model_name, input_shape, rows
        self.total_params, self.dtype = int(total_params), np.dtype(dtype)
        self.bytes = int(total_params) * int(itemsize)

    def _cells(self):
        head = ("Layer (type)", "Output shape", "Param #")
        body = [
            (
                f"{r.name} ({r.type})" if r.name else f"({r.type})",
                _format_shape(r.output_shape),
                "(shared)" if r.shared else f"{r.params:,}",
            )
            for r in self.rows
        ]
        return head, body

    def _title(self) -> str:
        if self.input_shape is None:
            return (
                f"{self.model_name}, input shape unknown: pass "
                "summary(input_shape=...) to see output shapes"
            )
        return f"{self.model_name}, input {_format_shape((None,) + tuple(self.input_shape))}"

    def _total_line(self) -> str:
        return (
            f"Total params: {self.total_params:,} "
            f"({_human_bytes(self.bytes)} as {self.dtype.name})"
        )

    def __str__(self) -> str:
        head, body = self._cells()
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(3)]
        widths[0] += 4

        def line(cells):
            return (
                cells[0].ljust(widths[0])
                + cells[1].ljust(widths[1] + 3)
                + cells[2].rjust(widths[2])
            ).rstrip()

        rule = sum(widths) + 3
        lines = [
            self._title(),
            line(head),
            "-" * rule,
            *[line(c) for c in body],
            "=" * rule,
            self._total_line(),
        ]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head, body = self._cells()
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(a)}</td><td>{esc(b)}</td><td style='text-align:right'>"
            f"{esc(c)}</td></tr>"
            for a, b, c in body
        )
        return (
            f"<table><caption style='text-align:left'>{esc(self._title())}</caption>"
            f"<thead><tr><th style='text-align:left'>{esc(head[0])}</th>"
            f"<th style='text-align:left'>{esc(head[1])}</th>"
            f"<th style='text-align:right'>{esc(head[2])}</th></tr></thead>"
            f"<tbody>{rows}</tbody><tfoot><tr><td colspan='3'>{esc(self._total_line())}"
            "</td></tr></tfoot></table>"
        )


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _check_shape(model, input_shape) -> tuple:
    try:
        shape = tuple(int(s) for s in input_shape)
        ok = all(s > 0 for s in shape) and all(
            float(s) == float(t) for s, t in zip(shape, input_shape)
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(
            f"{type(model).__name__}.summary: input_shape must be the shape of one sample "
            f"without the batch axis, a tuple of positive whole numbers such as (1, 28, 28); "
            f"got {input_shape!r}."
        )
    where = f"{type(model).__name__}.summary"
    check_limit(where, "the number of input_shape's axes", len(shape), "sample_axes")
    check_limit(
        where,
        "input_shape's size (numbers in one sample)",
        math.prod(shape),
        "sample_values",
    )
    return shape


def summary(model, input_shape=None, dtype=None) -> Summary:
    """The table of a model's layers, output shapes and parameter counts.

    Parameters
    ----------
    model : Module
    input_shape : tuple of int, optional
        The shape of ONE sample, without the batch axis: ``(64,)`` for 64
        inputs, ``(1, 28, 28)`` for a grey 28x28 image, ``(time, features)``
        for a sequence. Inferred when the model starts with a Dense layer.
        Without it, output shapes show as ``?``.
    dtype : numpy dtype, optional
        Of the zeros run through the model; default the model's own
        (token-id models such as ``OneHot`` first get integer zeros).

    Returns
    -------
    Summary
        ``print()`` it for the text table; Jupyter shows it as HTML.
    """
    from ..nn import module as module_mod

    if input_shape is None:
        input_shape = infer_input_shape(model)
    else:
        input_shape = _check_shape(model, input_shape)

    rows: list[SummaryRow] = []
    counted: set = set()

    def add(name, layer, shape):
        own = _own_parameters(layer)
        shared = id(layer) in counted and bool(own)
        counted.add(id(layer))
        rows.append(
            SummaryRow(
                name, type(layer).__name__, shape, int(sum(p.size for p in own)), shared
            )
        )

    names = {id(m): n for n, m in model.named_modules()}
    if input_shape is not None:
        seen = []

        def hook(module, inputs, output):
            if not module.children() or _own_parameters(module):
                seen.append((module, _shapes_of(output)))

        x = np.zeros((1,) + tuple(input_shape), dtype or _input_dtype(model))
        module_mod.FORWARD_HOOKS.append(hook)
        try:
            with module_mod.eval_mode(model), no_grad():
                model(x)
        finally:
            module_mod.FORWARD_HOOKS.remove(hook)
        for layer, shape in seen:
            add(names.get(id(layer), "?"), layer, shape)
    else:
        for name, layer in model.named_modules():
            if not layer.children() or _own_parameters(layer):
                add(name, layer, None)
    return Summary(
        type(model).__name__,
        input_shape,
        rows,
        model.num_parameters(),
        model.dtype.itemsize,
        model.dtype,
    )


def _input_dtype(model):
    """Integer zeros for models that start by reading token ids, else the model dtype."""
    layers = flat_layers(model)
    if layers and type(layers[0][1]).__name__ in ("OneHot", "Embedding"):
        return np.int64
    return model.dtype
