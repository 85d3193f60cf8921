"""glassnet tour: every seed story, run with quick settings, drawn into one folder.

``glassnet tour --out DIR`` (or :func:`run_tour`) runs each story in turn,
writes its figures into DIR and an ``index.html`` that shows every figure
with a short caption saying what to look at. A story whose parts are not in
this copy of glassnet yet (say, the convolution layers) is skipped, and the
page says so; a story that fails is reported on the page and in the exit
status, and the tour goes on.
"""

from __future__ import annotations

import html
import os
import time
import traceback
from typing import NamedTuple

import numpy as np


class Item(NamedTuple):
    """One entry of a story: a figure file (or a block of text) and its caption."""

    title: str
    caption: str
    file: str | None = None
    text: str | None = None


class StoryResult(NamedTuple):
    name: str
    status: str  # 'ok', 'skipped' or 'failed'
    items: list
    note: str
    seconds: float


# --------------------------------------------------------------------------
# The stories
# --------------------------------------------------------------------------


def story_four_pixel(out: str) -> list:
    from .datasets import FOUR_PIXEL_CLASSES, four_pixel
    from .demos import four_pixel as fp
    from .plot import network, receptive_fields
    from .train import predict_classes

    model = fp.hand_set_network()
    walk = fp.walk_through(model)
    common = dict(
        input_labels=fp.INPUT_NEURONS,
        output_labels=FOUR_PIXEL_CLASSES,
        image_shape=(2, 2),
        order="F",
    )
    network(
        model,
        receptive=True,
        title="the hand-wired four-pixel network: each neuron "
        "drawn as its receptive field",
        path=f"{out}/four-pixel-network.png",
        **common,
    )
    network(
        model,
        values=walk,
        title="the talk's example, dark top row over a light bottom "
        "row, flowing through it",
        path=f"{out}/four-pixel-walk-through.png",
        **common,
    )
    rows = ["layer 1 (tanh)", "layer 2 (tanh)", "layer 3 (ReLU)", "outputs"]
    receptive_fields(
        model,
        image_shape=(2, 2),
        order="F",
        row_labels=rows,
        title="the hand-wired network's receptive fields, layer by layer",
        path=f"{out}/four-pixel-receptive-fields.png",
    )
    trained, history = fp.train_network(epochs=200)
    data = four_pixel()
    right = int((predict_classes(trained, fp.to_input_neurons(data.X)) == data.y).sum())
    network(
        trained,
        receptive=True,
        title=f"a network of the same shape trained from random "
        f"weights: {right} of 8 images right",
        path=f"{out}/four-pixel-trained.png",
        **common,
    )
    return [
        Item(
            "The hand-wired network",
            "Four input pixels on the left, the four categories "
            "on the right, every neuron drawn as the 2x2 picture that makes it most active. "
            "Follow the lines: the first layer pairs pixels (a column, or top against "
            "bottom of a column), the second combines those pairs into whole solid, "
            "vertical, diagonal and horizontal patterns, and the ReLU layer splits each "
            "pattern from its negative: see how a blue (+1) and a vermilion (-1) line from "
            "the same neuron give opposite pictures. An output fires for a pattern and for "
            "its negative alike, so the picture drawn for it is just one of the two.",
            "four-pixel-network.png",
        ),
        Item(
            "The talk's example, value by value",
            "The same network with each neuron "
            "filled by its value for the dark-top, light-bottom image (black -1, grey 0, "
            "white +1). In layer 1 the sums are 0 (a dark and a light pixel) and -2 (a "
            "dark pixel, and a light one through a -1 weight), squashed to -0.96. Every "
            "neuron of layer 2 is 0 except the horizontal one, negative; the ReLU passes "
            "only the copy that was multiplied by -1; and only the horizontal output is "
            "positive. The printed trace below tells the same "
            "story in numbers.",
            "four-pixel-walk-through.png",
        ),
        Item(
            "The walk-through as glassnet.trace tells it",
            "The output of "
            "print(glassnet.trace(model, x, target=truth, loss=total_error)): every weighted "
            "sum term by term, its squashed value, then the talk's error (sum of the "
            "misses) and its gradient flowing back.",
            text=walk.narrate(),
        ),
        Item(
            "Receptive fields, layer by layer",
            "Row 1 is computed exactly (a single "
            "weighted sum: white where the weight is +1, black where -1, checkered where "
            "0); these are the talk's pairs of pixels. Deeper rows are found by gradient "
            "ascent on the input. The number above each picture is the neuron's value "
            "for it.",
            "four-pixel-receptive-fields.png",
        ),
        Item(
            "A trained network",
            f"The same shape, biases added, trained for "
            f"{len(history)} epochs on noisy copies of the eight labelled images: "
            f"{right} of 8 right (final loss {history.loss[-1]:.3f}). Its weights are no "
            "longer +1, -1 and 0, and its receptive fields are greyer and less tidy than "
            "the hand-wired ones, but the outputs still come to stand for the four "
            "categories.",
            "four-pixel-trained.png",
        ),
    ]


