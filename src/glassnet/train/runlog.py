"""RunLog: a training run written to one SQLite database, live.

``fit(..., log_dir="runs")`` (or ``callbacks=[RunLog("runs")]``) creates
``runs/<name>.sqlite`` and writes into it as training goes, so that another
process (``glassnet dashboard runs``) can watch while the run trains:

======================  ==========================================================
table                   one row per
======================  ==========================================================
``meta``                key: format, name, status, started, finished, config,
                        architecture (JSON), error
``steps``               logged batch: step, epoch, batch, loss, lr, wall time
``epochs``              epoch: the History's figures (JSON), lr, seconds
``layer_stats``         (step, tensor, kind) with kind ``weight``, ``grad`` or
                        ``activation``: mean, std, min, max, a histogram of
                        ``BINS`` equal bins over [min, max], and for weights the
                        update-to-weight ratio ``||W_t - W_{t-1}|| / ||W_t||``
``confusion``           epoch: the confusion matrix on the validation data
``snapshots``           saved model: epoch, step, file name (next to the db, in
                        ``<name>.snapshots/``; a glassnet model file)
======================  ==========================================================

The database is in WAL mode: every commit is a consistent state a reader can
open, and a run killed at any moment leaves the last commit readable (its
status stays ``running``). Batch losses are kept in memory and committed at
most every ``flush_seconds`` and at each epoch's end, so logging costs little.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import sys
import time

import numpy as np

from .._validate import check_positive
from ..errors import ConfigError, DivergedError, GlassnetError
from .callbacks import Callback

FORMAT = "glassnet.runlog/1"
BINS = 30
STATUSES = ("running", "finished", "stopped", "diverged", "crashed")
_ACTIVE = [0]  # RunLogs training in this process now


def training_here() -> bool:
    """Whether a RunLog'd training runs in this process (``fit(dashboard=True)``)."""
    return _ACTIVE[0] > 0


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS steps (
    step INTEGER PRIMARY KEY, epoch INTEGER, batch INTEGER,
    loss REAL, lr REAL, time REAL);
CREATE TABLE IF NOT EXISTS epochs (
    epoch INTEGER PRIMARY KEY, step INTEGER, metrics TEXT, lr REAL,
    seconds REAL, time REAL);
CREATE TABLE IF NOT EXISTS layer_stats (
    step INTEGER, epoch INTEGER, tensor TEXT, kind TEXT,
    mean REAL, std REAL, min REAL, max REAL, hist TEXT, update_ratio REAL,
    PRIMARY KEY (step, tensor, kind));
CREATE TABLE IF NOT EXISTS confusion (epoch INTEGER PRIMARY KEY, matrix TEXT);
CREATE TABLE IF NOT EXISTS snapshots (
    epoch INTEGER PRIMARY KEY, step INTEGER, file TEXT);
"""


def tensor_stats(values: np.ndarray, bins: int = BINS) -> tuple:
    """(mean, std, min, max, histogram counts) of ``values``; NaN and infinity are
    left out of the histogram (and make mean/std NaN, which SQLite stores as NULL).

    >>> tensor_stats(np.array([0.0, 1.0, 1.0, 3.0]), bins=3)
    (1.25, 1.0897247358851685, 0.0, 3.0, [1, 2, 1])
    """
    v = np.asarray(values).ravel()
    if v.size == 0:
        return None, None, None, None, []
    lo, hi = float(v.min()), float(v.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):  # the slow path, rarely
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            return None, None, None, None, [0] * bins
        lo, hi = float(finite.min()), float(finite.max())
    else:
        finite = v
    # Equal bins over [lo, hi], the last one closed: as np.histogram, 5x faster.
    scale = bins / (hi - lo) if hi > lo else 0.0
    index = ((finite - lo) * scale).astype(np.intp)
    np.minimum(index, bins - 1, out=index)
    counts = np.bincount(index, minlength=bins)
    return (
        float(v.mean(dtype=np.float64)),
        float(v.std(dtype=np.float64)),
        lo,
        hi,
        counts.tolist(),
    )


def _clean(x):
    """JSON/SQLite-safe number: NaN and infinity become None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


