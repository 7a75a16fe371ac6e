"""The scorer's side: its agent writes live scores after publishing and forwards confirmed
owners' closed parts (Faust's test_context, stand-in model, dict live store; no Redis)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import faust
import pytest

from cursorprint.stream import metrics as m
from cursorprint.stream.decide.live import LiveScoreWriter, movement_seconds
from cursorprint.stream.records.scores import ScoreRecord
from cursorprint.stream.score.agent import add_scorer
from cursorprint.stream.settings import load_settings
from cursorprint.stream.stores.live_scores import LABEL_OWNER, owner_of
from cursorprint.stream.testing import (
    DeadLetters,
    ManualClock,
    MemoryHeads,
    MemoryLiveScores,
    RecordingSink,
    StandInModel,
    stand_in_head,
    stand_in_runtime,
)
from tests.stream.score.test_microbatch import OWNER, record


def test_movement_seconds_leave_pauses_out() -> None:
    assert movement_seconds([]) == 0.0 and movement_seconds([1.0]) == 0.0
    assert movement_seconds([0, 0.1, 0.2, 5.0, 5.3]) == pytest.approx(0.5)


async def _until(done: Callable[[], bool]) -> None:
    for _ in range(1000):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_agent_writes_live_scores_and_forwards_confirmed_owners(tmp_path: Path) -> None:
    settings = load_settings(environ={"CURSORPRINT_SCORER_BATCH_SIZE": "2",
                                      "CURSORPRINT_SCORER_BATCH_WITHIN_S": "0.05",
                                      "CURSORPRINT_TRUSTED_MIN_SECONDS": "0"}, home=tmp_path)
    app = faust.App("live-test", broker="kafka://never-contacted:9092", store="memory://",
                    datadir=str(tmp_path / "faust"))
    app.finalize()
    live, trusted, scores = MemoryLiveScores(), RecordingSink(), RecordingSink()
    runtime = stand_in_runtime(StandInModel(MemoryHeads({OWNER: stand_in_head("h1")})))
    agent = add_scorer(app, settings, runtime, {}, DeadLetters(), lambda raws, res: None,
                       scores=scores, alerts=RecordingSink(), live=live, trusted=trusted)
    try:
        async with agent.test_context() as tested:
            await tested.put(record("s1_session", OWNER, 100.0, 300), wait=False)
            await _until(lambda: bool(live.sessions))
            st = await live.read("s1_session")
            assert st.owner == owner_of("demo", OWNER)
            (p,) = st.parts
            assert (p.part, p.closed, p.n_windows, p.head_version) == ("final", True, 3, "h1")
            assert p.seconds > 0 and p.src is not None
            assert trusted.records == []
            # the site confirms the owner; the next closed segment goes to trusted-sessions
            await live.set_label("s1_session", owner_of("demo", OWNER), LABEL_OWNER)
            raw = record("s1_session~1", OWNER, 120.0, 300)
            await tested.put(raw, wait=False)
            await _until(lambda: bool(trusted.records))
            assert trusted.records == [(OWNER.encode(), raw)]
            assert (await live.read("s1_session")).forwarded == {"1:final"}
            assert len(scores.records) == 2
    finally:
        runtime.close()


def _score(sid: str) -> ScoreRecord:
    return ScoreRecord(score_id="x", session_id=sid, part="final", cause="exit", user=OWNER,
                       site="demo", page="/", score=0.1, window_scores=[0.1], reasons=[],
                       model_version="m", head_version="h", n_events=10, closed_at=0,
                       scored_at=0)


async def test_redis_down_backs_off_and_recovers() -> None:
    live, clock = MemoryLiveScores(), ManualClock()
    writer = LiveScoreWriter(live, clock=clock)
    gauge = m.DEGRADED.labels(dependency="live_scores")

    async def send(key: bytes, value: bytes) -> None:
        raise AssertionError("nothing is forwarded")

    live.down = True
    await writer.write([_score("abcdefgh1")], {}, send)
    assert writer.degraded and gauge._value.get() == 1
    calls = live.calls
    await writer.write([_score("abcdefgh2")], {}, send)       # backing off: not even tried
    assert live.calls == calls
    live.down = False
    clock.advance(10)
    await writer.write([_score("abcdefgh3")], {}, send)
    assert not writer.degraded and gauge._value.get() == 0
    assert (await live.read("abcdefgh3")).known
    assert json.loads(_score("x").to_bytes())["user"] == OWNER