def story_shawarma(out: str) -> list:
    from .datasets import shawarma_patterns
    from .demos import shawarma as sh

    learned = sh.learn_schedules(n_days=60)
    sh.draw(learned, f"{out}/shawarma.png")
    W0 = sh.walk_through_weights()
    first = shawarma_patterns()[0]
    W1, _, error = sh.step(W0, first)
    before, after = sh.activity(W0, first), sh.activity(W1, first)
    return [
        Item(
            "Two schedules, learned",
            "Four inputs on the left (what was seen at the "
            "shawarma place that day), two output neurons on the right; line width is the "
            "connection strength (0 to 1, zero links not drawn). Nobody told the network "
            "which day was which: each day only the more active output learned. After "
            "60 days each output is linked to exactly the two observations of one "
            f"schedule. On the talk's first day the activities were {before[0]:.1f} and "
            f"{before[1]:.1f}, the error {error:.1f}, and one step raised the activity "
            f"to {after[0]:.1f}.",
            "shawarma.png",
        ),
        Item(
            "Day by day",
            "Each panel is one output neuron. On the days it wins, the "
            "strengths from what was seen climb towards 1 and the others sink towards 0; "
            "once both neurons have taken a schedule, nothing changes any more.",
            "shawarma-days.png",
        ),
    ]


def story_what_networks_learn(out: str) -> list:
    from .plot import decision_regions, deep_vs_wide, function_families
    from .plot.families import fit_classifiers, fit_deep_and_wide

    function_families(path=f"{out}/families.png")
    fitted = fit_deep_and_wide(epochs=1500)
    deep_vs_wide(fitted=fitted, path=f"{out}/deep-vs-wide.png")
    classifiers = fit_classifiers()
    X, y = classifiers["data"]
    files = []
    for k, (name, (model, acc)) in enumerate(
        (n, v) for n, v in classifiers.items() if n != "data"
    ):
        files.append(f"regions-{k}.png")
        decision_regions(
            model,
            X,
            y,
            classes=["below the wave", "above the wave"],
            title=f"{name}: {acc:.0%} of the points classified right",
            path=f"{out}/{files[-1]}",
        )
    wide, deep = (v for v in fitted.values() if isinstance(v, dict))
    return [
        Item(
            "Families of functions",
            "Each column is a kind of network with random "
            "weights. Linear networks only ever make straight lines and flat planes, even "
            "with 100 hidden neurons; the logistic and tanh neurons bend the line into an "
            "S but their contour lines stay straight, so as classifiers they cut the "
            "plane with a straight line; with a hidden layer come wiggles, peaks and "
            "islands, always smooth and (for tanh) never outside -1 to 1; ReLU makes "
            "sharper corners. The colours of each map are centred on the classifier's "
            "cut (white).",
            "families.png",
        ),
        Item(
            "Deep versus wide",
            "Random curves from a wide network (one hidden "
            "layer of 100 neurons) are gentle wiggles; from a deep one (two hidden "
            "layers, 11 then 9) they bend more sharply, often in steps, since each "
            "layer squashes what the last one squashed. Trained, both learn the same "
            "wiggly curve: "
            f"the wide net with {wide['params']} weights (MSE {wide['mse']:.1e}), the deep "
            f"one with {deep['params']} (MSE {deep['mse']:.1e}).",
            "deep-vs-wide.png",
        ),
        Item(
            "A straight cut versus a smooth curve",
            "Points above a wavy line are one "
            "class, below it the other. A single neuron can only draw a straight "
            "boundary and misplaces the points in the wave's bends.",
            files[0],
        ),
        Item(
            "...and with a hidden layer",
            "Sixteen tanh neurons bend the boundary to "
            "follow the wave: a smooth curve, as networks like to make.",
            files[1],
        ),
    ]


