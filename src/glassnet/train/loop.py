"""fit, evaluate, predict: the training loop, with its checks and its bookkeeping.

The heart of ``fit`` is these lines, run for every mini-batch of every epoch::

    for xb, yb in batches(X, y, batch_size, shuffle=True, seed=rng):
        prediction = model(xb)              # forward: weighted sums, squashed
        loss = loss_fn(prediction, yb)      # how wrong, as one number
        optimizer.zero_grad()               # forget the last batch's gradients
        loss.backward()                     # backpropagation: d(loss)/d(every weight)
        optimizer.step()                    # gradient descent: move each weight downhill

Everything else here is care: checking the data before the first step,
recording the history, validation, callbacks, and stopping cleanly.
"""

from __future__ import annotations

import math
import warnings
import weakref

import numpy as np

from .. import kernels
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optim as optim_mod
from .._validate import check_finite, check_positive, shape_str
from ..data.transforms import batches, train_test_split
from ..distributed import data_parallel
from ..errors import (
    ConfigError,
    DataError,
    DivergedError,
    GlassnetError,
    UntrainedModelWarning,
)
from ..kernels.variants import dense as dense_variants
from ..nn.activations import Identity, ReLU, Sigmoid, Tanh
from ..nn.dense import Dense
from ..nn.module import FORWARD_HOOKS, Module, Sequential, eval_mode, mark_trained
from ..tensor import Tensor, no_grad
from .callbacks import (
    Callback,
    Progress,
    StopOnDivergence,
    StopOnNaN,
    TrainState,
    check_weights,
)
from .history import History
from .resume import RunState, checkpoint_callback, resume

_OPTIMIZERS = optim_mod.BY_NAME
_METRICS = {"accuracy": "accuracy", "acc": "accuracy", "error_rate": "error_rate"}


def _as_array(name: str, value) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise DataError(
            f"fit: {name} must be numeric; got an array of dtype {arr.dtype}."
        )
    return arr


def _check_data(where: str, X: np.ndarray, y: np.ndarray | None) -> None:
    if X.ndim == 0 or len(X) == 0:
        raise DataError(f"{where}: X holds no samples (shape {shape_str(X.shape)}).")
    if y is not None and len(y) != len(X):
        raise DataError(
            f"{where}: X and y must have one entry per sample; X has {len(X)} samples "
            f"but y has {len(y)}."
        )
    check_finite(where, "X", X)
    if y is not None:
        check_finite(where, "y", y)


def _classification(loss_fn) -> bool:
    return isinstance(
        loss_fn,
        (losses_mod.CrossEntropy, losses_mod.BinaryCrossEntropy, losses_mod.NLL),
    )


def _class_rows(y: np.ndarray) -> bool:
    """True for one-hot or probability rows: floats in [0, 1], last axis C > 1,
    each row summing to 1."""
    if y.dtype.kind != "f" or y.ndim < 2 or y.shape[-1] < 2:
        return False
    return bool(
        ((y >= 0) & (y <= 1)).all()
        and np.allclose(y.sum(axis=-1), 1.0, rtol=0, atol=1e-4)
    )


def _resolve_loss(loss, y: np.ndarray):
    """The loss object; None means cross-entropy for integer labels and for one-hot
    or probability rows, else MSE."""
    if loss is None:
        loss = "cross_entropy" if y.dtype.kind in "iu" or _class_rows(y) else "mse"
    loss_fn = losses_mod.get(loss)
    if getattr(loss_fn, "reduction", None) == "none":
        raise ConfigError(
            f"training needs the loss as one number; {loss_fn!r} gives one per "
            "sample. Use reduction='mean' (or 'sum')."
        )
    return loss_fn


def _float_chose_mse(where: str, loss, y: np.ndarray, error: Exception):
    """``error`` again, saying that y's float dtype chose MSE, when it did."""
    if loss is not None or y.dtype.kind != "f" or _class_rows(y):
        return error
    note = (
        f" ({where} used mean squared error because y has float dtype {y.dtype} "
        "and is not one-hot rows; for class labels pass integers, "
        "y.astype(int), or loss='cross_entropy'.)"
    )
    return type(error)(str(error) + note)


