"""The optional compiled kernels: how they are built, loaded and refused, and
that the one-pass optimizer updates give NumPy's numbers bit for bit."""

import dataclasses
import os
import stat

import numpy as np
import pytest

import glassnet as gn
from glassnet import _native, kernels, losses, nn, optim
from glassnet._native import NativeError


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A private cache folder, the default mode, a clean slate of loaded libraries."""
    monkeypatch.setenv("GLASSNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GLASSNET_NATIVE", "auto")
    _native._forget()
    yield tmp_path / "cache"
    monkeypatch.undo()
    _native._forget()


def _train(cls, dtype, native, monkeypatch, threads=1, together=False, **settings):
    monkeypatch.setenv("GLASSNET_NATIVE", "1" if native else "0")
    # split every array between `threads` (3: parts of odd lengths, 350 / 3)
    monkeypatch.setenv("GLASSNET_NUM_THREADS", str(threads))
    monkeypatch.setattr(kernels.optim, "PER_THREAD", 1)
    # together: the group (417 weights) in one *_foreach call, which splits the
    # 417 between threads across the arrays' ends (3 parts: 0-138, 139-277, ...)
    monkeypatch.setattr(optim.gradient, "FOREACH_FROM", 1 if together else 1 << 62)
    # every array through the kernel, however small (see the size test below)
    for name in ("sgd", "adam"):
        kernel = kernels.registry()[name]
        monkeypatch.setattr(
            kernel,
            "variants",
            [dataclasses.replace(v, min_size=0) for v in kernel.variants],
        )
    _native._forget()
    rng = np.random.default_rng(0)
    params = [
        gn.tensor(rng.normal(size=s).astype(dtype), requires_grad=True)
        for s in [(50, 7), (7,), (3, 4, 5)]
    ]
    opt = cls(params, **settings)
    for _ in range(25):
        for p in params:
            p.grad = rng.normal(size=p.shape).astype(dtype)
        opt.step()
    # optim.c's rules, from its own library or (SGD, float32, small lists in one
    # call) from small.c, which includes it
    loaded = {k for k, v in _native.status().items() if v == "loaded"}
    assert bool(loaded & {"optim", "small"}) == native
    return [p.data.copy() for p in params], opt.state_dict()


RULES = {
    "sgd": (optim.SGD, dict(lr=0.1)),
    "momentum": (optim.SGD, dict(lr=0.1, momentum=0.9)),
    "nesterov-decay": (
        optim.SGD,
        dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    ),
    "decay": (optim.SGD, dict(lr=0.1, weight_decay=0.01)),
    "adam": (optim.Adam, dict(lr=0.01)),
    "adam-l2": (optim.Adam, dict(lr=0.01, weight_decay=0.1)),
    "adamw": (optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
}


@pytest.mark.parametrize("together", [False, True], ids=["one-by-one", "together"])
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", RULES)
def test_compiled_updates_equal_numpy_bit_for_bit(
    rule, dtype, threads, together, monkeypatch, native_optim
):
    """On any number of threads, one parameter per call or all in one call: each
    weight's update is the same arithmetic as NumPy's, one parameter at a time."""
    cls, settings = RULES[rule]
    try:
        fast, fast_state = _train(
            cls, dtype, True, monkeypatch, threads, together, **settings
        )
        slow, slow_state = _train(cls, dtype, False, monkeypatch, **settings)
    finally:
        monkeypatch.undo()
        _native._forget()
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
    for name, state in slow_state["state"].items():
        for key, value in state.items():
            if not key.startswith("_"):  # scratch buffers differ, by design
                np.testing.assert_array_equal(fast_state["state"][name][key], value)


def test_small_arrays_take_the_numpy_path(native_optim):
    """Below a ctypes variant's min_size the C call costs more than it saves:
    NumPy updates it (Adam), or small.c's direct call (SGD, float32)."""
    from glassnet.kernels.variants.small import sgd_small

    for rule in ("sgd", "adam"):
        kernel = kernels.registry()[rule]
        compiled_variant = next(v for v in kernel.variants if v.min_size)
        limit = compiled_variant.min_size
        assert limit > 1
        below = sgd_small if rule == "sgd" else kernel.reference
        for n, fast in ((limit - 1, False), (limit, True)):
            a = [np.ones(n, np.float32) for _ in range(4)]
            args = (
                (*a[:3], 0.1, 0.9, 0.0, False)
                if rule == "sgd"
                else (*a, 1, 0.1, (0.9, 0.999), 1e-8, 0.0, False)
            )
            picked = kernels.pick(rule, *args)
            assert picked is (compiled_variant.fn if fast else below)
        a64 = [np.ones(limit - 1) for _ in range(4)]  # float64: the reference
        args = (
            (*a64[:3], 0.1, 0.9, 0.0, False)
            if rule == "sgd"
            else (*a64, 1, 0.1, (0.9, 0.999), 1e-8, 0.0, False)
        )
        assert kernels.pick(rule, *args) is kernel.reference


