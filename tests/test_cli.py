"""The ``glassnet`` command and its demos."""

import subprocess
import sys

from glassnet import cli
from glassnet.demos import engine


def test_engine_demo_fits_sine():
    result = engine.fit_sine()
    assert result["mse"] < 0.01
    assert result["curve"][0] > 10 * result["curve"][-1]


def test_demo_list_and_unknown_demo(capsys):
    assert cli.main(["demo", "--list"]) == 0
    assert "engine" in capsys.readouterr().out
    assert cli.main(["demo", "no-such-demo"]) == 2
    assert "unknown demo 'no-such-demo'" in capsys.readouterr().err


def test_console_entry_runs_engine_demo():
    done = subprocess.run(
        [sys.executable, "-m", "glassnet", "demo", "engine"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "final MSE" in done.stdout


def test_bench_passes_its_options_to_the_runner(capsys):
    import pytest

    with pytest.raises(SystemExit) as done:
        cli.main(["bench", "--help"])
    assert done.value.code == 0
    assert "--only" in capsys.readouterr().out


def test_import_glassnet_loads_only_the_engine():
    code = (
        "import sys, glassnet; "
        "heavy = [m for m in ('glassnet.io', 'glassnet.plot', 'glassnet.datasets', "
        "'glassnet.train', 'glassnet.inspect.receptive', 'safetensors', 'matplotlib') "
        "if m in sys.modules]; "
        "print(heavy); glassnet.fit; glassnet.save; print('glassnet.io' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]