def _resolve_optimizer(optimizer, model, lr):
    if isinstance(optimizer, str):
        name = _OPTIMIZERS.get(optimizer.lower())
        if name is None:
            known = ", ".join(_OPTIMIZERS)
            raise ConfigError(
                f"fit: unknown optimizer {optimizer!r}; choose one of: {known}, "
                "or pass an optimizer object."
            )
        cls = getattr(optim_mod, name)
        return cls(model) if lr is None else cls(model, lr=lr)
    if lr is not None:
        raise ConfigError(
            "fit: lr= applies only when optimizer is given by name; set the "
            "learning rate on the optimizer object instead."
        )
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "zero_grad"):
        raise ConfigError(
            f"fit: optimizer must be a name or an optimizer object; got "
            f"{type(optimizer).__name__}."
        )
    return optimizer


def _resolve_metrics(metrics, loss_fn) -> dict:
    if metrics is None:
        metrics = ["accuracy"] if _classification(loss_fn) else []
    out = {}
    for m in metrics:
        if callable(m):
            out[getattr(m, "__name__", "metric")] = m
            continue
        name = _METRICS.get(m)
        if name is None:
            raise ConfigError(
                f"unknown metric {m!r}; choose from {', '.join(_METRICS)} "
                "or pass a function metric(y_true, y_pred)."
            )
        out[name] = getattr(metrics_mod, name)
    ignore = getattr(loss_fn, "ignore_index", None)
    if ignore is not None:  # the samples the loss leaves out, the metrics do too
        out = {name: _without(fn, ignore) for name, fn in out.items()}
    return out


def _without(metric, ignore: int):
    """``metric`` over the positions whose label is not ``ignore``."""

    def kept(y_true, y_pred):
        y_true = np.asarray(y_true)
        keep = y_true != ignore
        return metric(y_true[keep], np.asarray(y_pred)[keep])

    kept.__name__ = getattr(metric, "__name__", "metric")
    return kept


def _preflight(model, loss_fn, X, y, loss, batch_size: int) -> float:
    """Before training: run the starting loss's samples forward, so that shape
    mistakes surface first, check the labels against the model's outputs, and
    return that starting loss (StopOnDivergence's reference).

    The starting loss is the mean loss of batches of ``batch_size`` samples
    spread over X, max(256, batch_size) samples in all (or all of X). Whole
    batches, so a summed loss (SSE) has the scale of a training batch's. In
    eval mode, so that measuring it moves no BatchNorm statistics and draws no
    Dropout masks, and each sample's output depends on that sample alone: one
    forward pass over all of them, then the loss batch by batch, or in one call
    for a glassnet loss that averages (the mean of equal batches' means). One
    forward pass serves both jobs: a separate two-sample check cost W1's fit of
    16 batches another 6% of each call."""
    n = min(len(X), max(256, batch_size))
    if n > batch_size:
        n -= n % batch_size  # whole batches only
    pick = np.linspace(0, len(X) - 1, n).astype(np.int64)  # distinct: spacing >= 1
    with eval_mode(model), no_grad():
        out, target = model(X[pick]), y[pick]
        _check_labels(loss_fn, y, out)
        try:
            if isinstance(loss_fn, losses_mod.Loss) and loss_fn.reduction == "mean":
                parts = [loss_fn(out, target)]
            else:
                parts = [
                    loss_fn(out[i : i + batch_size], target[i : i + batch_size])
                    for i in range(0, n, batch_size)
                ]
        except GlassnetError as e:
            raise _float_chose_mse("fit", loss, y, e) from None
    return float(np.mean([v.data if isinstance(v, Tensor) else v for v in parts]))


