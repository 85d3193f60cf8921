"""Model files and checkpoints: data only (JSON + safetensors), never code.

- :func:`save` / :func:`load` — a model's architecture and weights in one file;
  :func:`read` also returns the metadata and extra arrays saved with it.
- :func:`register_layer` — let files hold your own layer types.
- :func:`save_checkpoint` / :func:`load_checkpoint` — a model, its optimizer
  and the state of a training run (``fit(checkpoint=..., resume_from=...)``
  uses them).

The format, the checks made on loading and their limits are described in
``docs/model-files.md``.
"""

from .checkpoint import CheckpointData, load_checkpoint, save_checkpoint
from .container import FORMAT_VERSION, MAX_BYTES, atomic_write
from .model import ModelFile, load, read, save
from .registry import register_layer, registered_layers, unregister_layer

__all__ = [
    "FORMAT_VERSION",
    "MAX_BYTES",
    "CheckpointData",
    "ModelFile",
    "atomic_write",
    "load",
    "load_checkpoint",
    "read",
    "register_layer",
    "registered_layers",
    "save",
    "save_checkpoint",
    "unregister_layer",
]
