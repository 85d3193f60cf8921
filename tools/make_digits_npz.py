"""Rebuild ``src/glassnet/datasets/_files/digits.npz`` from scikit-learn's copy.

The 8x8 digits that glassnet bundles are the 1,797 images of the UCI "Optical
Recognition of Handwritten Digits" test file (``optdigits.tes``), in the order
scikit-learn ships them as ``sklearn/datasets/data/digits.csv.gz``: one image
per line, 64 pixel counts (0..16, row by row) followed by the digit (0..9).

scikit-learn is only needed to *find* that file; it is never imported, and
glassnet does not depend on it. Install it somewhere throwaway::

    python3 -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install scikit-learn
    /tmp/skvenv/bin/python tools/make_digits_npz.py

or point the script at the CSV directly::

    python3 tools/make_digits_npz.py path/to/digits.csv.gz

The output holds two arrays, ``images`` (uint8, (1797, 8, 8)) and ``labels``
(uint8, (1797,)), written with ``np.savez_compressed`` (no pickled objects).
NumPy stamps every zip member with the same fixed date, so the same input
gives a byte-identical file. ``CSV_SHA256`` is the digest of the decompressed
CSV that produced the bundled file; the script warns when its input differs.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np

CSV_SHA256 = "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8"
N_IMAGES = 1797
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "glassnet" / "datasets" / "_files" / "digits.npz"


def find_sklearn_csv() -> Path:
    """Find ``digits.csv.gz`` in an installed scikit-learn without importing it."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "scikit-learn is not installed in this Python. Run this script with a "
            "venv that has it, or pass the path of digits.csv.gz."
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "datasets" / "data" / "digits.csv.gz"


def parse(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Turn the CSV text into ``(images, labels)``, checking every value."""
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    table = np.array(rows, dtype=np.int64)
    if table.shape != (N_IMAGES, 65):
        sys.exit(f"expected {N_IMAGES} rows of 65 numbers; got shape {table.shape}")
    pixels, labels = table[:, :64], table[:, 64]
    if pixels.min() < 0 or pixels.max() > 16:
        sys.exit(f"pixels must lie in 0..16; got {pixels.min()}..{pixels.max()}")
    if labels.min() < 0 or labels.max() > 9:
        sys.exit(f"labels must lie in 0..9; got {labels.min()}..{labels.max()}")
    images = pixels.reshape(N_IMAGES, 8, 8).astype(np.uint8)
    return images, labels.astype(np.uint8)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", type=Path, help="digits.csv.gz or .csv")
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    src = args.csv or find_sklearn_csv()
    raw = src.read_bytes()
    text = (gzip.decompress(raw) if src.suffix == ".gz" else raw).decode("ascii")
    digest = hashlib.sha256(text.encode("ascii")).hexdigest()
    if digest != CSV_SHA256:
        print(f"warning: CSV SHA-256 {digest} differs from {CSV_SHA256}")

    images, labels = parse(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels)

    counts = np.bincount(labels, minlength=10).tolist()
    out_digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"read   {src}")
    print(f"wrote  {args.out} ({args.out.stat().st_size} bytes, sha256 {out_digest})")
    print(f"images {images.shape} {images.dtype}, labels per digit {counts}")


if __name__ == "__main__":
    main()
