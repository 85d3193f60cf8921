"""scikit-learn estimators: glassnet networks inside pipelines and grid searches.

:class:`GlassnetClassifier` and :class:`GlassnetRegressor` follow
scikit-learn's estimator contract, so a glassnet network can stand where any
scikit-learn model stands::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.model_selection import cross_val_score
    from glassnet.sklearn import GlassnetClassifier

    clf = make_pipeline(StandardScaler(), GlassnetClassifier(epochs=30))
    cross_val_score(clf, X, y, cv=5)

Training is :func:`glassnet.fit` (the same loop, callbacks and checks);
``fit`` only turns scikit-learn's conventions (any labels, ``random_state``,
``warm_start``, ``partial_fit``) into its arguments. A fitted estimator
pickles (for joblib) as a glassnet checkpoint, safetensors bytes with a JSON
architecture, written and checked by :mod:`glassnet.io`; the network itself
is never pickled.

Needs the ``sklearn`` extra: ``pip install 'glassnet[sklearn]'``.
"""

from __future__ import annotations

import itertools
import os
import tempfile

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "glassnet.sklearn needs scikit-learn >= 1.6 (for its validate_data); "
        "install it with: pip install 'glassnet[sklearn]'"
    ) from e

from . import nn
from .errors import ConfigError
from .ops.reduce import softmax_array
from .train import EarlyStopping, History, fit, predict
from .train.loop import _resolve_optimizer

__all__ = ["GlassnetClassifier", "GlassnetRegressor"]

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


