"""The ``dead-letter`` record: what could not be processed, where it came from, and why.

Anything an agent accepted but cannot process ends here with the original bytes, so nothing is
lost silently and an operator can replay it after a fix.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DeadLetter", "dead_letter_value", "SendDeadLetter"]

MAX_VALUE_BYTES = 100_000
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not be processed, with the error."""

    source: str
    error: str
    value: bytes


def dead_letter_value(source: str, error: str, value: bytes, partition: int | None = None,
                      offset: int | None = None) -> bytes:
    """The dead-letter message: where it came from, the error, and the original bytes (as text
    when they are UTF-8, else base64)."""
    try:
        text: str | None = value.decode("utf-8")[:MAX_VALUE_BYTES]
        b64 = None
    except UnicodeDecodeError:
        text, b64 = None, base64.b64encode(value[:MAX_VALUE_BYTES]).decode()
    return json.dumps({"v": 1, "source": source, "partition": partition, "offset": offset,
                       "error": error[:MAX_ERROR_CHARS], "value": text, "value_b64": b64,
                       "time": time.time() * 1000.0}, separators=(",", ":")).encode()


class SendDeadLetter(Protocol):
    """How an agent hands a record it cannot process to the dead-letter topic (the worker
    publishes it and waits for the broker before the agent moves on)."""

    async def __call__(self, source: str, error: str, value: bytes,
                       partition: int | None = None, offset: int | None = None) -> None: ...
