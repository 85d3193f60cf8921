"""The dashboard end to end in a real browser: Playwright driving Debian's Chromium.

`make test` installs both (pip's playwright, apt's chromium; never
`playwright install`). The screenshots in docs/img/ are taken here
(with GLASSNET_SCREENSHOTS=docs/img).
"""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import glassnet as gn
from glassnet.dashboard import start_in_background
from glassnet.train import RunLog

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Screenshots go to build/screenshots, so a test run leaves the checkout clean;
# GLASSNET_SCREENSHOTS=docs/img refreshes the pictures in docs/dashboard.md.
IMG = os.path.abspath(
    os.environ.get("GLASSNET_SCREENSHOTS") or os.path.join(ROOT, "build", "screenshots")
)
os.makedirs(IMG, exist_ok=True)


def _train(folder, name, epochs, lr=0.03):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    model = gn.nn.Sequential(gn.nn.Dense(4, 8), gn.nn.Tanh(), gn.nn.Dense(8, 3), seed=0)
    gn.fit(
        model,
        X,
        y,
        epochs=epochs,
        batch_size=16,
        verbose=0,
        lr=lr,
        validation_split=0.25,
        seed=0,
        callbacks=[RunLog(folder, name=name, budget=1e9, snapshots=1)],
    )


def _train_2d(folder):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    y = (np.hypot(X[:, 0], X[:, 1]) > 1.1).astype(np.int64)  # a disc inside a ring
    model = gn.nn.Sequential(gn.nn.Dense(2, 8), gn.nn.Tanh(), gn.nn.Dense(8, 2), seed=0)
    gn.fit(
        model,
        X,
        y,
        epochs=60,
        batch_size=16,
        verbose=0,
        lr=0.05,
        validation_split=0.3,
        seed=0,
        callbacks=[RunLog(folder, name="ring", snapshots=10)],
    )


def _train_digits(folder):
    from glassnet.data.transforms import Standardizer, train_test_split
    from glassnet.datasets import digits

    data = digits(flatten=True)
    X, Xv, y, yv = train_test_split(data.X, data.y, test_size=0.25, seed=0)
    scaler = Standardizer().fit(X)
    model = gn.nn.Sequential(
        gn.nn.Dense(64, 16), gn.nn.Sigmoid(), gn.nn.Dense(16, 10), seed=0
    )
    gn.fit(
        model,
        scaler.transform(X),
        y,
        epochs=8,
        lr=0.01,
        verbose=0,
        seed=0,
        validation_data=(scaler.transform(Xv), yv),
        callbacks=[RunLog(folder, name="digits", snapshots=4, budget=1e9)],
    )


def _train_sequences(folder):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, size=(60, 8))
    y = np.roll(X, 1, axis=1)  # say the previous symbol: the LSTM must remember
    model = gn.nn.Sequential(
        gn.nn.OneHot(5), gn.nn.LSTM(5, 6), gn.nn.Dense(6, 5), seed=0
    )
    gn.fit(
        model,
        X,
        y,
        epochs=5,
        verbose=0,
        lr=0.05,
        validation_data=(X[:8], y[:8]),
        callbacks=[RunLog(folder, name="sequence")],
    )


