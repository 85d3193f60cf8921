"""The tape: dtype rules, accumulation, graph freeing, no_grad, detach, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassnet as gn
from glassnet.tensor import unbroadcast

# --- dtypes ------------------------------------------------------------------------


def test_default_dtype_is_float32_and_float64_on_request():
    assert gn.tensor([1, 2, 3]).dtype == np.float32
    assert gn.tensor(2.5).dtype == np.float32
    assert gn.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert gn.tensor(np.zeros(3)).dtype == np.float64  # a float64 array keeps its dtype
    assert gn.tensor(np.zeros(3, np.float16)).dtype == np.float32


def test_constants_never_upcast_a_float32_tensor():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    assert (x * 0.1).dtype == np.float32
    assert (
        x + np.array([1.0, 2.0])
    ).dtype == np.float32  # float64 array adopts float32
    assert (np.float64(2.0) * x).dtype == np.float32
    assert (x**2).dtype == np.float32


def test_mixed_tensor_dtypes_promote_and_grads_keep_each_dtype():
    a = gn.tensor([1.0, 2.0], requires_grad=True)
    b = gn.tensor([3.0, 4.0], requires_grad=True, dtype=np.float64)
    out = (a * b).sum()
    assert out.dtype == np.float64
    out.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [3, 4])


@pytest.mark.parametrize("data", [np.array([1, 2]), np.array([True, False])])
def test_integer_and_bool_tensors_cannot_require_grad(data):
    with pytest.raises(gn.DTypeError, match="Only float tensors can require gradients"):
        gn.tensor(data, requires_grad=True)
    assert (
        gn.tensor(data).dtype == data.dtype
    )  # fine without gradients (indices, masks)


def test_object_and_string_arrays_are_refused():
    with pytest.raises(gn.DTypeError, match="dtype object"):
        gn.tensor(np.array([1, "a"], dtype=object))
    with pytest.raises(gn.DTypeError, match="cannot make a tensor from list"):
        gn.tensor(["a", "b"])


@pytest.mark.parametrize(
    "data, where",
    [
        ([[1.0, 2.0], [3.0]], "the lists in data have different lengths (1 and 2)"),
        (
            [[[1, 2], [3, 4]], [[1, 2], [3]]],
            "the lists in data[1] have different lengths",
        ),
        ([1.0, [2.0, 3.0]], "the items of data mix numbers and lists"),
        ([np.zeros(2), np.zeros(3)], "different lengths (2 and 3)"),
    ],
)
@pytest.mark.parametrize("dtype", [None, np.float64])
def test_ragged_lists_are_a_shape_error_that_says_where(data, where, dtype):
    with pytest.raises(gn.ShapeError, match="nested lists must be rectangular") as err:
        gn.tensor(data, dtype=dtype)
    assert where in str(err.value)
    with pytest.raises(gn.ShapeError, match="rectangular"):  # a list met by an operator
        gn.tensor([1.0]) + data


def test_text_with_a_float_dtype_is_a_dtype_error():
    with pytest.raises(
        gn.DTypeError,
        match="cannot make a float32 tensor from list; NumPy says: could not convert",
    ):
        gn.tensor(["a", "b"], dtype=np.float32)


# --- backward ------------------------------------------------------------------------


def test_tensor_used_twice_accumulates():
    x = gn.tensor(3.0, requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1 = 7
    y.backward()
    assert x.grad == pytest.approx(7.0)


def test_leaf_grads_accumulate_across_backward_calls_until_zeroed():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [5, 5])
    x.zero_grad()
    assert x.grad is None


def test_graph_is_freed_unless_retained():
    x = gn.tensor(2.0, requires_grad=True)
    y = x * x
    y.backward()
    with pytest.raises(gn.GraphError, match="retain_graph=True"):
        y.backward()
    z = x * x
    x.grad = None
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad == pytest.approx(8.0)


def test_backward_frees_references_to_intermediates():
    x = gn.tensor([1.0], requires_grad=True)
    h = x.tanh()
    y = h * 2
    y.sum().backward()
    assert h._parents == () and y._parents == ()


def test_long_recurrence_has_no_recursion_limit():
    w = gn.tensor(0.5, requires_grad=True)
    h = gn.tensor(0.1)
    for _ in range(1000):
        h = (h * w + 0.1).tanh()
    h.backward()
    assert np.isfinite(w.grad)
    deep = gn.tensor([1.0], requires_grad=True)
    out = deep
    for _ in range(20000):
        out = out + 0.0
    out.sum().backward()
    assert deep.grad[0] == 1.0


@given(
    st.lists(
        st.tuples(st.integers(0, 99), st.integers(0, 99), st.sampled_from("+*t")),
        min_size=1,
        max_size=12,
    )
)
def test_backward_walks_any_graph_inputs_first(ops):
    """Random graphs (chains, diamonds, a leaf used by many ops, constants): each
    op is placed once, after all it depends on; the gradients match central
    differences, and a chain's quick order gives the general search's numbers
    bit for bit."""
    import importlib

    tape = importlib.import_module("glassnet.tensor")

    def build(a, b, c):
        nodes = [a, b, c]
        for i, j, op in ops:
            x, y = nodes[i % len(nodes)], nodes[j % len(nodes)]
            nodes.append(x + y if op == "+" else x * y if op == "*" else x.tanh())
        return nodes

    def fn(a, b):
        last = build(a, b, gn.tensor([0.5, -1.0], dtype=np.float64))[-1]
        return (last * 0.3 + a).sum()  # + a: the loss always depends on an input

    a = gn.tensor([0.2, -0.7], requires_grad=True, dtype=np.float64)
    b = gn.tensor([1.1, 0.4], requires_grad=True, dtype=np.float64)
    order = tape._topological_order(fn(a, b))
    place = {}
    for k, t in enumerate(order):  # a leaf may be listed twice: its first place
        place.setdefault(id(t), k)
    ops_placed = [t for t in order if t._parents]
    assert len({id(t) for t in ops_placed}) == len(ops_placed)
    for t in ops_placed:
        assert all(place[id(p)] < place[id(t)] for p in t._parents if p.requires_grad)
    assert gn.gradcheck(fn, [a, b])
    grads = []
    for chain_order in (tape._chain_order, lambda root: None):  # quick, general
        a.grad = b.grad = None
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(tape, "_chain_order", chain_order)
            fn(a, b).backward()
        grads.append([a.grad, b.grad])
    for quick, general in zip(*grads):
        np.testing.assert_array_equal(quick, general)


def test_grads_are_never_shared_between_tensors():
    w = gn.tensor([1.0, 2.0], requires_grad=True)
    b = gn.tensor([0.0, 0.0], requires_grad=True)
    (w + b).sum().backward()
    assert w.grad is not b.grad and not np.shares_memory(w.grad, b.grad)
    w.grad *= 10  # in-place edits of one grad leave the other alone
    np.testing.assert_array_equal(b.grad, [1, 1])
    x = gn.tensor(np.ones((2, 3)), requires_grad=True)
    x.sum().backward()  # sum's backward broadcasts: the stored grad must be writeable
    x.grad[0, 0] = 5.0


def test_retain_grad_keeps_an_intermediate_gradient():
    x = gn.tensor([1.0, -2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)


def test_backward_on_non_scalar_says_what_to_pass():
    y = gn.tensor([[1.0, 2.0]], requires_grad=True) * 2
    with pytest.raises(
        gn.GraphError, match=r"shape \(1, 2\).*np.ones\(y.shape\).*sum\(\)"
    ):
        y.backward()
    y.backward(np.array([[1.0, 10.0]]))
    with pytest.raises(gn.ShapeError, match=r"\(1, 2\); got \(2,\)"):
        (gn.tensor([[1.0, 2.0]], requires_grad=True) * 2).backward(np.ones(2))


def test_backward_without_grad_tracking_is_an_error():
    with pytest.raises(gn.GraphError, match="does not require gradients"):
        gn.tensor([1.0]).sum().backward()


# --- no_grad and detach ---------------------------------------------------------------


def test_no_grad_records_nothing_and_restores():
    w = gn.tensor([1.0], requires_grad=True)
    with gn.no_grad():
        assert not gn.is_grad_enabled()
        y = w * 2
        with gn.enable_grad():
            z = w * 2
    assert gn.is_grad_enabled()
    assert not y.requires_grad and z.requires_grad

    @gn.no_grad()
    def predict(t):
        return t * 2

    assert not predict(w).requires_grad


def test_detach_blocks_the_gradient():
    x = gn.tensor(2.0, requires_grad=True)
    y = x * x.detach()  # only the first factor is differentiated
    y.backward()
    assert x.grad == pytest.approx(2.0)


# --- the public surface -----------------------------------------------------------------


def test_numpy_on_the_left_returns_a_tensor():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([1.0, 1.0]) - x
    assert isinstance(y, gn.Tensor) and y.requires_grad


def test_broadcast_error_names_op_and_shapes():
    a, b = gn.tensor(np.ones((2, 3))), gn.tensor(np.ones((4,)))
    with pytest.raises(
        gn.ShapeError, match=r"add: cannot broadcast shapes \(2, 3\) and \(4,\)"
    ):
        a + b
    with pytest.raises(gn.ShapeError, match=r"mul: .*\(2, 3\) and \(4,\)"):
        a * b


def test_matmul_error_names_both_shapes():
    with pytest.raises(
        gn.ShapeError, match=r"matmul: shapes \(2, 3\) @ \(4, 5\) do not line up"
    ):
        gn.tensor(np.ones((2, 3))) @ gn.tensor(np.ones((4, 5)))
    with pytest.raises(gn.ShapeError, match="Use \\* for scaling"):
        gn.tensor(np.ones(3)) @ gn.tensor(2.0)


def test_axis_and_index_errors_are_clear():
    with pytest.raises(gn.ShapeError, match="axis 2 is out of range for a 2-D tensor"):
        gn.tensor(np.ones((2, 3))).sum(axis=2)
    with pytest.raises(gn.ShapeError, match=r"indexing a tensor of shape \(2, 3\)"):
        gn.tensor(np.ones((2, 3)))[5]
    with pytest.raises(
        gn.ShapeError, match=r"cannot reshape a tensor of shape \(2, 3\)"
    ):
        gn.tensor(np.ones((2, 3))).reshape(4, 2)


def test_errors_are_also_builtin_exceptions():
    assert issubclass(gn.ShapeError, ValueError)
    assert issubclass(gn.DTypeError, TypeError)
    assert issubclass(gn.GradcheckError, AssertionError)
    assert issubclass(gn.DivergedError, FloatingPointError)


def test_unbroadcast_sums_back_to_shape():
    g = np.ones((4, 2, 3))
    np.testing.assert_array_equal(unbroadcast(g, (3,)), np.full(3, 8.0))
    np.testing.assert_array_equal(unbroadcast(g, (2, 1)), np.full((2, 1), 12.0))
    assert unbroadcast(g, (4, 2, 3)) is g


def test_gradcheck_reports_the_worst_mismatch():
    from glassnet.tensor import make_result

    def wrong_square(t):  # forward x², backward claims 3x
        return make_result(t.data**2, (t,), lambda g: (g * 3 * t.data,))

    x = gn.tensor([1.0, 2.0, -4.0], requires_grad=True)
    with pytest.raises(
        gn.GradcheckError,
        match=r"input 0 at index \(2,\): backprop gives -12, finite differences give -8",
    ):
        gn.gradcheck(lambda t: wrong_square(t).sum(), [x])


def test_gradcheck_nudges_non_contiguous_float64_inputs():
    from glassnet.tensor import make_result

    def wrong_square(t):
        return make_result(t.data**2, (t,), lambda g: (g * 3 * t.data,))

    x = gn.tensor(
        np.arange(1.0, 7.0).reshape(2, 3).T, requires_grad=True
    )  # a transposed view
    assert not x.data.flags.c_contiguous
    with pytest.raises(gn.GradcheckError):
        gn.gradcheck(lambda t: wrong_square(t).sum(), [x])


def test_repr_reads_like_numpy():
    assert (
        repr(gn.tensor([1.0, 2.0], requires_grad=True))
        == "tensor([1., 2.], requires_grad=True)"
    )
