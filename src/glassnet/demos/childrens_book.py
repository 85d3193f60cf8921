"""The children's book: a plain RNN forgets who saw; an LSTM remembers.

Every sentence of the book is NAME saw NAME. with two different names out of
Doug, Jane and Spot. Three networks read the book, one word at a time, and
learn to predict the next word; then each writes 1,000 sentences by sampling
its own predictions (temperature 1) and feeding them back in:

* no memory: a Dense layer on the current word only. After "saw" it cannot
  know who the subject was, so it picks the object at random and writes
  "Doug saw Doug." about a third of the time it gets that far;
* a plain RNN, whose hidden state carries the past forward;
* an LSTM, whose gated cell state does.

In the talk's short book ("Doug saw Jane.") the name to avoid is only two
words back, and a plain RNN avoids it as well as the LSTM (both 99.6-100 %
grammatical over seeds 0-7). The seed's point -- "vanilla recurrent neural
networks ... can actually look back several time steps as well but not very
many" -- shows in the *long* book, where each sentence has up to ten "looked
and" between the names ("Doug looked and looked and saw Jane."): the RNN
writes "Doug ... saw Doug." about one sentence in five, the LSTM about one in
a hundred (docs/childrens-book.md has the table over seeds). Each sentence
is checked against the book's grammar; the report gives the share that are
grammatical and the share that are "X saw X." slips, and how likely each
network is to name the subject again as the distance grows.
"""

from __future__ import annotations

import time

import numpy as np

DESCRIPTION = (
    "RNN vs LSTM write 1,000 sentences like 'Doug looked and looked and saw "
    "Jane.'; mistakes counted"
)

KINDS = ("no memory", "RNN", "LSTM")
HIDDEN, EPOCHS, SEED, N_SENTENCES = 16, 120, 0, 1000  # EPOCHS: the short book's
LOOKS = 10  # the long book: up to ten "looked and" between the names
# Per book (max_looks): sentences read, Adam's learning rate, epochs. For the
# long book, lr 0.03 or 100-120 epochs left an LSTM seed in ten at 8-15 % "X saw
# X."; these settings keep all ten below 5 % (examples/childrens_book_memory.py).
BOOKS = {0: (400, 0.02, EPOCHS), LOOKS: (300, 0.02, 200)}
_STOP = 4  # the period


def book_windows(
    n_sentences: int = 400, per_window: int = 2, seed: int = SEED, max_looks: int = 0
):
    """Next-word training pairs: windows that start on a period, ``per_window``
    sentences long (the longest sentences' length, so windows are equal).

    The book is read as ". Doug saw Jane. Spot saw Doug. ...": every window
    starts on a period (the start of a sentence, as when writing), and the
    target of each word is the word after it. In the short book each window
    is exactly ``per_window`` sentences; in the long one
    (``max_looks`` > 0, see :func:`glassnet.datasets.childrens_book`) it
    holds at least that many and may end inside a sentence.
    """
    from ..datasets import childrens_book

    book = childrens_book(n_sentences, seed=seed, max_looks=max_looks)
    tokens = np.concatenate([[_STOP], book.tokens])
    width = (4 + 2 * max_looks) * per_window + 1
    starts = np.flatnonzero(tokens[: len(tokens) - width + 1] == _STOP)
    windows = np.stack([tokens[s : s + width] for s in starts])
    return windows[:, :-1], windows[:, 1:]


def build(kind: str, hidden_size: int = HIDDEN, seed: int = SEED, vocab_size: int = 5):
    """The three readers: symbols in (one-hot), next-word scores out, at every step.

    ``vocab_size`` is 5 for the short book, 7 for the long one
    (:data:`glassnet.datasets.LONG_BOOK_VOCAB`).
    """
    from ..nn import LSTM, RNN, Dense, OneHot, Sequential

    V = vocab_size
    if kind == "no memory":
        return Sequential(OneHot(V), Dense(V, V), seed=seed)
    layer = {"RNN": RNN, "LSTM": LSTM}[kind](V, hidden_size)
    return Sequential(OneHot(V), layer, Dense(hidden_size, V), seed=seed)


