"""Hyperparameter sweeps on Optuna: ``glassnet sweep SWEEP.toml --trials N``.

A sweep file names a ``glassnet train`` config and the settings to search::

    config = "digits.toml"        # relative to this file
    metric = "val_loss"           # the last epoch's History figure to optimise
    # direction = "minimize"      # default: maximize for accuracy, else minimize
    validation_split = 0.2        # share of the training part that scores trials
    seed = 0                      # the sampler's seed

    [space]
    lr = { log_uniform = [1e-4, 1e-1] }
    hidden = { choice = [16, 32, 64] }
    epochs = { int = [5, 30] }
    "train.batch_size" = { choice = [16, 32, 64] }

How a parameter name maps into the config:

- ``section.key`` sets that key of that section (``optimizer.lr``,
  ``train.batch_size``); ``model.layers.I.key`` sets a key of layer I
  (counted from 0), e.g. ``model.layers.0.out_features``;
- a bare key of ``[train]`` (``epochs``, ``batch_size``, ``clip_norm`` ...) is
  ``train.KEY``; otherwise a bare keyword of the config's optimizer (``lr``,
  ``momentum``, ``weight_decay`` ...) is ``optimizer.KEY``;
- ``hidden`` is the width of every hidden layer of a chain of Dense layers:
  every Dense but the last gets ``out_features = hidden`` and every Dense but
  the first ``in_features = hidden``.

Each trial's config is checked exactly as ``glassnet train`` checks a file.
The distributions: ``log_uniform = [lo, hi]`` and ``uniform = [lo, hi]``
(floats), ``int = [lo, hi]`` (both ends included), ``choice = [a, b, ...]``.

Trials are scored on ``validation_split`` of the config's training part; the
held-out test part is used only at the end, to compare the best trial with
the config as written (the *baseline*). Optuna's TPE sampler proposes the
settings (``sampler = "random"`` for random search); a median pruner, fed the
metric after every epoch, stops trials that fall behind (``pruner = "none"``
turns it off).

Several processes or machines running the same command share one study: the
first creates it with N waiting trials; every process claims waiting trials
one at a time (a claim is an atomic state change in the storage), so N
trials run in total, none twice. The storage is a JournalStorage file next to
the sweep file by default (one machine, or a shared disk), or a database URL
(``postgresql://user:pass@host/db``, through SQLAlchemy and psycopg) for many
machines. The process that sees the last trial finish prints the table,
writes ``best.toml`` (the best trial's config), trains it into
``best.glassnet`` (the same run as that trial: same data, seeds and split)
and draws ``history.png`` and ``importances.png``.

Needs ``pip install 'glassnet[sweep]'`` (optuna, sqlalchemy, psycopg).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import math
import os
import re
import sys
import tempfile
import time
import warnings

from .errors import ConfigError, DivergedError, GlassnetError
from .io import config as cfgmod
from .train.callbacks import Callback

TOP = {
    "config",
    "metric",
    "direction",
    "validation_split",
    "seed",
    "sampler",
    "pruner",
    "space",
}
KINDS = ("log_uniform", "uniform", "int", "choice")
PLANNED = "glassnet.trials"  # study user attributes this module keeps
SPACE = "glassnet.space"
BASELINE = "glassnet.baseline"


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError(
            "glassnet sweep needs Optuna: pip install 'glassnet[sweep]'"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


# --- the sweep file -------------------------------------------------------------------
class Sweep:
    """A checked sweep file: the base config (raw TOML and checked) and the space."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.where = os.path.basename(self.path)
        tomllib = cfgmod._toml()
        with open(self.path, "rb") as f:
            try:
                raw = tomllib.load(f)
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise ConfigError(f"{self.where}: not valid TOML ({e}).") from None
        cfgmod._keys(self.where, "the top level", raw, TOP)
        if "config" not in raw or not isinstance(raw["config"], str):
            raise ConfigError(
                f'{self.where}: needs config = "a glassnet train config.toml".'
            )
        here = os.path.dirname(os.path.abspath(self.path))
        self.config_path = os.path.normpath(os.path.join(here, raw["config"]))
        if not os.path.exists(self.config_path):
            raise ConfigError(
                f"{self.where}: config {self.config_path} does not exist."
            )
        self.base = cfgmod.read_config(self.config_path)
        with open(self.config_path, "rb") as f:
            self.raw = cfgmod._toml().load(f)
        self.raw["data"] = copy.deepcopy(self.base.data)  # its paths made absolute
        self.raw.get("output", {}).pop("checkpoint", None)
        self.raw.get("output", {}).pop("checkpoint_every", None)
        self.metric = raw.get("metric", "val_loss")
        if not isinstance(self.metric, str) or not self.metric.startswith("val_"):
            raise ConfigError(
                f"{self.where}: metric must name a validation figure such as "
                f"'val_loss' or 'val_accuracy'; got {self.metric!r}."
            )
        default = "maximize" if "acc" in self.metric else "minimize"
        self.direction = raw.get("direction", default)
        if self.direction not in ("minimize", "maximize"):
            raise ConfigError(
                f"{self.where}: direction must be 'minimize' or 'maximize'; "
                f"got {self.direction!r}."
            )
        split = raw.get(
            "validation_split", self.raw["train"].get("validation_split", 0.2)
        )
        cfgmod._number(
            self.where, "top level", "validation_split", split, 0, 1, open_ends=True
        )
        self.raw["train"]["validation_split"] = split
        self.seed = raw.get("seed", 0)
        cfgmod._count(self.where, "top level", "seed", self.seed, low=0)
        self.sampler = raw.get("sampler", "tpe")
        self.pruner = raw.get("pruner", "median")
        for key, value, known in (
            ("sampler", self.sampler, ("tpe", "random")),
            ("pruner", self.pruner, ("median", "none")),
        ):
            if value not in known:
                raise ConfigError(
                    f"{self.where}: {key} must be one of {', '.join(known)}; "
                    f"got {value!r}."
                )
        space = raw.get("space")
        if not isinstance(space, dict) or not space:
            raise ConfigError(
                f"{self.where}: [space] must name at least one setting, e.g. "
                "lr = { log_uniform = [1e-4, 1e-1] }."
            )
        self.space = {name: self._distribution(name, d) for name, d in space.items()}
        for name, (_kind, values) in self.space.items():  # fail now, not in trial 7
            for value in values:  # both ends of a range, or every choice
                self.config({name: value})

    def _distribution(self, name, spec):
        where = f"{self.where}: [space] {name}"
        if (
            not isinstance(spec, dict)
            or len(spec) != 1
            or next(iter(spec)) not in KINDS
        ):
            raise ConfigError(
                f"{where} must be a table with one of {', '.join(KINDS)}; got {spec!r}."
            )
        kind, values = next(iter(spec.items()))
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: {kind} needs a list; got {values!r}.")
        if kind == "choice":
            if not all(isinstance(v, (str, int, float, bool)) for v in values):
                raise ConfigError(f"{where}: choice values must be numbers or text.")
            return kind, values
        number = int if kind == "int" else (int, float)
        ok = (
            len(values) == 2
            and all(isinstance(v, number) for v in values)
            and not any(isinstance(v, bool) for v in values)
            and values[0] < values[1]
            and (kind != "log_uniform" or values[0] > 0)
        )
        if not ok:
            low = " with 0 < lo" if kind == "log_uniform" else ""
            what = "whole numbers" if kind == "int" else "numbers"
            raise ConfigError(
                f"{where}: {kind} needs [lo, hi], two {what} with lo < hi{low}; "
                f"got {values!r}."
            )
        return kind, values

    def config(self, params: dict) -> cfgmod.RunConfig:
        """The base config with ``params`` set, checked as ``glassnet train`` checks."""
        raw = copy.deepcopy(self.raw)
        for name, value in params.items():
            _set(self.where, raw, name, value)
        return _check(raw, self.where, params)

    def suggest(self, trial) -> dict:
        """The settings of ``trial``, asked of its sampler one by one."""
        out = {}
        for name, (kind, v) in self.space.items():
            if kind == "choice":
                out[name] = trial.suggest_categorical(name, v)
            elif kind == "int":
                out[name] = trial.suggest_int(name, v[0], v[1])
            else:
                out[name] = trial.suggest_float(
                    name, v[0], v[1], log=kind == "log_uniform"
                )
        return out


