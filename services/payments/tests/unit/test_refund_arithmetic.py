"""Credits taken back by a cumulative refunded amount."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.model import credits_refunded_for


@pytest.mark.parametrize(
    ("credits", "total", "refunded", "expected"),
    [(100, 2000, 0, 0), (100, 2000, 500, 25), (100, 2000, 1999, 99), (100, 2000, 2000, 100), (100, 2000, 9999, 100),
     (3, 1000, 334, 1), (100, 0, 0, 0), (100, 0, 1, 100)],
)  # fmt: skip
def test_in_proportion_rounded_down_and_all_of_it_when_all_is_refunded(
    credits: int, total: int, refunded: int, expected: int
) -> None:
    assert credits_refunded_for(credits, total, refunded) == expected


@given(
    st.integers(1, 10**6),
    st.integers(1, 10**7),
    st.lists(st.integers(0, 10**7), min_size=1, max_size=6),
)
def test_levels_only_grow_and_never_pass_what_was_bought(credits: int, total: int, steps: list[int]) -> None:
    level, refunded = 0, 0
    for step in steps:
        refunded = min(total, refunded + step)
        new_level = credits_refunded_for(credits, total, refunded)
        assert level <= new_level <= credits
        level = new_level
    assert (level == credits) == (refunded == total)
