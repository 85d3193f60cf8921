"""Fuzzing ``glassnet.load`` with well over a thousand corrupted and hostile files.

Every one must raise FormatError (glassnet's own error type) within a second,
with bounded memory, and the pickle's side effect must never happen. The
cases: every kind of truncation, random bit flips and byte overwrites,
hand-forged headers whose checksum is *correct* (so the deeper checks are
reached: wrong shapes, dtypes, offsets, huge declared sizes, unknown layer
types and versions, bad configs), non-JSON and deeply nested JSON, and files
of other kinds (pickles, zips, .npy/.npz with objects, random bytes).

At the end, hypothesis fuzzes what a valid checksum does not protect: hostile
values in layer configs and metadata, and almost-right data files.
"""

import gzip
import io
import json
import os
import pickle
import tempfile
import time
import tracemalloc
import zipfile

try:
    import resource
except ImportError:  # Windows
    resource = None

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_io import _SideEffect, forged_bytes

import glassnet as gn
from glassnet import nn
from glassnet.errors import FormatError, GlassnetError
from glassnet.io import registry

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


# --- hypothesis: hostile values in layer configs, metadata and data files ------------
# (issue 14, items 13 and 16: sizes over the limits, wrong types and NaN that a
# file's checksum does not catch.) A loaded file must rebuild exactly what it
# says: a value converted on the way in (ceil_mode "yes" -> True, axis 1.5 -> 1,
# threshold "nan" -> nan) counts as a failure, as does any error but FormatError.


def _every_layer():
    return nn.Sequential(
        nn.OneHot(5),
        nn.Embedding(5, 3),
        nn.Conv1D(2, 3, 3, padding=1),
        nn.Conv2D(1, 2, 3, stride=2, padding=1),
        nn.MaxPool2D(2),
        nn.AvgPool2D(3, padding=1),
        nn.GlobalAveragePool2D(),
        nn.Flatten(),
        nn.Dense(4, 3),
        nn.RNN(3, 2),
        nn.LSTM(2, 2),
        nn.Step(0.5),
        nn.Softmax(),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.ReLU(),
        nn.Identity(),
        seed=0,
    )


_BASE = {}


def _base():
    """The content and tensor bytes of a file holding one of every built-in layer."""
    if not _BASE:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "every.glassnet")
            gn.save(_every_layer(), path)
            with open(path, "rb") as f:
                header, data = _split(f.read())
        _BASE.update(
            header=header,
            data=data,
            content=json.loads(header["__metadata__"]["content"]),
        )
    return _BASE


HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 2, 3, 30000, 65537, 2**20 + 1, 2**31, 2**63]),
    st.floats(allow_nan=False),  # NaN and infinity: the JSON parser refuses them
    st.sampled_from(["nan", "NaN", "inf", "", "1", "same", "valid", "he", "relu"]),
    st.text(max_size=6),
    st.lists(st.one_of(st.integers(-3, 2**33), st.text(max_size=2)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _same(written, rebuilt, key) -> bool:
    """Whether a layer rebuilt from a file holds the value the file wrote."""
    if written is None and key == "stride":
        return True  # a pool's stride None means "the kernel size"
    if isinstance(written, bool) or isinstance(rebuilt, bool):
        return written is rebuilt
    if isinstance(written, (int, float)) and isinstance(rebuilt, (int, float)):
        return written == rebuilt
    if isinstance(written, int) and isinstance(rebuilt, list):
        return rebuilt == [written] * len(rebuilt)  # one int for every axis
    if isinstance(written, list) and isinstance(rebuilt, list):
        return len(written) == len(rebuilt) and all(
            _same(w, r, key) for w, r in zip(written, rebuilt)
        )
    return type(written) is type(rebuilt) and written == rebuilt


@settings(max_examples=300)
@given(data=st.data())
def test_hostile_layer_config_values_are_refused_or_kept_exactly(data):
    base = _base()
    content = json.loads(json.dumps(base["content"]))
    layers = content["model"]["layers"]
    for _ in range(data.draw(st.integers(1, 2))):
        index = data.draw(st.integers(0, len(layers) - 1))
        spec = registry._REGISTRY[layers[index]["type"]]
        if not spec.arguments:
            continue
        key = data.draw(st.sampled_from(spec.arguments))
        layers[index]["config"][key] = data.draw(HOSTILE)
    header = json.loads(json.dumps(base["header"]))
    header["__metadata__"]["content"] = json.dumps(content)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.glassnet")
        with open(path, "wb") as f:
            f.write(forged_bytes(header, base["data"]))
        try:
            model = gn.load(path)
        except FormatError:
            return
    for written, layer in zip(layers, model):
        rebuilt = layer.get_config()
        for key, value in written["config"].items():
            assert _same(value, rebuilt[key], key), (written["type"], key, value)


def _dense_file(folder, metadata):
    path = os.path.join(folder, "m.glassnet")
    model = nn.Sequential(nn.Dense(64, 10), seed=0)
    gn.save(
        model,
        path,
        metadata=metadata,
        arrays={"standardize.mean": np.zeros(64), "standardize.scale": np.ones(64)},
    )
    return path


METADATA = st.fixed_dictionaries(
    {},
    optional={
        "input_shape": st.one_of(HOSTILE, st.just([64]), st.just([8, 8])),
        "classes": st.one_of(HOSTILE, st.lists(st.integers(0, 9), max_size=10)),
        "standardize": HOSTILE,
        "scores": st.one_of(
            HOSTILE,
            st.dictionaries(
                st.sampled_from(["train", "test"]),
                st.dictionaries(st.sampled_from(["loss", "accuracy"]), HOSTILE),
            ),
        ),
        "trained_with": st.one_of(
            HOSTILE,
            st.fixed_dictionaries(
                {},
                optional={
                    "config": HOSTILE,
                    "data": HOSTILE,
                    "train": st.one_of(
                        HOSTILE,
                        st.fixed_dictionaries(
                            {}, optional={"loss": HOSTILE, "metrics": HOSTILE}
                        ),
                    ),
                },
            ),
        ),
    },
)


@settings(max_examples=60)
@given(metadata=METADATA, command=st.sampled_from(["inspect", "evaluate"]))
def test_hostile_metadata_gives_glassnet_errors_in_the_commands(metadata, command):
    import contextlib

    from glassnet import cli

    try:
        json.dumps(metadata, allow_nan=False)
    except ValueError:
        return  # save() refuses it (covered in test_io)
    with tempfile.TemporaryDirectory() as folder:
        path = _dense_file(folder, metadata)
        argv = [command, path] + (["--data", "digits"] if command == "evaluate" else [])
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    err = err.getvalue()
    assert code in (0, 1, 2), err
    assert "--debug" not in err, f"an unchecked error: {err}"


# Data files: bytes that are almost right. Each loader must return data or raise
# DataError / ConfigError (never UnicodeDecodeError, csv.Error, ValueError ...).
def _idx_bytes(draw):
    code = draw(st.sampled_from([8, 9, 11, 12, 13, 14, 7, 0]))
    dims = draw(st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 5), max_size=9))
    body = draw(st.binary(max_size=64))
    head = bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return head + body


