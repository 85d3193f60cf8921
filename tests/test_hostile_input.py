"""Files and configs that declare sizes too large to allocate (issue 14, item 13),
and model files whose metadata or layer configs have the wrong types (item 16).

Each hostile file must be refused with glassnet's own error *before* anything
of the declared size is allocated. The command-line cases run in a child
process whose address space is capped at 2 GiB (``RLIMIT_AS``), so a refusal
that came too late would show as a MemoryError there, not as a slow test or
an exhausted machine.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from test_io import _rewrite_content

import glassnet as gn
from glassnet import nn
from glassnet._validate import LIMITS
from glassnet.errors import ConfigError, FormatError
from glassnet.io import config as cfgmod

ROOT = Path(__file__).resolve().parents[1]
resource = pytest.importorskip("resource")  # RLIMIT_AS: POSIX only

CAPPED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from glassnet.cli import main
sys.exit(main(sys.argv[1:]))
"""


def capped_cli(*argv, cwd=None):
    """Run ``glassnet ARGV`` with at most 2 GiB of address space."""
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(gn.__file__).resolve().parents[1]),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", CAPPED, *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=False,
    )
    return done.returncode, done.stderr


def _model_file(tmp_path, model, change=None, **save):
    path = tmp_path / "m.glassnet"
    gn.save(model, path, **save)
    if change is not None:
        _rewrite_content(path, change)
    return path


def _set(index, **config):
    def change(content):
        content["model"]["layers"][index]["config"].update(config)

    return change


# --- item 13: sizes a model file declares --------------------------------------------
HOSTILE_CONFIGS = [
    # (a small model, the layer to change, the change, words of the message)
    (lambda: nn.Conv2D(1, 1, 3), 0, {"padding": 30000}, "wider than kernel_size"),
    (lambda: nn.Conv2D(1, 1, 3), 0, {"padding": [0, 4]}, "wider than kernel_size"),
    (lambda: nn.Conv1D(1, 1, 3), 0, {"padding": 10**6}, "wider than kernel_size"),
    (lambda: nn.Conv2D(1, 1, 3), 0, {"stride": 10**9}, "stride is 1,000,000,000"),
    (lambda: nn.OneHot(10), 0, {"num_classes": 2 * 10**9}, "vocabulary"),
    (lambda: nn.MaxPool2D(2), 0, {"kernel_size": [2, 10**8]}, "kernel"),
    (lambda: nn.AvgPool2D(2), 0, {"stride": 2**40}, "stride"),
    (lambda: nn.Dense(3, 2), 0, {"in_features": 10**6}, "width"),
    (lambda: nn.LSTM(3, 2), 0, {"hidden_size": 2**20}, "width"),
    (lambda: nn.Embedding(5, 2), 0, {"num_embeddings": 2**31}, "vocabulary"),
]


@pytest.mark.parametrize("make, index, config, words", HOSTILE_CONFIGS)
def test_sizes_over_the_limits_are_refused_at_load(
    tmp_path, make, index, config, words
):
    path = _model_file(tmp_path, nn.Sequential(make()), _set(index, **config))
    with pytest.raises(FormatError, match=words):
        gn.load(path)


def test_limits_are_generous_for_real_models(tmp_path):
    """Real shapes load: 'same' padding, full padding (= kernel width), big vocabularies."""
    model = nn.Sequential(
        nn.Conv2D(3, 8, 7, padding=3),
        nn.Conv2D(8, 8, (1, 5), padding=(0, 5)),
        nn.Conv2D(8, 8, 4, padding="same"),
        nn.MaxPool2D(3, stride=2, padding=1),
        nn.Flatten(),
        seed=0,
    )
    assert gn.load(_model_file(tmp_path, model)).get_config() == model.get_config()
    hot = nn.Sequential(nn.OneHot(LIMITS["vocabulary"]))
    assert gn.load(_model_file(tmp_path, hot))[0].num_classes == 2**20


