"""Wire batch validation, the pointer-batches record and the rate limiter (pure logic)."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from cursorprint.model.data.trajectory import KIND_DOWN, KIND_MOVE
from cursorprint.stream.ingest.ratelimit import TokenBuckets
from cursorprint.stream.records.errors import RejectedInput, TokenError
from cursorprint.stream.records.wire import (
    PointerBatchRecord,
    Sampling,
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
    with pytest.raises(RejectedInput) as exc:
        parse_wire_batch(batch(**change), NOW)
    assert exc.value.reason == reason
    want = (TokenError, 401) if reason.startswith("token") else (WireError, 422)
    assert isinstance(exc.value, want[0]) and exc.value.status == want[1]


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
    assert exc.value.reason == reason and exc.value.status == 400


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


def _raw(b: dict[str, Any], **literal: str) -> bytes:
    """``b`` as JSON with some values replaced by raw JSON literals (huge numbers)."""
    text = json.dumps({**b, **{k: f"@@{k}@@" for k in literal}})
    for k, v in literal.items():
        text = text.replace(f'"@@{k}@@"', v)
    return text.encode()


@pytest.mark.parametrize("field", ["dpr", "t0", "seq"])
@pytest.mark.parametrize("literal", ["9" * 400, "-" + "9" * 5000, "1e999", "-1e400",
                                     "1" * 70 + ".5", str(2**53 + 1)])
def test_numbers_of_any_size_are_refused_with_422_not_a_crash(field: str, literal: str) -> None:
    with pytest.raises(WireError) as exc:
        parse_wire_batch(loads_json(_raw(batch(), **{field: literal})), NOW)
    assert exc.value.status == 422
    assert exc.value.reason in {"number_out_of_range", "invalid_field"}


@pytest.mark.parametrize("column", ["dt", "x", "y", "k", "b"])
def test_huge_numbers_inside_event_columns_are_refused(column: str) -> None:
    text = json.dumps(batch()).replace(f'"{column}": [', f'"{column}": [{"7" * 400}, ', 1)
    with pytest.raises(WireError) as exc:
        parse_wire_batch(loads_json(text.encode()), NOW)
    assert exc.value.status == 422 and exc.value.reason == "number_out_of_range"


def test_safe_integers_and_tiny_numbers_still_pass() -> None:
    raw = _raw(batch(), t0=str(int(NOW)), dpr="1.0000000000000000000000001")
    wb = parse_wire_batch(loads_json(raw), NOW)
    assert wb.t0 == NOW and wb.dpr == 1.0
    ev = _ev(x=[1e-320, 0.0, -0.0, 5e-324])
    assert parse_wire_batch(batch(ev=ev), NOW).n_events == 4


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**400])
def test_a_dict_not_from_loads_json_is_checked_too(value: Any) -> None:
    for change in ({"dpr": value}, {"t0": value}, {"ev": _ev(x=[1, 2, value, 4])},
                   {"ev": _ev(dt=[0, value, 8, 8])}):
        with pytest.raises(WireError):
            parse_wire_batch(batch(**change), NOW)


def test_lone_surrogate_in_path_is_refused_and_paths_are_normalised() -> None:
    with pytest.raises(WireError) as exc:
        # json.dumps writes the lone surrogate as the escape \ud800: valid JSON
        parse_wire_batch(loads_json(json.dumps(batch(path="/\ud800")).encode()), NOW)
    assert exc.value.status == 422 and "surrogate" in exc.value.detail
    wb = parse_wire_batch(batch(path="/u/alice@example.com/orders?id=123#x"), NOW)
    assert wb.path == "/u/:redacted/orders"


def test_record_decoder_normalises_a_path_it_did_not_get_from_ingest() -> None:
    rec = PointerBatchRecord.from_wire(parse_wire_batch(batch(), NOW), "ab" * 16, NOW)
    obj = json.loads(rec.to_bytes())
    obj["path"] = "/user/1234567/x y?q=1"
    back = PointerBatchRecord.from_bytes(json.dumps(obj).encode())
    assert back.path == "/user/:redacted/x%20y"
    assert PointerBatchRecord.from_bytes(rec.to_bytes()).path == rec.path == "/a"


def test_unknown_field_names_are_quoted_safely() -> None:
    with pytest.raises(WireError) as exc:
        parse_wire_batch(batch(**{"\ud800" * 1000: 1}), NOW)
    assert exc.value.reason == "unknown_field" and len(exc.value.detail) < 100
    exc.value.detail.encode("utf-8")


def test_record_decoder_takes_any_event_count_ingest_was_configured_to_accept() -> None:
    n = 6000      # CURSORPRINT_INGEST_MAX_EVENTS may be raised above the default 5000
    ev = {"dt": [1] * n, "x": [0] * n, "y": [0] * n, "k": [0] * n, "b": [0] * n}
    wb = parse_wire_batch(batch(ev=ev), NOW, WireLimits(max_events=n))
    rec = PointerBatchRecord.from_wire(wb, "ab" * 16, NOW)
    assert PointerBatchRecord.from_bytes(rec.to_bytes()).n_events == n


SMP = {"src": "raw", "n": 40, "c": 160, "g": 159, "gms": 159.0}


def test_pointer_type_and_sampling_travel_to_the_record() -> None:
    wb = parse_wire_batch(batch(pt="touch", smp=SMP), NOW)
    assert wb.pt == "touch" and wb.smp == Sampling(**SMP)
    assert wb.smp.input_hz == 1000.0 and wb.smp.coalesced_per_event == 4.0
    rec = PointerBatchRecord.from_wire(wb, "ab" * 16, NOW)
    obj = json.loads(rec.to_bytes())
    assert obj["pt"] == "touch" and obj["smp"] == SMP
    back = PointerBatchRecord.from_bytes(rec.to_bytes())
    assert back == rec and back.to_trajectory().meta["pt"] == "touch"


def test_batches_and_records_without_the_optional_fields_stay_valid() -> None:
    """Older collectors, tools and records already on Kafka: mouse, sampling unknown."""
    wb = parse_wire_batch(batch(), NOW)
    assert (wb.pt, wb.smp) == ("mouse", None)
    rec = PointerBatchRecord.from_wire(wb, "ab" * 16, NOW)
    obj = json.loads(rec.to_bytes())
    assert obj["pt"] == "mouse" and "smp" not in obj
    del obj["pt"]
    assert PointerBatchRecord.from_bytes(json.dumps(obj).encode()) == rec
    assert Sampling("move", 0, 0, 0, 0.0).input_hz is None


@pytest.mark.parametrize(("change", "field"), [
    ({"pt": "finger"}, "pt"), ({"pt": ""}, "pt"), ({"pt": None}, "pt"), ({"pt": ["mouse"]}, "pt"),
    ({"smp": None}, "smp"), ({"smp": [1, 2]}, "smp"), ({"smp": {**SMP, "x": 1}}, "smp"),
    ({"smp": {k: v for k, v in SMP.items() if k != "gms"}}, "smp"),
    ({"smp": {**SMP, "src": "pointermove"}}, "smp.src"),
    ({"smp": {**SMP, "src": ["raw"]}}, "smp.src"),
    ({"smp": {**SMP, "n": -1}}, "smp.n"), ({"smp": {**SMP, "n": 1.5}}, "smp.n"),
    ({"smp": {**SMP, "c": True}}, "smp.c"), ({"smp": {**SMP, "g": 2**31}}, "smp.g"),
    ({"smp": {**SMP, "gms": -1}}, "smp.gms"), ({"smp": {**SMP, "gms": "1"}}, "smp.gms"),
    ({"smp": {**SMP, "gms": 4e6}}, "smp.gms"),
    ({"smp": {**SMP, "n": 161}}, "smp"),                  # more events than reports
    ({"smp": {**SMP, "g": 161}}, "smp"),                  # more gaps than reports
    ({"smp": {**SMP, "g": 2, "gms": 200.5}}, "smp.gms"),  # a counted gap is < 100 ms
])
def test_bad_pointer_type_or_sampling_is_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(WireError) as exc:
        parse_wire_batch(batch(**change), NOW)
    assert (exc.value.reason, exc.value.status) == ("invalid_field", 422)
    assert exc.value.detail.startswith(f"{field}:"), exc.value.detail
