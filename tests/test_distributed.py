"""Data-parallel training on MPI, run for real with ``mpiexec -n 2``.

The two-rank run must end with the weights of the one-process run with the
same global batch, to float32 rounding: each layer's weight gradient is a sum
over the batch's samples (a matrix product along the batch axis); with two
ranks it is taken as two partial sums (one per rank, over 12 and 13 samples
of a batch of 25) that the Allreduce then adds, so the same numbers are added
in a different order. The scaling by n_r / B is the same maths too but rounds
differently for shares that are not powers of two.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need

from glassnet.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
DIGITS = ROOT / "examples" / "digits.toml"


@pytest.fixture(scope="module")
def mpiexec():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        need("mpi4py is not installed: pip install 'glassnet[mpi]'")
    here = Path(sys.executable).parent / "mpiexec"  # mpich's, next to this python
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if not found:
        need("no mpiexec: pip install 'glassnet[mpi]' (brings mpich)")
    return found


def _env():
    return {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}" + os.environ.get("PYTHONPATH", ""),
    }


def _run(command, cwd, ok=True):
    """Run with a generous timeout: a hang (the failure this guards) fails the test."""
    done = subprocess.run(
        command,
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def _config(folder: Path, epochs: int) -> Path:
    """examples/digits.toml with batches of 25: 1347 = 53 * 25 + 22 samples, so
    the ranks' shares are 12 and 13, then 11 and 11."""
    path = folder / "digits25.toml"
    text = DIGITS.read_text().replace("epochs = 30", f"epochs = {epochs}")
    path.write_text(text.replace("batch_size = 32", "batch_size = 25"))
    return path


def _train(mpiexec, folder, ranks, *args):
    command = [sys.executable, "-m", "glassnet", "train", *map(str, args)]
    if ranks:
        command = [mpiexec, "-n", str(ranks), *command, "--distributed", "mpi"]
    return _run(command, folder)


def _weights(path):
    from glassnet.io import read

    return {n: p.data for n, p in read(path).model.named_parameters()}


def test_two_ranks_train_as_one_process(tmp_path, mpiexec):
    cfg = _config(tmp_path, epochs=4)
    one = _train(mpiexec, tmp_path, 0, cfg, "-o", "one.glassnet")
    two = _train(mpiexec, tmp_path, 2, cfg, "-o", "two.glassnet")
    a, b = _weights(tmp_path / "one.glassnet"), _weights(tmp_path / "two.glassnet")
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=2e-6, err_msg=name)
    # rank 0 alone logs: each epoch's line once, as in one process
    assert two.stdout.count("epoch 1/4") == one.stdout.count("epoch 1/4") == 1
    # the recorded loss and accuracy are the whole batches', not rank 0's share
    from glassnet.io import read

    s1 = read(tmp_path / "one.glassnet").metadata["scores"]["train"]
    s2 = read(tmp_path / "two.glassnet").metadata["scores"]["train"]
    assert s2["loss"] == pytest.approx(s1["loss"], rel=1e-5)
    assert s2["accuracy"] == pytest.approx(s1["accuracy"], abs=1e-6)


_SCRIPT = """
import sys, numpy as np
from mpi4py import MPI
import glassnet as gn
from glassnet import nn
from glassnet.distributed import abort_on_failure
from glassnet.train import Callback

rank = MPI.COMM_WORLD.Get_rank()
mode = sys.argv[1]
X = np.random.default_rng(0).normal(size=(90, 5)).astype(np.float32)
y = (X[:, 0] > 0).astype(np.int64)
# a different seed on every rank: rank 0's weights must reach the others
model = nn.Sequential(nn.Dense(5, 8), nn.Tanh(), nn.Dense(8, 2))
model.reset_parameters(100 + rank)

class FailOnRank1(Callback):
    def on_epoch_end(self, state):
        if rank == 1 and state.epoch == 1:
            raise RuntimeError("disk full on rank 1 (a test)")

def train():
    gn.fit(model, X, y, optimizer="sgd", lr=0.1, epochs=3, batch_size=16, seed=0,
           verbose=0, distributed="mpi" if mode != "alone" else None,
           callbacks=[FailOnRank1()] if mode == "fail" else [])

abort_on_failure(train)
np.savez(f"{mode}-rank{rank}.npz", *[p.data for p in model.parameters()])
"""