class RunLog(Callback):
    """Write a training run to a SQLite database a dashboard can read while it trains.

    Parameters
    ----------
    path : str or PathLike
        A folder (the run becomes ``<path>/<name>.sqlite``) or a file name
        ending in ``.sqlite``.
    every : int
        Log the loss of every ``every``-th batch (1: every batch).
    stats_every : int or 'auto'
        Steps between per-layer statistics (taken with that step's gradients
        and activations). 'auto' (default): at an epoch's last batch, when the
        budget allows.
    snapshots : int, list of int, 'auto' or False
        Save the weights as a glassnet model file every this many epochs, at
        these epochs (1-based), when the budget allows ('auto', default), or
        never (False). Unless False, the final weights are always saved.
    budget : float
        The share of the training thread's CPU time that the 'auto' records
        (statistics, snapshots, confusion matrices) may take: one is skipped
        while the CPU time spent on them exceeds ``budget`` times the training
        thread's CPU time since training began (CPU, not wall-clock, time, so
        that other programs on a busy machine do not change the schedule much).
        The loss, metrics and learning rate are always logged.
    name : str, optional
        The run's name (letters, digits, ``._-``); default the start time.
    config : dict, optional
        JSON-able settings to keep with the run (``glassnet train`` stores its
        TOML here).
    flush_seconds : float
        Commit buffered batch losses at least this often.
    serve : bool
        Also serve the dashboard for this folder on 127.0.0.1 (port 6006, or a
        free one), print its address, and after training keep serving until
        Ctrl-C (in a notebook: until the kernel stops). ``fit(dashboard=True)``.

    Examples
    --------
    >>> import tempfile, numpy as np, glassnet as gn
    >>> X = np.random.default_rng(0).normal(size=(64, 2)); y = (X[:, 0] > 0) * 1
    >>> model = gn.nn.Sequential(gn.nn.Dense(2, 2), seed=0)
    >>> log = gn.train.RunLog(tempfile.mkdtemp(), name="demo")
    >>> _ = gn.fit(model, X, y, epochs=2, verbose=0, callbacks=[log])
    >>> read_meta(log.path)["status"]
    'finished'
    """

    def __init__(
        self,
        path,
        every: int = 1,
        *,
        stats_every="auto",
        snapshots="auto",
        budget: float = 0.01,
        name=None,
        config=None,
        flush_seconds: float = 1.0,
        serve: bool = False,
    ):
        check_positive("RunLog", "every", every, integer=True)
        check_positive("RunLog", "budget", budget)
        if stats_every != "auto":
            check_positive("RunLog", "stats_every", stats_every, integer=True)
        if not (
            snapshots is False
            or snapshots == "auto"
            or isinstance(snapshots, (list, tuple))
            or (isinstance(snapshots, int) and snapshots >= 1)
        ):
            raise ConfigError(
                f"RunLog: snapshots must be a positive number of epochs, "
                f"a list of epochs, 'auto' or False; got {snapshots!r}."
            )
        self.budget, self._spent, self._t0 = float(budget), 0.0, time.thread_time()
        if name is not None and not NAME.match(str(name)):
            raise ConfigError(
                f"RunLog: name {name!r} must be 1-100 letters, digits, "
                "'.', '_' or '-', starting with a letter or digit."
            )
        self.every, self.stats_every, self.snapshots = (
            int(every),
            stats_every,
            snapshots,
        )
        self.config, self.flush_seconds = config, float(flush_seconds)
        path = os.fspath(path)
        if path.endswith(".sqlite"):
            self.folder, base = os.path.dirname(path) or ".", os.path.basename(path)
            self.name = base[: -len(".sqlite")]
        else:
            self.folder, self.name = path, name
        self.path = None
        self._db = None
        self.serve = bool(serve)

    # --- the file --------------------------------------------------------------------
    def _open(self):
        os.makedirs(self.folder, exist_ok=True)
        if self.name is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.name, n = stamp, 1
            while os.path.exists(os.path.join(self.folder, self.name + ".sqlite")):
                n += 1
                self.name = f"{stamp}-{n}"
        self.path = os.path.join(self.folder, self.name + ".sqlite")
        if os.path.exists(self.path):
            raise ConfigError(
                f"RunLog: {self.path} exists; give the run another name "
                "or remove the old one."
            )
        open(self.path, "xb").close()  # claim the name now; the writer fills it in
        self._db = _Writer(self.path)

    def _meta(self, **items):
        self._db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [
                (k, v if isinstance(v, str) or v is None else json.dumps(v))
                for k, v in items.items()
            ],
        )

    # --- hooks -----------------------------------------------------------------------
    def on_train_begin(self, state):
        from ..io.registry import describe

        self._open()
        if self.serve:
            from ..dashboard import start_in_background

            try:
                _, address = start_in_background(self.folder, port=6006)
            except OSError:  # 6006 is taken (another dashboard?): any free port
                _, address = start_in_background(self.folder, port=0)
            print(f"glassnet dashboard: {address}#/run/{self.name}", flush=True)
        try:
            architecture = describe(state.model)
        except GlassnetError as e:  # an unregistered layer: logged, but no snapshots
            architecture = {"unknown": f"{type(e).__name__}: {e}"}
            self.snapshots = False
        config = dict(self.config or {})
        run = getattr(state, "run", None)
        config.setdefault(
            "fit",
            {
                "epochs": state.epochs,
                "batches_per_epoch": state.batches_per_epoch,
                "optimizer": type(state.optimizer).__name__,
                "lr": self._lr(state),
                **(getattr(run, "fingerprint", None) or {}),
            },
        )
        self._meta(
            format=FORMAT,
            name=self.name,
            status="running",
            started=time.time(),
            config=json.dumps(config, default=str),
            architecture=json.dumps(architecture),
            model=repr(state.model),
        )
        self._db.commit()
        self._validation = getattr(state, "validation", None)
        self._samples()
        _ACTIVE[0] += 1
        self._losses, self._times, self._segments = [], [], []
        self._flush_at = time.perf_counter() + self.flush_seconds
        self._period = (
            state.batches_per_epoch if self.stats_every == "auto" else self.stats_every
        )
        self._step = len(state.history) * state.batches_per_epoch
        self._previous, self._activations, self._hook = None, {}, None
        self._t0, self._spent, self._last_snapshot = time.thread_time(), 0.0, None
        self._modules = self._layer_names(state.model)

    def on_epoch_begin(self, state):
        self._epoch_start = time.perf_counter()
        self._lr_now = self._lr(state)  # schedules step between epochs
        self._new_segment, self._next_mark = True, self._step + 1
        if self._previous is None and (self._step + 1) % self._period == 0:
            self._prepare(state)  # this epoch's first batch is a stats step

    def on_batch_end(self, state, loss):
        # Kept lean, as it runs for every batch: everything else waits for a mark
        # (an epoch's first batch, a statistics step, or every 32nd step).
        self._step += 1
        self._losses.append(loss)
        self._times.append(time.time())
        if self._step >= self._next_mark:
            self._mark(state)

    def _mark(self, state):
        step, period = self._step, self._period
        if self._new_segment:  # where this epoch's losses start in the buffer
            self._segments.append(
                (len(self._losses) - 1, step, state.epoch, state.batch, self._lr_now)
            )
            self._new_segment = False
        if step % period == 0 and self._previous is not None:
            self._layer_stats(state, step)
        if (step + 1) % period == 0:
            self._prepare(state)
        if time.perf_counter() > self._flush_at:
            self._flush()
        multiple = step + period - step % period  # the next statistics step
        self._next_mark = min(
            multiple - 1 if multiple - 1 > step else multiple, step + 32
        )

    def on_epoch_end(self, state):
        seconds = time.perf_counter() - self._epoch_start
        logs = {k: _clean(v) for k, v in state.logs.items()}
        self._db.execute(
            "INSERT OR REPLACE INTO epochs VALUES (?, ?, ?, ?, ?, ?)",
            (
                state.epoch,
                self._step,
                json.dumps(logs),
                self._lr(state),
                seconds,
                time.time(),
            ),
        )
        if self._validation is not None and self._affordable():
            self._timed(self._confusion, state)
        if self._snapshot_due(state.epoch + 1, state):
            self._timed(self._snapshot, state)
        if time.perf_counter() > self._flush_at:
            self._flush()

    def on_train_end(self, state):
        if self._db is None:
            return
        _ACTIVE[0] -= 1
        self._unhook()
        error = sys.exc_info()[1]
        if isinstance(error, DivergedError):
            status = "diverged"
        elif error is not None:
            status = "crashed"
        elif getattr(state.history, "interrupted", False):
            status = "stopped"
        else:
            status = "finished"
        if (
            self.snapshots is not False
            and status != "crashed"
            and len(state.history)
            and self._last_snapshot != len(state.history) - 1
        ):
            self._snapshot(state, len(state.history) - 1)
        self._meta(
            status=status,
            finished=time.time(),
            error=None if error is None else f"{type(error).__name__}: {error}",
        )
        self._flush()
        self._db.close()
        self._db = None
        if self.serve and "ipykernel" not in sys.modules:
            print(
                "training ended; the dashboard keeps serving until Ctrl-C", flush=True
            )
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass

    # --- pieces ----------------------------------------------------------------------
    @staticmethod
    def _lr(state):
        lr = getattr(state.optimizer, "lr", None)
        return float(lr) if isinstance(lr, (int, float)) else None

    def _flush(self):
        """Write the buffered batch losses (every ``every``-th step) and commit."""
        losses, times, segments = self._losses, self._times, self._segments
        rows = []
        for k, (start, step, epoch, batch, lr) in enumerate(segments):
            end = segments[k + 1][0] if k + 1 < len(segments) else len(losses)
            rows += [
                (step + j, epoch, batch + j, losses[start + j], lr, times[start + j])
                for j in range(end - start)
                if (step + j) % self.every == 0
            ]
        if rows:
            self._db.executemany(
                "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?)", rows
            )
        self._losses, self._times, self._segments = [], [], []
        if segments and losses:  # the epoch in progress goes on after this flush
            _, step, epoch, batch, lr = segments[-1]
            done = len(losses) - segments[-1][0]
            self._segments = [(0, step + done, epoch, batch + done, lr)]
        self._db.commit()
        self._flush_at = time.perf_counter() + self.flush_seconds

    def _affordable(self) -> bool:
        return self._spent <= self.budget * (time.thread_time() - self._t0)

    def _timed(self, work, *args):
        start = time.thread_time()
        work(*args)
        self._spent += time.thread_time() - start

    def _snapshot_due(self, epoch, state) -> bool:
        if self.snapshots is False:
            return False
        if self.snapshots == "auto":
            return self._affordable()
        if isinstance(self.snapshots, (list, tuple)):
            return epoch in self.snapshots
        return epoch % self.snapshots == 0

    @staticmethod
    def _layer_names(model) -> dict:
        named = list(model.named_children())
        if not named:
            return {id(model): type(model).__name__}
        return {id(m): f"{n}.{type(m).__name__}" for n, m in named}

    def _prepare(self, state):
        """Before a stats step: copy the weights (for the update ratio) and watch
        the layers' outputs during that step's forward pass."""
        from ..nn import module as module_mod

        if self.stats_every == "auto" and not self._affordable():
            return
        start = time.thread_time()
        self._previous = {n: p.data.copy() for n, p in state.model.named_parameters()}
        self._activations = {}
        if self._hook is None:

            def hook(module, inputs, output):
                name = self._modules.get(id(module))
                if name is not None:
                    self._activations[name] = output.data

            self._hook = hook
            module_mod.FORWARD_HOOKS.append(hook)
        self._spent += time.thread_time() - start

    def _unhook(self):
        from ..nn import module as module_mod

        if self._hook is not None:
            module_mod.FORWARD_HOOKS.remove(self._hook)
            self._hook = None

    def _layer_stats(self, state, step):
        start = time.thread_time()
        self._unhook()
        rows = []
        for name, p in state.model.named_parameters():
            ratio = None
            if self._previous is not None and name in self._previous:
                norm = float(np.linalg.norm(p.data))
                change = float(np.linalg.norm(p.data - self._previous[name]))
                ratio = change / norm if norm > 0 else None
            rows.append(self._row(step, state.epoch, name, "weight", p.data, ratio))
            if p.grad is not None:
                rows.append(self._row(step, state.epoch, name, "grad", p.grad, None))
        for name, value in self._activations.items():
            rows.append(self._row(step, state.epoch, name, "activation", value, None))
        self._db.executemany(
            "INSERT OR REPLACE INTO layer_stats VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self._previous, self._activations = None, {}
        self._spent += time.thread_time() - start

    @staticmethod
    def _row(step, epoch, name, kind, values, ratio):
        mean, std, lo, hi, counts = tensor_stats(values)
        return (
            step,
            epoch,
            name,
            kind,
            _clean(mean),
            _clean(std),
            lo,
            hi,
            json.dumps(counts),
            _clean(ratio),
        )

    def _samples(self):
        """A few validation samples for the dashboard's trace of one sample, and
        for 2-D inputs up to 500 points and labels for its decision regions
        (both drawn from the snapshots, not during training)."""
        if self._validation is None:
            return
        Xv, yv = (np.asarray(a) for a in self._validation)
        if Xv.ndim >= 2 and Xv[0].size <= 4096:
            self._meta(samples=json.dumps({"x": Xv[:8].tolist(), "y": yv[:8].tolist()}))
        if (
            Xv.ndim != 2
            or Xv.shape[1] != 2
            or yv.dtype.kind not in "iub"
            or yv.ndim != 1
        ):
            return
        self._meta(
            points2d=json.dumps(
                {
                    "x": Xv[:500].astype(float).tolist(),
                    "y": yv[:500].astype(int).tolist(),
                }
            )
        )

    def _confusion(self, state):
        from ..metrics import confusion_matrix
        from .loop import predict

        Xv, yv = self._validation
        out = predict(state.model, Xv)
        if out.ndim != 2 or np.asarray(yv).dtype.kind not in "iub":
            return  # not a classifier on class labels
        try:
            matrix = confusion_matrix(yv, out, num_classes=max(out.shape[1], 2))
        except GlassnetError:  # labels the matrix cannot count: leave it out
            return
        self._db.execute(
            "INSERT OR REPLACE INTO confusion VALUES (?, ?)",
            (state.epoch, json.dumps(np.asarray(matrix).tolist())),
        )

    def _snapshot(self, state, epoch=None):
        import copy

        from ..io.model import save

        folder = os.path.join(self.folder, self.name + ".snapshots")
        epoch = state.epoch if epoch is None else epoch
        file = f"epoch-{epoch + 1:04d}.glassnet"
        frozen = copy.deepcopy(state.model)  # training goes on while the writer saves

        def write(db):  # in the writer thread; its time counts against the budget
            start = time.thread_time()
            os.makedirs(folder, exist_ok=True)
            save(
                frozen,
                os.path.join(folder, file),
                metadata={"run": self.name, "epoch": epoch + 1},
            )
            self._spent += time.thread_time() - start

        self._db.call(write)
        self._db.execute(
            "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)",
            (epoch, self._step, file),
        )
        self._last_snapshot = epoch


class _Writer:
    """The run store's connection, owned by a thread of its own.

    The training thread queues statements and commits, and returns at once;
    file I/O (SQLite's writes, snapshots' fsyncs) happens beside training.
    ``synchronous=OFF``: a killed process loses nothing committed (the OS has
    the pages); only a power cut could cost the last moments of a log.
    """

    def __init__(self, path):
        import queue
        import threading

        self._jobs = queue.SimpleQueue()
        self._batch, self.error = [], None
        self._thread = threading.Thread(
            target=self._run, args=(path,), name="glassnet-runlog", daemon=True
        )
        self._thread.start()

    def _run(self, path):
        db = sqlite3.connect(path)
        db.execute("PRAGMA synchronous=OFF")
        db.executescript("BEGIN;" + SCHEMA + "COMMIT;")  # one transaction: 4x cheaper
        db.execute("PRAGMA journal_mode=WAL")
        while True:
            job = self._jobs.get()
            if job is None:
                break
            try:
                job(db)
            except Exception as e:  # noqa: BLE001 (any failure) kept for close() to raise in the training thread
                self.error = self.error or e
        db.close()

    # Work is gathered here and handed over at commit(): one wake-up of the
    # writer per commit, so training is not interrupted for every statement.
    def execute(self, sql, args=()):
        self._batch.append(lambda db: db.execute(sql, args))

    def executemany(self, sql, rows):
        self._batch.append(lambda db: db.executemany(sql, rows))

    def call(self, fn):
        self._batch.append(fn)

    def commit(self):
        jobs, self._batch = self._batch, []

        def transaction(db):
            for job in jobs:
                job(db)
            db.commit()

        self._jobs.put(transaction)

    def close(self):
        self.commit()
        self._jobs.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


def read_meta(path) -> dict:
    """The ``meta`` table of a run store, opened read-only, as a dict."""
    db = connect_readonly(path)
    try:
        return dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()


def connect_readonly(path) -> sqlite3.Connection:
    """Open a run store read-only (``mode=ro``): a reader can never change a run."""
    from urllib.request import pathname2url

    uri = "file:" + pathname2url(os.path.abspath(os.fspath(path))) + "?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def for_fit(log_dir, dashboard: bool) -> RunLog:
    """The RunLog ``fit(log_dir=..., dashboard=...)`` adds to its callbacks."""
    return RunLog("runs" if log_dir is None else log_dir, serve=dashboard)
