"""The collector on real pages, in a real Chromium, against the real ingest (Kafka replaced by a
list: tests/collector_js/page_server.py), every page under a strict Content-Security-Policy.

* a single-page app: pushState, replaceState, a hash change and popstate each start a new page
  view (new sid, its own path, closed by a final batch); a query-only change does not;
* touch, pen and mouse: each batch names its pointer type and never mixes them; a second finger
  is left out; the sampling achieved travels with each batch;
* the exit budget: with more than 64 KB queued (ingest refusing with 503), the exit flush sends
  at most 64 KB by keepalive, the browser refuses none of it, and the final batch arrives.

The driver (drive_pages.mjs) waits on explicit conditions only: the page's state or the batches
the server has received.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import jwt
import numpy as np
import pytest

from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.records.events import KIND_DOWN, KIND_LEAVE, KIND_MOVE, KIND_UP
from cursorprint.stream.records.wire import MAX_TOKEN_CHARS, PointerBatchRecord
from tests.collector_js.page_server import SECRET, SITE, PageServer, serving_pages
from tests.support.paths import COLLECTOR_DIR

pytestmark = [pytest.mark.e2e]

DRIVER = Path(__file__).resolve().parent / "drive_pages.mjs"
BUDGET_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def built_collector() -> Path:
    assert (COLLECTOR_DIR / "node_modules" / "playwright-core").is_dir(), \
        "run `npm ci` in collector_js (scripts/install.sh does)"
    subprocess.run(["npm", "run", "--silent", "build"], cwd=COLLECTOR_DIR, check=True, timeout=60)
    return COLLECTOR_DIR / "dist"


def _token(pad: int = 0) -> str:
    if not pad:
        return mint_token(SITE, "alice", SECRET, ttl_s=600)
    # a fat JWT (a site's backend may add claims of its own): each batch carries it
    import time

    now = int(time.time())
    return jwt.encode({"sub": "alice", "aud": SITE, "iat": now, "exp": now + 600,
                       "pad": "x" * pad}, SECRET, algorithm="HS256")


async def _drive(server: PageServer, mode: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        "node", "--input-type=module", "-e", DRIVER.read_text(), server.base, mode,
        cwd=COLLECTOR_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=150)
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


def _one_view(batches: list[PointerBatchRecord]) -> None:
    """Seqs 0..n without a gap, the last (and only the last) final."""
    assert [b.seq for b in batches] == list(range(len(batches)))
    assert batches[-1].final and not any(b.final for b in batches[:-1])


async def test_single_page_app_navigations_start_new_page_views(built_collector: Path) -> None:
    async with serving_pages({"spa": {"token": _token(), "flushMs": 200}}) as server:
        run = await _drive(server, "spa")
        views = server.by_sid()
    assert run["csp"] == [], "the collector broke the page's Content-Security-Policy"
    assert run["routes"] == "/t/spa/profile"
    sids = [v["sid"] for v in run["views"]]
    assert len(set(sids)) == len(sids) == 5, "each route change is a new page view"
    assert run["afterQuery"] == sids[1], "a query-only change is not a new page view"
    assert set(views) == set(sids)
    for view in run["views"]:
        batches = views[view["sid"]]
        _one_view(batches)
        assert {b.path for b in batches} == {view["path"]}
        moves = sum(int(np.sum(np.asarray(b.ev["k"]) == KIND_MOVE)) for b in batches)
        assert moves >= 3, f"{view}: the movement of this view belongs to it"
    # views follow one another in time: each starts after the previous one ended
    ends = [views[s][-1].t0 + sum(views[s][-1].ev["dt"]) for s in sids]
    starts = [views[s][0].t0 for s in sids]
    assert all(starts[i + 1] >= ends[i] - 1.0 for i in range(len(sids) - 1))


async def test_touch_pen_and_mouse_are_never_mixed(built_collector: Path) -> None:
    async with serving_pages({"touch": {"token": _token(), "flushMs": 200}}) as server:
        run = await _drive(server, "touch")
        batches = server.by_sid()[run["sid"]]
    assert run["csp"] == []
    _one_view(batches)
    with_events = [b for b in batches if b.n_events]
    kinds = [b.pt for b in with_events]
    # in order: touch, then pen, then mouse, each in batches of its own
    assert kinds == sorted(kinds, key=["touch", "pen", "mouse"].index), kinds
    assert set(kinds) == {"touch", "pen", "mouse"}

    def events(pt: str) -> dict[str, np.ndarray]:
        bs = [b for b in with_events if b.pt == pt]
        return {c: np.concatenate([np.asarray(b.ev[c], dtype=np.float64) for b in bs])
                for c in ("x", "y", "k", "b")}

    touch = events("touch")
    assert float(touch["x"].max()) < 700, "the second finger must be left out"
    assert KIND_LEAVE not in touch["k"], "a lifted finger is not a pointer leaving the page"
    downs = np.flatnonzero(touch["k"] == KIND_DOWN)
    ups = np.flatnonzero(touch["k"] == KIND_UP)
    assert len(downs) == len(ups) == 2 and set(touch["b"][downs]) == {1}
    assert (touch["x"][downs[0]], touch["y"][downs[0]]) == (100, 100)
    first = slice(downs[0], ups[0] + 1)
    on_line = touch["y"][first] - (100 + (touch["x"][first] - 100) / 2)
    assert np.abs(on_line).max() <= 1.0 and touch["x"][first].max() >= 299
    pen = events("pen")
    assert list(pen["k"]).count(KIND_DOWN) == 1 and list(pen["k"]).count(KIND_UP) == 1
    assert np.abs(pen["y"] - 400).max() <= 1.0
    mouse = events("mouse")
    assert mouse["x"].min() >= 499 and np.abs(mouse["y"] - mouse["x"] + 400).max() <= 1.0

    # a batch may hold only a press, and raw updates are counted as they arrive, ahead of the
    # positions: counts are checked per batch for consistency, and per pointer type for presence
    want_src = "raw" if run["raw"] else "move"
    for b in with_events:
        assert b.smp is not None
        assert b.smp.c >= b.smp.n and b.smp.g <= b.smp.c
        if b.pt == "mouse":
            assert b.smp.src == want_src, (b.smp, run["raw"])
    for pt in ("touch", "pen", "mouse"):
        assert sum(b.smp.n for b in batches if b.pt == pt and b.smp) >= 3, pt
    mouse_smp = [b.smp for b in with_events if b.pt == "mouse" and b.smp]
    print("sampling:", [(s.src, s.n, s.c, s.input_hz) for s in mouse_smp])
    assert any(s.input_hz for s in mouse_smp)


async def test_exit_flush_keeps_within_the_64kb_keepalive_budget(built_collector: Path) -> None:
    token = _token(pad=1350)
    assert len(token) <= MAX_TOKEN_CHARS
    config = {"token": token, "flushMs": 30, "maxQueue": 40}
    async with serving_pages({"budget": config}) as server:
        run = await _drive(server, "budget")
        batches = server.by_sid()[run["sid"]]
    sent = sum(e["bytes"] for e in run["log"])
    sizes = [e["bytes"] for e in run["log"]]       # wire bodies (the token included)
    print(f"queued {run['stats']['queued']} batches (~{min(sizes)}-{max(sizes)} bytes each); "
          f"exit sent {len(run['log'])} by keepalive, {sent} bytes")
    assert run["stats"]["queued"] * min(sizes) > BUDGET_BYTES, "the queue must exceed 64 KB"
    assert sent <= BUDGET_BYTES, f"the exit flush sent {sent} bytes by keepalive"
    assert sent > BUDGET_BYTES - 2 * max(sizes), "the budget should be used, not wasted"
    assert batches[-1].final, "the final batch must arrive"
    seqs = {b.seq for b in batches}
    assert {e["seq"] for e in run["log"]} <= seqs, "a keepalive batch was refused"
    assert len(seqs) < batches[-1].seq + 1, "something must not have fit (and was dropped)"
