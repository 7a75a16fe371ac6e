"""The sessionizer's Faust agents in-process: ``agent.test_context()``, no broker.

faust-streaming has no memory transport (only aiokafka and confluent), so the app points at a
broker address that is never contacted and two Faust objects are replaced on the app: the
producer, by :class:`Broker`, which records every message it is handed (so every send goes
through Faust's real topics, serializers and the table's changelog topic) and acknowledges it at
once or fails it; and the consumer's ``highwater``, which the idle check reads. Everything else
is Faust's own code: the agents' streams, the table and its memory store.

What cannot run in-process, and is covered by the real-broker tests in ``tests/pipeline``:
Faust's offset commits and rebalances (so a kill -9 and the recovery of the table from the
changelog topic at start-up); here recovery is shown by rebuilding the table from the changelog
messages the broker stand-in recorded.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP
from faust.types.tuples import RecordMetadata

from cursorprint.stream.records import topics
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.sessionize.agent import STATE_TABLE, SessionizeSteps, add_sessionizer
from cursorprint.stream.settings import load_settings
from tests.stream.sessionize.test_logic import batch

UNREACHABLE = "kafka://127.0.0.1:9"      # never contacted: the producer is replaced


class BrokerDown(Exception):
    pass


@dataclass
class Broker:
    """Stand-in for Faust's producer: records ``(topic, partition, key, value)`` per send."""

    log: list[tuple[str, int, bytes, bytes | None]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    async def maybe_start(self) -> None:
        return None

    async def send(self, topic: str, key: bytes, value: bytes | None, partition: int | None,
                   timestamp: float | None, headers: Any, **kwargs: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if topic in self.failing:
            fut.set_exception(BrokerDown(topic))
            return fut
        self.log.append((topic, partition or 0, key, value))
        fut.set_result(RecordMetadata(topic, partition or 0, TP(topic, partition or 0),
                                      len(self.log), timestamp))
        return fut

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self.send(*args, **kwargs))

    def sessions(self) -> list[SessionRecord]:
        return [SessionRecord.from_bytes(v) for t, _, _, v in self.log
                if t == topics.SESSIONS and v is not None]

    def changelog(self) -> list[tuple[int, str, Any]]:
        """``(partition, key, value or None)`` of the state table's changelog, in order."""
        return [(p, json.loads(k), None if v is None else json.loads(v))
                for t, p, k, v in self.log if t.endswith(f"{STATE_TABLE}-changelog")]

    def restored(self) -> dict[str, Any]:
        """The table as a restarted worker rebuilds it from the changelog."""
        state: dict[str, Any] = {}
        for _, key, value in self.changelog():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        return state


@dataclass
class Worker:
    app: faust.App
    steps: SessionizeSteps
    broker: Broker
    dead: list[tuple[Any, ...]]
    now: list[float]
    high: dict[int, int]                    # pointer-batches high-water mark per partition
    skipped_reads: list[tuple[int, int, int]]
    kafka: dict[tuple[int, int], bytes]     # (partition, offset) -> value, for skipped reads

    @property
    def state(self) -> Any:
        return self.steps.table.data

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not cond():
            assert asyncio.get_running_loop().time() < deadline, "agent did not get there"
            await asyncio.sleep(0.001)


def make_worker(broker: Broker | None = None, initial: dict[str, Any] | None = None) -> Worker:
    settings = load_settings(environ={"CURSORPRINT_SESSION_IDLE_S": "5",
                                      "CURSORPRINT_SESSION_WINDOW_EVENTS": "0"})
    app = faust.App(f"cp-test-{uuid.uuid4().hex[:8]}", broker=UNREACHABLE, store="memory://",
                    key_serializer="raw", value_serializer="raw")
    w = Worker(app, None, broker or Broker(), [], [1000.0], {}, [], {})  # type: ignore[arg-type]
    app.producer = w.broker  # type: ignore[assignment]  # a stand-in, not a ProducerT
    setattr(app.consumer, "highwater", lambda tp: w.high.get(tp.partition))  # noqa: B010

    async def send_dead(*args: Any) -> None:
        w.dead.append(args)

    async def read_skipped(partition: int, start: int, stop: int) -> list[tuple[int, bytes]]:
        w.skipped_reads.append((partition, start, stop))
        return [(o, w.kafka[(partition, o)]) for o in range(start, stop)]

    w.steps = add_sessionizer(app, settings, {}, send_dead, read_skipped=read_skipped,
                              clock=lambda: w.now[0])
    app.finalize()
    w.state.update(initial or {})
    return w


@asynccontextmanager
async def running(w: Worker, name: str) -> AsyncIterator[Any]:
    async with w.app.agents[name].test_context() as agent:
        yield agent


async def put_batches(w: Worker, agent: Any, seqs: list[int], partition: int = 2,
                      final: int | None = None, sid: str = "sess-0001") -> None:
    for seq in seqs:
        rec = batch(seq, final=seq == final, sid=sid)
        w.kafka[(partition, agent.sent_offset)] = rec.to_bytes()
        await agent.put(key=rec.key, value=rec.to_bytes(), partition=partition)
    last = agent.sent_offset - 1
    await w.until(lambda: w.steps.handled.get(partition) == last)


def test_batches_in_any_order_become_one_session_published_before_its_state() -> None:
    async def scenario() -> None:
        w = make_worker()
        async with running(w, "sessionize") as agent:
            await put_batches(w, agent, [0, 2, 1, 2, 3], final=3)
        [rec] = w.broker.sessions()
        assert (rec.session_id, rec.cause, rec.x) == ("sess-0001", "exit", list(range(40)))
        # every state change went to the changelog partition of the input, and the session
        # was acknowledged by the broker before its tombstone (at-least-once order)
        assert {p for p, _, _ in w.broker.changelog()} == {2}
        assert w.broker.changelog()[-1][1:] == ("h:sess-0001", w.state["h:sess-0001"])
        # the session was acknowledged before the state says "closed" and its batches go
        published = [t for t, _, _, _ in w.broker.log].index(topics.SESSIONS)
        after = [(k, v) for t, _, k, v in w.broker.log[published + 1:]]
        assert after and all(v is None for _, v in after[:-1])
        assert not any(t.endswith("changelog") and v is None
                       for t, _, _, v in w.broker.log[:published])
        assert dict(w.state) == w.broker.restored() == {
            "h:sess-0001": w.state["h:sess-0001"]}
        assert w.state["h:sess-0001"]["cause"] == "exit"
        assert w.steps.sz.open_sessions() == 0
    asyncio.run(scenario())


def test_a_malformed_batch_is_dead_lettered_and_the_stream_goes_on() -> None:
    async def scenario() -> None:
        w = make_worker()
        async with running(w, "sessionize") as agent:
            await agent.put(key=b"x", value=b"{not json", partition=0)
            await put_batches(w, agent, [0], partition=0, final=0)
        assert [(d[0], d[3], d[4]) for d in w.dead] == [(topics.POINTER_BATCHES, 0, 0)]
        assert "JSON" in w.dead[0][1]
        assert [r.n_events for r in w.broker.sessions()] == [10]
    asyncio.run(scenario())


def test_offsets_faust_skipped_are_read_directly_and_handled_in_order() -> None:
    async def scenario() -> None:
        w = make_worker()
        async with running(w, "sessionize") as agent:
            await put_batches(w, agent, [0], partition=1)
            for seq in (1, 2):       # in Kafka, but never delivered by the consumer
                w.kafka[(1, agent.sent_offset)] = batch(seq).to_bytes()
                agent.sent_offset += 1
            await put_batches(w, agent, [3], partition=1, final=3)
            await put_batches(w, agent, [1], partition=1)    # delivered late after all
        assert w.skipped_reads == [(1, 1, 3)]
        [rec] = w.broker.sessions()
        assert rec.x == list(range(40))
    asyncio.run(scenario())


def test_idle_close_waits_while_the_partition_has_a_backlog() -> None:
    async def scenario() -> None:
        w = make_worker()
        async with running(w, "sessionize") as agent:
            await put_batches(w, agent, [0, 1], partition=3)
        w.now[0] += 60_000.0
        async with running(w, "idle-close") as ticks:
            w.high[3] = 5                  # batches 2..4 still wait in Kafka: not idle
            await ticks.put(key=b"tick", value=b"1", partition=3)
            await ticks.put(key=b"tick", value=b"1", partition=0)    # another partition
            await asyncio.sleep(0.05)
            assert w.broker.sessions() == []
            w.high[3] = 2                  # caught up
            await ticks.put(key=b"tick", value=b"1", partition=3)
            await w.until(lambda: len(w.broker.sessions()) == 1)
        [rec] = w.broker.sessions()
        assert (rec.cause, rec.n_events) == ("idle", 20)
        await w.until(lambda: w.state["h:sess-0001"]["closed"])
        assert {p for p, _, _ in w.broker.changelog()} == {3}
    asyncio.run(scenario())


def test_state_stays_open_when_the_broker_does_not_acknowledge_the_session() -> None:
    async def scenario() -> None:
        w = make_worker()
        w.broker.failing.add(topics.SESSIONS)
        async with running(w, "sessionize") as agent:
            await put_batches(w, agent, [0], partition=0)
            rec = batch(1, final=True)
            await agent.put(key=rec.key, value=rec.to_bytes(), partition=0)
            await w.until(lambda: agent.crashed)
            assert isinstance(agent.crash_reason, BrokerDown)
        # nothing says "closed", and offset 1 is not handled: a restart reads batch 1 again
        # and publishes the session then
        assert w.steps.handled[0] == 0
        assert w.broker.sessions() == []
        assert not w.state["h:sess-0001"]["closed"]
        assert set(w.state) == {"h:sess-0001", "b:sess-0001:0"}
    asyncio.run(scenario())


def test_a_restarted_worker_continues_from_the_changelog() -> None:
    async def scenario() -> None:
        first = make_worker()
        async with running(first, "sessionize") as agent:
            await put_batches(first, agent, [0, 2, 1], partition=0)
        assert first.broker.sessions() == []
        again = make_worker(initial=first.broker.restored())
        async with running(again, "sessionize") as agent:
            await put_batches(again, agent, [1, 3, 4], partition=0, final=4)
        [rec] = again.broker.sessions()
        assert rec.x == list(range(50))
        assert set(again.state) == {"h:sess-0001"}
    asyncio.run(scenario())


def test_a_group_writes_state_once_and_a_session_closed_within_it_never_reaches_the_changelog(
        ) -> None:
    async def scenario() -> None:
        w = make_worker()
        async with running(w, "sessionize") as agent:
            for seq in (0, 1, 2, 3):     # sent together: one group (take_events)
                rec = batch(seq, final=seq == 3, sid="sess-0002")
                await agent.put(key=rec.key, value=rec.to_bytes(), partition=0, wait=False)
            await put_batches(w, agent, [0, 1, 2], partition=0)    # a session left open
        assert [(r.session_id, r.n_events) for r in w.broker.sessions()] == [("sess-0002", 40)]
        keys = [k for _, k, _ in w.broker.changelog()]
        assert keys.count("h:sess-0002") == 1                       # the tombstone only
        assert not any(k.startswith("b:sess-0002") for k in keys)
        # batches are held as their changelog bytes; recovery gives them back decoded
        assert keys.count("h:sess-0001") <= 3
        assert w.broker.restored() == {k: json.loads(v) if isinstance(v, bytes) else v
                                       for k, v in w.state.items()}
    asyncio.run(scenario())
