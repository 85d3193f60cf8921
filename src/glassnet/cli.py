"""The ``glassnet`` command.

::

    glassnet demo [NAME]                 run a seed story
    glassnet train CONFIG.toml           train the model a config describes, save it
    glassnet evaluate MODEL [--data D]   loss and accuracy on held-out or given data
    glassnet predict MODEL INPUT         the model's answers for new inputs
    glassnet inspect MODEL               what a model file holds
    glassnet export MODEL OUT.onnx       the model as ONNX, for onnxruntime
    glassnet bench                       speed next to PyTorch (from a source checkout)
    glassnet compare --dataset NAME      networks next to classical models (sklearn extra)
    glassnet sweep SWEEP.toml --trials N search settings with Optuna (glassnet[sweep])

A mistake prints one line on stderr and exits with status 2 when the
command cannot start as asked (bad arguments, a missing file, a bad config
key) and 1 when it started and failed (unusable data or model file, a
diverged run); ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .errors import ConfigError, GlassnetError


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line and exit status 2."""

    def error(self, message):
        print(
            f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr
        )
        sys.exit(2)


# --- demo -----------------------------------------------------------------------------
def _demo(args) -> int:
    from . import demos

    if args.list:
        for name in demos.DEMOS:
            print(f"{name:16s} {demos.load(name).DESCRIPTION}")
        return 0
    name = args.name or demos.DEFAULT
    if name not in demos.DEMOS:
        known = ", ".join(demos.DEMOS)
        raise _UsageError(f"unknown demo {name!r}; choose one of: {known}")
    return demos.load(name).run(args)


# --- train ----------------------------------------------------------------------------
def _train(args) -> int:
    if (
        args.distributed
    ):  # one rank failing must stop the others, not leave them waiting
        from .distributed import abort_on_failure

        return abort_on_failure(_train_rank, args)
    return _train_rank(args)


def _train_rank(args) -> int:
    from .data.transforms import Standardizer
    from .io import config as cfgmod
    from .io import save
    from .train import evaluate, fit

    _need_file(args.config)
    cfg = cfgmod.read_config(args.config)
    if args.epochs is not None:
        cfg.train["epochs"] = args.epochs
    out = args.output or cfg.output["model"]
    checkpoint = args.checkpoint or cfg.output.get("checkpoint")
    if args.resume and not checkpoint:
        raise _UsageError(
            "--resume needs a checkpoint: set [output] checkpoint in the "
            "config or pass --checkpoint PATH"
        )
    _check_outputs(out, checkpoint)
    X, y, X_test, y_test, classes = cfgmod.split_data(cfg.data)
    scaler = None
    if cfg.data.get("standardize"):
        scaler = Standardizer().fit(X)
        X = scaler.transform(X)
        X_test = None if X_test is None else scaler.transform(X_test)
    model = cfgmod.build_model(cfg)
    optimizer = cfgmod.build_optimizer(cfg, model)
    t = cfg.train
    verbose = t.get("verbose", 0 if args.quiet else 2)
    resume_from = checkpoint if args.resume and os.path.exists(checkpoint) else None
    rank = 0
    if args.distributed:
        from .distributed import rank as mpi_rank

        rank = mpi_rank()
    say = (lambda *a: None) if args.quiet or rank else print
    say(
        f"training on {len(X)} samples"
        + (f", testing on {len(X_test)}" if X_test is not None else "")
        + f"\n{model}"
    )
    if resume_from:
        say(f"resuming from {resume_from}")
    start = time.perf_counter()
    history = fit(
        model,
        X,
        y,
        loss=t.get("loss"),
        optimizer=optimizer,
        epochs=t["epochs"],
        batch_size=t.get("batch_size", 32),
        seed=t.get("seed"),
        metrics=t.get("metrics"),
        validation_split=t.get("validation_split"),
        clip_norm=t.get("clip_norm"),
        shuffle=t.get("shuffle", True),
        verbose=verbose,
        checkpoint=checkpoint,
        checkpoint_every=cfg.output.get("checkpoint_every") if checkpoint else None,
        resume_from=resume_from,
        distributed=args.distributed,
        callbacks=[] if rank else _run_log(args, cfg),  # rank 0 alone logs
    )
    if rank:  # rank 0 alone evaluates and saves
        return 0
    seconds = time.perf_counter() - start
    scores = {
        "train": {k: v[-1] for k, v in history.history.items()} if len(history) else {}
    }
    if X_test is not None:
        scores["test"] = evaluate(
            model, X_test, y_test, loss=t.get("loss"), metrics=t.get("metrics")
        )
    metadata = {
        "trained_with": {
            "config": os.path.abspath(cfg.path),
            "data": cfg.data,
            "train": cfg.train,
            "optimizer": cfg.optimizer,
        },
        "classes": list(classes),
        "input_shape": list(X.shape[1:]),
        "standardize": scaler is not None,
        "scores": scores,
    }
    arrays = (
        {}
        if scaler is None
        else {"standardize.mean": scaler.mean_, "standardize.scale": scaler.scale_}
    )
    save(model, out, metadata=metadata, arrays=arrays)
    say(f"trained {len(history)} epochs in {seconds:.1f} s; saved {out}")
    if "test" in scores:
        print(f"test: {_format_scores(scores['test'])} on {len(X_test)} samples")
    return 0


