"""The shared argparse number types refuse bad values with a message naming them."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from cursorprint.stream.cli.argtypes import (
    int_at_least,
    non_negative_int,
    positive_int,
    tcp_port,
)
from cursorprint.stream.cli.root import build_parser


def test_accepts_values_at_and_above_the_minimum() -> None:
    assert positive_int("1") == 1 and positive_int("42") == 42
    assert non_negative_int("0") == 0
    assert int_at_least(8)("8") == 8
    assert tcp_port("1") == 1 and tcp_port("65535") == 65535


@pytest.mark.parametrize(("parse", "text", "message"), [
    (positive_int, "0", "expected a positive integer, got '0'"),
    (positive_int, "-3", "expected a positive integer, got '-3'"),
    (positive_int, "2.5", "expected a positive integer, got '2.5'"),
    (non_negative_int, "-1", "expected an integer >= 0, got '-1'"),
    (int_at_least(8), "x", "expected an integer >= 8, got 'x'"),
    (tcp_port, "0", "expected a TCP port (1..65535), got '0'"),
    (tcp_port, "65536", "expected a TCP port (1..65535), got '65536'"),
    (tcp_port, "http", "expected a TCP port (1..65535), got 'http'"),
])
def test_refuses_with_the_bad_value_named(parse: Callable[[str], int], text: str,
                                          message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as err:
        parse(text)
    assert str(err.value) == message


@pytest.mark.parametrize("argv", [["ingest", "--port", "70000"],
                                  ["decide", "serve", "--port", "70000"],
                                  ["worker", "scorer", "--web-port", "70000"]])
def test_every_listening_command_refuses_a_bad_port(argv: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert "expected a TCP port (1..65535), got '70000'" in capsys.readouterr().err
