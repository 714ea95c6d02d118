"""contract/numbers.py: the one owner of numeric arguments refuses wrong numbers."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from iadbench.contract.errors import ArgumentError, IADBenchError
from iadbench.contract.numbers import optional_whole_number, real_number, whole_number


@pytest.mark.parametrize("value", [True, False, 2.5, 3.0, "3", None, [1], Fraction(1, 2)])
def test_whole_number_refuses_what_is_not_a_whole_number(value):
    with pytest.raises(ArgumentError, match=r"^--limit must be a whole number, got "):
        whole_number(value, name="--limit", minimum=1)


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "message"),
    [
        (0, 1, None, "--batch-size must be at least 1, got 0"),
        (-1, 1, None, "--batch-size must be at least 1, got -1"),
        (-1, 0, None, "--batch-size must be 0 or more, got -1"),
        (5, None, 4, "--batch-size must be at most 4, got 5"),
        (5, 1, 4, "--batch-size must be between 1 and 4, got 5"),
    ],
)
def test_whole_number_refuses_out_of_range(value, minimum, maximum, message):
    with pytest.raises(ArgumentError) as caught:
        whole_number(value, name="--batch-size", minimum=minimum, maximum=maximum)
    assert str(caught.value) == message
    assert isinstance(caught.value, IADBenchError)  # the CLI prints it as one sentence, exit 2


def test_whole_number_accepts_numpy_integers_and_the_bounds():
    assert whole_number(np.int64(4), name="n", minimum=1, maximum=4) == 4
    assert type(whole_number(np.int64(4), name="n")) is int
    assert whole_number(1, name="n", minimum=1) == 1
    assert optional_whole_number(None, name="n", minimum=1) is None
    with pytest.raises(ArgumentError):
        optional_whole_number(0, name="n", minimum=1)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_real_number_refuses_non_finite(value):
    with pytest.raises(ArgumentError, match="must be a finite number"):
        real_number(value, name="--scale", minimum=0)


@pytest.mark.parametrize("value", [True, "0.5", None])
def test_real_number_refuses_non_numbers(value):
    with pytest.raises(ArgumentError, match="--scale must be a number"):
        real_number(value, name="--scale")


def test_real_number_range_and_conversion():
    assert real_number(1, name="q", minimum=0, maximum=1) == 1.0
    assert type(real_number(1, name="q")) is float
    with pytest.raises(ArgumentError, match="between 0 and 1, got 1.5"):
        real_number(1.5, name="q", minimum=0, maximum=1)
