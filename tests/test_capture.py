"""The captured training step gives the eager loop's numbers: bit for bit when
replayed in NumPy (native=False), to float32 rounding as one compiled call."""

import doctest

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses, nn, optim
from glassnet.errors import ConfigError, DataError, ShapeError
from glassnet.train import capture


def _data(n=100, d=6, c=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    return X, (X @ rng.standard_normal((d, c))).argmax(axis=1)


def _run(make_model, make_opt, captured, steps=30, batch=16, dtype=np.float32):
    X, y = _data()
    X = X.astype(dtype)
    model = make_model()
    if dtype != np.float32:
        model.astype(dtype)
    opt = make_opt(model)
    loss_fn = losses.CrossEntropy()
    step = (
        gn.train.capture_step(model, loss_fn, opt, native=captured == "native")
        if captured
        else None
    )
    curve = []
    for i in range(steps):
        # The last batch of each pass is smaller: a second batch shape.
        start = (i * batch) % len(X)
        xb, yb = X[start : start + batch], y[start : start + batch]
        if step is not None:
            curve.append(step(xb, yb))
        else:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            curve.append(float(loss.data))
    return np.array(curve), model.state_dict(), opt.state_dict(), model


MODELS = {
    "sigmoid": lambda: nn.Sequential(
        nn.Dense(6, 5), nn.Sigmoid(), nn.Dense(5, 4), seed=1
    ),
    "relu-tanh": lambda: nn.Sequential(
        nn.Dense(6, 7, init="he"),
        nn.ReLU(),
        nn.Dense(7, 5),
        nn.Tanh(),
        nn.Dense(5, 4, bias=False),
        seed=2,
    ),
    "linear": lambda: nn.Sequential(nn.Dense(6, 4), nn.Identity(), seed=3),
}
OPTIMIZERS = {
    "sgd": lambda m: optim.SGD(m, lr=0.1),
    "momentum": lambda m: optim.SGD(
        m, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3
    ),
    "adam": lambda m: optim.Adam(m, lr=1e-2),
    "adamw": lambda m: optim.AdamW(m, lr=1e-2, weight_decay=0.1),
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_captured_step_matches_eager_bit_for_bit(model, opt):
    eager = _run(MODELS[model], OPTIMIZERS[opt], captured=False)
    fast = _run(MODELS[model], OPTIMIZERS[opt], captured="numpy")
    np.testing.assert_array_equal(fast[0], eager[0])  # every loss
    assert fast[0][-6:].mean() < fast[0][:6].mean()  # and it learns
    for name in eager[1]:
        np.testing.assert_array_equal(fast[1][name], eager[1][name])
    assert fast[2]["step"] == eager[2]["step"]
    for name, state in eager[2]["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(fast[2]["state"][name][key], value)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_compiled_step_matches_eager_to_float32_rounding(model, opt, native_step):
    eager = _run(MODELS[model], OPTIMIZERS[opt], captured=False)
    fast = _run(MODELS[model], OPTIMIZERS[opt], captured="native")
    np.testing.assert_allclose(fast[0], eager[0], rtol=2e-6)  # every loss
    assert fast[0][-6:].mean() < fast[0][:6].mean()
    for name in eager[1]:
        np.testing.assert_allclose(fast[1][name], eager[1][name], rtol=1e-5, atol=2e-6)
    assert fast[2]["step"] == eager[2]["step"]
    for name, state in eager[2]["state"].items():
        for key, value in state.items():
            if key.startswith("_"):  # scratch buffers
                continue
            np.testing.assert_allclose(
                fast[2]["state"][name][key], value, rtol=1e-4, atol=1e-6
            )


def test_compiled_step_runs_by_default_for_float32(native_step):
    model = MODELS["sigmoid"]()
    step = gn.train.capture_step(model, losses.CrossEntropy(), optim.SGD(model, lr=0.1))
    assert step.native
    assert not gn.train.capture_step(
        model, losses.CrossEntropy(), optim.SGD(model, lr=0.1), native=False
    ).native


def test_compiled_step_is_float32_only_and_says_so():
    model = MODELS["sigmoid"]().astype(np.float64)
    with pytest.raises(ConfigError, match="float32 only; the parameters are float64"):
        gn.train.capture_step(
            model, losses.CrossEntropy(), optim.SGD(model, lr=0.1), native=True
        )
    step = gn.train.capture_step(model, losses.CrossEntropy(), optim.SGD(model, lr=0.1))
    assert not step.native  # the NumPy replay, in float64
    with pytest.raises(ConfigError, match="native must be"):
        gn.train.capture_step(
            model, losses.CrossEntropy(), optim.SGD(model, lr=0.1), native="yes"
        )


def test_compiled_step_refused_when_kernels_are_off(monkeypatch):
    from glassnet import _native

    monkeypatch.setenv("GLASSNET_NATIVE", "0")
    _native._forget()
    try:
        model = MODELS["sigmoid"]()
        opt = optim.SGD(model, lr=0.1)
        with pytest.raises(ConfigError, match="turned off by GLASSNET_NATIVE=0"):
            gn.train.capture_step(model, losses.CrossEntropy(), opt, native=True)
        assert not gn.train.capture_step(model, losses.CrossEntropy(), opt).native
    finally:
        monkeypatch.undo()
        _native._forget()


def test_float64_models_are_captured_in_float64():
    eager = _run(MODELS["sigmoid"], OPTIMIZERS["adam"], False, dtype=np.float64)
    fast = _run(MODELS["sigmoid"], OPTIMIZERS["adam"], "numpy", dtype=np.float64)
    np.testing.assert_array_equal(fast[0], eager[0])
    assert fast[3].dtype == np.float64


@pytest.mark.parametrize("native", [False, True])
def test_eager_and_captured_steps_can_take_turns(native, request):
    if native:
        request.getfixturevalue("native_step")
    X, y = _data()
    model = MODELS["sigmoid"]()
    twin = MODELS["sigmoid"]()
    opt, twin_opt = optim.Adam(model, lr=1e-2), optim.Adam(twin, lr=1e-2)
    loss_fn = losses.CrossEntropy()
    step = gn.train.capture_step(model, loss_fn, opt, native=native)
    for i in range(6):
        xb, yb = X[i * 16 : (i + 1) * 16], y[i * 16 : (i + 1) * 16]
        if i % 2:  # eager on the captured model: the same memory, the same state
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            step(xb, yb)
        loss = loss_fn(twin(xb), yb)
        twin_opt.zero_grad()
        loss.backward()
        twin_opt.step()
    for name, p in model.named_parameters():
        twin_p = dict(twin.named_parameters())[name].data
        if native:
            np.testing.assert_allclose(p.data, twin_p, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(p.data, twin_p)
    assert opt.steps == 6


@pytest.mark.parametrize("native", [False, None])
def test_replaced_weights_are_noticed(native):
    X, y = _data()
    model = MODELS["sigmoid"]()
    step = gn.train.capture_step(
        model, losses.CrossEntropy(), optim.SGD(model, lr=0.1), native=native
    )
    saved = model.state_dict()
    first = step(X[:16], y[:16])
    model.load_state_dict(saved)  # new arrays: the step must bind to them
    assert step(X[:16], y[:16]) == first
    grads = [p.grad for p in model.parameters()]
    assert all(
        g is not None and g.shape == p.shape for g, p in zip(grads, model.parameters())
    )


def test_what_it_cannot_capture_is_refused_with_the_reason():
    model = MODELS["sigmoid"]()
    with pytest.raises(ConfigError, match="CrossEntropy"):
        gn.train.capture_step(model, losses.MSE(), optim.SGD(model, lr=0.1))
    conv = nn.Sequential(nn.Flatten(), nn.Dense(6, 4))
    with pytest.raises(ConfigError, match="layer 0 is Flatten"):
        gn.train.capture_step(conv, losses.CrossEntropy(), optim.SGD(conv, lr=0.1))
    other = MODELS["sigmoid"]()
    with pytest.raises(ConfigError, match="every parameter"):
        gn.train.capture_step(model, losses.CrossEntropy(), optim.SGD(other, lr=0.1))


@pytest.mark.parametrize("native", [False, None])
def test_bad_batches_fail_like_the_eager_model(native):
    X, y = _data()
    model = MODELS["sigmoid"]()
    step = gn.train.capture_step(
        model, losses.CrossEntropy(), optim.SGD(model, lr=0.1), native=native
    )
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(ShapeError, match="in_features=6"):
        step(X[:8, :5], y[:8])
    with pytest.raises(DataError, match=r"label 4 \(at flat index 0\) is outside"):
        step(X[:8], np.full(8, 4))
    bad = y[:8].copy()
    bad[5] = -1
    with pytest.raises(DataError, match=r"label -1 \(at flat index 5\)"):
        step(X[:8], bad)
    with pytest.raises(DataError, match="whole numbers"):
        step(X[:8], y[:8] + 0.5)
    for k, v in model.state_dict().items():  # a refused batch changes nothing
        np.testing.assert_array_equal(v, before[k])
    # Labels of another integer dtype, and a non-contiguous batch, are fine.
    assert np.isfinite(step(X[:16:2], y[:16:2].astype(np.int8)))


def test_docstring_example():
    assert doctest.testmod(capture).failed == 0
