"""The seed stories as small, exact, seeded data sets.

Each function here rebuilds the data of one story from seed 004 (Brandon
Rohrer's talks) so that a network can be trained on it and a test can check
it against the numbers told in the talk. ``docs/seed-facts.md`` lists those
numbers with a pointer into the seed for each.

================  ==================================================
story             functions
================  ==================================================
four-pixel        :func:`four_pixel`, :func:`four_pixel_example`,
camera            :func:`four_pixel_unlabelled`
X or O            :func:`x_and_o`, :func:`canonical_x`,
                  :func:`canonical_o`, :func:`x_features`
dinner            :func:`dinner`, :func:`dinner_rule`
children's book   :func:`childrens_book` (``max_looks`` for the long
                  version), :func:`book_tokens`,
                  :func:`book_text`, :func:`grammar_errors`,
                  :func:`is_grammatical`, :func:`saw_self`
shawarma cook     :func:`shawarma`, :func:`shawarma_patterns`
M&M bags          :func:`mm_bags`, :func:`seed_counts`
================  ==================================================

Everything random takes ``seed`` and draws from
``np.random.default_rng(seed)`` only, so equal seeds give equal data.
Only NumPy and glassnet's own error classes are used.
"""

from __future__ import annotations

import numbers
import re
from typing import NamedTuple

import numpy as np

from .._validate import check_count, check_number, check_positive, shape_str
from ..errors import ConfigError, DataError, ShapeError

__all__ = [
    "BOOK_VOCAB",
    "DINNER_MENU",
    "FOUR_PIXEL_CLASSES",
    "LONG_BOOK_VOCAB",
    "SHAWARMA_INPUTS",
    "SHAWARMA_SCHEDULES",
    "X_AND_O_CLASSES",
    "Book",
    "Dinner",
    "Labelled",
    "book_text",
    "book_tokens",
    "canonical_o",
    "canonical_x",
    "childrens_book",
    "dinner",
    "dinner_rule",
    "four_pixel",
    "four_pixel_example",
    "four_pixel_unlabelled",
    "grammar_errors",
    "is_grammatical",
    "mm_bags",
    "saw_self",
    "seed_counts",
    "shawarma",
    "shawarma_patterns",
    "x_and_o",
    "x_features",
]


class Labelled(NamedTuple):
    """Inputs, integer labels and the name of each label."""

    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]


# --------------------------------------------------------------------------
# The four-pixel camera
# --------------------------------------------------------------------------

FOUR_PIXEL_CLASSES = ("solid", "vertical", "diagonal", "horizontal")

# (image, label); +1 is a light pixel, -1 a dark one. Rows are top, bottom.
_FOUR_PIXEL = (
    ([[1, 1], [1, 1]], 0),  # all light
    ([[-1, -1], [-1, -1]], 0),  # all dark
    ([[1, -1], [1, -1]], 1),  # light left column
    ([[-1, 1], [-1, 1]], 1),  # light right column
    ([[1, -1], [-1, 1]], 2),  # light top-left to bottom-right
    ([[-1, 1], [1, -1]], 2),  # light top-right to bottom-left
    ([[1, 1], [-1, -1]], 3),  # light top row
    ([[-1, -1], [1, 1]], 3),  # dark top row: the talk's worked example
)


def four_pixel() -> Labelled:
    """Every two-shade 2x2 image that is solid, vertical, diagonal or horizontal.

    A 2x2 camera with black-and-white pixels can take 2**4 = 16 pictures.
    Eight of them are one of the four categories of the story, two per
    category (each pattern and its negative):

    ==========  =====  ==============================================
    label       index  pattern
    ==========  =====  ==============================================
    solid       0, 1   all four pixels the same shade
    vertical    2, 3   the two columns differ, each column one shade
    diagonal    4, 5   a checkerboard: opposite corners share a shade
    horizontal  6, 7   the two rows differ, each row one shade
    ==========  =====  ==============================================

    The other eight pictures have three pixels of one shade and one of
    the other. The story never names a category for them, so they are left
    out here; :func:`four_pixel_unlabelled` returns them for probing what a
    trained network does with a picture it has no answer for.

    Pixels are +1 for light (white) and -1 for dark (black), as in the
    talk (0 would be mid-grey). Image 7 -- dark top row, light bottom row
    -- is the horizontal image the talk pushes through its hand-wired
    network. The talk lists the input neurons as upper-left, lower-left,
    upper-right, lower-right, i.e. column by column; ``X.reshape(8, 4)``
    gives row by row, ``X.transpose(0, 2, 1).reshape(8, 4)`` the talk's order.

    Returns
    -------
    Labelled
        ``X`` float32 (8, 2, 2) with values in {-1, +1}; ``y`` int64 (8,)
        with values 0..3; ``classes`` = :data:`FOUR_PIXEL_CLASSES`.

    Examples
    --------
    >>> data = four_pixel()
    >>> data.X.shape, data.y.tolist()
    ((8, 2, 2), [0, 0, 1, 1, 2, 2, 3, 3])
    >>> data.classes[data.y[7]]
    'horizontal'
    >>> data.X[7]
    array([[-1., -1.],
           [ 1.,  1.]], dtype=float32)
    """
    X = np.array([img for img, _ in _FOUR_PIXEL], dtype=np.float32)
    y = np.array([label for _, label in _FOUR_PIXEL], dtype=np.int64)
    return Labelled(X, y, FOUR_PIXEL_CLASSES)


