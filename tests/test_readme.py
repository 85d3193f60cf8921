"""The README's code runs and says true things."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_starts_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    commands = [ln.split("#")[0].strip() for ln in first_block.splitlines() if ln.strip()]
    assert commands == ["make demo", "make test"]


def test_ten_line_example_runs_and_reaches_its_stated_loss(capsys):
    code = re.search(r"## Ten lines.*?```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 13
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["loss"].item() < 0.03


def test_fit_example_runs_and_reaches_its_stated_accuracy():
    code = re.search(r"## Train a network in a few lines.*?```python\n(.*?)```",
                     README.read_text(), re.S).group(1)
    code = code.replace("epochs=30, seed=0)", "epochs=30, seed=0, verbose=0)")
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    gn = namespace["gn"]
    scores = gn.evaluate(namespace["model"], namespace["X_test"], namespace["y_test"])
    assert scores["accuracy"] >= 0.98
