"""glassnet sweep: the sweep file's rules, and real Optuna studies shared by two
processes on a journal file and on a PostgreSQL server."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need

from glassnet.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
DIGITS = ROOT / "examples" / "digits.toml"


@pytest.fixture(scope="module")
def optuna():
    try:
        import optuna
    except ImportError:
        need("Optuna is not installed: pip install 'glassnet[sweep]'")
    return optuna


def _write_sweep(folder: Path, space: str) -> Path:
    """A sweep of examples/digits.toml shortened to 3 epochs (the baseline's)."""
    config = folder / "digits3.toml"
    config.write_text(DIGITS.read_text().replace("epochs = 30", "epochs = 3"))
    path = folder / "tiny-sweep.toml"
    path.write_text(
        f'config = "digits3.toml"\nmetric = "val_loss"\n\n[space]\n{space}\n'
    )
    return path


TINY_SPACE = """lr = { log_uniform = [1e-3, 1e-1] }
hidden = { choice = [8, 16] }
epochs = { int = [2, 4] }
"""


# --- the sweep file -------------------------------------------------------------------
def test_parameter_names_map_into_the_config(tmp_path, optuna):
    from glassnet.sweep import Sweep

    sweep = Sweep(_write_sweep(tmp_path, TINY_SPACE))
    cfg = sweep.config(
        {
            "lr": 0.003,
            "hidden": 48,
            "epochs": 7,
            "train.batch_size": 16,
            "model.layers.0.bias": False,
        }
    )
    assert cfg.optimizer["lr"] == 0.003 and cfg.train["epochs"] == 7
    assert cfg.train["batch_size"] == 16
    dense = [layer for layer in cfg.model["layers"] if layer["type"] == "Dense"]
    assert [(d["in_features"], d["out_features"]) for d in dense] == [
        (64, 48),
        (48, 10),
    ]
    assert dense[0]["bias"] is False
    # the trial is scored on a validation split; the base config is unchanged
    assert cfg.train["validation_split"] == 0.2
    assert sweep.config({}).model["layers"][0]["out_features"] == 32
    assert sweep.config({}).train["epochs"] == 3


@pytest.mark.parametrize(
    "space, message",
    [
        ("colour = { choice = [1, 2] }", "neither a [train] key nor an argument"),
        ('"modle.seed" = { choice = [1, 2] }', "'modle' is not a config section"),
        ('"model.layers.9.out_features" = { choice = [4] }', "has no model.layers.9"),
        ("lr = { log_uniform = [0, 1] }", "0 < lo"),
        ("epochs = { int = [5, 2.5] }", "two whole numbers with lo < hi"),
        ("lr = { normal = [0, 1] }", "one of log_uniform, uniform, int, choice"),
        ("epochs = { choice = [3, 0] }", "with epochs=0: the config: [train] epochs"),
    ],
)
def test_bad_space_names_the_parameter(tmp_path, optuna, space, message):
    from glassnet.sweep import Sweep

    with pytest.raises(ConfigError, match=re.escape(message)):
        Sweep(_write_sweep(tmp_path, space))


def test_best_toml_reads_back_as_the_same_config(tmp_path, optuna):
    from glassnet.io.config import read_config
    from glassnet.sweep import Sweep, to_toml

    sweep = Sweep(_write_sweep(tmp_path, TINY_SPACE))
    cfg = sweep.config({"lr": 1e-05, "hidden": 8})
    path = tmp_path / "again.toml"
    path.write_text(
        to_toml(
            {
                "data": cfg.data,
                "model": cfg.model,
                "train": cfg.train,
                "optimizer": cfg.optimizer,
                "output": cfg.output,
            }
        )
    )
    again = read_config(path)
    assert (again.data, again.model, again.train, again.optimizer) == (
        cfg.data,
        cfg.model,
        cfg.train,
        cfg.optimizer,
    )


def test_rejoining_with_another_trial_count_is_refused(tmp_path, optuna):
    from glassnet.sweep import Sweep, open_study, storage_for

    sweep = Sweep(_write_sweep(tmp_path, TINY_SPACE))
    storage, _ = storage_for(sweep, str(tmp_path / "s.journal"))
    open_study(sweep, storage, "s", 3)
    assert len(open_study(sweep, storage, "s", 3).trials) == 3  # joined, none added
    with pytest.raises(
        ConfigError, match="set up for 3 trials; run it with --trials 3"
    ):
        open_study(sweep, storage, "s", 5)


# --- two processes, one study ---------------------------------------------------------
def _two_processes(sweep: Path, trials: int, storage: str, out: Path):
    """Start two `glassnet sweep` processes together; return their stdouts."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}" + os.environ.get("PYTHONPATH", ""),
    }
    command = [
        sys.executable,
        "-m",
        "glassnet",
        "sweep",
        str(sweep),
        "--trials",
        str(trials),
        "--storage",
        storage,
        "--study",
        "shared",
        "--out",
        str(out),
    ]
    procs = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=out.parent,
        )
        for _ in range(2)
    ]
    outputs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        outputs.append(stdout)
    return outputs


def _check_shared_study(optuna, outputs, storage, trials, out: Path):
    from glassnet.io import read

    State = optuna.trial.TrialState
    study = optuna.load_study(study_name="shared", storage=storage)
    states = [t.state for t in study.trials]
    assert len(states) == trials
    assert all(s in (State.COMPLETE, State.PRUNED) for s in states)
    # every trial was run by exactly one of the two processes
    ran = [
        int(n)
        for text in outputs
        for n in re.findall(r"^trial (\d+):", text, re.MULTILINE)
    ]
    assert sorted(ran) == list(range(trials))
    # the best value printed is the study's, and best.glassnet is that trial's model
    printed = [
        m
        for text in outputs
        for m in re.findall(
            r"^best: trial (\d+), val_loss ([\d.]+)", text, re.MULTILINE
        )
    ]
    assert printed, outputs
    for number, value in printed:
        assert int(number) == study.best_trial.number
        assert float(value) == pytest.approx(study.best_value, abs=5e-5)
    model = read(out / "best.glassnet")
    assert model.metadata["scores"]["train"]["val_loss"] == pytest.approx(
        study.best_value, rel=1e-6
    )
    assert (out / "history.png").stat().st_size > 0


def test_two_processes_share_a_journal_file(tmp_path, optuna):
    sweep = _write_sweep(tmp_path, TINY_SPACE)
    journal = str(tmp_path / "tiny.journal")
    outputs = _two_processes(sweep, 6, journal, tmp_path / "out")
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(journal))
    _check_shared_study(optuna, outputs, storage, 6, tmp_path / "out")


def test_two_processes_share_a_postgresql_study(tmp_path, optuna, postgres_url):
    sweep = _write_sweep(tmp_path, TINY_SPACE)
    outputs = _two_processes(sweep, 6, postgres_url, tmp_path / "out")
    url = "postgresql+psycopg://" + postgres_url.split("://", 1)[1]
    _check_shared_study(optuna, outputs, url, 6, tmp_path / "out")


def test_one_process_repeats_its_sweep_from_the_seed(tmp_path, optuna):
    from glassnet import sweep as sweep_mod

    path = _write_sweep(tmp_path, TINY_SPACE)
    drawn = []
    for run in ("a", "b"):
        result = sweep_mod.run(
            path,
            4,
            storage=str(tmp_path / f"{run}.journal"),
            out=str(tmp_path / run),
            say=lambda *a: None,
        )
        assert result["ran"] == [0, 1, 2, 3] and result["done"]
        drawn.append(result["best"])
    assert drawn[0] == drawn[1]
    # and the draws are not all the same setting
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(
        JournalFileBackend(str(tmp_path / "a.journal"))
    )
    params = [
        t.params
        for t in optuna.load_study(study_name="tiny-sweep", storage=storage).trials
    ]
    assert len({tuple(sorted(p.items())) for p in params}) == 4
