"""Wire batch validation, the pointer-batches record and the rate limiter (pure logic)."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from cursorprint.model.data.trajectory import KIND_DOWN, KIND_MOVE
from cursorprint.stream.ingest.ratelimit import TokenBuckets
from cursorprint.stream.records.wire import (
    PointerBatchRecord,
    WireError,
    WireLimits,
    loads_json,
    parse_wire_batch,
)

NOW = 1.7e12


def batch(**changes: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "v": 1, "site": "demo", "token": "p.s", "sid": "abcdefgh_123", "seq": 0, "path": "/a",
        "vp": [800, 600], "scr": [1920, 1080], "dpr": 1.5, "t0": NOW - 500, "final": False,
        "ev": {"dt": [0, 8, 8.5, 10], "x": [1, 2, 3.5, 3.5], "y": [5, 6, 7, 7],
               "k": [0, 0, 0, 1], "b": [0, 0, 0, 1]}}
    b.update(changes)
    return b


def test_valid_batch_parses() -> None:
    wb = parse_wire_batch(batch(), NOW)
    assert wb.n_events == 4 and wb.vp == (800, 600) and wb.token == "p.s"


def _ev(**cols: Any) -> dict[str, Any]:
    ev = copy.deepcopy(batch()["ev"])
    ev.update(cols)
    return ev


@pytest.mark.parametrize(("change", "reason"), [
    ({"v": 2}, "unsupported_version"),
    ({"v": True}, "unsupported_version"),
    ({"extra": 1}, "unknown_field"),
    ({"sid": "short"}, "invalid_field"),
    ({"sid": "has space in it"}, "invalid_field"),
    ({"seq": -1}, "invalid_field"),
    ({"seq": 1.5}, "invalid_field"),
    ({"seq": True}, "invalid_field"),
    ({"path": "no-slash"}, "invalid_field"),
    ({"path": "/" + "a" * 3000}, "invalid_field"),
    ({"vp": [800]}, "invalid_field"),
    ({"vp": [0, 600]}, "invalid_field"),
    ({"scr": "1920x1080"}, "invalid_field"),
    ({"dpr": 0}, "invalid_field"),
    ({"t0": NOW + 10 * 86_400_000}, "invalid_field"),
    ({"t0": "now"}, "invalid_field"),
    ({"final": 1}, "invalid_field"),
    ({"token": ""}, "token_missing"),
    ({"site": "bad site"}, "invalid_field"),
    ({"ev": _ev(dt=[0, -1, 8, 8])}, "invalid_field"),
    ({"ev": _ev(dt=[0, 8, 8])}, "invalid_field"),
    ({"ev": _ev(x=[1, 2, "3", 4])}, "invalid_field"),
    ({"ev": _ev(x=[1, 2, True, 4])}, "invalid_field"),
    ({"ev": _ev(y=[1, 2, 1e9, 4])}, "invalid_field"),
    ({"ev": _ev(k=[0, 0, 0, 9])}, "invalid_field"),
    ({"ev": _ev(k=[0, 0, 0, 1.0])}, "invalid_field"),
    ({"ev": _ev(b=[0, 0, 0, 0])}, "invalid_field"),
    ({"ev": _ev(dt=[0, 8, 8, 4e6])}, "invalid_field"),
    ({"ev": {"dt": [], "x": [], "y": [], "k": [], "b": []}}, "invalid_field"),
    ({"ev": [1, 2]}, "invalid_field"),
])
def test_bad_batches_are_rejected_with_a_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(WireError) as exc:
        parse_wire_batch(batch(**change), NOW)
    assert exc.value.reason == reason


def test_missing_field_and_event_limit() -> None:
    b = batch()
    del b["dpr"]
    with pytest.raises(WireError, match="missing_field"):
        parse_wire_batch(b, NOW)
    with pytest.raises(WireError, match="too_many_events"):
        parse_wire_batch(batch(), NOW, WireLimits(max_events=3))
    empty_final = batch(final=True, ev={"dt": [], "x": [], "y": [], "k": [], "b": []})
    assert parse_wire_batch(empty_final, NOW).n_events == 0


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{", "malformed_json"), (b"\xff\xfe", "bad_encoding"), (b'{"x": NaN}', "malformed_json"),
    (b"[" * 100000, "malformed_json")])
def test_strict_json(raw: bytes, reason: str) -> None:
    with pytest.raises(WireError) as exc:
        loads_json(raw)
    assert exc.value.reason == reason


def test_record_round_trip_and_trajectory() -> None:
    rec = PointerBatchRecord.from_wire(parse_wire_batch(batch(seq=7), NOW), "ab" * 16, NOW)
    raw = rec.to_bytes()
    assert rec.key == b"abcdefgh_123"
    obj = json.loads(raw)
    assert "token" not in obj and obj["bid"] == "abcdefgh_123:7" and obj["user"] == "ab" * 16
    back = PointerBatchRecord.from_bytes(raw)
    assert back == rec
    traj = back.to_trajectory()
    np.testing.assert_allclose(traj.t, [0, 0.008, 0.0165, 0.0265])
    assert traj.screen == (800, 600)
    assert list(traj.kind) == [KIND_MOVE] * 3 + [KIND_DOWN]
    assert traj.x.dtype == np.float32 and len(traj) == 4


@pytest.mark.parametrize("mutate", [
    lambda o: o.pop("user"), lambda o: o.update(user="alice"), lambda o: o.update(bid="x:1"),
    lambda o: o.update(token="p.s"), lambda o: o.update(recv=-1)])
def test_malformed_records_raise_wire_error(mutate: Any) -> None:
    rec = PointerBatchRecord.from_wire(parse_wire_batch(batch(), NOW), "ab" * 16, NOW)
    obj = json.loads(rec.to_bytes())
    mutate(obj)
    with pytest.raises(WireError):
        PointerBatchRecord.from_bytes(json.dumps(obj).encode())
    with pytest.raises(WireError):
        PointerBatchRecord.from_bytes(b"not json")


def test_token_bucket_refills_and_bounds_keys() -> None:
    now = [0.0]
    tb = TokenBuckets(rate=2.0, burst=3, max_keys=2, clock=lambda: now[0])
    assert [tb.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert tb.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert tb.take("a") == 0.0
    tb.take("b")
    tb.take("c")
    assert len(tb) == 2
