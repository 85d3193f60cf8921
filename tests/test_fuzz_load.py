"""Fuzzing ``glassnet.load`` with well over a thousand corrupted and hostile files.

Every one must raise FormatError (glassnet's own error type) within a second,
with bounded memory, and the pickle's side effect must never happen. The
cases: every kind of truncation, random bit flips and byte overwrites,
hand-forged headers whose checksum is *correct* (so the deeper checks are
reached: wrong shapes, dtypes, offsets, huge declared sizes, unknown layer
types and versions, bad configs), non-JSON and deeply nested JSON, and files
of other kinds (pickles, zips, .npy/.npz with objects, random bytes).
"""

import gzip
import io
import json
import pickle
import time
import tracemalloc
import zipfile

try:
    import resource
except ImportError:  # Windows
    resource = None

import numpy as np
from test_io import _SideEffect, forged_bytes

import glassnet as gn
from glassnet import nn
from glassnet.errors import FormatError

SECONDS_PER_FILE = 1.0
PEAK_BYTES_PER_FILE = 32 << 20  # tracked allocations while loading one file


def _base_files(tmp_path):
    model = nn.Sequential(
        nn.Dense(4, 3), nn.ReLU(), nn.Dense(3, 2), nn.Softmax(), seed=0
    )
    gn.save(
        model,
        tmp_path / "model.glassnet",
        metadata={"classes": ["a", "b"]},
        arrays={"mean": np.arange(4.0)},
    )
    opt = gn.optim.Adam(model)
    model(np.ones((1, 4))).sum().backward()
    opt.step()
    gn.io.save_checkpoint(tmp_path / "run.ckpt", model, opt, {"epoch": 1})
    return [(tmp_path / name).read_bytes() for name in ("model.glassnet", "run.ckpt")]


