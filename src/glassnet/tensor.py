"""The Tensor and its tape: reverse-mode automatic differentiation.

A :class:`Tensor` wraps a NumPy array (``.data``). When an op runs on tensors
that need gradients, the result remembers its inputs (``_parents``) and a
small function (``_backward``) that turns the gradient of the loss with
respect to the result into gradients with respect to each input: the op's
*local derivative*, applied by the chain rule. ``loss.backward()`` walks
these records from the loss back to the inputs, the way the seeds describe
backpropagation: each step multiplies by one little derivative.

dtype rules
-----------
* Python numbers and lists become **float32** unless ``dtype=`` says
  otherwise; NumPy float arrays keep float32 or float64.
* A non-Tensor operand (a Python number or a NumPy array) adopts the float
  dtype of the Tensor it meets, so ``x * 0.5`` never upcasts a float32 ``x``.
* Two Tensors of different float dtypes follow NumPy (float32 with float64
  gives float64); each input's gradient is cast back to that input's dtype.
* Integer and bool tensors may exist (indices, masks) but cannot require
  gradients.
"""

from __future__ import annotations

import numbers
import threading

import numpy as np

from ._validate import shape_str
from .errors import DTypeError, GraphError, ShapeError

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "unbroadcast",
]


class _GradModeLocal(threading.local):
    """Whether ops record the graph: one switch per thread, as in PyTorch, so
    ``no_grad`` in one thread (a dashboard request predicting) never stops
    another thread's graph (a trace of the same moment) from being recorded."""

    enabled = True  # each thread starts with recording on


_GradMode = _GradModeLocal()


