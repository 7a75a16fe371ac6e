"""Remote-desktop cadence in a real Chromium, through the real collector and ingest (Kafka
replaced by a list: tests/collector_js/page_server.py).

tests/collector_js/drive_remote.mjs moves the mouse along one hand-like path twice on the same
page: as a page receives it through a remote-desktop session (sparse, time-quantised jumps on
the 15.625 ms timer grid) and at a local browser's cadence (every 8 ms). The events ingest
received for each page session, put together as the sessionizer would, go through the
remote-access detector: the first session is flagged, the second is not.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.remote_access import (
    MIN_MOVE_INTERVALS,
    remote_access_features,
    remote_access_reasons,
)
from cursorprint.stream.records.reasons import REASON_REMOTE_ACCESS
from cursorprint.stream.records.wire import PointerBatchRecord
from tests.collector_js.page_server import PageServer, serving_pages
from tests.collector_js.test_real_pages import _token, built_collector  # noqa: F401 (fixture)
from tests.support.paths import COLLECTOR_DIR

pytestmark = [pytest.mark.e2e]

DRIVER = Path(__file__).resolve().parent / "drive_remote.mjs"


async def _drive(server: PageServer) -> dict[str, str]:
    proc = await asyncio.create_subprocess_exec(
        "node", "--input-type=module", "-e", DRIVER.read_text(), server.base,
        cwd=COLLECTOR_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


def _received(batches: list[PointerBatchRecord]) -> Trajectory:
    """One page session's events in time order: each batch's times from its start ``t0``
    (epoch ms) and its deltas, as the sessionizer joins them."""
    t = np.concatenate([b.t0 + np.cumsum(np.asarray(b.ev["dt"], dtype=np.float64))
                        for b in batches])
    cols = {c: np.concatenate([np.asarray(b.ev[c]) for b in batches]) for c in "xykb"}
    order = np.argsort(t, kind="stable")
    return Trajectory.from_columns((t[order] - t[order][0]) / 1000.0, cols["x"][order],
                                   cols["y"][order], cols["k"][order], cols["b"][order],
                                   batches[0].vp)


async def test_remote_desktop_cadence_is_flagged_and_local_cadence_is_not(
        built_collector: Path) -> None:  # noqa: F811
    async with serving_pages({"remote": {"token": _token(), "flushMs": 500}}) as server:
        sids = await _drive(server)
        views = server.by_sid()
    assert set(sids.values()) <= set(views)
    for sid in sids.values():      # every batch of each page view, the last one final
        assert [b.seq for b in views[sid]] == list(range(len(views[sid]))), sid
        assert views[sid][-1].final
    remote, local = (remote_access_features(_received(views[sids[k]]))
                     for k in ("remote", "local"))
    print(f"remote: {remote}\nlocal: {local}")
    assert remote.move_intervals >= MIN_MOVE_INTERVALS, remote
    assert local.move_intervals >= MIN_MOVE_INTERVALS, local
    assert remote.sparse and remote.jumps and remote.quantised, remote
    assert remote.verdict is True
    assert not local.sparse and not local.quantised, local
    assert local.verdict is False
    assert remote_access_reasons(_received(views[sids["remote"]])) == [REASON_REMOTE_ACCESS]
