"""The README's code runs and says true things."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_starts_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    commands = [
        ln.split("#")[0].strip() for ln in first_block.splitlines() if ln.strip()
    ]
    assert commands == ["make demo", "make test"]


def test_ten_line_example_runs_and_reaches_its_stated_loss(capsys):
    code = re.search(
        r"## Ten lines.*?```python\n(.*?)```", README.read_text(), re.S
    ).group(1)
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 13
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["loss"].item() < 0.03


def test_fit_example_runs_and_reaches_its_stated_accuracy():
    code = re.search(
        r"## Train a network in a few lines.*?```python\n(.*?)```",
        README.read_text(),
        re.S,
    ).group(1)
    code = code.replace("epochs=30, seed=0)", "epochs=30, seed=0, verbose=0)")
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    gn = namespace["gn"]
    scores = gn.evaluate(namespace["model"], namespace["X_test"], namespace["y_test"])
    assert scores["accuracy"] >= 0.98


def test_the_no_magic_loop_runs_as_written_and_ends_where_fit_does():
    text = README.read_text()
    fit_code = re.search(
        r"## Train a network in a few lines.*?```python\n(.*?)```", text, re.S
    ).group(1)
    loop = re.search(r"`fit` is no magic.*?```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    quiet = fit_code.replace("epochs=30, seed=0)", "epochs=30, seed=0, verbose=0)")
    exec(compile(quiet, "README.md", "exec"), namespace)
    fitted = namespace["model"]
    exec(compile(loop, "README.md", "exec"), namespace)
    looped = namespace["model"]
    assert looped is not fitted
    for (name, a), (_, b) in zip(fitted.named_parameters(), looped.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_install_wording_is_true():
    text = README.read_text()
    assert "pip install glassnet" not in text  # not on the package index
    assert "NumPy is its only dependency" not in text
    assert "safetensors" in text.split("## Train a network")[0]
