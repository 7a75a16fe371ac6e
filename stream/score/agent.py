"""The scorer's Faust agent: ``sessions`` in micro-batches -> ``session-scores``, ``fraud-alerts``.

Thin by design: :class:`~cursorprint.stream.score.microbatch.MicroBatchScorer` does the work on
the model thread; this module batches with ``stream.take``, publishes the results, waits for the
broker before the next micro-batch, and keeps the metrics.

The scorer also runs the abuse checks (scripted movement, and with ``CURSORPRINT_REPLAY_CHECK``
the replayed-trajectory check against fingerprints in the heads' Redis). While that Redis fails,
sessions are still scored, with the reason ``replay_check_unavailable``,
``cursorprint_redis_errors_total{service="scorer"}`` counting and
``cursorprint_degraded{dependency="replay_store"}`` at 1 until a check succeeds again.
Parts that are not mouse input (score null, reason ``not_mouse``) are published but neither
counted in the score histogram nor written to the live scores.

The outputs are :class:`Sink` s (a Faust topic is one): a worker gets the Kafka topics, the
in-process agent tests (``agent.test_context()``, no broker) a recording sink.

Live scores (``CURSORPRINT_LIVE_SCORES``, on by default): after the broker acknowledged a
micro-batch, its scores are written to the live-score store that ``POST /v1/decisions`` reads
(:class:`~cursorprint.stream.decide.live.LiveScoreWriter`), with the ``sessions`` offset of
each part; closed parts of a page session its site labelled ``owner_confirmed`` go on to
``trusted-sessions``. A worker (``scores`` not given) gets the Redis store of its settings; an
in-process test passes ``live=`` a double, or nothing (no live scores).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import faust
from faust.types import AgentT

from cursorprint.stream import metrics as m
from cursorprint.stream.decide.live import LiveScoreWriter, SourceRecord
from cursorprint.stream.records import topics
from cursorprint.stream.records.dead_letter import DeadLetter, SendDeadLetter
from cursorprint.stream.records.reasons import REASON_REPLAY_UNCHECKED
from cursorprint.stream.score.microbatch import BatchResult
from cursorprint.stream.score.runtime import ModelRuntime
from cursorprint.stream.settings import Settings
from cursorprint.stream.stores.base import LiveScores

__all__ = ["add_scorer", "ReplayHealth", "Sink", "live_store"]

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where the agent publishes: ``await send(...)`` queues a record and returns what to await
    for the broker's acknowledgement (so a micro-batch's records are sent together)."""

    async def send(self, *, key: bytes, value: bytes) -> Awaitable[Any]: ...


class ReplayHealth:
    """Counts replay-store failures; flips the degraded gauge (and logs) only on a change."""

    def __init__(self) -> None:
        self.degraded = False

    def note(self, res: BatchResult) -> None:
        if res.replay_errors:
            m.REDIS_ERRORS.labels(service="scorer").inc(res.replay_errors)
        if res.replay_errors and not self.degraded:
            log.warning("scorer: replay store (Redis) unreachable; sessions are scored without "
                        "the replay check (reason %s)", REASON_REPLAY_UNCHECKED)
        elif res.replay_checked and not res.replay_errors and self.degraded:
            log.warning("scorer: replay store (Redis) reachable again")
        else:
            return
        self.degraded = not self.degraded
        m.DEGRADED.labels(dependency="replay_store").set(1 if self.degraded else 0)


def _source(event: Any) -> tuple[int, int] | None:
    """(partition, offset) of an event's ``sessions`` message (None when it has none)."""
    msg: Any = getattr(event, "message", None)
    try:
        return int(msg.partition), int(msg.offset)
    except (AttributeError, TypeError, ValueError):
        return None


def live_store(settings: Settings) -> LiveScores | None:
    """The Redis live-score store of ``settings`` (None when ``CURSORPRINT_LIVE_SCORES`` is
    off)."""
    if not settings.live.enabled:
        return None
    from cursorprint.stream.stores.live_scores import RedisLiveScores

    return RedisLiveScores.from_url(settings.redis.url, ttl_s=settings.live.ttl_s,
                                    max_parts=settings.live.max_parts)


_FROM_SETTINGS: Any = object()


