"""Replayed-trajectory detection (stream/score/replayed.py ReplayDetector) against the real redis-server of
the ``stack`` fixture: two detector instances (two scorer replicas) share what they remember; and
on the real pipeline (ingest -> Kafka -> sessionizer -> scorer worker), a recorded trajectory
submitted again for another session carries ``replayed_trajectory`` in its score and alert."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import redis

from cursorprint.model.data.synthetic import random_style, synth_session
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.devtools.playback import PlaybackSession, play_sessions
from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.records.reasons import REASON_REPLAY_UNCHECKED, REASON_REPLAYED
from cursorprint.stream.score.replayed import ReplayDetector, session_digest
from cursorprint.stream.settings import Settings
from cursorprint.stream.stores.fingerprints import RedisFingerprints
from tests.support.abuse_pipeline import abuse_pipeline, scores_and_alerts

pytestmark = pytest.mark.integration


def test_replay_across_replicas_on_real_redis(stack: Stack, stack_settings: Settings) -> None:
    client = redis.Redis.from_url(stack_settings.redis.url)
    prefix = f"cursorprint:replay-test-{uuid.uuid4().hex[:8]}:"
    replica_a = ReplayDetector(RedisFingerprints(client, ttl_s=600, prefix=prefix))
    replica_b = ReplayDetector(RedisFingerprints(redis.Redis.from_url(stack_settings.redis.url),
                                                 ttl_s=600, prefix=prefix))
    rng = np.random.default_rng(41)
    people = [synth_session(rng, random_style(rng), 700) for _ in range(8)]
    for i, traj in enumerate(people):
        verdict = (replica_a if i % 2 else replica_b).check_and_remember(
            f"real-session-{i:03d}", traj, "shop-a")
        assert verdict.checked and verdict.reasons == [], (i, verdict)

    original = people[5]
    t = np.maximum.accumulate(original.t + 86_400 + rng.normal(0, 0.002, len(original)))
    replay = Trajectory.from_columns(t, original.x + 120, original.y + 40, original.kind,
                                     original.button, (1366, 768))
    verdict = replica_b.check_and_remember("attacker-session-01", replay, "shop-a")
    assert verdict.reasons == [REASON_REPLAYED]
    assert verdict.matched == session_digest("real-session-005")

    keys = [k.decode() for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    assert keys, "nothing was stored"
    ttls = {client.ttl(k) for k in keys[:50]}
    assert all(0 < ttl <= 600 for ttl in ttls), ttls
    members = {m.decode() for k in keys[:200] for m in client.smembers(k)}
    assert not any("session" in m for m in members)       # digests only, never the raw ids
    assert not any("session" in k[len(prefix):] for k in keys)
    client.delete(*keys)


def test_replayed_trajectory_is_flagged_on_the_pipeline(
        stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    # a fresh seed per run: nothing else in this Redis has seen these trajectories
    rng = np.random.default_rng(uuid.uuid4().int & 0xFFFF_FFFF)
    recorded = synth_session(rng, random_style(rng), 700)
    genuine = PlaybackSession("genuine", "victim", recorded)
    # the recording played back elsewhere on the page with timer jitter (to_batches re-times
    # every session from now, so it arrives later too)
    t = np.maximum.accumulate(recorded.t + rng.normal(0, 0.002, len(recorded)))
    copy = Trajectory.from_columns(t, recorded.x + 60, recorded.y - 25, recorded.kind,
                                   recorded.button, recorded.screen)
    replayed = PlaybackSession("replayed", "attacker", copy)
    other = PlaybackSession("other", "someone-else", synth_session(rng, random_style(rng), 700))
    with abuse_pipeline(stack_settings, tmp_path_factory) as pipe:
        st = pipe.settings
        # the genuine session first, and only then the others: the scorer must have stored the
        # original's fingerprint before it sees the copy (no ordering across partitions)
        for batch in ([genuine], [replayed, other]):
            report = play_sessions(st, batch, ingest_url=pipe.ingest_url, timeout_s=120)
            assert report.missing == [] and report.rejected == {}, report.summary()
        scores, alerts = scores_and_alerts(st, {genuine.sid, replayed.sid, other.sid})

    for found in (scores, alerts):
        assert REASON_REPLAYED in found[replayed.sid]["reasons"], found[replayed.sid]
        assert REASON_REPLAYED not in found[genuine.sid]["reasons"]
        assert REASON_REPLAYED not in found[other.sid]["reasons"]
        assert not any(REASON_REPLAY_UNCHECKED in m["reasons"] for m in found.values())
    assert alerts[replayed.sid]["alert_id"] != alerts[genuine.sid]["alert_id"]
    assert scores[replayed.sid]["user"] != scores[genuine.sid]["user"]
