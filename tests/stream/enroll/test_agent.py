"""The ``enroll`` agent in-process: Faust's ``agent.test_context()`` feeds it
``trusted-sessions`` values on an in-memory channel (no broker, no Redis); the stand-in model
and dict stores of stream/testing.py stand in for the model thread's parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import faust
import pytest

from cursorprint.stream.enroll.agent import add_enroller
from cursorprint.stream.records import topics
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.score.runtime import ModelRuntime
from cursorprint.stream.testing import (
    DeadLetters,
    MemoryEnrolments,
    MemoryHeads,
    StandInModel,
    stand_in_runtime,
)
from tests.stream.enroll.test_enroller import session

OWNER = "0" * 32


@dataclass
class Harness:
    agent: faust.types.AgentT
    heads: MemoryHeads
    enrolments: MemoryEnrolments
    dead: DeadLetters
    runtime: ModelRuntime

    async def until(self, done: Callable[[], bool], timeout_s: float = 20.0) -> None:
        async def poll() -> None:
            while not done():
                await asyncio.sleep(0.01)
        await asyncio.wait_for(poll(), timeout_s)


@pytest.fixture()
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    app = faust.App("enroll-test", broker="kafka://never-contacted:9092", store="memory://",
                    datadir=str(tmp_path / "faust"))
    app.finalize()
    heads, enrolments = MemoryHeads(), MemoryEnrolments()
    runtime = stand_in_runtime(StandInModel(heads), enrolments=enrolments)
    dead = DeadLetters()
    agent = add_enroller(app, runtime, dead)
    async with agent.test_context() as tested:
        yield Harness(tested, heads, enrolments, dead, runtime)
    runtime.close()


def trusted(x: float, events: int, user: str = OWNER) -> bytes:
    return SessionRecord.from_trajectory(session(x, events), session_id=f"trusted-{x}",
                                         user=user, site="demo", path="/account", t0=1.0,
                                         closed_at=2.0).to_bytes()


async def test_trusted_sessions_grow_the_enrolment_until_a_head_is_stored(
        harness: Harness) -> None:
    await harness.agent.put(trusted(300.0, 500), wait=False)
    await harness.until(lambda: len(harness.enrolments.windows(OWNER)) == 5)
    assert OWNER not in harness.heads.heads                      # too few windows so far
    await harness.agent.put(trusted(310.0, 500), wait=False)
    await harness.until(lambda: OWNER in harness.heads.heads)
    assert harness.heads.meta[OWNER]["windows"] == 10 and harness.dead.sent == []


async def test_the_scorer_uses_the_head_enrollment_stored(harness: Harness) -> None:
    await harness.agent.put(trusted(300.0, 900), wait=False)
    await harness.until(lambda: OWNER in harness.heads.heads)
    scorer = (await harness.runtime.ready()).scorer
    res = scorer.score_batch([trusted(300.0, 300)])
    assert res.scores[0].head_version == harness.heads.heads[OWNER].version


async def test_bad_records_and_store_outages_are_dead_lettered_and_the_agent_goes_on(
        harness: Harness) -> None:
    await harness.agent.put(b"not a session", wait=False)
    await harness.until(lambda: len(harness.dead.sent) == 1)
    source, error, value, partition, offset = harness.dead.sent[0]
    assert (source, value, partition, offset) == (topics.TRUSTED_SESSIONS, b"not a session", 0, 0)
    assert "SessionRecordError" in error or "JSON" in error

    harness.enrolments.down = True
    await harness.agent.put(trusted(300.0, 900), wait=False)
    await harness.until(lambda: len(harness.dead.sent) == 2)
    assert "Unavailable" in harness.dead.sent[1][1] and harness.dead.sent[1][4] == 1

    harness.enrolments.down = False
    await harness.agent.put(trusted(300.0, 900), wait=False)
    await harness.until(lambda: OWNER in harness.heads.heads)


async def test_a_redelivered_session_enrolls_once(harness: Harness) -> None:
    await harness.agent.put(trusted(300.0, 500), wait=False)
    await harness.agent.put(trusted(300.0, 500), wait=False)        # the same session again
    await harness.agent.put(trusted(310.0, 500), wait=False)
    await harness.until(lambda: OWNER in harness.heads.heads)
    assert len(harness.enrolments.windows(OWNER)) == 10 and harness.dead.sent == []


async def test_a_session_that_is_not_mouse_input_is_dead_lettered_not_enrolled(
        harness: Harness) -> None:
    touch = SessionRecord.from_bytes(trusted(300.0, 900))
    await harness.agent.put(replace(touch, pointer="touch").to_bytes(), wait=False)
    await harness.until(lambda: len(harness.dead.sent) == 1)
    assert "not_mouse" in harness.dead.sent[0][1] and "touch" in harness.dead.sent[0][1]
    assert harness.enrolments.windows(OWNER) == [] and OWNER not in harness.heads.heads
