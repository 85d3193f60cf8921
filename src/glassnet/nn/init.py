"""Initialisers: where the weights start before learning begins.

Each takes a shape, ``fan_in`` / ``fan_out`` (inputs and outputs of one
neuron) and a NumPy random Generator, and returns an array. glassnet never
draws from a hidden global generator: a layer gets its Generator from its
``seed`` argument, or from ``Sequential(..., seed=...)``, which hands one
Generator to every layer in order so the whole model is reproducible.

=============  =======================================  ====================
name           distribution                             good for
=============  =======================================  ====================
``uniform``    U(-1, 1), as the seeds start their nets  small demos
``glorot``     U(-a, a), a = sqrt(6 / (fan_in+fan_out))  sigmoid, tanh (default)
``he``         N(0, 2 / fan_in)                         ReLU
``zeros``      all 0                                    biases
=============  =======================================  ====================

Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks"; He et al. (2015), "Delving deep into
rectifiers".
"""

from __future__ import annotations

import numpy as np

from .._validate import make_rng  # noqa: F401  (re-exported: layers take seeds here)
from ..errors import ConfigError


def uniform(shape, fan_in, fan_out, rng, dtype=np.float32):
    return rng.uniform(-1.0, 1.0, shape).astype(dtype)


def glorot(shape, fan_in, fan_out, rng, dtype=np.float32):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def he(shape, fan_in, fan_out, rng, dtype=np.float32):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def zeros(shape, fan_in, fan_out, rng, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


INITIALIZERS = {
    "uniform": uniform,
    "glorot": glorot,
    "xavier": glorot,
    "he": he,
    "zeros": zeros,
}


def get(name: str):
    """The initialiser called ``name`` (see the table above)."""
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(INITIALIZERS))
        raise ConfigError(
            f"unknown initialiser {name!r}; choose one of: {known}."
        ) from None
