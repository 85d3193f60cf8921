"""What's for dinner: a recurrent network learns the flatmate's cooking cycle.

The flatmate cooks pizza, then sushi, then waffles, then pizza again, and
nothing else (not the weekday, not the weather) matters. Each day the
network is shown what was cooked last night, as a one-hot vector over the
three dishes, and predicts tonight. On nights you were away there is nothing
to show. A recurrent network copes the way the story tells: it takes its
own prediction for last night and plays it forward one step. Here that is
done literally -- when last night is unknown, the network's own one-hot
prediction for last night is fed in where the real dish would have been --
and, for comparison, by its hidden state alone (an all-zero input).
"""

from __future__ import annotations

import time

import numpy as np

DESCRIPTION = "an RNN predicts tonight's dinner, also after two weeks away"

HIDDEN, EPOCHS, SEED = 4, 60, 0
TRIP = 14  # nights away in the test months


def trip_months(n: int = 50, n_days: int = 40, seed: int = SEED + 1):
    """Test months: home on night 0, then 20% of nights away and a two-week trip.

    Each month's trip starts at a random night. Returns the
    :func:`glassnet.datasets.dinner` data and the (n, n_days) mask of trip nights.
    """
    from ..datasets import dinner

    rng = np.random.default_rng(seed)
    start = rng.integers(2, n_days - TRIP - 5, size=n)
    night = np.arange(n_days)
    on_trip = (night >= start[:, None]) & (night < (start + TRIP)[:, None])
    away = (rng.random((n, n_days)) < 0.2) | on_trip
    away[:, 0] = False  # you start the month at home: the first dinner is seen
    return dinner(n_days=n_days, n_sequences=n, away=away, seed=seed), on_trip


def train_dinner(hidden_size: int = HIDDEN, epochs: int = EPOCHS, seed: int = SEED):
    """An RNN trained on 128 sequences of 30 nights with single nights away; returns it.

    No trips in training: every night is away with probability 0.3, so gaps
    of more than three or four nights hardly ever occur. A loss at every
    step teaches every night's prediction (night 0, with nothing to go on,
    can only be a guess).
    """
    from ..datasets import dinner
    from ..losses import CrossEntropy
    from ..nn import RNN, Dense, Sequential
    from ..optim import Adam
    from ..train import fit

    data = dinner(n_days=30, n_sequences=128, away=0.3, seed=seed)
    model = Sequential(RNN(3, hidden_size), Dense(hidden_size, 3), seed=seed)
    fit(
        model,
        data.X,
        data.y,
        loss=CrossEntropy(),
        optimizer=Adam(model, lr=0.03),
        epochs=epochs,
        batch_size=32,
        clip_norm=5.0,
        seed=seed,
        verbose=0,
    )
    return model


def predict_nights(model, X, feed_back: bool = True) -> np.ndarray:
    """The network's dish for every night, reading the nights one at a time.

    With ``feed_back`` (the story's way), a night whose dinner you did not
    see is replaced by the network's own prediction for it, once it has
    seen at least one dinner; without it the input stays all zeros and only
    the hidden state remembers.
    """
    from ..sequence import carry_state
    from ..tensor import no_grad

    n, n_days, k = X.shape
    eye = np.eye(k, dtype=X.dtype)
    pred = np.zeros((n, n_days), np.int64)
    seen_any = np.zeros(n, bool)
    with no_grad(), carry_state(model):
        for t in range(n_days):
            x = X[:, t].copy()
            seen = x.any(axis=-1)
            seen_any |= seen
            if feed_back and t > 0:
                fill = ~seen & seen_any
                x[fill] = eye[pred[fill, t - 1]]
            pred[:, t] = model(x[:, None]).data[:, 0].argmax(axis=-1)
    return pred


def score(pred, data, trip=None) -> dict:
    """Right / counted nights, counting only nights after the first dinner you saw."""
    from ..datasets import dinner_rule

    knowable = dinner_rule(data.X) >= 0
    right = (pred == data.y) & knowable
    out = {"right": int(right.sum()), "nights": int(knowable.sum())}
    if trip is not None:
        after = np.zeros_like(trip)
        after[:, 1:] = trip[:, :-1] & ~trip[:, 1:]  # first night back
        during = (trip | after) & knowable
        out.update(
            trip_right=int((right & during).sum()), trip_nights=int(during.sum())
        )
    return out


def draw_month(model, data, row: int = 0, title=None, path=None):
    """One test month night by night: what was cooked (crosses), what the network
    said (dots, playing its own predictions forward), the nights away (grey)."""
    from ..datasets import DINNER_MENU
    from ..plot._style import CLASS_COLOURS, finish, new_figure

    pred = predict_nights(model, data.X)
    nights = np.arange(data.X.shape[1])
    away = ~data.X[row].any(axis=-1)
    right = int((pred[row] == data.y[row])[1:].sum())
    fig = new_figure(figsize=(8, 2.6))
    ax = fig.add_subplot()
    ax.bar(nights[away], 3, bottom=-0.5, width=1, color="0.87", label="away")
    ax.plot(nights, data.y[row], "x", color="black", ms=7, label="cooked")
    ax.plot(nights, pred[row], ".", color=CLASS_COLOURS[0], ms=7, label="network said")
    ax.set_yticks(range(len(DINNER_MENU)), DINNER_MENU)
    ax.set_ylim(-0.5, len(DINNER_MENU) - 0.5)
    ax.set_xlabel("night")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=8, ncols=3)
    ax.set_title(
        title
        or f"one test month: {right} of {len(nights) - 1} nights after the first right",
        fontsize=10,
    )
    return finish(fig, path)


def run(args=None, out=print) -> int:
    from ..datasets import DINNER_MENU, dinner_rule

    out(__doc__.strip().splitlines()[0])
    start = time.perf_counter()
    model = train_dinner()
    out(
        f"\ntrained in {time.perf_counter() - start:.1f} s on 128 sequences of 30 nights, "
        "away on 30% of nights at random (no long trips):"
    )
    out(f"{model}\n")

    data, trip = trip_months()
    pred = predict_nights(model, data.X)
    knowable = dinner_rule(data.X) >= 0
    row = 0
    first, last = np.flatnonzero(trip[row])[[0, -1]]
    out(f"One test month; you are away on nights {first}-{last}:")
    out(" night  last night you saw   network says   cooked")
    for t in range(data.X.shape[1]):
        seen = data.X[row, t]
        saw = DINNER_MENU[int(seen.argmax())] if seen.any() else "(away)" if t else "-"
        mark = (
            ""
            if pred[row, t] == data.y[row, t]
            else "   <- wrong"
            if knowable[row, t]
            else "   (nothing seen yet: a guess)"
        )
        out(
            f"  {t:3d}   {saw:18s}   {DINNER_MENU[pred[row, t]]:12s}   "
            f"{DINNER_MENU[data.y[row, t]]}{mark}"
        )

    out(
        f"\nAll {len(data.y)} test months (random nights away and a {TRIP}-night trip each):"
    )
    for feed_back, how in (
        (True, "playing its own predictions forward"),
        (False, "hidden state only (zeros when away)"),
    ):
        s = score(predict_nights(model, data.X, feed_back), data, trip)
        out(
            f"  {how:38s} {s['right']:,}/{s['nights']:,} nights right "
            f"({s['right'] / s['nights']:.1%}); during and just after the trips "
            f"{s['trip_right']:,}/{s['trip_nights']:,}"
        )
    out("(Nights before the first dinner you saw are not counted: nothing to go on.)")
    return 0
