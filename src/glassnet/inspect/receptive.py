"""Receptive fields: the input that drives a neuron as high as it can go.

Seed 004 reads a network by drawing, for every neuron, the picture that
makes it most active, with the pixels it ignores drawn checkered. Here the
inputs may take any value in a box, ``low <= x <= high`` (the seed's
pixels run from -1, black, to +1, white), and the receptive field of a
neuron is the input in that box that maximises it.

Two ways to find it, and the result says which was used:

* **exact** -- when the neuron is one weighted sum of the inputs (a Dense
  or convolution layer, possibly after Flatten), optionally followed by a
  squashing function that only ever rises (tanh, logistic, ReLU, step,
  identity). The sum ``w · x + b`` is largest with every input at
  ``high`` where its weight is positive and at ``low`` where it is
  negative; where the weight is zero the input does not matter ("don't
  care"), and the pattern shows the middle of the box there.
* **gradient ascent** -- for deeper neurons: start from the middle of the
  box and from a few random points in it, step uphill along the gradient
  of the neuron's value with respect to the input, clip back into the box
  after every step, and keep the best. This finds a high point, not
  always the highest.

What is maximised is the neuron's *drive*: its value, or for a squashing
layer the weighted sum going into the squash (the same argmax, since the
squash only rises). ``dont_care`` marks the inputs the drive ignores: for
the exact method, those whose weight is exactly 0; for gradient ascent,
those that can be set to ``low`` or to ``high`` without moving the drive by
more than 1e-5 of its size (so an input seen only through saturated neurons
of earlier layers counts as ignored there).

A squashed neuron can be *saturated*: a sigmoid or tanh at its limit (in
float32, sigmoid(z) is exactly 1.0 for z > 17), a ReLU whose best sum is
still negative, a step away from its threshold. Then its value stays put
(within 1e-5) whichever input the drive uses is moved, so the value alone
says nothing about which inputs matter; ``saturated`` says so, and
``drive`` gives the sum that was maximised.

Examples
--------
>>> import numpy as np
>>> from glassnet.nn import Sequential, Dense, Tanh
>>> from glassnet.inspect.receptive import receptive_field
>>> model = Sequential(Dense(4, 1), Tanh())
>>> model[0].weight.data[:, 0] = [1.0, 1.0, 0.0, -1.0]
>>> field = receptive_field(model, layer=1, neuron=0)
>>> field.method, field.pattern.tolist(), field.dont_care.tolist()
('exact', [1.0, 1.0, 0.0, -1.0], [False, False, True, False])
>>> round(field.value, 4), field.drive, field.saturated  # tanh(1 + 1 + 1)
(0.9951, 3.0, False)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ConfigError
from ..nn.module import Module, Sequential
from ..tensor import Tensor, enable_grad, no_grad
from .summary import flat_layers, infer_input_shape

__all__ = [
    "ReceptiveField",
    "receptive_field",
    "receptive_fields",
    "find_layer",
    "neuron_layers",
]

_RISING = ("Identity", "Sigmoid", "Tanh", "ReLU", "Step")  # elementwise, never falling
_RISING += ("ELU", "SELU", "Softplus")  # (GELU and SiLU dip below 0 before rising)
_AFFINE = ("Dense", "Conv2D", "Conv1D")
_RESHAPE = ("Flatten", "Identity")


class ReceptiveField(NamedTuple):
    """The input pattern that drives one neuron highest.

    Attributes
    ----------
    pattern : numpy.ndarray
        The input (one sample's shape) within ``[low, high]``.
    value : float
        The neuron's value for that input.
    method : str
        ``'exact'`` or ``'gradient ascent'``.
    dont_care : numpy.ndarray of bool
        Inputs the drive ignores: a zero weight (exact), or no change to
        the drive beyond 1e-5 of its size at ``low`` and at ``high``
        (gradient ascent).
    layer : str
        Dotted name of the layer.
    neuron : tuple
        Index of the neuron in one sample's output of that layer.
    drive : float
        What was maximised: the weighted sum into a squashing layer, else
        the value itself.
    saturated : bool
        For a squashing layer (Sigmoid, Tanh, ReLU, Step): the value is flat
        at ``pattern``, moving any input the drive uses to ``low`` or
        ``high`` changes ``value`` by at most 1e-5 of its size (not checked
        for inputs of more than 4096 values).
    """

    pattern: np.ndarray
    value: float
    method: str
    dont_care: np.ndarray
    layer: str
    neuron: tuple
    drive: float = float("nan")
    saturated: bool = False

    def _repr_html_(self) -> str:
        """Jupyter's display: the pattern drawn as in the seeds, and its numbers."""
        from .._display import receptive_field_html

        return receptive_field_html(self)


def find_layer(model, layer) -> tuple[int | None, str, Module]:
    """(position among the model's layers or None, dotted name, module) for ``layer``.

    ``layer`` may be an index into the layers of a (nested) Sequential, in
    the order they run (negative counts from the end), a dotted name, or
    the module itself.
    """
    flat = flat_layers(model)
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if not -len(flat) <= layer < len(flat):
            raise ConfigError(
                f"receptive_field: the model has {len(flat)} layers "
                f"(0 to {len(flat) - 1}); got layer={layer}."
            )
        i = int(layer) % len(flat)
        return i, flat[i][0], flat[i][1]
    for i, (name, mod) in enumerate(flat):
        if mod is layer or name == layer:
            return i, name, mod
    for name, mod in model.named_modules():
        if mod is layer or name == layer:
            return None, name, mod
    names = ", ".join(repr(n) for n, _ in flat)
    raise ConfigError(
        f"receptive_field: no layer {layer!r} in {type(model).__name__}; "
        f"give an index, a module or one of the names {names}."
    )


def neuron_layers(model, kinds=_AFFINE) -> list:
    """Positions (among the model's layers, as :func:`find_layer` counts them) of
    each weighted-sum layer whose type is in ``kinds``, or of the rising
    activation right after it when there is one: the layers whose neurons a
    receptive field is drawn for.

    >>> from glassnet.nn import Sequential, Conv2D, ReLU, Flatten, Dense
    >>> neuron_layers(Sequential(Conv2D(1, 2, 3), ReLU(), Flatten(), Dense(2, 1)))
    [1, 3]
    """
    flat = flat_layers(model)
    picks = []
    for i, (_, layer) in enumerate(flat):
        if type(layer).__name__ in kinds:
            nxt = type(flat[i + 1][1]).__name__ if i + 1 < len(flat) else ""
            picks.append(i + 1 if nxt in _RISING else i)
    return picks


def _runner(model, position, target):
    """f(x) -> (input of target, output of target), as Tensors, for a batch x."""
    from ..nn import module as module_mod

    if position is not None and isinstance(model, Sequential):
        before = [m for _, m in flat_layers(model)[:position]]

        def run(x):
            with module_mod.eval_mode(model):
                for m in before:
                    x = m(x)
                return x, target(x)

        return run

    def run(x):  # any other model: run it whole and catch the target's first call
        seen = []

        def hook(module, inputs, output):
            if module is target and not seen:
                seen.append((inputs, output))

        module_mod.FORWARD_HOOKS.append(hook)
        try:
            with module_mod.eval_mode(model):
                model(x)
        finally:
            module_mod.FORWARD_HOOKS.remove(hook)
        if not seen:
            raise ConfigError(
                f"receptive_field: {type(target).__name__} did not run "
                f"when the model was called."
            )
        return seen[0]

    return run


def _neuron_index(where: str, out_shape: tuple, neuron) -> tuple:
    """One sample's index of the neuron; an int on a map layer means its centre pixel."""
    shape = out_shape[1:]
    if isinstance(neuron, (int, np.integer)) and not isinstance(neuron, bool):
        if len(shape) == 1:
            index = (int(neuron),)
        elif len(shape) >= 2:  # (channels, ...): the middle position of map `neuron`
            index = (int(neuron),) + tuple(s // 2 for s in shape[1:])
        else:
            index = ()
    else:
        try:
            index = tuple(int(i) for i in neuron)
        except TypeError:
            index = None
    if (
        index is None
        or len(index) != len(shape)
        or not all(-s <= i < s for i, s in zip(index, shape))
    ):
        raise ConfigError(
            f"receptive_field: {where} outputs {tuple(shape)} per sample; "
            f"neuron={neuron!r} is not an index into that."
        )
    return tuple(i % s for i, s in zip(index, shape))


def _box(low, high, shape, dtype):
    lo = np.broadcast_to(np.asarray(low, dtype), shape).copy()
    hi = np.broadcast_to(np.asarray(high, dtype), shape).copy()
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo < hi)):
        raise ConfigError(
            "receptive_field: the box needs finite low < high for every "
            f"input; got low={low!r}, high={high!r}."
        )
    return lo, hi