def four_pixel_example() -> tuple[np.ndarray, int]:
    """The talk's worked example: dark top row, light bottom row.

    Returns
    -------
    image : numpy.ndarray, float32, shape (2, 2)
    label : int
        3, the index of ``"horizontal"`` in :data:`FOUR_PIXEL_CLASSES`.

    Examples
    --------
    >>> image, label = four_pixel_example()
    >>> image.tolist(), FOUR_PIXEL_CLASSES[label]
    ([[-1.0, -1.0], [1.0, 1.0]], 'horizontal')
    """
    img, label = _FOUR_PIXEL[7]
    return np.array(img, dtype=np.float32), label


def four_pixel_unlabelled() -> np.ndarray:
    """The eight 2x2 two-shade images that fit none of the four categories.

    Each has three pixels of one shade and one of the other. The order
    is: one dark pixel among light ones at top-left, top-right,
    bottom-left, bottom-right; then one light pixel among dark ones at the
    same four places.

    Returns
    -------
    numpy.ndarray, float32, shape (8, 2, 2)

    Examples
    --------
    >>> odd = four_pixel_unlabelled()
    >>> odd.shape, odd.sum(axis=(1, 2)).tolist()
    ((8, 2, 2), [2.0, 2.0, 2.0, 2.0, -2.0, -2.0, -2.0, -2.0])
    """
    flip = np.eye(4, dtype=np.float32).reshape(4, 2, 2) * 2
    return np.concatenate([1 - flip, flip - 1])


# --------------------------------------------------------------------------
# X or O
# --------------------------------------------------------------------------

X_AND_O_CLASSES = ("X", "O")


def _distance(kind: np.ndarray, size: int, rows, cols) -> np.ndarray:
    """Pixel distance to the stroke of an X (kind 0) or an O (kind 1).

    ``rows`` and ``cols`` are the pixel centres already moved into the
    shape's own frame (centred, unrotated, unscaled), shape (n, size, size).
    The X is two diagonal segments reaching to one pixel from the border;
    the O is a circle of that same radius.
    """
    reach = (size - 1) / 2 - 1
    radial = np.abs(np.hypot(rows, cols) - reach)
    half = reach * np.sqrt(2.0)
    arms = []
    for sign in (1.0, -1.0):
        along = np.clip((cols + sign * rows) / np.sqrt(2.0), -half, half)
        arms.append(
            np.hypot(cols - along / np.sqrt(2.0), rows - sign * along / np.sqrt(2.0))
        )
    diagonal = np.minimum(*arms)
    return np.where(kind[:, None, None] == 0, diagonal, radial)


def _render(kind, size, shift_rc, scale, angle_deg, width) -> np.ndarray:
    """Pixel art (n, size, size) of ±1 from per-image shape parameters."""
    centre = (size - 1) / 2
    grid = np.arange(size, dtype=np.float64) - centre
    dr = grid[None, :, None] - shift_rc[:, 0, None, None]
    dc = grid[None, None, :] - shift_rc[:, 1, None, None]
    theta = np.deg2rad(angle_deg)[:, None, None]
    cos, sin = np.cos(theta), np.sin(theta)
    s = scale[:, None, None]
    # Undo the rotation and the scaling, measure in the shape's own units,
    # then scale the distance back to pixels.
    cols = (cos * dc + sin * dr) / s
    rows = (-sin * dc + cos * dr) / s
    dist = _distance(kind, size, rows, cols) * s
    lit = dist < width[:, None, None] / 2
    return np.where(lit, 1.0, -1.0).astype(np.float32)


