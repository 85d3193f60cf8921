"""Preparing data: splitting, standardising, one-hot labels, flattening, batching."""

from .transforms import Standardizer, batches, flatten, one_hot, train_test_split  # noqa: F401