def _split(raw):
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _structured(raw):
    """Files with valid checksums and one thing wrong each."""
    header, data = _split(raw)
    content = json.loads(header["__metadata__"]["content"])
    names = [k for k in header if k != "__metadata__"]
    out = []

    def with_content(change):
        h, c = json.loads(json.dumps(header)), json.loads(json.dumps(content))
        change(c)
        h["__metadata__"]["content"] = json.dumps(c)
        return h, data

    def with_header(change, new_data=None):
        h = json.loads(json.dumps(header))
        change(h)
        return h, data if new_data is None else new_data

    layers = content["model"]["layers"]
    for i in range(len(layers)):
        for bad in (
            "os.system",
            "Sequential ",
            "",
            "dense",
            "__import__",
            "Dense" * 50,
        ):
            out.append(
                with_content(
                    lambda c, i=i, b=bad: c["model"]["layers"][i].update(type=b)
                )
            )
    for value in (0, -1, 10**6, 10**12, 2**63, 1.5, "4", None, [4], True, {"a": 1}):
        for key in ("in_features", "out_features", "bias"):
            out.append(
                with_content(
                    lambda c, k=key, v=value: c["model"]["layers"][0]["config"].update(
                        {k: v}
                    )
                )
            )
    for key, value in (
        ("seed", 1),
        ("rng", 1),
        ("init", "__class__"),
        ("init", 3),
        ("axis", "x"),
    ):
        out.append(
            with_content(
                lambda c, k=key, v=value: c["model"]["layers"][-1]["config"].update(
                    {k: v}
                )
            )
        )
    for change in (
        lambda c: c.update(dtype="float16"),
        lambda c: c.update(dtype=None),
        lambda c: c.pop("dtype"),
        lambda c: c.update(extra=1),
        lambda c: c.update(model=[]),
        lambda c: c.update(model={"type": 1}),
        lambda c: c["model"].update(layers={}),
        lambda c: c["model"].update(
            layers=[{"type": "Sequential", "layers": [{"type": "ReLU"}]}]
        ),
        lambda c: c.update(arrays=["nope"]),
        lambda c: c.update(arrays="mean"),
        lambda c: c.update(metadata=[]),
        lambda c: c.update(optimizer={"type": 1}),
        lambda c: c.update(training=[]),
        lambda c: c.update(
            optimizer={
                "type": "Adam",
                "hyper": {},
                "step": -1,
                "scalars": {},
                "arrays": {},
            }
        ),
        lambda c: c.update(
            optimizer={
                "type": "Adam",
                "hyper": {},
                "step": 1,
                "scalars": {},
                "arrays": {"0.weight": ["missing"]},
            }
        ),
        lambda c: c["model"].update(layers=[json.loads(json.dumps(c["model"]))]),
    ):
        out.append(with_content(change))
    deep = {"type": "ReLU", "config": {}}
    for _ in range(20):
        deep = {"type": "Sequential", "layers": [deep]}
    out.append(with_content(lambda c: c.update(model=deep)))
    out.append(
        with_content(
            lambda c: c["model"].update(
                layers=[{"type": "ReLU", "config": {}}] * 20_000
            )
        )
    )
    for name in names:
        for change in (
            lambda e: e.update(shape=[2**40, 2**40]),
            lambda e: e.update(shape=[2**62, 2**62], data_offsets=[0, 2**126 * 4]),
            lambda e: e.update(shape=[10**6]),
            lambda e: e.update(shape=[1] * 9),
            lambda e: e.update(shape=[-1]),
            lambda e: e.update(shape="3"),
            lambda e: e.update(dtype="F16"),
            lambda e: e.update(dtype="O"),
            lambda e: e.update(dtype="I64"),
            lambda e: e.update(data_offsets=[0, 2**64]),
            lambda e: e.update(
                data_offsets=[e["data_offsets"][0] + 1, e["data_offsets"][1] + 1]
            ),
            lambda e: e.update(
                data_offsets=[e["data_offsets"][1], e["data_offsets"][0]]
            ),
            lambda e: e.update(data_offsets=[0]),
            lambda e: e.update(extra=1),
            lambda e: e.pop("shape"),
        ):
            out.append(with_header(lambda h, n=name, f=change: f(h[n])))
        out.append(with_header(lambda h, n=name: h.update({n + "x": h.pop(n)})))
        out.append(with_header(lambda h, n=name: h.pop(n)))
    out.append(
        with_header(
            lambda h: h.update(
                {
                    "extra/z": {
                        "dtype": "F32",
                        "shape": [0],
                        "data_offsets": [len(data), len(data)],
                    }
                }
            )
        )
    )
    out.append(
        with_header(
            lambda h: h.update(
                {"bad name\n": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}
            )
        )
    )
    for key, value in (
        ("format", "glassnet.other"),
        ("format", "pickle"),
        ("format_version", "2"),
        ("format_version", "99999999999999999999"),
        ("format_version", "1.0"),
        ("format_version", ""),
        ("glassnet_version", "x" * 100),
        ("glassnet_version", "0.1\n"),
        ("content", "not json"),
        ("content", "[]"),
        ("content", "null"),
        ("content", "[" * 50_000 + "]" * 50_000),
        ("content", '{"model": ' * 5000 + "1" + "}" * 5000),
        ("content", '{"a": NaN}'),
        ("content", '{"a": 1e999}'),
        ("content", "{" + '"a": 1,' * 3 + '"a": 1}'),
        ("content", '{"n": ' + "9" * 100_000 + "}"),
        ("content", '{"a": "' + '\\"' * 200_000),
        ("extra", "1"),
    ):
        out.append(
            with_header(lambda h, k=key, v=value: h["__metadata__"].update({k: v}))
        )
    out.append(with_header(lambda h: h["__metadata__"].pop("content")))
    out.append(with_header(lambda h: h.pop("__metadata__")))
    out.append(with_header(lambda h: h.update(__metadata__={"format": 1})))
    out.append(with_header(lambda h: h.update(__metadata__="glassnet")))
    return out


def _raw_headers():
    """Headers that are not what they should be, as bytes."""
    texts = [
        b"",
        b" ",
        b"{",
        b"}",
        b"[]",
        b"null",
        b"1",
        b'"x"',
        b"{}",
        b"{ }" + b" " * 5,
        b"\xff\xfe{}",
        b'{"a": 1}',
        b"{" + b"\x00" * 20 + b"}",
        b'{"__metadata__": {"format": "glassnet.model"}}',
        b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        b'{"a": ' + b'{"b": ' * 100_000 + b"1" + b"}" * 100_000 + b"}",
        b'{"a": "' + b"\\" * 1001 + b'"}',
        b'{"a": 1, "a": 2}',
        b'{"a": "' + b'\\"' * 900_000,  # unterminated: must not scan quadratically
        b'{"a": ' + b"1" * 1_000_000 + b"}",
        b'{"__metadata__": {"content": "' + b'\\"' * 1000 + b'"}}',
    ]
    out = [len(t).to_bytes(8, "little") + t for t in texts]
    for n in (2**63, 2**64 - 1, 10**9, 100_000_001, 17 << 20):
        out.append(n.to_bytes(8, "little") + b"{}")
    return out


