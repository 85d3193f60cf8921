"""What networks can learn: families of functions drawn from random weights.

Seed 004's second talk builds up from a straight line to multilayer
networks by drawing the functions each kind of network makes when its
weights are chosen at random. The numbers come first here
(:func:`random_network`, :func:`sample_functions`, :func:`fit_deep_and_wide`;
NumPy and glassnet only), the figures after (:func:`function_families`,
:func:`deep_vs_wide`, which need matplotlib).

Inputs run over [-1, 1], as normalised inputs should. The random weights
are Gaussian with scales chosen (by us, the talk gives none) so that the
interesting part of each function falls inside that range: first layers
scale 3, biases 2, later layers 1.5 / sqrt(fan-in).
"""

from __future__ import annotations

import numpy as np

from ._style import CLASS_COLOURS, finish, new_figure

__all__ = [
    "FAMILIES",
    "random_network",
    "sample_functions",
    "fit_deep_and_wide",
    "wavy_classes",
    "fit_classifiers",
    "function_families",
    "deep_vs_wide",
]

#: name -> (hidden layer sizes, hidden activation, output activation)
FAMILIES = {
    "linear": ((), None, None),
    "linear, 100 hidden": ((100,), None, None),
    "logistic": ((), None, "Sigmoid"),
    "tanh": ((), None, "Tanh"),
    "two-layer tanh, 100 hidden": ((100,), "Tanh", "Tanh"),
    "three-layer tanh, 11 + 9 hidden": ((11, 9), "Tanh", "Tanh"),
    "ReLU, 100 hidden": ((100,), "ReLU", None),
}


def random_network(kind: str, n_inputs: int = 1, seed=0):
    """A network of the family ``kind`` (a key of :data:`FAMILIES`) with random weights."""
    from .. import nn
    from ..errors import ConfigError

    if kind not in FAMILIES:
        raise ConfigError(
            f"random_network: unknown family {kind!r}; choose one of "
            f"{', '.join(map(repr, FAMILIES))}."
        )
    hidden, act, out_act = FAMILIES[kind]
    rng = np.random.default_rng(seed)
    sizes = [n_inputs, *hidden, 1]
    layers = []
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        dense = nn.Dense(a, b)
        scale = 3.0 if k == 0 else 1.5 / np.sqrt(a)
        dense.weight.data = (scale * rng.standard_normal((a, b))).astype(np.float32)
        dense.bias.data = ((2.0 if k == 0 else 0.5) * rng.standard_normal(b)).astype(
            np.float32
        )
        layers.append(dense)
        last = k == len(sizes) - 2
        name = out_act if last else act
        if name:
            layers.append(getattr(nn, name)())
    return nn.Sequential(*layers)


def sample_functions(
    kind: str, n_inputs: int = 1, n_draws: int = 5, resolution: int = 201, seed=0
):
    """(grid, values): ``n_draws`` random functions of the family on a grid of [-1, 1].

    One input: grid (resolution,), values (n_draws, resolution). Two
    inputs: grid (xs, ys), values (n_draws, resolution, resolution) with
    row i at y = ys[i].
    """
    from ..tensor import no_grad

    xs = np.linspace(-1, 1, resolution)
    if n_inputs == 1:
        pts, grid = xs[:, None], xs
    else:
        gx, gy = np.meshgrid(xs, xs)
        pts, grid = np.stack([gx.ravel(), gy.ravel()], axis=1), (xs, xs)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_draws):
        model = random_network(kind, n_inputs, rng)
        with no_grad():
            out.append(model(pts.astype(np.float32)).data[:, 0].astype(np.float64))
    values = np.stack(out)
    if n_inputs != 1:
        values = values.reshape(n_draws, resolution, resolution)
    return grid, values


def wiggly_target(x):
    """The curve both networks learn in :func:`fit_deep_and_wide`."""
    return 0.8 * np.sin(3.0 * np.pi * x) * np.exp(-x * x) + 0.1 * x


