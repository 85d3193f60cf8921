"""The op harness: every op's forward against NumPy and its backward against
central finite differences in float64, over shapes and values drawn by hypothesis
(broadcasting, keepdims, negative axes, repeated indices)."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
from glassnet import ops

finite = st.floats(-3, 3, allow_nan=False, width=64)
positive = st.floats(0.2, 3, allow_nan=False, width=64)
small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def arrays(shape, elements=finite):
    return hnp.arrays(np.float64, shape, elements=elements)


def check(fn, reference, *values):
    """Forward equals the NumPy reference; backward passes gradcheck."""
    tensors = [gn.tensor(v, requires_grad=True, dtype=np.float64) for v in values]
    out = fn(*tensors)
    np.testing.assert_allclose(out.data, reference(*values), rtol=1e-12, atol=1e-12)
    assert gn.gradcheck(fn, tensors)


# --- binary ops with broadcasting ------------------------------------------------

broadcast_pairs = hnp.mutually_broadcastable_shapes(
    num_shapes=2, max_dims=3, max_side=3
)


@pytest.mark.parametrize(
    "fn, reference",
    [
        (ops.add, np.add),
        (ops.sub, np.subtract),
        (ops.mul, np.multiply),
        (lambda a, b: a + b, np.add),
        (lambda a, b: a - b, np.subtract),
        (lambda a, b: a * b, np.multiply),
    ],
)
@given(data=st.data(), shapes=broadcast_pairs)
def test_binary_broadcasting(fn, reference, data, shapes):
    a = data.draw(arrays(shapes.input_shapes[0]))
    b = data.draw(arrays(shapes.input_shapes[1]))
    check(fn, reference, a, b)


@given(data=st.data(), shapes=broadcast_pairs)
def test_div(data, shapes):
    a = data.draw(arrays(shapes.input_shapes[0]))
    b = data.draw(arrays(shapes.input_shapes[1], positive))
    check(lambda x, y: x / y, np.divide, a, b)


@given(data=st.data(), shapes=broadcast_pairs)
def test_pow_tensor_exponent(data, shapes):
    a = data.draw(arrays(shapes.input_shapes[0], positive))
    b = data.draw(arrays(shapes.input_shapes[1]))
    check(lambda x, y: x**y, np.power, a, b)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5])
@given(x=arrays(small_shapes, positive))
def test_pow_scalar_exponent(exponent, x):
    check(lambda t: t**exponent, lambda v: v**exponent, x)


zero_or_finite = st.sampled_from([0.0]) | finite


@given(data=st.data(), shape=small_shapes)
def test_pow_at_a_zero_base(data, shape):
    """Whole exponents 0..3 at bases that are often exactly 0 (where b·a^(b−1)
    once read 0·∞ = NaN for b = 0), as a number and as a tensor exponent.
    Fractional exponents are left out: a step below a zero base leaves the reals."""
    a = data.draw(arrays(shape, zero_or_finite))
    k = data.draw(st.integers(0, 3))
    check(lambda t: t**k, lambda v: v**k, a)
    b = data.draw(arrays(shape, st.integers(0, 3).map(float)))
    exponent = gn.tensor(b, dtype=np.float64)
    check(lambda t: t**exponent, lambda v: v**b, a)


@given(data=st.data(), shape=small_shapes)
def test_pow_exponent_gradient_at_a_zero_base(data, shape):
    """0^b = 0 for every b > 0, so d/db is 0 there, not 0·ln 0 = NaN.
    Exponents stay >= 0.5 so the finite-difference step never reaches 0^0."""
    a = data.draw(arrays(shape, st.sampled_from([0.0]) | positive))
    b = data.draw(arrays(shape, st.floats(0.5, 3, width=64)))
    base = gn.tensor(a, dtype=np.float64)
    check(lambda t: base**t, lambda v: a**v, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_power_has_zero_gradient_at_zero(dtype):
    x = gn.tensor([0.0, 0.0, -2.0, 3.0], requires_grad=True, dtype=dtype)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(4))
    x.grad = None
    p = gn.tensor(np.zeros(4), requires_grad=True, dtype=dtype)
    y = x**p
    y.sum().backward()
    np.testing.assert_array_equal(y.data, np.ones(4))
    np.testing.assert_array_equal(x.grad, np.zeros(4))
    # d/dp at p = 0: ln(3) where the base is positive; at a base <= 0 there is no
    # derivative (0^p jumps at p = 0; (-2)^p is real only at whole p), 0 by rule
    np.testing.assert_allclose(p.grad, [0.0, 0.0, 0.0, np.log(3.0)], rtol=1e-6)


@given(x=arrays(small_shapes))
def test_scalar_on_the_left(x):
    check(
        lambda t: 2.0 - t * 3.0 + 1.0 / (t * t + 1.0),
        lambda v: 2 - v * 3 + 1 / (v * v + 1),
        x,
    )
    check(lambda t: 2.0**t, lambda v: 2.0**v, x)


@given(x=arrays(small_shapes))
def test_neg(x):
    check(lambda t: -t, np.negative, x)


@given(data=st.data(), shapes=broadcast_pairs)
def test_maximum_minimum_where(data, shapes):
    a = data.draw(arrays(shapes.input_shapes[0]))
    b = data.draw(arrays(shapes.input_shapes[1]))
    # Keep the two apart so finite differences do not straddle the kink.
    assume(np.all(np.abs(np.subtract(*np.broadcast_arrays(a, b))) > 1e-3))
    check(ops.maximum, np.maximum, a, b)
    check(ops.minimum, np.minimum, a, b)
    cond = np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)) > 0
    check(lambda x, y: ops.where(cond, x, y), lambda x, y: np.where(cond, x, y), a, b)


def test_maximum_tie_splits_gradient():
    a = gn.tensor([1.0, 2.0], requires_grad=True)
    b = gn.tensor([1.0, 0.0], requires_grad=True)
    ops.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1.0])
    np.testing.assert_array_equal(b.grad, [0.5, 0.0])


# --- unary ops ---------------------------------------------------------------------


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


@pytest.mark.parametrize(
    "fn, reference, elements",
    [
        (ops.exp, np.exp, finite),
        (ops.log, np.log, positive),
        (ops.sqrt, np.sqrt, positive),
        (ops.tanh, np.tanh, finite),
        (ops.sigmoid, _sigmoid, finite),
        (lambda t: t.exp().log(), lambda v: v, finite),
    ],
)
@given(data=st.data(), shape=small_shapes)
def test_unary(fn, reference, elements, data, shape):
    check(fn, reference, data.draw(arrays(shape, elements)))


@pytest.mark.parametrize(
    "fn, reference",
    [
        (ops.abs, np.abs),
        (ops.relu, lambda v: np.maximum(v, 0)),
        (lambda t: ops.clip(t, -1.0, 1.5), lambda v: np.clip(v, -1.0, 1.5)),
    ],
)
@given(data=st.data(), shape=small_shapes)
def test_kinked_unary(fn, reference, data, shape):
    # Values at least 0.01 from each kink (0, -1, 1.5), where the derivative jumps.
    away = finite.filter(lambda v: min(abs(v), abs(v + 1), abs(v - 1.5)) > 0.01)
    check(fn, reference, data.draw(arrays(shape, away)))


def test_kink_conventions():
    x = gn.tensor([0.0, -1.0, 1.5], requires_grad=True)
    ops.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 1])  # ReLU'(0) = 0
    x.grad = None
    ops.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, -1, 1])  # |x|'(0) = 0
    x.grad = None
    ops.clip(x, -1.0, 1.5).sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 1, 1])  # bounds included


def test_sigmoid_is_quiet_and_exact_at_extremes():
    big = np.array([-1e4, -500.0, 0.0, 500.0, 1e4], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = ops.sigmoid(gn.tensor(big)).data
    np.testing.assert_array_equal(s, [0.0, 0.0, 0.5, 1.0, 1.0])
    assert s.dtype == np.float32


# --- reductions ------------------------------------------------------------------


@st.composite
def array_and_axis(draw, min_dims=1):
    shape = draw(
        hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4)
    )
    x = draw(arrays(shape))
    nd = len(shape)
    axis = draw(
        st.one_of(
            st.none(),
            st.integers(-nd, nd - 1),
            st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(
                tuple
            ),
        )
    )
    return x, axis


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(case=array_and_axis(), keepdims=st.booleans())
def test_sum_mean(name, case, keepdims):
    x, axis = case
    ref = getattr(np, name)
    check(
        lambda t: getattr(t, name)(axis=axis, keepdims=keepdims),
        lambda v: ref(v, axis=axis, keepdims=keepdims),
        x,
    )


@pytest.mark.parametrize("name", ["max", "min"])
@given(case=array_and_axis(), keepdims=st.booleans())
def test_max_min(name, case, keepdims):
    x, axis = case
    # Distinct values: finite differences cannot see a tie's split.
    x = x + np.arange(x.size).reshape(x.shape) * 0.37
    ref = getattr(np, name)
    check(
        lambda t: getattr(t, name)(axis=axis, keepdims=keepdims),
        lambda v: ref(v, axis=axis, keepdims=keepdims),
        x,
    )


def test_max_splits_ties_evenly():
    x = gn.tensor([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(
        x.grad, [[0.5, 0, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6
    )


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(case=array_and_axis())
def test_softmax_family(name, case):
    x, axis = case
    if axis is None or isinstance(axis, tuple):
        axis = -1

    def ref(v):
        shifted = v - v.max(axis=axis, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return logp if name == "log_softmax" else np.exp(logp)

    check(lambda t: getattr(t, name)(axis=axis), ref, x)


def test_log_softmax_is_stable_for_huge_logits():
    x = gn.tensor([[1000.0, 0.0, -1000.0]])
    y = x.log_softmax().data
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, [[0.0, -1000.0, -2000.0]], rtol=1e-6)
    np.testing.assert_allclose(x.softmax().data, [[1.0, 0.0, 0.0]])


# --- shape ops -------------------------------------------------------------------


@given(x=arrays(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)), data=st.data())
def test_reshape_transpose(x, data):
    check(lambda t: t.reshape(-1), lambda v: v.reshape(-1), x)
    perm = data.draw(st.permutations(range(x.ndim)))
    neg = [p - x.ndim for p in perm]  # negative axes mean the same
    check(lambda t: t.transpose(*neg), lambda v: v.transpose(perm), x)
    check(lambda t: t.T, lambda v: v.T, x)


@given(x=arrays(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)), data=st.data())
def test_integer_array_indexing_with_repeats(x, data):
    idx = np.array(
        data.draw(
            st.lists(st.integers(-x.shape[0], x.shape[0] - 1), min_size=1, max_size=8)
        )
    )
    check(lambda t: t[idx], lambda v: v[idx], x)


def test_repeated_index_accumulates():
    x = gn.tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 0, 1])


@given(x=arrays(hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=4)))
def test_slices_masks_and_tuples(x):
    check(lambda t: t[1:, ::-1], lambda v: v[1:, ::-1], x)
    check(lambda t: t[..., 0], lambda v: v[..., 0], x)
    mask = x > 0
    check(lambda t: t[mask], lambda v: v[mask], x)
    rows = np.array([0, 1, 0])
    check(lambda t: t[rows, 1], lambda v: v[rows, 1], x)


@st.composite
def index_keys(draw, shape):
    """A NumPy index key for ``shape`` as users write it: a tuple of ints, slices,
    integer lists / tuples / arrays with repeats, at most one boolean mask,
    ``None`` and ``...`` -- the mix where a list once lost repeated gradients."""
    ndim = len(shape)
    k = draw(st.integers(1, ndim))
    ellipsis = draw(st.booleans())
    axes = range(ndim - k, ndim) if ellipsis else range(k)
    kinds = [
        draw(st.sampled_from(["int", "slice", "list", "tuple", "array", "mask"]))
        for _ in axes
    ]
    if kinds.count("mask") > 1:  # two masks must agree in count; one covers the rule
        kinds = [
            kd if kd != "mask" or i == kinds.index("mask") else "list"
            for i, kd in enumerate(kinds)
        ]
    length = draw(st.integers(1, 4))
    masks = {}
    for axis, kind in zip(axes, kinds):
        if kind == "mask":
            n = shape[axis]
            masks[axis] = np.array(
                draw(st.lists(st.booleans(), min_size=n, max_size=n))
            )
            length = int(masks[axis].sum())  # the integer parts broadcast against it
    parts = []
    for axis, kind in zip(axes, kinds):
        ints = st.integers(-shape[axis], shape[axis] - 1)
        if kind == "int":
            parts.append(draw(ints))
        elif kind == "slice":
            parts.append(
                slice(
                    draw(st.none() | ints),
                    draw(st.none() | ints),
                    draw(st.sampled_from([None, 1, 2, -1])),
                )
            )
        elif kind == "mask":
            parts.append(masks[axis])
        else:
            chosen = draw(st.lists(ints, min_size=length, max_size=length))
            parts.append(
                {"list": list, "tuple": tuple, "array": np.array}[kind](chosen)
            )
    if ellipsis:
        parts.insert(0, Ellipsis)
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    return tuple(parts)


@given(x=arrays(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)), data=st.data())
def test_mixed_index_keys_accumulate_repeats(x, data):
    key = data.draw(index_keys(x.shape))
    check(lambda t: t[key], lambda v: v[key], x)


@pytest.mark.parametrize(
    "key",
    [
        (slice(None), [0, 0]),
        ([0, 0], [1, 1]),
        (1, [2, 2]),
        (1, (2, 2)),
        (Ellipsis, [0, 0, 3]),
        ([[0, 0], [0, 1]], None, slice(1, None)),
    ],
)
def test_lists_in_a_tuple_add_repeated_gradients(key):
    x = gn.tensor(np.zeros((2, 4)), requires_grad=True, dtype=np.float64)
    x[key].sum().backward()
    expected = np.zeros((2, 4))
    np.add.at(
        expected,
        tuple(np.asarray(p) if isinstance(p, (list, tuple)) else p for p in key),
        1.0,
    )
    np.testing.assert_array_equal(x.grad, expected)


def test_empty_list_index_is_an_empty_integer_index():
    x = gn.tensor(np.ones((3, 2)), requires_grad=True)
    y = x[[]]
    assert y.shape == (0, 2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros((3, 2)))


@given(data=st.data(), n=st.integers(1, 3), axis=st.integers(-2, 1))
def test_concatenate_stack_split(data, n, axis):
    base = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=3))
    parts = []
    for _ in range(n):
        shape = list(base)
        shape[axis] = data.draw(st.integers(1, 3))
        parts.append(data.draw(arrays(tuple(shape))))
    check(
        lambda *ts: ops.concatenate(ts, axis=axis),
        lambda *vs: np.concatenate(vs, axis=axis),
        *parts,
    )
    same = [data.draw(arrays(tuple(base))) for _ in range(n)]
    check(
        lambda *ts: ops.stack(ts, axis=axis), lambda *vs: np.stack(vs, axis=axis), *same
    )
    whole = np.concatenate(parts, axis=axis)
    cuts = np.cumsum([p.shape[axis] for p in parts])[:-1]
    check(
        lambda t: ops.concatenate(
            [p * (i + 1) for i, p in enumerate(ops.split(t, cuts, axis))], axis=axis
        ),
        lambda v: np.concatenate(
            [p * (i + 1) for i, p in enumerate(np.split(v, cuts, axis))], axis=axis
        ),
        whole,
    )


# --- matmul ----------------------------------------------------------------------


@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["mm", "vm", "mv", "vv", "batched", "broadcast"]))
    if kind == "mm":
        return (m, k), (k, n)
    if kind == "vm":
        return (k,), (k, n)
    if kind == "mv":
        return (m, k), (k,)
    if kind == "vv":
        return (k,), (k,)
    b = draw(st.integers(1, 3))
    if kind == "batched":
        return (b, m, k), (b, k, n)
    return (2, 1, m, k), (b, k, n)


@given(shapes=matmul_shapes(), data=st.data())
def test_matmul(shapes, data):
    a, b = (data.draw(arrays(s)) for s in shapes)
    check(lambda x, y: x @ y, np.matmul, a, b)


@given(
    data=st.data(),
    lead=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    bias=st.booleans(),
)
def test_linear(data, lead, n_in, n_out, bias):
    x = data.draw(arrays(lead + (n_in,)))
    w = data.draw(arrays((n_in, n_out)))
    b = data.draw(arrays((n_out,)))
    if bias:
        check(ops.linear, lambda v, W, c: v @ W + c, x, w, b)
    else:
        check(ops.linear, lambda v, W: v @ W, x, w)


# --- ops for custom layers (issue 18, item 11) -------------------------------------


@pytest.mark.parametrize("name", ["var", "std"])
@given(case=array_and_axis(), keepdims=st.booleans(), ddof=st.integers(0, 1))
def test_var_std(name, case, keepdims, ddof):
    x, axis = case
    axes = range(x.ndim) if axis is None else np.atleast_1d(axis)
    assume(np.prod([x.shape[a] for a in axes]) > ddof)  # else: the error below
    # Distinct values: std's derivative does not exist where all values are equal.
    x = x + np.arange(x.size).reshape(x.shape) * 0.37
    ref = getattr(np, name)
    check(
        lambda t: getattr(t, name)(axis=axis, ddof=ddof, keepdims=keepdims),
        lambda v: ref(v, axis=axis, ddof=ddof, keepdims=keepdims),
        x,
    )


def test_var_std_errors_and_constant_input():
    x = gn.tensor(np.full((2, 3), 4.0), requires_grad=True, dtype=np.float64)
    x.std(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros((2, 3)))  # 0, not 0/0 = NaN
    with pytest.raises(gn.errors.ShapeError, match=r"var: needs more than ddof=1"):
        gn.tensor(np.ones((3, 1))).var(axis=1, ddof=1)
    with pytest.raises(gn.errors.ShapeError, match=r"std: ddof must be an integer"):
        x.std(ddof=-1)


@given(case=array_and_axis(), keepdims=st.booleans(), data=st.data())
def test_prod_with_zeros(case, keepdims, data):
    """Exact zeros are drawn often: none, one or several in a slice."""
    x, axis = case
    zeros = data.draw(arrays(x.shape, st.sampled_from([0.0, 1.0])))
    x = x * zeros
    check(
        lambda t: t.prod(axis=axis, keepdims=keepdims),
        lambda v: np.prod(v, axis=axis, keepdims=keepdims),
        x,
    )


def test_prod_gradient_at_zeros_is_the_product_of_the_others():
    x = gn.tensor(
        [[2.0, 0.0, 3.0], [0.0, 5.0, 0.0], [2.0, 3.0, 4.0]], requires_grad=True
    )
    x.prod(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 6, 0], [0, 0, 0], [12, 8, 6]])


@given(case=array_and_axis())
def test_cumsum(case):
    x, axis = case
    axis = -1 if axis is None or isinstance(axis, tuple) else axis
    check(lambda t: t.cumsum(axis), lambda v: np.cumsum(v, axis=axis), x)


@given(case=array_and_axis(), keepdims=st.booleans())
def test_logsumexp(case, keepdims):
    x, axis = case
    axes = axis if axis is None or isinstance(axis, tuple) else (axis,)

    def ref(v):
        m = v.max(axis=axes, keepdims=True)
        out = np.log(np.exp(v - m).sum(axis=axes, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axes)

    check(lambda t: t.logsumexp(axis=axis, keepdims=keepdims), ref, x)


def test_logsumexp_is_stable():
    x = gn.tensor([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, -np.inf]])
    np.testing.assert_allclose(
        x.logsumexp(axis=1).data, [1000 + np.log(2), -1000 + np.log(2), -np.inf]
    )


@pytest.mark.parametrize("name", ["sin", "cos"])
@given(x=arrays(small_shapes))
def test_sin_cos(name, x):
    check(lambda t: getattr(t, name)(), getattr(np, name), x)


@given(x=arrays(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3)))
def test_squeeze_unsqueeze(x):
    check(lambda t: t.squeeze(), np.squeeze, x)
    ones = tuple(i - x.ndim for i, n in enumerate(x.shape) if n == 1)  # negative axes
    check(lambda t: t.squeeze(ones), lambda v: np.squeeze(v, axis=ones), x)
    for axis in range(-x.ndim - 1, x.ndim + 1):
        check(
            lambda t, a=axis: t.unsqueeze(a), lambda v, a=axis: np.expand_dims(v, a), x
        )


def test_squeeze_refuses_a_wide_axis():
    with pytest.raises(gn.errors.ShapeError, match=r"axis 1 .* has size 3"):
        gn.tensor(np.ones((1, 3))).squeeze(1)


@given(case=array_and_axis())
def test_flip(case):
    x, axis = case
    check(lambda t: t.flip(axis), lambda v: np.flip(v, axis), x)


@given(x=arrays(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3)), data=st.data())
def test_pad(x, data):
    widths = data.draw(
        st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
            min_size=x.ndim,
            max_size=x.ndim,
        )
    )
    value = data.draw(finite)
    check(
        lambda t: ops.pad(t, widths, value),
        lambda v: np.pad(v, widths, constant_values=value),
        x,
    )
    check(lambda t: ops.pad(t, 1), lambda v: np.pad(v, 1), x)


def test_pad_errors():
    with pytest.raises(gn.errors.ShapeError, match=r"pad: pad_width must be"):
        ops.pad(gn.tensor(np.ones((2, 2))), [(1, -1), (0, 0)])


def _torch_gather(x, axis, index):
    """torch.gather's definition, slot by slot."""
    out = np.empty(index.shape)
    for slot in np.ndindex(index.shape):
        src = list(slot)
        src[axis] = index[slot]
        out[slot] = x[tuple(src)]
    return out


