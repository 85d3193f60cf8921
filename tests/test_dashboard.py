"""The dashboard's server, through Starlette's TestClient: every route, bad names,
path traversal, Host headers, corrupt and foreign stores."""

import json
import os
import sqlite3

import numpy as np
import pytest

# needs glassnet[dashboard] (make test installs it): no skip, as the issue asks
from starlette.testclient import TestClient

import glassnet as gn
from glassnet.dashboard.app import _host_name, create_app
from glassnet.train import RunLog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    model = gn.nn.Sequential(gn.nn.Dense(3, 4), gn.nn.ReLU(), gn.nn.Dense(4, 2), seed=0)
    gn.fit(
        model,
        X,
        y,
        epochs=4,
        batch_size=16,
        verbose=0,
        validation_data=(X, y),
        callbacks=[RunLog(folder, name="good", budget=1e9, snapshots=1)],
    )
    (folder / "garbage.sqlite").write_bytes(b"this is not a database at all" * 10)
    db = sqlite3.connect(folder / "foreign.sqlite")
    db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('format', 'someone-else/1')")
    db.commit()
    db.close()
    return folder


@pytest.fixture(scope="module")
def client(log_dir):
    return TestClient(create_app(log_dir), base_url="http://127.0.0.1:6006")


def test_page_and_static_files(client):
    assert "glassnet dashboard" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200
    assert "uPlot" in client.get("/static/uPlot.iife.min.js").text
    assert client.get("/static/uPlot.LICENSE").status_code == 200


def test_runs_listing(client):
    runs = {r["name"]: r for r in client.get("/api/runs").json()["runs"]}
    assert set(runs) == {"good", "garbage", "foreign"}
    assert runs["good"]["status"] == "finished" and runs["good"]["epochs"] == 4
    assert set(runs["good"]["metrics"]) == {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
    }
    assert "corrupt" in runs["garbage"]["error"]
    assert "not a glassnet run store" in runs["foreign"]["error"]


def test_run_summary_stats_network_confusion(client):
    run = client.get("/api/runs/good").json()
    assert [e["epoch"] for e in run["epochs"]] == [0, 1, 2, 3]
    assert run["steps"]["step"] == list(range(1, 21))  # 5 batches x 4 epochs
    stats = client.get("/api/runs/good/stats").json()["series"]
    kinds = {(s["kind"], s["tensor"]) for s in stats}
    assert ("weight", "0.weight") in kinds and ("activation", "1.ReLU") in kinds
    assert all(len(s["step"]) == 4 for s in stats)
    net = client.get("/api/runs/good/network").json()
    assert net["epoch"] == 3
    assert [np.shape(layer["weight"]) for layer in net["layers"]] == [(3, 4), (4, 2)]
    cm = client.get("/api/runs/good/confusion").json()
    assert cm["epoch"] == 3 and np.sum(cm["matrix"]) == 80


