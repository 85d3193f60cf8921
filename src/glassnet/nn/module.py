"""Module: the base of every layer and model, and Sequential, a stack of them.

A module's parameters are simply its attributes that are Tensors with
``requires_grad=True``, found by walking its attributes (and lists, tuples
and dicts of them) in the order they were set. There is no attribute magic:
what you assign is what you get.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager

import numpy as np

from ..errors import ConfigError, DTypeError
from ..tensor import Tensor, as_tensor
from .init import make_rng

# Functions called as hook(module, inputs, output) after every module's forward;
# empty unless something (glassnet.trace) is watching, so they cost nothing.
FORWARD_HOOKS: list = []

# id() of every parameter whose values were trained, loaded or set by hand (see
# Module.mark_trained); an id leaves the set when its Tensor is garbage collected.
_TRAINED: set = set()


def mark_trained(params) -> None:
    """Record that these parameter Tensors hold meant values, not initial ones.

    Called by ``fit``, ``Module.load_state_dict`` (and so by reading a model
    file) and an optimizer's first update of each parameter.
    """
    for p in params:
        if id(p) not in _TRAINED:
            _TRAINED.add(id(p))
            weakref.finalize(p, _TRAINED.discard, id(p))


def _walk(value, prefix):
    """Yield (name, item) for Tensors and Modules inside ``value``."""
    if isinstance(value, (Tensor, Module)):
        yield prefix, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{prefix}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{prefix}.{key}")


def _all_modules(module) -> list:
    """``module`` and every module inside it, as named_modules finds them but
    without names (train/eval run at every fit, predict and evaluate)."""
    found, values = [module], []
    for m in found:  # the list grows while it is read
        values[:] = vars(m).values()
        for value in values:
            if isinstance(value, Module):
                found.append(value)
            elif isinstance(value, (list, tuple)):
                values.extend(value)
            elif isinstance(value, dict):
                values.extend(value.values())
    return found


class Module:
    """Base class of layers and models.

    Subclasses set their parameters as attributes in ``__init__`` and write
    ``forward``. Calling a module converts NumPy input to a Tensor of the
    module's float dtype and runs ``forward``.
    """

    training = True
    buffer_names: tuple = ()  # attributes holding arrays to save but not train

    # --- the tree --------------------------------------------------------------
    def _members(self):
        """(name, Tensor or Module) directly held by this module, in order set."""
        for attr, value in vars(self).items():
            if isinstance(value, (Tensor, Module)):
                yield attr, value
            elif isinstance(value, (list, tuple, dict)):  # numbers, names: nothing
                yield from _walk(value, attr)

    def named_children(self):
        """(name, module) for each direct sub-module, in the order they were set."""
        for name, item in self._members():
            if isinstance(item, Module):
                yield name, item

    def children(self):
        return [m for _, m in self.named_children()]

    def named_modules(self, prefix: str = ""):
        """(name, module) for this module and every module inside it, depth first."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = ""):
        """(dotted name, Tensor) for every trainable tensor, e.g. ``('0.weight', W)``."""
        seen = set()
        for name, item in self._members():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(item, Module):
                for sub, p in item.named_parameters(full):
                    if id(p) not in seen:  # a layer shared twice counts once
                        seen.add(id(p))
                        yield sub, p
            elif item.requires_grad and id(item) not in seen:
                seen.add(id(item))
                yield full, item

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    def named_buffers(self, prefix: str = ""):
        """(dotted name, array) for state that is kept but not trained (BatchNorm's
        running statistics): the arrays named in each module's ``buffer_names``."""
        for name, (m, b) in self._buffer_slots(prefix).items():
            yield name, getattr(m, b)

    def _buffer_slots(self, prefix: str = "") -> dict:
        """Buffer name -> (module, attribute) that holds it."""
        return {
            (f"{name}.{b}" if name else b): (m, b)
            for name, m in self.named_modules(prefix)
            for b in m.buffer_names
        }

    def state_dict(self) -> dict:
        """Parameter and buffer name -> NumPy array (a copy)."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        return state | {name: b.copy() for name, b in self.named_buffers()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the parameters and buffers, checking names and shapes."""
        from .._validate import shape_str
        from ..errors import ShapeError

        params, slots = dict(self.named_parameters()), self._buffer_slots()
        shapes = {n: p.shape for n, p in params.items()}
        shapes |= {n: getattr(m, b).shape for n, (m, b) in slots.items()}
        missing = sorted(set(shapes) - set(state))
        extra = sorted(set(state) - set(shapes))
        if missing or extra:
            raise ShapeError(
                f"{type(self).__name__}.load_state_dict: missing {missing}, unexpected {extra}."
            )
        for name, shape in shapes.items():
            if np.shape(state[name]) != shape:
                raise ShapeError(
                    f"{type(self).__name__}.load_state_dict: '{name}' expected shape "
                    f"{shape_str(shape)}; got {shape_str(np.shape(state[name]))}."
                )
        for name, p in params.items():
            p.data = np.asarray(state[name]).astype(p.dtype, copy=True)
        for name, (m, b) in slots.items():
            setattr(m, b, np.asarray(state[name]).astype(getattr(m, b).dtype))
        mark_trained(params.values())

    def mark_trained(self) -> Module:
        """Say that this model's weights are meant to be used as they are.

        ``predict`` and ``evaluate`` warn
        (:class:`~glassnet.errors.UntrainedModelWarning`, once per model) about a model none of whose parameters was ever
        trained, loaded or marked: its answers would come from random initial
        weights. ``fit``, an optimizer's steps, ``load_state_dict`` and
        reading a model file mark the parameters; call this after setting
        weights by hand (``layer.weight.data = ...``).

        Examples
        --------
        >>> import numpy as np
        >>> from glassnet import nn
        >>> layer = nn.Dense(2, 1, bias=False)
        >>> layer.weight.data = np.array([[1.0], [-1.0]], np.float32)
        >>> layer.mark_trained().is_trained()
        True
        """
        mark_trained(self.parameters())
        return self

    def is_trained(self) -> bool:
        """True when any parameter was trained, loaded or marked (see
        :meth:`mark_trained`)."""
        return any(id(p) in _TRAINED for _, p in self.named_parameters())  # lazily

    # --- modes and gradients -----------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (the default) for this module and all inside it."""
        for m in _all_modules(self):
            m.training = mode
        return self

    def eval(self) -> Module:
        """Inference mode for this module and all inside it."""
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def astype(self, dtype) -> Module:
        """Convert every parameter to ``dtype`` (float32 or float64), in place."""
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise DTypeError(
                f"{type(self).__name__}.astype: use float32 or float64; got {dt}."
            )
        for p in self.parameters():
            p.data = p.data.astype(dt)
            p.grad = None
        for m, b in self._buffer_slots().values():
            setattr(m, b, getattr(m, b).astype(dt))
        return self

    @property
    def dtype(self):
        """The float dtype of the first parameter, else of the first buffer (float32
        for a module without either)."""
        p = _first_parameter(self)
        if p is None:
            b = next(self.named_buffers(), None)
            return np.dtype(np.float32) if b is None else b[1].dtype
        return p.data.dtype

    def reset_parameters(self, rng=None) -> Module:
        """Draw fresh initial weights for every layer inside, in order, from ``rng``."""
        rng = make_rng(rng)
        for child in self.children():
            child.reset_parameters(rng)
        return self

    # --- running -----------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement forward().")

    def __call__(self, x, *args, **kwargs):
        if not isinstance(x, Tensor):
            x = as_input(x, self.dtype, type(self).__name__)
        out = self.forward(x, *args, **kwargs)
        if FORWARD_HOOKS:
            for hook in FORWARD_HOOKS:
                hook(self, x, out)
        return out

    # --- description ---------------------------------------------------------------
    def extra_repr(self) -> str:
        """The one-line configuration shown inside the repr's parentheses."""
        return ""

    def __repr__(self) -> str:
        kids = self.children()
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in self.named_children():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)

    def get_config(self) -> dict:
        """Constructor arguments that rebuild this module (used by model files)."""
        return {}

    def summary(self, input_shape=None, dtype=None):
        """Table of layers, output shapes and parameter counts; see
        :func:`glassnet.inspect.summary.summary` (``print(model.summary())``)."""
        from ..inspect.summary import summary

        return summary(self, input_shape=input_shape, dtype=dtype)

    def _repr_html_(self) -> str:
        """Jupyter shows a model as its summary table."""
        import html

        try:
            return self.summary()._repr_html_()
        except Exception:  # a notebook display must never raise; fall back to the repr
            return f"<pre>{html.escape(repr(self))}</pre>"

    # --- training, as methods (the same as glassnet.fit & co.) -------------------
    def fit(self, X, y, **kwargs):
        from ..train import fit

        return fit(self, X, y, **kwargs)

    def evaluate(self, X, y, **kwargs):
        from ..train import evaluate

        return evaluate(self, X, y, **kwargs)

    def predict(self, X, **kwargs):
        from ..train import predict

        return predict(self, X, **kwargs)


