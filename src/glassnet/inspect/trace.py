"""trace(model, x): every layer's input and output for one input, and, after a loss,
every gradient -- ready to read in code or to print as a story.

Underneath is :data:`glassnet.nn.module.FORWARD_HOOKS`: for the length of
one call a hook notes what each layer received and returned. Nothing is
watched when no trace is running, so models pay nothing for it.

Examples
--------
>>> import numpy as np
>>> from glassnet import trace
>>> from glassnet.nn import Sequential, Dense, Tanh
>>> model = Sequential(Dense(2, 1), Tanh())
>>> model[0].weight.data[:] = [[1.0], [-0.5]]
>>> t = trace(model, np.array([1.0, 1.0]))
>>> t[0].output, t[1].output.round(4)
(array([0.5], dtype=float32), array([0.4621], dtype=float32))
>>> print(t.narrate())  # doctest: +NORMALIZE_WHITESPACE
Trace of Sequential on one input of shape (2,)
input: [1.00, 1.00]
<BLANKLINE>
layer 0 Dense(2 → 1, bias), then layer 1 Tanh:
  neuron 0: weighted sum 1.00 − 0.50×1.00 = 0.50; squashed (tanh), 0.46
<BLANKLINE>
output: [0.46]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from .._validate import shape_str
from ..tensor import Tensor, enable_grad, no_grad
from .summary import flat_layers

__all__ = ["trace", "Trace", "LayerTrace"]

_NEW = ("LeakyReLU", "ELU", "SELU", "GELU", "SiLU", "Softplus")  # issue 18's

# How each squashing layer is told: (verb, name).
_SQUASH = {
    "Tanh": ("squashed", "tanh"),
    "Sigmoid": ("squashed", "logistic"),
    "ReLU": ("rectified", "ReLU"),
    "Step": ("thresholded", "step"),
    "Identity": ("passed on", "identity"),
    "Softmax": ("normalised", "softmax"),
    "LeakyReLU": ("rectified", "leaky ReLU"),
    "ELU": ("rectified", "ELU"),
    "SELU": ("rectified", "SELU"),
    "GELU": ("gated", "GELU"),
    "SiLU": ("gated", "SiLU"),
    "Softplus": ("rectified", "softplus"),
    "LogSoftmax": ("normalised", "log-softmax"),
}


@dataclass
class LayerTrace:
    """What one layer saw and did during the traced call.

    Arrays are copies. When the trace was given one sample without its
    batch axis, the arrays have no batch axis either.

    Attributes
    ----------
    name : str
        Dotted name in the model (``'3'``, ``'block.0'``; ``''`` for the model).
    module : Module
    input, output : numpy.ndarray
        What the layer received and returned.
    params : dict
        The layer's own parameters (name -> array) at the time of the call.
    output_grad, input_grad : numpy.ndarray or None
        d(loss)/d(output) and d(loss)/d(input), after a loss.
    param_grads : dict
        d(loss)/d(each parameter), after a loss.
    gates : dict or None
        For an LSTM: the forget, input, candidate and output gates and the
        cell state of every step, each (time, hidden) for one sample; for a
        GRU its reset, update and candidate gates (r, z, n). For a stack, the
        top layer's forward direction.
    attention : numpy.ndarray or None
        For a MultiHeadAttention: its weights (heads, queries, keys) for one
        sample (batch first for a batch); each query's row sums to 1.
    """

    name: str
    module: object
    input: np.ndarray
    output: np.ndarray
    params: dict = field(default_factory=dict)
    output_grad: np.ndarray | None = None
    input_grad: np.ndarray | None = None
    param_grads: dict = field(default_factory=dict)
    gates: dict | None = None
    attention: np.ndarray | None = None

    @property
    def kind(self) -> str:
        return type(self.module).__name__

    def __repr__(self) -> str:
        grads = ", with gradients" if self.output_grad is not None else ""
        label = f"{self.name} " if self.name else ""
        return (
            f"LayerTrace({label}{self.kind}: {shape_str(self.input.shape)} → "
            f"{shape_str(self.output.shape)}{grads})"
        )


class Trace:
    """The result of :func:`trace`: one :class:`LayerTrace` per layer call.

    ``t[i]`` is the i-th layer that ran (containers such as Sequential
    left out), ``t['name']`` the layer of that dotted name, ``len(t)`` and
    iteration go over the layers in the order they ran; ``t.records`` also
    holds the containers. ``print(t)`` narrates it.

    Attributes
    ----------
    input, output : numpy.ndarray
        The model's input and output.
    target : numpy.ndarray or None
    loss : float or None
    loss_name : str or None
    input_grad : numpy.ndarray or None
        d(loss)/d(input) for float inputs, after a loss.
    batched : bool
        False when one sample was given without its batch axis.
    """

    def __init__(
        self,
        model,
        records,
        x,
        output,
        batched,
        target=None,
        loss=None,
        loss_name=None,
        input_grad=None,
    ):
        self.model, self.records, self.batched = model, records, batched
        self.input, self.output = x, output
        self.target, self.loss, self.loss_name = target, loss, loss_name
        self.input_grad = input_grad

    @property
    def layers(self) -> list:
        return [r for r in self.records if not r.module.children()]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, key):
        if isinstance(key, str):
            for r in self.records:
                if r.name == key:
                    return r
            names = ", ".join(repr(r.name) for r in self.records)
            raise KeyError(f"no layer named {key!r} in this trace; it has {names}.")
        if not isinstance(key, (int, np.integer)):
            for r in self.records:
                if r.module is key:
                    return r
            raise KeyError(f"{key!r} did not run in this trace.")
        return self.layers[key]

    def __repr__(self) -> str:
        loss = f", loss {self.loss:.4g}" if self.loss is not None else ""
        return f"Trace({type(self.model).__name__}, {len(self)} layers{loss})"

    def __str__(self) -> str:
        return self.narrate()

    def _repr_html_(self) -> str:
        """Jupyter's display: a table of the layers, then the narration."""
        from .._display import trace_html

        return trace_html(self)

    def narrate(
        self, precision: int = 2, max_neurons: int = 8, max_terms: int = 6
    ) -> str:
        """The trace told as the seeds tell it, one neuron at a time.

        Parameters
        ----------
        precision : int
            Decimals of every number.
        max_neurons : int
            Neurons told per layer; the rest are counted.
        max_terms : int
            A weighted sum is written out term by term (zero weights left
            out) when a neuron has at most this many inputs.
        """
        return _narrate(self, precision, max_neurons, max_terms)