def _sample_shape(model, input_shape) -> tuple:
    if input_shape is None:
        input_shape = infer_input_shape(model)
        if input_shape is None:
            raise ConfigError(
                f"receptive_field: cannot tell the input shape of {type(model).__name__} "
                "from its first layer; pass input_shape=, one sample's shape such as "
                "(1, 9, 9)."
            )
    return tuple(int(s) for s in input_shape)


def _is_exact(model, position) -> bool:
    """The neuron is one weighted sum of the inputs, maybe squashed by a rising function."""
    if position is None or not isinstance(model, Sequential):
        return False
    kinds = [type(m).__name__ for _, m in flat_layers(model)[: position + 1]]
    while kinds and kinds[-1] in _RISING and len(kinds) > 1 and kinds[-2] in _AFFINE:
        kinds.pop()
    if not kinds or kinds[-1] not in _AFFINE:
        return False
    return all(k in _RESHAPE for k in kinds[:-1])


def receptive_field(
    model,
    layer,
    neuron,
    input_shape=None,
    low=-1.0,
    high=1.0,
    *,
    steps: int = 300,
    restarts: int = 8,
    seed=0,
) -> ReceptiveField:
    """The input within ``[low, high]`` that makes one neuron as large as it can be.

    Parameters
    ----------
    model : Module
    layer : int, str or Module
        Which layer: an index among the layers in the order they run
        (Sequentials inside opened up), a dotted name, or the layer itself.
        For a squashing layer, its neurons are the squashed values.
    neuron : int or tuple
        Which neuron of that layer: its index in one sample's output. For a
        layer of maps (batch, channels, height, width) an int picks map
        ``neuron`` at its centre position; give ``(channel, row, col)`` for
        another position.
    input_shape : tuple, optional
        One sample's shape; inferred for models that start with Dense.
    low, high : float or array
        The box the input must stay in (broadcast to ``input_shape``);
        default -1 to +1, the seed's black to white.
    steps, restarts, seed
        Gradient ascent only: steps per start, number of starts (the first
        is the middle of the box, the others random), and their generator.

    Returns
    -------
    ReceptiveField
        With ``saturated`` set where the value does not respond to the
        inputs the drive uses (see the module docstring).
    """
    position, name, target = find_layer(model, layer)
    shape = _sample_shape(model, input_shape)
    dtype = model.dtype
    lo, hi = _box(low, high, shape, dtype)
    run = _runner(model, position, target)
    with no_grad():
        probe_in, probe = run(Tensor(((lo + hi) / 2)[None]))
    where = f"layer {name!r} ({type(target).__name__})"
    index = _neuron_index(where, probe.shape, neuron)
    # a rising elementwise squash: climb the sum going into it (its drive)
    before = (
        type(target).__name__ in _RISING
        and isinstance(probe_in, Tensor)
        and probe_in.shape == probe.shape
    )

    def objective(x, squashed=False):
        """The neuron's drive -- its value before a rising squash, which has the
        same argmax and keeps a slope where a saturated squash, ReLU or step is
        flat -- or with ``squashed`` its value."""
        inp, out = run(x)
        source = inp if before and not squashed else out
        return source[(slice(None),) + index]

    if _is_exact(model, position):
        x = Tensor(np.zeros((1,) + shape, dtype), requires_grad=True)
        with enable_grad():
            objective(x).sum().backward()
        w = x.grad[0]
        pattern = np.where(w > 0, hi, np.where(w < 0, lo, (lo + hi) / 2)).astype(dtype)
        method = "exact"
    else:
        pattern = _ascend(objective, lo, hi, steps, restarts, seed, dtype)
        method = "gradient ascent"

    def measure(squashed):
        def of(batch):
            with no_grad():
                values = objective(Tensor(np.asarray(batch, dtype)), squashed).data
            return values.astype(np.float64)

        return of

    drive_of, value_of = measure(False), measure(True)
    drive = float(drive_of(pattern[None])[0])
    value = float(value_of(pattern[None])[0])
    if method == "exact":  # the drive is w · x + b: it ignores exactly the zero weights
        dont_care = w == 0
    else:
        dont_care = _unchanged(drive_of, pattern, lo, hi, drive)
    saturated = False
    if before and type(target).__name__ != "Identity" and np.any(~dont_care):
        flat = _unchanged(value_of, pattern, lo, hi, value)
        saturated = bool(np.all(flat | dont_care))
    return ReceptiveField(
        pattern, value, method, dont_care, name, index, drive, saturated
    )