def story_digits(out: str) -> list:
    from .datasets import digits
    from .demos.digits import train_digits
    from .metrics import confusion_matrix as confusion
    from .nn import Dense, Sequential, Sigmoid
    from .optim import Adam
    from .plot import confusion_matrix, training_curves, weight_images
    from .train import fit, predict_classes

    model, history, (_, X_te, _, y_te), scaler = train_digits(
        epochs=15, verbose=0, validate=True
    )
    cm = confusion(y_te, predict_classes(model, scaler.transform(X_te)), num_classes=10)
    training_curves(
        history,
        title="digits: 64 → 32 sigmoid → 10, trained 15 epochs "
        "(quick setting; `glassnet demo digits` trains 30)",
        path=f"{out}/digits-training.png",
    )
    confusion_matrix(
        cm, title="digits: the held-out quarter", path=f"{out}/digits-confusion.png"
    )
    weight_images(
        model,
        image_shape=(8, 8),
        cols=8,
        title="digits: the 32 hidden neurons' weights over the 8x8 image",
        path=f"{out}/digits-weights.png",
    )

    data = digits(flatten=True)
    zero_one = np.isin(data.y, (0, 1))
    X01, y01 = data.X[zero_one] / 16.0, data.y[zero_one].astype(np.float32)[:, None]
    neuron = Sequential(Dense(64, 1), Sigmoid(), seed=0)
    fit(
        neuron,
        X01,
        y01,
        loss="bce",
        optimizer=Adam(neuron, lr=0.05),
        epochs=20,
        batch_size=32,
        seed=0,
        verbose=0,
    )
    weight_images(
        neuron,
        image_shape=(8, 8),
        labels=["weight on each pixel"],
        title="0 or 1 with one neuron: > 0.5 means '1'",
        path=f"{out}/digits-zero-one.png",
    )
    right = int(np.trace(cm))
    return [
        Item(
            "Training",
            "Loss and accuracy per epoch, on the training images (solid) and "
            "on the held-out quarter the network never learns from (dashed). Both axes "
            "start at zero. When the dashed loss stops falling while the solid one keeps "
            "going, the network has started to memorise.",
            "digits-training.png",
        ),
        Item(
            "Which digits get confused",
            f"Rows are the true digit, columns the "
            f"network's answer; {right} of {int(cm.sum())} held-out images land on the "
            "outlined diagonal. Look at the largest off-diagonal counts to see which "
            "shapes it mixes up.",
            "digits-confusion.png",
        ),
        Item(
            "What the hidden neurons look at",
            "Each square is one hidden neuron's 64 "
            "weights laid out as the 8x8 image (of standardised pixels): blue pixels push "
            "it up, vermilion ones down, on one scale for all. Few look like a whole "
            "digit: most are patchy mixtures of strokes for and against, which the output "
            "layer then combines.",
            "digits-weights.png",
        ),
        Item(
            "0 versus 1 with one neuron",
            "A single neuron (no hidden layer) told to say "
            "1 for the digit one and 0 for zero. Ones are dark in the middle and zeros "
            "around a hollow middle; look for positive weights down the centre and "
            "negative ones where a zero's ring is.",
            "digits-zero-one.png",
        ),
        Item(
            "The model, summarised",
            "print(model.summary()) for the digits network: "
            "each layer, the shape of what it outputs for a batch, and how many weights "
            "and biases it holds (64 x 32 + 32 = 2,080 for the hidden layer).",
            text=str(model.summary()),
        ),
    ]