def test_predict_with_a_huge_padding_is_refused_before_allocating(tmp_path):
    """Before the fix this file loaded, and predict asked for ~14 GiB."""
    model = nn.Sequential(nn.Conv2D(1, 1, 3), nn.Flatten(), seed=0)
    path = _model_file(tmp_path, model, _set(0, padding=30000))
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 4, 4), np.float32))
    code, err = capped_cli("predict", path, tmp_path / "x.npy")
    assert code == 1 and "padding [30000, 30000] is wider" in err, err
    assert "MemoryError" not in err


def test_inspect_with_a_huge_input_shape_is_refused_before_allocating(tmp_path):
    """Before the fix, inspect allocated zeros of metadata.input_shape (here 4 TiB)."""
    model = nn.Sequential(nn.Flatten(), nn.Dense(4, 2), seed=0)
    path = _model_file(tmp_path, model, metadata={"input_shape": [2**20, 2**20]})
    code, err = capped_cli("inspect", path)
    assert code == 1 and "input_shape's size is 1,099,511,627,776" in err, err
    assert "MemoryError" not in err


def test_summary_refuses_an_input_shape_over_the_limits():
    model = nn.Sequential(nn.Flatten())
    with pytest.raises(ConfigError, match="sample_values"):
        model.summary(input_shape=(2**13, 2**13, 2**13))  # 2 TiB of zeros
    with pytest.raises(ConfigError, match="sample_axes"):
        model.summary(input_shape=(1,) * 9)
    assert "(batch, 16)" in str(model.summary(input_shape=(1, 4, 4)))


def test_a_config_too_large_to_allocate_is_a_config_error(tmp_path):
    """Dense(60000, 60000) used to allocate 13.4 GiB before training began."""
    layers = [{"type": "Dense", "in_features": 60000, "out_features": 60000}]
    with pytest.raises(ConfigError, match="parameters is 3,600,060,000"):
        cfgmod.model_description("c.toml", layers)
    config = tmp_path / "big.toml"
    config.write_text(
        textwrap.dedent(
            """
            [data]
            train = { dataset = "digits", flatten = true }
            [model]
            layers = [{ type = "Dense", in_features = 60000, out_features = 60000 }]
            [train]
            epochs = 1
            [output]
            model = "big.glassnet"
            """
        )
    )
    code, err = capped_cli("train", config, cwd=tmp_path)
    assert code == 2 and "more than glassnet's limit of 268,435,456" in err, err


def test_every_limit_is_documented():
    docs = (ROOT / "docs" / "model-files.md").read_text()
    for name, value in LIMITS.items():
        assert f"`{name}`" in docs and f"{value:,}" in docs, name


# --- item 16: wrong types and NaN in layer configs -----------------------------------
@pytest.mark.parametrize(
    "make, config, words",
    [
        (nn.Step, {"threshold": "nan"}, "threshold must be a finite number"),
        (nn.Step, {"high": "inf"}, "high must be a finite number"),
        (nn.Step, {"low": [1]}, "low must be a finite number"),
        (nn.Softmax, {"axis": 1.5}, "axis must be an integer"),
        (nn.Softmax, {"axis": "1"}, "axis must be an integer"),
        (lambda: nn.MaxPool2D(2), {"ceil_mode": "yes"}, "ceil_mode must be true"),
        (lambda: nn.LSTM(2, 2), {"stateful": 1}, "stateful must be true"),
    ],
)
def test_wrong_types_in_a_layer_config_are_format_errors(tmp_path, make, config, words):
    # (a NaN number cannot reach a layer: the container's JSON parser refuses it)
    path = _model_file(tmp_path, nn.Sequential(make()), _set(0, **config))
    with pytest.raises(FormatError, match=words):
        gn.load(path)


