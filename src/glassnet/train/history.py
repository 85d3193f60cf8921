"""History: the figures of every epoch, as fit returns them."""

from __future__ import annotations


class History:
    """Per-epoch figures of a training run.

    ``history.history`` maps a name (``'loss'``, ``'accuracy'``,
    ``'val_loss'``, ...) to a list with one value per finished epoch; the
    same lists are reachable as attributes (``history.loss``) and by
    indexing (``history['val_accuracy']``).
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epochs: list[int] = []
        self.interrupted = False

    def record(self, epoch: int, logs: dict) -> None:
        self.epochs.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __getattr__(self, key: str):
        history = self.__dict__.get("history", {})
        if key in history:
            return history[key]
        raise AttributeError(
            f"History has no figure {key!r}; it has {sorted(history)}."
        )

    def __len__(self) -> int:
        return len(self.epochs)

    def to_dict(self) -> dict:
        return {
            "epochs": list(self.epochs),
            **{k: list(v) for k, v in self.history.items()},
        }

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4f}" for k, v in self.history.items() if v)
        return f"History({len(self)} epochs{': ' + last if last else ''})"

    def _repr_html_(self) -> str:
        """Jupyter's display: each figure's curve and first/best/last value,
        and a table of the epochs."""
        from .._display import history_html

        return history_html(self)