def _check_outputs(model_path, checkpoint) -> None:
    """Before any epoch: the model (and checkpoint) can be written where asked."""
    from .io.container import check_writable

    try:
        check_writable(model_path, "model file")
        if checkpoint:
            check_writable(checkpoint, "checkpoint")
    except OSError as e:
        raise _UsageError(f"{e} Nothing was trained.") from None


def _run_log(args, cfg) -> list:
    """[RunLog] when the run is to be logged (--log-dir, [train] log_dir, --dashboard)."""
    log_dir = (
        args.log_dir or cfg.train.get("log_dir") or ("runs" if args.dashboard else None)
    )
    if log_dir is None:
        return []
    from .train import RunLog

    config = {
        "config": os.path.abspath(cfg.path),
        "data": cfg.data,
        "model": cfg.model,
        "train": cfg.train,
        "optimizer": cfg.optimizer,
    }
    return [RunLog(log_dir, config=config, serve=args.dashboard)]


# --- evaluate and predict -------------------------------------------------------------
def _open_model(path):
    from .io import read
    from .io.model import check_metadata

    _need_file(path)
    mf = read(path)
    check_metadata(os.fspath(path), mf.metadata, mf.arrays)
    return mf


def _prepare(mf, X):
    """Inputs as the model was trained on them: reshaped, standardised."""
    import numpy as np

    from .data.transforms import Standardizer

    X = np.asarray(X)
    shape = mf.metadata.get("input_shape")
    if shape and tuple(X.shape[1:]) != tuple(shape):
        if X.ndim >= 1 and int(np.prod(X.shape[1:])) == int(np.prod(shape)):
            X = X.reshape((len(X), *shape))
        else:
            raise _Failure(
                f"the inputs have shape {tuple(X.shape[1:])} per sample; the "
                f"model was trained on {tuple(shape)}"
            )
    if mf.metadata.get("standardize"):
        scaler = Standardizer()
        scaler.mean_, scaler.scale_ = (
            mf.arrays["standardize.mean"],
            mf.arrays["standardize.scale"],
        )
        X = scaler.transform(X)
    return X


class _Failure(GlassnetError):
    pass


def _evaluate(args) -> int:
    from .io import config as cfgmod
    from .train import evaluate

    mf = _open_model(args.model)
    trained = mf.metadata.get("trained_with", {})
    recorded = None
    if trained.get("data"):
        recorded = cfgmod.check_data(
            f"{args.model} (its training record)",
            trained["data"],
            os.path.dirname(args.model),
        )
    paths = _recorded_paths(recorded)
    if args.data:
        # the same split as in training only when the user names the one file
        # the model was trained on; otherwise all of the given data
        if paths != [("train", os.path.realpath(args.data))]:
            recorded = None
        else:
            recorded["train"]["path"] = args.data
    elif paths:
        # a path inside a model file is data from whoever wrote the file:
        # never opened unless the user names it
        raise _UsageError(
            f"{args.model} was trained on {paths[0][1][:200]!r}; glassnet does "
            "not open files a model file names. Pass --data with that path to "
            "evaluate on its held-out part, or --data with other labelled data"
        )
    if recorded is not None:
        Xtr, ytr, Xte, yte, _ = cfgmod.split_data(recorded)
        if args.split == "train" or Xte is None:
            X, y, what = Xtr, ytr, "the training data"
        else:
            X, y, what = Xte, yte, "the held-out test data"
    elif args.data:
        data = _load_data_arg(args.data, args.label_column)
        if data.y is None:
            raise _UsageError(
                f"{args.data} has no labels to evaluate against; give "
                "--label-column for a CSV, or a y array in the .npz"
            )
        X, y, what = data.X, data.y, args.data
    else:
        raise _UsageError(
            f"{args.model} does not say what it was trained on; give --data"
        )
    t = trained.get("train", {})
    scores = evaluate(
        mf.model, _prepare(mf, X), y, loss=t.get("loss"), metrics=t.get("metrics")
    )
    if args.json:
        print(json.dumps({**scores, "samples": len(X)}))
    else:
        print(f"{_format_scores(scores)} on {len(X)} samples ({what})")
    return 0


