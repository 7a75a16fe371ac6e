"""Bot corpus generator: the capture ingest accepts only what the real ingest accepts, the
sessionizer logic turns its records into sessions, and (integration) one Chromium session."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cursorprint.stream.devtools.botcorpus.capture import CaptureIngest, sessions_from_records
from cursorprint.stream.devtools.botcorpus.pages import TASKS, task_page
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.settings import load_settings


def _post(base: str, body: dict[str, object]) -> int:
    req = urllib.request.Request(f"{base}/v1/batches", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "text/plain", "Origin": base})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _batch(seq: int, final: bool, token: str) -> dict[str, object]:
    return {"v": 1, "site": "demo", "token": token, "sid": "botcorpus-test-1", "seq": seq,
            "path": "/bots/login", "vp": [1280, 800], "scr": [1280, 800], "dpr": 1,
            "t0": time.time() * 1000 + seq * 1000, "final": final,
            "ev": {"dt": [0, 16, 16], "x": [10, 20, 30], "y": [5, 6, 7], "k": [0, 0, 0],
                   "b": [0, 0, 0]}}


def test_pages_embed_the_collector() -> None:
    for task in TASKS:
        html = task_page(task, {"endpoint": "/v1/batches", "site": "demo", "token": "x"})
        assert "/collector/cursorprint.min.js" in html and "cursorprint.start" in html


def test_capture_checks_like_ingest_and_sessionizes() -> None:
    site = load_settings(sections=("ingest",)).ingest.site_configs()["demo"]
    token = mint_token("demo", "bot-user", site.secret, ttl_s=60)
    with CaptureIngest() as ing:
        assert _post(ing.base, _batch(0, False, token)) == 202
        assert _post(ing.base, _batch(1, True, token)) == 202
        assert _post(ing.base, _batch(2, True, "bad.token")) == 401
        bad = _batch(3, False, token)
        bad["ev"] = {"dt": [0], "x": [1], "y": [1], "k": [1], "b": [0]}   # down without button
        assert _post(ing.base, bad) == 422
        records = list(ing.records)
    assert len(records) == 2
    (session,) = sessions_from_records(records)
    assert session.session_id == "botcorpus-test-1" and session.cause == "exit"
    assert session.n_events == 6 and session.x[:3] == [10, 20, 30]


@pytest.mark.integration
def test_one_chromium_session_through_the_collector(tmp_path: Path) -> None:
    """One playwright ``mouse.move(steps)`` session of the log-in page (~20 s)."""
    if shutil.which("node") is None:
        pytest.fail("node is missing")
    from cursorprint.stream.devtools.botcorpus.corpus import make_corpus

    summary = make_corpus(tmp_path, ["pw-steps"], sessions=1, seed=3, timeout_s=120)
    assert summary["pw-steps"]["sessions"] == 1 and summary["pw-steps"]["failed"] == 0
    line = json.loads((tmp_path / "pw-steps" / "sessions.jsonl").read_text().splitlines()[0])
    assert line["lib"] == "pw-steps" and line["record"]["cause"] == "exit"
    assert len(line["record"]["t"]) > 20
