"""The ``score`` agent in-process: Faust's ``agent.test_context()`` feeds it ``sessions`` values
on an in-memory channel (no broker, no Redis, no TensorFlow); the stand-in model and dict stores
of stream/testing.py stand in for the model thread's parts, recording sinks for the topics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import faust
import pytest

from cursorprint.stream import metrics as m
from cursorprint.stream.records import topics
from cursorprint.stream.records.reasons import (
    REASON_ABOVE_THRESHOLD,
    REASON_REPLAY_UNCHECKED,
    REASON_REPLAYED,
)
from cursorprint.stream.records.scores import alert_id
from cursorprint.stream.score.agent import ReplayHealth, add_scorer
from cursorprint.stream.score.microbatch import BatchResult
from cursorprint.stream.score.runtime import ModelRuntime
from cursorprint.stream.settings import load_settings
from cursorprint.stream.testing import (
    DeadLetters,
    MemoryFingerprints,
    MemoryHeads,
    RecordingSink,
    StandInModel,
    stand_in_head,
    stand_in_runtime,
)
from tests.stream.score.people import humans, record_value
from tests.stream.score.test_microbatch import OWNER, record


@dataclass
class Harness:
    agent: faust.types.AgentT
    scores: RecordingSink
    alerts: RecordingSink
    dead: DeadLetters
    scored: list[BatchResult]
    ready: dict[str, bool]
    fingerprints: MemoryFingerprints
    runtime: ModelRuntime

    async def until(self, done: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait for the agent to get there (it publishes after ``take`` hands it a batch)."""
        async def poll() -> None:
            while not done():
                await asyncio.sleep(0.01)
        await asyncio.wait_for(poll(), timeout_s)

    def score_values(self) -> list[dict[str, object]]:
        return [json.loads(v) for _, v in self.scores.records]


@pytest.fixture()
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = load_settings(environ={"CURSORPRINT_SCORER_BATCH_SIZE": "2",
                                      "CURSORPRINT_SCORER_BATCH_WITHIN_S": "0.05"},
                             home=tmp_path)
    app = faust.App("score-test", broker="kafka://never-contacted:9092", store="memory://",
                    datadir=str(tmp_path / "faust"))
    app.finalize()
    fingerprints = MemoryFingerprints()
    runtime = stand_in_runtime(StandInModel(MemoryHeads({OWNER: stand_in_head("h1")})),
                               threshold=0.5, fingerprints=fingerprints)
    h = Harness(agent=None, scores=RecordingSink(), alerts=RecordingSink(),  # type: ignore[arg-type]
                dead=DeadLetters(), scored=[], ready={}, fingerprints=fingerprints,
                runtime=runtime)
    agent = add_scorer(app, settings, runtime, h.ready, h.dead,
                       lambda raws, res: h.scored.append(res), scores=h.scores, alerts=h.alerts)
    async with agent.test_context() as tested:
        h.agent = tested
        yield h
    runtime.close()


async def test_scores_alerts_and_dead_letters_are_published(harness: Harness) -> None:
    assert harness.ready == {"scorer": False}
    values = [record("s1", OWNER, 900.0, 300), b"not json", record("s2", "b" * 32, 200.0, 300)]
    for v in values:
        await harness.agent.put(v, wait=False)
    await harness.until(lambda: len(harness.scores.records) == 2 and len(harness.dead.sent) == 1)
    assert harness.ready == {"scorer": True}
    scores = harness.score_values()
    assert [s["session_id"] for s in scores] == ["s1", "s2"]
    assert [k for k, _ in harness.scores.records] == [OWNER.encode(), b"b" * 32]  # key: user
    assert [s["head_version"] for s in scores] == ["h1", "population:stand-in"]
    [(key, raw)] = harness.alerts.records
    alert = json.loads(raw)
    assert key == OWNER.encode() and alert["alert_id"] == alert_id("s1", "final", "test-v1")
    assert alert["reasons"][0] == REASON_ABOVE_THRESHOLD and alert["threshold"] == 0.5
    source, error, value, _, _ = harness.dead.sent[0]
    assert (source, value) == (topics.SESSIONS, b"not json") and "JSON" in error
    assert sum(len(r.scores) for r in harness.scored) == 2      # the demo views hear of both


async def test_a_replayed_session_is_flagged_across_micro_batches(harness: Harness) -> None:
    human = humans(1, seed=61)[0]
    await harness.agent.put(record_value("original-session", human), wait=False)
    await harness.until(lambda: len(harness.scores.records) == 1)
    await harness.agent.put(record_value("copy-session-001", human), wait=False)
    await harness.until(lambda: len(harness.scores.records) == 2)
    first, copy = harness.score_values()
    assert REASON_REPLAYED not in first["reasons"]                   # type: ignore[operator]
    assert REASON_REPLAYED in copy["reasons"]                        # type: ignore[operator]


async def test_scoring_goes_on_while_the_replay_store_is_down(harness: Harness) -> None:
    gauge = m.DEGRADED.labels(dependency="replay_store")
    harness.fingerprints.down = True
    try:
        await harness.agent.put(record_value("during-outage-1", humans(1, seed=62)[0]),
                                wait=False)
        await harness.until(lambda: len(harness.scores.records) == 1)
        [score] = harness.score_values()
        assert REASON_REPLAY_UNCHECKED in score["reasons"]          # type: ignore[operator]
        assert gauge._value.get() == 1
    finally:
        gauge.set(0)


async def test_a_failing_model_dead_letters_the_micro_batch_and_the_agent_goes_on(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_scorer = (await harness.runtime.ready()).scorer
    calls = {"n": 0}
    real = runtime_scorer.score_batch

    def flaky(values: list[bytes]) -> BatchResult:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("backbone out of memory")
        return real(values)

    monkeypatch.setattr(runtime_scorer, "score_batch", flaky)
    await harness.agent.put(record("s1", OWNER, 900.0, 300), wait=False)
    await harness.until(lambda: len(harness.dead.sent) == 1)
    assert "backbone out of memory" in harness.dead.sent[0][1]
    await harness.agent.put(record("s2", OWNER, 900.0, 300), wait=False)
    await harness.until(lambda: len(harness.scores.records) == 1)


def test_degraded_gauge_flips_once_per_state_change() -> None:
    gauge = m.DEGRADED.labels(dependency="replay_store")
    errors = m.REDIS_ERRORS.labels(service="scorer")
    health, before = ReplayHealth(), errors._value.get()
    try:
        health.note(BatchResult(replay_errors=3))
        assert health.degraded and gauge._value.get() == 1
        health.note(BatchResult(replay_errors=1))
        health.note(BatchResult())             # nothing checked: no news
        assert health.degraded and gauge._value.get() == 1
        assert errors._value.get() - before == 4
        health.note(BatchResult(replay_checked=2))
        assert not health.degraded and gauge._value.get() == 0
    finally:
        gauge.set(0)