def story_x_and_o(out: str) -> list:
    from .datasets import canonical_x, x_features
    from .demos.x_and_o import layer_outputs, train_x_and_o
    from .kernels import relu
    from .ops.conv_match import as_printed, match, seed_pool
    from .plot import feature_maps, filters
    from .train import predict_classes

    image, features = canonical_x(), x_features()
    maps = np.stack([match(image, f) for f in features])
    names = ["falling diagonal", "small x", "rising diagonal"]
    filters(
        features[:, None],
        labels=names,
        title="the talk's three features",
        path=f"{out}/x-and-o-features.png",
    )
    feature_maps(
        maps,
        image=image,
        labels=names,
        title="each feature matched at every position of the X (the talk's "
        "filtering: multiply, add, divide by 9)",
        path=f"{out}/x-and-o-maps.png",
    )
    pooled = np.stack([seed_pool(relu(m)[0] + 0.0) for m in maps])  # + 0.0: no −0
    feature_maps(
        pooled,
        labels=names,
        title="after ReLU and 2x2 max pooling: 7x7 → 4x4",
        path=f"{out}/x-and-o-pooled.png",
    )
    result = train_x_and_o(n_test=500, epochs=30)
    acc = float((predict_classes(result.model, result.test.X) == result.test.y).mean())
    filters(
        result.model.layers[0],
        title="four features learned from 300 images",
        path=f"{out}/x-and-o-learned.png",
    )
    seen = layer_outputs(result.model, image)
    feature_maps(
        seen["maps"],
        image=image,
        title="the learned features matched on the X",
        path=f"{out}/x-and-o-learned-maps.png",
    )
    text = "\n".join(" ".join(f"{v:5.2f}" for v in row) for row in as_printed(maps[0]))
    return [
        Item(
            "The three features",
            "The talk's 3x3 features, +1 light and -1 dark, the "
            "number written in each pixel.",
            "x-and-o-features.png",
        ),
        Item(
            "Filtering",
            "Each map is one feature slid over the X. Look at the falling "
            "diagonal: 1.00 all along it (a perfect match) and 0.77 at its ends; the "
            "small x matches best in the centre; the rising diagonal mirrors the first. "
            "Colours are centred on zero: blue matches, vermilion anti-matches.",
            "x-and-o-maps.png",
        ),
        Item(
            "The falling diagonal's map, as printed",
            "The same numbers, cut (not "
            "rounded) to two decimals as the talk prints them.",
            text=text,
        ),
        Item(
            "ReLU and pooling",
            "Negative values set to 0, then the largest value of "
            "every 2x2 window kept (the ragged last row and column keep the largest of "
            "what is there): the diagonal survives, smaller.",
            "x-and-o-pooled.png",
        ),
        Item(
            "Features a network learned",
            f"A small CNN (four 3x3 features, ReLU, "
            f"pooling, a voting layer) trained on 300 generated Xs and Os gets {acc:.1%} "
            "of 500 new ones right (the tour's quick setting; `glassnet demo x-and-o` "
            "tests on 1,000). Its features are its own, not the talk's; look for "
            "diagonal strokes among them.",
            "x-and-o-learned.png",
        ),
        Item(
            "...and their maps of the X",
            "The learned features applied to the same X, before ReLU.",
            "x-and-o-learned-maps.png",
        ),
    ]