def _foreign(tmp_path, marker):
    """Files of other kinds, several with a pickle that would create ``marker``."""
    payload = pickle.dumps(_SideEffect(marker))
    files = [
        payload,
        pickle.dumps(_SideEffect(marker), protocol=0),
        b"\x00" * 8 + payload,
    ]
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:  # a PyTorch-style archive
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3")
    files.append(zbuf.getvalue())
    arr = np.empty(2, dtype=object)
    arr[:] = [_SideEffect(marker), 1]
    nbuf = io.BytesIO()
    np.save(nbuf, arr, allow_pickle=True)
    files.append(nbuf.getvalue())
    zbuf = io.BytesIO()
    np.savez(zbuf, w=arr)
    files.append(zbuf.getvalue())
    files.append(gzip.compress(payload))
    files.append(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    rng = np.random.default_rng(0)
    files += [rng.bytes(int(n)) for n in rng.integers(0, 4000, size=20)]
    files += [b"", b"\x00", b"\x00" * 8, b"\xff" * 8, b"{}" * 10]
    return files


def _mutations(raw, rng, count):
    out = []
    cut_points = sorted(
        set(
            list(range(24))
            + list(rng.integers(0, len(raw), 60))
            + [len(raw) - 1, len(raw) - 4]
        )
    )
    out += [raw[:n] for n in cut_points]
    out += [raw + b"\x00", raw + raw[:8], raw[:8] + raw]
    for _ in range(count):
        b = bytearray(raw)
        pos = int(rng.integers(0, len(b)))
        b[pos] ^= 1 << int(rng.integers(0, 8))
        out.append(bytes(b))
    for _ in range(count // 2):
        b = bytearray(raw)
        pos = int(rng.integers(0, len(b) - 8))
        b[pos : pos + int(rng.integers(1, 8))] = rng.bytes(int(rng.integers(1, 8)))
        out.append(bytes(b))
    header_end = 8 + int.from_bytes(raw[:8], "little")
    for _ in range(count // 2):  # flips aimed at the header, where the structure is
        b = bytearray(raw)
        pos = int(rng.integers(8, header_end))
        b[pos] ^= 1 << int(rng.integers(0, 8))
        out.append(bytes(b))
    return out


def _meaning(header):
    """A header with its content parsed, so that re-spaced JSON compares equal."""
    header = json.loads(json.dumps(header))
    meta = header.get("__metadata__")
    if isinstance(meta, dict) and isinstance(meta.get("content"), str):
        try:
            meta["content"] = json.loads(meta["content"])
        except (ValueError, RecursionError):
            pass
    return header


def _corpus(tmp_path, marker):
    rng = np.random.default_rng(20240607)
    bases = _base_files(tmp_path)
    files = []
    for raw in bases:
        files += _mutations(raw, rng, 240)
        original = _meaning(_split(raw)[0])
        for header, data in _structured(raw):
            if _meaning(header) != original:  # skip the few changes that change nothing
                files.append(forged_bytes(header, data))
    files += _raw_headers()
    files += _foreign(tmp_path, marker)
    return files


def _max_rss_kib() -> int:
    """The process's peak resident memory so far (0 where unknown)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if resource else 0


def _load(path):
    """None if load raised FormatError, else what happened instead."""
    try:
        gn.load(path)
    except FormatError:
        return None
    except Exception as e:  # noqa: BLE001 - reported by the caller
        return f"raised {type(e).__name__}: {e}"
    return "loaded without an error"


def test_a_thousand_corrupted_files_each_raise_format_error_quickly(tmp_path):
    marker = tmp_path / "side-effect-happened"
    files = _corpus(tmp_path, marker)
    assert len(files) >= 1000
    path = tmp_path / "fuzzed.glassnet"
    rss_before = _max_rss_kib()
    slowest = 0.0
    for i, raw in enumerate(files):  # pass 1: the error type, and the time
        path.write_bytes(raw)
        start = time.perf_counter()
        problem = _load(path)
        seconds = time.perf_counter() - start
        assert problem is None, (
            f"file {i} ({len(raw)} bytes, {raw[:60]!r}...) {problem}"
        )
        assert seconds < SECONDS_PER_FILE, f"file {i} took {seconds:.2f} s"
        slowest = max(slowest, seconds)
    worst_peak = 0
    tracemalloc.start()  # pass 2: memory (tracemalloc slows parsing several times over)
    try:
        for i, raw in enumerate(files):
            path.write_bytes(raw)
            tracemalloc.reset_peak()
            _load(path)
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < PEAK_BYTES_PER_FILE, f"file {i} allocated {peak:,} bytes"
            worst_peak = max(worst_peak, peak)
    finally:
        tracemalloc.stop()
    rss_growth_mb = (_max_rss_kib() - rss_before) / 1024
    assert rss_growth_mb < 256
    assert not marker.exists(), "a pickle was unpickled"
    print(
        f"\n{len(files)} files; slowest {slowest * 1000:.0f} ms; peak traced "
        f"{worst_peak / 2**20:.1f} MiB; max RSS grew {rss_growth_mb:.0f} MiB"
    )
