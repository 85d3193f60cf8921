"""A tiny transformer against the char-LSTM on Shakespeare's sonnets.

Both read the same characters and predict the next one at every position.
Both are trained the same way -- the same random 64-character windows of
the first eight sonnets, the same batches, Adam, gradient clipping, the same
number of steps -- and scored on the ninth sonnet, which neither saw: the
loss per character (nats; /ln 2 for bits) over its non-overlapping
64-character windows, each read from a fresh start. Training speed is the
characters per second of training steps (forward, backward, update).

Writes two figures: ``docs/img/transformer_vs_lstm.png`` (losses while
training) and ``docs/img/sonnets_attention.png`` (where each head of the
trained transformer looks, along a line of the held-out sonnet).

Run::

    python examples/transformer_vs_lstm.py               # about a minute
    python examples/transformer_vs_lstm.py --steps 100   # a quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
IMG = os.path.join(os.path.dirname(HERE), "docs", "img")

import char_lstm  # noqa: E402
import tiny_transformer  # noqa: E402

# name -> build(vocab_size, width, seed); widths chosen for about the same
# number of parameters (LSTM 96 units: 64.6k, transformer width 48: 64.8k)
MODELS = {
    "LSTM": (char_lstm.build, 96),
    "transformer": (tiny_transformer.build, 48),
}


def split(ids, text):
    """Train on the first eight sonnets; hold out the ninth (the last)."""
    cut = text.rstrip().rfind("\n\n") + 2
    return ids[:cut], ids[cut:]


def held_out_loss(model, ids, seq_len: int) -> float:
    """Mean loss per character over non-overlapping windows, each from a fresh start."""
    from glassnet import losses, no_grad

    ce, total, count = losses.CrossEntropy(), 0.0, 0
    with no_grad():
        for start in range(0, len(ids) - 1, seq_len):
            w = ids[start : start + seq_len + 1]
            if len(w) < 2:
                break
            mean = float(ce(model(w[None, :-1]), w[None, 1:]).item())
            total += mean * (len(w) - 1)
            count += len(w) - 1
    return total / count


def train(vocab_size, train_ids, test_ids, args, log) -> dict:
    """Train every model in MODELS on the same batches, one step of each in turn
    (so a busy machine slows them alike); return {name: (model, curve, chars/s)}."""
    from glassnet import losses, optim
    from glassnet.optim.clip import clip_grad_norm

    models = {name: b(vocab_size, w, seed=args.seed) for name, (b, w) in MODELS.items()}
    optimizers = {name: optim.Adam(m, lr=args.lr) for name, m in models.items()}
    seconds = dict.fromkeys(models, 0.0)
    curves = {name: [] for name in models}
    ce = losses.CrossEntropy()
    rng = np.random.default_rng(args.seed)
    for step in range(1, args.steps + 1):
        starts = rng.integers(0, len(train_ids) - args.seq_len - 1, args.batch_size)
        batch = np.stack([train_ids[s : s + args.seq_len + 1] for s in starts])
        for name, model in models.items():
            began = time.perf_counter()
            loss = ce(model(batch[:, :-1]), batch[:, 1:])
            optimizers[name].zero_grad()
            loss.backward()
            clip_grad_norm(model.parameters(), 1.0)
            optimizers[name].step()
            seconds[name] += time.perf_counter() - began
            if step % args.every == 0 or step == args.steps:
                test = held_out_loss(model, test_ids, args.seq_len)
                curves[name].append((step, float(loss.item()), test))
                log(f"  {name:11s} step {step:4d}: train {loss.item():.3f}, "
                    f"held-out {test:.3f}")  # fmt: skip
    chars = args.steps * args.batch_size * args.seq_len
    return {n: (models[n], np.array(curves[n]), chars / seconds[n]) for n in models}


def attention_figure(model, vocab, line: str, path: str):
    from glassnet import plot

    lookup = {ch: i for i, ch in enumerate(vocab)}
    ids = np.array([[lookup[c] for c in line]])
    model(ids)
    layer = model.attention_layers()[-1]
    return plot.attention(
        layer, list(line), title=f"the trained transformer's last block reading {line!r}",
        path=path,
    )  # fmt: skip


def curves_figure(results, path: str):
    from glassnet.plot import new_figure
    from glassnet.plot._style import finish

    fig = new_figure(figsize=(7, 4))
    ax = fig.subplots()
    for (name, (_, curve, speed)), colour in zip(
        results.items(), ["#D55E00", "#0072B2"]
    ):
        ax.plot(
            curve[:, 0], curve[:, 1], color=colour, alpha=0.45, label=f"{name}, train"
        )
        ax.plot(curve[:, 0], curve[:, 2], color=colour, lw=2,
                label=f"{name}, held-out sonnet ({speed:,.0f} chars/s)")  # fmt: skip
    ax.set_xlabel("training step (16 windows of 64 characters)")
    ax.set_ylabel("loss per character (nats)")
    ax.set_title("LSTM vs tiny transformer on the sonnets, ~65k parameters each")
    ax.legend(fontsize=8)
    return finish(fig, path)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=25, help="held-out loss every N")
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--figures", default=IMG, help="folder for the PNGs ('' = none)"
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    log = (lambda s: None) if args.quiet else print

    text, vocab, ids = char_lstm.load_text()
    train_ids, test_ids = split(ids, text)
    log(f"{len(train_ids):,} characters to train on, {len(test_ids):,} held out")
    results = train(len(vocab), train_ids, test_ids, args, log)
    log("")
    log(f"{'model':12s} {'parameters':>10s} {'held-out loss':>14s} {'(best)':>7s} "
        f"{'bits/char':>10s} {'chars/s':>9s}")  # fmt: skip
    for name, (model, curve, speed) in results.items():
        test, best = curve[-1, 2], curve[:, 2].min()
        log(f"{name:12s} {model.num_parameters():10,d} {test:14.3f} {best:7.3f} "
            f"{test / np.log(2):10.2f} {speed:9,.0f}")  # fmt: skip
    transformer = results["transformer"][0]
    lookup = {ch: i for i, ch in enumerate(vocab)}
    prompt = "Shall I "
    out = tiny_transformer.generate(transformer, [lookup[c] for c in prompt], 120)
    log("\ntransformer, greedy: " + prompt + "".join(vocab[i] for i in out))
    if args.figures:
        os.makedirs(args.figures, exist_ok=True)
        curves_figure(results, os.path.join(args.figures, "transformer_vs_lstm.png"))
        line = text[len(text) - len(test_ids) :].split("\n")[0][:24]
        attention_figure(
            transformer,
            vocab,
            line,
            os.path.join(args.figures, "sonnets_attention.png"),
        )
    return {name: (curve, speed) for name, (_, curve, speed) in results.items()}


if __name__ == "__main__":
    main()