def _set(where: str, raw: dict, name: str, value) -> None:
    """Put one swept setting into a raw config (the rules in the module text)."""
    if name == "hidden":
        layers = raw["model"]["layers"]
        dense = [layer for layer in layers if layer.get("type") == "Dense"]
        weighted = [
            layer
            for layer in layers
            if layer.get("type")
            not in ("Dense", "Sigmoid", "Tanh", "ReLU", "Identity", "Softmax")
        ]
        if len(dense) < 2 or weighted:
            raise ConfigError(
                f"{where}: [space] hidden sets the width of a chain of Dense layers "
                "(two or more, with activations between); this model is not one. "
                'Name the key instead, e.g. "model.layers.0.out_features".'
            )
        for i, layer in enumerate(dense):
            if i < len(dense) - 1:
                layer["out_features"] = value
            if i > 0:
                layer["in_features"] = value
        return
    parts = name.split(".")
    if len(parts) == 1:
        kind = raw.get("optimizer", {}).get("type", "adam")
        if name in cfgmod.SECTIONS["train"]:
            parts = ["train", name]
        elif name in cfgmod._arguments(cfgmod._optimizer_class(kind)):
            parts = ["optimizer", name]
        else:
            raise ConfigError(
                f"{where}: [space] {name!r} is neither a [train] key nor an argument "
                f"of the {kind} optimizer; name it as section.key (e.g. "
                '"optimizer.lr") or use hidden.'
            )
    if parts[0] not in cfgmod.SECTIONS:
        raise ConfigError(
            f"{where}: [space] {name!r}: {parts[0]!r} is not a config section "
            f"({', '.join(cfgmod.SECTIONS)})."
        )
    node = raw.setdefault(parts[0], {})
    for i, part in enumerate(parts[1:-1], 1):
        key = int(part) if isinstance(node, list) and part.isdigit() else part
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            raise ConfigError(
                f"{where}: [space] {name!r}: the config has no "
                f"{'.'.join(parts[: i + 1])}."
            ) from None
    if isinstance(node, list):
        raise ConfigError(f"{where}: [space] {name!r} names a list, not a key.")
    node[parts[-1]] = value


