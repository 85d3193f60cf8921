"""The progress display of ``fit``: one display per run, fitted to where it runs.

* **In a terminal** (stderr is a TTY and tqdm is installed): one bar over
  every batch of every epoch, with tqdm's rate and time left, the epoch
  number, the running loss of the current epoch and the last epoch's
  figures (``val_loss``, ``accuracy``, ...).
* **In a Jupyter notebook**: one display, updated in place, with a table of
  the finished epochs, the running loss and a curve of the loss batch by
  batch (inline SVG, no matplotlib, no ipywidgets). Its plain-text form is
  a line per finished epoch, so static renders of an executed notebook
  (nbconvert, GitHub) show every epoch.
* **Anywhere else** (a log file, a pipe), or with ``verbose=2``: a plain
  line per epoch, with the time it took and the time left.

``verbose=0`` shows nothing.
"""

from __future__ import annotations

import sys
import time

from .._display import esc, number, sparkline, table
from .callbacks import Callback

__all__ = ["Progress"]

_CURVE_POINTS = 240  # the live loss curve keeps at most this many points
_REFRESH = 0.25  # seconds between two updates of a notebook display


def _notebook_display():
    """IPython's ``display`` when running inside a Jupyter kernel, else None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is None:
        return None
    from IPython.display import display

    return display


def _terminal_bar():
    """tqdm's class when stderr is a terminal and tqdm is installed, else None."""
    try:
        if not sys.stderr.isatty():
            return None
        from tqdm import tqdm
    except (ImportError, AttributeError, ValueError):
        return None
    return tqdm


def _epoch_text(logs: dict) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in logs.items())


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return (
        f"{minutes} min {seconds:02d} s"
        if minutes < 60
        else (f"{minutes // 60} h {minutes % 60:02d} min")
    )


class Progress(Callback):
    """Show how training goes: one bar, one notebook display, or a line per epoch.

    Parameters
    ----------
    verbose : int
        0 nothing; 1 a display fitted to where the output goes (see the
        module docstring); 2 a plain line per epoch everywhere.
    stream : file, optional
        Where plain lines go (default ``sys.stdout``). Giving a stream
        always means plain lines.
    """

    def __init__(self, verbose: int = 1, stream=None):
        self.verbose = int(verbose)
        self.stream = stream

    # -- choosing the display ---------------------------------------------------

    def on_train_begin(self, state):
        self._mode, self._bar, self._handle = "lines", None, None
        self._tqdm = self._display = None
        if self.verbose == 1 and self.stream is None:
            self._display = _notebook_display()
            self._tqdm = None if self._display else _terminal_bar()
            self._mode = (
                "notebook" if self._display else ("bar" if self._tqdm else "lines")
            )
        self._start = time.perf_counter()
        self._first_epoch = None
        self._lines: list[str] = []
        self._epochs: list[tuple[int, dict]] = []
        self._curve: list[float] = []
        self._stride, self._batches_seen = 1, 0
        self._shown = 0.0

    def on_epoch_begin(self, state):
        if self._first_epoch is None:
            self._first_epoch = state.epoch
            if self._mode == "bar":
                n = state.batches_per_epoch
                self._bar = self._tqdm(
                    total=state.epochs * n,
                    initial=state.epoch * n,
                    desc=f"epoch {state.epoch + 1}/{state.epochs}",
                    unit="batch",
                    dynamic_ncols=True,
                    leave=True,
                )
        self._epoch_start = time.perf_counter()
        self._loss_sum, self._seen = 0.0, 0
        if self._bar is not None:
            self._bar.set_description(
                f"epoch {state.epoch + 1}/{state.epochs}", refresh=False
            )

    # -- every batch --------------------------------------------------------------

    def on_batch_end(self, state, loss):
        if not self.verbose or self._mode == "lines":
            return
        self._loss_sum += loss
        self._seen += 1
        running = self._loss_sum / self._seen
        if self._mode == "bar":
            if self._seen % 10 == 0 or self._seen == state.batches_per_epoch:
                self._bar.set_postfix_str(self._postfix(running), refresh=False)
            self._bar.update(1)
            return
        self._add_to_curve(loss)
        now = time.perf_counter()
        if now - self._shown >= _REFRESH:
            self._show(state, running)

    def _postfix(self, running) -> str:
        last = self._epochs[-1][1] if self._epochs else {}
        rest = "  ".join(f"{k} {v:.4f}" for k, v in last.items() if k != "loss")
        return f"loss {running:.4f}" + (f"  (last epoch: {rest})" if rest else "")

    def _add_to_curve(self, loss):
        """Keep every ``stride``-th batch loss; halve the points when full."""
        self._batches_seen += 1
        if (self._batches_seen - 1) % self._stride == 0:
            self._curve.append(float(loss))
            if len(self._curve) > _CURVE_POINTS:
                self._curve = self._curve[::2]
                self._stride *= 2

    # -- every epoch ----------------------------------------------------------------

    def on_epoch_end(self, state):
        if not self.verbose:
            return
        seconds = time.perf_counter() - self._epoch_start
        done = state.epoch + 1 - self._first_epoch
        left = (
            (time.perf_counter() - self._start)
            / done
            * (state.epochs - state.epoch - 1)
        )
        line = (
            f"epoch {state.epoch + 1}/{state.epochs}  {_epoch_text(state.logs)}  "
            f"({seconds:.2f} s"
            + (
                f", about {_duration(left)} left)"
                if state.epoch + 1 < state.epochs
                else ")"
            )
        )
        self._lines.append(line)
        self._epochs.append((state.epoch, dict(state.logs)))
        if self._mode == "bar":
            self._bar.set_postfix_str(
                self._postfix(state.logs.get("loss", 0.0)), refresh=True
            )
        elif self._mode == "notebook":
            self._show(state, None)
        else:
            print(line, file=self.stream or sys.stdout, flush=True)

    def on_train_end(self, state):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._mode == "notebook" and self._handle is not None:
            self._show(state, None, finished=True)

    # -- the notebook display -----------------------------------------------------

    def _show(self, state, running, finished=False):
        status = _Status(self, state, running, finished)
        if self._handle is None:
            self._handle = self._display(status, display_id=True)
        else:
            self._handle.update(status)
        self._shown = time.perf_counter()