def one_blas_thread():
    """A context in which BLAS uses one thread (with threadpoolctl; else no change).

    The LSTM's backward pass makes many small BLAS calls; on a busy two-core
    machine OpenBLAS's threads made training many times slower.
    """
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def train_reader(
    kind: str,
    hidden_size: int = HIDDEN,
    epochs: int | None = None,
    seed: int = SEED,
    max_looks: int = 0,
):
    """Train one reader on the short book (``max_looks=0``) or the long one
    (``max_looks=LOOKS``): loss at every word, full BPTT per window, Adam,
    BLAS on one thread (:func:`one_blas_thread`).
    ``epochs`` defaults to the book's (:data:`BOOKS`)."""
    from ..losses import CrossEntropy
    from ..optim import Adam
    from ..train import fit

    n_sentences, lr, book_epochs = BOOKS[max_looks]
    epochs = book_epochs if epochs is None else epochs
    X, Y = book_windows(n_sentences, seed=seed, max_looks=max_looks)
    model = build(kind, hidden_size, seed, vocab_size=7 if max_looks else 5)
    with one_blas_thread():
        fit(
            model,
            X,
            Y,
            loss=CrossEntropy(),
            optimizer=Adam(model, lr=lr),
            epochs=epochs,
            batch_size=32,
            clip_norm=5.0,
            metrics=[],
            seed=seed,
            verbose=0,
        )
    return model


def write_sentences(
    model,
    n: int = N_SENTENCES,
    temperature: float = 1.0,
    seed: int = SEED,
    steps: int = 48,
) -> list:
    """``n`` sentences written by ``model``: token lists, each ending with a period.

    Rows of ``steps`` words are written from a period; the whole sentences in
    them are kept (use more steps for longer sentences: the cut-off tail of a
    row is dropped).
    """
    from ..sequence import generate

    rng = np.random.default_rng(seed)
    sentences = []
    while len(sentences) < n:
        rows = generate(model, np.full((100, 1), _STOP), steps, temperature, seed=rng)
        for row in rows:
            cuts = np.flatnonzero(row == _STOP) + 1
            sentences += [row[a:b].tolist() for a, b in zip(np.r_[0, cuts[:-1]], cuts)]
    return sentences[:n]


def score(sentences) -> dict:
    """Share grammatical, share with an "X saw X" slip, and a few examples of each error."""
    from ..datasets import book_text, is_grammatical, saw_self

    good = [is_grammatical(s) for s in sentences]
    selfish = [bool(saw_self(s)) for s in sentences]
    bad = [book_text(s) for s, ok in zip(sentences, good) if not ok]
    return {
        "sentences": len(sentences),
        "grammatical": float(np.mean(good)),
        "saw_self": float(np.mean(selfish)),
        "examples": sorted(set(bad))[:4],
    }


def next_word(model, words: str) -> np.ndarray:
    """The model's probabilities for the word after ``words`` (the story so far)."""
    from ..datasets import book_tokens
    from ..ops.reduce import softmax_array
    from ..sequence import reset_states
    from ..tensor import no_grad

    ids = np.concatenate([[_STOP], book_tokens(words)])[None]
    reset_states(model)
    with no_grad():
        scores = model(ids).data[0, -1]
    return softmax_array(scores.astype(np.float64))


def doug_prompt(looks: int = 0, name: str = "Doug") -> str:
    """The story so far when the next word must be a name other than ``name``:
    ``"Jane saw Spot. Doug saw"``, with ``looks`` times "looked and" before "saw"."""
    return f"Jane saw Spot. {name}" + " looked and" * looks + " saw"


def recall(model, looks) -> np.ndarray:
    """How often the object would be the subject again, after "NAME (looked
    and) x k saw", for each k: the next-word probability of NAME among the
    three names' (so a slip of another kind, such as a period, does not count).

    Averaged over the three names, after the prompt ". Jane saw Spot. " (so
    the sentence starts as in the book). 0 is a reader that always
    remembers the subject (and avoids it), 1/3 one that picks a name at
    random -- no memory at all.
    """
    from ..datasets import BOOK_VOCAB

    def own_name(k: int, i: int) -> float:
        p = next_word(model, doug_prompt(k, BOOK_VOCAB[i]))[:3]
        return p[i] / p.sum()

    return np.array([np.mean([own_name(k, i) for i in range(3)]) for k in looks])


def measure(
    epochs: int | None = None,
    seed: int = SEED,
    n: int = N_SENTENCES,
    max_looks: int = 0,
) -> dict:
    """Train all three readers on a book and score ``n`` sentences from each.

    Returns {kind: figures}: ``grammatical`` and ``saw_self`` (shares of the
    sentences), ``examples`` of mistakes, the ``model``, ``seconds``,
    ``looks`` (= ``max_looks``), ``after_doug_saw`` (next-word probabilities
    after ``doug_prompt(max_looks)``) and ``recall`` (:func:`recall` for
    0..max_looks).
    """
    results = {}
    for kind in KINDS:
        start = time.perf_counter()
        model = train_reader(kind, epochs=epochs, seed=seed, max_looks=max_looks)
        written = write_sentences(model, n, seed=seed, steps=12 * (4 + 2 * max_looks))
        figures = score(written)
        figures.update(
            model=model,
            seconds=time.perf_counter() - start,
            looks=max_looks,
            after_doug_saw=next_word(model, doug_prompt(max_looks)),
            recall=recall(model, range(max_looks + 1)),
        )
        results[kind] = figures
    return results


