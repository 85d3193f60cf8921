"""The dashboard end to end in a real browser: Playwright driving Debian's Chromium.

`make test` installs both (pip's playwright, apt's chromium; never
`playwright install`). The screenshots in docs/img/ are taken here.
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
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMG = os.path.join(ROOT, "docs", "img")


def _train(folder, name, epochs, lr=0.03):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    model = gn.nn.Sequential(gn.nn.Dense(4, 8), gn.nn.Tanh(), gn.nn.Dense(8, 3), seed=0)
    gn.fit(model, X, y, epochs=epochs, batch_size=16, verbose=0, lr=lr,
           validation_split=0.25, seed=0,
           callbacks=[RunLog(folder, name=name, budget=1e9, snapshots=1)])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    _train(folder, "first", 12)
    _train(folder, "second", 8, lr=0.1)
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
    assert page.locator("#runs a").all_inner_texts() == ["first", "second"]
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
            timeout=20000)
        first = int(page.locator("#chart-metrics").get_attribute("data-points"))
        page.wait_for_function(
            f"() => +document.querySelector('#chart-metrics').dataset.points > {first}",
            timeout=10000)  # new epochs arrive by server-sent events, no reload
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert page.errors == []
    finally:
        proc.kill()
        proc.wait()
