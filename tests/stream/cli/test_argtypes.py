"""The shared argparse number types refuse bad values with a message naming them."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from cursorprint.stream.cli.argtypes import int_at_least, non_negative_int, positive_int


def test_accepts_values_at_and_above_the_minimum() -> None:
    assert positive_int("1") == 1 and positive_int("42") == 42
    assert non_negative_int("0") == 0
    assert int_at_least(8)("8") == 8


@pytest.mark.parametrize(("parse", "text", "message"), [
    (positive_int, "0", "expected a positive integer, got '0'"),
    (positive_int, "-3", "expected a positive integer, got '-3'"),
    (positive_int, "2.5", "expected a positive integer, got '2.5'"),
    (non_negative_int, "-1", "expected an integer >= 0, got '-1'"),
    (int_at_least(8), "x", "expected an integer >= 8, got 'x'"),
])
def test_refuses_with_the_bad_value_named(parse: Callable[[str], int], text: str,
                                          message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as err:
        parse(text)
    assert str(err.value) == message