@st.composite
def _data_file(draw):
    kind = draw(st.sampled_from(["csv", "idx", "idx.gz", "npy", "npz", "png"]))
    raw = draw(st.binary(max_size=200))
    if kind == "csv":
        rows = draw(
            st.lists(
                st.lists(
                    st.sampled_from(
                        ["1", "2.5", "nan", "x", "", '"', "\x00", "é", "1e999"]
                    ),
                    min_size=1,
                    max_size=4,
                ),
                max_size=5,
            )
        )
        text = "\n".join(",".join(r) for r in rows).encode()
        raw = draw(st.sampled_from([text, raw, text + raw]))
    elif kind.startswith("idx"):
        raw = _idx_bytes(draw)
        if kind == "idx.gz":
            raw = draw(
                st.sampled_from([gzip.compress(raw), raw, gzip.compress(raw)[:-5]])
            )
    elif kind in ("npy", "npz"):
        buf = io.BytesIO()
        shape = tuple(
            draw(st.lists(st.integers(0, 2**40) | st.integers(0, 4), max_size=3))
        )
        try:
            np.lib.format.write_array_header_1_0(
                buf,
                {
                    "descr": draw(st.sampled_from(["<f4", "|u1", "|O", "<c16", ">i8"])),
                    "fortran_order": draw(st.booleans()),
                    "shape": shape,
                },
            )
        except ValueError:
            pass
        raw = buf.getvalue() + raw
        if kind == "npz":
            zipped = io.BytesIO()
            with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(draw(st.sampled_from(["X.npy", "y.npy", "X"])), raw)
            raw = zipped.getvalue()[: draw(st.integers(22, 10**4))]
    elif kind == "png":
        raw = draw(st.sampled_from([b"\x89PNG\r\n\x1a\n" + raw, raw]))
    return kind, raw


@settings(max_examples=300)
@given(case=_data_file())
def test_hostile_data_files_give_data_errors(case):
    from glassnet.data import loaders
    from glassnet.errors import ConfigError, DataError

    kind, raw = case
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(
            folder, f"data-ubyte.{kind}" if "idx" in kind else f"data.{kind}"
        )
        if kind.startswith("idx"):
            path = os.path.join(folder, "data-ubyte" + (".gz" if "gz" in kind else ""))
        with open(path, "wb") as f:
            f.write(raw)
        try:
            loaders.load_data(path) if kind != "png" else loaders.load_image(path)
        except (DataError, ConfigError):
            pass
        except GlassnetError as e:
            pytest.fail(f"{kind}: {type(e).__name__} {e}")