def over_seeds(
    seeds=range(5),
    max_looks: int = LOOKS,
    n: int = N_SENTENCES,
    epochs: int | None = None,
) -> dict:
    """:func:`measure` for every seed, gathered by :func:`gather`.

    This is the children's book's table: ``seeds_table(over_seeds(), range(5))``
    prints it (about 10 s per seed on two cores, one BLAS thread).
    """
    return gather([measure(epochs, seed, n, max_looks) for seed in seeds])


def gather(runs) -> dict:
    """{kind: {"grammatical": array (seeds,), "saw_self": array (seeds,), "recall":
    array (seeds, max_looks + 1)}} from a list of :func:`measure` results."""
    return {
        kind: {
            key: np.array([r[kind][key] for r in runs])
            for key in ("grammatical", "saw_self", "recall")
        }
        for kind in KINDS
    }


def seeds_table(table: dict, seeds) -> str:
    """The over-seeds table of :func:`over_seeds` as text: mean, range, every seed
    (for one seed, its two shares)."""
    seeds = list(seeds)
    if len(seeds) == 1:
        lines = [
            f"{'network':10s} {'grammatical':>12s} {'X saw X.':>9s}   (seed {seeds[0]})"
        ]
        lines += [
            f"{kind:10s} {r['grammatical'][0]:12.1%} {r['saw_self'][0]:9.1%}"
            for kind, r in table.items()
        ]
        return "\n".join(lines)
    lines = [
        f"{'network':10s} {'grammatical':>22s}   {'X saw X.':>22s}",
        f"{'':10s} {'mean (min-max)':>22s}   {'mean (min-max)':>22s}",
    ]
    for kind, r in table.items():
        cells = [
            f"{a.mean():6.1%} ({a.min():5.1%}-{a.max():5.1%})"
            for a in (r["grammatical"], r["saw_self"])
        ]
        lines.append(f"{kind:10s} {cells[0]:>22s}   {cells[1]:>22s}")
    lines.append("")
    lines.append("per seed, X saw X.: " + ", ".join(f"seed {s}" for s in seeds))
    for kind, r in table.items():
        lines.append(f"  {kind:9s} " + "  ".join(f"{v:5.1%}" for v in r["saw_self"]))
    return "\n".join(lines)


def recall_table(table: dict, step: int = 2) -> str:
    """The ``recall`` of :func:`over_seeds` as text: for k = 0, step, ... "looked
    and", how often each network would name the subject again, mean over seeds."""
    curves = {kind: r["recall"].mean(axis=0) for kind, r in table.items()}
    ks = range(0, len(next(iter(curves.values()))), step)
    lines = [f"{'k =':>11s} " + "".join(f"{k:6d}" for k in ks)]
    lines += [
        f"  {kind:9s} " + "".join(f"{c[k]:6.1%}" for k in ks)
        for kind, c in curves.items()
    ]
    return "\n".join(lines)


def reading_gates(model, looks: int = 8, name: str = "Doug"):
    """An LSTM reader's gates while it reads ``". " + doug_prompt(looks, name)``.

    Returns ``(gates, words)``: ``layer.last_gates`` (forget, input,
    candidate, output, cell; each (1, time, hidden)) and the word read at
    each step, ready for :func:`glassnet.plot.lstm_gates`.
    """
    from ..datasets import LONG_BOOK_VOCAB, book_tokens
    from ..sequence import recurrent_layers, reset_states
    from ..tensor import no_grad

    [layer] = recurrent_layers(model)
    ids = np.r_[_STOP, book_tokens(doug_prompt(looks, name))][None]
    reset_states(model)
    layer.watch_gates = True
    try:
        with no_grad():
            model(ids)
    finally:
        layer.watch_gates = False
    return layer.last_gates, [LONG_BOOK_VOCAB[i] for i in ids[0]]


