"""Read one offset range of one partition with a private consumer (no group, no commits).

Used by the sessionizer to handle batches its Faust consumer skipped around a rebalance.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from cursorprint.stream.settings import Settings

__all__ = ["read_range"]


async def read_range(settings: Settings, topic: str, partition: int, start: int, stop: int,
                     timeout_s: float = 30.0) -> list[tuple[int, bytes]]:
    """``(offset, value)`` of the records with ``start <= offset < stop``, in offset order.

    Raises ``TimeoutError`` when the range is not read within ``timeout_s`` (broker down),
    so the caller does not go on as if the records had been handled.
    """
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_list,
                                group_id=None, enable_auto_commit=False)
    out: list[tuple[int, bytes]] = []
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)

        async def read() -> None:
            while await consumer.position(tp) < stop:
                got = await consumer.getmany(tp, timeout_ms=500)
                for rec in got.get(tp, []):
                    if start <= rec.offset < stop:
                        out.append((rec.offset, rec.value or b""))

        await asyncio.wait_for(read(), timeout_s)
    finally:
        await consumer.stop()
    return out
