"""The children's book: can a network learn to write "Doug saw Jane."?

Every sentence of the book is NAME saw NAME. with two different names out of
Doug, Jane and Spot. Three networks read the same book, one word at a time,
and learn to predict the next word; then each writes 1,000 sentences by
sampling its own predictions (temperature 1) and feeding them back in:

* no memory: a Dense layer on the current word only. After "saw" it cannot
  know who the subject was, so it writes "Doug saw Doug." about a third of
  the time -- the mistake the story pins on a network that looks one step
  back;
* a plain RNN, whose hidden state carries the past forward;
* an LSTM, whose gated cell state does.

Each sentence is checked against the book's grammar; the report gives the
share that are grammatical and the share that are "X saw X." slips.
"""

from __future__ import annotations

import time

import numpy as np

DESCRIPTION = "RNN vs LSTM write 1,000 sentences like 'Doug saw Jane.'; mistakes counted"

KINDS = ("no memory", "RNN", "LSTM")
HIDDEN, EPOCHS, SEED, N_SENTENCES = 16, 120, 0, 1000
_STOP = 4  # the period


def book_windows(n_sentences: int = 400, per_window: int = 2, seed: int = SEED):
    """Next-word training pairs: windows of ``per_window`` sentences, each after a period.

    The book is read as ". Doug saw Jane. Spot saw Doug. ...": every window
    starts on a period (the start of a sentence, as when writing), and the
    target of each word is the word after it.
    """
    from ..datasets import childrens_book

    tokens = np.concatenate([[_STOP], childrens_book(n_sentences, seed=seed).tokens])
    width = 4 * per_window + 1
    starts = np.arange(0, len(tokens) - width + 1, 4)
    windows = np.stack([tokens[s:s + width] for s in starts])
    return windows[:, :-1], windows[:, 1:]


def build(kind: str, hidden_size: int = HIDDEN, seed: int = SEED):
    """The three readers: symbols in (one-hot), next-word scores out, at every step."""
    from ..nn import LSTM, RNN, Dense, OneHot, Sequential

    if kind == "no memory":
        return Sequential(OneHot(5), Dense(5, 5), seed=seed)
    layer = {"RNN": RNN, "LSTM": LSTM}[kind](5, hidden_size)
    return Sequential(OneHot(5), layer, Dense(hidden_size, 5), seed=seed)


def train_reader(kind: str, hidden_size: int = HIDDEN, epochs: int = EPOCHS,
                 seed: int = SEED):
    """Train one reader on the book (loss at every word, full BPTT per window)."""
    from ..losses import CrossEntropy
    from ..optim import Adam
    from ..train import fit

    X, Y = book_windows(seed=seed)
    model = build(kind, hidden_size, seed)
    fit(model, X, Y, loss=CrossEntropy(), optimizer=Adam(model, lr=0.02), epochs=epochs,
        batch_size=32, clip_norm=5.0, metrics=[], seed=seed, verbose=0)
    return model


def write_sentences(model, n: int = N_SENTENCES, temperature: float = 1.0,
                    seed: int = SEED) -> list:
    """``n`` sentences written by ``model``: token lists, each ending with a period."""
    from ..sequence import generate

    rng = np.random.default_rng(seed)
    sentences = []
    while len(sentences) < n:
        rows = generate(model, np.full((100, 1), _STOP), 48, temperature, seed=rng)
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
    return {"sentences": len(sentences), "grammatical": float(np.mean(good)),
            "saw_self": float(np.mean(selfish)), "examples": sorted(set(bad))[:4]}


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


def measure(epochs: int = EPOCHS, seed: int = SEED, n: int = N_SENTENCES) -> dict:
    """Train all three readers and score 1,000 sentences from each: {kind: figures}."""
    results = {}
    for kind in KINDS:
        start = time.perf_counter()
        model = train_reader(kind, epochs=epochs, seed=seed)
        figures = score(write_sentences(model, n, seed=seed))
        figures.update(model=model, seconds=time.perf_counter() - start,
                       after_doug_saw=next_word(model, "Jane saw Spot. Doug saw"))
        results[kind] = figures
    return results


def run(args=None, out=print) -> int:
    out(__doc__.strip().splitlines()[0])
    out(f"\nEach network reads the same 400-sentence book ({EPOCHS} epochs), then writes "
        f"{N_SENTENCES:,} sentences.\n")
    report(measure(), out)
    return 0


def report(results: dict, out=print) -> None:
    """Print the figures of :func:`measure`."""
    from ..datasets import BOOK_VOCAB

    out(f"{'network':10s} {'grammatical':>12s} {'X saw X.':>9s}   "
        "after 'Doug saw': P(Doug) P(Jane) P(Spot)")
    for kind, r in results.items():
        p = r["after_doug_saw"]
        out(f"{kind:10s} {r['grammatical']:12.1%} {r['saw_self']:9.1%}   "
            f"{' ' * 17}{p[0]:6.1%} {p[1]:7.1%} {p[2]:7.1%}")
    rnn, lstm = results["RNN"]["saw_self"], results["LSTM"]["saw_self"]
    if abs(rnn - lstm) <= 0.005:
        out("\nHere the plain RNN avoids 'X saw X.' about as well as the LSTM: the name to "
            "avoid is\nonly two words back, which its hidden state carries easily. The "
            "network that sees\nonly the current word is the one that makes the story's "
            "mistakes.")
    else:
        better = "LSTM" if lstm < rnn else "RNN"
        out(f"\nHere the {better} makes fewer 'X saw X.' slips ({min(rnn, lstm):.1%} against "
            f"{max(rnn, lstm):.1%}).")
    out("")
    for kind, r in results.items():
        out(f"{kind}: {r['model']!r}".replace("\n", "\n  "))
        if r["examples"]:
            out("  some of its mistakes: " + " | ".join(r["examples"]))
        out(f"  trained and wrote in {r['seconds']:.1f} s")
    out(f"\nVocabulary: {', '.join(repr(w) for w in BOOK_VOCAB)}. A sentence is grammatical "
        "when it is NAME saw NAME. with two different names.")