def memory_states(model, looks: int = 8) -> dict:
    """What a reader's memory holds while it reads "NAME (looked and) x looks saw".

    The three prompts (NAME = Doug, Jane, Spot; each after ". Jane saw Spot.")
    are read as one batch. Returns ``words`` (the words from NAME on),
    ``state`` (3, time, hidden): the LSTM's cell state or the RNN's hidden
    state from NAME on, and for an LSTM ``forget`` (3, time, hidden).
    """
    from ..datasets import BOOK_VOCAB, book_tokens
    from ..sequence import recurrent_layers, reset_states
    from ..tensor import no_grad

    [layer] = recurrent_layers(model)
    ids = np.stack(
        [np.r_[_STOP, book_tokens(doug_prompt(looks, name))] for name in BOOK_VOCAB[:3]]
    )
    first = 5  # ". Jane saw Spot ." comes first; NAME is word 5
    reset_states(model)
    is_lstm = type(layer).__name__ == "LSTM"
    layer.watch_gates = is_lstm
    try:
        with no_grad():
            x = model.layers[0](ids)
            hs = layer(x).data
    finally:
        layer.watch_gates = False
    words = doug_prompt(looks, "name").split(". ", 1)[1].split()
    if not is_lstm:
        return {"words": words, "state": hs[:, first:]}
    gates = layer.last_gates
    return {
        "words": words,
        "state": gates["cell"][:, first:],
        "forget": gates["forget"][:, first:],
    }


def spread(state: np.ndarray) -> np.ndarray:
    """How different the memory is for the three names, at each step: the mean
    distance between the three (time, hidden) states, as a share of the
    difference right after the name was read (1 = all kept, 0 = forgotten)."""
    a, b, c = state
    d = (
        np.linalg.norm(a - b, axis=-1)
        + np.linalg.norm(a - c, axis=-1)
        + np.linalg.norm(b - c, axis=-1)
    ) / 3
    return d / d[0]


def telling_units(cell: np.ndarray, units: int = 4) -> np.ndarray:
    """The ``units`` memory units whose cell state (3, time, hidden) differs
    most between the three names just before "saw", most different first."""
    return np.argsort(-np.ptp(cell[:, -2], axis=0))[:units]


