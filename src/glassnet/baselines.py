"""Is a network worth it here? glassnet networks next to classical methods, on one split.

Seed 002's map of machine learning puts the classical methods first: linear
and logistic regression, nearest neighbours, support vector machines,
decision trees, and the ensembles built from trees (random forests, gradient
boosting), which it calls faster than networks and often good enough.
:func:`compare` measures that claim on your data: every model is trained on
the same training part and scored on the same test part, and the table and
figure show the score next to what it cost (fit time, prediction time per
sample, model size).

Needs scikit-learn (``pip install 'glassnet[sklearn]'``); the figure needs
matplotlib (``glassnet[plot]``).
"""

from __future__ import annotations

import pickle  # only dumps, to measure a fitted model's size; nothing is ever loaded
import time
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

__all__ = ["CNN", "DATASETS", "Comparison", "compare", "load_dataset"]

#: The datasets ``glassnet compare --dataset`` knows (all bundled, nothing downloaded).
DATASETS = ("digits", "x_and_o", "breast_cancer", "wine", "diabetes")


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "glassnet.baselines needs scikit-learn: pip install 'glassnet[sklearn]'"
        ) from e


class CNN:
    """``module=`` for the estimators: a small convolutional network for images.

    ``CNN(input_shape)(n_features, n_outputs)`` builds::

        Conv2D(C → filters, 3x3, padding 1) → ReLU → MaxPool2D(2) → Flatten
        → Dense(filters·⌊H/2⌋·⌊W/2⌋ → hidden) → ReLU → Dense(hidden → n_outputs)

    for images of ``input_shape = (C, H, W)``. An object rather than a
    closure, so that estimators holding it can be cloned and sent to joblib's
    worker processes.

    >>> from glassnet.baselines import CNN
    >>> CNN((1, 8, 8))(64, 10)[0]
    Conv2D(1 → 16, 3x3, padding 1x1, bias)
    """

    def __init__(self, input_shape, filters: int = 16, hidden: int = 64):
        self.input_shape = tuple(int(s) for s in input_shape)
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise ConfigError(
                f"CNN: input_shape must be (channels, height, width); "
                f"got {input_shape!r}."
            )
        self.filters, self.hidden = int(filters), int(hidden)

    def __call__(self, n_features: int, n_outputs: int):
        from . import nn

        c, h, w = self.input_shape
        if c * h * w != n_features:
            raise ConfigError(
                f"CNN: input_shape {self.input_shape} holds {c * h * w} "
                f"values; the data has {n_features} features per row."
            )
        return nn.Sequential(
            nn.Conv2D(c, self.filters, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2D(2),
            nn.Flatten(),
            nn.Dense(self.filters * (h // 2) * (w // 2), self.hidden),
            nn.ReLU(),
            nn.Dense(self.hidden, n_outputs),
        )

    def __repr__(self) -> str:
        return f"CNN({self.input_shape}, filters={self.filters}, hidden={self.hidden})"

    def __eq__(self, other) -> bool:
        return isinstance(other, CNN) and vars(self) == vars(other)

    __hash__ = None


def default_models(
    task: str, input_shape=None, *, epochs: int = 200, random_state: int = 0
) -> dict:
    """The models :func:`compare` trains by default: name -> unfitted estimator.

    Classification: LogisticRegression, KNeighborsClassifier, SVC,
    DecisionTreeClassifier, RandomForestClassifier,
    HistGradientBoostingClassifier, a glassnet MLP (one hidden layer of 100
    ReLU neurons, Adam, early stopping on 10 % of the training part) and,
    for images (``input_shape`` given), a glassnet :class:`CNN`. Regression:
    the regressor of each (LinearRegression for the logistic one). Every
    model sees features standardised on the training part.
    """
    _sklearn()
    from sklearn import ensemble, linear_model, neighbors, svm, tree

    from .sklearn import GlassnetClassifier, GlassnetRegressor

    seed = {"random_state": random_state}
    net = {"epochs": int(epochs), "early_stopping": True, "patience": 10, **seed}
    if task == "classification":
        models = {
            "LogisticRegression": linear_model.LogisticRegression(max_iter=5000),
            "KNeighbors": neighbors.KNeighborsClassifier(),
            "SVC": svm.SVC(),
            "DecisionTree": tree.DecisionTreeClassifier(**seed),
            "RandomForest": ensemble.RandomForestClassifier(**seed),
            "HistGradientBoosting": ensemble.HistGradientBoostingClassifier(**seed),
            "glassnet MLP": GlassnetClassifier(hidden_layer_sizes=(100,), **net),
        }
        if input_shape is not None:
            models["glassnet CNN"] = GlassnetClassifier(
                module=CNN(input_shape), input_shape=tuple(input_shape), **net
            )
        return models
    if task == "regression":
        return {
            "LinearRegression": linear_model.LinearRegression(),
            "KNeighbors": neighbors.KNeighborsRegressor(),
            "SVR": svm.SVR(),
            "DecisionTree": tree.DecisionTreeRegressor(**seed),
            "RandomForest": ensemble.RandomForestRegressor(**seed),
            "HistGradientBoosting": ensemble.HistGradientBoostingRegressor(**seed),
            "glassnet MLP": GlassnetRegressor(hidden_layer_sizes=(100,), **net),
        }
    raise ConfigError(f"task must be 'classification' or 'regression'; got {task!r}.")


@dataclass
class Comparison:
    """What :func:`compare` measured: one row per model, best score first.

    Each row holds ``model``, ``network`` (bool), the scores (``accuracy``;
    or ``r2`` and ``rmse``), ``fit_s`` (seconds to fit, scaling included),
    ``predict_us`` (microseconds of prediction per test sample, predicting
    the whole test part at once) and ``size_kb`` (the fitted model pickled,
    as joblib stores it; for glassnet networks that is their model file).
    """

    task: str
    rows: list
    n_train: int
    n_test: int
    n_features: int
    dataset: str = ""
    threads: int | None = 1

    @property
    def score_names(self) -> tuple:
        return ("accuracy",) if self.task == "classification" else ("r2", "rmse")

    def table(self) -> str:
        """The rows as a Markdown table."""
        names = self.score_names
        head = [
            "model",
            *("R²" if n == "r2" else n.upper() if n == "rmse" else n for n in names),
            "fit (s)",
            "predict (µs/sample)",
            "size (kB)",
        ]
        lines = [
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
        ]
        for r in self.rows:
            scores = [f"{r[n]:.4f}" if n != "rmse" else f"{r[n]:.2f}" for n in names]
            lines.append(
                "| "
                + " | ".join(
                    [
                        r["model"],
                        *scores,
                        f"{r['fit_s']:.3f}",
                        f"{r['predict_us']:.2f}",
                        f"{r['size_kb']:.1f}",
                    ]
                )
                + " |"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        what = self.dataset or "the data"
        threads = (
            "default threads"
            if self.threads is None
            else (f"{self.threads} thread{'s' if self.threads != 1 else ''}")
        )
        return (
            f"{what}: {self.task}, {self.n_features} features, {self.n_train} "
            f"training and {self.n_test} test samples, {threads}\n\n"
            f"{self.table()}"
        )

    def figure(self, path=None):
        """Score, fit time, prediction time and size, one bar per model (networks
        in blue). Returns the matplotlib Figure; saves it when ``path`` is given."""
        from matplotlib.ticker import NullFormatter

        from .plot._style import CLASS_COLOURS, finish, new_figure

        score = self.score_names[0]
        panels = [
            (
                score,
                "R² on the test part" if score == "r2" else "accuracy on the test part",
                False,
            ),
            ("fit_s", "fit time (s)", True),
            ("predict_us", "prediction time per sample (µs)", True),
            ("size_kb", "model size (kB)", True),
        ]
        rows = self.rows[::-1]  # best at the top
        names = [r["model"] for r in rows]
        colours = [CLASS_COLOURS[0] if r["network"] else "0.6" for r in rows]
        fig = new_figure(figsize=(13, 0.38 * len(rows) + 1.6))
        axes = fig.subplots(1, len(panels), sharey=True)
        for ax, (key, label, log) in zip(axes, panels):
            values = [r[key] for r in rows]
            ax.barh(names, values, color=colours)
            if log:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_xlim(min(values) / 2, max(values) * 6)  # room for the labels
            elif score == "accuracy":
                low = min(values)
                pad = (1 - low) * 0.5 + 0.02
                ax.set_xlim(max(0.0, low - pad), 1 + pad / 3)  # room for the labels
                ax.axvline(1.0, color="0.3", lw=0.8)
            for y, v in enumerate(values):
                ax.text(
                    v,
                    y,
                    f" {v:,.0f}" if v >= 1000 else f" {v:.3g}",
                    va="center",
                    fontsize=7.5,
                )
            ax.set_title(label, fontsize=9)
            ax.grid(axis="x", alpha=0.3)
        threads = "" if self.threads is None else f", {self.threads} thread(s)"
        fig.suptitle(
            f"{self.dataset or 'data'}: {self.n_train} training / "
            f"{self.n_test} test samples{threads} (glassnet networks in "
            "blue)",
            fontsize=10,
        )
        return finish(fig, path)


def compare(
    X,
    y,
    *,
    task=None,
    input_shape=None,
    models=None,
    test_size=0.25,
    random_state=0,
    epochs: int = 200,
    threads: int | None = 1,
    dataset: str = "",
) -> Comparison:
    """Train classical models and glassnet networks on one split and compare them.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        One row per sample (images flattened; give ``input_shape`` for a CNN).
    y : array_like, shape (n_samples,)
        Class labels or numbers.
    task : {'classification', 'regression'}, optional
        Default: classification for integer or string labels, else regression.
    input_shape : tuple, optional
        ``(channels, height, width)`` of one image: adds a glassnet CNN.
    models : dict of name -> estimator, optional
        Replaces :func:`default_models`; names of glassnet estimators are
        marked as networks.
    test_size : float, default 0.25
        Share of samples held out (stratified by class for classification).
    random_state : int, default 0
        Fixes the split and every model's randomness.
    epochs : int, default 200
        Most epochs for the networks (they stop early on a validation split).
    threads : int or None, default 1
        Threads each model may use (BLAS and OpenMP, set with threadpoolctl);
        one by default, so that no model wins by using more cores than
        another. None leaves the libraries' defaults.
    dataset : str
        A name for the table and figure.

    Returns
    -------
    Comparison
        ``str(result)`` is the table; ``result.figure(path)`` draws it.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from glassnet.baselines import compare
    >>> X, y = load_wine(return_X_y=True)
    >>> result = compare(X, y, epochs=20, dataset="wine")  # doctest: +SKIP
    >>> print(result)  # doctest: +SKIP
    """
    _sklearn()
    from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from .sklearn import _GlassnetEstimator

    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ConfigError(
            f"compare: X must be (n_samples, n_features) with one label per row; "
            f"got X {X.shape} and y {y.shape}. Flatten images and pass input_shape."
        )
    if task is None:
        task = "classification" if y.dtype.kind in "iubUSO" else "regression"
    classification = task == "classification"
    Xtr, Xte, ytr, yte = train_test_split(
        X,
        y,
        test_size=test_size,
        random_state=random_state,
        stratify=y if classification else None,
    )
    if models is None:
        models = default_models(
            task, input_shape, epochs=epochs, random_state=random_state
        )
    rows = []
    for name, model in models.items():
        pipe = make_pipeline(StandardScaler(), model)
        with threadpool_limits(threads):
            start = time.perf_counter()
            pipe.fit(Xtr, ytr)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            pred = pipe.predict(Xte)
            predict_us = (time.perf_counter() - start) / len(Xte) * 1e6
        row = {
            "model": name,
            "network": isinstance(model, _GlassnetEstimator),
            "fit_s": fit_s,
            "predict_us": predict_us,
            "size_kb": len(pickle.dumps(pipe[-1])) / 1024,
        }
        if classification:
            row["accuracy"] = float(accuracy_score(yte, pred))
        else:
            row["r2"] = float(r2_score(yte, pred))
            row["rmse"] = float(np.sqrt(mean_squared_error(yte, pred)))
        rows.append(row)
    key = "accuracy" if classification else "r2"
    rows.sort(key=lambda r: -r[key])
    return Comparison(task, rows, len(Xtr), len(Xte), X.shape[1], dataset, threads)


def load_dataset(name: str, seed: int = 0):
    """``(X, y, task, input_shape)`` for a name in :data:`DATASETS`.

    ``digits`` and ``x_and_o`` (600 images, 9x9) come with glassnet;
    ``breast_cancer``, ``wine`` and ``diabetes`` (regression) with
    scikit-learn. Images are returned as flat rows with their ``input_shape``.
    """
    if name == "digits":
        from .datasets import digits

        d = digits(flatten=True)
        return d.X, d.y, "classification", (1, 8, 8)
    if name == "x_and_o":
        from .datasets import x_and_o

        d = x_and_o(n=600, seed=seed)
        return d.X.reshape(len(d.X), -1), d.y, "classification", d.X.shape[1:]
    if name in ("breast_cancer", "wine", "diabetes"):
        _sklearn()
        from sklearn import datasets

        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        return X, y, "regression" if name == "diabetes" else "classification", None
    raise ConfigError(
        f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}."
    )
