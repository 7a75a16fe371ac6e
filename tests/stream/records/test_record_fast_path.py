"""The fast (msgspec) decode of ``pointer-batches`` records agrees with the strict path.

The fast path may only accept, and only what the strict path accepts, as the same record; every
refusal and its reason come from the strict path (pure logic: no broker needed).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursorprint.stream.records.wire import (
    RECORD_LIMITS,
    PointerBatchRecord,
    WireError,
    WireLimits,
    _fast_record,
)

USER = "ab" * 16


def _valid(**changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "v": 1, "site": "demo", "sid": "fast_path_0001", "seq": 3, "path": "/a/b", "vp": [800, 600],
        "scr": [1920, 1080], "dpr": 1.25, "t0": 1.7e12, "final": False,
        "ev": {"dt": [0, 16, 16.5, 17], "x": [1, 2.5, 3, 3], "y": [5, 6, 7, 7],
               "k": [0, 0, 0, 1], "b": [0, 0, 0, 1]},
        "pt": "pen", "smp": {"src": "raw", "n": 4, "c": 8, "g": 6, "gms": 40.5},
        "user": USER, "recv": 1.7e12 + 80, "bid": "fast_path_0001:3"}
    rec.update(changes)
    return rec


def _outcome(raw: bytes, limits: WireLimits = RECORD_LIMITS) -> Any:
    try:
        return PointerBatchRecord.from_bytes_strict(raw, limits)
    except WireError as exc:
        return ("refused", exc.reason, exc.detail)


def _check(raw: bytes, limits: WireLimits = RECORD_LIMITS) -> PointerBatchRecord | None:
    """The invariant: fast accepts => strict accepts the same record; from_bytes = strict."""
    strict = _outcome(raw, limits)
    fast = _fast_record(PointerBatchRecord, raw, limits)
    if fast is not None:
        assert fast == strict
    try:
        got: Any = PointerBatchRecord.from_bytes(raw, limits)
    except WireError as exc:
        got = ("refused", exc.reason, exc.detail)
    assert got == strict
    return fast


def test_valid_records_take_the_fast_path_as_the_same_record() -> None:
    for rec in (_valid(), {k: v for k, v in _valid().items() if k not in ("pt", "smp")},
                _valid(final=True, ev={c: [] for c in ("dt", "x", "y", "k", "b")})):
        raw = json.dumps(rec).encode()
        fast = _check(raw)
        assert fast is not None and fast == PointerBatchRecord.from_bytes_strict(raw)
    # ints stay ints and decimals floats, as json reads them
    ev = _check(json.dumps(_valid()).encode()).ev   # type: ignore[union-attr]
    assert [type(v) for v in ev["dt"]] == [int, int, float, int]


@pytest.mark.parametrize(("text", "reason"), [
    # a literal longer than 64 characters, though its value is in range
    ('"x": [1, 2.5, 3, 3]', '"x": [1, 2.5, 3, 0.' + "0" * 70 + "1]"),
    ('"seq": 3', '"seq": 3' + "0" * 20),                       # beyond 2**53
    ('"t0": 1700000000000.0', '"t0": 1e999'),                  # overflows a double
    ('"path": "/a/b"', '"path": "/\\ud800"'),                  # lone surrogate
    ('"sid": "fast_path_0001"', '"sid": "fast_path_0001\\n"'),  # `$` matches before a newline
    ('"x": [1, 2.5, 3, 3]', '"x": [1, 2.5, true, 3]'),
    ('"k": [0, 0, 0, 1]', '"k": [0, 0, 0, 1.0]'),
    ('"b": [0, 0, 0, 1]', '"b": [0, 0, 0, 0]'),                # a press without a button
    ('"gms": 40.5', '"gms": 700'),                             # 6 gaps shorter than 100 ms
    ('"bid": "fast_path_0001:3"', '"bid": "fast_path_0001:4"'),
    ('"pt": "pen"', '"pt": null'),
    ('"v": 1', '"v": 1, "token": "p.s"'),
])
def test_poison_records_are_refused_by_the_strict_path_with_its_reason(text: str,
                                                                       reason: str) -> None:
    raw = json.dumps(_valid()).encode()
    assert text.encode() in raw
    bad = raw.replace(text.encode(), reason.encode(), 1)
    assert _check(bad) is None
    with pytest.raises(WireError) as exc:
        PointerBatchRecord.from_bytes(bad)
    assert exc.value.status == 422 and exc.value.detail


def test_what_only_the_strict_path_can_judge_is_still_accepted() -> None:
    # non-ASCII text and a path that needs normalising: the strict path decides, and accepts
    for rec in (_valid(path="/caf\u00e9/12345"), _valid(path="/a?q=" + "x" * 3000)):
        raw = json.dumps(rec, ensure_ascii=False).encode()
        assert isinstance(PointerBatchRecord.from_bytes(raw), PointerBatchRecord)
        _check(raw)
    # other limits get a decoder of their own
    _check(json.dumps(_valid()).encode(), WireLimits(max_coord=2.0))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)
FIELDS = [*_valid(), "token"]
COLS = ["dt", "x", "y", "k", "b"]
SMP = ["src", "n", "c", "g", "gms"]


@st.composite
def mutated_record(draw: st.DrawFn) -> bytes:
    rec = _valid()
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["set", "drop", "col", "value", "smp"]))
        if what == "set":
            rec[draw(st.sampled_from(FIELDS))] = draw(json_values)
        elif what == "drop":
            rec.pop(draw(st.sampled_from(FIELDS)), None)
        elif what == "smp" and isinstance(rec.get("smp"), dict):
            rec["smp"][draw(st.sampled_from(SMP))] = draw(
                st.integers(-2, 2**31) | st.floats(-1, 1e4) | json_values)
        elif isinstance(rec.get("ev"), dict) and what == "col":
            rec["ev"][draw(st.sampled_from(COLS))] = draw(st.lists(
                st.integers(-3, 5) | st.floats(-1e6, 4e6) | json_values, max_size=5))
        elif isinstance(rec.get("ev"), dict) and isinstance(rec["ev"].get("b"), list) \
                and len(rec["ev"]["b"]) > 1:
            col = rec["ev"][draw(st.sampled_from(COLS))]
            if isinstance(col, list) and col:
                col[draw(st.integers(0, len(col) - 1))] = draw(
                    st.integers(-1, 5) | st.floats(-2e5, 4e6) | st.booleans())
    return json.dumps(rec).encode()


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(mutated_record())
def test_fast_and_strict_paths_agree_on_mutated_records(raw: bytes) -> None:
    _check(raw)
