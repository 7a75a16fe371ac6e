"""The Kafka side of ingest: one idempotent producer, connected in the background, replaced when
it can never deliver again, and a readiness probe that asks a broker now.

Each accepted batch becomes one ``pointer-batches`` message (key = page-session id, acks=all);
:meth:`BatchProducer.produce` returns only after the broker acknowledged and raises
:class:`~cursorprint.stream.records.errors.Unavailable` (503, ``Retry-After``) otherwise, so the
collector retries instead of losing the batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from cursorprint.stream.metrics import KAFKA_ERRORS, KAFKA_PRODUCE_SECONDS
from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.records.topics import POINTER_BATCHES
from cursorprint.stream.records.wire import PointerBatchRecord

__all__ = ["BatchProducer", "READY_PROBE_TIMEOUT_S", "RETRY_AFTER_S"]

log = logging.getLogger(__name__)
READY_PROBE_TIMEOUT_S = 2.0   # /readyz: how long a broker may take to answer metadata
RETRY_AFTER_S = 2             # what a 503 tells the collector to wait


class BatchProducer:
    """Owns the aiokafka producer (``client``; ``None`` until connected)."""

    def __init__(self, bootstrap: str, produce_timeout_s: float) -> None:
        self.bootstrap = bootstrap
        self.produce_timeout_s = produce_timeout_s
        self.client: Any = None
        self._connector: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect in the background, so the service answers (503) before Kafka is up."""
        self._connector = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        from aiokafka import AIOKafkaProducer

        delay = 0.5
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True,
                linger_ms=1, client_id="cursorprint-ingest",
                request_timeout_ms=int(max(1.0, self.produce_timeout_s) * 1000) + 1000)
            try:
                await producer.start()
            except Exception as exc:  # noqa: BLE001 - any connection failure means retry
                KAFKA_ERRORS.labels(service="ingest").inc()
                log.warning("ingest: Kafka not reachable (%s); retrying in %.1fs", exc, delay)
                await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.client = producer
            log.info("ingest: producer connected to %s", self.bootstrap)
            return

    async def stop(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
            try:
                await self._connector
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping anyway
                pass
        if self.client is not None:
            await self.client.stop()
            self.client = None

    async def produce(self, record: PointerBatchRecord) -> None:
        """Send one batch and wait for the broker's acknowledgement, or raise 503."""
        producer = self.client
        if producer is None:
            raise Unavailable("kafka_unavailable", "not connected to Kafka yet",
                              headers={"Retry-After": str(RETRY_AFTER_S)})
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.produce_timeout_s):
                future = await producer.send(POINTER_BATCHES, record.to_bytes(), key=record.key)
                await future
        except Exception as exc:  # noqa: BLE001 - timeouts and every client error alike
            KAFKA_ERRORS.labels(service="ingest").inc()
            log.warning("ingest: produce failed: %r", exc)
            self._replace_if_dead(producer, exc)
            raise Unavailable("kafka_unavailable", "the broker did not acknowledge in time",
                              headers={"Retry-After": str(RETRY_AFTER_S)}) from None
        KAFKA_PRODUCE_SECONDS.observe(time.perf_counter() - started)

    def _replace_if_dead(self, producer: Any, exc: Exception) -> None:
        """Start a new producer when ``producer`` can never deliver again.

        After a broker restart with batches in flight, aiokafka's idempotent producer answers
        OutOfOrderSequenceNumber to every later send on that partition (its sequence numbers
        stay out of step) or its sender task dies; a fresh producer (new producer id) recovers.
        """
        from aiokafka.errors import (
            InvalidProducerEpoch,
            OutOfOrderSequenceNumber,
            ProducerFenced,
            UnknownProducerId,
        )

        fatal = (OutOfOrderSequenceNumber, UnknownProducerId, ProducerFenced, InvalidProducerEpoch)
        sender = getattr(getattr(producer, "_sender", None), "sender_task", None)
        dead = sender is not None and sender.done()
        if producer is not self.client or not (dead or isinstance(exc, fatal)):
            return
        log.warning("ingest: Kafka producer failed for good; starting a new one")
        self.client = None
        asyncio.get_running_loop().create_task(producer.stop())
        self._connector = asyncio.create_task(self._connect())

    async def ready(self) -> str | None:
        """``None`` while a broker answers a metadata request now, else why not (a connected
        producer says nothing about a broker that died later)."""
        producer = self.client
        if producer is None:
            return "producer not connected"
        try:
            async with asyncio.timeout(READY_PROBE_TIMEOUT_S):
                await producer.client.fetch_all_metadata()
        except Exception as exc:  # noqa: BLE001 - timeouts and every client error alike
            return f"no broker answered: {type(exc).__name__}"
        return None