def story_childrens_book(out: str) -> list:
    from .demos import childrens_book as cb
    from .plot import lstm_gates

    seed, looks = 0, 8  # the tour's quick setting: one seed (the example runs ten)
    run = cb.measure(seed=seed, max_looks=cb.LOOKS)
    table = cb.gather([run])
    n_sentences, lr, epochs = cb.BOOKS[cb.LOOKS]
    cb.draw_memory(run, f"{out}/childrens-book-memory.png", looks=looks)
    rnn = cb.spread(cb.memory_states(run["RNN"]["model"], looks)["state"])
    held = cb.memory_states(run["LSTM"]["model"], looks)
    lstm = cb.spread(held["state"])
    shown = held["forget"][0][1:-1, cb.telling_units(held["state"])]  # over the looks
    gates, words = cb.reading_gates(run["LSTM"]["model"], looks)
    lstm_gates(
        gates,
        words,
        title=f"seed {seed}'s LSTM reading '. Jane saw Spot. Doug "
        f"(looked and) x {looks} saw'",
        path=f"{out}/lstm-gates.png",
    )
    first = words.index("Doug") + 1  # the looks: from the first "looked" to "saw"
    open_gates = int((gates["forget"][0, first:-1].min(axis=0) > 0.5).sum())
    cell = np.abs(gates["cell"][0]).mean(axis=-1)
    slips = {kind: f"{r['saw_self']:.1%}" for kind, r in run.items()}
    again = {kind: r["recall"] for kind, r in run.items()}
    text = (
        cb.seeds_table(table, [seed]) + "\n\nThe subject named again after "
        f"'NAME (looked and) x k saw' (seed {seed}):\n" + cb.recall_table(table)
    )
    return [
        Item(
            "Who saw whom",
            "The long book: before 'saw' every sentence has 0 to "
            f"{cb.LOOKS} 'looked and' ('Doug looked and looked and saw Jane.'), so the "
            f"name to avoid is up to {2 * cb.LOOKS + 2} words back. Three readers -- one "
            f"that sees only the current word, a plain RNN and an LSTM ({cb.HIDDEN} "
            f"hidden units) -- read a {n_sentences}-sentence book ({epochs} epochs, Adam "
            f"at {lr}) and each writes {cb.N_SENTENCES:,} sentences; the tour runs "
            f"seed {seed} only. 'X saw X.' slips: no memory {slips['no memory']}, RNN "
            f"{slips['RNN']}, LSTM {slips['LSTM']}. The second table: the probability "
            "of the subject's own name among the three names right after 'saw' (33% = "
            "a random name, 0 = it remembers who saw). The RNN's goes from "
            f"{again['RNN'][0]:.1%} with no 'looked and' to {again['RNN'][-1]:.1%} with "
            f"{cb.LOOKS}; the LSTM's stays at or below {again['LSTM'].max():.1%}. The "
            "table for ten seeds: `python examples/childrens_book_memory.py --seeds "
            "10`.",
            text=text,
        ),
        Item(
            "The RNN's memory fades, the LSTM's holds",
            f"Seed {seed}'s readers given "
            f"'Doug', 'Jane' or 'Spot' and then {looks} 'looked and'. Top: how "
            "different their memory is for the three names, step by step (1 = as "
            "different as right after the name). At 'saw' the RNN's hidden states keep "
            f"{rnn[-1]:.0%} of that difference: it no longer knows who is looking. The "
            f"LSTM's cell states are {lstm[-1]:.1f} times as different as at the name. "
            "Below: the four LSTM units whose cell state differs most between the "
            "names, for each name (blue positive, vermilion negative), and their "
            "forget gates while reading 'Doug ...' (dark = near 1, keep the memory); "
            f"over the looks, {(shown > 0.5).mean():.0%} of their values are above 0.5.",
            "childrens-book-memory.png",
        ),
        Item(
            "All of its gates over the long sentence",
            "Every row is one of the "
            f"LSTM's {cb.HIDDEN} memory units, every column a word it read. The forget "
            "gate (1 = keep) decides what memory survives a step, the input gate what "
            "new candidate gets in, the output gate what memory is shown. Across the "
            f"looks, {open_gates} of the {cb.HIDDEN} units keep their forget gate above "
            "0.5 at every step, and the cell state (bottom) builds up: its mean size "
            f"is {cell[first - 1]:.1f} after 'Doug' and {cell[-2]:.1f} before 'saw'.",
            "lstm-gates.png",
        ),
    ]


