"""The local stack against real processes: Kafka produce/consume, restart durability, Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer

from cursorprint.stream.devtools.processes import port_open
from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.records.topics import ALL_TOPICS, SESSIONIZER_ROLES, app_id, ticks_topic

pytestmark = pytest.mark.integration


def _consume_until(bootstrap: list[str], topic: str, wanted: bytes, timeout_ms: int = 30000) -> bool:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=timeout_ms, group_id=None)
    try:
        return any(m.value == wanted for m in consumer)
    finally:
        consumer.close()


def test_project_topics_exist(stack: Stack) -> None:
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=stack.settings.kafka.bootstrap_list)
    try:
        topics = set(admin.list_topics())
        # the sessionizer apps' tick topics are made with the project's (see Stack.create_topics)
        ticks = [ticks_topic(app_id(role)) for role in SESSIONIZER_ROLES]
        described = {t.get("name", t.get("topic")): t
                     for t in admin.describe_topics([*ALL_TOPICS, *ticks])}
    finally:
        admin.close()
    assert {*ALL_TOPICS, *ticks} <= topics
    for name in [*ALL_TOPICS, *ticks]:
        assert len(described[name]["partitions"]) == stack.settings.topics.partitions


def test_kafka_python_round_trip(stack: Stack) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    value = uuid.uuid4().bytes
    producer = KafkaProducer(bootstrap_servers=stack.settings.kafka.bootstrap_list, acks="all")
    producer.send(topic, key=b"k", value=value).get(timeout=30)
    producer.close()
    assert _consume_until(stack.settings.kafka.bootstrap_list, topic, value)


async def test_aiokafka_round_trip(stack: Stack) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = f"a-{uuid.uuid4().hex[:8]}"
    value = uuid.uuid4().bytes
    producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.settings.kafka.bootstrap,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        msg = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert msg.value == value and msg.key == b"k"


def test_message_survives_broker_restart(stack: Stack) -> None:
    topic = f"r-{uuid.uuid4().hex[:8]}"
    value = uuid.uuid4().bytes
    producer = KafkaProducer(bootstrap_servers=stack.settings.kafka.bootstrap_list, acks="all")
    producer.send(topic, value=value).get(timeout=30)
    producer.close()
    stack.stop_kafka()
    assert not port_open(stack.settings.local_stack.kafka_port)
    stack.start_kafka()
    assert _consume_until(stack.settings.kafka.bootstrap_list, topic, value)


def test_redis_round_trip(stack: Stack) -> None:
    r = redis.Redis.from_url(stack.settings.redis.url)
    key = f"test:{uuid.uuid4().hex}"
    r.set(key, b"\x00\x01payload")
    assert r.get(key) == b"\x00\x01payload"
    assert r.delete(key) == 1


def test_up_twice_reuses_and_down_frees_everything(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A second stack on other ports: `up` twice keeps the same pids; `down` leaves nothing."""
    from tests.support.stack import private_settings

    settings = private_settings(tmp_path_factory.mktemp("stack2"))
    kport, rport = settings.local_stack.kafka_port, settings.local_stack.redis_port
    st = Stack(settings)
    st.up()
    first = {s.name: s.pid for s in st.status()}
    assert all(first.values())
    st.up()
    second = {s.name: s.pid for s in st.status()}
    assert first == second
    st.down()
    for pid in first.values():
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not port_open(kport) and not port_open(rport)
    assert all(not s.answering for s in st.status())
