"""The children's book over seeds: a plain RNN forgets who saw, an LSTM does not.

Seed 004 says a plain recurrent network "has very short-term memory" and so
writes "Doug saw Doug.", and that an LSTM's gates fix it. In the talk's
short book ("Doug saw Jane.") the name to avoid is two words back and a plain
RNN avoids it as well as an LSTM. This script measures the long book
(``childrens_book(max_looks=10)``: up to ten "looked and" between the names,
"Doug looked and looked and saw Jane.") for several seeds: each seed trains
the three readers of ``glassnet demo childrens-book`` (no memory, RNN,
LSTM) on its own book and lets each write 1,000 sentences; the table gives
the share of grammatical sentences and of "X saw X." slips, then how often
each network would name the subject again after "NAME (looked and) x k saw".

Run::

    python examples/childrens_book_memory.py              # seeds 0-4
    python examples/childrens_book_memory.py --seeds 10   # seeds 0-9
    python examples/childrens_book_memory.py --max-looks 0   # the short book
"""

from __future__ import annotations

import argparse
import sys
import time

from glassnet.demos import childrens_book as cb


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument(
        "--max-looks",
        type=int,
        default=cb.LOOKS,
        choices=sorted(cb.BOOKS),
        help=f"most 'looked and' per sentence (default {cb.LOOKS})",
    )
    parser.add_argument(
        "--sentences",
        type=int,
        default=cb.N_SENTENCES,
        help="sentences each network writes per seed",
    )
    args = parser.parse_args(argv)
    seeds = range(args.seeds)
    start = time.perf_counter()
    table = cb.over_seeds(seeds, args.max_looks, args.sentences)
    book = "long" if args.max_looks else "short"
    print(
        f"The {book} children's book, seeds 0-{args.seeds - 1}, "
        f"{args.sentences:,} sentences written per network and seed:\n"
    )
    print(cb.seeds_table(table, seeds))
    if args.max_looks:
        print(
            "\nThe subject named again after 'NAME (looked and) x k saw' (its "
            "share of the names'\nprobability), mean over seeds (33% = forgotten):"
        )
        print(cb.recall_table(table))
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return table


if __name__ == "__main__":
    main()
    sys.exit(0)