def _recorded_paths(recorded) -> list:
    """The files a (checked) recorded [data] section names, train first."""
    if recorded is None:
        return []
    return [
        (part, os.path.realpath(recorded[part]["path"]))
        for part in ("train", "test")
        if "path" in recorded.get(part, {})
    ]


def _load_data_arg(source: str, label_column):
    from .io import config as cfgmod

    if source in cfgmod.DATASETS and not os.path.exists(source):
        return cfgmod.load_source({"dataset": source})
    _need_file(source)
    from .data.loaders import load_data

    options = {}
    if source.lower().endswith((".csv", ".tsv")):
        options["label_column"] = -1 if label_column is None else _column(label_column)
    elif label_column is not None:
        raise _UsageError("--label-column applies only to CSV files")
    return load_data(source, **options)


def _column(value):
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def _predict(args) -> int:
    import numpy as np

    from .data.loaders import IMAGE_SUFFIXES, load_data, load_image
    from .train import predict

    mf = _open_model(args.model)
    _need_file(args.input)
    if args.input.lower().endswith(IMAGE_SUFFIXES):
        size, color = _image_options(mf)
        X = load_image(args.input, size, color)[None]
    elif args.input.lower().endswith((".csv", ".tsv")):
        X = load_data(args.input, label_column=_column(args.label_column)).X
    else:
        X = load_data(args.input).X
    outputs = predict(mf.model, _prepare(mf, X))
    if args.output:
        import io as stdio

        from .io import atomic_write

        buf = stdio.BytesIO()
        if args.output.endswith(".npy"):
            np.save(buf, outputs, allow_pickle=False)
        else:
            np.savetxt(
                buf, outputs.reshape(len(outputs), -1), delimiter=",", fmt="%.8g"
            )
        atomic_write(args.output, buf.getvalue())
        print(f"wrote the outputs of {len(outputs)} samples to {args.output}")
        return 0
    classes = mf.metadata.get("classes") or []
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        from .train.loop import _OUTPUT_FIX, check_finite_rows

        check_finite_rows(args.input, "the model's outputs", outputs, _OUTPUT_FIX)
        labels = outputs.argmax(axis=1)
        for row, label in zip(outputs, labels):
            name = classes[label] if label < len(classes) else int(label)
            scores = " ".join(f"{v:.4g}" for v in row) if args.scores else ""
            print(f"{name}{'  ' + scores if scores else ''}")
    else:
        for row in outputs.reshape(len(outputs), -1):
            print(" ".join(f"{v:.6g}" for v in row))
    return 0


def _image_options(mf):
    """Size and colour for one image: as in training, or from the input shape."""
    train = mf.metadata.get("trained_with", {}).get("data", {}).get("train", {})
    shape = mf.metadata.get("input_shape")
    if not shape or len(shape) != 3:
        raise _Failure(
            "this model was not trained on images (channels, height, width); "
            "give its inputs as a .npy, .npz or .csv file"
        )
    color = train.get("color", "rgb" if shape[0] == 3 else "grayscale")
    return (shape[1], shape[2]), color


