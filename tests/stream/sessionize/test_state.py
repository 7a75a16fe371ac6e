"""The sessionizer's typed state: its JSON changelog form, and state of an earlier release."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from cursorprint.stream.sessionize.state import (
    ClosedSession,
    SessionHeader,
    batch_columns,
    batch_events,
    batch_movement_s,
    batch_size,
    decode_header,
    encode_batch,
)
from tests.stream.sessionize.test_logic import batch


def test_headers_round_trip_through_json() -> None:
    head = SessionHeader.open(batch(3), partition=2, first_seq=3, now_ms=5.0)
    head.accept(5, 10, 1.0, True, 2, 6.0)
    head.accept(3, 10, 1.0, False, 2, 7.0)
    assert head.pending == [(5, 10, 0.0)] and head.next_seq == 4 and not head.complete
    for value in (head, ClosedSession(9.0, 2, 6, "exit", 30, 0.3, continuation=1)):
        assert decode_header(json.loads(json.dumps(value.to_json()))) == value
    assert decode_header(None) is None


def test_a_header_written_by_the_earlier_release_is_read() -> None:
    old = {"user": "u" * 32, "site": "demo", "path": "/p", "screen": [800, 600], "t0": 1.0,
           "t0_seq": 0, "p": 1, "first": 0, "next": 2, "pending": [[4, 7]], "skipped": [],
           "n": 27, "contig": 20, "win": 0, "since_win": 20, "final": None, "last": 9.0,
           "closed": False}
    head = decode_header(old)
    assert isinstance(head, SessionHeader)
    assert (head.partition, head.next_seq, head.pending, head.stored_seqs()) == (
        1, 2, [(4, 7, 0.0)], [0, 1, 4])
    assert head.since_window_s == 0.0          # no movement seconds counted before them
    tomb = decode_header({"closed": True, "closed_at": 5.0, "p": 1, "next": 3, "cause": "idle",
                          "n": 20, "duration_s": 0.2})
    assert tomb == ClosedSession(5.0, 1, 3, "idle", 20, 0.2, continuation=0)


def test_batch_events_equal_the_per_batch_computation_bit_for_bit() -> None:
    empty = replace(batch(1), final=True, ev={c: [] for c in ("dt", "x", "y", "k", "b")})
    odd = replace(batch(2, n=3), ev={**batch(2, n=3).ev, "dt": [0.1, 0.2, 0.30000000000000004]})
    recs = [batch(0, n=4), empty, odd]
    written = [encode_batch(r) for r in recs]          # JSON bytes, in memory and changelog
    recovered = [json.loads(w) for w in written]        # what changelog recovery gives back
    assert [batch_columns(w) for w in written] == recovered
    stored = [batch_columns(b) for b in (written[0], recovered[1], written[2])]
    assert [batch_size(b) for b in stored] == [4, 0, 3]
    t0, cols = batch_events(stored)
    assert t0 == recs[0].t0
    want_t = np.concatenate([float(b["t0"]) - t0 + np.cumsum(np.asarray(b["dt"], dtype=float))
                             for b in stored])
    assert cols["t"].tobytes() == want_t.tobytes()
    assert cols["x"].tolist() == [0, 1, 2, 3, 6, 7, 8]
    assert cols["t"].tolist()[:4] == [0, 10, 20, 30]
    assert batch_events([])[1]["t"].size == 0


def test_movement_seconds_of_a_batch_cap_each_gap_and_start_at_a_segments_first_event() -> None:
    # gaps in ms; 0.25 s is the SapiMouse evaluation's cap (protocol.ACTIVE_GAP_S)
    assert batch_movement_s([100.0, 100.0, 5000.0]) == 0.1 + 0.1 + 0.25
    assert batch_movement_s([900.0, 100.0, 100.0], first_of_segment=True) == 0.2
    assert batch_movement_s([]) == 0.0 and batch_movement_s([7.0], first_of_segment=True) == 0.0


def test_movement_seconds_since_the_last_window_survive_the_changelog() -> None:
    head = SessionHeader.open(batch(0), partition=0, first_seq=0, now_ms=1.0)
    head.accept(0, 10, 1.0, False, 0, 2.0, movement_s=0.9)
    head.accept(2, 10, 1.0, False, 0, 3.0, movement_s=1.0)     # held: batch 1 is missing
    back = decode_header(json.loads(json.dumps(head.to_json())))
    assert isinstance(back, SessionHeader) and back == head
    back.accept(1, 10, 1.0, False, 0, 4.0, movement_s=0.5)     # both now in order
    assert (back.since_window, back.since_window_s) == (30, 2.4)
    back.window_published()
    assert (back.windows, back.since_window, back.since_window_s) == (1, 0, 0.0)
