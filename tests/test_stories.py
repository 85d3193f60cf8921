"""The seed stories, checked against the numbers the seed itself gives.

Where a number below comes from seed 004, the comment names the nearby phrase
so it can be found in ``/work/shared/seeds/004_*.txt``; ``docs/seed-facts.md``
lists the same facts in one place.
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from glassnet.datasets import stories as S
from glassnet.errors import ConfigError, DataError, DTypeError, ShapeError
from glassnet.ops.conv_match import as_printed, match, seed_pool

# --------------------------------------------------------------------------
# X and O: filtering, maps and pooling with the talk's numbers
# --------------------------------------------------------------------------

# The map of the falling-diagonal feature over the 9x9 X, as the slides print
# it (two decimals, cut rather than rounded). The transcript states the 1s
# and .77s along the diagonal, the 1.0 and 0.55 worked examples and the first
# pooled values; the remaining entries follow from the same pixels.
FALLING_MAP = [
    [0.77, -0.11, 0.11, 0.33, 0.55, -0.11, 0.33],
    [-0.11, 1.00, -0.11, 0.33, -0.11, 0.11, -0.11],
    [0.11, -0.11, 1.00, -0.33, 0.11, -0.11, 0.55],
    [0.33, 0.33, -0.33, 0.55, -0.33, 0.33, 0.33],
    [0.55, -0.11, 0.11, -0.33, 1.00, -0.11, 0.11],
    [-0.11, 0.11, -0.11, 0.33, -0.11, 1.00, -0.11],
    [0.33, -0.11, 0.55, 0.33, 0.11, -0.11, 0.77],
]
FALLING_POOLED = [
    [1.00, 0.33, 0.55, 0.33],
    [0.33, 1.00, 0.33, 0.55],
    [0.55, 0.33, 1.00, 0.11],
    [0.33, 0.55, 0.11, 0.77],
]
SMALL_X_MAP = [
    [0.33, -0.55, 0.11, -0.11, 0.11, -0.55, 0.33],
    [-0.55, 0.55, -0.55, 0.33, -0.55, 0.55, -0.55],
    [0.11, -0.55, 0.55, -0.77, 0.55, -0.55, 0.11],
    [-0.11, 0.33, -0.77, 1.00, -0.77, 0.33, -0.11],
    [0.11, -0.55, 0.55, -0.77, 0.55, -0.55, 0.11],
    [-0.55, 0.55, -0.55, 0.33, -0.55, 0.55, -0.55],
    [0.33, -0.55, 0.11, -0.11, 0.11, -0.55, 0.33],
]


def test_canonical_x_is_the_nine_by_nine_x():
    x = S.canonical_x()
    assert x.shape == (9, 9) and x.dtype == np.float32
    i, j = np.indices((9, 9))
    on_arm = ((i == j) | (i + j == 8)) & (i >= 1) & (i <= 7)
    np.testing.assert_array_equal(x, np.where(on_arm, 1, -1))


def test_features_are_the_three_pieces_of_the_x():
    falling, small_x, rising = S.x_features()
    np.testing.assert_array_equal(falling, np.where(np.eye(3), 1, -1))
    np.testing.assert_array_equal(rising, falling[:, ::-1])
    np.testing.assert_array_equal(small_x, np.maximum(falling, rising))
    # "if you choose the right feature and put it in the right place it
    # matches the image exactly": each one is a patch of the X.
    for f in S.x_features():
        assert match(S.canonical_x(), f).max() == 1.0


def test_first_worked_match_is_nine_ones_divided_by_nine():
    # "add them up and divide by nine and the answer is one"
    x, falling = S.canonical_x(), S.x_features()[0]
    products = x[1:4, 1:4] * falling
    np.testing.assert_array_equal(products, np.ones((3, 3)))
    assert match(x, falling)[1, 1] == 1.0


def test_second_worked_match_is_five_ninths_printed_as_point_five_five():
    # "the third pixel does not match ... two minus ones ... add up to five
    # divide by nine and we get a point five five"; the second talk places
    # the feature "down to the center of the x".
    x, falling = S.canonical_x(), S.x_features()[0]
    products = (x[3:6, 3:6] * falling).ravel()
    assert products[:3].tolist() == [1, 1, -1]
    assert (products == -1).sum() == 2 and products.sum() == 5
    value = match(x, falling)[3, 3]
    assert value == pytest.approx(5 / 9)
    assert as_printed(value) == 0.55


def test_falling_diagonal_map_matches_the_slides():
    fmap = match(S.canonical_x(), S.x_features()[0])
    assert fmap.shape == (7, 7)
    np.testing.assert_array_equal(as_printed(fmap), FALLING_MAP)
    # "all of the high numbers, ones and .77s, are right along that diagonal"
    high = np.argwhere(fmap >= 0.77)
    assert (high[:, 0] == high[:, 1]).all() and len(high) == 6
    # Every value is a whole number of ninths, as nine ±1 products must be.
    np.testing.assert_allclose(fmap * 9, np.round(fmap * 9), atol=1e-6)


def test_small_x_map_peaks_in_the_centre():
    fmap = match(S.canonical_x(), S.x_features()[1])
    np.testing.assert_array_equal(as_printed(fmap), SMALL_X_MAP)
    assert np.unravel_index(fmap.argmax(), fmap.shape) == (3, 3)
    assert (fmap == 1.0).sum() == 1


def test_rising_map_mirrors_the_falling_one():
    maps = match(S.canonical_x(), S.x_features())
    assert maps.shape == (3, 7, 7)
    np.testing.assert_array_equal(maps[2], maps[0][:, ::-1])
    high = np.argwhere(maps[2] >= 0.77)
    assert (high[:, 0] + high[:, 1] == 6).all()


def test_pooling_the_seven_by_seven_map_gives_four_by_four():
    # "the maximum value is 1 ... 0.33 etc 0.55 ... take the max of what's
    # there ... instead of seven by seven ... a four by four"
    fmap = match(S.canonical_x(), S.x_features()[0])
    pooled = seed_pool(fmap)
    assert pooled.shape == (4, 4)
    assert as_printed(pooled[0, :3]).tolist() == [1.0, 0.33, 0.55]
    np.testing.assert_array_equal(as_printed(pooled), FALLING_POOLED)
    # The ragged last column and row are the max of the single pixel left.
    np.testing.assert_array_equal(
        pooled[:3, 3], [fmap[0:2, 6].max(), fmap[2:4, 6].max(), fmap[4:6, 6].max()]
    )
    assert pooled[3, 3] == fmap[6, 6]


def test_relu_keeps_point_seven_seven_and_zeroes_minus_point_one_one():
    # "0.77 not negative it doesn't touch it but a minus .11 ... zero"
    fmap = as_printed(match(S.canonical_x(), S.x_features()[0]))
    assert fmap[0, 0] == 0.77 and fmap[0, 1] == -0.11
    rectified = np.maximum(fmap, 0)
    assert rectified[0, 0] == 0.77 and rectified[0, 1] == 0.0


def test_as_printed_cuts_instead_of_rounding():
    got = as_printed([7 / 9, 5 / 9, 1 / 9, 3 / 9, -7 / 9, -5 / 9, 1.0, 0.29])
    assert got.tolist() == [0.77, 0.55, 0.11, 0.33, -0.77, -0.55, 1.0, 0.29]
    with pytest.raises(ConfigError):
        as_printed(0.5, decimals=-1)


# --------------------------------------------------------------------------
# match() and seed_pool() against plain loops
# --------------------------------------------------------------------------


def brute_match(image, feature):
    kh, kw = feature.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            total = 0.0
            for a in range(kh):
                for b in range(kw):
                    total += image[i + a, j + b] * feature[a, b]
            out[i, j] = total / (kh * kw)
    return out


@st.composite
def image_and_feature(draw):
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    values = st.floats(-4, 4, allow_nan=False, width=64)
    image = draw(hnp.arrays(np.float64, (h, w), elements=values))
    feature = draw(hnp.arrays(np.float64, (kh, kw), elements=values))
    return image, feature


@given(image_and_feature())
def test_match_equals_the_loop(pair):
    image, feature = pair
    np.testing.assert_allclose(
        match(image, feature), brute_match(image, feature), atol=1e-12
    )


@given(image_and_feature())
def test_match_of_plus_minus_one_pictures_counts_disagreements(pair):
    image, feature = (np.where(a >= 0, 1, -1) for a in pair)
    disagree = np.lib.stride_tricks.sliding_window_view(image, feature.shape)
    disagree = (disagree != feature).sum(axis=(-2, -1))
    expected = 1 - 2 * disagree / feature.size
    np.testing.assert_allclose(match(image, feature), expected, atol=1e-12)


def test_match_keeps_float32_and_promotes_integers():
    x = S.canonical_x()
    assert match(x, S.x_features()[0]).dtype == np.float32
    assert match(x.astype(int), np.ones((2, 2), int)).dtype == np.float64


@pytest.mark.parametrize(
    "image, feature, words",
    [
        (np.ones((3, 3)), np.ones((4, 4)), "does not fit"),
        (np.ones((9, 3)), np.ones((2, 4)), "does not fit"),
        (np.ones(9), np.ones((3, 3)), "2-D image"),
        (np.ones((1, 9, 9)), np.ones((3, 3)), "2-D image"),
        (np.ones((9, 9)), np.ones(3), "2-D feature"),
        (np.ones((9, 9)), np.ones((1, 1, 3, 3)), "2-D feature"),
        (np.ones((9, 9)), np.ones((0, 3)), "at least one pixel"),
    ],
)
def test_match_rejects_bad_shapes(image, feature, words):
    with pytest.raises(ShapeError, match=words):
        match(image, feature)


def test_match_rejects_non_numbers():
    with pytest.raises(DTypeError):
        match(np.array([["a"]]), np.ones((1, 1)))


def brute_pool(fmap, size, stride):
    def starts(length):
        out = [0]
        while out[-1] + size < length and out[-1] + stride < length:
            out.append(out[-1] + stride)
        return out

    rows, cols = starts(fmap.shape[0]), starts(fmap.shape[1])
    out = np.empty((len(rows), len(cols)), dtype=fmap.dtype)
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            out[a, b] = fmap[r : r + size, c : c + size].max()
    return out


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=11),
        elements=st.floats(-5, 5, allow_nan=False),
    ),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_seed_pool_equals_the_loop(fmap, size, stride):
    np.testing.assert_array_equal(
        seed_pool(fmap, size, stride), brute_pool(fmap, size, stride)
    )


def test_seed_pool_keeps_leading_axes_and_integer_dtype():
    maps = np.arange(2 * 3 * 7 * 7).reshape(2, 3, 7, 7)
    pooled = seed_pool(maps)
    assert pooled.shape == (2, 3, 4, 4) and pooled.dtype == maps.dtype
    np.testing.assert_array_equal(pooled[1, 2], brute_pool(maps[1, 2], 2, 2))


def test_seed_pool_rejects_bad_input():
    with pytest.raises(ShapeError):
        seed_pool(np.ones(7))
    with pytest.raises(ShapeError):
        seed_pool(np.ones((0, 7)))
    with pytest.raises(ConfigError):
        seed_pool(np.ones((7, 7)), size=0)
    with pytest.raises(ConfigError):
        seed_pool(np.ones((7, 7)), stride=1.5)


# --------------------------------------------------------------------------
# X and O data set
# --------------------------------------------------------------------------


def test_canonical_o_is_a_one_pixel_ring():
    o = S.canonical_o()
    i, j = np.indices((9, 9))
    ring = np.abs(np.hypot(i - 4, j - 4) - 3) < 0.5
    np.testing.assert_array_equal(o, np.where(ring, 1, -1))
    assert (o == 1).sum() == 16
    np.testing.assert_array_equal(o, o[::-1])
    np.testing.assert_array_equal(o, o.T)


def test_x_and_o_shapes_values_and_balance():
    data = S.x_and_o(n=101, seed=3)
    assert data.X.shape == (101, 1, 9, 9) and data.X.dtype == np.float32
    assert data.y.dtype == np.int64 and data.classes == ("X", "O")
    assert set(np.unique(data.X).tolist()) == {-1.0, 1.0}
    assert np.bincount(data.y).tolist() == [51, 50]
    assert 0 < data.y[:50].sum() < 50  # shuffled, not sorted


def test_x_and_o_is_reproducible():
    a, b = S.x_and_o(n=50, seed=7), S.x_and_o(n=50, seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    c = S.x_and_o(n=50, seed=8)
    assert not np.array_equal(a.X, c.X)


def test_no_variation_gives_the_canonical_pictures():
    data = S.x_and_o(n=20, seed=1, shift=0, scale=0, rotate=0, thickness=0)
    for image, label in zip(data.X[:, 0], data.y):
        expected = S.canonical_x() if label == 0 else S.canonical_o()
        np.testing.assert_array_equal(image, expected)


def shifted(picture, dr, dc):
    out = -np.ones_like(picture)
    n = picture.shape[0]
    src = picture[max(0, -dr) : n - max(0, dr), max(0, -dc) : n - max(0, dc)]
    out[
        max(0, dr) : max(0, dr) + src.shape[0], max(0, dc) : max(0, dc) + src.shape[1]
    ] = src
    return out


def test_shift_moves_the_canonical_picture_by_whole_pixels():
    data = S.x_and_o(n=40, seed=2, shift=2, scale=0, rotate=0, thickness=0)
    moved = 0
    for image, label in zip(data.X[:, 0], data.y):
        canon = S.canonical_x() if label == 0 else S.canonical_o()
        matches = [
            (dr, dc)
            for dr in range(-2, 3)
            for dc in range(-2, 3)
            if np.array_equal(image, shifted(canon, dr, dc))
        ]
        assert matches, "every shifted picture is the canonical one moved"
        moved += matches[0] != (0, 0)
    assert moved > 20


@pytest.mark.parametrize(
    "option, value", [("scale", 0.3), ("rotate", 30.0), ("thickness", 0.8)]
)
def test_each_variation_changes_pictures(option, value):
    plain = {"shift": 0, "scale": 0.0, "rotate": 0.0, "thickness": 0.0}
    data = S.x_and_o(n=40, seed=4, **{**plain, option: value})
    canon = np.stack([S.canonical_x(), S.canonical_o()])[data.y]
    changed = (data.X[:, 0] != canon).any(axis=(1, 2))
    assert changed[data.y == 0].any()
    if option == "rotate":
        assert not changed[data.y == 1].any()  # a ring turned is the same ring
    else:
        assert changed[data.y == 1].any()


def test_x_and_o_other_sizes():
    data = S.x_and_o(n=6, size=16, seed=0)
    assert data.X.shape == (6, 1, 16, 16)
    assert (S.canonical_x(5) == 1).sum() == 5  # 3 per arm, shared centre
    with pytest.raises(ConfigError):
        S.canonical_o(4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0},
        {"n": 2.5},
        {"size": 3},
        {"shift": -1},
        {"shift": 5},
        {"scale": 1.0},
        {"rotate": -1.0},
        {"rotate": 200.0},
        {"thickness": 1.0},
    ],
)
def test_x_and_o_rejects_bad_settings(kwargs):
    with pytest.raises(ConfigError):
        S.x_and_o(**kwargs)


# --------------------------------------------------------------------------
# Four-pixel camera
# --------------------------------------------------------------------------


def category(image):
    (a, b), (c, d) = image
    if a == b == c == d:
        return "solid"
    if a == c and b == d:
        return "vertical"
    if a == d and b == c:
        return "diagonal"
    if a == b and c == d:
        return "horizontal"
    return None


def test_four_pixel_contents():
    data = S.four_pixel()
    assert data.X.shape == (8, 2, 2) and data.X.dtype == np.float32
    assert data.y.dtype == np.int64
    assert data.classes == ("solid", "vertical", "diagonal", "horizontal")
    assert set(np.unique(data.X).tolist()) == {-1.0, 1.0}
    assert np.bincount(data.y).tolist() == [2, 2, 2, 2]
    for image, label in zip(data.X, data.y):
        assert category(image) == data.classes[label]
        # each pattern comes with its negative, in the same category
        assert any(np.array_equal(-image, other) for other in data.X[data.y == label])


def test_labelled_and_unlabelled_cover_all_sixteen_pictures_once():
    every = np.concatenate([S.four_pixel().X, S.four_pixel_unlabelled()])
    assert len({tuple(im.ravel()) for im in every}) == 16
    for image in S.four_pixel_unlabelled():
        assert category(image) is None
        assert sorted(image.ravel().tolist()).count(image.ravel()[0]) in (1, 3)


def test_four_pixel_example_is_dark_on_top_light_below():
    # "dark pixels on top white on the bottom" ... "horizontal"
    image, label = S.four_pixel_example()
    np.testing.assert_array_equal(image, [[-1, -1], [1, 1]])
    assert S.FOUR_PIXEL_CLASSES[label] == "horizontal"
    np.testing.assert_array_equal(S.four_pixel().X[7], image)
    # The talk's input order is upper-left, lower-left, upper-right,
    # lower-right ("upper left lower left upper right or lower right").
    assert image.T.ravel().tolist() == [-1, 1, -1, 1]


# --------------------------------------------------------------------------
# Dinner
# --------------------------------------------------------------------------


def test_dinner_follows_pizza_sushi_waffles():
    # "pizza then sushi then waffles then pizza again in a cycle"
    d = S.dinner(n_days=30, seed=5, away=0.0, n_sequences=4)
    menu = d.menu
    assert menu == ("pizza", "sushi", "waffles")
    after = {menu[a]: menu[b] for a, b in zip(d.y[:, :-1].ravel(), d.y[:, 1:].ravel())}
    assert after == {"pizza": "sushi", "sushi": "waffles", "waffles": "pizza"}
    assert d.X.shape == (4, 30, 3) and d.X.dtype == np.float32
    assert d.y.dtype == np.int64 and d.home.all()
    np.testing.assert_array_equal(d.X[:, 1:], np.eye(3)[d.y[:, :-1]])
    assert not d.X[:, 0].any()


def test_dinner_inputs_are_missing_after_nights_away():
    d = S.dinner(n_days=200, seed=1, away=0.3, n_sequences=3)
    assert 0.2 < 1 - d.home.mean() < 0.4
    seen = d.X[:, 1:].any(axis=-1)
    np.testing.assert_array_equal(seen, d.home[:, :-1])
    rows = np.eye(3)[d.y[:, :-1]] * d.home[:, :-1, None]
    np.testing.assert_array_equal(d.X[:, 1:], rows)


def test_two_weeks_away_and_the_rule_still_knows_tonight():
    # "out of town for two weeks ... play it forward"
    trip = np.zeros(30, bool)
    trip[5:19] = True
    d = S.dinner(n_days=30, seed=2, away=trip)
    assert not d.X[0, 6:20].any() and d.X[0, 20].any()
    pred = S.dinner_rule(d.X)
    assert pred[0, 0] == -1
    np.testing.assert_array_equal(pred[0, 1:], d.y[0, 1:])


@given(st.integers(0, 10_000), st.floats(0, 0.95))
def test_dinner_rule_is_right_whenever_anything_was_seen(seed, away):
    d = S.dinner(n_days=25, seed=seed, away=away, n_sequences=3)
    pred = S.dinner_rule(d.X)
    ever_seen = np.maximum.accumulate(d.X.any(axis=-1), axis=1)
    np.testing.assert_array_equal(pred[ever_seen], d.y[ever_seen])
    assert (pred[~ever_seen] == -1).all()


def test_dinner_validates():
    with pytest.raises(ShapeError):
        S.dinner(n_days=5, away=np.zeros(4, bool))
    with pytest.raises(ConfigError):
        S.dinner(n_days=5, away=np.zeros(5))
    with pytest.raises(ConfigError):
        S.dinner(away=1.0)
    with pytest.raises(ConfigError):
        S.dinner(n_days=0)
    with pytest.raises(ShapeError):
        S.dinner_rule(np.zeros((5, 3)))


# --------------------------------------------------------------------------
# Children's book
# --------------------------------------------------------------------------


def regex_grammatical(ids):
    """An independent statement of the grammar: NAME saw OTHER-NAME ."""
    text = "".join(str(int(i)) for i in ids)
    return re.fullmatch(r"(?:([012])3(?!\1)[012]4)+", text) is not None


def test_book_sentences_are_all_grammatical():
    book = S.childrens_book(n_sentences=300, seed=9)
    assert book.vocab == ("Doug", "Jane", "Spot", "saw", ".")
    assert book.tokens.shape == (1200,) and book.tokens.dtype == np.int64
    assert S.is_grammatical(book.tokens) and regex_grammatical(book.tokens)
    assert S.saw_self(book.tokens) == []
    sentences = {tuple(s) for s in book.tokens.reshape(-1, 4).tolist()}
    assert len(sentences) == 6  # every subject/object pair of different names


def test_book_training_pairs_are_next_words():
    book = S.childrens_book(n_sentences=5, seed=0)
    assert book.X.shape == (1, 19, 5) and book.y.shape == (1, 19)
    np.testing.assert_array_equal(book.X[0].argmax(-1), book.tokens[:-1])
    np.testing.assert_array_equal(book.y[0], book.tokens[1:])
    assert (book.X.sum(-1) == 1).all()


def test_book_is_reproducible():
    a, b = S.childrens_book(20, seed=4), S.childrens_book(20, seed=4)
    np.testing.assert_array_equal(a.tokens, b.tokens)


def test_text_round_trip():
    text = "Doug saw Jane. Jane saw Spot. Spot saw Doug."
    assert S.book_text(S.book_tokens(text)) == text
    assert S.book_tokens(["doug", "SAW", "jane", "."]).tolist() == [0, 3, 1, 4]
    with pytest.raises(DataError):
        S.book_tokens("Doug saw Dick.")
    with pytest.raises(DataError):
        S.book_tokens([0, 7])


@pytest.mark.parametrize(
    "text, positions",
    [
        ("Doug saw Doug.", [2]),  # the talk's first slip
        ("Doug saw Jane saw Spot saw", [3, 5, 6]),  # its second: no periods
        ("Doug saw Jane", [3]),  # unfinished
        ("saw Doug.", [0]),
        ("Doug Jane saw Spot.", [1]),
        ("Doug saw .", [2]),
        ("Doug saw Jane. . Spot saw Jane.", [4]),
        ("", [0]),
    ],
)
def test_grammar_checker_rejects(text, positions):
    assert not S.is_grammatical(text)
    assert [pos for pos, _ in S.grammar_errors(text)] == positions


def test_grammar_checker_names_the_self_sighting():
    [(pos, message)] = S.grammar_errors("Jane saw Spot. Spot saw Spot.")
    assert pos == 6 and "Spot cannot see Spot" in message
    assert S.saw_self("Jane saw Spot. Spot saw Spot.") == [4]
    assert S.saw_self("Doug saw Doug saw Jane") == [0]


def test_unfinished_stories_pass_when_allowed():
    assert S.is_grammatical("Jane saw Spot. Doug saw", complete=False)
    assert S.is_grammatical("", complete=False)
    assert not S.is_grammatical("Jane saw Spot. Doug saw Doug", complete=False)


@given(st.lists(st.integers(0, 4), max_size=16))
def test_grammar_checker_agrees_with_a_regular_expression(ids):
    assert S.is_grammatical(ids) == regex_grammatical(ids)


# --------------------------------------------------------------------------
# Shawarma
# --------------------------------------------------------------------------


def test_shawarma_patterns_and_days():
    assert S.SHAWARMA_INPUTS == (
        "working in the morning",
        "off in the morning",
        "working in the evening",
        "off in the evening",
    )
    days = S.shawarma(n_days=400, seed=2)
    assert days.X.shape == (400, 4) and days.X.dtype == np.float32
    np.testing.assert_array_equal(days.X, S.shawarma_patterns()[days.y])
    assert 150 < days.y.sum() < 250
    noisy = S.shawarma(n_days=400, seed=2, noise=0.1)
    np.testing.assert_array_equal(noisy.y, days.y)
    assert 0.05 < (noisy.X != days.X).mean() < 0.15
    with pytest.raises(ConfigError):
        S.shawarma(noise=1.0)


def test_shawarma_walkthrough_numbers():
    # The observed day: "worked in the morning ... did not work in the
    # evening" -> inputs 1, 0, 0, 1, the morning-shift pattern.
    day = np.array([1, 0, 0, 1], dtype=np.float32)
    np.testing.assert_array_equal(day, S.shawarma_patterns()[0])
    active = np.flatnonzero(day)
    # Activity = average of the weights from the active inputs:
    # "0.3 and ... 0.1 so the average of those is 0.2", "0.8 and 0.4 ... 0.6".
    assert np.mean([0.3, 0.1]) == pytest.approx(0.2)
    assert np.mean([0.8, 0.4]) == pytest.approx(0.6)
    assert len(active) == 2
    # "the error is 0.4", and after one round of nudges "from 0.4 to 0.3".
    assert 1 - 0.6 == pytest.approx(0.4) and 1 - 0.7 == pytest.approx(0.3)


# --------------------------------------------------------------------------
# M&M bags
# --------------------------------------------------------------------------


def best_guess(counts, loss, guesses):
    deviations = counts[None, :] - guesses[:, None]
    return guesses[np.argmin(loss(deviations).sum(axis=1))]


def test_two_bags_have_no_right_answer():
    counts = S.seed_counts()
    assert counts.tolist() == [53, 57] and counts.dtype == np.int64
    guesses = np.arange(40, 70.01, 0.01)  # "anything between 40 and 70"
    best = best_guess(counts, np.square, guesses)
    assert best == pytest.approx(55.0) and best not in counts


def test_squared_loss_gives_the_mean_and_absolute_loss_the_median():
    counts = S.mm_bags(n_bags=41, seed=11)
    guesses = np.round(np.arange(40, 70.0001, 0.01), 2)
    assert best_guess(counts, np.square, guesses) == pytest.approx(
        counts.mean(), abs=0.005
    )
    assert best_guess(counts, np.abs, guesses) == np.median(counts)


def test_mm_bags_look_like_bags():
    counts = S.mm_bags(n_bags=5000, seed=0)
    assert counts.dtype == np.int64 and (counts >= 0).all()
    assert counts.mean() == pytest.approx(55.5, abs=0.1)  # "about 55 and a half"
    np.testing.assert_array_equal(counts[:40], S.mm_bags(seed=0))
    np.testing.assert_array_equal(S.mm_bags(10, seed=3), S.mm_bags(10, seed=3))
    with pytest.raises(ConfigError):
        S.mm_bags(n_bags=0)
    with pytest.raises(ConfigError):
        S.mm_bags(spread=-1.0)


# --------------------------------------------------------------------------
# The long children's book: "Doug looked and looked and saw Jane."
# --------------------------------------------------------------------------


def regex_long_grammatical(ids):
    """An independent statement of the long grammar: NAME (looked and)* saw OTHER ."""
    text = "".join(str(int(i)) for i in ids)
    return re.fullmatch(r"(?:([012])(?:56)*3(?!\1)[012]4)+", text) is not None


@given(st.integers(1, 60), st.integers(0, 2**32 - 1), st.integers(1, 12))
def test_long_book_is_grammatical_and_keeps_the_short_books_names(n, seed, max_looks):
    long = S.childrens_book(n, seed=seed, max_looks=max_looks)
    short = S.childrens_book(n, seed=seed)
    assert long.vocab == S.LONG_BOOK_VOCAB
    assert long.X.shape == (1, len(long.tokens) - 1, 7)
    np.testing.assert_array_equal(long.X[0].argmax(-1), long.tokens[:-1])
    np.testing.assert_array_equal(long.y[0], long.tokens[1:])
    assert S.is_grammatical(long.tokens) and regex_long_grammatical(long.tokens)
    assert S.saw_self(long.tokens) == []
    # Dropping the looks gives back the short book of the same seed.
    np.testing.assert_array_equal(long.tokens[long.tokens < 5], short.tokens)
    looks = (np.diff(np.r_[-1, np.flatnonzero(long.tokens == 4)]) - 4) // 2
    assert looks.min() >= 0 and looks.max() <= max_looks


def test_long_book_draws_every_number_of_looks():
    book = S.childrens_book(600, seed=3, max_looks=10)
    looks = (np.diff(np.r_[-1, np.flatnonzero(book.tokens == 4)]) - 4) // 2
    counts = np.bincount(looks, minlength=11)
    assert len(counts) == 11 and counts.min() > 30  # uniform over 0..10: ~55 each


@pytest.mark.parametrize(
    "text, positions",
    [
        ("Jane looked and saw Jane.", [4]),  # the slip, four words later
        ("Doug looked saw Jane.", [2]),
        ("Doug looked and and saw Jane.", [3]),
        ("Doug and saw Jane.", [1]),
        ("Doug saw looked Jane.", [2, 3, 4]),  # each slip reported where it is
        ("Doug looked and looked saw Doug.", [4, 5]),  # the subject survives a slip
        ("Doug looked and", [3]),  # unfinished
    ],
)
def test_grammar_checker_rejects_long_sentences(text, positions):
    assert not S.is_grammatical(text)
    assert [pos for pos, _ in S.grammar_errors(text)] == positions


def test_grammar_checker_reads_long_sentences():
    assert S.is_grammatical("Doug looked and looked and saw Jane. Jane saw Spot.")
    assert S.is_grammatical("Doug looked and looked", complete=False)
    [(pos, message)] = S.grammar_errors("Spot looked and looked and saw Spot.")
    assert pos == 6 and "Spot cannot see Spot" in message
    [(pos, message)] = S.grammar_errors("Doug looked saw Jane.")
    assert "expected 'and'" in message
    assert S.book_text([0, 5, 6, 3, 1, 4]) == "Doug looked and saw Jane."
    assert S.book_tokens("doug LOOKED and saw jane.").tolist() == [0, 5, 6, 3, 1, 4]


def test_saw_self_skips_the_looks():
    text = "Jane looked and saw Spot. Doug looked and looked and saw Doug."
    assert S.saw_self(text) == [6]
    assert S.saw_self("Doug looked and saw Doug saw Jane") == [0]
    assert S.saw_self("Doug looked and saw Jane") == []
    assert S.saw_self("looked and saw Doug") == []


def test_long_book_rejects_bad_max_looks():
    for bad in (-1, 2.5, True, "3"):
        with pytest.raises(ConfigError, match="max_looks must be a non-negative int"):
            S.childrens_book(5, max_looks=bad)