def _check_labels(loss_fn, y, out) -> None:
    """For cross-entropy on class labels: whole numbers within the outputs' classes."""
    if isinstance(loss_fn, losses_mod.CrossEntropy) and y.ndim == out.ndim - 1:
        n_classes = out.shape[-1]
        if y.dtype.kind == "f":
            if not np.all(y == np.round(y)):
                raise DataError(
                    "fit: cross-entropy needs whole-number class labels; y holds "
                    "fractions. Pass integer labels or one-hot rows."
                )
        outside = (y < 0) | (y >= n_classes)
        if loss_fn.ignore_index is not None:
            outside &= y != loss_fn.ignore_index
        bad = np.flatnonzero(outside)
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"fit: the model has {n_classes} outputs, so labels must be in "
                f"[0, {n_classes}); label {y.reshape(len(y), -1)[i][0]} at sample {i} is "
                f"not ({bad.size} such labels). Check the last Dense layer's size."
            )


def _split_validation(X, y, validation_data, validation_split, seed):
    if validation_data is not None and validation_split is not None:
        raise ConfigError("fit: give validation_data or validation_split, not both.")
    if validation_split is not None:
        if not 0 < validation_split < 1:
            raise ConfigError(
                f"fit: validation_split must be between 0 and 1; got "
                f"{validation_split!r}."
            )
        X, Xv, y, yv = train_test_split(
            X, y, test_size=validation_split, seed=seed if seed is not None else 0
        )
        return X, y, (Xv, yv)
    if validation_data is not None:
        try:
            Xv, yv = validation_data
        except (TypeError, ValueError):
            raise ConfigError(
                "fit: validation_data must be a pair (X_val, y_val)."
            ) from None
        Xv, yv = _as_array("X_val", Xv), _as_array("y_val", yv)
        _check_data("fit (validation_data)", Xv, yv)
        return X, y, (Xv, yv)
    return X, y, None


