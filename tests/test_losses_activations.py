"""Issue 18's loss options and activations: PyTorch's numbers, gradients, errors.

The PyTorch numbers come from tests/fixtures/torch_losses_activations.npz,
made by tools/make_loss_fixtures.py (torch is never imported here): forward
values and the gradient of Σ r · result for fixed random r, at inputs that
include ±100. Gradients are also checked against float64 central differences
over hypothesis-drawn shapes.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassnet as gn
from glassnet import losses, nn
from glassnet.errors import ConfigError, DataError, ShapeError
from glassnet.ops import elementwise as ew
from glassnet.ops import reduce as rd
from glassnet.ops.loss import binary_cross_entropy, cross_entropy, kl_div, nll_loss

FIXTURE = np.load(
    pathlib.Path(__file__).parent / "fixtures" / "torch_losses_activations.npz"
)

ACTIVATIONS = {  # fixture case: the glassnet layer that must give PyTorch's numbers
    "leaky_relu": nn.LeakyReLU(),
    "leaky_relu_0.2": nn.LeakyReLU(0.2),
    "elu": nn.ELU(),
    "elu_0.5": nn.ELU(0.5),
    "selu": nn.SELU(),
    "gelu": nn.GELU(),
    "gelu_tanh": nn.GELU("tanh"),
    "silu": nn.SiLU(),
    "softplus": nn.Softplus(),
    "softplus_2_5": nn.Softplus(2.0, 5.0),
    "log_softmax": nn.LogSoftmax(),
}

W = [1.0, 2.5, 0.5, 4.0]
LOSSES = {  # fixture case: the glassnet loss that must give PyTorch's numbers
    "ce_weight": losses.CrossEntropy(weight=W),
    "ce_weight_sum": losses.CrossEntropy(weight=W, reduction="sum"),
    "ce_ignore": losses.CrossEntropy(ignore_index=-100),
    "ce_smooth": losses.CrossEntropy(label_smoothing=0.1),
    "ce_all": losses.CrossEntropy(weight=W, ignore_index=-100, label_smoothing=0.2),
    "ce_all_none": losses.CrossEntropy(  # PyTorch ignores -100 by default
        weight=W, ignore_index=-100, label_smoothing=0.2, reduction="none"
    ),
    "ce_soft_weight_smooth": losses.CrossEntropy(weight=W, label_smoothing=0.3),
    "bce_pos_weight": losses.BinaryCrossEntropy(True, pos_weight=[3.0, 0.5, 1.0]),
    "bce_pos_weight_scalar_none": losses.BinaryCrossEntropy(
        True, pos_weight=2.5, reduction="none"
    ),
    "huber_2": losses.Huber(2.0),
    "smooth_l1_0.5": losses.SmoothL1(0.5),
    "smooth_l1_0.5_none": losses.SmoothL1(0.5, reduction="none"),
    "mse_sum": losses.MSE(reduction="sum"),
    "mae_none": losses.MAE(reduction="none"),
    "nll_weight_ignore": losses.NLL(weight=W, ignore_index=-100),
    "kl_batchmean": losses.KLDivergence(),
    "kl_mean": losses.KLDivergence(reduction="mean"),
    "kl_sum_log_target": losses.KLDivergence(log_target=True, reduction="sum"),
    "kl_none": losses.KLDivergence(reduction="none"),
}


def _forward_and_grad(fn, name):
    x = gn.tensor(FIXTURE[f"{name}/x"], requires_grad=True, dtype=np.float64)
    y = fn(x)
    (y * FIXTURE[f"{name}/r"]).sum().backward()
    return y.data, x.grad


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_give_pytorchs_values_and_gradients(name):
    layer = ACTIVATIONS[name]
    y, grad = _forward_and_grad(layer, name)
    np.testing.assert_allclose(y, FIXTURE[f"{name}/y"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, FIXTURE[f"{name}/grad"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_give_pytorchs_values_and_gradients(name):
    loss = LOSSES[name]
    target = FIXTURE[f"{name}/target"]
    y, grad = _forward_and_grad(lambda x: loss(x, target), name)
    np.testing.assert_allclose(y, FIXTURE[f"{name}/y"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, FIXTURE[f"{name}/grad"], rtol=1e-12, atol=1e-14)


def test_every_new_loss_class_has_a_pytorch_case():
    covered = {type(loss) for loss in LOSSES.values()}
    for cls in (losses.SmoothL1, losses.NLL, losses.KLDivergence, losses.Huber):
        assert cls in covered


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_are_quiet_and_finite_in_float32_at_the_extremes(name):
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], np.float32)
    xt = gn.tensor(x, requires_grad=True)
    with np.errstate(all="raise", under="ignore"):
        y = ACTIVATIONS[name](xt)
        y.sum().backward()
    assert y.dtype == np.float32 and xt.grad.dtype == np.float32
    assert np.isfinite(y.data).all() and np.isfinite(xt.grad).all()
    if name != "log_softmax":  # the others follow x or 0 far from it
        f64 = ACTIVATIONS[name](x.astype(np.float64)).data
        np.testing.assert_allclose(y.data, f64, rtol=1e-6, atol=1e-6)


# --- gradients over drawn shapes ---------------------------------------------------


def _away_from_kinks(rng, shape):
    """Values away from 0, where LeakyReLU and ELU(α ≠ 1) have a kink that central
    differences straddle; the kink's one-sided value is the PyTorch fixture's."""
    x = rng.standard_normal(shape) * 3
    return np.where(np.abs(x) < 0.05, 0.5, x)


@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
    name=st.sampled_from(sorted(ACTIVATIONS)),
    seed=st.integers(0, 2**16),
)
def test_activation_gradients_match_finite_differences(shape, name, seed):
    x = _away_from_kinks(np.random.default_rng(seed), shape)
    layer = ACTIVATIONS[name]
    xt = gn.tensor(x, requires_grad=True, dtype=np.float64)
    assert gn.gradcheck(lambda a: layer(a), [xt])


def _labels_with_ignored(rng, shape, c, ignore):
    y = rng.integers(0, c, shape)
    y[rng.random(shape) < 0.3] = ignore
    y.reshape(-1)[0] = 0  # at least one label counts
    return y


@given(
    batch=st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
    c=st.integers(1, 5),
    weighted=st.booleans(),
    smoothing=st.sampled_from([0.0, 0.1, 1.0]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_options_gradcheck(
    batch, c, weighted, smoothing, reduction, seed
):
    rng = np.random.default_rng(seed)
    z = gn.tensor(rng.standard_normal((*batch, c)) * 3, requires_grad=True)
    y = _labels_with_ignored(rng, batch, c, -1)
    w = rng.random(c) + 0.1 if weighted else None
    loss = losses.CrossEntropy(w, -1, smoothing, reduction)
    assert gn.gradcheck(lambda a: loss(a, y), [z.astype(np.float64)])
    soft = gn.tensor(rng.dirichlet(np.ones(c), batch), requires_grad=True)
    plain = losses.CrossEntropy(w, None, smoothing, reduction)
    assert gn.gradcheck(lambda a, t: plain(a, t), [z.astype(np.float64), soft])


@given(
    batch=st.integers(1, 5),
    c=st.integers(1, 4),
    weighted=st.booleans(),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    seed=st.integers(0, 2**16),
)
def test_nll_of_log_softmax_is_cross_entropy(batch, c, weighted, reduction, seed):
    rng = np.random.default_rng(seed)
    z = gn.tensor(rng.standard_normal((batch, c)) * 3, requires_grad=True)
    z = z.astype(np.float64)
    y = _labels_with_ignored(rng, (batch,), c, 99)
    w = rng.random(c) + 0.1 if weighted else None
    nll = losses.NLL(w, 99, reduction)
    ce = losses.CrossEntropy(w, 99, reduction=reduction)
    np.testing.assert_allclose(nll(rd.log_softmax(z), y).data, ce(z, y).data)
    assert gn.gradcheck(lambda a: nll(a, y), [z])


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    log_target=st.booleans(),
    reduction=st.sampled_from(["batchmean", "mean", "sum", "none"]),
    seed=st.integers(0, 2**16),
)
def test_kl_divergence_gradcheck_and_zero_when_equal(
    shape, log_target, reduction, seed
):
    rng = np.random.default_rng(seed)
    q = rd.log_softmax(gn.tensor(rng.standard_normal(shape), dtype=np.float64)).data
    p = rd.softmax(gn.tensor(rng.standard_normal(shape), dtype=np.float64)).data
    p[rng.random(shape) < 0.2] = 0.0  # 0 · log 0 counts 0
    target = np.log(np.maximum(p, 1e-300)) if log_target else p
    loss = losses.KLDivergence(log_target, reduction)
    x = gn.tensor(q, requires_grad=True)
    assert gn.gradcheck(lambda a: loss(a, target), [x])
    same = np.log(np.maximum(p, 1e-300))
    assert np.abs(kl_div(gn.tensor(same), p, "sum").item()) < 1e-12


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
    per_output=st.booleans(),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    seed=st.integers(0, 2**16),
)
def test_bce_pos_weight_gradcheck(shape, per_output, reduction, seed):
    rng = np.random.default_rng(seed)
    x = gn.tensor(rng.standard_normal(shape) * 4, requires_grad=True, dtype=np.float64)
    t = gn.tensor(rng.random(shape), requires_grad=True, dtype=np.float64)
    w = rng.random(shape[-1]) * 3 if per_output else 2.0
    bce = losses.BinaryCrossEntropy(True, pos_weight=w, reduction=reduction)
    assert gn.gradcheck(lambda a, b: bce(a, b), [x, t])
    one = binary_cross_entropy(x, t, True, reduction, pos_weight=1.0)
    plain = binary_cross_entropy(x, t, True, reduction)
    np.testing.assert_allclose(one.data, plain.data, rtol=1e-12)


def test_pos_weight_counts_positives_w_times():
    x = gn.tensor([[0.3, -1.2]], dtype=np.float64)
    plain = binary_cross_entropy(x, [[1.0, 1.0]], True, "none").data
    weighted = binary_cross_entropy(x, [[1.0, 1.0]], True, "none", pos_weight=3.0)
    np.testing.assert_allclose(weighted.data, 3 * plain)
    negatives = binary_cross_entropy(x, [[0.0, 0.0]], True, "none", pos_weight=3.0)
    np.testing.assert_allclose(
        negatives.data, binary_cross_entropy(x, [[0.0, 0.0]], True, "none").data
    )


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    beta=st.sampled_from([0.25, 1.0, 3.0]),
    seed=st.integers(0, 2**16),
)
def test_smooth_l1_is_huber_over_beta(shape, beta, seed):
    rng = np.random.default_rng(seed)
    p = gn.tensor(rng.standard_normal(shape) * 3, requires_grad=True, dtype=np.float64)
    t = rng.standard_normal(shape)
    np.testing.assert_allclose(
        losses.SmoothL1(beta)(p, t).data, losses.Huber(beta)(p, t).data / beta
    )
    assert gn.gradcheck(lambda a: losses.SmoothL1(beta, "sum")(a, t), [p])


def test_weights_decide_the_mean_and_ignored_labels_count_nothing():
    z = gn.tensor([[2.0, 0.0], [0.0, 1.0], [5.0, -5.0]], dtype=np.float64)
    per = cross_entropy(z, [0, 1, 0], "none").data
    w = [1.0, 3.0]
    got = cross_entropy(z, [0, 1, 0], weight=w).item()
    assert got == pytest.approx((per[0] + 3 * per[1] + per[2]) / 5)
    got = cross_entropy(z, [0, 1, -100], ignore_index=-100, weight=w).item()
    assert got == pytest.approx((per[0] + 3 * per[1]) / 4)
    none = cross_entropy(z, [0, 1, -100], "none", ignore_index=-100).data
    assert none[2] == 0 and none[1] == pytest.approx(per[1])


def test_label_smoothing_pulls_towards_uniform():
    z = gn.tensor([[3.0, 0.0, 0.0]], dtype=np.float64)
    logp = rd.log_softmax(z).data[0]
    got = cross_entropy(z, [0], label_smoothing=0.3).item()
    assert got == pytest.approx(-(0.7 + 0.1) * logp[0] - 0.1 * (logp[1] + logp[2]))
    # fully smoothed, the loss no longer depends on the label
    full = [cross_entropy(z, [k], label_smoothing=1.0).item() for k in range(3)]
    assert full == pytest.approx([full[0]] * 3)


# --- errors ------------------------------------------------------------------------


def test_loss_option_errors_name_the_loss_and_what_arrived():
    z = gn.tensor(np.zeros((2, 3)))
    with pytest.raises(
        ShapeError, match=r"weight must hold one number per class.*\(3,\)"
    ):
        losses.CrossEntropy(weight=[1.0, 2.0])(z, [0, 1])
    with pytest.raises(ConfigError, match="class weights must be finite and >= 0"):
        losses.CrossEntropy(weight=[1.0, -2.0, 1.0])
    with pytest.raises(ConfigError, match="label_smoothing must be a number in"):
        losses.CrossEntropy(label_smoothing=1.5)
    with pytest.raises(ConfigError, match="ignore_index must be an integer"):
        losses.NLL(ignore_index=0.5)
    with pytest.raises(DataError, match=r"label 7 .*ignore_index is -1"):
        losses.CrossEntropy(ignore_index=-1)(z, [7, -1])
    with pytest.raises(DataError, match="nothing to average"):
        losses.CrossEntropy(ignore_index=-1)(z, [-1, -1])
    assert (
        losses.CrossEntropy(ignore_index=-1, reduction="sum")(z, [-1, -1]).item() == 0
    )
    with pytest.raises(ConfigError, match="pos_weight needs from_logits=True"):
        losses.BinaryCrossEntropy(pos_weight=2.0)
    with pytest.raises(ShapeError, match=r"pos_weight must be one number, or one per"):
        losses.BinaryCrossEntropy(True, pos_weight=[1.0, 2.0])(z, np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="MSE: reduction must be one of"):
        losses.MSE(reduction="batchmean")
    with pytest.raises(ValueError, match="kl_div: reduction must be one of"):
        kl_div(z, np.zeros((2, 3)), "average")
    with pytest.raises(DataError, match="log_target=True"):
        losses.KLDivergence()(z, -np.ones((2, 3)))
    with pytest.raises(ShapeError, match="nll_loss: targets must be class labels"):
        nll_loss(z, np.zeros((2, 3)))


def test_activation_layer_errors():
    with pytest.raises(ConfigError, match="GELU: approximate must be 'none'.*'erf'"):
        nn.GELU("erf")
    with pytest.raises(ConfigError, match="Softplus: beta must be a positive"):
        nn.Softplus(beta=0)
    with pytest.raises(ConfigError, match="ELU: alpha must be a number in"):
        nn.ELU(-1.0)
    with pytest.raises(ConfigError, match="LeakyReLU: negative_slope must be a finite"):
        nn.LeakyReLU("0.1")
    with pytest.raises(ConfigError, match="LogSoftmax: axis must be an integer"):
        nn.LogSoftmax(axis=1.5)
    with pytest.raises(ValueError, match="gelu: approximate"):
        ew.gelu(gn.tensor([1.0]), "fast")


def test_reprs_show_only_what_differs_from_the_defaults():
    assert repr(losses.CrossEntropy()) == "CrossEntropy()"
    assert (
        repr(losses.CrossEntropy([1, 2], -100, 0.1, "sum"))
        == "CrossEntropy(weight=[1.0, 2.0], ignore_index=-100, label_smoothing=0.1, "
        "reduction='sum')"
    )
    assert repr(losses.SSE()) == "SSE()" and repr(losses.SSE("mean")) == (
        "SSE(reduction='mean')"
    )
    assert repr(losses.SmoothL1(0.5)) == "SmoothL1(beta=0.5)"
    assert repr(losses.KLDivergence(True)) == "KLDivergence(log_target=True)"
    assert repr(losses.BinaryCrossEntropy(True, 2.0)) == (
        "BinaryCrossEntropy(from_logits=True, pos_weight=2.0)"
    )
    model = nn.Sequential(
        nn.LeakyReLU(0.2), nn.ELU(), nn.SELU(), nn.GELU("tanh"), nn.SiLU(),
        nn.Softplus(2.0), nn.LogSoftmax(),
    )  # fmt: skip
    text = repr(model)
    for part in (
        "LeakyReLU(negative_slope=0.2)",
        "ELU(alpha=1)",
        "SELU()",
        "GELU(approximate='tanh')",
        "SiLU()",
        "Softplus(beta=2, threshold=20)",
        "LogSoftmax()",
    ):
        assert part in text


# --- in training -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,cls",
    [
        ("smooth_l1", losses.SmoothL1),
        ("nll", losses.NLL),
        ("negative_log_likelihood", losses.NLL),
        ("kl_div", losses.KLDivergence),
        ("kl_divergence", losses.KLDivergence),
    ],
)
def test_new_loss_names(name, cls):
    assert type(losses.get(name)) is cls


def test_fit_trains_with_nll_and_ignored_labels(rng):
    X = rng.standard_normal((60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    y[::6] = -1  # unlabelled samples
    model = nn.Sequential(
        nn.Dense(4, 8), nn.GELU(), nn.Dense(8, 2), nn.LogSoftmax(), seed=0
    )
    history = gn.fit(
        model,
        X,
        y,
        loss=losses.NLL(ignore_index=-1),
        epochs=30,
        lr=0.05,
        seed=0,
        metrics=[],
        verbose=0,
    )
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    ce = losses.CrossEntropy(ignore_index=-1)
    gn.fit(model, X, y, loss=ce, epochs=1, seed=0, metrics=[], verbose=0)
    with pytest.raises(DataError, match=r"in \[0, 2\); label 5 at sample 0 is not"):
        gn.fit(model, X, np.where(y < 0, 5, y), loss=ce, epochs=1, verbose=0)


def test_fit_refuses_a_loss_that_is_not_one_number(rng):
    model = nn.Sequential(nn.Dense(2, 1), seed=0)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal((8, 1))
    with pytest.raises(ConfigError, match="one per sample.*reduction='mean'"):
        gn.fit(model, X, y, loss=losses.MSE(reduction="none"), verbose=0)


def test_capture_refuses_cross_entropy_with_options():
    model = nn.Sequential(nn.Dense(3, 2), seed=0)
    with pytest.raises(ConfigError, match=r"CrossEntropy\(\) with its defaults"):
        gn.train.capture_step(
            model, losses.CrossEntropy(weight=[1.0, 2.0]), gn.optim.SGD(model)
        )


def test_summary_and_trace_understand_the_new_activations():
    model = nn.Sequential(
        nn.Dense(3, 4), nn.LeakyReLU(), nn.ELU(), nn.SELU(), nn.GELU(), nn.SiLU(),
        nn.Softplus(), nn.Dense(4, 3), nn.LogSoftmax(), seed=0,
    )  # fmt: skip
    text = str(model.summary())
    assert "GELU" in text and "LogSoftmax" in text
    tr = gn.trace(model, np.ones(3, np.float32))
    assert len(tr.layers) == len(model)
    story = tr.narrate()
    for told in ("GELU", "SiLU", "softplus", "leaky ReLU", "log-softmax"):
        assert told in story


def test_plots_and_receptive_fields_take_the_new_activations(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    model = nn.Sequential(
        nn.Dense(4, 3), nn.GELU(), nn.Dense(3, 3), nn.ELU(), nn.Dense(3, 2), seed=0
    )
    fig = gn.plot.network(model)
    fig.savefig(tmp_path / "net.png")
    assert (tmp_path / "net.png").stat().st_size > 1000
    field = gn.receptive_field(model, 3, 0)  # the ELU after the second Dense
    assert field.pattern.shape == (4,) and np.isfinite(field.value)
    # ELU only rises, so its neuron's best input is its weighted sum's: exact
    first = gn.receptive_field(model, 1, 0)  # GELU dips, so it is searched for
    assert first.pattern.shape == (4,)
    exact = gn.receptive_field(nn.Sequential(nn.Dense(4, 3), nn.ELU(), seed=0), 1, 0)
    assert exact.method == "exact"


# --- examples/class_weights.py, shortened -------------------------------------------


def _example():
    import importlib.util

    path = pathlib.Path(__file__).resolve().parents[1] / "examples/class_weights.py"
    spec = importlib.util.spec_from_file_location("class_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_class_weights_example_lifts_the_rare_digits(tmp_path):
    example = _example()
    w = example.balancing_weights(np.array([0, 0, 0, 1]), 2)
    np.testing.assert_allclose(w, [4 / 6, 4 / 2])  # N / (C · n_c)
    result = example.compare(seeds=(0,), epochs=20)
    assert result["counts"][list(example.RARE)].max() < 20  # 10 % of ~135
    rare = list(example.RARE)
    plain, weighted = result["plain"], result["weighted"]
    # measured: rare recall 0.736 -> 0.826, balanced accuracy 0.907 -> 0.932
    assert weighted[rare].mean() > plain[rare].mean() + 0.05
    assert weighted.mean() > plain.mean() + 0.01
    assert example.draw(result, tmp_path / "cw.png").stat().st_size > 10_000


def test_the_docs_page_blocks_print_what_it_says(capsys):
    page = (
        pathlib.Path(__file__).resolve().parents[1] / "docs/losses-and-activations.md"
    )
    text = page.read_text(encoding="utf-8")
    blocks = text.split("```python\n")[1:]
    assert len(blocks) == 2
    for i, block in enumerate(blocks):
        code = block.split("```")[0]
        exec(compile(code, f"losses-and-activations.md block {i + 1}", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out
    for line in printed.split("\n")[:-1]:
        assert f"prints `{line}`" in text


def test_cross_entropy_options_are_stable_in_float32_for_logits_of_1e3():
    z = np.array([[1e3, -1e3, 0.0], [-1e3, 1e3, 5e2], [0.0, 1e-3, -1e3]])
    y = np.array([1, 1, -1])
    loss = losses.CrossEntropy([1.0, 2.0, 0.5], -1, 0.1, reduction="none")
    z32 = gn.tensor(z.astype(np.float32), requires_grad=True)
    with np.errstate(all="raise", under="ignore"):
        per = loss(z32, y)
        per.sum().backward()
    assert per.dtype == np.float32 and np.isfinite(z32.grad).all()
    np.testing.assert_allclose(per.data, loss(z, y).data, rtol=1e-6)
    assert per.data[0] == pytest.approx(
        2.0 * 0.9 * 2e3 + 0.1 / 3 * (0 + 4e3 + 0.5 * 1e3)
    )


@pytest.mark.parametrize(
    "module", ["glassnet.nn.activations", "glassnet.ops.loss", "glassnet.losses"]
)
def test_the_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_metrics_leave_out_the_ignored_labels_as_the_loss_does(rng):
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    y[::4] = -1
    model = nn.Sequential(nn.Dense(3, 2), seed=0).mark_trained()
    loss = losses.CrossEntropy(ignore_index=-1)
    result = gn.evaluate(model, X, y, loss=loss)
    kept = y != -1
    expected = gn.metrics.accuracy(y[kept], gn.predict(model, X[kept]))
    assert result["accuracy"] == pytest.approx(expected)
    assert result["loss"] == pytest.approx(loss(model(X[kept]), y[kept]).item())


def test_nll_and_cross_entropy_reprs_name_their_options():
    # NLL borrows CrossEntropy's repr rules; its repr once raised a TypeError.
    assert repr(gn.losses.NLL()) == "NLL()"
    assert repr(gn.losses.NLL(ignore_index=0, reduction="sum")) == (
        "NLL(ignore_index=0, reduction='sum')"
    )
    assert repr(gn.losses.CrossEntropy(label_smoothing=0.1)) == (
        "CrossEntropy(label_smoothing=0.1)"
    )