def _spy(monkeypatch, name):
    """Record the calls of kernels.<name> (the optimizers call it by that name)."""
    calls, real = [], getattr(kernels, name)
    monkeypatch.setattr(kernels, name, lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def test_a_large_group_is_updated_in_one_call_and_a_small_one_by_one(
    monkeypatch, native_optim
):
    big = [gn.tensor(np.ones((200, 200), np.float32), requires_grad=True),
           gn.tensor(np.ones(200, np.float32), requires_grad=True)]  # fmt: skip
    small = [gn.tensor(np.ones((20, 20), np.float32), requires_grad=True),
             gn.tensor(np.ones(20, np.float32), requires_grad=True)]  # fmt: skip
    together, one = _spy(monkeypatch, "adam_foreach"), _spy(monkeypatch, "adam")
    opt = optim.Adam([{"params": big}, {"params": small}], lr=0.1)
    assert [g["weights"] for g in opt.groups] == [40_200, 420]
    for p in big + small:
        p.grad = np.ones_like(p.data)
    opt.step()
    assert len(together) == 1 and [len(a) for a in together[0][:4]] == [2] * 4
    assert [a[0].shape for a in one] == [(20, 20), (20,)]  # the small group
    for p in big + small:  # the first step moves every weight by lr against g
        np.testing.assert_allclose(p.data, 0.9, rtol=1e-6)


def test_one_call_is_not_used_where_its_numbers_would_differ(monkeypatch):
    """AMSGrad, a parameter that missed steps (its own t), or an optimizer whose
    rule is its own: each parameter then goes through update_one."""
    monkeypatch.setattr(optim.gradient, "FOREACH_FROM", 1)
    rng = np.random.default_rng(1)

    def params():
        return [gn.tensor(rng.normal(size=s).astype(np.float32), requires_grad=True)
                for s in [(5, 3), (3,)]]  # fmt: skip

    together = _spy(monkeypatch, "adam_foreach")
    ps = params()
    opt = optim.Adam(ps, lr=0.1, amsgrad=True)
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()
    assert together == [] and "max_exp_avg_sq" in opt.state["0"]

    ps = params()
    opt = optim.Adam(ps, lr=0.1)
    ps[0].grad = np.ones_like(ps[0].data)  # the bias has no gradient: skipped
    opt.step()
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()  # step 2 for the weight, step 1 for the bias
    assert together == [] and [opt.state[k]["step"] for k in "01"] == [2, 1]
    opt.step()
    assert len(together) == 0  # still t = 3 and 2: never mixed in one call

    class Halved(optim.SGD):  # a rule of its own must not be bypassed
        def update_one(self, p, grad, state, h):
            super().update_one(p, grad / 2, state, h)

    sgd_together = _spy(monkeypatch, "sgd_foreach")
    ps = params()
    before = [p.data.copy() for p in ps]
    opt = Halved(ps, lr=1.0)
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()
    assert sgd_together == []
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(p.data, b - np.float32(0.5))


def test_non_contiguous_or_odd_arrays_take_the_numpy_path(native_optim):
    w = gn.tensor(np.ones((4, 6), np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = np.ones((6, 4), np.float32).T  # a transposed view: not C-contiguous
    opt.step()
    np.testing.assert_allclose(w.data, 0.9, rtol=1e-6)
    h = gn.tensor(np.ones(3, np.float16), requires_grad=True)
    h.grad = np.ones(3, np.float16)
    optim.SGD([h], lr=0.5).step()  # float16: no kernel, NumPy does it
    np.testing.assert_array_equal(h.data, np.full(3, 0.5, np.float16))


def test_a_build_is_cached_private_and_reused(fresh):
    lib = _native.load("optim")
    assert lib is not None, _native.status()
    built = list(fresh.glob("optim-*.so"))
    assert len(built) == 1
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert not built[0].stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    assert _native.load("optim") is lib  # loaded once per process
    assert _native.status()["optim"] == "loaded"
    mtime = built[0].stat().st_mtime_ns
    _native._forget()
    assert _native.load("optim") is not None
    assert built[0].stat().st_mtime_ns == mtime  # not compiled again
    assert not list(fresh.glob(".optim-*"))  # no temporary files left behind


def test_a_cache_folder_others_can_write_to_is_refused(fresh, monkeypatch):
    fresh.mkdir(mode=0o700)
    os.chmod(fresh, 0o777)
    assert _native.load("optim") is None
    assert "not private" in _native.status()["optim"]
    monkeypatch.setenv("GLASSNET_NATIVE", "1")
    _native._forget()
    with pytest.raises(NativeError, match="required .*GLASSNET_NATIVE=1.*not private"):
        _native.load("optim")


def test_no_compiler_means_numpy_with_the_reason(fresh, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-glassnet")
    assert _native.load("optim") is None
    assert "no C compiler" in _native.status()["optim"]
    w = gn.tensor(np.ones(3, np.float32), requires_grad=True)
    w.grad = np.ones(3, np.float32)
    optim.SGD([w], lr=0.5).step()  # the NumPy rule still works
    np.testing.assert_array_equal(w.data, np.full(3, 0.5, np.float32))


def test_turned_off_and_bad_settings(fresh, monkeypatch):
    monkeypatch.setenv("GLASSNET_NATIVE", "0")
    assert not _native.enabled()
    assert _native.load("step") is None
    assert _native.status()["step"] == "turned off by GLASSNET_NATIVE=0"
    assert not fresh.exists()  # nothing was compiled
    monkeypatch.setenv("GLASSNET_NATIVE", "sometimes")
    _native._forget()
    with pytest.raises(
        NativeError, match="auto, 0 .off. or 1 .require.; got 'sometimes'"
    ):
        _native.load("step")


def test_unknown_kernel_is_reported(fresh):
    assert _native.load("no_such_kernel") is None
    assert "no kernel source no_such_kernel.c" in _native.status()["no_such_kernel"]


def test_own_gemm_loops_match_blas(native_step):
    """Without NumPy's BLAS, the kernels multiply with their own loops."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((37, 9)).astype(np.float32)
    y = rng.integers(0, 4, 37)

    def run(native):
        model = nn.Sequential(nn.Dense(9, 6), nn.Tanh(), nn.Dense(6, 4), seed=5)
        step = gn.train.capture_step(
            model, losses.CrossEntropy(), optim.SGD(model, lr=0.1), native=native
        )
        return [step(X, y) for _ in range(5)], model.state_dict()

    eager = run(False)
    native_step.gn_set_blas(None, None, 1 << 62)  # every product: the own loops
    try:
        own = run(True)
    finally:
        native_step.gn_set_blas(
            _native.sgemm_address(), _native.dgemm_address(), _native.SMALL_GEMM
        )
    np.testing.assert_allclose(own[0], eager[0], rtol=2e-6)
    for name, value in eager[1].items():
        np.testing.assert_allclose(own[1][name], value, rtol=1e-5, atol=1e-6)


def test_the_vectorised_exp_is_within_one_ulp(native_step):
    import ctypes

    fn = native_step.gn_expf_array
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64], None
    x = np.linspace(-103, 88.7, 400_001, dtype=np.float32)
    special = np.float32([np.nan, np.inf, -np.inf, 0.0, -0.0, 88.72, 88.73, -104.0])
    x = np.concatenate([x, special])
    y = np.empty_like(x)
    fn(x.ctypes.data, y.ctypes.data, x.size)
    exact = np.exp(x.astype(np.float64))
    normal = (exact > np.finfo(np.float32).tiny) & (exact < np.finfo(np.float32).max)
    ulps = np.abs(y[normal] - exact[normal]) / np.spacing(
        exact[normal].astype(np.float32)
    )
    assert ulps.max() < 1.0  # faithfully rounded
    tail = y[-len(special) :]
    assert np.isnan(tail[0]) and tail[1] == np.inf and tail[2] == 0.0
    assert tail[3] == tail[4] == 1.0
    assert np.isfinite(tail[5]) and tail[6] == np.inf and tail[7] == 0.0
    sub = (exact < np.finfo(np.float32).tiny) & (exact > 0) & (x > -103.2)
    np.testing.assert_allclose(y[sub], exact[sub], rtol=0, atol=2e-45)  # subnormals


def test_the_kernels_command_builds_and_reports(fresh, monkeypatch, capsys):
    from glassnet.cli import main

    assert main(["kernels"]) == 0
    out = capsys.readouterr().out
    for name in _native.names():
        assert f"{name}: loaded from {fresh}" in out
    assert "NumPy's OpenBLAS" in out or "own loops" in out
    _native._forget()
    monkeypatch.setenv("CC", "no-such-compiler-glassnet")
    assert main(["kernels"]) == 1
    assert "optim: no C compiler found" in capsys.readouterr().out


def test_compiled_updates_make_no_subnormal_numbers_and_agree_elsewhere(native_optim):
    """A running average that decays toward subnormal numbers (a dead unit's m:
    its gradient stays 0) never becomes one in the compiled update (an input
    one counts as 0, a result one is 0: a decrement below the normal range is
    lost, so m stays at the smallest normal numbers or becomes 0); where no
    subnormal number takes part, the update is NumPy's, bit for bit. The
    thread's floating-point mode is the caller's again afterwards."""
    tiny = np.finfo(np.float32).tiny
    rng = np.random.default_rng(0)
    n = 32768  # both kernels' min_size: the compiled path
    half = n // 2
    data = rng.normal(size=n).astype(np.float32)
    grad = rng.normal(size=n).astype(np.float32)
    grad[half:] = 0  # dead units
    m = rng.normal(size=n).astype(np.float32)
    m[half : 3 * n // 4] = np.float32(1.05) * tiny  # x 0.9: below tiny in NumPy
    m[3 * n // 4 :] = tiny / np.float32(4)  # already subnormal
    v = np.abs(rng.normal(size=n)).astype(np.float32) + np.float32(0.1)
    rules = {
        "adam": lambda k, d, g, a, b: k(
            d, g, a, b, 7, 1e-3, (0.9, 0.999), 1e-8, 0.0, False
        ),
        "sgd": lambda k, d, g, a, b: k(d, g, a, 0.1, 0.9, 0.0, False),
    }
    for rule, run in rules.items():
        kernel = kernels.registry()[rule]
        compiled = next(v for v in kernel.variants if v.min_size)
        fast = [a.copy() for a in (data, grad, m, v)]
        slow = [a.copy() for a in (data, grad, m, v)]
        picked = run(lambda *a, r=rule: kernels.pick(r, *a), *fast)
        assert picked is compiled.fn, rule  # the call below is what training runs
        run(compiled.fn, *fast)
        run(kernel.reference, *slow)
        subnormal = (slow[2] != 0) & (np.abs(slow[2]) < tiny)
        assert subnormal[half:].all() and not subnormal[:half].any(), rule
        for a in fast:
            assert not np.any((a != 0) & (np.abs(a) < tiny)), rule
        assert np.all(np.abs(fast[2][half:]) <= np.float32(1.05) * tiny), rule
        for a, b in zip(fast, slow):
            np.testing.assert_array_equal(a[:half], b[:half])
        assert np.float32(tiny) * np.float32(0.5) != 0  # the mode was put back