def fit(
    model,
    X,
    y,
    *,
    loss=None,
    optimizer="adam",
    lr=None,
    epochs: int = 10,
    batch_size: int = 32,
    shuffle: bool = True,
    validation_data=None,
    validation_split=None,
    metrics=None,
    callbacks=(),
    lr_schedule=None,
    clip_norm=None,
    seed=None,
    verbose: int = 1,
    checkpoint=None,
    checkpoint_every=None,
    resume_from=None,
    capture="auto",
    distributed=None,
    log_dir=None,
    dashboard: bool = False,
) -> History:
    """Train ``model`` on (X, y) by mini-batch gradient descent and return its History.

    Parameters
    ----------
    model : Module
    X : array_like, shape (n, ...)
        Inputs, one sample per row; NaN or infinity is refused.
    y : array_like, shape (n, ...)
        Targets: integer class labels, one-hot rows, or numbers.
    loss : str or callable, optional
        A name from :func:`glassnet.losses.get`, a loss object, or any function
        ``(prediction, target) -> scalar Tensor``. Default: cross-entropy for
        integer labels and for one-hot or probability rows (floats in [0, 1]
        whose rows sum to 1), mean squared error otherwise; when float targets
        chose MSE and do not fit it, the error says so.
    optimizer : str or Optimizer
        ``'sgd'``, ``'adam'`` (default), ``'adamw'``, ``'rmsprop'``,
        ``'adagrad'``, ``'nadam'`` or ``'radam'`` with ``lr``, or an
        optimizer object from :mod:`glassnet.optim`.
    epochs, batch_size : int
    shuffle : bool
        Visit the training samples in a new random order each epoch.
    validation_data : (X_val, y_val), optional
    validation_split : float, optional
        Hold out this share of (X, y), chosen at random with ``seed`` and
        stratified by class for integer labels, for validation.
    metrics : list, optional
        Names (``'accuracy'``, ``'error_rate'``) or functions
        ``metric(y_true, y_pred)``; default accuracy for classification losses.
    callbacks : list of Callback
        E.g. :class:`EarlyStopping`. A progress display is always added, and a
        :class:`StopOnDivergence` unless the list holds one (tuned) or a
        :class:`StopOnNaN` (the loss-size rule switched off).
    lr_schedule : schedule, optional
        An object from :mod:`glassnet.optim` schedules, made on this
        optimizer; its ``step()`` runs after every epoch, or after every
        batch when it was made with ``every="batch"``.
        :class:`~glassnet.optim.ReduceLROnPlateau` is given its monitored
        figure (e.g. ``val_loss``) after every epoch.
    clip_norm : float, optional
        Rescale the gradients when their global norm exceeds this.
    seed : int, optional
        Makes shuffling and the validation split reproducible. (The initial
        weights come from the model's own seed.)
    verbose : int
        0 silent, 1 progress bar (in a terminal or notebook) or a line per
        epoch (in a log), 2 a line per epoch.
    checkpoint : path or Checkpoint, optional
        Save the run there (atomically) every ``checkpoint_every`` epochs
        (default 1) and at the end; a :class:`~glassnet.train.Checkpoint`
        object can also save every N steps.
    resume_from : path, optional
        Continue the run saved in this checkpoint: weights, optimizer state,
        schedule, History, shuffling and the position within the epoch are
        restored, so the result is bit-for-bit that of an uninterrupted run
        (same data, settings and machine). ``epochs`` counts from the start
        of the original run.
    capture : 'auto', True or False
        How each batch's step runs. ``False``: the eager loop (forward, loss,
        zero_grad, backward, step), building the graph every batch.
        ``'auto'`` (default): where the model allows it (below), the first
        step of each batch shape is that eager step, recorded, and the later
        ones replay its kernel calls in NumPy on fixed buffers
        (:func:`glassnet.train.capture_step` with ``native=False``): bit for
        bit the eager loop's numbers, about twice as fast for small models;
        any other model runs the eager loop. ``True``: the recorded step, for
        float32 models as one compiled call when glassnet's kernels build
        (3-8x faster than eager; equal to float32 rounding), and a model it
        cannot capture is refused with the reason. A captured step needs a
        Sequential model of Dense and Sigmoid/Tanh/ReLU/Identity,
        cross-entropy on integer class labels, no ``clip_norm``, no
        ``distributed``. Forward hooks (``trace``, a run log's activation
        statistics) do not see replayed steps, so with ``'auto'`` a batch
        that a hook watches runs eagerly. Calling ``fit`` again with
        the same model, loss object and optimizer object (a loop of short
        fits) keeps the recording, so only the first call pays for it.
    distributed : 'mpi' or an mpi4py communicator, optional
        Data-parallel training across the ranks of ``mpiexec -n K``: each rank
        takes its share of every batch, the gradients are averaged with one
        Allreduce per step, rank 0 alone logs and checkpoints. See
        :mod:`glassnet.distributed` (``pip install 'glassnet[mpi]'``).
    log_dir : path, optional
        Write the run to a SQLite store in this folder as it trains
        (:class:`~glassnet.train.RunLog`), for ``glassnet dashboard``.
    dashboard : bool
        Also serve the dashboard on 127.0.0.1 while training (``log_dir``
        defaults to ``runs``), print its address, and keep serving after
        training until Ctrl-C (in a notebook: until the kernel stops).

    Returns
    -------
    History
        Per-epoch ``loss`` and metrics, and ``val_`` figures with validation.

    Raises
    ------
    DataError, ShapeError, ConfigError
        Before training starts, for unusable data or settings.
    DivergedError
        When the loss becomes NaN or infinite, diverges (see
        :class:`StopOnDivergence`), or a step leaves a weight NaN or infinite;
        the model keeps finite weights (the last good ones are restored), no
        checkpoint holding bad weights is written, and the exception's
        ``history`` holds the epochs that finished.
    """
    X, y = _as_array("X", X), _as_array("y", y)
    _check_data("fit", X, y)
    check_positive("fit", "epochs", epochs, integer=True)
    check_positive("fit", "batch_size", batch_size, integer=True)
    if clip_norm is not None:
        check_positive("fit", "clip_norm", clip_norm)
    loss_fn = _resolve_loss(loss, y)
    opt = _resolve_optimizer(optimizer, model, lr)
    if lr_schedule is not None and getattr(lr_schedule, "optimizer", opt) is not opt:
        raise ConfigError(
            "fit: lr_schedule was made on another optimizer than the one fit "
            "trains with; make it on that one (schedule = StepLR(opt, ...), "
            "fit(..., optimizer=opt, lr_schedule=schedule))."
        )
    per_batch = getattr(lr_schedule, "every", "epoch") == "batch"
    metric_fns = _resolve_metrics(metrics, loss_fn)
    X, y, validation = _split_validation(X, y, validation_data, validation_split, seed)
    start_loss = _preflight(model, loss_fn, X, y, loss, int(batch_size))
    if (
        isinstance(loss_fn, losses_mod.CrossEntropy)
        and y.dtype.kind == "f"
        and y.ndim == 1
    ):
        y = y.astype(np.int64)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            hint = (
                " Pass a schedule as lr_schedule=."
                if isinstance(cb, optim_mod.LRSchedule)
                else ""
            )
            raise ConfigError(
                f"fit: callbacks must be Callback objects; got "
                f"{type(cb).__name__}.{hint}"
            )

    rng = np.random.default_rng(seed)
    history = History()
    n_batches = math.ceil(len(X) / batch_size)
    state = TrainState(
        model, opt, history, int(epochs), n_batches, start_loss=start_loss
    )
    # What a checkpoint saves beyond the TrainState, and what a resume must match.
    state.run = RunState(
        rng,
        lr_schedule,
        {
            "samples": len(X),
            "batch_size": int(batch_size),
            "shuffle": bool(shuffle),
            "metrics": list(metric_fns),
        },
    )
    if capture not in ("auto", True, False):
        raise ConfigError(
            f"fit: capture must be 'auto', True or False; got {capture!r}."
        )
    parallel = data_parallel(distributed, capture is True)
    if parallel is not None and parallel.rank:  # rank 0 alone logs and saves
        verbose, checkpoint, checkpoint_every = 0, None, None
    saver = checkpoint_callback(checkpoint, checkpoint_every)
    guard = next((cb for cb in callbacks if isinstance(cb, StopOnNaN)), None)
    guard = guard or StopOnDivergence()
    others = [cb for cb in callbacks if cb is not guard]
    hooks = [guard, *others, *([saver] if saver else []), Progress(verbose)]
    state.validation = validation  # for callbacks that look at it (RunLog)
    if (log_dir is not None or dashboard) and not (parallel and parallel.rank):
        from .runlog import for_fit  # the run store, and the dashboard serving it

        hooks.append(for_fit(log_dir, dashboard))
    start = resume(resume_from, state) if resume_from is not None else None
    params = model.parameters()
    step = None
    if capture is True or capture == "auto" and parallel is None:
        step = _captured_step(model, loss_fn, opt, y, clip_norm, capture is True)
    if parallel is not None:  # the same step, its batch shared out, gradients averaged
        step = parallel.step(model, loss_fn, opt, metric_fns, clip_norm, rng)
    model.train()
    mark_trained(model.parameters())
    for cb in hooks:
        cb.on_train_begin(state)
    try:
        for epoch in range(start.epoch if start else 0, int(epochs)):
            state.epoch, state.logs = epoch, {}
            for cb in hooks:
                cb.on_epoch_begin(state)
            skip = 0
            state.run.sums, state.run.seen = (
                dict.fromkeys(["loss", *metric_fns], 0.0),
                0,
            )
            if (
                start is not None and start.batch
            ):  # resuming in the middle of this epoch
                skip, state.run.sums, state.run.seen = (
                    start.batch,
                    start.sums,
                    start.seen,
                )
            start = None
            sums = state.run.sums
            for state.batch, (xb, yb) in enumerate(
                batches(X, y, batch_size, shuffle=shuffle, seed=rng)
            ):
                if state.batch < skip:
                    continue
                if step is not None and (capture is True or not FORWARD_HOOKS):
                    # the same five lines, recorded and replayed (with 'auto', a
                    # batch that a hook watches runs them eagerly, the same numbers)
                    value = step(xb, yb)
                    output = step.output
                else:
                    prediction = model(xb)
                    loss_value = loss_fn(prediction, yb)
                    opt.zero_grad()
                    loss_value.backward()
                    if clip_norm is not None:
                        optim_mod.clip_grad_norm(params, clip_norm)
                    opt.step()
                    value, output = float(loss_value.data), prediction.data
                if per_batch:
                    lr_schedule.step()
                n = len(xb)
                sums["loss"] += value * n
                state.run.seen += n
                scores = getattr(step, "scores", None)  # distributed: whole batch's
                for name, fn in metric_fns.items():
                    score = fn(yb, output) if scores is None else scores[name]
                    sums[name] += score * n
                for cb in hooks:
                    cb.on_batch_end(state, value)
            state.logs = {k: v / state.run.seen for k, v in sums.items()}
            if validation is not None:
                scores = evaluate(
                    model,
                    *validation,
                    loss=loss_fn,
                    metrics=list(metric_fns.values()),
                    batch_size=max(batch_size, 256),
                )
                model.train()
                state.logs.update({f"val_{k}": v for k, v in scores.items()})
            history.record(epoch, state.logs)
            if lr_schedule is not None:
                if hasattr(lr_schedule, "epoch_end"):  # ReduceLROnPlateau reads logs
                    lr_schedule.epoch_end(state.logs)
                else:
                    lr_schedule.step()
            for cb in hooks:
                cb.on_epoch_end(state)
            if state.stop:
                break
        check_weights(state, "fit: after training")
    except DivergedError as e:
        state.failed = True
        kept = guard.restore(state)
        e.history = history
        if kept:
            e.args = (f"{str(e).rstrip('.')}; {kept}.",)
        raise
    except KeyboardInterrupt:
        history.interrupted = True
        if guard.restore(state):  # the last step overflowed: no checkpoint of that
            state.failed = True
        if verbose:
            print(
                f"\nTraining interrupted during epoch {state.epoch + 1}; the model keeps "
                "the weights of the last completed step."
            )
    except Exception:
        state.failed = True  # nothing more is saved
        raise
    finally:
        for cb in hooks:
            cb.on_train_end(state)
    return history