def test_step_and_softmax_check_their_arguments():
    with pytest.raises(ConfigError, match="finite"):
        nn.Step(threshold=float("nan"))
    with pytest.raises(ConfigError, match="finite"):
        nn.Step(high=float("inf"))
    with pytest.raises(ConfigError, match="integer"):
        nn.Softmax(axis=True)
    assert nn.Step(np.float32(0.5), low=-1).threshold == 0.5
    assert nn.Softmax(np.int64(0)).axis == 0


BAD_METADATA = [
    ({"input_shape": "abc"}, "input_shape must be a list"),
    ({"input_shape": [0, 3]}, "input_shape must be a list"),
    ({"input_shape": [1.5]}, "input_shape must be a list"),
    ({"classes": 7}, "classes must be a list"),
    ({"classes": [[1]]}, "classes must be a list"),
    ({"standardize": "yes"}, "standardize must be true or false"),
    ({"standardize": True}, "standardize must be false unless"),
    ({"scores": {"test": {"loss": "low"}}}, "scores must be"),
    ({"scores": [1]}, "scores must be"),
    ({"trained_with": []}, "trained_with must be an object"),
    ({"trained_with": {"train": {"loss": 3}}}, "trained_with.train.loss"),
    ({"trained_with": {"train": {"metrics": "acc"}}}, "trained_with.train.metrics"),
    ({"trained_with": {"config": 5}}, "trained_with.config"),
    ({"trained_with": {"data": "x.csv"}}, "trained_with.data"),
    ({"trained_with": {"data": {"train": 5}}}, "trained_with.data.train"),
]


@pytest.mark.parametrize("command", ["inspect", "evaluate", "predict"])
@pytest.mark.parametrize("metadata, words", BAD_METADATA)
def test_wrong_typed_metadata_is_a_format_error_in_every_command(
    capsys, tmp_path, command, metadata, words
):
    from glassnet import cli

    path = _model_file(tmp_path, nn.Sequential(nn.Dense(3, 2)), metadata=metadata)
    np.save(tmp_path / "x.npy", np.zeros((2, 3), np.float32))
    extra = {"evaluate": ["--data", "digits"], "predict": [tmp_path / "x.npy"]}
    code = cli.main([command, str(path), *map(str, extra.get(command, []))])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1 and f"metadata {words}" in err, err


# --- item 14: evaluate never follows a path from a model file ------------------------
def test_evaluate_reads_a_path_from_a_model_file_only_when_named(capsys, tmp_path):
    from glassnet import cli

    secret = tmp_path / "private" / "data.csv"
    secret.parent.mkdir()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    table = np.column_stack([X, (X[:, 0] > 0).astype(int)])
    np.savetxt(secret, table, delimiter=",", fmt="%.6g")
    record = {"data": {"train": {"path": str(secret)}, "test_size": 0.25}}
    model = nn.Sequential(nn.Dense(3, 2), seed=0)
    path = _model_file(tmp_path, model, metadata={"trained_with": record})
    opened = []
    real_load = gn.data.loaders.load_data

    def spy(p, **options):
        opened.append(os.fspath(p))
        return real_load(p, **options)

    try:
        gn.data.loaders.load_data = spy
        code = cli.main(["evaluate", str(path)])
        err = " ".join(capsys.readouterr().err.split())
        assert code == 2 and opened == []
        assert "does not open files a model file names" in err
        assert f"was trained on {str(secret)!r}" in err and "--data" in err
        # named by the user: the same held-out quarter as in training
        code = cli.main(["evaluate", str(path), "--data", str(secret), "--json"])
        out = capsys.readouterr().out
        assert code == 0 and json.loads(out)["samples"] == 10
        code = cli.main(
            ["evaluate", str(path), "--data", str(secret), "--json", "--split", "train"]
        )
        assert code == 0 and json.loads(capsys.readouterr().out)["samples"] == 30
        assert opened == [str(secret)] * 2
    finally:
        gn.data.loaders.load_data = real_load
