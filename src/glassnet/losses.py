"""Loss functions: one number that says how wrong the network is.

Training is the search for weights that make this number small. Seed 001
starts from the plainest cost, the share of images labelled wrongly
(:func:`glassnet.metrics.error_rate`), and then explains why gradient
descent needs a smooth one instead: a small change in a weight must make a
small change in the cost. Every loss here is smooth (almost everywhere), and
every one is called the same way::

    loss = loss_fn(prediction, target)   # a scalar Tensor
    loss.backward()                      # d(loss)/d(every weight)

``prediction`` is the network's output Tensor; ``target`` the truth, as a
NumPy array or a Tensor. Shapes must match exactly: a loss never broadcasts a
target of shape (N,) against predictions of shape (N, 1), which would
silently compare every sample with every other.

Custom losses
-------------
Seed 004 points out that any error function that grows with the distance
between guess and truth will do. Any function of two Tensors that returns a
scalar Tensor, built from glassnet ops, works as a loss wherever one is
accepted (``fit(loss=...)``, :func:`get`), and backpropagation needs nothing
more: for example a quartic loss, which punishes big misses even harder::

    def quartic(prediction, target):
        return ((prediction - target) ** 4).mean()
"""

from __future__ import annotations

import numpy as np

from . import kernels
from ._validate import check_number, check_positive, is_int, shape_str
from .errors import ConfigError, DataError, ShapeError
from .ops import elementwise as _ew
from .ops import reduce as _rd
from .ops.loss import (
    _binary_cross_entropy,
    _check_weight,
    _cross_entropy,
    _labels,
    _reshape_hint,
    kl_div,
    nll_loss,
)
from .tensor import Tensor, as_tensor, make_result

__all__ = [
    "Loss",
    "MSE",
    "SSE",
    "MAE",
    "Huber",
    "SmoothL1",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "NLL",
    "KLDivergence",
    "get",
]

_REDUCTIONS = ("mean", "sum", "none")


class Loss:
    """Base class: ``loss(prediction, target)`` returns a scalar Tensor.

    Subclasses implement ``forward(prediction, target)`` on two Tensors of
    the same shape (checked here, with the target given the prediction's
    float dtype). Every loss takes ``reduction``: ``"mean"`` (the default,
    except SSE's ``"sum"``), ``"sum"``, or ``"none"`` for the loss of each
    element (or sample), unreduced; :func:`glassnet.fit` needs one number.
    """

    reduction = "mean"
    _default = "mean"  # the reduction a repr leaves out

    def _set_reduction(self, reduction: str, allowed=_REDUCTIONS) -> None:
        if reduction not in allowed:
            raise ConfigError(
                f"{type(self).__name__}: reduction must be one of "
                f"{', '.join(map(repr, allowed))}; got {reduction!r}."
            )
        self.reduction = reduction

    def _reduced(self, losses: Tensor) -> Tensor:
        """Each element's loss, averaged, summed or left as it is."""
        if self.reduction == "mean":
            return _rd.mean(losses)
        return _rd.sum(losses) if self.reduction == "sum" else losses

    def _options(self) -> dict:
        """The arguments that differ from their defaults, for the repr."""
        return {} if self.reduction == self._default else {"reduction": self.reduction}

    def __call__(self, prediction, target) -> Tensor:
        prediction = as_tensor(prediction)
        if prediction.dtype.kind != "f":
            prediction = as_tensor(prediction.data.astype(np.float32))
        target = as_tensor(target, prediction)
        if target.shape != prediction.shape:
            raise ShapeError(self._mismatch(prediction.shape, target.shape))
        return self.forward(prediction, target)

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def _mismatch(self, pred_shape: tuple, target_shape: tuple) -> str:
        msg = (
            f"{self!r}: prediction has shape {shape_str(pred_shape)} but target has "
            f"shape {shape_str(target_shape)}; they must match exactly (a loss does "
            "not broadcast)."
        )
        hint = _reshape_hint(pred_shape, target_shape)
        if not hint and len(pred_shape) == len(target_shape) + 1 and pred_shape[-1] > 1:
            hint = (
                " Targets look like class labels: use CrossEntropy(), or one-hot "
                "encode them."
            )
        return msg + hint

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}({args})"


