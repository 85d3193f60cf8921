"""The children's book as seed 004 tells it: a plain RNN's short memory writes
"Doug ... saw Doug.", an LSTM's gates keep the name (the long book, max_looks=10).

Measured over seeds 0-9 with the demo's settings (examples/childrens_book_memory.py,
docs/childrens-book.md, 2026-12-04): "X saw X." in 25.8-28.9 % of the sentences
without memory, 11.3-29.9 % for the RNN, 0.2-3.3 % for the LSTM. The test trains
seeds 0 and 1. One seed's finer numbers move with float32 rounding (a faster
kernel retrains it along another path): the share the LSTM gives the subject
ten looks back was 0.2-21.8 % over seeds 0-9 (seed 0 the highest), and under
the NumPy kernels alone (GLASSNET_NATIVE=0) seed 0 gave 30.6 %; so the
assertions are the ones every seed met: the LSTM's mean share over the
distances is at most half the RNN's (0.30 of it for seed 0, 0.46 for seed 6,
at most 0.13 for the other eight; NumPy alone, seeds 0-3: at most 0.36).
"""

import numpy as np
import pytest

from glassnet.datasets import book_tokens, is_grammatical, saw_self
from glassnet.demos import childrens_book as cb

SEEDS = (0, 1)


@pytest.fixture(scope="module")
def runs():
    return [cb.measure(seed=seed, max_looks=cb.LOOKS) for seed in SEEDS]


@pytest.mark.parametrize("i", range(len(SEEDS)))
def test_lstm_keeps_the_name_across_the_looks(runs, i):
    lstm = runs[i]["LSTM"]
    assert lstm["sentences"] == 1000
    assert lstm["saw_self"] <= 0.05 and lstm["grammatical"] >= 0.93
    assert lstm["recall"].shape == (cb.LOOKS + 1,)
    # at every distance together, it avoids the subject far better than the RNN
    assert lstm["recall"].mean() <= 0.5 * runs[i]["RNN"]["recall"].mean()


@pytest.mark.parametrize("i", range(len(SEEDS)))
def test_plain_rnn_forgets_who_saw(runs, i):
    rnn, lstm = runs[i]["RNN"], runs[i]["LSTM"]
    assert rnn["saw_self"] >= 0.10 and rnn["saw_self"] >= 4 * lstm["saw_self"]
    assert rnn["grammatical"] <= 0.90
    # Its memory fades with distance: near the talk's two words it still mostly
    # avoids the subject; ten "looked and" later it is close to a random name.
    assert rnn["recall"][-1] >= 0.25 and rnn["recall"][-1] > rnn["recall"][0] + 0.1


@pytest.mark.parametrize("i", range(len(SEEDS)))
def test_no_memory_picks_the_object_at_random(runs, i):
    flat = runs[i]["no memory"]
    # Seeing only "saw", it gives the subject the same 1/3 at every distance.
    np.testing.assert_allclose(flat["recall"], flat["recall"][0], atol=1e-6)
    assert flat["recall"][0] == pytest.approx(1 / 3, abs=0.03)
    assert flat["saw_self"] >= 0.2 and flat["grammatical"] < 0.3


def test_written_sentences_are_checked_with_the_long_grammar(runs):
    model = runs[0]["LSTM"]["model"]
    sentences = cb.write_sentences(model, n=40, seed=3, steps=120)
    assert len(sentences) == 40 and all(s[-1] == 4 for s in sentences)
    assert any(5 in s for s in sentences)  # it writes "looked and" too
    good = [s for s in sentences if is_grammatical(s)]
    assert all(not saw_self(s) for s in good) and len(good) >= 30
    assert saw_self(book_tokens("Doug looked and saw Doug.")) == [0]


def test_over_seeds_table_and_report(runs):
    table = cb.gather(runs)
    assert table["RNN"]["saw_self"].shape == (2,)
    assert table["LSTM"]["recall"].shape == (2, cb.LOOKS + 1)
    text = cb.seeds_table(table, SEEDS)
    assert "no memory" in text and "seed 1" in text
    lstm_row = next(line for line in text.splitlines() if line.startswith("LSTM"))
    assert f"{table['LSTM']['saw_self'].mean():.1%}" in lstm_row
    ks = cb.recall_table(table).splitlines()
    assert ks[0].split()[2:] == ["0", "2", "4", "6", "8", "10"]
    rnn_row = next(line.split() for line in ks if line.split()[0] == "RNN")
    assert rnn_row[-1] == f"{table['RNN']['recall'][:, -1].mean():.1%}"
    one = cb.seeds_table(cb.gather(runs[1:]), SEEDS[1:]).splitlines()
    assert (
        "(seed 1)" in one[0] and len(one) == 4
    )  # one seed: no range, no per-seed rows
    assert one[3].split()[1:] == [
        f"{runs[1]['LSTM'][k]:.1%}" for k in ("grammatical", "saw_self")
    ]
    lines = []
    cb.report(runs[0], lines.append)
    out = "\n".join(lines)
    assert "Here the LSTM makes fewer 'X saw X.' slips" in out
    assert "33% = has forgotten who saw" in out and "LSTM(7 → 16)" in out


def test_memory_figure_shows_the_rnn_fading_and_the_lstm_holding(runs, tmp_path):
    pytest.importorskip("matplotlib")
    rnn = cb.memory_states(runs[0]["RNN"]["model"])
    lstm = cb.memory_states(runs[0]["LSTM"]["model"])
    assert rnn["words"][0] == "name" and rnn["words"][-1] == "saw"
    assert lstm["state"].shape == (3, len(lstm["words"]), cb.HIDDEN)
    assert cb.spread(rnn["state"])[-1] < 0.3  # the RNN's names have merged
    assert cb.spread(lstm["state"])[-1] > 0.8  # the LSTM's are still apart
    gates, words = cb.reading_gates(runs[0]["LSTM"]["model"], looks=3)
    assert (
        words == ". Jane saw Spot . Doug looked and looked and looked and saw".split()
    )
    assert gates["forget"].shape == (1, len(words), cb.HIDDEN)
    # the memory figure's units: the cell state differs most between the names
    # just before "saw"
    units = cb.telling_units(lstm["state"])
    gap = np.ptp(lstm["state"][:, -2], axis=0)
    assert gap[units[0]] == gap.max() and gap[units[-1]] >= np.sort(gap)[-4]
    path = tmp_path / "memory.png"
    cb.draw_memory(runs[0], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_and_example_print_the_contrast(runs, monkeypatch, tmp_path, capsys):
    import os
    import runpy

    pytest.importorskip("matplotlib")
    measured = dict(zip(SEEDS, runs))
    monkeypatch.setattr(
        cb, "measure", lambda epochs=None, seed=0, n=1000, max_looks=0: measured[seed]
    )
    lines = []
    path = tmp_path / "book.png"
    assert cb.run(type("Args", (), {"out": str(path)})(), lines.append) == 0
    assert path.exists() and "LSTM makes fewer" in "\n".join(lines)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "examples", "childrens_book_memory.py")
    main = runpy.run_path(script)["main"]
    table = main(["--seeds", "2"])
    assert set(table) == set(cb.KINDS)
    out = capsys.readouterr().out
    assert "seeds 0-1" in out and "33% = forgotten" in out