def story_dinner(out: str) -> list:
    from .demos.dinner import (
        TRIP,
        draw_month,
        predict_nights,
        score,
        train_dinner,
        trip_months,
    )

    model = train_dinner()
    data, trip = trip_months()
    s = score(predict_nights(model, data.X), data, trip)
    draw_month(model, data, path=f"{out}/dinner-month.png")
    return [
        Item(
            "A month of dinners",
            "An RNN (4 memory units) trained on months with "
            "single nights away predicts every night of a new month, in which you "
            f"are also away for {TRIP} nights in a row (grey). On nights away it "
            "plays its own prediction forward. Crosses are what was cooked, dots "
            "what the network said: where a dot sits on its cross, it was right. "
            f"Over {len(data.y)} such months it gets {s['right']:,} of "
            f"{s['nights']:,} nights right ({s['right'] / s['nights']:.1%}), "
            f"{s['trip_right']:,} of {s['trip_nights']:,} during and just after "
            "the trips. Same settings as `glassnet demo dinner`.",
            "dinner-month.png",
        )
    ]


def story_tea(out: str) -> list:
    from . import landscapes
    from .optim.free import GradientDescent
    from .plot import loss_curve

    items = []
    for ls, start, lr in (
        (landscapes.smooth_valley, 90.0, 20.0),
        (landscapes.iced_tea, 85.0, 20.0),
        (landscapes.noisy_buses, 85.0, 2.0),
    ):
        run = GradientDescent(lr=lr, gradient=ls.slope, budget=200).minimize(
            ls, [start], bounds=ls.bounds
        )
        best = ls.minimum()[0]
        loss_curve(
            ls,
            ls.bounds,
            trajectory=run.path,
            xlabel="tea temperature (C)",
            ylabel="suffering (lower is better)",
            title=f"{ls.name}: gradient descent (learning rate {lr:g}) from "
            f"{start:g} C stops at {run.x[0]:.1f} C",
            path=f"{out}/tea-{ls.name}.png",
        )
        verdict = (
            "It finds the best cup."
            if abs(run.x[0] - best) < 2
            else f"It is trapped: the best cup is at {best:.1f} C, but where it stopped "
            "the slope is flat, so nothing tells it to move on."
        )
        about = ls.about[0].upper() + ls.about[1:]
        items.append(
            Item(
                ls.name.replace("_", " "),
                f"{about}. The dots are where "
                f"gradient descent stood after each step from {start:g} C "
                f"(purple first, yellow last; the hollow star is where it "
                f"stopped, "
                f"{run.x[0]:.1f} C). {verdict}",
                f"tea-{ls.name}.png",
            )
        )
    from .demos.tea import FIGURE_START, STARTS, plot_paths, race, table

    results = race()
    plot_paths(results, f"{out}/tea-race.png")
    wins = {
        m: sum(
            r.reached_target
            for (name, _), runs in results.items()
            if name == m
            for r in runs
        )
        for m, _ in results
    }
    runs = len(STARTS) * len(landscapes.TEA_LANDSCAPES)
    items.append(
        Item(
            "Eight ways to the best cup",
            "Every method from the same "
            f"start, {FIGURE_START:g} C (open circle), on all five tea "
            "landscapes: one row per method, one column per landscape. "
            "The green band is the best cup (within 0.1 of it); a green "
            "star means the method found it, a red one that it got stuck "
            "or ran out of its 200 cups. The rolling methods stop on the "
            "first flat ground; the searching ones brew more cups and get "
            "out. Over all eight starts: "
            + ", ".join(f"{m} {w} of {runs}" for m, w in wins.items())
            + ".",
            "tea-race.png",
        )
    )
    items.append(
        Item(
            "The race as a table",
            "Runs that found the best cup, of eight "
            "starts, and in brackets the mean cups brewed (same settings as "
            "`glassnet demo tea`).",
            text=table(results),
        )
    )
    return items