class _GlassnetEstimator(BaseEstimator):
    """What the classifier and the regressor share: building, fitting, pickling."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        loss=None,
        optimizer="adam",
        lr=0.001,
        epochs=100,
        batch_size=32,
        validation_fraction=0.1,
        early_stopping=False,
        patience=10,
        random_state=None,
        verbose=0,
        callbacks=None,
        module=None,
        input_shape=None,
        warm_start=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.module = module
        self.input_shape = input_shape
        self.warm_start = warm_start

    # --- building ----------------------------------------------------------------------
    def _where(self) -> str:
        return type(self).__name__

    def _check_params(self) -> None:
        where = self._where()
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(
                f"{where}: activation must be one of {sorted(_ACTIVATIONS)}; got "
                f"{self.activation!r}."
            )
        if not isinstance(self.optimizer, str):
            raise ConfigError(
                f"{where}: optimizer must be a name ('sgd', 'adam', 'adamw'), so that "
                f"clone() can make a fresh one; got {type(self.optimizer).__name__}."
            )
        if self.module is not None and not callable(self.module):
            raise ConfigError(
                f"{where}: module must be a function (n_features, n_outputs) -> "
                f"Module; got {type(self.module).__name__}."
            )
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (int, np.integer)):
            sizes = (sizes,)
        if not all(isinstance(s, (int, np.integer)) and s > 0 for s in sizes):
            raise ConfigError(
                f"{where}: hidden_layer_sizes must be positive whole numbers, e.g. "
                f"(100,) or (64, 32); got {self.hidden_layer_sizes!r}."
            )

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _build(self, n_features: int, n_outputs: int, seed: int):
        """A new network: ``module(n_features, n_outputs)``, or the default MLP."""
        if self.module is not None:
            model = self.module(n_features, n_outputs)
            if not isinstance(model, nn.Module):
                raise ConfigError(
                    f"{self._where()}: module({n_features}, {n_outputs}) must return a "
                    f"glassnet Module; it returned {type(model).__name__}."
                )
            if self.random_state is not None:
                model.reset_parameters(seed)
            return model
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, (int, np.integer)) else tuple(sizes)
        layers = [nn.Flatten()] if self.input_shape is not None else []
        widths = [n_features, *(int(s) for s in sizes)]
        for n_in, n_out in itertools.pairwise(widths):
            layers += [nn.Dense(n_in, n_out), _ACTIVATIONS[self.activation]()]
        layers.append(nn.Dense(widths[-1], n_outputs))
        return nn.Sequential(*layers, seed=seed)

    def _shaped(self, X: np.ndarray) -> np.ndarray:
        """Rows as the network takes them: reshaped to ``input_shape`` when given."""
        if self.input_shape is None:
            return X
        shape = tuple(int(s) for s in self.input_shape)
        if int(np.prod(shape)) != X.shape[1]:
            raise ValueError(
                f"{self._where()}: input_shape {shape} holds {int(np.prod(shape))} "
                f"values, but X has {X.shape[1]} features per row."
            )
        return X.reshape((len(X), *shape))

    # --- training ----------------------------------------------------------------------
    def _train(self, X, y, n_outputs: int, *, fresh: bool, partial: bool) -> None:
        """Build the network (when ``fresh``) and train it with :func:`glassnet.fit`:
        ``epochs`` epochs, or one for ``partial`` (which keeps the optimizer's state).
        """
        self._check_params()
        seed = self._seed()
        if fresh:
            self.model_ = self._build(X.shape[1], n_outputs, seed)
            self.history_ = History()
            self.n_iter_ = 0
        if fresh or not partial or getattr(self, "_optimizer", None) is None:
            self._optimizer = _resolve_optimizer(self.optimizer, self.model_, self.lr)
        epochs = 1 if partial else self.epochs
        callbacks = list(self.callbacks or ())
        split = None
        if self.early_stopping:
            split = self.validation_fraction
            callbacks.append(EarlyStopping("val_loss", patience=self.patience))
        history = fit(
            self.model_,
            self._shaped(X),
            y,
            loss=self.loss,
            optimizer=self._optimizer,
            epochs=int(epochs),
            batch_size=min(int(self.batch_size), len(X)),
            validation_split=split,
            callbacks=callbacks,
            seed=seed + self.n_iter_,
            verbose=self.verbose,
        )
        for epoch in range(len(history)):
            self.history_.record(
                self.n_iter_ + epoch, {k: v[epoch] for k, v in history.history.items()}
            )
        self.n_iter_ += len(history)

    def _features(self):
        """What ``fit`` learned the columns as: their number and their names (a
        DataFrame's string column names, or None); None before any fit."""
        if not hasattr(self, "n_features_in_"):
            return None
        names = getattr(self, "feature_names_in_", None)
        return self.n_features_in_, None if names is None else tuple(names)

    def _can_continue(self, features_before, same_targets: bool) -> bool:
        """warm_start: may fit continue the current network on this data (the same
        columns, by number and by name, and the same classes or target columns)?"""
        return (
            self.warm_start
            and hasattr(self, "model_")
            and same_targets
            and features_before == self._features()
        )

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return predict(self.model_, self._shaped(X))

    # --- pickling: the network as glassnet checkpoint bytes ----------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())  # (object's may be __dict__ itself)
        model = state.pop("model_", None)
        optimizer = state.pop("_optimizer", None)
        history = state.pop("history_", None)
        if model is not None:
            from .io import save_checkpoint

            training = {"history": history.to_dict() if history is not None else None}
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "model.glassnet")
                save_checkpoint(path, model, optimizer, training)
                with open(path, "rb") as f:
                    state["_model_file"] = f.read()
        return state

    def __setstate__(self, state):
        data = state.pop("_model_file", None)
        super().__setstate__(state)
        if data is None:
            return
        from .io import load_checkpoint

        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.glassnet")
            with open(path, "wb") as f:
                f.write(data)
            saved = load_checkpoint(path)
        self.model_ = saved.model
        self._optimizer = None
        if saved.optimizer is not None:
            self._optimizer = _resolve_optimizer(self.optimizer, self.model_, None)
            self._optimizer.load_state_dict(saved.optimizer)
        self.history_ = History()
        record = saved.training.get("history")
        if record:
            self.history_.epochs = list(record.pop("epochs"))
            self.history_.history = {k: list(v) for k, v in record.items()}


_PARAMS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Widths of the hidden Dense layers of the default network (a
        multi-layer perceptron); ignored when ``module`` is given.
    activation : {'relu', 'tanh', 'sigmoid', 'identity'}, default 'relu'
        The squashing function after each hidden layer.
    loss : str or callable, optional
        A name from :func:`glassnet.losses.get` or a function
        ``(prediction, target) -> scalar Tensor``. Default: %(loss)s.
    optimizer : {'adam', 'sgd', 'adamw', 'rmsprop', 'adagrad', 'nadam', 'radam'}
        The optimizer, by name (default 'adam').
    lr : float, default 0.001
        The learning rate.
    epochs : int, default 100
        Passes over the training data (fewer with ``early_stopping``).
    batch_size : int, default 32
        Samples per gradient step (at most the number of samples).
    validation_fraction : float, default 0.1
        With ``early_stopping``: the share of the training data held out to
        watch the validation loss.
    early_stopping : bool, default False
        Stop when the validation loss has not improved for ``patience``
        epochs, and keep the best epoch's weights.
    patience : int, default 10
    random_state : int, RandomState or None
        Seeds the initial weights and the order of the samples: the same int
        gives the same model. For a ``module`` network, the weights are drawn
        again (``reset_parameters``) only when ``random_state`` is given.
    verbose : int, default 0
        0 silent, 1 a progress bar, 2 a line per epoch.
    callbacks : list of glassnet Callback, optional
        Passed to :func:`glassnet.fit` (they are used as given, not copied).
    module : callable, optional
        ``module(n_features, n_outputs) -> Module``: any glassnet network,
        e.g. a CNN. It receives rows reshaped to ``input_shape``.
    input_shape : tuple of int, optional
        The shape of one sample, e.g. ``(1, 8, 8)``: flat rows (what
        scikit-learn passes) are reshaped to it before they reach the network.
    warm_start : bool, default False
        When True, ``fit`` continues training the current network (with a
        fresh optimizer) instead of starting a new one.

    Attributes
    ----------
    model_ : glassnet.nn.Module
        The trained network.
    history_ : glassnet.train.History
        Loss (and metrics) per epoch, over all calls that trained this network.
    n_iter_ : int
        Epochs trained so far.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names (a pandas DataFrame).
"""


class GlassnetClassifier(ClassifierMixin, _GlassnetEstimator):
    __doc__ = (
        """A glassnet network as a scikit-learn classifier.

    The network gives one score per class; ``predict_proba`` is their
    softmax, ``predict`` the class with the largest score. Labels can be
    anything scikit-learn accepts (ints, strings ...); ``classes_`` lists
    them in sorted order.
    """
        + _PARAMS_DOC % {"loss": "cross-entropy on the class scores"}
        + """
    classes_ : ndarray, shape (n_classes,)

    Examples
    --------
    >>> from glassnet.datasets import digits
    >>> from glassnet.sklearn import GlassnetClassifier
    >>> d = digits(flatten=True)
    >>> clf = GlassnetClassifier(hidden_layer_sizes=(32,), epochs=5,
    ...                          random_state=0).fit(d.X / 16, d.y)
    >>> clf.predict_proba(d.X[:2] / 16).shape
    (2, 10)
    >>> clf.score(d.X / 16, d.y) > 0.9
    True
    """
    )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.target_tags.single_output = True
        return tags

    def _labels(self, y) -> np.ndarray:
        """y as class numbers 0..n_classes-1, checked against ``classes_``."""
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(
                f"{self._where()}: y holds labels {np.unique(y[unknown])[:5].tolist()} "
                f"that are not among classes_ {self.classes_.tolist()}."
            )
        return index.astype(np.int64)

    def fit(self, X, y):
        """Train on (X, y) and return self.

        X : array_like, shape (n_samples, n_features); y : labels, shape (n_samples,).
        """
        before = self._features()
        old = getattr(self, "classes_", None)
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        classes = np.unique(y)
        keep = self._can_continue(
            before, old is not None and np.array_equal(classes, old)
        )
        if len(classes) < 2:
            raise ValueError(
                f"{self._where()} needs samples of at least 2 classes to learn from; "
                f"y holds 1 class ({classes[0]!r})."
            )
        self.classes_ = classes
        self._train(X, self._labels(y), len(classes), fresh=not keep, partial=False)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y), continuing the current network; returns self.

        The first call must list every class (``classes=``), as in
        scikit-learn's other incremental classifiers. The optimizer's state
        (Adam's moments) carries over from call to call.
        """
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError(
                f"{self._where()}.partial_fit: the first call needs classes=, the list "
                "of every class that y can hold."
            )
        X, y = validate_data(self, X, y, reset=first, dtype=np.float32)
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{self._where()}.partial_fit: classes= must hold at "
                    f"least 2 classes; got {self.classes_.tolist()}."
                )
        elif classes is not None and not np.array_equal(
            np.unique(classes), self.classes_
        ):
            raise ValueError(
                f"{self._where()}.partial_fit: classes= {np.unique(classes).tolist()} "
                f"differ from those of the first call, {self.classes_.tolist()}."
            )
        self._train(X, self._labels(y), len(self.classes_), fresh=first, partial=True)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each class for each row, shape (n_samples, n_classes)."""
        scores = self._outputs(X).astype(np.float64)
        return softmax_array(scores, axis=1)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n_samples,)."""
        scores = self._outputs(X)
        return self.classes_[np.argmax(scores, axis=1)]