def fit_deep_and_wide(epochs: int = 1500, n_points: int = 200, seed: int = 0) -> dict:
    """Train a wide net (1 -> 100 tanh -> 1) and a deep one (1 -> 11 -> 9 tanh -> 1)
    on the same wiggly curve. Returns {name: {'model', 'mse', 'params', 'hidden'}}
    and 'x', 'y'."""
    from .. import nn
    from ..optim import Adam
    from ..train import fit

    x = np.linspace(-1, 1, n_points, dtype=np.float32)[:, None]
    y = wiggly_target(x).astype(np.float32)
    # Both start from the random weights of their family (scaled for inputs in
    # [-1, 1]), with a linear output so the fit is not squeezed into (-1, 1).
    nets = {
        "wide, one hidden layer": random_network("two-layer tanh, 100 hidden", 1, seed)[
            :-1
        ],
        "deep, two hidden layers": random_network(
            "three-layer tanh, 11 + 9 hidden", 1, seed
        )[:-1],
    }
    result = {"x": x[:, 0].astype(np.float64), "y": y[:, 0].astype(np.float64)}
    for name, model in nets.items():
        history = fit(
            model,
            x,
            y,
            loss="mse",
            optimizer=Adam(model, lr=0.01),
            epochs=epochs,
            batch_size=n_points,
            seed=seed,
            verbose=0,
        )
        hidden = sum(
            layer.out_features
            for layer in model.layers[:-1]
            if isinstance(layer, nn.Dense)
        )
        result[name] = {
            "model": model,
            "mse": history.loss[-1],
            "params": model.num_parameters(),
            "hidden": hidden,
        }
    return result