# --------------------------------------------------------------------------
# Running the trace
# --------------------------------------------------------------------------


def _sample_ndim(model) -> int | None:
    """The number of axes of ONE sample, from the first layer that tells it."""
    for _, layer in flat_layers(model):
        kind = type(layer).__name__
        if kind == "Dense":
            return 1
        if kind in ("Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAveragePool2D",
                    "BatchNorm2D"):  # fmt: skip
            return 3
        if kind in ("ConvTranspose2D", "GlobalMaxPool2D", "AdaptiveAvgPool2D"):
            return 3
        if kind in ("Upsample",):
            return 3
        if kind in ("Conv1D", "RNN", "LSTM", "GRU", "MaxPool1D", "AvgPool1D"):
            return 2
        if kind == "MultiHeadAttention":
            return 2
        if kind in ("OneHot", "Embedding"):
            return 1
        if kind not in (
            "Identity",
            "Sigmoid",
            "Tanh",
            "ReLU",
            "Step",
            "Dropout",
            *_NEW,
        ):
            return None
    return None


def trace(model, x, target=None, loss=None) -> Trace:
    """Run ``x`` through ``model`` and keep every layer's input and output.

    With a ``target`` the loss is computed and backpropagated too, and the
    trace also holds every gradient: d(loss)/d(each layer's output and
    input), d(loss)/d(each parameter) and d(loss)/d(the input). The model's
    own ``.grad`` values are left as they were. The model runs in eval mode
    (Dropout passes everything, BatchNorm uses its running statistics) and
    is left in the mode it was in.

    Parameters
    ----------
    model : Module
    x : array_like or Tensor
        One sample (without its batch axis: a Dense-first model takes
        ``(features,)``, a Conv2D-first one ``(channels, height, width)``)
        or a batch.
    target : array_like, optional
        The truth for ``x``, as ``fit`` takes it: class labels, one-hot rows
        or values.
    loss : str, Loss or callable, optional
        Default: cross-entropy for integer targets, mean squared error
        otherwise (as in :func:`glassnet.fit`).

    Returns
    -------
    Trace
    """
    from .. import losses as losses_mod
    from ..nn import module as module_mod

    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    batched = not (_sample_ndim(model) is not None and arr.ndim == _sample_ndim(model))
    if not batched:
        arr = arr[None]
    if arr.dtype.kind in "iub" and _takes_ids(model):
        xt = Tensor(arr)
    else:
        xt = Tensor(arr.astype(model.dtype), requires_grad=target is not None)
    want_grads = target is not None
    names = {id(m): n for n, m in model.named_modules()}
    calls = []

    me = threading.get_ident()

    def hook(module, inputs, output):
        # The hooks list is the process's: skip other models' layers, and this
        # model's layers run by another thread meanwhile (a dashboard serving
        # several requests at once).
        if id(module) not in names or threading.get_ident() != me:
            return
        if want_grads:
            for t in (inputs, output):
                if isinstance(t, Tensor) and t.requires_grad:
                    t.retain_grad()
        gates = (
            getattr(module, "last_gates", None)
            if hasattr(module, "watch_gates")
            else None
        )
        weights = getattr(module, "attention_weights", None)
        gates = gates if weights is None else {"attention": weights}
        calls.append((module, inputs, output, _param_copies(module), gates))

    watched = [m for _, m in model.named_modules() if hasattr(m, "watch_gates")]
    old_watch = [m.watch_gates for m in watched]
    for m in watched:
        m.watch_gates = True
    module_mod.FORWARD_HOOKS.append(hook)
    loss_value = loss_name = None
    params = model.parameters()
    saved = [p.grad for p in params]
    try:
        with enable_grad() if want_grads else no_grad(), module_mod.eval_mode(model):
            out = model(xt)
            if want_grads:
                t_arr = np.asarray(
                    target.data if isinstance(target, Tensor) else target
                )
                if not batched:
                    t_arr = t_arr[None]
                if loss is None:
                    loss = "cross_entropy" if t_arr.dtype.kind in "iu" else "mse"
                loss_fn = losses_mod.get(loss)
                loss_name = (
                    type(loss_fn).__name__
                    if isinstance(loss_fn, losses_mod.Loss)
                    else getattr(loss_fn, "__name__", "custom loss")
                )
                for p in params:
                    p.grad = None
                value = loss_fn(out, t_arr)
                value.backward()
                loss_value = float(value.item())
        records = []
        for module, inputs, output, param_vals, gates in calls:
            own = {
                n: p
                for n, p in module._members()
                if isinstance(p, Tensor) and p.requires_grad
            }
            kept = (
                None
                if gates is None
                else {k: (v[0] if not batched else v).copy() for k, v in gates.items()}
            )
            attention = kept.pop("attention", None) if kept else None
            records.append(
                LayerTrace(
                    name=names.get(id(module), "?"),
                    module=module,
                    input=_arr(inputs, batched),
                    output=_arr(output, batched),
                    params=param_vals,
                    output_grad=_grad(output, batched) if want_grads else None,
                    input_grad=_grad(inputs, batched) if want_grads else None,
                    param_grads=(
                        {n: p.grad.copy() for n, p in own.items() if p.grad is not None}
                        if want_grads
                        else {}
                    ),
                    gates=kept or None,
                    attention=attention,
                )
            )
    finally:
        module_mod.FORWARD_HOOKS.remove(hook)
        for m, w in zip(watched, old_watch):
            m.watch_gates = w
        for p, g in zip(params, saved):
            p.grad = g
    return Trace(
        model,
        records,
        _arr(xt, batched),
        _arr(out, batched),
        batched,
        target=None
        if target is None
        else np.asarray(target.data if isinstance(target, Tensor) else target),
        loss=loss_value,
        loss_name=loss_name,
        input_grad=_grad(xt, batched) if want_grads else None,
    )