def _captured_step(model, loss_fn, opt, y, clip_norm, asked: bool):
    """fit(capture=True): the captured step, or a ConfigError saying why not.
    fit(capture='auto') (``asked`` False): the NumPy replay, or None where the
    model cannot be captured."""
    if not asked:
        labels = y.ndim == 1 and y.dtype.kind in "iub"
        if clip_norm is not None or not labels:
            return None
        try:
            return _kept_step(model, loss_fn, opt, False)
        except ConfigError:
            return None
    if clip_norm is not None:
        raise ConfigError(
            "fit: capture=True does not clip gradients; drop clip_norm or capture."
        )
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise ConfigError(
            "fit: capture=True trains on integer class labels, one per sample; got "
            f"targets of shape {shape_str(y.shape)} and dtype {y.dtype}."
        )
    return _kept_step(model, loss_fn, opt, None)


def _kept_step(model, loss_fn, opt, native):
    """capture_step(model, loss_fn, opt, native); a fit called again with the
    same model, loss and optimizer (a loop of fit(epochs=1) calls) keeps the
    step it recorded last time, which records again by itself if a parameter's
    array was replaced meanwhile."""
    from .capture import capture_step

    layers = tuple(map(id, getattr(model, "layers", (model,))))
    kept = getattr(opt, "_fit_capture", None)
    if kept is not None and kept[:4] == (model, loss_fn, layers, native):
        return kept[4]
    step = capture_step(model, loss_fn, opt, native=native)
    opt._fit_capture = (model, loss_fn, layers, native, step)
    return step


