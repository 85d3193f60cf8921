"""glassnet.baselines.compare and `glassnet compare`: networks next to classical models.

Scores are asserted with fixed seeds; times are measured but never asserted.
"""

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")

from glassnet import baselines
from glassnet.cli import main
from glassnet.datasets import x_and_o
from glassnet.errors import ConfigError

CLASSICAL = [
    "LogisticRegression",
    "KNeighbors",
    "SVC",
    "DecisionTree",
    "RandomForest",
    "HistGradientBoosting",
]
KEYS = {"model", "network", "fit_s", "predict_us", "size_kb"}


@pytest.fixture(scope="module")
def wine():
    X, y, task, shape = baselines.load_dataset("wine")
    return baselines.compare(
        X, y, task=task, input_shape=shape, epochs=30, dataset="wine"
    )


def test_wine_rows_scores_and_order(wine):
    assert wine.task == "classification" and (wine.n_train, wine.n_test) == (133, 45)
    names = [r["model"] for r in wine.rows]
    assert sorted(names) == sorted([*CLASSICAL, "glassnet MLP"])  # no CNN for tables
    for r in wine.rows:
        assert set(r) == KEYS | {"accuracy"}
        assert r["network"] == r["model"].startswith("glassnet")
        assert r["fit_s"] > 0 and r["predict_us"] > 0 and r["size_kb"] > 0
    acc = {r["model"]: r["accuracy"] for r in wine.rows}
    assert list(acc.values()) == sorted(acc.values(), reverse=True)
    assert acc["LogisticRegression"] > 0.95 and acc["glassnet MLP"] > 0.95
    assert acc["DecisionTree"] < acc["RandomForest"]  # the forest's vote helps


def test_table_has_one_line_per_model(wine):
    lines = wine.table().splitlines()
    assert lines[0] == (
        "| model | accuracy | fit (s) | predict (µs/sample) | size (kB) |"
    )
    assert len(lines) == 2 + len(wine.rows)
    assert all(line.count("|") == 6 for line in lines)
    assert [line.split("|")[1].strip() for line in lines[2:]] == [
        r["model"] for r in wine.rows
    ]
    assert str(wine).startswith(
        "wine: classification, 13 features, 133 training and 45 test samples, 1 thread"
    )


def test_figure_has_four_panels(wine, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "wine.png"
    fig = wine.figure(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [ax.get_title() for ax in fig.axes] == [
        "accuracy on the test part",
        "fit time (s)",
        "prediction time per sample (µs)",
        "model size (kB)",
    ]


def test_regression_reports_r2_and_rmse():
    X, y, task, _ = baselines.load_dataset("diabetes")
    assert task == "regression"
    result = baselines.compare(X, y, task=task, epochs=30, dataset="diabetes")
    rows = {r["model"]: r for r in result.rows}
    assert set(rows) == {
        "LinearRegression",
        "KNeighbors",
        "SVR",
        "DecisionTree",
        "RandomForest",
        "HistGradientBoosting",
        "glassnet MLP",
    }
    assert all(set(r) == KEYS | {"r2", "rmse"} for r in result.rows)
    # Same test targets for every model: R² = 1 - RMSE² / var(y_test), so R² and
    # RMSE must rank the models the same way.
    by_r2 = sorted(rows, key=lambda m: -rows[m]["r2"])
    assert by_r2 == sorted(rows, key=lambda m: rows[m]["rmse"])
    assert rows["LinearRegression"]["r2"] > 0.3
    assert "| R² | RMSE |" in result.table()


def test_images_get_a_cnn():
    data = x_and_o(n=200, seed=3)
    X = data.X.reshape(len(data.X), -1)
    result = baselines.compare(
        X, data.y, input_shape=(1, 9, 9), epochs=20, dataset="x_and_o"
    )
    acc = {r["model"]: r["accuracy"] for r in result.rows}
    assert acc["glassnet CNN"] > 0.9 and acc["SVC"] > 0.9


def test_own_models_replace_the_defaults(wine):
    from sklearn.dummy import DummyClassifier

    from glassnet.sklearn import GlassnetClassifier

    X, y, _, _ = baselines.load_dataset("wine")
    result = baselines.compare(
        X,
        y,
        models={
            "majority": DummyClassifier(),
            "tiny net": GlassnetClassifier(
                hidden_layer_sizes=(4,), epochs=20, lr=0.01, random_state=0
            ),
        },
    )
    rows = {r["model"]: r for r in result.rows}
    assert rows["majority"]["accuracy"] == pytest.approx(18 / 45)  # class 1: 71/178
    assert rows["tiny net"]["network"] and not rows["majority"]["network"]


def test_cnn_builder_checks_its_shape():
    net = baselines.CNN((1, 8, 8), filters=4, hidden=8)(64, 10)
    assert net(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 10)
    with pytest.raises(
        ConfigError,
        match=r"input_shape \(1, 8, 8\) holds 64 values; "
        "the data has 81",
    ):
        baselines.CNN((1, 8, 8))(81, 2)
    with pytest.raises(ConfigError, match="channels, height, width"):
        baselines.CNN((8, 8))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: baselines.compare(np.zeros((4, 2, 2)), np.zeros(4)), "Flatten images"),
        (lambda: baselines.load_dataset("mnist"), "unknown dataset 'mnist'"),
        (lambda: baselines.default_models("ranking"), "task must be"),
    ],
)
def test_mistakes_are_named(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_cli_prints_the_table_and_writes_the_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "wine.png"
    assert (
        main(["compare", "--dataset", "wine", "--epochs", "10", "--out", str(out)]) == 0
    )
    text = capsys.readouterr().out
    for name in [*CLASSICAL, "glassnet MLP"]:
        assert f"| {name} |" in text
    assert out.stat().st_size > 0 and f"figure: {out}" in text


def test_cli_json(capsys):
    assert (
        main(["compare", "--dataset", "wine", "--epochs", "5", "--out", "-", "--json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["dataset"] == "wine" and data["n_test"] == 45
    assert len(data["rows"]) == 7


def test_cli_refuses_unknown_datasets(capsys):
    with pytest.raises(SystemExit) as e:
        main(["compare", "--dataset", "mnist"])
    assert e.value.code == 2
    assert "invalid choice: 'mnist'" in capsys.readouterr().err
