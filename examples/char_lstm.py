"""A character-level LSTM: read Shakespeare's sonnets one letter at a time, then write.

The text (``examples/data/sonnets.txt``, public domain, shipped with the
examples) is one long stream of characters. Each character is a symbol of a
small vocabulary, fed in as a one-hot vector; the LSTM predicts the next
character at every step. Training is truncated backpropagation through time
(:func:`glassnet.sequence.fit_stream`): the stream is cut into chunks of
``--seq-len`` characters, gradients flow back within a chunk, and the LSTM's
memory is carried from chunk to chunk. Then the model writes: it is given a
few words, and each character it picks is fed back in as the next input --
greedily (always the most likely character) and by sampling at two
temperatures.

Run::

    python examples/char_lstm.py                  # about a minute on a laptop
    python examples/char_lstm.py --epochs 5 --hidden 32 --length 80   # a quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT = os.path.join(HERE, "data", "sonnets.txt")


def load_text(path: str = TEXT):
    """The text, its sorted vocabulary of characters, and the text as ids."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vocab = sorted(set(text))
    lookup = {ch: i for i, ch in enumerate(vocab)}
    return text, vocab, np.array([lookup[ch] for ch in text], dtype=np.int64)


def build(vocab_size: int, hidden: int, seed: int):
    from glassnet.nn import LSTM, Dense, OneHot, Sequential

    return Sequential(
        OneHot(vocab_size),
        LSTM(vocab_size, hidden),
        Dense(hidden, vocab_size),
        seed=seed,
    )


def write(model, vocab, prompt: str, length: int, temperature: float, seed: int) -> str:
    from glassnet.sequence import generate

    lookup = {ch: i for i, ch in enumerate(vocab)}
    ids = np.array([lookup[ch] for ch in prompt if ch in lookup], dtype=np.int64)
    out = generate(model, ids, length, temperature=temperature, seed=seed)
    return prompt + "".join(vocab[i] for i in out)


def main(argv=None) -> int:
    from glassnet import losses, optim
    from glassnet.sequence import fit_stream

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--length", type=int, default=300, help="characters to write")
    parser.add_argument("--prompt", default="Shall I ")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    text, vocab, ids = load_text()
    print(
        f"{len(text):,} characters, {len(vocab)} distinct; LSTM with {args.hidden} units"
    )
    model = build(len(vocab), args.hidden, args.seed)
    print(model)
    optimizer = optim.Adam(model, lr=args.lr)
    loss = losses.CrossEntropy()
    start = time.perf_counter()
    report = max(1, args.epochs // 10)
    for done in range(0, args.epochs, report):
        n = min(report, args.epochs - done)
        history = fit_stream(
            model,
            ids,
            loss=loss,
            optimizer=optimizer,
            seq_len=args.seq_len,
            batch_size=args.batch_size,
            epochs=n,
            clip_norm=1.0,
        )
        seconds = time.perf_counter() - start
        print(
            f"epoch {done + n:4d}: loss {history.loss[-1]:.3f} nats per character "
            f"({(done + n) * len(ids) / seconds:,.0f} characters/s)"
        )
    for temperature, label in (
        (0, "greedy"),
        (0.5, "temperature 0.5"),
        (1.0, "temperature 1.0"),
    ):
        print(f"\n--- {label} ---")
        print(write(model, vocab, args.prompt, args.length, temperature, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
