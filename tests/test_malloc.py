"""glassnet/_malloc.py: the allocator settings made at import, and when they are not."""

import os
import subprocess
import sys
import textwrap

import pytest

from glassnet import _malloc

SRC = os.path.join(os.path.dirname(__file__), os.pardir, "src")

# Eight written 3 MiB arrays made and freed ten times: what a training step
# does with its temporaries. Prints the page faults of those ten rounds.
CHURN = textwrap.dedent("""
    import resource
    import numpy as np
    import glassnet
    from glassnet import _malloc

    def rounds(n):
        for _ in range(n):
            arrays = [np.ones(3 << 18, np.float32) for _ in range(8)]
            del arrays

    rounds(3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    rounds(10)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(_malloc.status())
""")

glibc_only = pytest.mark.skipif(
    _malloc._glibc() is None, reason="the settings are glibc's"
)


def churn(**env):
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in _malloc._GLIBC_VARIABLES and k != "GLASSNET_MALLOC"
    }
    environ.update(env, PYTHONPATH=SRC)
    done = subprocess.run(
        [sys.executable, "-c", CHURN],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    faults, status = done.stdout.strip().splitlines()
    return int(faults), status


@glibc_only
def test_freed_arrays_are_reused_without_page_faults():
    tuned, status = churn()
    untouched, off_status = churn(GLASSNET_MALLOC="0")
    assert status.startswith("glibc") and "32 MiB" in status and "64 MiB" in status
    assert off_status == "left alone (GLASSNET_MALLOC=0)"
    # 10 rounds of 24 MiB is about 61,000 fresh 4 KiB pages without the settings
    assert untouched > 10_000
    assert tuned < untouched / 100


@glibc_only
def test_the_users_own_malloc_settings_win():
    faults, status = churn(MALLOC_TRIM_THRESHOLD_="131072")
    assert status == "left alone (MALLOC_TRIM_THRESHOLD_ is set in the environment)"
    assert faults > 10_000  # the user's small trim threshold is in force, not ours


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"GLASSNET_MALLOC": "0"}, "left alone (GLASSNET_MALLOC=0)"),
        ({"GLASSNET_MALLOC": "off"}, "left alone (GLASSNET_MALLOC=0)"),
        (
            {"MALLOC_ARENA_MAX": "2"},
            "left alone (MALLOC_ARENA_MAX is set in the environment)",
        ),
        (
            {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"},
            "left alone (GLIBC_TUNABLES is set in the environment)",
        ),
    ],
)
@glibc_only
def test_reasons_for_leaving_the_allocator_alone(environ, expected):
    before = _malloc.status()
    try:
        assert _malloc.tune(environ) == expected == _malloc.status()
    finally:
        _malloc._status = before


def test_a_bad_setting_warns_and_changes_nothing():
    before = _malloc.status()
    try:
        with pytest.warns(
            RuntimeWarning, match="GLASSNET_MALLOC must be 'auto' or '0'; got 'fast'"
        ):
            status = _malloc.tune({"GLASSNET_MALLOC": "fast"})
        assert status.startswith("left alone")
    finally:
        _malloc._status = before


def test_other_c_libraries_are_left_alone(monkeypatch):
    before = _malloc.status()
    monkeypatch.setattr(_malloc, "_glibc", lambda: None)
    try:
        assert _malloc.tune({}) == "left alone (not glibc)"
    finally:
        _malloc._status = before