def _takes_ids(model) -> bool:
    layers = flat_layers(model)
    return bool(layers) and type(layers[0][1]).__name__ in ("OneHot", "Embedding")


def _param_copies(module) -> dict:
    return {
        n: p.data.copy()
        for n, p in module._members()
        if isinstance(p, Tensor) and p.requires_grad
    }


def _arr(t, batched):
    if isinstance(t, (tuple, list)):
        t = t[0]
    a = np.array(t.data if isinstance(t, Tensor) else t)
    return a if batched else a[0]


def _grad(t, batched):
    if isinstance(t, (tuple, list)):
        t = t[0]
    if not isinstance(t, Tensor) or t.grad is None:
        return None
    g = np.array(t.grad)
    return g if batched else g[0]


# --------------------------------------------------------------------------
# Telling it
# --------------------------------------------------------------------------


def _fmt(v: float, p: int) -> str:
    s = f"{v:.{p}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s.replace("-", "−")


def _vec(a: np.ndarray, p: int, limit: int = 12) -> str:
    a = np.asarray(a)
    if a.dtype.kind in "iub":
        body = [str(int(v)) for v in a.ravel()[:limit]]
    else:
        body = [_fmt(v, p) for v in a.astype(np.float64).ravel()[:limit]]
    more = f", … ({a.size} values)" if a.size > limit else ""
    return "[" + ", ".join(body) + more + "]"