# --- inspect --------------------------------------------------------------------------
def _inspect(args) -> int:
    if args.model.lower().endswith(".onnx"):
        return _inspect_onnx(args)
    mf = _open_model(args.model)
    model, meta = mf.model, mf.metadata
    kind = "checkpoint" if mf.kind == "glassnet.checkpoint" else "model file"
    print(
        f"{args.model}: glassnet {kind} (format 1, written by glassnet "
        f"{mf.glassnet_version}), {os.path.getsize(args.model):,} bytes"
    )
    shape = meta.get("input_shape")
    try:
        from .inspect.summary import summary

        print(summary(model, input_shape=tuple(shape) if shape else None))
    except ImportError:
        print(model)
        for name, p in model.named_parameters():
            print(f"  {name:24s} {p.shape!s:16s} {p.size:>10,}")
        print(f"{model.num_parameters():,} parameters ({model.dtype})")
    if meta.get("classes"):
        print(f"classes: {', '.join(map(str, meta['classes']))}")
    for part, scores in meta.get("scores", {}).items():
        print(f"{part} scores when saved: {_format_scores(scores)}")
    trained = meta.get("trained_with", {})
    if trained.get("config"):
        print(f"trained from {trained['config']}")
    if mf.arrays:
        print(
            "extra arrays: "
            + ", ".join(f"{k} {tuple(v.shape)}" for k, v in mf.arrays.items())
        )
    if args.figures:
        for path in _inspect_figures(model, args.figures):
            print(f"figure: {path}")
    return 0


def _inspect_onnx(args) -> int:
    """``glassnet inspect MODEL.onnx``: the file read as glassnet layers."""
    from .io.onnx import read_onnx

    _need_file(args.model)
    model, info = read_onnx(args.model)
    print(
        f"{args.model}: ONNX model (opset {info['opset']}, written by "
        f"{info['producer'] or 'an unnamed producer'}), {info['nodes']} nodes, "
        f"{os.path.getsize(args.model):,} bytes"
    )
    shape = info["input_shape"]
    known = None if None in shape else shape
    print(
        f"input {info['input_name']!r}: (batch, {', '.join(map(str, shape))}) "
        f"{info['input_dtype']}".replace(", )", ")")
    )
    from .inspect.summary import summary

    print(summary(model, input_shape=known))
    if args.figures:
        paths = _inspect_figures(model, args.figures)
        if paths and known and len(known) == 3:
            paths.append(_first_receptive_fields(model, known, args.figures))
        for path in paths:
            print(f"figure: {path}")
    return 0


def _first_receptive_fields(model, input_shape, folder) -> str:
    """The first Conv2D's receptive fields (exact), as the input each filter
    (after its activation) responds to most, inputs in [-1, 1]."""
    from . import plot
    from .nn import Conv2D

    layers = list(model)
    i = next(k for k, m in enumerate(layers) if isinstance(m, Conv2D))
    after = type(layers[i + 1]).__name__ if i + 1 < len(layers) else ""
    pick = i + 1 if after in ("ReLU", "Sigmoid", "Tanh", "Identity") else i
    path = os.path.join(folder, "receptive-fields.png")
    plot.receptive_fields(model, layers=[pick], input_shape=input_shape, path=path)
    return path


# --- export ---------------------------------------------------------------------------
def _export(args) -> int:
    from .io.onnx import export_onnx

    mf = _open_model(args.model)
    shape = mf.metadata.get("input_shape")
    standardize = None
    if mf.metadata.get("standardize") and not args.raw:
        standardize = (mf.arrays["standardize.mean"], mf.arrays["standardize.scale"])
    export_onnx(
        mf.model,
        args.output,
        opset=args.opset,
        dynamic_batch=not args.fixed_batch,
        input_shape=tuple(shape) if shape else None,
        standardize=standardize,
    )
    print(
        f"wrote {args.output}: {os.path.getsize(args.output):,} bytes"
        + (" (standardises its inputs itself)" if standardize else "")
    )
    return 0