def _warn_if_untrained(where: str, model) -> None:
    """UntrainedModelWarning, once per model, for a model with parameters none of
    which was trained, loaded or marked (Module.mark_trained)."""
    if not isinstance(model, Module) or getattr(model, "_warned_untrained", False):
        return
    if not model.is_trained() and model.parameters():  # a trained model: one walk
        model._warned_untrained = True
        warnings.warn(
            UntrainedModelWarning(
                f"{where}: this {type(model).__name__} was never trained or loaded, so "
                "its answers come from its random initial weights. Train it (fit), load "
                "one (glassnet.io.read), or, after setting its weights by hand, call "
                "model.mark_trained()."
            ),
            stacklevel=3,
        )


_OUTPUT_FIX = "no class can be read from them: the weights or the inputs are too large."


def check_finite_rows(where: str, name: str, arr: np.ndarray, fix: str) -> None:
    """DataError naming the rows of ``arr`` that hold NaN or infinity, if any."""
    if arr.dtype.kind != "f":
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum()):  # one pass, no temporary: NaN and ±inf reach
            return  # the sum (a finite sum's overflow only sends us on to look)
    bad = np.flatnonzero(~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1))
    if bad.size:
        rows = ", ".join(str(int(i)) for i in bad[:10])
        rows += ", ..." if bad.size > 10 else ""
        raise DataError(
            f"{where}: {bad.size} of {len(arr)} rows of {name} hold NaN or infinity "
            f"(rows {rows}); {fix}"
        )


