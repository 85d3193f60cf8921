"""glassnet._validate: the one home of input checks, and the callers that use it."""

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from glassnet import _validate as v
from glassnet.datasets import stories
from glassnet.errors import ConfigError
from glassnet.nn import Step
from glassnet.optim.free import CoordinateNudge, GeneticAlgorithm, RandomSearch

NOT_NUMBERS = [True, "1", None, [1], math.nan, math.inf, -math.inf]


@given(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.floats(-10, 10),
    st.floats(0, 10),
    st.booleans(),
    st.booleans(),
)
def test_check_number_accepts_exactly_its_interval(x, low, width, low_open, high_open):
    high = low + width
    inside = (x > low if low_open else x >= low) and (
        x < high if high_open else x <= high
    )
    args = ("f", "a", x, low, high, high_open, low_open)
    if inside:
        assert v.check_number(*args) == x
    else:
        bottom = "(" if low_open else "["
        top = ")" if high_open else "]"
        with pytest.raises(ConfigError) as e:
            v.check_number(*args)
        assert str(e.value) == (
            f"f: a must be a number in {bottom}{low}, {high}{top}; got {x!r}."
        )


@pytest.mark.parametrize("bad", NOT_NUMBERS)
def test_number_checks_refuse_what_is_not_a_finite_real(bad):
    with pytest.raises(ConfigError, match=r"^f: a must be a number in \[0, 1\]; got"):
        v.check_number("f", "a", bad, 0, 1)
    if bad is not None:
        with pytest.raises(ConfigError, match="^f: a must be a finite number; got"):
            v.check_real("f", "a", bad, allow_none=True)


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-5, 5))
def test_check_real_returns_a_float(x):
    assert v.check_real("f", "a", x) == float(x)
    assert isinstance(v.check_real("f", "a", np.float32(1.5)), float)
    assert v.check_real("f", "a", None, allow_none=True) is None
    with pytest.raises(ConfigError, match="^f: a must be a finite number; got None"):
        v.check_real("f", "a", None)


@given(st.integers(-20, 20), st.integers(0, 6), st.none() | st.integers(0, 20))
def test_check_count_accepts_integers_from_low_below_the_limit(x, low, below):
    ok = x >= low and (below is None or x < below)
    if ok:
        assert v.check_count("f", "n", x, low, below) == x
        assert v.check_count("f", "n", np.int64(x), low, below) == x
        return
    need = "a non-negative integer" if low == 0 else f"an integer of at least {low}"
    limit = "" if below is None else f" below {below}"
    with pytest.raises(ConfigError) as e:
        v.check_count("f", "n", x, low, below)
    assert str(e.value) == f"f: n must be {need}{limit}; got {x}."


@pytest.mark.parametrize("bad", [True, 3.0, "3", None, math.nan])
def test_check_count_refuses_what_is_not_an_integer(bad):
    with pytest.raises(ConfigError, match="^f: n must be a non-negative integer; got"):
        v.check_count("f", "n", bad)


# --- the callers: one wording for one check -------------------------------------------
@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: stories.canonical_x(4),
            r"canonical_x\(size\): size must be an "
            "integer of at least 5; got 4.",
        ),
        (
            lambda: stories.x_and_o(size=9, shift=4),
            "x_and_o: shift must be a non-negative integer below 4; got 4.",
        ),
        (
            lambda: stories.x_and_o(scale=1.0),
            r"x_and_o: scale must be a number in "
            r"\[0, 1\); got 1.0.",
        ),
        (
            lambda: stories.x_and_o(rotate=181),
            r"x_and_o: rotate must be a number in "
            r"\[0, 180\]; got 181.",
        ),
        (
            lambda: stories.shawarma(noise=-0.1),
            r"shawarma: noise must be a number in "
            r"\[0, 1\); got -0.1.",
        ),
        (
            lambda: stories.dinner(away=1),
            r"dinner: away must be a number in "
            r"\[0, 1\); got 1.",
        ),
        (
            lambda: stories.mm_bags(mean=-1.0),
            r"mm_bags: mean must be a number in "
            r"\[0, inf\); got -1.0.",
        ),
        (
            lambda: GeneticAlgorithm(crossover_rate="0.5"),
            r"GeneticAlgorithm: "
            r"crossover_rate must be a number in \[0, 1\]; got '0.5'.",
        ),
        (
            lambda: CoordinateNudge(shrink=0),
            r"CoordinateNudge: shrink must be a "
            r"number in \(0, 1\]; got 0.",
        ),
        (
            lambda: RandomSearch(target_loss=math.nan),
            "RandomSearch: target_loss must be a finite number; got nan.",
        ),
        (
            lambda: Step(threshold=math.inf),
            "Step: threshold must be a finite number; got inf.",
        ),
    ],
)
def test_callers_word_each_check_the_same_way(call, message):
    with pytest.raises(ConfigError, match=f"^{message}$"):
        call()


def test_range_checks_are_not_written_again_outside_validate():
    """The helpers that moved to _validate.py have no twins left behind."""
    moved = {
        "check_real",
        "check_fraction",
        "check_nonnegative",
        "check_count",
        "check_number",
        "is_count",
    }
    src = Path(v.__file__).parent
    for path in src.rglob("*.py"):
        if path.name == "_validate.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                assert node.name.lstrip("_") not in moved, (
                    f"{path.relative_to(src)} defines {node.name}; use "
                    "glassnet._validate's"
                )
