"""``cursorprint stack up|down|status`` and ``cursorprint smoke``."""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from cursorprint.stream.devtools.stack import Stack, StackError
from cursorprint.stream.settings import ROLE_SECTIONS, load_settings

__all__ = ["register", "smoke_round_trip"]
# `cursorprint run` (the main job) lives in cursorprint.stream.devtools.main_job.


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    stack = sub.add_parser("stack", help="start, stop or inspect the local Kafka + Redis",
                           description="The local stack: a real Kafka broker (KRaft) and a real "
                                       "redis-server, with state under CURSORPRINT_HOME.")
    verbs = stack.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("up", help="start (or reuse) Kafka and Redis, create topics, print "
                                "the connection settings").set_defaults(handler=_up)
    verbs.add_parser("down", help="stop the processes `up` started").set_defaults(handler=_down)
    verbs.add_parser("status", help="show what runs").set_defaults(handler=_status)
    smoke = sub.add_parser("smoke", help="round trip one message through Kafka and one key "
                                         "through Redis on the configured stack")
    smoke.set_defaults(handler=_smoke)


def _up(args: argparse.Namespace) -> int:
    stack = Stack(load_settings(sections=ROLE_SECTIONS["stack"]))
    try:
        stack.up()
    except StackError as exc:
        print(f"cursorprint stack up: {exc}", file=sys.stderr)
        return 1
    for s in stack.status():
        print(f"{s.name}: port {s.port} {'up' if s.answering else 'DOWN'}"
              f"{f' (pid {s.pid})' if s.pid else ' (not started by this stack)'}")
    for k, v in stack.connection_env().items():
        print(f"export {k}={v}")
    return 0


def _down(args: argparse.Namespace) -> int:
    Stack(load_settings(sections=ROLE_SECTIONS["stack"])).down()
    print("stack stopped")
    return 0


def _status(args: argparse.Namespace) -> int:
    statuses = Stack(load_settings(sections=ROLE_SECTIONS["stack"])).status()
    for s in statuses:
        print(f"{s.name}: port {s.port} {'up' if s.answering else 'down'}"
              f"{f' pid {s.pid}' if s.pid else ''}")
    return 0 if all(s.answering for s in statuses) else 3


def smoke_round_trip(bootstrap: list[str], redis_url: str, topic: str = "smoke") -> float:
    """Produce one message and read it back, then SET/GET one Redis key; returns seconds taken."""
    from kafka import KafkaConsumer, KafkaProducer

    from cursorprint.stream.stores.client import connect
    from cursorprint.stream.stores.keys import SMOKE_KEY

    t0 = time.monotonic()
    token = uuid.uuid4().hex.encode()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(topic, key=b"smoke", value=token).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=20000, group_id=None)
    try:
        if not any(m.value == token for m in consumer):
            raise RuntimeError("the smoke message did not come back from Kafka")
    finally:
        consumer.close()
    r = connect(redis_url)
    r.set(SMOKE_KEY, token, ex=60)
    if r.get(SMOKE_KEY) != token:
        raise RuntimeError("the smoke key did not come back from Redis")
    return time.monotonic() - t0


def _smoke(args: argparse.Namespace) -> int:
    s = load_settings(sections=("kafka", "redis"))
    took = smoke_round_trip(s.kafka.bootstrap_list, s.redis.url)
    print(f"smoke round trip ok: Kafka produce+consume and Redis set+get in {took:.2f}s")
    return 0