def predict(model, X, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for every row of X, as a NumPy array (no gradients kept).

    Rows of X holding NaN or infinity are refused with a DataError naming them.
    A model that was never trained, loaded or marked as set by hand
    (:meth:`~glassnet.nn.Module.mark_trained`) gives an
    :class:`~glassnet.errors.UntrainedModelWarning`, once per model.
    """
    X = _as_array("X", X)
    kept = _kept_stack(model, X)
    if kept is None or not kept.trained:
        _warn_if_untrained("predict", model)
    if X.ndim == 0 or len(X) == 0:
        raise DataError(f"predict: X holds no samples (shape {shape_str(X.shape)}).")
    check_positive("predict", "batch_size", batch_size, integer=True)
    fix = "clean or impute those inputs first."
    layers = kept.stack.layers if kept is not None else _fused_layers(model, X)
    if layers is not None:  # Dense layers: the stack in one kernel, which checks X
        Xc = X.astype(layers[0][0].dtype, copy=False)
        outs, finite = [], True
        for i in range(0, len(X), batch_size):
            part = Xc[i : i + batch_size]
            if kept is not None and kept.stack.fits(part):  # the compiled call, kept
                h, ok = kept.stack(part)
            else:
                h, ok = kernels.linear_stack(part, layers)
            outs.append(h)
            finite &= ok
        if not finite:  # names the rows (X, not Xc: a cast to inf is no input error)
            check_finite_rows("predict", "X", X, fix)
        return outs[0] if len(outs) == 1 else np.concatenate(outs)
    check_finite_rows("predict", "X", X, fix)
    with eval_mode(model), no_grad():
        outs = [model(X[i : i + batch_size]).data for i in range(0, len(X), batch_size)]
    return outs[0] if len(outs) == 1 else np.concatenate(outs)


_FUSED = {ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh"}


class _Kept:
    """A model's prepared compiled stack (kernels.variants.dense.Stack) for
    ``predict``, with what it was made from: its layers, each Dense layer's
    parameter Tensors and their arrays, whether the model was trained then."""

    def __init__(self, model, stack):
        self.stack, self.layers = stack, list(model.layers)
        self.dense = [(d, d.weight, d.bias) for d in self.layers if type(d) is Dense]
        self.trained = model.is_trained()

    def holds(self, model) -> bool:
        """True while ``model`` is made of the same objects as when this was kept
        (a replaced layer, parameter or array, or an added layer, is noticed)."""
        if len(model.layers) != len(self.layers) or any(
            a is not b for a, b in zip(model.layers, self.layers)
        ):
            return False
        for (d, w, b), (wa, ba, _) in zip(self.dense, self.stack.layers):
            if d.weight is not w or w.data is not wa or d.bias is not b:
                return False
            if b is not None and b.data is not ba:
                return False
        return True


_KEPT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _kept_stack(model, X) -> _Kept | None:
    """What ``predict`` keeps for a plain Dense stack (2-D X, no hooks) between
    calls: its layers and their compiled call, used where it applies
    (``Stack.fits``). At W2's batch of 1024 the preparation and the per-call
    checks were 5% of the call (docs/speed.md). Made again when the model
    changes (:meth:`_Kept.holds`)."""
    if type(model) is not Sequential or FORWARD_HOOKS or X.ndim != 2:
        return None
    kept = _KEPT.get(model)
    if kept is not None and kept.holds(model):  # an X of another width: the layers
        return kept if X.shape[1] == kept.stack.sizes[0] else None  # give the error
    layers = _fused_layers(model, X)
    if layers is None:
        return None
    # kept even where the compiled call does not apply (sigmoid, float16):
    # predict then takes the layers from it and calls the kernel as before
    kept = _KEPT[model] = _Kept(model, dense_variants.Stack(layers, layers[0][0].dtype))
    return kept


def _fused_layers(model, X) -> list | None:
    """[(W, b, activation)] when ``model`` is a plain stack of Dense layers, each
    followed by at most one activation (or Identity), and X is a 2-D batch for it;
    else None (the layers run one by one). With forward hooks installed (glassnet's
    inspection tools) the layers always run one by one, so the hooks see them."""
    if type(model) is not Sequential or FORWARD_HOOKS or X.ndim != 2:
        return None
    layers = []
    for layer in model.layers:
        if type(layer) is Dense:
            b = None if layer.bias is None else layer.bias.data
            layers.append([layer.weight.data, b, None])
        elif type(layer) in _FUSED and layers and layers[-1][2] is None:
            layers[-1][2] = _FUSED[type(layer)]
        elif type(layer) is not Identity:
            return None
    widths = [X.shape[1]] + [w.shape[1] for w, _, _ in layers]
    if not layers or any(w.shape[0] != n for (w, _, _), n in zip(layers, widths)):
        return None  # the layers' own checks give the error
    return layers


def predict_classes(model, X, batch_size: int = 1024) -> np.ndarray:
    """The predicted class of each row: the largest output, or output > 0.5 for one
    output.

    Raises DataError, naming the rows, when an input row or the outputs of a row
    hold NaN or infinity: no class is made up for them.
    """
    outputs = predict(model, X, batch_size)
    check_finite_rows("predict_classes", "the model's outputs", outputs, _OUTPUT_FIX)
    return metrics_mod.to_labels(outputs)


def evaluate(model, X, y, *, loss=None, metrics=None, batch_size: int = 1024) -> dict:
    """Loss and metrics of ``model`` on (X, y), e.g. ``{'loss': 0.08, 'accuracy': 0.97}``."""
    X, y = _as_array("X", X), _as_array("y", y)
    _warn_if_untrained("evaluate", model)
    _check_data("evaluate", X, y)
    loss_fn = _resolve_loss(loss, y)
    metric_fns = _resolve_metrics(metrics, loss_fn)
    scores = predict(model, X, batch_size)
    with no_grad():
        try:
            value = loss_fn(Tensor(scores), y)
        except GlassnetError as e:
            raise _float_chose_mse("evaluate", loss, y, e) from None
    result = {"loss": float(value.data)}
    for name, fn in metric_fns.items():
        result[name] = float(fn(y, scores))
    return result