@contextmanager
def eval_mode(model: Module):
    """``model`` in eval mode inside the block; afterwards each module is back in
    the mode it was in. ``predict``, ``evaluate`` and the look-inside tools
    run in it, so they draw no Dropout masks and move no BatchNorm statistics."""
    modes = [(m, m.training) for m in _all_modules(model)]
    for m, _ in modes:  # model.eval(), without walking the tree again
        m.training = False
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


def _first_parameter(item):
    """The first trainable Tensor inside ``item`` (a module, or a list, tuple or
    dict in one), depth first, or None.

    The walk of ``named_parameters`` (the order of ``_members``) without its
    names, de-duplication and generators: it runs on every call of a model
    given NumPy input (W1: 20 µs -> 3 µs -> 1 µs). It stops at the first find,
    which for a Sequential of Dense layers is the first layer's weight, and
    steps over numbers and strings without a call.
    """
    if isinstance(item, Module):  # Sequential's members are its layers
        values = item.layers if isinstance(item, Sequential) else vars(item).values()
    else:
        values = item.values() if isinstance(item, dict) else item
    for value in values:
        if isinstance(value, Tensor):
            if value.requires_grad:
                return value
        elif isinstance(value, _HOLDERS):
            found = _first_parameter(value)
            if found is not None:
                return found
    return None