def test_rank0_weights_are_broadcast_and_every_rank_ends_equal(tmp_path, mpiexec):
    script = tmp_path / "script.py"
    script.write_text(_SCRIPT)
    _run([mpiexec, "-n", "2", sys.executable, str(script), "mpi"], tmp_path)
    _run([sys.executable, str(script), "alone"], tmp_path)  # rank 0's seed, one process
    r0, r1 = np.load(tmp_path / "mpi-rank0.npz"), np.load(tmp_path / "mpi-rank1.npz")
    alone = np.load(tmp_path / "alone-rank0.npz")
    for key in r0:
        np.testing.assert_array_equal(r0[key], r1[key])  # the same update everywhere
        np.testing.assert_allclose(r0[key], alone[key], rtol=1e-5, atol=1e-6)


def test_a_failing_rank_stops_the_others_with_a_message(tmp_path, mpiexec):
    script = tmp_path / "script.py"
    script.write_text(_SCRIPT)
    done = _run(
        [mpiexec, "-n", "2", sys.executable, str(script), "fail"], tmp_path, ok=False
    )
    assert done.returncode != 0
    assert (
        "glassnet: error on rank 1 of 2: RuntimeError: disk full on rank 1 "
        "(a test); stopping all ranks"
    ) in done.stderr
    assert not list(tmp_path.glob("fail-rank*.npz"))


def test_checkpoint_written_under_mpi_resumes_under_mpi(tmp_path, mpiexec):
    cfg = _config(tmp_path, epochs=4)
    _train(mpiexec, tmp_path, 2, cfg, "-o", "whole.glassnet")
    _train(
        mpiexec,
        tmp_path,
        2,
        cfg,
        "--epochs",
        "2",
        "--checkpoint",
        "run.ckpt",
        "-o",
        "half.glassnet",
    )
    resumed = _train(
        mpiexec,
        tmp_path,
        2,
        cfg,
        "--checkpoint",
        "run.ckpt",
        "--resume",
        "-o",
        "resumed.glassnet",
    )
    assert "resuming from run.ckpt" in resumed.stdout
    assert resumed.stdout.count("epoch 3/4") == 1 and "epoch 1/4" not in resumed.stdout
    a, b = (
        _weights(tmp_path / "whole.glassnet"),
        _weights(tmp_path / "resumed.glassnet"),
    )
    for name in a:
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)


def test_distributed_settings_are_checked():
    from glassnet import fit, nn

    model = nn.Sequential(nn.Dense(2, 2))
    X, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    with pytest.raises(ConfigError, match="distributed must be 'mpi' or an mpi4py"):
        fit(model, X, y, distributed="nccl", verbose=0)
    with pytest.raises(ConfigError, match="capture=True and distributed cannot"):
        fit(model, X, y, distributed="mpi", capture=True, verbose=0)


def test_the_docs_example_runs_under_mpiexec(tmp_path, mpiexec):
    import re

    text = (ROOT / "docs" / "distributed.md").read_text()
    code = re.search(
        r"```python\n(# save as train_mpi.py.*?)```", text, re.DOTALL
    ).group(1)
    (tmp_path / "train_mpi.py").write_text(code)
    done = _run(
        [mpiexec, "-n", "2", sys.executable, "-m", "mpi4py", "train_mpi.py"], tmp_path
    )
    assert re.fullmatch(r"test accuracy \d+\.\d%\n", done.stdout)  # rank 0 alone
    accuracy = float(done.stdout.split()[-1].rstrip("%")) / 100
    assert accuracy > 0.9
    assert (tmp_path / "digits-mpi.glassnet").exists()