class _Status:
    """What the notebook display shows at one moment: HTML, and plain lines."""

    def __init__(self, progress: Progress, state, running, finished):
        self.lines = list(progress._lines)
        self.epochs = list(progress._epochs)
        self.curve = list(progress._curve)
        self.elapsed = time.perf_counter() - progress._start
        self.epoch, self.total = state.epoch + 1, state.epochs
        self.batch, self.batches = progress._seen, state.batches_per_epoch
        self.running, self.finished = running, finished
        self.stopped = bool(
            finished and self.epochs and self.epochs[-1][0] + 1 < state.epochs
        )

    def headline(self) -> str:
        if self.finished:
            end = " (stopped early)" if self.stopped else ""
            return f"fit: {len(self.epochs)} epochs in {_duration(self.elapsed)}{end}"
        where = f"epoch {self.epoch}/{self.total}"
        if self.running is not None:
            where += (
                f", batch {self.batch}/{self.batches}, running loss {self.running:.4f}"
            )
        return f"fit: {where}, {_duration(self.elapsed)} so far"

    def __repr__(self) -> str:
        return "\n".join([*self.lines, self.headline()])

    def _repr_html_(self) -> str:
        done = len(self.epochs) / max(self.total, 1)
        bar = (
            f"<div style='width:240px;height:8px;background:#ddd;display:inline-block'>"
            f"<div style='width:{240 * done:.0f}px;height:8px;background:#0072B2'>"
            "</div></div>"
        )
        curve = ""
        if len(self.curve) > 1:
            curve = (
                "<div>loss, batch by batch: "
                + sparkline(self.curve, width=240, height=48, title="batch loss")
                + f" {number(self.curve[-1])}</div>"
            )
        rows = []
        names = list(self.epochs[-1][1]) if self.epochs else []
        for epoch, logs in self.epochs[-8:]:
            rows.append(
                [epoch + 1, *(number(logs.get(k, float("nan"))) for k in names)]
            )
        shown = (
            ""
            if not rows
            else table(
                ["epoch", *names],
                rows,
                caption=None
                if len(self.epochs) <= 8
                else f"the last 8 of {len(self.epochs)} epochs",
            )
        )
        return (
            f"<div style='font-family:monospace;font-size:12px'>"
            f"<div>{bar} {esc(self.headline())}</div>{curve}{shown}</div>"
        )
