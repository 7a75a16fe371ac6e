"""The decision service's Kafka side, used by feedback only: read a closed part's ``sessions``
record back by its offset (the live scores keep ``(partition, offset)``, never trajectories) and
publish it on ``trusted-sessions``. Connected on first use, so decisions never wait for Kafka.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from cursorprint.stream.metrics import KAFKA_ERRORS
from cursorprint.stream.records import topics
from cursorprint.stream.records.errors import Unavailable

__all__ = ["TrustedIO", "KafkaTrustedIO", "KAFKA_TIMEOUT_S"]

log = logging.getLogger(__name__)
KAFKA_TIMEOUT_S = 5.0


class TrustedIO(Protocol):
    """What feedback needs of Kafka (a double in the unit tests)."""

    async def fetch(self, partition: int, offset: int) -> bytes | None:
        """The ``sessions`` record at ``(partition, offset)`` (None when it is gone)."""
        ...

    async def send_trusted(self, key: bytes, value: bytes) -> None:
        """Publish on ``trusted-sessions`` and wait for the broker's acknowledgement."""
        ...


def _unavailable(exc: BaseException) -> Unavailable:
    KAFKA_ERRORS.labels(service="decide").inc()
    return Unavailable("kafka_unavailable", f"Kafka: {type(exc).__name__}: {exc}"[:300],
                       headers={"Retry-After": "2"})


class KafkaTrustedIO:
    """An aiokafka consumer (assigned, no group) and producer (acks=all), started lazily."""

    def __init__(self, bootstrap: str, timeout_s: float = KAFKA_TIMEOUT_S) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self._consumer: Any = None
        self._producer: Any = None
        self._lock = asyncio.Lock()        # one seek + fetch at a time
        self._start_lock = asyncio.Lock()

    async def _start(self) -> None:
        async with self._start_lock:
            await self._start_clients()

    async def _start_clients(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        if self._producer is None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                        enable_idempotence=True, client_id="cursorprint-decide",
                                        max_request_size=4 * 1024 * 1024)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        if self._consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                        enable_auto_commit=False, client_id="cursorprint-decide",
                                        fetch_max_bytes=8 * 1024 * 1024,
                                        max_partition_fetch_bytes=8 * 1024 * 1024)
            try:
                await consumer.start()
            except BaseException:
                await consumer.stop()
                raise
            self._consumer = consumer

    async def fetch(self, partition: int, offset: int) -> bytes | None:
        from aiokafka import TopicPartition

        tp = TopicPartition(topics.SESSIONS, partition)
        async with self._lock:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self._start()
                    self._consumer.assign([tp])
                    self._consumer.seek(tp, offset)
                    while True:
                        got = await self._consumer.getmany(tp, timeout_ms=500, max_records=1)
                        for rec in got.get(tp, []):
                            return bytes(rec.value) if rec.offset == offset else None
            except TimeoutError as exc:
                raise _unavailable(exc) from None
            except Exception as exc:  # noqa: BLE001 - any client error
                if type(exc).__name__ == "OffsetOutOfRangeError":
                    return None
                raise _unavailable(exc) from None

    async def send_trusted(self, key: bytes, value: bytes) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._start()
                await (await self._producer.send(topics.TRUSTED_SESSIONS, value, key=key))
        except Exception as exc:  # noqa: BLE001 - timeouts and every client error alike
            raise _unavailable(exc) from None

    async def close(self) -> None:
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()
        self._consumer = self._producer = None
