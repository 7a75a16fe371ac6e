"""Faults on the real components: the broker restarts under load, Redis goes away while scoring.

* Broker restart: batches are posted to the real ingest while the ``stack`` fixture's Kafka is
  stopped (cleanly) and started again. Ingest answers 503 while it is gone; a client retrying like
  the collector (exponential backoff on 503 / connection errors) gets every batch in afterwards;
  every batch that got a 202 is on ``pointer-batches`` (counted by bid; duplicates are allowed,
  at-least-once). The shared broker is answering again before the test ends.
* Redis down for scoring: a private redis-server (started and stopped here, never the shared one)
  holds a user's head; while it is down the scorer goes on with the cached head or the population
  head, with the reason ``head_cache_stale``, and it recovers by itself when Redis is back.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import redis

from cursorprint.model.data.synthetic import random_style, synth_session
from cursorprint.model.features.windows import WindowRule
from cursorprint.model.nets.backbone import BackboneConfig, build_embedder
from cursorprint.model.nets.heads import fit_head
from cursorprint.model.nets.modeldir import ModelInfo
from cursorprint.model.serving.scoring import REASON_NO_USER_HEAD, SessionScorer
from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.records.reasons import REASON_HEAD_CACHE_STALE
from cursorprint.stream.records.topics import POINTER_BATCHES
from cursorprint.stream.settings import Settings
from cursorprint.stream.stores.heads import HeadStore
from tests.support.ingest_server import running_ingest
from tests.support.procs import read_to_end
from tests.support.stack import PrivateRedis

pytestmark = pytest.mark.integration

SECRET = "faults-site-secret-0123456789abcdef"
SITES = f"faults={SECRET}=https://faults.example"
HEADERS = {"Content-Type": "text/plain", "Origin": "https://faults.example"}


def _batch(token: str, sid: str, seq: int) -> bytes:
    n = 30
    return json.dumps({
        "v": 1, "site": "faults", "token": token, "sid": sid, "seq": seq, "path": "/pay",
        "vp": [1280, 720], "scr": [1920, 1080], "dpr": 1, "t0": time.time() * 1000.0,
        "final": False, "ev": {"dt": [8] * n, "x": [10 + 3 * i for i in range(n)],
                               "y": [50 + (i * seq) % 40 for i in range(n)],
                               "k": [0] * n, "b": [0] * n}}).encode()


async def _send_with_retry(http: aiohttp.ClientSession, url: str, body: bytes,
                           log: list[tuple[int, float]], deadline: float) -> int:
    """POST until a 202, backing off 0.25 s, 0.5 s, 1 s ... (max 4 s) like the collector."""
    delay = 0.25
    while True:
        try:
            async with http.post(url, data=body, headers=HEADERS,
                                 timeout=aiohttp.ClientTimeout(total=15)) as resp:
                status = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        log.append((status, time.monotonic()))
        if status == 202:
            return status
        assert status in (0, 503), f"unexpected answer {status}"
        assert time.monotonic() < deadline, "batch never accepted after the broker came back"
        await asyncio.sleep(delay)
        delay = min(delay * 2, 4.0)


def _bids_on_topic(bootstrap: str, prefix: str) -> list[str]:
    return [json.loads(r.value)["bid"] for r in read_to_end(bootstrap, [POINTER_BATCHES])
            if r.key and r.key.decode().startswith(prefix)]


async def test_broker_restart_under_load_loses_no_accepted_batch(
        stack: Stack, stack_settings: Settings) -> None:
    tag = uuid.uuid4().hex[:8]
    prefix = f"faults_{tag}_"
    token = mint_token("faults", "fault-user", SECRET, ttl_s=900)
    sent: list[str] = []
    log: list[tuple[int, float]] = []
    async with running_ingest(stack_settings, sites=SITES, ingest_client_rate=1000.0,
                              ingest_client_burst=1000.0, ingest_produce_timeout_s=2.0) as base:
        url = f"{base}/v1/batches"
        async with aiohttp.ClientSession() as http:
            stop = asyncio.Event()

            async def client(c: int) -> None:
                """One page session posting a batch every 100 ms until told to stop."""
                seq = 0
                while not stop.is_set():
                    sid = f"{prefix}{c:02d}"
                    await _send_with_retry(http, url, _batch(token, sid, seq), log,
                                           time.monotonic() + 150)
                    sent.append(f"{sid}:{seq}")
                    seq += 1
                    await asyncio.sleep(0.1)

            clients = [asyncio.create_task(client(c)) for c in range(4)]
            try:
                await asyncio.sleep(2.0)                         # load before the fault
                before = len(sent)
                await asyncio.to_thread(stack.stop_kafka)        # clean shutdown (SIGTERM)
                stopped_at = time.monotonic()
                await asyncio.sleep(6.0)                         # load while it is gone
                outage_503 = sum(1 for s, t in log if s == 503 and t >= stopped_at)
                await asyncio.to_thread(stack.start_kafka)       # waits until it answers
                restarted_at = time.monotonic()
                # let every client get at least three more batches through after the restart
                deadline = time.monotonic() + 120
                while len(sent) < before + 12 + 4 * 3 or not all(
                        any(b.startswith(f"{prefix}{c:02d}") and i >= before
                            for i, b in enumerate(sent)) for c in range(4)):
                    assert time.monotonic() < deadline, f"load did not resume: {len(sent)}"
                    await asyncio.sleep(0.5)
            finally:
                stop.set()
                done = await asyncio.gather(*clients, return_exceptions=True)
                if not stack.status()[0].answering:              # never leave it down
                    await asyncio.to_thread(stack.start_kafka)
            assert [d for d in done if d is not None] == []
    assert before > 0, "nothing was accepted before the fault"
    assert outage_503 > 0, "ingest never answered 503 while the broker was down"
    assert all(s in (0, 202, 503) for s, _ in log)
    accepted_after = [t for s, t in log if s == 202 and t > restarted_at]
    assert accepted_after, "nothing was accepted after the restart"

    on_topic = _bids_on_topic(stack_settings.kafka.bootstrap, prefix)
    missing = sorted(set(sent) - set(on_topic))
    assert missing == [], f"{len(missing)} of {len(sent)} accepted batches lost: {missing[:5]}"
    assert len(set(sent)) == len(sent) > 20


# --------------------------------------------------------------------- Redis down for scoring


def _tiny_scorer(heads: HeadStore) -> tuple[SessionScorer, Any]:
    """An untrained one-block backbone and heads fitted on its embeddings: enough to show the
    fallback path (the point is what happens around the model, not its accuracy)."""
    cfg = BackboneConfig(image_size=32, blocks=1, emb_dim=8)
    info = ModelInfo(version="faults-test", backbone=cfg, rule=WindowRule())
    rng = np.random.default_rng(3)
    population = fit_head(rng.normal(0, 1, (40, 8)), rng.normal(1, 1, (40, 8)), seed=1,
                          kind="population")
    user_head = fit_head(rng.normal(0, 1, (40, 8)), rng.normal(-1, 1, (40, 8)), seed=2)
    return SessionScorer(info, build_embedder(cfg), population, {}, heads), user_head


def test_scoring_survives_redis_outage_and_recovers(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        store = HeadStore(server.url, ttl_s=0.2, socket_timeout_s=0.3)
        scorer, user_head = _tiny_scorer(store)
        store.put("user-a", user_head)
        rng = np.random.default_rng(9)
        traj = synth_session(rng, random_style(rng), 600)
        scorer.heads = HeadStore(server.url, ttl_s=0.2, socket_timeout_s=0.3)  # fresh cache

        healthy = scorer.score_session("user-a", traj)
        assert healthy.head_version == user_head.version
        assert REASON_HEAD_CACHE_STALE not in healthy.reasons
        assert 0.0 <= healthy.score <= 1.0 and healthy.window_scores

        server.stop()
        time.sleep(0.3)                                   # past the cache TTL
        started = time.monotonic()
        cached = scorer.score_session("user-a", traj)
        unknown = scorer.score_session("user-b", traj)
        assert time.monotonic() - started < 10, "scoring hung on the dead Redis"
        assert cached.head_version == user_head.version          # the cached head, still used
        assert REASON_HEAD_CACHE_STALE in cached.reasons
        assert cached.score == pytest.approx(healthy.score, abs=1e-6)
        assert unknown.head_version.startswith("population:")    # population score ...
        assert {REASON_HEAD_CACHE_STALE, REASON_NO_USER_HEAD} <= set(unknown.reasons)
        assert 0.0 <= unknown.score <= 1.0                       # ... with reason codes

        server.start()                                    # same port, same data
        time.sleep(0.3)
        recovered = scorer.score_session("user-a", traj)
        assert recovered.head_version == user_head.version
        assert REASON_HEAD_CACHE_STALE not in recovered.reasons
        again = scorer.score_session("user-b", traj)
        assert again.reasons.count(REASON_NO_USER_HEAD) == 1
        assert REASON_HEAD_CACHE_STALE not in again.reasons
        assert scorer.heads is not None and scorer.heads.counters["redis_errors"] >= 2
    finally:
        server.stop()


def test_replay_check_degrades_while_redis_is_down_and_recovers(tmp_path: Path) -> None:
    """The scorer's replay check on a private redis-server that goes away and comes back: every
    session is still scored, with ``replay_check_unavailable`` while it is down, and replays are
    flagged again once it is back (its data survived, append-only file)."""
    from cursorprint.stream.records.reasons import REASON_REPLAY_UNCHECKED, REASON_REPLAYED
    from cursorprint.stream.records.session import SessionRecord
    from cursorprint.stream.score.microbatch import MicroBatchScorer
    from cursorprint.stream.score.replayed import ReplayDetector
    from cursorprint.stream.stores.fingerprints import RedisFingerprints

    def value(sid: str, traj: Any) -> bytes:
        return SessionRecord.from_trajectory(traj, session_id=sid, user="b" * 32, site="faults",
                                             path="/pay", t0=1.0, closed_at=2.0).to_bytes()

    server = PrivateRedis(tmp_path)
    server.start()
    try:
        client = redis.Redis.from_url(server.url, socket_timeout=1.0, socket_connect_timeout=1.0)
        scorer, _ = _tiny_scorer(HeadStore(server.url, ttl_s=0.2, socket_timeout_s=0.3))
        now = [0.0]                        # the detector's clock, moved by hand
        detector = ReplayDetector(RedisFingerprints(client, ttl_s=600), backoff_s=5.0,
                                  clock=lambda: now[0])
        mbs = MicroBatchScorer(scorer, lambda _site: 0.5, replay=detector)
        rng = np.random.default_rng(17)
        a, b, c = (synth_session(rng, random_style(rng), 600) for _ in range(3))

        healthy = mbs.score_batch([value("faults-session-a", a)])
        assert (healthy.replay_checked, healthy.replay_errors) == (1, 0)

        server.stop()
        down = mbs.score_batch([value("faults-session-b", b), value("faults-replay-a1", a)])
        assert [s.session_id for s in down.scores] == ["faults-session-b", "faults-replay-a1"]
        # one real failure, then the back-off skips Redis for the rest of the batch
        assert down.dead == [] and (down.replay_errors, down.replay_skipped) == (1, 1)
        for s in down.scores:
            assert REASON_REPLAY_UNCHECKED in s.reasons and REASON_REPLAYED not in s.reasons
            assert 0.0 <= s.score <= 1.0

        server.start()                                   # same port, same data
        now[0] += 5.0                                    # the back-off is over
        back = mbs.score_batch([value("faults-replay-a2", a), value("faults-session-c", c)])
        assert (back.replay_checked, back.replay_errors) == (2, 0)
        assert REASON_REPLAYED in back.scores[0].reasons          # remembered from before
        assert REASON_REPLAYED not in back.scores[1].reasons
        assert not any(REASON_REPLAY_UNCHECKED in s.reasons for s in back.scores)
    finally:
        server.stop()