def add_scorer(app: faust.App, settings: Settings, runtime: ModelRuntime,
               ready: dict[str, bool], send_dead: SendDeadLetter,
               on_scored: Callable[[list[bytes], BatchResult], None], *,
               scores: Sink | None = None, alerts: Sink | None = None,
               live: LiveScores | None = _FROM_SETTINGS, trusted: Sink | None = None
               ) -> AgentT:
    """Add the ``score`` agent (and a task that loads the model at start-up) to ``app``; returns
    the agent.

    ``on_scored(raw records, result)`` is told about every published micro-batch (the worker's
    demo views keep the latest scores). ``scores``, ``alerts`` and ``trusted`` default to the
    ``session-scores``, ``fraud-alerts`` and ``trusted-sessions`` topics; ``live`` to the
    settings' Redis live-score store when ``scores`` is the real topic, else to none."""
    sessions = app.topic(topics.SESSIONS, key_serializer="raw", value_serializer="raw")
    scores_topic: Sink = scores if scores is not None else app.topic(
        topics.SESSION_SCORES, key_serializer="raw", value_serializer="raw")
    alerts_topic: Sink = alerts if alerts is not None else app.topic(
        topics.FRAUD_ALERTS, key_serializer="raw", value_serializer="raw")
    trusted_topic: Sink = trusted if trusted is not None else app.topic(
        topics.TRUSTED_SESSIONS, key_serializer="raw", value_serializer="raw")
    if live is _FROM_SETTINGS:
        live = live_store(settings) if scores is None else None
    writer = None if live is None else LiveScoreWriter(
        live, min_trusted_seconds=settings.live.min_trusted_seconds,
        max_trusted_parts=settings.live.max_trusted_parts)
    ready["scorer"] = False
    health = ReplayHealth()

    async def send_trusted(key: bytes, value: bytes) -> None:
        await (await trusted_topic.send(key=key, value=value))

    async def remember_live(res: BatchResult, raws: list[bytes],
                            srcs: list[tuple[int, int] | None]) -> None:
        # parts without an identity score (not mouse input) are no evidence for a decision
        # and no training material for the owner's head: they stay out of the live scores
        scored = [s for s in res.scores if s.score is not None]
        if writer is None or not scored:
            return
        sources = {key: SourceRecord(raws[i], seconds, srcs[i])
                   for i, (key, seconds) in res.parts.items()}
        await writer.write(scored, sources, send_trusted)

    async def publish(res: BatchResult) -> None:
        health.note(res)
        for dead in res.dead:
            await send_dead(dead.source, dead.error, dead.value)
        futures = []
        for s in res.scores:
            futures.append(await scores_topic.send(key=s.user.encode(), value=s.to_bytes()))
            if s.score is not None:
                m.SCORES.observe(s.score)
            m.SCORED_SESSIONS.labels(site=s.site).inc()
        for a in res.alerts:
            futures.append(await alerts_topic.send(key=a.user.encode(), value=a.to_bytes()))
            for reason in a.reasons:
                m.ALERTS.labels(site=a.site, reason=reason).inc()
        for fut in futures:
            await fut

    @app.agent(sessions, name="score")
    async def score(stream: Any) -> None:
        scorer = (await runtime.ready()).scorer
        ready["scorer"] = True
        async for events in stream.take_events(settings.scorer.batch_size,
                                               within=settings.scorer.batch_within_s):
            raws = [bytes(e.value or b"") for e in events]
            srcs = [_source(e) for e in events]
            try:
                res = await runtime.run(scorer.score_batch, raws)
            except Exception as exc:  # noqa: BLE001 - a model failure must not stop the agent
                log.exception("scorer: micro-batch failed")
                res = BatchResult(dead=[DeadLetter(topics.SESSIONS, f"{type(exc).__name__}: "
                                                   f"{exc}", r) for r in raws])
            if res.n_images:
                m.SCORER_BATCH_SIZE.observe(res.n_images)
                m.INFERENCE_SECONDS.labels(stage="raster").observe(res.raster_seconds)
                m.INFERENCE_SECONDS.labels(stage="backbone").observe(res.embed_seconds)
                m.INFERENCE_SECONDS.labels(stage="head").observe(res.head_seconds)
            await publish(res)
            await remember_live(res, raws, srcs)
            on_scored(raws, res)

    @app.task
    async def warm_up() -> None:
        await runtime.ready()
        ready["scorer"] = True

    return score