class MSE(Loss):
    """Mean squared error: the average of the squared differences.

    ``MSE = mean((prediction − target)²)`` over every element; with
    ``half=True``, ``½·mean((prediction − target)²)``. The ½ is the
    convention seed 001 mentions: it cancels the 2 of the derivative, so
    d(loss)/d(prediction) is simply ``(prediction − target) / n``.
    Minimising it pulls a single guess towards the *mean* of the targets
    (seed 004's M&M bags).

    Shapes: prediction and target identical, any shape; the result is a
    scalar.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet import losses
    >>> loss = losses.MSE()
    >>> round(loss(gn.tensor([1.0, 2.0, 3.0]), [1.0, 4.0, 6.0]).item(), 4)
    4.3333
    >>> losses.MSE(half=True)(gn.tensor([3.0]), [1.0]).item()  # ½ · 2²
    2.0
    """

    def __init__(self, half: bool = False, reduction: str = "mean"):
        self.half = bool(half)
        self._set_reduction(reduction)

    def forward(self, prediction, target):
        diff = prediction - target
        squared = self._reduced(diff * diff)
        return squared * 0.5 if self.half else squared

    def _options(self) -> dict:
        return {**({"half": True} if self.half else {}), **super()._options()}


class SSE(Loss):
    """Sum of squared errors: seed 003's loss.

    For each image, square the difference between the ideal and the actual
    value of every output neuron and add them up; then add those totals over
    all the images: ``SSE = Σ (prediction − target)²``. It is MSE times the
    number of elements, so its gradients grow with the batch size.
    (``reduction="sum"`` is its default; "mean" makes it MSE.)

    Shapes: prediction and target identical, any shape; the result is a
    scalar.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet import losses
    >>> sse = losses.SSE()  # (0.2² + 0.1²) + (0.3² + 0.4²)
    >>> round(sse(gn.tensor([[0.8, 0.1], [0.3, 0.6]]), [[1, 0], [0, 1]]).item(), 4)
    0.3
    """

    reduction = _default = "sum"

    def __init__(self, reduction: str = "sum"):
        self._set_reduction(reduction)

    def forward(self, prediction, target):
        diff = prediction - target
        return self._reduced(diff * diff)


class MAE(Loss):
    """Mean absolute error: the average distance ``mean(|prediction − target|)``.

    Big misses count no more than in proportion, so outliers pull less than
    with MSE; a single guess minimising it lands on the *median* of the
    targets (seed 004's M&M bags). Its derivative is the sign of the
    difference (0 where it is exactly 0), divided by the number of elements.

    Shapes: prediction and target identical, any shape; the result is a
    scalar.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet import losses
    >>> round(losses.MAE()(gn.tensor([1.0, 2.0, 3.0]), [1.0, 4.0, 6.0]).item(), 4)
    1.6667
    """

    def __init__(self, reduction: str = "mean"):
        self._set_reduction(reduction)

    def forward(self, prediction, target):
        return self._reduced(_ew.abs(prediction - target))


class Huber(Loss):
    """Huber loss: squared for small misses, absolute for big ones.

    With ``d = prediction − target`` and a threshold ``δ`` (``delta``)::

        ℓ(d) = ½ d²             where |d| ≤ δ
        ℓ(d) = δ (|d| − ½ δ)    where |d| > δ

    and the loss is the mean of ℓ over every element. Near the target it is
    MSE's half square; far from it, it grows only in proportion, like MAE,
    so one wildly wrong target cannot throw the weights far away. Its
    derivative is ``d`` clipped to ``[−δ, δ]``, divided by the number of
    elements. This is the loss of the deep Q-network (Mnih et al. 2015 clip
    the error term to [−1, 1], which is this loss with δ = 1; PyTorch calls it
    ``smooth_l1_loss``), whose targets are its own moving guesses
    (:mod:`glassnet.rl`). Computed as ``½ m² + δ (|d| − m)`` with
    ``m = min(|d|, δ)``, which is both cases at once.

    Shapes: prediction and target identical, any shape; the result is a
    scalar.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet import losses
    >>> huber = losses.Huber()  # (½·0.5² + 1·(3 − ½)) / 2
    >>> round(huber(gn.tensor([0.5, 3.0]), [0.0, 0.0]).item(), 4)
    1.3125
    """

    def __init__(self, delta: float = 1.0, reduction: str = "mean"):
        check_positive(type(self).__name__, "delta", delta)
        self.delta = float(delta)
        self._set_reduction(reduction)

    def forward(self, prediction, target):
        size = _ew.abs(prediction - target)
        inner = _ew.minimum(size, self.delta)
        return self._reduced(inner * inner * 0.5 + (size - inner) * self.delta)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._options().items())
        return f"Huber(delta={self.delta:g}{extra})"


