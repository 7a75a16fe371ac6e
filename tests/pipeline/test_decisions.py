"""Decisions and feedback on the real broker and Redis: ingest, a Faust worker (``all``) and the
decision service (``cursorprint decide serve``) run as subprocesses; synthetic sessions of a
user with no head go through HTTP -> Kafka -> sessionizer -> scorer -> live scores in Redis.

The site's backend asks for a decision on each page session and confirms the owner after each;
the user, who started without a head, has one after a few confirmed sessions, with no operator
step, and the next decision is made with that head.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis

from cursorprint.model.data.synthetic import random_style, synth_session
from cursorprint.stream.devtools.playback import PlaybackSession, play_sessions
from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.ingest.identity import user_key
from cursorprint.stream.records.reasons import REASON_NO_USER_HEAD
from cursorprint.stream.settings import Settings
from cursorprint.stream.stores.keys import head_key
from cursorprint.stream.stores.live_scores import RedisLiveScores
from tests.support.procs import (
    Proc,
    pipeline_env,
    settings_from_env,
    start,
    stop_all,
    tiny_model,
    wait_ready,
)

pytestmark = pytest.mark.integration
API_KEY = "pipeline-decide-key-0123456789"
OTHER_KEY = "pipeline-other-key-0123456789"
MAX_SESSIONS = 5            # a head must exist after at most this many confirmed sessions


class Decide:
    def __init__(self, settings: Settings, env: dict[str, str], base: str) -> None:
        self.settings = settings
        self.env = env
        self.base = base

    def call(self, path: str, body: dict[str, Any], key: str = API_KEY
             ) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def decide(stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Decide]:
    model = tiny_model(tmp_path_factory)
    home = tmp_path_factory.mktemp("decisions")
    web, port = free_port(), free_port()
    env = pipeline_env(stack_settings, home, model, CURSORPRINT_DECIDE_PORT=port,
                       CURSORPRINT_DECIDE_SITES=f"demo={API_KEY};other={OTHER_KEY}",
                       CURSORPRINT_DECIDE_MIN_SECONDS="1")
    procs: list[Proc] = [start(["ingest"], env, home / "ingest.log"),
                         start(["worker", "all", "--web-port", str(web)], env,
                               home / "worker.log"),
                         start(["decide", "serve"], env, home / "decide.log")]
    try:
        settings = settings_from_env(env)
        wait_ready(f"http://127.0.0.1:{settings.ingest.port}/readyz", procs[0])
        wait_ready(f"http://127.0.0.1:{web}/readyz", procs[1])
        wait_ready(f"http://127.0.0.1:{port}/readyz", procs[2])
        yield Decide(settings, env, f"http://127.0.0.1:{port}")
    finally:
        stop_all(procs)


def _play(d: Decide, user: str, traj: Any) -> str:
    s = PlaybackSession(name="synthetic", user=user, traj=traj)
    report = play_sessions(d.settings, [s], ingest_url=f"http://127.0.0.1:"
                           f"{d.settings.ingest.port}", timeout_s=90)
    assert report.rejected == {} and report.missing == [], report.summary()
    return s.sid


def _has_closed_part(d: Decide, sid: str) -> bool:
    async def read() -> bool:
        store = RedisLiveScores.from_url(d.settings.redis.url)
        try:
            return any(p.closed for p in (await store.read(sid)).parts)
        finally:
            await store.close()

    return asyncio.run(read())


def _decision_with_final(d: Decide, sid: str, user: str) -> dict[str, Any]:
    """The decision once the closed part's live score is in Redis (the scorer writes it after
    publishing; a rolling window's part may be there before it)."""
    deadline = time.monotonic() + 20
    while not _has_closed_part(d, sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    status, body = d.call("/v1/decisions", {"sid": sid, "user": user})
    assert status == 200, body
    return body


def test_a_user_without_a_head_gets_one_from_confirmed_sessions(decide: Decide) -> None:
    st = decide.settings
    user = f"newcomer-{uuid.uuid4().hex[:8]}"
    key = user_key("demo", user, st.ingest.pseudonym_secret)
    r = redis.Redis.from_url(st.redis.url)
    assert not r.exists(head_key(key))
    rng = np.random.default_rng(12)
    style = random_style(rng)
    decisions: list[dict[str, Any]] = []
    confirmed: list[str] = []
    for _ in range(MAX_SESSIONS):
        sid = _play(decide, user, synth_session(rng, style, 600))
        body = _decision_with_final(decide, sid, user)
        decisions.append(body)
        assert body["windows_scored"] > 0 and body["seconds_of_movement"] > 1, body
        # the same page session asked about by another user or another site: 403
        assert decide.call("/v1/decisions", {"sid": sid, "user": "mallory"})[1]["error"] == \
            "session_of_another_user"
        assert decide.call("/v1/decisions", {"sid": sid, "user": user}, OTHER_KEY)[1][
            "error"] == "session_of_another_site"
        status, fb = decide.call("/v1/feedback", {"sid": sid, "user": user,
                                                  "label": "owner_confirmed"})
        assert (status, fb["forwarded"], fb["already"]) == (202, 1, False), fb
        confirmed.append(sid)
        assert decide.call("/v1/feedback", {"sid": sid, "user": user,
                                            "label": "owner_confirmed"})[1]["forwarded"] == 0
        deadline = time.monotonic() + 8          # the enroll agent fits within a second or two
        while time.monotonic() < deadline and not r.exists(head_key(key)):
            time.sleep(0.3)
        if r.exists(head_key(key)):
            break
    assert r.exists(head_key(key)), f"no head after {MAX_SESSIONS} confirmed sessions"
    assert len(decisions) >= 2, "one session cannot give enough windows for a head"
    first = decisions[0]
    assert first["decision"] == "not_enough_data" and REASON_NO_USER_HEAD in first["reasons"]
    assert first["head_version"].startswith("population")
    version = r.hget(head_key(key), "version").decode()   # type: ignore[union-attr]

    # the next page session is decided with the user's own head (scorers see it within 1 s)
    time.sleep(1.5)
    sid = _play(decide, user, synth_session(rng, style, 600))
    body = _decision_with_final(decide, sid, user)
    assert body["head_version"] == version, body
    assert REASON_NO_USER_HEAD not in body["reasons"]
    assert body["decision"] in ("allow", "step_up", "deny"), body
    assert body["model_version"] and body["evaluated_at"] > 0

    # a confirmed fraud is kept as a pseudonymous label `decide labels` exports
    status, fb = decide.call("/v1/feedback", {"sid": confirmed[-1], "user": user,
                                              "label": "fraud_confirmed"})
    assert (status, fb["error"]) == (409, "label_conflict")
    victim = f"victim-{uuid.uuid4().hex[:6]}"
    thief_sid = _play(decide, victim, synth_session(rng, random_style(rng), 800))
    status, fb = decide.call("/v1/feedback", {"sid": thief_sid, "user": victim,
                                              "label": "fraud_confirmed"})
    assert (status, fb["label"], fb["forwarded"]) == (202, "fraud_confirmed", 0), fb
    assert decide.call("/v1/decisions", {"sid": thief_sid, "user": victim})[1][
        "decision"] == "deny"
    out = subprocess.run([sys.executable, "-m", "cursorprint.stream.cli", "decide", "labels"],
                         env=decide.env, capture_output=True, text=True, timeout=60, check=True)
    labels = [json.loads(line) for line in out.stdout.splitlines()]
    mine = [lab for lab in labels if lab["user"] == key]
    assert [lab["label"] for lab in mine] == ["owner_confirmed"] * len(decisions)
    victim_key = user_key("demo", victim, st.ingest.pseudonym_secret)
    assert [lab["label"] for lab in labels if lab["user"] == victim_key] == ["fraud_confirmed"]
    for raw in (user, victim, sid, thief_sid, *confirmed):
        assert raw not in out.stdout


async def test_redis_down_is_503_not_a_stale_allow(stack_settings: Settings) -> None:
    """The decision service on a Redis nobody listens on answers 503 with the reason."""
    import aiohttp
    from aiohttp.test_utils import TestServer

    from cursorprint.stream.decide.service import create_app

    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings = stack_settings.replace(redis_url=dead, decide_sites=f"demo={API_KEY}")
    server = TestServer(create_app(settings))
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(server.make_url("/v1/decisions"),
                                 json={"sid": "any_session_1", "user": "alice"},
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as resp:
                body = await resp.json()
                assert (resp.status, body["error"]) == (503, "redis_unavailable"), body
                assert resp.headers["Retry-After"]
            async with http.get(server.make_url("/readyz")) as resp:
                assert resp.status == 503
    finally:
        await server.close()
    await asyncio.sleep(0)