def canonical_x(size: int = 9) -> np.ndarray:
    """The story's X: light diagonals on a dark square, one pixel from the edge.

    For ``size=9`` this is the 9x9 X of the convolution talk: pixel (i, j)
    is +1 when ``1 <= i <= 7`` and ``j == i`` or ``j == 8 - i``, else -1.
    Filtering it with the three :func:`x_features` gives the maps shown in
    the talk (see ``docs/seed-facts.md``).

    Parameters
    ----------
    size : int, default 9
        Side of the square image, at least 5.

    Returns
    -------
    numpy.ndarray, float32, shape (size, size), values in {-1, +1}

    Examples
    --------
    >>> x = canonical_x()
    >>> print("\\n".join("".join("#" if v > 0 else "-" for v in row) for row in x))
    ---------
    -#-----#-
    --#---#--
    ---#-#---
    ----#----
    ---#-#---
    --#---#--
    -#-----#-
    ---------
    """
    check_count("canonical_x(size)", "size", size, low=5)
    one = np.ones(1)
    return _render(np.zeros(1, np.int64), size, np.zeros((1, 2)), one, 0 * one, one)[0]


def canonical_o(size: int = 9) -> np.ndarray:
    """The O drawn the same way as :func:`canonical_x`: a one-pixel ring.

    A pixel is light when its centre lies within half a pixel of a circle
    whose radius reaches one pixel from the border (radius 3 for
    ``size=9``). The talk shows an O but never spells out its pixels; this
    ring is glassnet's choice, made to match the X's size and stroke.

    Parameters
    ----------
    size : int, default 9
        Side of the square image, at least 5.

    Returns
    -------
    numpy.ndarray, float32, shape (size, size), values in {-1, +1}

    Examples
    --------
    >>> o = canonical_o()
    >>> print("\\n".join("".join("#" if v > 0 else "-" for v in row) for row in o))
    ---------
    ---###---
    --#---#--
    -#-----#-
    -#-----#-
    -#-----#-
    --#---#--
    ---###---
    ---------
    """
    check_count("canonical_o(size)", "size", size, low=5)
    one = np.ones(1)
    return _render(np.ones(1, np.int64), size, np.zeros((1, 2)), one, 0 * one, one)[0]


def x_features() -> np.ndarray:
    """The talk's three 3x3 features, in the order it shows them.

    0. a diagonal falling from top-left to bottom-right (one arm of the X),
    1. a small x (the centre of the X),
    2. a diagonal rising from bottom-left to top-right (the other arm).

    Returns
    -------
    numpy.ndarray, float32, shape (3, 3, 3), values in {-1, +1}

    Examples
    --------
    >>> x_features()[1]
    array([[ 1., -1.,  1.],
           [-1.,  1., -1.],
           [ 1., -1.,  1.]], dtype=float32)
    """
    falling = np.where(np.eye(3, dtype=bool), 1.0, -1.0)
    rising = falling[:, ::-1]
    small_x = np.maximum(falling, rising)
    return np.stack([falling, small_x, rising]).astype(np.float32)