def story_mm(out: str) -> list:
    from .datasets import seed_counts
    from .optim.free import GradientDescent
    from .plot import loss_curve

    counts = seed_counts().astype(np.float64)

    def squared(g):
        g = np.asarray(g, dtype=np.float64)
        return ((counts - g[..., None]) ** 2).sum(axis=-1)

    def absolute(g):
        g = np.asarray(g, dtype=np.float64)
        return np.abs(counts - g[..., None]).sum(axis=-1)

    run = GradientDescent(
        lr=0.1, gradient=lambda g: np.array([-2 * (counts - g[0]).sum()]), budget=60
    ).minimize(lambda g: float(squared(g[0])), [41.0])
    loss_curve(
        squared,
        (40, 70),
        trajectory=run.path,
        xlabel="guess (M&Ms per bag)",
        ylabel="sum of squared misses",
        title=f"bags of {counts[0]:g} and "
        f"{counts[1]:g}: squared misses, bottom at the mean",
        path=f"{out}/mm-squared.png",
    )
    loss_curve(
        absolute,
        (40, 70),
        xlabel="guess (M&Ms per bag)",
        ylabel="sum of absolute misses",
        title="absolute misses: flat bottom between the two counts (the medians)",
        path=f"{out}/mm-absolute.png",
    )
    return [
        Item(
            "Squared misses",
            f"Trying every guess from 40 to 70 traces this parabola; "
            f"its bottom is the mean, {counts.mean():g}, where the slope is zero. "
            f"Gradient descent from 41 rolls down to {run.x[0]:.2f}.",
            "mm-squared.png",
        ),
        Item(
            "Absolute misses",
            "With the size of each miss instead of its square, every "
            "guess from 53 to 57 is off by 4 in total: the bottom is flat, and any median "
            "is best. The shaded band marks that flat bottom, 53 to 57.",
            "mm-absolute.png",
        ),
    ]


def story_two_weights(out: str) -> list:
    from .losses import MSE
    from .nn import Dense
    from .optim import SGD
    from .plot import loss_surface

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 1)).astype(np.float32)
    y = (2.0 * x - 1.0 + 0.2 * rng.standard_normal((40, 1))).astype(np.float32)
    neuron = Dense(1, 1)
    neuron.weight.data[:] = -2.0
    neuron.bias.data[:] = 2.0
    opt, loss_fn, path = SGD(neuron, lr=0.3), MSE(), []
    for _ in range(40):
        path.append((float(neuron.weight.data[0, 0]), float(neuron.bias.data[0])))
        opt.zero_grad()
        loss_fn(neuron(x), y).backward()
        opt.step()
    path.append((float(neuron.weight.data[0, 0]), float(neuron.bias.data[0])))
    xs, ys = x[:, 0].astype(np.float64), y[:, 0].astype(np.float64)

    def mse(w, b):
        w, b = np.asarray(w)[..., None], np.asarray(b)[..., None]
        return ((w * xs + b - ys) ** 2).mean(axis=-1)

    loss_surface(
        mse,
        (-3, 4),
        (-3, 3),
        trajectory=np.array(path),
        xlabel="weight w",
        ylabel="bias b",
        log=True,
        title="y = w·x + b fitted by gradient descent (40 steps, learning rate 0.3)",
        path=f"{out}/landscape-2d.png",
    )
    w, b = path[-1]
    return [
        Item(
            "Gradient descent on two weights",
            "The loss of one linear neuron over "
            "its weight and bias, as contour lines (dark is low). Each dot is one "
            "step of gradient descent from w = -2, b = 2: it heads straight downhill, "
            "across the contour lines, and slows down as the valley flattens, ending "
            f"at w = {w:.2f}, b = {b:.2f} (the data came from w = 2, b = -1, plus "
            "noise).",
            "landscape-2d.png",
        )
    ]


#: slug -> (title, function writing the story's figures into a folder)
STORIES = {
    "four-pixel": ("The four-pixel camera", story_four_pixel),
    "shawarma": ("The shawarma cook", story_shawarma),
    "what-networks-learn": ("What networks can learn", story_what_networks_learn),
    "digits": ("Handwritten digits", story_digits),
    "x-and-o": ("X or O: a convolutional network", story_x_and_o),
    "dinner": ("What's for dinner: a recurrent network", story_dinner),
    "childrens-book": ("The children's book: an LSTM's gates", story_childrens_book),
    "tea": ("Tea temperature: gradient descent and its traps", story_tea),
    "mm-bags": ("M&Ms per bag: squared versus absolute misses", story_mm),
    "two-weights": ("Gradient descent on two weights", story_two_weights),
}


# --------------------------------------------------------------------------
# Running and writing
# --------------------------------------------------------------------------


