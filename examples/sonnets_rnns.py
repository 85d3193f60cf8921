"""GRU, LSTM and a tiny transformer on the sonnets, one character at a time.

Each model reads the sonnets (``examples/data/sonnets.txt``, the char-LSTM
demo's text) as a stream of characters and predicts the next one at every
step. All train the same way -- the same random windows of ``--seq-len``
characters, Adam, the same number of steps -- and are measured the same way:

* **loss per character on held-out text**: cross-entropy in nats on the last
  tenth of the text, which no model trains on, read in windows of
  ``--seq-len`` (ln of the vocabulary size is what guessing uniformly scores),
  every ``--every`` steps: the best value and the last (the text is short,
  5,618 characters, so a model that learns fast also overfits soon: the
  training loss, dashed in the figure, keeps falling while the held-out
  loss turns back up);
* **tokens/s**: characters trained on per second of training.

The models are the entries of :data:`MODELS`, ``name -> constructor``; a
constructor takes (vocabulary size, seed) and returns a model from ids
(batch, time) to next-character scores (batch, time, vocabulary). Adding a
model to the comparison is adding one entry.

Run::

    python examples/sonnets_rnns.py                 # a few minutes on 2 cores
    python examples/sonnets_rnns.py --steps 100     # a quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT = os.path.join(HERE, "data", "sonnets.txt")
FIGURE = os.path.join(HERE, "..", "docs", "img", "sonnets-rnns.png")
HIDDEN = 96


def load_text(path: str = TEXT):
    """The sorted vocabulary of characters and the text as ids."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vocab = sorted(set(text))
    lookup = {ch: i for i, ch in enumerate(vocab)}
    return vocab, np.array([lookup[ch] for ch in text], dtype=np.int64)


def recurrent(cls, hidden: int = HIDDEN, **options):
    """A constructor: OneHot -> ``cls`` (a recurrent layer) -> Dense at every step."""

    def make(vocab_size: int, seed: int):
        from glassnet.nn import Dense, OneHot, Sequential

        return Sequential(
            OneHot(vocab_size),
            cls(vocab_size, hidden, **options),
            Dense(hidden, vocab_size),
            seed=seed,
        )

    return make


def transformer(vocab_size: int, seed: int):
    """The tiny transformer of ``examples/tiny_transformer.py`` (width 48, two
    blocks of 4-head causal attention, about as many weights as the LSTM)."""
    sys.path.insert(0, HERE)
    import tiny_transformer

    return tiny_transformer.build(vocab_size, hidden=48, seed=seed)


def _models():
    from glassnet.nn import GRU, LSTM

    return [
        ("GRU", recurrent(GRU)),
        ("LSTM", recurrent(LSTM)),
        ("transformer", transformer),
    ]


#: name -> constructor(vocab_size, seed); the comparison runs every entry.
MODELS = _models()


def windows(ids, seq_len: int):
    """Non-overlapping (inputs, next characters) windows covering ``ids``."""
    n = (len(ids) - 1) // seq_len
    x = ids[: n * seq_len].reshape(n, seq_len)
    y = ids[1 : n * seq_len + 1].reshape(n, seq_len)
    return x, y


def held_out_loss(model, x, y) -> float:
    """Mean cross-entropy (nats per character) of ``model`` on the windows."""
    from glassnet import no_grad
    from glassnet.ops.loss import cross_entropy

    model.eval()
    with no_grad():
        value = float(cross_entropy(model(x), y).item())
    model.train()
    return value


def train(name, make, ids, vocab_size, args) -> dict:
    """Train one model; its held-out loss every ``args.every`` steps, tokens/s."""
    from glassnet import optim
    from glassnet.ops.loss import cross_entropy
    from glassnet.optim.clip import clip_grad_norm

    split = int(len(ids) * 0.9)
    train_ids, test_x, test_y = ids[:split], *windows(ids[split:], args.seq_len)
    model = make(vocab_size, args.seed)
    params = model.parameters()
    optimizer = optim.Adam(model, lr=args.lr)
    rng = np.random.default_rng(args.seed)  # the same windows for every model
    starts = rng.integers(0, split - args.seq_len - 1, (args.steps, args.batch_size))
    offsets = np.arange(args.seq_len + 1)
    curve, seconds, seen = [(0, held_out_loss(model, test_x, test_y), np.nan)], 0.0, []
    for step in range(1, args.steps + 1):
        chunk = train_ids[starts[step - 1][:, None] + offsets]
        begin = time.perf_counter()
        optimizer.zero_grad()
        loss = cross_entropy(model(chunk[:, :-1]), chunk[:, 1:])
        loss.backward()
        clip_grad_norm(params, 1.0)
        optimizer.step()
        seconds += time.perf_counter() - begin
        seen.append(float(loss.item()))
        if step % args.every == 0 or step == args.steps:
            curve.append((step, held_out_loss(model, test_x, test_y), np.mean(seen)))
            seen = []
    tokens = args.steps * args.batch_size * args.seq_len
    curve = np.array(curve)  # step, held-out loss, training loss since the last
    best = int(np.argmin(curve[:, 1]))
    return {
        "name": name,
        "params": model.num_parameters(),
        "curve": curve,
        "held_out": curve[-1, 1],
        "best": curve[best, 1],
        "best_step": int(curve[best, 0]),
        "train": curve[-1, 2],
        "tokens_per_s": tokens / seconds,
        "model": model,
    }


def draw(results, vocab_size: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for r in results:
        steps, loss, seen = r["curve"].T
        (line,) = ax.plot(
            steps,
            loss,
            marker="o",
            markersize=3,
            label=f"{r['name']} held out ({r['params']:,} parameters, "
            f"{r['tokens_per_s']:,.0f} tokens/s): best {r['best']:.3f}",
        )
        ax.plot(steps, seen, linestyle="--", color=line.get_color(), linewidth=1)
    ax.plot([], [], "k--", linewidth=1, label="training loss (dashed)")
    ax.axhline(np.log(vocab_size), color="grey", linestyle=":", linewidth=1)
    ax.text(0, np.log(vocab_size), " uniform guess", va="bottom", fontsize=8)
    ax.set_xlabel("training step (batches of windows)")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title("The sonnets, one character at a time", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seq-len", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--every", type=int, default=50, help="steps between tests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", default=FIGURE, help="'' for no figure")
    args = parser.parse_args(argv)

    vocab, ids = load_text()
    print(
        f"{len(ids):,} characters, {len(vocab)} distinct (uniform guess: "
        f"{np.log(len(vocab)):.3f} nats); held out: the last 10%"
    )
    results = []
    for name, make in MODELS:
        r = train(name, make, ids, len(vocab), args)
        print(
            f"{name:>6}: held-out loss best {r['best']:.3f} nats per character "
            f"(step {r['best_step']}), last {r['held_out']:.3f} (training "
            f"{r['train']:.3f}); {r['tokens_per_s']:,.0f} tokens/s; "
            f"{r['params']:,} parameters"
        )
        results.append(r)
    if args.figure:
        draw(results, len(vocab), args.figure)
        print(f"figure: {os.path.relpath(args.figure)}")
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
