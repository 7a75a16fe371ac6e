"""Sessionizer state: memory per open page session, and the pure logic's batch rate.

Opens ``--sessions`` Balabit test sessions (every collector batch but the exit one) in the
Sessionizer on a plain dict store, the same values the worker's table holds, and measures with
``tracemalloc`` what the store holds per open session and per event, and the size of the
changelog values that state is made of. Then closes them all, timing the batches/s of the pure
logic (no Kafka, no Faust) for comparison with the pipeline bench. Last, the record decode the
worker runs per batch: the strict path alone (``json`` with per-number hooks, then the checks
in Python) against ``PointerBatchRecord.from_bytes`` (msgspec first), on the same Balabit and
SapiMouse-rate records (one-minute recordings cut by the collector's rules), best of 5.

    python -m bench.sessionizer_state [--sessions 60] [--sapi-sessions 4]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.pipeline_throughput import sapimouse_sessions
from cursorprint.stream.devtools.playback import load_balabit_sessions, to_batches
from cursorprint.stream.records.wire import PointerBatchRecord, parse_wire_batch
from cursorprint.stream.sessionize.logic import Outcome, Sessionizer, SessionizerConfig

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "datasets" / "balabit"
USER = "0123456789abcdef0123456789abcdef"


def _apply(store: dict[str, Any], out: Outcome) -> None:
    for k, v in out.writes.items():
        if v is None:
            store.pop(k, None)
        else:
            store[k] = v


def _best_rate(decode: Callable[[bytes], Any], raws: list[bytes], repeat: int = 5) -> float:
    """Records decoded per second, the best of ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for raw in raws:
            decode(raw)
        best = min(best, time.perf_counter() - t0)
    return len(raws) / best


def decode_rates(name: str, raws: list[bytes]) -> str:
    events = sum(PointerBatchRecord.from_bytes(r).n_events for r in raws)
    strict = _best_rate(PointerBatchRecord.from_bytes_strict, raws)
    fast = _best_rate(PointerBatchRecord.from_bytes, raws)
    return (f"record decode, {name} ({events / len(raws):.1f} events a batch): strict "
            f"{strict:,.0f} batches/s ({1e6 / strict:.0f} us), from_bytes {fast:,.0f} batches/s "
            f"({1e6 / fast:.0f} us): x{fast / strict:.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=60)
    ap.add_argument("--sapi-sessions", type=int, default=4)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    now = time.time() * 1000
    per_session: list[list[PointerBatchRecord]] = []
    for i, s in enumerate(load_balabit_sessions(DATA, DATA / "labels_dev.csv", args.sessions)):
        batches = to_batches(s.traj, site="demo", token="t.t", sid=f"bench-state-{i:05d}",
                             start_ms=int(now))
        per_session.append([PointerBatchRecord.from_wire(parse_wire_batch(b, now), USER, now)
                            for b in batches])
    n_events = sum(r.n_events for recs in per_session for r in recs[:-1])
    n_batches = sum(len(recs) for recs in per_session)
    store: dict[str, Any] = {}
    # the worker's limits, with the cap above any session here so all stay open
    sz = Sessionizer(store, SessionizerConfig(window_events=0, max_events=10**7))
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for recs in per_session:      # decoded here, as the worker does: the store owns the columns
        for rec in recs[:-1]:
            _apply(store, sz.on_batch(PointerBatchRecord.from_bytes(rec.to_bytes()), 0, now))
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    # a stored batch is already its changelog value (JSON bytes); a header is encoded on write
    changelog = sum(len(json.dumps(k)) + (len(v) if isinstance(v, bytes) else len(json.dumps(v)))
                    for k, v in store.items())
    t0 = time.perf_counter()
    for recs in per_session:
        _apply(store, sz.on_batch(recs[-1], 0, now))
    close_s = time.perf_counter() - t0
    # the pure logic's rate over whole sessions, in a fresh store
    store2: dict[str, Any] = {}
    sz2 = Sessionizer(store2, SessionizerConfig(window_events=0, max_events=10**7))
    t0 = time.perf_counter()
    for recs in per_session:
        for rec in recs:
            _apply(store2, sz2.on_batch(rec, 0, now))
    logic_s = time.perf_counter() - t0
    n = len(per_session)
    print(f"{n} open Balabit sessions, {n_events} events in {n_batches - n} batches "
          f"({n_events / n:,.0f} events a session)")
    print(f"memory held by the state : {held / n:10,.0f} bytes per open session, "
          f"{held / n_events:6.1f} bytes per event")
    print(f"changelog values         : {changelog / n:10,.0f} bytes per open session, "
          f"{changelog / n_events:6.1f} bytes per event")
    print(f"closing {n} sessions      : {1000 * close_s / n:8.2f} ms per session")
    print(f"pure logic               : {n_batches / logic_s:10,.0f} batches/s, "
          f"{(n_events + sum(r.n_events for recs in per_session for r in recs[-1:])) / logic_s:,.0f} events/s")
    print(decode_rates("Balabit", [r.to_bytes() for recs in per_session for r in recs]))
    sapi = [PointerBatchRecord.from_wire(parse_wire_batch(b, now), USER, now).to_bytes()
            for i, (_, traj) in enumerate(sapimouse_sessions(args.sapi_sessions))
            for b in to_batches(traj, site="demo", token="t.t", sid=f"bench-sapi-{i:05d}",
                                start_ms=int(now))]
    print(decode_rates("SapiMouse-rate", sapi))
    return 0


if __name__ == "__main__":
    sys.exit(main())