def _missing_part(error: ImportError) -> str | None:
    """The glassnet module that is missing, if that is what the ImportError is about."""
    name = getattr(error, "name", None) or ""
    text = str(error)
    if name.startswith("glassnet") or "glassnet" in text:
        return name or text
    return None


def run_tour(out: str = "glassnet-tour", stories=None, log=print) -> list:
    """Run the stories (default: all of :data:`STORIES`), write figures and index.html.

    Returns a list of :class:`StoryResult`.
    """
    from .plot._style import new_figure

    new_figure()  # fails here, once and clearly, without matplotlib
    os.makedirs(out, exist_ok=True)
    chosen = list(stories or STORIES)
    unknown = [n for n in chosen if n not in STORIES]
    if unknown:
        from .errors import ConfigError

        raise ConfigError(
            f"tour: no story {unknown[0]!r}; the stories are "
            f"{', '.join(map(repr, STORIES))}."
        )
    results = []
    start = time.perf_counter()
    for name in chosen:
        t0 = time.perf_counter()
        title, story = STORIES[name]
        try:
            items = story(out)
            status, note = "ok", ""
        except ImportError as e:
            part = _missing_part(e)
            if part is None:
                raise
            items, status = [], "skipped"
            note = f"skipped: this copy of glassnet does not have {part} yet ({e})."
        except Exception as e:  # noqa: BLE001  one story's failure must not stop the tour
            items, status = [], "failed"
            note = f"failed: {type(e).__name__}: {e}"
            log(traceback.format_exc())
        seconds = time.perf_counter() - t0
        results.append(StoryResult(title, status, items, note, seconds))
        log(f"{name:20s} {status:8s} {seconds:5.1f} s" + (f"  {note}" if note else ""))
    total = time.perf_counter() - start
    path = write_index(out, results, total)
    log(
        f"\n{sum(r.status == 'ok' for r in results)} of {len(results)} stories in "
        f"{total:.1f} s; open {path}"
    )
    return results


def write_index(out: str, results, seconds: float) -> str:
    """Write ``out/index.html`` for the results; return its path."""
    from . import __version__

    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>glassnet tour</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "padding:0 1em;color:#222;line-height:1.45}",
        "figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}",
        "figcaption{max-width:75ch}pre{background:#f6f6f6;padding:.8em;overflow-x:auto;"
        "font-size:.85em}.note{background:#fff4d6;padding:.6em;border-left:4px solid #e6a700}",
        "nav li{margin:.15em 0}</style></head><body>",
        "<h1>glassnet tour</h1>",
        f"<p>Every seed story glassnet has, run with quick settings by "
        f"<code>glassnet tour</code> (glassnet {esc(__version__)}, {seconds:.0f} s). "
        "Colours: blue is positive and vermilion negative on every weight, filter and "
        "map; pixels are black (-1) to white (+1) as in the talks, with a checkerboard "
        "where a neuron does not care.</p><nav><ul>",
    ]
    for k, r in enumerate(results):
        parts.append(
            f"<li><a href='#s{k}'>{esc(r.name)}</a>"
            + (f" ({esc(r.status)})" if r.status != "ok" else "")
            + "</li>"
        )
    parts.append("</ul></nav>")
    for k, r in enumerate(results):
        parts.append(f"<section id='s{k}'><h2>{esc(r.name)}</h2>")
        if r.note:
            parts.append(f"<p class='note'>{esc(r.note)}</p>")
        for item in r.items:
            parts.append(f"<figure><h3>{esc(item.title)}</h3>")
            if item.file:
                parts.append(f"<img src='{esc(item.file)}' alt='{esc(item.title)}'>")
            if item.text:
                parts.append(f"<pre>{esc(item.text)}</pre>")
            parts.append(f"<figcaption>{esc(item.caption)}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    path = os.path.join(out, "index.html")
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    os.replace(tmp, path)
    return path


def main(args) -> int:
    """``glassnet tour [--out DIR] [--only NAME ...]``."""
    results = run_tour(
        getattr(args, "out", None) or "glassnet-tour",
        getattr(args, "only", None) or None,
    )
    return 1 if any(r.status == "failed" for r in results) else 0
