"""read_range (the sessionizer's way to handle offsets its consumer skipped) on the real broker."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaProducer

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.sessionize.kafka_read import read_range
from cursorprint.stream.settings import Settings

pytestmark = pytest.mark.integration


async def test_reads_exactly_the_range(stack: Stack, stack_settings: Settings) -> None:
    topic = f"r-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=stack_settings.kafka.bootstrap_list, acks="all")
    for i in range(10):
        producer.send(topic, value=f"v{i}".encode(), partition=0).get(timeout=30)
    producer.close()
    got = await read_range(stack_settings, topic, 0, 3, 7)
    assert got == [(i, f"v{i}".encode()) for i in range(3, 7)]
    assert await read_range(stack_settings, topic, 0, 5, 5) == []


async def test_a_range_past_the_end_times_out(stack: Stack, stack_settings: Settings) -> None:
    topic = f"r-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=stack_settings.kafka.bootstrap_list, acks="all")
    producer.send(topic, value=b"only", partition=0).get(timeout=30)
    producer.close()
    with pytest.raises(TimeoutError):
        await read_range(stack_settings, topic, 0, 0, 5, timeout_s=2.0)
