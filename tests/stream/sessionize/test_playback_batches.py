"""Replayed Balabit sessions survive wire batches + sessionizer bit for bit (the reason online
scores can equal offline scores), and the batches are valid wire batches."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data.datasets import read_balabit_session
from cursorprint.stream.devtools.playback import to_batches, wire_trajectory
from cursorprint.stream.records.wire import PointerBatchRecord, parse_wire_batch
from cursorprint.stream.sessionize.logic import Sessionizer, SessionizerConfig


def test_balabit_session_round_trips_through_wire_and_sessionizer(balabit_dir: Path) -> None:
    files = sorted((balabit_dir / "test_files").glob("user*/session_*"))[:3]
    for f in files:
        traj = read_balabit_session(f)
        now = time.time() * 1000
        batches = to_batches(traj, site="demo", token="x.y", sid="sess-abcdef01",
                             start_ms=int(now))
        assert batches[-1]["final"] and not any(b["final"] for b in batches[:-1])
        assert [b["seq"] for b in batches] == list(range(len(batches)))
        store: dict[str, Any] = {}
        sz = Sessionizer(store, SessionizerConfig(window_events=0, max_events=50_000))
        out_records = []
        order = [batches[i ^ 1] for i in range(len(batches)) if (i ^ 1) < len(batches)]
        order += [batches[-1]] if len(batches) % 2 else []
        order.insert(3, batches[0])          # pairs swapped, plus a duplicate
        for b in order:
            wb = parse_wire_batch(b, now)
            rec = PointerBatchRecord.from_wire(wb, "0" * 32, now)
            rec = PointerBatchRecord.from_bytes(rec.to_bytes())
            out = sz.on_batch(rec, 0, now)
            out_records += out.records
            for k, v in out.writes.items():
                if v is None:
                    store.pop(k, None)
                else:
                    store[k] = v
        assert len(out_records) == 1
        online = out_records[0].to_trajectory()
        offline = wire_trajectory(traj)
        assert online.screen == offline.screen
        np.testing.assert_array_equal(online.t, offline.t)
        np.testing.assert_array_equal(online.x, offline.x)
        np.testing.assert_array_equal(online.y, offline.y)
        np.testing.assert_array_equal(online.kind, offline.kind)
        np.testing.assert_array_equal(online.button, offline.button)
        # the wire grid moves no time by more than half a tick
        assert np.abs(offline.t - (traj.t - traj.t[0])).max() <= 0.5e-4 + 1e-9


def test_a_long_pause_travels_in_the_batch_start_not_in_one_huge_gap() -> None:
    from cursorprint.model.data.trajectory import Trajectory

    t = np.array([0.0, 0.5, 0.6, 7200.0, 7200.3])          # a 2 h pause in the recording
    traj = Trajectory.from_columns(t, [1, 2, 3, 4, 5], [1, 1, 1, 1, 1], [0] * 5, [0] * 5,
                                   (800, 600))
    now = time.time() * 1000
    batches = to_batches(traj, site="demo", token="x.y", sid="sess-pause01", start_ms=int(now))
    for b in batches:
        parse_wire_batch(b, now)                            # all valid wire batches
    assert batches[1]["t0"] - batches[0]["t0"] >= 7199_000
    assert max(max(b["ev"]["dt"]) for b in batches) <= 1000.0


def test_a_press_of_a_button_without_a_wire_code_is_left_out_as_the_collector_does() -> None:
    """SapiMouse's "Other" button presses: the collector never sends them and ingest would
    refuse the whole batch, so playback leaves them out of the batches and the wire trajectory."""
    from cursorprint.model.data.trajectory import Trajectory
    from cursorprint.stream.records.events import BUTTON_LEFT, KIND_DOWN, KIND_MOVE, KIND_UP

    kinds = [KIND_MOVE, KIND_DOWN, KIND_MOVE, KIND_UP, KIND_DOWN, KIND_UP, KIND_MOVE]
    buttons = [0, 0, 0, 0, BUTTON_LEFT, BUTTON_LEFT, 0]
    traj = Trajectory.from_columns(np.arange(7) * 0.01, np.arange(7.0), np.arange(7.0), kinds,
                                   buttons, (800, 600))
    now = time.time() * 1000
    batches = to_batches(traj, site="demo", token="x.y", sid="sess-button01", start_ms=int(now))
    for b in batches:
        parse_wire_batch(b, now)                     # every batch is one ingest accepts
    sent = [(k, b) for batch in batches for k, b in zip(batch["ev"]["k"], batch["ev"]["b"],
                                                        strict=True)]
    assert sent == [(KIND_MOVE, 0), (KIND_MOVE, 0), (KIND_DOWN, BUTTON_LEFT),
                    (KIND_UP, BUTTON_LEFT), (KIND_MOVE, 0)]
    assert wire_trajectory(traj).kind.tolist() == [k for k, _ in sent]
