"""The compiled kernels' cache against hostile or damaged contents (issue 14, item 12).

Every folder from / down to the cache is checked, the library is opened once
without following links and loaded from that open file, the cache key holds
every word of CC and every flag, and a truncated or foreign library is built
again (or, when that fails, NumPy is used with a warning in ``auto`` mode).
"""

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import NATIVE_REQUIRED

import glassnet as gn
from glassnet import _native, optim
from glassnet._native import NativeError

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """A private cache folder, the default mode, a clean slate of loaded libraries."""
    monkeypatch.setenv("GLASSNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GLASSNET_NATIVE", "auto")
    _native._forget()
    yield tmp_path / "cache"
    monkeypatch.undo()
    _native._forget()


def built(cache, name="optim"):
    """Build library ``name`` into ``cache`` (a skip where none builds); its file."""
    before = set(cache.glob(f"{name}-*.so"))
    if _native.load(name) is None:  # make test (GLASSNET_NATIVE=1): a failure
        (pytest.fail if NATIVE_REQUIRED else pytest.skip)(
            f"the {name} kernel does not build here: {_native.status()}"
        )
    (path,) = set(cache.glob(f"{name}-*.so")) - before
    _native._forget()
    return path


def replace(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` as a new file: the old one may be mapped by this
    process (loaded by an earlier test), and writing into it would crash it."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o700)
    os.replace(tmp, path)


def sgd_step_works():
    w = gn.tensor(np.ones(3, np.float32), requires_grad=True)
    w.grad = np.ones(3, np.float32)
    optim.SGD([w], lr=0.5).step()
    np.testing.assert_array_equal(w.data, np.full(3, 0.5, np.float32))


# --- the folders above the cache ------------------------------------------------------


def test_a_folder_above_the_cache_others_can_write_to_is_refused(monkeypatch, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # anyone may rename our cache away and put theirs there
    monkeypatch.setenv("GLASSNET_CACHE_DIR", str(shared / "mine" / "cache"))
    monkeypatch.setenv("GLASSNET_NATIVE", "auto")
    _native._forget()
    try:
        assert _native.load("optim") is None
        reason = _native.status()["optim"]
        assert (
            f"the folder {shared} above the kernel cache can be written by other "
            "users (mode 0777, no sticky bit)" in reason
        )
        sgd_step_works()  # NumPy instead
        monkeypatch.setenv("GLASSNET_NATIVE", "1")
        _native._forget()
        with pytest.raises(NativeError, match="required .*NATIVE=1.*no sticky"):
            _native.load("optim")
        # the sticky bit (as on /tmp): others may not rename what is ours
        os.chmod(shared, 0o1777)
        _native._forget()
        assert _native.load("optim") is not None, _native.status()
    finally:
        _native._forget()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a folder to another user needs root",
)
def test_a_folder_above_the_cache_owned_by_another_user_is_refused(
    monkeypatch, tmp_path
):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 54321, -1)
    monkeypatch.setenv("GLASSNET_CACHE_DIR", str(theirs / "cache"))
    monkeypatch.setenv("GLASSNET_NATIVE", "auto")
    _native._forget()
    try:
        assert _native.load("optim") is None
        assert (
            f"the folder {theirs} above the kernel cache belongs to uid 54321"
            in _native.status()["optim"]
        )
    finally:
        _native._forget()


def test_a_cache_reached_through_a_link_is_checked_where_it_really_is(
    monkeypatch, tmp_path
):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.setenv("GLASSNET_CACHE_DIR", str(tmp_path / "link" / "cache"))
    monkeypatch.setenv("GLASSNET_NATIVE", "auto")
    _native._forget()
    try:
        assert _native.load("optim") is not None, _native.status()
        assert list((real / "cache").glob("optim-*.so"))
    finally:
        _native._forget()


# --- the library itself ------------------------------------------------------------


def test_a_symlinked_library_is_refused(cache, monkeypatch):
    path = built(cache)
    elsewhere = cache.parent / "elsewhere.so"
    shutil.move(path, elsewhere)
    path.symlink_to(elsewhere)
    assert _native.load("optim") is None
    assert f"{path} is a symbolic link" in _native.status()["optim"]
    assert path.is_symlink()  # refused, not silently replaced
    monkeypatch.setenv("GLASSNET_NATIVE", "1")
    _native._forget()
    with pytest.raises(NativeError, match="symbolic link"):
        _native.load("optim")


def test_a_library_others_can_write_to_is_refused(cache):
    path = built(cache)
    os.chmod(path, 0o722)
    assert _native.load("optim") is None
    assert "is not a private file of this user" in _native.status()["optim"]


def test_every_word_of_cc_and_every_flag_is_in_the_key(monkeypatch):
    source = _native.HERE / "optim.c"
    monkeypatch.delenv(_native.CFLAGS_VAR, raising=False)
    cc = shutil.which("gcc") or shutil.which("cc") or "cc"
    plain = _native._recipe("optim", source, cc)[1]
    assert _native._recipe("optim", source, f"{cc} -fsanitize=address")[1] != plain
    assert _native._recipe("optim", source, f"{cc} -O0")[1] != plain
    monkeypatch.setenv(_native.CFLAGS_VAR, "-fsanitize=undefined")
    flags, key = _native._recipe("optim", source, cc)
    assert "-fsanitize=undefined" in flags and key != plain
    assert _native._recipe("step", source, cc)[1] != key  # the identity differs too


def test_a_cc_with_extra_words_gets_its_own_build(cache, monkeypatch):
    """After a build with CC="gcc -O1", a plain run must not load that library."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        (pytest.fail if NATIVE_REQUIRED else pytest.skip)("no C compiler")
    monkeypatch.setenv("CC", f"{cc} -O1")
    first = built(cache)
    monkeypatch.setenv("CC", cc)
    second = built(cache)
    assert first != second
    assert len(list(cache.glob("optim-*.so"))) == 2


#: A CPU that is not this one: what /proc/cpuinfo would say on an AVX2-only
#: AMD machine (the project's other CPU), to make a library built here stale.
OTHER_CPU = "flags\t\t: fpu sse sse2 avx avx2 fma\nmodel name\t: AMD EPYC 7B13"


def test_the_cpu_and_the_target_are_in_the_key(monkeypatch):
    """-march=native code from one CPU may not run on another (issue 17, item 7):
    another CPU model or feature list, or another GLASSNET_TARGET, is another key."""
    source = _native.HERE / "direct.c"
    cc = shutil.which("gcc") or shutil.which("cc") or "cc"
    monkeypatch.delenv("GLASSNET_TARGET", raising=False)
    here = _native._recipe("direct", source, cc)[1]
    monkeypatch.setattr(_native, "_cpu_identity", lambda: OTHER_CPU)
    there = _native._recipe("direct", source, cc)
    assert there[1] != here and "-march=native" in there[0]
    monkeypatch.setenv("GLASSNET_TARGET", "avx2")
    avx2 = _native._recipe("direct", source, cc)
    assert avx2[1] not in (here, there[1])
    assert "-mavx2" in avx2[0] and "-march=native" not in avx2[0]


def test_a_library_built_on_another_cpu_is_never_loaded(cache, monkeypatch):
    """The same cache folder seen from two machines (a shared home folder): the
    library the other CPU built stays there, and this CPU builds its own."""
    if _native._compiler() is None:
        (pytest.fail if NATIVE_REQUIRED else pytest.skip)("no C compiler")
    real = _native._cpu_identity
    monkeypatch.setattr(_native, "_cpu_identity", lambda: OTHER_CPU)
    theirs = built(cache)
    monkeypatch.setattr(_native, "_cpu_identity", real)
    ours = built(cache)
    assert ours != theirs and sorted(cache.glob("optim-*.so")) == sorted([ours, theirs])
    _native.load("optim")
    assert _native._paths["optim"] == ours


def test_a_target_this_cpu_lacks_is_refused(cache, monkeypatch):
    """GLASSNET_TARGET=avx512 on a CPU without AVX-512 would die of an illegal
    instruction: the build is refused with the reason, and NumPy runs."""
    monkeypatch.setattr(_native, "_cpu_identity", lambda: OTHER_CPU)
    monkeypatch.setenv("GLASSNET_TARGET", "avx512")
    assert _native.load("optim") is None
    assert "avx512f" in _native.status()["optim"]
    monkeypatch.setenv("GLASSNET_NATIVE", "1")
    _native._forget()
    with pytest.raises(NativeError, match="GLASSNET_TARGET=avx512 needs"):
        _native.load("optim")
    monkeypatch.setenv("GLASSNET_TARGET", "sse9")
    with pytest.raises(NativeError, match="GLASSNET_TARGET must be one of"):
        _native.target()


def load_in_a_child(cache: Path, name="optim") -> subprocess.CompletedProcess:
    """Load library ``name`` in a fresh Python (a SIGBUS must not kill this one)."""
    env = dict(
        os.environ,
        GLASSNET_CACHE_DIR=str(cache),
        GLASSNET_NATIVE="auto",
        PYTHONPATH=SRC,
    )
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "from glassnet import _native\n"
        f"print('LOADED' if _native.load({name!r}) else _native.status())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )


def test_a_truncated_library_is_built_again(cache):
    path = built(cache)
    whole = path.read_bytes()
    replace(path, whole[: len(whole) // 2])
    run = load_in_a_child(cache)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])  # no SIGBUS
    assert "LOADED" in run.stdout
    assert "was damaged (truncated or not glassnet's); building it again" in run.stderr
    assert _native._sealed(path.read_bytes())
    again = load_in_a_child(cache)  # the new entry is good: no warning this time
    assert "LOADED" in again.stdout and "damaged" not in again.stderr


def compile_foreign(cache: Path, path: Path) -> None:
    """A valid shared library with none of glassnet's functions, at ``path``."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        (pytest.fail if NATIVE_REQUIRED else pytest.skip)("no C compiler")
    src = cache.parent / "foreign.c"
    src.write_text("int foreign_answer(void) { return 42; }\n")
    lib = cache.parent / "foreign.so"
    subprocess.run([cc, "-shared", "-fPIC", str(src), "-o", str(lib)], check=True)
    replace(path, lib.read_bytes())


def test_a_foreign_library_is_built_again_not_loaded(cache):
    path = built(cache)
    compile_foreign(cache, path)
    with pytest.warns(RuntimeWarning, match="damaged .truncated or not glassnet's."):
        assert _native.load("optim") is not None
    assert _native.status()["optim"] == "loaded"
    sgd_step_works()


def test_a_foreign_library_falls_back_to_numpy_when_it_cannot_be_rebuilt(
    cache, monkeypatch
):
    path = built(cache)
    compile_foreign(cache, path)
    monkeypatch.setattr(_native, "_compile", _failing_compile)
    with pytest.warns(RuntimeWarning, match="damaged"):
        assert _native.load("optim") is None  # auto: NumPy, no AttributeError
    assert "compiling optim.c failed" in _native.status()["optim"]
    sgd_step_works()
    monkeypatch.setenv("GLASSNET_NATIVE", "1")
    _native._forget()
    with (
        pytest.raises(NativeError, match="required .*compiling optim.c failed"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", RuntimeWarning)
        _native.load("optim")


def _failing_compile(name, *args):
    raise NativeError(f"compiling {name}.c failed: test")


def test_another_glassnet_library_under_the_name_is_built_again(cache):
    """A sealed library of ours, but the wrong one: its identity says so."""
    path = built(cache, "optim")
    other = built(cache, "elementwise")
    replace(path, other.read_bytes())
    with pytest.warns(
        RuntimeWarning,
        match="is not glassnet's optim library .it says 'glassnet elementwise abi",
    ):
        assert _native.load("optim") is not None
    sgd_step_works()


def test_a_missing_function_means_numpy_in_auto_and_an_error_in_require(
    cache, monkeypatch
):
    if _native.load("optim") is None:
        (pytest.fail if NATIVE_REQUIRED else pytest.skip)(
            f"the optim kernel does not build here: {_native.status()}"
        )
    with pytest.warns(RuntimeWarning, match="has no function gn_no_such_thing_f32"):
        assert (
            _native.functions("optim", np.dtype(np.float32), {"gn_no_such_thing": []})
            is None
        )
    monkeypatch.setenv("GLASSNET_NATIVE", "1")
    _native._forget()
    with pytest.raises(
        NativeError, match="has no function gn_no_such_thing_f64.*GLASSNET_NATIVE=1"
    ):
        _native.functions("optim", np.dtype(np.float64), {"gn_no_such_thing": []})


def test_a_build_is_flushed_sealed_and_private(cache):
    path = built(cache)
    data = path.read_bytes()
    assert _native._sealed(data)
    assert data.startswith(b"\x7fELF")
    assert not path.stat().st_mode & 0o077
    assert not list(cache.glob(".optim-*"))  # no temporary files left behind