def _check(raw: dict, where: str, params: dict) -> cfgmod.RunConfig:
    """read_config on ``raw`` written out as TOML (so every rule applies)."""
    text = to_toml(raw)
    fd, path = tempfile.mkstemp(suffix=".toml", prefix="glassnet-trial-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            return cfgmod.read_config(path)
        except ConfigError as e:
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            message = str(e).replace(os.path.basename(path), "the config")
            raise ConfigError(f"{where}: with {shown}: {message}") from None
    finally:
        os.remove(path)


# --- TOML out (tomllib only reads) ---------------------------------------------------
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return (
            "{ "
            + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items())
            + " }"
        )
    raise ConfigError(f"cannot write {type(v).__name__} {v!r} as TOML.")


def to_toml(raw: dict, header: str = "") -> str:
    """A config dict (sections of keys) as TOML text that ``read_config`` reads."""
    lines = [header] if header else []
    for section, table in raw.items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            if key == "layers":
                lines.append("layers = [")
                lines += [f"  {_toml_value(layer)}," for layer in value]
                lines.append("]")
            else:
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


# --- training one config --------------------------------------------------------------
def fit_config(cfg: cfgmod.RunConfig, callbacks=()):
    """Train the model of ``cfg`` as ``glassnet train`` does, silently.

    Returns (model, history, test) with ``test`` the standardised held-out
    part ``(X_test, y_test)``, or None when the config holds none back.
    """
    from .data.transforms import Standardizer
    from .train import fit

    X, y, X_test, y_test, _ = cfgmod.split_data(cfg.data)
    if cfg.data.get("standardize"):
        scaler = Standardizer().fit(X)
        X = scaler.transform(X)
        X_test = None if X_test is None else scaler.transform(X_test)
    model = cfgmod.build_model(cfg)
    t = cfg.train
    history = fit(
        model,
        X,
        y,
        loss=t.get("loss"),
        optimizer=cfgmod.build_optimizer(cfg, model),
        epochs=t["epochs"],
        batch_size=t.get("batch_size", 32),
        seed=t.get("seed"),
        metrics=t.get("metrics"),
        validation_split=t.get("validation_split"),
        clip_norm=t.get("clip_norm"),
        shuffle=t.get("shuffle", True),
        verbose=0,
        callbacks=list(callbacks),
    )
    return model, history, None if X_test is None else (X_test, y_test)


