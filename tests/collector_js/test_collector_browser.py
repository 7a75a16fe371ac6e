"""The collector in a real Chromium, against the real ingest service and the real broker.

A fast straight move, a left and a right click, a scroll and navigation away, done with CDP input;
then what arrived on ``pointer-batches`` is checked: the path within a pixel, both buttons, the tail
delivered by the exit flush (sendBeacon), and the sampling gap of a continuous move.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.records.wire import PointerBatchRecord
from cursorprint.stream.settings import Settings
from tests.support.ingest_server import consume_batches, running_ingest
from tests.support.paths import COLLECTOR_DIR

pytestmark = [pytest.mark.e2e, pytest.mark.integration]



@pytest.fixture(scope="session")
def built_collector() -> Path:
    assert (COLLECTOR_DIR / "node_modules" / "playwright-core").is_dir(), \
        "run `npm ci` in collector_js (scripts/install.sh does)"
    subprocess.run(["npm", "run", "--silent", "build"], cwd=COLLECTOR_DIR, check=True, timeout=60)
    return COLLECTOR_DIR / "dist"


async def test_browser_session_arrives_on_kafka(stack: Stack, stack_settings: Settings,
                                                built_collector: Path) -> None:
    async with running_ingest(stack_settings, demo=True) as base:
        proc = await asyncio.create_subprocess_exec(
            "node", "e2e/drive.mjs", base, cwd=COLLECTOR_DIR,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()[-3000:]
        run = json.loads(out.decode().strip().splitlines()[-1])
        values = await consume_batches(stack_settings.kafka.bootstrap, run["sid"])

    # At-least-once: the exit flush resends a batch whose periodic send was still unanswered
    # (the sessionizer drops the copy by sequence number). A copy differs only in receive time.
    by_seq: dict[int, dict] = {}
    for v in values:
        seq = int(v["seq"])
        first = by_seq.setdefault(seq, v)
        assert {**first, "recv": 0} == {**v, "recv": 0}, f"two different batches with seq {seq}"
    records = [PointerBatchRecord.from_bytes(json.dumps(by_seq[s]).encode())
               for s in sorted(by_seq)]
    assert [r.seq for r in records] == list(range(len(records))), "a batch is missing"
    assert len(records) >= 2, "expected a periodic flush and the exit flush"
    assert records[-1].final and not any(r.final for r in records[:-1])
    assert all(r.site == "demo" and r.vp == (1000, 700) and len(r.user) == 32 for r in records)
    assert "alice" not in json.dumps(values), "the raw user id must not reach Kafka"

    ev = {c: np.concatenate([np.asarray(r.ev[c], dtype=np.float64) for r in records])
          for c in ("x", "y", "k", "b")}
    t = np.concatenate([r.t0 + np.cumsum(r.ev["dt"]) for r in records])
    assert (np.diff(t) > -1.0).all(), "event times go backwards across batches"

    # the fast straight move: every sampled point lies on the segment, ends reached
    (x0, y0), (x1, y1) = run["from"], run["to"]
    moves = (ev["k"] == 0)
    seg = moves & (ev["x"] >= x0) & (ev["x"] <= x1) & (t <= t[np.argmax(moves & (ev["x"] == x1))])
    xs, ys = ev["x"][seg], ev["y"][seg]
    expected_y = y0 + (xs - x0) * (y1 - y0) / (x1 - x0)
    assert np.abs(ys - expected_y).max() <= 1.0
    assert np.abs(xs.min() - x0) <= 1 and np.abs(xs.max() - x1) <= 1
    assert (np.diff(xs) >= 0).all()
    gaps = np.diff(t[seg])
    print(f"fast move: {len(gaps) + 1} samples, median gap {np.median(gaps):.2f} ms")
    assert len(gaps) >= 10
    assert 5.0 <= float(np.median(gaps)) <= 10.0, f"median move gap {np.median(gaps):.2f} ms"

    # clicks with the right buttons, at the right places
    downs = np.flatnonzero(ev["k"] == 1)
    ups = np.flatnonzero(ev["k"] == 2)
    assert [int(ev["b"][i]) for i in downs] == [1, 3]
    assert [int(ev["b"][i]) for i in ups] == [1, 3]
    for i, (cx, cy) in zip(downs, (run["left"], run["right"]), strict=True):
        assert abs(ev["x"][i] - cx) <= 1 and abs(ev["y"][i] - cy) <= 1

    # the tail: the wheel, 30 ms before navigating away, can only have been sent by the exit
    # flush (sendBeacon on pagehide / visibilitychange) -- unless the 1 s periodic timer fired
    # in those 30 ms; where the clicks before it went depends on that timer, so is not asserted
    assert int(np.sum(ev["k"] == 3)) >= 1, "the wheel event (the tail) must arrive"
    wheel_batch = next(r for r in records if 3 in r.ev["k"])
    assert wheel_batch.seq >= len(records) - 2, "the tail must come with the exit flush"