_HOLDERS = (Module, list, tuple, dict)  # what _walk looks inside


def as_input(x, dtype, where: str) -> Tensor:
    """NumPy (or list) input as a constant Tensor of the model's float dtype."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise DTypeError(
            f"{where} expected numeric input; got an array of dtype {arr.dtype}."
        )
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    return as_tensor(arr)


class Sequential(Module):
    """Layers applied one after another: the output of each is the input of the next.

    Parameters
    ----------
    *layers : Module
        The layers, first to last.
    seed : int or numpy Generator, optional
        When given, every layer's weights are drawn again from one Generator
        made from this seed, layer by layer in order, so the same seed always
        gives the same starting model.

    Examples
    --------
    >>> from glassnet.nn import Sequential, Dense, Sigmoid
    >>> model = Sequential(Dense(64, 32), Sigmoid(), Dense(32, 10), seed=0)
    >>> model
    Sequential(
      (0): Dense(64 → 32, bias)
      (1): Sigmoid()
      (2): Dense(32 → 10, bias)
    )
    >>> model.num_parameters()
    2410
    """

    def __init__(self, *layers, seed=None):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise ConfigError(
                    f"Sequential: item {i} is {type(layer).__name__}, not a layer. "
                    "Did you pass a class instead of an instance, e.g. ReLU instead of ReLU()?"
                )
        self.layers = list(layers)
        if seed is not None:
            self.reset_parameters(seed)

    def _members(self):
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def __call__(self, x, *args, **kwargs):
        # A repeated training call runs as one recorded node (same kernels, same bits).
        out = None if args or kwargs else _replay.replay(self, x)
        return Module.__call__(self, x, *args, **kwargs) if out is None else out

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(*self.layers[i])
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def append(self, layer: Module) -> Sequential:
        if not isinstance(layer, Module):
            raise ConfigError(
                f"Sequential.append: {type(layer).__name__} is not a layer."
            )
        self.layers.append(layer)
        return self


from .. import _replay  # noqa: E402  (it needs Module)
