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