def _ascend(objective, lo, hi, steps, restarts, seed, dtype) -> np.ndarray:
    """Projected gradient ascent from the box's middle and ``restarts - 1`` random points."""
    rng = np.random.default_rng(seed)
    span = hi - lo
    starts = [(lo + hi) / 2] + [
        lo + span * rng.random(lo.shape) for _ in range(max(int(restarts), 1) - 1)
    ]
    x = np.stack(starts).astype(dtype)
    for k in range(int(steps)):
        xt = Tensor(x, requires_grad=True)
        with enable_grad():
            objective(xt).sum().backward()
        g = xt.grad
        scale = np.sqrt((g.reshape(len(g), -1) ** 2).mean(axis=1)) + 1e-12
        eta = 0.2 * (1 - k / steps) + 0.002  # big steps first, then settle
        step = eta * span * g / scale.reshape((-1,) + (1,) * (g.ndim - 1))
        new = np.clip(x + step, lo, hi).astype(dtype)
        if np.array_equal(new, x):  # every start pinned to corners of the box: done
            break
        x = new
    with no_grad():
        scores = objective(Tensor(x)).data
    return x[int(np.argmax(scores))]


def _unchanged(value_of, pattern, lo, hi, value, limit: int = 4096) -> np.ndarray:
    """Inputs whose moving to ``low`` or to ``high`` leaves ``value_of`` within
    1e-5 of ``value`` (none for inputs of more than ``limit`` values)."""
    n = pattern.size
    if n > limit:
        return np.zeros(pattern.shape, bool)
    flat, lo_f, hi_f = pattern.ravel(), lo.ravel(), hi.ravel()
    batch = np.repeat(flat[None], 2 * n, axis=0)
    batch[np.arange(n), np.arange(n)] = lo_f
    batch[n + np.arange(n), np.arange(n)] = hi_f
    values = value_of(batch.reshape((2 * n,) + pattern.shape))
    tol = 1e-5 * max(1.0, abs(value))
    same = np.abs(values - value) <= tol
    return (same[:n] & same[n:]).reshape(pattern.shape)


def receptive_fields(
    model, layer, input_shape=None, low=-1.0, high=1.0, **kwargs
) -> list:
    """:func:`receptive_field` of every neuron of a layer (every map's centre for a
    layer of maps), in order."""
    position, _, target = find_layer(model, layer)
    shape = _sample_shape(model, input_shape)
    with no_grad():
        _, out = _runner(model, position, target)(
            Tensor(np.zeros((1,) + shape, model.dtype))
        )
    return [
        receptive_field(model, layer, k, shape, low, high, **kwargs)
        for k in range(out.shape[1])
    ]