class _Report(Callback):
    """Report the metric to the trial after every epoch; stop when pruned."""

    def __init__(self, trial, metric: str):
        self.trial, self.metric, self.pruned_at = trial, metric, None

    def on_epoch_end(self, state):
        if self.metric not in state.logs:
            raise ConfigError(
                f"sweep: metric {self.metric!r} is not among the figures training "
                f"records ({', '.join(state.logs)})."
            )
        value = float(state.logs[self.metric])
        if not math.isfinite(value):
            return
        self.trial.report(value, state.epoch)
        if self.trial.should_prune():
            self.pruned_at, state.stop = state.epoch + 1, True


# --- the study ------------------------------------------------------------------------
def storage_for(sweep: Sweep, url: str | None):
    """(storage, where) for Optuna: a JournalStorage file (default
    ``<sweep>.journal`` next to the sweep file, or a path) or a database URL
    through SQLAlchemy (``postgresql://`` uses psycopg)."""
    optuna = _optuna()
    if url and "://" in url:
        where = _hide_password(url)
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        try:
            return _rdb_storage(optuna, url), where
        except ImportError as e:
            raise ImportError(
                f"the storage {where} needs its database driver ({e}); for "
                "PostgreSQL: pip install 'glassnet[sweep]'"
            ) from None
    path = url or os.path.splitext(sweep.path)[0] + ".journal"
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(path)), path


def _rdb_storage(optuna, url: str, tries: int = 5):
    """RDBStorage(url). Processes that open a new database together race to
    create Optuna's tables (one gets "duplicate key" or "already exists"); the
    loser tries again and finds them made."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(tries):
        try:
            return optuna.storages.RDBStorage(url)
        except (IntegrityError, ProgrammingError):
            if attempt == tries - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def _sampler(sweep: Sweep, number: int):
    """A sampler seeded by the sweep's seed and the trial number: reproducible in
    one process, and two processes never draw the same random settings."""
    import numpy as np

    optuna = _optuna()
    seed = int(np.random.SeedSequence([sweep.seed, number]).generate_state(1)[0])
    if sweep.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def open_study(sweep: Sweep, storage, name: str, trials: int):
    """Create the study with ``trials`` waiting trials, or join it if it exists."""
    optuna = _optuna()
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
        if sweep.pruner == "median"
        else optuna.pruners.NopPruner()
    )
    space = json.dumps({k: list(v) for k, v in sweep.space.items()}, sort_keys=True)
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            pruner=pruner,
            direction=sweep.direction,
            sampler=_sampler(sweep, 0),
        )
    except optuna.exceptions.DuplicatedStudyError:  # another process made it first
        study = optuna.load_study(
            study_name=name, storage=storage, pruner=pruner, sampler=_sampler(sweep, 0)
        )
    else:
        for _ in range(trials):
            study.enqueue_trial({})
        study.set_user_attr(SPACE, space)
        study.set_user_attr(PLANNED, trials)
    waited = 0.0
    while PLANNED not in study.user_attrs:  # its maker is still adding the trials
        if waited > 60:
            raise ConfigError(
                f"study {name!r} exists but was not set up by glassnet sweep "
                "(no planned trial count after 60 s); use another --study name."
            )
        time.sleep(0.2)
        waited += 0.2
    attrs = study.user_attrs
    if attrs[PLANNED] != trials:
        raise ConfigError(
            f"study {name!r} was set up for {attrs[PLANNED]} trials; run it with "
            f"--trials {attrs[PLANNED]}, or start another with --study NAME."
        )
    if attrs[SPACE] != space or study.direction.name.lower() != sweep.direction:
        raise ConfigError(
            f"study {name!r} searches another space or direction than "
            f"{sweep.where}; start another with --study NAME."
        )
    return study


def _claim(study, storage, study_id: int, sweep: Sweep):
    """Take one waiting trial for this process (atomically), or None when none wait."""
    optuna = _optuna()
    waiting = study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.WAITING,)
    )
    for frozen in waiting:
        trial_id = storage.get_trial_id_from_study_id_trial_number(
            study_id, frozen.number
        )
        try:
            if not storage.set_trial_state_values(
                trial_id, state=optuna.trial.TrialState.RUNNING
            ):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        study.sampler = _sampler(sweep, frozen.number)
        return optuna.trial.Trial(study, trial_id)
    return None


def run_trial(sweep: Sweep, study, trial, say=print):
    """Train one trial's config and tell the study how it went."""
    optuna = _optuna()
    State = optuna.trial.TrialState
    start = time.perf_counter()
    params = sweep.suggest(trial)
    shown = "  ".join(f"{k}={_short(v)}" for k, v in params.items())
    report = _Report(trial, sweep.metric)
    try:
        cfg = sweep.config(params)
        _, history, _ = fit_config(cfg, [report])
    except DivergedError as e:
        trial.set_user_attr("error", " ".join(str(e).split()))
        study.tell(trial, state=State.FAIL)
        say(f"trial {trial.number}: diverged  {shown}")
        return
    except BaseException:
        study.tell(trial, state=State.FAIL)
        if not isinstance(sys.exc_info()[1], GlassnetError):
            study.enqueue_trial(
                {}
            )  # interrupted, not the settings' fault: run it again
        raise
    seconds = time.perf_counter() - start
    trial.set_user_attr("seconds", round(seconds, 3))
    if report.pruned_at is not None:
        study.tell(trial, state=State.PRUNED)
        say(f"trial {trial.number}: pruned after epoch {report.pruned_at}  {shown}")
        return
    value = float(history.history[sweep.metric][-1])
    study.tell(trial, value)
    say(f"trial {trial.number}: {sweep.metric} {value:.4f}  {shown}  ({seconds:.1f} s)")