def draw_memory(results: dict, path=None, looks: int = 8, units: int = 4):
    """The seed's picture: the RNN's memory of the subject fades over the looks;
    the LSTM's forget gates stay open and its cell state keeps the name.

    Top: :func:`spread` of the RNN's hidden state and of the LSTM's cell
    state. Below: the ``units`` LSTM memory units whose cell state differs
    most between the names -- their cell state for Doug, Jane and Spot, and
    their forget gate while reading "Doug ...".
    """
    from ..plot._style import NEGATIVE, POSITIVE, finish, new_figure, signed_cmap

    rnn = memory_states(results["RNN"]["model"], looks)
    lstm = memory_states(results["LSTM"]["model"], looks)
    words, T = lstm["words"], len(lstm["words"])
    cell = lstm["state"]
    keep = telling_units(cell, units)
    fig = new_figure(figsize=(9.0, 8.0), layout="constrained")
    grid = fig.add_gridspec(5, 1, height_ratios=[2.4, 1, 1, 1, 1])
    ax = fig.add_subplot(grid[0])
    faded, kept = spread(rnn["state"]), spread(lstm["state"])
    ax.plot(faded, "o-", color=NEGATIVE, label="plain RNN: hidden state")
    ax.plot(kept, "s-", color=POSITIVE, label="LSTM: cell state")
    ax.axhline(1, color="0.6", lw=0.8, ls=":")
    ax.set_ylim(0, max(1.2, ax.get_ylim()[1]))
    ax.set_xticks(range(T), words, fontsize=8.5)
    ax.set_ylabel("difference\n(1 = right after\nthe name)", fontsize=9)
    ax.set_title(
        "How different the memory is after reading Doug, Jane or Spot: at "
        f"'saw' the RNN keeps {faded[-1]:.0%} of the\ndifference, the LSTM "
        f"{kept[-1]:.0%} (its forget gates stay open, and each 'looked and' "
        "adds to it)",
        fontsize=10,
    )
    ax.legend(fontsize=9, loc="upper left")
    lim = float(np.abs(cell[:, :, keep]).max())
    for row, name in enumerate(("Doug", "Jane", "Spot")):
        ax = fig.add_subplot(grid[row + 1])
        shown = ax.imshow(
            cell[row][:, keep].T,
            cmap=signed_cmap(),
            vmin=-lim,
            vmax=lim,
            aspect="auto",
            interpolation="nearest",
        )
        ax.set_title(
            f"LSTM cell state while reading '{name} looked and ... saw'", fontsize=9.5
        )
        ax.set_xticks(range(T), [name, *words[1:]], fontsize=8.5)
        ax.set_yticks(range(len(keep)), [f"unit {u}" for u in keep], fontsize=8)
        fig.colorbar(shown, ax=ax, pad=0.01, aspect=8)
    ax = fig.add_subplot(grid[4])
    shown = ax.imshow(
        lstm["forget"][0][:, keep].T,
        cmap="Blues",
        vmin=0,
        vmax=1,
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_title(
        "their forget gate while reading 'Doug ...' (1 = keep the memory)", fontsize=9.5
    )
    ax.set_xticks(range(T), ["Doug", *words[1:]], fontsize=8.5)
    ax.set_yticks(range(len(keep)), [f"unit {u}" for u in keep], fontsize=8)
    fig.colorbar(shown, ax=ax, pad=0.01, aspect=8)
    return finish(fig, path)


def run(args=None, out=print) -> int:
    out(__doc__.strip().splitlines()[0])
    n_sentences, _, epochs = BOOKS[LOOKS]
    out(
        f"\nEach network reads the same {n_sentences}-sentence long book ({epochs} "
        f"epochs), up to {LOOKS} 'looked and' per sentence, then writes "
        f"{N_SENTENCES:,} sentences.\n"
    )
    results = measure(max_looks=LOOKS)
    report(results, out)
    path = getattr(args, "out", None)
    if not path:
        out(
            "\nPass --out PATH.png to draw the memories: the RNN's fading, the LSTM's "
            "gates holding the name."
        )
        return 0
    try:
        draw_memory(results, path)
    except ImportError:
        out("\nthe figure needs matplotlib: pip install 'glassnet[plot]'")
        return 0
    out(f"\nthe RNN's and the LSTM's memory of the subject over the looks: {path}")
    return 0


def report(results: dict, out=print) -> None:
    """Print the figures of :func:`measure`."""
    from ..datasets import LONG_BOOK_VOCAB

    looks = next(iter(results.values())).get("looks", 0)
    # The long book's memory is shown by distance below (recall), not after one prompt.
    after = "" if looks else "after 'Doug saw': P(Doug) P(Jane) P(Spot)"
    out(f"{'network':10s} {'grammatical':>12s} {'X saw X.':>9s}   {after}".rstrip())
    for kind, r in results.items():
        p = r["after_doug_saw"]
        probs = "" if looks else f"{' ' * 17}{p[0]:6.1%} {p[1]:7.1%} {p[2]:7.1%}"
        line = f"{kind:10s} {r['grammatical']:12.1%} {r['saw_self']:9.1%}   {probs}"
        out(line.rstrip())
    rnn, lstm = results["RNN"]["saw_self"], results["LSTM"]["saw_self"]
    if abs(rnn - lstm) <= 0.005:
        out(
            "\nHere the plain RNN avoids 'X saw X.' about as well as the LSTM: the name to "
            "avoid is\nonly two words back, which its hidden state carries easily. The "
            "network that sees\nonly the current word is the one that makes the story's "
            "mistakes."
        )
    else:
        better = "LSTM" if lstm < rnn else "RNN"
        out(
            f"\nHere the {better} makes fewer 'X saw X.' slips ({min(rnn, lstm):.1%} against "
            f"{max(rnn, lstm):.1%})."
        )
    curves = {kind: r["recall"] for kind, r in results.items() if "recall" in r}
    if curves and len(next(iter(curves.values()))) > 1:
        ks = range(0, len(next(iter(curves.values()))), 2)
        out(
            "\nHow often each would name the subject again after 'NAME (looked and) "
            "x k saw'\n(its probability among the three names; 0 = remembers, 33% = "
            "has forgotten who saw):"
        )
        out(f"{'k =':>10s} " + "".join(f"{k:6d}" for k in ks))
        for kind, c in curves.items():
            out(f"{kind:10s} " + "".join(f"{c[k]:6.1%}" for k in ks))
    out("")
    for kind, r in results.items():
        out(f"{kind}: {r['model']!r}".replace("\n", "\n  "))
        if r["examples"]:
            out("  some of its mistakes: " + " | ".join(r["examples"]))
        out(f"  trained and wrote in {r['seconds']:.1f} s")
    words = ", ".join(repr(w) for w in LONG_BOOK_VOCAB[: 7 if looks else 5])
    out(
        f"\nVocabulary: {words}. A sentence is grammatical when it is NAME saw NAME. "
        "with two\ndifferent names"
        + (" (and any number of 'looked and' before 'saw')." if looks else ".")
    )