class no_grad:
    """Context manager (or decorator) in which ops record nothing for backward.

    Use it for inference and for updating weights by hand: results have
    ``requires_grad=False`` and no graph is kept, which saves time and memory.
    It applies to the thread that enters it; other threads keep recording.

    >>> import glassnet as gn
    >>> w = gn.tensor([1.0, 2.0], requires_grad=True)
    >>> with gn.no_grad():
    ...     y = w * 3
    >>> y.requires_grad
    False
    """

    _target = False

    def __enter__(self):
        self._prev = _GradMode.enabled
        _GradMode.enabled = self._target

    def __exit__(self, *exc):
        _GradMode.enabled = self._prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Turn recording back on inside a ``no_grad`` block."""

    _target = True


def is_grad_enabled() -> bool:
    """True when ops currently record the graph for backward."""
    return _GradMode.enabled


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` back down to ``shape``: the one home of broadcasting's backward.

    When NumPy broadcast an input of ``shape`` up to the output's shape, each
    input element was used once per copy, so its gradient is the sum over
    those copies: over the leading axes that were added, and over every axis
    where the input had size 1.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _ragged_where(data, where: str = "data") -> str | None:
    """Where nested lists stop being rectangular: a sentence, or None if they are."""
    if not isinstance(data, (list, tuple)):
        return None
    sizes = {
        len(item)
        if isinstance(item, (list, tuple))
        else (item.shape[0] if isinstance(item, np.ndarray) and item.ndim else None)
        for item in data
    }
    if len(sizes) > 1:
        if None in sizes:
            return f"the items of {where} mix numbers and lists"
        a, b = sorted(sizes)[:2]
        return f"the lists in {where} have different lengths ({a} and {b})"
    for i, item in enumerate(data):
        found = _ragged_where(item, f"{where}[{i}]")
        if found:
            return found
    return None


def _asarray(data, dtype=None) -> np.ndarray:
    """``np.asarray`` with NumPy's ValueError for ragged or non-numeric data
    turned into a glassnet error that says where the data went wrong."""
    try:
        return np.asarray(data, dtype=dtype)
    except ValueError as e:
        ragged = _ragged_where(data)
        if ragged:
            raise ShapeError(
                f"tensor(): nested lists must be rectangular (every row the same "
                f"length); {ragged}. Pad the short rows, or make one tensor per row."
            ) from None
        raise DTypeError(
            f"tensor(): cannot make a {np.dtype(dtype) if dtype else 'numeric'} "
            f"tensor from {type(data).__name__}; NumPy says: {e}"
        ) from None


def _to_array(data, dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.kind not in "fiub":
            raise DTypeError(
                f"tensor(): unsupported dtype {dt}; use float32 or float64."
            )
        return _asarray(data, dt)
    if isinstance(data, np.ndarray):
        if data.dtype.kind == "f" and data.dtype in _FLOATS:
            return data
        if data.dtype.kind == "f":  # float16, longdouble: bring into the supported pair
            return data.astype(np.float32)
        if data.dtype.kind in "iub":
            return data
        raise DTypeError(
            f"tensor(): cannot hold an array of dtype {data.dtype}; "
            "use numbers (float32/float64, or integers for indices)."
        )
    arr = _asarray(data)
    if arr.dtype.kind in "iubf":
        return arr.astype(np.float32) if arr.dtype.kind != "b" else arr
    raise DTypeError(
        f"tensor(): cannot make a tensor from {type(data).__name__} "
        f"(NumPy sees dtype {arr.dtype}); pass numbers or a numeric array."
    )


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    Parameters
    ----------
    data : array_like
        The values. See the module docstring for the dtype rules.
    requires_grad : bool
        Record ops on this tensor so ``backward()`` can fill ``.grad``.
    dtype : dtype, optional
        Force a dtype (``np.float64`` for gradient checks).

    Attributes
    ----------
    data : np.ndarray
        The values themselves.
    grad : np.ndarray or None
        After ``backward()``, d(loss)/d(this tensor), same shape as ``data``.
        Leaf tensors *accumulate* gradients over several ``backward()``
        calls; clear them with ``zero_grad()``. Replace ``.grad`` rather than
        writing into it.
    """

    __slots__ = (
        "data",
        "grad",
        "requires_grad",
        "_parents",
        "_backward",
        "_g",
        "_retain",
        "name",
        "__weakref__",
    )
    # Makes ``ndarray + Tensor`` call Tensor.__radd__ instead of NumPy looping.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        arr = _to_array(data, dtype)
        if requires_grad and arr.dtype.kind != "f":
            raise DTypeError(
                f"Only float tensors can require gradients; got dtype {arr.dtype}. "
                "Cast first, e.g. tensor(x.astype(np.float32), requires_grad=True)."
            )
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self._g = None
        self._retain = False
        self.name = None

    # --- basic facts -----------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (parameters, inputs), not by an op."""
        return self._backward is None

    def __len__(self) -> int:
        return len(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (the same memory as ``.data``)."""
        return self.data

    def item(self) -> float:
        """The single value of a one-element tensor, as a Python number."""
        if self.data.size != 1:
            raise ShapeError(
                f"item() needs a tensor with one element; got shape {shape_str(self.shape)}."
            )
        return self.data.item()

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="tensor(")
        extra = f", dtype={self.dtype}" if self.dtype != np.float32 else ""
        if self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # --- graph control ---------------------------------------------------
    def detach(self) -> Tensor:
        """The same values, cut off from the graph (no gradient flows back)."""
        out = Tensor.__new__(Tensor)
        out.data, out.grad, out.requires_grad = self.data, None, False
        out._parents, out._backward, out._g, out._retain, out.name = (
            (),
            None,
            None,
            False,
            None,
        )
        return out

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Switch gradient recording for this leaf tensor on or off, in place."""
        if flag and self.data.dtype.kind != "f":
            raise DTypeError(
                f"Only float tensors can require gradients; got dtype {self.dtype}."
            )
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this intermediate tensor after backward (for tracing)."""
        self._retain = True
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor to every leaf that requires a gradient.

        Parameters
        ----------
        grad : array_like, optional
            d(something)/d(this tensor). Leave out for a one-element tensor
            such as a loss (it is then 1).
        retain_graph : bool
            Keep the recorded graph so ``backward()`` can run through it
            again. By default it is freed as it is walked.
        """
        if not self.requires_grad:
            raise GraphError(
                "backward() called on a tensor that does not require gradients: "
                "no input of the computation had requires_grad=True, or it ran "
                "inside no_grad()."
            )
        if grad is None:
            if self.data.size != 1:
                raise GraphError(
                    f"backward() on a tensor of shape {shape_str(self.shape)} needs a "
                    "gradient of that shape, e.g. y.backward(np.ones(y.shape)); or "
                    "reduce it to one number first, e.g. y.sum().backward()."
                )
            grad = np.array(1, self.data.dtype, ndmin=self.data.ndim)  # one element
        else:
            grad = np.array(
                grad.data if isinstance(grad, Tensor) else grad,
                dtype=self.dtype,
                copy=True,
            )
            if grad.shape != self.shape:
                raise ShapeError(
                    f"backward(): the gradient must have the tensor's shape "
                    f"{shape_str(self.shape)}; got {shape_str(grad.shape)}."
                )
        _run_backward(self, grad, retain_graph)

    # --- operators: thin wrappers over glassnet.ops ----------------------
    def __add__(self, other):
        return _ew.add(self, other)

    def __radd__(self, other):
        return _ew.add(other, self)

    def __sub__(self, other):
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return _ew.sub(other, self)

    def __mul__(self, other):
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return _ew.mul(other, self)

    def __truediv__(self, other):
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.div(other, self)

    def __pow__(self, other):
        return _ew.pow(self, other)

    def __rpow__(self, other):
        return _ew.pow(other, self)

    def __neg__(self):
        return _ew.neg(self)

    def __matmul__(self, other):
        return _la.matmul(self, other)

    def __rmatmul__(self, other):
        return _la.matmul(other, self)

    def __getitem__(self, index):
        return _sh.getitem(self, index)

    # Tensors are compared by identity (they live in dicts and sets of the
    # tape); use NumPy on ``.data`` for elementwise comparisons.
    __hash__ = object.__hash__

    # --- methods ---------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        return _rd.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _rd.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return _rd.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _rd.min(self, axis, keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _rd.var(self, axis, ddof, keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _rd.std(self, axis, ddof, keepdims)

    def prod(self, axis=None, keepdims=False):
        return _rd.prod(self, axis, keepdims)

    def cumsum(self, axis=-1):
        return _rd.cumsum(self, axis)

    def logsumexp(self, axis=None, keepdims=False):
        return _rd.logsumexp(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _rd.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _rd.argmin(self, axis, keepdims)

    def softmax(self, axis=-1):
        return _rd.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return _rd.log_softmax(self, axis)

    def reshape(self, *shape):
        return _sh.reshape(self, *shape)

    def transpose(self, *axes):
        return _sh.transpose(self, *axes)

    def permute(self, *axes):
        return _sh.transpose(self, *axes)

    def squeeze(self, axis=None):
        return _sh.squeeze(self, axis)

    def unsqueeze(self, axis):
        return _sh.unsqueeze(self, axis)

    def flip(self, axis=None):
        return _sh.flip(self, axis)

    def gather(self, axis, index):
        return _sh.gather(self, axis, index)

    @property
    def T(self):
        return _sh.transpose(self)

    def exp(self):
        return _ew.exp(self)

    def log(self):
        return _ew.log(self)

    def sqrt(self):
        return _ew.sqrt(self)

    def abs(self):
        return _ew.abs(self)

    def sin(self):
        return _ew.sin(self)

    def cos(self):
        return _ew.cos(self)

    def tanh(self):
        return _ew.tanh(self)

    def sigmoid(self):
        return _ew.sigmoid(self)

    def relu(self):
        return _ew.relu(self)

    def clip(self, low=None, high=None):
        return _ew.clip(self, low, high)

    def astype(self, dtype):
        return _ew.astype(self, dtype)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a :class:`Tensor`.

    >>> import glassnet as gn
    >>> x = gn.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> x.dtype
    dtype('float32')
    >>> (x * x).sum().backward()
    >>> x.grad
    array([[2., 4.],
           [6., 8.]], dtype=float32)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# --- the two pieces every op uses ------------------------------------------


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """``x`` if it already is a Tensor, else a constant Tensor.

    A constant takes the float dtype of ``like`` (so a Python float or a
    float64 array never upcasts a float32 computation).
    """
    if isinstance(x, Tensor):
        return x
    out = Tensor.__new__(Tensor)
    if like is not None and like.data.dtype.kind == "f":
        if isinstance(x, numbers.Number) or (
            isinstance(x, np.ndarray) and x.dtype.kind in "fiub"
        ):
            out.data = np.asarray(x, dtype=like.data.dtype)
        else:
            out.data = _to_array(x, like.data.dtype)
    else:
        out.data = _to_array(x, None)
    out.grad, out.requires_grad = None, False
    out._parents, out._backward, out._g, out._retain, out.name = (
        (),
        None,
        None,
        False,
        None,
    )
    return out


def make_result(data: np.ndarray, parents: tuple, backward) -> Tensor:
    """Wrap an op's output; record ``parents`` and ``backward`` if a gradient is needed.

    ``backward(g)`` receives d(loss)/d(output) and returns one gradient (or
    None) per parent, in order.
    """
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out._g = None
    out._retain = False
    out.name = None
    if _GradMode.enabled:
        for p in parents:
            if p.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                return out
    out.requires_grad = False
    out._parents = ()
    out._backward = None
    return out


def _freed(g):
    raise GraphError(
        "backward() ran through a graph that an earlier backward() already freed. "
        "Pass retain_graph=True to the first backward() to walk it twice."
    )


def _chain_order(root: Tensor) -> list | None:
    """The walk's order when the graph is one chain, else None.

    A chain: every op between the inputs and ``root`` has at most one parent
    that is itself an op's result needing a gradient (an MLP or a CNN and its
    loss: layer after layer). Then the order is plain: the leaves (parameters,
    inputs) first, then the ops from the first to ``root``. Finding it is one
    pass down the chain, about half the work of the general search below,
    and ``backward()`` runs it every step. A leaf may be listed twice (``w``
    used by two ops); the walk passes it its gradient once, all of it.
    """
    leaves, chain, node = [], [], root
    while node is not None:
        chain.append(node)
        node = None
        for p in chain[-1]._parents:
            if p.requires_grad:
                if not p._parents:
                    leaves.append(p)
                elif node is None:
                    node = p
                else:  # a second op parent: two paths may meet (a diamond)
                    return None
    chain.reverse()
    return leaves + chain


def _topological_order(root: Tensor) -> list:
    """Every tensor that ``root`` depends on and that needs a gradient, inputs first.

    A chain (most networks) has its own quick walk, :func:`_chain_order`.
    Otherwise: iterative depth-first search, so long graphs (a 1,000-step
    recurrence) never touch Python's recursion limit. A node goes on the
    stack with a ``None`` marker above it; when the marker comes off again,
    everything the node depends on has been placed, so the node is placed
    next. A tensor with no parents (a parameter, an input) depends on
    nothing, so it is placed at once, without the round trip through the stack.
    """
    order = _chain_order(root)
    if order is not None:
        return order
    order, visited = [], set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node is None:
            order.append(stack.pop())
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append(node)
        stack.append(None)
        for p in node._parents:
            if p.requires_grad and p not in visited:
                if p._parents:
                    stack.append(p)
                else:  # a leaf: placed now
                    visited.add(p)
                    order.append(p)
    return order


def _run_backward(root: Tensor, grad: np.ndarray, retain_graph: bool) -> None:
    order = _topological_order(root)
    root._g = grad
    handed_out = set()  # ids of arrays already stored in some .grad: never share one
    try:
        for node in reversed(order):
            g = node._g
            if g is None:
                continue
            node._g = None
            backward = node._backward
            if backward is None or node._retain:  # a leaf (parameter, input), or traced
                if g.base is not None or id(g) in handed_out or not g.flags.writeable:
                    g = np.array(g)
                handed_out.add(id(g))
                node.grad = g if node.grad is None else node.grad + g
                if backward is None:
                    continue
            grads = backward(g)
            for p, pg in zip(node._parents, grads):
                if pg is None or not p.requires_grad:
                    continue
                if pg.dtype != p.data.dtype:
                    pg = pg.astype(p.data.dtype)
                p._g = pg if p._g is None else p._g + pg
            if not retain_graph:
                node._parents = ()
                node._backward = _freed
    except BaseException:
        # A walk that finished left no gradient behind: each node handed its own
        # on before its parents were reached. One that stopped half way did.
        for node in order:
            node._g = None
        raise


# Late imports: the ops need Tensor, and Tensor's operators need the ops.
from .ops import elementwise as _ew  # noqa: E402
from .ops import linalg as _la  # noqa: E402
from .ops import reduce as _rd  # noqa: E402
from .ops import shape as _sh  # noqa: E402