class SmoothL1(Huber):
    """Smooth L1 loss (PyTorch's ``SmoothL1Loss``): Huber divided by its threshold.

    With ``d = prediction − target`` and ``β`` (``beta``)::

        ℓ(d) = ½ d² / β      where |d| < β
        ℓ(d) = |d| − ½ β     elsewhere

    It is ``Huber(delta=β) / β``: the same curve, scaled so that the straight
    parts have slope ±1 (MAE's) whatever β is, where Huber's have slope ±δ.
    For β = 1 the two are the same loss. Derivative: d / β clipped to [−1, 1].

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet import losses
    >>> sl1 = losses.SmoothL1(beta=0.5)  # (½·0.25²/0.5 + (3 − 0.25)) / 2
    >>> round(sl1(gn.tensor([0.25, 3.0]), [0.0, 0.0]).item(), 4)
    1.4062
    """

    def __init__(self, beta: float = 1.0, reduction: str = "mean"):
        super().__init__(beta, reduction)
        self.beta = self.delta

    def forward(self, prediction, target):
        return super().forward(prediction, target) * (1 / self.beta)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._options().items())
        return f"SmoothL1(beta={self.beta:g}{extra})"


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy, for yes/no answers: ``mean(−t·log p − (1−t)·log(1−p))``.

    Parameters
    ----------
    from_logits : bool
        False (default): predictions are probabilities p in [0, 1], e.g. from
        a final Sigmoid, clipped to [1e-7, 1 − 1e-7] before the log. True:
        predictions are raw scores x with p = sigmoid(x), and the loss is
        computed stably as ``softplus(x) − x·t``; prefer this, with no
        Sigmoid at the end of the model (it is PyTorch's ``BCEWithLogitsLoss``).
    pos_weight : float or array of shape (C,), optional
        Needs ``from_logits=True``. The weight w of the positive targets:
        ``−w·t·log p − (1 − t)·log(1 − p)``. For rare positives, w = (number
        of negatives) / (number of positives) makes them count as much as
        the negatives.
    reduction : {"mean", "sum", "none"}

    Notes
    -----
    Shapes: prediction and target identical, e.g. (N, 1) and (N, 1); targets
    in [0, 1]. The result is a scalar, the mean over every element.

    The gradient with respect to the logits is ``(sigmoid(x) − t) / n``: the
    guess minus the truth.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet import losses
    >>> bce = losses.BinaryCrossEntropy()
    >>> round(bce(gn.tensor([0.9, 0.2]), [1.0, 0.0]).item(), 4)  # −(ln 0.9 + ln 0.8)/2
    0.1643
    """

    def __init__(
        self, from_logits: bool = False, pos_weight=None, reduction: str = "mean"
    ):
        self.from_logits = bool(from_logits)
        if pos_weight is not None and not self.from_logits:
            raise ConfigError(
                "BinaryCrossEntropy: pos_weight needs from_logits=True (as PyTorch's "
                "BCEWithLogitsLoss); give the raw scores, without a final Sigmoid."
            )
        self.pos_weight = pos_weight
        self._set_reduction(reduction)

    def forward(self, prediction, target):
        return _binary_cross_entropy(
            prediction,
            target,
            self.from_logits,
            self.reduction,
            self,  # "where" in error messages: formatted as repr(self) only then
            self.pos_weight,
        )

    def _options(self) -> dict:
        out = {"from_logits": True} if self.from_logits else {}
        if self.pos_weight is not None:
            out["pos_weight"] = np.asarray(self.pos_weight).tolist()
        return {**out, **super()._options()}


def _labels_mean(where, prediction: Tensor, target: np.ndarray):
    """The mean cross-entropy of (N, C) logits against N class labels, or None
    for any other case: the common case of :func:`glassnet.ops.loss.cross_entropy`
    with fewer steps around the same kernel calls (the op's checks and reshapes
    that this case does not need), so a training step spends less time outside
    the arithmetic. The same numbers, bit for bit
    (``tests/test_losses_activations.py`` compares the two)."""
    z = prediction.data
    if z.ndim != 2 or target.shape != z.shape[:1] or z.dtype.kind != "f" or not z.size:
        return None
    labels = _labels(where, target, z.shape[1])
    losses, e, total, flat = kernels.cross_entropy(z, labels)
    n = losses.size

    def backward(g):
        dl = kernels.mean_backward(g, n).reshape(-1, 1)
        return (kernels.cross_entropy_backward(e, total, flat, dl),)

    return make_result(kernels.mean(losses), (prediction,), backward)


class CrossEntropy(Loss):
    """Softmax cross-entropy for choosing one class out of C, from raw scores.

    ``loss = mean over samples of −log softmax(z)[y]``: minus the log of the
    probability the network gave the true class. Give the model's raw
    outputs (logits); the softmax is built in, fused with the log so that it
    is exact and stable, and the gradient is the famous
    ``(softmax(z) − onehot(y)) / N``. See :func:`glassnet.ops.loss.cross_entropy`.

    Shapes
    ------
    prediction : (N, C) logits, or (N, T, C) for a prediction at every step
        of a sequence.
    target : integer class labels of shape (N,) (or (N, T)) in [0, C), or
        one-hot / probability rows of the prediction's own shape.

    Parameters
    ----------
    weight : array_like of shape (C,), optional
        Class weights: a sample of class y counts ``weight[y]`` times, and
        the mean divides by the sum of the weights of the batch's labels (as
        PyTorch). Give a rare class a larger weight, e.g. N / (C · count_y),
        so the network cannot ignore it (``examples/class_weights.py``).
    ignore_index : int, optional
        Labels equal to it add nothing and do not count in the mean (padding).
    label_smoothing : float in [0, 1]
        ε: the target becomes ``(1 − ε) onehot(y) + ε / C``.
    reduction : {"mean", "sum", "none"}

    The result is a scalar: the mean over all N (or N·T) positions, unless
    ``reduction="none"``. See :func:`glassnet.ops.loss.cross_entropy`.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> from glassnet import losses
    >>> ce = losses.CrossEntropy()
    >>> z = gn.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> round(ce(z, np.array([0, 2])).item(), 4)  # (−log 0.7870 + log 3) / 2
    0.6691
    >>> round(ce(z, np.eye(3)[[0, 2]]).item(), 4)  # the same, as one-hot rows
    0.6691
    """

    def __init__(
        self,
        weight=None,
        ignore_index=None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ):
        where = "CrossEntropy"
        self.weight = _class_weights(where, weight)
        self.ignore_index = _ignore_index(where, ignore_index)
        self.label_smoothing = check_number(
            where, "label_smoothing", label_smoothing, 0, 1
        )
        self._set_reduction(reduction)

    def __call__(self, prediction, target) -> Tensor:
        if (
            prediction.__class__ is Tensor
            and target.__class__ is np.ndarray
            and self.reduction == "mean"
            and self.weight is None
            and self.ignore_index is None
            and not self.label_smoothing
        ):
            out = _labels_mean(self, prediction, target)
            if out is not None:
                return out
        # The shapes of the two kinds of target are checked inside the op.
        return _cross_entropy(
            prediction,
            target,
            self.reduction,
            # The op names the loss in its error messages as f"{where}: ...", which
            # formats this object as its repr, and only when it raises: repr on
            # every call cost 3 µs, a tenth of W1's forward pass.
            self,
            self.weight,
            self.ignore_index,
            self.label_smoothing,
        )

    def _options(self) -> dict:
        out = {} if self.weight is None else {"weight": self.weight.tolist()}
        if self.ignore_index is not None:
            out["ignore_index"] = self.ignore_index
        if self.label_smoothing:
            out["label_smoothing"] = self.label_smoothing
        return {**out, **Loss._options(self)}  # not super(): NLL shares this


def _ignore_index(where: str, value):
    if value is None or is_int(value):
        return None if value is None else int(value)
    raise ConfigError(
        f"{where}: ignore_index must be an integer label (e.g. -100) or None; "
        f"got {value!r}."
    )


def _class_weights(where: str, weight):
    """Class weights as a float64 vector, checked (their count is checked per call)."""
    if weight is None:
        return None
    w = np.asarray(weight)
    if w.ndim != 1 or not w.size:
        raise ConfigError(
            f"{where}: weight must be a vector of one weight per class; got shape "
            f"{shape_str(w.shape)}."
        )
    try:
        return _check_weight(where, w, w.size, np.float64)
    except DataError as e:
        raise ConfigError(str(e)) from None


class NLL(Loss):
    """Negative log-likelihood of log-probabilities: ``mean of −log_probs[y]``.

    For a model that ends with :class:`~glassnet.nn.LogSoftmax`: the pair
    gives what :class:`CrossEntropy` gives from the raw scores (which is one
    node, and faster). ``weight``, ``ignore_index`` and ``reduction`` as in
    CrossEntropy. See :func:`glassnet.ops.loss.nll_loss`.

    Shapes: prediction (N, C) (or (N, T, C)) log-probabilities; target
    integer labels (N,) (or (N, T)).

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> from glassnet import losses
    >>> logp = gn.tensor(np.log([[0.5, 0.5], [0.9, 0.1]]))
    >>> round(losses.NLL()(logp, np.array([1, 0])).item(), 4)  # (ln 2 − ln 0.9)/2
    0.3993
    """

    def __init__(self, weight=None, ignore_index=None, reduction: str = "mean"):
        self.weight = _class_weights("NLL", weight)
        self.ignore_index = _ignore_index("NLL", ignore_index)
        self._set_reduction(reduction)

    def __call__(self, prediction, target) -> Tensor:
        return nll_loss(
            prediction,
            target,
            self.reduction,
            weight=self.weight,
            ignore_index=self.ignore_index,
        )

    _options = CrossEntropy._options  # its repr rules (NLL has no smoothing: 0)
    label_smoothing = 0.0


class KLDivergence(Loss):
    """Kullback-Leibler divergence KL(target ‖ q) = Σ t · log(t / q), q = e^prediction.

    How many extra nats it costs to code samples of the target distribution
    t with the model's q: 0 when they agree. PyTorch's ``KLDivLoss``
    conventions: the prediction is *log*-probabilities (e.g. from
    :class:`~glassnet.nn.LogSoftmax`), the target probabilities, or
    log-probabilities with ``log_target=True``. Typical use: distillation,
    a small model matching a big one's softened outputs.

    Parameters
    ----------
    log_target : bool
        The target holds log t.
    reduction : {"batchmean", "sum", "mean", "none"}
        "batchmean" (the default here) is the sum divided by the batch size:
        the KL per sample. "mean" (PyTorch's default) divides by every
        element, which is KL / C.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> from glassnet import losses
    >>> q = gn.tensor(np.log([[0.5, 0.5]]))
    >>> round(losses.KLDivergence()(q, [[0.5, 0.5]]).item(), 4)  # the same: 0
    0.0
    """

    _default = "batchmean"

    def __init__(self, log_target: bool = False, reduction: str = "batchmean"):
        self.log_target = bool(log_target)
        self._set_reduction(reduction, ("batchmean", *_REDUCTIONS))

    def forward(self, prediction, target):
        return kl_div(prediction, target, self.reduction, log_target=self.log_target)

    def _options(self) -> dict:
        out = {"log_target": True} if self.log_target else {}
        return {**out, **super()._options()}


_NAMES = {
    "mse": MSE,
    "mean_squared_error": MSE,
    "sse": SSE,
    "sum_squared_error": SSE,
    "mae": MAE,
    "mean_absolute_error": MAE,
    "huber": Huber,
    "smooth_l1": SmoothL1,
    "bce": BinaryCrossEntropy,
    "binary_cross_entropy": BinaryCrossEntropy,
    "cross_entropy": CrossEntropy,
    "ce": CrossEntropy,
    "nll": NLL,
    "negative_log_likelihood": NLL,
    "kl_div": KLDivergence,
    "kl_divergence": KLDivergence,
}


def get(loss) -> Loss | callable:
    """A loss from its name, or ``loss`` itself if it is already callable.

    Parameters
    ----------
    loss : str, Loss class or instance, or callable
        A name (case does not matter): ``"mse"``, ``"sse"``, ``"mae"``,
        ``"huber"`` and ``"smooth_l1"`` (the same loss for δ = β = 1),
        ``"bce"`` / ``"binary_cross_entropy"``, ``"cross_entropy"`` / ``"ce"``,
        ``"nll"`` / ``"negative_log_likelihood"``,
        ``"kl_div"`` / ``"kl_divergence"``,
        or a long form ``"mean_squared_error"``, ``"sum_squared_error"``,
        ``"mean_absolute_error"``. A Loss class is instantiated with its
        defaults; any other callable ``f(prediction, target) -> scalar Tensor``
        is returned as it is.

    Examples
    --------
    >>> from glassnet import losses
    >>> losses.get("ce")
    CrossEntropy()
    >>> quartic = lambda p, t: ((p - t) ** 4).mean()
    >>> losses.get(quartic) is quartic
    True
    """
    if isinstance(loss, str):
        cls = _NAMES.get(loss.strip().lower())
        if cls is None:
            names = ", ".join(repr(n) for n in _NAMES)
            raise ConfigError(
                f"unknown loss {loss!r}; choose one of {names}, or pass a function "
                "f(prediction, target) returning a scalar Tensor."
            )
        return cls()
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    if callable(loss):
        return loss
    raise ConfigError(
        f"a loss must be a name or a callable f(prediction, target); got "
        f"{type(loss).__name__}."
    )
