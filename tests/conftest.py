"""Shared test set-up: fixed seeds, loud floating-point problems, quick hypothesis."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "glassnet",
    max_examples=int(os.environ.get("GLASSNET_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.load_profile("glassnet")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _strict_floats():
    """NumPy overflow and invalid-value warnings become errors inside tests."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yield


#: ``make test`` sets GLASSNET_NATIVE=1: then a kernel that does not build fails
#: its tests instead of skipping them. Read once, before any test changes it.
NATIVE_REQUIRED = os.environ.get("GLASSNET_NATIVE", "").strip().lower() in (
    "1",
    "require",
)


def native_setting(on: bool) -> str:
    """The GLASSNET_NATIVE value for a test that turns the kernels on or off."""
    return ("1" if NATIVE_REQUIRED else "auto") if on else "0"


def _native_library(name: str):
    """The compiled kernel library ``name``; a skip where none can be built.

    ``make test`` sets GLASSNET_NATIVE=1, so there a failed build is an error
    that fails the test, never a skip.
    """
    from glassnet import _native

    lib = _native.load(name)
    if lib is None:
        (pytest.fail if NATIVE_REQUIRED else pytest.skip)(
            f"compiled kernels unavailable here: {_native.status().get(name)}"
        )
    return lib


@pytest.fixture
def native_step():
    return _native_library("step")


@pytest.fixture
def native_optim():
    return _native_library("optim")


#: ``make test`` sets GLASSNET_SERVICES=1: then the sweep and MPI tests fail when
#: Optuna, mpi4py/mpiexec or PostgreSQL is missing, instead of skipping.
SERVICES_REQUIRED = os.environ.get("GLASSNET_SERVICES", "").strip() == "1"


def need(reason: str):
    """Skip for ``reason``, or fail under ``make test`` (GLASSNET_SERVICES=1)."""
    if SERVICES_REQUIRED:
        pytest.fail(f"{reason} (make test needs it: GLASSNET_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh database on a throwaway PostgreSQL server on 127.0.0.1 (see
    tests/_postgres.py), stopped at the end of the session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        need("psycopg is not installed: pip install 'glassnet[sweep]'")
    from _postgres import Server

    server = Server()
    why = server.available()
    if why:
        need(why)
    try:
        yield server.start()
    finally:
        server.stop()
