"""How long the dashboard's run page takes to load for a run of 10,000 logged steps.

    PYTHONPATH=src python benchmarks/dashboard_load.py [--repeats 4]

Trains a small net for 100 epochs of 100 batches with RunLog (every batch's
loss), serves the folder on a free port, and times Chromium (Debian's, through
Playwright) from navigation until the loss chart and the network diagram are
drawn. The first load includes the browser's cold start of the page.
"""

from __future__ import annotations

import argparse
import tempfile
import time

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()

    import numpy as np
    from playwright.sync_api import sync_playwright

    import glassnet as gn
    from glassnet.dashboard import start_in_background
    from glassnet.train import RunLog

    folder = tempfile.mkdtemp()
    X = np.random.default_rng(0).normal(size=(889, 8))
    y = (X[:, 0] > 0).astype(np.int64)
    model = gn.nn.Sequential(
        gn.nn.Dense(8, 16), gn.nn.ReLU(), gn.nn.Dense(16, 2), seed=0
    )
    gn.fit(
        model,
        X,
        y,
        epochs=100,
        batch_size=8,
        verbose=0,
        validation_split=0.1,
        callbacks=[RunLog(folder, name="big")],
    )
    server, url = start_in_background(folder, port=0)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        for i in range(args.repeats):
            start = time.perf_counter()
            page.goto(url + "#/run/big")
            page.wait_for_selector("#chart-loss .uplot")
            page.wait_for_selector("#network-svg")
            seconds = time.perf_counter() - start
            steps = (
                page.locator("#run-status").inner_text().split(",")[1].split("\n")[0]
            )
            print(
                f"load {i + 1}: {seconds:.2f} s ({steps.strip()}; the loss chart draws "
                f"{page.locator('#chart-loss').get_attribute('data-points')} points)"
            )
            page.goto("about:blank")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
