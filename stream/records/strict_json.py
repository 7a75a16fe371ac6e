"""Strict JSON for everything ingest reads and every record decoder: UTF-8 only, no ``NaN`` or
``Infinity``, and every number bounded while it is read.

Python's ``json`` turns ``1e999`` into ``inf`` and a 400-digit literal into an int that no
double or numpy array can hold (``OverflowError`` far from the parser), and refuses a 5,000-digit
integer with a bare ``ValueError``. Here an integer beyond ±2**53 (not exact in JavaScript or a
double) and a literal that overflows a double are refused at once, as a 422
``number_out_of_range``, whatever field they are in; text that is not JSON is a 400.
"""

from __future__ import annotations

import json
from typing import Any

from cursorprint.stream.records.errors import WireError

__all__ = ["loads_json", "MAX_SAFE_INTEGER", "MAX_NUMBER_CHARS"]

MAX_SAFE_INTEGER = 2**53          # JavaScript's Number.MAX_SAFE_INTEGER + 1: exact in a double
MAX_NUMBER_CHARS = 64             # longer number literals are refused before conversion


def _reject_constant(name: str) -> Any:
    raise WireError("malformed_json", f"{name} is not valid JSON", status=400)


def _parse_int(text: str) -> int:
    if len(text) <= MAX_NUMBER_CHARS:
        value = int(text)
        if abs(value) <= MAX_SAFE_INTEGER:
            return value
    raise WireError("number_out_of_range", f"integer {text[:24]}{'...' if len(text) > 24 else ''}"
                    f" is beyond ±2**53")


def _parse_float(text: str) -> float:
    if len(text) <= MAX_NUMBER_CHARS:
        value = float(text)
        if abs(value) < float("inf"):
            return value
    raise WireError("number_out_of_range", f"number {text[:24]}{'...' if len(text) > 24 else ''}"
                    " does not fit a double")


def loads_json(raw: bytes) -> Any:
    """Strict JSON decode (UTF-8, no NaN/Infinity, every number finite and within ±2**53 when
    an integer); :class:`WireError` on failure (400 when it is not JSON, 422 for a number)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("bad_encoding", "body is not UTF-8", status=400) from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int,
                          parse_float=_parse_float)
    except RecursionError:
        raise WireError("malformed_json", "JSON nested too deeply", status=400) from None
    except WireError:
        raise
    except ValueError as exc:
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:200]
        raise WireError("malformed_json", f"body is not JSON ({why})", status=400) from None
