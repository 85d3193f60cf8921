"""tools/loc.py: what it counts, what the core is, and the budget the README states."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("glassnet_loc", ROOT / "tools" / "loc.py")
loc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(loc)

SOURCE = '''"""Module docstring,
two lines."""

import math  # a comment on a code line counts


# a comment line does not
def f(x):
    """Docstring."""
    text = """a string that is
    not a docstring"""
    return math.sqrt(x) + len(text)


class A:
    """One line."""

    y = 1
'''


def test_code_lines_leave_out_blanks_comments_and_docstrings():
    # code: import, def, text (2 lines), return, class, y = 1
    assert loc.count(SOURCE) == (len(SOURCE.splitlines()), 7)
    assert loc.count("") == (0, 0)
    assert loc.count("x = 1") == (1, 1)


@pytest.mark.parametrize(
    "path, core",
    [
        ("tensor.py", True),
        ("ops/conv.py", True),
        ("nn/dense.py", True),
        ("kernels/sigmoid.py", True),
        ("kernels/native/abi.py", False),
        ("kernels/_native/build.py", False),
        ("optim/gradient.py", False),
        ("train/capture.py", False),
        ("tour.py", False),
    ],
)
def test_the_core_is_tensor_ops_kernel_references_and_nn(path, core):
    assert loc.in_core(Path(path)) is core


def test_folders_add_up_their_files_and_subfolders():
    files = {
        Path("a.py"): (3, 2),
        Path("ops/x.py"): (5, 4),
        Path("ops/sub/y.py"): (7, 1),
    }
    totals = loc.folders(files)
    assert totals[Path(".")] == (15, 7)
    assert totals[Path("ops")] == (12, 5)
    assert totals[Path("ops/sub")] == (7, 1)
    assert loc.core_total(files) == (12, 5)


def test_check_fails_over_the_budget(monkeypatch, capsys):
    assert loc.main(["--check"]) == 0
    monkeypatch.setattr(loc, "BUDGET", 10)
    assert loc.main(["--check"]) == 1
    assert "over its budget of 10" in capsys.readouterr().err


def test_the_readme_states_the_budget_loc_checks():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Contributing", 1)[1]
    stated = re.search(r"budget of \*\*([\d,]+) code lines\*\*", section).group(1)
    assert int(stated.replace(",", "")) == loc.BUDGET