@given(x=arrays(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)), data=st.data())
def test_gather(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    shape = [data.draw(st.integers(1, n)) for n in x.shape]  # may be shorter
    shape[axis] = data.draw(st.integers(1, 5))  # may repeat slots
    n = x.shape[axis]
    index = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, n - 1)))
    check(lambda t: t.gather(axis, index), lambda v: _torch_gather(v, axis, index), x)


def test_gather_errors():
    x = gn.tensor(np.ones((2, 3)))
    with pytest.raises(gn.errors.ShapeError, match=r"values must lie in \[-3, 3\)"):
        x.gather(1, np.array([[0, 3]]))
    with pytest.raises(gn.errors.ShapeError, match=r"integer array with the input's 2"):
        x.gather(1, np.array([0, 1]))


@st.composite
def einsum_cases(draw):
    """A spec of 1-3 operands over letters a-e: contractions, outer products,
    letters summed away inside one operand, implicit and explicit output."""
    sizes = {c: draw(st.integers(1, 3)) for c in "abcde"}
    n = draw(st.integers(1, 3))
    ins = [
        "".join(draw(st.permutations("abcde"))[: draw(st.integers(0, 3))])
        for _ in range(n)
    ]
    used = sorted(set("".join(ins)))
    if draw(st.booleans()):
        out = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
        spec = ",".join(ins) + "->" + out
    else:
        spec = ",".join(ins)
    values = [draw(arrays(tuple(sizes[c] for c in s))) for s in ins]
    return spec, values


