"""Private Kafka + Redis stacks for tests, through the same launcher as ``cursorprint stack up``."""

from __future__ import annotations

from pathlib import Path

from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.settings import Settings, load_settings
from tests.support.paths import REPO

__all__ = ["private_settings", "PrivateRedis"]


def private_settings(home: Path) -> Settings:
    """Settings of a private stack: free ports, its own home, the shared jar cache."""
    kafka_port = free_port()
    redis_port = free_port()
    return load_settings(
        environ={},
        home=home,
        kafka_jars=REPO / ".cursorprint" / "kafka-jars",
        kafka_port=kafka_port,
        kafka_controller_port=free_port(),
        kafka_bootstrap=f"127.0.0.1:{kafka_port}",
        redis_port=redis_port,
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        topic_partitions=2,
    )


class PrivateRedis:
    """A redis-server of a test's own (the project's launcher, append-only file on), for tests
    that stop and restart Redis without touching the shared stack."""

    def __init__(self, home: Path) -> None:
        self.stack = Stack(private_settings(home))
        self.url = self.stack.settings.redis.url

    def start(self) -> None:
        self.stack.start_redis()

    def stop(self) -> None:
        self.stack.stop_redis()
