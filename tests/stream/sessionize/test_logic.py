"""Sessionizer logic on a plain dict store: ordering, duplicates, closes, windows, bounds."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from cursorprint.stream.records.session import POINTER_MIXED, SessionRecord, SessionRecordError
from cursorprint.stream.records.wire import PointerBatchRecord
from cursorprint.stream.sessionize.logic import Outcome, Sessionizer, SessionizerConfig

USER = "0123456789abcdef0123456789abcdef"


def batch(seq: int, n: int = 10, final: bool = False, sid: str = "sess-0001",
          t0: float = 1.7e12) -> PointerBatchRecord:
    """Batch ``seq`` of a session whose events are 10 ms apart; x encodes the event index."""
    first = seq * n
    return PointerBatchRecord(
        site="demo", sid=sid, seq=seq, path="/p", vp=(800, 600), scr=(800, 600), dpr=1.0,
        t0=t0 + first * 10.0, final=final,
        ev={"dt": [0.0] + [10.0] * (n - 1), "x": list(range(first, first + n)),
            "y": [5] * n, "k": [0] * n, "b": [0] * n}, user=USER, recv=t0)


def apply(store: dict[str, Any], out: Outcome) -> list[SessionRecord]:
    for k, v in out.writes.items():
        if v is None:
            store.pop(k, None)
        else:
            store[k] = v
    return out.records


def run(sz: Sessionizer, store: dict[str, Any], batches: list[PointerBatchRecord],
        now: float = 0.0) -> tuple[list[SessionRecord], list[str]]:
    records: list[SessionRecord] = []
    dropped: list[str] = []
    for b in batches:
        out = sz.on_batch(b, 0, now)
        dropped += out.dropped
        records += apply(store, out)
        sz.note_writes(out)
    return records, dropped


def test_out_of_order_and_duplicates_give_one_ordered_session() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(window_events=0))
    order = [batch(0), batch(2), batch(1), batch(2), batch(0), batch(4, final=True), batch(3)]
    records, dropped = run(sz, store, order)
    assert dropped == ["duplicate", "duplicate"]
    assert len(records) == 1
    rec = records[0]
    assert (rec.part, rec.cause, rec.user, rec.screen) == ("final", "exit", USER, (800, 600))
    assert rec.x == list(range(50))
    assert rec.t == pytest.approx([i * 0.01 for i in range(50)])
    assert all(not k.startswith("b:") for k in store), "batch events are freed on close"
    again, dropped = run(sz, store, [batch(1)])
    assert again == [] and dropped == ["late"]


def test_idle_close_by_tick_and_tombstone_expiry() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(idle_s=5, closed_ttl_s=60, window_events=0))
    run(sz, store, [batch(0), batch(1)], now=1000.0)
    assert apply(store, sz.on_tick(0, 4000.0)) == []            # not idle yet
    assert apply(store, sz.on_tick(1, 9000.0)) == []            # another partition's tick
    recs = apply(store, sz.on_tick(0, 9000.0))
    assert [(r.cause, r.n_events) for r in recs] == [("idle", 20)]
    assert store["h:sess-0001"]["closed"]
    apply(store, sz.on_tick(0, 9000.0 + 61_000))
    assert store == {}


def test_missing_batch_waits_then_idle_close_says_exit() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(idle_s=5, window_events=0))
    recs, _ = run(sz, store, [batch(0), batch(2, final=True)], now=0.0)
    assert recs == []                                          # waits for seq 1
    recs = apply(store, sz.on_tick(0, 10_000.0))
    assert [(r.cause, r.n_events) for r in recs] == [("exit", 20)]


def test_length_cap_closes_and_the_rest_continues_as_a_new_segment() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(max_events=35, window_events=0))
    recs, dropped = run(sz, store, [batch(i) for i in range(7)] + [batch(7, final=True)])
    assert dropped == []
    assert [(r.session_id, r.cause, r.n_events) for r in recs] == [
        ("sess-0001", "cap", 40), ("sess-0001~1", "cap", 40)]
    assert recs[1].x == list(range(40, 80))                  # nothing lost, nothing twice
    assert all(not k.startswith("b:") for k in store)


def test_movement_after_an_idle_close_is_a_continuation_not_dropped() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(idle_s=5, closed_ttl_s=60, window_events=0))
    run(sz, store, [batch(0), batch(1)], now=0.0)
    assert [r.session_id for r in apply(store, sz.on_tick(0, 10_000.0))] == ["sess-0001"]
    # the person comes back: batches 3 then 2 (out of order), then a retry of batch 1
    recs, dropped = run(sz, store, [batch(3), batch(2), batch(1)], now=11_000.0)
    assert recs == [] and dropped == ["duplicate"]
    recs, _ = run(sz, store, [batch(4, final=True)], now=12_000.0)
    assert [(r.session_id, r.cause) for r in recs] == [("sess-0001~1", "exit")]
    assert recs[0].x == list(range(20, 50))
    # idle again after the exit: a late duplicate is dropped, new movement opens segment 2
    again, dropped = run(sz, store, [batch(2), batch(5)], now=13_000.0)
    assert dropped == ["late"]
    recs = apply(store, sz.on_tick(0, 30_000.0))
    assert [(r.session_id, r.cause, r.x[0]) for r in recs] == [("sess-0001~2", "idle", 50)]
    # the first segment's tombstone outlives its continuation, then everything is forgotten
    apply(store, sz.on_tick(0, 75_000.0))
    assert "h:sess-0001" in store and "h:sess-0001~1" not in store
    apply(store, sz.on_tick(0, 95_000.0))
    apply(store, sz.on_tick(0, 95_000.0))
    assert store == {}


def test_rolling_windows_during_a_long_session() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(window_events=25))
    recs, _ = run(sz, store, [batch(i) for i in range(6)] + [batch(6, final=True)])
    windows = [r for r in recs if r.cause == "window"]
    assert [w.part for w in windows] == [0, 1]
    assert all(w.n_events == 25 for w in windows)
    assert windows[0].x == list(range(5, 30))
    assert recs[-1].part == "final" and recs[-1].n_events == 70


def test_pending_gap_is_given_up_after_max_pending() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(max_pending=2, window_events=0))
    recs, dropped = run(sz, store, [batch(0), batch(2), batch(3), batch(4, final=True)])
    assert "gap" in dropped
    assert [(r.cause, r.n_events) for r in recs] == [("exit", 40)]
    held = {k for k in store if k.startswith("b:")}
    assert held == set()


def test_session_record_round_trip_and_errors() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(window_events=0))
    rec = run(sz, store, [batch(0, final=True)])[0][0]
    back = SessionRecord.from_bytes(rec.to_bytes())
    assert back == rec
    traj = back.to_trajectory()
    assert len(traj) == 10 and traj.screen == (800, 600)
    assert np.all(np.diff(traj.t) >= 0)
    for bad, word in [(b"\xff", "JSON"), (b"[]", "object"), (b"{}", "lacks"),
                      (rec.to_bytes().replace(b'"part":"final"', b'"part":-1'), "part"),
                      (rec.to_bytes().replace(b'"screen":[800,600]', b'"screen":[0,1]'),
                       "screen")]:
        with pytest.raises(SessionRecordError, match=word):
            SessionRecord.from_bytes(bad)


def test_tick_index_follows_writes_and_rescans_recovered_state() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(idle_s=1, window_events=0), rescan_every=3)
    run(sz, store, [batch(0)], now=0.0)
    assert apply(store, sz.on_tick(0, 500.0)) == []       # tick 0: full scan, nothing idle
    assert sz.open_sessions() == 1
    # state that appears without passing through this instance (changelog recovery)
    other = Sessionizer(store, SessionizerConfig(window_events=0))
    apply(store, other.on_batch(batch(0, sid="sess-0002"), 0, 0.0))
    closed = [r.session_id for _ in range(2) for r in apply(store, sz.on_tick(0, 5000.0))]
    assert closed == ["sess-0001"]                           # ticks 1, 2 use the index
    later = [r.session_id for r in apply(store, sz.on_tick(0, 5000.0))]
    assert later == ["sess-0002"]                            # tick 3 rescans the store


def test_huge_sequence_gap_is_cheap_and_header_stays_small() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(max_pending=2, window_events=0))
    far = 2**31 - 10
    recs, dropped = run(sz, store, [batch(0)] + [batch(far + i) for i in range(3)]
                        + [batch(far + 3, final=True)])
    assert dropped == ["gap"]
    assert [(r.cause, r.n_events) for r in recs] == [("exit", 50)]
    long_store: dict[str, Any] = {}
    sz = Sessionizer(long_store, SessionizerConfig(window_events=0, max_events=10**6))
    run(sz, long_store, [batch(i, n=1) for i in range(3000)])
    assert len(json.dumps(long_store["h:sess-0001"])) < 500     # not one entry per batch


def test_no_idle_close_while_the_partition_has_a_backlog() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(idle_s=1, window_events=0))
    run(sz, store, [batch(0)], now=0.0)
    assert apply(store, sz.on_tick(0, 60_000.0, close_idle=False)) == []
    recs, _ = run(sz, store, [batch(1, final=True)], now=61_000.0)
    assert [(r.cause, r.n_events) for r in recs] == [("exit", 20)]


def typed(seq: int, pt: str, n: int = 10, final: bool = False, sid: str = "sess-0001"
          ) -> PointerBatchRecord:
    return replace(batch(seq, n=n, final=final, sid=sid), pt=pt)


def test_the_pointer_type_of_the_batches_is_the_sessions() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(window_events=0))
    recs, _ = run(sz, store, [typed(0, "touch"), typed(1, "touch", final=True)])
    assert [(r.cause, r.pointer) for r in recs] == [("exit", "touch")]
    assert SessionRecord.from_bytes(recs[0].to_bytes()).pointer == "touch"
    pen, _ = run(sz, store, [typed(0, "pen", final=True, sid="sess-0002")])
    assert pen[0].pointer == "pen"
    mouse, _ = run(sz, store, [batch(0, final=True, sid="sess-0003")])
    assert mouse[0].pointer == "mouse"


def test_batches_of_two_pointer_types_make_a_mixed_session_never_a_mouse_one() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(window_events=25))
    recs, _ = run(sz, store, [typed(0, "mouse", n=20), typed(1, "touch", n=20),
                              typed(2, "mouse", n=20), typed(3, "mouse", final=True)])
    assert [(r.part, r.pointer) for r in recs] == [(0, POINTER_MIXED), ("final", POINTER_MIXED)]
    # held out of order too: the type of a batch counts when it is accepted
    store2: dict[str, Any] = {}
    sz2 = Sessionizer(store2, SessionizerConfig(window_events=0))
    recs2, _ = run(sz2, store2, [typed(0, "pen"), typed(2, "mouse", final=True),
                                 typed(1, "pen")])
    assert [r.pointer for r in recs2] == [POINTER_MIXED]


def test_an_empty_final_flush_says_nothing_about_the_pointer() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(window_events=0))
    empty = replace(typed(1, "mouse", final=True), ev={c: [] for c in ("dt", "x", "y", "k", "b")})
    recs, _ = run(sz, store, [typed(0, "touch"), empty])
    assert [(r.cause, r.pointer, r.n_events) for r in recs] == [("exit", "touch", 10)]


def test_the_pointer_type_is_kept_in_state_and_a_continuation_has_its_own() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(idle_s=1, window_events=0))
    run(sz, store, [typed(0, "touch")], now=0.0)
    assert store["h:sess-0001"]["pt"] == "touch"
    # a fresh instance on the stored state (a restart: state comes from the changelog)
    again = Sessionizer(store, SessionizerConfig(idle_s=1, window_events=0))
    idle = apply(store, again.on_tick(0, 5000.0))
    assert [(r.cause, r.pointer) for r in idle] == [("idle", "touch")]
    later, _ = run(again, store, [typed(1, "mouse", final=True)], now=6000.0)
    assert [(r.session_id, r.pointer) for r in later] == [("sess-0001~1", "mouse")]


def test_state_without_a_pointer_type_is_a_mouse_session() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(window_events=0))
    run(sz, store, [batch(0)])
    assert "pt" not in store["h:sess-0001"]       # compact: absent means mouse, as before
    recs, _ = run(sz, store, [batch(1, final=True)])
    assert recs[0].pointer == "mouse"


def test_the_first_rolling_window_comes_early_then_the_regular_cadence() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(window_events=60, first_window_events=15))
    recs, _ = run(sz, store, [batch(i) for i in range(9)] + [batch(9, final=True)])
    windows = [r for r in recs if r.cause == "window"]
    # window 0 after 20 events (two batches), window 1 after 60 more: they never overlap
    assert [(w.part, w.n_events) for w in windows] == [(0, 15), (1, 60)]
    assert windows[0].x == list(range(5, 20))
    assert windows[1].x == list(range(20, 80))
    assert recs[-1].part == "final" and recs[-1].n_events == 100
    # off: the first window at window_events; no rolling windows at all without them
    for cfg, want in ((SessionizerConfig(window_events=60, first_window_events=0), [(0, 60)]),
                      (SessionizerConfig(window_events=0, first_window_events=15), [])):
        st: dict[str, Any] = {}
        got, _ = run(Sessionizer(st, cfg), st, [batch(i) for i in range(9)])
        assert [(r.part, r.n_events) for r in got] == want
    with pytest.raises(ValueError, match="first_window_events=-1"):
        SessionizerConfig(first_window_events=-1)


def test_a_batch_missing_before_the_exit_batch_is_waited_for_briefly_not_until_idle() -> None:
    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(idle_s=30, exit_grace_s=2, window_events=0))
    # batch 1 never comes (the page's exit flush dropped it: over its keepalive budget)
    run(sz, store, [batch(0), batch(2), batch(3, final=True)], now=10_000.0)
    run(sz, store, [batch(0, sid="sess-0002")], now=10_000.0)        # open, no exit batch
    assert apply(store, sz.on_tick(0, 11_500.0)) == []               # within the grace
    closed = apply(store, sz.on_tick(0, 12_500.0))
    assert [(r.session_id, r.cause, r.n_events) for r in closed] == [("sess-0001", "exit", 30)]
    late, dropped = run(sz, store, [batch(1)], now=13_000.0)        # it came after all: late
    assert late == [] and dropped == ["late"]
    idle = apply(store, sz.on_tick(0, 40_500.0))                     # the other: idle timeout
    assert [(r.session_id, r.cause) for r in idle] == [("sess-0002", "idle")]


def paced(seq: int, gap_ms: float, n: int = 10, final: bool = False) -> PointerBatchRecord:
    """Batch ``seq`` of ``n`` events ``gap_ms`` apart (the first gap too: the collector starts
    a batch where the previous one ended); x encodes the event index."""
    b = batch(seq, n=n, final=final)
    return replace(b, t0=1.7e12 + seq * n * gap_ms, ev={**b.ev, "dt": [gap_ms] * n})


def windows_of(cfg: SessionizerConfig, batches: list[PointerBatchRecord],
               now: float = 0.0) -> list[tuple[int | str, int, int]]:
    """(part, events, first x) of every rolling window the batches make."""
    store: dict[str, Any] = {}
    recs, _ = run(Sessionizer(store, cfg), store, batches, now)
    return [(r.part, r.n_events, int(r.x[0])) for r in recs if r.cause == "window"]


def test_rolling_windows_come_every_few_seconds_of_movement_the_first_one_earlier() -> None:
    cfg = SessionizerConfig(window_seconds=(2.0, 3.0), window_events=1000,
                            first_window_events=1000)
    # 10 events 100 ms apart a batch: 1 s of movement each (the first batch 0.9 s: the clock
    # starts at the session's first event)
    batches = [paced(i, 100.0) for i in range(12)]
    # window 0 at 2.9 s (3 batches), then one every 3 s (3 batches), never overlapping
    want = [(0, 30, 0), (1, 30, 30), (2, 30, 60), (3, 30, 90)]
    assert windows_of(cfg, batches) == want
    # event time, not the wall clock: a replay 1000x faster cuts the same windows
    store: dict[str, Any] = {}
    sz = Sessionizer(store, cfg)
    recs: list[SessionRecord] = []
    for i, b in enumerate(batches):
        recs += run(sz, store, [b], now=i * 1.0)[0]
    assert [(r.part, r.n_events, int(r.x[0])) for r in recs if r.cause == "window"] == want
    # first window's time 0: the first one comes at the regular cadence too
    assert windows_of(replace(cfg, window_seconds=(0.0, 3.0)), batches)[0] == (0, 40, 0)


def test_a_pause_counts_a_quarter_second_of_movement_at_most() -> None:
    cfg = SessionizerConfig(window_seconds=(5.0, 10.0), window_events=1000,
                            first_window_events=1000)
    # events 5 s apart: each gap counts 0.25 s, so a batch is 2.5 s of movement, not 50 s
    assert windows_of(cfg, [paced(i, 5000.0) for i in range(6)]) == [(0, 30, 0)]


def test_the_event_count_bounds_a_window_at_a_high_sampling_rate() -> None:
    cfg = SessionizerConfig(window_seconds=(2.0, 3.0), window_events=25, first_window_events=15)
    # 1 ms apart: 100 events are 0.1 s of movement, far below the time rule; the event bound
    # cuts the windows (the newest events up to the bound)
    assert windows_of(cfg, [paced(i, 1.0) for i in range(10)]) == [
        (0, 15, 5), (1, 25, 25), (2, 25, 55)]
    # by events only (the earlier rule): window_seconds (0, 0)
    only_events = replace(cfg, window_seconds=(0.0, 0.0))
    assert windows_of(only_events, [paced(i, 100.0) for i in range(10)]) == [
        (0, 15, 5), (1, 25, 25), (2, 25, 55)]
    # window_events=0 still turns rolling windows off, time rule or not
    assert windows_of(replace(cfg, window_events=0), [paced(i, 100.0) for i in range(10)]) == []
    with pytest.raises(ValueError, match="window_seconds"):
        SessionizerConfig(window_seconds=(-1.0, 3.0))


def test_the_time_rule_carries_over_a_restart_with_a_batch_held_out_of_order() -> None:
    cfg = SessionizerConfig(window_seconds=(2.0, 3.0), window_events=1000,
                            first_window_events=1000)
    batches = [paced(i, 100.0) for i in range(12)]
    order = [0, 1, 3, 2, *range(4, 12)]           # batch 3 comes before 2: held over the restart
    want = windows_of(cfg, [batches[i] for i in order])
    # window 0 waits for batch 2 (3.9 s once it is in), then every 3 s
    assert want == [(0, 40, 0), (1, 30, 40), (2, 30, 70)]
    store: dict[str, Any] = {}
    recs, _ = run(Sessionizer(store, cfg), store, [batches[i] for i in order[:3]])
    # a new worker reads the changelog (JSON; a batch is written as its stored bytes) back
    store = {k: json.loads(v if isinstance(v, bytes) else json.dumps(v)) for k, v in store.items()}
    more, _ = run(Sessionizer(store, cfg), store, [batches[i] for i in order[3:]])
    assert [(r.part, r.n_events, int(r.x[0])) for r in recs + more if r.cause == "window"] == want
