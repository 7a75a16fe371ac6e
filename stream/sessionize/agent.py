"""The sessionizer's Faust agents: ``pointer-batches`` in, ``sessions`` out, state in a table.

Thin by design: the logic is :class:`~cursorprint.stream.sessionize.logic.Sessionizer`, the
Faust workarounds are in :mod:`~cursorprint.stream.sessionize.faust_internals`. This module only
moves records between them and Kafka, in the order that makes delivery at-least-once: publish a
group's records and wait for the broker, then write the state, then let Faust acknowledge the
group's events and commit.

The table uses Faust's in-memory store with a changelog topic (no RocksDB): the state per open
session is bounded (length cap, out-of-order limit) and rebuilt from the changelog at start-up.
Idle sessions are closed by a timer that sends a tick to every partition of a private
co-partitioned topic; the tick agent then closes sessions *inside* a stream event, so the
changelog records go to the partition being ticked and Faust commits after them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
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
# a group is what arrived within GROUP_WITHIN_S, at most GROUP_MAX batches: under load the
# per-group costs (header writes, broker round trip) are shared; idle, a batch waits <= 20 ms
GROUP_MAX = 500
GROUP_WITHIN_S = 0.02
#: ``(partition, start, stop)`` -> ``(offset, value)`` of pointer-batches ``start <= o < stop``
ReadSkipped = Callable[[int, int, int], Awaitable[list[tuple[int, bytes]]]]


def _now_ms() -> float:
    return time.time() * 1000.0


class SessionizeSteps:
    """What the two agents do with their events, apart from how Faust delivers them.

    Batches come in groups (Faust's ``take_events``): each step of a group adds to one outcome
    per partition, and the group is applied at once, so a session's header goes to the changelog
    once a group, not once a batch, and a batch whose session closes within the group never
    reaches it. Faust acknowledges a group's events only after :meth:`batches` returns.

    ``handled`` is the last pointer-batches offset whose state is applied, per partition (the
    reference for :func:`~cursorprint.stream.sessionize.faust_internals.first_unhandled`). One
    lock keeps a tick from reading the state while a group's outcome is still being applied."""

    def __init__(self, app: faust.App, sz: Sessionizer, table: Any, sessions: Any,
                 send_dead: SendDeadLetter, read_skipped: ReadSkipped,
                 clock: Callable[[], float]) -> None:
        self.app, self.sz, self.table, self.sessions = app, sz, table, sessions
        self.send_dead, self.read_skipped, self.clock = send_dead, read_skipped, clock
        self.handled: dict[int, int] = {}
        self._lock = asyncio.Lock()

    async def batches(self, messages: Iterable[tuple[int, int, bytes]]) -> None:
        """A group of pointer-batches messages ``(partition, offset, value)``, each after any
        range Faust skipped before it."""
        async with self._lock:
            now = self.clock()
            outs: dict[int, Outcome] = {}
            progress: dict[int, int] = {}
            for partition, offset, value in messages:
                out = outs.setdefault(partition, Outcome())
                last = progress.get(partition, self.handled.get(partition))
                for rec_offset, skipped in await self._skipped(partition, offset, last):
                    await self._step(partition, rec_offset, skipped, now, out)
                await self._step(partition, offset, value, now, out)
                progress[partition] = offset
            await self._apply(outs)
            self.handled.update(progress)

    async def _step(self, partition: int, offset: int, value: bytes, now: float,
                    out: Outcome) -> None:
        try:
            rec = PointerBatchRecord.from_bytes(value)
        except WireError as exc:
            await self.send_dead(topics.POINTER_BATCHES, str(exc), value, partition, offset)
        else:
            self.sz.on_batch(rec, partition, now, out)

    async def _skipped(self, partition: int, offset: int, last: int | None
                       ) -> list[tuple[int, bytes]]:
        """The batches Faust skipped before ``offset``, read straight from Kafka (a seek cannot
        undo a skip: Faust drops re-fetched offsets below its read offset). Any that Faust
        delivers later after all are dropped as duplicates by sequence number."""
        tp = TP(topics.POINTER_BATCHES, partition)
        expected = fi.first_unhandled(self.app.consumer, tp, last)
        if expected is None or offset <= expected:
            return []
        log.warning("sessionizer: the consumer skipped offsets %d..%d of %s; reading them "
                    "directly", expected, offset - 1, tp)
        return await self.read_skipped(partition, expected, offset)

    async def _apply(self, outs: dict[int, Outcome]) -> None:
        """Publish, wait for the broker, then write the state (at-least-once order)."""
        futures = [await self.sessions.send(key=rec.key, value=rec.to_bytes())
                   for out in outs.values() for rec in out.records]
        for fut in futures:
            await fut          # acknowledged before the state says "closed"
        for partition, out in outs.items():
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

    async def tick(self, partition: int) -> None:
        """Close the idle sessions of ``partition`` unless its batches are still arriving."""
        async with self._lock:
            done = await fi.caught_up(self.app.consumer, TP(topics.POINTER_BATCHES, partition),
                                      self.handled.get(partition))
            out = self.sz.on_tick(partition, self.clock(), close_idle=done)
            await self._apply({partition: out})

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
    ticks = app.topic(topics.ticks_topic(app.conf.id), partitions=settings.topics.partitions,
                      internal=True, key_serializer="raw", value_serializer="raw",
                      retention=topics.TICKS_RETENTION_MS / 1000)
    table = app.Table(STATE_TABLE, default=None, partitions=settings.topics.partitions,
                      schema=faust.Schema(key_serializer="json", value_serializer="json"),
                      extra_topic_configs=topics.CHANGELOG_CONFIGS)
    cfg = SessionizerConfig(idle_s=settings.sessionizer.idle_s,
                            max_events=settings.sessionizer.max_events,
                            window_events=settings.sessionizer.window_events,
                            first_window_events=settings.sessionizer.first_window_events,
                            window_seconds=(settings.sessionizer.first_window_seconds,
                                            settings.sessionizer.window_seconds),
                            exit_grace_s=settings.sessionizer.exit_grace_s,
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
        async for events in stream.take_events(GROUP_MAX, within=GROUP_WITHIN_S):
            await steps.batches([(e.message.partition, e.message.offset, e.value or b"")
                                 for e in events])

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