def _weighted_sum(
    w: np.ndarray, x: np.ndarray, b: float, p: int, max_terms: int
) -> str:
    """'1.00×1.00 − 0.50×1.00 + 0.10' for a neuron with few inputs; '' otherwise."""
    if w.size > max_terms:
        return ""
    parts = []
    for wi, xi in zip(w, x):
        if wi == 0:
            continue
        value = _fmt(xi, p) if xi >= 0 else f"({_fmt(xi, p)})"
        term = value if abs(wi) == 1 else f"{_fmt(abs(wi), p)}×{value}"
        parts.append(("− " if wi < 0 else "+ ") + term)
    if b != 0:
        parts.append(("− " if b < 0 else "+ ") + _fmt(abs(b), p))
    if not parts:
        return "0 (every weight is zero)"
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "−" + text[2:]


def _narrate(t: Trace, p: int, max_neurons: int, max_terms: int) -> str:
    first = lambda a: a if not t.batched else a[0]  # noqa: E731  (narrate sample 0)
    lines = [
        f"Trace of {type(t.model).__name__} on "
        + (
            f"one input of shape {shape_str(t.input.shape)}"
            if not t.batched
            else f"a batch of {len(t.input)}; sample 0 told"
        )
    ]
    lines += [f"input: {_vec(first(t.input), p)}", ""]
    layers = t.layers
    i = 0
    while i < len(layers):
        rec = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        label = (
            f"layer {rec.name} {type(rec.module).__name__}"
            if rec.name
            else type(rec.module).__name__
        )
        if rec.kind == "Dense" and "weight" in rec.params:
            squash = nxt if nxt is not None and nxt.kind in _SQUASH else None
            head = f"layer {rec.name} {rec.module!r}"
            head += f", then layer {squash.name} {squash.kind}:" if squash else ":"
            lines.append(head)
            lines += _dense_lines(rec, squash, first, p, max_neurons, max_terms)
            i += 2 if squash else 1
        else:
            lines.append(f"{label}: {_other_line(rec, first, p)}")
            i += 1
        lines.append("")
    lines.append(f"output: {_vec(first(t.output), p)}")
    if t.loss is not None:
        lines += _gradient_lines(t, first, p)
    return "\n".join(lines)


