"""MaxPool2D / AvgPool2D / GlobalAveragePool2D: loops, the seed's pooling, gradcheck, errors."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_nn import layer_gradcheck

import glassnet as gn
from glassnet import nn
from glassnet.datasets.stories import canonical_x, x_features
from glassnet.ops.conv_match import as_printed, match, seed_pool
from glassnet.ops.pool import avg_pool2d, max_pool2d, pool_output_size


def loop_pool(x, kernel, stride, padding, ceil_mode, reduce):
    """Each output is `reduce` over the real pixels its window covers (float64)."""
    n, c, h, w = x.shape
    oh = pool_output_size(h, kernel[0], stride[0], padding[0], ceil_mode)
    ow = pool_output_size(w, kernel[1], stride[1], padding[1], ceil_mode)
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r, s = i * stride[0] - padding[0], j * stride[1] - padding[1]
            window = x[:, :, max(r, 0) : r + kernel[0], max(s, 0) : s + kernel[1]]
            out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out


def torch_pool_size(size, kernel, stride, padding, ceil_mode):
    """PyTorch's pooling_output_shape (dilation 1), written out on its own."""
    span = size + 2 * padding - kernel + (stride - 1 if ceil_mode else 0)
    out = int(np.floor(span / stride)) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


@st.composite
def pool_geometry(draw, size_max=7, wider_than_map=False):
    """(kernel, stride, padding, size, ceil_mode) of a pooling that has an output.

    ``wider_than_map``: ceil_mode, and a window wider than the padded map along
    the width (by less than the stride, so it still gives one output).
    """
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = (draw(st.integers(0, kernel[0] - 1)), draw(st.integers(0, kernel[1] - 1)))
    size = (draw(st.integers(1, size_max)), draw(st.integers(1, size_max)))
    ceil_mode = draw(st.booleans())
    if wider_than_map:
        kw = draw(st.integers(2, 4))
        pw = draw(st.integers(0, (kw - 2) // 2))
        w = draw(st.integers(1, kw - 1 - 2 * pw))
        sw = draw(st.integers(kw - w - 2 * pw + 1, 4))
        kernel, stride = (kernel[0], kw), (stride[0], sw)
        padding, size, ceil_mode = (padding[0], pw), (size[0], w), True
    # with ceil_mode a window may be wider than the padded map (one output)
    assume(
        all(
            torch_pool_size(n, k, s, p, ceil_mode) >= 1
            for n, k, s, p in zip(size, kernel, stride, padding)
        )
    )
    return kernel, stride, padding, size, ceil_mode


@st.composite
def pool_cases(draw, wider_than_map=False):
    kernel, stride, padding, size, ceil_mode = draw(
        pool_geometry(wider_than_map=wider_than_map)
    )
    return {
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "size": size,
        "ceil_mode": ceil_mode,
        "batch": draw(st.integers(1, 2)),
        "channels": draw(st.integers(1, 2)),
    }


def distinct_values(shape, seed=0):
    """Values at least 0.1 apart: no near-ties, so finite differences see one winner."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 - n * 0.05


@pytest.mark.parametrize(
    "layer_cls, reduce", [(nn.MaxPool2D, np.max), (nn.AvgPool2D, np.mean)]
)
@given(case=pool_cases())
def test_pool_matches_the_loop_and_gradcheck(layer_cls, reduce, case):
    check_pool_case(layer_cls, reduce, case)


@pytest.mark.parametrize(
    "layer_cls, reduce", [(nn.MaxPool2D, np.max), (nn.AvgPool2D, np.mean)]
)
@given(case=pool_cases(wider_than_map=True))
def test_ceil_mode_window_wider_than_the_map_matches_the_loop(layer_cls, reduce, case):
    check_pool_case(layer_cls, reduce, case)


def check_pool_case(layer_cls, reduce, case):
    layer = layer_cls(
        case["kernel"], case["stride"], case["padding"], case["ceil_mode"]
    )
    x = distinct_values((case["batch"], case["channels"], *case["size"]))
    out = layer(x)
    expected = loop_pool(
        x.astype(np.float32).astype(np.float64),
        case["kernel"],
        case["stride"],
        case["padding"],
        case["ceil_mode"],
        reduce,
    )
    assert out.dtype == np.float32
    assert out.shape[2:] == tuple(
        torch_pool_size(n, k, s, p, case["ceil_mode"])
        for n, k, s, p in zip(
            case["size"], case["kernel"], case["stride"], case["padding"]
        )
    )
    np.testing.assert_allclose(out.data, expected, rtol=1e-6, atol=1e-5)
    assert layer.parameters() == []
    layer_gradcheck(layer, x)


def test_seven_by_seven_map_pools_to_four_by_four_as_the_seed_does():
    fmap = match(canonical_x(), x_features()[0])
    pooled = nn.MaxPool2D(2, ceil_mode=True)(fmap[None, None]).data[0, 0]
    assert pooled.shape == (4, 4)
    np.testing.assert_allclose(pooled, seed_pool(fmap), rtol=1e-6)
    # first window 1.0; two pixels right 0.33; then 0.55 (the seed's numbers)
    assert as_printed(pooled[0, :3]).tolist() == [1.0, 0.33, 0.55]
    # Without ceil_mode the ragged last row and column are dropped.
    assert nn.MaxPool2D(2)(fmap[None, None]).shape == (1, 1, 3, 3)


@given(
    maps=st.integers(1, 3),
    h=st.integers(2, 9),
    w=st.integers(2, 9),
    size=st.integers(2, 3),
    stride=st.integers(1, 3),
)
def test_max_pool_with_ceil_mode_is_seed_pool(maps, h, w, size, stride):
    assume(h >= size and w >= size)
    fmap = distinct_values((maps, h, w), seed=h * w)
    out = max_pool2d(fmap[None], size, stride, ceil_mode=True).data[0]
    np.testing.assert_allclose(out, seed_pool(fmap, size, stride), rtol=1e-6)


def test_ceil_mode_window_wider_than_the_map_gives_one_output():
    x = np.arange(1.0, 4.0).reshape(1, 1, 1, 3)
    np.testing.assert_array_equal(
        max_pool2d(x, (1, 4), ceil_mode=True).data, [[[[3.0]]]]
    )
    np.testing.assert_array_equal(
        avg_pool2d(x, (1, 4), ceil_mode=True).data, [[[[2.0]]]]
    )
    # a window two pixels too wide would need a stride of 3 to start on the map
    assert max_pool2d(x, (1, 5), stride=(1, 3), ceil_mode=True).shape == (1, 1, 1, 1)
    with pytest.raises(gn.ShapeError, match=r"the 1x5 window does not fit in the 1x3"):
        max_pool2d(x, (1, 5), stride=(1, 2), ceil_mode=True)
    with pytest.raises(gn.ShapeError, match=r"the 1x4 window does not fit in the 1x3"):
        max_pool2d(x, (1, 4))


def test_ties_send_the_gradient_to_the_first_maximum_only():
    x = gn.tensor(np.zeros((1, 1, 2, 4)), requires_grad=True)
    nn.MaxPool2D(2)(x).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0]])
    # Overlapping windows add their gradients on a shared winner.
    x = gn.tensor(np.array([[[[0.0, 5.0, 0.0], [0.0, 0.0, 0.0]]]]), requires_grad=True)
    nn.MaxPool2D(2, stride=1)(x).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[0, 2, 0], [0, 0, 0]])


def test_padding_never_wins_and_is_not_counted_in_the_mean():
    x = -np.ones((1, 1, 3, 3))
    np.testing.assert_array_equal(nn.MaxPool2D(2, padding=1)(x).data, -1.0)
    np.testing.assert_array_equal(nn.AvgPool2D(3, stride=1, padding=1)(-x).data, 1.0)
    ramp = np.arange(9.0).reshape(1, 1, 3, 3)
    # ragged windows average what is there: [[0,1,3,4], [2,5], [6,7], [8]]
    np.testing.assert_allclose(
        nn.AvgPool2D(2, ceil_mode=True)(ramp).data[0, 0], [[2.0, 3.5], [6.5, 8.0]]
    )
    np.testing.assert_allclose(avg_pool2d(ramp, 2).data[0, 0], [[2.0]])


def test_global_average_pool():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    layer = nn.GlobalAveragePool2D()
    np.testing.assert_allclose(layer(x).data, x.mean(axis=(2, 3)), rtol=1e-5)
    layer_gradcheck(layer, x)
    with pytest.raises(
        gn.ShapeError, match=r"GlobalAveragePool2D expected a 4-D input"
    ):
        layer(np.zeros((3, 4, 5)))


def test_repr_and_config():
    assert repr(nn.MaxPool2D(2)) == "MaxPool2D(2x2)"
    assert (
        repr(nn.AvgPool2D(3, 1, 1, True))
        == "AvgPool2D(3x3, stride 1x1, padding 1x1, ceil_mode)"
    )
    config = nn.MaxPool2D((2, 3), stride=1, ceil_mode=True).get_config()
    assert config == {
        "kernel_size": [2, 3],
        "stride": [1, 1],
        "padding": [0, 0],
        "ceil_mode": True,
    }
    assert nn.MaxPool2D(**config).kernel_size == (2, 3)


def test_window_leaving_no_output_names_the_layer_and_shapes():
    with pytest.raises(
        gn.ShapeError,
        match=r"MaxPool2D\(3x3\): the 3x3 window does not fit in "
        r"the 2x2 padded input \(input shape \(1, 4, 2, 2\), padding \(0, 0\)\), "
        r"so no output would be left",
    ):
        nn.MaxPool2D(3)(np.zeros((1, 4, 2, 2)))
    with pytest.raises(
        gn.ShapeError,
        match=r"AvgPool2D\(2x2\) expected a 4-D input \(batch, "
        r"channels, height, width\); got shape \(4, 7, 7\) \(3-D\)",
    ):
        nn.AvgPool2D(2)(np.zeros((4, 7, 7)))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"kernel_size": 0}, "kernel_size must be a positive integer"),
        ({"kernel_size": 2, "stride": 0}, "stride must be a positive integer"),
        (
            {"kernel_size": 2, "padding": 2},
            r"padding \(2, 2\) must be smaller than kernel_size",
        ),
        ({"kernel_size": 2, "padding": -1}, "padding must be a non-negative integer"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs, words):
    with pytest.raises(gn.ConfigError, match=words):
        nn.MaxPool2D(**kwargs)


def test_docstring_examples_run():
    import doctest

    import glassnet.nn.pool
    import glassnet.ops.pool

    for module in (glassnet.ops.pool, glassnet.nn.pool):
        assert doctest.testmod(module).failed == 0