def wavy_classes(n: int = 300, seed=0):
    """Two classes in the square [-1, 1]² split by a wavy line, y > 0.5 sin(3x):
    (X (n, 2) float32, labels (n,) int64). A straight line cannot separate them."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    y = (X[:, 1] > 0.5 * np.sin(3.0 * X[:, 0])).astype(np.int64)
    return X, y


def fit_classifiers(n: int = 300, epochs: int = 300, seed: int = 0) -> dict:
    """A logistic neuron and a two-layer tanh network (2 -> 16 -> 2), trained on
    :func:`wavy_classes`: {name: (model, training accuracy)}, and 'data': (X, y)."""
    from .. import nn
    from ..metrics import accuracy
    from ..optim import Adam
    from ..train import fit, predict

    X, y = wavy_classes(n, seed)
    nets = {
        "one neuron (logistic regression)": nn.Sequential(nn.Dense(2, 2), seed=seed),
        "two-layer tanh, 16 hidden": nn.Sequential(
            nn.Dense(2, 16), nn.Tanh(), nn.Dense(16, 2), seed=seed
        ),
    }
    out = {"data": (X, y)}
    for name, model in nets.items():
        fit(
            model,
            X,
            y,
            loss="cross_entropy",
            optimizer=Adam(model, lr=0.03),
            epochs=epochs,
            batch_size=64,
            seed=seed,
            verbose=0,
        )
        out[name] = (model, accuracy(y, predict(model, X)))
    return out


def _threshold(kind: str) -> float:
    return 0.5 if kind == "logistic" else 0.0


def surface_with_cut(kind: str, seed=0, resolution: int = 121, tries: int = 20):
    """((xs, ys), surface): the first random two-input function of the family whose
    classifier cut (0.5 for the logistic, else 0) crosses the square [-1, 1]²,
    drawing from one generator made from ``seed``; the last draw if none does."""
    rng = np.random.default_rng(seed)
    cut = _threshold(kind)
    for _ in range(tries):
        grid, surf = sample_functions(kind, 2, 1, resolution, seed=rng)
        if surf.min() < cut < surf.max():
            break
    return grid, surf[0]


def function_families(kinds=None, *, n_draws: int = 5, seed=0, title=None, path=None):
    """Random members of each family: curves of one input above, surfaces of two below.

    Top row: ``n_draws`` random functions of one input, overlaid. Bottom row:
    one random function of two inputs as a map, with its contour lines and,
    thick, the line where a classifier would cut (0.5 for the logistic, 0
    for the others) -- the first draw whose cut crosses the square (see
    :func:`surface_with_cut`). The colours are centred on that cut.
    """
    from matplotlib.ticker import MaxNLocator

    from ._style import signed_cmap

    kinds = list(kinds or FAMILIES)
    fig = new_figure(figsize=(2.75 * len(kinds) + 0.5, 5.9))
    axes = fig.subplots(2, len(kinds), squeeze=False)
    for c, kind in enumerate(kinds):
        xs, curves = sample_functions(kind, 1, n_draws, seed=seed)
        ax = axes[0, c]
        for k, curve in enumerate(curves):
            ax.plot(xs, curve, color=CLASS_COLOURS[k % len(CLASS_COLOURS)], lw=1.3)
        ax.set_title(kind, fontsize=9)
        ax.set_xlabel("input", fontsize=8)
        if c == 0:
            ax.set_ylabel("output", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax = axes[1, c]
        cut = _threshold(kind)
        (gx, gy), surf = surface_with_cut(kind, seed)
        half = max(float(np.abs(surf - cut).max()), 1e-9)
        shown = ax.imshow(
            surf,
            origin="lower",
            extent=(-1, 1, -1, 1),
            cmap=signed_cmap(),
            vmin=cut - half,
            vmax=cut + half,
            aspect="equal",
        )
        ax.contour(gx, gy, surf, levels=9, colors="0.3", linewidths=0.4)
        if surf.min() < cut < surf.max():
            ax.contour(gx, gy, surf, levels=[cut], colors="black", linewidths=1.8)
        ax.set_xlabel("input 1", fontsize=8)
        if c == 0:
            ax.set_ylabel("input 2", fontsize=8)
        ax.tick_params(labelsize=7)
        bar = fig.colorbar(shown, ax=ax, orientation="horizontal", pad=0.18, shrink=0.9)
        bar.ax.xaxis.set_major_locator(MaxNLocator(5))
        bar.ax.tick_params(labelsize=6)
        bar.set_label(f"output (white at {cut:g})", fontsize=7)
    fig.suptitle(
        (title + "\n" if title else "") + "what networks can learn, with random "
        "weights: top, five functions of one input; bottom, one function of two "
        "inputs (thick line: where a classifier would cut)",
        fontsize=10,
    )
    return finish(fig, path)


def deep_vs_wide(*, seed=0, epochs: int = 1500, fitted=None, title=None, path=None):
    """Wide (one hidden layer of 100) versus deep (11 then 9): random draws of each,
    and both trained on the same wiggly curve, with their sizes and errors.

    ``fitted`` may be a result of :func:`fit_deep_and_wide` to draw instead of
    training again.
    """
    from ..tensor import no_grad

    fitted = fitted or fit_deep_and_wide(epochs=epochs, seed=seed)
    fig = new_figure(figsize=(12.5, 4.3))
    axes = fig.subplots(1, 3)
    shown_as = (
        ("two-layer tanh, 100 hidden", "wide: one hidden layer of 100 (tanh)"),
        ("three-layer tanh, 11 + 9 hidden", "deep: two hidden layers, 11 and 9 (tanh)"),
    )
    for ax, (kind, shown) in zip(axes[:2], shown_as):
        xs, curves = sample_functions(kind, 1, 5, seed=seed)
        for k, curve in enumerate(curves):
            ax.plot(xs, curve, color=CLASS_COLOURS[k], lw=1.3)
        ax.set_title(f"random draws, {shown}", fontsize=9)
        ax.set_xlabel("input")
        ax.set_ylabel("output")
        ax.set_ylim(-1.05, 1.05)
        ax.grid(alpha=0.3)
    ax = axes[2]
    x = fitted["x"]
    ax.plot(x, fitted["y"], color="0.6", lw=5, label="target curve", alpha=0.6)
    styles = iter([(CLASS_COLOURS[0], "-"), (CLASS_COLOURS[1], "--")])
    for name, res in fitted.items():
        if not isinstance(res, dict):
            continue
        with no_grad():
            y = res["model"](x[:, None].astype(np.float32)).data[:, 0]
        colour, ls = next(styles)
        ax.plot(
            x,
            y,
            ls,
            color=colour,
            lw=1.6,
            label=f"{name} ({res['hidden']} hidden neurons, {res['params']} weights "
            f"and biases): MSE {res['mse']:.1e}",
        )
    ax.set_title("both trained on the same curve", fontsize=9)
    ax.set_xlabel("input")
    ax.set_ylabel("output")
    ax.grid(alpha=0.3)
    ax.legend(
        fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False
    )
    fig.suptitle(
        (title + "\n" if title else "") + "deep versus wide: drawn at random "
        "they differ (gentle wiggles, sharper steps); trained, the deep net "
        "fits the same curve with a fifth of the hidden neurons",
        fontsize=10,
    )
    return finish(fig, path)