class GlassnetRegressor(RegressorMixin, _GlassnetEstimator):
    __doc__ = (
        """A glassnet network as a scikit-learn regressor.

    The targets are standardised for training (``y_mean_``, ``y_scale_``)
    and the predictions scaled back, so the loss sees numbers near 1 whatever
    the units of y. y may have several columns (one output each). A network
    that continues (``warm_start``, ``partial_fit``) keeps the scaling of the
    fit that started it.
    """
        + _PARAMS_DOC % {"loss": "mean squared error"}
        + """
    y_mean_, y_scale_ : ndarray, shape (n_outputs,)

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.sklearn import GlassnetRegressor
    >>> X = np.linspace(-1, 1, 200)[:, None]
    >>> reg = GlassnetRegressor(hidden_layer_sizes=(16,), activation="tanh",
    ...                         epochs=100, random_state=0).fit(X, 3 * X[:, 0] + 5)
    >>> reg.score(X, 3 * X[:, 0] + 5) > 0.99
    True
    """
    )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _targets(self, y) -> np.ndarray:
        y2 = np.asarray(y, np.float64).reshape(len(y), -1)
        return ((y2 - self.y_mean_) / self.y_scale_).astype(np.float32)

    def fit(self, X, y):
        """Train on (X, y) and return self.

        X : array_like, shape (n_samples, n_features);
        y : numbers, shape (n_samples,) or (n_samples, n_outputs).
        """
        before = self._features()
        old = getattr(self, "y_mean_", np.empty(0)).shape[0]
        X, y = validate_data(
            self, X, y, dtype=np.float32, multi_output=True, y_numeric=True
        )
        y2 = np.asarray(y, np.float64).reshape(len(y), -1)
        keep = self._can_continue(before, old == y2.shape[1])
        if not keep:
            self.y_mean_ = y2.mean(axis=0)
            scale = y2.std(axis=0)
            self.y_scale_ = np.where(scale > 0, scale, 1.0)
        self._single = y.ndim == 1
        self._train(X, self._targets(y), y2.shape[1], fresh=not keep, partial=False)
        return self

    def partial_fit(self, X, y):
        """One epoch on (X, y), continuing the current network; returns self.

        The first call fixes the target scaling (``y_mean_``, ``y_scale_``).
        """
        first = not hasattr(self, "model_")
        X, y = validate_data(
            self, X, y, reset=first, dtype=np.float32, multi_output=True, y_numeric=True
        )
        y2 = np.asarray(y, np.float64).reshape(len(y), -1)
        if first:
            self.y_mean_ = y2.mean(axis=0)
            scale = y2.std(axis=0)
            self.y_scale_ = np.where(scale > 0, scale, 1.0)
            self._single = y.ndim == 1
        elif y2.shape[1] != self.y_mean_.shape[0]:
            raise ValueError(
                f"{self._where()}.partial_fit: y has {y2.shape[1]} columns; the "
                f"network was started with {self.y_mean_.shape[0]}."
            )
        self._train(X, self._targets(y), y2.shape[1], fresh=first, partial=True)
        return self

    def predict(self, X) -> np.ndarray:
        """The predicted numbers, shape (n_samples,) or (n_samples, n_outputs)."""
        out = self._outputs(X).astype(np.float64) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._single else out