def _train_cnn(folder):
    from glassnet.datasets import digits

    data = digits()
    X, y = data.X[:400, None] / 16.0, data.y[:400]  # images (n, 1, 8, 8), 0..1
    model = gn.nn.Sequential(
        gn.nn.Conv2D(1, 8, 3, padding=1),
        gn.nn.ReLU(),
        gn.nn.MaxPool2D(2),
        gn.nn.Conv2D(8, 8, 3, padding=1),
        gn.nn.ReLU(),
        gn.nn.Flatten(),
        gn.nn.Dense(8 * 4 * 4, 10),
        seed=0,
    )
    gn.fit(
        model,
        X[:320],
        y[:320],
        epochs=6,
        verbose=0,
        seed=0,
        optimizer=gn.optim.Adam(model, lr=0.01),
        validation_data=(X[320:], y[320:]),
        callbacks=[RunLog(folder, name="cnn")],
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    _train(folder, "first", 12)
    _train(folder, "second", 8, lr=0.1)
    _train_2d(folder)
    _train_digits(folder)
    _train_sequences(folder)
    _train_cnn(folder)
    (folder / "zz-broken.sqlite").write_bytes(b"not a database" * 40)
    srv, url = start_in_background(folder, port=0)
    yield folder, url
    srv.should_exit = True


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    yield page
    page.close()


def test_runs_page_lists_runs_and_compares(server, page):
    _, url = server
    page.goto(url)
    page.wait_for_selector("#runs a")
    assert page.locator("#runs a").all_inner_texts() == [
        "cnn",
        "digits",
        "first",
        "ring",
        "second",
        "sequence",
        "zz-broken",
    ]
    assert "unreadable" in page.locator("#runs tr", has_text="zz-broken").inner_text()
    page.locator("#runs input[value=first]").check()
    page.locator("#runs input[value=second]").check()
    page.wait_for_selector("#compare .uplot")
    assert page.locator("#compare").get_attribute("data-points") == "12"
    page.screenshot(path=os.path.join(IMG, "dashboard-runs.png"))
    assert page.errors == []


def test_run_page_charts_network_histogram(server, page):
    _, url = server
    t0 = time.perf_counter()
    page.goto(url + "#/run/first")
    page.wait_for_selector("#network-svg")
    load = time.perf_counter() - t0
    # one point per logged epoch
    assert page.locator("#chart-metrics").get_attribute("data-points") == "12"
    assert page.locator("#chart-loss").get_attribute("data-points") == str(12 * 6)
    # the network: 4*8 + 8*3 weights as lines; a histogram with its 30 bars
    assert page.locator("#network-svg").get_attribute("data-lines") == "56"
    assert page.locator("#chart-hist").get_attribute("data-bars") == "30"
    assert page.locator("#cm td").count() == 9
    page.screenshot(path=os.path.join(IMG, "dashboard-run.png"), full_page=True)
    page.locator("#network").screenshot(path=os.path.join(IMG, "dashboard-network.png"))
    assert page.errors == []
    print(f"run page loaded in {load:.2f} s")


def test_a_training_run_adds_points_without_reload(server, page):
    folder, url = server
    script = textwrap.dedent(f"""
        import time, numpy as np, glassnet as gn
        from glassnet.train import Callback, RunLog
        X = np.random.default_rng(0).normal(size=(64, 2)); y = (X[:, 0] > 0) * 1
        class Slow(Callback):
            def on_epoch_end(self, state):
                time.sleep(0.4)
        model = gn.nn.Sequential(gn.nn.Dense(2, 2), seed=0)
        gn.fit(model, X, y, epochs=40, verbose=0, callbacks=[
            RunLog({str(folder)!r}, name="live", flush_seconds=0.0), Slow()])
    """)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 30
        while not (folder / "live.sqlite").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        page.goto(url + "#/run/live")
        page.wait_for_function(
            "() => +document.querySelector('#chart-metrics')?.dataset.points >= 2",
            timeout=20000,
        )
        first = int(page.locator("#chart-metrics").get_attribute("data-points"))
        page.wait_for_function(
            f"() => +document.querySelector('#chart-metrics').dataset.points > {first}",
            timeout=10000,
        )  # new epochs arrive by server-sent events, no reload
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert page.errors == []
    finally:
        proc.kill()
        proc.wait()


def test_decision_regions_for_2d_inputs(server, page):
    _, url = server
    page.goto(url + "#/run/ring")
    page.wait_for_selector("#regions-canvas")
    # the ring: the net has learnt to call the middle one class and the rim the
    # other, so the regions canvas shows both classes' colours
    colours = page.evaluate("""() => {
        const g = document.querySelector('#regions-canvas').getContext('2d');
        const mid = g.getImageData(150, 150, 1, 1).data;
        const corner = g.getImageData(5, 5, 1, 1).data;
        return [Array.from(mid), Array.from(corner)];
    }""")
    assert colours[0][:3] != colours[1][:3]
    assert page.locator("#first-layer").is_hidden()  # 2 inputs: not an image
    page.locator("#regions").screenshot(path=os.path.join(IMG, "dashboard-regions.png"))
    assert page.errors == []


def test_first_layer_weights_as_images(server, page):
    _, url = server
    page.goto(url + "#/run/digits")
    page.wait_for_selector("#first-layer-images")
    assert page.locator("#first-layer-images").get_attribute("data-units") == "16"
    assert page.locator("#first-layer-images canvas").count() == 16
    assert page.locator("#regions").is_hidden()  # 64 inputs: no 2-D picture
    page.locator("#first-layer").screenshot(
        path=os.path.join(IMG, "dashboard-first-layer.png")
    )
    page.locator("#chart-dist").screenshot(
        path=os.path.join(IMG, "dashboard-distribution.png")
    )
    # one sample through the network: 3 layers, values and gradients
    page.wait_for_selector("#trace-layers")
    assert page.locator("#trace-layers").get_attribute("data-layers") == "3"
    page.select_option("#sample", "5")
    page.wait_for_function(
        "() => document.querySelector('#trace-layers .note')"
        ".textContent.includes('target 6')"
    )  # the 6th label
    page.locator("#trace").screenshot(path=os.path.join(IMG, "dashboard-trace.png"))
    assert page.errors == []


def test_lstm_gates_of_one_sequence(server, page):
    _, url = server
    page.goto(url + "#/run/sequence")
    page.wait_for_selector("#trace-layers")
    assert (
        page.locator("#trace-layers").get_by_text("forget gate", exact=True).count()
        == 1
    )
    # 3 outputs, 2 gradients (none reaches the one-hot codes of ids), 5 gates
    assert page.locator("#trace canvas").count() == 3 + 2 + 5
    page.locator("#trace").screenshot(path=os.path.join(IMG, "dashboard-lstm.png"))
    assert page.errors == []


def test_feature_maps_and_receptive_field_of_a_cnn(server, page):
    _, url = server
    page.goto(url + "#/run/cnn")
    page.wait_for_selector("#feature-maps")
    maps = page.locator("#feature-maps")
    assert maps.get_attribute("data-layers") == "2"
    assert maps.get_attribute("data-maps") == str(8 + 8)
    # default unit: the centre of the first conv layer's first map, 3x3 window
    assert page.locator("#receptive-canvas").get_attribute("data-region") == "[3,5,3,5]"
    # the input is drawn: a digit has dark and light pixels
    shades = page.evaluate("""() => {
        const c = document.querySelector('#fm-input');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const grey = new Set();
        for (let i = 0; i < d.length; i += 4) grey.add(d[i]);
        return grey.size;
    }""")
    assert shades > 2
    # click a cell of the second conv layer's map 4: row 1, col 2 of 4x4
    cell = maps.locator("canvas[data-channel='4']").nth(1)
    box = cell.bounding_box()
    cell.click(position={"x": box["width"] * 2.5 / 4, "y": box["height"] * 1.5 / 4})
    page.wait_for_function(
        "() => document.querySelector('#fm-unit').textContent"
        ".includes('channel 4, row 1, col 2')"
    )
    region = page.locator("#receptive-canvas").get_attribute("data-region")
    r0, r1, c0, c1 = (int(v) for v in region.strip("[]").split(","))
    # pooled rows 0..2, cols 1..3 → input rows 0..5, cols 2..7 → widened by the
    # first 3x3 conv: it can see rows 0..6, cols 1..7 and no more
    assert r0 >= 0 and r1 <= 6 and c0 >= 1 and c1 <= 7
    page.select_option("#fm-sample", "3")
    page.wait_for_function(
        "() => document.querySelector('#fm-unit').closest"
        "('.fm-row').textContent.includes('target 6')"
    )  # y[323]
    assert page.locator("#features").is_visible()
    page.locator(".panel", has=page.locator("#features")).screenshot(
        path=os.path.join(IMG, "dashboard-features.png")
    )
    assert page.errors == []


def test_no_feature_maps_for_dense_runs(server, page):
    _, url = server
    page.goto(url + "#/run/digits")
    page.wait_for_selector("#trace-layers")
    page.wait_for_function(
        "() => document.querySelector('#features').closest('.panel').hidden"
    )
    assert page.errors == []


def test_a_corrupt_store_is_a_message_in_the_page(server, page):
    _, url = server
    page.goto(url + "#/run/zz-broken")
    page.wait_for_selector("#error:not([hidden])")
    assert "corrupt or not a glassnet run store" in page.locator("#error").inner_text()
    # the only console errors are the browser's notes of the 422 answers
    assert all("422" in e for e in page.errors), page.errors