def _inspect_figures(model, folder) -> list:
    """Draw what can be drawn of a model into ``folder``; return the paths written."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(
            "figures need matplotlib: pip install matplotlib (or pip install -e '.[plot]' in a glassnet checkout)"
        )
        return []
    import matplotlib.pyplot as plt

    from . import plot
    from .nn import Conv1D, Conv2D, Dense

    os.makedirs(folder, exist_ok=True)
    written = []

    def save(fig, name):
        path = os.path.join(folder, name)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)

    layers = [(name, m) for name, m in model.named_modules() if name]
    dense = [m for _, m in layers if isinstance(m, Dense)]
    convs = [(name, m) for name, m in layers if isinstance(m, Conv2D)]
    if dense and not convs and not any(isinstance(m, Conv1D) for _, m in layers):
        side = int(round(dense[0].in_features ** 0.5))
        if side * side == dense[0].in_features:
            save(plot.weight_images(dense[0]), "first-layer-weights.png")
        widths = [dense[0].in_features] + [d.out_features for d in dense]
        if max(widths) <= 16:  # wider nets become a tangle of lines that shows nothing
            save(plot.network(model), "network.png")
    for name, conv in convs:
        save(plot.filters(conv), f"filters-{name.replace('.', '-')}.png")
    if not written:
        print("no figure applies to this model's layers")
    return written


# --- bench ----------------------------------------------------------------------------
def _bench(args) -> int:
    """Run benchmarks/bench.py of a source checkout (the harness is not packaged)."""
    import importlib.util

    harness = _bench_harness()
    spec = importlib.util.spec_from_file_location("glassnet_bench_harness", harness)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return int(bench.main(args.rest) or 0)


def _bench_harness():
    """benchmarks/bench.py beside the package's source tree or in the current folder."""
    from pathlib import Path

    folders = [
        Path(__file__).resolve().parents[2] / "benchmarks",
        Path.cwd() / "benchmarks",
    ]
    for folder in folders:
        if (folder / "bench.py").is_file():
            return folder / "bench.py"
    looked = " and ".join(str(f) for f in folders)
    raise _Failure(
        f"no benchmarks found: glassnet bench needs glassnet's source checkout "
        f"(looked for benchmarks/bench.py in {looked}); clone the glassnet "
        f"repository and run `make bench` in it, or `glassnet bench` from its "
        f"top folder"
    )


# --- the parser -----------------------------------------------------------------------
def _format_scores(scores: dict) -> str:
    parts = []
    for k, v in scores.items():
        parts.append(f"{k} {v:.2%}" if "acc" in k else f"{k} {v:.4f}")
    return ", ".join(parts)


def _need_file(path) -> None:
    if not os.path.exists(path):
        raise _UsageError(f"no such file: {path}")