def _dense_lines(rec, squash, first, p, max_neurons, max_terms) -> list:
    W = rec.params["weight"]
    b = rec.params.get("bias")
    x_in, z = first(rec.input), first(rec.output)
    if x_in.ndim != 1:  # a Dense layer applied at every step or pixel
        return [
            f"  output {shape_str(z.shape)}, values from {_fmt(z.min(), p)} to "
            f"{_fmt(z.max(), p)}"
        ]
    out = []
    for j in range(min(z.shape[-1], max_neurons)):
        bias = float(b[j]) if b is not None else 0.0
        terms = _weighted_sum(W[:, j], x_in, bias, p, max_terms)
        text = f"  neuron {j}: weighted sum " + (f"{terms} = " if terms else "")
        text += _fmt(z[j], p)
        if squash is not None:
            verb, name = _SQUASH[squash.kind]
            text += f"; {verb} ({name}), {_fmt(first(squash.output)[j], p)}"
        out.append(text)
    if z.shape[-1] > max_neurons:
        out.append(f"  … and {z.shape[-1] - max_neurons} more neurons")
    return out


def _other_line(rec, first, p) -> str:
    x_in, y = first(rec.input), first(rec.output)
    kind = rec.kind
    shape = f"{shape_str(x_in.shape)} → {shape_str(y.shape)}"
    if kind == "Flatten":
        return f"laid out in one row of {y.size} values"
    if kind in ("MaxPool2D", "AvgPool2D", "MaxPool1D", "AvgPool1D"):
        what = "largest" if kind.startswith("Max") else "average"
        return f"kept the {what} value of each window, {shape}"
    if kind in ("GlobalMaxPool2D", "AdaptiveAvgPool2D", "Upsample"):
        how = {"G": "kept each map's largest value", "A": "averaged each map's bins"}
        return f"{how.get(kind[0], 'resized each map')}, {shape}"
    if kind in ("ReLU", "Step") and x_in.size:
        cut = (
            int((x_in <= 0).sum())
            if kind == "ReLU"
            else int((y == rec.module.low).sum())
        )
        verb = "became 0" if kind == "ReLU" else "stayed low"
        return f"{cut} of {x_in.size} values {verb}; output {_vec(y, p)}"
    if kind in _SQUASH:
        return f"{_SQUASH[kind][0]} ({_SQUASH[kind][1]}): {_vec(y, p)}"
    if kind in ("Conv2D", "Conv1D", "ConvTranspose2D"):
        verb = "each feature matched at every position"
        verb = "each input pixel painted its filters" if kind[4] == "T" else verb
        maps = ", ".join(
            f"map {k} from {_fmt(m.min(), p)} to {_fmt(m.max(), p)}"
            for k, m in enumerate(y[:4])
        )
        more = f", … ({len(y)} maps)" if len(y) > 4 else ""
        return f"{verb}, {shape}: {maps}{more}"
    if rec.attention is not None:
        w = rec.attention[0] if rec.attention.ndim == 4 else rec.attention
        looks = "; ".join(
            f"head {h}: {w[h].argmax(-1).tolist()}" for h in range(min(len(w), 4))
        )
        return f"attended in {len(w)} heads, {shape}; the key each query looked at most, {looks}"
    if kind in ("RNN", "LSTM", "GRU"):
        return (
            f"read {x_in.shape[0]} steps, {shape}; last hidden state "
            f"{_vec(y[-1] if y.ndim == 2 else y, p)}"
        )
    return f"{shape}, output {_vec(y, p)}"


def _gradient_lines(t: Trace, first, p) -> list:
    target = t.target if not t.batched else t.target[0]
    lines = [
        "",
        f"loss ({t.loss_name}) against target {_vec(np.atleast_1d(target), p)}: "
        f"{_fmt(t.loss, max(p, 4))}",
        "backward, from the loss to the input (d loss / d ...):",
    ]
    for rec in reversed(t.layers):
        if rec.output_grad is None:
            continue
        text = (
            f"  layer {rec.name} {rec.kind}: output {_vec(first(rec.output_grad), p)}"
        )
        for name, g in rec.param_grads.items():
            k = np.unravel_index(int(np.argmax(np.abs(g))), g.shape)
            text += f"; {name} steepest at {tuple(int(i) for i in k)}: {_fmt(g[k], p)}"
        lines.append(text)
    if t.input_grad is not None:
        lines.append(f"  the input: {_vec(first(t.input_grad), p)}")
    return lines