def x_and_o(
    n: int = 200,
    size: int = 9,
    seed=0,
    shift: int = 1,
    scale: float = 0.15,
    rotate: float = 15.0,
    thickness: float = 0.3,
) -> Labelled:
    """Pixel-art Xs and Os, moved, resized, turned and re-stroked at random.

    Each image is drawn from a shape description, not copied: an X is two
    diagonal strokes reaching to one pixel from the border, an O a ring of
    the same reach (see :func:`canonical_x`, :func:`canonical_o`). A pixel
    is +1 (light) when its centre lies within half a stroke width of the
    shape, else -1 (dark). Every image gets its own variation, each drawn
    uniformly and independently:

    - ``shift``: a whole-pixel move of the centre, -shift..shift along
      each axis;
    - ``scale``: a size factor in [1 - scale, 1 + scale];
    - ``rotate``: a turn of -rotate..rotate degrees (a ring looks the same
      turned, so this changes only the Xs);
    - ``thickness``: a stroke width in [1 - thickness, 1 + thickness]
      pixels (1 is the canonical width).

    With all four set to 0 every X equals ``canonical_x(size)`` and every O
    equals ``canonical_o(size)``. Shapes moved or grown past the border are
    cut off by it, as a camera would cut them.

    Parameters
    ----------
    n : int, default 200
        Number of images. The classes are balanced: ``n - n // 2`` Xs and
        ``n // 2`` Os, in random order.
    size : int, default 9
        Side of the square images, at least 5.
    seed : int, numpy.random.Generator or None, default 0
        Passed to ``np.random.default_rng``.
    shift : int, default 1
        Largest move in pixels, 0 <= shift < size // 2.
    scale : float, default 0.15
        Largest relative change of size, in [0, 1).
    rotate : float, default 15.0
        Largest turn in degrees, in [0, 180].
    thickness : float, default 0.3
        Largest change of stroke width in pixels, in [0, 1).

    Returns
    -------
    Labelled
        ``X`` float32 (n, 1, size, size) with values in {-1, +1} (one
        channel, NCHW); ``y`` int64 (n,) with 0 = X and 1 = O;
        ``classes`` = ``("X", "O")``.

    Raises
    ------
    glassnet.errors.ConfigError
        If a count or a variation range is out of bounds.

    Examples
    --------
    >>> data = x_and_o(n=10, seed=1)
    >>> data.X.shape, np.bincount(data.y).tolist(), data.classes
    ((10, 1, 9, 9), [5, 5], ('X', 'O'))
    >>> plain = x_and_o(n=4, shift=0, scale=0, rotate=0, thickness=0)
    >>> all((img[0] == (canonical_x() if lab == 0 else canonical_o())).all()
    ...     for img, lab in zip(plain.X, plain.y))
    True
    """
    where = "x_and_o"
    check_positive(where, "n", n, integer=True)
    check_count(where, "size", size, low=5)
    check_count(where, "shift", shift, below=size // 2)
    check_number(where, "scale", scale, 0, 1, high_open=True)
    check_number(where, "rotate", rotate, 0, 180)
    check_number(where, "thickness", thickness, 0, 1, high_open=True)

    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat(np.array([0, 1], np.int64), [n - n // 2, n // 2]))
    moves = rng.integers(-shift, shift + 1, size=(n, 2)).astype(np.float64)
    factors = 1 + rng.uniform(-scale, scale, size=n)
    angles = rng.uniform(-rotate, rotate, size=n)
    widths = 1 + rng.uniform(-thickness, thickness, size=n)
    X = _render(y, size, moves, factors, angles, widths)
    return Labelled(X[:, None], y, X_AND_O_CLASSES)


# --------------------------------------------------------------------------
# What's for dinner
# --------------------------------------------------------------------------

DINNER_MENU = ("pizza", "sushi", "waffles")


class Dinner(NamedTuple):
    """Dinner sequences: inputs, tonight's dish, and the nights you were home."""

    X: np.ndarray
    y: np.ndarray
    home: np.ndarray
    menu: tuple[str, ...]


def _away_mask(where: str, away, n_sequences: int, n_days: int, rng) -> np.ndarray:
    if isinstance(away, numbers.Real) and not isinstance(away, bool):
        p = check_number(where, "away", away, 0, 1, high_open=True)
        return rng.random((n_sequences, n_days)) < p
    mask = np.asarray(away)
    if mask.dtype != bool:
        raise ConfigError(
            f"{where}: away must be a probability in [0, 1) or an array of "
            f"booleans (True = away that night); got dtype {mask.dtype}."
        )
    if mask.shape not in ((n_days,), (n_sequences, n_days)):
        raise ShapeError(
            f"{where} expected away of shape ({n_days},) or "
            f"({n_sequences}, {n_days}); got shape {shape_str(mask.shape)}."
        )
    return np.broadcast_to(mask, (n_sequences, n_days)).copy()


def dinner(n_days: int = 60, seed=0, away=0.2, n_sequences: int = 1) -> Dinner:
    """Nights of a flatmate who cooks pizza, then sushi, then waffles, forever.

    The cook follows one fixed cycle -- pizza -> sushi -> waffles -> pizza
    -- and nothing else (not the weekday, not the month) matters, so
    tonight's dish is always the one after last night's. Each sequence
    starts at a random point of the cycle. On nights you are away you do
    not see what was cooked, so the next day's input is missing.

    Encoding: dish ``i`` is ``DINNER_MENU[i]`` (0 pizza, 1 sushi,
    2 waffles) and the next dish is ``(i + 1) % 3``. The input on day ``t``
    is what you saw on night ``t - 1``: a one-hot row of length 3 if you
    were home that night, all zeros if you were away. Day 0 has no
    previous night, so its input is all zeros. The target ``y[:, t]`` is
    the dish actually cooked on night ``t``, whether or not you were home;
    use ``home`` as a mask if the learner may only see what you saw.

    Parameters
    ----------
    n_days : int, default 60
        Nights per sequence.
    seed : int, numpy.random.Generator or None, default 0
        Passed to ``np.random.default_rng``.
    away : float or array_like of bool, default 0.2
        Either the probability of being away on any one night (drawn
        independently per night), or an explicit mask, True = away, of
        shape (n_days,) (shared by all sequences) or (n_sequences, n_days).
    n_sequences : int, default 1
        Independent sequences (the batch axis).

    Returns
    -------
    Dinner
        ``X`` float32 (n_sequences, n_days, 3), inputs as above;
        ``y`` int64 (n_sequences, n_days), tonight's dish;
        ``home`` bool (n_sequences, n_days), True on nights you ate at home;
        ``menu`` = :data:`DINNER_MENU`.

    See Also
    --------
    dinner_rule : the talk's by-hand reasoning, the best any model can do.

    Examples
    --------
    Two weeks away in the middle of three weeks:

    >>> trip = np.zeros(21, bool)
    >>> trip[3:17] = True
    >>> d = dinner(n_days=21, away=trip)
    >>> d.X.shape, d.y.shape
    ((1, 21, 3), (1, 21))
    >>> bool((d.X[0, 4:18] == 0).all())
    True
    >>> bool(((d.y[0, 1:] - d.y[0, :-1]) % 3 == 1).all())
    True
    """
    where = "dinner"
    check_positive(where, "n_days", n_days, integer=True)
    check_positive(where, "n_sequences", n_sequences, integer=True)
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 3, size=(n_sequences, 1))
    y = ((start + np.arange(n_days)) % 3).astype(np.int64)
    home = ~_away_mask(where, away, n_sequences, n_days, rng)
    X = np.zeros((n_sequences, n_days, 3), dtype=np.float32)
    seen = np.eye(3, dtype=np.float32)[y[:, :-1]] * home[:, :-1, None]
    X[:, 1:] = seen
    return Dinner(X, y, home, DINNER_MENU)


def dinner_rule(X) -> np.ndarray:
    """Predict each night the way the talk does it by hand.

    If you saw last night's dish, tonight is the next one in the cycle.
    If you did not, take your own prediction for last night and move it
    one step on. Before anything has been seen there is nothing to go on.

    Parameters
    ----------
    X : array_like, shape (n_sequences, n_days, 3)
        Inputs as returned by :func:`dinner` (one-hot or all zeros).

    Returns
    -------
    numpy.ndarray, int64, shape (n_sequences, n_days)
        Predicted dish per night, or -1 where no dish has been seen yet.

    Raises
    ------
    glassnet.errors.ShapeError
        If ``X`` is not (n_sequences, n_days, 3).

    Examples
    --------
    >>> d = dinner(n_days=10, away=np.arange(10) % 4 == 1)
    >>> pred = dinner_rule(d.X)
    >>> int(pred[0, 0]), bool((pred[0, 1:] == d.y[0, 1:]).all())
    (-1, True)
    """
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[-1] != 3:
        raise ShapeError(
            "dinner_rule(X) expected inputs (n_sequences, n_days, 3); "
            f"got shape {shape_str(X.shape)}."
        )
    known = X.any(axis=-1)
    saw = X.argmax(axis=-1)
    pred = np.full(X.shape[:2], -1, dtype=np.int64)
    last = np.full(X.shape[0], -1, dtype=np.int64)
    for t in range(X.shape[1]):
        from_memory = np.where(last >= 0, (last + 1) % 3, -1)
        last = np.where(known[:, t], (saw[:, t] + 1) % 3, from_memory)
        pred[:, t] = last
    return pred


# --------------------------------------------------------------------------
# The children's book
# --------------------------------------------------------------------------

BOOK_VOCAB = ("Doug", "Jane", "Spot", "saw", ".")
#: The long book's words: "Doug looked and looked and saw Jane." (ids 5, 6 added).
LONG_BOOK_VOCAB = BOOK_VOCAB + ("looked", "and")
_NAMES = frozenset({0, 1, 2})
_SAW, _STOP, _LOOKED, _AND = 3, 4, 5, 6


class Book(NamedTuple):
    """A children's book as one token stream and next-word training pairs."""

    tokens: np.ndarray
    X: np.ndarray
    y: np.ndarray
    vocab: tuple[str, ...]


def book_tokens(words) -> np.ndarray:
    """Token ids of a story given as text, words, or ids.

    Parameters
    ----------
    words : str or sequence of str or sequence of int
        Text such as ``"Doug saw Jane."`` (case and spacing do not matter;
        a period may touch the word before it), a list of words from
        :data:`LONG_BOOK_VOCAB` (the short book's five words and "looked",
        "and"), or token ids 0..6.

    Returns
    -------
    numpy.ndarray, int64, shape (n_tokens,)

    Raises
    ------
    glassnet.errors.DataError
        If a word is not in the vocabulary or an id is out of range.

    Examples
    --------
    >>> book_tokens("Doug saw Jane. jane SAW spot .").tolist()
    [0, 3, 1, 4, 1, 3, 2, 4]
    """
    if isinstance(words, str):
        words = re.findall(r"[^\s.]+|\.", words)
    items = list(words)
    lookup = {w.lower(): i for i, w in enumerate(LONG_BOOK_VOCAB)}
    ids = []
    for pos, item in enumerate(items):
        if isinstance(item, str):
            if item.lower() not in lookup:
                raise DataError(
                    f"book_tokens: word {pos} ({item!r}) is not in the vocabulary "
                    f"{LONG_BOOK_VOCAB}."
                )
            ids.append(lookup[item.lower()])
        elif isinstance(item, numbers.Integral) and 0 <= item < len(LONG_BOOK_VOCAB):
            ids.append(int(item))
        else:
            raise DataError(
                f"book_tokens: item {pos} ({item!r}) is neither a word of "
                f"{LONG_BOOK_VOCAB} nor a token id 0..{len(LONG_BOOK_VOCAB) - 1}."
            )
    return np.array(ids, dtype=np.int64)


def book_text(tokens) -> str:
    """Render tokens as text, periods attached: ``"Doug saw Jane."``.

    Examples
    --------
    >>> book_text([0, 3, 1, 4, 1, 3, 2, 4])
    'Doug saw Jane. Jane saw Spot.'
    """
    ids = book_tokens(tokens)
    text = " ".join(LONG_BOOK_VOCAB[i] for i in ids)
    return text.replace(" .", ".")


def grammar_errors(tokens, complete: bool = True) -> list[tuple[int, str]]:
    """Every place where ``tokens`` break the children's-book grammar.

    The grammar, as the talk describes the book::

        story    := sentence sentence ...     (at least one)
        sentence := NAME looks "saw" NAME "." (the two names differ)
        looks    := ("looked" "and")*         (none in the talk's short book)
        NAME     := "Doug" | "Jane" | "Spot"

    So a name is followed by "saw" or "looked" (as the subject) or "."
    (as the object), "saw" and "." are followed by a name, "looked" by
    "and", "and" by "looked" or "saw", and a name never sees itself:
    "Doug saw Doug." is the mistake the talk's plain recurrent network
    makes and its LSTM avoids; in the long book ("Doug looked and looked
    and saw Jane.") the subject to avoid is further back. After an error the
    check picks up
    again at the next word that can start or continue a sentence, so one
    slip is reported once, not at every later word.

    Parameters
    ----------
    tokens : str or sequence of str or sequence of int
        Anything :func:`book_tokens` accepts.
    complete : bool, default True
        If True the story must end with a period (and must not be empty);
        if False a story cut off mid-sentence is fine, as when checking a
        fixed number of generated words.

    Returns
    -------
    list of (int, str)
        Token position and a description of each error; empty when the
        story is grammatical.

    Examples
    --------
    >>> grammar_errors("Doug saw Jane. Jane saw Spot.")
    []
    >>> for pos, message in grammar_errors("Doug saw Doug."):
    ...     print(pos, message)
    2 word 2 ('Doug'): Doug cannot see Doug; the object must differ from the subject
    >>> [pos for pos, _ in grammar_errors("Doug saw Jane saw Spot saw")]
    [3, 5, 6]
    >>> grammar_errors("Doug looked and looked and saw Jane.")
    []
    >>> [pos for pos, _ in grammar_errors("Jane looked and saw Jane.")]
    [4]
    """
    ids = book_tokens(tokens)
    errors: list[tuple[int, str]] = []
    # Expected next: 0 a name, 1 "saw" or "looked", 2 the object, 3 ".",
    # 4 "and", 5 "looked" or "saw".
    state, subject = 0, None

    def word(i: int) -> str:
        return f"word {i} ({LONG_BOOK_VOCAB[ids[i]]!r})"

    for i, tok in enumerate(ids):
        tok = int(tok)
        is_name = tok in _NAMES
        if state == 0 and is_name:
            state, subject = 1, tok
        elif state in (1, 5) and tok == _SAW:
            state = 2
        elif state in (1, 5) and tok == _LOOKED:
            state = 4
        elif state == 4 and tok == _AND:
            state = 5
        elif state == 2 and is_name:
            if tok == subject:
                name = BOOK_VOCAB[tok]
                why = "the object must differ from the subject"
                errors.append((i, f"{word(i)}: {name} cannot see {name}; {why}"))
            state = 3
        elif state == 3 and tok == _STOP:
            state, subject = 0, None
        else:
            expected = (
                "a name",
                "'saw' or 'looked'",
                "a name",
                "'.'",
                "'and'",
                "'looked' or 'saw'",
            )[state]
            errors.append((i, f"{word(i)}: expected {expected}"))
            # Pick up again as if this word were used correctly.
            in_sentence = state in (1, 4, 5)
            if tok == _STOP:
                state, subject = 0, None
            elif tok == _SAW:
                prev = int(ids[i - 1]) if i else None
                state = 2
                subject = prev if prev in _NAMES else subject if in_sentence else None
            elif tok in (_LOOKED, _AND):
                state = 4 if tok == _LOOKED else 5
                subject = subject if in_sentence else None
            else:
                state, subject = 1, tok
    if complete and len(ids) == 0:
        errors.append((0, "the story is empty; it needs at least one sentence"))
    elif complete and state != 0:
        errors.append((len(ids), "the story ends in the middle of a sentence"))
    return errors


def is_grammatical(tokens, complete: bool = True) -> bool:
    """True when :func:`grammar_errors` finds nothing.

    Examples
    --------
    >>> is_grammatical("Jane saw Spot. Spot saw Doug.")
    True
    >>> is_grammatical("Doug saw Doug.")
    False
    >>> is_grammatical("Doug saw", complete=False)
    True
    """
    return not grammar_errors(tokens, complete=complete)


def saw_self(tokens) -> list[int]:
    """Positions where a name is followed by "saw" and then the same name.

    This finds the talk's "Doug saw Doug." slip wherever it occurs, with or
    without the closing period, even inside otherwise broken text. Words
    "looked" and "and" between the first name and "saw" are skipped, so the
    long book's "Doug looked and looked and saw Doug." counts too.

    Returns
    -------
    list of int
        Position of the first name of each such slip.

    Examples
    --------
    >>> saw_self("Jane saw Spot. Doug saw Doug.")
    [4]
    >>> saw_self("Jane looked and saw Spot. Doug looked and looked and saw Doug.")
    [6]
    """
    ids = book_tokens(tokens)
    hits = []
    for j in np.flatnonzero(ids[1:-1] == _SAW) + 1:
        first = j - 1
        while first > 0 and ids[first] in (_LOOKED, _AND):
            first -= 1
        if ids[first] < _SAW and ids[first] == ids[j + 1]:
            hits.append(int(first))
    return hits


def childrens_book(n_sentences: int = 100, seed=0, max_looks: int = 0) -> Book:
    """A random children's book: "Doug saw Jane. Spot saw Doug. ..."

    Each sentence picks its subject uniformly from Doug, Jane and Spot and
    its object uniformly from the other two, so all six possible sentences
    are equally likely and every book satisfies :func:`is_grammatical`.
    Sentences are independent; a name may end one sentence and start the
    next ("Jane saw Spot. Spot saw Doug.").

    With ``max_looks`` > 0 this is the *long* book: between the subject and
    "saw" each sentence has k repeats of "looked and", k uniform in
    0..``max_looks`` ("Doug looked and looked and saw Jane."), so the name
    to avoid is 2k + 2 words back from the object instead of 2 -- far
    enough that a plain RNN forgets it and an LSTM does not (the
    children's-book demo measures this).

    Token ids index :data:`LONG_BOOK_VOCAB`: 0 Doug, 1 Jane, 2 Spot, 3 saw,
    4 the period, 5 looked, 6 and (the short book uses only 0..4).

    Parameters
    ----------
    n_sentences : int, default 100
        Sentences in the book (each is 4 + 2k tokens).
    seed : int, numpy.random.Generator or None, default 0
        Passed to ``np.random.default_rng``.
    max_looks : int >= 0, default 0
        Most "looked and" repeats in one sentence; 0 gives the talk's short
        book (and, for a seed, the same subjects and objects as any other
        ``max_looks``).

    Returns
    -------
    Book
        ``tokens`` int64 (T,), the whole book; ``vocab`` is
        :data:`BOOK_VOCAB` for the short book, :data:`LONG_BOOK_VOCAB` for
        the long one; ``X`` float32 (1, T - 1, len(vocab)), one-hot of every
        token but the last; ``y`` int64 (1, T - 1), the token that follows
        each input (next-word prediction).

    Examples
    --------
    >>> book = childrens_book(n_sentences=3, seed=0)
    >>> book.tokens.shape, book.X.shape, book.y.shape
    ((12,), (1, 11, 5), (1, 11))
    >>> is_grammatical(book.tokens), saw_self(book.tokens)
    (True, [])
    >>> book_text(childrens_book(n_sentences=2, seed=0, max_looks=3).tokens)
    'Spot looked and saw Jane. Jane saw Spot.'
    """
    where = "childrens_book"
    check_positive(where, "n_sentences", n_sentences, integer=True)
    check_count(where, "max_looks", max_looks, low=0)
    rng = np.random.default_rng(seed)
    subject = rng.integers(0, 3, size=n_sentences)
    obj = (subject + rng.integers(1, 3, size=n_sentences)) % 3
    looks = (
        rng.integers(0, max_looks + 1, size=n_sentences)
        if max_looks
        else np.zeros(n_sentences, dtype=np.int64)
    )
    tokens = np.concatenate(
        [
            [s, *([_LOOKED, _AND] * k), _SAW, o, _STOP]
            for s, k, o in zip(subject.tolist(), looks.tolist(), obj.tolist())
        ]
    ).astype(np.int64)
    vocab = LONG_BOOK_VOCAB if max_looks else BOOK_VOCAB
    X = np.eye(len(vocab), dtype=np.float32)[tokens[:-1]][None]
    return Book(tokens, X, tokens[None, 1:], vocab)


# --------------------------------------------------------------------------
# The shawarma cook's schedule
# --------------------------------------------------------------------------

SHAWARMA_INPUTS = (
    "working in the morning",
    "off in the morning",
    "working in the evening",
    "off in the evening",
)
SHAWARMA_SCHEDULES = ("morning shift", "evening shift")


def shawarma_patterns() -> np.ndarray:
    """The cook's two schedules as input patterns over :data:`SHAWARMA_INPUTS`.

    Row 0, the morning shift: working in the morning and off in the
    evening. Row 1, the evening shift: off in the morning and working in
    the evening. An input is 1 when it was seen that day, else 0.

    Returns
    -------
    numpy.ndarray, float32, shape (2, 4)

    Examples
    --------
    >>> shawarma_patterns()
    array([[1., 0., 0., 1.],
           [0., 1., 1., 0.]], dtype=float32)
    """
    return np.array([[1, 0, 0, 1], [0, 1, 1, 0]], dtype=np.float32)


def shawarma(n_days: int = 100, seed=0, noise: float = 0.0) -> Labelled:
    """Days of watching the shawarma cook from across the street.

    Each day the cook works one of two schedules, chosen at random with
    equal odds, and the four observations of that day are the schedule's
    row of :func:`shawarma_patterns`. With ``noise`` > 0 each observation
    is misread (0 and 1 swapped) independently with that probability; the
    label stays the true schedule. A layer of two output neurons trained
    on these days should end up with one neuron per schedule.

    Parameters
    ----------
    n_days : int, default 100
        Days observed.
    seed : int, numpy.random.Generator or None, default 0
        Passed to ``np.random.default_rng``.
    noise : float, default 0.0
        Chance of misreading any one observation, in [0, 1).

    Returns
    -------
    Labelled
        ``X`` float32 (n_days, 4) in {0, 1}, columns as
        :data:`SHAWARMA_INPUTS`; ``y`` int64 (n_days,), 0 = morning shift,
        1 = evening shift; ``classes`` = :data:`SHAWARMA_SCHEDULES`.

    Examples
    --------
    >>> days = shawarma(n_days=5)
    >>> bool((days.X == shawarma_patterns()[days.y]).all())
    True
    """
    check_positive("shawarma", "n_days", n_days, integer=True)
    p = check_number("shawarma", "noise", noise, 0, 1, high_open=True)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n_days).astype(np.int64)
    X = shawarma_patterns()[y]
    if p > 0:
        flip = rng.random(X.shape) < p
        X = np.where(flip, 1 - X, X).astype(np.float32)
    return Labelled(X, y, SHAWARMA_SCHEDULES)


# --------------------------------------------------------------------------
# M&Ms per bag
# --------------------------------------------------------------------------


def seed_counts() -> np.ndarray:
    """The two bags counted in the optimisation talk: 53 and 57 M&Ms.

    No single answer is right for both; the guess with the least squared
    error is their mean, 55, a count neither bag had.

    Returns
    -------
    numpy.ndarray, int64, shape (2,)

    Examples
    --------
    >>> seed_counts().tolist(), float(seed_counts().mean())
    ([53, 57], 55.0)
    """
    return np.array([53, 57], dtype=np.int64)


def mm_bags(
    n_bags: int = 40, seed=0, mean: float = 55.5, spread: float = 2.0
) -> np.ndarray:
    """Counts of M&Ms in ``n_bags`` bags, scattered around ``mean``.

    The talk counts two bags (53 and 57, see :func:`seed_counts`) and then,
    after more bags, finds the best guess at about 55.5 by trying every
    guess from 40 to 70; it does not list those further counts. These
    counts imitate them: each is a normal draw with the given mean and
    standard deviation, rounded to a whole M&M and floored at 0.

    Parameters
    ----------
    n_bags : int, default 40
        Number of bags.
    seed : int, numpy.random.Generator or None, default 0
        Passed to ``np.random.default_rng``.
    mean : float, default 55.5
        Centre of the counts.
    spread : float, default 2.0
        Standard deviation of the counts before rounding, >= 0.

    Returns
    -------
    numpy.ndarray, int64, shape (n_bags,)

    Examples
    --------
    >>> counts = mm_bags(n_bags=200, seed=3)
    >>> counts.dtype.name, counts.shape, bool(54 < counts.mean() < 57)
    ('int64', (200,), True)
    """
    check_positive("mm_bags", "n_bags", n_bags, integer=True)
    check_number("mm_bags", "mean", mean, 0)
    check_number("mm_bags", "spread", spread, 0)
    rng = np.random.default_rng(seed)
    counts = np.rint(rng.normal(mean, spread, size=n_bags))
    return np.maximum(counts, 0).astype(np.int64)