def test_events_stream_announces_the_run(log_dir):
    app = create_app(log_dir)
    with (
        TestClient(app, base_url="http://localhost") as c,
        c.stream("GET", "/api/runs/good/events") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith("data:"):
                break
    assert "event: update" in lines
    assert json.loads(lines[-1][5:])[-1] == "finished"


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/nothere",
        "/api/runs/.hidden",
        "/api/runs/..%2F..%2Fetc%2Fpasswd",
        "/api/runs/good%00/stats",
        "/api/runs/-x/network",
        "/api/runs/nothere/events",
    ],
)
def test_bad_run_names_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/..%2Fapp.py",
        "/static/%2e%2e/app.py",
        "/static/../../train/runlog.py",
        "/static//etc/passwd",
    ],
)
def test_no_path_traversal(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "import" not in response.text and "root:" not in response.text


@pytest.mark.parametrize("name", ["garbage", "foreign"])
def test_unreadable_store_is_a_clear_message(client, name):
    response = client.get(f"/api/runs/{name}")
    assert response.status_code == 422
    assert f"run {name!r}" in response.json()["error"]


@pytest.mark.parametrize(
    "host, status",
    [
        ("127.0.0.1:6006", 200),
        ("localhost:6006", 200),
        ("[::1]:6006", 200),
        ("localhost", 200),
        ("evil.example:6006", 403),
        ("127.0.0.1.evil.example", 403),
        ("", 403),
    ],
)
def test_host_header_checked_against_dns_rebinding(log_dir, host, status):
    client = TestClient(create_app(log_dir))
    response = client.get("/api/runs", headers={"host": host})
    assert response.status_code == status


def test_explicit_host_is_allowed_too(log_dir):
    client = TestClient(create_app(log_dir, host="192.168.1.5"))
    assert client.get("/", headers={"host": "192.168.1.5:6006"}).status_code == 200
    assert client.get("/", headers={"host": "10.0.0.1:6006"}).status_code == 403


def test_host_name():
    assert _host_name("LocalHost:80") == "localhost"
    assert _host_name("[::1]:6006") == "[::1]"


def test_store_is_opened_read_only(client, log_dir):
    before = (log_dir / "good.sqlite").read_bytes()
    for path in ("/api/runs", "/api/runs/good", "/api/runs/good/stats"):
        client.get(path)
    assert (log_dir / "good.sqlite").read_bytes() == before
    from glassnet.train.runlog import connect_readonly

    db = connect_readonly(log_dir / "good.sqlite")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("DELETE FROM steps")


def test_cli_dashboard_refuses_a_missing_folder(tmp_path, capsys):
    from glassnet.cli import main

    assert main(["dashboard", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_config_log_dir(tmp_path):
    from glassnet.errors import ConfigError
    from glassnet.io.config import read_config

    with open(os.path.join(ROOT, "examples", "digits.toml")) as f:
        text = f.read().replace(
            "seed = 0                # the shuffling order",
            'seed = 0\nlog_dir = "runs"',
        )
    (tmp_path / "a.toml").write_text(text)
    assert read_config(tmp_path / "a.toml").train["log_dir"] == "runs"
    (tmp_path / "b.toml").write_text(text.replace('log_dir = "runs"', "log_dir = 3"))
    with pytest.raises(ConfigError, match="log_dir"):
        read_config(tmp_path / "b.toml")


def test_regions_for_2d_inputs(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    model = gn.nn.Sequential(gn.nn.Dense(2, 2), seed=0)
    gn.fit(
        model,
        X,
        y,
        epochs=3,
        verbose=0,
        validation_data=(X[:20], y[:20]),
        callbacks=[RunLog(tmp_path, name="flat")],
    )
    client = TestClient(create_app(tmp_path), base_url="http://localhost")
    r = client.get("/api/runs/flat/regions").json()
    assert r["size"] == 60 and len(r["classes"]) == 3600
    assert np.allclose(r["points"], X[:20]) and r["labels"] == y[:20].tolist()
    # the grid's predictions are the final model's
    grid_x = np.linspace(r["lo"][0], r["hi"][0], 60)
    grid_y = np.linspace(r["hi"][1], r["lo"][1], 60)
    grid = np.stack(np.meshgrid(grid_x, grid_y), -1).reshape(-1, 2)
    assert r["classes"] == gn.predict_classes(model, grid).tolist()


def test_regions_empty_for_other_inputs(client):
    assert client.get("/api/runs/good/regions").json() == {}


def test_ctrl_c_ends_the_server_while_a_page_listens(log_dir):
    # An open page holds an event stream; uvicorn waited for it forever.
    import signal
    import socket
    import subprocess
    import sys
    import threading

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "glassnet",
            "dashboard",
            str(log_dir),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    got = threading.Event()

    def listen():
        try:
            with httpx.stream(
                "GET", f"http://127.0.0.1:{port}/api/runs/good/events", timeout=30
            ) as r:
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        got.set()
        except httpx.HTTPError:
            pass

    try:
        assert "glassnet dashboard: http://127.0.0.1:" in proc.stdout.readline()
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert got.wait(20)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()
        proc.wait()


def test_trace_of_one_sample_is_the_snapshots_trace(client, log_dir):
    r = client.get("/api/runs/good/trace?sample=3").json()
    assert r["sample"] == 3 and r["count"] == 8 and r["epoch"] == 3
    final = gn.load(log_dir / "good.snapshots" / "epoch-0004.glassnet")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))  # the fixture's data: validation = training set
    expected = gn.trace(final, X[3], target=int(X[3, 0] > 0))
    assert [layer["kind"] for layer in r["layers"]] == ["Dense", "ReLU", "Dense"]
    for got, want in zip(r["layers"], expected.layers):
        assert np.allclose(got["output"], want.output, atol=1e-6)
        assert np.allclose(got["grad"], want.output_grad, atol=1e-6)
    assert r["loss"] == pytest.approx(expected.loss, rel=1e-6)


@pytest.mark.parametrize("query", ["sample=x", "sample=8", "sample=-1"])
def test_trace_refuses_bad_samples(client, query):
    response = client.get(f"/api/runs/good/trace?{query}")
    assert response.status_code == 400 and "sample" in response.json()["error"]


def test_trace_shows_lstm_gates(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, size=(40, 6))
    y = np.roll(X, -1, axis=1)  # predict the next symbol
    model = gn.nn.Sequential(
        gn.nn.OneHot(5), gn.nn.LSTM(5, 3), gn.nn.Dense(3, 5), seed=0
    )
    gn.fit(
        model,
        X,
        y,
        epochs=2,
        verbose=0,
        validation_data=(X[:8], y[:8]),
        callbacks=[RunLog(tmp_path, name="seq")],
    )
    client = TestClient(create_app(tmp_path), base_url="http://localhost")
    r = client.get("/api/runs/seq/trace?sample=1").json()
    lstm = next(layer for layer in r["layers"] if layer["kind"] == "LSTM")
    assert set(lstm["gates"]) == {"forget", "input", "candidate", "output", "cell"}
    want = gn.trace(model, X[1], target=y[1])[1].gates["forget"]
    assert np.allclose(lstm["gates"]["forget"], want, atol=1e-6)


def test_trace_waits_while_this_process_trains(client, monkeypatch):
    from glassnet.train import runlog

    monkeypatch.setattr(runlog, "_ACTIVE", [1])
    assert "once training" in client.get("/api/runs/good/trace").json()["note"]


# ------------------------------------------------- feature maps, receptive fields
def _digits_images(n):
    from glassnet.datasets import digits

    data = digits()
    return data.X[:n, None] / 16.0, data.y[:n]  # (n, 1, 8, 8), values 0..1


@pytest.fixture(scope="module")
def cnn_client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cnn")
    X, y = _digits_images(120)
    model = gn.nn.Sequential(
        gn.nn.Conv2D(1, 3, 3, padding=1),
        gn.nn.ReLU(),
        gn.nn.MaxPool2D(2),
        gn.nn.Conv2D(3, 4, 3, padding=1),
        gn.nn.Tanh(),
        gn.nn.Flatten(),
        gn.nn.Dense(4 * 4 * 4, 10),
        seed=0,
    )
    gn.fit(
        model,
        X[:100],
        y[:100],
        epochs=2,
        verbose=0,
        seed=0,
        validation_data=(X[100:], y[100:]),
        callbacks=[RunLog(folder, name="cnn")],
    )
    final = gn.load(folder / "cnn.snapshots" / "epoch-0002.glassnet")
    return TestClient(create_app(folder), base_url="http://localhost"), final, X[100:]


def test_feature_maps_are_the_snapshots(cnn_client):
    client, final, Xv = cnn_client
    r = client.get("/api/runs/cnn/features?sample=2&layer=1&channel=3&row=1&col=0")
    assert r.status_code == 200
    r = r.json()
    assert r["epoch"] == 1 and r["sample"] == 2 and r["count"] == 8
    assert r["input"]["shape"] == [1, 8, 8]
    assert np.allclose(r["input"]["values"], Xv[2].ravel(), atol=1e-6)
    # the maps after each conv layer's activation: positions 1 (ReLU), 4 (Tanh)
    x = Xv[2:3].astype(np.float32)
    want = [final[:2](x).data[0], final[:5](x).data[0]]
    assert [
        (layer["name"], layer["kind"], layer["channels"], layer["shape"])
        for layer in r["layers"]
    ] == [("1", "Conv2D + ReLU", 3, [8, 8]), ("4", "Conv2D + Tanh", 4, [4, 4])]
    for got, maps in zip(r["layers"], want):
        assert np.allclose(got["maps"], maps.ravel(), atol=1e-5)
    assert r["unit"] == {
        "layer": 1,
        "channel": 3,
        "row": 1,
        "col": 0,
        "value": pytest.approx(float(want[1][3, 1, 0]), abs=1e-5),
    }
    # the field: the pattern drives the unit to the value reported, and the
    # region outlines the inputs its drive does not ignore
    f = r["field"]
    assert (f["low"], f["high"]) == (pytest.approx(Xv.min()), pytest.approx(Xv.max()))
    assert f["method"] == "gradient ascent"
    pattern = np.asarray(f["pattern"]["values"], np.float32).reshape(1, 1, 8, 8)
    assert final[:5](pattern).data[0, 3, 1, 0] == pytest.approx(f["value"], abs=1e-5)
    seen = ~np.asarray(f["dont_care"]).reshape(8, 8)
    rows, cols = np.nonzero(seen)
    assert f["region"] == [rows.min(), rows.max(), cols.min(), cols.max()]
    # it never reaches past what the unit can see: the second 3x3 conv at pooled
    # (1, 0) reads pooled rows 0..2, cols 0..1 (padding beyond), i.e. input rows
    # 0..5, cols 0..3, and the first 3x3 conv widens that by one: rows 0..6, cols 0..4
    assert f["region"][1] <= 6 and f["region"][3] <= 4


@pytest.mark.parametrize(
    "row, col, region",
    [
        (None, None, [3, 5, 3, 5]),  # default: the centre unit of the first map
        (0, 0, [0, 1, 0, 1]),  # a corner: the padding is outside the image
        (7, 3, [6, 7, 2, 4]),
    ],
)
def test_first_conv_units_see_their_3x3_window(cnn_client, row, col, region):
    client, final, Xv = cnn_client
    query = "" if row is None else f"&row={row}&col={col}"
    r = client.get(f"/api/runs/cnn/features?sample=0&channel=2{query}").json()
    assert r["field"]["method"] == "exact" and r["field"]["region"] == region
    # exact: no input in the samples' range drives the unit higher than the
    # pattern, this sample included
    assert r["field"]["value"] >= r["unit"]["value"] - 1e-6
    assert (r["unit"]["row"], r["unit"]["col"]) == (
        (4, 4) if row is None else (row, col)
    )


@pytest.mark.parametrize(
    "query, message",
    [
        ("sample=x", "sample must be a whole number"),
        ("sample=1.5", "sample must be a whole number"),
        ("sample=--1", "sample must be a whole number"),
        ("sample=%C2%B2", "sample must be a whole number"),  # '²' is a digit to isdigit
        ("sample=8", "sample must be in [0, 8)"),
        ("sample=-1", "sample must be in [0, 8)"),
        ("layer=2", "layer must be in [0, 2)"),
        ("layer=1&channel=4", "channel must be in [0, 4) (conv layer 1)"),
        ("channel=3", "channel must be in [0, 3) (conv layer 0)"),
        ("row=8", "row must be in [0, 8) (conv layer 0)"),
        ("layer=1&col=4", "col must be in [0, 4) (conv layer 1)"),
        ("col=-1", "col must be in [0, 8)"),
        ("row=99999999999999999999", "row must be a whole number"),
    ],
)
def test_features_refuse_bad_parameters(cnn_client, query, message):
    client, _, _ = cnn_client
    response = client.get(f"/api/runs/cnn/features?{query}")
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_features_do_not_apply_to_dense_models(client):
    r = client.get("/api/runs/good/features?sample=1").json()
    assert r["applies"] is False and "no Conv2D layers" in r["note"]


def test_features_wait_while_this_process_trains(cnn_client, monkeypatch):
    from glassnet.train import runlog

    client, _, _ = cnn_client
    monkeypatch.setattr(runlog, "_ACTIVE", [1])
    assert "once training" in client.get("/api/runs/cnn/features").json()["note"]