def build_parser() -> argparse.ArgumentParser:
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show full tracebacks",
    )
    parser = _Parser(prog="glassnet", description="Neural networks you can see inside.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser(
        "demo", help="run a seed story (default: the main demo)", parents=[debug]
    )
    demo.add_argument("name", nargs="?", help="which demo; see --list")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument(
        "--out",
        metavar="PATH",
        help="where demos that draw a figure write it (PNG or SVG; "
        "default: a new temporary folder, printed)",
    )
    demo.set_defaults(func=_demo)

    train = sub.add_parser(
        "train",
        parents=[debug],
        help="train the model a TOML config describes, and save it",
        description="Train the model a TOML config describes (see "
        "examples/digits.toml) and save it as a model file.",
    )
    train.add_argument("config", metavar="CONFIG.toml")
    train.add_argument(
        "--output", "-o", help="model file to write (default: [output] model)"
    )
    train.add_argument(
        "--checkpoint", help="checkpoint file (default: [output] checkpoint)"
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint if it exists",
    )
    train.add_argument("--epochs", type=int, help="override [train] epochs")
    train.add_argument(
        "--distributed",
        choices=("mpi",),
        help="data-parallel across the ranks of mpiexec -n K (needs glassnet[mpi])",
    )
    train.add_argument(
        "--quiet", "-q", action="store_true", help="print only the result"
    )
    train.add_argument(
        "--log-dir",
        help="write the run to a store in this folder "
        "(default: [train] log_dir; 'runs' with --dashboard)",
    )
    train.add_argument(
        "--dashboard",
        action="store_true",
        help="watch training live in the browser (127.0.0.1)",
    )
    train.set_defaults(func=_train)

    ev = sub.add_parser(
        "evaluate",
        parents=[debug],
        help="loss and accuracy of a model",
        description="Loss and metrics of a saved model: on the data held "
        "out when it was trained, or on --data.",
    )
    ev.add_argument("model", metavar="MODEL")
    ev.add_argument(
        "--data",
        help="a .csv/.npz file, an image folder, or a dataset name "
        "(digits, x_and_o); default: the held-out part of the training data "
        "when that is a bundled dataset. A file the model was trained on is "
        "read only when named here (then its held-out part is used)",
    )
    ev.add_argument(
        "--label-column", help="the label column of a CSV file (default: last)"
    )
    ev.add_argument(
        "--split",
        choices=("test", "train"),
        default="test",
        help="without --data, or with the training file: which part of it",
    )
    ev.add_argument("--json", action="store_true", help="print the scores as JSON")
    ev.set_defaults(func=_evaluate)

    pr = sub.add_parser(
        "predict",
        parents=[debug],
        help="the model's answers for inputs",
        description="Run a saved model on INPUT: a .npy/.npz/.csv file of "
        "inputs, or one image file. Prints one answer per sample.",
    )
    pr.add_argument("model", metavar="MODEL")
    pr.add_argument("input", metavar="INPUT")
    pr.add_argument("--label-column", help="a CSV column to leave out (default: none)")
    pr.add_argument("--scores", action="store_true", help="also print every output")
    pr.add_argument("--output", "-o", help="write all outputs to a .csv or .npy file")
    pr.set_defaults(func=_predict)

    ins = sub.add_parser(
        "inspect",
        parents=[debug],
        help="what a model file holds",
        description="Show a model file's layers, shapes, parameter "
        "counts and training record; with --figures, also draw its weights.",
    )
    ins.add_argument("model", metavar="MODEL")
    ins.add_argument(
        "--figures",
        metavar="DIR",
        help="draw the first layer's weights, the network (dense nets of at "
        "most 16 neurons a layer) and conv filters into DIR (needs "
        "matplotlib, the plot extra)",
    )
    ins.set_defaults(func=_inspect)

    ex = sub.add_parser(
        "export",
        parents=[debug],
        help="write a model as ONNX, to run with onnxruntime",
        description="Write MODEL as an ONNX file that onnxruntime (or any ONNX "
        "runtime) runs without glassnet. A model trained with standardised inputs "
        "gets the standardisation inside the graph, so it takes raw inputs. Needs "
        "glassnet[onnx].",
    )
    ex.add_argument("model", metavar="MODEL")
    ex.add_argument("output", metavar="OUT.onnx")
    ex.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    ex.add_argument(
        "--fixed-batch",
        action="store_true",
        help="fix the batch axis to 1 instead of leaving it open",
    )
    ex.add_argument(
        "--raw",
        action="store_true",
        help="leave the saved standardisation out of the graph",
    )
    ex.set_defaults(func=_export)

    be = sub.add_parser(
        "bench",
        parents=[debug],
        help="speed next to PyTorch",
        description="Run the benchmarks of a source checkout; arguments "
        "after 'bench' go to the benchmark runner (try: glassnet bench "
        "-- --help).",
    )
    be.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the runner")
    be.set_defaults(func=_bench)

    def _kernels(args) -> int:
        from . import _native

        for line in _native.describe():
            print(line)
        failed = [name for name, why in _native.status().items() if why != "loaded"]
        return 1 if failed and _native.enabled() else 0

    ker = sub.add_parser(
        "kernels",
        parents=[debug],
        help="build the optional compiled kernels and say which work",
        description="Compile glassnet's optional C kernels now (they are otherwise "
        "built on first use) and report each one: loaded, or why not. Exit 1 if "
        "one failed; glassnet then uses its NumPy code for it. GLASSNET_NATIVE=0 "
        "turns them off.",
    )
    ker.set_defaults(func=_kernels)

    def _tour(args) -> int:
        from .tour import main as tour_main

        return tour_main(args)

    tour = sub.add_parser(
        "tour",
        parents=[debug],
        help="every seed story, drawn in one folder",
        description="Run every seed story with quick settings; write its "
        "figures and an index.html with captions into DIR.",
    )
    tour.add_argument(
        "--out",
        default="glassnet-tour",
        metavar="DIR",
        help="folder to write (default: glassnet-tour)",
    )
    tour.add_argument(
        "--only", nargs="+", metavar="STORY", help="run only these stories"
    )
    tour.set_defaults(func=_tour)
    _add_compare(sub, debug)

    def _sweep(args) -> int:
        from . import sweep

        _need_file(args.sweep)
        sweep.run(
            args.sweep,
            args.trials,
            storage=args.storage,
            study_name=args.study,
            out=args.out,
        )
        return 0

    sw = sub.add_parser(
        "sweep",
        parents=[debug],
        help="search a config's settings with Optuna (needs glassnet[sweep])",
        description="Run trials of the settings SWEEP.toml names (see "
        "examples/digits-sweep.toml and docs/sweeps.md) until the study has N; "
        "several processes or machines running the same command share the work.",
    )
    sw.add_argument("sweep", metavar="SWEEP.toml")
    sw.add_argument(
        "--trials",
        type=int,
        required=True,
        metavar="N",
        help="trials in the whole study, across every process",
    )
    sw.add_argument(
        "--storage",
        metavar="URL",
        help="a journal file path or a database URL such as "
        "postgresql://user:pass@host/db (default: SWEEP.journal next "
        "to the sweep file)",
    )
    sw.add_argument(
        "--study", metavar="NAME", help="study name (default: the sweep file's name)"
    )
    sw.add_argument(
        "--out",
        metavar="DIR",
        help="folder for the table's best.toml, best.glassnet and "
        "figures (default: the sweep file's name)",
    )
    sw.set_defaults(func=_sweep)

    def _dashboard(args) -> int:
        from .dashboard import serve

        if not os.path.isdir(args.log_dir):
            raise _UsageError(
                f"{args.log_dir}: no such folder (runs are written "
                "there by fit(log_dir=...) or [train] log_dir)"
            )
        serve(args.log_dir, port=args.port, host=args.host)
        return 0

    dash = sub.add_parser(
        "dashboard",
        help="watch training runs in the browser (local web app)",
        description="Serve the run stores in LOG_DIR on http://127.0.0.1:PORT/. "
        "Needs pip install 'glassnet[dashboard]'.",
    )
    dash.add_argument("log_dir", nargs="?", default="runs", metavar="LOG_DIR")
    dash.add_argument("--port", type=int, default=6006)
    dash.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; anything but loopback is "
        "reachable from other machines (a warning is printed)",
    )
    dash.set_defaults(func=_dashboard)
    return parser


