"""The sessionizer's Faust agents: ``pointer-batches`` in, ``sessions`` out, state in a table.

Thin by design: the logic is :class:`~cursorprint.stream.sessionize.logic.Sessionizer`, the
Faust workarounds are in :mod:`~cursorprint.stream.sessionize.faust_internals`. This module only
moves records between them and Kafka, in the order that makes delivery at-least-once: publish a
step's records and wait for the broker, then write the state, then let Faust commit.

The table uses Faust's in-memory store with a changelog topic (no RocksDB): the state per open
session is bounded (length cap, out-of-order limit) and rebuilt from the changelog at start-up.
Idle sessions are closed by a timer that sends a tick to every partition of a private
co-partitioned topic; the tick agent then closes sessions *inside* a stream event, so the
changelog records go to the partition being ticked and Faust commits after them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import TP

from cursorprint.stream import metrics as m
from cursorprint.stream.records import topics
from cursorprint.stream.records.dead_letter import SendDeadLetter
from cursorprint.stream.records.wire import PointerBatchRecord, WireError
from cursorprint.stream.sessionize import faust_internals as fi
from cursorprint.stream.sessionize.kafka_read import read_range
from cursorprint.stream.sessionize.logic import Outcome, Sessionizer, SessionizerConfig
from cursorprint.stream.settings import Settings

__all__ = ["add_sessionizer", "SessionizeSteps", "ReadSkipped", "STATE_TABLE"]

log = logging.getLogger(__name__)

STATE_TABLE = "sessionizer-state"
#: ``(partition, start, stop)`` -> ``(offset, value)`` of pointer-batches ``start <= o < stop``
ReadSkipped = Callable[[int, int, int], Awaitable[list[tuple[int, bytes]]]]


def _now_ms() -> float:
    return time.time() * 1000.0


class SessionizeSteps:
    """What the two agents do with one event, apart from how Faust delivers it.

    ``handled`` is the last pointer-batches offset handled per partition (the reference for
    :func:`~cursorprint.stream.sessionize.faust_internals.first_unhandled`)."""

    def __init__(self, app: faust.App, sz: Sessionizer, table: Any, sessions: Any,
                 send_dead: SendDeadLetter, read_skipped: ReadSkipped,
                 clock: Callable[[], float]) -> None:
        self.app, self.sz, self.table, self.sessions = app, sz, table, sessions
        self.send_dead, self.read_skipped, self.clock = send_dead, read_skipped, clock
        self.handled: dict[int, int] = {}

    async def apply(self, out: Outcome, partition: int) -> None:
        """Publish, wait for the broker, then write the state (at-least-once order)."""
        futures = [await self.sessions.send(key=rec.key, value=rec.to_bytes())
                   for rec in out.records]
        for fut in futures:
            await fut          # acknowledged before the state says "closed"
        await fi.write_table(self.table, out.writes, partition)
        self.sz.note_writes(out)
        for reason in out.dropped:
            m.BATCHES_DROPPED.labels(reason=reason).inc()
            if reason == "gap":     # accepted events given up on: worth a line in the log
                log.warning("sessionizer: gave up waiting for a missing batch (sequence gap)")
        for rec in out.records:
            if rec.part == "final":
                m.SESSIONS_CLOSED.labels(cause=rec.cause).inc()
                m.SESSION_EVENTS.observe(rec.n_events)
                m.SESSION_DURATION.observe(rec.t[-1] - rec.t[0] if rec.t else 0.0)

    async def batch(self, partition: int, offset: int, value: bytes) -> None:
        """One pointer-batches message, after any range Faust skipped before it."""
        await self._fill_skipped(partition, offset)
        await self._handle(partition, offset, value)

    async def _handle(self, partition: int, offset: int, value: bytes) -> None:
        try:
            rec = PointerBatchRecord.from_bytes(value)
        except WireError as exc:
            await self.send_dead(topics.POINTER_BATCHES, str(exc), value, partition, offset)
        else:
            await self.apply(self.sz.on_batch(rec, partition, self.clock()), partition)
        self.handled[partition] = offset

    async def _fill_skipped(self, partition: int, offset: int) -> None:
        """Handle the batches Faust skipped before ``offset``, read straight from Kafka (a seek
        cannot undo a skip: Faust drops re-fetched offsets below its read offset). Any that
        Faust delivers later after all are dropped as duplicates by sequence number."""
        tp = TP(topics.POINTER_BATCHES, partition)
        expected = fi.first_unhandled(self.app.consumer, tp, self.handled.get(partition))
        if expected is None or offset <= expected:
            return
        log.warning("sessionizer: the consumer skipped offsets %d..%d of %s; reading them "
                    "directly", expected, offset - 1, tp)
        for rec_offset, value in await self.read_skipped(partition, expected, offset):
            await self._handle(partition, rec_offset, value)

    async def tick(self, partition: int) -> None:
        """Close the idle sessions of ``partition`` unless its batches are still arriving."""
        done = await fi.caught_up(self.app.consumer, TP(topics.POINTER_BATCHES, partition),
                                  self.handled.get(partition))
        await self.apply(self.sz.on_tick(partition, self.clock(), close_idle=done), partition)

    def forget(self, revoked: Any) -> None:
        """Offsets handled before a rebalance say nothing once the partition comes back."""
        for tp in revoked:
            if tp.topic == topics.POINTER_BATCHES:
                self.handled.pop(tp.partition, None)


def add_sessionizer(app: faust.App, settings: Settings, ready: dict[str, bool],
                    send_dead: SendDeadLetter, *, read_skipped: ReadSkipped | None = None,
                    clock: Callable[[], float] = _now_ms) -> SessionizeSteps:
    """Add the ``sessionize`` and ``idle-close`` agents and the tick timer to ``app``.

    ``read_skipped`` (default: a private Kafka consumer) and ``clock`` (epoch ms) are there for
    in-process tests, which also read the returned steps' state."""
    batches = app.topic(topics.POINTER_BATCHES, key_serializer="raw", value_serializer="raw")
    sessions = app.topic(topics.SESSIONS, key_serializer="raw", value_serializer="raw")
    ticks = app.topic(f"{app.conf.id}-ticks", partitions=settings.topics.partitions,
                      internal=True, key_serializer="raw", value_serializer="raw",
                      retention=3600.0)
    table = app.Table(STATE_TABLE, default=None, partitions=settings.topics.partitions,
                      schema=faust.Schema(key_serializer="json", value_serializer="json"),
                      extra_topic_configs=topics.CHANGELOG_CONFIGS)
    cfg = SessionizerConfig(idle_s=settings.sessionizer.idle_s,
                            max_events=settings.sessionizer.max_events,
                            window_events=settings.sessionizer.window_events,
                            max_pending=settings.sessionizer.max_pending)
    ready["sessionizer"] = False
    sz = Sessionizer(table, cfg)     # shared by both agents (one event loop)

    async def read_from_kafka(partition: int, start: int, stop: int) -> list[tuple[int, bytes]]:
        return await read_range(settings, topics.POINTER_BATCHES, partition, start, stop)

    steps = SessionizeSteps(app, sz, table, sessions, send_dead,
                            read_skipped or read_from_kafka, clock)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # called (app, revoked, signal=)
    async def forget_handled(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        steps.forget(fi.revoked_partitions(args, kwargs))

    @app.agent(batches, name="sessionize")
    async def sessionize(stream: Any) -> None:
        ready["sessionizer"] = True
        async for event in stream.events():
            msg = event.message
            await steps.batch(msg.partition, msg.offset, event.value or b"")

    @app.agent(ticks, name="idle-close")
    async def idle_close(stream: Any) -> None:
        async for event in stream.events():
            await steps.tick(event.message.partition)

    @app.timer(interval=settings.sessionizer.tick_s)
    async def tick() -> None:
        for p in range(settings.topics.partitions):
            await ticks.send(key=b"tick", value=b"1", partition=p)
        # read-only scan: the gauge is right after a restart too (state comes from the changelog)
        m.OPEN_SESSIONS.set(sz.open_sessions())

    return steps
