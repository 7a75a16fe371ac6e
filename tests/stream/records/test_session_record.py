"""The ``sessions`` record's pointer field: optional for older records, checked when present."""

from __future__ import annotations

import json

import pytest

from cursorprint.stream.records.session import SessionRecord, SessionRecordError


def _record(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "v": 1, "session_id": "s-1", "user": "u" * 32, "site": "demo", "path": "/",
        "screen": [1280, 720], "part": "final", "cause": "exit", "t0": 0, "closed_at": 1.0,
        "t": [0.0, 0.01], "x": [1.0, 2.0], "y": [3.0, 4.0], "k": [0, 0], "b": [0, 0]}
    base.update(fields)
    return base


def test_a_record_without_pointer_is_a_mouse_session() -> None:
    rec = SessionRecord.from_bytes(json.dumps(_record()).encode())
    assert rec.pointer == "mouse"


@pytest.mark.parametrize("pointer", ["touch", "pen", "mixed"])
def test_pointer_round_trips(pointer: str) -> None:
    rec = SessionRecord.from_bytes(json.dumps(_record(pointer=pointer)).encode())
    assert rec.pointer == pointer
    assert SessionRecord.from_bytes(rec.to_bytes()) == rec


def test_an_unknown_pointer_is_refused_by_name() -> None:
    with pytest.raises(SessionRecordError, match="pointer 'stylus'"):
        SessionRecord.from_bytes(json.dumps(_record(pointer="stylus")).encode())