# --- compare --------------------------------------------------------------------------
def _compare(args) -> int:
    from . import baselines

    if args.epochs is not None and args.epochs < 1:
        raise _UsageError(f"--epochs must be at least 1; got {args.epochs}")
    if not 0 < args.test_size < 1:
        raise _UsageError(f"--test-size must be between 0 and 1; got {args.test_size}")
    X, y, task, shape = baselines.load_dataset(args.dataset, seed=args.seed)
    result = baselines.compare(
        X,
        y,
        task=task,
        input_shape=shape,
        test_size=args.test_size,
        random_state=args.seed,
        dataset=args.dataset,
        **({} if args.epochs is None else {"epochs": args.epochs}),
    )
    if args.json:
        print(
            json.dumps(
                {
                    "dataset": args.dataset,
                    "task": result.task,
                    "n_train": result.n_train,
                    "n_test": result.n_test,
                    "rows": result.rows,
                },
                indent=2,
            )
        )
    else:
        print(result)
    if args.out != "-":
        result.figure(args.out)
        print(f"figure: {args.out}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _add_compare(sub, debug) -> None:
    from .baselines import DATASETS

    cmp = sub.add_parser(
        "compare",
        parents=[debug],
        help="glassnet networks next to classical models (needs glassnet[sklearn])",
        description="Train scikit-learn's classical models and glassnet networks on "
        "one split of a bundled dataset; print accuracy (R² and RMSE for "
        "regression), fit time, prediction time per sample and model size, and "
        "draw them.",
    )
    cmp.add_argument("--dataset", required=True, choices=DATASETS)
    cmp.add_argument(
        "--out",
        default="compare.png",
        metavar="PATH",
        help="the figure, PNG or SVG (default: compare.png; - for none)",
    )
    cmp.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the split's and the models' seed (default 0)",
    )
    cmp.add_argument(
        "--test-size",
        type=float,
        default=0.25,
        help="share of samples held out (default 0.25)",
    )
    cmp.add_argument(
        "--epochs",
        type=int,
        help="most epochs for the networks (default 200; they stop early)",
    )
    cmp.add_argument("--json", action="store_true", help="print the rows as JSON")
    cmp.set_defaults(func=_compare)


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # Everything after 'bench' belongs to the benchmark runner, options included.
        args = parser.parse_args(["bench"])
        args.rest = argv[1:]
    else:
        args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "rest", None) and args.rest[0] == "--":
        args.rest = args.rest[1:]
    try:
        return int(args.func(args) or 0)
    except (_UsageError, ConfigError, FileNotFoundError, IsADirectoryError) as e:
        if args.debug:
            raise
        _say(e)
        return 2
    except (GlassnetError, OSError, ImportError) as e:
        if args.debug:
            raise
        _say(e)
        return 1
    except Exception as e:  # a bug, or a mistake nothing checked: still one line
        if args.debug:
            raise
        _say(f"{type(e).__name__}: {e} (run with --debug for the traceback)")
        return 1
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=sys.stderr)
        return 130


def _say(error) -> None:
    text = " ".join(str(error).split()) or type(error).__name__
    print(f"glassnet: error: {text}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