@given(case=einsum_cases())
def test_einsum(case):
    spec, values = case
    check(lambda *ts: ops.einsum(spec, *ts), lambda *vs: np.einsum(spec, *vs), *values)


@pytest.mark.parametrize(
    "spec, match",
    [
        ("ii->i", "repeated within one operand"),
        ("...i->i", "ellipsis"),
        ("ij->k", "output letters"),
        ("ij,jk", "2 operand subscripts for 1 operands"),
        ("ijk", "name 3 axes but the operand has shape"),
    ],
)
def test_einsum_errors(spec, match):
    with pytest.raises(gn.errors.ShapeError, match=match):
        ops.einsum(spec, gn.tensor(np.ones((2, 2))))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(case=array_and_axis(), keepdims=st.booleans())
def test_argmax_argmin_have_no_gradient(name, case, keepdims):
    x, axis = case
    axis = axis[0] if isinstance(axis, tuple) else axis
    t = gn.tensor(x, requires_grad=True, dtype=np.float64)
    got = getattr(t, name)(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(
        got.data, getattr(np, name)(x, axis=axis, keepdims=keepdims)
    )
    assert got.dtype.kind == "i" and not got.requires_grad


def test_new_ops_keep_float32_forward_and_backward():
    x = gn.tensor(
        np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True, dtype=np.float32
    )
    outs = [
        x.var(ddof=1), x.std(axis=0), x.prod(axis=1), x.cumsum(0), x.logsumexp(-1),
        x.sin(), x.cos(), x.unsqueeze(0).squeeze(), x.flip(), ops.pad(x, 1, 2.0),
        x.gather(1, np.array([[0], [2]])), ops.einsum("ij,j->i", x, np.ones(3)),
    ]  # fmt: skip
    for y in outs:
        assert y.dtype == np.float32
        x.grad = None
        y.sum().backward()
        assert x.grad.dtype == np.float32
