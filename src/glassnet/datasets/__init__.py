"""Datasets: the bundled handwritten digits and the seed stories as generators.

Every generator takes a ``seed`` and is reproducible; nothing is downloaded.
"""

from .digits import Dataset, digits  # noqa: F401
from .stories import (  # noqa: F401
    BOOK_VOCAB,
    DINNER_MENU,
    FOUR_PIXEL_CLASSES,
    LONG_BOOK_VOCAB,
    SHAWARMA_INPUTS,
    SHAWARMA_SCHEDULES,
    X_AND_O_CLASSES,
    book_text,
    book_tokens,
    canonical_o,
    canonical_x,
    childrens_book,
    dinner,
    dinner_rule,
    four_pixel,
    four_pixel_example,
    four_pixel_unlabelled,
    grammar_errors,
    is_grammatical,
    mm_bags,
    saw_self,
    seed_counts,
    shawarma,
    shawarma_patterns,
    x_and_o,
    x_features,
)