def _short(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


# --- the whole command ----------------------------------------------------------------
def run(
    path,
    trials: int,
    storage: str | None = None,
    study_name: str | None = None,
    out: str | None = None,
    say=print,
) -> dict:
    """``glassnet sweep``: run trials until the study has ``trials`` finished ones,
    then (in the process that sees the last finish) summarise and save.

    Returns a dict with ``ran`` (trial numbers this process ran), ``done``
    (whether the study is complete) and, when done, ``best`` (number, value,
    params), ``baseline`` and the files written.
    """
    sweep = Sweep(path)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(
            f"sweep: --trials must be a whole number >= 1; got {trials!r}."
        )
    optuna = _optuna()
    name = study_name or os.path.splitext(os.path.basename(sweep.path))[0]
    store, where = storage_for(sweep, storage)
    study = open_study(sweep, store, name, trials)
    study_id = store.get_study_id_from_name(name)
    say(f"study {name!r} ({trials} trials) in {where}")
    ran = []
    while True:
        trial = _claim(study, store, study_id, sweep)
        if trial is None:
            break
        ran.append(trial.number)
        run_trial(sweep, study, trial, say)
    State = optuna.trial.TrialState
    all_trials = study.get_trials(deepcopy=False)
    busy = [t.number for t in all_trials if t.state in (State.RUNNING, State.WAITING)]
    result = {"ran": ran, "done": not busy}
    if busy:
        say(
            f"{len(busy)} trial(s) still running in other processes; the last "
            "process to finish prints the table and saves the best model."
        )
        return result
    result.update(
        summarise(
            sweep, study, out or os.path.splitext(os.path.basename(sweep.path))[0], say
        )
    )
    return result


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def summarise(sweep: Sweep, study, folder: str, say=print) -> dict:
    """The table, the comparison with the baseline, best.toml / best.glassnet and
    the figures."""
    optuna = _optuna()
    State = optuna.trial.TrialState
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    names = list(sweep.space)
    say("")
    say(
        f"{'trial':>5}  {'state':8}  {sweep.metric:>12}  "
        + "  ".join(f"{n:>10}" for n in names)
    )
    for t in trials:
        value = f"{t.value:.4f}" if t.state == State.COMPLETE else ""
        cells = "  ".join(f"{_short(t.params.get(n, '')):>10}" for n in names)
        say(f"{t.number:>5}  {t.state.name.lower():8}  {value:>12}  {cells}")
    complete = [t for t in trials if t.state == State.COMPLETE]
    if not complete:
        say("no trial completed; nothing to save.")
        return {"best": None}
    best = study.best_trial
    os.makedirs(folder, exist_ok=True)
    baseline = study.user_attrs.get(BASELINE)
    if baseline is None:  # the config as written, scored the same way
        model, history, test = fit_config(sweep.config({}))
        baseline = {
            "value": float(history.history[sweep.metric][-1]),
            "test": _test_scores(model, test, sweep.base),
        }
        study.set_user_attr(BASELINE, baseline)
    files = _save_best(sweep, best, folder)
    best_test = files.pop("test")
    gain = best.value - baseline["value"]
    better = gain > 0 if sweep.direction == "maximize" else gain < 0
    say("")
    say(
        f"best: trial {best.number}, {sweep.metric} {best.value:.4f}  "
        + "  ".join(f"{k}={_short(v)}" for k, v in best.params.items())
    )
    say(
        f"config as written: {sweep.metric} {baseline['value']:.4f}; the best trial "
        f"is {'better' if better else 'not better'} by {abs(gain):.4f}"
        + (f" ({abs(gain) / abs(baseline['value']):.1%})" if baseline["value"] else "")
    )
    if best_test and baseline["test"]:
        say(
            "on the held-out test part: best "
            + _scores(best_test)
            + "; config as written "
            + _scores(baseline["test"])
        )
    files.update(_figures(study, folder, sweep.metric))
    for path in files.values():
        say(f"wrote {path}")
    return {
        "best": {
            "number": best.number,
            "value": best.value,
            "params": dict(best.params),
        },
        "baseline": baseline,
        "best_test": best_test,
        "files": files,
    }


def _scores(scores: dict) -> str:
    return ", ".join(
        f"{k} {v:.2%}" if "acc" in k else f"{k} {v:.4f}" for k, v in scores.items()
    )


def _test_scores(model, test, cfg) -> dict | None:
    from .train import evaluate

    if test is None:
        return None
    return evaluate(
        model, *test, loss=cfg.train.get("loss"), metrics=cfg.train.get("metrics")
    )


def _save_best(sweep: Sweep, best, folder: str) -> dict:
    """best.toml (the config with the best settings) and best.glassnet, trained
    from it by ``glassnet train`` — the same run as the trial."""
    from .cli import main as cli_main
    from .io import atomic_write, read

    model_path = os.path.join(folder, "best.glassnet")
    raw = copy.deepcopy(sweep.raw)
    for name, value in best.params.items():
        _set(sweep.where, raw, name, value)
    raw.setdefault("output", {})["model"] = model_path
    header = (
        f"# The best trial ({best.number}) of {sweep.where}: {sweep.metric} "
        f"{best.value:.6g}.\n# glassnet train on this file repeats it.\n"
    )
    toml_path = os.path.join(folder, "best.toml")
    atomic_write(toml_path, to_toml(raw, header).encode())
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(["train", toml_path, "-o", model_path, "-q"])
    if code:
        raise GlassnetError(f"sweep: training {toml_path} failed (exit status {code}).")
    scores = read(model_path).metadata.get("scores", {})
    return {"config": toml_path, "model": model_path, "test": scores.get("test")}


def _figures(study, folder: str, metric: str) -> dict:
    """Optuna's own plots (matplotlib): the optimisation history and importances."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.visualization import matplotlib as ovm

    from .io import atomic_write

    written = {}
    plots = {
        "history": ovm.plot_optimization_history,
        "importances": functools.partial(  # PED-ANOVA: NumPy only, no sklearn
            ovm.plot_param_importances, evaluator=PedAnovaImportanceEvaluator()
        ),
    }
    for name, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental" and too-few-trials notes
            try:
                ax = plot(study, target_name=metric)
            except (ValueError, RuntimeError):  # e.g. importances of one trial
                continue
        fig = ax.figure
        fig.set_size_inches(7, 4.2)
        fig.tight_layout()
        path = os.path.join(folder, f"{name}.png")
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=110)
        plt.close(fig)
        atomic_write(path, png.getvalue())  # another process may write it too
        written[name] = path
    return written
