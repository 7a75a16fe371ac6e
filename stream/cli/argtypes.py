"""argparse types shared by every ``cursorprint`` sub-command (model/ and stream/ alike), so a
bad number on any command line is refused with the same message naming the value."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["int_at_least", "positive_int", "non_negative_int", "tcp_port"]


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type=``: an integer >= ``minimum``."""
    want = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return v

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def tcp_port(text: str) -> int:
    """An argparse ``type=``: a TCP port to listen on, 1..65535."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port (1..65535), got {text!r}") from None
    if not 0 < v < 65536:
        raise argparse.ArgumentTypeError(f"expected a TCP port (1..65535), got {text!r}")
    return v
